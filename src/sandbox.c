/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Least privilege after setup, for both processes (see sandbox.h): the
 * capabilities each keeps, the datapath process's user and Landlock domain,
 * and a seccomp allow-list of the system calls each makes.  See SECURITY in
 * ipipd(8).
 */
#include "sandbox.h"

#include <cap-ng.h>
#include <errno.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <fcntl.h>
#include <pwd.h>
#include <seccomp.h>
#include <stdio.h>
#include <sys/socket.h>
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

/* What both processes do: memory, threads, time, signals, logging, their sockets. */
static const char *const common[] = {
	"read", "readv", "write", "writev", "close", "poll", "ppoll",
	"sendto", "recvfrom", "sendmsg", "recvmsg", "getsockopt", "setsockopt", "connect",
	"fcntl", "fstat", "newfstatat",
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "futex",
	"clone", "clone3", "set_robust_list", "rseq", "set_tid_address",
	"sched_yield", "sched_getaffinity", "getrandom", "prlimit64", "getrlimit",
	"membarrier",
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday",
	"time",
	"rt_sigprocmask", "rt_sigaction", "rt_sigreturn", "sigaltstack", "tgkill",
	"restart_syscall",
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid",
	"exit", "exit_group",
};

/*
 * The datapath process: the TUN device and the raw and packet sockets
 * (batches), the control socket, the parent's socket.  No file is opened, no
 * socket made (but syslog's, checked below), nothing else is asked of the
 * kernel.
 */
static const char *const child_only[] = {
	"sendmmsg", "recvmmsg", "accept4",
	"eventfd2",	/* the datapath's wake-ups, made once it is handed over */
	/* the TUN reads' ring (dp_uring.h), made before this filter and restricted;
	 * never io_uring_setup: a ring made here would have no restrictions */
	"io_uring_enter", "io_uring_register",
};

/*
 * The parent: teardown with libmnl and libnftables (netlink sockets), the
 * state file, pid and lock files, the ledger, /proc/sys, /sys counters, rt_tables.d,
 * /etc/localtime (syslog), libnftables' own files; its signalfd; reaping the
 * datapath process; putting the firewall rules back after a reload (libnftables,
 * and the timer that waits for the ruleset to settle).
 */
static const char *const parent_only[] = {
	"pread64", "pwrite64", "lseek", "select", "pselect6",
	"socket", "bind", "getsockname", "shutdown",
	"sendmmsg",	/* the resolver's queries (Remote as a name), from their own thread */
	"ioctl",	/* if_nametoindex (SIOCGIFINDEX) at teardown */
	"open", "openat", "stat", "lstat", "statx", "access",
	"faccessat", "faccessat2", "getdents64", "readlink", "readlinkat",
	"unlink", "unlinkat", "rmdir", "flock", "fsync", "dup", "dup2", "dup3", "pipe2",
	"rename", "renameat", "renameat2",	/* the shared-settings ledger, replaced whole */
	"getcwd", "uname", "signalfd4", "eventfd2", "wait4", "waitid",
	"timerfd_settime",	/* following the firewall (fwwatch.c) */
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
	/* the datapath process's list has no files: the reports read /proc and write logs */
	"open", "openat", "getdents64", "lseek", "readlink", "readlinkat", "stat", "lstat",
	"access", "faccessat", "pread64", "dup", "dup2", "dup3", "pipe2", "uname",
	"sched_getaffinity", "getcwd",
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
 * bpf(2) in the parent, only on what it already holds: the map of the
 * host's addresses, and attaching its loaded ingress program to a new
 * underlay (a tcx link, or a clsact filter: libbpf's bpf_tc_attach asks for
 * the program's info).  Loading programs after setup is not allowed.
 */
static int add_bpf_rules(scmp_filter_ctx ctx)
{
	static const int cmds[] = { BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_ELEM, BPF_MAP_DELETE_ELEM,
				    BPF_MAP_GET_NEXT_KEY, BPF_LINK_CREATE, BPF_OBJ_GET_INFO_BY_FD };
	int nr = seccomp_syscall_resolve_name("bpf");

	if (nr == __NR_SCMP_ERROR || nr < 0)
		return 0;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)cmds[i])) < 0)
			return -1;
	return 0;
}

