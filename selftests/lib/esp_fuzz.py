#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Differential fuzzer of the inbound ESP path (test tool of the ipsec_rs selftests).

    esp_fuzz.py --seed N --count N [--batch N] [--shapes NAME,...] [--sas N]
                [--mutate P] [--tap P] [--sender NS] [--module NS] [--wide NS]
                [--xfrm NS] [--rx-dev DEV] [--tool IPSEC_RS] [--setup] [--list]

Three receivers in one guest hold the same SAs with the same keys:
namespace --module (the module's receive path on, its default window at
the smallest, so that every SA's window is XFRM's), --wide (the module
with a default window of 65,536: every SA's there) and --xfrm (XFRM
alone). From --sender, the same frames go to all three: through a veth
each ("g" + the receiver's name; AF_PACKET, so no policy of the sender's
applies: a linear skb, from the backlog) or, a --tap share of them, written
to a tap of each receiver's (IFF_NAPI_FRAGS: the frame split into a
linear part and page fragments at random points, handed to GRO in the
writer's context). Each receiver's inner side is a UDP socket per family
on the inner port: every datagram that reaches it is recorded with its
source, its TOS or traffic class (ECN and DSCP as decapsulation set them)
and its payload. After each batch a fence packet (a valid one on an SA of
its own, never mutated) tells that all have finished with the batch; what
every receiver delivered is then matched across them, datagram for
datagram and byte for byte. A datagram may come one batch late (the
decapsulated packet re-enters the stack through the backlog or GRO cells,
whose order relative to the fence is not an outcome); what is unmatched
after that is a disagreement. Every 16 batches the module's windows (its
per-SA top, `ipsec-rs show sas`) must equal XFRM's (read from its SA dump
after every batch): a packet one side accepted and the other refused
differs there even when neither delivered it. A disagreement prints the
seed, the batch, the unmatched datagrams and the hex of every input packet
of the batch and the one before, and ends the run with exit 1.

Where the module deliberately differs from XFRM, the rule is written here
(and in Documentation/design.rst), not tolerated silently:

- padding: the module checks that the padding bytes the trailer claims
  are 1, 2, 3, ... (RFC 4303 2.4 lets a receiver check them; esp4/esp6 do
  not) and drops a packet whose padding is not, which XFRM delivers when
  the rest holds: a spoilt padding byte, or a pad length shorter than the
  padding (what it leaves behind the inner packet, IP input trims). Such
  packets are the ones whose delivery by XFRM alone is allowed; their
  sequence numbers are taken below the window's top and never used again,
  so that the windows, which differ by that number afterwards, never
  meet it again.
