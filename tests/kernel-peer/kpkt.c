/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kpkt: packet helper for the kernel-peer interop tests.  Built with
 * `gcc -static`, it runs both in the busybox guest (no python there) and on
 * the host, so both tunnel ends get byte-identical inner packets.
 *
 *   kpkt send SRC DST ID SEQ TTL TOS DF SIZE [COUNT [GAP_MS]]
 *        ICMP echo requests crafted whole (IP_HDRINCL), routed like any
 *        local packet (into the tunnel when DST is the tunnel peer)
 *   kpkt matrix SRC DST ID [GAP_MS]
 *        the header-comparison set: for seq 0..191,
 *        TTL {1,64,255} x TOS {0,1,2,3,0x28..0x2b} x DF {0,1} x SIZE {28,100,1000,1480}
 *        with seq = ((ttl_i * 8 + tos_i) * 2 + df) * 4 + size_i
 *   kpkt ecn SRC DST ID [GAP_MS]
 *        16 packets, seq = inner_ecn * 4 + k (k: the outer ECN a test rule sets),
 *        TOS = inner_ecn, TTL 64, DF, 100 bytes
 *   kpkt sniff IFNAME ID COUNT TIMEOUT_S
 *        print "ready", then one line per IPv4 frame on IFNAME (either
 *        direction) that is, or carries in IP protocol 4, an echo request
 *        with ICMP id ID:  DIR SEQ HDR1 [HDR2]  (DIR in|out, headers in hex);
 *        stops after COUNT lines or TIMEOUT_S seconds, then prints "end N"
 *   kpkt probe SRC DST ID SIZE TIMEOUT_MS
 *        send one echo request of SIZE bytes with DF set; print what came
 *        back: "reply", "frag-needed mtu=N from=A", "icmp type=T code=C from=A"
 *        or "timeout", after "send-error ERRNAME; " if the send itself failed
 *   kpkt hold
 *        keep a raw IP protocol-4 socket open until killed, so that the host
 *        does not answer tunnel packets with ICMP protocol-unreachable while
 *        no ipipd runs (the kernel peer would report link failures for 30 s)
 *
 * Inner packets are identical from both ends except for the swapped addresses.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const int m_ttl[] = { 1, 64, 255 };
static const int m_tos[] = { 0x00, 0x01, 0x02, 0x03, 0x28, 0x29, 0x2a, 0x2b };
static const int m_size[] = { 28, 100, 1000, 1480 };

static void die(const char *what)
{
	fprintf(stderr, "kpkt: %s: %s\n", what, strerror(errno));
	exit(2);
}

static unsigned long num(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || !*s) {
		fprintf(stderr, "kpkt: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static uint32_t addr(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1) {
		fprintf(stderr, "kpkt: bad address '%s'\n", s);
		exit(2);
	}
	return a.s_addr;
}

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (; n > 1; p += 2, n -= 2)
		s += (uint32_t)(p[0] << 8 | p[1]);
	if (n)
		s += (uint32_t)p[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static unsigned get16(const uint8_t *p)
{
	return (unsigned)(p[0] << 8 | p[1]);
}

/* An IPv4 + ICMP echo request of SIZE bytes in total. */
static size_t build(uint8_t *b, uint32_t src, uint32_t dst, unsigned id, unsigned seq,
		    unsigned ttl, unsigned tos, int df, size_t size)
{
	if (size < 28)
		size = 28;
	memset(b, 0, size);
	b[0] = 0x45;
	b[1] = (uint8_t)tos;
	put16(b + 2, (unsigned)size);
	put16(b + 4, 0x4000 + seq);	/* never 0: the kernel would choose one */
	put16(b + 6, df ? 0x4000 : 0);
	b[8] = (uint8_t)ttl;
	b[9] = 1;
	memcpy(b + 12, &src, 4);
	memcpy(b + 16, &dst, 4);
	put16(b + 10, csum(b, 20));
	b[20] = 8;
	put16(b + 24, id);
	put16(b + 26, seq);
	for (size_t i = 28; i < size; i++)
		b[i] = (uint8_t)(seq + i);
	put16(b + 22, csum(b + 20, size - 20));
	return size;
}

static int raw_sender(void)
{
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);	/* IP_HDRINCL implied */

	if (fd < 0)
		die("socket(IPPROTO_RAW)");
	return fd;
}

