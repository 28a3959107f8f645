/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TUN reads through io_uring (dp_uring.h): the ring, its provided buffers
 * and its one multishot read.
 */
#include "dp_uring.h"

#include <errno.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* liburing 2.3 (Debian 12) predates it; the kernel's number since 6.7 */
#define OP_READ_MULTISHOT 49
#define BGID 1			/* the buffer group */
#define CQ_ENTRIES (2 * DP_URING_BUFS)	/* a multishot read ends when the CQ is full */

_Static_assert((DP_URING_BUFS & (DP_URING_BUFS - 1)) == 0, "a buffer ring is a power of two");

struct dp_uring {
	struct io_uring ring;	/* first: tests/unit/test_uring.c submits on it */
	bool ring_made;
	struct io_uring_buf_ring *br;
	uint8_t *bufs;		/* DP_URING_BUFS of bufsize bytes */
	size_t bufsize;
	uint64_t arm;		/* the armed read's user_data (counted from 1) */
	bool armed;
	bool taskrun_flag;	/* IORING_SETUP_TASKRUN_FLAG: the kernel says when a read is due */
};

/*
 * Debian 12's liburing 2.3 declares io_uring_register_restrictions() and
 * io_uring_enable_rings() but its library does not export them.
 */
static int ring_register(struct dp_uring *u, unsigned op, const void *arg, unsigned n)
{
	long rc = syscall(__NR_io_uring_register, u->ring.ring_fd, op, arg, n);

	return rc < 0 ? -errno : 0;
}

struct dp_uring *dp_uring_new(const char **why)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_R_DISABLED | IORING_SETUP_SINGLE_ISSUER |
			 IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE,
		.cq_entries = CQ_ENTRIES,
	};
	struct dp_uring *u;
	int rc;

	u = calloc(1, sizeof(*u));
	if (!u) {
		*why = "out of memory";
		return NULL;
	}
	/*
	 * With TASKRUN_FLAG the kernel marks the ring when the device woke the
	 * armed read (its read deferred to the next pass): dp_uring_quiet().
	 * A kernel that refuses the flag gives the ring without it.
	 */
	p.flags |= IORING_SETUP_TASKRUN_FLAG;
	rc = io_uring_queue_init_params(8, &u->ring, &p);
	if (rc == -EINVAL) {
		p = (struct io_uring_params){ .flags = p.flags & ~IORING_SETUP_TASKRUN_FLAG,
					      .cq_entries = CQ_ENTRIES };
		rc = io_uring_queue_init_params(8, &u->ring, &p);
	}
	u->taskrun_flag = rc == 0 && p.flags & IORING_SETUP_TASKRUN_FLAG;
	if (rc < 0) {
		*why = rc == -ENOSYS ? "the kernel has no io_uring" :
		       rc == -EPERM ? "io_uring is refused here (kernel.io_uring_disabled, or a seccomp profile)" :
		       rc == -EINVAL ? "the kernel's io_uring lacks deferred task work (Linux 6.1)" :
		       rc == -ENOMEM ? "io_uring: out of memory (RLIMIT_MEMLOCK?)" :
		       "io_uring_setup failed";
		free(u);
		return NULL;
	}
	u->ring_made = true;
	return u;
}

int dp_uring_setup(struct dp_uring *u, size_t bufsize, const char **why)
{
	struct io_uring_restriction res[] = {
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = OP_READ_MULTISHOT },
		{ .opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED, .sqe_flags = IOSQE_BUFFER_SELECT },
		{ .opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED, .sqe_flags = IOSQE_BUFFER_SELECT },
		{ .opcode = IORING_RESTRICTION_REGISTER_OP, .register_op = IORING_REGISTER_ENABLE_RINGS },
		{ .opcode = IORING_RESTRICTION_REGISTER_OP, .register_op = IORING_REGISTER_SYNC_CANCEL },
	};
	struct io_uring_buf_reg reg = { 0 };
	struct io_uring_probe *probe;
	bool multishot;
	int rc;

	probe = io_uring_get_probe_ring(&u->ring);
	if (!probe) {
		*why = "io_uring: the kernel's operations could not be probed";
		return -EOPNOTSUPP;
	}
	multishot = io_uring_opcode_supported(probe, OP_READ_MULTISHOT);
	io_uring_free_probe(probe);
	if (!multishot) {
		*why = "the kernel's io_uring lacks multishot reads (Linux 6.7)";
		return -EOPNOTSUPP;
	}
	u->bufsize = bufsize;
	/* untouched pages cost no memory: each buffer is as resident as its largest packet */
	u->bufs = mmap(NULL, DP_URING_BUFS * bufsize, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	u->br = mmap(NULL, DP_URING_BUFS * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u->bufs == MAP_FAILED || u->br == MAP_FAILED) {
		rc = -errno;
		*why = "io_uring: no memory for its buffers";
		return rc;
	}
	reg.ring_addr = (unsigned long)u->br;
	reg.ring_entries = DP_URING_BUFS;
	reg.bgid = BGID;
	rc = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (rc < 0) {
		*why = "io_uring: the buffers could not be registered";
		return rc;
	}
	io_uring_buf_ring_init(u->br);
	for (unsigned i = 0; i < DP_URING_BUFS; i++)
		io_uring_buf_ring_add(u->br, u->bufs + i * bufsize, (unsigned)bufsize,
				      (unsigned short)i, io_uring_buf_ring_mask(DP_URING_BUFS), (int)i);
	io_uring_buf_ring_advance(u->br, DP_URING_BUFS);
	rc = ring_register(u, IORING_REGISTER_RESTRICTIONS, res, sizeof(res) / sizeof(res[0]));
	if (rc < 0) {
		*why = "io_uring: the ring could not be restricted";
		return rc;
	}
	return 0;
}

