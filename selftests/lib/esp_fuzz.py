#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Differential fuzzer of the inbound ESP path (test tool of the ipsec_rs selftests).

    esp_fuzz.py --seed N --count N [--batch N] [--shapes NAME,...]
                [--sender NS --to-module DEV --to-xfrm DEV]
                [--module NS --xfrm NS --rx-dev DEV] [--setup] [--list]

Two receivers in one guest hold the same SAs with the same keys: namespace
--module (the module's receive path on) and --xfrm (XFRM alone). From
--sender, the same frames go to both, one veth each (AF_PACKET: no policy
of the sender's applies). Each receiver's inner side is a UDP socket per
inner family, on the inner address: every datagram that reaches it is
recorded with its source, its TOS or traffic class (ECN and DSCP as
decapsulation set them) and its payload. After each batch a fence packet
(a valid one on an SA of its own, never mutated) tells that both have
finished with the batch; the two records must then be equal, datagram for
datagram and byte for byte. A difference prints the seed, the batch, the
datagrams only one side received and the hex of every input packet of the
batch, and ends the run with exit 1.

Where the module deliberately differs from XFRM, the rule is written here
(and in Documentation/design.rst), not tolerated silently:

- padding: the module checks that the padding bytes the trailer claims
  are 1, 2, 3, ... (RFC 4303 2.4 lets a receiver check them; esp4/esp6 do
  not) and drops a packet whose padding is not, which XFRM delivers when
  the rest holds: a spoilt padding byte, or a pad length shorter than the
  padding (what it leaves behind the inner packet, IP input trims). Such
  packets are the ones whose delivery by XFRM alone is expected; their
  sequence numbers are taken below the window's top and never used again,
  so that the two windows, which differ by that number afterwards, never
  meet it again.

Input packets start valid, on one of the SA shapes (--list) whose SAs
--setup installs in both receivers: AES-GCM 128 and 256 and AES-CBC with
HMAC-SHA-256, ESN on and off, windows of 32 and 4,096 (XFRM's largest), IPv4 and IPv6
outer and inner, tunnel mode. Most are then mutated, from the seed (the
run is reproducible from it): bit flips anywhere, truncation and
extension, the outer header's fields (lengths, IHL, TOS/traffic class,
fragment bits and offset, protocol, hop limit), IPv6 extension headers,
SPI (0, reserved, another SA's, unknown), sequence numbers around the
window's edges, replays and across 2^32 (ESN), IV and ICV bytes, and,
authenticated so that only the receiver's checks stand between them and
delivery, padding length, padding bytes and next header (59 and unknown
values included).

Prints one line of key=value at the end: sent, batches, delivered (inner
datagrams each receiver received), mutated, rate (packets a second).

UDP-encapsulated shapes (GCM-128; CBC with ESN) add mutations of the UDP
header: ports, checksum, length (zero payload, short), a non-ESP marker,
a NAT keepalive.

A first version (issue 41 is open): not yet here are transport mode, the
65,536 window (XFRM's largest is 4,096; comparing
needs the window rule written in), non-linear skbs and GRO trains, and
coverage.
"""
import argparse
import ctypes
import os
import random
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

# name: (algorithm, key bytes, ESN, window, outer family, inner family)
SHAPES = {
    "gcm128": ("gcm", 20, False, 32, 4, 4),
    "gcm256-esn": ("gcm", 36, True, 4096, 4, 4),
    "gcm128-v6": ("gcm", 20, False, 4096, 6, 6),
    "cbc": ("cbc", 16, False, 32, 4, 4),
    "cbc-esn-v6": ("cbc", 16, True, 4096, 6, 4),
    "gcm128-esn-4in6": ("gcm", 20, True, 32, 6, 4),
}
# UDP-encapsulated (RFC 3948, port 4500 both ways: the receivers need an
# encapsulation socket, which esp_fuzz.sh opens).
UDP_SHAPES = {
    "gcm128-udp": ("gcm", 20, False, 32, 4, 4),
    "cbc-esn-udp": ("cbc", 16, True, 4096, 4, 4),
}
FENCE_SPI = 0x0FE0CE00


class Sa:
    """One SA of a shape, as both receivers hold it, and its sender's state."""

    def __init__(self, name, spi, rng):
        self.name = name
        self.udp = name in UDP_SHAPES
        shape = UDP_SHAPES[name] if self.udp else SHAPES[name]
        self.alg, klen, self.esn, self.window, self.fam, self.ifam = shape
        self.spi = spi
        self.key = bytes(rng.getrandbits(8) for _ in range(klen))
        self.akey = bytes(rng.getrandbits(8) for _ in range(32)) if self.alg == "cbc" else None
        # ESN SAs start near 2^32 so that runs cross it.
        self.top = (1 << 32) - 3000 if self.esn else 0
        # Sequence numbers of packets only XFRM accepts (see the rules).
        self.poisoned = set()

    def xfrm_args(self):
        src, dst = (socket.inet_ntop(socket.AF_INET if self.fam == 4 else socket.AF_INET6, a)
                    for a in OUTER[self.fam])
        args = ["xfrm", "state", "add", "src", src, "dst", dst, "proto", "esp",
                "spi", hex(self.spi), "mode", "tunnel", "replay-window", str(self.window)]
        if self.esn:
            args += ["flag", "esn"]
        if self.udp:
            args += ["encap", "espinudp", "4500", "4500", "0.0.0.0"]
        if self.alg == "gcm":
            args += ["aead", "rfc4106(gcm(aes))", "0x" + self.key.hex(), "128"]
        else:
            args += ["enc", "cbc(aes)", "0x" + self.key.hex(),
                     "auth-trunc", "hmac(sha256)", "0x" + self.akey.hex(), "128"]
        return args


def policy_args(sa):
    """The inbound policy the SA's inner packets need to reach a socket."""
    fam = socket.AF_INET if sa.fam == 4 else socket.AF_INET6
    ifam = socket.AF_INET if sa.ifam == 4 else socket.AF_INET6
    src, dst = (socket.inet_ntop(fam, x) for x in OUTER[sa.fam])
    isrc, idst = socket.inet_ntop(ifam, inner_src(sa)), socket.inet_ntop(ifam, INNER[sa.ifam][1])
    plen = 32 if sa.ifam == 4 else 128
    return ["xfrm", "policy", "add", "src", f"{isrc}/{plen}", "dst", f"{idst}/{plen}",
            "dir", "in", "tmpl", "src", src, "dst", dst, "proto", "esp", "mode", "tunnel"]


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
    src, dst = inner_src(sa), INNER[sa.ifam][1]
    data = tag + bytes(rng.getrandbits(8) for _ in range(rng.choice((0, 1, 7, 33, 200, 900))))
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
    nh = 41 if sa.ifam == 6 else 4
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
            nh = 4 if nh == 41 else 41
        elif what == "nh-transport":
            nh = 17
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
    elif r < 0.95:
        seq = top - rng.randint(0, w)
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
    return struct.pack("!HHHH", sport, dport, length, csum_v) + esp


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


def inner_sockets(ns):
    """The receiver's inner side: a UDP socket per inner family, on the
    inner address and port, reporting TOS / traffic class."""
    socks = []
    with Netns(ns):
        for fam in (4, 6):
            af = socket.AF_INET if fam == 4 else socket.AF_INET6
            u = socket.socket(af, socket.SOCK_DGRAM)
            u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            if fam == 4:
                u.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
            else:
                u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVTCLASS, 1)
            u.bind((socket.inet_ntop(af, INNER[fam][1]), INNER_PORT))
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


def setup(a, sas, fence):
    """The SAs in both receivers, and an inbound policy per pair of
    families (a tunnel-mode packet reaches a socket only through one)."""
    for ns in (a.module, a.xfrm):
        pairs = set()
        for sa in sas + [fence]:
            subprocess.run(["ip", "-n", ns] + sa.xfrm_args(), check=True)
            if (sa.fam, sa.ifam) not in pairs:
                pairs.add((sa.fam, sa.ifam))
                subprocess.run(["ip", "-n", ns] + policy_args(sa), check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--shapes", default=",".join(list(SHAPES) + list(UDP_SHAPES)),
                    help="shape names, separated by , or /")
    ap.add_argument("--sas", type=int, default=2, help="SAs of each shape")
    ap.add_argument("--sender", default="g")
    ap.add_argument("--to-module", default="gm")
    ap.add_argument("--to-xfrm", default="gx")
    ap.add_argument("--module", default="m")
    ap.add_argument("--xfrm", default="x")
    ap.add_argument("--rx-dev", default="rg")
    ap.add_argument("--mutate", type=float, default=0.7)
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
    tx_m, _ = packet_socket(a.sender, a.to_module)
    tx_x, own = packet_socket(a.sender, a.to_xfrm)
    macs = []
    for ns in (a.module, a.xfrm):
        p, mac = packet_socket(ns, a.rx_dev)
        p.close()
        macs.append(mac)
    mac_m, mac_x = macs
    rx_m, rx_x = inner_sockets(a.module), inner_sockets(a.xfrm)
    sent = mutated = delivered = 0
    pad_tags = set()
    t0 = time.monotonic()
    for b in range(0, a.count, a.batch):
        batch = []
        for i in range(b, min(b + a.batch, a.count)):
            sa = rng.choice(sas)
            mutate = rng.random() < a.mutate
            seq = choose_seq(sa, rng)
            tag = b"fz %d %d;" % (a.seed, i)
            weird = mutate and rng.random() < 0.3
            pt, how = plaintext(sa, inner_packet(sa, tag, rng), rng, weird)
            if not padding_ok(pt):
                # The module's padding rule (above): a number below the
                # top, never used again.
                seq = max(sa.top - rng.randint(1, sa.window - 1), 1)
                if seq in sa.poisoned or not sa.top:
                    seq = sa.top + (1 << 40)  # never accepted: both drop it
                sa.poisoned.add(seq)
                pad_tags.add(tag)
            iv = bytes(rng.getrandbits(8) for _ in range(8 if sa.alg == "gcm" else 16))
            esp = seal(sa, seq, pt, iv)
            done = []
            if sa.udp:
                esp = encapsulate(sa, esp, rng, mutate, done)
            pkt, more = outer_ip(sa, esp, rng, mutate)
            done += more
            if how:
                done.append("trailer-" + how)
            if mutate and rng.random() < 0.6:
                hl = len(pkt) - len(esp)
                pkt, more = spoil(pkt, rng, hl, len(esp))
                done += more
            mutated += bool(done)
            if not done:
                # A valid packet ahead of the window moves both receivers'.
                sa.top = max(sa.top, seq)
            batch.append((i, sa.name, seq, done, pkt))
            et = struct.pack("!H", 0x0800 if sa.fam == 4 else 0x86DD)
            tx_m.send(mac_m + own + et + pkt)
            tx_x.send(mac_x + own + et + pkt)
            sent += 1
        # The fence: on its own SA, never mutated.
        fence_tag = b"fence %d %d;" % (a.seed, b)
        fpt, _ = plaintext(fence, inner_packet(fence, fence_tag, rng), rng, False)
        fence.top += 1
        fpkt, _ = outer_ip(fence, seal(fence, fence.top, fpt, bytes(8)), rng, False)
        et = struct.pack("!H", 0x0800)
        tx_m.send(mac_m + own + et + fpkt)
        tx_x.send(mac_x + own + et + fpkt)
        seen_m, seen_x = Counter(), Counter()
        expected = pad_tags
        deadline = time.monotonic() + 5
        ok_m = drain(rx_m, seen_m, fence_tag, deadline)
        ok_x = drain(rx_x, seen_x, fence_tag, deadline)
        xfrm_only = seen_x - seen_m
        # XFRM alone delivers packets with spoilt padding (the rule above).
        allowed = all(any(t in k[2] for t in expected) for k in xfrm_only)
        if not (ok_m and ok_x) or seen_m - seen_x or not allowed:
            print(f"# DISAGREEMENT seed={a.seed} batch={b // a.batch} (packets {b}..{b + len(batch) - 1})")
            print(f"# fence seen: module {ok_m}, xfrm {ok_x}")
            for side, only in (("module only", seen_m - seen_x), ("xfrm only", seen_x - seen_m)):
                for (src, tos, data), n in only.items():
                    print(f"# {side} x{n}: from {src} tos {tos.hex()}: {data.hex()}")
            for i, name, seq, done, pkt in batch:
                print(f"# in {i} {name} seq={seq:#x} {'+'.join(done) or 'valid'}: {pkt.hex()}")
            return 1
        delivered += sum(seen_m.values())
        pad_tags.clear()
    dt = time.monotonic() - t0
    print(f"sent={sent} batches={(a.count + a.batch - 1) // a.batch} delivered={delivered} "
          f"mutated={mutated} rate={sent / dt:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
