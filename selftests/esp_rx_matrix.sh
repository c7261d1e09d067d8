#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The module's receive path over every combination it supports, with Linux
# XFRM in namespace a as the sender: algorithm (AES-GCM-128, AES-GCM-256,
# AES-CBC-128 and AES-CBC-256 with HMAC-SHA-256) x IPv4/IPv6 x tunnel/
# transport mode x plain/UDP-encapsulated ESP (transport mode over IPv6 only
# plain: the module leaves UDP-encapsulated IPv6 transport mode to XFRM).
# Each combination gets fresh SAs and policies, a ping and a TCP transfer
# whose content is compared end to end, and proof that the module, not
# XFRM, decapsulated: b's decap_ok moved by exactly the packets the inbound
# SA's lifetime counted, and XFRM's replay state of that SA did not move.
#
#   esp_rx_matrix.sh [full]
#       full: all 28 combinations. Default (selftests/TESTS, for CI's time
#       budget): every combination of family, mode and encapsulation for
#       AES-GCM-128 (7); AES-CBC-128 on each family and mode once, the
#       encapsulation alternating (4: the family, mode and encapsulation
#       code is the GCM runs', CBC differs in the transform); the 256-bit
#       keys (the same code path, a larger key in XFRM's transform) once
#       each, GCM on IPv4 tunnel mode over UDP, CBC on IPv6 transport
#       mode: 13.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip ping python3 socat sha256sum
require_tool
trap 'kill $RCV_PID $ENCAP_PID_a $ENCAP_PID_b 2>/dev/null; topo_cleanup' EXIT

# Keys of each algorithm, a -> b and b -> a (the GCM ones end in the salt).
GCM256_AB=0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021222324
GCM256_BA=0x1112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334
AUTH=0x2122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40
# alg_args ALG DIRECTION: the ip xfrm state algorithm arguments.
alg_args() {
	case $1/$2 in
	gcm128/ab) echo "aead rfc4106(gcm(aes)) $KEY_AB 128" ;;
	gcm128/ba) echo "aead rfc4106(gcm(aes)) $KEY_BA 128" ;;
	gcm256/ab) echo "aead rfc4106(gcm(aes)) $GCM256_AB 128" ;;
	gcm256/ba) echo "aead rfc4106(gcm(aes)) $GCM256_BA 128" ;;
	cbc128/ab) echo "enc cbc(aes) 0x0102030405060708090a0b0c0d0e0f10 auth-trunc hmac(sha256) $AUTH 128" ;;
	cbc128/ba) echo "enc cbc(aes) 0x1112131415161718191a1b1c1d1e1f20 auth-trunc hmac(sha256) $AUTH 128" ;;
	cbc256/ab) echo "enc cbc(aes) ${GCM256_AB%????????} auth-trunc hmac(sha256) $AUTH 128" ;;
	cbc256/ba) echo "enc cbc(aes) ${GCM256_BA%????????} auth-trunc hmac(sha256) $AUTH 128" ;;
	esac
}

ktap_plan
topo_two_routers
check "insmod" load_module
check "receive path on in b" ip netns exec b "$IPSEC_RS_TOOL" set global --rx on
check "UDP_ENCAP_ESPINUDP sockets in a" encap_socket a
check "UDP_ENCAP_ESPINUDP sockets in b" encap_socket b
head -c 65536 /dev/urandom >/tmp/tx.bin
want=$(sha256sum </tmp/tx.bin | cut -d' ' -f1)