static int quiet;

static int send_one(int fd, uint32_t src, uint32_t dst, unsigned id, unsigned seq, unsigned ttl,
		    unsigned tos, int df, size_t size)
{
	static uint8_t b[65536];
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = dst };
	size_t n = build(b, src, dst, id, seq, ttl, tos, df, size);

	if (sendto(fd, b, n, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		if (!quiet)
			fprintf(stderr, "kpkt: send seq %u (%zu bytes): %s\n", seq, n, strerror(errno));
		return -1;
	}
	return 0;
}

static void gap(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	if (ms)
		nanosleep(&ts, NULL);
}

static int cmd_send(int argc, char **argv)
{
	unsigned long count = argc > 10 ? num(argv[10]) : 1, ms = argc > 11 ? num(argv[11]) : 0;
	int fd = raw_sender(), rc = 0;

	if (argc < 10)
		return 2;
	for (unsigned long i = 0; i < count; i++) {
		rc |= send_one(fd, addr(argv[2]), addr(argv[3]), (unsigned)num(argv[4]),
			       (unsigned)(num(argv[5]) + i), (unsigned)num(argv[6]),
			       (unsigned)num(argv[7]), (int)num(argv[8]), num(argv[9]));
		gap((unsigned)ms);
	}
	return rc ? 1 : 0;
}

static int cmd_matrix(int argc, char **argv)
{
	unsigned ms = argc > 5 ? (unsigned)num(argv[5]) : 1, seq = 0;
	int fd = raw_sender(), rc = 0;

	if (argc < 5)
		return 2;
	for (int t = 0; t < 3; t++)
		for (int s = 0; s < 8; s++)
			for (int df = 0; df < 2; df++)
				for (int z = 0; z < 4; z++, seq++) {
					rc |= send_one(fd, addr(argv[2]), addr(argv[3]),
						       (unsigned)num(argv[4]), seq,
						       (unsigned)m_ttl[t], (unsigned)m_tos[s], df,
						       (size_t)m_size[z]);
					gap(ms);
				}
	return rc ? 1 : 0;
}

static int cmd_ecn(int argc, char **argv)
{
	unsigned ms = argc > 5 ? (unsigned)num(argv[5]) : 2;
	int fd = raw_sender(), rc = 0;

	if (argc < 5)
		return 2;
	for (unsigned seq = 0; seq < 16; seq++) {
		rc |= send_one(fd, addr(argv[2]), addr(argv[3]), (unsigned)num(argv[4]), seq, 64,
			       seq >> 2, 1, 100);
		gap(ms);
	}
	return rc ? 1 : 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

/* The echo request with our id in an IPv4 packet of n bytes; its seq, or -1. */
static long echo_seq(const uint8_t *p, size_t n, unsigned id)
{
	size_t hl;

	if (n < 20 || p[0] >> 4 != 4 || p[9] != 1)
		return -1;
	hl = (size_t)(p[0] & 15) * 4;
	if (n < hl + 8 || p[hl] != 8 || get16(p + hl + 4) != id)
		return -1;
	return (long)get16(p + hl + 6);
}

static int cmd_sniff(int argc, char **argv)
{
	static uint8_t b[65536];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	unsigned id, matched = 0;
	unsigned long count;
	double end;
	int fd, big = 4 << 20;

	if (argc < 6)
		return 2;
	id = (unsigned)num(argv[3]);
	count = num(argv[4]);
	end = now() + (double)num(argv[5]);
	fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL));
	if (fd < 0)
		die("socket(AF_PACKET)");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	sll.sll_ifindex = (int)if_nametoindex(argv[2]);
	if (!sll.sll_ifindex)
		die(argv[2]);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		die("bind");
	printf("ready\n");
	fflush(stdout);
	while (matched < count) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		double left = end - now();
		ssize_t n;
		long seq;

		if (left <= 0 || poll(&pfd, 1, (int)(left * 1000) + 1) <= 0) {
			if (now() >= end)
				break;
			continue;
		}
		n = recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
		if (n < 20 || from.sll_protocol != htons(ETH_P_IP) || b[0] >> 4 != 4)
			continue;
		{
			size_t hl = (size_t)(b[0] & 15) * 4;
			const char *dir = from.sll_pkttype == PACKET_OUTGOING ? "out" : "in";

			if (b[9] == 4 && (size_t)n >= hl + 20 &&
			    (seq = echo_seq(b + hl, (size_t)n - hl, id)) >= 0) {
				printf("%s %ld ", dir, seq);
				hex(b, hl);
				printf(" ");
				hex(b + hl, 20);
			} else if ((seq = echo_seq(b, (size_t)n, id)) >= 0) {
				printf("%s %ld ", dir, seq);
				hex(b, hl);
			} else {
				continue;
			}
			printf("\n");
			fflush(stdout);
			matched++;
		}
	}
	printf("end %u\n", matched);
	return 0;
}

