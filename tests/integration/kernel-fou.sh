#!/bin/bash
# ipipd's UDP encapsulation against the Linux kernel's own FOU and GUE (`ip fou`,
# an ipip device with `encap fou|gue`): a stock Debian kernel in a QEMU guest
# (tests/kernel-peer/), one boot for both encapsulations.
#
#   H (namespace)                                   guest (QEMU, TCG)
#   kf0: ipipd 198.51.100.1/32 peer .2              t0: kernel ipip + encap, 198.51.100.2/32 peer .1
#        Encapsulation = fou|gue, Port = HP,            ip fou add port GP ipproto 4 | gue,
#        RemotePort = GP, SourcePort = auto             encap-sport auto encap-dport HP
#   kftap 192.0.2.1/24  ------------ tap ------------  eth0 192.0.2.2/24
#   ip_local_port_range 40000 40999                 ip_local_port_range 50000 50999
#
# For FOU, then GUE, then FOU with UDP checksums (encap-csum, UDPChecksum =
# yes) and fixed source ports (t0 and kf0 made again each time, other ports):
# a. the same tunnel MTU at both ends (1500 - 20 - 8, - 4 for GUE's header)
# b. outer headers on the wire (captured on H's tap) for the same inner packets
#    from both ends: every IPv4 field but the ID and checksum the same, UDP
#    destination port the far end's, source port in the sender's local port
#    range as the kernel's udp_flow_src_port() takes it, [low, high) (ipipd:
#    one port for one flow), or the fixed one; UDP length right, UDP checksum
#    0 (the default of both) or valid; GUE header 00 04 00 00 (variant 0,
#    C = 0, hlen 0, proto 4, no flags); inner packet unchanged; 1480-byte
#    inner packets refused locally by both (above the tunnel MTU)
# c. pings both ways (and at the full tunnel MTU), 16 MiB over TCP each way
# d. no errors: t0's counters, ICMP errors in the guest, ICMP unreachable from
#    H, UDP errors on either side, ipipd's drops
# ipipd runs with Datapath = $DATAPATH (run-all.sh: userspace and ebpf); with
# UDPChecksum = yes, which the eBPF fast path does not send, with auto.
set -u
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/kernel-peer/vm.sh"
KP=$TOP/tests/kernel-peer
BEGIN=$SECONDS
LAP=$SECONDS
lap() { echo "# $1: $((SECONDS - LAP)) s"; LAP=$SECONDS; }
TAP=kftap
HOST=192.0.2.1 GUEST=192.0.2.2 HIN=198.51.100.1 GIN=198.51.100.2
H_RANGE="40000 40999" G_RANGE="50000 50999"
HK() { nsx "$H" "$KP_HOST_KPKT" "$@"; }
# Background processes are started with `ip netns exec` itself (it execs), never
# through a shell function, so that $! is the process to end.

ns_new H kfH || exit 1
ip -n "$H" tuntap add dev "$TAP" mode tap || exit 1
ip -n "$H" addr add "$HOST/24" dev "$TAP"
nsx "$H" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
	net.ipv4.ip_local_port_range="$H_RANGE"

# Busybox's ip has no `ip fou` and no `encap` options: iproute2's, as /bin/ip
# (busybox's applet is /sbin/ip, ahead in $PATH).
t=$SECONDS
if ! KP_EXTRA_BINS=/usr/sbin/ip vm_start "$H" "$TAP" "$GUEST/24" "$HOST"; then
	notok "stock Debian kernel boots as the FOU/GUE peer"
	exit 1
fi
ok "stock Debian kernel $(vm_run uname\ -r) boots as the FOU/GUE peer ($((SECONDS - t)) s)"

# fou (and udp_tunnel, ip6_udp_tunnel) is not loaded at boot: fetch.sh's modules.ondemand.
if ! grep -qx fou.ko "$KP_KDIR/modules.ondemand" 2>/dev/null; then
	notok "the prepared kernel $KP_KDIR has fou.ko in modules.ondemand (a directory prepared by an older fetch.sh, used as a fallback?)"
	exit 1
