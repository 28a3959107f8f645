/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "fwwatch.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "control.h"
#include "firewall.h"
#include "log.h"

#define FWW_BACKOFF_MAX 7	/* the wait is at most FWW_SETTLE_MS << this (25.6 s) */
#define FWW_RETRIES 3		/* a failed restore is tried again this often, then on the next change */
#define FWW_RCVBUF (1 << 20)	/* a reload of a large ruleset is many notifications */

/* The page shared with the datapath process: a sequence lock over 32-bit atomics. */
struct fww_shared {
	_Atomic uint32_t seq;	/* odd while the parent writes */
	_Atomic uint32_t restored;
	_Atomic uint32_t at_hi, at_lo;	/* CLOCK_MONOTONIC ms of the last restore */
	_Atomic uint32_t on;	/* the parent follows the ruleset (Forward or Input) */
};

static struct fww_shared *shared;	/* both processes: mapped before the fork */

/* The parent's own. */
static struct {
	const struct config *c;
	struct mnl_socket *nl;
	int fd, tfd, ep;
	bool pending;		/* a change to act on */
	uint64_t first, last;	/* when the first and the last change since came */
	bool lost;		/* notifications were lost: nothing is known of the change */
	uint32_t gen, pid;	/* the last change's generation and process */
	char comm[16];
	unsigned backoff;	/* the wait is FWW_SETTLE_MS << backoff */
	unsigned failures;	/* restores in a row that failed */
	uint32_t restored;	/* times rules were put back */
	uint64_t restored_at;
} w = { .fd = -1, .tfd = -1, .ep = -1 };

/* ---- the notifications ---------------------------------------------------- */

static int gen_attr(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, NFTA_GEN_MAX) < 0)
		return MNL_CB_OK;	/* newer than this program: not needed */
	switch (type) {
	case NFTA_GEN_ID:
	case NFTA_GEN_PROC_PID:
		if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
			return MNL_CB_ERROR;
		break;
	case NFTA_GEN_PROC_NAME:
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
			return MNL_CB_ERROR;
		break;
	default:
		return MNL_CB_OK;
	}
	tb[type] = a;
	return MNL_CB_OK;
}

static int on_msg(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NFTA_GEN_MAX + 1] = { NULL };
	struct fww_news *n = data;
	const char *comm;
	uint32_t pid;
	size_t i;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
		return MNL_CB_OK;	/* not of this group */
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg))
		return MNL_CB_ERROR;
	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWGEN)
		return MNL_CB_OK;	/* a change of the transaction its NEWGEN ends */
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), gen_attr, tb) < 0)
		return MNL_CB_ERROR;
	pid = tb[NFTA_GEN_PROC_PID] ? ntohl(mnl_attr_get_u32(tb[NFTA_GEN_PROC_PID])) : 0;
	if (pid && pid == n->self) {
		n->own++;
		return MNL_CB_OK;
	}
	n->changes++;
	n->pid = pid;
	n->gen = tb[NFTA_GEN_ID] ? ntohl(mnl_attr_get_u32(tb[NFTA_GEN_ID])) : 0;
	comm = tb[NFTA_GEN_PROC_NAME] ? mnl_attr_get_str(tb[NFTA_GEN_PROC_NAME]) : "";
	for (i = 0; i + 1 < sizeof(n->comm) && comm[i]; i++)	/* for the log: printable */
		n->comm[i] = isprint((unsigned char)comm[i]) ? comm[i] : '?';
	n->comm[i] = '\0';
	return MNL_CB_OK;
}

int fwwatch_parse(const void *buf, size_t len, struct fww_news *n)
{
	/*
	 * Every message must fit first, with its padding (the kernel's lengths
	 * are multiples of 4): libmnl (1.0.4) takes an nlmsg_len of 2^31 or
	 * more for one that fits, and reads attributes up to the aligned end.
	 */
	for (size_t at = 0; at < len;) {
		struct nlmsghdr h;

		if (len - at < sizeof(h))
			return -1;
		memcpy(&h, (const char *)buf + at, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - at ||
		    MNL_ALIGN(h.nlmsg_len) > len - at)
			return -1;
		at += MNL_ALIGN(h.nlmsg_len);
	}
	return mnl_cb_run(buf, len, 0, 0, on_msg, n) == MNL_CB_ERROR ? -1 : 0;
}

