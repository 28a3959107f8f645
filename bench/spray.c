/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * spray: UDP datagrams to many destinations in turn, for the scale bench.
 *
 *   spray [-r PPS] [-s BYTES] SECONDS PORT FILE
 *
 * Sends BYTES-byte payloads (default 1400) to PORT at each address listed in
 * FILE (one per line), round robin, in batches of sendmmsg(), for SECONDS:
 * as fast as it goes, or PPS datagrams a second.  Prints "SENT SECONDS":
 * the datagrams the kernel took and the time taken.  A datagram the kernel
 * refused (a full queue: ENOBUFS) is not counted as sent and is retried.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32
#define MAX_DST 4096

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: spray [-r PPS] [-s BYTES] SECONDS PORT FILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct sockaddr_in dst[MAX_DST];
	static char payload[65507];
	struct mmsghdr m[BATCH];
	struct iovec iov = { payload, 1400 };
	double rate = 0, secs, t0, t, end;
	unsigned long long sent = 0;
	unsigned n = 0, next = 0;
	char line[128];
	FILE *f;
	int c, fd, port;

	while ((c = getopt(argc, argv, "r:s:")) != -1) {
		if (c == 'r')
			rate = atof(optarg);
		else if (c == 's')
			iov.iov_len = strtoul(optarg, NULL, 10);
		else
			usage();
	}
	if (argc - optind != 3 || iov.iov_len < 1 || iov.iov_len > sizeof(payload))
		usage();
	secs = atof(argv[optind]);
	port = atoi(argv[optind + 1]);
	f = fopen(argv[optind + 2], "r");
	if (!f || secs <= 0 || port <= 0 || port > 65535) {
		fprintf(stderr, "spray: bad arguments\n");
		return 2;
	}
	while (n < MAX_DST && fgets(line, sizeof(line), f)) {
		line[strcspn(line, " \t\r\n")] = 0;
		if (!*line)
			continue;
		dst[n].sin_family = AF_INET;
		dst[n].sin_port = htons(port);
		if (inet_pton(AF_INET, line, &dst[n].sin_addr) != 1) {
			fprintf(stderr, "spray: not an address: %s\n", line);
			return 2;
		}
		n++;
	}
	fclose(f);
	if (!n) {
		fprintf(stderr, "spray: no addresses\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
	if (fd < 0) {
		perror("spray: socket");
		return 1;
	}
	memset(payload, 0xa5, sizeof(payload));
	memset(m, 0, sizeof(m));
	t0 = now();
	end = t0 + secs;
	for (t = t0; t < end; t = now()) {
		unsigned k = BATCH;
		int r;

		if (rate > 0) {
			double due = (sent + 1) / rate + t0;

			if (due > t) {
				struct timespec ts = { 0, (long)((due - t) * 1e9) };

				nanosleep(&ts, NULL);
				continue;
			}
			k = (t - t0) * rate - sent + 1;
			if (k > BATCH)
				k = BATCH;
		}
		for (unsigned i = 0; i < k; i++) {
			m[i].msg_hdr.msg_name = &dst[(next + i) % n];
			m[i].msg_hdr.msg_namelen = sizeof(dst[0]);
			m[i].msg_hdr.msg_iov = &iov;
			m[i].msg_hdr.msg_iovlen = 1;
		}
		r = sendmmsg(fd, m, k, 0);
		if (r < 0) {
			if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR)
				continue;
			perror("spray: sendmmsg");
			return 1;
		}
		sent += r;
		next = (next + r) % n;
	}
	printf("%llu %.6f\n", sent, now() - t0);
	return 0;
}
