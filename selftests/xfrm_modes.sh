#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# SAs in modes the module does not decapsulate stay XFRM's, counted, with
# the reason in the per-SA view, and XFRM decrypts their packets: BEET (both
# kernel series) and IP-TFS (RFC 9347; XFRM's since 6.14, so the 7.3 kernel:
# where the kernel has no IP-TFS that part is skipped, saying so). Beside
# them a tunnel-mode SA, which the module takes. Hand-made ESP
# (selftests/lib/esp_craft.py) from a into b, the receive path on in b;
# the IP-TFS SA is added through XFRM netlink (selftests/lib/xfrm_sa.py:
# the host's iproute2 has no `mode iptfs`).
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip python3
require_tool
trap 'topo_cleanup' EXIT

CRAFT="python3 $IPSEC_RS_REPO/selftests/lib/esp_craft.py"
ADD_SA="python3 $IPSEC_RS_REPO/selftests/lib/xfrm_sa.py"
N=20
GCM="aead rfc4106(gcm(aes)) $KEY_AB 128"

# send SPI [NEXT_HEADER]: packets with sequence numbers 1..N from a to b.
send() {
	_pk="" _i=1
	while [ $_i -le $N ]; do _pk="$_pk --pkt seq=$_i${2:+,next-header=$2}"; _i=$((_i + 1)); done
	# shellcheck disable=SC2086
	ip netns exec a $CRAFT --dev va --dst-mac "$mac_b" --src 192.0.2.1 --dst 192.0.2.2 \
		--key $KEY_AB --spi "$1" $_pk >/dev/null
	sleep 1
}
# handler SPI: the per-SA view's handler of b's SA.
handler() {
	ip netns exec b "$IPSEC_RS_TOOL" show sas --spi "$1" --json |
		python3 -c 'import json, sys; print(",".join(s["handler"] for s in json.load(sys.stdin)))'
}
# left_to_xfrm WHAT SPI: the SA's N packets went to XFRM, which decrypted them.
left_to_xfrm() {
	snap b
	check_eq "$1: every packet left to XFRM (passed_to_xfrm)" "$(delta passed_to_xfrm)" $N
	check_eq "$1: none decapsulated by the module" "$(delta decap_ok)" 0
	check_eq "$1: XFRM decrypted them (the SA's lifetime packets)" "$(xfrm_packets b "$2" 192.0.2.1 192.0.2.2)" $N
	check_eq "$1: the per-SA view gives the reason" "$(handler "$2")" mode
}

ktap_plan
topo_two_routers
mac_b=$(cat /sys/class/net/vb/address 2>/dev/null || ip -n b -o link show vb | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
check "insmod" load_module
check "receive path on in b" ip netns exec b "$IPSEC_RS_TOOL" set global --rx on

# Tunnel mode: the module's.
# shellcheck disable=SC2086
ip -n b xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x6000 mode tunnel $GCM ||
	die "cannot add the tunnel-mode SA"
mark_counters
send 0x6000
snap b
check_eq "tunnel: every packet decapsulated by the module" "$(delta decap_ok)" $N
check_eq "tunnel: nothing left to XFRM" "$(delta passed_to_xfrm)" 0
check_eq "tunnel: the per-SA view says module" "$(handler 0x6000)" module

# BEET: XFRM's.
# shellcheck disable=SC2086
ip -n b xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x6100 mode beet $GCM \
	sel src 10.1.0.1/32 dst 10.2.0.1/32 || die "cannot add the BEET SA"
mark_counters
send 0x6100
left_to_xfrm BEET 0x6100

# IP-TFS (next header 143, AGGFRAG): XFRM's, when the kernel has it (an
# IP-TFS SA must say its direction).
if err=$(ip netns exec b $ADD_SA --src 192.0.2.1 --dst 192.0.2.2 --spi 0x6200 --mode iptfs --dir in \
	--aead 'rfc4106(gcm(aes))' --key $KEY_AB --icv 128 2>&1); then
	ok "IP-TFS SA added through XFRM netlink"
	mark_counters
	send 0x6200 143
	left_to_xfrm IP-TFS 0x6200
else
	diag "this kernel refuses an IP-TFS SA: $err"
	for c in "SA added" "left to XFRM" "not decapsulated by the module" "decrypted by XFRM" "reason"; do
		ok "IP-TFS: $c # SKIP no IP-TFS in this kernel ($(uname -r))"
	done
fi

check "kernel log clean" kernel_log_clean
check "rmmod" rmmod ipsec_rs
ktap_finish
