#!/usr/bin/env python3
"""A registered Contact used as a pivot (issue 17), against a running Rampart edge, written independently of its
code: bob registers over TCP with a Contact naming another address (--contact-host), closes his connection, and
alice calls him. A listener at the Contact's address records whether the edge connects to it.

  contact_pivot.py --port EDGE_UDP --tcp-port EDGE_TCP --contact-host 127.0.0.9

With --udp-from HOST, bob instead registers over UDP from HOST (a trunk's address, say: a REGISTER a stranger could
forge), and what reaches his socket there is recorded.

Prints one JSON object: the registration's status, the call's final status, and what reached the listener.
Loopback only; every wait is bounded.
"""
import argparse
import json
import os
import socket
import sys
import time

from media_abuse import Party, ack_for, authorization, invite, pick_challenge, status

TIMEOUT = 5.0


def register_over_tcp(edge_host, port, user, password, contact_host, contact_port):
    sock = socket.create_connection((edge_host, port), timeout=TIMEOUT)
    local = sock.getsockname()

    def request(cseq, auth=""):
        return ("REGISTER sip:localhost SIP/2.0\r\nVia: SIP/2.0/TCP %s:%d;branch=z9hG4bK%s\r\nMax-Forwards: 70\r\n"
                "From: <sip:%s@localhost>;tag=r%s\r\nTo: <sip:%s@localhost>\r\nCall-ID: pivot-%s\r\n"
                "CSeq: %d REGISTER\r\nContact: <sip:%s@%s:%d;transport=tcp>\r\nExpires: 300\r\n%s"
                "Content-Length: 0\r\n\r\n") % (local[0], local[1], os.urandom(6).hex(), user, user, user, user, cseq,
                                                user, contact_host, contact_port, auth)

    def response():
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65535)
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data.decode()

    sock.sendall(request(1).encode())
    challenge = response()
    sock.sendall(request(2, authorization(pick_challenge(challenge, False), user, password, "REGISTER",
                                          "sip:localhost", False)).encode())
    final = response()
    sock.close()  # the registration's connection goes: the edge must connect to the Contact itself, if at all
    return status(final)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tcp-port", type=int, required=True)
    parser.add_argument("--contact-host", required=True)
    parser.add_argument("--udp-from", help="bob registers over UDP from this address instead")
    args = parser.parse_args()
    if not args.contact_host.startswith("127.") or not (args.udp_from or "127.").startswith("127."):
        parser.error("loopback only")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.contact_host, 0))
    listener.listen(4)
    listener.settimeout(0.2)
    bob = None
    if args.udp_from:
        bob = Party("bob", "pw-bob", ("127.0.0.1", args.port), host=args.udp_from)
        registered = bob.register()
    else:
        registered = register_over_tcp("127.0.0.1", args.tcp_port, "bob", "pw-bob", args.contact_host,
                                       listener.getsockname()[1])
    time.sleep(0.3)
    alice = Party("alice", "pw-alice", ("127.0.0.1", args.port))
    offer = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 24000 RTP/AVP 0\r\n")
    alice.send(invite(alice, "pivot-call", 1, offer))
    challenge = alice.final()
    alice.send(ack_for(challenge, alice, "sip:bob@localhost", 1))
    alice.send(invite(alice, "pivot-call", 2, offer, authorization(pick_challenge(challenge, True), "alice",
                                                                   "pw-alice", "INVITE", "sip:bob@localhost", True)))
    # The listener answers nothing: a connection to it (and the INVITE on it) is what the edge was aimed at.
    reached, end = [], time.time() + 3.0
    final = None
    while time.time() < end and final is None:
        try:
            connection, _ = listener.accept()
            connection.settimeout(1.0)
            try:
                reached.append(connection.recv(65535).split(b"\r\n", 1)[0].decode(errors="replace"))
            except socket.timeout:
                reached.append("")
            connection.close()
        except socket.timeout:
            pass
        if bob is not None:
            try:
                reached.append(bob.receive(0.05).split("\r\n", 1)[0])
            except socket.timeout:
                pass
        alice.sock.settimeout(0.05)
        try:
            message = alice.receive(0.05)
            if status(message) is not None and status(message) >= 200:
                final = status(message)
        except socket.timeout:
            pass
    print(json.dumps({"registered": registered, "final": final, "reached": reached}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
