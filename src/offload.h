/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pure offload code for a TUN device opened with IFF_VNET_HDR: bytes in,
 * bytes out, no I/O, no global state, no allocation.
 *
 *  - GSO split: a TCP (TSO) or UDP (USO) IPv4 super-packet read from the TUN
 *    device becomes ordinary MTU-sized IPv4 packets with every header and
 *    checksum complete, as the wire (a raw socket, a peer without offloads)
 *    needs them.
 *  - GRO coalesce: ordinary TCP (and UDP) IPv4 packets of one flow, received
 *    from the underlay in one batch, become one super-packet written to the
 *    TUN device behind a virtio_net_hdr (partial checksum, gso_size), after
 *    each segment's checksum has been verified.
 */
#ifndef IPIPD_OFFLOAD_H
#define IPIPD_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_net.h>

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5	/* linux >= 4.18 uapi; Debian 12 headers lack it */
#endif

#define VNET_HLEN ((size_t)sizeof(struct virtio_net_hdr))

/* Why an offloaded packet from the TUN device cannot be carried. */
enum off_error {
	OFF_OK = 0,
	OFF_NOT_IPV4,		/* not IPv4, or a GSO type for another family */
	OFF_SHORT,		/* shorter than the headers it claims */
	OFF_BAD_IHL,
	OFF_BAD_LENGTH,		/* IPv4 total length disagrees with the read */
	OFF_BAD_META,		/* virtio_net_hdr offsets or type make no sense */
};


/*
 * Complete a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM, gso_type NONE):
 * sum pkt[csum_start..len) seeded with the value already in the checksum
 * field (the pseudo-header sum) and store it at csum_start + csum_offset.
 */
enum off_error off_csum_complete(uint8_t *pkt, size_t len, const struct virtio_net_hdr *h);

/*
 * Segmentation of one super-packet.  gso_begin() checks the packet and its
 * header; each gso_next() then writes one complete IPv4 packet into out and
 * returns its length (0 once all are written).  The source is not modified.
 */
struct gso_iter {
	const uint8_t *pkt;
	size_t len;
	size_t l3len;		/* IPv4 header length */
	size_t hlen;		/* IPv4 + TCP/UDP header length (recomputed, not hdr_len) */
	size_t mss;		/* payload bytes per segment */
	size_t off;		/* next payload byte to send */
	unsigned idx;		/* segments written so far */
	uint8_t proto;		/* 6 or 17 */
	uint16_t id0;
	uint32_t seq0;
};

enum off_error gso_begin(struct gso_iter *g, const struct virtio_net_hdr *h, const uint8_t *pkt,
			 size_t len);
/* Longest segment gso_next() writes for this packet. */
size_t gso_seg_max(const struct gso_iter *g);
/* Writes the next segment into out[0..cap) (cap >= gso_seg_max()); 0 when done. */
size_t gso_next(struct gso_iter *g, uint8_t *out, size_t cap);

/*
 * Coalescing of one batch of received inner IPv4 packets.  gro_reset(),
 * gro_add() for each packet in arrival order, then gro_finish() gives the
 * writes to make, each as an iovec run [virtio_net_hdr, packets...].
 * Packets stay where they are (headers of merged ones are edited in place);
 * the iovecs point into them and into the gro struct.
 */
#define GRO_MAX 64		/* packets per batch */
#define GRO_TCP 1u
#define GRO_UDP 2u		/* needs TUN_F_USO4 on the device (linux >= 6.2) */

struct gro_pkt {
	uint8_t *data;
	uint32_t len;
	uint16_t hlen;		/* IPv4 + L4 header length, for merged segments */
	int16_t next;		/* next packet of the same item, -1 at the end */
};

struct gro_item {
	uint8_t key[12];	/* addresses and ports */
	uint8_t proto;		/* 0: not mergeable (written alone) */
	bool partial;		/* a super-packet with a partial checksum: written as GSO */
	bool closed;		/* PSH or a short segment ended it */
	uint16_t hlen, mss, nseg;
	uint32_t total;		/* IPv4 total length of the merged packet */
	uint32_t next_seq;
	int16_t head, tail;
};

struct gro_write {
	struct virtio_net_hdr hdr;
	unsigned iov_first, iov_cnt;	/* into the caller's iovec array */
	unsigned npkt;			/* original packets in this write */
	uint32_t bytes;			/* their IPv4 bytes */
};

struct gro {
	unsigned flags;
	unsigned mtu;		/* the TUN device's: longer packets need GSO metadata */
	unsigned npkt, nitem;
	struct gro_pkt pkt[GRO_MAX];
	struct gro_item item[GRO_MAX];
	struct gro_write wr[GRO_MAX];
	uint64_t csum_bad;	/* segments not merged because their checksum was wrong */
};

void gro_reset(struct gro *g, unsigned flags);
/* Queue one packet (the inner IPv4 packet, total length == len). false: batch full. */
bool gro_add(struct gro *g, uint8_t *pkt, size_t len);
/*
 * Build the writes into g->wr, using iov[0..2*GRO_MAX); returns how many.
 * Every queued packet is in exactly one write, in per-flow order.
 */
unsigned gro_finish(struct gro *g, struct iovec *iov);

#endif
