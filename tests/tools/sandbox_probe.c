/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Enters one of ipipd's sandboxes (src/sandbox.c, the same code the daemon
 * runs) and then does what that sandbox must not allow, for
 * tests/integration/sandbox.sh:
 *
 *   sandbox_probe report        the parent's sandbox in -S mode: umask(2) three
 *                               times, then acct(2); prints "umask 0NNN 0077
 *                               0077" (the calls took effect) and "acct -1
 *                               EPERM" on stdout, the supervisor's reports go to
 *                               stderr (ipipd's log)
 *   sandbox_probe enforce       the same first call kills the process (SIGSYS)
 *   sandbox_probe child FILE    the datapath process's sandbox (user nobody) in
 *                               -S mode, so that calls outside its allow-list
 *                               proceed; then tries to open /etc/passwd and
 *                               /proc/sys/kernel/core_pattern for writing, FILE
 *                               (mode 0666: only Landlock can refuse it) for
 *                               writing and reading, and a TCP connection to
 *                               127.0.0.1:9 (Landlock ABI 4+), and makes an
 *                               io_uring (which would escape the filter);
 *                               prints one line "WHAT RESULT" each, and
 *                               "uid N caps HEX"
 *   sandbox_probe child-enforce the datapath process's sandbox: the first open
 *                               kills the process (SIGSYS)
 */
#include <arpa/inet.h>
#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

static void try_open(const char *what, const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd >= 0) {
		printf("%s opened\n", what);
		close(fd);
	} else {
		printf("%s %s\n", what, errno == EACCES ? "EACCES" : strerror(errno));
	}
}

static int child(const char *file, enum sandbox_mode mode)
{
	struct sandbox_user u;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(9) };
	int fd;

	if (sandbox_user("nobody", &u) < 0 || sandbox_enter_child(mode, &u, getppid()) < 0)
		return 1;
	printf("uid %u caps %s\n", (unsigned)getuid(),
	       capng_have_capabilities(CAPNG_SELECT_BOTH) == CAPNG_NONE ? "none" : "some");
	printf("landlock %d\n", sandbox_landlock());
	fflush(stdout);
	try_open("write /etc/passwd", "/etc/passwd", O_WRONLY | O_APPEND);
	try_open("write core_pattern", "/proc/sys/kernel/core_pattern", O_WRONLY);
	try_open("write file", file, O_WRONLY | O_APPEND);
	try_open("read file", file, O_RDONLY);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		printf("tcp connect %s\n", errno == EACCES ? "EACCES" : strerror(errno));
	else if (fd >= 0)
		printf("tcp connect connected\n");
	{
		struct io_uring_params p = { 0 };
		long ring = syscall(__NR_io_uring_setup, 8, &p);

		printf("io_uring_setup %s\n", ring >= 0 ? "made" : strerror(errno));
		if (ring >= 0)
			close((int)ring);
	}
	fflush(stdout);
	usleep(200000);		/* the supervisor's reports come after the calls went on */
	return 0;
}

int main(int argc, char **argv)
{
	enum sandbox_mode mode;
	mode_t a, b, c;
	long r;

	log_init("sandbox_probe", true, false);
	if (argc == 3 && !strcmp(argv[1], "child"))
		return child(argv[2], SANDBOX_REPORT);
	if (argc == 3 && !strcmp(argv[1], "child-enforce"))
		return child(argv[2], SANDBOX_ENFORCE);
	if (argc != 2 || (strcmp(argv[1], "report") && strcmp(argv[1], "enforce"))) {
		fprintf(stderr, "usage: sandbox_probe report|enforce|child FILE|child-enforce FILE\n");
		return 2;
	}
	mode = !strcmp(argv[1], "report") ? SANDBOX_REPORT : SANDBOX_ENFORCE;
	if (sandbox_enter_parent(mode, false, 0) < 0)
		return 1;
	a = umask(077);		/* not in the allow-list */
	b = umask(077);
	c = umask(077);
	printf("umask %04o %04o %04o\n", (unsigned)a, (unsigned)b, (unsigned)c);
	r = syscall(SYS_acct, NULL);	/* not allowed either; EPERM without CAP_SYS_PACCT */
	printf("acct %ld %s\n", r, r < 0 && errno == EPERM ? "EPERM" : strerror(errno));
	fflush(stdout);
	usleep(200000);		/* the supervisor's reports come after the calls went on */
	return 0;
}
