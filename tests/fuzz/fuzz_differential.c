/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Differential test of the two datapaths: every input goes through the C
 * packet code (src/packet.c, the userspace datapath) and through the eBPF
 * programs (src/bpf/ipip.bpf.c, the fast path, run with BPF_PROG_TEST_RUN),
 * and both must agree.  Needs root (bpf(2), a network namespace of its own).
 *
 * Input: the format of fuzz_decap.c, so that its corpus replays here too: one
 * settings byte (ECN mode, DSCP uniform, TOS inherit, DiscoverPathMTU, fixed
 * TTL 64, fixed TOS; see there) and then the packet bytes.  The packet is
 *   decapsulated: as received from the peer 192.0.2.1 by the tunnel end
 *     192.0.2.2: C ipip_decap() on the outer packet, ipip_ingress on an
 *     Ethernet frame carrying it (state.rx_l2 = 14);
 *   encapsulated: as routed into the tunnel device: C ipip_encap() on the
 *     inner packet, ipip_egress on an Ethernet frame carrying it
 *     (cfg.tun_l2 = 14: BPF_PROG_TEST_RUN of a SCHED_CLS program takes
 *     Ethernet frames only; the EtherType is always IPv4);
 * each in up to three forms: as given; with the header checksums repaired;
 * with the total lengths set to the packet's and the checksums repaired and,
 * for decapsulation, the outer header made this tunnel's (protocol 4, Remote
 * to Local).  A form that equals an earlier one is not run again.  Each form
 * runs in several environments (struct env below): AllowedSources with
 * AllowSourceRoute or neither, the soft state the programs read per packet
 * (state.pmtu, path_ttl, unreach) and the underlay's MTU (the loopback
 * device of the harness's own network namespace is the underlay: what
 * bpf_check_mtu() reports).  In every environment the host's own addresses
 * are HOST_ADDRS (the C code's struct own_addrs, the programs' "own" map),
 * the tunnel address is TUN_ADDR.  Two environments encapsulate with UDP
 * (Encapsulation = fou, gue; SourcePort = auto: the programs' flow hash
 * must give C's port).  One is a hub (Remote = any, HUB_ROUTES below,
 * written with fp_hub_routes() as the daemon writes them): C's side is
 * what src/dp_tx.c and dp_rx.c add to the packet code, the outer destination from
 * the inner destination's route (hub_lookup(), tx_no_peer outside
 * AllowedRemotes) and the per-peer source check (rx_peer_source); a
 * replay must take that environment both fast and slow, both ways.  The programs are loaded once and set
 * before every run as the daemon sets them while they run (src/fastpath.c,
 * through their slot and counters mapped with fp_map(), as the datapath
 * process has them): their configuration by fp_set_config() (what a reload
 * does) from fp_config_init() of the same struct ipip_params the C code
 * gets, the soft state by fp_set_state(), the host's addresses by
 * fp_set_own().  The counters are read where the daemon reads them: every
 * CPU's entry of the mapped counters map, before and after the run.
 *
 * The agreement rule.  The eBPF verdict is one of
 *   FAST   TC_ACT_REDIRECT; the counters say RX_PACKETS +1 and RX_BYTES +the
 *          inner length (TX_PACKETS +1, TX_BYTES +the inner length);
 *   SLOW   TC_ACT_UNSPEC; the counters say RX_SLOW +1 (TX_SLOW +1);
 *   OTHER  TC_ACT_UNSPEC, nothing counted: another tunnel's packet (ingress
 *          only);
 *   DROP   TC_ACT_SHOT; the counters say RX_ERROR +1 (TX_ERROR +1);
 * no other counter moves, and the outer ID counter ip_id (set to a known
 * value before each run) advances by one on FAST and stays on every other
 * verdict.  The C verdict is PKT_OK or a drop reason.  They agree when
 *   1. FAST: C says PKT_OK, no slow reason below holds, and the frame the
 *      program leaves is the input's Ethernet header followed by exactly
 *      what C produces: decapsulation: the inner packet after C's in-place
 *      ECN/DSCP rewrite and checksum update (rx.inner_off, rx.inner_len);
 *      encapsulation: C's outer header, with the ID the program took put in
 *      by ipv4_set_id(), followed by the inner packet unchanged.
 *   2. SLOW: C drops it (the slow path then drops it with C's reason), or
 *      C says PKT_OK and one of the documented slow reasons holds:
 *        decapsulation:
 *          - the outer header has options (IHL != 5);
 *          - the inner header has options;
 *          - the outer total length is below the frame's length (link-layer
 *            padding or trailing bytes; the stack trims them);
 *          - the inner total length is below the outer payload's;
 *          - the ECN combination is one RFC 6040 marks "(!!!)" (outer
 *            ECT/CE over inner Not-ECT is dropped or logged, inner CE
 *            under outer ECT(1) logged: the slow path's ecn_unusual);
 *        encapsulation:
 *          - the inner header has options;
 *          - a hub: the inner destination's route has no gateway;
 *          - UDP encapsulation: the inner packet is UDP from Local to Remote
 *            (the slow path decides on its port), or it is too short to hold
 *            the ports the flow hash takes;
 *          - state.unreach is set (RFC 2003 5 soft state);
 *          - the outer TTL (fixed, or the inner one) is below state.path_ttl;
 *          - the inner packet is longer than state.pmtu or than the
 *            underlay's MTU less the outer header (20 bytes; 28, 32 with
 *            UDP) (fragmentation or "fragmentation needed" in the slow path).
 *   3. OTHER (ingress only) exactly when the frame does not hold 40 bytes of
 *      IPv4 from Remote (a hub: from AllowedRemotes) to Local with protocol 4
 *      after the Ethernet header;
 *      C then drops it (it is not this tunnel's).
 *   4. DROP: C drops it too.
 * Rules 1 and 2 together: the programs take a packet fast exactly when C
 * carries it and no slow reason holds.  Anything else is a CHECK failure,
 * reported with the direction, environment, form and both verdicts.  The
 * slow reasons are rx_slow_reason() and tx_slow_reason() below.
 *
 * Not compared: packets BPF_PROG_TEST_RUN refuses (counted in the summary):
 * shorter than an IPv4 header, or longer than a page less the skb's head-
 * and tailroom (about 3.7 KB); GSO super-packets (a test run cannot set a
 * GSO type, and the C code sees segments); the production layouts without a
 * link-layer header (cfg.tun_l2 = 0, state.rx_l2 = 0: a test run needs an
 * Ethernet header); the redirect targets (a test run does not redirect).
 */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fastpath.h"
#include "hub.h"
#include "ipip.skel.h"
#include "fuzz.h"
#include "packet.h"

#define LOCAL 0xc0000202u	/* 192.0.2.2 (host order) */
#define REMOTE 0xc0000201u	/* 192.0.2.1 */
#define TUN_ADDR 0xcb007105u	/* 203.0.113.5 */
#define DEV_MTU 1480u		/* the tunnel device's MTU */
#define LO_IFINDEX 1
#define TUN_IFINDEX 7		/* the redirect target; a test run does not redirect */

/* The host's addresses (the "own" map): Local, the tunnel address and others. */
static const uint32_t HOST_ADDRS[] = {
	LOCAL, TUN_ADDR, 0xc63364c8u /* 198.51.100.200 */, 0xcb007163u /* 203.0.113.99 */,
	0x0a010203u /* 10.1.2.3 */,
};
#define N_HOST (sizeof(HOST_ADDRS) / sizeof(HOST_ADDRS[0]))

/*
 * AllowedSources of variant 1 (variant 0 has none), host order; 172.16.5.9/12
 * has host bits set (fp_config_init masks them, prefix_match ignores them).
 */
static const struct { uint32_t addr; unsigned len; } ALLOWED[] = {
	{ 0xcb007100u, 25 },	/* 203.0.113.0/25: holds 203.0.113.99, a host address */
	{ 0x0a000000u, 8 },	/* 10.0.0.0/8 */
	{ 0xc6336407u, 32 },	/* 198.51.100.7/32 */
	{ 0xac100509u, 12 },	/* 172.16.5.9/12 */
	{ 0xc0000201u, 32 },	/* Remote itself */
};
#define N_ALLOWED (sizeof(ALLOWED) / sizeof(ALLOWED[0]))

/*
 * Variant 4, a hub (Remote = any, PeerSourceCheck = yes): AllowedRemotes
 * 192.0.2.0/30 (Remote, 192.0.2.1, and 192.0.2.3 among them), and the routes
 * into the device, host order; gateway 0: none.  Each peer's device is lo.
 */
static const struct { uint32_t dst; unsigned len; uint32_t gw; } HUB_ROUTES[] = {
	{ 0x00000000u, 1, REMOTE },		/* 0.0.0.0/1 via Remote */
	{ 0x80000000u, 1, 0xc0000203u },	/* 128.0.0.0/1 via 192.0.2.3 */
	{ 0xcb007100u, 24, REMOTE },		/* 203.0.113.0/24 via Remote */
	{ 0xc6336400u, 24, 0 },			/* 198.51.100.0/24, no gateway */
	{ 0x0a000000u, 8, 0xc0000263u },	/* 10.0.0.0/8 via 192.0.2.99: not allowed */
};
#define N_HUB_ROUTES (sizeof(HUB_ROUTES) / sizeof(HUB_ROUTES[0]))
static struct prefix hub_remotes[1];
static struct hub_table *hub;	/* C's table of them (hub.h) */

/* Where a packet is tested: the programs' configuration variant and their soft state. */
struct env {
	const char *name;
	unsigned variant;	/* 1: AllowedSources and AllowSourceRoute = yes;
				 * 2, 3: Encapsulation = fou, gue (SourcePort = auto);
				 * 4: a hub (HUB_ROUTES) */
	bool rx, tx;		/* decapsulate, encapsulate here */
	uint32_t pmtu, path_ttl, unreach;	/* struct fp_state */
	int underlay_mtu;	/* of lo, the ifindex of state.egress */
};

static const struct env ENVS[] = {
	{ "open", 0, true, true, DEV_MTU, 0, 0, 1500 },
	{ "allowed-sources,pmtu-1000,path-ttl-64", 1, true, true, 1000, 64, 0, 1500 },
	{ "pmtu-1275,underlay-mtu-1280", 0, false, true, 1275, 0, 0, 1280 },
	{ "pmtu-3000,underlay-mtu-9000", 0, false, true, 3000, 0, 0, 9000 },
	{ "unreachable", 0, false, true, DEV_MTU, 0, 1, 1500 },
	{ "fou", 2, false, true, DEV_MTU, 0, 0, 1500 },
	{ "gue,pmtu-1275,underlay-mtu-1280", 3, false, true, 1275, 0, 0, 1280 },
	{ "hub", 4, true, true, DEV_MTU, 0, 0, 1500 },
};
#define N_ENVS (sizeof(ENVS) / sizeof(ENVS[0]))

/* The programs, loaded once; configured before each run through fp. */
static struct ipip_bpf *skel;
static int prog_fd[FP_HOOKS];
static struct fastpath fp;	/* their slot and counters mapped by fp_map() */

static struct own_addrs host;
static struct prefix allowed[N_ALLOWED];
static size_t max_frame;	/* the longest frame a test run takes */
static bool under_libfuzzer;
static uint32_t next_id = 0x5eed0000u;

/* What the summary reports. */
enum bv { BV_FAST, BV_SLOW, BV_OTHER, BV_DROP, BV_MAX };
static const char *const bv_name[BV_MAX] = { "fast", "slow", "other", "drop" };
enum dir { RX, TX };
static const char *const dir_name[2] = { "decapsulation", "encapsulation" };
static unsigned long long n_inputs, n_untestable, n_runs[2], n_bv[2][BV_MAX], n_c_drop[2];
#define MAX_REASONS 16
static struct { const char *why; unsigned long long n; } reasons[2][MAX_REASONS];
static unsigned long long n_env[2][N_ENVS][BV_MAX];	/* verdicts in each environment */

/* The run under test, for the report of a disagreement. */
static struct {
	enum dir dir;
	const struct env *env;
	const char *form;
	uint8_t settings;
	const uint8_t *pkt;
	size_t len;
} cur;

static void hexdump(const char *what, const uint8_t *p, size_t len)
{
	fprintf(stderr, "  %s (%zu bytes):", what, len);
	for (size_t i = 0; i < len && i < 96; i++)
		fprintf(stderr, "%s%02x", i % 16 ? " " : "\n    ", p[i]);
	fprintf(stderr, "%s\n", len > 96 ? " ..." : "");
}

/* A disagreement: say what ran and abort (libFuzzer keeps the input). */
static void __attribute__((noreturn, format(printf, 1, 2))) disagree(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "differential: DISAGREEMENT in %s, environment %s, packet %s, "
		"settings 0x%02x:\n  ", dir_name[cur.dir], cur.env->name, cur.form, cur.settings);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	hexdump("packet", cur.pkt, cur.len);
	CHECK(!"the datapaths agree");
	abort();
}

