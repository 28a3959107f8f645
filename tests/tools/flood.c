/*
 * flood: send a fixed, known number of malformed or spoofed protocol-4 frames
 * of each kind, round-robin, with AF_PACKET (ETH_P_ALL) and sendmmsg batches,
 * paced to a target rate.  Test tool for tests/integration/hostile.sh.
 *
 *   flood IFNAME DSTMAC LOCAL REMOTE INNER_SRC INNER_DST PER_KIND RATE_PPS
 *
 * LOCAL is the victim's tunnel address (outer destination), REMOTE its peer
 * (the outer source the victim trusts).  Prints "KIND COUNT" per kind, then
 * "total N", "seconds S", "rate PPS".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { NKINDS = 15, BATCH = 64, FRAME = 256 };
static const char *const kinds[NKINDS] = {
	"outer_truncated", "outer_bad_checksum", "outer_bad_ihl", "outer_fragment",
	"outer_wrong_source", "inner_ttl0", "ce_over_not_ect", "inner_spoofed_source",
	"inner_source_route", "inner_oversize_length", "garbage", "inner_short",
	"inner_bad_checksum", "inner_bad_ihl", "inner_source_ours",
};

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)(p[n - 1] << 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* IPv4 header of hl bytes (options as given) at p; returns hl. */
static size_t ip4(uint8_t *p, size_t hl, const uint8_t *opt, uint8_t tos, size_t tot, uint16_t id,
		  uint16_t frag, uint8_t ttl, uint8_t proto, uint32_t src, uint32_t dst)
{
	p[0] = (uint8_t)(0x40 | (hl / 4));
	p[1] = tos;
	put16(p + 2, (uint16_t)tot);
	put16(p + 4, id);
	put16(p + 6, frag);
	p[8] = ttl;
	p[9] = proto;
	put16(p + 10, 0);
	memcpy(p + 12, &src, 4);
	memcpy(p + 16, &dst, 4);
	if (hl > 20)
		memcpy(p + 20, opt, hl - 20);
	put16(p + 10, csum(p, hl));
	return hl;
}

/* ICMP echo of n payload bytes at p; returns its length. */
static size_t echo(uint8_t *p, size_t n)
{
	p[0] = 8; p[1] = 0; put16(p + 2, 0); put16(p + 4, 0x4242); put16(p + 6, 1);
	memset(p + 8, 'x', n);
	put16(p + 2, csum(p, 8 + n));
	return 8 + n;
}

static uint32_t L, R, IS, ID;

