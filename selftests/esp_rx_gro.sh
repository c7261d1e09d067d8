#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The receive path inside GRO (module parameter rx_gro=1) on a device doing
# GRO: b's veth with GRO on (it then receives through NAPI; TSO off on a's
# veth, see bench_decap.sh's gro()). Routers a (XFRM, sender) and b.
# - rx_gro=2 is refused at load, naming the parameter;
# - IPv4 and IPv6 tunnel-mode traffic (ping; TCP, content checked) is taken
#   inside GRO: esp_gro rises with decap_ok, XFRM's replay seq stays 0;
#   a hard packet limit of 7 lets exactly 7 through;
# - what it leaves to the path after IP input is taken there, counted
#   once: transport mode (decap_ok moves, esp_gro not), an unknown SPI
#   (invalid_spi_v4 +1, esp_v4 +1), GRO off on the device;
# - the kernel's esp4_offload / esp6_offload load while the module holds
#   their GRO slots (their init needs them: without the hand-over the load
#   would fail and leave XFRM pointing into the freed module): the load
#   succeeds, the module says it yielded, XFRM decrypts inside GRO (its seq
#   moves, esp_gro does not); when they go the module takes the slots back
#   (esp_gro moves again); loaded first, they keep the slot until they go;
# - unloading the module under a ping flood leaves a clean kernel.
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip ping ethtool socat sha256sum
require_tool
trap 'kill $FLOOD_PID $RCV_PID 2>/dev/null; topo_cleanup' EXIT

# offload_load 4|6: the kernel's esp4_offload / esp6_offload, from the
# kernel's build tree (our kernels) or the guest's modules (a distribution
# kernel: modprobe).
offload_load() {
	if [ -f "$(offload_ko "$1")" ]; then insmod "$(offload_ko "$1")"; else modprobe "esp$1_offload"; fi
}
for v in 4 6; do
	[ -f "$(offload_ko $v)" ] || modinfo "esp${v}_offload" >/dev/null 2>&1 ||
		skip_test "needs the kernel's esp${v}_offload module (CONFIG_INET(6)_ESP_OFFLOAD=m; in debug.config): $(offload_ko $v)"
done

# deltas NAME...: "d1/d2/..." of how much the named counters moved since
# the last `snap b` (which callers take before each step: this runs in a
# command substitution, a subshell, and cannot move the snapshot).
deltas() {
	_now=$(ip netns exec b "$IPSEC_RS_TOOL" stats --json)
	_out=
	for _c; do
		_out=${_out:+$_out/}$(( $(echo "$_now" | json_get "$_c") - $(cnt "$_c") ))
	done
	echo "$_out"
}
ping4() { ip netns exec a ping -q -c "${1:-10}" -i 0.05 -W 2 192.0.2.2 >/dev/null; }
ping6() { ip netns exec a ping -q -c "${1:-10}" -i 0.05 -W 2 2001:db8::2 >/dev/null; }

ktap_plan
topo_two_routers
xfrm_tunnel_gcm 192.0.2.1 192.0.2.2 0x1000 0x2000 replay-window 32 || die "cannot install IPv4 SAs"
xfrm_tunnel_gcm 2001:db8::1 2001:db8::2 0x3000 0x4000 replay-window 32 || die "cannot install IPv6 SAs"
check "GRO on b's veth, TSO off on a's" veth_gro on

check "rx_gro=2 refused at load" sh -c "! insmod '$IPSEC_RS_KO' rx_gro=2 2>/dev/null"
check "... naming the parameter" sh -c "dmesg | grep -q 'ipsec_rs: parameter rx_gro=2 refused: 0 or 1'"
check "insmod rx_gro=1 rx_enable=1" load_module rx_gro=1 rx_enable=1
check_eq "parameter shown as given" "$(cat /sys/module/ipsec_rs/parameters/rx_gro)" 1
check "no GRO slot held by another handler" sh -c "! dmesg | grep -q 'ipsec_rs: GRO slot .* held by another handler'"