int dp_uring_enable(struct dp_uring *u)
{
	return ring_register(u, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
}

int dp_uring_pass(struct dp_uring *u, int fd)
{
	int rc;

	if (!u->armed) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

		if (sqe) {
			io_uring_prep_rw(OP_READ_MULTISHOT, sqe, fd, NULL, 0, 0);
			sqe->flags |= IOSQE_BUFFER_SELECT;
			sqe->buf_group = BGID;
			io_uring_sqe_set_data64(sqe, ++u->arm);
			u->armed = true;
		}
	}
	rc = io_uring_submit_and_get_events(&u->ring);
	return rc < 0 ? rc : 0;
}

ssize_t dp_uring_take(struct dp_uring *u, uint8_t **buf)
{
	struct io_uring_cqe *cqe;
	unsigned flags;
	int res;

	if (io_uring_peek_cqe(&u->ring, &cqe) != 0)
		return 0;
	res = cqe->res;
	flags = cqe->flags;
	/* the read's last completion (ENOBUFS, a full CQ, an error, a cancel) */
	if (!(flags & IORING_CQE_F_MORE) && io_uring_cqe_get_data64(cqe) == u->arm)
		u->armed = false;
	io_uring_cqe_seen(&u->ring, cqe);
	if (flags & IORING_CQE_F_BUFFER) {
		*buf = u->bufs + (size_t)(flags >> IORING_CQE_BUFFER_SHIFT) * u->bufsize;
		if (res > 0)
			return res;
		dp_uring_give(u, *buf);
	}
	return res < 0 ? res : -EIO;
}

void dp_uring_give(struct dp_uring *u, uint8_t *buf)
{
	size_t bid = (size_t)(buf - u->bufs) / u->bufsize;

	io_uring_buf_ring_add(u->br, buf, (unsigned)u->bufsize, (unsigned short)bid,
			      io_uring_buf_ring_mask(DP_URING_BUFS), 0);
	io_uring_buf_ring_advance(u->br, 1);
}

unsigned dp_uring_waiting(struct dp_uring *u)
{
	return io_uring_cq_ready(&u->ring);
}

bool dp_uring_quiet(struct dp_uring *u)
{
	return u->taskrun_flag && u->armed && !io_uring_cq_ready(&u->ring) &&
	       !(__atomic_load_n(u->ring.sq.kflags, __ATOMIC_ACQUIRE) & IORING_SQ_TASKRUN);
}

int dp_uring_cancel(struct dp_uring *u)
{
	struct io_uring_sync_cancel_reg reg = {
		.flags = IORING_ASYNC_CANCEL_ANY,	/* the read is the ring's one request */
		.timeout = { .tv_sec = -1, .tv_nsec = -1 },
	};
	int rc;

	if (!u->armed)
		return 0;
	rc = io_uring_register_sync_cancel(&u->ring, &reg);
	if (rc == -ENOENT)	/* it had ended, its last completion not yet taken */
		rc = 0;
	if (rc >= 0) {
		u->armed = false;
		rc = io_uring_get_events(&u->ring);	/* what it read, and its end, posted */
	}
	return rc < 0 ? rc : 0;
}

void dp_uring_free(struct dp_uring *u)
{
	if (!u)
		return;
	if (u->ring_made)
		io_uring_queue_exit(&u->ring);
	if (u->bufs && u->bufs != MAP_FAILED)
		munmap(u->bufs, DP_URING_BUFS * u->bufsize);
	if (u->br && u->br != MAP_FAILED)
		munmap(u->br, DP_URING_BUFS * sizeof(struct io_uring_buf));
	free(u);
}
