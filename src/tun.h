/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tunnel's TUN device and the raw protocol-4 socket: the datapath's I/O edges. */
#ifndef IPIPD_TUN_H
#define IPIPD_TUN_H

#include <stdint.h>

/* Create the TUN device name (IFF_TUN|IFF_NO_PI), non-blocking; returns fd or -errno. */
int tun_open(const char *name);

/*
 * A raw IP protocol-4 socket bound to local (network order), with IP_HDRINCL,
 * IP_RECVERR and large buffers; returns fd or -errno.
 */
int raw_open(uint32_t local);

#endif