- window: the module's window is the larger of its default and the SA's;
  XFRM's is the SA's, 4,096 at most. A packet whose sequence number lies
  in the band below XFRM's window and inside the wide receiver's (more
  than the SA's window and less than 65,536 below the top) is one the
  wide receiver alone may deliver, and must deliver when it is valid and
  its number was never sent before. The window's top is known exactly
  after a batch (XFRM's SA dump); within one, a mutated packet ahead of it
  may or may not have moved it, so a packet is "must" only where every top
  it may be puts it in the band.

Input packets start valid, on one of the SA shapes (--list) whose SAs
--setup installs in every receiver: AES-GCM 128 and 256 and AES-CBC with
HMAC-SHA-256, ESN on and off, windows of 32 and 4,096 (XFRM's largest) and
65,536 (the wide receiver), IPv4 and IPv6 outer and inner, tunnel and
transport mode, UDP-encapsulated (IPv4 tunnel and transport, IPv6 tunnel),
one with decap-dscp and an output mark. Before the first random packet,
valid ones bring every window to where the generator starts it (ESN SAs
near 2^32, by way of 2^31; the others at 100,000). Most are then mutated,
from the seed (the run is reproducible from it): bit flips anywhere,
truncation and extension, the outer header's fields (lengths, IHL,
TOS/traffic class, fragment bits and offset, protocol, hop limit), IPv6
extension headers, SPI (0, reserved, another SA's, unknown), sequence
numbers around both windows' edges, replays and across 2^32 (ESN), IV and
ICV bytes, and, authenticated so that only the receiver's checks stand
between them and delivery, padding length, padding bytes and next header
(59 and unknown values included), and ESP cut shorter than its header
with the lengths around it consistent. UDP-encapsulated shapes add
mutations of the UDP header: ports, checksum, length (zero payload,
short), a non-ESP marker, a NAT keepalive. One packet in 20 (--frag)
whose outer header is intact goes as 2 or 3 IP fragments, sometimes the
last first, reassembled before ESP sees it.

Prints one line of key=value at the end: sent, batches, delivered (inner
datagrams the module's receiver received), mutated, tapped (sent as page
fragments through GRO), pad_rule, band_rule and band_must (packets under
the rules), rate (packets a second); then what each receiver delivered of
each shape. A run of 50 packets an SA or more fails if a shape delivered
nothing in a receiver: a shape that only ever fails tests failures alone.

GRO does not merge ESP packets into trains (their GRO handlers consume
them one by one); the tap share is what goes through the module's GRO
entry (esp_fuzz.sh loads it with rx_gro=1).
"""
import argparse
import ctypes
import fcntl
import json
import os
import random
import re
import select
import socket
import struct
import subprocess
import sys
import time
from collections import Counter

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from esp_craft import csum, ip4, ip6, udp  # noqa: E402

from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402
from cryptography.hazmat.primitives import hmac, hashes  # noqa: E402

CLONE_NEWNET = 0x40000000
ETH_P_ALL = 3
PACKET_OUTGOING = 4

OUTER = {4: (bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])),
         6: (bytes.fromhex("20010db8" + "0" * 23 + "1"), bytes.fromhex("20010db8" + "0" * 23 + "2"))}
INNER = {4: (bytes([10, 1, 0, 1]), bytes([10, 2, 0, 1])),
         6: (bytes.fromhex("fd01" + "0" * 27 + "1"), bytes.fromhex("fd02" + "0" * 27 + "1"))}


def inner_src(sa):
    """The inner source of an SA's packets, one per outer family (so that
    each pair of families has a policy selector of its own)."""
    src = bytearray(INNER[sa.ifam][0])
    src[-2] = sa.fam
    return bytes(src)
INNER_PORT = 5000

# name: (algorithm, key bytes, ESN, window, outer family, inner family,
# mode); in transport mode the "inner family" is the outer one.
SHAPES = {
    "gcm128": ("gcm", 20, False, 32, 4, 4, "tunnel"),
    "gcm256-esn": ("gcm", 36, True, 4096, 4, 4, "tunnel"),
    "gcm128-v6": ("gcm", 20, False, 4096, 6, 6, "tunnel"),
    "cbc": ("cbc", 16, False, 32, 4, 4, "tunnel"),
    "cbc-esn-v6": ("cbc", 16, True, 4096, 6, 4, "tunnel"),
    "gcm128-esn-4in6": ("gcm", 20, True, 32, 6, 4, "tunnel"),
    "gcm128-tr": ("gcm", 20, False, 32, 4, 4, "transport"),
    "cbc-esn-tr6": ("cbc", 16, True, 4096, 6, 6, "transport"),
}
# UDP-encapsulated (RFC 3948, port 4500 both ways: the receivers need an
# encapsulation socket, which esp_fuzz.sh opens).
UDP_SHAPES = {
    "gcm128-udp": ("gcm", 20, False, 32, 4, 4, "tunnel"),
    "cbc-esn-udp": ("cbc", 16, True, 4096, 4, 4, "tunnel"),
    "gcm128-udp6": ("gcm", 20, False, 32, 6, 6, "tunnel"),
    "gcm128-tr-udp": ("gcm", 20, False, 32, 4, 4, "transport"),
}
# More of a shape's SA: the DSCP copied to the inner header on
# decapsulation, a mark set on the inner packet (`smark`).
SA_OPTIONS = {
    "cbc": ["flag", "decap-dscp", "output-mark", "0x5"],
}
# Batches between two comparisons of the module's windows with XFRM's
# (`windows_differ`: a tool run each, the costliest step of a batch).
WINDOW_CHECK = 16
# The wide receiver's window (esp_fuzz.sh sets the module's default there):
# every SA's there, against XFRM's at most 4,096.
WIDE_WINDOW = 65536
FENCE_SPI = 0x0FE0CE00


class Sa:
    """One SA of a shape, as both receivers hold it, and its sender's state."""

    def __init__(self, name, spi, rng):
        self.name = name
        self.udp = name in UDP_SHAPES
        shape = UDP_SHAPES[name] if self.udp else SHAPES[name]
        self.alg, klen, self.esn, self.window, self.fam, self.ifam, self.mode = shape
        self.spi = spi
        self.key = bytes(rng.getrandbits(8) for _ in range(klen))
        self.akey = bytes(rng.getrandbits(8) for _ in range(32)) if self.alg == "cbc" else None
        # ESN SAs start near 2^32 so that runs cross it.
        self.top = (1 << 32) - 3000 if self.esn else 0
        # Sequence numbers of packets only XFRM accepts (see the rules).
        self.poisoned = set()
        # Every sequence number sent (the wide receiver may hold it).
        self.sent = set()
        # Within a batch, the most the receivers' top may be (`build`).
        self.hi = self.top

    def xfrm_args(self):
        src, dst = (socket.inet_ntop(socket.AF_INET if self.fam == 4 else socket.AF_INET6, a)
                    for a in OUTER[self.fam])
        args = ["xfrm", "state", "add", "src", src, "dst", dst, "proto", "esp",
                "spi", hex(self.spi), "mode", self.mode, "replay-window", str(self.window)]
        if self.mode == "tunnel":
            # XFRM checks the inner packet against the SA's selector, of
            # the SA's family unless given: any, of the inner family.
            anyaddr = "0.0.0.0/0" if self.ifam == 4 else "::/0"
            args += ["sel", "src", anyaddr, "dst", anyaddr]
        if self.esn:
            args += ["flag", "esn"]
        if self.udp:
            args += ["encap", "espinudp", "4500", "4500", "0.0.0.0" if self.fam == 4 else "::"]
        args += SA_OPTIONS.get(self.name, [])
        if self.alg == "gcm":
            args += ["aead", "rfc4106(gcm(aes))", "0x" + self.key.hex(), "128"]
        else:
            args += ["enc", "cbc(aes)", "0x" + self.key.hex(),
                     "auth-trunc", "hmac(sha256)", "0x" + self.akey.hex(), "128"]
        return args


def policy_args(sa):
    """The inbound policy the SA's inner packets need to reach a socket (in
    transport mode: ESP required of the datagrams to the inner port)."""
    fam = socket.AF_INET if sa.fam == 4 else socket.AF_INET6
    ifam = socket.AF_INET if sa.ifam == 4 else socket.AF_INET6
    src, dst = (socket.inet_ntop(fam, x) for x in OUTER[sa.fam])
    plen = 32 if sa.ifam == 4 else 128
    tmpl = ["dir", "in", "tmpl", "src", src, "dst", dst, "proto", "esp", "mode", sa.mode]
    if sa.mode == "transport":
        return ["xfrm", "policy", "add", "src", f"{src}/{plen}", "dst", f"{dst}/{plen}",
                "proto", "udp", "dport", str(INNER_PORT)] + tmpl
    isrc, idst = socket.inet_ntop(ifam, inner_src(sa)), socket.inet_ntop(ifam, INNER[sa.ifam][1])
    return ["xfrm", "policy", "add", "src", f"{isrc}/{plen}", "dst", f"{idst}/{plen}"] + tmpl


def seal(sa, seq, plaintext, iv):
    """ESP (header, IV, ciphertext, ICV) of `plaintext` at full sequence `seq`."""
    hdr = struct.pack("!II", sa.spi, seq & 0xFFFFFFFF)
    hi = struct.pack("!I", seq >> 32) if sa.esn else b""
    if sa.alg == "gcm":
        aad = hdr if not sa.esn else struct.pack("!I", sa.spi) + hi + hdr[4:]
        return hdr + iv + AESGCM(sa.key[:-4]).encrypt(sa.key[-4:] + iv, plaintext, aad)
    enc = Cipher(algorithms.AES(sa.key), modes.CBC(iv)).encryptor()
    ct = enc.update(plaintext) + enc.finalize()
    h = hmac.HMAC(sa.akey, hashes.SHA256())
    h.update(hdr + iv + ct + hi)
    return hdr + iv + ct + h.finalize()[:16]


def inner_packet(sa, tag, rng):
    """What the SA protects: an inner IP packet (tunnel mode) or a UDP
    datagram between the outer addresses (transport mode)."""
    data = tag + bytes(rng.getrandbits(8) for _ in range(rng.choice((0, 1, 7, 33, 200, 900))))
    if sa.mode == "transport":
        return udp(*OUTER[sa.fam], 4000, INNER_PORT, data, sa.fam == 6)
    src, dst = inner_src(sa), INNER[sa.ifam][1]
    u = udp(src, dst, 4000, INNER_PORT, data, sa.ifam == 6)
    if sa.ifam == 6:
        return ip6(src, dst, 17, u)
    return ip4(src, dst, 17, u, rng.getrandbits(16))


def plaintext(sa, inner, rng, weird):
    """The ESP payload of `inner`, padded; `weird` spoils the trailer (still sealed)."""
    block = 4 if sa.alg == "gcm" else 16
    padlen = (-(len(inner) + 2)) % block
    if rng.random() < 0.2:
        padlen += block * rng.randint(1, 8)
    tunnel = sa.mode == "tunnel"
    nh = (41 if sa.ifam == 6 else 4) if tunnel else 17
    pad = bytearray(range(1, padlen + 1))
    what = None
    if weird:
        what = rng.choice(("padlen-long", "padlen-short", "pad-byte", "nh-59", "nh-unknown",
                           "nh-other-family", "empty-inner", "nh-transport"))
        if what == "pad-byte" and pad:
            pad[rng.randrange(len(pad))] ^= 1 << rng.randrange(8)
        elif what == "nh-59":
            nh = 59
        elif what == "nh-unknown":
            nh = rng.choice((0, 6, 17, 253, 255))
        elif what == "nh-other-family":
            nh = (4 if nh == 41 else 41) if tunnel else 6
        elif what == "nh-transport":
            nh = 17 if tunnel else 4
        elif what == "empty-inner":
            inner = b""
            padlen = block - 2 if block > 2 else block + 2
            pad = bytearray(range(1, padlen + 1))
    body = inner + bytes(pad)
    n = len(pad)
    if what == "padlen-long":
        n = min(255, len(body) + rng.randint(0, 40))
    elif what == "padlen-short" and n:
        n -= rng.randint(1, n)
    pt = body + bytes([n, nh])
    # CBC needs whole blocks: extend the padding region kept out of `n`.
    while sa.alg == "cbc" and len(pt) % 16:
        pt = body + bytes(16 - len(pt) % 16) + bytes([n, nh])
        body = pt[:-2]
    return pt, what


def padding_ok(pt):
    """Whether the padding `pt`'s trailer claims is 1, 2, 3, ... (the
    module's rule; XFRM does not look)."""
    n = pt[-2]
    return n + 2 <= len(pt) and pt[len(pt) - 2 - n:-2] == bytes(range(1, n + 1))


def choose_seq(sa, rng):
    """A sequence number to send, around the SA's window (the receivers'
    top is followed in `sa.top`: see `main`)."""
    r = rng.random()
    top, w = sa.top, sa.window
    if r < 0.6 or top < 2:
        seq = top + 1 + (rng.randint(0, 5) if rng.random() < 0.3 else 0)
    elif r < 0.7:
        seq = top - rng.randint(0, 3)
    elif r < 0.82:
        seq = top - w + rng.randint(-2, 2)
    elif r < 0.9:
        seq = top - rng.randint(0, w)
    elif r < 0.95:
        # The band only the wide receiver's window holds, and its edges.
        seq = top - rng.choice((rng.randint(w + 1, WIDE_WINDOW - 1), WIDE_WINDOW - 1,
                                WIDE_WINDOW, WIDE_WINDOW + 1))
    elif r < 0.99:
        seq = top + rng.choice((w, w + 1, 2 * w))
    elif r < 0.995:
        seq = top + rng.choice((1 << 31, (1 << 31) - 1, (1 << 31) + 1))
    else:
        seq = 0
    if not sa.esn:
        seq &= 0xFFFFFFFF
    seq = max(seq, 0)
    while seq in sa.poisoned:
        seq += 1
    return seq


# Mutations of the outer header's fields, before it is built: name ->
# a change of the fields (`f`, a dict), one table per family.
IP4_FIELDS = {
    "tos": lambda f, rng: f.update(tos=rng.getrandbits(8)),
    "ecn-ce": lambda f, rng: f.update(tos=3),
    "ttl": lambda f, rng: f.update(ttl=rng.choice((0, 1, 255))),
    "df": lambda f, rng: f.update(frag=0x4000),
    "mf": lambda f, rng: f.update(frag=0x2000),
    "offset": lambda f, rng: f.update(frag=rng.randint(1, 0x1FFF)),
    "options": lambda f, rng: f.update(
        opts=bytes([1, 1, 1, 0]) if rng.random() < 0.5 else bytes([7, 7, 4, 0, 0, 0, 0, 1])),
    "proto": lambda f, rng: f.update(proto=rng.choice((51, 17, 4, 0))),
}
IP6_FIELDS = {
    "tc": lambda f, rng: f.update(tc=rng.getrandbits(8)),
    "ecn-ce": lambda f, rng: f.update(tc=3),
    "hop": lambda f, rng: f.update(hop=rng.choice((0, 1, 255))),
    "hbh": lambda f, rng: f.update(nh=0, ext=bytes([50, 0, 1, 4, 0, 0, 0, 0])),
    "dstopt": lambda f, rng: f.update(nh=60, ext=bytes([50, 0, 1, 4, 0, 0, 0, 0])),
    "frag": lambda f, rng: f.update(
        nh=44, ext=struct.pack("!BBHI", 50, 0, rng.randint(1, 0x1FFF) << 3, rng.getrandbits(32))),
    "frag-atomic": lambda f, rng: f.update(
        nh=44, ext=struct.pack("!BBHI", 50, 0, 0, rng.getrandbits(32))),
    "nh": lambda f, rng: f.update(nh=rng.choice((51, 17, 59, 4))),
}
# Mutations of the built outer header: name -> (offset, bytes of it).
IP4_BYTES = {
    "totlen": lambda pkt, rng: pkt.__setitem__(slice(2, 4), struct.pack("!H", rng.getrandbits(16))),
    "ihl": lambda pkt, rng: pkt.__setitem__(0, 0x40 | rng.randint(0, 15)),
    "csum": lambda pkt, rng: pkt.__setitem__(10, pkt[10] ^ 0x5A),
}
IP6_BYTES = {
    "paylen": lambda pkt, rng: pkt.__setitem__(slice(4, 6), struct.pack("!H", rng.getrandbits(16))),
}


def pick(table, prefix, arg, rng, done):
    """Applies one mutation of `table` to `arg`, named in `done`."""
    what = rng.choice(sorted(table))
    done.append(prefix + what)
    table[what](arg, rng)


def encapsulate(sa, esp, rng, mutate, done):
    """`esp` in a UDP header (RFC 3948), ports and checksum possibly spoilt."""
    sport, dport, csum_v, length = 4500, 4500, 0, 8 + len(esp)
    if mutate and rng.random() < 0.3:
        what = rng.choice(("sport", "dport", "csum", "len-zero", "len-short", "non-esp", "keepalive"))
        done.append("udp-" + what)
        if what == "sport":
            sport = rng.choice((4501, 500, rng.getrandbits(16)))
        elif what == "dport":
            dport = rng.choice((500, 4501))
        elif what == "csum":
            csum_v = rng.getrandbits(16) or 1
        elif what == "len-zero":
            length = 8
        elif what == "len-short":
            length = rng.randint(8, max(8, length - 1))
        elif what == "non-esp":
            esp = bytes(4) + esp
            length += 4
        elif what == "keepalive":
            esp, length = b"\xff", 9
    u = struct.pack("!HHHH", sport, dport, length, csum_v) + esp
    if sa.fam == 6 and not csum_v:
        # IPv6 requires the checksum (RFC 8200 8.1).
        src, dst = OUTER[6]
        c = csum(src + dst + struct.pack("!IxxxB", len(u), 17) + u) or 0xFFFF
        u = u[:6] + struct.pack("!H", c) + u[8:]
    return u


def outer_ip(sa, esp, rng, mutate):
    """The outer IP packet around `esp`, its header possibly spoilt; the mutations made."""
    src, dst = OUTER[sa.fam]
    done = []
    v4 = sa.fam == 4
    if v4:
        f = dict(tos=0, ttl=64, frag=0, ident=rng.getrandbits(16), opts=b"",
                 proto=17 if sa.udp else 50)
    else:
        f = dict(tc=0, hop=64, nh=17 if sa.udp else 50, ext=b"")
    if mutate and rng.random() < 0.3:
        pick(IP4_FIELDS if v4 else IP6_FIELDS, "ip%d-" % sa.fam, f, rng, done)
    if v4:
        opts = f["opts"]
        h = struct.pack("!BBHHHBBH4s4s", 0x40 | (5 + len(opts) // 4), f["tos"],
                        20 + len(opts) + len(esp), f["ident"], f["frag"], f["ttl"], f["proto"],
                        0, src, dst) + opts
        pkt = bytearray(h[:10] + struct.pack("!H", csum(h)) + h[12:] + esp)
    else:
        body = f["ext"] + esp
        pkt = bytearray(struct.pack("!IHBB16s16s", (6 << 28) | (f["tc"] << 20), len(body),
                                    f["nh"], f["hop"], src, dst) + body)
    if mutate and rng.random() < 0.15:
        pick(IP4_BYTES if v4 else IP6_BYTES, "ip%d-" % sa.fam, pkt, rng, done)
    return bytes(pkt), done


def spoil(pkt, rng, iphdr_len, esp_len):
    """Byte-level mutations of the whole outer packet: flips, cuts, growth."""
    pkt = bytearray(pkt)
    done = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        what = rng.choice(("flip", "flip-esp-hdr", "flip-iv", "flip-icv", "truncate", "extend",
                           "spi", "cut-to-header"))
        done.append(what)
        esp_at = iphdr_len
        if what == "flip" and pkt:
            i = rng.randrange(len(pkt))
            pkt[i] ^= 1 << rng.randrange(8)
        elif what == "flip-esp-hdr" and len(pkt) > esp_at + 8:
            pkt[esp_at + rng.randrange(8)] ^= 1 << rng.randrange(8)
        elif what == "flip-iv" and len(pkt) > esp_at + 16:
            pkt[esp_at + 8 + rng.randrange(8)] ^= 1 << rng.randrange(8)
        elif what == "flip-icv" and len(pkt) > esp_at + 24:
            pkt[len(pkt) - 1 - rng.randrange(16)] ^= 1 << rng.randrange(8)
        elif what == "truncate" and len(pkt) > 1:
            del pkt[rng.randrange(1, len(pkt)):]
        elif what == "extend":
            pkt += bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
        elif what == "spi" and len(pkt) > esp_at + 4:
            spi = rng.choice((0, 1, 255, 256, rng.getrandbits(32)))
            pkt[esp_at:esp_at + 4] = struct.pack("!I", spi)
        elif what == "cut-to-header":
            del pkt[esp_at + rng.randint(0, 12):]
    return bytes(pkt), done


class Netns:
    """Runs code inside a named network namespace (setns(2), then back)."""

    libc = ctypes.CDLL(None, use_errno=True)

    def __init__(self, name):
        self.path = f"/run/netns/{name}"

    def __enter__(self):
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY)
        fd = os.open(self.path, os.O_RDONLY)
        if self.libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {self.path}")
        os.close(fd)

    def __exit__(self, *exc):
        if self.libc.setns(self.home, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back")
        os.close(self.home)


def packet_socket(ns, dev):
    with Netns(ns):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((dev, 0))
    # (ifname, protocol, packet type, hardware type, address)
    return s, s.getsockname()[4]


TUNSETIFF = 0x400454CA
SIOCGIFHWADDR = 0x8927
IFF_TAP, IFF_NAPI, IFF_NAPI_FRAGS, IFF_NO_PI = 0x0002, 0x0010, 0x0020, 0x1000
MAX_FRAGS = 17  # MAX_SKB_FRAGS: tun takes at most 18 iovecs, one linear


class Tap:
    """A tap device `name` in namespace `ns` whose frames the kernel builds
    as page fragments behind a linear part of the first iovec's length and
    hands to GRO (IFF_NAPI_FRAGS: napi_gro_frags), in the writer's context."""

    def __init__(self, ns, name):
        with Netns(ns):
            self.fd = os.open("/dev/net/tun", os.O_RDWR)
            flags = IFF_TAP | IFF_NO_PI | IFF_NAPI | IFF_NAPI_FRAGS
            fcntl.ioctl(self.fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), flags))
            ifr = fcntl.ioctl(self.fd, SIOCGIFHWADDR, struct.pack("16s24x", name.encode()))
            self.mac = ifr[18:24]
            # Outer packets arrive here for addresses of another device.
            for conf in ("all", name):
                with open(f"/proc/sys/net/ipv4/conf/{conf}/rp_filter", "w") as f:
                    f.write("0")
        subprocess.run(["ip", "-n", ns, "link", "set", name, "up"], check=True)

    def send(self, frame, cuts):
        """`frame` as iovecs cut at `cuts` (the first one the linear part)."""
        os.writev(self.fd, [frame[a:b] for a, b in zip([0] + cuts, cuts + [len(frame)])])


def header_intact(done):
    """Whether the mutations `done` left the outer header as built (only
    ESP's bytes, the trailer or the UDP header changed)."""
    return all(d.startswith(("flip-", "spi", "trailer-", "udp-")) for d in done)


def ip_fragments(pkt, fam, rng):
    """The outer packet `pkt` as 2 or 3 IP fragments (RFC 791 / RFC 8200
    4.5), sometimes the last first: the receiver reassembles them before
    ESP sees the packet (an skb with a frag_list)."""
    hl = (pkt[0] & 15) * 4 if fam == 4 else 40
    body = pkt[hl:]
    points = list(range(8, len(body), 8))
    if not points:
        return [pkt]
    cuts = sorted(rng.sample(points, min(len(points), rng.randint(1, 2))))
    pieces = [(a, body[a:b]) for a, b in zip([0] + cuts, cuts + [len(body)])]
    out = []
    ident = rng.getrandbits(32)
    for n, (off, piece) in enumerate(pieces):
        more = n < len(pieces) - 1
        if fam == 4:
            h = bytearray(pkt[:hl])
            h[2:4] = struct.pack("!H", hl + len(piece))
            h[6:8] = struct.pack("!H", (0x2000 if more else 0) | off // 8)
            h[10:12] = b"\0\0"
            h[10:12] = struct.pack("!H", csum(bytes(h)))
            out.append(bytes(h) + piece)
        else:
            fh = struct.pack("!BBHI", pkt[6], 0, off | more, ident)
            h = bytearray(pkt[:40])
            h[4:6] = struct.pack("!H", 8 + len(piece))
            h[6] = 44
            out.append(bytes(h) + fh + piece)
    if rng.random() < 0.3:
        out.reverse()
    return out


def frag_cuts(n, rng):
    """Where a frame of `n` bytes is cut for a tap: the Ethernet header and
    0 to all of the rest linear, the remainder in 1 to 4 fragments."""
    lin = min(n, 14 + rng.choice((0, 0, 1, 8, 20, 28, 40, 48, 56, rng.randint(0, n))))
    if lin >= n - 1:
        return [lin] if lin < n else []
    more = sorted(rng.sample(range(lin + 1, n), min(rng.randint(0, 3), n - lin - 1)))
    return [lin] + more


def inner_sockets(ns):
    """The receiver's inner side: a UDP socket per family on the inner port,
    any address (the inner one of tunnel mode, the outer one of transport
    mode), reporting TOS / traffic class."""
    socks = []
    with Netns(ns):
        for af in (socket.AF_INET, socket.AF_INET6):
            u = socket.socket(af, socket.SOCK_DGRAM)
            u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            if af == socket.AF_INET:
                u.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
                u.bind(("0.0.0.0", INNER_PORT))
            else:
                u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVTCLASS, 1)
                u.bind(("::", INNER_PORT))
            u.setblocking(False)
            socks.append(u)
    return socks


def read_all(socks, seen, fence_tag):
    """Reads every queued datagram into `seen`; whether the fence's was one."""
    fenced = False
    for u in socks:
        while True:
            try:
                data, anc, _, src = u.recvmsg(65536, 64)
            except BlockingIOError:
                break
            if fence_tag in data:
                fenced = True
                continue
            tos = b"".join(d for _, _, d in anc)
            seen[(src[0], tos, data)] += 1
    return fenced


def drain(socks, seen, fence_tag, deadline):
    """Reads datagrams into `seen` until the fence's arrives (True) or time
    is up. Every datagram of the batch is queued before the fence's (each
    side handles the frames in order), on whichever socket: once the fence
    is in, one more pass empties them all."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if select.select(socks, [], [], left)[0] and read_all(socks, seen, fence_tag):
            read_all(socks, seen, fence_tag)
            return True


class Receiver:
    """One receiver namespace: its veth from the sender, its tap, its
    inner sockets, and what reached them in the current batch."""

    def __init__(self, a, ns):
        self.ns = ns
        self.tx, own = packet_socket(a.sender, "g" + ns)
        p, self.mac = packet_socket(ns, a.rx_dev)
        p.close()
        self.own = own
        self.tap = Tap(ns, "tp")
        self.socks = inner_sockets(ns)
        # What reached the inner sockets after the last fence, and what of
        # the deliveries is not yet matched (`settle`).
        self.seen, self.pending = Counter(), Counter()

    def send(self, pkt, fam, cuts):
        """`pkt` (an outer IP packet) through the veth (`cuts` None: a
        linear skb, from the backlog) or the tap (page fragments, GRO)."""
        et = struct.pack("!H", 0x0800 if fam == 4 else 0x86DD)
        if cuts is None:
            self.tx.send(self.mac + self.own + et + pkt)
        else:
            self.tap.send(self.tap.mac + self.own + et + pkt, cuts)


def setup(a, sas, fence):
    """The SAs in every receiver, and an inbound policy per pair of
    families and mode (a tunnel-mode packet reaches a socket only through
    one; a transport-mode datagram to the inner port must have come in
    ESP)."""
    for ns in (a.module, a.wide, a.xfrm):
        pairs = set()
        for sa in sas + [fence]:
            subprocess.run(["ip", "-n", ns] + sa.xfrm_args(), check=True)
            if (sa.fam, sa.ifam, sa.mode) not in pairs:
                pairs.add((sa.fam, sa.ifam, sa.mode))
                subprocess.run(["ip", "-n", ns] + policy_args(sa), check=True)


def warm_up(sas):
    """Valid packets that bring every receiver's window where the
    generator's starts (`Sa.top`), each (seq, pinned) for `build`: ESN SAs
    by way of 2^31 (a jump from 0 to near 2^32 would be read as the epoch
    before), the others to 100,000, so that the wide receiver's band below
    a window of 4,096 has room."""
    out = []
    for sa in sas:
        start = sa.top if sa.esn else 100000
        sa.top = sa.hi = 0
        for seq in ((1 << 31), start) if sa.esn else (start,):
            out.append((sa, seq))
    return out


def build(a, rng, i, sa, seq=None):
    """Input packet `i`: on `sa`, valid or (unless `seq` is pinned) mutated.
    Returns (pkt, seq, mutations, rule), rule "pad" for a packet only
    XFRM may deliver, "band" for one only the wide receiver may, "band!"
    for one it must deliver."""
    pinned = seq is not None
    mutate = not pinned and rng.random() < a.mutate
    if not pinned:
        seq = choose_seq(sa, rng)
    tag = b"fz %d %d;" % (a.seed, i)
    weird = mutate and rng.random() < 0.3
    pt, how = plaintext(sa, inner_packet(sa, tag, rng), rng, weird)
    rule = None
    if not padding_ok(pt):
        # The module's padding rule (above): a number below the top, never
        # used again.
        seq = max(sa.top - rng.randint(1, sa.window - 1), 1)
        if seq in sa.poisoned or not sa.top:
            seq = sa.top + (1 << 40)  # never accepted: all drop it
        sa.poisoned.add(seq)
        rule = "pad"
    iv = bytes(rng.getrandbits(8) for _ in range(8 if sa.alg == "gcm" else 16))
    esp = seal(sa, seq, pt, iv)
    done = []
    if mutate and rng.random() < 0.02:
        # Shorter than an ESP header, the lengths around it consistent.
        esp = esp[:rng.randint(0, 7)]
        done.append("esp-short")
    if sa.udp:
        esp = encapsulate(sa, esp, rng, mutate, done)
    pkt, more = outer_ip(sa, esp, rng, mutate)
    done += more
    if how:
        done.append("trailer-" + how)
    if mutate and rng.random() < 0.6:
        pkt, more = spoil(pkt, rng, len(pkt) - len(esp), len(esp))
        done += more
    if rule is None and 0 < seq <= sa.hi - sa.window and seq > sa.top - WIDE_WINDOW:
        # The window rule (above): "band!" where the window's top, known
        # to lie in [top, hi], puts it in the band for certain.
        certain = seq <= sa.top - sa.window and seq > sa.hi - WIDE_WINDOW
        rule = "band!" if certain and not done and seq not in sa.sent else "band"
    sa.sent.add(seq)
    if not done:
        # A valid packet ahead of the window moves every receiver's.
        sa.top = max(sa.top, seq)
    # A mutated one ahead may or may not (some mutations leave it valid):
    # until the batch's end, when `resync` reads XFRM's.
    sa.hi = max(sa.hi, seq, sa.top)
    return pkt, seq, done, rule


NETLINK_XFRM, XFRM_MSG_NEWSA, XFRM_MSG_GETSA = 6, 0x10, 0x12
NLM_F_REQUEST, NLM_F_DUMP, NLMSG_DONE = 1, 0x300, 3
XFRMA_REPLAY_VAL, XFRMA_REPLAY_ESN_VAL = 10, 23
USERSA_INFO_LEN, USERSA_SPI_AT = 224, 72  # struct xfrm_usersa_info; id.spi


def xfrm_socket(ns):
    """A NETLINK_XFRM socket of namespace `ns`."""
    with Netns(ns):
        return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_XFRM)


def resync(sock, sas):
    """Every SA's window top as XFRM holds it (a dump of its SAs, read for
    their anti-replay state), after a batch whose mutated packets ahead of
    the window may have moved it. Returns {spi: top}."""
    sock.send(struct.pack("=IHHII", 16 + USERSA_INFO_LEN, XFRM_MSG_GETSA,
                          NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + bytes(USERSA_INFO_LEN))
    tops = {}
    while True:
        buf = sock.recv(1 << 20)
        at = 0
        while at < len(buf):
            length, kind = struct.unpack_from("=IH", buf, at)
            if kind == NLMSG_DONE:
                for sa in sas:
                    sa.top = sa.hi = tops[sa.spi]
                return tops
            if kind != XFRM_MSG_NEWSA:
                raise OSError(f"xfrm dump: message type {kind}")
            body = buf[at + 16:at + length]
            spi = struct.unpack_from("!I", body, USERSA_SPI_AT)[0]
            a = USERSA_INFO_LEN
            while a + 4 <= len(body):
                alen, atype = struct.unpack_from("=HH", body, a)
                if atype == XFRMA_REPLAY_VAL:
                    tops[spi] = struct.unpack_from("=I", body, a + 8)[0]
                elif atype == XFRMA_REPLAY_ESN_VAL:
                    seq, _, seq_hi = struct.unpack_from("=III", body, a + 12)
                    tops[spi] = seq_hi << 32 | seq
                a += (alen + 3) & ~3
            at += (length + 3) & ~3


def windows_differ(a, tops):
    """Where the module's window top (`ipsec-rs show sas --json`) in the
    module's receivers differs from XFRM's: a packet one side accepted and
    the other refused, even if neither delivered it (None if none)."""
    if not a.tool:
        return None
    for ns in (a.module, a.wide):
        out = subprocess.run(["ip", "netns", "exec", ns, a.tool, "show", "sas", "--json"],
                             check=True, capture_output=True, text=True).stdout
        for sa in json.loads(out):
            top = sa.get("top_seq")
            if sa["spi"] in tops and top is not None and top != tops[sa["spi"]]:
                return (f"the window of SA {sa['spi']:#x}: top {top:#x} in {ns} (the module), "
                        f"{tops[sa['spi']]:#x} in {a.xfrm} (XFRM)")
    return None


def tag_of(key):
    """The input packet's index a delivered datagram (a key of `seen`) names."""
    return int(key[2].split(b";")[0].split()[2])


