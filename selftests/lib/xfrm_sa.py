#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Adds one ESP SA with an AEAD through XFRM netlink (XFRM_MSG_NEWSA), for
modes the host's `ip xfrm` does not know (Debian 12's iproute2 6.1 has no
`mode iptfs`). Run inside the namespace (`ip netns exec`).

    xfrm_sa.py --src A --dst B --spi 0x7000 --mode iptfs \
        --aead 'rfc4106(gcm(aes))' --key 0x... --icv 128 [--replay-window 32] [--dir in]

Exit 0 when the kernel acked; otherwise the errno's name on stderr and exit
2 (EPROTONOSUPPORT, for example, when the kernel lacks the mode).
"""
import argparse
import errno
import ipaddress
import os
import socket
import struct
import sys

NETLINK_XFRM = 6
XFRM_MSG_NEWSA = 0x10
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR = 2
XFRMA_ALG_AEAD = 18
XFRMA_SA_DIR = 33
SA_DIRS = {"in": 1, "out": 2}
XFRM_INF = (1 << 64) - 1
MODES = {"transport": 0, "tunnel": 1, "beet": 4, "iptfs": 5}


def addr16(a):
    ip = ipaddress.ip_address(a)
    return ip.packed.ljust(16, b"\0"), (socket.AF_INET if ip.version == 4 else socket.AF_INET6)


def usersa_info(src, dst, spi, mode, replay_window):
    s, fam = addr16(src)
    d, _ = addr16(dst)
    # struct xfrm_selector (56): daddr, saddr, dport/mask, sport/mask,
    # family, prefixlen_d, prefixlen_s, proto, pad, ifindex, user.
    sel = d + s + struct.pack("=HHHHHBBB3xiI", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFFFFFFFF)
    # struct xfrm_id (24): daddr, spi (network order), proto.
    xid = d + struct.pack("!I", spi) + struct.pack("=B3x", socket.IPPROTO_ESP)
    lft = struct.pack("=8Q", *([XFRM_INF] * 4 + [0] * 4))  # xfrm_lifetime_cfg
    cur = struct.pack("=4Q", 0, 0, 0, 0)  # xfrm_lifetime_cur
    stats = struct.pack("=3I", 0, 0, 0)  # xfrm_stats
    tail = struct.pack("=IIHBBB7x", 0, 0, fam, mode, replay_window, 0)
    info = sel + xid + s + lft + cur + stats + tail
    assert len(info) == 224, len(info)
    return info


def nla(kind, payload):
    attr = struct.pack("=HH", 4 + len(payload), kind) + payload
    return attr + b"\0" * (-len(attr) % 4)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--spi", required=True, type=lambda v: int(v, 0))
    ap.add_argument("--mode", required=True, choices=sorted(MODES))
    ap.add_argument("--aead", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--icv", type=int, default=128)
    ap.add_argument("--replay-window", type=int, default=32)
    ap.add_argument("--dir", choices=sorted(SA_DIRS), help="the SA's direction (IP-TFS needs one)")
    a = ap.parse_args()
    key = bytes.fromhex(a.key[2:] if a.key.startswith("0x") else a.key)
    aead = struct.pack("=64sII", a.aead.encode(), len(key) * 8, a.icv) + key
    body = usersa_info(a.src, a.dst, a.spi, MODES[a.mode], a.replay_window) + nla(XFRMA_ALG_AEAD, aead)
    if a.dir:
        body += nla(XFRMA_SA_DIR, struct.pack("=B", SA_DIRS[a.dir]))
    flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    msg = struct.pack("=IHHII", 16 + len(body), XFRM_MSG_NEWSA, flags, 1, 0) + body
    sk = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_XFRM)
    sk.bind((0, 0))
    sk.send(msg)
    reply = sk.recv(65536)
    _, kind, _, _, _ = struct.unpack_from("=IHHII", reply)
    if kind != NLMSG_ERROR:
        print("xfrm_sa.py: unexpected reply type %d" % kind, file=sys.stderr)
        return 2
    (err,) = struct.unpack_from("=i", reply, 16)
    if err:
        print("xfrm_sa.py: %s (%s)" % (errno.errorcode.get(-err, -err), os.strerror(-err)), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