# 1. Tunnel mode inside GRO.
snap b
check "ping a -> b over IPv4" ping4 20
check_eq "IPv4: decap_ok/esp_gro/esp_v4/passed_to_xfrm moved by" "$(deltas decap_ok esp_gro esp_v4 passed_to_xfrm)" 20/20/20/0
snap b
check "ping a -> b over IPv6" ping6 20
check_eq "IPv6: decap_ok/esp_gro/esp_v6 moved by" "$(deltas decap_ok esp_gro esp_v6)" 20/20/20
snap b
check "bulk TCP a -> b over IPv4 (300 kB, content checked)" bulk_tcp a b 192.0.2.2 5001 300000
d=$(deltas decap_ok esp_gro)
check "TCP: every decapsulated packet taken inside GRO ($d)" sh -c "[ '${d%/*}' = '${d#*/}' ] && [ '${d%/*}' -gt 100 ]"
check_eq "XFRM did not decrypt (its IPv4 replay seq unmoved)" "$(xfrm_seq 0x1000 192.0.2.1 192.0.2.2)" 0x0
check_eq "XFRM did not decrypt (its IPv6 replay seq unmoved)" "$(xfrm_seq 0x3000 2001:db8::1 2001:db8::2)" 0x0
# decap_ok since load: the IPv4 packets and the 20 IPv6 ones.
snap b
check_eq "the IPv4 SA's lifetime counts the packets taken inside GRO" "$(xfrm_packets b 0x1000 192.0.2.1 192.0.2.2)" "$(( $(cnt decap_ok) - 20 ))"
# A hard packet limit inside GRO: checked and accounted in the packet's one
# critical section under the SA's lock, so exactly that many pass.
b_sa() { ip -n b xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 mode tunnel \
	replay-window 32 aead 'rfc4106(gcm(aes))' $KEY_AB 128 "$@"; }
ip -n b xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000
check "b's IPv4 SA again, with a hard limit of 7 packets" b_sa limit packet-hard 7
snap b
ping4 10 || true
IFS=/ read -r d_ok d_gro d_unusable <<EOF
$(deltas decap_ok esp_gro sa_unusable)
EOF
check_eq "hard limit 7, 10 sent: decapsulated" "$d_ok" 7
# The 8th is taken inside GRO, decrypted and dropped; later ones are
# dropped before decryption, or go to IP input once the SA is deleted.
check_eq "... the others taken inside GRO dropped as expired (esp_gro - decap_ok = sa_unusable)" \
	"$((d_gro - d_ok))" "$d_unusable"
check "... at least the 8th ($d_unusable)" test "$d_unusable" -ge 1
check_eq "... the expired SA deleted" "$(ip -n b xfrm state list spi 0x1000 | grep -c spi)" 0
check "b's IPv4 SA again, no limit" b_sa

