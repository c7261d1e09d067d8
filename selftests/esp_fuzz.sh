#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Differential fuzzing of the inbound ESP path against XFRM: the same
# stream of valid and mutated ESP packets (selftests/lib/esp_fuzz.py, from
# a seed) goes to three receivers with the same SAs and keys: namespace m
# with the module's receive path on, w with it on and a default window of
# 65,536, and x with XFRM alone; each frame through a veth (a linear skb)
# or a tap (page fragments, through GRO: the module is loaded with
# rx_gro=1). After every batch the inner packets each delivered must be
# the same, byte for byte, but for the rules esp_fuzz.py states. Then every
# packet the module saw must be counted in exactly one outcome, and the
# kernel's referee (KASAN, lockdep, kmemleak) must have nothing to say (the
# runner checks the log). With the coverage build loaded (make
# fuzz-coverage), the receive path's blocks the run reached are reported.
#
#   esp_fuzz.sh [COUNT [SEED [NAME=VALUE ...]]]
#       default 2000 packets, seed 1; NAME=VALUE: an option of esp_fuzz.py
#       (shapes=gcm128/cbc batch=1 mutate=0.5 ...: "/" separates shapes here)
#
#                  g (sender)
#       gm /          | gw           \ gx
#  rg, tp (m)    rg, tp (w: 65,536)  rg, tp (x: XFRM)
#  192.0.2.2/24, 2001:db8::2/64 on each rg; 10.2.0.1, fd02::1 (inner) on
#  each lo; tp: a tap esp_fuzz.py opens (IFF_NAPI_FRAGS)
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
. "$IPSEC_RS_REPO/selftests/lib/coverage.sh"
require_root
require_cmd ip python3
require_tool
cleanup() {
	kill $ENCAP_PID_m $ENCAP_PID_w $ENCAP_PID_x 2>/dev/null
	for n in g m w x; do ip netns del $n 2>/dev/null; done
	true
}
trap cleanup EXIT

COUNT=${1:-2000}
SEED=${2:-1}
shift 2 2>/dev/null || shift $#
EXTRA=
for o; do EXTRA="$EXTRA --${o%%=*} ${o#*=}"; done
ktap_plan

[ -c /dev/net/tun ] || skip_test "no /dev/net/tun (CONFIG_TUN)"
ip netns add g && ip netns add m && ip netns add w && ip netns add x ||
	die "cannot create namespaces"
for r in m w x; do
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

check "insmod rx_gro=1" load_module rx_gro=1
check "receive path on in m" ip netns exec m "$IPSEC_RS_TOOL" set global --rx on
check "receive path on in w" ip netns exec w "$IPSEC_RS_TOOL" set global --rx on
# Unknown SPIs reported, and in w the NAT-T port's other traffic counted:
# their paths run under the fuzz too.
check "invalid-SPI detection on in m" ip netns exec m "$IPSEC_RS_TOOL" set global --invalid-spi on
check "invalid-SPI detection, NAT-T accounting on in w" \
	ip netns exec w "$IPSEC_RS_TOOL" set global --invalid-spi on --natt-accounting on
# XFRM's window is the SA's; the module's is the larger of its default and
# the SA's: the default at its minimum, so that both are the SA's.
check "m's default window at the SA's smallest (32)" \
	ip netns exec m "$IPSEC_RS_TOOL" set global --replay-window 32
check "w's default window at 65,536 (every SA's there)" \
	ip netns exec w "$IPSEC_RS_TOOL" set global --replay-window 65536
check "receive path off in x (XFRM alone)" ip netns exec x "$IPSEC_RS_TOOL" set global --rx off
# UDP-encapsulation sockets (port 4500), for the udp shapes (esp_fuzz.py --list).
if encap_socket m && encap_socket w && encap_socket x; then
	ok "encapsulation sockets in m, w and x"
else
	not_ok "encapsulation sockets in m, w and x"
fi

FUZZ="python3 $IPSEC_RS_REPO/selftests/lib/esp_fuzz.py"
if out=$($FUZZ --seed "$SEED" --count "$COUNT" --setup --tool "$IPSEC_RS_TOOL" $EXTRA 2>&1); then
	ok "$COUNT packets, seed $SEED: the module delivered what XFRM delivered"
	failed=
else
	not_ok "$COUNT packets, seed $SEED: the module and XFRM disagree"
	failed=1
fi
echo "$out" | sed 's/^/# /; s/^# # /# /'
if [ -n "$failed" ]; then
	# The windows as they ended: the module's per SA, XFRM's.
	for r in m w; do
		ip netns exec $r "$IPSEC_RS_TOOL" show sas 2>&1 | sed "s/^/# $r: /"
	done
	ip -n x -s xfrm state | grep -E "spi|seq" | sed "s/^/# x: /"
fi

snap m
m_malformed=$(cnt malformed)
for r in m w; do
	snap $r
	# NAT-T accounting counts malformed port-4500 datagrams in `malformed`
	# too (admin-guide.rst): w's beyond m's (both parse the same ESP) are
	# those, no ESP packet's outcome.
	natt=$(( $(cnt malformed) - m_malformed ))
	check_eq "every ESP packet $r's module saw has one outcome" "$(( $(esp_outcomes) - natt ))" "$(esp_seen)"
	diag "$r: decap_ok $(cnt decap_ok), auth_failed $(cnt auth_failed), replay $(cnt replay_dropped)+$(cnt replay_too_old), malformed $(cnt malformed), bad_padding $(cnt bad_padding), bad_inner $(cnt bad_inner), invalid_spi $(( $(cnt invalid_spi_v4) + $(cnt invalid_spi_v6) )), passed_to_xfrm $(cnt passed_to_xfrm), esp_gro $(cnt esp_gro), NAT-T: malformed $natt, ike_passed $(cnt ike_passed), nat_keepalive $(cnt nat_keepalive)"
	check "$r's module decapsulated some of them (not all left to XFRM)" [ "$(cnt decap_ok)" -gt 0 ]
	check "$r's module took some inside GRO (from the tap)" [ "$(cnt esp_gro)" -gt 0 ]
done
check "w's NAT-T accounting saw the keepalives" [ "$(cnt nat_keepalive)" -gt 0 ]
for r in m w x; do
	diag "$r: XFRM's statistics: $(ip netns exec $r awk '$2 != 0 { printf "%s %s ", $1, $2 }' /proc/net/xfrm_stat)"
	diag "$r: $(ip netns exec $r nstat -az 2>/dev/null | awk '$2 != 0 && /^(Ip|Udp|Icmp)/ { printf "%s %s ", $1, $2 }')"
done
# With the coverage build (make fuzz-coverage), what the run reached.
coverage_report "esp_fuzz.sh $COUNT packets, seed $SEED"
check "rmmod" unload_module
ktap_finish
