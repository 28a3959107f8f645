/* udprr: busy-polling UDP request/response probe for make bench.
 *
 *   udprr -s PORT                 server: echo every datagram back to its sender
 *   udprr -c ADDR PORT [N [WARM]] client: N timed round trips (default 20000)
 *                                 after WARM untimed ones (default 2000)
 *
 * Both ends spin on non-blocking receives (MSG_DONTWAIT), so the wake-up
 * latency of a sleeping process does not hide sub-microsecond differences of
 * the path.  Each empty poll yields the CPU (sched_yield returns at once when
 * nothing else is runnable), so a userspace tunnel daemon pinned to the same
 * core still runs as soon as it has work instead of waiting for a time slice.  A request is 32 bytes carrying a sequence number; a reply with
 * another number is ignored, and a request unanswered for 100 ms is sent again
 * and counted as lost (3 s without an answer end the client).  The client prints one line:
 *   median_us p99_us lost
 * The server runs until it is killed.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQ_LEN 32
#define RESEND_NS 100000000LL

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int usage(void)
{
	fprintf(stderr, "usage: udprr -s PORT | udprr -c ADDR PORT [N [WARM]]\n");
	return 2;
}

static long arg_num(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "udprr: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static int server(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	uint8_t buf[2048];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_ANY);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("udprr: server socket");
		return 1;
	}
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &fl);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
				sched_yield();
				continue;
			}
			perror("udprr: recvfrom");
			return 1;
		}
		if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl) < 0 &&
		    errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED)
			perror("udprr: sendto");
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* One round trip: the time from the first send to the matching reply, in ns;
 * resends on timeout (counted in *lost). */
static int64_t round_trip(int fd, uint32_t seq, long *lost)
{
	uint8_t req[REQ_LEN] = { 0 }, rep[2048];
	int64_t t0 = now_ns(), sent = t0;
	int resends = 0;

	memcpy(req, &seq, sizeof(seq));
	if (send(fd, req, sizeof(req), 0) < 0 && errno != ECONNREFUSED)
		return -1;
	for (;;) {
		ssize_t n = recv(fd, rep, sizeof(rep), MSG_DONTWAIT);

		if (n >= (ssize_t)sizeof(seq) && !memcmp(rep, &seq, sizeof(seq)))
			return now_ns() - t0;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNREFUSED)
			return -1;
		sched_yield();
		if (now_ns() - sent > RESEND_NS) {
			(*lost)++;
			if (++resends > 30)
				return -1;
			sent = now_ns();
			if (send(fd, req, sizeof(req), 0) < 0 && errno != ECONNREFUSED)
				return -1;
		}
	}
}

static int client(const char *addr, uint16_t port, long n, long warm)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	long lost = 0, warm_lost = 0;
	uint32_t seq = 0;
	int64_t *t;
	int fd;

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "udprr: bad address '%s'\n", addr);
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("udprr: client socket");
		return 1;
	}
	t = malloc((size_t)n * sizeof(*t));
	if (!t) {
		perror("udprr: malloc");
		return 1;
	}
	for (long i = 0; i < warm; i++)
		if (round_trip(fd, ++seq, &warm_lost) < 0)
			goto fail;
	for (long i = 0; i < n; i++)
		if ((t[i] = round_trip(fd, ++seq, &lost)) < 0)
			goto fail;
	qsort(t, (size_t)n, sizeof(*t), cmp_i64);
	printf("%.3f %.3f %ld\n", t[(n - 1) / 2] / 1e3, t[(n * 99 + 99) / 100 - 1] / 1e3, lost);
	free(t);
	return 0;
fail:
	fprintf(stderr, "udprr: no answer from %s:%u\n", addr, (unsigned)port);
	free(t);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "-s"))
		return server((uint16_t)arg_num(argv[2], 1, 65535));
	if (argc >= 4 && argc <= 6 && !strcmp(argv[1], "-c"))
		return client(argv[2], (uint16_t)arg_num(argv[3], 1, 65535),
			      argc > 4 ? arg_num(argv[4], 1, 10000000) : 20000,
			      argc > 5 ? arg_num(argv[5], 0, 10000000) : 2000);
	return usage();
}
