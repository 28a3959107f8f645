# The HOWTO's topology in namespaces (sourced after lib.sh):
#
#   lan   203.0.113.9/24 (default via .1)
#    |    colo LAN 203.0.113.0/24
#   colo  eth-lan 203.0.113.1/24, eth-wan 198.51.100.2/24 (default via 198.51.100.1)
#    |                              tunnel Moe: 203.0.113.1 peer 203.0.113.5
#   inet  198.51.100.1/24 | 192.0.2.1/24, forwarding, 203.0.113.0/24 via 198.51.100.2
#    |
#   home  eth0 192.0.2.42/24 (default via 192.0.2.1)
#                                   tunnel Moe: 203.0.113.5 peer 203.0.113.1, table Moe
#
# Sets HOME COLO INET LAN to the namespace names.
seed_topology() {
	ns_new HOME_NS home && ns_new COLO colo && ns_new INET inet && ns_new LAN lan || return 1
	veth_pair "$LAN" eth0 203.0.113.9/24 "$COLO" eth-lan 203.0.113.1/24 &&
	veth_pair "$COLO" eth-wan 198.51.100.2/24 "$INET" eth-colo 198.51.100.1/24 &&
	veth_pair "$INET" eth-home 192.0.2.1/24 "$HOME_NS" eth0 192.0.2.42/24 || return 1
	ip -n "$LAN" route add default via 203.0.113.1
	ip -n "$COLO" route add default via 198.51.100.1
	ip -n "$HOME_NS" route add default via 192.0.2.1
	ip -n "$INET" route add 203.0.113.0/24 via 198.51.100.2
	nsx "$INET" sysctl -qw net.ipv4.ip_forward=1
	# The colo firewall of the HOWTO's author: forwarding dropped unless allowed.
	nsx "$COLO" iptables -P FORWARD DROP
}
