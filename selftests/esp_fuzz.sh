#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Differential fuzzing of the inbound ESP path against XFRM: the same
# stream of valid and mutated ESP packets (selftests/lib/esp_fuzz.py, from
# a seed) goes to two receivers with the same SAs and keys, namespace m
# with the module's receive path on and namespace x with XFRM alone; after
# every batch the inner packets each delivered must be the same, byte for
# byte. Then every packet m's module saw must be counted in exactly one
# outcome, and the kernel's referee (KASAN, lockdep, kmemleak) must have
# nothing to say (the runner checks the log).
#
#   esp_fuzz.sh [COUNT [SEED [NAME=VALUE ...]]]
#       default 2000 packets, seed 1; NAME=VALUE: an option of esp_fuzz.py
#       (shapes=gcm128/cbc batch=1 mutate=0.5 ...: "/" separates shapes here)
#
#        g (sender)
#   gm /          \ gx
#  rg (m: module)  rg (x: XFRM)     192.0.2.2/24, 2001:db8::2/64 on each rg;
#                                   10.2.0.1, fd02::1 (inner) on each lo
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip python3
require_tool
cleanup() {
	kill $ENCAP_PID_m $ENCAP_PID_x 2>/dev/null
	for n in g m x; do ip netns del $n 2>/dev/null; done
	true
}
trap cleanup EXIT

COUNT=${1:-2000}
SEED=${2:-1}
shift 2 2>/dev/null || shift $#
EXTRA=
for o; do EXTRA="$EXTRA --${o%%=*} ${o#*=}"; done
ktap_plan

ip netns add g && ip netns add m && ip netns add x || die "cannot create namespaces"
for r in m x; do
	ip link add g$r netns g type veth peer name rg netns $r
	ip -n $r link set lo up
	ip -n $r addr add 192.0.2.2/24 dev rg
	ip -n $r addr add 2001:db8::2/64 dev rg nodad
	ip -n $r addr add 10.2.0.1/32 dev lo
	ip -n $r addr add fd02::1/128 dev lo nodad
	ip -n $r link set rg up
	ip -n g link set g$r up
done
ip -n g link set lo up

check "insmod" load_module
check "receive path on in m" ip netns exec m "$IPSEC_RS_TOOL" set global --rx on
# XFRM's window is the SA's; the module's is the larger of its default and
# the SA's: the default at its minimum, so that both are the SA's.
check "m's default window at the SA's smallest (32)" \
	ip netns exec m "$IPSEC_RS_TOOL" set global --replay-window 32
check "receive path off in x (XFRM alone)" ip netns exec x "$IPSEC_RS_TOOL" set global --rx off
# UDP-encapsulation sockets (port 4500), for the udp shapes (esp_fuzz.py --list).
if encap_socket m && encap_socket x; then ok "encapsulation sockets in m and x"; else not_ok "encapsulation sockets in m and x"; fi

FUZZ="python3 $IPSEC_RS_REPO/selftests/lib/esp_fuzz.py"
if out=$($FUZZ --seed "$SEED" --count "$COUNT" --setup $EXTRA 2>&1); then
	ok "$COUNT packets, seed $SEED: the module delivered what XFRM delivered"
else
	not_ok "$COUNT packets, seed $SEED: the module and XFRM disagree"
fi
echo "$out" | sed 's/^/# /; s/^# # /# /'

snap m
check_eq "every ESP packet m saw has one outcome" "$(esp_outcomes)" "$(esp_seen)"
diag "m: decap_ok $(cnt decap_ok), auth_failed $(cnt auth_failed), replay $(cnt replay_dropped)+$(cnt replay_too_old), malformed $(cnt malformed), bad_padding $(cnt bad_padding), bad_inner $(cnt bad_inner), invalid_spi $(( $(cnt invalid_spi_v4) + $(cnt invalid_spi_v6) )), passed_to_xfrm $(cnt passed_to_xfrm)"
for r in m x; do
	diag "$r: XFRM's statistics: $(ip netns exec $r awk '$2 != 0 { printf "%s %s ", $1, $2 }' /proc/net/xfrm_stat)"
	diag "$r: $(ip netns exec $r nstat -az 2>/dev/null | awk '$2 != 0 && /^(Ip|Udp|Icmp)/ { printf "%s %s ", $1, $2 }')"
done
check "module decapsulated some of them (not all left to XFRM)" [ "$(cnt decap_ok)" -gt 0 ]
check "rmmod" unload_module
ktap_finish
