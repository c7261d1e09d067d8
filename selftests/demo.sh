#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The QEMU lab demo (`make run`): the vendor guide's topology with two routers
# and a host behind each, an IPsec tunnel between the routers, traffic, the
# module's counters; then router B loses its SAs (a reboot) while host 1
# keeps sending: the black hole, now visible as invalid-SPI events and log
# lines on B; then the SAs come back (as IKE would re-create them) and
# traffic heals.
#
#   h1 (198.51.100.10) -- A (198.51.100.1 | 192.0.2.1) ==ESP== B (192.0.2.2 | 203.0.113.1) -- h2 (203.0.113.10)
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_tool
trap 'kill $MONITOR_PID 2>/dev/null; for n in a b h1 h2; do ip netns del $n 2>/dev/null; done' EXIT
say() { printf '\n=== %s\n' "$*"; }

topo_two_routers
topo_hosts_behind_routers

sas() {	# $1: namespace to install both SAs in
	ip -n $1 xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 reqid 1 mode tunnel \
		aead 'rfc4106(gcm(aes))' $KEY_AB 128
	ip -n $1 xfrm state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x2000 reqid 1 mode tunnel \
		aead 'rfc4106(gcm(aes))' $KEY_BA 128
}
sas a; sas b
ip -n a xfrm policy add src 198.51.100.0/24 dst 203.0.113.0/24 dir out tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 1 mode tunnel
ip -n a xfrm policy add src 203.0.113.0/24 dst 198.51.100.0/24 dir fwd tmpl src 192.0.2.2 dst 192.0.2.1 proto esp reqid 1 mode tunnel
ip -n b xfrm policy add src 203.0.113.0/24 dst 198.51.100.0/24 dir out tmpl src 192.0.2.2 dst 192.0.2.1 proto esp reqid 1 mode tunnel
ip -n b xfrm policy add src 198.51.100.0/24 dst 203.0.113.0/24 dir fwd tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 1 mode tunnel

load_module || die "cannot load the module"
say "ipsec_rs loaded; host 1 pings host 2 through the tunnel"
ip netns exec h1 ping -c 5 -i 0.2 -W 2 203.0.113.10 | tail -2
say "router B: ipsec-rs stats"
ip netns exec b "$IPSEC_RS_TOOL" stats

say "router B reboots: all its SAs are gone; host 1 keeps sending"
monitor_start b /tmp/demo-events.txt || die "monitor did not start"
dmesg -c >/dev/null
ip -n b xfrm state flush
ip netns exec h1 ping -c 5 -i 0.2 -W 1 203.0.113.10 | tail -2
say "router B: invalid-SPI events (ipsec-rs monitor)"
cat /tmp/demo-events.txt
say "router B: kernel log"
dmesg | grep RECVD_PKT_INV_SPI
say "router B: counters"
ip netns exec b "$IPSEC_RS_TOOL" stats | grep -Ei 'invalid|event|suppress'

say "the SAs come back (as IKE re-creates them): traffic flows again"
sas b
ip netns exec h1 ping -c 5 -i 0.2 -W 2 203.0.113.10 | tail -2
kill $MONITOR_PID 2>/dev/null
unload_module
exit 0
