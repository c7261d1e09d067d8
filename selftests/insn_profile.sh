#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Instruction profile of inbound decapsulation (not in TESTS; a tool): N
# valid tunnel-mode rfc4106(gcm(aes)) ESP packets of SIZE bytes decapsulated
# by MODE ("plain": XFRM, module not loaded; "module": the module's receive
# path; "xfrm-gro" and "module-gro": the same on a device doing GRO, XFRM
# with the kernel's esp4_offload loaded, the module with rx_gro=1, as
# bench_decap.sh's runs of those names), for scripts/insn-profile-run (make insn-profile), which boots this
# under QEMU's tbcount plugin (selftests/tools/tbcount.c) and attributes
# every executed kernel instruction to its symbol with the kallsyms saved
# here. FAMILY 6: IPv6 outside and inside (esp6_offload for xfrm-gro), as
# bench_decap.sh's v6.
#
#   insn_profile.sh MODE [N [SIZE [FAMILY]]]
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip python3
require_tool
. "$IPSEC_RS_REPO/selftests/lib/decap_traffic.sh"
[ -x "$DECAP_BLAST" ] || skip_test "needs $DECAP_BLAST (make -C selftests/tools)"
MODE=${1:?mode}
N=${2:-20000}
SIZE=${3:-64}
decap_family "${4:-4}"
trap 'rm -f /tmp/insn_profile.bin; topo_cleanup' EXIT

ktap_plan
decap_setup
made=$(decap_make "$N" "$SIZE" /tmp/insn_profile.bin)
check_eq "$N packets of $SIZE bytes made" "$made" "$N"
case $MODE in
*-gro)
	veth_gro on || die "cannot switch GRO on"
	;;
esac
case $MODE in
module) check "insmod" load_module ;;
module-gro) check "insmod rx_gro=1" load_module rx_gro=1 ;;
xfrm-gro) check "insmod $DECAP_OFFLOAD" insmod "$DECAP_OFFLOAD_KO" ;;
esac
case $MODE in module*) ip netns exec b "$IPSEC_RS_TOOL" set global --rx on >/dev/null ;; esac
# The window starts empty for the measured run.
decap_new_sa
decap_settle
# sync(2) around the run: the plugin's trigger (a snapshot of its counts).
sync
OUT=$(decap_blast -w /tmp/insn_profile.bin)
sync
check_eq "all delivered ($OUT)" "$(echo "$OUT" | sed -n 's/.*counted=\([0-9]*\).*/\1/p')" "$N"
cat /proc/kallsyms >"$IPSEC_RS_OUT/kallsyms"
case $MODE in module*) check "rmmod" unload_module ;; esac
ktap_finish