static void __attribute__((noreturn)) die(const char *what, int err)
{
	fprintf(stderr, "differential: cannot %s: %s (the harness needs root and a kernel "
		"that loads the eBPF fast path)\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The settings byte of fuzz_decap.c. */
static void set_params(struct ipip_params *p, uint8_t s, unsigned variant)
{
	static const enum ecn_mode modes[4] = {
		ECN_MODE_NORMAL, ECN_MODE_COMPAT, ECN_MODE_KERNEL, ECN_MODE_NORMAL,
	};
	static const uint8_t fixed_tos[4] = { 0x00, 0x20, 0xb8, 0xfc };

	memset(p, 0, sizeof(*p));
	p->local = htonl(LOCAL);
	p->remote = htonl(REMOTE);
	p->ecn = modes[s & 3];
	p->dscp_uniform = s & 0x04;
	p->tos_inherit = s & 0x08;
	p->pmtudisc = s & 0x10;
	p->ttl = (s & 0x20) ? 64 : 0;
	p->tos = fixed_tos[s >> 6];
	p->own[0] = p->local;
	p->own[1] = htonl(TUN_ADDR);
	p->host = &host;
	if (variant == 1) {
		p->allowed = allowed;
		p->n_allowed = N_ALLOWED;
		p->allow_source_route = true;
	}
	if (variant == 4) {
		p->remote = 0;
		p->remote_any = true;
		p->allowed_remotes = hub_remotes;
		p->n_allowed_remotes = 1;
		p->peer_check = true;
	}
	if (variant == 2 || variant == 3) {
		p->encap = variant == 2 ? ENCAP_FOU : ENCAP_GUE;
		p->port = 5555;
		p->remote_port = 6666;
		p->sport_min = 32768;
		p->sport_max = 61000;
	}
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

/* The frame length a test run of a SCHED_CLS program takes at most (found by asking). */
static size_t probe_max_frame(int fd)
{
	static uint8_t frame[65536], out[65536 + 64];
	size_t lo = ETH_HLEN + IPV4_HLEN, hi = sizeof(frame);

	frame[12] = 0x08;	/* IPv4, and nothing of ours after it */
	while (lo < hi) {
		size_t mid = (lo + hi + 1) / 2;
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (uint32_t)mid,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

		if (bpf_prog_test_run_opts(fd, &o) == 0)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

static int ioctl_fd = -1, underlay_mtu;

/* The underlay's MTU (lo's, in the harness's own network namespace). */
static void set_underlay_mtu(int mtu)
{
	struct ifreq ifr;

	if (mtu == underlay_mtu)
		return;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	ifr.ifr_mtu = mtu;
	if (ioctl(ioctl_fd, SIOCSIFMTU, &ifr) < 0)
		die("set the MTU of lo", errno);
	underlay_mtu = mtu;
}

static void setup(void)
{
	uint32_t addrs[N_HOST];

	/* the underlay (lo) gets MTUs of its own, away from the host's */
	if (unshare(CLONE_NEWNET) < 0)
		die("make a network namespace", errno);
	ioctl_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ioctl_fd < 0)
		die("open a socket", errno);
	set_underlay_mtu(1500);
	for (size_t i = 0; i < N_HOST; i++)
		addrs[i] = htonl(HOST_ADDRS[i]);
	own_addrs_publish(&host, addrs, N_HOST);
	for (size_t i = 0; i < N_ALLOWED; i++) {
		allowed[i].addr = htonl(ALLOWED[i].addr);
		allowed[i].len = ALLOWED[i].len;
	}
	libbpf_set_print(quiet);
}

static size_t page_round(size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (len + page - 1) / page * page;
}

/* Load the programs as fp_start() does, without attaching them; map them as the datapath does. */
static void load(void)
{
	struct ipip_params p;
	struct fp_config cfg;
	uint32_t own[N_HOST];
	int ncpus = libbpf_num_possible_cpus(), rc;

	if (ncpus <= 0)
		die("count the CPUs", ncpus ? ncpus : EINVAL);
	set_params(&p, 0, 0);
	fp_config_init(&cfg, &p, htonl(TUN_ADDR), TUN_IFINDEX, LO_IFINDEX, DEV_MTU);
	cfg.tun_l2 = ETH_HLEN;
	skel = ipip_bpf__open();
	if (!skel)
		die("open the eBPF programs", errno ? errno : ENOMEM);
	rc = bpf_map__set_max_entries(skel->maps.counters, (uint32_t)ncpus);
	if (rc == 0)
		rc = ipip_bpf__load(skel);
	if (rc < 0)
		die("load the eBPF programs", rc);
	prog_fd[FP_EGRESS] = bpf_program__fd(skel->progs.ipip_egress);
	prog_fd[FP_INGRESS] = bpf_program__fd(skel->progs.ipip_ingress);
	fp_init(&fp);
	{
		struct fp_pages sp = { bpf_map__fd(skel->maps.slots), 0,
				       page_round(sizeof(struct fp_slot)) };
		struct fp_pages cp = { bpf_map__fd(skel->maps.counters), 0,
				       page_round((size_t)ncpus * sizeof(struct fp_counters)) };

		rc = fp_map(&fp, &sp, &cp, ncpus);
	}
	if (rc < 0)
		die("map the programs' slot and counters", rc);
	fp.sl->cfg = cfg;
	fp.sl->state.pmtu = DEV_MTU;
	fp.sl->state.egress = FP_EGRESS_WORD(LO_IFINDEX, 0);
	fp.sl->state.rx_l2 = ETH_HLEN;
	fp.own_fd = bpf_map__fd(skel->maps.own);
	for (size_t i = 0; i < N_HOST; i++)
		own[i] = htonl(HOST_ADDRS[i]);
	rc = fp_set_own(&fp, own, N_HOST);
	if (rc < 0)
		die("fill the map of the host's addresses", rc);
	/* the hub's routes, through fp_hub_routes() as the daemon writes them, and C's table */
	{
		struct fp_hub_entry e[N_HUB_ROUTES];
		struct hub_route r[N_HUB_ROUTES];
		uint32_t peer = 0;

		hub_remotes[0] = (struct prefix){ htonl(0xc0000200u), 30 };
		for (size_t i = 0; i < N_HUB_ROUTES; i++) {
			uint32_t idx = HUB_ROUTES[i].gw ? peer++ : HUB_NO_PEER;

			e[i] = (struct fp_hub_entry){ .dst = htonl(HUB_ROUTES[i].dst),
						      .gw = htonl(HUB_ROUTES[i].gw), .peer = idx,
						      .len = HUB_ROUTES[i].len };
			r[i] = (struct hub_route){ .dst = e[i].dst, .len = (uint8_t)e[i].len,
						   .gw = e[i].gw, .peer = idx };
		}
		fp.skel = skel;
		fp.sl->cfg.hub = 1;
		rc = fp_hub_routes(&fp, e, N_HUB_ROUTES);
		for (uint32_t i = 0; rc == 0 && i < peer; i++)
			rc = fp_hub_hop(&fp, i, LO_IFINDEX);
		fp.sl->cfg.hub = 0;
		if (rc < 0)
			die("fill the hub's maps", rc);
		hub = hub_build(r, N_HUB_ROUTES);
		if (!hub)
			die("build the hub's table", ENOMEM);
	}
	max_frame = probe_max_frame(prog_fd[FP_INGRESS]);
	if (max_frame < ETH_HLEN + 2 * IPV4_HLEN + 1500)
		die("test-run frames of 1554 bytes", EMSGSIZE);
}

/* The settings and soft state of this run, stored into the running programs. */
static void configure(uint8_t settings, const struct env *e)
{
	struct ipip_params p;
	struct fp_config cfg;

	set_params(&p, settings, e->variant);
	fp_config_init(&cfg, &p, htonl(TUN_ADDR), TUN_IFINDEX, LO_IFINDEX, DEV_MTU);
	cfg.tun_l2 = ETH_HLEN;
	fp_set_config(&fp, &cfg);
	fp_set_state(&fp, e->pmtu, e->path_ttl, e->unreach != 0);
	set_underlay_mtu(e->underlay_mtu);
}

static void read_counters(uint64_t out[FP_COUNTER_MAX])
{
	memset(out, 0, FP_COUNTER_MAX * sizeof(out[0]));
	for (int c = 0; c < fp.ncpus; c++)
		for (int k = 0; k < FP_COUNTER_MAX; k++)
			out[k] += __atomic_load_n(&fp.ctr[c].c[k], __ATOMIC_RELAXED);
}

/* The program's result, its counters and its ID consumption, checked against each other. */
struct bpf_result {
	enum bv v;
	uint32_t retval;
	uint8_t out[65536 + 64];
	size_t out_len;
	uint32_t id;		/* the ID the program had to take */
};

static void run(enum fp_hook hook, const uint8_t *frame, size_t len, struct bpf_result *r)
{
	static const char *const ctr_name[FP_COUNTER_MAX] = {
		"RX_PACKETS", "RX_BYTES", "TX_PACKETS", "TX_BYTES",
		"RX_SLOW", "TX_SLOW", "RX_ERROR", "TX_ERROR",
	};
	uint64_t before[FP_COUNTER_MAX], after[FP_COUNTER_MAX], want[FP_COUNTER_MAX];
	bool rx = hook == FP_INGRESS;
	uint32_t id_after;
	int rc;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (uint32_t)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .repeat = 1);

	r->id = next_id;
	next_id += 0x9e3779b9u;	/* every low 16 bits in time, 0xffff and 0 among them */
	atomic_store_explicit(fp_ids(&fp), r->id, memory_order_relaxed);
	read_counters(before);
	rc = bpf_prog_test_run_opts(prog_fd[hook], &o);
	if (rc < 0)
		disagree("BPF_PROG_TEST_RUN failed: %s", strerror(-rc));
	read_counters(after);
	id_after = atomic_load_explicit(fp_ids(&fp), memory_order_relaxed);
	r->retval = o.retval;
	r->out_len = o.data_size_out;

	memset(want, 0, sizeof(want));
	switch ((int)o.retval) {
	case TC_ACT_REDIRECT:
		r->v = BV_FAST;
		if (r->out_len < ETH_HLEN)
			disagree("a fast packet of %zu bytes", r->out_len);
		want[rx ? FP_RX_PACKETS : FP_TX_PACKETS] = 1;
		/* inner bytes: what remains (decapsulation), what came (encapsulation) */
		want[rx ? FP_RX_BYTES : FP_TX_BYTES] = rx ? r->out_len - ETH_HLEN : len - ETH_HLEN;
		break;
	case TC_ACT_UNSPEC:
		r->v = after[rx ? FP_RX_SLOW : FP_TX_SLOW] != before[rx ? FP_RX_SLOW : FP_TX_SLOW] ||
		       !rx ? BV_SLOW : BV_OTHER;
		want[rx ? FP_RX_SLOW : FP_TX_SLOW] = r->v == BV_SLOW;
		break;
	case TC_ACT_SHOT:
		r->v = BV_DROP;
		want[rx ? FP_RX_ERROR : FP_TX_ERROR] = 1;
		break;
	default:
		disagree("the program returned %d", (int)o.retval);
	}
	for (int k = 0; k < FP_COUNTER_MAX; k++)
		if (after[k] - before[k] != want[k])
			disagree("verdict %s (return value %d) but counter %s went up by %llu, "
				 "not %llu", bv_name[r->v], (int)o.retval, ctr_name[k],
				 (unsigned long long)(after[k] - before[k]),
				 (unsigned long long)want[k]);
	if (id_after != r->id + (!rx && r->v == BV_FAST))
		disagree("verdict %s but the outer ID counter went from 0x%08x to 0x%08x",
			 bv_name[r->v], r->id, id_after);
	n_runs[rx ? RX : TX]++;
	n_bv[rx ? RX : TX][r->v]++;
}

/*
 * What both datapaths did with a packet, as coverage for libFuzzer (which
 * sees no coverage of the programs): a counter per direction, environment,
 * eBPF verdict and C verdict or slow reason.  Only a section to gcc.
 */
#define OUTCOMES (PKT_VERDICT_MAX + MAX_REASONS)
static uint8_t outcome[2][N_ENVS][BV_MAX][OUTCOMES]
	__attribute__((section("__libfuzzer_extra_counters"), used));

static void note(enum dir d, enum bv b, enum pkt_verdict v, const char *why)
{
	int o = (int)v;
	uint8_t *n;

	for (int i = 0; why && i < MAX_REASONS; i++) {
		if (!reasons[d][i].why)
			reasons[d][i].why = why;
		if (reasons[d][i].why == why) {
			reasons[d][i].n++;
			o = PKT_VERDICT_MAX + i;
			break;
		}
	}
	n_env[d][cur.env - ENVS][b]++;
	n = &outcome[d][cur.env - ENVS][b][o];
	if (*n < 255)
		(*n)++;
}

/* The frame a test run gets: an Ethernet header (IPv4) and the packet. */
static size_t make_frame(uint8_t *frame, const uint8_t *pkt, size_t len)
{
	/* to lo's address (all zeros): a frame for this host, as the ingress program takes in */
	static const uint8_t eth[ETH_HLEN] = {
		0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00,
	};

	memcpy(frame, eth, ETH_HLEN);
	memcpy(frame + ETH_HLEN, pkt, len);
	return ETH_HLEN + len;
}

/* Why the fast path leaves a packet C decapsulates (rx from C) to the slow path, or NULL. */
static const char *rx_slow_reason(const uint8_t *pkt, size_t len, const struct ipip_rx *rx)
{
	const uint8_t *in = pkt + rx->inner_off;

	if (rx->inner_off != IPV4_HLEN)
		return "outer options";
	if ((in[0] & 0x0f) != 5)
		return "inner options";
	if (get16(pkt + 2) != len)
		return "outer total length below the frame's";
	if (rx->inner_len != (size_t)get16(pkt + 2) - IPV4_HLEN)
		return "inner total length below the outer payload's";
	if (rx->ecn_unusual)
		return "unusual ECN combination (RFC 6040)";
	return NULL;
}

/* Is the frame's packet, for the ingress program, this tunnel's (a hub: from any AllowedRemotes)? */
static bool rx_ours(const struct ipip_params *p, const uint8_t *pkt, size_t len)
{
	uint32_t src = htonl(REMOTE), dst = htonl(LOCAL), from;

	if (len < 2 * IPV4_HLEN || pkt[9] != IPPROTO_IPIP_ || memcmp(pkt + 16, &dst, 4))
		return false;
	memcpy(&from, pkt + 12, 4);
	return p->remote_any ? ipip_remote_ok(p, from) : from == src;
}

/*
 * A hub: what the datapath (src/dp_rx.c) adds to C's decapsulation, the
 * per-peer source check: the inner source's route must lead to the sender.
 */
static enum pkt_verdict hub_rx(const struct ipip_params *p, const uint8_t *pkt,
			       const struct ipip_rx *rx)
{
	uint32_t src, from, peer = 0;

	memcpy(&src, pkt + rx->inner_off + 12, 4);
	memcpy(&from, pkt + 12, 4);
	if (p->peer_check && (!hub_lookup(hub, src, &peer, NULL) || peer != from))
		return PKT_RX_PEER_SOURCE;
	return PKT_OK;
}

static void diff_rx(uint8_t settings, const struct env *e, const uint8_t *pkt, size_t len)
{
	static uint8_t frame[65536 + ETH_HLEN];
	static struct bpf_result r;
	struct ipip_params p;
	struct ipip_rx rx;
	enum pkt_verdict v;
	const char *why = NULL;
	uint8_t *c = malloc(len ? len : 1);	/* exactly len: the sanitizers see overreads */

	CHECK(c);
	memcpy(c, pkt, len);
	set_params(&p, settings, e->variant);
	v = ipip_decap(&p, c, len, &rx);
	if (v == PKT_OK && p.remote_any)
		v = hub_rx(&p, pkt, &rx);
	configure(settings, e);
	run(FP_INGRESS, frame, make_frame(frame, pkt, len), &r);

	if (v == PKT_OK)
		why = rx_slow_reason(pkt, len, &rx);
	else
		n_c_drop[RX]++;
	if ((r.v == BV_OTHER) != !rx_ours(&p, pkt, len))
		disagree("verdict %s for %s packet", bv_name[r.v],
			 rx_ours(&p, pkt, len) ? "this tunnel's" : "another tunnel's");
	switch (r.v) {
	case BV_FAST:
		if (v != PKT_OK)
			disagree("fast, but C drops it: %s", pkt_verdict_name(v));
		if (why)
			disagree("fast, but it must go slow: %s", why);
		if (r.out_len != ETH_HLEN + rx.inner_len || memcmp(r.out, frame, ETH_HLEN) ||
		    memcmp(r.out + ETH_HLEN, c + rx.inner_off, rx.inner_len)) {
			hexdump("C's inner packet", c + rx.inner_off, rx.inner_len);
			hexdump("the program's frame", r.out, r.out_len);
			disagree("fast, but not the bytes C produces");
		}
		break;
	case BV_SLOW:
		if (v == PKT_OK && !why)
			disagree("slow, but C decapsulates it and no slow reason holds");
		break;
	case BV_OTHER:
		if (v == PKT_OK)
			disagree("another tunnel's, but C decapsulates it");
		break;
	default:
		if (v == PKT_OK)
			disagree("dropped (return value %d), but C decapsulates it", (int)r.retval);
		break;
	}
	note(RX, r.v, v, why);
	free(c);
}

/* Why the fast path leaves a packet C encapsulates to the slow path, or NULL. */
static const char *tx_slow_reason(const struct ipip_params *p, const struct env *e,
				  const uint8_t *pkt, size_t len)
{
	uint32_t umtu = (uint32_t)e->underlay_mtu - (uint32_t)ipip_outer_len(p);
	uint32_t limit = e->pmtu < umtu ? e->pmtu : umtu;
	uint8_t proto = pkt[9];

	if ((pkt[0] & 0x0f) != 5)
		return "inner options";
	if (p->remote_any) {
		uint32_t dst, peer, idx = HUB_NO_PEER;

		/* (every route with a gateway has a peer number here) */
		memcpy(&dst, pkt + 16, 4);
		if (!hub_lookup(hub, dst, &peer, &idx) || idx == HUB_NO_PEER)
			return "a hub's packet by a route without a gateway";
	}
	if (p->encap != ENCAP_IPIP && proto == 17 && !memcmp(pkt + 12, &p->local, 4) &&
	    !memcmp(pkt + 16, &p->remote, 4))
		return "UDP from Local to Remote (the slow path looks at its port)";
	if (p->encap != ENCAP_IPIP && !p->sport && len < 24 && !(get16(pkt + 6) & 0x1fff) &&
	    (proto == 6 || proto == 17 || proto == 33 || proto == 132 || proto == 136))
		return "the flow hash's ports cut off";
	if (e->unreach)
		return "unreachable soft state";
	if ((p->ttl ? p->ttl : pkt[8]) < e->path_ttl)
		return "outer TTL below the path TTL";
	if (len > limit)
		return "longer than the path MTU";
	return NULL;
}

static void diff_tx(uint8_t settings, const struct env *e, const uint8_t *pkt, size_t len)
{
	static uint8_t frame[65536 + ETH_HLEN];
	static struct bpf_result r;
	struct ipip_params p;
	uint8_t outer[OUTER_MAX];
	enum pkt_verdict v;
	const char *why = NULL;
	uint8_t *c = malloc(len ? len : 1);
	size_t olen;

	CHECK(c);
	memcpy(c, pkt, len);
	set_params(&p, settings, e->variant);
	olen = ipip_outer_len(&p);
	if (p.remote_any) {
		/* src/dp_tx.c's tx_queue(): to the gateway of the inner destination's route */
		uint32_t peer = 0;

		if (len >= IPV4_HLEN)
			memcpy(&peer, pkt + 16, 4);
		hub_lookup(hub, peer, &peer, NULL);
		v = len >= IPV4_HLEN && !ipip_remote_ok(&p, peer) ? PKT_TX_NO_PEER :
		    ipip_encap_to(&p, peer, outer, c, len);
	} else {
		v = ipip_encap(&p, outer, c, len);
	}
	configure(settings, e);
	run(FP_EGRESS, frame, make_frame(frame, pkt, len), &r);

	if (v == PKT_OK)
		why = tx_slow_reason(&p, e, pkt, len);
	else
		n_c_drop[TX]++;
	switch (r.v) {
	case BV_FAST:
		if (v != PKT_OK)
			disagree("fast, but C drops it: %s", pkt_verdict_name(v));
		if (why)
			disagree("fast, but it must go slow: %s", why);
		ipv4_set_id(outer, (uint16_t)r.id);
		if (r.out_len != ETH_HLEN + olen + len || memcmp(r.out, frame, ETH_HLEN) ||
		    memcmp(r.out + ETH_HLEN, outer, olen) ||
		    memcmp(r.out + ETH_HLEN + olen, pkt, len)) {
			hexdump("C's outer header", outer, olen);
			hexdump("the program's frame", r.out, r.out_len);
			disagree("fast, but not the bytes C produces");
		}
		break;
	case BV_SLOW:
		if (v == PKT_OK && !why)
			disagree("slow, but C encapsulates it and no slow reason holds");
		break;
	case BV_OTHER:
		disagree("left alone uncounted");
	default:
		if (v == PKT_OK)
			disagree("dropped (return value %d), but C encapsulates it", (int)r.retval);
		break;
	}
	note(TX, r.v, v, why);
	free(c);
}

/* Set the header checksum of the IPv4 header at h if it fits in len bytes; its length or 0. */
static size_t fix_csum(uint8_t *h, size_t len)
{
	size_t hlen;

	if (len < IPV4_HLEN)
		return 0;
	hlen = (size_t)(h[0] & 0x0f) * 4;
	if (hlen < IPV4_HLEN || hlen > len)
		return 0;
	put16(h + 10, 0);
	put16(h + 10, inet_csum(h, hlen));
	return hlen;
}

static void summary(void)
{
	if (!n_inputs)
		return;
	printf("differential: %llu inputs, %llu not compared (a test run takes %zu to %zu bytes "
	       "of IPv4)\n", n_inputs, n_untestable, (size_t)IPV4_HLEN, max_frame - ETH_HLEN);
	for (int d = RX; d <= TX; d++) {
		printf("  %s: %llu runs: %llu fast, %llu slow, %llu other, %llu dropped; "
		       "C dropped %llu\n", dir_name[d], n_runs[d], n_bv[d][BV_FAST],
		       n_bv[d][BV_SLOW], n_bv[d][BV_OTHER], n_bv[d][BV_DROP], n_c_drop[d]);
		for (int i = 0; i < MAX_REASONS && reasons[d][i].why; i++)
			printf("    slow as documented, C would carry it: %s: %llu\n",
			       reasons[d][i].why, reasons[d][i].n);
		printf("    fast/slow by environment:");
		for (size_t e = 0; e < N_ENVS; e++)
			if (d == RX ? ENVS[e].rx : ENVS[e].tx)
				printf(" %s %llu/%llu", ENVS[e].name, n_env[d][e][BV_FAST],
				       n_env[d][e][BV_SLOW]);
		printf("\n");
	}
	fflush(stdout);
	/* a replay that compared nothing fast or slow (anywhere, or in a hub) proves nothing */
	if (!under_libfuzzer && (!n_bv[RX][BV_FAST] || !n_bv[RX][BV_SLOW] ||
				 !n_bv[TX][BV_FAST] || !n_bv[TX][BV_SLOW])) {
		fprintf(stderr, "differential: the corpus never took both datapaths fast and slow\n");
		_exit(1);
	}
	for (size_t e = 0; e < N_ENVS && !under_libfuzzer; e++) {
		if (ENVS[e].variant != 4)
			continue;
		for (int d = RX; d <= TX; d++) {
			if (n_env[d][e][BV_FAST] && n_env[d][e][BV_SLOW])
				continue;
			fprintf(stderr, "differential: the corpus never took both datapaths fast "
				"and slow in %s (%s)\n", ENVS[e].name, dir_name[d]);
			_exit(1);
		}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	under_libfuzzer = true;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static uint8_t forms[3][65536];
	static const char *const form_name[2][3] = {
		{ "as given", "with checksums repaired",
		  "this tunnel's, with lengths and checksums repaired" },
		{ "as given", "", "with its length and checksum repaired" },
	};
	uint8_t settings;
	size_t len, ohl;

	if (!ready) {
		setup();
		load();	/* fails now, not later, where BPF cannot load */
		atexit(summary);
		ready = true;
	}
	if (size < 1)
		return 0;
	settings = data[0];
	data++;
	len = size - 1;
	n_inputs++;
	if (len < IPV4_HLEN || ETH_HLEN + len > max_frame) {
		n_untestable++;
		return 0;
	}
	cur.settings = settings;
	cur.len = len;

	/* decapsulation */
	memcpy(forms[0], data, len);
	memcpy(forms[1], data, len);
	ohl = fix_csum(forms[1], len);
	if (ohl)
		fix_csum(forms[1] + ohl, len - ohl);
	memcpy(forms[2], data, len);
	if (len >= IPV4_HLEN) {
		uint32_t src = htonl(REMOTE), dst = htonl(LOCAL);

		put16(forms[2] + 2, (uint16_t)len);
		forms[2][9] = IPPROTO_IPIP_;
		memcpy(forms[2] + 12, &src, 4);
		memcpy(forms[2] + 16, &dst, 4);
	}
	ohl = fix_csum(forms[2], len);
	if (ohl && len - ohl >= IPV4_HLEN) {
		put16(forms[2] + ohl + 2, (uint16_t)(len - ohl));
		fix_csum(forms[2] + ohl, len - ohl);
	}
	cur.dir = RX;
	for (int f = 0; f < 3; f++) {
		if ((f >= 1 && !memcmp(forms[f], forms[0], len)) ||
		    (f == 2 && !memcmp(forms[2], forms[1], len)))
			continue;
		cur.form = form_name[RX][f];
		cur.pkt = forms[f];
		for (size_t i = 0; i < N_ENVS; i++) {
			if (!ENVS[i].rx)
				continue;
			cur.env = &ENVS[i];
			diff_rx(settings, &ENVS[i], forms[f], len);
		}
	}

	/* encapsulation: the program does not look at the inner checksum */
	memcpy(forms[2], data, len);
	if (len >= IPV4_HLEN)
		put16(forms[2] + 2, (uint16_t)len);
	fix_csum(forms[2], len);
	cur.dir = TX;
	for (int f = 0; f < 3; f += 2) {
		if (f == 2 && !memcmp(forms[2], forms[0], len))
			continue;
		cur.form = form_name[TX][f];
		cur.pkt = forms[f];
		for (size_t i = 0; i < N_ENVS; i++) {
			if (!ENVS[i].tx)
				continue;
			cur.env = &ENVS[i];
			diff_tx(settings, &ENVS[i], forms[f], len);
		}
	}
	return 0;
}
