#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Allocation failures injected underneath the module while it works, with
# the kernel's own fault injection (Documentation/fault-injection/):
# - failslab and fail_page_alloc at several probabilities, restricted by
#   call stack to allocations made with the module's code on the stack
#   (require-start/require-end: its text), sleeping allocations included,
#   while ESP flows into router b (AES-GCM over IPv4 and IPv6, AES-CBC +
#   HMAC-SHA-256, UDP-encapsulated GCM; the receive path on, fresh SAs each
#   round so that their state is made under injection), unknown SPIs flood
#   it with a listener subscribed to the events, SET/GET/dump commands run
#   and namespaces are created and destroyed;
# - targeted runs: the same, with the call-stack filter narrowed to one of
#   the module's own allocation points (the netlink message of an event, an
#   SA's state), each failure then counted by the counter that names it;
# - systematic runs in process context (/proc/self/fail-nth): namespace
#   creation, module load and every command of the family, the 1st, 2nd,
#   3rd... allocation made under the module's code failing in turn until
#   the operation succeeds: each failed attempt must fail cleanly (an error,
#   nothing half made).
# fail_function (ALLOW_ERROR_INJECTION in rust/helpers/) is not used: on this
# kernel its kprobe handler draws random numbers in int3 (NMI-like) context,
# which lockdep reports (inconsistent {INITIAL USE} -> {IN-NMI} usage of
# batched_entropy_u8.lock) at the first injection, in the kernel, not here.
#
#   fault_inject.sh [all | rounds | targeted] [full | ci]
#       rounds, targeted: one part only, then the transfer and rmmod.
#       ci (selftests/TESTS, for CI's time): half the packets per round
#       (50 pings a flow, 100 unknown SPIs), no failslab 5% round (30%
#       and 100% are), no systematic runs over namespace creation and the
#       commands (the rounds run the commands under injection), and of
#       module load's ~120 allocation points every fourth (1st, 5th,
#       9th...); "thousands of failures" becomes "several hundred".
#       full (the default, by hand): 100 and 200, every round, every point.
# Asserted: every ESP packet the sender sent is accounted for in b (sent =
# decapsulated + left to XFRM + unknown SPI + each drop counter, exactly),
# listeners receive exactly the events not counted lost, commands fail with
# an error rather than a crash or a hang, a namespace whose set-up failed is
# gone without a trace, the module decapsulates correctly once injection
# stops (a bulk transfer's content checked), rmmod succeeds; the runner
# fails the test on any referee finding and on kmemleak after unload.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip ping python3 socat sha256sum timeout
require_tool
DBG=/sys/kernel/debug
[ -d $DBG/failslab ] || mount -t debugfs none $DBG 2>/dev/null
[ -d $DBG/failslab ] && [ -d $DBG/fail_page_alloc ] ||
	skip_test "kernel without CONFIG_FAILSLAB / CONFIG_FAIL_PAGE_ALLOC (the project's debug kernel has them)"
[ -f $DBG/failslab/require-start ] || skip_test "kernel without CONFIG_FAULT_INJECTION_STACKTRACE_FILTER"
FLOOD=$IPSEC_RS_REPO/selftests/tools/esp_flood
[ -x "$FLOOD" ] || die "selftests/tools/esp_flood not built"
trap 'fi_off_all; kill $MONITOR_PID $RCV_PID $CHURN_PID 2>/dev/null; ip -all netns del 2>/dev/null; topo_cleanup' EXIT

# Sizes: packets per flow per round, invalid-SPI packets per round.
MODE=${1:-all}
SIZE=${2:-full}
case $SIZE in
full) PINGS=100 MISSES=200 INSMOD_STRIDE=1 MIN_INJECTED=2000 ;;
ci) PINGS=50 MISSES=100 INSMOD_STRIDE=4 MIN_INJECTED=500 ;;
*) die "size '$SIZE': full or ci" ;;
esac
FI_TIMES=1000000
# systematic's step from one allocation point to the next it fails.
STRIDE=1

ENC_AB=0x0102030405060708090a0b0c0d0e0f10
AUTH_AB=0x2122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40
ENC_BA=0x1112131415161718191a1b1c1d1e1f20
AUTH_BA=0x4142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60

