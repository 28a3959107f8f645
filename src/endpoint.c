/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "endpoint.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

bool endpoint_valid_name(const char *s)
{
	size_t len = strlen(s), label = 0;
	bool digits = true;

	if (len && s[len - 1] == '.')
		len--;
	if (!len || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (!label || s[i - 1] == '-')
				return false;
			if (i == len)
				break;
			label = 0;
			digits = true;
			continue;
		}
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
		if (s[i] == '-' && !label)
			return false;
		if (++label > 63)
			return false;
		digits = digits && isdigit((unsigned char)s[i]);
	}
	return !digits;
}

/* Not 0.0.0.0/8, loopback, multicast, class E or the broadcast address. */
static bool unicast(uint32_t a)
{
	uint32_t h = ntohl(a);

	return (h >> 24) != 0 && (h >> 24) != 127 && (h >> 28) < 0xe;
}

int endpoint_resolve(const char *name, uint32_t *addr, char *err, size_t n)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res, *ai;
	uint32_t skipped = 0;
	int rc = getaddrinfo(name, NULL, &hints, &res);

	if (rc) {
		snprintf(err, n, "%s", rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		uint32_t a = ((const struct sockaddr_in *)(const void *)ai->ai_addr)->sin_addr.s_addr;

		if (ai->ai_family != AF_INET || ai->ai_addrlen < sizeof(struct sockaddr_in))
			continue;
		if (unicast(a)) {
			*addr = a;
			freeaddrinfo(res);
			return 0;
		}
		skipped = a;
	}
	freeaddrinfo(res);
	if (skipped)
		snprintf(err, n, "its address %s is not a unicast address another host may have",
			 inet_ntop(AF_INET, &skipped, (char[INET_ADDRSTRLEN]){ 0 }, INET_ADDRSTRLEN));
	else
		snprintf(err, n, "no IPv4 address");
	return -1;
}

void resolver_init(struct resolver *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	r->fd = -1;
}

static void *lookup(void *arg)
{
	struct resolver *r = arg;
	char name[ENDPOINT_NAME_MAX], err[ENDPOINT_ERR_MAX] = "";
	uint32_t addr = 0;
	int rc;

	pthread_mutex_lock(&r->mu);
	memcpy(name, r->name, sizeof(name));
	pthread_mutex_unlock(&r->mu);
	rc = endpoint_resolve(name, &addr, err, sizeof(err));
	pthread_mutex_lock(&r->mu);
	r->rc = rc;
	r->addr = addr;
	memcpy(r->err, err, sizeof(err));
	r->done = true;
	pthread_mutex_unlock(&r->mu);
	if (eventfd_write(r->fd, 1) < 0)
		return NULL;	/* (cannot fail: the counter is far from its maximum) */
	return NULL;
}

int resolver_ask(struct resolver *r, const char *name)
{
	int rc;

	if (r->fd < 0) {
		r->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (r->fd < 0)
			return -errno;
	}
	if (r->busy)
		return 0;
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->done = false;
	r->busy = true;
	rc = pthread_create(&r->thread, NULL, lookup, r);
	if (rc) {
		r->busy = false;
		return -rc;
	}
	return 0;
}

int resolver_take(struct resolver *r, char name[ENDPOINT_NAME_MAX], uint32_t *addr, int *rc,
		  char err[ENDPOINT_ERR_MAX])
{
	eventfd_t v;
	bool done;

	if (r->fd < 0 || !r->busy)
		return 0;
	(void)eventfd_read(r->fd, &v);	/* EAGAIN when already read: done says */
	pthread_mutex_lock(&r->mu);
	done = r->done;
	if (done) {
		memcpy(name, r->name, ENDPOINT_NAME_MAX);
		*addr = r->addr;
		*rc = r->rc;
		memcpy(err, r->err, ENDPOINT_ERR_MAX);
	}
	pthread_mutex_unlock(&r->mu);
	if (!done)
		return 0;
	pthread_join(r->thread, NULL);
	r->busy = false;
	return 1;
}

void resolver_close(struct resolver *r)
{
	bool running;

	pthread_mutex_lock(&r->mu);
	running = r->busy && !r->done;
	pthread_mutex_unlock(&r->mu);
	if (running) {	/* its eventfd stays open for it: it ends with the process */
		pthread_detach(r->thread);
		r->busy = false;
		return;
	}
	if (r->busy)
		pthread_join(r->thread, NULL);
	r->busy = false;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}