static int drop_capabilities(bool bpf)
{
	/*
	 * Kept: CAP_NET_ADMIN, for teardown (netlink: delete the link, rules,
	 * routes; libnftables; net sysctls), the nft rule count of `ipipctl
	 * show` and putting the firewall rules back after a reload; CAP_BPF while the fast path runs (the address map, attaching to
	 * a new underlay: kernels before 6.5 ask for it on every bpf(2) call);
	 * CAP_NET_RAW for the raw socket a reload to a new Local needs; CAP_KILL
	 * for the datapath process only.
	 * Everything else goes, the bounding set included; we stay uid 0
	 * because the files removed at teardown are root's.
	 */
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return -1;
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
			 CAP_NET_ADMIN) < 0)
		return -1;
	if (bpf && capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
				CAP_BPF) < 0)
		return -1;
	/* a reload to a new Local needs a new raw socket (bound there), made here */
	if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
			 CAP_NET_RAW) < 0)
		return -1;
	/* the datapath process runs as another user: ending it if it hangs takes CAP_KILL
	 * (and the filter allows kill(2) of that one process only) */
	if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
			 CAP_KILL) < 0)
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

#define N(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The datapath process may make sockets only for syslog (a reconnect to
 * /dev/log), and ioctl(2) only the report mode supervisor's on its listener.
 */
static int add_child_rules(scmp_filter_ctx ctx, enum sandbox_mode mode)
{
	static const unsigned long notify[] = { SECCOMP_IOCTL_NOTIF_RECV, SECCOMP_IOCTL_NOTIF_SEND };
	int nr = seccomp_syscall_resolve_name("ioctl");

	if (add_rules(ctx, child_only, N(child_only)) < 0)
		return -1;
	for (size_t i = 0; mode == SANDBOX_REPORT && nr >= 0 && i < N(notify); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				     SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)notify[i])) < 0)
			return -1;
	nr = seccomp_syscall_resolve_name("socket");
	if (nr == __NR_SCMP_ERROR || nr < 0)
		return 0;
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX)) < 0 ?
		       -1 : 0;
}

/* The parent signals only its datapath process (to end it if it hangs at stop). */
static int add_parent_rules(scmp_filter_ctx ctx, pid_t child)
{
	int nr = seccomp_syscall_resolve_name("kill");

	if (add_rules(ctx, parent_only, N(parent_only)) < 0 || add_bpf_rules(ctx) < 0)
		return -1;
	if (nr == __NR_SCMP_ERROR || nr < 0 || child <= 0)
		return 0;
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)child)) < 0 ? -1 : 0;
}

static int install_filter(enum sandbox_mode mode, bool parent, pid_t child)
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
	if (add_rules(ctx, common, N(common)) < 0 ||
	    (parent ? add_parent_rules(ctx, child) : add_child_rules(ctx, mode)) < 0)
		goto out;
#ifdef SANITIZED
	if (add_rules(ctx, sanitizer_extra, N(sanitizer_extra)) < 0)
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

static void report_mode_note(enum sandbox_mode mode)
{
	if (mode == SANDBOX_REPORT)
		log_info("sandbox: report mode: system calls outside the allow-list are "
			 "allowed and reported in this log");
}

int sandbox_enter_parent(enum sandbox_mode mode, bool bpf, pid_t child)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_warn("sandbox: no_new_privs");
		return -1;
	}
	if (drop_capabilities(bpf) < 0) {
		log_warn("sandbox: cannot drop capabilities");
		return -1;
	}
	if (install_filter(mode, true, child) < 0) {
		log_warn("sandbox: cannot install the seccomp filter");
		return -1;
	}
	report_mode_note(mode);
	return 0;
}

int sandbox_user(const char *name, struct sandbox_user *u)
{
	struct passwd *pw = getpwnam(name);

	if (!pw && !strcmp(name, SANDBOX_USER)) {
		pw = getpwnam(SANDBOX_FALLBACK_USER);
		if (pw)
			log_warnx("no system user '%s': the datapath runs as '%s' (create the user: "
				  "see ipipd(8))", SANDBOX_USER, SANDBOX_FALLBACK_USER);
	}
	if (!pw) {
		log_warnx("no user '%s' to run the datapath as", name);
		return -1;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		log_warnx("user '%s' is root's uid or gid: the datapath must not run as root", name);
		return -1;
	}
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	snprintf(u->name, sizeof(u->name), "%s", pw->pw_name);
	return 0;
}

