/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Enters ipipd's sandbox (src/sandbox.c: capabilities, the same seccomp
 * allow-list) and then makes calls outside the allow-list, for
 * tests/integration/sandbox.sh:
 *
 *   sandbox_probe report   -S mode: umask(2) three times, then acct(2);
 *                          prints "umask 0NNN 0077 0077" (the calls took
 *                          effect) and "acct -1 EPERM" on stdout, the
 *                          supervisor's reports go to stderr (ipipd's log)
 *   sandbox_probe enforce  the same first call kills the process (SIGSYS)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

int main(int argc, char **argv)
{
	enum sandbox_mode mode;
	mode_t a, b, c;
	long r;

	if (argc != 2 || (strcmp(argv[1], "report") && strcmp(argv[1], "enforce"))) {
		fprintf(stderr, "usage: sandbox_probe report|enforce\n");
		return 2;
	}
	mode = !strcmp(argv[1], "report") ? SANDBOX_REPORT : SANDBOX_ENFORCE;
	log_init("sandbox_probe", true, false);
	if (sandbox_enter(mode) < 0)
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