# combo ALG FAMILY MODE ENCAP PORT
combo() {
	_alg=$1 _mode=$3 _encap=$4 _port=$5
	if [ "$2" = 4 ]; then
		_a=192.0.2.1 _b=192.0.2.2 _any=0.0.0.0 _tcp=TCP _tgt=192.0.2.2 _l=TCP-LISTEN
	else
		_a=2001:db8::1 _b=2001:db8::2 _any=:: _tcp=TCP6 _tgt=[2001:db8::2] _l=TCP6-LISTEN
	fi
	_name="$_alg IPv$2 $_mode $_encap"
	_enc=""
	[ "$_encap" = udp ] && _enc="encap espinudp 4500 4500 $_any"
	# One ip process per namespace (each costs a noticeable fraction of a
	# second under TCG). Priority 100: below natt_bypass's (10), which must
	# win for the ESP-in-UDP datagrams between the same addresses.
	for n in a b; do
		if [ $n = a ]; then _o="$_a $_b" _i="$_b $_a"; else _o="$_b $_a" _i="$_a $_b"; fi
		ip -n $n -batch - <<-EOF || return 1
		xfrm state add src $_a dst $_b proto esp spi 0x5001 mode $_mode replay-window 32 $(alg_args $_alg ab) $_enc
		xfrm state add src $_b dst $_a proto esp spi 0x5002 mode $_mode replay-window 32 $(alg_args $_alg ba) $_enc
		xfrm policy add src ${_o% *} dst ${_o#* } dir out priority 100 tmpl src ${_o% *} dst ${_o#* } proto esp mode $_mode
		xfrm policy add src ${_i% *} dst ${_i#* } dir in priority 100 tmpl src ${_i% *} dst ${_i#* } proto esp mode $_mode
		EOF
	done
	mark_counters
	if ! ip netns exec a ping -q -c 1 -W 2 $_b >/dev/null; then
		not_ok "$_name: ping"
		diag "b xfrm_stat: $(ip netns exec b awk '$2 != 0 { printf "%s=%s ", $1, $2 }' /proc/net/xfrm_stat)"
		diag "a xfrm_stat: $(ip netns exec a awk '$2 != 0 { printf "%s=%s ", $1, $2 }' /proc/net/xfrm_stat)"
		snap b; diag "b counters: $SNAP"
		for n in a b; do
			diag "$n UDP: $(ip netns exec $n awk '/^Udp:/ { n++; if (n == 1) split($0, h); else for (i = 2; i <= 4; i++) printf "Udp%s=%s ", h[i], $i }' /proc/net/snmp)$(ip netns exec $n awk '$1 ~ /^Udp6(InDatagrams|NoPorts|InErrors)$/ { printf "%s=%s ", $1, $2 }' /proc/net/snmp6)"
			diag "$n SAs (lifetime packets): $(ip -n $n -s xfrm state | awk '/^src/ { printf "%s>%s ", $2, $4 } /^[ \t]*[0-9]+\(bytes\), [0-9]+\(packets\)/ { printf "%s ", $2 }')"
		done
		diag "encapsulation sockets alive (a b): $(kill -0 $ENCAP_PID_a 2>/dev/null && echo yes || echo no) $(kill -0 $ENCAP_PID_b 2>/dev/null && echo yes || echo no)"
		diag "kernel log: OOM kills $(dmesg | grep -c 'Killed process'); last lines: $(dmesg | tail -n 3 | tr '\n' '|')"
	else
		ok "$_name: ping"
	fi
	ip netns exec b socat -u $_l:$_port,reuseaddr OPEN:/tmp/rx.bin,creat,trunc &
	RCV_PID=$!
	wait_listen b $_port
	ip netns exec a socat -u OPEN:/tmp/tx.bin $_tcp:$_tgt:$_port,connect-timeout=5,retry=2,interval=1
	wait_rcv
	check_eq "$_name: TCP transfer content (sha256)" "$(sha256sum </tmp/rx.bin | cut -d' ' -f1)" "$want"
	snap b
	_life=$(xfrm_packets b 0x5001 $_a $_b)
	check_eq "$_name: decapsulated by the module (decap_ok = the SA's packets, XFRM's seq unmoved)" \
		"$(delta decap_ok)/$(xfrm_seq 0x5001 $_a $_b)" "$_life/0x0"
	for n in a b; do
		ip -n $n -batch - <<-EOF
		xfrm state flush
		xfrm policy flush
		EOF
		natt_bypass $n
	done
	rm -f /tmp/rx.bin
}

FULL=${1:-}
port=5100
for alg in gcm128 gcm256 cbc128 cbc256; do
	for fam in 4 6; do
		for mode in tunnel transport; do
			for encap in plain udp; do
				[ $fam = 6 ] && [ $mode = transport ] && [ $encap = udp ] && continue
				case $FULL/$alg/$fam/$mode/$encap in
				full/* | */gcm128/* | */cbc128/4/tunnel/plain | */cbc128/4/transport/udp | \
					*/cbc128/6/tunnel/udp | */cbc128/6/transport/plain | \
					*/gcm256/4/tunnel/udp | */cbc256/6/transport/plain) ;;
				*) continue ;;
				esac
				port=$((port + 1))
				combo $alg $fam $mode $encap $port || not_ok "$alg IPv$fam $mode $encap: SAs installed"
			done
		done
	done
done
snap b
check_eq "no auth failures, replays or errors on real traffic" \
	"$(cnt auth_failed)/$(cnt replay_dropped)/$(cnt replay_too_old)/$(cnt rx_errors)/$(cnt malformed)" 0/0/0/0/0
check_eq "nothing left to XFRM" "$(cnt passed_to_xfrm)" 0
check "rmmod" unload_module
check "kernel log clean" kernel_log_clean
ktap_finish