static int cmd_probe(int argc, char **argv)
{
	static uint8_t b[65536];
	unsigned id, tmo;
	uint32_t src, dst;
	double end;
	int fd, icmp;

	if (argc < 7)
		return 2;
	src = addr(argv[2]);
	dst = addr(argv[3]);
	id = (unsigned)num(argv[4]);
	tmo = (unsigned)num(argv[6]);
	icmp = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (icmp < 0)
		die("socket(IPPROTO_ICMP)");
	fd = raw_sender();
	quiet = 1;
	if (send_one(fd, src, dst, id, 1, 64, 0, 1, num(argv[5])) < 0) {
		/* Refused locally (known path MTU): an ICMP error may still come. */
		printf("send-error %s%s", errno == EMSGSIZE ? "EMSGSIZE" : strerror(errno),
		       tmo ? "; " : "\n");
		tmo = tmo > 500 ? 500 : tmo;
		if (!tmo)
			return 0;
	}
	end = now() + tmo / 1000.0;
	for (;;) {
		struct pollfd pfd = { .fd = icmp, .events = POLLIN };
		double left = end - now();
		char from[INET_ADDRSTRLEN];
		ssize_t n;
		size_t hl;
		const uint8_t *ic;

		if (left <= 0 || poll(&pfd, 1, (int)(left * 1000) + 1) <= 0) {
			if (now() >= end)
				break;
			continue;
		}
		n = recv(icmp, b, sizeof(b), 0);
		if (n < 28)
			continue;
		hl = (size_t)(b[0] & 15) * 4;
		ic = b + hl;
		inet_ntop(AF_INET, b + 12, from, sizeof(from));
		if (ic[0] == 0 && get16(ic + 4) == id) {
			printf("reply\n");
			return 0;
		}
		if ((ic[0] == 3 || ic[0] == 11) && (size_t)n >= hl + 8 + 28) {
			const uint8_t *q = ic + 8;	/* the quoted packet: ours? */

			if (memcmp(q + 12, &src, 4) || memcmp(q + 16, &dst, 4) || q[9] != 1 ||
			    get16(q + (q[0] & 15) * 4 + 4) != id)
				continue;
			if (ic[0] == 3 && ic[1] == 4)
				printf("frag-needed mtu=%u from=%s\n", get16(ic + 6), from);
			else
				printf("icmp type=%u code=%u from=%s\n", ic[0], ic[1], from);
			return 0;
		}
	}
	printf("timeout\n");
	return 0;
}

static __attribute__((noreturn)) int cmd_hold(void)
{
	int small = 4096, fd = socket(AF_INET, SOCK_RAW, 4);

	if (fd < 0)
		die("socket(IPPROTO_IPIP)");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	int rc = 2;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2) {
		if (!strcmp(argv[1], "send"))
			rc = cmd_send(argc, argv);
		else if (!strcmp(argv[1], "matrix"))
			rc = cmd_matrix(argc, argv);
		else if (!strcmp(argv[1], "ecn"))
			rc = cmd_ecn(argc, argv);
		else if (!strcmp(argv[1], "sniff"))
			rc = cmd_sniff(argc, argv);
		else if (!strcmp(argv[1], "probe"))
			rc = cmd_probe(argc, argv);
		else if (!strcmp(argv[1], "hold"))
			rc = cmd_hold();
	}
	if (rc == 2)
		fprintf(stderr, "usage: see the comment at the top of kpkt.c\n");
	return rc;
}
