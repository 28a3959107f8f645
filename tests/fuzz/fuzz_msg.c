/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz msg_parse, the check of what one of ipipd's two processes receives
 * from the other (src/msg.h): the parent treats the unprivileged datapath
 * process, which handles packets from the network, as untrusted, and the
 * other way round.
 *
 * Input: the first byte chooses the receiver (even: the parent, which accepts
 * MSG_FROM_CHILD; odd: the datapath process, MSG_FROM_PARENT); the rest is
 * the datagram as recv() gives it.  It is copied into a buffer of exactly its
 * size, so that ASan sees any read beyond it.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned allowed;
	struct msg m, again;
	uint8_t *buf, out[MSG_MAX_LEN];
	size_t len, n;

	if (size < 1)
		return 0;
	allowed = data[0] & 1 ? MSG_FROM_PARENT : MSG_FROM_CHILD;
	len = size - 1;
	buf = malloc(len ? len : 1);
	CHECK(buf);
	memcpy(buf, data + 1, len);
	if (msg_parse(buf, len, allowed, &m) == 0) {
		/* only the types this side may receive, every field in its range */
		CHECK(m.type > 0 && m.type < MSG_TYPE_MAX && (allowed & MSG_BIT(m.type)));
		if (m.type == MSG_ADDRS)
			CHECK(m.u.addrs.n <= OWN_ADDRS_MAX);
		if (m.type == MSG_HOP)
			CHECK(m.u.hop.rc <= 0 && (m.u.hop.rc < 0 || m.u.hop.ifindex > 0));
		if (m.type == MSG_ALIVE)
			CHECK(m.u.alive.alive <= 1);
		if (m.type == MSG_SOFT_STATE)
			CHECK((m.u.soft.pmtu == 0 || (m.u.soft.pmtu >= 68 && m.u.soft.pmtu <= 0xffff)) &&
			      m.u.soft.path_ttl <= 255 && m.u.soft.unreach <= 1);
		if (m.type == MSG_STATUS)
			CHECK(m.u.status.fw_rules >= -1 && m.u.status.underlay >= 0);
		if (m.type == MSG_REMOTE_SEEN)
			CHECK(m.u.remote.addr != 0);
		/* the descriptors a datapath comes with: none for the kernel's device;
		 * the raw socket always, the TUN device and the fast path's memory
		 * only the first time (not on a reload's replace) */
		if (m.type == MSG_DATAPATH && m.u.dp.kernel)
			CHECK(!m.u.dp.fds && !m.u.dp.fast && !m.u.dp.replace);
		if (m.type == MSG_DATAPATH && !m.u.dp.kernel)
			CHECK((m.u.dp.fds & (1u << MF_RAW)) &&
			      !(m.u.dp.fds & (1u << MF_TUN)) == !!m.u.dp.replace &&
			      !(m.u.dp.replace && (m.u.dp.fds & (1u << MF_BSS))));
		if (m.type == MSG_DATAPATH)
			CHECK(memchr(m.u.dp.reason, 0, sizeof(m.u.dp.reason)) &&
			      memchr(m.u.dp.attach, 0, sizeof(m.u.dp.attach)) && m.u.dp.ifindex > 0);
		if (m.type == MSG_PARAMS)
			CHECK(m.u.params.n_allowed <= CONFIG_LIST_MAX_ && m.u.params.mtu >= 68 &&
			      m.u.params.local && (m.u.params.remote == 0) == (m.u.params.remote_any == 1) &&
			      m.u.params.n_allowed_remotes <= CONFIG_LIST_MAX_ &&
			      (!m.u.params.remote_any || m.u.params.n_allowed_remotes));
		if (m.type == MSG_HUB_ROUTES)	/* parts fit in the table they are of */
			CHECK(m.u.hub.n <= MSG_HUB_CHUNK && m.u.hub.total <= MSG_HUB_MAX &&
			      m.u.hub.first + m.u.hub.n <= m.u.hub.total);
		if (m.type == MSG_HUB_HOPS)	/* parts fit in the table; each a peer with a device */
			CHECK(m.u.hops.n <= MSG_HOPS_CHUNK && m.u.hops.total <= MSG_HOPS_MAX &&
			      m.u.hops.first + m.u.hops.n <= m.u.hops.total &&
			      (!m.u.hops.n || (m.u.hops.h[0].addr && m.u.hops.h[0].ifindex > 0)));
		if (m.type == MSG_STATE)
			CHECK(memchr(m.u.state.waiting, 0, sizeof(m.u.state.waiting)) != NULL);
		if (m.type == MSG_RELOADED)
			CHECK(memchr(m.u.reloaded.text, 0, sizeof(m.u.reloaded.text)) != NULL);
		/* what was accepted is exactly what the sender would have built */
		n = msg_build(out, &m);
		CHECK(n == len && !memcmp(out, buf, len));
		CHECK(msg_parse(out, n, allowed, &again) == 0);
		/* and the other side would refuse it */
		CHECK(msg_parse(buf, len, allowed == MSG_FROM_PARENT ? MSG_FROM_CHILD : MSG_FROM_PARENT,
				&again) != 0);
	}
	free(buf);
	return 0;
}
