#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Rough inbound decapsulation comparison, in one guest: the same AES-GCM
# tunnel SAs and the same traffic (UDP datagrams of 64, 512 and 1400 bytes
# from a to b, then a bulk TCP transfer), decapsulated by XFRM (receive
# path off) and by the module (on). Prints packets/s received and the ratio.
# Meaningful only on the perf kernel with KVM; on the debug kernel under
# TCG it shows the order of magnitude of the debugging overhead, no more.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip python3
require_tool
trap topo_cleanup EXIT
SECS=${1:-5}

ktap_plan
topo_two_routers
xfrm_tunnel_gcm 192.0.2.1 192.0.2.2 || die "cannot install SAs"
check "insmod" load_module

# blast SIZE: UDP datagrams of SIZE bytes a -> b for SECS seconds; prints
# how many b received.
blast() {
	ip netns exec b python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.2", 9000)); s.settimeout(2)
n = 0
try:
    while True:
        s.recv(2048); n += 1
except socket.timeout:
    pass
print(n)' >/tmp/rcv.out &
	r=$!
	sleep 1
	ip netns exec a python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
d = b"x" * int(sys.argv[1]); end = time.time() + float(sys.argv[2])
while time.time() < end:
    try: s.sendto(d, ("192.0.2.2", 9000))
    except OSError: pass' "$1" "$SECS"
	wait $r
	cat /tmp/rcv.out
}

for size in 64 512 1400; do
	ip netns exec b "$IPSEC_RS_TOOL" set global --rx off
	x=$(blast $size)
	ip netns exec b "$IPSEC_RS_TOOL" set global --rx on
	m=$(blast $size)
	diag "size $size: XFRM $((x / SECS)) pkt/s, module $((m / SECS)) pkt/s, ratio $(awk "BEGIN{printf \"%.2f\", $m/($x+0.0001)}")"
	check "size $size: both paths delivered traffic" [ "$x" -gt 0 -a "$m" -gt 0 ]
done
snap b
diag "module decap_ok $(cnt decap_ok), rx_errors $(cnt rx_errors)"
check "rmmod" unload_module
ktap_finish
