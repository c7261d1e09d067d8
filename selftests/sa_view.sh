#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The per-SA view (`ipsec-rs show sas`, SA_STATE_GET): among 100 SAs the
# module decapsulates, an operator finds the one SA that drops replays from
# `show sas` alone; every SA's counters move exactly with its own traffic;
# SAs the module leaves to XFRM are listed with the reason; a dump of
# 10,000 SAs is complete, without duplicates, in bounded memory.
#
#   sa_view.sh [N_LARGE]    (default 10000 SAs for the dump test)
. "$IPSEC_RS_REPO/selftests/lib/lib.sh"
require_root
require_cmd ip python3
require_tool
trap 'topo_cleanup; ip netns del c 2>/dev/null' EXIT
N_LARGE=${1:-10000}
CRAFT="python3 $IPSEC_RS_REPO/selftests/lib/esp_craft.py"
TOOL=$IPSEC_RS_TOOL

ktap_plan
topo_two_routers
check "insmod" load_module
check "receive path on in b" ip netns exec b "$TOOL" set global --rx on

# 100 inbound tunnel SAs in b (SPIs 0x5000..0x5063, one key), one the module
# does not take (AES-GMAC, rfc4543: authentication only) and one outbound SA it sees no
# packet for.
{
	i=0
	while [ $i -lt 100 ]; do
		printf 'xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x%x mode tunnel aead rfc4106(gcm(aes)) %s 128\n' $((0x5000 + i)) "$KEY_AB"
		i=$((i + 1))
	done
	echo "xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x6000 mode tunnel aead rfc4543(gcm(aes)) $KEY_AB 128"
	echo "xfrm state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x7000 mode tunnel aead rfc4106(gcm(aes)) $KEY_BA 128"
} >/tmp/sa-view.batch
check "102 SAs installed in b" ip -n b -batch /tmp/sa-view.batch
mac_b=$(ip -n b -o link show vb | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
# Three packets to every SA; SA 0x5039 also gets packets 2 and 3 again.
REPLAYER=0x5039
args=""
i=0
while [ $i -lt 100 ]; do
	for s in 1 2 3; do args="$args --pkt spi=$((0x5000 + i)),seq=$s"; done
	i=$((i + 1))
done
args="$args --pkt spi=$((REPLAYER)),seq=2 --pkt spi=$((REPLAYER)),seq=3"
mark_counters
# shellcheck disable=SC2086
sent=$(ip netns exec a $CRAFT --dev va --dst-mac "$mac_b" --src 192.0.2.1 --dst 192.0.2.2 --key $KEY_AB $args)
check_eq "302 packets sent" "$sent" 302
sleep 1
snap b
check_eq "namespace counters: 300 decapsulated, 2 replays dropped" "$(delta decap_ok)/$(delta replay_dropped)" "300/2"

# The operator's question, from `show sas` alone: which SA drops replays?
ip netns exec b "$TOOL" show sas >/tmp/sas.txt
found=$(awk '/^SA /{spi=$6} /#replay failures: [1-9]/{print spi}' /tmp/sas.txt)
diag "show sas names: $found"
check_eq "show sas points at exactly one SA dropping replays" "$found" "0x$(printf %08x $((REPLAYER)))($((REPLAYER)))"
check "and its block says so" grep -q "#replay failures: 2 (replayed 2, too old 0)" /tmp/sas.txt

# Every SA's counters, from the JSON view, match its own traffic exactly.
ip netns exec b "$TOOL" show sas --json >/tmp/sas.json
check "per-SA counters exact (decap 3 each, replays only on 0x5039, top 3, window 64, idle known)" python3 - "$((REPLAYER))" <<'PY'
import json, sys
rep = int(sys.argv[1])
sas = {s["spi"]: s for s in json.load(open("/tmp/sas.json"))}
bad = []
for spi in range(0x5000, 0x5064):
    s = sas.get(spi)
    want = (3, 2 if spi == rep else 0, 0, 0, 0, 0, 3, 64, "module")
    got = s and (s["decap_ok"], s["replayed"], s["too_old"], s["auth_failed"], s["bad_padding"], s["malformed"], s["top_seq"], s["replay_window"], s["handler"])
    if got != want or s["idle_ms"] is None:
        bad.append((hex(spi), got))
print(bad[:5])
sys.exit(1 if bad else 0)
PY
check_eq "the SA the module does not take: listed, with the reason" \
	"$(python3 -c 'import json; print([s["handler"] for s in json.load(open("/tmp/sas.json")) if s["spi"] == 0x6000])')" "['algorithm']"
check_eq "an SA without packets: not seen yet" \
	"$(python3 -c 'import json; print([s["handler"] for s in json.load(open("/tmp/sas.json")) if s["spi"] == 0x7000])')" "['not-seen']"
check_eq "one SA by filter (--spi)" "$(ip netns exec b "$TOOL" show sas --spi $((REPLAYER)) --json | grep -o '"spi":' | wc -l)" 1

# Prometheus text format: parsed by the format's reference parser
# (prometheus_client), values equal to the JSON view's.
ip netns exec b "$TOOL" show sas --prometheus >/tmp/sas.prom
ip netns exec b "$TOOL" stats --prometheus >/tmp/stats.prom
ip netns exec b "$TOOL" stats --json >/tmp/stats.json
check "Prometheus output parses, HELP/TYPE given, values equal the JSON's" python3 - <<'PY'
import json, sys
from prometheus_client.parser import text_string_to_metric_families
sas = {s["spi"]: s for s in json.load(open("/tmp/sas.json"))}
fams = {f.name: f for f in text_string_to_metric_families(open("/tmp/sas.prom").read())}
bad = []
for name, key in [("ipsec_rs_sa_decap", "decap_ok"), ("ipsec_rs_sa_replayed", "replayed"),
                  ("ipsec_rs_sa_too_old", "too_old"), ("ipsec_rs_sa_replay_window", "replay_window"),
                  ("ipsec_rs_sa_top_seq", "top_seq")]:
    f = fams[name]
    if not f.documentation:
        bad.append((name, "no HELP"))
    seen = 0
    for smp in f.samples:
        if smp.name.endswith("_created"):
            continue
        spi = int(smp.labels["spi"], 16)
        seen += 1
        if smp.value != sas[spi][key]:
            bad.append((name, hex(spi), smp.value, sas[spi][key]))
    if seen != sum(1 for s in sas.values() if s["handler"] == "module"):
        bad.append((name, "samples", seen))
info = {int(s.labels["spi"], 16): s.labels["handler"] for s in fams["ipsec_rs_sa_info"].samples}
if info != {spi: s["handler"] for spi, s in sas.items()}:
    bad.append("info")
stats = json.load(open("/tmp/stats.json"))
for f in text_string_to_metric_families(open("/tmp/stats.prom").read()):
    key = f.name[len("ipsec_rs_"):]
    for smp in f.samples:
        if smp.name.endswith("_total") and smp.value != stats[key]:
            bad.append((f.name, smp.value, stats[key]))
print(bad[:5])
sys.exit(1 if bad else 0)
PY

# 10,000 SAs in namespace c: the dump is complete, without duplicates, and
# the kernel's memory does not grow with it.
ip netns add c
python3 -c "
for i in range($N_LARGE):
    print('xfrm state add src 198.18.%d.%d dst 198.19.0.1 proto esp spi 0x%x mode tunnel aead rfc4106(gcm(aes)) $KEY_AB 128' % (i // 250, i % 250 + 1, 0x100000 + i))
" >/tmp/sa-large.batch
check "$N_LARGE SAs installed in c" ip -n c -batch /tmp/sa-large.batch
mem() { awk '/^(Slab|VmallocUsed):/ {s += $2} END {print s}' /proc/meminfo; }
ip netns exec c "$TOOL" show sas --json >/dev/null
m0=$(mem)
ip netns exec c "$TOOL" show sas --json >/tmp/sa-large.json
m1=$(mem)
check "dump of $N_LARGE SAs: every SPI exactly once" python3 - "$N_LARGE" <<'PY'
import json, sys
n = int(sys.argv[1])
spis = [s["spi"] for s in json.load(open("/tmp/sa-large.json"))]
print(len(spis), len(set(spis)))
sys.exit(0 if len(spis) == n and set(spis) == set(range(0x100000, 0x100000 + n)) else 1)
PY
diag "slab+vmalloc: ${m0} kB before the dump, ${m1} kB after"
check "the dump did not grow kernel memory by 1 MB or more" test $((m1 - m0)) -lt 1024
ip netns del c
topo_cleanup
check "rmmod" unload_module
check "kernel log clean" kernel_log_clean
ktap_finish