# --- fault injection helpers ---------------------------------------------
# fi_arm CAP PERCENT: CAP (failslab, fail_page_alloc) fails PERCENT of the
# allocations made with the module's text on the call stack, in any context
# and sleeping ones included, up to FI_TIMES times.
fi_arm() {
	_fd=$DBG/$1
	echo 0 >$_fd/verbose
	echo 0 >$_fd/task-filter
	echo 0 >$_fd/space
	echo 1 >$_fd/interval
	echo N >$_fd/ignore-gfp-wait
	[ -f $_fd/ignore-gfp-highmem ] && echo N >$_fd/ignore-gfp-highmem
	[ -f $_fd/min-order ] && echo 0 >$_fd/min-order
	echo 32 >$_fd/stacktrace-depth
	echo "$MOD_START" >$_fd/require-start
	echo "$MOD_END" >$_fd/require-end
	echo $FI_TIMES >$_fd/times
	echo "$2" >$_fd/probability
}
# fi_off CAP: stops CAP; prints how many failures it injected.
fi_off() {
	echo 0 >$DBG/$1/probability
	echo $((FI_TIMES - $(cat $DBG/$1/times)))
	echo $FI_TIMES >$DBG/$1/times
}
# fn_range SYMBOL: FN_START / FN_END, the address range of the module's
# function whose (mangled) name ends with SYMBOL (a name that only mentions
# it, as a generic argument, does not count), from /proc/kallsyms.
fn_range() {
	set -- $(python3 - "$1" <<-'PY'
	import sys
	syms = []
	for line in open("/proc/kallsyms"):
	    f = line.split()
	    if len(f) >= 3 and int(f[0], 16):
	        syms.append((int(f[0], 16), f[2], len(f) > 3 and f[3] == "[ipsec_rs]"))
	syms.sort()
	for i, (addr, name, ours) in enumerate(syms):
	    if ours and name.endswith(sys.argv[1]) and i + 1 < len(syms):
	        print(hex(addr), hex(syms[i + 1][0]), name)
	        break
	PY
	)
	FN_START=$1 FN_END=$2
	[ -n "$FN_END" ] && diag "$1..$2: $3"
	[ -n "$FN_END" ]
}
# fi_fn CAP FUNC PERCENT: fi_arm, with the call-stack filter narrowed to the
# module's function FUNC.
fi_fn() {
	fn_range "$2" || return 1
	fi_arm "$1" "$3"
	echo "$FN_START" >$DBG/$1/require-start
	echo "$FN_END" >$DBG/$1/require-end
}
# nth_setup: both capabilities armed for /proc/self/fail-nth only
# (probability 0), filtered to the module's code as in fi_arm.
nth_setup() {
	for c in failslab fail_page_alloc; do fi_arm $c 0; done
}
# nth_run N CMD...: CMD with the Nth allocation made under the module's code
# failing (fail-nth survives exec, not fork: the shell that writes it execs
# CMD). Its exit status.
nth_run() {
	_n=$1; shift
	sh -c 'echo "$0" >/proc/self/fail-nth && exec "$@"' "$_n" "$@" >/tmp/fi-nth.out 2>/tmp/fi-nth.err
}
# nth_injected: whether the last nth_run injected its failure (it is then
# counted off both capabilities' `times`), resetting the count.
nth_injected() {
	_left=$(( $(cat $DBG/failslab/times) + $(cat $DBG/fail_page_alloc/times) ))
	for c in failslab fail_page_alloc; do echo $FI_TIMES >$DBG/$c/times; done
	[ "$_left" -lt $((2 * FI_TIMES)) ]
}
# systematic NAME CLEAN CMD...: CMD with its 1st, 2nd, ... allocation under
# the module's code failing (1st, 1+STRIDE, 1+2*STRIDE... when STRIDE > 1),
# until an attempt has no Nth allocation left to fail (at most 200). A
# failure that CMD overcame (a fallback: a retry from reserves, vmalloc
# after kmalloc, kmemleak's own pool) is counted and the enumeration goes on; a failure that made CMD fail must
# be reported (stderr) and leave nothing half made (the shell test CLEAN
# holds after it). Then CMD must have succeeded.
systematic() {
	_name=$1 _clean=$2; shift 2
	_failed=0 _absorbed=0 _bad=0 _i=1 _ok=1
	while [ $_i -le 200 ]; do
		nth_run $_i "$@"; _rc=$?
		if ! nth_injected; then
			_ok=$_rc
			break
		fi
		if [ $_rc -eq 0 ]; then
			_absorbed=$((_absorbed + 1))
		else
			_failed=$((_failed + 1))
			[ -s /tmp/fi-nth.err ] || { _bad=$((_bad + 1)); diag "$_name: attempt $_i failed silently"; }
			grep -q panicked /tmp/fi-nth.err && { _bad=$((_bad + 1)); diag "$_name: attempt $_i: $(head -c 300 /tmp/fi-nth.err)"; }
			eval "$_clean" || { _bad=$((_bad + 1)); diag "$_name: attempt $_i left something behind"; }
		fi
		_i=$((_i + STRIDE))
	done
	injected $((_failed + _absorbed))
	diag "$_name: $((_failed + _absorbed)) allocation points under the module's code failed once each (every $STRIDE from the 1st, of fewer than $_i): $_failed made it fail (each reported, nothing left behind), $_absorbed were overcome"
	[ $_i -le 200 ] && [ $_bad -eq 0 ] && [ "$_ok" -eq 0 ] && [ $_i -gt 1 ]
}
fi_off_all() {
	for c in failslab fail_page_alloc; do echo 0 >$DBG/$c/probability 2>/dev/null; done
	true
}
# module_range: MOD_START / MOD_END, from the module's text (its base in
# /proc/modules) to the end of the module area: its core and init text,
# now and when loaded again (the same first free place; no other module is
# loaded).
module_range() {
	set -- $(grep '^ipsec_rs ' /proc/modules)
	MOD_START=$6
	MOD_END=0xffffffffff000000
	[ "$MOD_START" != 0x0000000000000000 ]
}
TOTAL_INJECTED=0
injected() { TOTAL_INJECTED=$((TOTAL_INJECTED + $1)); }

