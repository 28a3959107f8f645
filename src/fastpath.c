/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "fastpath.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_arp.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ipip.skel.h"	/* generated from src/bpf/ipip.bpf.c at build time */
#include "log.h"
#include "packet.h"

/* Linux 6.6 tcx attach types; libbpf 1.1's headers predate them. */
#define FP_BPF_TCX_INGRESS 46
#define FP_BPF_TCX_EGRESS 47

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	log_debug("libbpf: %s", buf);
	return 0;
}

void fp_config_init(struct fp_config *cfg, const struct ipip_params *p, uint32_t tun_addr,
		    int tun_ifindex, int underlay_ifindex, unsigned dev_mtu)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->local = p->local;
	cfg->remote = p->remote;
	cfg->own[0] = p->local;
	cfg->own[1] = tun_addr;
	cfg->underlay_ifindex = (uint32_t)underlay_ifindex;
	cfg->tun_ifindex = (uint32_t)tun_ifindex;
	cfg->dev_mtu = dev_mtu;
	cfg->ttl = p->ttl;
	cfg->tos = p->tos;
	cfg->tos_inherit = p->tos_inherit;
	cfg->pmtudisc = p->pmtudisc;
	cfg->ecn_mode = (uint8_t)p->ecn;
	cfg->dscp_uniform = p->dscp_uniform;
	for (unsigned i = 0; i < p->n_allowed && i < FP_MAX_ALLOWED; i++) {
		cfg->allowed[i].mask = prefix_mask(p->allowed[i].len);
		cfg->allowed[i].addr = p->allowed[i].addr & cfg->allowed[i].mask;
		cfg->n_allowed = (uint8_t)(i + 1);
	}
	cfg->hub = p->remote_any;
	cfg->peer_check = p->peer_check;
	for (unsigned i = 0; p->remote_any && i < p->n_allowed_remotes && i < FP_MAX_ALLOWED; i++) {
		cfg->allowed_remotes[i].mask = prefix_mask(p->allowed_remotes[i].len);
		cfg->allowed_remotes[i].addr = p->allowed_remotes[i].addr & cfg->allowed_remotes[i].mask;
		cfg->n_allowed_remotes = (uint8_t)(i + 1);
	}
	cfg->encap = (uint8_t)p->encap;
	if (p->encap != ENCAP_IPIP) {
		cfg->port = htons(p->port);
		cfg->remote_port = htons(p->remote_port);
		cfg->sport = htons(p->sport);
		cfg->sport_min = p->sport_min;
		cfg->sport_span = p->sport_max > p->sport_min ? p->sport_max - p->sport_min : 0;
	}
}

int fp_underlay_l2(unsigned short type)
{
	switch (type) {
	case ARPHRD_ETHER:
		return 14;
	case ARPHRD_NONE:	/* TUN, WireGuard */
	case ARPHRD_TUNNEL:	/* ipip */
	case ARPHRD_IPGRE:
	case ARPHRD_SIT:
	case ARPHRD_PPP:
	case ARPHRD_RAWIP:
		return 0;
	default:
		return -1;
	}
}

static int tc_attach(struct fastpath *fp, enum fp_hook hook, int prog_fd)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, th, .ifindex = fp->ifindex[hook],
			    .attach_point = hook == FP_EGRESS ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, to, .handle = fp->handle, .priority = FP_TC_PRIORITY,
			    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int rc;

	/* recorded before it exists: a crash right after leaves nothing unknown */
	if (hook == FP_INGRESS && fp->record &&
	    (rc = fp->record(fp->record_arg, fp->ifindex[hook], fp->handle, FP_TC_PRIORITY)) != 0)
		return rc < 0 ? rc : -EIO;
	rc = bpf_tc_hook_create(&th);
	if (rc < 0 && rc != -EEXIST)
		return rc;
	rc = bpf_tc_attach(&th, &to);
	if (rc == 0)
		fp->filter[hook] = true;
	return rc;
}

static void tc_detach(struct fastpath *fp, enum fp_hook hook)
{
	if (!fp->filter[hook])
		return;
	fp->filter[hook] = false;
	if (fp_tc_detach(fp->ifindex[hook], hook == FP_INGRESS, fp->handle, FP_TC_PRIORITY) < 0)
		log_warnx("eBPF fast path: cannot remove the clsact filter on ifindex %d",
			  fp->ifindex[hook]);
}

static int attach(struct fastpath *fp, enum fp_hook hook, int prog_fd)
{
	int type = hook == FP_EGRESS ? FP_BPF_TCX_EGRESS : FP_BPF_TCX_INGRESS;
	int fd;

	/* auto: tcx if the first attachment works, and then for both */
	if (!fp->attach || !strcmp(fp->attach, "tcx")) {
		fd = bpf_link_create(prog_fd, fp->ifindex[hook], (enum bpf_attach_type)type, NULL);
		if (fd >= 0) {
			fp->link_fd[hook] = fd;
			fp->attach = "tcx";
			return 0;
		}
		if (fp->attach || (fd != -EINVAL && fd != -EOPNOTSUPP && fd != -ERANGE))
			return fd;
		/*
		 * No tcx in this kernel, or (ERANGE) the hook already holds
		 * the most programs tcx takes (63: BPF_MPROG_MAX less one): classic
		 * clsact filters, which run after the tcx programs.
		 */
		fp->tcx_full = fd == -ERANGE;
	}
	fp->attach = "clsact";
	return tc_attach(fp, hook, prog_fd);
}