def settle(rxs, rule_of, must, first):
    """The oracle, after a batch whose first packet is `first`: what every
    receiver delivered is matched across them, what only the rules let one
    side deliver is taken out, and what is left of an earlier batch (one
    batch of lateness is allowed: decapsulated packets re-enter the stack
    through more than one queue, whose order relative to the fence's is not
    an outcome) is a disagreement. None, or what broke the rules."""
    m, w, x = rxs
    if not all(r.fenced for r in rxs):
        return "a fence was not seen"
    for r in rxs:
        r.pending += r.seen
    common = m.pending & w.pending & x.pending
    for r in rxs:
        r.pending -= common
    # XFRM alone may deliver a "pad" packet, the wide receiver alone a
    # "band" one (the rules above).
    for only, others, rules in ((x, (m, w), ("pad",)), (w, (m, x), ("band", "band!"))):
        for k in list(only.pending):
            if rule_of.get(tag_of(k)) in rules and not any(k in o.pending for o in others):
                del only.pending[k]
    for k in w.seen:
        must.discard(tag_of(k))
    lost = sorted(t for t in must if t < first)
    if lost:
        return f"{w.ns} did not deliver valid packets of its window's band: {lost}"
    for r in rxs:
        late = sorted(tag_of(k) for k in r.pending if tag_of(k) < first)
        if late:
            return f"packets delivered by {r.ns} and not by every other as the rules say: {late}"
    return None


