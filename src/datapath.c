/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "datapath.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"

#define ECN_LOG_BUDGET 16

static int ring_init(struct dp_ring *r)
{
	/* Untouched pages cost no memory: slots are only as resident as the packets in them. */
	r->buf = mmap(NULL, (size_t)DP_BATCH * DP_SLOT, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->buf == MAP_FAILED) {
		r->buf = NULL;
		return -errno;
	}
	memset(r->msg, 0, sizeof(r->msg));
	for (int i = 0; i < DP_BATCH; i++) {
		r->iov[i].iov_base = r->buf + (size_t)i * DP_SLOT;
		r->iov[i].iov_len = DP_SLOT;
		r->msg[i].msg_hdr.msg_iov = &r->iov[i];
		r->msg[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

static void ring_free(struct dp_ring *r)
{
	if (r->buf)
		munmap(r->buf, (size_t)DP_BATCH * DP_SLOT);
	r->buf = NULL;
}

int dp_init(struct datapath *dp, const struct ipip_params *p, int tun_fd, int raw_fd)
{
	int rc;

	memset(dp, 0, sizeof(*dp));
	dp->p = p;
	dp->tun_fd = tun_fd;
	dp->raw_fd = raw_fd;
	dp->ecn_log_budget = ECN_LOG_BUDGET;
	dp->remote.sin_family = AF_INET;
	dp->remote.sin_addr.s_addr = p->remote;
	rc = ring_init(&dp->rx);
	if (rc == 0)
		rc = ring_init(&dp->tx);
	if (rc < 0)
		dp_free(dp);
	return rc;
}

void dp_free(struct datapath *dp)
{
	ring_free(&dp->rx);
	ring_free(&dp->tx);
}

static enum pkt_verdict send_error(int err)
{
	switch (err) {
	case EMSGSIZE:
		return PKT_TX_TOO_BIG;
	case ENOBUFS:
	case EAGAIN:
	case ENOMEM:
		return PKT_TX_NOBUFS;
	default:
		return PKT_TX_SEND_ERROR;
	}
}

/* An ICMP error queued earlier surfaces once on the next send: that send did not happen. */
static bool transient_icmp_error(int err)
{
	return err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH ||
	       err == ENOPROTOOPT || err == EPROTO;
}

static void send_batch(struct datapath *dp, struct mmsghdr *msg, unsigned n)
{
	unsigned done = 0;
	bool retried = false;

	while (done < n) {
		int rc = sendmmsg(dp->raw_fd, msg + done, n - done, 0);

		if (rc > 0) {
			for (int i = 0; i < rc; i++) {
				dp->st.tx_packets++;
				dp->st.tx_bytes += msg[done + i].msg_hdr.msg_iov->iov_len - IPV4_HLEN;
			}
			done += (unsigned)rc;
			retried = false;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (!retried && transient_icmp_error(errno)) {
			retried = true;
			continue;
		}
		dp->st.drops[send_error(errno)]++;
		done++;
		retried = false;
	}
}

int dp_tun_to_net(struct datapath *dp)
{
	struct dp_ring *r = &dp->tx;
	struct mmsghdr out[DP_BATCH];
	unsigned n = 0;
	int got;

	for (got = 0; got < DP_BATCH; got++) {
		uint8_t *slot = r->buf + (size_t)got * DP_SLOT;
		ssize_t len = read(dp->tun_fd, slot + IPV4_HLEN, DP_SLOT - IPV4_HLEN);
		enum pkt_verdict v;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			break;	/* EAGAIN: drained */
		}
		v = ipip_encap(dp->p, slot, slot + IPV4_HLEN, (size_t)len);
		if (v != PKT_OK) {
			dp->st.drops[v]++;
			continue;
		}
		r->iov[got].iov_len = (size_t)len + IPV4_HLEN;
		out[n] = r->msg[got];
		out[n].msg_hdr.msg_name = &dp->remote;
		out[n].msg_hdr.msg_namelen = sizeof(dp->remote);
		n++;
	}
	if (n)
		send_batch(dp, out, n);
	return got;
}

static void log_ecn(struct datapath *dp, const struct ipip_rx *rx)
{
	dp->st.ecn_unusual++;
	if (!dp->ecn_log_budget)
		return;
	if (--dp->ecn_log_budget == 0)
		log_warnx("further unusual ECN combinations are counted but not logged");
	else
		log_warnx("unusual ECN combination (RFC 6040): inner %u, outer %u", rx->inner_ecn,
			  rx->outer_ecn);
}

int dp_net_to_tun(struct datapath *dp)
{
	struct dp_ring *r = &dp->rx;
	int n;

	for (int i = 0; i < DP_BATCH; i++)
		r->iov[i].iov_len = DP_SLOT;
	n = recvmmsg(dp->raw_fd, r->msg, DP_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return 0;
	for (int i = 0; i < n; i++) {
		uint8_t *pkt = r->iov[i].iov_base;
		struct ipip_rx rx;
		enum pkt_verdict v;

		if (r->msg[i].msg_hdr.msg_flags & MSG_TRUNC) {
			dp->st.drops[PKT_RX_TRUNCATED]++;
			continue;
		}
		v = ipip_decap(dp->p, pkt, r->msg[i].msg_len, &rx);
		if (rx.ecn_unusual)
			log_ecn(dp, &rx);
		if (v != PKT_OK) {
			dp->st.drops[v]++;
			continue;
		}
		if (write(dp->tun_fd, pkt + rx.inner_off, rx.inner_len) < 0) {
			dp->st.drops[PKT_RX_TUN_WRITE]++;
			continue;
		}
		dp->st.rx_packets++;
		dp->st.rx_bytes += rx.inner_len;
	}
	return n;
}

void dp_read_errors(struct datapath *dp)
{
	for (int i = 0; i < 64; i++) {
		uint8_t data[128];
		union {
			char buf[CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { data, sizeof(data) };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };

		if (recvmsg(dp->raw_fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			const struct sock_extended_err *ee;

			if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_RECVERR)
				continue;
			ee = (const void *)CMSG_DATA(c);
			if (ee->ee_origin != SO_EE_ORIGIN_ICMP)
				continue;
			dp->st.icmp_errors++;
			dp->st.last_icmp_type = ee->ee_type;
			dp->st.last_icmp_code = ee->ee_code;
			dp->st.last_icmp_info = ee->ee_info;
			log_debug("ICMP error type %u code %u info %u about an outer packet",
				  ee->ee_type, ee->ee_code, ee->ee_info);
		}
	}
}
