/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TUN reads through io_uring: one multishot read (Linux 6.7) of the TUN
 * device into a ring of provided buffers, its completions taken a pass at a
 * time by the tx thread, in place of a read() per packet.
 *
 * The ring is made by the datapath process before it enters its sandbox
 * (seccomp never allows io_uring_setup: a ring made later would have no
 * restrictions, and seccomp does not see io_uring's operations), disabled;
 * dp_uring_setup() registers its buffers and restricts it to the multishot
 * read with provided buffers (and to enabling it and cancelling), and the tx
 * thread enables it, which makes that thread its only submitter
 * (IORING_SETUP_SINGLE_ISSUER).  With IORING_SETUP_DEFER_TASKRUN the reads
 * are done in that thread, inside dp_uring_pass(), and nowhere else: until
 * then the packets stay on the device, where poll() sees them.
 *
 * Where any of it is missing (io_uring disabled or refused, a kernel before
 * 6.7), the datapath reads with read(), and says why (dp_uring_why).
 */
#ifndef IPIPD_DP_URING_H
#define IPIPD_DP_URING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Provided buffers: packets read ahead of the tx thread.  Each is 64 KiB (a
 * super-packet) and resident once a super-packet filled it: 16 cost 1 MiB.
 * 64-byte UDP went as fast with 16 as with 32 or 128 (read() was 20 % behind
 * all three): the read ends when they are all taken, and the next pass
 * arms it again.
 */
#define DP_URING_BUFS 16

struct dp_uring;

/* Before the sandbox: a ring, disabled, or NULL (why: the reason, static). */
struct dp_uring *dp_uring_new(const char **why);

/*
 * Buffers of bufsize bytes registered, the kernel's support checked, the
 * restrictions set.  0, or -errno and why (then free it: read() it is).
 */
int dp_uring_setup(struct dp_uring *u, size_t bufsize, const char **why);

/* The tx thread, once: enables the ring (it is its submitter from now on). */
int dp_uring_enable(struct dp_uring *u);

/*
 * One pass: the read of fd armed if it is not, the deferred reads done, their
 * completions left to take.  0 or -errno.
 */
int dp_uring_pass(struct dp_uring *u, int fd);

/*
 * The next completion: a packet of that length in *buf (give the buffer back
 * with dp_uring_give() once done with it), 0 when there is none, or -errno
 * (the read ended: ENOBUFS with every buffer taken, ECANCELED, an error; the
 * next pass arms it again).
 */
ssize_t dp_uring_take(struct dp_uring *u, uint8_t **buf);
void dp_uring_give(struct dp_uring *u, uint8_t *buf);

/* Completions not yet taken (packets read from the device before any read() now). */
unsigned dp_uring_waiting(struct dp_uring *u);

/*
 * True when the device has had nothing for the ring since its last pass:
 * the read is armed, nothing is waiting and the kernel has not marked the
 * read as due (IORING_SQ_TASKRUN).  Under the lock the submitter holds
 * around its passes; false where the kernel gives no such mark.
 */
bool dp_uring_quiet(struct dp_uring *u);

/*
 * The armed read cancelled (it holds the device's file open, whatever
 * becomes of the descriptor): the packets it read until then are left to
 * take.  By the submitter.
 */
int dp_uring_cancel(struct dp_uring *u);

void dp_uring_free(struct dp_uring *u);

#endif
