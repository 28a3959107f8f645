/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "msg.h"

#include <errno.h>
#include <string.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hub.h"

/* The body length of each fixed-size type (ADDRS: its maximum). */
static size_t body_len(enum msg_type t)
{
	switch (t) {
	case MSG_STATUS:
		return sizeof(struct msg_status);
	case MSG_ADDRS:
		return sizeof(struct msg_addrs);
	case MSG_HOP:
		return sizeof(struct msg_hop);
	case MSG_ROUTE_MTU:
		return sizeof(struct msg_route);
	case MSG_STATE:
		return sizeof(struct msg_state);
	case MSG_DATAPATH:
		return sizeof(struct msg_datapath);
	case MSG_PARAMS:
		return sizeof(struct msg_params);
	case MSG_RELOADED:
		return sizeof(struct msg_reloaded);
	case MSG_ALIVE:
		return sizeof(struct msg_alive);
	case MSG_SOFT_STATE:
		return sizeof(struct msg_soft);
	case MSG_REMOTE_SEEN:
		return sizeof(struct msg_remote);
	case MSG_HUB_ROUTES:
		return sizeof(struct msg_hub);
	case MSG_HUB_HOPS:
		return sizeof(struct msg_hub_hops);
	default:
		return 0;
	}
}

/* ADDRS carries only the addresses in use: its length follows n. */
static size_t addrs_len(uint32_t n)
{
	return offsetof(struct msg_addrs, addr) + (size_t)n * sizeof(uint32_t);
}

static bool terminated(const char *s, size_t n)
{
	return memchr(s, '\0', n) != NULL;
}

static int check_datapath(const struct msg_datapath *d)
{
	if (d->kernel > 1 || d->fast > 1 || d->vnet > 1 || d->direct > 1 || d->replace > 1 ||
	    d->pad[0] || d->pad[1] || d->pad[2] ||
	    (d->fds & ~((1u << MF_MAX) - 1)) || !terminated(d->attach, sizeof(d->attach)) ||
	    !terminated(d->reason, sizeof(d->reason)) || d->ifindex <= 0 || d->mtu < 68 ||
	    d->mtu > 0xffff || d->gro_flags > 3)
		return -EBADMSG;
	if (d->kernel)
		return d->fds || d->fast || d->replace ? -EBADMSG : 0;
	/*
	 * ipipd's own datapath: the TUN device (not again on a replace), the raw
	 * socket, maybe a send socket; a packet socket with direct; the fast
	 * path's memory with fast (not again on a replace)
	 */
	if (!(d->fds & (1u << MF_RAW)) || !!(d->fds & (1u << MF_TUN)) == !!d->replace ||
	    !!(d->fds & (1u << MF_PACKET)) != d->direct)
		return -EBADMSG;
	if ((d->fast && !d->replace) != !!(d->fds & (1u << MF_BSS)) ||
	    (d->fast && !d->replace) != !!(d->fds & (1u << MF_COUNTERS)))
		return -EBADMSG;
	if (d->fast && !d->replace && (!d->bss_len || d->bss_len > (1u << 20) || !d->counters_len ||
			d->counters_len > (1u << 24) || d->ncpus <= 0 || d->ncpus > 4096 ||
			d->bss_off > (1u << 24) || d->counters_off > (1u << 30)))
		return -EBADMSG;
	if ((d->fds & (1u << MF_PEERS)) && (!d->fast || d->replace || !d->peers_len ||
					    d->peers_len > (1u << 24)))
		return -EBADMSG;
	return 0;
}

static int check_params(const struct msg_params *p)
{
	if (p->tos_inherit > 1 || p->pmtudisc > 1 || p->ecn > 2 || p->dscp_uniform > 1 ||
	    p->allow_source_route > 1 || p->ecn_log > 1 || p->n_allowed > CONFIG_LIST_MAX_ ||
	    p->mtu < 68 || p->mtu > 0xffff - 20 || p->keepalive > 3600 ||
	    p->keepalive_misses < 1 || p->keepalive_misses > 100 || !p->local ||
	    p->remote_any > 1 || p->peer_check > 1 || (p->remote == 0) != (p->remote_any == 1) ||
	    p->n_allowed_remotes > CONFIG_LIST_MAX_ || (p->remote_any && !p->n_allowed_remotes))
		return -EBADMSG;
	for (uint32_t i = 0; i < p->n_allowed; i++)
		if (p->allowed[i].len > 32)
			return -EBADMSG;
	for (uint32_t i = 0; i < p->n_allowed_remotes; i++)
		if (p->allowed_remotes[i].len > 32)
			return -EBADMSG;
	return 0;
}

