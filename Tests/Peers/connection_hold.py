#!/usr/bin/env python3
"""Holding a SIP edge's connection slots (issue 17), written independently of Rampart's code: connections that
open and never finish a TLS handshake, connections that trickle half a request, more connections than one source
may hold, and a connection from a banned address. Reports, for each, how long the edge kept it open.

  connection_hold.py --tls-port P --tcp-port Q --stalls 8 --wait 6 [--source 127.0.0.1] [--banned 127.0.0.5]

Prints one JSON object of seconds-until-closed per connection (null: still open when the wait ended).
Loopback only; every wait is bounded.
"""
import argparse
import json
import select
import socket
import sys
import time


def open_from(source, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.settimeout(2.0)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


def closed_after(sockets, started, wait, pings=()):
    """Seconds from `started` until the peer closed each socket (EOF or reset), or None if still open. The sockets in
    `pings` send a keep-alive (CRLFCRLF) every half second meanwhile, and their pong answers are read past."""
    closed = [None] * len(sockets)
    end = started + wait
    next_ping = time.time() + 0.5
    while time.time() < end and None in closed:
        if time.time() >= next_ping:
            for sock in pings:
                if closed[sockets.index(sock)] is None:
                    try:
                        sock.send(b"\r\n\r\n")
                    except OSError:
                        pass
            next_ping = time.time() + 0.5
        live = [s for i, s in enumerate(sockets) if closed[i] is None]
        readable, _, _ = select.select(live, [], [], 0.05)
        for sock in readable:
            index = sockets.index(sock)
            try:
                data = sock.recv(65535)
            except (ConnectionResetError, OSError):
                data = b""
            if not data:
                closed[index] = round(time.time() - started, 2)  # a pong (CRLF) is data: only EOF counts
    for sock in sockets:
        sock.close()
    return closed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tls-port", type=int, required=True)
    parser.add_argument("--tcp-port", type=int, required=True)
    parser.add_argument("--stalls", type=int, default=8)
    parser.add_argument("--wait", type=float, default=6.0)
    parser.add_argument("--source", default="127.0.0.1")
    parser.add_argument("--banned")
    args = parser.parse_args()
    for host in [args.source, args.banned or "127.0.0.1"]:
        if not host.startswith("127."):
            parser.error("loopback only")
    result = {}
    started = time.time()
    # One connection to the TCP port that sends half a request and then nothing (first: it gets a slot).
    trickle = open_from(args.source, args.tcp_port)
    trickle.send(b"OPTIONS sip:localhost SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKtrickle\r\n")
    time.sleep(0.2)
    # One that sends only RFC 5626 keep-alives (CRLFCRLF), never a message: it must not hold its slot either.
    pinger = open_from(args.source, args.tcp_port)
    pinger.send(b"\r\n\r\n")
    time.sleep(0.2)
    # Connections to the TLS port that never send a byte: no ClientHello, the handshake never completes.
    stalled = [open_from(args.source, args.tls_port) for _ in range(args.stalls)]
    banned = [open_from(args.banned, args.tcp_port)] if args.banned else []
    closed = closed_after(stalled + [trickle, pinger] + banned, started, args.wait, pings=[pinger])
    result["stalled_tls"] = closed[:args.stalls]
    result["trickle_tcp"] = closed[args.stalls]
    result["keepalive_tcp"] = closed[args.stalls + 1]
    if banned:
        result["banned"] = closed[-1]
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