void fp_init(struct fastpath *fp)
{
	fp_record_fn record = fp->record;
	void *arg = fp->record_arg;

	memset(fp, 0, sizeof(*fp));
	fp->link_fd[FP_EGRESS] = fp->link_fd[FP_INGRESS] = -1;
	fp->prog_fd[FP_EGRESS] = fp->prog_fd[FP_INGRESS] = -1;
	fp->slots_fd = fp->ctr_fd = fp->egress_slots_fd = -1;
	fp->own_fd = -1;
	fps_init(&fp->share);
	fp->record = record;
	fp->record_arg = arg;
}

/* Map the counters map (mmapable: one entry per possible CPU). */
static size_t page_round(size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (len + page - 1) / page * page;
}

/* Map our slot (read and write) and our counters (read only). */
static int map_pages(struct fastpath *fp, const struct fp_pages *slot, const struct fp_pages *ctr)
{
	void *b, *c;

	b = mmap(NULL, slot->len, PROT_READ | PROT_WRITE, MAP_SHARED, slot->fd, (off_t)slot->off);
	if (b == MAP_FAILED)
		return -errno;
	c = mmap(NULL, ctr->len, PROT_READ, MAP_SHARED, ctr->fd, (off_t)ctr->off);
	if (c == MAP_FAILED) {
		int e = errno;

		munmap(b, slot->len);
		return -e;
	}
	fp->sl = b;
	fp->sl_len = slot->len;
	fp->ctr = c;
	fp->ctr_len = ctr->len;
	return 0;
}

/* Counters entries per slot of the shared copy: whole pages. */
static uint32_t shared_stride(int ncpus)
{
	return (uint32_t)(page_round((size_t)ncpus * sizeof(struct fp_counters)) /
			  sizeof(struct fp_counters));
}

/*
 * Where the egress program sends outer packets: to ifindex, by a route and
 * neighbour lookup for each packet until fp_set_next_hop() tells the next hop
 * there.
 */
static void set_egress(struct fastpath *fp, int ifindex)
{
	__atomic_store_n(&fp->sl->state.egress, FP_EGRESS_WORD(ifindex, 0), __ATOMIC_RELEASE);
}

/* ... and the ingress program's link-layer header length with it. */
static void set_underlay(struct fastpath *fp, int ifindex, int rx_l2)
{
	set_egress(fp, ifindex);
	__atomic_store_n(&fp->sl->state.rx_l2, (uint32_t)rx_l2, __ATOMIC_RELAXED);
}

/* Fill a fresh slot: the settings, the soft state's start, a random first ID. */
static void slot_init(struct fp_slot *sl, const struct fp_config *cfg)
{
	uint32_t seed = 0;

	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint32_t)getpid();
	memset(sl, 0, sizeof(*sl));
	sl->cfg = *cfg;
	sl->state.pmtu = cfg->dev_mtu;
	sl->ip_id = seed;
}

/*
 * The underlay's shared ingress program, unless FastPathAttach = clsact:
 * 0 with fp->shared, or 0 without it and the reason in fp->own_why (the
 * tunnel then attaches its own); -EADDRINUSE another tunnel has the same
 * outer addresses (the reason in why); the tcx errors of attach().
 */
static int share_ingress(struct fastpath *fp, const struct fp_config *cfg,
			 enum fp_attach_mode mode, int rx_l2, char *why, size_t why_len)
{
	struct fps_key k;
	int rc;

	if (mode == FPA_CLSACT) {
		snprintf(fp->own_why, sizeof(fp->own_why), "FastPathAttach = clsact");
		return 0;
	}
	if (!fp->share.skel)
		return 0;	/* fps_open() failed: own_why says why */
	fps_key_of(&k, cfg, (int)cfg->underlay_ifindex);
	rc = fps_join(&fp->share, &k, rx_l2, fp->prog_fd[FP_INGRESS], (int)cfg->tun_ifindex,
		      fp->own_why, sizeof(fp->own_why));
	if (rc == 0) {
		fp->shared = true;
		fp->attach = "tcx";
		return 0;
	}
	if (rc == -EADDRINUSE) {
		snprintf(why, why_len, "%s", fp->own_why);
		return rc;
	}
	if (rc == -EINVAL || rc == -EOPNOTSUPP)	/* attach() finds the same, and takes clsact */
		snprintf(fp->own_why, sizeof(fp->own_why), "this kernel has no tcx");
	log_debug("eBPF fast path: the tunnel's own ingress program: %s", fp->own_why);
	return 0;	/* attach() finds out about tcx itself */
}

static int fail_shared(struct fastpath *fp, int rc, char *why, size_t why_len)
{
	char w[200];

	snprintf(w, sizeof(w), "%s", why);
	snprintf(why, why_len, "cannot share the underlay's ingress program: %s", w);
	fp_stop(fp);
	return rc;
}

