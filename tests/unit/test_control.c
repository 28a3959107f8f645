/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the control socket code (src/control.c): request parsing,
 * the bounded reply buffer, and the socket helpers over real sockets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"

/* ---- helpers ------------------------------------------------------------ */

static enum ctl_request parse(const char *s)
{
	return ctl_parse_request(s, strlen(s), NULL);
}

/* A connected pair of stream sockets, closed by the teardown. */
static int sv[2] = { -1, -1 };

static int open_pair(void **state)
{
	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
}

static int close_pair(void **state)
{
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		sv[i] = -1;
	}
	return 0;
}

static void send_str(int fd, const char *s)
{
	assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* A temporary directory for the listening socket, removed by the teardown. */
static char tmp_dir[64], sock_path[128];

static int make_tmp_dir(void **state)
{
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/ipipd-ctl-XXXXXX");
	if (!mkdtemp(tmp_dir))
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/tun0.sock", tmp_dir);
	return 0;
}

static int remove_tmp_dir(void **state)
{
	unlink(sock_path);
	return rmdir(tmp_dir);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sun;
	size_t n = strlen(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(n < sizeof(sun.sun_path));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* ---- ctl_parse_request ---------------------------------------------------- */

static void test_parse_get(void **state)
{
	assert_int_equal(parse("get=1\n\n"), CTL_GET);
}

static void test_parse_down(void **state)
{
	assert_int_equal(parse("down=1\n\n"), CTL_DOWN);
}

static void test_parse_unknown_request(void **state)
{
	assert_int_equal(parse("set=1\n\n"), CTL_BAD);
	assert_int_equal(parse("get=0\n\n"), CTL_BAD);
	assert_int_equal(parse("GET=1\n\n"), CTL_BAD);
	assert_int_equal(parse("get\n\n"), CTL_BAD);
	assert_int_equal(parse("get=1 \n\n"), CTL_BAD);
}

static void test_parse_missing_blank_line(void **state)
{
	assert_int_equal(parse("get=1\n"), CTL_BAD);
	assert_int_equal(parse("get=1"), CTL_BAD);
	assert_int_equal(parse("down=1\n"), CTL_BAD);
}

static void test_parse_trailing_junk(void **state)
{
	assert_int_equal(parse("get=1\n\nx"), CTL_BAD);
	assert_int_equal(parse("get=1\n\n\n"), CTL_BAD);
	assert_int_equal(parse("get=1\ndown=1\n\n"), CTL_BAD);
	assert_int_equal(parse("xget=1\n\n"), CTL_BAD);
}

static void test_parse_peers(void **state)
{
	unsigned arg = 7;

	assert_int_equal(ctl_parse_request("peers=0\n\n", 9, &arg), CTL_PEERS);
	assert_int_equal(arg, 0);
	assert_int_equal(ctl_parse_request("peers=4095\n\n", 12, &arg), CTL_PEERS);
	assert_int_equal(arg, 4095);
	assert_int_equal(ctl_parse_request("peers=1000000\n\n", 15, &arg), CTL_PEERS);
	assert_int_equal(arg, 1000000);
	/* nothing else: no sign, no spaces, no value, at most 7 digits, at most CTL_PEERS_MAX */
	assert_int_equal(ctl_parse_request("peers=1000001\n\n", 15, &arg), CTL_BAD);
	assert_int_equal(arg, 0);
	assert_int_equal(parse("peers=10000000\n\n"), CTL_BAD);
	assert_int_equal(parse("peers=\n\n"), CTL_BAD);
	assert_int_equal(parse("peers=+1\n\n"), CTL_BAD);
	assert_int_equal(parse("peers=-1\n\n"), CTL_BAD);
	assert_int_equal(parse("peers= 1\n\n"), CTL_BAD);
	assert_int_equal(parse("peers=1 \n\n"), CTL_BAD);
	assert_int_equal(parse("peers=1x\n\n"), CTL_BAD);
	assert_int_equal(parse("peers=1\n"), CTL_BAD);
	assert_int_equal(parse("peers=1\n\n\n"), CTL_BAD);
	assert_int_equal(parse("peers=1\nget=1\n\n"), CTL_BAD);
	/* the other requests give 0 */
	arg = 7;
	assert_int_equal(ctl_parse_request("get=1\n\n", 7, &arg), CTL_GET);
	assert_int_equal(arg, 0);
}

static void test_parse_empty(void **state)
{
	assert_int_equal(ctl_parse_request("", 0, NULL), CTL_BAD);
	assert_int_equal(parse("\n"), CTL_BAD);
	assert_int_equal(parse("\n\n"), CTL_BAD);
}

static void test_parse_uses_length_not_nul(void **state)
{
	/* the request is the first len bytes, wherever the NULs are */
	assert_int_equal(ctl_parse_request("get=1\n\nxyz", 7, NULL), CTL_GET);
	assert_int_equal(ctl_parse_request("get=1\n\0\n", 8, NULL), CTL_BAD);
	assert_int_equal(ctl_parse_request("get=1\n\n", 6, NULL), CTL_BAD);
}

/* ---- sb_printf ------------------------------------------------------------ */

static void test_sb_printf_appends(void **state)
{
	static struct strbuf sb;

	memset(&sb, 0, sizeof(sb));
	sb_printf(&sb, "name=%s\n", "tun0");
	sb_printf(&sb, "rx_packets=%u\n", 42u);
	sb_printf(&sb, "%s", "");
	sb_printf(&sb, "errno=%d\n\n", 0);
	assert_string_equal(sb.buf, "name=tun0\nrx_packets=42\nerrno=0\n\n");
	assert_int_equal(sb.len, strlen(sb.buf));
	assert_int_equal(sb.overflow, 0);
}

/* A reply that did not fit: cut at a whole line, and still ended as a reply is. */
static void test_sb_cut(void **state)
{
	static struct strbuf sb;
	size_t n;

	memset(&sb, 0, sizeof(sb));
	for (unsigned i = 0; !sb.overflow; i++)
		sb_printf(&sb, "drop.reason_%u=%u\n", i, i * 7);
	sb_cut(&sb);
	assert_int_equal(sb.overflow, 0);
	assert_int_equal(sb.len, strlen(sb.buf));
	assert_true(sb.len < sizeof(sb.buf));
	n = strlen("truncated=yes\nerrno=0\n\n");
	assert_true(sb.len > n);
	assert_string_equal(sb.buf + sb.len - n, "truncated=yes\nerrno=0\n\n");
	/* the line before it is whole: it starts with the key and ends with its value */
	{
		char *end = sb.buf + sb.len - n - 1, *start = end;

		assert_int_equal(*end, '\n');
		while (start > sb.buf && start[-1] != '\n')
			start--;
		assert_memory_equal(start, "drop.reason_", 12);
		assert_non_null(memchr(start, '=', (size_t)(end - start)));
	}
	/* nothing to cut: every line stays */
	memset(&sb, 0, sizeof(sb));
	sb_printf(&sb, "name=tun0\n");
	sb_cut(&sb);
	assert_string_equal(sb.buf, "name=tun0\ntruncated=yes\nerrno=0\n\n");
}

/* A strbuf followed by guard bytes that must never change. */
struct guarded {
	struct strbuf sb;
	unsigned char guard[64];
};

static void assert_guard_intact(const struct guarded *g)
{
	for (size_t i = 0; i < sizeof(g->guard); i++)
		assert_int_equal(g->guard[i], 0x5a);
}

static void test_sb_printf_exact_fit(void **state)
{
	static struct guarded g;
	static char line[CTL_MAX_REPLY];

	memset(&g, 0, sizeof(g));
	memset(g.guard, 0x5a, sizeof(g.guard));
	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	sb_printf(&g.sb, "%s", line + 1);	/* all but 1 byte of the room */
	assert_int_equal(g.sb.overflow, 0);
	assert_int_equal(g.sb.len, CTL_MAX_REPLY - 2);
	sb_printf(&g.sb, "b");			/* exactly fills it, NUL included */
	assert_int_equal(g.sb.overflow, 0);
	assert_int_equal(g.sb.len, CTL_MAX_REPLY - 1);
	assert_int_equal(g.sb.buf[CTL_MAX_REPLY - 2], 'b');
	assert_int_equal(g.sb.buf[CTL_MAX_REPLY - 1], '\0');
	sb_printf(&g.sb, "%s", "");		/* nothing more: still fine */
	assert_int_equal(g.sb.overflow, 0);
	assert_guard_intact(&g);
}

static void test_sb_printf_one_byte_too_many(void **state)
{
	static struct guarded g;
	static char line[CTL_MAX_REPLY];

	memset(&g, 0, sizeof(g));
	memset(g.guard, 0x5a, sizeof(g.guard));
	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	sb_printf(&g.sb, "%s", line + 1);
	assert_int_equal(g.sb.len, CTL_MAX_REPLY - 2);
	sb_printf(&g.sb, "bc");	/* 2 bytes plus the NUL into 2 bytes of room */
	assert_int_equal(g.sb.overflow, 1);
	assert_int_equal(g.sb.len, CTL_MAX_REPLY - 1);
	assert_int_equal(g.sb.buf[CTL_MAX_REPLY - 2], 'b');
	assert_int_equal(g.sb.buf[CTL_MAX_REPLY - 1], '\0');
	assert_guard_intact(&g);
}

static void test_sb_printf_overflow(void **state)
{
	static struct guarded g;
	static char chunk[1000];

	memset(&g, 0, sizeof(g));
	memset(g.guard, 0x5a, sizeof(g.guard));
	memset(chunk, 'x', sizeof(chunk) - 1);
	chunk[sizeof(chunk) - 1] = '\0';

	/* 17 chunks of 999 bytes do not fit in 16384 */
	for (int i = 0; i < 17; i++)
		sb_printf(&g.sb, "%s", chunk);
	assert_int_equal(g.sb.overflow, 1);
	assert_int_equal(g.sb.len, CTL_MAX_REPLY - 1);
	assert_int_equal(g.sb.buf[CTL_MAX_REPLY - 1], '\0');
	assert_int_equal(strlen(g.sb.buf), CTL_MAX_REPLY - 1);	/* cut at the end */
	assert_guard_intact(&g);

	/* once full, more output changes nothing and overflows again */
	sb_printf(&g.sb, "errno=%d\n\n", 0);
	assert_int_equal(g.sb.overflow, 1);
	assert_int_equal(g.sb.len, CTL_MAX_REPLY - 1);
	assert_int_equal(strlen(g.sb.buf), CTL_MAX_REPLY - 1);
	assert_int_equal(g.sb.buf[CTL_MAX_REPLY - 2], 'x');
	assert_guard_intact(&g);
}

static void test_sb_printf_single_huge_write(void **state)
{
	static struct guarded g;
	static char big[3 * CTL_MAX_REPLY];

	memset(&g, 0, sizeof(g));
	memset(g.guard, 0x5a, sizeof(g.guard));
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sb_printf(&g.sb, "head=");
	sb_printf(&g.sb, "%s", big);
	assert_int_equal(g.sb.overflow, 1);
	assert_int_equal(g.sb.len, CTL_MAX_REPLY - 1);
	assert_memory_equal(g.sb.buf, "head=yyy", 8);
	assert_int_equal(g.sb.buf[CTL_MAX_REPLY - 1], '\0');
	assert_guard_intact(&g);
}

/* ---- ctl_read_request over a socket pair ---------------------------------- */

static void test_read_request_get(void **state)
{
	send_str(sv[1], "get=1\n\n");
	assert_int_equal(ctl_read_request(sv[0], 1000, NULL), CTL_GET);
}

static void test_read_request_down(void **state)
{
	send_str(sv[1], "down=1\n\n");
	assert_int_equal(ctl_read_request(sv[0], 1000, NULL), CTL_DOWN);
}

static void test_read_request_in_pieces(void **state)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		static const char *const parts[] = { "do", "wn=", "1\n", "\n" };

		for (size_t i = 0; i < 4; i++) {
			if (send(sv[1], parts[i], strlen(parts[i]), MSG_NOSIGNAL) < 0)
				_exit(1);
			usleep(20000);
		}
		_exit(0);
	}
	assert_int_equal(ctl_read_request(sv[0], 1000, NULL), CTL_DOWN);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_read_request_bad(void **state)
{
	send_str(sv[1], "reboot=1\n\n");
	assert_int_equal(ctl_read_request(sv[0], 1000, NULL), CTL_BAD);
}

static void test_read_request_peer_closes_early(void **state)
{
	send_str(sv[1], "get=1\n");
	assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
	assert_int_equal(ctl_read_request(sv[0], 1000, NULL), CTL_BAD);
}

static void test_read_request_empty(void **state)
{
	assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
	assert_int_equal(ctl_read_request(sv[0], 1000, NULL), CTL_BAD);
}

static void test_read_request_trailing_junk(void **state)
{
	send_str(sv[1], "get=1\n\nget=1\n");
	assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
	assert_int_equal(ctl_read_request(sv[0], 1000, NULL), CTL_BAD);
}

static void test_read_request_oversized(void **state)
{
	static char junk[8192];

	/* 8 KiB without an empty line: refused after the 4 KiB bound */
	memset(junk, 'a', sizeof(junk));
	assert_int_equal(send(sv[1], junk, sizeof(junk), MSG_NOSIGNAL), (ssize_t)sizeof(junk));
	assert_int_equal(ctl_read_request(sv[0], 1000, NULL), CTL_BAD);
}

/* A client that trickles its request cannot hold the daemon past one deadline. */
static void test_read_request_one_deadline(void **state)
{
	struct timespec t0, t1;
	pid_t pid = fork();
	int status;
	long ms;

	assert_true(pid >= 0);
	if (pid == 0) {
		static const char req[] = "get=1\n\n";

		for (size_t i = 0; i < sizeof(req) - 1; i++) {
			if (send(sv[1], req + i, 1, MSG_NOSIGNAL) < 0)
				_exit(0);
			usleep(300000);	/* 7 bytes: 2.1 s, each read well within 1 s */
		}
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ctl_read_request(sv[0], 1000, NULL), CTL_BAD);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 900 && ms < 1500);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void test_read_request_times_out(void **state)
{
	/* a client that connects and says nothing does not block us for ever */
	send_str(sv[1], "get=1");
	assert_int_equal(ctl_read_request(sv[0], 1000, NULL), CTL_BAD);
}

/* ---- ctl_write_all --------------------------------------------------------- */

static void test_write_all_small(void **state)
{
	static const char reply[] = "name=tun0\nerrno=0\n\n";
	char buf[64];

	assert_int_equal(ctl_write_all(sv[0], reply, strlen(reply), 10000), 0);
	assert_int_equal(recv(sv[1], buf, sizeof(buf), 0), (ssize_t)strlen(reply));
	assert_memory_equal(buf, reply, strlen(reply));
	assert_int_equal(ctl_write_all(sv[0], reply, 0, 10000), 0);	/* nothing to write */
}

static void test_write_all_larger_than_socket_buffer(void **state)
{
	enum { SIZE = 4 << 20 };
	unsigned char *data = malloc(SIZE);
	pid_t pid;
	int status;

	assert_non_null(data);
	for (size_t i = 0; i < SIZE; i++)
		data[i] = (unsigned char)(i * 31 + (i >> 12));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* the reader: checks every byte, then exits 0 */
		static unsigned char buf[65536];
		size_t got = 0;

		close(sv[0]);
		while (got < SIZE) {
			ssize_t n = recv(sv[1], buf, sizeof(buf), 0);

			if (n <= 0 || memcmp(buf, data + got, (size_t)n) != 0)
				_exit(1);
			got += (size_t)n;
		}
		_exit(recv(sv[1], buf, 1, 0) == 0 ? 0 : 2);
	}
	close(sv[1]);
	sv[1] = -1;
	assert_int_equal(ctl_write_all(sv[0], (const char *)data, SIZE, 10000), 0);
	close(sv[0]);
	sv[0] = -1;
	free(data);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void on_alarm(int sig)
{
}

static void test_write_all_interrupted_by_signals(void **state)
{
	/*
	 * A signal handler without SA_RESTART and a slow reader: send() returns
	 * short counts and EINTR, and every byte must still arrive in order.
	 */
	enum { SIZE = 2 << 20 };
	static const struct itimerval every_ms = { { 0, 1000 }, { 0, 1000 } }, off;
	struct sigaction sa, old_sa;
	unsigned char *data = malloc(SIZE);
	pid_t pid;
	int status, rc;

	assert_non_null(data);
	for (size_t i = 0; i < SIZE; i++)
		data[i] = (unsigned char)(i * 7 + (i >> 10));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static unsigned char buf[4096];
		size_t got = 0;

		close(sv[0]);
		while (got < SIZE) {
			ssize_t n = recv(sv[1], buf, sizeof(buf), 0);

			if (n <= 0 || memcmp(buf, data + got, (size_t)n) != 0)
				_exit(1);
			got += (size_t)n;
			if (got % (64 * 1024) < (size_t)n)
				usleep(2000);
		}
		_exit(recv(sv[1], buf, 1, 0) == 0 ? 0 : 2);
	}
	close(sv[1]);
	sv[1] = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART */
	assert_int_equal(sigaction(SIGALRM, &sa, &old_sa), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &every_ms, NULL), 0);
	rc = ctl_write_all(sv[0], (const char *)data, SIZE, 10000);
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old_sa, NULL);
	close(sv[0]);
	sv[0] = -1;
	free(data);
	assert_int_equal(rc, 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_write_all_peer_gone(void **state)
{
	static const char reply[] = "errno=0\n\n";

	close(sv[1]);
	sv[1] = -1;
	/* EPIPE, and no SIGPIPE killing the daemon */
	assert_int_equal(ctl_write_all(sv[0], reply, strlen(reply), 10000), -EPIPE);
}

/* ---- ctl_listen ------------------------------------------------------------ */

static void test_listen_socket_mode_0600(void **state)
{
	struct stat st;
	int fd = ctl_listen(sock_path);

	assert_true(fd >= 0);
	assert_int_equal(stat(sock_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
}

static void test_listen_restores_umask(void **state)
{
	mode_t before = umask(022), after;
	int fd = ctl_listen(sock_path);

	assert_true(fd >= 0);
	after = umask(before);
	assert_int_equal(after, 022);
	close(fd);
}

static void test_listen_replaces_stale_socket(void **state)
{
	struct stat st;
	int fd1 = ctl_listen(sock_path), fd2, c;

	assert_true(fd1 >= 0);
	close(fd1);	/* a daemon that died: its socket file is left behind */
	assert_int_equal(stat(sock_path, &st), 0);
	fd2 = ctl_listen(sock_path);
	assert_true(fd2 >= 0);
	c = connect_to(sock_path);
	close(c);
	close(fd2);
}

static void test_listen_path_too_long(void **state)
{
	char path[200];

	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(ctl_listen(path), -ENAMETOOLONG);
}

static void test_listen_missing_directory(void **state)
{
	char path[192];
	int fd;

	snprintf(path, sizeof(path), "%s/no/such/dir.sock", tmp_dir);
	fd = ctl_listen(path);
	assert_true(fd < 0);
	assert_int_equal(fd, -ENOENT);
}

static void test_listen_serves_a_request(void **state)
{
	static const char reply[] = "name=tun0\nerrno=0\n\n";
	char buf[64];
	int lfd = ctl_listen(sock_path), c, s;

	assert_true(lfd >= 0);
	c = connect_to(sock_path);
	send_str(c, "get=1\n\n");
	s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(s >= 0);
	assert_int_equal(ctl_read_request(s, 1000, NULL), CTL_GET);
	assert_int_equal(ctl_write_all(s, reply, strlen(reply), 10000), 0);
	close(s);
	assert_int_equal(recv(c, buf, sizeof(buf), MSG_WAITALL), (ssize_t)strlen(reply));
	assert_memory_equal(buf, reply, strlen(reply));
	close(c);
	close(lfd);
}

/* ---- run_path -------------------------------------------------------------- */

static void test_run_path(void **state)
{
	char path[512];
	size_t n;

	assert_int_equal(run_path(path, sizeof(path), "tun0", ".sock"), 0);
	assert_int_equal(strncmp(path, "/run/ipipd/", 11), 0);
	n = strlen(path);
	assert_true(n > 16);
	assert_string_equal(path + n - 10, "/tun0.sock");
}

static void test_run_path_too_long(void **state)
{
	char path[16];

	assert_int_equal(run_path(path, sizeof(path), "tun0", ".sock"), -ENAMETOOLONG);
}

/* ---- run_dir_verify -------------------------------------------------------- */

static char rd[96];

static void under(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", tmp_dir, name);
}

static void test_run_dir_made_0700(void **state)
{
	char why[256] = "";
	struct stat st;
	mode_t old = umask(0);	/* the mode must not depend on the caller's umask */

	under(rd, sizeof(rd), "made");
	assert_int_equal(run_dir_verify(rd, 0, why, sizeof(why)), -ENOENT);
	assert_int_equal(run_dir_verify(rd, 1, why, sizeof(why)), 0);
	umask(old);
	assert_int_equal(lstat(rd, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(run_dir_verify(rd, 0, why, sizeof(why)), 0);
	rmdir(rd);
}

/* refused NAME RC TEXT: the directory is refused, named, with what is wrong, and left as it was */
static void refused_dir(const char *what, int rc, const char *text)
{
	char why[256] = "";
	struct stat before, after;

	assert_int_equal(lstat(rd, &before), 0);
	assert_int_equal(run_dir_verify(rd, 1, why, sizeof(why)), rc);
	if (!strstr(why, rd) || !strstr(why, text))
		fail_msg("%s: '%s' does not say '%s' about %s", what, why, text, rd);
	assert_int_equal(lstat(rd, &after), 0);
	assert_int_equal(before.st_mode, after.st_mode);
	assert_int_equal(before.st_uid, after.st_uid);
}

static void test_run_dir_refused(void **state)
{
	char target[128];

	under(rd, sizeof(rd), "d");
	assert_int_equal(mkdir(rd, 0700), 0);
	assert_int_equal(chmod(rd, 0755), 0);
	refused_dir("mode", -EPERM, "has mode 0755, not 0700");
	assert_int_equal(chmod(rd, 01700), 0);
	refused_dir("sticky", -EPERM, "has mode 1700, not 0700");
	assert_int_equal(chmod(rd, 0700), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(rd, 65534, 65534), 0);
		refused_dir("owner", -EPERM, "owned by uid 65534, not root");
		assert_int_equal(chown(rd, 0, 0), 0);
	}
	assert_int_equal(run_dir_verify(rd, 1, (char[256]){ 0 }, 256), geteuid() == 0 ? 0 : -EPERM);
	rmdir(rd);

	under(target, sizeof(target), "target");
	assert_int_equal(mkdir(target, 0700), 0);
	assert_int_equal(symlink(target, rd), 0);
	refused_dir("symlink", -ELOOP, "is a symbolic link");
	unlink(rd);
	rmdir(target);

	assert_int_equal(close(open(rd, O_WRONLY | O_CREAT, 0700)), 0);
	refused_dir("file", -ENOTDIR, "is not a directory");
	unlink(rd);
}

static void test_run_open_no_symlink(void **state)
{
	char target[128];

	under(rd, sizeof(rd), "x.lock");
	under(target, sizeof(target), "victim");
	assert_int_equal(symlink(target, rd), 0);
	assert_int_equal(run_open(rd, O_RDWR | O_CREAT, 0600), -ELOOP);
	assert_int_equal(run_lock(rd, 0), -ELOOP);
	assert_int_equal(access(target, F_OK), -1);	/* never created through the link */
	unlink(rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_get),
		cmocka_unit_test(test_parse_down),
		cmocka_unit_test(test_parse_unknown_request),
		cmocka_unit_test(test_parse_missing_blank_line),
		cmocka_unit_test(test_parse_trailing_junk),
		cmocka_unit_test(test_parse_peers),
		cmocka_unit_test(test_parse_empty),
		cmocka_unit_test(test_parse_uses_length_not_nul),

		cmocka_unit_test(test_sb_printf_appends),
		cmocka_unit_test(test_sb_printf_exact_fit),
		cmocka_unit_test(test_sb_printf_one_byte_too_many),
		cmocka_unit_test(test_sb_printf_overflow),
		cmocka_unit_test(test_sb_printf_single_huge_write),
		cmocka_unit_test(test_sb_cut),

		cmocka_unit_test_setup_teardown(test_read_request_get, open_pair, close_pair),
		cmocka_unit_test_setup_teardown(test_read_request_down, open_pair, close_pair),
		cmocka_unit_test_setup_teardown(test_read_request_in_pieces, open_pair, close_pair),
		cmocka_unit_test_setup_teardown(test_read_request_bad, open_pair, close_pair),
		cmocka_unit_test_setup_teardown(test_read_request_peer_closes_early, open_pair,
						close_pair),
		cmocka_unit_test_setup_teardown(test_read_request_empty, open_pair, close_pair),
		cmocka_unit_test_setup_teardown(test_read_request_trailing_junk, open_pair, close_pair),
		cmocka_unit_test_setup_teardown(test_read_request_oversized, open_pair, close_pair),
		cmocka_unit_test_setup_teardown(test_read_request_one_deadline, open_pair, close_pair),
		cmocka_unit_test_setup_teardown(test_read_request_times_out, open_pair, close_pair),

		cmocka_unit_test_setup_teardown(test_write_all_small, open_pair, close_pair),
		cmocka_unit_test_setup_teardown(test_write_all_larger_than_socket_buffer, open_pair,
						close_pair),
		cmocka_unit_test_setup_teardown(test_write_all_interrupted_by_signals, open_pair,
						close_pair),
		cmocka_unit_test_setup_teardown(test_write_all_peer_gone, open_pair, close_pair),

		cmocka_unit_test_setup_teardown(test_listen_socket_mode_0600, make_tmp_dir,
						remove_tmp_dir),
		cmocka_unit_test_setup_teardown(test_listen_restores_umask, make_tmp_dir,
						remove_tmp_dir),
		cmocka_unit_test_setup_teardown(test_listen_replaces_stale_socket, make_tmp_dir,
						remove_tmp_dir),
		cmocka_unit_test(test_listen_path_too_long),
		cmocka_unit_test_setup_teardown(test_listen_missing_directory, make_tmp_dir,
						remove_tmp_dir),
		cmocka_unit_test_setup_teardown(test_listen_serves_a_request, make_tmp_dir,
						remove_tmp_dir),

		cmocka_unit_test(test_run_path),
		cmocka_unit_test(test_run_path_too_long),
		cmocka_unit_test_setup_teardown(test_run_dir_made_0700, make_tmp_dir, remove_tmp_dir),
		cmocka_unit_test_setup_teardown(test_run_dir_refused, make_tmp_dir, remove_tmp_dir),
		cmocka_unit_test_setup_teardown(test_run_open_no_symlink, make_tmp_dir,
						remove_tmp_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
