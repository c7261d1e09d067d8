#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Send one raw generic-netlink request to a family, attributes given byte
for byte (so they can be malformed on purpose), and print what the kernel
answered as one JSON line: the error number (0 for success), the extended
ACK's message, and the type and index of the attribute the kernel's
NLMSGERR_ATTR_OFFS points at.

    nl_raw.py [--family ipsec_rs] [--dump] CMD [ATTR ...]

ATTR is TYPE:FORMAT:VALUE with FORMAT one of u8, u16, u32, u64 (host
order), hex (raw bytes) or flag (empty payload); TYPE may carry the
nested flag as 'n' (e.g. n9:u32:1).
"""

import argparse
import json
import socket
import struct
import sys

NETLINK_GENERIC = 16
SOL_NETLINK = 270
NETLINK_EXT_ACK = 11
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLM_F_CAPPED = 0x100
NLM_F_ACK_TLVS = 0x200
NLMSG_ERROR = 2
NLMSG_DONE = 3
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLMSGERR_ATTR_MSG = 1
NLMSGERR_ATTR_OFFS = 2
NLA_F_NESTED = 0x8000
HDR = 16 + 4  # nlmsghdr + genlmsghdr


def attr(kind, payload):
    n = 4 + len(payload)
    return struct.pack("=HH", n, kind) + payload + b"\0" * ((4 - n % 4) % 4)


def attrs_of(buf):
    out, off = [], 0
    while off + 4 <= len(buf):
        n, kind = struct.unpack_from("=HH", buf, off)
        if n < 4:
            break
        out.append((off, kind, buf[off + 4:off + n]))
        off += (n + 3) & ~3
    return out


def message(family, flags, seq, cmd, payload):
    body = struct.pack("=BBH", cmd, 1, 0) + payload
    return struct.pack("=IHHII", 16 + len(body), family, flags, seq, 0) + body


def transact(sock, msg):
    """Sends msg, returns (errno, ext-ack message, ext-ack offset, replies)."""
    sock.send(msg)
    replies = []
    while True:
        data = sock.recv(65536)
        off = 0
        while off + 16 <= len(data):
            n, kind, flags, _, _ = struct.unpack_from("=IHHII", data, off)
            body = data[off + 16:off + n]
            if kind == NLMSG_ERROR:
                err = -struct.unpack_from("=i", body)[0]
                msg_text, bad = None, None
                if flags & NLM_F_ACK_TLVS:
                    inner_len = struct.unpack_from("=I", body, 4)[0]
                    skip = 4 + (16 if flags & NLM_F_CAPPED else inner_len)
                    for _, k, v in attrs_of(body[(skip + 3) & ~3:]):
                        if k == NLMSGERR_ATTR_MSG:
                            msg_text = v.rstrip(b"\0").decode()
                        elif k == NLMSGERR_ATTR_OFFS:
                            bad = struct.unpack("=I", v)[0]
                return err, msg_text, bad, replies
            if kind == NLMSG_DONE:
                return 0, None, None, replies
            replies.append(body)
            off += (n + 3) & ~3


def parse_attr(spec):
    kind, fmt, value = spec.split(":", 2)
    nested = kind.startswith("n")
    kind = int(kind.lstrip("n"), 0) | (NLA_F_NESTED if nested else 0)
    if fmt == "hex":
        payload = bytes.fromhex(value)
    elif fmt == "flag":
        payload = b""
    else:
        payload = struct.pack({"u8": "=B", "u16": "=H", "u32": "=I", "u64": "=Q"}[fmt], int(value, 0))
    return attr(kind, payload)


def request(sock, fam_id, seq, cmd, attrs, dump):
    """One request; its answer as a dict (errno, msg, replies, and where
    the kernel pointed: offset, bad_attr, bad_index)."""
    payload = b"".join(parse_attr(s) for s in attrs)
    flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_DUMP if dump else 0)
    err, msg, bad, replies = transact(sock, message(fam_id, flags, seq, cmd, payload))
    out = {"errno": err, "msg": msg, "replies": len(replies)}
    if bad is not None:
        out["offset"] = bad
        for i, (off, kind, _) in enumerate(attrs_of(payload)):
            if off + HDR == bad:
                out["bad_attr"] = kind & ~NLA_F_NESTED
                out["bad_index"] = i
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", default="ipsec_rs")
    ap.add_argument("--dump", action="store_true")
    ap.add_argument("--batch", action="store_true",
                    help="read requests from stdin, one a line ('[--dump] CMD ATTR...'), "
                         "and print one JSON answer a line, in order (one start for many "
                         "requests: a Python start costs seconds under TCG)")
    ap.add_argument("cmd", type=int, nargs="?")
    ap.add_argument("attrs", nargs="*")
    a = ap.parse_intermixed_args()
    if a.cmd is None and not a.batch:
        ap.error("CMD is required without --batch")
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
    sock.bind((0, 0))
    name = attr(CTRL_ATTR_FAMILY_NAME, a.family.encode() + b"\0")
    err, msg, _, replies = transact(sock, message(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, 1,
                                                  CTRL_CMD_GETFAMILY, name))
    if err or not replies:
        print(json.dumps({"errno": err, "msg": msg, "error": "no such family"}, separators=(",", ":")))
        return 1
    fam = [v for _, k, v in attrs_of(replies[0][4:]) if k == CTRL_ATTR_FAMILY_ID]
    fam_id = struct.unpack("=H", fam[0])[0]
    if not a.batch:
        print(json.dumps(request(sock, fam_id, 2, a.cmd, a.attrs, a.dump), separators=(",", ":")))
        return 0
    seq = 2
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        dump = "--dump" in words
        words = [w for w in words if w != "--dump"]
        out = request(sock, fam_id, seq, int(words[0], 0), words[1:], dump)
        print(json.dumps(out, separators=(",", ":")), flush=True)
        seq += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
