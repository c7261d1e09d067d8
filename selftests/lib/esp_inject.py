#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Send hand-made ESP packets (test tool of the ipsec_rs selftests).

    esp_inject.py DST --spi N [--seq N] [--count N] [--udp SPORT:DPORT]
                  [--random-spi] [--spoof-net A.B.C.D/LEN] [--payload N]
                  [--raw HEX]

Plain ESP goes through a raw socket (the kernel builds the IP header), or
with --spoof-net through an IP_HDRINCL socket with random source addresses
from that network. --udp sends UDP-encapsulated ESP (RFC 3948) from a UDP
socket; --raw HEX sends those bytes as the UDP payload instead (an IKE
non-ESP marker, a NAT keepalive). Prints the number of packets sent.
"""
import argparse
import ipaddress
import random
import socket
import struct
import sys


def esp(spi, seq, payload):
    return struct.pack("!II", spi, seq) + bytes(payload)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dst")
    ap.add_argument("--spi", type=lambda s: int(s, 0), default=0x1234)
    ap.add_argument("--seq", type=int, default=1)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--udp")
    ap.add_argument("--raw")
    ap.add_argument("--random-spi", action="store_true")
    ap.add_argument("--spoof-net")
    ap.add_argument("--payload", type=int, default=32)
    a = ap.parse_args()

    dst = ipaddress.ip_address(a.dst)
    fam = socket.AF_INET6 if dst.version == 6 else socket.AF_INET
    rnd = random.Random(0x1F5EC)
    body = bytes(range(a.payload % 256)) + bytes(max(0, a.payload - 256))
    sent = 0

    if a.udp or a.raw is not None:
        sport, dport = (int(p) for p in (a.udp or "4500:4500").split(":"))
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", sport))
        for i in range(a.count):
            if a.raw is not None:
                data = bytes.fromhex(a.raw)
            else:
                spi = rnd.randrange(256, 1 << 32) if a.random_spi else a.spi
                data = esp(spi, a.seq + i, body)
            s.sendto(data, (a.dst, dport))
            sent += 1
    elif a.spoof_net:
        net = ipaddress.ip_network(a.spoof_net)
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        d = dst.packed
        base, span = int(net.network_address), net.num_addresses
        for i in range(a.count):
            spi = rnd.randrange(256, 1 << 32) if a.random_spi else a.spi
            src = struct.pack("!I", base + rnd.randrange(span))
            pl = esp(spi, a.seq + i, body)
            # The kernel fills in the checksum, and the ID when it is 0.
            hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(pl), 0, 0, 64, 50, 0, src, d)
            s.sendto(hdr + pl, (a.dst, 0))
            sent += 1
    else:
        s = socket.socket(fam, socket.SOCK_RAW, 50)
        for i in range(a.count):
            spi = rnd.randrange(256, 1 << 32) if a.random_spi else a.spi
            s.sendto(esp(spi, a.seq + i, body), (a.dst, 0))
            sent += 1
    print(sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
