/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The TUN reads' ring (src/dp_uring.c) on a datagram socket in place of the
 * TUN device (one datagram a read, as one packet a TUN read): packets come
 * in order and whole, the buffers go round, the ring does nothing but the
 * multishot read (the restrictions hold after it is enabled), a
 * cancelled read no longer holds the file it read, and the ring says when
 * the socket has had nothing since its last pass.
 *
 * Where the kernel has no ring of this kind (before 6.7, io_uring disabled
 * or refused), the tests say why and are skipped; on a kernel of 6.7 or
 * later with io_uring allowed, no ring is a failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <liburing.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "dp_uring.h"

#define BUFSIZE 2048

struct fixture {
	struct dp_uring *u;
	int sv[2];		/* sv[0] is read by the ring, sv[1] sends */
};

/* Whether this kernel should give a ring: 6.7 or later, io_uring not disabled. */
static bool kernel_should(void)
{
	struct utsname un;
	unsigned major = 0, minor = 0;
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
	int disabled = 0;

	if (f) {
		if (fscanf(f, "%d", &disabled) != 1)
			disabled = 0;
		fclose(f);
	}
	if (uname(&un) < 0 || sscanf(un.release, "%u.%u", &major, &minor) != 2)
		return false;
	return disabled == 0 && (major > 6 || (major == 6 && minor >= 7));
}

static int setup(void **state)
{
	static struct fixture fx;
	const char *why = NULL;
	int rc;

	memset(&fx, 0, sizeof(fx));
	*state = &fx;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fx.sv) < 0)
		return -1;
	fx.u = dp_uring_new(&why);
	rc = fx.u ? dp_uring_setup(fx.u, BUFSIZE, &why) : -1;
	if (rc < 0) {
		dp_uring_free(fx.u);
		fx.u = NULL;
		print_message("no ring here: %s\n", why ? why : "?");
		assert_non_null(why);
		/* the one condition where no ring is right */
		assert_false(kernel_should());
	}
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	dp_uring_free(fx->u);
	if (fx->sv[0] >= 0)
		close(fx->sv[0]);
	close(fx->sv[1]);
	return 0;
}

static void send_n(int fd, unsigned first, unsigned n)
{
	for (unsigned i = first; i < first + n; i++) {
		char msg[64];
		int len = snprintf(msg, sizeof(msg), "packet %u", i);

		assert_int_equal(send(fd, msg, (size_t)len, 0), len);
	}
}

/* Packets in the order sent, each whole, over more passes than the ring has buffers. */
static void test_order(void **state)
{
	struct fixture *fx = *state;
	unsigned next = 0, sent = 0, total = 3 * DP_URING_BUFS + 7;

	if (!fx->u)
		skip();
	assert_int_equal(dp_uring_enable(fx->u), 0);
	while (next < total) {
		unsigned chunk = total - sent < 50 ? total - sent : 50;
		bool any = false;
		uint8_t *buf;
		ssize_t len;

		send_n(fx->sv[1], sent, chunk);
		sent += chunk;
		assert_int_equal(dp_uring_pass(fx->u, fx->sv[0]), 0);
		if (chunk)
			assert_true(dp_uring_waiting(fx->u) > 0);
		while ((len = dp_uring_take(fx->u, &buf)) != 0) {
			char want[64];

			if (len < 0) {	/* the read ended (its CQ or buffers full): armed again */
				assert_true(len == -ENOBUFS);
				continue;
			}
			snprintf(want, sizeof(want), "packet %u", next++);
			assert_int_equal(len, (ssize_t)strlen(want));
			assert_memory_equal(buf, want, (size_t)len);
			dp_uring_give(fx->u, buf);
			any = true;
		}
		assert_true(any || chunk == 0);
	}
	assert_int_equal(next, total);
	assert_int_equal(dp_uring_waiting(fx->u), 0);
}

