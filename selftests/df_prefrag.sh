#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Outbound DF bit and pre-fragmentation (SPEC section 2, the guide's table),
# with real traffic through an IPsec tunnel over a small-MTU link:
#
#   h1 198.51.100.10 -- a ==ESP, veth MTU 1400== b -- h2 203.0.113.10..60
#   (host links: MTU 4000)
#
# Tunnel a->b: AES-GCM-128, SPI 0x1000; its route MTU (what fits once
# encapsulated) is 1346 bytes. A 2028-byte inner packet (ping -s 2000) does
# not fit; a 1228-byte one (ping -s 1200) does.
#
# 1. Settings: SA, interface and global scopes through the netlink family
#    (read back, errors for unknown SAs and interfaces, CAP_NET_ADMIN, stale
#    entries pruned).
# 2. Defaults: with nothing configured the module changes nothing.
# 3. The 12 rows of the table, each with its own destination address (so
#    the PMTU h1 learns from one row never affects another): one ping of the
#    row's size and inner DF bit from h1, captured on the link (tcpdump on
#    b), asserting where fragmentation happened (several unfragmented ESP
#    packets = inner fragments, each its own ESP packet, which b also counts
#    as several decryptions; one ESP packet in IP fragments = after
#    encryption), the outer DF bits, delivery (the echo reply, which ping
#    checks byte for byte), and ICMP fragmentation-needed with MTU 1346 back
#    at h1 for the drop rows; then the module's counters.
# 4. Packets that fit are never fragmented, only their outer DF bit follows
#    the mode; precedence SA > interface > global.
# 5. Transport mode and IPv6 are unaffected.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
. "$IPSEC_RS_REPO/selftests/lib/df_wire.sh"
require_root
require_cmd ip ping tcpdump setpriv awk
require_tool
trap 'kill $TCPDUMP 2>/dev/null; wire_cleanup' EXIT

ktap_plan
wire_setup
xfrm_tunnel_subnets || die "cannot install the SAs"
check "insmod" load_module
diag "set up (t=$(cut -d' ' -f1 /proc/uptime)s)"

A="ip netns exec a $IPSEC_RS_TOOL"

# --- 1. settings ------------------------------------------------------------
# (Each start of the tool costs seconds under TCG: one call per check.)
check_eq "no SA overrides at load" "$($A show sa --json)" "[]"
check "SA_SET df clear, prefrag on, replay 4096" $A set sa 192.0.2.2 0x1000 --df-mode clear --prefrag on --replay-window 4096
got=$($A show sa 192.0.2.2 0x1000 --json)
check_eq "SA_GET reads them back" \
	"$(echo "$got" | jfield df_mode) $(echo "$got" | jfield prefrag) $(echo "$got" | jfield replay_window)" "clear enabled 4096"
out=$($A set sa 192.0.2.2 0x9999 --df-mode set 2>&1); rc=$?
check_eq "SA_SET on an SA XFRM does not have fails (exit 4)" "$rc" 4
case $out in *"no such SA in XFRM"*) ok "... with the module's extended-ACK message" ;;
*) not_ok "... with the module's extended-ACK message: $out" ;; esac
out=$(ip netns exec a setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	"$IPSEC_RS_TOOL" set sa 192.0.2.2 0x1000 --df-mode set 2>&1); rc=$?
check_eq "SA_SET without CAP_NET_ADMIN is refused (exit 3)" "$rc" 3
check "IF_SET va df set" $A set if va --df-mode set
out=$($A set if 4242 --df-mode set 2>&1); rc=$?
case "$rc $out" in "4 "*"no such interface"*) ok "IF_SET on a missing interface fails (exit 4, extended ACK)" ;;
*) not_ok "IF_SET on a missing interface fails: $rc $out" ;; esac
check "SET_CONFIG global df set, prefrag on" $A set global --df-mode set --prefrag on
# Stale entries: the SA or interface goes away, its overrides go with it.
ip -n a xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x7777 mode tunnel \
	aead 'rfc4106(gcm(aes))' $KEY_AB 128
