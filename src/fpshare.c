/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One eBPF ingress program per underlay, shared by a namespace's tunnels: see fpshare.h. */
#include "fpshare.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dispatch.skel.h"	/* generated from src/bpf/dispatch.bpf.c at build time */

#define FPS_BPF_TCX_INGRESS 46	/* Linux 6.6; libbpf 1.1's headers predate it */
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif
#define FPS_LOCK "ipipd-fastpath-v1"	/* an abstract name: per namespace */
#define FPS_NS_MAP "ipipd_fps_ns"
#define LOCK_WAIT_MS 5000

void fps_init(struct fps_member *m)
{
	memset(m, 0, sizeof(*m));
	m->tunnels_fd = m->progs_fd = m->underlays_fd = m->own_fd = m->ns_fd = -1;
	m->lock_fd = m->link_fd = m->egress_slots_fd = -1;
}

void fps_key_of(struct fps_key *k, const struct fp_config *cfg, int ifindex)
{
	memset(k, 0, sizeof(*k));
	k->ifindex = (uint32_t)ifindex;
	k->local = cfg->local;
	if (cfg->encap == 0) {
		k->remote = cfg->remote;
		k->proto = 4;
	} else {
		k->port = cfg->port;
		k->proto = 17;
	}
}

/* ---- the namespace's lock ------------------------------------------------ */

static int lock_ns(struct fps_member *m, bool wait)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(FPS_LOCK));
	struct timespec ms = { 0, 1000000 };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memcpy(a.sun_path + 1, FPS_LOCK, strlen(FPS_LOCK));
	for (int i = 0; i < LOCK_WAIT_MS; i++) {
		if (bind(fd, (struct sockaddr *)&a, len) == 0) {
			m->lock_fd = fd;
			return 0;
		}
		if (errno != EADDRINUSE || !wait)
			break;
		nanosleep(&ms, NULL);
	}
	len = (socklen_t)errno;
	close(fd);
	return len == EADDRINUSE ? (wait ? -ETIMEDOUT : -EBUSY) : -(int)len;
}

static void unlock_ns(struct fps_member *m)
{
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	m->lock_fd = -1;
}

/* ---- the namespace's maps ------------------------------------------------ */

static uint64_t ns_cookie(void)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) < 0)
		cookie = 0;
	close(fd);
	return cookie;
}

static uint32_t map_id(int fd)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

#define NMAPS 5	/* tunnels, progs, underlays, own, ns */

/* The maps of this namespace, if a daemon holds them: fds[0..NMAPS).  1 found, 0 none, -errno. */
static int find_maps(uint64_t cookie, int fds[NMAPS])
{
	uint32_t id = 0;
	int rc;

	while ((rc = bpf_map_get_next_id(id, &id)) == 0) {
		struct bpf_map_info info;
		uint32_t len = sizeof(info), key = 0;
		struct fps_ns ns;
		int fd = bpf_map_get_fd_by_id(id);

		if (fd < 0) {
			if (fd == -ENOENT)
				continue;	/* gone since */
			return fd;
		}
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
		    info.type == BPF_MAP_TYPE_ARRAY && !strcmp(info.name, FPS_NS_MAP) &&
		    info.value_size == sizeof(ns) && bpf_map_lookup_elem(fd, &key, &ns) == 0 &&
		    ns.cookie == cookie && ns.abi == FPS_ABI) {
			uint32_t ids[NMAPS - 1] = { ns.tunnels_id, ns.progs_id, ns.underlays_id,
						    ns.own_id };

			fds[NMAPS - 1] = fd;
			for (int i = 0; i < NMAPS - 1; i++) {
				fds[i] = bpf_map_get_fd_by_id(ids[i]);
				if (fds[i] < 0) {
					rc = fds[i];
					while (i-- > 0)
						close(fds[i]);
					close(fd);
					return rc == -ENOENT ? 0 : rc;	/* its last holder just left */
				}
			}
			return 1;
		}
		close(fd);
	}
	return rc == -ENOENT ? 0 : rc;
}

