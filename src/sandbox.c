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
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
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
 * counters, writing its soft state and the host's addresses, and attaching
 * its loaded ingress program to a new underlay (a tcx link).  Loading
 * programs after setup is not allowed.
 */
static int add_bpf_rules(scmp_filter_ctx ctx)
{
	static const int cmds[] = { BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_ELEM, BPF_MAP_DELETE_ELEM,
				    BPF_MAP_GET_NEXT_KEY, BPF_LINK_CREATE };
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

/*
 * Report mode: the filter's default action is SCMP_ACT_NOTIFY, and this
 * supervisor thread (filtered like the others) receives each call outside
 * the allow-list, lets it proceed (SECCOMP_USER_NOTIF_FLAG_CONTINUE) and then
 * names it in ipipd's log.  It makes only allowed calls itself (ioctl on the
 * listener, clock_gettime, the log's write/sendto, malloc's), so it never
 * waits for itself.  Reports of one call are rate-limited: the first at once,
 * then at most one a minute with the number of calls in between.
 */
#define REPORT_SLOTS 64
#define REPORT_INTERVAL 60	/* seconds */

struct report_slot {
	int nr;			/* -1: free */
	uint32_t arch;
	time_t last;		/* CLOCK_MONOTONIC seconds of the last report */
	unsigned long quiet;	/* calls since, not reported */
};

struct supervisor {
	int fd;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	struct report_slot slot[REPORT_SLOTS];
};

static struct supervisor sup = { .fd = -1 };

static void report(struct supervisor *s, int nr, uint32_t arch, uint32_t tid)
{
	struct report_slot *r = NULL;
	struct timespec ts;
	char *name;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	for (int i = 0; i < REPORT_SLOTS && !r; i++)
		if (s->slot[i].nr == -1 || (s->slot[i].nr == nr && s->slot[i].arch == arch))
			r = &s->slot[i];
	if (!r)
		r = &s->slot[REPORT_SLOTS - 1];	/* full: the last slot is shared */
	if (r->nr == nr && r->arch == arch && ts.tv_sec - r->last < REPORT_INTERVAL) {
		r->quiet++;
		return;
	}
	name = seccomp_syscall_resolve_num_arch(arch, nr);
	if (r->nr == nr && r->arch == arch && r->quiet)
		log_warnx("sandbox: system call %s (%d) outside the allow-list, by thread %u: "
			  "allowed (report mode; %lu more since the last report)",
			  name ? name : "?", nr, tid, r->quiet);
	else
		log_warnx("sandbox: system call %s (%d) outside the allow-list, by thread %u: "
			  "allowed (report mode)", name ? name : "?", nr, tid);
	free(name);
	r->nr = nr;
	r->arch = arch;
	r->last = ts.tv_sec;
	r->quiet = 0;
}

static void *supervise(void *arg)
{
	struct supervisor *s = arg;

	for (;;) {
		int nr;
		uint32_t arch, tid;

		/* the sizes seccomp_notify_alloc() asked the kernel for */
		memset(s->req, 0, sizeof(*s->req));
		if (ioctl(s->fd, SECCOMP_IOCTL_NOTIF_RECV, s->req) < 0) {
			if (errno == EINTR || errno == ENOENT)
				continue;	/* the caller went away meanwhile */
			log_warn("sandbox: report mode: cannot receive");
			return NULL;
		}
		nr = s->req->data.nr;
		arch = s->req->data.arch;
		tid = s->req->pid;
		memset(s->resp, 0, sizeof(*s->resp));
		s->resp->id = s->req->id;
		s->resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		if (ioctl(s->fd, SECCOMP_IOCTL_NOTIF_SEND, s->resp) < 0 && errno != ENOENT) {
			/* a kernel without CONTINUE (before 5.5): fail the call, never hang it */
			log_warn("sandbox: report mode: cannot let a call proceed; it fails with ENOSYS");
			s->resp->flags = 0;
			s->resp->error = -ENOSYS;
			if (ioctl(s->fd, SECCOMP_IOCTL_NOTIF_SEND, s->resp) < 0 && errno != ENOENT)
				log_warn("sandbox: report mode: cannot answer a call");
		}
		report(s, nr, arch, tid);
	}
}

static int start_supervisor(struct supervisor *s)
{
	pthread_attr_t a;
	sigset_t all, old;
	pthread_t th;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 256 << 10);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&th, &a, supervise, s);
	pthread_attr_destroy(&a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = rc;
	return rc ? -1 : 0;
}

static int install_filter(enum sandbox_mode mode)
{
	uint32_t deny = mode == SANDBOX_REPORT ? SCMP_ACT_NOTIFY : SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx = seccomp_init(deny);
	int rc = -1;

	if (!ctx) {
		errno = ENOMEM;
		return -1;
	}
	/* Before the filter: this asks the kernel with seccomp(2), which is not allowed after. */
	if (mode == SANDBOX_REPORT && (rc = seccomp_notify_alloc(&sup.req, &sup.resp)) < 0) {
		errno = -rc;
		rc = -1;
		goto out;
	}
	rc = -1;
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
	} else if (mode == SANDBOX_REPORT) {
		for (int i = 0; i < REPORT_SLOTS; i++)
			sup.slot[i].nr = -1;
		sup.fd = seccomp_notify_fd(ctx);
		rc = sup.fd < 0 ? -1 : start_supervisor(&sup);
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
	if (mode == SANDBOX_REPORT)
		log_info("sandbox: report mode: system calls outside the allow-list are "
			 "allowed and reported in this log");
	return 0;
}