# --- the lab -------------------------------------------------------------
# a -> b: GCM over IPv4 (192.0.2.0/24) and IPv6, CBC/HMAC over 198.51.100.0/24,
# UDP-encapsulated GCM over 203.0.113.0/24.
ktap_plan
topo_two_routers
ip -n a addr add 198.51.100.1/24 dev va; ip -n b addr add 198.51.100.2/24 dev vb
ip -n a addr add 203.0.113.1/24 dev va; ip -n b addr add 203.0.113.2/24 dev vb
check "UDP_ENCAP_ESPINUDP socket ready in a" encap_socket a
check "UDP_ENCAP_ESPINUDP socket ready in b" encap_socket b
for n in a b; do
	ip -n $n xfrm policy add src 0.0.0.0/0 dst 0.0.0.0/0 proto udp sport 4500 dir in priority 10
done
policy_pair() {
	ip -n a xfrm policy add src $1 dst $2 dir out priority 100 tmpl src $1 dst $2 proto esp mode tunnel
	ip -n a xfrm policy add src $2 dst $1 dir in priority 100 tmpl src $2 dst $1 proto esp mode tunnel
	ip -n b xfrm policy add src $2 dst $1 dir out priority 100 tmpl src $2 dst $1 proto esp mode tunnel
	ip -n b xfrm policy add src $1 dst $2 dir in priority 100 tmpl src $1 dst $2 proto esp mode tunnel
}
policy_pair 192.0.2.1 192.0.2.2
policy_pair 2001:db8::1 2001:db8::2
policy_pair 198.51.100.1 198.51.100.2
policy_pair 203.0.113.1 203.0.113.2
# sas ROUND: fresh SAs (new SPIs) for every flow, so that the module makes
# their state (first packet, softirq) under that round's injection.
sas() {
	for n in a b; do ip -n $n xfrm state flush; done
	_r=$(($1 * 16))
	for n in a b; do
		ip -n $n -batch - <<-EOF
		xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi $((0x10000 + _r)) mode tunnel replay-window 32 aead rfc4106(gcm(aes)) $KEY_AB 128
		xfrm state add src 192.0.2.2 dst 192.0.2.1 proto esp spi $((0x20000 + _r)) mode tunnel replay-window 32 aead rfc4106(gcm(aes)) $KEY_BA 128
		xfrm state add src 2001:db8::1 dst 2001:db8::2 proto esp spi $((0x10001 + _r)) mode tunnel replay-window 32 aead rfc4106(gcm(aes)) $KEY_AB 128
		xfrm state add src 2001:db8::2 dst 2001:db8::1 proto esp spi $((0x20001 + _r)) mode tunnel replay-window 32 aead rfc4106(gcm(aes)) $KEY_BA 128
		xfrm state add src 198.51.100.1 dst 198.51.100.2 proto esp spi $((0x10002 + _r)) mode tunnel replay-window 32 enc cbc(aes) $ENC_AB auth-trunc hmac(sha256) $AUTH_AB 128
		xfrm state add src 198.51.100.2 dst 198.51.100.1 proto esp spi $((0x20002 + _r)) mode tunnel replay-window 32 enc cbc(aes) $ENC_BA auth-trunc hmac(sha256) $AUTH_BA 128
		xfrm state add src 203.0.113.1 dst 203.0.113.2 proto esp spi $((0x10003 + _r)) mode tunnel replay-window 32 aead rfc4106(gcm(aes)) $KEY_AB 128 encap espinudp 4500 4500 0.0.0.0
		xfrm state add src 203.0.113.2 dst 203.0.113.1 proto esp spi $((0x20003 + _r)) mode tunnel replay-window 32 aead rfc4106(gcm(aes)) $KEY_BA 128 encap espinudp 4500 4500 0.0.0.0
		EOF
	done
}
# sent_esp: ESP packets a's XFRM sent to b (its outbound SAs' lifetime
# counts) since the last `sas`.
sent_esp() {
	ip -n a -s xfrm state | awk '
		/^src / { out = ($2 ~ /^(192\.0\.2\.1|2001:db8::1|198\.51\.100\.1|203\.0\.113\.1)$/) }
		/lifetime current:/ { cur = 1; next }
		cur { if (out) { sub(/\(packets\).*/, ""); n = split($0, f, /[ ,]+/); s += f[n] } cur = 0 }
		END { print s + 0 }'
}
# flows: per flow, a's outbound SA count / b's inbound SA count (b's counts
# the packets the module or XFRM decapsulated).
flows() {
	for f in "192.0.2.1 192.0.2.2 0" "2001:db8::1 2001:db8::2 1" "198.51.100.1 198.51.100.2 2" "203.0.113.1 203.0.113.2 3"; do
		set -- $f
		_spi=$((0x10000 + $3 + ROUND * 16))
		printf '%s %s/%s ' "$2" "$(xfrm_packets a $_spi $1 $2)" "$(xfrm_packets b $_spi $1 $2)"
	done
}
# link_drops: packets the veth pair itself dropped (b's backlog full).
link_drops() {
	ip -n a -s link show va | awk '/TX:/ { getline; print $4 }'
}

