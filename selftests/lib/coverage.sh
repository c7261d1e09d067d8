#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Block coverage of the module's receive path, for tests run with the
# coverage build (make coverage-module, then selftests/run_vm.sh --kernel
# $IPSEC_RS_CACHE/uml/kernel-debug --ko $PWD/out/build-uml-coverage/ipsec_rs.ko
# TEST). Sourced after lib.sh. With any other build loaded (no coverage
# file), both functions do nothing, so a test may call them unconditionally.
# Call coverage_report before the test unloads the module: the flags go
# with it.

IPSEC_RS_COVERAGE_FILE=/sys/module/ipsec_rs/sancov

# coverage_report LABEL: the blocks, functions and lines of the receive path
# reached since the module was loaded (or since coverage_reset), as TAP
# diagnostics (selftests/tools/sancov-report; a failure of the report is
# one diagnostic line, never a failure of the test).
coverage_report() {
	[ -f "$IPSEC_RS_COVERAGE_FILE" ] || return 0
	diag "coverage: $1"
	_cov_out=$(python3 "$IPSEC_RS_REPO/selftests/tools/sancov-report" \
		--ko "$IPSEC_RS_KO" 2>&1) || _cov_out="$_cov_out
(sancov-report failed)"
	printf '%s\n' "$_cov_out" | sed 's/^/#   /'
}

# coverage_reset: every block unreached again (from here on).
coverage_reset() {
	[ -f "$IPSEC_RS_COVERAGE_FILE" ] || return 0
	echo 0 >"$IPSEC_RS_COVERAGE_FILE"
}
