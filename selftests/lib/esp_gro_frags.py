#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""ESP through GRO from page fragments, outer headers IP input refuses
(test tool of the ipsec_rs selftests: esp_rx_gro_frags.sh).

    esp_gro_frags.py --ns NS [--setup]

In namespace NS (the module loaded with rx_gro=1, its receive path on),
--setup installs an IPv4 and an IPv6 tunnel-mode AES-GCM SA with their
inbound policies. Then valid ESP packets of those SAs are written to a tap
of NS with IFF_NAPI_FRAGS (the frame in page fragments behind its Ethernet
header: napi_gro_frags(), so through GRO and the module's GRO entry), one
case at a time, each sealed correctly with a new sequence number, its
outer header then changed where the ICV does not reach:

    v4, v6             unchanged: delivered (the control)
    v6-version-4       an IPv6 frame whose version field says 4
    v4-src-multicast   source 224.0.0.5      (a martian source)
    v4-src-loopback    source 127.0.0.1
    v4-src-zero        source 0.0.0.0
    v4-dst-loopback    destination 127.0.0.1
    v6-src-multicast   source ff02::5        (RFC 4291 2.7)
    v6-src-loopback    source ::1            (RFC 4291 2.5.3)

IP input drops all but the controls (ip6_rcv_core, ip_route_input_slow);
GRO checks none of them. Prints "CASE delivered=N" a line, N the inner
datagrams that reached the UDP socket; exit 0.
"""
import argparse
import os
import random
import socket
import struct
import subprocess
import sys
import time
from collections import Counter

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esp_fuzz as fz  # noqa: E402
from esp_craft import csum  # noqa: E402

CASES = [
    ("v4", 4, None),
    ("v6", 6, None),
    ("v6-version-4", 6, lambda p: p.__setitem__(0, 0x40 | (p[0] & 0x0F))),
    ("v4-src-multicast", 4, lambda p: p.__setitem__(slice(12, 16), bytes([224, 0, 0, 5]))),
    ("v4-src-loopback", 4, lambda p: p.__setitem__(slice(12, 16), bytes([127, 0, 0, 1]))),
    ("v4-src-zero", 4, lambda p: p.__setitem__(slice(12, 16), bytes(4))),
    ("v4-dst-loopback", 4, lambda p: p.__setitem__(slice(16, 20), bytes([127, 0, 0, 1]))),
    ("v6-src-multicast", 6, lambda p: p.__setitem__(slice(8, 24), bytes.fromhex("ff02" + "0" * 27 + "5"))),
    ("v6-src-loopback", 6, lambda p: p.__setitem__(slice(8, 24), bytes(15) + b"\1")),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ns", required=True)
    ap.add_argument("--setup", action="store_true")
    a = ap.parse_args()
    rng = random.Random(1)
    sas = {4: fz.Sa("gcm128", 0x7000, rng), 6: fz.Sa("gcm128-v6", 0x7001, rng)}
    if a.setup:
        for sa in sas.values():
            subprocess.run(["ip", "-n", a.ns] + sa.xfrm_args(), check=True)
            subprocess.run(["ip", "-n", a.ns] + fz.policy_args(sa), check=True)
    tap = fz.Tap(a.ns, "tp")
    socks = fz.inner_sockets(a.ns)
    for i, (name, fam, change) in enumerate(CASES):
        sa = sas[fam]
        sa.top += 1
        tag = b"gro %d;" % i
        pt, _ = fz.plaintext(sa, fz.inner_packet(sa, tag, rng), rng, False)
        pkt, _ = fz.outer_ip(sa, fz.seal(sa, sa.top, pt, bytes(8)), rng, False)
        pkt = bytearray(pkt)
        if change:
            change(pkt)
            if fam == 4:
                pkt[10:12] = b"\0\0"
                pkt[10:12] = struct.pack("!H", csum(bytes(pkt[:20])))
        et = struct.pack("!H", 0x0800 if fam == 4 else 0x86DD)
        frame = tap.mac + bytes([2, 0, 0, 0, 0, 1]) + et + bytes(pkt)
        tap.send(frame, [14])
        time.sleep(0.2)
        seen = Counter()
        fz.read_all(socks, seen, b"\0")
        print(f"{name} delivered={sum(n for k, n in seen.items() if tag in k[2])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
