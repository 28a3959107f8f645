#!/bin/bash
# Liveness: the time since the last packet from and to Remote, keepalives
# (an ICMP echo through the tunnel to Peer when nothing came for Keepalive
# seconds; down after KeepaliveMisses unanswered), and the metrics in
# Prometheus's text format.
#
#   A (lvA) Keepalive = 1, KeepaliveMisses = 3          B (lvB) no keepalive
#   198.51.100.1/32 peer .2                             198.51.100.2/32 peer .1
#   va 192.0.2.1/24 -------------- veth --------------- vb 192.0.2.2/24
set -u
. "$(dirname "$0")/../lib.sh"

ns_new A lvA && ns_new B lvB || exit 1
veth_pair "$A" va 192.0.2.1/24 "$B" vb 192.0.2.2/24 || exit 1
printf '[Tunnel]\nLocal = 192.0.2.1\nRemote = 192.0.2.2\nDatapath = %s\nKeepalive = 1\nKeepaliveMisses = 3\n[Address]\nAddress = 198.51.100.1/32\nPeer = 198.51.100.2\n' \
	"$DATAPATH" >"$WORK/lva.conf"
printf '[Tunnel]\nLocal = 192.0.2.2\nRemote = 192.0.2.1\nDatapath = %s\n[Address]\nAddress = 198.51.100.2/32\nPeer = 198.51.100.1\n' \
	"$DATAPATH" >"$WORK/lvb.conf"
start "$B" "$WORK/lvb.conf" || notok "ipipd start B"
PB=$STARTED
check "before any traffic: B's last_rx_ms and last_tx_ms are null, alive null (Keepalive off)" \
	test "$(json "$B" lvb last_rx_ms) $(json "$B" lvb last_tx_ms) $(json "$B" lvb alive)" = "None None None"
# A in the foreground, its log in a file of ours.
bg "$A" "$IPIPD" -f "$WORK/lva.conf" 2>"$WORK/a.log"
PA=$BG
for _ in $(seq 100); do [ -S "$(rundir "$A")/lva.sock" ] && break; sleep 0.1; done
ctr() { json "$A" lva "$1"; }
# A's first keepalive goes after 1 s of silence; B answers it.
for _ in $(seq 40); do [ "$(ctr keepalives_sent)" -ge 1 ] && [ "$(ctr last_rx_ms)" != None ] && break; sleep 0.1; done
check "A sends keepalives when nothing comes from Remote (keepalives_sent $(ctr keepalives_sent) >= 1)" \
	test "$(ctr keepalives_sent)" -ge 1
check "... and B's answer arrives: last_rx_ms is a number (ms since), alive true" \
	bash -c '[[ $1 =~ ^[0-9]+$ ]] && [ "$2" = True ]' _ "$(ctr last_rx_ms)" "$(ctr alive)"
check "B's last_rx_ms and last_tx_ms are numbers now (the echo and its answer)" \
	bash -c '[[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ ]]' _ "$(json "$B" lvb last_rx_ms)" "$(json "$B" lvb last_tx_ms)"
nsx "$A" ping -c 1 -W 2 198.51.100.2 >/dev/null
check "right after a ping: less than 2 s since the last packet from and to Remote" \
	test "$(ctr last_rx_ms)" -lt 2000 -a "$(ctr last_tx_ms)" -lt 2000
check "ipipctl show says so" bash -c "ip netns exec $A $IPIPCTL show lva | grep -E 'last packet from Remote: [0-9.]+ s ago, to Remote: [0-9.]+ s ago' &&
	ip netns exec $A $IPIPCTL show lva | grep -q 'keepalive: up'"
# B stops answering: its daemon ends (the kernel answers A's outer packets
# with protocol unreachable, which A's ipipd does not take for an answer).
# The count before the kill: read after it, on a loaded machine, it may
# already include the first unanswered keepalive.
S0=$(ctr keepalives_sent)
kill "$PB"; wait_gone "$PB"
for _ in $(seq 80); do [ "$(ctr alive)" = False ] && break; sleep 0.1; done
check "B gone: A declares the tunnel down after 3 unanswered keepalives (alive false)" test "$(ctr alive)" = False
check "... having sent at least 3 more ($(($(ctr keepalives_sent) - S0)))" test $(($(ctr keepalives_sent) - S0)) -ge 3
start "$B" "$WORK/lvb.conf" || notok "ipipd restart B"
PB=$STARTED
for _ in $(seq 40); do [ "$(ctr alive)" = True ] && break; sleep 0.1; done
check "B back: the next keepalive is answered, alive true again" test "$(ctr alive)" = True
nsx "$A" "$IPIPCTL" show lva >/dev/null
# The log says each change once.
nsx "$A" "$IPIPCTL" down lva; wait_gone "$PA"
sed 's/^/#   /' "$WORK/a.log"
check "A's log says down once and up once" \
	test "$(grep -c 'lva: down: 3 keepalives to Peer unanswered' "$WORK/a.log") $(grep -c 'lva: up again' "$WORK/a.log")" = "1 1"

# Metrics in Prometheus's text format, checked with promtool.
start "$A" "$WORK/lva.conf" || notok "ipipd restart A"
nsx "$A" ping -c 2 -i 0.2 -W 2 198.51.100.2 >/dev/null
sleep 1.2
nsx "$A" "$IPIPCTL" metrics >"$WORK/metrics.prom"
sed 's/^/#   /' "$WORK/metrics.prom" | grep -E 'rx_packets|alive|drops_total\{[^}]*rx_inner_ttl0' | head -5
check "ipipctl metrics passes promtool check metrics" promtool check metrics <"$WORK/metrics.prom"
check "... with the counters, liveness and every drop reason of the tunnel" bash -c "
	grep -q '^ipipd_rx_packets_total{tunnel=\"lva\"} [1-9]' $WORK/metrics.prom &&
	grep -q '^ipipd_alive{tunnel=\"lva\"} 1' $WORK/metrics.prom &&
	grep -q '^ipipd_last_rx_age_seconds{tunnel=\"lva\"} [0-9.]*$' $WORK/metrics.prom &&
	[ \$(grep -c '^ipipd_drops_total{tunnel=\"lva\",reason=' $WORK/metrics.prom) = \$(ip netns exec $A $IPIPCTL show --json lva | $PY -c 'import json,sys; print(len(json.load(sys.stdin)[0][\"drops\"]))') ]"
mkdir -p "$WORK/textfile"
check "ipipctl metrics --textfile DIR writes DIR/ipipd.prom (for node_exporter), the same metrics" bash -c "
	ip netns exec $A $IPIPCTL metrics --textfile $WORK/textfile && promtool check metrics <$WORK/textfile/ipipd.prom &&
	grep -q '^ipipd_tunnel_info{tunnel=\"lva\"' $WORK/textfile/ipipd.prom && [ -z \"\$(ls -A $WORK/textfile | grep -v '^ipipd.prom\$')\" ]"
finish
