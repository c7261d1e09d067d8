#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Build and send ESP packets with a known key (test tool of the ipsec_rs selftests).

    esp_craft.py --dev IF --dst-mac MAC --src A --dst B --spi N --key HEX
                 --seq N[,N...] [--esn-hi N] [--alg gcm|cbc-sha256 --auth-key HEX]
                 [--udp SPORT:DPORT] [--inner-dport P] [--payload TEXT] [--size N]
                 [--corrupt-icv] [--truncate N] [--bad-pad] [--next-header N]
                 [--spis K] [--out FILE]

Sends, from an AF_PACKET socket on IF (so the sender's own XFRM policies do
not apply), one tunnel-mode ESP packet per sequence number: the inner packet
is a UDP datagram from A to B (same family, port 4000 -> --inner-dport)
carrying TEXT and the sequence number. rfc4106(gcm(aes)) with a 20-byte key
(16 key + 4 salt), or AES-CBC + HMAC-SHA-256 (128-bit ICV). --esn-hi gives
the high 32 bits authenticated with ESN. The faults make a packet that the
receiver must drop: a flipped ICV bit, a packet cut to N bytes of ESP, a
padding byte out of sequence, another next-header value. Per packet
(--pkt), long-pad adds 48 bytes of padding (bad-pad then spoils the first
padding byte instead of the last).