/* A descriptor of our own (closed by fp_stop()), -errno if none. */
static int hold(int fd)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	return d < 0 ? -errno : d;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* A hash of the programs' build: daemons of another build do not share a copy. */
static uint64_t build_hash(void)
{
	size_t n = 0;
	const uint8_t *b = ipip_bpf__elf_bytes(&n);
	uint64_t h = 14695981039346656037ull;	/* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	h ^= FPS_ABI;
	return h;
}

/*
 * Open and load a copy of the programs (fp->skel): our own (one slot), or
 * with `shared` the namespace's shared copy (FPS_SHARED slots).
 */
static int load_copy(struct fastpath *fp, bool shared, bool hub, uint32_t stride)
{
	uint32_t nslots = shared ? FPS_SHARED : 1;
	int rc;

	fp->skel = ipip_bpf__open();
	if (!fp->skel)
		return errno ? -errno : -ENOMEM;
	fp->skel->rodata->shared = shared;
	fp->skel->rodata->ctr_stride = stride;
	rc = bpf_map__set_max_entries(fp->skel->maps.counters, nslots * stride);
	if (rc == 0)
		rc = bpf_map__set_max_entries(fp->skel->maps.slots, nslots);
	if (rc == 0)
		rc = bpf_map__set_max_entries(fp->skel->maps.egress_slots, nslots);
	/* a hub's per-peer arrays: one entry where there are no peers */
	if (rc == 0 && !hub)
		rc = bpf_map__set_max_entries(fp->skel->maps.hub_hops, 1);
	if (rc == 0 && !hub)
		rc = bpf_map__set_max_entries(fp->skel->maps.hub_peers, 1);
	/*
	 * The namespace's shared maps, unless this tunnel's programs stay on
	 * their own: its map of the host's addresses is theirs too (one copy
	 * for every tunnel's ingress program).
	 */
	if (rc == 0 && fp->share.skel &&
	    bpf_map__reuse_fd(fp->skel->maps.own, fp->share.own_fd) < 0) {
		snprintf(fp->own_why, sizeof(fp->own_why), "the shared address map does not fit");
		if (shared)
			return -EINVAL;	/* (the lock is held: the caller lets go) */
		fps_leave(&fp->share);
	}
	if (rc == 0)
		rc = ipip_bpf__load(fp->skel);
	return rc;
}

/*
 * The descriptors of our copy's programs and maps, held; the skeleton goes
 * (the programs live while a descriptor, link or program array holds them).
 */
static int hold_copy(struct fastpath *fp, bool shared)
{
	struct ipip_bpf *k = fp->skel;

	fp->prog_fd[FP_EGRESS] = hold(bpf_program__fd(k->progs.ipip_egress));
	fp->prog_fd[FP_INGRESS] = hold(bpf_program__fd(k->progs.ipip_ingress));
	fp->slots_fd = hold(bpf_map__fd(k->maps.slots));
	fp->ctr_fd = hold(bpf_map__fd(k->maps.counters));
	if (shared)
		fp->egress_slots_fd = hold(bpf_map__fd(k->maps.egress_slots));
	if (fp->prog_fd[FP_EGRESS] < 0)
		return fp->prog_fd[FP_EGRESS];
	if (fp->prog_fd[FP_INGRESS] < 0)
		return fp->prog_fd[FP_INGRESS];
	if (fp->slots_fd < 0)
		return fp->slots_fd;
	if (fp->ctr_fd < 0)
		return fp->ctr_fd;
	return shared && fp->egress_slots_fd < 0 ? fp->egress_slots_fd : 0;
}

/*
 * The namespace's shared copy of the programs, found or loaded (with the
 * lock: one daemon loads it), into fp's descriptors.  0 or -errno.
 */
static int shared_copy(struct fastpath *fp, uint32_t *stride)
{
	struct fps_prog p;
	uint64_t build = build_hash();
	int rc = fps_lock(&fp->share, fp->own_why, sizeof(fp->own_why));

	if (rc < 0)
		return rc;
	rc = fps_prog_find(&fp->share, build, &p);
	if (rc > 0) {
		fp->prog_fd[FP_EGRESS] = p.egress_fd;
		fp->prog_fd[FP_INGRESS] = p.ingress_fd;
		fp->slots_fd = p.slots_fd;
		fp->ctr_fd = p.counters_fd;
		fp->egress_slots_fd = p.egress_slots_fd;
		*stride = p.ctr_stride;
		rc = 0;
	} else if (rc == 0) {
		*stride = shared_stride(fp->ncpus);
		rc = load_copy(fp, true, false, *stride);
		if (rc == 0)
			rc = hold_copy(fp, true);
		ipip_bpf__destroy(fp->skel);
		fp->skel = NULL;
		if (rc == 0) {
			p = (struct fps_prog){ .egress_fd = fp->prog_fd[FP_EGRESS],
					       .ingress_fd = fp->prog_fd[FP_INGRESS],
					       .slots_fd = fp->slots_fd, .counters_fd = fp->ctr_fd,
					       .egress_slots_fd = fp->egress_slots_fd,
					       .ctr_stride = *stride };
			rc = fps_prog_publish(&fp->share, build, &p);
		}
	}
	fps_unlock(&fp->share);
	if (rc < 0)
		snprintf(fp->own_why, sizeof(fp->own_why),
			 "cannot have the namespace's shared programs: %s", strerror(-rc));
	return rc;
}

struct slot_setup {
	struct fastpath *fp;
	const struct fp_config *cfg;
	uint32_t stride;
	int rx_l2;
};

/*
 * The page of slot g claims our device dev but is not our slot's: a page
 * left by a tunnel before (a slot's page claims a device until the slot is
 * taken again).  Let go of its claim, or our egress program would take
 * that page for ours.  Under the namespace's lock, as every join is.
 */
static int unclaim(int slots_fd, uint32_t g, uint32_t dev)
{
	struct fp_slot *p = mmap(NULL, FP_SLOT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, slots_fd,
				 (off_t)g * FP_SLOT_SIZE);

	if (p == MAP_FAILED)
		return -errno;
	if (__atomic_load_n(&p->cfg.tun_ifindex, __ATOMIC_RELAXED) == dev)
		__atomic_store_n(&p->cfg.tun_ifindex, 0, __ATOMIC_RELEASE);
	munmap(p, FP_SLOT_SIZE);
	return 0;
}

/* fps_join_slot()'s: our slot is chosen: fill it, map it, give our device its number. */
static int slot_ready(void *arg, uint32_t slot)
{
	struct slot_setup *u = arg;
	struct fastpath *fp = u->fp;
	size_t ctr_len = (size_t)u->stride * sizeof(struct fp_counters);
	struct fp_pages sp = { fp->slots_fd, (size_t)slot * FP_SLOT_SIZE, FP_SLOT_SIZE };
	struct fp_pages cp = { fp->ctr_fd, (size_t)slot * ctr_len, ctr_len };
	struct fp_counters zero;
	uint32_t dev = u->cfg->tun_ifindex;
	int rc;

	if (slot != FP_GUESS_SLOT(dev) && (rc = unclaim(fp->slots_fd, FP_GUESS_SLOT(dev), dev)) < 0)
		return rc;
	/* a slot a tunnel had before: its counters start again from zero */
	memset(&zero, 0, sizeof(zero));
	for (uint32_t c = 0; c < u->stride; c++) {
		uint32_t i = slot * u->stride + c;

		if (bpf_map_update_elem(fp->ctr_fd, &i, &zero, BPF_ANY) < 0)
			return -errno;
	}
	rc = map_pages(fp, &sp, &cp);
	if (rc < 0)
		return rc;
	fp->slot = slot;
	fp->slot_off = sp.off;
	fp->ctr_off = cp.off;
	slot_init(fp->sl, u->cfg);
	set_underlay(fp, (int)u->cfg->underlay_ifindex, u->rx_l2);
	if (bpf_map_update_elem(fp->egress_slots_fd, &dev, &slot, BPF_ANY) < 0)
		return -errno;
	return 0;
}

/* Let go of what start_shared() took. */
static void unshare(struct fastpath *fp)
{
	if (fp->sl && fp->egress_slots_fd >= 0) {
		uint32_t dev = (uint32_t)fp->ifindex[FP_EGRESS], v;

		if (bpf_map_lookup_elem(fp->egress_slots_fd, &dev, &v) == 0 && v == fp->slot)
			bpf_map_delete_elem(fp->egress_slots_fd, &dev);
	}
	if (fp->ctr)
		munmap((void *)fp->ctr, fp->ctr_len);
	if (fp->sl)
		munmap(fp->sl, fp->sl_len);
	fp->ctr = NULL;
	fp->sl = NULL;
	/* an own copy's slot, should the tunnel load one now (its pages are at 0) */
	fp->slot = 0;
	fp->slot_off = fp->ctr_off = 0;
	for (int h = 0; h < FP_HOOKS; h++)
		close_fd(&fp->prog_fd[h]);
	close_fd(&fp->slots_fd);
	close_fd(&fp->ctr_fd);
	close_fd(&fp->egress_slots_fd);
	fp->shared_prog = false;
}

/*
 * A point-to-point tunnel with the underlay's shared ingress: a slot of the
 * namespace's shared programs.  0 (fp->shared_prog); -EADDRINUSE (the
 * reason in why); another -errno with the reason in fp->own_why and
 * nothing held: the tunnel loads its own copy.
 */
static int start_shared(struct fastpath *fp, const struct fp_config *cfg, int rx_l2,
			char *why, size_t why_len)
{
	struct slot_setup u = { .fp = fp, .cfg = cfg, .rx_l2 = rx_l2 };
	struct fps_key k;
	int rc;

	if ((size_t)sysconf(_SC_PAGESIZE) != FP_SLOT_SIZE) {
		snprintf(fp->own_why, sizeof(fp->own_why), "pages are not of %d bytes",
			 FP_SLOT_SIZE);
		return -EOPNOTSUPP;
	}
	rc = shared_copy(fp, &u.stride);
	if (rc < 0) {
		unshare(fp);
		return rc;
	}
	fps_key_of(&k, cfg, (int)cfg->underlay_ifindex);
	rc = fps_join_slot(&fp->share, &k, rx_l2, fp->prog_fd[FP_INGRESS], (int)cfg->tun_ifindex,
			   FPS_SHARED, FP_GUESS_SLOT(cfg->tun_ifindex), slot_ready, &u, fp->own_why,
			   sizeof(fp->own_why));
	if (rc == -EADDRINUSE) {
		snprintf(why, why_len, "%s", fp->own_why);
		return rc;
	}
	if (rc < 0) {
		unshare(fp);
		return rc;
	}
	fp->shared_prog = true;
	fp->shared = true;
	fp->attach = "tcx";
	return 0;
}

int fp_start(struct fastpath *fp, const struct fp_config *cfg, const char *name,
	     enum fp_attach_mode mode, const uint32_t *own, unsigned n_own, int rx_l2,
	     char *why, size_t why_len)
{
	const char *step = "open";
	int rc;

	fp_init(fp);
	if (mode != FPA_AUTO)
		fp->attach = mode == FPA_TCX ? "tcx" : "clsact";
	libbpf_set_print(libbpf_log);
	fp->ifindex[FP_EGRESS] = (int)cfg->tun_ifindex;
	fp->ifindex[FP_INGRESS] = (int)cfg->underlay_ifindex;
	fp->handle = fp_name_handle(name);
	if (rx_l2 < 0) {
		snprintf(why, why_len, "the underlay (ifindex %u) is neither an Ethernet device nor "
			 "one without a link-layer header", cfg->underlay_ifindex);
		return -EPFNOSUPPORT;
	}
	fp->ncpus = libbpf_num_possible_cpus();
	if (fp->ncpus <= 0) {
		rc = fp->ncpus ? fp->ncpus : -EINVAL;
		step = "count the CPUs for";
		goto fail;
	}
	/* the namespace's shared maps, unless this tunnel's programs stay on their own */
	if (mode != FPA_CLSACT)
		fps_open(&fp->share, fp->own_why, sizeof(fp->own_why));
	if (fp->share.skel && !cfg->hub) {
		/* the host's addresses first: the programs may see a packet once joined */
		step = "fill the address map of";
		fp->own_fd = fp->share.own_fd;
		rc = fp_set_own(fp, own, n_own);
		if (rc < 0)
			goto fail;
		rc = start_shared(fp, cfg, rx_l2, why, why_len);
		if (rc == -EADDRINUSE)
			return fail_shared(fp, rc, why, why_len);
		if (rc < 0)
			log_debug("eBPF fast path: the tunnel's own programs: %s", fp->own_why);
	}
	if (!fp->shared_prog) {
		struct fp_pages sp = { -1, 0, page_round(sizeof(struct fp_slot)) };
		struct fp_pages cp = { -1, 0, page_round((size_t)fp->ncpus *
							 sizeof(struct fp_counters)) };

		step = "load";
		rc = load_copy(fp, false, cfg->hub, (uint32_t)fp->ncpus);
		if (rc == 0)
			rc = hold_copy(fp, false);
		if (rc < 0)
			goto fail;
		fp->own_fd = bpf_map__fd(fp->skel->maps.own);
		step = "map the slot and counters of";
		sp.fd = fp->slots_fd;
		cp.fd = fp->ctr_fd;
		rc = map_pages(fp, &sp, &cp);
		if (rc < 0)
			goto fail;
		slot_init(fp->sl, cfg);
		set_underlay(fp, (int)cfg->underlay_ifindex, rx_l2);
		/* Before the programs see a packet: inner packets from the host's addresses go slow. */
		step = "fill the address map of";
		rc = fp_set_own(fp, own, n_own);
		if (rc < 0)
			goto fail;
		/* Ingress first: the peer's packets are taken before ours are sent. */
		step = "attach to the underlay's ingress";
		rc = share_ingress(fp, cfg, mode, rx_l2, why, why_len);
		if (rc == -EADDRINUSE)
			return fail_shared(fp, rc, why, why_len);
		if (!fp->shared)
			rc = attach(fp, FP_INGRESS, fp->prog_fd[FP_INGRESS]);
		if (rc < 0)
			goto fail;
	}
	for (int h = 0; h < FP_HOOKS; h++)
		fp->prog_id[h] = fps_prog_id(fp->prog_fd[h]);
	step = "attach to the tunnel device's egress";
	rc = attach(fp, FP_EGRESS, fp->prog_fd[FP_EGRESS]);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	snprintf(why, why_len, "cannot %s%s: %s", step,
		 strncmp(step, "attach", 6) ? " the eBPF programs" : "",
		 rc == -ERANGE && !strncmp(step, "attach", 6) ?
		 "it holds the most tcx programs the kernel takes (63): FastPathAttach = auto "
		 "or clsact adds a clsact filter instead" : strerror(-rc));
	fp_stop(fp);
	return rc;
}

void fp_stop(struct fastpath *fp)
{
	fps_leave(&fp->share);	/* first: the dispatcher stops calling in */
	fp->shared = false;
	for (int h = 0; h < FP_HOOKS; h++) {
		if (fp->link_fd[h] >= 0)
			close(fp->link_fd[h]);	/* a tcx link goes with its last descriptor */
		fp->link_fd[h] = -1;
		tc_detach(fp, (enum fp_hook)h);
	}
	unshare(fp);	/* our slot's entry, the mappings, the descriptors */
	if (fp->peers)
		munmap((void *)fp->peers, fp->peers_len);
	free(fp->hub_routes);
	if (fp->skel)
		ipip_bpf__destroy(fp->skel);
	fp_init(fp);
}

int fp_move_underlay(struct fastpath *fp, int ifindex, int rx_l2)
{
	int old_fd = fp->link_fd[FP_INGRESS], old = fp->ifindex[FP_INGRESS], rc;
	bool old_filter = fp->filter[FP_INGRESS];

	if (rx_l2 < 0)
		return -EPFNOSUPPORT;
	/*
	 * The way out first: attaching the ingress program takes the RTNL
	 * lock, and a link that just went down holds it for tens of
	 * milliseconds (its queues stopped, RCU grace periods), while the
	 * outer packets would still go to the old device.  Until the ingress
	 * program is there, the new underlay's packets take the slow path in.
	 */
	set_egress(fp, ifindex);
	if (fp->shared) {
		struct fps_key k = fp->share.key;
		char why[200];

		k.ifindex = (uint32_t)ifindex;
		rc = fps_rekey(&fp->share, &k, rx_l2, why, sizeof(why));
		fp->also_stale = true;	/* a hub's other underlays: let go of, asked for anew */
		if (rc < 0) {
			log_warnx("eBPF fast path: %s", why);
			return rc;
		}
		fp->ifindex[FP_INGRESS] = ifindex;
		set_underlay(fp, ifindex, rx_l2);
		return 0;
	}
	fp->link_fd[FP_INGRESS] = -1;
	fp->filter[FP_INGRESS] = false;
	fp->ifindex[FP_INGRESS] = ifindex;
	rc = attach(fp, FP_INGRESS, fp->prog_fd[FP_INGRESS]);
	if (rc < 0) {
		fp->link_fd[FP_INGRESS] = old_fd;
		fp->filter[FP_INGRESS] = old_filter;
		fp->ifindex[FP_INGRESS] = old;
		return rc;
	}
	set_underlay(fp, ifindex, rx_l2);
	if (old_fd >= 0)
		close(old_fd);
	if (old_filter && fp_tc_detach(old, true, fp->handle, FP_TC_PRIORITY) < 0)
		log_debug("eBPF fast path: no filter to remove on ifindex %d", old);
	return 0;
}

void fp_tick(struct fastpath *fp)
{
	if (fp->shared && fp->sl)
		fps_tick(&fp->share, (int)__atomic_load_n(&fp->sl->state.rx_l2, __ATOMIC_RELAXED));
}

void fp_set_state(struct fastpath *fp, unsigned pmtu, unsigned path_ttl, bool unreach)
{
	struct fp_slot *sl = fp->sl;

	if (!sl)
		return;
	__atomic_store_n(&sl->state.pmtu, pmtu, __ATOMIC_RELAXED);
	__atomic_store_n(&sl->state.path_ttl, path_ttl, __ATOMIC_RELAXED);
	__atomic_store_n(&sl->state.unreach, unreach ? 1u : 0u, __ATOMIC_RELAXED);
}

void fp_set_device_down(struct fastpath *fp, bool down)
{
	if (fp->sl)
		__atomic_store_n(&fp->sl->state.dev_down, down ? 1u : 0u, __ATOMIC_RELAXED);
}

void fp_set_config(struct fastpath *fp, const struct fp_config *cfg)
{
	struct fp_slot *sl = fp->sl;

	if (fp->shared) {
		struct fps_key k;
		char why[200];

		/* the tunnel's new outer addresses: taken before the old ones go */
		fps_key_of(&k, cfg, (int)fp->share.key.ifindex);
		fp->also_stale = true;
		if (sl && fps_rekey(&fp->share, &k, (int)sl->state.rx_l2, why, sizeof(why)) < 0)
			log_warnx("eBPF fast path: the new outer addresses stay on the slow path: %s",
				  why);
	}
	/* a packet in flight may see some fields old, some new: for one packet only */
	if (sl) {
		/* a new Remote's next hop is told again (fp_set_next_hop()) */
		set_egress(fp, (int)FP_EGRESS_IFINDEX(__atomic_load_n(&sl->state.egress,
								      __ATOMIC_RELAXED)));
		memcpy(&sl->cfg, cfg, sizeof(*cfg));
	}
}

_Atomic uint32_t *fp_ids(struct fastpath *fp)
{
	return fp->sl ? (_Atomic uint32_t *)&fp->sl->ip_id : NULL;
}

int fp_underlay(const struct fastpath *fp)
{
	return fp->sl ? (int)FP_EGRESS_IFINDEX(__atomic_load_n(&fp->sl->state.egress,
								__ATOMIC_RELAXED)) : 0;
}

void fp_set_next_hop(struct fastpath *fp, int ifindex, const struct fp_eth *eth)
{
	struct fp_state *st = fp->sl ? &fp->sl->state : NULL;
	uint64_t old;
	uint32_t hop, dev;

	if (!st)
		return;
	old = __atomic_load_n(&st->egress, __ATOMIC_ACQUIRE);
	dev = FP_EGRESS_IFINDEX(old);
	hop = FP_EGRESS_HOP(old);
	if (!eth || dev != (uint32_t)ifindex) {	/* (another device: the programs' own lookups) */
		if (hop)
			__atomic_store_n(&st->egress, FP_EGRESS_WORD(dev, 0), __ATOMIC_RELEASE);
		return;
	}
	if ((hop == 1 || hop == 2) && !memcmp(&st->eth[hop - 1], eth, sizeof(*eth)))
		return;
	/* the entry not in use, then the word: a packet reads one or the other whole */
	hop = hop == 1 ? 2 : 1;
	memcpy(&st->eth[hop - 1], eth, sizeof(*eth));
	__atomic_store_n(&st->egress, FP_EGRESS_WORD(dev, hop), __ATOMIC_RELEASE);
}

bool fp_next_hop(const struct fastpath *fp, struct fp_eth *eth)
{
	uint64_t e;
	uint32_t hop;

	if (!fp->sl)
		return false;
	e = __atomic_load_n(&fp->sl->state.egress, __ATOMIC_ACQUIRE);
	hop = FP_EGRESS_HOP(e);
	if (hop != 1 && hop != 2)
		return false;
	memcpy(eth, &fp->sl->state.eth[hop - 1], sizeof(*eth));
	return true;
}

void fp_shared(const struct fastpath *fp, struct fp_pages *slot, struct fp_pages *ctr)
{
	*slot = (struct fp_pages){ fp->slots_fd, fp->slot_off, fp->sl_len };
	*ctr = (struct fp_pages){ fp->ctr_fd, fp->ctr_off, fp->ctr_len };
}

int fp_map(struct fastpath *fp, const struct fp_pages *slot, const struct fp_pages *ctr,
	   int ncpus)
{
	int rc;

	if (slot->len < sizeof(struct fp_slot) ||
	    ctr->len < (size_t)ncpus * sizeof(struct fp_counters))
		return -EINVAL;
	rc = map_pages(fp, slot, ctr);
	if (rc == 0)
		fp->ncpus = ncpus;
	return rc;
}

void fp_unmap(struct fastpath *fp)
{
	if (fp->ctr)
		munmap((void *)fp->ctr, fp->ctr_len);
	if (fp->sl)
		munmap(fp->sl, fp->sl_len);
	if (fp->peers)
		munmap((void *)fp->peers, fp->peers_len);
	fp->ctr = NULL;
	fp->sl = NULL;
	fp->peers = NULL;
}

/* ---- Remote = any -------------------------------------------------------- */

int fp_hub_fd(const struct fastpath *fp, size_t *len)
{
	*len = page_round((size_t)FP_HUB_PEERS * sizeof(struct fp_peer_ctr));
	return fp->skel && fp->sl && fp->sl->cfg.hub ? bpf_map__fd(fp->skel->maps.hub_peers) : -1;
}

int fp_map_peers(struct fastpath *fp, int fd, size_t len)
{
	void *m;

	if (len < (size_t)FP_HUB_PEERS * sizeof(struct fp_peer_ctr))
		return -EINVAL;
	m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	if (fp->peers)
		munmap((void *)fp->peers, fp->peers_len);
	fp->peers = m;
	fp->peers_len = len;
	return 0;
}

void fp_peer_counters(const struct fastpath *fp, uint32_t idx, struct fp_peer_ctr *out)
{
	const struct fp_peer_ctr *p;

	memset(out, 0, sizeof(*out));
	if (!fp->peers || idx >= FP_HUB_PEERS)
		return;
	p = &fp->peers[idx];
	out->rx_packets = __atomic_load_n(&p->rx_packets, __ATOMIC_RELAXED);
	out->rx_bytes = __atomic_load_n(&p->rx_bytes, __ATOMIC_RELAXED);
	out->tx_packets = __atomic_load_n(&p->tx_packets, __ATOMIC_RELAXED);
	out->tx_bytes = __atomic_load_n(&p->tx_bytes, __ATOMIC_RELAXED);
	out->last_rx_ms = __atomic_load_n(&p->last_rx_ms, __ATOMIC_RELAXED);
	out->last_tx_ms = __atomic_load_n(&p->last_tx_ms, __ATOMIC_RELAXED);
}

/* Routes in the order of their keys (length, then address). */
static int entry_cmp(const struct fp_hub_entry *x, const struct fp_hub_entry *y)
{
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->dst < y->dst ? -1 : x->dst > y->dst;
}

/* ... and of one prefix, in the order they were given */
static int order_cmp(const struct fp_hub_entry *x, const struct fp_hub_entry *y)
{
	int c = entry_cmp(x, y);

	return c ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Heapsort by order_cmp (no qsort(): glibc's may ask the kernel what the sandbox refuses). */
static void sift(struct fp_hub_entry *e, size_t root, size_t n)
{
	for (size_t child; (child = 2 * root + 1) < n; root = child) {
		struct fp_hub_entry t;

		if (child + 1 < n && order_cmp(&e[child], &e[child + 1]) < 0)
			child++;
		if (order_cmp(&e[root], &e[child]) >= 0)
			return;
		t = e[root];
		e[root] = e[child];
		e[child] = t;
	}
}

static void sort_entries(struct fp_hub_entry *e, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift(e, i, n);
	for (size_t i = n; i-- > 1;) {
		struct fp_hub_entry t = e[0];

		e[0] = e[i];
		e[i] = t;
		sift(e, 0, i);
	}
}

int fp_hub_routes(struct fastpath *fp, const struct fp_hub_entry *r, size_t n)
{
	struct fp_hub_entry *now, *was = fp->hub_routes;
	size_t nn = 0, i = 0, j = 0, nw = fp->n_hub_routes;
	int fd, rc = 0;

	if (!fp->skel || !fp->sl || !fp->sl->cfg.hub)
		return 0;
	fd = bpf_map__fd(fp->skel->maps.hub_routes);
	now = calloc(n ? n : 1, sizeof(*now));
	if (!now)
		return -ENOMEM;
	for (size_t k = 0; k < n; k++) {
		now[nn] = r[k];
		now[nn].dst &= prefix_mask(r[k].len);
		now[nn].seq = (uint32_t)k;
		nn += r[k].len <= 32;
	}
	sort_entries(now, nn);
	/* new and changed routes first: a route that stays is never missing */
	for (i = 0; i < nn; i++) {
		struct fp_hub_key k = { .len = now[i].len, .addr = now[i].dst };
		struct fp_hub_route v = { .gw = now[i].gw, .peer = now[i].peer };

		if (i + 1 < nn && !entry_cmp(&now[i], &now[i + 1]))
			continue;	/* the later of one prefix counts, as in hub_build() */
		while (j < nw && entry_cmp(&was[j], &now[i]) < 0)
			j++;
		if (j < nw && !entry_cmp(&was[j], &now[i]) && was[j].gw == v.gw &&
		    was[j].peer == v.peer)
			continue;
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY) < 0)
			rc = -errno;
	}
	/* then the ones that went */
	for (i = 0, j = 0; j < nw; j++) {
		struct fp_hub_key k = { .len = was[j].len, .addr = was[j].dst };

		while (i < nn && entry_cmp(&now[i], &was[j]) < 0)
			i++;
		if ((i >= nn || entry_cmp(&now[i], &was[j])) &&
		    bpf_map_delete_elem(fd, &k) < 0 && errno != ENOENT)
			rc = -errno;
	}
	free(was);
	fp->hub_routes = now;
	fp->n_hub_routes = nn;
	return rc;
}

int fp_hub_hop(struct fastpath *fp, uint32_t idx, int ifindex)
{
	uint32_t v = ifindex > 0 ? (uint32_t)ifindex : 0;

	if (!fp->skel || !fp->sl || !fp->sl->cfg.hub || idx >= FP_HUB_PEERS)
		return 0;
	return bpf_map_update_elem(bpf_map__fd(fp->skel->maps.hub_hops), &idx, &v, BPF_ANY) < 0 ?
	       -errno : 0;
}

int fp_hub_underlays(struct fastpath *fp, const uint32_t *ifindex, unsigned n)
{
	const struct fp_slot *sl = fp->sl;

	if (!fp->shared || !sl)
		return 0;
	if (n > FPS_ALSO_MAX)
		n = FPS_ALSO_MAX;
	if (!fp->also_stale && n == fp->n_also && !memcmp(ifindex, fp->also, n * sizeof(*ifindex)))
		return (int)fp->share.n_also;
	memcpy(fp->also, ifindex, n * sizeof(*ifindex));
	fp->n_also = n;
	fp->also_stale = false;
	return fps_also(&fp->share, ifindex, n, (int)__atomic_load_n(&sl->state.rx_l2,
								     __ATOMIC_RELAXED));
}

int fp_set_own(struct fastpath *fp, const uint32_t *addr, unsigned n)
{
	uint32_t key, next;
	const uint32_t *prev = NULL;
	uint8_t one = 1;
	int rc = 0;

	if (fp->own_fd < 0)
		return 0;
	if (n > FP_OWN_MAX)
		n = FP_OWN_MAX;
	/* new ones first: an address is never missing while it stays */
	for (unsigned i = 0; i < n; i++)
		if (bpf_map_update_elem(fp->own_fd, &addr[i], &one, BPF_ANY) < 0)
			rc = -errno;
	while (bpf_map_get_next_key(fp->own_fd, prev, &next) == 0) {
		if (!u32_listed(addr, n, next) && bpf_map_delete_elem(fp->own_fd, &next) == 0) {
			prev = NULL;	/* the walk starts over after a deletion */
			continue;
		}
		key = next;
		prev = &key;
	}
	return rc;
}

void fp_counters(const struct fastpath *fp, uint64_t out[FP_COUNTER_MAX])
{
	memset(out, 0, FP_COUNTER_MAX * sizeof(out[0]));
	if (!fp->ctr)
		return;
	for (int c = 0; c < fp->ncpus; c++)
		for (int k = 0; k < FP_COUNTER_MAX; k++)
			out[k] += __atomic_load_n(&fp->ctr[c].c[k], __ATOMIC_RELAXED);
}