/* Build frame kind k (after the Ethernet header) at p; returns its IP length. */
static size_t build(int k, uint8_t *p, uint16_t seq)
{
	uint8_t in[200], *ip = p, *q = p + 20;
	static const uint8_t lsrr[8] = { 0x83, 7, 4, 192, 0, 2, 77, 0 };
	uint32_t src = IS;
	size_t il, ol;
	uint8_t otos = 0;

	if (k == 8) {			/* inner loose source route */
		il = 28 + echo(in + 28, 56);
		ip4(in, 28, lsrr, 0, il, seq, 0x4000, 64, 1, src, ID);
	} else {
		if (k == 7)
			inet_pton(AF_INET, "203.0.113.77", &src);
		if (k == 14)
			src = ID;
		il = 20 + echo(in + 20, 56);
		ip4(in, 20, NULL, 0, il, seq, 0x4000, k == 5 ? 0 : 64, 1, src, ID);
	}
	switch (k) {
	case 6: otos = 3; break;	/* CE outside, Not-ECT inside */
	case 9: put16(in + 2, 1400); put16(in + 10, 0); put16(in + 10, csum(in, 20)); break;
	case 10: for (size_t i = 0; i < 40; i++) in[i] = (uint8_t)(0xde ^ (i * 37)); il = 40; break;
	case 11: il = 10; break;
	case 12: in[10] ^= 0xff; break;
	case 13: in[0] = 0x44; put16(in + 10, 0); put16(in + 10, csum(in, 20)); break;
	}
	memcpy(q, in, il);
	ol = 20 + il;
	uint32_t osrc = R;
	if (k == 4)
		inet_pton(AF_INET, "203.0.113.66", &osrc);
	ip4(ip, 20, NULL, otos, ol, seq, k == 3 ? 0x2000 : 0x4000, 64, 4, osrc, L);
	switch (k) {
	case 0: put16(ip + 2, (uint16_t)(ol + 100)); break;	/* claims more than sent */
	case 1: ip[10] ^= 0x5a; return ol;			/* checksum wrong */
	case 2: ip[0] = 0x44; break;				/* IHL 4 */
	default: return ol;
	}
	put16(ip + 10, 0);
	put16(ip + 10, csum(ip, 20));
	return ol;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 9) {
		fprintf(stderr, "usage: flood IFNAME DSTMAC LOCAL REMOTE INNER_SRC INNER_DST PER_KIND RATE\n");
		return 2;
	}
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = (int)if_nametoindex(argv[1]), .sll_halen = 6 };
	uint8_t dmac[6], smac[6] = { 0x02, 0, 0, 0, 0, 0x66 };
	unsigned m[6];
	if (!sll.sll_ifindex || sscanf(argv[2], "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3],
				       &m[4], &m[5]) != 6) {
		fprintf(stderr, "flood: bad interface or MAC\n");
		return 2;
	}
	for (int i = 0; i < 6; i++)
		dmac[i] = (uint8_t)m[i];
	memcpy(sll.sll_addr, dmac, 6);
	inet_pton(AF_INET, argv[3], &L);
	inet_pton(AF_INET, argv[4], &R);
	inet_pton(AF_INET, argv[5], &IS);
	inet_pton(AF_INET, argv[6], &ID);
	long per = atol(argv[7]);
	double rate = atof(argv[8]);
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (fd < 0) {
		perror("flood: socket");
		return 1;
	}
	int sb = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sb, sizeof(sb));

	static uint8_t buf[BATCH][FRAME];
	struct iovec iov[BATCH];
	struct mmsghdr msg[BATCH];
	long count[NKINDS] = { 0 }, total = per * NKINDS, sent = 0, errs = 0;
	double t0 = now();

	while (sent < total) {
		int n = 0;
		for (; n < BATCH && sent + n < total; n++) {
			long i = sent + n;
			int k = (int)(i % NKINDS);
			uint8_t *f = buf[n];
			memcpy(f, dmac, 6);
			memcpy(f + 6, smac, 6);
			f[12] = 0x08; f[13] = 0x00;
			iov[n].iov_base = f;
			iov[n].iov_len = 14 + build(k, f + 14, (uint16_t)(i / NKINDS));
			memset(&msg[n], 0, sizeof(msg[n]));
			msg[n].msg_hdr.msg_name = &sll;
			msg[n].msg_hdr.msg_namelen = sizeof(sll);
			msg[n].msg_hdr.msg_iov = &iov[n];
			msg[n].msg_hdr.msg_iovlen = 1;
		}
		int done = 0;
		while (done < n) {
			int r = sendmmsg(fd, msg + done, (unsigned)(n - done), 0);
			if (r < 0) {
				if (++errs > 100000) {
					perror("flood: sendmmsg");
					return 1;
				}
				usleep(50);
				continue;
			}
			done += r;
		}
		for (int j = 0; j < n; j++)
			count[(sent + j) % NKINDS]++;
		sent += n;
		/* pace: never ahead of the target rate */
		double due = t0 + sent / rate, t;
		while ((t = now()) < due) {
			struct timespec ts = { 0, (long)((due - t) * 1e9) };
			nanosleep(&ts, NULL);
		}
	}
	double el = now() - t0;
	for (int k = 0; k < NKINDS; k++)
		printf("%s %ld\n", kinds[k], count[k]);
	printf("total %ld\nseconds %.3f\nrate %.0f\n", sent, el, sent / el);
	return 0;
}
