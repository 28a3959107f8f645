/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pure IP-in-IP packet code (RFC 2003, RFC 6040, RFC 2983): bytes in, bytes
 * and a verdict out.  No I/O, no global state.
 */
#ifndef IPIPD_PACKET_H
#define IPIPD_PACKET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codepoints.h"

#define IPV4_HLEN 20u		/* outer header length: ipipd adds no options */
#define IPPROTO_IPIP_ 4u
#define IPPROTO_UDP_ 17u
#define UDP_HLEN 8u
#define GUE_HLEN 4u		/* GUE variant 0 without optional fields */
#define OUTER_MAX (IPV4_HLEN + UDP_HLEN + GUE_HLEN)	/* the longest outer header we write */

/* An IPv4 prefix, address in network order. */
struct prefix {
	uint32_t addr;
	unsigned len;
};

bool prefix_match(const struct prefix *p, uint32_t addr);

/* The netmask of a prefix length (above 32: 32), in network order; inline, as lookups take it per packet. */
static inline uint32_t prefix_mask(unsigned len)
{
	uint32_t h = len >= 32 ? ~0u : len ? ~0u << (32 - len) : 0, n;
	const uint8_t b[4] = { (uint8_t)(h >> 24), (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h };

	memcpy(&n, b, sizeof(n));
	return n;
}

/*
 * The host's own IPv4 addresses, published by one writer (the daemon's main
 * thread, following rtnetlink) to any number of readers (the rx thread)
 * without locks: a sequence counter, odd while the writer updates, that a
 * reader checks before and after its scan (a seqlock).  Addresses beyond
 * OWN_ADDRS_MAX are not kept.
 */
#define OWN_ADDRS_MAX 256
struct own_addrs {
	_Atomic uint32_t seq;
	_Atomic uint32_t n;
	_Atomic uint32_t addr[OWN_ADDRS_MAX];	/* network order */
};

/* Replace the set with addr[0..n) (n is cut to OWN_ADDRS_MAX); one writer at a time. */
void own_addrs_publish(struct own_addrs *s, const uint32_t *addr, unsigned n);
/* Is addr (network order) in the set?  Never blocks on the writer for long. */
bool own_addrs_contains(const struct own_addrs *s, uint32_t addr);

/* Per-tunnel settings the packet code needs.  Addresses in network order. */
struct ipip_params {
	uint32_t local;
	uint32_t remote;
	uint8_t ttl;		/* 0: inherit the inner TTL */
	bool tos_inherit;	/* copy the inner TOS byte */
	uint8_t tos;		/* fixed DSCP when !tos_inherit (ECN bits ignored) */
	bool pmtudisc;		/* outer DF always set; else copied from inner */
	enum ecn_mode ecn;
	bool dscp_uniform;	/* decap: copy outer DSCP inward (RFC 2983 uniform) */
	/* decap anti-spoofing (RFC 2003 6, RFC 6169) */
	const struct prefix *allowed;	/* inner sources the peer may use (n_allowed 0: any) */
	unsigned n_allowed;
	uint32_t own[2];	/* our addresses (Local, the tunnel's): never an inner source */
	const struct own_addrs *host;	/* and every address of the host (NULL: none) */
	bool allow_source_route;	/* accept inner LSRR/SSRR options */
	bool ecn_log;		/* log unusual ECN combinations (rate-limited) */
	/* UDP encapsulation (encap FOU or GUE); ports in host order */
	enum encap encap;
	uint16_t port;		/* ours: where the far end sends (the socket's) */
	uint16_t remote_port;	/* the far end's: where we send */
	uint16_t sport;		/* our source port; 0: from a hash of the inner flow */
	uint16_t sport_min, sport_max;	/* ... within [min, max) (ip_local_port_range) */
	bool udp_csum;		/* fill the UDP checksum (else 0, as the kernel for IPv4) */
	bool learn_port;	/* RemotePort = learn: take packets from any source and
				 * follow the address and port of the far end's (the
				 * datapath's port; remote_port until one arrives) */
	/* Remote = any (a hub): remote is 0; each packet goes to its route's
	 * gateway (hub.h), and comes only from a peer in allowed_remotes */
	bool remote_any;
	const struct prefix *allowed_remotes;
	unsigned n_allowed_remotes;
	bool peer_check;	/* an inner source must be routed back to the peer it came from */
};

/* An outer address Remote stands for: Remote itself, or with Remote = any one in AllowedRemotes. */
bool ipip_remote_ok(const struct ipip_params *p, uint32_t addr);

/*
 * UDP GSO: make the outer header ipip_encap() wrote for the first of several
 * datagrams the header of a super-packet of pay bytes of UDP payload, for
 * the kernel to cut into those datagrams (VIRTIO_NET_HDR_GSO_UDP_L4): IPv4
 * total length and checksum, UDP length, and as the UDP checksum the
 * pseudo-header's sum (the partial checksum completed for each datagram).
 * pay <= 0xffff - IPV4_HLEN - UDP_HLEN.
 */
void udp_gso_outer(uint8_t *outer, size_t pay);

/* The outer header's length: IPv4, and UDP (and GUE) for UDP encapsulation. */
static inline size_t ipip_outer_len(const struct ipip_params *p)
{
	return IPV4_HLEN + (p->encap == ENCAP_IPIP ? 0 : UDP_HLEN) +
	       (p->encap == ENCAP_GUE ? GUE_HLEN : 0);
}

/*
 * Why a packet was not carried, or an ICMP error about an outer packet not
 * acted on.  Every drop has one; the names are stable (they appear in
 * `ipipctl show --json`).
 */
#define PKT_VERDICTS(X) \
	X(PKT_OK, "ok") \
	X(PKT_RX_TRUNCATED, "rx_truncated") \
	X(PKT_RX_OUTER_SHORT, "rx_outer_short") \
	X(PKT_RX_OUTER_VERSION, "rx_outer_version") \
	X(PKT_RX_OUTER_IHL, "rx_outer_ihl") \
	X(PKT_RX_OUTER_LENGTH, "rx_outer_length") \
	X(PKT_RX_OUTER_CSUM, "rx_outer_checksum") \
	X(PKT_RX_OUTER_PROTO, "rx_outer_protocol") \
	X(PKT_RX_OUTER_FRAGMENT, "rx_outer_fragment") \
	X(PKT_RX_OUTER_SOURCE, "rx_outer_source") \
	X(PKT_RX_OUTER_DEST, "rx_outer_destination") \
	X(PKT_RX_GUE_HEADER, "rx_gue_header") \
	X(PKT_RX_INNER_SHORT, "rx_inner_short") \
	X(PKT_RX_INNER_VERSION, "rx_inner_version") \
	X(PKT_RX_INNER_IHL, "rx_inner_ihl") \
	X(PKT_RX_INNER_LENGTH, "rx_inner_length") \
	X(PKT_RX_INNER_CSUM, "rx_inner_checksum") \
	X(PKT_RX_INNER_TTL0, "rx_inner_ttl0") \
	X(PKT_RX_ECN_CE_NOT_ECT, "rx_ecn_ce_over_not_ect") \
	X(PKT_RX_INNER_SOURCE_OURS, "rx_inner_source_ours") \
	X(PKT_RX_INNER_SOURCE_NOT_ALLOWED, "rx_inner_source_not_allowed") \
	X(PKT_RX_INNER_SOURCE_ROUTE, "rx_inner_source_route") \
	X(PKT_RX_TUN_WRITE, "rx_tun_write_error") \
	X(PKT_RX_PEER_SOURCE, "rx_peer_source") \
	X(PKT_TX_NOT_IPV4, "tx_not_ipv4") \
	X(PKT_TX_SHORT, "tx_short") \
	X(PKT_TX_IHL, "tx_bad_ihl") \
	X(PKT_TX_LENGTH, "tx_bad_length") \
	X(PKT_TX_TTL0, "tx_ttl0") \
	X(PKT_TX_LOOP, "tx_loop_source_remote") \
	X(PKT_TX_DEAD_LOOP, "tx_dead_loop") \
	X(PKT_TX_TOO_BIG, "tx_too_big") \
	X(PKT_TX_FRAG_NEEDED, "tx_frag_needed") \
	X(PKT_TX_NOBUFS, "tx_no_buffer") \
	X(PKT_TX_SEND_ERROR, "tx_send_error") \
	X(PKT_TX_NO_PEER, "tx_no_peer") \
	X(PKT_ICMP_NOT_OURS, "icmp_not_ours") \
	X(PKT_ICMP_ID_NOT_RECENT, "icmp_id_not_recent") \
	X(PKT_ICMP_SOURCE_OURS, "icmp_relay_source_ours") \
	X(PKT_ICMP_SOURCE_NOT_ALLOWED, "icmp_relay_source_not_allowed")

#define PKT_ENUM_(e, s) e,
enum pkt_verdict { PKT_VERDICTS(PKT_ENUM_) PKT_VERDICT_MAX };
#undef PKT_ENUM_

const char *pkt_verdict_name(enum pkt_verdict v);

/* Information the decapsulator gives back besides the verdict. */
struct ipip_rx {
	size_t inner_off;	/* inner packet starts here in the buffer */
	size_t inner_len;	/* and is this long (trimmed to its total length) */
	bool ecn_unusual;	/* an RFC 6040 "(!!!)" combination was seen */
	uint8_t outer_ecn, inner_ecn; /* as received, for logging */
};

/* RFC 1071 Internet checksum of len bytes: the value to store; 0 over a valid header. */
uint16_t inet_csum(const void *buf, size_t len);

/* Set the ID of the IPv4 header h, updating its checksum (RFC 1624, eqn. 3). */
void ipv4_set_id(uint8_t *h, uint16_t id);

/* Outer ECN codepoint for an inner one (RFC 6040 4.1/4.3, or Linux). */
uint8_t ecn_encap(enum ecn_mode mode, uint8_t inner_ecn);

/*
 * RFC 6040 4.2 decapsulation: the new inner ECN codepoint, or -1 to drop.
 * *unusual is set for the combinations the RFC marks as currently unused.
 */
int ecn_decap(uint8_t inner_ecn, uint8_t outer_ecn, bool *unusual);

/*
 * Validate the inner IPv4 packet inner[0..len) read from the tunnel device
 * and write the outer header (ipip_outer_len(p) bytes: IPv4, then UDP and
 * GUE for UDP encapsulation) into outer[0..).  The outer ID is left 0 for
 * the kernel to choose (RFC 6864), the IPv4 checksum is filled; the UDP
 * checksum is 0 unless p->udp_csum, when it covers inner, which must then
 * follow the outer header in the same buffer or not: it is read from inner.
 */
enum pkt_verdict ipip_encap(const struct ipip_params *p, uint8_t *outer,
			    const uint8_t *inner, size_t len);
/* ... to the peer remote instead of p->remote (Remote = any: the route's gateway). */
enum pkt_verdict ipip_encap_to(const struct ipip_params *p, uint32_t remote, uint8_t *outer,
			       const uint8_t *inner, size_t len);

/*
 * The UDP source port for the inner packet inner[0..len) with SourcePort =
 * auto: a hash of its flow (addresses, protocol, and ports where the packet
 * has them) in [p->sport_min, p->sport_max), as the kernel's
 * udp_flow_src_port(): one flow keeps one port, flows spread over ECMP and
 * RSS.  Host order.
 */
uint16_t ipip_flow_port(const struct ipip_params *p, const uint8_t *inner, size_t len);

/*
 * UDP encapsulation: validate what the UDP socket bound to p->port received,
 * the payload pay[0..len) from src (network order) with the outer TOS byte
 * tos, and decapsulate it in place as ipip_decap() does (rx->inner_off is
 * from pay).  The UDP checksum, reassembly and the destination (Local) are
 * the socket's.  Only from Remote, unless p->learn_port.
 */
enum pkt_verdict udp_decap(const struct ipip_params *p, uint8_t *pay, size_t len, uint32_t src,
			   uint8_t tos, struct ipip_rx *rx);

/*
 * Validate the received outer+inner datagram pkt[0..len) and decapsulate it
 * in place: the inner header's ECN (and DSCP, if uniform) may be rewritten,
 * with its checksum updated.  On PKT_OK, rx describes the inner packet.
 */
enum pkt_verdict ipip_decap(const struct ipip_params *p, uint8_t *pkt, size_t len,
			    struct ipip_rx *rx);

/*
 * RFC 1191 "fragmentation needed" (ICMP 3/4, next-hop MTU mtu) about the inner
 * packet inner[0..len), for its sender: written into out (at least
 * ICMP_FRAG_NEEDED_MAX bytes).  The error's source is the inner destination
 * (a packet from one of the host's own addresses would be a martian on the
 * tunnel device).  Returns its length, or 0 where no error may be sent
 * (RFC 1812 4.3.2.7: about an ICMP error, a non-first fragment, or a
 * source that is not a unicast address).
 */
#define ICMP_FRAG_NEEDED_MAX (IPV4_HLEN + 8 + 60 + 8)
size_t icmp_frag_needed(uint8_t *out, const uint8_t *inner, size_t len, unsigned mtu);

/*
 * An ICMP error type/code (word: the 32 bits after the checksum, low 16 bits)
 * about the inner packet inner[0..len), for its sender, from its destination:
 * as icmp_frag_needed() and with the same exceptions; out needs
 * ICMP_FRAG_NEEDED_MAX bytes.  Returns its length or 0.
 */
size_t icmp_error_about(uint8_t *out, uint8_t type, uint8_t code, uint16_t word,
			const uint8_t *inner, size_t len);

/*
 * An ICMP error reports about one of this tunnel's outer packets only if it
 * quotes one: a whole IPv4 header of protocol 4 from Local to Remote
 * (quoted[0..len) as recvmsg(MSG_ERRQUEUE) gives it, untrusted).  PKT_OK
 * with the quoted outer ID in *id, else PKT_ICMP_NOT_OURS.  The ID must then
 * be one this tunnel sent lately (id_recent): an off-path attacker who knows
 * both addresses still has to guess it.
 */
enum pkt_verdict icmp_quote_ours(const struct ipip_params *p, const uint8_t *quoted, size_t len,
				 uint16_t *id);

/*
 * Outer IDs come from one 32-bit counter per tunnel (the next ID to use:
 * both datapaths take IDs with a fetch-and-add, the low 16 bits go on the
 * wire).  Was id among the IDs taken since the counter stood at oldest, now
 * that it stands at newest?  Every ID is, once 65536 or more were taken.
 */
bool id_recent(uint32_t newest, uint32_t oldest, uint16_t id);

/*
 * The inner-source checks of decapsulation (RFC 2003 6, RFC 6169: not one of
 * our addresses, inside AllowedSources) for an address in network order:
 * PKT_OK or the drop reason for decapsulation.
 */
enum pkt_verdict ipip_source_check(const struct ipip_params *p, uint32_t src);

/*
 * RFC 2003 section 5 soft state, from an ICMP error about one of our outer
 * packets (quoted[0..len) as for icmp_relay(), untrusted; the caller has
 * checked it with icmp_quote_ours()).
 *
 * icmp_sent_ttl: for a time exceeded (type 11) with TTL = inherit, the outer
 * TTL the packet was sent with: the inner TTL from the quoted inner header;
 * -1 if not known (also when the quote stops before it).  With a fixed TTL
 * nothing is learned (-1): every packet is sent with it, so a path TTL above
 * it would condemn them all (the kernel's ipip ignores it too).
 *
 * icmp_exit_unreachable: does the error say the tunnel exit cannot be
 * reached?  The destination unreachable codes that icmp_relay() turns into
 * net or host unreachable (0-2 and 6-15); not port unreachable,
 * fragmentation needed (path MTU soft state) or source route failed.
 */
int icmp_sent_ttl(const struct ipip_params *p, unsigned type, const uint8_t *quoted, size_t len);
bool icmp_exit_unreachable(const struct ipip_params *p, unsigned type, unsigned code,
			   const uint8_t *quoted, size_t len);

/*
 * RFC 2003 section 4: relay an ICMP error about one of our outer packets to
 * the sender of the inner packet.  type, code and info (the next-hop MTU of a
 * "fragmentation needed") are as the kernel reports them in sock_extended_err;
 * quoted[0..len) is the offending datagram as quoted (outer IPv4 header, then
 * as much of the inner packet as the reporting router included): untrusted.
 *
 *   3/0 net unreachable      -> 3/0
 *   3/1 host unreachable     -> 3/1
 *   3/2 protocol unreachable -> 3/1 (never 3/2: the inner destination does
 *       support the inner protocol; the tunnel exit did not take protocol 4,
 *       so the host is what cannot be reached through the tunnel)
 *   3/3 port unreachable     -> not relayed (no port in protocol 4)
 *   3/4 fragmentation needed -> 3/4, next-hop MTU = reported - 20, the
 *       reported value raised to DP's soft state floor ICMP_RELAY_PMTU_FLOOR
 *   3/5 source route failed  -> not relayed (our outer header has no route)
 *   3/6,9,11 (network codes) -> 3/0;  other codes 7..15 -> 3/1
 *   4 source quench, 5 redirect, 12 parameter problem -> not relayed
 *   11 time exceeded         -> 3/1
 *   anything else            -> not relayed
 *
 * The message goes from the inner destination to the inner source and quotes
 * the inner header and up to 8 bytes of its payload.  Nothing is sent about
 * an ICMP error, a non-first fragment, a source that is not unicast, or to
 * a destination that is not unicast.  out needs ICMP_RELAY_MAX bytes.
 * Returns the message length, 0 when nothing is to be relayed; *why (if not
 * NULL) gets the reason.
 */
#define ICMP_RELAY_MAX ICMP_FRAG_NEEDED_MAX
#define ICMP_RELAY_PMTU_FLOOR 552u	/* = DP_PMTU_FLOOR: outer; inner is 20 less */

/*
 * Does an error of this type and code about an outer packet call for an
 * error to the inner sender (the relay table above has an entry for it)?
 * Port unreachable, source route failed, redirects, quench and parameter
 * problems do not.
 */
bool icmp_answered(unsigned type, unsigned code);

enum icmp_relay_why {
	ICMP_RELAY_OK,
	ICMP_RELAY_NOT_RELAYED,		/* the table says no (port unreachable, redirect, ...) */
	ICMP_RELAY_BAD_OUTER,		/* quoted outer header truncated/malformed, not protocol 4 */
	ICMP_RELAY_BAD_INNER,		/* inner header not quoted in full, or malformed */
	ICMP_RELAY_ABOUT_ERROR,		/* the inner packet is itself an ICMP error */
	ICMP_RELAY_FRAGMENT,		/* the inner packet is a non-first fragment */
	ICMP_RELAY_NOT_UNICAST,		/* inner source or destination not unicast */
};

size_t icmp_relay(uint8_t *out, unsigned type, unsigned code, uint32_t info,
		  const uint8_t *quoted, size_t len, enum icmp_relay_why *why);

/*
 * icmp_relay() for p's encapsulation: a quoted outer packet of UDP
 * encapsulation is recognised by its destination port (p->remote_port),
 * the inner packet follows its UDP (and GUE) header, and the next-hop MTU
 * relayed is the reported one less the whole outer header.
 */
size_t icmp_relay_encap(const struct ipip_params *p, uint8_t *out, unsigned type, unsigned code,
			uint32_t info, const uint8_t *quoted, size_t len, enum icmp_relay_why *why);

/*
 * An ICMP echo request src -> dst (network order) with identifier id,
 * sequence seq and the payload payload[0..plen) (at most ICMP_ECHO_MAX - 28
 * bytes), TTL 64: written into out, its length returned.
 */
#define ICMP_ECHO_MAX 128
size_t icmp_echo_request(uint8_t *out, uint32_t src, uint32_t dst, uint16_t id, uint16_t seq,
			 const void *payload, size_t plen);

/*
 * Fragment the IPv4 packet pkt[0..len) (DF clear) so that each piece fits
 * mtu (RFC 791): call with *off = 0, then again while it returns non-zero;
 * each call writes the next fragment into out (at least mtu bytes) and
 * returns its length.  Only options with the copied flag go into fragments
 * after the first.  Returns 0 when done or when mtu is too small.
 */
size_t ipv4_fragment(const uint8_t *pkt, size_t len, unsigned mtu, size_t *off, uint8_t *out);

#endif