An item of --seq may be a range A-B (inclusive). --size N makes the inner
UDP payload exactly N bytes (TEXT and the sequence number, padded with
"x"). --out FILE writes the frames to FILE instead of sending them, each as
a 2-byte big-endian length and the Ethernet frame (for selftests/tools/
esp_blast, which sends them fast); IF then only gives the source MAC.
--spis K sends every sequence number of --seq to the K SAs with SPIs N to
N+K-1 in turn, round by round (all K SAs' packet 1, then all their packet
2, ...), as traffic spread over many SAs.
"""
import argparse
import ipaddress
import os
import socket
import struct
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives import hmac, hashes


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(src, dst, proto, payload, ident=0):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0, 64, proto, 0, src, dst)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ip6(src, dst, proto, payload):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), proto, 64, src, dst) + payload


def udp(src, dst, sport, dport, data, v6):
    u = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    if v6:
        ph = src + dst + struct.pack("!I3xB", len(u), 17)
    else:
        ph = src + dst + struct.pack("!BBH", 0, 17, len(u))
    c = csum(ph + u) or 0xFFFF
    return u[:6] + struct.pack("!H", c) + u[8:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", required=True)
    ap.add_argument("--dst-mac", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--spi", type=lambda s: int(s, 0), default=0)
    ap.add_argument("--key", required=True)
    ap.add_argument("--auth-key")
    ap.add_argument("--alg", default="gcm")
    ap.add_argument("--seq")
    ap.add_argument("--pkt", action="append", default=[],
                    help="one packet: comma-separated seq=N, spi=N, esn-hi=N, truncate=N, "
                         "next-header=N, corrupt-icv, bad-pad (overriding the options)")
    ap.add_argument("--esn-hi", type=lambda s: int(s, 0), default=None)
    ap.add_argument("--udp")
    ap.add_argument("--inner-dport", type=int, default=7777)
    ap.add_argument("--payload", default="hello")
    ap.add_argument("--corrupt-icv", action="store_true")
    ap.add_argument("--truncate", type=int)
    ap.add_argument("--bad-pad", action="store_true")
    ap.add_argument("--next-header", type=int)
    ap.add_argument("--size", type=int)
    ap.add_argument("--spis", type=int, default=1)
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.spis < 1:
        sys.exit("esp_craft.py: --spis must be at least 1")

    src, dst = ipaddress.ip_address(a.src), ipaddress.ip_address(a.dst)
    v6 = src.version == 6
    key = bytes.fromhex(a.key[2:] if a.key.startswith("0x") else a.key)
    if a.out:
        out = open(a.out, "wb")
    else:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((a.dev, 0))
    mac = bytes.fromhex(a.dst_mac.replace(":", ""))
    own = bytes.fromhex(open(f"/sys/class/net/{a.dev}/address").read().strip().replace(":", ""))
    pkts = []
    if a.seq:
        for x in a.seq.split(","):
            lo, _, hi = x.partition("-")
            pkts += [dict(seq=n, spi=a.spi + i) for n in range(int(lo, 0), int(hi or lo, 0) + 1)
                     for i in range(a.spis)]
    for spec in a.pkt:
        d = {}
        for item in spec.split(","):
            k, _, v = item.partition("=")
            d[k.replace("-", "_")] = int(v, 0) if v else True
        pkts.append(d)
    base = dict(spi=a.spi, esn_hi=a.esn_hi, truncate=a.truncate, next_header=a.next_header,
                corrupt_icv=a.corrupt_icv, bad_pad=a.bad_pad)
    sent = 0
    for p in pkts:
        o = argparse.Namespace(**{**base, **p})
        seq = o.seq
        data = f"{a.payload} {seq}".encode()
        if a.size is not None:
            if len(data) > a.size:
                sys.exit(f"esp_craft.py: --size {a.size} is smaller than {data!r}")
            data += b"x" * (a.size - len(data))
        u = udp(src.packed, dst.packed, 4000, a.inner_dport, data, v6)
        inner = ip6(src.packed, dst.packed, 17, u) if v6 else ip4(src.packed, dst.packed, 17, u)
        nh = o.next_header if o.next_header is not None else (41 if v6 else 4)
        block = 4 if a.alg == "gcm" else 16
        padlen = (-(len(inner) + 2)) % block
        if padlen == 0:
            padlen = block
        if getattr(o, "long_pad", False):
            # Padded beyond the block (as for traffic-flow confidentiality):
            # the receiver must check padding that does not fit in a block.
            padlen += 48
        pad = bytes(range(1, padlen + 1))
        if o.bad_pad:
            # The last byte, or with long-pad the first (far from the trailer).
            pad = (b"\x00" + pad[1:]) if getattr(o, "long_pad", False) else (pad[:-1] + b"\x00")
        pt = inner + pad + bytes([padlen, nh])
        hdr = struct.pack("!II", o.spi, seq & 0xFFFFFFFF)
        if a.alg == "gcm":
            iv = os.urandom(8)
            aad = hdr if o.esn_hi is None else struct.pack("!III", o.spi, o.esn_hi, seq & 0xFFFFFFFF)
            ct = AESGCM(key[:-4]).encrypt(key[-4:] + iv, pt, aad)
            esp = hdr + iv + ct
        else:
            iv = os.urandom(16)
            enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
            ct = enc.update(pt) + enc.finalize()
            akey = bytes.fromhex(a.auth_key[2:] if a.auth_key.startswith("0x") else a.auth_key)
            h = hmac.HMAC(akey, hashes.SHA256())
            h.update(hdr + iv + ct + (b"" if o.esn_hi is None else struct.pack("!I", o.esn_hi)))
            esp = hdr + iv + ct + h.finalize()[:16]
        if o.corrupt_icv:
            esp = esp[:-1] + bytes([esp[-1] ^ 0x80])
        if o.truncate is not None:
            esp = esp[: o.truncate]
        if a.udp:
            sp, dp = (int(p) for p in a.udp.split(":"))
            esp = udp(src.packed, dst.packed, sp, dp, esp, v6)
            proto = 17
        else:
            proto = 50
        outer = ip6(src.packed, dst.packed, proto, esp) if v6 else ip4(src.packed, dst.packed, proto, esp, seq & 0xFFFF)
        eth = mac + own + struct.pack("!H", 0x86DD if v6 else 0x0800)
        if a.out:
            frame = eth + outer
            out.write(struct.pack("!H", len(frame)) + frame)
        else:
            s.send(eth + outer)
        sent += 1
    if a.out:
        out.close()
    print(sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
