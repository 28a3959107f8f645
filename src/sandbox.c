/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Least privilege after setup: the capabilities teardown still needs and a
 * seccomp allow-list of the system calls the running daemon makes (main loop,
 * control requests, datapath threads, signals, syslog, and teardown with
 * libmnl and libnftables).  See SECURITY in ipipd(8).
 */
#include "sandbox.h"

#include <cap-ng.h>
#include <errno.h>
#include <linux/bpf.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SANITIZED 1
#endif
#endif

/* Every name is resolved for the native architecture; unknown ones are skipped. */
static const char *const allowed[] = {
	/* I/O on the TUN device, the raw sockets, the control socket, files */
	"read", "readv", "write", "writev", "pread64", "pwrite64", "lseek", "close",
	"poll", "ppoll", "select", "pselect6",
	/* datapath and control sockets, netlink (libmnl, libnftables), syslog */
	"socket", "bind", "connect", "getsockname", "getsockopt", "setsockopt",
	"accept4", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
	"shutdown", "ioctl",	/* if_nametoindex (SIOCGIFINDEX) at teardown */
	/* files: state file, pid and lock files, /proc/sys, /sys counters,
	 * rt_tables.d, /etc/localtime (syslog), libnftables' own files */
	"open", "openat", "stat", "fstat", "lstat", "newfstatat", "statx", "access",
	"faccessat", "faccessat2", "fcntl", "getdents64", "readlink", "readlinkat",
	"unlink", "unlinkat", "rmdir", "flock", "fsync", "dup", "dup2", "dup3", "pipe2",
	"getcwd",
	/* memory and threads (datapath threads start after the filter) */
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "futex",
	"clone", "clone3", "set_robust_list", "rseq", "set_tid_address",
	"sched_yield", "sched_getaffinity", "getrandom", "prlimit64", "getrlimit",
	"membarrier",
	/* time */
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday",
	"time",
	/* signals: signalfd, SIGPIPE ignored, raise/abort */
	"rt_sigprocmask", "rt_sigaction", "rt_sigreturn", "sigaltstack", "signalfd4",
	"eventfd2", "tgkill", "restart_syscall",
	/* identity */
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "uname",
	"exit", "exit_group",
};

#ifdef SANITIZED
/*
 * ASan/UBSan/LSan: reports (log_path files, /proc/self/maps, symbolizer) and
 * the leak check at exit, which clones a tracer that ptrace-stops the threads.
 */
static const char *const sanitizer_extra[] = {
	"ptrace", "wait4", "waitid", "getdents", "prctl", "kill", "tkill", "process_vm_readv",
	"sched_getparam", "sched_getscheduler", "getpgid", "getrusage", "mincore",
	"msync", "pipe", "execve", "vfork", "fork", "arch_prctl", "personality",
	"sysinfo", "getitimer", "setitimer", "setrlimit",
};
#endif

static int add_rules(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);

		if (nr == __NR_SCMP_ERROR || nr < 0)
			continue;	/* not a system call on this architecture */
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) < 0)
			return -1;
	}
	return 0;
}

/*
 * bpf(2) only on the fast path's maps the daemon already holds: reading its
 * counters and writing its soft state.  Loading or attaching programs after
 * setup is not allowed.
 */
static int add_bpf_rules(scmp_filter_ctx ctx)
{
	static const int cmds[] = { BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_ELEM };
	int nr = seccomp_syscall_resolve_name("bpf");

	if (nr == __NR_SCMP_ERROR || nr < 0)
		return 0;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)cmds[i])) < 0)
			return -1;
	return 0;
}

static int drop_capabilities(void)
{
	/*
	 * Kept: CAP_NET_ADMIN, for teardown (netlink: delete the link, rules,
	 * routes; libnftables; net sysctls) and `ipipctl show` (the nft rule
	 * count).  Everything else goes, the bounding set included; we stay uid 0
	 * because the files removed at teardown are root's.
	 */
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return -1;
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
			 CAP_NET_ADMIN) < 0)
		return -1;
#ifdef CAPNG_SELECT_ALL
	if (capng_apply(CAPNG_SELECT_ALL) < 0)	/* ambient too */
		return -1;
#else
	if (capng_apply(CAPNG_SELECT_BOTH) < 0)
		return -1;
#endif
	return 0;
}

static int install_filter(enum sandbox_mode mode)
{
	uint32_t deny = mode == SANDBOX_REPORT ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx = seccomp_init(deny);
	int rc = -1;

	if (!ctx) {
		errno = ENOMEM;
		return -1;
	}
	if (add_rules(ctx, allowed, sizeof(allowed) / sizeof(allowed[0])) < 0 ||
	    add_bpf_rules(ctx) < 0)
		goto out;
#ifdef SANITIZED
	if (add_rules(ctx, sanitizer_extra, sizeof(sanitizer_extra) / sizeof(sanitizer_extra[0])) < 0)
		goto out;
#endif
	/* Already set above; libseccomp would otherwise set it itself. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1) < 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) < 0)
		goto out;
	rc = seccomp_load(ctx);
	if (rc < 0) {
		errno = -rc;
		rc = -1;
	}
out:
	seccomp_release(ctx);
	return rc;
}

int sandbox_enter(enum sandbox_mode mode)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_warn("sandbox: no_new_privs");
		return -1;
	}
	if (drop_capabilities() < 0) {
		log_warn("sandbox: cannot drop capabilities");
		return -1;
	}
	if (install_filter(mode) < 0) {
		log_warn("sandbox: cannot install the seccomp filter");
		return -1;
	}
	if (mode == SANDBOX_REPORT) {
		log_info("sandbox: report mode: system calls outside the allow-list are "
			 "allowed and logged by the kernel (audit type 1326, see dmesg)");
		/* Test hook, only in report mode: one deliberately forbidden call. */
		if (getenv("IPIPD_SANDBOX_SELFTEST")) {
			long r = syscall(SYS_acct, NULL);	/* harmless: no CAP_SYS_PACCT */

			log_info("sandbox: self-test: acct(NULL) = %ld (errno %d)", r,
				 r < 0 ? errno : 0);
		}
	}
	return 0;
}