/* ---- Landlock ------------------------------------------------------------ */

/* The uapi structure as of ABI 6 (older headers have only the first field). */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

#define LL_CREATE_RULESET_VERSION 1u
#define LL_RULE_PATH_BENEATH 1
#define LL_FS_V1 ((1ull << 13) - 1)	/* EXECUTE .. MAKE_SYM */
#define LL_FS_REFER (1ull << 13)	/* ABI 2 */
#define LL_FS_TRUNCATE (1ull << 14)	/* ABI 3 */
#define LL_FS_IOCTL_DEV (1ull << 15)	/* ABI 5 */
#define LL_NET_ALL 3ull			/* ABI 4: BIND_TCP, CONNECT_TCP */
#define LL_SCOPE_SIGNAL 2ull		/* ABI 6 (abstract UNIX sockets stay: syslog may use them) */
/* What writes: in sanitizer builds only these are handled (their reports are files). */
#define LL_FS_WRITES ((1ull << 1) | (LL_FS_V1 & ~0xfull))	/* WRITE_FILE, REMOVE_*, MAKE_* */

static int landlock_abi = -2;	/* -2: not asked; -1: none; else the ABI */

static int restrict_self(void)
{
	struct ll_ruleset_attr attr = { 0 };
	size_t size = sizeof(uint64_t);
	long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
	int fd;

	if (abi < 0) {
		landlock_abi = -1;
		return errno == ENOSYS || errno == EOPNOTSUPP ? 0 : -1;
	}
	landlock_abi = (int)abi;
	attr.handled_access_fs = LL_FS_V1;
	if (abi >= 2)
		attr.handled_access_fs |= LL_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LL_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= LL_FS_IOCTL_DEV;
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_ALL;
		size = 2 * sizeof(uint64_t);
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
#ifdef SANITIZED
	/* reports are written where ASAN_OPTIONS/UBSAN_OPTIONS log_path says: only writes are handled */
	attr.handled_access_fs &= LL_FS_WRITES | (abi >= 3 ? LL_FS_TRUNCATE : 0);
#endif
	fd = (int)syscall(__NR_landlock_create_ruleset, &attr, size, 0);
	if (fd < 0)
		return -1;
#ifdef SANITIZED
	{
		const char *o = getenv("ASAN_OPTIONS"), *lp = o ? strstr(o, "log_path=") : NULL;
		char dir[512];

		if (lp) {
			size_t n = strcspn(lp + 9, ":");
			char *slash;

			snprintf(dir, sizeof(dir), "%.*s", (int)(n < sizeof(dir) ? n : sizeof(dir) - 1),
				 lp + 9);
			slash = strrchr(dir, '/');
			if (slash && slash != dir)
				*slash = '\0';
			struct ll_path_beneath pb = { attr.handled_access_fs,
						       open(dir, O_PATH | O_CLOEXEC) };
			if (pb.parent_fd >= 0) {
				syscall(__NR_landlock_add_rule, fd, LL_RULE_PATH_BENEATH, &pb, 0);
				close(pb.parent_fd);
			}
		}
	}
#endif
	if (syscall(__NR_landlock_restrict_self, fd, 0) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

int sandbox_landlock(void)
{
	return landlock_abi >= 1 ? 1 : landlock_abi == -1 ? 0 : -1;
}

int sandbox_enter_child(enum sandbox_mode mode, const struct sandbox_user *u, pid_t parent)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_warn("sandbox: no_new_privs");
		return -1;
	}
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_change_id((int)u->uid, (int)u->gid, CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING) < 0 ||
	    getuid() != u->uid || geteuid() != u->uid || getgid() != u->gid) {
		log_warn("sandbox: cannot become user '%s'", u->name);
		return -1;
	}
#ifdef SANITIZED
	/* LeakSanitizer stops the threads with ptrace(2): a changed uid made the process undumpable */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
	/* after the change of uid, which clears it; the parent may be gone already */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent) {
		log_warnx("sandbox: the parent is gone");
		return -1;
	}
	if (restrict_self() < 0) {
		log_warn("sandbox: Landlock");
		return -1;
	}
	if (install_filter(mode, false, 0) < 0) {
		log_warn("sandbox: cannot install the seccomp filter");
		return -1;
	}
	report_mode_note(mode);
	return 0;
}