/* A change to act on (n NULL: notifications were lost or unreadable). */
static void note_change(const struct fww_news *n)
{
	uint64_t now = now_ms();

	if (!w.pending) {
		w.pending = true;
		w.first = now;
		w.lost = false;
		if (now - w.restored_at >= FWW_STREAK_MS)
			w.backoff = 0;
	}
	w.last = now;
	w.failures = 0;
	if (!n) {
		w.lost = true;
		return;
	}
	w.gen = n->gen;
	w.pid = n->pid;
	memcpy(w.comm, n->comm, sizeof(w.comm));
}

static void drain(void)
{
	static uint32_t buf[16384];	/* aligned for the headers */

	for (;;) {
		struct fww_news n = { .self = (uint32_t)getpid() };
		struct sockaddr_nl sa;
		socklen_t salen = sizeof(sa);
		ssize_t len = recvfrom(w.fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&sa,
				       &salen);

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0 && errno == ENOBUFS) {
			log_debug("%s: nftables notifications were lost", w.c->name);
			note_change(NULL);
			continue;
		}
		if (len <= 0) {
			if (len < 0 && errno != EAGAIN)
				log_warn("%s: nftables notifications", w.c->name);
			return;
		}
		if (salen != sizeof(sa) || sa.nl_family != AF_NETLINK || sa.nl_pid != 0)
			continue;	/* not from the kernel */
		if ((size_t)len > sizeof(buf) || fwwatch_parse(buf, (size_t)len, &n) < 0) {
			log_debug("%s: an nftables notification too long or malformed", w.c->name);
			note_change(NULL);
			continue;
		}
		if (n.changes)
			note_change(&n);
	}
}

/* ---- putting the rules back ---------------------------------------------- */

static uint64_t due(void)
{
	uint64_t settle = (uint64_t)FWW_SETTLE_MS << w.backoff;
	uint64_t latest = settle > FWW_LATEST_MS ? settle : FWW_LATEST_MS;

	return w.last + settle < w.first + latest ? w.last + settle : w.first + latest;
}

static void arm(void)
{
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };
	uint64_t at = w.pending ? due() : 0;

	its.it_value.tv_sec = (time_t)(at / 1000);
	its.it_value.tv_nsec = (long)(at % 1000) * 1000000;
	if (timerfd_settime(w.tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_warn("%s: firewall: timer", w.c->name);
}

static void publish(void)
{
	uint32_t seq = atomic_load_explicit(&shared->seq, memory_order_relaxed);

	atomic_store_explicit(&shared->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&shared->restored, w.restored, memory_order_relaxed);
	atomic_store_explicit(&shared->at_hi, (uint32_t)(w.restored_at >> 32), memory_order_relaxed);
	atomic_store_explicit(&shared->at_lo, (uint32_t)w.restored_at, memory_order_relaxed);
	atomic_store_explicit(&shared->seq, seq + 2, memory_order_release);
}

/* Where the plan adds rules, for the log: "ip filter FORWARD, inet ipipd fwd_Moe". */
static void where(const struct fw_plan *p, char *buf, size_t len)
{
	unsigned shown = 0, more = 0;
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < p->n_chains; i++) {
		const struct fw_chain *c = &p->chains[i];
		unsigned char want = c->input ? FW_IN : FW_BOTH;

		if ((p->have[i] & want) == want)
			continue;
		if (shown == 3) {
			more++;
			continue;
		}
		if (n < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%s %s %s", shown ? ", " : "",
					      c->family, c->table, c->chain);
		shown++;
	}
	if (p->n_from && !p->own_whole && n < len)
		n += (size_t)snprintf(buf + n, len - n, "%sinet ipipd %s", shown++ ? ", " : "", p->own);
	if (more && n < len)
		snprintf(buf + n, len - n, " and %u more chains", more);
}

static void failed(const char *what, const char *err)
{
	bool again = ++w.failures <= FWW_RETRIES;

	log_warnx("%s: firewall: %s: %s (%s)", w.c->name, what, err,
		  again ? "trying again" : "until the ruleset changes again");
	if (!again)
		return;
	w.pending = true;
	w.first = w.last = now_ms();
	if (w.backoff < FWW_BACKOFF_MAX)
		w.backoff++;
}