fi
MODS=$(tr '\n' ' ' <"$KP_KDIR/modules.ondemand")
check "guest loads $MODS; ip fou add port 5556 ipproto 4 / port 6081 gue / port 5558 ipproto 4" vm_run "
for m in $MODS; do insmod /lib/modules/\$m || exit 1; done
echo '$G_RANGE' >/proc/sys/net/ipv4/ip_local_port_range &&
/bin/ip fou add port 5556 ipproto 4 && /bin/ip fou add port 6081 gue &&
/bin/ip fou add port 5558 ipproto 4 && /bin/ip fou show"

# --- helpers -----------------------------------------------------------------

# forget, link_state, xfer_to_host, xfer_to_guest: tests/kernel-peer/xfer.sh.
# shellcheck disable=SC2034 # (read by xfer.sh)
TUN_NAME=kf0
. "$KP/xfer.sh"

IPIPD_PID=

ipipd_stop() {
	[ -n "$IPIPD_PID" ] || return 0
	nsx "$H" "$IPIPCTL" down kf0 >/dev/null
	wait_gone "$IPIPD_PID" && forget "$IPIPD_PID"
	IPIPD_PID=
}

# ipipd_start LABEL ENCAP PORT REMOTEPORT SOURCEPORT UDPCHECKSUM
ipipd_start() {
	ipipd_stop
	cat >"$WORK/kf0.conf" <<EOF
[Tunnel]
Local = $HOST
Remote = $GUEST
Datapath = $(if [ "$6" = yes ] && [ "$DATAPATH" = ebpf ]; then echo auto; else echo "$DATAPATH"; fi)
Encapsulation = $2
Port = $3
RemotePort = $4
SourcePort = $5
UDPChecksum = $6
TTL = 64
ECN = kernel

[Address]
Address = $HIN/32
Peer = $GIN
EOF
	if start "$H" "$WORK/kf0.conf" kf0; then IPIPD_PID=$STARTED; ok "ipipd starts ($1)"; else
		notok "ipipd starts ($1)"; tail -n 5 "$WORK/ipipd.log" | sed 's/^/#   /'; return 1
	fi
}

# guest_tunnel ENCAP_OPTIONS: t0 made again with the encapsulation.
guest_tunnel() {
	vm_run "ip link del t0 2>/dev/null
/bin/ip link add t0 type ipip local $GUEST remote $HOST ttl 64 $1 &&
ip addr add $GIN/32 peer $HIN dev t0 &&
ip link set t0 up && /bin/ip -d link show t0"
}

# Error counters of the guest: t0's, ICMP errors it received, UDP errors.
read -r -d '' GUEST_COUNTERS <<'EOF'
cd /sys/class/net/t0/statistics || exit 1
for f in *_errors collisions rx_dropped tx_dropped; do echo "t0 $f $(cat $f)"; done
awk '/^(Icmp|Udp):/ { p = substr($1, 1, length($1) - 1)
	if (!h[p]) { for (i = 2; i <= NF; i++) n[p, i] = $i; h[p] = 1; next }
	for (i = 2; i <= NF; i++)
		if (n[p, i] ~ /^(In(DestUnreachs|TimeExcds|ParmProbs|SrcQuenchs|Redirects|Errors|CsumErrors)|NoPorts|RcvbufErrors|SndbufErrors)$/)
			print p, n[p, i], $i }' /proc/net/snmp
EOF
guest_counters() { vm_run "$GUEST_COUNTERS"; }
# host_udp_errors: H's UDP error counters (ipipd's socket among them).
host_udp_errors() {
	nsx "$H" awk '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) n[i] = $i; h = 1 } else
	for (i = 2; i <= NF; i++) if (n[i] ~ /^(InErrors|NoPorts|RcvbufErrors|SndbufErrors|InCsumErrors)$/) print n[i], $i }' /proc/net/snmp
}

# ipipd's drops that are not zero, as NAME=N lines.
ipipd_drops() {
	nsx "$H" "$IPIPCTL" show --json kf0 | $PY -c '
import json, sys
for k, v in sorted(json.load(sys.stdin)[0]["drops"].items()):
    if v: print("%s=%s" % (k, v))'
}
no_drops() {
	local d
	d=$(ipipd_drops) || { echo "ipipctl show --json kf0 failed"; return 1; }
	echo "$d"; [ -z "$d" ]
}

