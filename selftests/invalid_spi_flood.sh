#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Invalid-SPI limits: a flood of 30,000 ESP packets with random SPIs from
# random spoofed sources (into a flow table of 1,024 slots: ~29 flows a slot,
# as 100,000 into the default 4,096 would give ~24) produces no more events and log lines than the
# configured limits allow, the counters add up exactly, the flow table
# stays bounded (flows are evicted, memory does not grow), and a valid SA's
# ping keeps working during it. Events stay in their namespace, and an
# unprivileged user can neither subscribe nor configure.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip ping python3 setpriv
require_tool
[ -x "$IPSEC_RS_REPO/selftests/tools/esp_flood" ] || die "selftests/tools/esp_flood not built (make -C selftests/tools)"
trap 'kill $MONITOR_PID $MON_C $PING 2>/dev/null; topo_cleanup; ip netns del c 2>/dev/null' EXIT
N=${1:-30000}
TABLE=${2:-1024}

ktap_plan
topo_two_routers
ip netns add c
xfrm_tunnel_gcm 192.0.2.1 192.0.2.2 || die "cannot install SAs"
check "insmod" load_module

# Permissions: reading is open, subscribing and configuring need CAP_NET_ADMIN.
unpriv() { ip netns exec b setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$@"; }
unpriv "$IPSEC_RS_TOOL" monitor --timeout 2 >/dev/null 2>&1
check_eq "unprivileged monitor refused (exit 3: permission)" $? 3
unpriv "$IPSEC_RS_TOOL" set global --log-interval-ms 1000 >/dev/null 2>&1
check_eq "unprivileged set refused (exit 3: permission)" $? 3
check "unprivileged stats allowed" unpriv "$IPSEC_RS_TOOL" stats --json

# Limits in force: the defaults (one event per flow per minute, 600 per
# minute overall with bursts of 60) with a flow table of $TABLE slots, small
# enough that the flood's random sources (a /15) overflow it many times.
check "flow table resized to $TABLE" ip netns exec b "$IPSEC_RS_TOOL" set global --flow-table-size "$TABLE"
cfg=$(ip netns exec b "$IPSEC_RS_TOOL" show global --json)
grate=$(echo "$cfg" | json_get global_rate); gburst=$(echo "$cfg" | json_get global_burst)
ival=$(echo "$cfg" | json_get log_interval_ms); table=$(echo "$cfg" | json_get flow_table_size)
diag "limits: global $grate per ${ival}ms, burst $gburst, flow table $table"
check_eq "flow table size in force" "$table" "$TABLE"

ev=/tmp/flood-events.json
check "monitor subscribed in b" monitor_start b $ev
MON_B=$MONITOR_PID
check "monitor subscribed in c" monitor_start c /tmp/c-events.json
MON_C=$MONITOR_PID
dmesg -c >/dev/null
mem() { awk '/^(Slab|VmallocUsed):/ {s += $2} END {print s}' /proc/meminfo; }
mem0=$(mem)

ip netns exec a ping -q -c 40 -i 0.25 -W 2 192.0.2.2 >/tmp/flood-ping.out 2>&1 &
PING=$!
t0=$(cut -d. -f1 /proc/uptime)
sent=$(ip netns exec a "$IPSEC_RS_REPO/selftests/tools/esp_flood" 192.0.2.2 198.18.0.0/15 "$N")
t1=$(cut -d. -f1 /proc/uptime)
wait $PING
ping_rc=$?
sleep 2
kill $MON_B $MON_C 2>/dev/null
elapsed=$((t1 - t0 + 1))
diag "sent $sent packets in ${elapsed}s (guest time)"

snap b
inv=$(cnt invalid_spi_v4); evs=$(cnt events_sent); sf=$(cnt suppressed_flow)
sg=$(cnt suppressed_global); evicted=$(cnt flows_evicted)
got=$(grep -c '"event"' $ev)
logs=$(dmesg | grep -c RECVD_PKT_INV_SPI)
bound=$((gburst + (grate * elapsed * 1000 + ival - 1) / ival))
diag "misses=$inv events=$evs received=$got logs=$logs suppressed flow=$sf global=$sg evicted=$evicted bound=$bound"
check_eq "injector sent everything" "$sent" "$N"
check "most of the flood reached b (misses > 90%)" test "$inv" -gt $((N * 9 / 10))
check "no more than all of it" test "$inv" -le "$N"
check_eq "misses = events + suppressed (exact)" "$inv" "$((evs + sf + sg))"
check "events within the global limit ($bound)" test "$evs" -le "$bound"
check "the global limit did bite" test "$sg" -gt 0
check_eq "every event reached the listener" "$got" "$evs"
check_eq "one log line per event" "$logs" "$evs"
check "flows were evicted from the bounded table (> N/2)" test "$evicted" -gt $((N / 2))
mem1=$(mem)
diag "slab+vmalloc: ${mem0} kB before, ${mem1} kB after"
check "memory did not grow by more than 4 MB" test $((mem1 - mem0)) -lt 4096
rcvd=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' /tmp/flood-ping.out)
diag "ping during the flood: ${rcvd:-0}/40 answered (rc $ping_rc)"
check "valid SA's ping kept working during the flood (>= 36/40)" test "${rcvd:-0}" -ge 36
check_eq "no event leaked into namespace c" "$(grep -c '"event"' /tmp/c-events.json)" 0
check "rmmod" unload_module
ktap_finish