# 2. Left to the path after IP input, and counted there once.
mac_b=$(cat /sys/class/net/vb/address 2>/dev/null || ip -n b -o link show vb | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
snap b
ip netns exec a python3 "$IPSEC_RS_REPO/selftests/lib/esp_craft.py" --dev va --dst-mac "$mac_b" \
	--src 192.0.2.1 --dst 192.0.2.2 --key "$KEY_AB" --spi 0xdead0001 --seq 1 >/dev/null
sleep 0.5
check_eq "unknown SPI: invalid_spi_v4/esp_v4/esp_gro moved by" "$(deltas invalid_spi_v4 esp_v4 esp_gro)" 1/1/0
check "GRO off on b's veth" veth_gro off
snap b
check "ping a -> b over IPv4, GRO off" ping4 10
check_eq "GRO off: decap_ok/esp_gro/esp_v4 moved by" "$(deltas decap_ok esp_gro esp_v4)" 10/0/10
check "GRO on again" veth_gro on
for n in a b; do ip -n $n xfrm policy flush; ip -n $n xfrm state flush; done
for n in a b; do
	ip -n $n xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x5000 mode transport \
		aead 'rfc4106(gcm(aes))' $KEY_AB 128
	ip -n $n xfrm state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x6000 mode transport \
		aead 'rfc4106(gcm(aes))' $KEY_BA 128
done
ip -n a xfrm policy add src 192.0.2.1 dst 192.0.2.2 dir out tmpl proto esp mode transport
ip -n a xfrm policy add src 192.0.2.2 dst 192.0.2.1 dir in tmpl proto esp mode transport
ip -n b xfrm policy add src 192.0.2.2 dst 192.0.2.1 dir out tmpl proto esp mode transport
ip -n b xfrm policy add src 192.0.2.1 dst 192.0.2.2 dir in tmpl proto esp mode transport
snap b
check "ping a -> b, transport mode" ping4 10
check_eq "transport mode: decap_ok/esp_gro/esp_v4 moved by" "$(deltas decap_ok esp_gro esp_v4)" 10/0/10
for n in a b; do ip -n $n xfrm policy flush; ip -n $n xfrm state flush; done
xfrm_tunnel_gcm 192.0.2.1 192.0.2.2 0x1000 0x2000 replay-window 32 || die "cannot reinstall IPv4 SAs"
xfrm_tunnel_gcm 2001:db8::1 2001:db8::2 0x3000 0x4000 replay-window 32 || die "cannot reinstall IPv6 SAs"

# 3. The kernel's ESP offload modules get the slots while they are loaded.
snap b
check "ping a -> b over IPv4 (fresh SAs, inside GRO)" ping4 10
check_eq "fresh SAs: esp_gro moved by" "$(deltas esp_gro)" 10
dmesg -c >/dev/null
snap b
check "insmod esp4_offload while the module holds the IPv4 slot" offload_load 4
check "... the module yielded it" sh -c "dmesg | grep -q 'ipsec_rs: esp4_offload loading: its GRO slot for IP protocol 50 (IPv4) is left to it'"
check "ping a -> b over IPv4 with esp4_offload" ping4 10
check_eq "esp4_offload: esp_gro/decap_ok moved by" "$(deltas esp_gro decap_ok)" 0/0
check_eq "XFRM decrypted inside GRO (its IPv4 replay seq)" "$(xfrm_seq 0x1000 192.0.2.1 192.0.2.2)" 0x14
snap b
check "ping a -> b over IPv6 (its slot still the module's)" ping6 10
check_eq "IPv6 still inside GRO: esp_gro moved by" "$(deltas esp_gro)" 10
snap b
check "insmod esp6_offload" offload_load 6
check "... the module yielded the IPv6 slot" sh -c "dmesg | grep -q 'ipsec_rs: esp6_offload loading: its GRO slot for IP protocol 50 (IPv6) is left to it'"
check "ping a -> b over IPv6 with esp6_offload" ping6 10
check_eq "esp6_offload: esp_gro/decap_ok moved by" "$(deltas esp_gro decap_ok)" 0/0
check "rmmod esp4_offload" rmmod_retry esp4_offload
check "... the module took the IPv4 slot back" sh -c "dmesg | grep -q 'ipsec_rs: esp4_offload gone: GRO slot for IP protocol 50 (IPv4) taken again'"
check "rmmod esp6_offload" rmmod_retry esp6_offload
check "... and the IPv6 slot" sh -c "dmesg | grep -q 'ipsec_rs: esp6_offload gone: GRO slot for IP protocol 50 (IPv6) taken again'"
snap b
check "ping a -> b over IPv4 after they went" ping4 10
check "ping a -> b over IPv6 after they went" ping6 10
check_eq "inside GRO again: esp_gro moved by" "$(deltas esp_gro)" 20
check "module unloaded" unload_module

# esp4_offload first: it keeps the slot until it goes.
dmesg -c >/dev/null
check "insmod esp4_offload before the module" offload_load 4
check "insmod rx_gro=1 rx_enable=1 with esp4_offload loaded" load_module rx_gro=1 rx_enable=1
check "... the IPv4 slot left to its holder" sh -c "dmesg | grep -q 'ipsec_rs: GRO slot for IP protocol 50 (IPv4) held by another handler: left to it'"
check "... and the receive path warns that XFRM takes ESP first" sh -c "dmesg | grep -q 'ipsec_rs: esp4_offload is loaded: on devices with GRO on'"
snap b
check "ping a -> b over IPv4" ping4 10
check_eq "esp4_offload's slot: esp_gro/decap_ok moved by" "$(deltas esp_gro decap_ok)" 0/0
check "rmmod esp4_offload" rmmod_retry esp4_offload
check "... the module took the slot" sh -c "dmesg | grep -q 'ipsec_rs: esp4_offload gone: GRO slot for IP protocol 50 (IPv4) taken again'"
snap b
check "ping a -> b over IPv4" ping4 10
check_eq "inside GRO now: esp_gro/decap_ok moved by" "$(deltas esp_gro decap_ok)" 10/10

# 4. Unloaded under traffic.
ip netns exec a ping -q -f -w 8 192.0.2.2 >/dev/null 2>&1 &
FLOOD_PID=$!
sleep 2
check "module unloaded under a ping flood" unload_module
wait $FLOOD_PID 2>/dev/null
FLOOD_PID=
check "ping a -> b over IPv4 through XFRM afterwards" ping4 5
check "kernel log clean" kernel_log_clean
ktap_finish