/* Our copy of the dispatcher, on the namespace's maps (made if there are none). */
static int open_maps(struct fps_member *m, char *why, size_t n)
{
	uint64_t cookie = ns_cookie();
	struct dispatch_bpf *skel;
	int fds[NMAPS] = { -1, -1, -1, -1, -1 }, found, rc = 0;

	if (!cookie) {
		snprintf(why, n, "this kernel does not name network namespaces (Linux 5.14+)");
		return -EOPNOTSUPP;
	}
	found = find_maps(cookie, fds);
	if (found < 0) {
		snprintf(why, n, "cannot look for the namespace's shared maps: %s",
			 strerror(-found));
		return found;
	}
	skel = dispatch_bpf__open();
	if (!skel) {
		rc = errno ? -errno : -ENOMEM;
	} else if (found) {
		struct bpf_map *maps[NMAPS] = { skel->maps.tunnels, skel->maps.progs,
						skel->maps.underlays, skel->maps.own,
						skel->maps.ipipd_fps_ns };

		for (int i = 0; i < NMAPS && rc == 0; i++)
			rc = bpf_map__reuse_fd(maps[i], fds[i]);	/* it takes a copy */
	}
	for (int i = 0; i < NMAPS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (rc == 0)
		rc = dispatch_bpf__load(skel);
	if (rc < 0) {
		snprintf(why, n, "cannot load the shared ingress program: %s", strerror(-rc));
		dispatch_bpf__destroy(skel);
		return rc;
	}
	m->skel = skel;
	m->tunnels_fd = bpf_map__fd(skel->maps.tunnels);
	m->progs_fd = bpf_map__fd(skel->maps.progs);
	m->underlays_fd = bpf_map__fd(skel->maps.underlays);
	m->own_fd = bpf_map__fd(skel->maps.own);
	m->ns_fd = bpf_map__fd(skel->maps.ipipd_fps_ns);
	if (!found) {
		struct fps_ns ns = { .cookie = cookie, .abi = FPS_ABI,
				     .tunnels_id = map_id(m->tunnels_fd),
				     .progs_id = map_id(m->progs_fd),
				     .underlays_id = map_id(m->underlays_fd),
				     .own_id = map_id(m->own_fd) };
		uint32_t key = 0;

		if (bpf_map_update_elem(m->ns_fd, &key, &ns, BPF_ANY) < 0) {
			rc = -errno;
			snprintf(why, n, "cannot name the shared maps: %s", strerror(errno));
			return rc;
		}
	}
	return 0;
}

static void close_maps(struct fps_member *m)
{
	if (!m->skel)
		return;	/* nothing held (a zeroed struct too) */
	if (m->link_fd >= 0)
		close(m->link_fd);
	m->link_fd = -1;
	if (m->egress_slots_fd >= 0)
		close(m->egress_slots_fd);
	m->egress_slots_fd = -1;
	if (m->skel)
		dispatch_bpf__destroy(m->skel);
	m->skel = NULL;
	m->tunnels_fd = m->progs_fd = m->underlays_fd = m->own_fd = m->ns_fd = -1;
}

/* ---- entries --------------------------------------------------------------- */

static bool alive(uint32_t ifindex, const char name[16])
{
	char now[IF_NAMESIZE];

	return ifindex && if_indextoname(ifindex, now) && !strncmp(now, name, 16);
}

int fps_count(const struct fps_member *m, int ifindex)
{
	struct fps_key key, next, *prev = NULL;
	int n = 0;

	if (m->tunnels_fd < 0)
		return -EBADF;
	while (bpf_map_get_next_key(m->tunnels_fd, prev, &next) == 0) {
		if (next.ifindex == (uint32_t)ifindex)
			n++;
		key = next;
		prev = &key;
	}
	return n;
}

/* The entries of tunnels whose daemons died without leaving, and underlays nobody uses. */
static void sweep(struct fps_member *m)
{
	struct fps_key key, next, *prev = NULL;
	struct fps_val v;
	struct fps_underlay u;
	uint32_t ui, un, *uprev = NULL;

	while (bpf_map_get_next_key(m->tunnels_fd, prev, &next) == 0) {
		if (bpf_map_lookup_elem(m->tunnels_fd, &next, &v) == 0 &&
		    !alive(v.tun_ifindex, v.name) && bpf_map_delete_elem(m->tunnels_fd, &next) == 0) {
			bpf_map_delete_elem(m->progs_fd, &v.slot);
			prev = NULL;	/* the walk starts over after a deletion */
			continue;
		}
		key = next;
		prev = &key;
	}
	/* the shared programs' slots of devices that are gone (however their entries went) */
	uprev = NULL;
	while (m->egress_slots_fd >= 0 && bpf_map_get_next_key(m->egress_slots_fd, uprev, &un) == 0) {
		char name[IF_NAMESIZE];

		if (!if_indextoname(un, name) && (errno == ENXIO || errno == ENODEV) &&
		    bpf_map_delete_elem(m->egress_slots_fd, &un) == 0) {
			uprev = NULL;
			continue;
		}
		ui = un;
		uprev = &ui;
	}
	uprev = NULL;
	while (bpf_map_get_next_key(m->underlays_fd, uprev, &un) == 0) {
		if (bpf_map_lookup_elem(m->underlays_fd, &un, &u) == 0 && fps_count(m, (int)un) == 0 &&
		    !alive(u.holder, u.name) && bpf_map_delete_elem(m->underlays_fd, &un) == 0) {
			uprev = NULL;
			continue;
		}
		ui = un;
		uprev = &ui;
	}
}

/* Another live tunnel with this key: -EADDRINUSE, saying which. */
static int taken(struct fps_member *m, const struct fps_key *k, char *why, size_t n)
{
	struct fps_val v;
	char l[INET_ADDRSTRLEN], r[INET_ADDRSTRLEN];

	if (bpf_map_lookup_elem(m->tunnels_fd, k, &v) < 0 || v.tun_ifindex == m->val.tun_ifindex)
		return 0;
	if (!alive(v.tun_ifindex, v.name)) {
		/* a dead daemon's, not swept yet: its entry is about to be replaced */
		if (v.slot != m->val.slot)
			bpf_map_delete_elem(m->progs_fd, &v.slot);
		return 0;
	}
	inet_ntop(AF_INET, &k->local, l, sizeof(l));
	inet_ntop(AF_INET, &k->remote, r, sizeof(r));
	if (k->proto == 4)
		snprintf(why, n, "tunnel %.16s already takes the outer packets from %s to %s "
			 "on ifindex %u", v.name, r, l, k->ifindex);
	else
		snprintf(why, n, "tunnel %.16s already takes UDP port %u at %s on ifindex %u",
			 v.name, (unsigned)ntohs(k->port), l, k->ifindex);
	return -EADDRINUSE;
}

/*
 * prefer if no entry uses it and it is below nslots, else the first slot
 * below nslots no entry uses.
 */
static int free_slot(struct fps_member *m, uint32_t *slot, uint32_t nslots, uint32_t prefer)
{
	uint8_t used[FPS_TUNNELS / 8] = { 0 };
	struct fps_key key, next, *prev = NULL;
	struct fps_val v;

	while (bpf_map_get_next_key(m->tunnels_fd, prev, &next) == 0) {
		if (bpf_map_lookup_elem(m->tunnels_fd, &next, &v) == 0 && v.slot < FPS_TUNNELS)
			used[v.slot / 8] |= (uint8_t)(1u << (v.slot % 8));
		key = next;
		prev = &key;
	}
	if (prefer < FPS_TUNNELS && prefer < nslots && !(used[prefer / 8] & (1u << (prefer % 8)))) {
		*slot = prefer;
		return 0;
	}
	for (uint32_t i = 0; i < FPS_TUNNELS && i < nslots; i++)
		if (!(used[i / 8] & (1u << (i % 8)))) {
			*slot = i;
			return 0;
		}
	return -ENOSPC;
}

/* ---- the link on an underlay ---------------------------------------------- */

/*
 * A dispatcher on ifindex: if no live daemon's copy is attached there,
 * attach ours; *fd is then its link (else -1).  0 or -errno.
 */
static int cover(struct fps_member *m, uint32_t ifindex, int rx_l2, int *fd)
{
	struct fps_underlay u;

	*fd = -1;
	if (bpf_map_lookup_elem(m->underlays_fd, &ifindex, &u) == 0 && alive(u.holder, u.name)) {
		if (u.l2 != (uint32_t)rx_l2) {
			u.l2 = (uint32_t)rx_l2;
			bpf_map_update_elem(m->underlays_fd, &ifindex, &u, BPF_EXIST);
		}
		return 0;
	}
	memset(&u, 0, sizeof(u));
	u.l2 = (uint32_t)rx_l2;
	u.holder = m->val.tun_ifindex;
	memcpy(u.name, m->val.name, sizeof(u.name));
	/* the entry first: the program looks there for the header's offset */
	if (bpf_map_update_elem(m->underlays_fd, &ifindex, &u, BPF_ANY) < 0)
		return -errno;
	*fd = bpf_link_create(bpf_program__fd(m->skel->progs.ipip_dispatch), (int)ifindex,
			      (enum bpf_attach_type)FPS_BPF_TCX_INGRESS, NULL);
	if (*fd < 0) {
		int rc = *fd;

		*fd = -1;
		bpf_map_delete_elem(m->underlays_fd, &ifindex);
		return rc;
	}
	return 0;
}

/* We leave ifindex: our link there (*fd) goes; another daemon there takes over at its tick. */
static void uncover_fd(struct fps_member *m, uint32_t ifindex, int *fd)
{
	struct fps_underlay u;

	if (*fd < 0)
		return;
	close(*fd);
	*fd = -1;
	if (bpf_map_lookup_elem(m->underlays_fd, &ifindex, &u) < 0 ||
	    u.holder != m->val.tun_ifindex)
		return;
	if (fps_count(m, (int)ifindex) == 0) {
		bpf_map_delete_elem(m->underlays_fd, &ifindex);
	} else {
		u.holder = 0;
		memset(u.name, 0, sizeof(u.name));
		bpf_map_update_elem(m->underlays_fd, &ifindex, &u, BPF_EXIST);
	}
}

static void uncover(struct fps_member *m, uint32_t ifindex)
{
	uncover_fd(m, ifindex, &m->link_fd);
}

/* ---- a hub's other underlays ----------------------------------------------- */

/* Let go of also[i] (with the lock held): our key there, then our link. */
static void drop_also(struct fps_member *m, unsigned i)
{
	struct fps_key k = m->key;
	struct fps_val v;

	k.ifindex = m->also[i].ifindex;
	if (bpf_map_lookup_elem(m->tunnels_fd, &k, &v) == 0 && v.tun_ifindex == m->val.tun_ifindex &&
	    v.slot == m->val.slot)
		bpf_map_delete_elem(m->tunnels_fd, &k);
	uncover_fd(m, m->also[i].ifindex, &m->also[i].link_fd);
	m->also[i] = m->also[--m->n_also];
}

static void drop_all_also(struct fps_member *m)
{
	while (m->n_also)
		drop_also(m, m->n_also - 1);
}

int fps_also(struct fps_member *m, const uint32_t *ifindex, unsigned n, int rx_l2)
{
	char why[160];

	if (!m->joined || lock_ns(m, true) < 0)
		return 0;
	for (unsigned i = m->n_also; i-- > 0;)
		if (!u32_listed(ifindex, n, m->also[i].ifindex) || m->also[i].ifindex == m->key.ifindex)
			drop_also(m, i);
	for (unsigned i = 0; i < n && m->n_also < FPS_ALSO_MAX; i++) {
		struct fps_key k = m->key;
		struct fps_also *a = &m->also[m->n_also];
		bool have = ifindex[i] == m->key.ifindex;

		for (unsigned j = 0; j < m->n_also && !have; j++)
			have = m->also[j].ifindex == ifindex[i];
		if (have || !ifindex[i])
			continue;
		k.ifindex = ifindex[i];
		a->ifindex = ifindex[i];
		a->link_fd = -1;
		if (taken(m, &k, why, sizeof(why)) < 0 || cover(m, k.ifindex, rx_l2, &a->link_fd) < 0)
			continue;	/* the slow path takes the packets there */
		if (bpf_map_update_elem(m->tunnels_fd, &k, &m->val, BPF_ANY) < 0) {
			uncover_fd(m, k.ifindex, &a->link_fd);
			continue;
		}
		m->n_also++;
	}
	unlock_ns(m);
	return (int)m->n_also;
}

/* ---- what a daemon does ------------------------------------------------------ */

int fps_open(struct fps_member *m, char *why, size_t why_len)
{
	int rc;

	fps_init(m);
	rc = lock_ns(m, true);
	if (rc < 0) {
		snprintf(why, why_len, "cannot take the namespace's lock (@%s): %s", FPS_LOCK,
			 strerror(-rc));
		return rc;
	}
	rc = open_maps(m, why, why_len);
	if (rc < 0)
		close_maps(m);
	unlock_ns(m);
	return rc;
}

int fps_lock(struct fps_member *m, char *why, size_t why_len)
{
	int rc = lock_ns(m, true);

	if (rc < 0)
		snprintf(why, why_len, "cannot take the namespace's lock (@%s): %s", FPS_LOCK,
			 strerror(-rc));
	return rc;
}

void fps_unlock(struct fps_member *m)
{
	unlock_ns(m);
}

/* The shared copy's descriptors, in one list. */
#define PROG_FDS 5
static void prog_fds(struct fps_prog *p, int *fd[PROG_FDS])
{
	fd[0] = &p->egress_fd;
	fd[1] = &p->ingress_fd;
	fd[2] = &p->slots_fd;
	fd[3] = &p->counters_fd;
	fd[4] = &p->egress_slots_fd;
}

static void prog_close(struct fps_prog *p)
{
	int *fd[PROG_FDS];

	prog_fds(p, fd);
	for (size_t i = 0; i < PROG_FDS; i++) {
		if (*fd[i] >= 0)
			close(*fd[i]);
		*fd[i] = -1;
	}
}

/* Our own descriptor of the egress slots map, for sweep(). */
static void hold_egress_slots(struct fps_member *m, int fd)
{
	if (m->egress_slots_fd < 0)
		m->egress_slots_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

int fps_prog_find(struct fps_member *m, uint64_t build, struct fps_prog *p)
{
	struct fps_ns ns;
	uint32_t key = 0;
	int *fd[PROG_FDS];

	prog_fds(p, fd);
	for (size_t i = 0; i < PROG_FDS; i++)
		*fd[i] = -1;
	if (m->ns_fd < 0 || bpf_map_lookup_elem(m->ns_fd, &key, &ns) < 0)
		return m->ns_fd < 0 ? -EBADF : -errno;
	if (!ns.egress_id || ns.build != build)
		return 0;
	/* gone since (its last tunnel left): a descriptor cannot be had, and another is loaded */
	p->egress_fd = bpf_prog_get_fd_by_id(ns.egress_id);
	p->ingress_fd = bpf_prog_get_fd_by_id(ns.ingress_id);
	p->slots_fd = bpf_map_get_fd_by_id(ns.slots_id);
	p->counters_fd = bpf_map_get_fd_by_id(ns.counters_id);
	p->egress_slots_fd = bpf_map_get_fd_by_id(ns.egress_slots_id);
	p->ctr_stride = ns.ctr_stride;
	for (size_t i = 0; i < PROG_FDS; i++) {
		int rc = *fd[i];

		if (rc < 0) {
			prog_close(p);
			return rc == -ENOENT ? 0 : rc;
		}
	}
	hold_egress_slots(m, p->egress_slots_fd);
	return 1;
}

uint32_t fps_prog_id(int fd)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

int fps_prog_publish(struct fps_member *m, uint64_t build, const struct fps_prog *p)
{
	struct fps_ns ns;
	uint32_t key = 0;

	if (m->ns_fd < 0 || bpf_map_lookup_elem(m->ns_fd, &key, &ns) < 0)
		return m->ns_fd < 0 ? -EBADF : -errno;
	ns.egress_id = fps_prog_id(p->egress_fd);
	ns.ingress_id = fps_prog_id(p->ingress_fd);
	ns.slots_id = map_id(p->slots_fd);
	ns.counters_id = map_id(p->counters_fd);
	ns.egress_slots_id = map_id(p->egress_slots_fd);
	ns.ctr_stride = p->ctr_stride;
	ns.build = build;
	if (!ns.egress_id || !ns.ingress_id || !ns.slots_id || !ns.counters_id ||
	    !ns.egress_slots_id)
		return -EINVAL;
	if (bpf_map_update_elem(m->ns_fd, &key, &ns, BPF_EXIST) < 0)
		return -errno;
	hold_egress_slots(m, p->egress_slots_fd);
	return 0;
}

int fps_join(struct fps_member *m, const struct fps_key *key, int rx_l2, int ingress_fd,
	     int tun_ifindex, char *why, size_t why_len)
{
	return fps_join_slot(m, key, rx_l2, ingress_fd, tun_ifindex, FPS_TUNNELS, UINT32_MAX, NULL,
			     NULL, why, why_len);
}

int fps_join_slot(struct fps_member *m, const struct fps_key *key, int rx_l2, int ingress_fd,
		  int tun_ifindex, uint32_t nslots, uint32_t prefer,
		  int (*ready)(void *arg, uint32_t slot),
		  void *arg, char *why, size_t why_len)
{
	int rc;

	if (!m->skel)
		return -EBADF;
	m->key = *key;
	m->val.tun_ifindex = (uint32_t)tun_ifindex;
	if (!if_indextoname((unsigned)tun_ifindex, m->val.name)) {
		snprintf(why, why_len, "no tunnel device %d", tun_ifindex);
		return -ENODEV;
	}
	rc = lock_ns(m, true);
	if (rc < 0) {
		snprintf(why, why_len, "cannot take the namespace's lock (@%s): %s", FPS_LOCK,
			 strerror(-rc));
		return rc;
	}
	sweep(m);
	rc = taken(m, key, why, why_len);
	if (rc == 0 && (rc = free_slot(m, &m->val.slot, nslots, prefer)) < 0)
		snprintf(why, why_len, "%u tunnels share the namespace's ingress already",
			 nslots < FPS_TUNNELS ? nslots : FPS_TUNNELS);
	if (rc == 0 && ready && (rc = ready(arg, m->val.slot)) != 0) {
		rc = rc < 0 ? rc : -EIO;
		snprintf(why, why_len, "cannot set up slot %u: %s", m->val.slot, strerror(-rc));
	}
	if (rc < 0)
		goto fail;
	if (bpf_map_update_elem(m->progs_fd, &m->val.slot, &ingress_fd, BPF_ANY) < 0) {
		rc = -errno;
		snprintf(why, why_len, "cannot add the tunnel's ingress program: %s",
			 strerror(errno));
		goto fail;
	}
	rc = cover(m, key->ifindex, rx_l2, &m->link_fd);
	if (rc < 0)
		snprintf(why, why_len, "cannot attach the shared ingress program to ifindex %u: %s",
			 key->ifindex, strerror(-rc));
	else if (bpf_map_update_elem(m->tunnels_fd, key, &m->val, BPF_ANY) < 0)
		rc = -errno, snprintf(why, why_len, "cannot add the tunnel: %s", strerror(errno));
	if (rc < 0) {
		bpf_map_delete_elem(m->progs_fd, &m->val.slot);
		uncover(m, key->ifindex);
		goto fail;
	}
	m->joined = true;
	unlock_ns(m);
	return 0;
fail:
	unlock_ns(m);
	return rc;
}

int fps_rekey(struct fps_member *m, const struct fps_key *key, int rx_l2, char *why,
	      size_t why_len)
{
	struct fps_key old = m->key;
	int rc, fd = -1;

	if (!m->joined)
		return -ENOENT;
	if (!memcmp(key, &old, sizeof(old)))
		return 0;
	rc = lock_ns(m, true);
	if (rc < 0) {
		snprintf(why, why_len, "cannot take the namespace's lock (@%s): %s", FPS_LOCK,
			 strerror(-rc));
		return rc;
	}
	drop_all_also(m);	/* a hub's: its next fps_also() takes them anew */
	rc = taken(m, key, why, why_len);
	if (rc == 0 && key->ifindex != old.ifindex && (rc = cover(m, key->ifindex, rx_l2, &fd)) < 0)
		snprintf(why, why_len, "cannot attach the shared ingress program to ifindex %u: %s",
			 key->ifindex, strerror(-rc));
	if (rc == 0 && bpf_map_update_elem(m->tunnels_fd, key, &m->val, BPF_ANY) < 0) {
		rc = -errno;
		snprintf(why, why_len, "cannot add the tunnel: %s", strerror(errno));
		if (fd >= 0) {
			int keep = m->link_fd;

			m->link_fd = fd;
			uncover(m, key->ifindex);
			m->link_fd = keep;
		}
	}
	if (rc == 0) {
		bpf_map_delete_elem(m->tunnels_fd, &old);
		m->key = *key;
		if (old.ifindex != key->ifindex) {
			uncover(m, old.ifindex);
			m->link_fd = fd;
		}
	}
	unlock_ns(m);
	return rc;
}

/* One of a hub's other underlays without a live holder (not ours, nobody's)? */
static bool uncovered_also(const struct fps_member *m)
{
	struct fps_underlay u;

	for (unsigned i = 0; i < m->n_also; i++)
		if (m->also[i].link_fd < 0 &&
		    (bpf_map_lookup_elem(m->underlays_fd, &m->also[i].ifindex, &u) < 0 ||
		     !alive(u.holder, u.name)))
			return true;
	return false;
}

void fps_tick(struct fps_member *m, int rx_l2)
{
	struct fps_underlay u;
	int fd;

	if (!m->joined)
		return;
	/*
	 * Without the lock first: most daemons find a live holder and are done
	 * (one lookup and one name); the holders sweep, so that the namespace
	 * is swept about once a second, not once per daemon.
	 */
	if (m->link_fd < 0 && bpf_map_lookup_elem(m->underlays_fd, &m->key.ifindex, &u) == 0 &&
	    alive(u.holder, u.name) && !uncovered_also(m))
		return;
	if (lock_ns(m, false) < 0)
		return;
	if (m->link_fd >= 0)
		sweep(m);
	else if (cover(m, m->key.ifindex, rx_l2, &fd) == 0)
		m->link_fd = fd;
	for (unsigned i = 0; i < m->n_also; i++)
		if (m->also[i].link_fd < 0 && cover(m, m->also[i].ifindex, rx_l2, &fd) == 0)
			m->also[i].link_fd = fd;
	unlock_ns(m);
}

void fps_leave(struct fps_member *m)
{
	struct fps_val v;

	if (!m->joined)
		goto done;
	if (lock_ns(m, true) < 0)
		goto done;	/* the maps go with the last daemon anyway */
	drop_all_also(m);
	/* only if still ours */
	if (bpf_map_lookup_elem(m->tunnels_fd, &m->key, &v) == 0 &&
	    v.tun_ifindex == m->val.tun_ifindex && v.slot == m->val.slot) {
		bpf_map_delete_elem(m->tunnels_fd, &m->key);
		bpf_map_delete_elem(m->progs_fd, &m->val.slot);
	}
	uncover(m, m->key.ifindex);
	sweep(m);
	unlock_ns(m);
done:
	if (m->skel) {
		close_maps(m);
		fps_init(m);
	}
}