# TCP transfers through the tunnel: 16 MiB made in the guest from /dev/urandom,
# and 16 MiB made on the host.  Each prints "BYTES SHA256" for both ends.
vm_run -t 120 'head -c 16777216 /dev/urandom >/tmp/blob' || notok "guest makes its test data"
head -c 16777216 /dev/urandom >"$WORK/blob"

# judge_wire PCAP ENCAP HPORT GPORT ID GUEST_SEND_ERRORS HOST_SEND_ERRORS CSUM
#   KERNEL_SPORT IPIPD_SPORT: the outer headers both ends sent for `kpkt matrix`
# (see the header; CSUM yes: valid UDP checksums expected, not 0; SPORT auto or
# the fixed port), one line per aspect: "ok ASPECT summary" or "bad ASPECT
# detail" (at most 5 of each).
judge_wire() {
	$PY - "$@" "$HOST" "$GUEST" "$H_RANGE" "$G_RANGE" <<'EOF'
import socket, struct, sys

(pcap, encap, hport, gport, mid, gerr, herr, csum, ksport, isport, host, guest, hrange,
 grange) = sys.argv[1:15]
hport, gport, mid, csum = int(hport), int(gport), int(mid), csum == "yes"
hlo, hhi = map(int, hrange.split())
glo, ghi = map(int, grange.split())
H, G = socket.inet_aton(host), socket.inet_aton(guest)
ehlen = 8 + (4 if encap == "gue" else 0)
SIZES = (28, 100, 1000, 1480)

def csum_ok(h):
    if len(h) % 2:
        h += b"\0"
    s = sum(struct.unpack("!%dH" % (len(h) // 2), h))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s == 0xFFFF

# pcap (tcpdump -w, Ethernet): the UDP frames between the two ends.
sent = {"kernel": {}, "ipipd": {}}
other, replies = [], 0
with open(pcap, "rb") as f:
    data = f.read()
magic = struct.unpack("<I", data[:4])[0]
end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
off = 24
while off + 16 <= len(data):
    _, _, caplen, wirelen = struct.unpack(end + "IIII", data[off:off + 16])
    fr = data[off + 16:off + 16 + caplen]
    off += 16 + caplen
    if len(fr) < 14 + 20 or fr[12:14] != b"\x08\x00":
        continue
    ip = fr[14:]
    ihl = (ip[0] & 15) * 4
    if ip[9] != 17 or ip[12:16] not in (H, G):
        continue
    side = "kernel" if ip[12:16] == G else "ipipd"
    u = ip[ihl:ihl + 8]
    inner = ip[ihl + ehlen:]
    if len(inner) >= 28 and inner[0] >> 4 == 4 and inner[9] == 1 and inner[20] == 0 and \
            struct.unpack("!H", inner[24:26])[0] == mid:
        replies += 1    # the far end's answers to the other end's requests
        continue
    if len(inner) < 28 or inner[0] >> 4 != 4 or inner[9] != 1 or inner[20] != 8 or \
            struct.unpack("!H", inner[24:26])[0] != mid:
        other.append((side, ip[:ihl + ehlen + 28].hex()))
        continue
    seq = struct.unpack("!H", inner[26:28])[0]
    whole = ip[:struct.unpack("!H", ip[2:4])[0]] if caplen == wirelen else None
    sent[side].setdefault(seq, []).append((ip[:ihl], u, ip[ihl + 8:ihl + ehlen], inner[:28], whole))

def report(aspect, bad, summary):
    if bad:
        for b in bad[:5]:
            print("bad %s %s" % (aspect, b))
        if len(bad) > 5:
            print("bad %s ... and %d more" % (aspect, len(bad) - 5))
    else:
        print("ok %s %s" % (aspect, summary))

# Which inner packets each end refused to send (kpkt's "send seq N (SIZE bytes): ERR").
def refused(s):
    r = {}
    for part in s.split(";"):
        w = part.split()
        if len(w) >= 4 and w[0] == "seq":
            r[int(w[1])] = " ".join(w[3:])
    return r
refk, refi = refused(gerr), refused(herr)
big = {s for s in range(192) if SIZES[s % 4] == 1480}
bad = []
for name, ref in (("kernel", refk), ("ipipd", refi)):
    if set(ref) != big:
        bad.append("%s refused seqs %s, expected the 48 of 1480 bytes" % (name, sorted(ref)))
    for s, e in sorted(ref.items()):
        if "too long" not in e:
            bad.append("%s refused seq %d: %s" % (name, s, e))
            break
report("refused", bad, "both ends refuse the 48 inner packets of 1480 bytes (Message too long)")

bad = []
for s in range(192):
    if s in big:
        for side in ("kernel", "ipipd"):
            if s in sent[side]:
                bad.append("seq %d (1480 bytes) sent by %s" % (s, side))
        continue
    for side in ("kernel", "ipipd"):
        n = len(sent[side].get(s, []))
        if n != 1:
            bad.append("seq %d: %d outer packets from %s" % (s, n, side))
for side, h in other[:3]:
    bad.append("unexpected UDP packet from %s: %s" % (side, h))
report("carried", bad, "each of the 144 inner packets that fit carried once by each end")

both = [s for s in range(192) if s not in big and len(sent["kernel"].get(s, [])) == 1
        and len(sent["ipipd"].get(s, [])) == 1]
ports = {"kernel": set(), "ipipd": set()}
bad = []
names = ("version/IHL", "TOS", "total length", "flags/fragment", "TTL", "protocol")
def ipfields(h):
    return (h[0], h[1], struct.unpack("!H", h[2:4])[0], struct.unpack("!H", h[6:8])[0], h[8], h[9])
for s in both:
    (kh, ku, kg, ki, kl), = sent["kernel"][s]
    (ih, iu, ig, ii, il), = sent["ipipd"][s]
    for side, h, src, dst in (("kernel", kh, G, H), ("ipipd", ih, H, G)):
        if not csum_ok(h):
            bad.append("seq %d: %s's outer IPv4 checksum is wrong: %s" % (s, side, h.hex()))
        if h[12:16] != src or h[16:20] != dst:
            bad.append("seq %d: %s's outer addresses %s -> %s" % (s, side, socket.inet_ntoa(h[12:16]),
                                                                  socket.inet_ntoa(h[16:20])))
    kf, if_ = ipfields(kh), ipfields(ih)
    for n, a, b in zip(names, kf, if_):
        if a != b:
            bad.append("seq %d: outer %s kernel %s, ipipd %s" % (s, n, a, b))
if both:
    k = ipfields(sent["kernel"][both[0]][0][0])
    summary = "%d packet pairs; e.g. TTL %d, flags 0x%04x, protocol %d" % (len(both), k[4], k[3], k[5])
else:
    summary = ""
    bad.append("no packet sent by both ends")
report("ipv4", bad, summary)

bad = []
for s in both:
    for side, (h, u, g, inner, whole), dport, lo, hi, fixed in (
            ("kernel", sent["kernel"][s][0], hport, glo, ghi, ksport),
            ("ipipd", sent["ipipd"][s][0], gport, hlo, hhi, isport)):
        sp, dp, ulen, uck = struct.unpack("!HHHH", u)
        tot = struct.unpack("!H", h[2:4])[0]
        if dp != dport:
            bad.append("seq %d: %s sent to UDP port %d, not %d" % (s, side, dp, dport))
        if fixed != "auto":
            if sp != int(fixed):
                bad.append("seq %d: %s's source port %d, not %s" % (s, side, sp, fixed))
        elif not lo <= sp < hi:     # the kernel's udp_flow_src_port(): [lo, hi)
            bad.append("seq %d: %s's source port %d is outside %d-%d" % (s, side, sp, lo, hi - 1))
        if ulen != tot - len(h):
            bad.append("seq %d: %s's UDP length %d, IPv4 payload %d" % (s, side, ulen, tot - len(h)))
        if ulen != ehlen + SIZES[s % 4]:
            bad.append("seq %d: %s's UDP length %d for a %d-byte inner packet" % (s, side, ulen, SIZES[s % 4]))
        if not csum and uck != 0:
            bad.append("seq %d: %s's UDP checksum 0x%04x, not 0" % (s, side, uck))
        if csum and whole is None:
            bad.append("seq %d: %s's packet not captured whole" % (s, side))
        elif csum and (uck == 0 or not csum_ok(h[12:20] + struct.pack("!BBH", 0, 17, ulen) +
                                                  whole[len(h):])):
            bad.append("seq %d: %s's UDP checksum 0x%04x is not the packet's" % (s, side, uck))
        ports[side].add(sp)
if len(ports["ipipd"]) > 1:
    bad.append("ipipd used %d source ports for one flow: %s" % (len(ports["ipipd"]), sorted(ports["ipipd"])))
def sportdesc(side, fixed, lo, hi):
    ps = ",".join(map(str, sorted(ports[side])))
    return "%s (%s, %s)" % (ps, side, "fixed" if fixed != "auto" else "auto, %d-%d" % (lo, hi - 1))
report("udp", bad, "dport %d/%d, sport %s and %s, checksum %s" % (
    hport, gport, sportdesc("kernel", ksport, glo, ghi), sportdesc("ipipd", isport, hlo, hhi),
    "valid in every packet" if csum else "0"))

if encap == "gue":
    bad = []
    for s in both:
        for side in ("kernel", "ipipd"):
            g = sent[side][s][0][2]
            if g != b"\x00\x04\x00\x00":
                bad.append("seq %d: %s's GUE header %s, expected 00040000" % (s, side, g.hex()))
    report("gue", bad, "GUE header 00 04 00 00 from both (variant 0, C = 0, hlen 0, proto 4, flags 0)")

# The inner packet arrives as it was sent: the same from both ends but for the
# swapped addresses (ECN = kernel: no inner CE is rewritten on encapsulation).
bad = []
for s in both:
    ki, ii = sent["kernel"][s][0][3], sent["ipipd"][s][0][3]
    swapped = ii[:12] + ii[16:20] + ii[12:16] + ii[20:]
    if ki != swapped:
        bad.append("seq %d: inner kernel %s, ipipd %s" % (s, ki.hex(), ii.hex()))
report("inner", bad, "inner headers the same from both ends (addresses swapped)")
EOF
}

# --- one encapsulation --------------------------------------------------------

# run_encap LABEL ENCAP HPORT GPORT ID CSUM KERNEL_SPORT IPIPD_SPORT: both ends
# made with ENCAP (UDP checksums if CSUM is yes, source ports auto or fixed), every check.
run_encap() {
	local l=$1 e=$2 hp=$3 gp=$4 id=$5 csum=$6 ksp=$7 isp=$8 mtu gmtu hmtu gc0 gc1 un0 hu0 cap
	local gopts gerr herr r aspect
	mtu=$((1500 - 20 - 8))
	[ "$e" = gue ] && mtu=$((mtu - 4))
	gopts="encap $e encap-sport $ksp encap-dport $hp"
	[ "$csum" = yes ] && gopts="$gopts encap-csum"
	# The guest first: nothing it sends before ipipd's socket is open (H
	# would answer with port unreachable).
	if guest_tunnel "$gopts" >"$WORK/guest.out" 2>&1; then
		ok "$l: guest: ip link add t0 type ipip ... $gopts [$(grep -o "encap $e encap-sport [a-z0-9]* encap-dport [0-9]* [a-z-]*" "$WORK/guest.out" | head -n 1)]"
	else
		notok "$l: guest: ip link add t0 type ipip ... $gopts"
		sed 's/^/#   /' "$WORK/guest.out"; return 1
	fi
	ipipd_start "$l: Encapsulation = $e, Port = $hp, RemotePort = $gp, SourcePort = $isp, UDPChecksum = $csum, Datapath = $DATAPATH" \
		"$e" "$hp" "$gp" "$isp" "$csum" || return 1
	gmtu=$(vm_run 'cat /sys/class/net/t0/mtu')
	hmtu=$(nsx "$H" cat /sys/class/net/kf0/mtu)
	check "$l: tunnel MTU $mtu at both ends (kernel $gmtu, ipipd $hmtu)" test "$gmtu $hmtu" = "$mtu $mtu"
	gc0=$(guest_counters)
	un0=$(icmp_unreach "$H")
	hu0=$(host_udp_errors)

	# b. outer headers
	capture cap "$H" "$TAP" "$WORK/$id.pcap" "-s 1600 udp"
	vm_run -t 60 "kpkt matrix $GIN $HIN $id 1" >"$WORK/gmatrix.out" 2>&1
	HK matrix "$HIN" "$GIN" "$id" 1 >"$WORK/hmatrix.out" 2>&1
	sleep 0.5
	stop_capture "$cap"; forget "$cap"
	gerr=$(sed -n 's/^kpkt: send \(seq .*\)$/\1/p' "$WORK/gmatrix.out" | tr '\n' ';')
	herr=$(sed -n 's/^kpkt: send \(seq .*\)$/\1/p' "$WORK/hmatrix.out" | tr '\n' ';')
	judge_wire "$WORK/$id.pcap" "$e" "$hp" "$gp" "$id" "$gerr" "$herr" "$csum" "$ksp" "$isp" \
		>"$WORK/judge.out" 2>&1
	for aspect in refused carried ipv4 udp $([ "$e" = gue ] && echo gue) inner; do
		r=$(grep "^ok $aspect " "$WORK/judge.out")
		if [ -n "$r" ] && ! grep -q "^bad $aspect " "$WORK/judge.out"; then
			ok "$l on the wire, $aspect: ${r#ok $aspect }"
		else
			notok "$l on the wire, $aspect"
			grep "^bad $aspect " "$WORK/judge.out" | sed "s/^bad $aspect /#   /"
			grep -v -E '^(ok|bad) ' "$WORK/judge.out" | sed 's/^/#   /' | head -n 10
		fi
	done

	# c. traffic
	check "$l: ping ipipd -> kernel through the tunnel" nsx "$H" ping -c 3 -i 0.2 -W 2 "$GIN"
	check "$l: ping kernel -> ipipd through the tunnel" vm_run "ping -c 3 -i 0.2 -W 2 $HIN"
	check "$l: $mtu-byte ping with DF ipipd -> kernel (full tunnel MTU)" \
		nsx "$H" ping -c 2 -i 0.2 -W 2 -M do -s $((mtu - 28)) "$GIN"
	check "$l: $mtu-byte ping kernel -> ipipd (full tunnel MTU)" vm_run "ping -c 2 -W 2 -s $((mtu - 28)) $HIN"
	xfer_to_host "$l: 16 MiB TCP kernel -> ipipd arrives intact (sha256 matches)" 120
	xfer_to_guest "$l: 16 MiB TCP ipipd -> kernel arrives intact (sha256 matches)" 120
	# with checksums, ipipd sends a super-packet's datagrams as UDP GSO frames
	# (cut by the kernel on their way into the tap): the kernel took them
	if [ "$csum" = yes ]; then
		check "$l: ... ipipd sent them in UDP GSO frames (udp_gso_sent $(json "$H" kf0 udp_gso_sent))" \
			test "$(json "$H" kf0 udp_gso_sent)" -gt 1000
	fi

	# d. no errors anywhere
	gc1=$(guest_counters)
	counters_clean() {
		grep -q '^t0 rx_errors ' <<<"$gc1" && grep -q '^Icmp InErrors ' <<<"$gc0" &&
			grep -q '^Udp NoPorts ' <<<"$gc1" ||
			{ echo "guest counters not read:"; echo "$gc0"; echo "$gc1"; return 1; }
		diff <(grep -E '^(Icmp|Udp) ' <<<"$gc0") <(grep -E '^(Icmp|Udp) ' <<<"$gc1") &&
			! grep '^t0 ' <<<"$gc1" | grep -v ' 0$'
	}
	check "$l: kernel's t0 counts no error or drop, no ICMP error reached the guest, no UDP error there" \
		counters_clean
	check "$l: no ICMP unreachable sent by H, no UDP error counted in H" \
		diff <(echo "$un0"; echo "$hu0") <(icmp_unreach "$H"; host_udp_errors)
	check "$l: ipipd dropped nothing" no_drops
	nsx "$H" "$IPIPCTL" show kf0 2>&1 | grep -i -E 'packets|bytes|encap|port' | head -n 6 | sed "s/^/# $l: ipipctl show: /"
	ipipd_stop
}

lap "guest boot"
run_encap fou fou 5555 5556 19501 no auto auto
lap "fou"
run_encap gue gue 6080 6081 19502 no auto auto
lap "gue"
# UDP checksums filled and checked at both ends, fixed source ports.
run_encap "fou, checksums" fou 5557 5558 19503 yes 4001 4000
lap "fou, checksums"
echo "# kernel-fou: $((SECONDS - BEGIN)) s in all"
finish