def report(a, b, batches, why, rxs):
    """A disagreement: the seed, the batch, what each receiver delivered
    that is not matched, and the input packets of this batch and the one
    before (their hex, to be replayed as a regression case)."""
    print(f"# DISAGREEMENT seed={a.seed} batch={b // a.batch}: {why}")
    for r in rxs:
        print(f"# fence seen by {r.ns}: {r.fenced}")
        for (src, tos, data), n in r.pending.items():
            print(f"# unmatched in {r.ns} x{n}: packet {tag_of((src, tos, data))} from {src} "
                  f"tos {tos.hex()}: {data.hex()}")
    for i, name, seq, done, rule, cuts, pkt in batches:
        path = "veth" if cuts is None else f"tap cuts {cuts}"
        print(f"# in {i} {name} seq={seq:#x} {'+'.join(done) or 'valid'} "
              f"rule={rule} {path}: {pkt.hex()}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--shapes", default=",".join(list(SHAPES) + list(UDP_SHAPES)),
                    help="shape names, separated by , or /")
    ap.add_argument("--sas", type=int, default=2, help="SAs of each shape")
    ap.add_argument("--sender", default="g")
    ap.add_argument("--module", default="m")
    ap.add_argument("--wide", default="w")
    ap.add_argument("--xfrm", default="x")
    ap.add_argument("--rx-dev", default="rg")
    ap.add_argument("--mutate", type=float, default=0.7)
    ap.add_argument("--tap", type=float, default=0.25,
                    help="share of packets sent through the taps (page fragments, GRO)")
    ap.add_argument("--frag", type=float, default=0.05,
                    help="share of packets sent as outer IP fragments (reassembled first)")
    ap.add_argument("--tool", help="ipsec-rs, to compare the module's windows with XFRM's")
    ap.add_argument("--setup", action="store_true")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    if a.list:
        for n, s in list(SHAPES.items()) + list(UDP_SHAPES.items()):
            print(n, *s, "udp" if n in UDP_SHAPES else "")
        return 0
    rng = random.Random(a.seed)
    names = a.shapes.replace("/", ",").split(",")
    for n in names:
        if n not in SHAPES and n not in UDP_SHAPES:
            sys.exit(f"esp_fuzz.py: no shape {n} (--list)")
    sas = [Sa(n, 0x1000 + 0x100 * i + j, rng) for i, n in enumerate(names) for j in range(a.sas)]
    fence = Sa("gcm128", FENCE_SPI, rng)
    fence.window = 32
    if a.setup:
        setup(a, sas, fence)
    rxs = [Receiver(a, ns) for ns in (a.module, a.wide, a.xfrm)]
    xsock = xfrm_socket(a.xfrm)
    sent = mutated = delivered = tapped = fragmented = 0
    by_shape = {r.ns: Counter() for r in rxs}
    rules = Counter()
    rule_of, must = {}, set()
    shape_of, batch = {}, []
    pending = warm_up(sas)
    t0 = time.monotonic()
    i = 0
    # One batch more, empty: what the last one delivered late is judged.
    for b in range(0, a.count + a.batch, a.batch):
        prev, batch = batch, []
        while len(batch) < a.batch and i < a.count:
            sa, seq = pending.pop(0) if pending else (rng.choice(sas), None)
            pkt, seq, done, rule = build(a, rng, i, sa, seq)
            shape_of[i] = sa.name
            if rule:
                rules[rule] += 1
                rule_of[i] = rule
                if rule == "band!":
                    must.add(i)
            frames = [pkt]
            if rng.random() < a.frag and header_intact(done):
                frames = ip_fragments(pkt, sa.fam, rng)
            cuts = frag_cuts(len(pkt) + 14, rng) if rng.random() < a.tap else None
            tapped += cuts is not None
            fragmented += len(frames) > 1
            for f in frames:
                fcuts = None if cuts is None else frag_cuts(len(f) + 14, rng)
                for r in rxs:
                    r.send(f, sa.fam, fcuts)
            batch.append((i, sa.name, seq, done + ["ip-fragments"] * (len(frames) > 1),
                          rule, cuts, pkt))
            mutated += bool(done)
            sent += 1
            i += 1
        # The fence: on its own SA, never mutated, through the veths.
        fence_tag = b"fence %d %d;" % (a.seed, b)
        fpt, _ = plaintext(fence, inner_packet(fence, fence_tag, rng), rng, False)
        fence.top += 1
        fpkt, _ = outer_ip(fence, seal(fence, fence.top, fpt, bytes(8)), rng, False)
        deadline = time.monotonic() + 5
        for r in rxs:
            r.send(fpkt, 4, None)
        for r in rxs:
            r.seen = Counter()
            r.fenced = drain(r.socks, r.seen, fence_tag, deadline)
        why = settle(rxs, rule_of, must, b)
        tops = resync(xsock, sas)
        if not why and (b // a.batch % WINDOW_CHECK == 0 or b >= a.count):
            why = windows_differ(a, tops)
            if why:
                # A packet still on its way (see `settle`) may move one: again.
                time.sleep(0.3)
                why = windows_differ(a, resync(xsock, sas))
        if why:
            report(a, b, prev + batch, why, rxs)
            return 1
        for r in rxs:
            for k in r.seen:
                by_shape[r.ns][shape_of.get(tag_of(k), "?")] += 1
        delivered += sum(rxs[0].seen.values())
        if b // a.batch % 256 == 0:
            # Numbers below every window matter no more (the top only grows).
            for sa in sas:
                floor = sa.top - 2 * WIDE_WINDOW
                sa.sent = {q for q in sa.sent if q > floor}
                sa.poisoned = {q for q in sa.poisoned if q > floor}
        # What the next batch may still need of this one's.
        for old in [n for n in shape_of if n < b]:
            shape_of.pop(old)
            rule_of.pop(old, None)
    dt = time.monotonic() - t0
    print(f"sent={sent} batches={(a.count + a.batch - 1) // a.batch} delivered={delivered} "
          f"mutated={mutated} tapped={tapped} fragmented={fragmented} pad_rule={rules['pad']} "
          f"band_rule={rules['band'] + rules['band!']} band_must={rules['band!']} "
          f"rate={sent / dt:.0f}")
    for r in rxs:
        print(f"delivered by shape in {r.ns}: " +
              " ".join(f"{n}={by_shape[r.ns][n]}" for n in names))
    # Every shape must have delivered in every receiver: a shape that only
    # ever fails tests its failures alone.
    if a.count >= 50 * len(sas):
        idle = [f"{r.ns}:{n}" for r in rxs for n in names if not by_shape[r.ns][n]]
        if idle:
            print(f"# no packet of {' '.join(idle)} delivered")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
