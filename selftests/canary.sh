#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Proof that the referee can fail: loads the test-only canary module with one
# fault (the argument). The runner is told which fault class it must report
# for this run (TESTS: expect=CLASS) and passes the run only if the referee
# reports exactly that; with fault=none it must report nothing.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
fault=${1:-none}
ko=${IPSEC_RS_CANARY_KO:-$IPSEC_RS_REPO/selftests/canary/ipsec_rs_canary.ko}
[ -f "$ko" ] || die "canary not built: $ko"
ktap_plan 2
check "insmod canary fault=$fault" insmod "$ko" fault="$fault"
sleep 1
check "rmmod canary" rmmod ipsec_rs_canary
ktap_finish