unsigned msg_fds_wanted(const struct msg *m)
{
	return m->type == MSG_DATAPATH ? (unsigned)__builtin_popcount(m->u.dp.fds) : 0;
}

static int check_hub(const struct msg_hub *h)
{
	if (h->total > MSG_HUB_MAX || h->n > MSG_HUB_CHUNK || h->first > h->total ||
	    h->n > h->total - h->first || h->pad || (!h->n && h->total))
		return -EBADMSG;
	for (uint32_t i = 0; i < h->n; i++)
		if (h->r[i].len > 32 || (h->r[i].peer >= HUB_PEERS_MAX && h->r[i].peer != HUB_NO_PEER) ||
		    (!h->r[i].gw && h->r[i].peer != HUB_NO_PEER))
			return -EBADMSG;
	return 0;
}

static int check_hops(const struct msg_hub_hops *h)
{
	if (h->total > MSG_HOPS_MAX || h->n > MSG_HOPS_CHUNK || h->first > h->total ||
	    h->n > h->total - h->first || h->pad || (!h->n && h->total))
		return -EBADMSG;
	for (uint32_t i = 0; i < h->n; i++)
		if (!h->h[i].addr || h->h[i].ifindex <= 0 || h->h[i].pad[0] || h->h[i].pad[1])
			return -EBADMSG;
	return 0;
}

static int check(const struct msg *m)
{
	const struct msg_hop *h = &m->u.hop;
	const struct msg_status *s = &m->u.status;

	switch (m->type) {
	case MSG_STATE:
		return m->u.state.up <= 1 && terminated(m->u.state.waiting, MSG_TEXT_MAX) ?
			       0 : -EBADMSG;
	case MSG_DATAPATH:
		return check_datapath(&m->u.dp);
	case MSG_PARAMS:
		return check_params(&m->u.params);
	case MSG_RELOADED:
		return m->u.reloaded.err >= 0 && terminated(m->u.reloaded.text, MSG_TEXT_MAX) ?
			       0 : -EBADMSG;
	case MSG_ALIVE:
		return m->u.alive.alive <= 1 ? 0 : -EBADMSG;
	case MSG_SOFT_STATE:
		return (m->u.soft.pmtu == 0 || (m->u.soft.pmtu >= 68 && m->u.soft.pmtu <= 0xffff)) &&
		       m->u.soft.path_ttl <= 255 && m->u.soft.unreach <= 1 ? 0 : -EBADMSG;
	case MSG_REMOTE_SEEN:
		return m->u.remote.addr ? 0 : -EBADMSG;
	case MSG_HUB_ROUTES:
		return check_hub(&m->u.hub);
	case MSG_HUB_HOPS:
		return check_hops(&m->u.hops);
	case MSG_STATUS:
		return s->fw_rules >= -1 && s->underlay >= 0 ? 0 : -EBADMSG;
	case MSG_ADDRS:
		return m->u.addrs.n <= OWN_ADDRS_MAX &&
		       (m->u.addrs.total >= m->u.addrs.n || m->u.addrs.total == UINT32_MAX) ?
			       0 : -EBADMSG;
	case MSG_ROUTE_MTU:
		return m->u.route.mtu >= 68 && m->u.route.mtu <= 0xffff ? 0 : -EBADMSG;
	case MSG_HOP:
		if (h->rc > 0 || h->failed > 1 || h->pad[0] || h->pad[1] || h->pad[2] || h->ifindex < 0)
			return -EBADMSG;
		return h->rc == 0 ? (h->ifindex > 0 ? 0 : -EBADMSG) : 0;
	default:
		return 0;
	}
}

