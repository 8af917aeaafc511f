#!/usr/bin/env python3
"""Hostile framings sent to a running Rampart edge over UDP (issue 17), written independently of its code: an
OPTIONS with 34 Vias (valid, RFC 4475 §3.1.1.7), one of 6 KB, one with Transfer-Encoding: chunked, and one with a
backslash before a control octet outside any quoted string. Prints one JSON object: each case's answered status (null: none).

  raw_requests.py --port EDGE
"""
import argparse
import json
import os
import socket
import sys


def options(extra_headers, vias=1):
    branch = os.urandom(6).hex()
    lines = ["OPTIONS sip:localhost SIP/2.0"]
    lines += ["Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s%d" % (PORT, branch, index) for index in range(vias)]
    lines += ["Max-Forwards: 70", "From: <sip:probe@localhost>;tag=%s" % branch, "To: <sip:localhost>",
              "Call-ID: raw-%s" % branch, "CSeq: 1 OPTIONS"] + extra_headers + ["Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def main():
    global PORT
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    PORT = sock.getsockname()[1]
    sock.settimeout(3.0)
    cases = {
        "thirty_four_vias": options([], vias=34),
        "transfer_encoding": options(["Transfer-Encoding: chunked"]),
        "bare_backslash_control": options(["Subject: hello\\\x01world"]),
        # Larger than the 2 KiB a datagram socket reads by default: still one valid request (RFC 3261 §18.1.1).
        "six_kilobytes": options(["Subject: " + "x" * 6000]),
    }
    result = {}
    for name, datagram in cases.items():
        sock.sendto(datagram, ("127.0.0.1", args.port))
        try:
            answer = sock.recvfrom(65535)[0].decode(errors="replace")
            result[name] = int(answer.split(" ", 2)[1])
        except socket.timeout:
            result[name] = None
    print(json.dumps(result))
    return 0


PORT = 0

if __name__ == "__main__":
    sys.exit(main())
