// SPDX-License-Identifier: GPL-2.0-or-later
/* Remote = any: the routes into the device, longest prefix first (hub.h). */
#include "hub.h"

#include <stdlib.h>
#include <string.h>

#include "packet.h"

static unsigned hash(uint32_t key, unsigned len)
{
	uint32_t h = (key ^ (len * 0x9e3779b9u)) * 0x85ebca6bu;

	return h ^ (h >> 15);
}

static struct hub_slot *find(struct hub_table *t, uint32_t key, unsigned len)
{
	for (unsigned i = hash(key, len) & t->mask;; i = (i + 1) & t->mask) {
		struct hub_slot *s = &t->slot[i];

		if (!s->used || (s->key == key && s->len == len))
			return s;
	}
}

struct hub_table *hub_build(const struct hub_route *r, size_t n)
{
	struct hub_table *t;
	bool have[33] = { false };
	size_t slots = 8;

	if (n > HUB_ROUTES_MAX)
		return NULL;
	while (slots < 2 * n)	/* at most half full */
		slots <<= 1;
	t = calloc(1, sizeof(*t) + slots * sizeof(t->slot[0]));
	if (!t)
		return NULL;
	t->mask = (unsigned)slots - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned len = r[i].len > 32 ? 32 : r[i].len;
		uint32_t key = r[i].dst & prefix_mask(len);
		struct hub_slot *s = find(t, key, len);

		if (!s->used)
			t->n++;
		*s = (struct hub_slot){ .key = key, .gw = r[i].gw, .peer = r[i].peer,
					.len = (uint8_t)len, .used = true };
		have[len] = true;
	}
	for (int len = 32; len >= 0; len--)
		if (have[len])
			t->lens[t->nlens++] = (uint8_t)len;
	return t;
}

void hub_free(struct hub_table *t)
{
	free(t);
}

bool hub_peer_set(struct hub_peers *ps, uint32_t idx, uint32_t addr)
{
	if (idx >= HUB_PEERS_MAX)
		return false;
	ps->peer[idx].addr = addr;
	if (idx >= ps->n)
		ps->n = idx + 1;
	return true;
}

uint32_t hub_peer_find(const struct hub_peers *ps, uint32_t addr)
{
	for (unsigned i = 0; addr && i < ps->n; i++)
		if (ps->peer[i].addr == addr)
			return i;
	return HUB_NO_PEER;
}

uint32_t hub_id(struct hub_ids *ids, uint32_t addr)
{
	unsigned lo = 0, hi = ids->n;

	if (!addr)
		return HUB_NO_PEER;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (ids->addr[mid] < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < ids->n && ids->addr[lo] == addr)
		return ids->idx[lo];
	if (ids->n == HUB_PEERS_MAX)
		return HUB_NO_PEER;
	memmove(ids->addr + lo + 1, ids->addr + lo, (ids->n - lo) * sizeof(ids->addr[0]));
	memmove(ids->idx + lo + 1, ids->idx + lo, (ids->n - lo) * sizeof(ids->idx[0]));
	ids->addr[lo] = addr;
	ids->idx[lo] = ids->n;
	return ids->n++;
}

bool hub_lookup(const struct hub_table *t, uint32_t addr, uint32_t *peer, uint32_t *idx)
{
	if (!t)
		return false;
	for (unsigned i = 0; i < t->nlens; i++) {
		unsigned len = t->lens[i];
		uint32_t key = addr & prefix_mask(len);

		for (unsigned j = hash(key, len) & t->mask;; j = (j + 1) & t->mask) {
			const struct hub_slot *s = &t->slot[j];

			if (!s->used)
				break;
			if (s->key == key && s->len == len) {
				*peer = s->gw ? s->gw : addr;
				if (idx)
					*idx = s->peer;
				return true;
			}
		}
	}
	return false;
}
