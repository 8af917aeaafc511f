#!/usr/bin/env python3
"""An attacker against Rampart's TURN server over UDP, on loopback: unauthenticated Allocates (the answer must
never exceed what was sent), relaying without an allocation, hostile STUN and ChannelData; then a plain Binding
to show the server still answers. Prints one JSON object.

    turn_attacker.py HOST PORT
"""
import json
import os
import socket
import struct
import sys
import time

COOKIE = 0x2112A442


def attr(kind, value):
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * ((4 - len(value) % 4) % 4)


def message(kind, attrs=b"", tid=None, length=None):
    tid = tid or os.urandom(12)
    return struct.pack("!HHI", kind, len(attrs) if length is None else length, COOKIE) + tid + attrs


def parse(data):
    if len(data) < 20:
        return None
    kind, length, cookie = struct.unpack("!HHI", data[:8])
    out = {"type": kind, "attrs": {}}
    offset = 20
    while offset + 4 <= 20 + length:
        a, alen = struct.unpack("!HH", data[offset:offset + 4])
        out["attrs"].setdefault(a, data[offset + 4:offset + 4 + alen])
        offset += 4 + alen + (4 - alen % 4) % 4
    return out


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    server = (host, port)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(0.3)
    peer_addr = peer.getsockname()
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.settimeout(0.7)
    result = {}

    # 1. A flood of small unauthenticated Allocates from one address, as a reflection attack would send them: 401s
    # with REALM and NONCE, no more bytes back than were sent beyond a few answers.
    allocate = message(0x0003, attr(0x0019, b"\x11\0\0\0"))
    sent = received = 0
    challenges = []
    for _ in range(40):
        client.sendto(allocate, server)
        sent += len(allocate)
    try:
        while True:
            data, _ = client.recvfrom(4096)
            received += len(data)
            reply = parse(data)
            code = reply["attrs"].get(0x0009, b"\0\0\0\0")
            challenges.append({"type": reply["type"], "code": code[2] * 100 + code[3], "size": len(data),
                               "realm": 0x0014 in reply["attrs"], "nonce": 0x0015 in reply["attrs"],
                               "integrity": 0x0008 in reply["attrs"]})
    except socket.timeout:
        pass
    result["allocate"] = {"sent": sent, "count": 40, "received": received, "challenges": challenges}

    # 2. Relaying without an allocation: a Send indication and ChannelData to our own peer socket.
    xor_peer = attr(0x0012, struct.pack("!BBH", 0, 1, peer_addr[1] ^ (COOKIE >> 16))
                    + struct.pack("!I", struct.unpack("!I", socket.inet_aton(peer_addr[0]))[0] ^ COOKIE))
    client.sendto(message(0x0016, xor_peer + attr(0x0013, b"smuggled")), server)
    client.sendto(struct.pack("!HH", 0x4000, 8) + b"smuggled", server)
    leaked = 0
    try:
        while True:
            peer.recvfrom(4096)
            leaked += 1
    except socket.timeout:
        pass
    result["relayed_without_allocation"] = leaked

    # 3. Hostile bytes: truncated, lengths past the end, an attribute flood, integrity out of place, an unknown
    # comprehension-required attribute, oversized ChannelData, a channel out of range.
    hostile = [
        message(0x0001)[:10],
        message(0x0001, attr(0x0006, b"user"), length=400),
        message(0x0001, struct.pack("!HH", 0x0006, 8) + b"xxxx"),
        message(0x0001, b"".join(attr(0x8022, b"") for _ in range(200))),
        message(0x0003, attr(0x0008, b"\0" * 20) + attr(0x8028, b"\0" * 4) + attr(0x0006, b"user")),
        message(0x0003, attr(0x8028, b"\0" * 4) + attr(0x0008, b"\0" * 20)),
        struct.pack("!HH", 0x4001, 65535) + b"z" * 100,
        struct.pack("!HH", 0x8000, 4) + b"zzzz",
        b"\xff" * 1400,
    ]
    for data in hostile:
        client.sendto(data, server)
    unknown = message(0x0001, attr(0x7FF0, b"\0\0\0\0"))
    client.sendto(unknown, server)
    answers = []
    try:
        while True:
            data, _ = client.recvfrom(4096)
            reply = parse(data)
            code = reply["attrs"].get(0x0009, b"\0\0\0\0") if reply else b"\0\0\0\0"
            answers.append({"type": reply["type"] if reply else None, "code": code[2] * 100 + code[3],
                            "unknown": reply["attrs"].get(0x000A, b"").hex() if reply else ""})
    except socket.timeout:
        pass
    result["hostile_answers"] = answers

    # 4. Still alive: a Binding request from a fresh socket (credit spent or not, its retransmission is answered).
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    probe.settimeout(0.5)
    binding = message(0x0001, attr(0x8022, b"probe"))
    mapped = None
    for _ in range(4):
        probe.sendto(binding, server)
        try:
            data, _ = probe.recvfrom(4096)
            reply = parse(data)
            value = reply["attrs"].get(0x0020)
            if value:
                port_x, = struct.unpack("!H", value[2:4])
                mapped = port_x ^ (COOKIE >> 16)
                break
        except socket.timeout:
            pass
    result["binding_mapped_port"] = mapped
    result["probe_port"] = probe.getsockname()[1]
    print(json.dumps(result))


main()
