/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "fastpath.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#define FP_TC_PRIORITY 0x1ee	/* clsact filter priority of every ipipd tunnel */

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

static uint32_t mask_of(unsigned len)
{
	uint32_t m = len ? ~0u << (32 - len) : 0;

	return htonl(m);
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
		cfg->allowed[i].mask = mask_of(p->allowed[i].len);
		cfg->allowed[i].addr = p->allowed[i].addr & cfg->allowed[i].mask;
		cfg->n_allowed = (uint8_t)(i + 1);
	}
}

/* A clsact filter handle that stays the same across restarts of one tunnel. */
static uint32_t name_handle(const char *name)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (const char *s = name; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return 0x1ee00000u | (h & 0xfffffu);
}

static int tc_attach(struct fastpath *fp, enum fp_hook hook, int prog_fd)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, th, .ifindex = fp->ifindex[hook],
			    .attach_point = hook == FP_EGRESS ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, to, .handle = fp->handle, .priority = FP_TC_PRIORITY,
			    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int rc = bpf_tc_hook_create(&th);

	if (rc < 0 && rc != -EEXIST)
		return rc;
	rc = bpf_tc_attach(&th, &to);
	if (rc == 0)
		fp->filter[hook] = true;
	return rc;
}

static void tc_detach(struct fastpath *fp, enum fp_hook hook)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, th, .ifindex = fp->ifindex[hook],
			    .attach_point = hook == FP_EGRESS ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, to, .handle = fp->handle, .priority = FP_TC_PRIORITY);

	if (!fp->filter[hook])
		return;
	fp->filter[hook] = false;
	if (bpf_tc_detach(&th, &to) < 0)
		log_warnx("eBPF fast path: cannot remove the clsact filter on ifindex %d",
			  fp->ifindex[hook]);
}

static int attach(struct fastpath *fp, enum fp_hook hook, int prog_fd)
{
	int type = hook == FP_EGRESS ? FP_BPF_TCX_EGRESS : FP_BPF_TCX_INGRESS;
	int fd;

	if (!fp->attach || !strcmp(fp->attach, "tcx")) {
		fd = bpf_link_create(prog_fd, fp->ifindex[hook], (enum bpf_attach_type)type, NULL);
		if (fd >= 0) {
			fp->link_fd[hook] = fd;
			fp->attach = "tcx";
			return 0;
		}
		if (fp->attach || (fd != -EINVAL && fd != -EOPNOTSUPP))
			return fd;
		/* no tcx in this kernel: classic clsact filters */
	}
	fp->attach = "clsact";
	return tc_attach(fp, hook, prog_fd);
}

static void reset(struct fastpath *fp)
{
	memset(fp, 0, sizeof(*fp));
	fp->link_fd[FP_EGRESS] = fp->link_fd[FP_INGRESS] = -1;
	fp->state_fd = fp->counters_fd = -1;
}

int fp_start(struct fastpath *fp, const struct fp_config *cfg, const char *name,
	     char *why, size_t why_len)
{
	const char *step = "open";
	uint32_t seed = 0;
	int rc;

	reset(fp);
	libbpf_set_print(libbpf_log);
	fp->ifindex[FP_EGRESS] = (int)cfg->tun_ifindex;
	fp->ifindex[FP_INGRESS] = (int)cfg->underlay_ifindex;
	fp->handle = name_handle(name);
	fp->ncpus = libbpf_num_possible_cpus();
	if (fp->ncpus <= 0) {
		rc = fp->ncpus ? fp->ncpus : -EINVAL;
		step = "count CPUs";
		goto fail;
	}
	fp->percpu = calloc((size_t)fp->ncpus, sizeof(*fp->percpu));
	fp->skel = ipip_bpf__open();
	if (!fp->percpu || !fp->skel) {
		rc = errno ? -errno : -ENOMEM;
		goto fail;
	}
	fp->skel->rodata->cfg = *cfg;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint32_t)getpid();
	fp->skel->bss->ip_id = seed;
	step = "load";
	rc = ipip_bpf__load(fp->skel);
	if (rc < 0)
		goto fail;
	fp->state_fd = bpf_map__fd(fp->skel->maps.state);
	fp->counters_fd = bpf_map__fd(fp->skel->maps.counters);
	rc = fp_set_state(fp, cfg->dev_mtu, false);
	step = "initialise the state map";
	if (rc < 0)
		goto fail;
	/* Ingress first: the peer's packets are taken before ours are sent. */
	step = "attach to the underlay's ingress";
	rc = attach(fp, FP_INGRESS, bpf_program__fd(fp->skel->progs.ipip_ingress));
	if (rc < 0)
		goto fail;
	step = "attach to the tunnel device's egress";
	rc = attach(fp, FP_EGRESS, bpf_program__fd(fp->skel->progs.ipip_egress));
	if (rc < 0)
		goto fail;
	return 0;
fail:
	snprintf(why, why_len, "cannot %s the eBPF programs: %s", step, strerror(-rc));
	if (!strncmp(step, "attach", 6))
		snprintf(why, why_len, "cannot %s: %s", step, strerror(-rc));
	fp_stop(fp);
	return rc;
}

void fp_stop(struct fastpath *fp)
{
	for (int h = 0; h < FP_HOOKS; h++) {
		if (fp->link_fd[h] >= 0)
			close(fp->link_fd[h]);	/* a tcx link goes with its last descriptor */
		fp->link_fd[h] = -1;
		tc_detach(fp, (enum fp_hook)h);
	}
	if (fp->skel)
		ipip_bpf__destroy(fp->skel);
	free(fp->percpu);
	reset(fp);
}

int fp_set_state(struct fastpath *fp, unsigned pmtu, bool slow)
{
	struct fp_state st = { .pmtu = pmtu, .slow = slow };
	uint32_t key = 0;

	if (fp->state_fd < 0)
		return 0;
	return bpf_map_update_elem(fp->state_fd, &key, &st, BPF_ANY) < 0 ? -errno : 0;
}

void fp_counters(const struct fastpath *fp, uint64_t out[FP_COUNTER_MAX])
{
	memset(out, 0, FP_COUNTER_MAX * sizeof(out[0]));
	if (fp->counters_fd < 0)
		return;
	for (uint32_t k = 0; k < FP_COUNTER_MAX; k++) {
		if (bpf_map_lookup_elem(fp->counters_fd, &k, fp->percpu) < 0)
			continue;
		for (int c = 0; c < fp->ncpus; c++)
			out[k] += fp->percpu[c];
	}
}
