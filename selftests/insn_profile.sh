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
. "$IPSEC_RS_REPO/selftests/lib/decap_traffic.sh"
[ -x "$DECAP_BLAST" ] || skip_test "needs $DECAP_BLAST (make -C selftests/tools)"
MODE=${1:?mode}
N=${2:-20000}
SIZE=${3:-64}
trap 'rm -f /tmp/insn_profile.bin; topo_cleanup' EXIT

ktap_plan
decap_setup
made=$(decap_make "$N" "$SIZE" /tmp/insn_profile.bin)
check_eq "$N packets of $SIZE bytes made" "$made" "$N"
if [ "$MODE" = module ]; then
	check "insmod" load_module
	ip netns exec b "$IPSEC_RS_TOOL" set global --rx on >/dev/null
fi
# The window starts empty for the measured run.
decap_new_sa
# sync(2) around the run: the plugin's trigger (a snapshot of its counts).
sync
OUT=$(decap_blast -w /tmp/insn_profile.bin)
sync
check_eq "all delivered ($OUT)" "$(echo "$OUT" | sed -n 's/.*counted=\([0-9]*\).*/\1/p')" "$N"
cat /proc/kallsyms >"$IPSEC_RS_OUT/kallsyms"
[ "$MODE" = module ] && { check "rmmod" unload_module; }
ktap_finish