int msg_parse(const uint8_t *buf, size_t len, unsigned allowed, struct msg *m)
{
	uint16_t type, blen;
	size_t want;

	if (len < MSG_HDR_LEN)
		return -EBADMSG;
	memcpy(&type, buf, 2);
	memcpy(&blen, buf + 2, 2);
	if (type == 0 || type >= MSG_TYPE_MAX || !(allowed & MSG_BIT(type)) ||
	    (size_t)blen != len - MSG_HDR_LEN)
		return -EBADMSG;
	memset(m, 0, sizeof(*m));
	m->type = (enum msg_type)type;
	want = body_len(m->type);
	if (m->type == MSG_ADDRS) {
		if (blen < offsetof(struct msg_addrs, addr))
			return -EBADMSG;
		memcpy(&m->u.addrs, buf + MSG_HDR_LEN, offsetof(struct msg_addrs, addr));
		if (m->u.addrs.n > OWN_ADDRS_MAX || blen != addrs_len(m->u.addrs.n))
			return -EBADMSG;
		want = blen;
	}
	if (blen != want)
		return -EBADMSG;
	memcpy(&m->u, buf + MSG_HDR_LEN, want);
	return check(m);
}

size_t msg_build(uint8_t *buf, const struct msg *m)
{
	uint16_t type = (uint16_t)m->type;
	size_t blen = m->type == MSG_ADDRS ? addrs_len(m->u.addrs.n <= OWN_ADDRS_MAX ?
						       m->u.addrs.n : OWN_ADDRS_MAX) :
					     body_len(m->type);
	uint16_t l = (uint16_t)blen;

	memcpy(buf, &type, 2);
	memcpy(buf + 2, &l, 2);
	memcpy(buf + MSG_HDR_LEN, &m->u, blen);
	return MSG_HDR_LEN + blen;
}

int msg_send_fds(int fd, const struct msg *m, const int *fds, unsigned nfds)
{
	uint8_t buf[MSG_MAX_LEN];
	union {
		char buf[CMSG_SPACE(MF_MAX * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	size_t len = msg_build(buf, m);
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;

	if (nfds > MF_MAX)
		return -EINVAL;
	if (nfds) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ECONNRESET ? -EPIPE : -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int msg_send(int fd, const struct msg *m)
{
	return msg_send_fds(fd, m, NULL, 0);
}

/* The descriptors a message came with, into m->fds; -EBADMSG if they are not one SCM_RIGHTS. */
static int take_fds(struct msghdr *mh, struct msg *m)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len < CMSG_LEN(0))
			return -EBADMSG;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (m->nfds < MF_MAX)
				m->fds[m->nfds++] = fd;
			else
				close(fd);	/* more than any message has */
		}
	}
	return (mh->msg_flags & MSG_CTRUNC) ? -EBADMSG : 0;
}

static void close_fds(struct msg *m)
{
	for (unsigned i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	m->nfds = 0;
}

int msg_recv(int fd, unsigned allowed, struct msg *m)
{
	uint8_t buf[MSG_MAX_LEN + 1];
	union {
		char buf[CMSG_SPACE(MF_MAX * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	int fds[MF_MAX];
	unsigned nfds;
	ssize_t n;
	int rc;

	do
		n = recvmsg(fd, &mh, MSG_TRUNC | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return -EPIPE;
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : errno == ECONNRESET ? -EPIPE : -errno;
	m->nfds = 0;
	rc = take_fds(&mh, m);
	nfds = m->nfds;
	memcpy(fds, m->fds, sizeof(fds));
	if (rc == 0 && (size_t)n > sizeof(buf) - 1)
		rc = -EBADMSG;	/* longer than any message: truncated */
	if (rc == 0)
		rc = msg_parse(buf, (size_t)n, allowed, m);	/* (clears m->fds) */
	m->nfds = nfds;
	memcpy(m->fds, fds, sizeof(fds));
	if (rc == 0 && nfds != msg_fds_wanted(m))
		rc = -EBADMSG;
	if (rc < 0)
		close_fds(m);
	for (unsigned i = m->nfds; i < MF_MAX; i++)
		m->fds[i] = -1;
	return rc;
}
