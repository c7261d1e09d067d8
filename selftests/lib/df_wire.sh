#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Outbound DF bit and fragmentation seen on the wire (sourced after lib.sh),
# for h1 -- a ==ESP== b -- h2 (topo_two_routers, topo_hosts_behind_routers):
# one capture on b's link of everything a sends b for a whole test; cases
# numbered N, each one ping from h1 to h2's address 203.0.113.(10+N), after
# a plain ping a -> b of MARK_LEN + N bytes that marks where the case starts
# in the capture; then, per case, what crossed the link and what h1 saw.
#
# wire_setup makes the topology and TMP (a directory of the test's own,
# with the tool copied into it); the caller's EXIT trap runs wire_cleanup.

MARK_LEN=228
MTU=1400	# the routers' link
INNER_MTU=1346	# what fits once encapsulated (AES-GCM-128, IPv4)
BIG=2000	# ping payload: 2028-byte inner packet, too big
FIT=1200	# 1228-byte inner packet, fits

wire_setup() {
	TMP=$(mktemp -d)
	# The tool runs dozens of times: start it from the guest's memory,
	# not over hostfs or 9p.
	cp "$IPSEC_RS_TOOL" $TMP/ipsec-rs && IPSEC_RS_TOOL=$TMP/ipsec-rs
	topo_two_routers
	topo_hosts_behind_routers
	ip -n a link set va mtu $MTU
	ip -n b link set vb mtu $MTU
	# The hosts' links are bigger, so that h1 sends the 2028-byte packet
	# whole.
	for _l in "h1 eth0" "a lan" "b lan" "h2 eth0"; do
		set -- $_l
		ip -n $1 link set $2 mtu 4000
	done
	_i=11
	while [ $_i -le 60 ]; do
		echo "addr add 203.0.113.$_i/24 dev eth0"
		_i=$((_i + 1))
	done | ip -n h2 -batch -
}
wire_cleanup() {
	kill ${WIRE_TCPDUMP:-} 2>/dev/null
	for _n in a b h1 h2; do ip netns del $_n 2>/dev/null; done
	rm -rf "${TMP:-/nonexistent}"
}

# wire_capture_start: tcpdump on b's veth, ESP and ICMP from 192.0.2.1.
wire_capture_start() {
	ip netns exec b tcpdump -n -v -l -i vb 'src host 192.0.2.1 and (ip proto 50 or icmp)' \
		>$TMP/cap.txt 2>$TMP/cap.err &
	WIRE_TCPDUMP=$!
	wait_for $TMP/cap.err listening || die "tcpdump did not start"
}

# wire_send N INNER_DF(do|dont) SIZE: the marker, then one ping of SIZE
# bytes of payload from h1 to 203.0.113.(10+N). Appends "N rc icmp-mtu" to
# $TMP/res: ping's status, and the MTU of the ICMP fragmentation-needed h1
# received (0: none).
wire_send() {
	read -r _up _ </proc/uptime
	diag "case $1: ping -M $2 -s $3 (t=${_up}s)"
	ip netns exec a ping -q -c 1 -W 1 -s $((MARK_LEN - 28 + $1)) 192.0.2.2 >/dev/null 2>&1 </dev/null
	_out=$(ip netns exec h1 ping -c 1 -W 3 -M $2 -s $3 203.0.113.$((10 + $1)) 2>&1 </dev/null)
	_rc=$?
	_icmp=$(echo "$_out" | sed -n 's/.*Frag needed and DF set (mtu = \([0-9]*\)).*/\1/p' | head -n 1)
	echo "$1 $_rc ${_icmp:-0}" >>$TMP/res
}

# wire_capture_end: stops the capture; per case, the ESP packets on the
# wire, how many were IP fragments, how many had DF set, the largest, and
# the ESP sequence numbers seen (one per encrypted packet) go to $TMP/wire.
wire_capture_end() {
	sleep 1
	kill $WIRE_TCPDUMP; wait $WIRE_TCPDUMP 2>/dev/null
	awk -v mark=$MARK_LEN '
/ IP \(/ {
	off = $0; sub(/.*offset /, "", off); sub(/,.*/, "", off)
	fl = $0; sub(/.*flags \[/, "", fl); sub(/\].*/, "", fl)
	len = $0; sub(/.*length /, "", len); sub(/\).*/, "", len)
	if ($0 ~ /proto ICMP/) { c = len - mark; seen[c] = 1; next }
	if ($0 !~ /proto ESP/) next
	n[c]++
	if (off + 0 > 0 || fl ~ /\+/) fr[c]++
	if (fl ~ /DF/) df[c]++
	if (len + 0 > mx[c]) mx[c] = len + 0
	esp = 1
	next
}
esp && /ESP\(spi=/ { sq[c]++ }
{ esp = 0 }
END { for (c in seen) print c, n[c] + 0, fr[c] + 0, df[c] + 0, mx[c] + 0, sq[c] + 0 }' $TMP/cap.txt >$TMP/wire
	diag "case: esp-packets ip-fragments with-DF largest esp-seqs | ping-rc frag-needed-mtu"
	for _c in $(awk '{ print $1 }' $TMP/res); do diag "$_c: $(_wire $_c) | $(_res $_c)"; done
}
_wire() { awk -v c=$1 '$1 == c { print $2, $3, $4, $5, $6 }' $TMP/wire; }
_res() { awk -v c=$1 '$1 == c { print $2, $3 }' $TMP/res; }

# wire_expect CASE WHAT RESULT [ARG]: one check of case CASE.
#   before: 2 ESP packets (two ESP sequence numbers: each inner fragment
#           encrypted on its own), none an IP fragment, each <= MTU; ARG,
#           if given, the outer DF bit of both (0/1)
#   after:  1 ESP packet in 2 IP fragments (no DF)
#   drop:   nothing on the wire, ICMP fragmentation-needed at h1 with MTU
#           ARG
#   fit:    1 ESP packet, not fragmented, with outer DF bit ARG (0/1)
# Every case but the drops must also get its echo reply (ping checks the
# data), i.e. arrive intact at h2.
wire_expect() {
	set -- "$1" "$2" "$3" "${4:-}" $(_wire $1) $(_res $1)
	# $5 esp  $6 frags  $7 df  $8 largest  $9 seqs  ${10} rc  ${11} icmp
	case $3 in
	before) [ "$5 $6 $9 ${10} ${11}" = "2 0 2 0 0" ] && [ "$8" -le $MTU ] &&
		{ [ -z "$4" ] || [ "$7" = "$(($4 * 2))" ]; } ;;
	after) [ "$5 $6 $7 $9 ${10} ${11}" = "2 2 0 1 0 0" ] ;;
	drop) [ "$5 ${10} ${11}" = "0 1 $4" ] ;;
	fit) [ "$5 $6 $7 $9 ${10} ${11}" = "1 0 $4 1 0 0" ] ;;
	esac
	_ok=$?
	case $3 in drop) _arg=", ICMP MTU $4" ;; *) _arg=${4:+, outer DF $4} ;; esac
	check "$2: $3$_arg (wire: $5 ESP, $6 fragments, $7 DF, max $8, $9 ESP seq; ping rc ${10}, ICMP MTU ${11})" \
		[ $_ok -eq 0 ]
}
