/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `ipipctl metrics`: the tunnels' counters and drop reasons in Prometheus's
 * text exposition format (version 0.0.4), for node_exporter's textfile
 * collector or any scraper: one family per counter, each sample labelled
 * with its tunnel; drops as ipipd_drops_total{reason=...}.
 */
#ifndef IPIPD_METRICS_H
#define IPIPD_METRICS_H

#include <stdio.h>

/*
 * Write the metrics of n tunnels: replies[i] is tunnel i's control reply
 * ("key=value" lines, as `ipipctl show` reads them).  Returns 0, or -1 if
 * out failed.
 */
int metrics_write(FILE *out, const char *const *replies, int n);

#endif