ip -n a link add dummy9 type dummy
check "SA_SET on a second SA" $A set sa 192.0.2.2 0x7777 --df-mode copy
check "IF_SET on a second interface" $A set if dummy9 --prefrag off
ip -n a xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x7777
ip -n a link del dummy9
got=$($A show sa --json)
check_eq "SA dump: one SA left (the deleted one pruned), unchanged by the refused request" \
	"$(echo "$got" | grep -o '"spi"' | wc -l) $(echo "$got" | jfield df_mode)" "1 clear"
got=$($A show if --json)
check_eq "interface dump: va only (the deleted one pruned), df set" \
	"$(echo "$got" | grep -o '"ifindex"' | wc -l) $(echo "$got" | jfield df_mode)" "1 set"
$A set global --df-mode copy --prefrag off
$A set if va
$A set sa 192.0.2.2 0x1000

# --- traffic ------------------------------------------------------------------
# One capture of a -> b for everything below (lib/df_wire.sh).
wire_capture_start
# sa DF PREFRAG: the SA's overrides.
sa() { $A set sa 192.0.2.2 0x1000 --df-mode $1 --prefrag $2 </dev/null || diag "set sa $* failed"; }

# --- 2. defaults (cases 1, 2) -------------------------------------------------
wire_send 1 do $BIG
wire_send 2 dont $BIG
snap a
DEFAULT_COUNTS="$(cnt frag_before_enc)/$(cnt frag_after_enc)/$(cnt df_dropped)"

# --- 3. the table (cases 11..22, rows 1..12 of SPEC section 2) ----------------
# row: PREFRAG DF-MODE INNER-DF RESULT
ROWS="on clear dont before
on clear do before
off clear dont after
off clear do after
on set dont before
on set do drop
off set dont after
off set do drop
on copy dont before
on copy do drop
off copy dont after
off copy do drop"
n=11
while read -r pf df idf want; do
	sa $df $pf
	wire_send $n $idf $BIG
	n=$((n + 1))
done <<EOF
$ROWS
EOF

# --- 4. packets that fit (cases 31..34), precedence (cases 41..45) ------------
FITS="on clear do 0
off set dont 1
off copy do 1
on copy dont 0"
n=31
while read -r pf df idf outer; do
	sa $df $pf
	wire_send $n $idf $FIT
	n=$((n + 1))
done <<EOF
$FITS
EOF
$A set sa 192.0.2.2 0x1000
$A set global --df-mode set
wire_send 41 dont $FIT	# global set
$A set if va --df-mode clear
wire_send 42 dont $FIT	# interface clear over global set
$A set sa 192.0.2.2 0x1000 --df-mode set
wire_send 43 dont $FIT	# SA set over interface clear
$A set sa 192.0.2.2 0x1000 --prefrag on
wire_send 44 dont $FIT	# SA sets only prefrag: the interface's clear applies
$A set if va
wire_send 45 dont $FIT	# back to the global set
snap a
$A set sa 192.0.2.2 0x1000
$A set global --df-mode copy

wire_capture_end
wire_expect 1 "defaults, inner DF 1, too big" drop $INNER_MTU
wire_expect 2 "defaults, inner DF 0, too big" after
check_eq "defaults: the module counted nothing (not configured)" "$DEFAULT_COUNTS" "0/0/0"
n=11
while read -r pf df idf want; do
	case $df in set) odf=1 ;; *) odf=0 ;; esac
	[ $want = before ] || odf=
	[ $want = drop ] && odf=$INNER_MTU
	wire_expect $n "row $((n - 10)): prefrag $pf, df $df, inner DF $([ $idf = do ] && echo 1 || echo 0)" $want $odf
	n=$((n + 1))
done <<EOF
$ROWS
EOF
n=31
while read -r pf df idf outer; do
	wire_expect $n "fits: prefrag $pf, df $df, inner DF $([ $idf = do ] && echo 1 || echo 0)" fit $outer
	n=$((n + 1))