# traffic: pings on every flow, an invalid-SPI flood, in the background of
# whatever injection is armed; waits for all of it.
traffic() {
	ip netns exec a ping -q -c $PINGS -i 0.01 -W 1 192.0.2.2 >/dev/null 2>&1 &
	_p1=$!
	ip netns exec a ping -q -c $PINGS -i 0.01 -W 1 2001:db8::2 >/dev/null 2>&1 &
	_p2=$!
	ip netns exec a ping -q -c $PINGS -i 0.01 -W 1 198.51.100.2 >/dev/null 2>&1 &
	_p3=$!
	ip netns exec a ping -q -c $PINGS -i 0.01 -W 1 203.0.113.2 >/dev/null 2>&1 &
	_p4=$!
	FLOODED=$(ip netns exec a "$FLOOD" 192.0.2.2 198.18.0.0/15 "$MISSES")
	wait $_p1 $_p2 $_p3 $_p4
	sleep 1
}

# commands: the family's commands in b, each either succeeding or failing
# with the kernel's error named (exit 4, "kernel error"), never crashing or
# hanging (timeout: 124); counts failures in CMD_FAILED.
CMD_FAILED=0 CMD_BAD=0
cmd() {
	timeout 60 ip netns exec b "$IPSEC_RS_TOOL" "$@" >/tmp/fi-cmd.out 2>/tmp/fi-cmd.err
	_rc=$?
	if [ $_rc -ne 0 ]; then
		CMD_FAILED=$((CMD_FAILED + 1))
		if [ $_rc -ne 4 ] || [ ! -s /tmp/fi-cmd.err ] || grep -q panicked /tmp/fi-cmd.err; then
			CMD_BAD=$((CMD_BAD + 1))
			diag "command $* ended badly (rc $_rc): $(head -c 300 /tmp/fi-cmd.err)"
		fi
	fi
}
commands() {
	cmd set global --rx on --invalid-spi on
	cmd show global --json
	cmd stats --json
	cmd show sas --json
	cmd set sa 192.0.2.2 $((0x10000 + $1 * 16)) --replay-window 1024
	cmd show sa --json
	cmd set global --flow-table-size $((512 + $1))
}

