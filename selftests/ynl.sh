#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The YAML spec is true: the kernel's own ynl CLI (tools/net/ynl in the 6.12
# source), given only Documentation/netlink/specs/ipsec_rs.yaml, reads the
# module's counters and configuration and receives an invalid-SPI event.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip python3
KSRC=${IPSEC_RS_KSRC:-}
[ -f "$KSRC/tools/net/ynl/cli.py" ] || skip_test "no kernel source with tools/net/ynl (run make setup)"
python3 -c 'import yaml, jsonschema' 2>/dev/null || skip_test "needs python3-yaml and python3-jsonschema"
trap 'kill $YNL 2>/dev/null; topo_cleanup' EXIT
ynl() {
	ip netns exec b python3 "$KSRC/tools/net/ynl/cli.py" \
		--spec "$IPSEC_RS_REPO/Documentation/netlink/specs/ipsec_rs.yaml" \
		--schema "$KSRC/Documentation/netlink/genetlink.yaml" "$@"
}

ktap_plan
topo_two_routers
check "insmod" load_module
ynl --subscribe events --sleep 60 >/tmp/ynl-events.out 2>&1 &
YNL=$!
# The CLI's start-up (python over 9p under TCG) takes from a few seconds to
# over 15: keep sending, a new SPI each time (one event per flow per minute),
# for as long as it listens.
i=0
while kill -0 $YNL 2>/dev/null; do
	ip netns exec a $INJECT 192.0.2.2 --spi $((0xab00 + i)) --seq 5 >/dev/null
	i=$((i + 1))
	sleep 2
done
wait $YNL
diag "sent $i packets; ynl printed: $(head -c 600 /tmp/ynl-events.out)"
check "ynl received an event" grep -q "'spi': 43[0-9][0-9][0-9]" /tmp/ynl-events.out
check "event carries the sequence number" grep -q "'seq': 5" /tmp/ynl-events.out
check "event carries the protocol" grep -q "'proto': 50" /tmp/ynl-events.out
ynl --do get-stats >/tmp/ynl-stats.out 2>&1
diag "$(cat /tmp/ynl-stats.out | head -3)"
check "ynl get-stats shows the misses ($i)" grep -q "'invalid-spi-v4': $i," /tmp/ynl-stats.out
ynl --do get-config >/tmp/ynl-config.out 2>&1
check "ynl get-config shows the default flow table size" grep -q "'flow-table-size': 4096" /tmp/ynl-config.out
check "rmmod" unload_module
ktap_finish
