/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "msg.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

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
	default:
		return 0;
	}
}

/* ADDRS carries only the addresses in use: its length follows n. */
static size_t addrs_len(uint32_t n)
{
	return offsetof(struct msg_addrs, addr) + (size_t)n * sizeof(uint32_t);
}

static int check(const struct msg *m)
{
	const struct msg_hop *h = &m->u.hop;
	const struct msg_status *s = &m->u.status;

	switch (m->type) {
	case MSG_STATUS:
		return s->fw_rules >= -1 && s->underlay >= 0 ? 0 : -EBADMSG;
	case MSG_ADDRS:
		return m->u.addrs.n <= OWN_ADDRS_MAX &&
		       (m->u.addrs.total >= m->u.addrs.n || m->u.addrs.total == UINT32_MAX) ?
			       0 : -EBADMSG;
	case MSG_ROUTE_MTU:
		return m->u.route.mtu >= 68 && m->u.route.mtu <= 0xffff ? 0 : -EBADMSG;
	case MSG_HOP:
		if (h->rc > 0 || h->failed > 1 || h->pad || h->ifindex < 0)
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

int msg_send(int fd, const struct msg *m)
{
	uint8_t buf[MSG_MAX_LEN];
	size_t len = msg_build(buf, m);
	ssize_t n;

	do
		n = send(fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ECONNRESET ? -EPIPE : -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int msg_recv(int fd, unsigned allowed, struct msg *m)
{
	uint8_t buf[MSG_MAX_LEN + 1];
	ssize_t n;

	do
		n = recv(fd, buf, sizeof(buf), MSG_TRUNC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return -EPIPE;
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : errno == ECONNRESET ? -EPIPE : -errno;
	if ((size_t)n > sizeof(buf) - 1)
		return -EBADMSG;	/* longer than any message: truncated */
	return msg_parse(buf, (size_t)n, allowed, m);
}
