#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Reordering on the wire (netem) against the module's anti-replay window:
# Linux XFRM in namespace a sends bursts of UDP datagrams through a tunnel to
# b, whose receive path is the module's. netem on a's link sends every 5th
# ESP packet at once and holds the others back 2 s, so the held packets
# arrive long after packets with higher sequence numbers:
# - with a 65536 window every datagram arrives, out of order, and nothing is
#   counted as too old or replayed;
# - with a 64 window the held packets that fell more than 64 behind are
#   dropped as too old, the others arrive: arrived + too old = sent.
# Each run uses fresh SAs, so that its window is chosen when its first
# packet arrives.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip tc python3
require_tool
trap 'kill $RCV_PID 2>/dev/null; topo_cleanup; rm -f /tmp/esp_rx_netem.*' EXIT

N=300
PORT=6000
OUTF=/tmp/esp_rx_netem.out

ktap_plan
topo_two_routers
check "insmod" load_module
check "receive path on in b" ip netns exec b "$IPSEC_RS_TOOL" set global --rx on
# A static neighbour entry: no ARP exchange held back by netem.
mac_b=$(ip -n b -o link show vb | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
check "static neighbour entry for b" ip -n a neigh replace 192.0.2.2 lladdr "$mac_b" dev va nud permanent
check "netem on a's link: every 5th packet at once, the others 2 s later" \
	ip netns exec a tc qdisc add dev va root netem delay 2000ms reorder 100% gap 5 limit 10000

# burst WINDOW SPI_AB SPI_BA: fresh SAs, the default window set to WINDOW,
# N datagrams a -> b; leaves the receiver's report ("COUNT SORTED") in $GOT.
burst() {
	ip -n a xfrm state flush; ip -n b xfrm state flush
	ip -n a xfrm policy flush; ip -n b xfrm policy flush
	xfrm_tunnel_gcm 192.0.2.1 192.0.2.2 "$2" "$3" replay-window 32 || die "cannot install SAs"
	ip netns exec b "$IPSEC_RS_TOOL" set global --replay-window "$1" >/dev/null || die "cannot set the window"
	# The receiver reports once nothing came for 4 s: how many datagrams,
	# and whether they came in the order they were sent.
	ip netns exec b python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
# Room for the whole burst: the held packets arrive together, in one
# softirq, before this process runs again (SO_RCVBUFFORCE: as root, past
# rmem_max).
s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)
s.bind(("192.0.2.2", int(sys.argv[1])))
print("ready", flush=True)
s.settimeout(30)
got = []
try:
    while True:
        got.append(int(s.recv(64)))
        s.settimeout(4)
except socket.timeout:
    pass
print(len(got), "sorted" if got == sorted(got) else "reordered", flush=True)
' $PORT >$OUTF 2>&1 &
	RCV_PID=$!
	_i=0
	while [ $_i -lt 100 ] && ! grep -q ready $OUTF; do sleep 0.2; _i=$((_i + 1)); done
	mark_counters
	_rcvbuf_errors=$(udp_rcvbuf_errors)
	ip netns exec a python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[2])):
    s.sendto(b"%d" % i, ("192.0.2.2", int(sys.argv[1])))
' $PORT $N
	_i=0
	while [ $_i -lt 300 ] && kill -0 $RCV_PID 2>/dev/null; do sleep 0.2; _i=$((_i + 1)); done
	kill $RCV_PID 2>/dev/null; wait $RCV_PID 2>/dev/null
	GOT=$(sed -n '2p' $OUTF)
	snap b
	# A datagram the socket had no room for is not the window's doing.
	RCVBUF_ERRORS=$(($(udp_rcvbuf_errors) - _rcvbuf_errors))
}
# udp_rcvbuf_errors: b's UDP datagrams dropped for a full receive buffer.
udp_rcvbuf_errors() {
	ip netns exec b awk '/^Udp:/ { if (n++) print $c; else for (i = 1; i <= NF; i++) if ($i == "RcvbufErrors") c = i }' \
		/proc/net/snmp
}

burst 65536 0x7100 0x7101
diag "65536 window: $RCVBUF_ERRORS datagrams dropped for a full socket buffer"
check_eq "65536 window: every datagram arrived, out of order" "$GOT" "$N reordered"
check_eq "65536 window: decapsulated by the module, none too old or replayed" \
	"$(delta decap_ok)/$(delta replay_too_old)/$(delta replay_dropped)" "$N/0/0"

burst 64 0x7200 0x7201
arrived=${GOT%% *}
too_old=$(delta replay_too_old)
diag "64 window: $arrived arrived, $too_old too old, $RCVBUF_ERRORS dropped for a full socket buffer"
check "64 window: some held packets dropped as too old" test "$too_old" -gt 0
check_eq "64 window: arrived + too old = sent, none replayed" \
	"$((arrived + too_old))/$(delta decap_ok)/$(delta replay_dropped)" "$N/$arrived/0"

ip netns exec a tc qdisc del dev va root
check "rmmod" unload_module
ktap_finish