/* Once enabled, the ring refuses every other operation, flag and registration. */
static void test_restricted(void **state)
{
	struct fixture *fx = *state;
	struct io_uring *ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;

	if (!fx->u)
		skip();
	assert_int_equal(dp_uring_enable(fx->u), 0);
	ring = (struct io_uring *)fx->u;	/* the ring is the struct's first member */
	/* an operation other than the multishot read */
	sqe = io_uring_get_sqe(ring);
	assert_non_null(sqe);
	io_uring_prep_nop(sqe);
	assert_int_equal(io_uring_submit_and_wait(ring, 1), 1);
	assert_int_equal(io_uring_peek_cqe(ring, &cqe), 0);
	assert_int_equal(cqe->res, -EACCES);
	io_uring_cqe_seen(ring, cqe);
	/* the multishot read without provided buffers */
	sqe = io_uring_get_sqe(ring);
	assert_non_null(sqe);
	io_uring_prep_rw(49, sqe, fx->sv[0], NULL, 0, 0);
	assert_int_equal(io_uring_submit_and_wait(ring, 1), 1);
	assert_int_equal(io_uring_peek_cqe(ring, &cqe), 0);
	assert_int_equal(cqe->res, -EACCES);
	io_uring_cqe_seen(ring, cqe);
	/* a registration other than enabling and cancelling: a probe, say */
	{
		struct io_uring_probe *probe = calloc(1, sizeof(*probe) + 256 * sizeof(probe->ops[0]));

		assert_non_null(probe);
		assert_int_equal(io_uring_register_probe(ring, probe, 256), -EACCES);
		free(probe);
	}
}

/*
 * An armed read holds its file: with the read end closed, the socket's other
 * end can still send.  Cancelled, it holds it no longer: the send fails.
 * (What a TUN device handed over anew needs: dp_replace_fds().)
 */
static void test_cancel_lets_go(void **state)
{
	struct fixture *fx = *state;
	uint8_t *buf;
	ssize_t len;

	if (!fx->u)
		skip();
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(dp_uring_enable(fx->u), 0);
	assert_int_equal(dp_uring_pass(fx->u, fx->sv[0]), 0);	/* armed */
	close(fx->sv[0]);
	fx->sv[0] = -1;
	/* the descriptor is gone, the socket not: the armed read holds it */
	assert_int_equal(send(fx->sv[1], "x", 1, 0), 1);
	assert_int_equal(dp_uring_cancel(fx->u), 0);
	while ((len = dp_uring_take(fx->u, &buf)) != 0)
		if (len > 0)
			dp_uring_give(fx->u, buf);
	/* nothing holds it now: the other end's sends fail */
	assert_int_equal(send(fx->sv[1], "y", 1, 0), -1);
	assert_true(errno == ECONNREFUSED || errno == ENOTCONN || errno == EPIPE);
}

/*
 * The ring is quiet while the socket has had nothing since the last pass,
 * and not once a datagram woke the armed read (the read itself deferred to
 * the next pass): the mark the rx thread's reply round relies on to skip a
 * read() that would find the device empty.
 */
static void test_quiet(void **state)
{
	struct fixture *fx = *state;
	uint8_t *buf;
	ssize_t len;
	int got = 0;

	if (!fx->u)
		skip();
	assert_int_equal(dp_uring_enable(fx->u), 0);
	assert_false(dp_uring_quiet(fx->u));	/* no read armed yet: no word on the socket */
	assert_int_equal(dp_uring_pass(fx->u, fx->sv[0]), 0);
	assert_int_equal(dp_uring_waiting(fx->u), 0);
	assert_true(dp_uring_quiet(fx->u));
	assert_int_equal(send(fx->sv[1], "x", 1, 0), 1);
	assert_false(dp_uring_quiet(fx->u));
	assert_int_equal(dp_uring_waiting(fx->u), 0);	/* not read before the pass */
	assert_int_equal(dp_uring_pass(fx->u, fx->sv[0]), 0);
	while ((len = dp_uring_take(fx->u, &buf)) != 0) {
		assert_true(len == 1);
		got++;
		dp_uring_give(fx->u, buf);
	}
	assert_int_equal(got, 1);
	assert_true(dp_uring_quiet(fx->u));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restricted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_lets_go, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quiet, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