# churn: namespaces made and destroyed (the module's per-namespace state
# made and torn down, possibly failing half-way), in the background.
churn() {
	_i=0
	while [ ! -f /tmp/fi-churn-stop ]; do
		if ip netns add fi$_i 2>/dev/null; then
			ip netns exec fi$_i "$IPSEC_RS_TOOL" set global --rx on >/dev/null 2>&1
			ip netns del fi$_i
			echo ok >>/tmp/fi-churn.log
		else
			echo failed >>/tmp/fi-churn.log
		fi
		_i=$((_i + 1))
	done
}

check "insmod" load_module
check "module text located" module_range
diag "module text $MOD_START..$MOD_END"
check "receive path and detection on in b" ip netns exec b "$IPSEC_RS_TOOL" set global --rx on --invalid-spi on
ev=/tmp/fi-events.json
check "monitor subscribed in b" monitor_start b $ev
dmesg -c >/dev/null

# round CAP PERCENT N: SAs N, injection armed, traffic + commands + churn,
# injection off, then the accounting of that round.
round() {
	ROUND=$3
	sas "$3"
	snap b; s0=$(esp_seen); o0=$(esp_outcomes); d0=$(link_drops); x0=$(cnt sa_no_memory); i0=$(cnt invalid_spi_v4)
	rm -f /tmp/fi-churn-stop /tmp/fi-churn.log
	[ "$1" != none ] && fi_arm "$1" "$2"
	churn &
	CHURN_PID=$!
	traffic
	commands "$3"
	touch /tmp/fi-churn-stop
	wait $CHURN_PID
	_n=0
	[ "$1" != none ] && _n=$(fi_off "$1")
	injected "$_n"
	sleep 1
	snap b
	_sent=$(( $(sent_esp) + FLOODED ))
	_seen=$(( $(esp_seen) - s0 )); _out=$(( $(esp_outcomes) - o0 )); _drops=$(( $(link_drops) - d0 ))
	diag "$1 $2%: injected $_n; sent $_sent, seen $_seen, accounted $_out, link drops $_drops; decap_ok $(cnt decap_ok) rx_errors $(cnt rx_errors) passed_to_xfrm $(cnt passed_to_xfrm) sa_no_memory $(($(cnt sa_no_memory) - x0)); namespaces $(grep -c ok /tmp/fi-churn.log) made, $(grep -c failed /tmp/fi-churn.log) failed"
	diag "$1 $2%: per flow (sent by a / decapsulated in b): $(flows); flood sent $FLOODED, unknown SPIs $(( $(cnt invalid_spi_v4) - i0 ))"
	check_eq "$1 $2%: every ESP packet sent reached b or a counted link drop" "$((_seen + _drops))" "$_sent"
	check_eq "$1 $2%: every ESP packet seen has exactly one outcome" "$_out" "$_seen"
}

if [ "$MODE" != targeted ]; then
round none 0 1
check "no failure, no loss: every packet decapsulated or an unknown SPI" \
	test "$(( $(cnt decap_ok) + $(cnt invalid_spi_v4) ))" -eq "$(esp_seen)"
[ "$SIZE" = full ] && round failslab 5 2
round failslab 30 3
round fail_page_alloc 30 4
round failslab 100 5
check_eq "commands ended with an error, not a crash or a hang" "$CMD_BAD" 0
diag "commands that failed under injection: $CMD_FAILED"
fi

if [ "$MODE" != rounds ]; then
# Targeted: the netlink message of an invalid-SPI event (softirq).
snap b; lost0=$(cnt events_lost); sent0=$(cnt events_sent)
check "targeted: event messages (rust::genetlink::build)" fi_fn failslab 4rust9genetlink5build 50
ip netns exec a "$FLOOD" 192.0.2.2 10.64.0.0/16 200 >/dev/null
sleep 1
n=$(fi_off failslab); injected "$n"
snap b
diag "events sent $(( $(cnt events_sent) - sent0 )), lost $(( $(cnt events_lost) - lost0 )), failures injected $n"
check "event messages failed" test "$n" -gt 0
# A failure the allocator overcame (kmalloc_reserve's retry from reserves,
# kmemleak's own pool for its metadata) loses nothing: at most one loss a
# failure.
lost=$(( $(cnt events_lost) - lost0 ))
check "events lost, each counted in events_lost (0 < $lost <= $n)" test "$lost" -gt 0 -a "$lost" -le "$n"
kill $MONITOR_PID 2>/dev/null; wait $MONITOR_PID 2>/dev/null
snap b
got=$(grep -c '"event"' $ev)
check_eq "the listener received every event not lost" "$got" "$(( $(cnt events_sent) - $(cnt events_lost) - $(cnt events_unheard) ))"