static void restore(void)
{
	static struct fw_plan plan;
	char err[1024], chains[512], cause[96];
	unsigned missing;

	if (fw_plan(w.c, &plan, err, sizeof(err)) < 0) {
		failed("cannot read the ruleset", err);
		return;
	}
	missing = fw_plan_missing(&plan);
	if (!missing) {
		w.failures = 0;
		return;	/* a change elsewhere, or the rules are back already */
	}
	where(&plan, chains, sizeof(chains));
	if (fw_apply(&plan, err, sizeof(err)) < 0) {
		failed("cannot put its rules back", err);
		return;
	}
	if (w.lost)
		snprintf(cause, sizeof(cause), "notifications were lost");
	else
		snprintf(cause, sizeof(cause), "generation %u by %s%spid %u", w.gen, w.comm,
			 w.comm[0] ? ", " : "", w.pid);
	w.failures = 0;
	if (w.restored && now_ms() - w.restored_at < FWW_STREAK_MS && w.backoff < FWW_BACKOFF_MAX)
		w.backoff++;
	w.restored++;
	w.restored_at = now_ms();
	publish();
	log_info("%s: firewall: the nftables ruleset changed (%s); %u rule%s added to %s",
		 w.c->name, cause, missing, missing == 1 ? "" : "s", chains);
}

/* ---- the parent's hooks --------------------------------------------------- */

int fwwatch_open(const struct config *c)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int group = NFNLGRP_NFTABLES, size = FWW_RCVBUF;

	if (!c->fw_forward && !c->fw_input)
		return 0;
	w.c = c;
	if (shared)
		atomic_store(&shared->on, 1);
	w.nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!w.nl || mnl_socket_bind(w.nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_setsockopt(w.nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
		log_warn("%s: firewall: nftables notifications", c->name);
		fwwatch_close();
		return -1;
	}
	w.fd = mnl_socket_get_fd(w.nl);
	/* past rmem_max with CAP_NET_ADMIN; else as far as it goes */
	if (setsockopt(w.fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(w.fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	w.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	w.ep = epoll_create1(EPOLL_CLOEXEC);
	if (w.tfd < 0 || w.ep < 0 || epoll_ctl(w.ep, EPOLL_CTL_ADD, w.fd, &ev) < 0 ||
	    epoll_ctl(w.ep, EPOLL_CTL_ADD, w.tfd, &ev) < 0) {
		log_warn("%s: firewall: timer", c->name);
		fwwatch_close();
		return -1;
	}
	return 0;
}

int fwwatch_fd(void)
{
	return w.ep;
}

void fwwatch_run(void)
{
	uint64_t expirations;

	if (w.ep < 0)
		return;
	/* poll() said the epoll descriptor is ready: both are read without waiting */
	while (read(w.tfd, &expirations, sizeof(expirations)) < 0 && errno == EINTR)
		;
	drain();
	if (w.pending && now_ms() >= due()) {
		w.pending = false;
		restore();
	}
	arm();
}

void fwwatch_close(void)
{
	if (w.ep >= 0)
		close(w.ep);
	if (w.tfd >= 0)
		close(w.tfd);
	if (w.nl)
		mnl_socket_close(w.nl);
	w.nl = NULL;
	w.ep = w.tfd = w.fd = -1;
	w.pending = false;
	if (shared)
		atomic_store(&shared->on, 0);
}

int fwwatch_share(void)
{
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	if (shared == MAP_FAILED) {
		shared = NULL;
		log_warn("firewall: shared page");
		return -1;
	}
	return 0;
}

/* ---- the datapath process's ------------------------------------------------ */

void fwwatch_describe(struct strbuf *sb)
{
	uint32_t seq, n = 0, hi = 0, lo = 0;
	uint64_t at, now = now_ms();

	if (!shared || !atomic_load(&shared->on))
		return;
	for (int tries = 0; tries < 1000; tries++) {
		seq = atomic_load_explicit(&shared->seq, memory_order_acquire);
		n = atomic_load_explicit(&shared->restored, memory_order_relaxed);
		hi = atomic_load_explicit(&shared->at_hi, memory_order_relaxed);
		lo = atomic_load_explicit(&shared->at_lo, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (!(seq & 1) && seq == atomic_load_explicit(&shared->seq, memory_order_relaxed))
			break;
	}
	at = (uint64_t)hi << 32 | lo;
	sb_printf(sb, "firewall_restored=%u\n", n);
	if (n)
		sb_printf(sb, "firewall_restored_ago_ms=%llu\n",
			  (unsigned long long)(now > at ? now - at : 0));
	else
		sb_printf(sb, "firewall_restored_ago_ms=null\n");
}
