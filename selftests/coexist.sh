#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Coexistence with XFRM's other receivers of ESP, with the module's
# invalid-SPI detection on and its receive path off, then on:
# - a vti tunnel, whose SAs carry a mark that only vti's own ESP handler
#   applies (the module's observer above it takes its packets with the
#   receive path on, vti_rx.sh has the details): its traffic flows, through
#   XFRM, then through the module; nothing is reported as an invalid SPI;
# - an XFRM interface (if_id): its traffic flows, through XFRM with the
#   receive path off and through the module with it on (xfrmi_rx.sh has
#   the details); nothing reported;
# - next to them, a plain SA pair decapsulated by the module, and an
#   unknown SPI still reported.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip ping python3
require_tool
trap 'topo_cleanup' EXIT

topo_two_routers
require_link_kind vti CONFIG_NET_IPVTI local 198.51.100.8 remote 198.51.100.9
ktap_plan

# vti: outer 198.51.100.1 <-> .2, key 7, inner 10.7.0.1 <-> 10.7.0.2.
check "vti tunnel in a" vti_side a 198.51.100.1 198.51.100.2 10.7.0.1 10.7.0.2 7001 7002
check "vti tunnel in b" vti_side b 198.51.100.2 198.51.100.1 10.7.0.2 10.7.0.1 7002 7001

check "XFRM interface in a" xfrmi_side a 203.0.113.1 203.0.113.2 10.9.0.1 10.9.0.2 9001 9002
check "XFRM interface in b" xfrmi_side b 203.0.113.2 203.0.113.1 10.9.0.2 10.9.0.1 9002 9001

# And a plain tunnel between the veth addresses (SPIs 0x1000 / 0x2000).
xfrm_tunnel_gcm 192.0.2.1 192.0.2.2 || die "cannot install SAs"

check "insmod" load_module
check "invalid-SPI detection on in b" ip netns exec b "$IPSEC_RS_TOOL" set global --invalid-spi on

# traffic WHEN ESP: pings over all three, b's counters and XFRM's
# afterwards; ESP packets the module should see.
traffic() {
	mark_counters
	check "$1: ping over vti" ip netns exec a ping -q -c 5 -i 0.1 -W 2 10.7.0.2
	check "$1: ping over the XFRM interface" ip netns exec a ping -q -c 5 -i 0.1 -W 2 10.9.0.2
	check "$1: ping over the plain tunnel" ip netns exec a ping -q -c 5 -i 0.1 -W 2 192.0.2.2
	snap b
	check_eq "$1: no invalid SPI reported" "$(delta invalid_spi_v4)" 0
	check_eq "$1: every ESP packet that reached the module's handler counted" "$(delta esp_v4)" $2
}
traffic "receive path off" 10
check_eq "receive path off: nothing decapsulated by the module" "$(delta decap_ok)" 0
check "receive path on in b" ip netns exec b "$IPSEC_RS_TOOL" set global --rx on
traffic "receive path on" 15
check_eq "receive path on: all three decapsulated by the module" "$(delta decap_ok)" 15
check_eq "receive path on: nothing left to XFRM" "$(delta passed_to_xfrm)" 0
check_eq "vti's inbound SA counted its packets (XFRM, then the module)" \
	"$(xfrm_packets b 0x7001 198.51.100.1 198.51.100.2 mark 7)" 10
check_eq "the XFRM interface's inbound SA counted its packets" "$(xfrm_packets b 0x9001 203.0.113.1 203.0.113.2)" 10

# An unknown SPI to the plain tunnel's address is still reported.
ip netns exec a $INJECT 192.0.2.2 --spi 0xdead --seq 1 >/dev/null
sleep 0.5; snap b
check_eq "an unknown SPI still reported" "$(delta invalid_spi_v4)" 1
check "rmmod" unload_module
check "kernel log clean" kernel_log_clean
ktap_finish
