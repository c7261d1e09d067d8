#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Instruction profile of inbound decapsulation (not in TESTS; a tool): N
# valid tunnel-mode rfc4106(gcm(aes)) ESP packets of SIZE bytes decapsulated
# by MODE ("plain": XFRM, module not loaded; "module": the module's receive
# path), for scripts/insn-profile-run (make insn-profile), which boots this
# under QEMU's tbcount plugin (selftests/tools/tbcount.c) and attributes
# every executed kernel instruction to its symbol with the kallsyms saved
# here.
#
#   insn_profile.sh MODE [N [SIZE]]
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip python3
require_tool
BLAST=$IPSEC_RS_REPO/selftests/tools/esp_blast
[ -x "$BLAST" ] || skip_test "needs $BLAST (make -C selftests/tools)"
MODE=${1:?mode}
N=${2:-20000}
SIZE=${3:-64}
SPI=0x1000
trap 'rm -f /tmp/insn_profile.bin; topo_cleanup' EXIT

ktap_plan
topo_two_routers
xfrm_tunnel_gcm 192.0.2.1 192.0.2.2 || die "cannot install SAs"
mac_b=$(ip -n b -o link show vb | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
made=$(ip netns exec a python3 "$IPSEC_RS_REPO/selftests/lib/esp_craft.py" --dev va \
	--dst-mac "$mac_b" --src 192.0.2.1 --dst 192.0.2.2 --spi $SPI --key "$KEY_AB" \
	--seq "1-$N" --size "$SIZE" --inner-dport 7777 --out /tmp/insn_profile.bin)
check_eq "$N packets of $SIZE bytes made" "$made" "$N"
if [ "$MODE" = module ]; then
	check "insmod" load_module
	ip netns exec b "$IPSEC_RS_TOOL" set global --rx on >/dev/null
fi
# The window starts empty for the measured run.
ip -n b xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto esp spi $SPI
ip -n b xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi $SPI mode tunnel \
	replay-window 32 aead 'rfc4106(gcm(aes))' "$KEY_AB" 128
# sync(2) around the run: the plugin's trigger (a snapshot of its counts).
sync
OUT=$(ip netns exec b "$BLAST" -p 7777 -s /run/netns/a -w va /tmp/insn_profile.bin)
sync
check_eq "all delivered ($OUT)" "$(echo "$OUT" | sed -n 's/.*counted=\([0-9]*\).*/\1/p')" "$N"
cat /proc/kallsyms >"$IPSEC_RS_OUT/kallsyms"
[ "$MODE" = module ] && { check "rmmod" unload_module; }
ktap_finish