done <<EOF
$FITS
EOF
wire_expect 41 "precedence: global set" fit 1
wire_expect 42 "precedence: interface clear over global set" fit 0
wire_expect 43 "precedence: SA set over interface clear" fit 1
wire_expect 44 "precedence: SA without a DF mode inherits the interface's clear" fit 0
wire_expect 45 "precedence: interface override removed, global set again" fit 1
# Counters (a), from the table rows: 4 before, 4 after, 4 drops; the fits
# and precedence cases add nothing. XFRM on b decrypted every ESP packet
# seen: default 1 + rows 4x2 + 4x1 + fits 4 + precedence 5 = 22.
check_eq "b decrypted the 22 ESP packets sent (SPI 0x1000)" "$(xfrm_packets b 0x1000 192.0.2.1 192.0.2.2)" 22
check_eq "frag_before_enc counts the 4 pre-fragmented packets" "$(cnt frag_before_enc)" 4
check_eq "frag_after_enc counts the 4 packets fragmented after encryption" "$(cnt frag_after_enc)" 4
check_eq "df_dropped counts the 4 drops" "$(cnt df_dropped)" 4
check_eq "no outbound errors" "$(cnt out_errors)" 0

# --- 5. transport mode and IPv6 unaffected ------------------------------------
# Transport-mode SAs between two more router addresses; the module set to
# clear every outer DF bit and pre-fragment, globally and on the SA.
ip -n a addr add 192.0.2.11/24 dev va
ip -n b addr add 192.0.2.12/24 dev vb
for n in a b; do
	ip -n $n -batch - <<EOF
xfrm state add src 192.0.2.11 dst 192.0.2.12 proto esp spi 0x5000 mode transport aead rfc4106(gcm(aes)) $KEY_AB 128
xfrm state add src 192.0.2.12 dst 192.0.2.11 proto esp spi 0x6000 mode transport aead rfc4106(gcm(aes)) $KEY_BA 128
EOF
done
ip -n a xfrm policy add src 192.0.2.11 dst 192.0.2.12 dir out tmpl proto esp mode transport
ip -n b xfrm policy add src 192.0.2.12 dst 192.0.2.11 dir out tmpl proto esp mode transport
$A set global --df-mode clear --prefrag on
check "SA_SET on a transport-mode SA" $A set sa 192.0.2.12 0x5000 --df-mode clear
ip netns exec b tcpdump -n -v -l -i vb 'src host 192.0.2.11 and ip proto 50' >$TMP/tr.txt 2>$TMP/tr.err &
TCPDUMP=$!
wait_for $TMP/tr.err listening
check "transport mode: ping with DF set" sh -c "ip netns exec a ping -q -c 2 -W 2 -M do -s $FIT -I 192.0.2.11 192.0.2.12 >/dev/null"
sleep 1
kill $TCPDUMP; wait $TCPDUMP 2>/dev/null
check_eq "transport mode: ESP keeps the packet's own DF bit (2 of 2)" \
	"$(grep -c 'proto ESP.*' $TMP/tr.txt)/$(grep 'proto ESP' $TMP/tr.txt | grep -c 'flags \[DF\]')" "2/2"

# IPv6 tunnel between the routers: XFRM fragments locally generated IPv6
# before encryption itself; the module (engaged globally above) changes
# nothing: every ESP packet fits the link and none is an IPv6 fragment.
xfrm_tunnel_gcm6 || die "cannot install IPv6 SAs"
ip netns exec a tcpdump -n -v -l -i va 'ip6 and src host 2001:db8::1' >$TMP/v6.txt 2>$TMP/v6.err &
TCPDUMP=$!
wait_for $TMP/v6.err listening
check "IPv6 tunnel: a ping too big for the tunnel arrives" sh -c "ip netns exec a ping -q -c 2 -W 2 -s $BIG 2001:db8::2 >/dev/null"
sleep 1
kill $TCPDUMP; wait $TCPDUMP 2>/dev/null
check "IPv6 tunnel: several ESP packets, none fragmented" \
	sh -c "[ \$(grep -c 'ESP(' $TMP/v6.txt) -ge 4 ] && ! grep -q 'frag (' $TMP/v6.txt"
$A set global --df-mode copy --prefrag off

check "rmmod" unload_module
check "kernel log clean" kernel_log_clean
ktap_finish
