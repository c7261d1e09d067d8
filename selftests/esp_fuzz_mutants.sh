#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The differential fuzzer's oracle, tested: each deliberate bug of
# selftests/mutants/*.patch (built by `make mutant-modules` into
# out/build-uml-mutant-<name>/) must make a short esp_fuzz.sh run fail with
# a disagreement that names the seed, the batch and the packets. A mutant
# the fuzzer lets pass is a hole in the oracle (or a generator that never
# makes the packet the bug needs), and fails this test.
#
#   esp_fuzz_mutants.sh [COUNT [SEED]]    default 5000 packets, seed 1
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
COUNT=${1:-5000}
SEED=${2:-1}
PATCHES=$(ls "$IPSEC_RS_REPO"/selftests/mutants/*.patch 2>/dev/null)
[ -n "$PATCHES" ] || skip_test "no selftests/mutants/*.patch"
ktap_plan
for p in $PATCHES; do
	m=$(basename "$p" .patch)
	ko=$IPSEC_RS_REPO/out/build-uml-mutant-$m/ipsec_rs.ko
	if [ ! -f "$ko" ]; then
		not_ok "mutant $m: not built ($ko: make mutant-modules)"
		continue
	fi
	# Built for the UML debug kernel only: another kernel SKIPs the lot.
	[ "$(modinfo -F vermagic "$ko" | cut -d' ' -f1)" = "$(uname -r)" ] ||
		skip_test "mutants are built for the UML debug kernel, not $(uname -r)"
	out=$(IPSEC_RS_KO=$ko sh "$IPSEC_RS_REPO/selftests/esp_fuzz.sh" "$COUNT" "$SEED" 2>&1)
	rc=$?
	where=$(echo "$out" | sed -n 's/^# *# DISAGREEMENT //p; s/^# DISAGREEMENT //p' | head -1)
	if [ $rc -ne 0 ] && [ -n "$where" ]; then
		ok "mutant $m: caught ($where)"
	else
		not_ok "mutant $m: not caught in $COUNT packets, seed $SEED (exit $rc)"
		echo "$out" | tail -20 | sed 's/^/#   /'
	fi
	module_loaded && rmmod ipsec_rs
done
ktap_finish