# Targeted: an SA's state, made by its first packet (softirq): the first
# 5 allocations under esp_input::new_entry fail, each one a packet left to
# XFRM and counted, then the entry is made.
ROUND=7; sas 7
snap b; nm0=$(cnt sa_no_memory); ok0=$(cnt decap_ok)
check "targeted: an SA's state (esp_input::new_entry)" fi_fn failslab 9esp_input9new_entry 100
echo 5 >$DBG/failslab/times
ip netns exec a ping -q -c 40 -i 0.02 -W 1 192.0.2.2 >/dev/null 2>&1
echo 0 >$DBG/failslab/probability
n=$((5 - $(cat $DBG/failslab/times))); echo $FI_TIMES >$DBG/failslab/times; injected "$n"
snap b
diag "sa_no_memory $(( $(cnt sa_no_memory) - nm0 )), decap_ok $(( $(cnt decap_ok) - ok0 )), failures injected $n"
check_eq "5 failures injected" "$n" 5
check_eq "each one an SA state not made, counted in sa_no_memory" "$(( $(cnt sa_no_memory) - nm0 ))" 5
check "then the module took the SA" test "$(( $(cnt decap_ok) - ok0 ))" -gt 0

fi

if [ "$MODE" = all ] && [ "$SIZE" = full ]; then
# Systematic, process context: every allocation point of namespace
# creation, of each command, and of module load, failing in turn.
nth_setup
check "systematic: namespace creation" systematic "ip netns add" \
	'! ip netns list | grep -q "^fi-nth"' sh -c 'ip netns del fi-nth 2>/dev/null; exec ip netns add fi-nth' 
check "the namespace made works" sh -c "ip netns exec fi-nth $IPSEC_RS_TOOL show global --json >/dev/null"
ip netns del fi-nth
for c in "set global --rx on --replay-window 4096 --invalid-spi on" "show global --json" "stats --json" \
	"show sas --json" "set sa 192.0.2.2 0x10070 --replay-window 2048" "show sa --json" \
	"set global --flow-table-size 2048"; do
	check "systematic: ipsec-rs $c" systematic "ipsec-rs $c" true ip netns exec b "$IPSEC_RS_TOOL" $c
done
check_eq "settings made under injection are in force" "$(ip netns exec b "$IPSEC_RS_TOOL" show global --json | json_get flow_table_size)" 2048
fi_off failslab >/dev/null; fi_off fail_page_alloc >/dev/null

fi

# Decapsulation once injection stopped: a bulk transfer, content checked.
ROUND=9; sas 9
snap b; ok0=$(cnt decap_ok)
check "bulk TCP a -> b after injection, content checked" bulk_tcp a b 192.0.2.2 5001 200000
snap b
check "the module decapsulated it" test $(( $(cnt decap_ok) - ok0 )) -gt 100

check "rmmod" unload_module
check "module gone" sh -c "! grep -q '^ipsec_rs ' /proc/modules"

if [ "$MODE" = all ]; then
# Module load, every allocation point of its init failing in turn.
nth_setup
STRIDE=$INSMOD_STRIDE
check "systematic: insmod" systematic insmod '! module_loaded' sh -c 'rmmod ipsec_rs 2>/dev/null; exec insmod "$0"' "$IPSEC_RS_KO"
STRIDE=1
fi_off failslab >/dev/null; fi_off fail_page_alloc >/dev/null
check "loaded at the same place (the filter covered it)" test "$(grep '^ipsec_rs ' /proc/modules | cut -d' ' -f6)" = "$MOD_START"
check "rmmod after a load under injection" unload_module

fi
diag "failures injected in all: $TOTAL_INJECTED"
[ "$MODE" = all ] && check "at least $MIN_INJECTED failures injected" test "$TOTAL_INJECTED" -ge $MIN_INJECTED
check "kernel log clean" kernel_log_clean
ktap_finish
