#!/usr/bin/env python3
"""One account holding the edge's relay ports with ringing calls (issue 17), written independently of Rampart's
code: carol registers and only ever rings (180, never an answer); alice places several calls to her, each offering
eight media sections; then bob places one ordinary call to her. Reports each call's first answer beyond 100.

  ringing_hold.py --port EDGE --hogs 3

Prints one JSON object: {"alice": [180, 503, ...], "bob": 180}. Loopback only; every wait is bounded.
"""
import argparse
import json
import sys
import time

from media_abuse import Party, ack_for, authorization, invite, pick_challenge, status


def offer(sections):
    lines = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0"]
    for index in range(sections):
        lines.append("m=audio %d RTP/AVP 0" % (24000 + 2 * index))
    return "\r\n".join(lines) + "\r\n"


def ring_everything(carol, seconds):
    """carol answers every INVITE that reaches her within `seconds` with 180 only."""
    end = time.time() + seconds
    while time.time() < end:
        try:
            message = carol.receive(max(0.05, end - time.time()))
        except OSError:
            return
        if message.startswith("INVITE "):
            carol.reply(message, 180, "Ringing")


def call(caller, call_id, sdp, carol):
    """Places one call to carol through the edge's 407; returns the first status above 100 it gets."""
    uri = "sip:carol@localhost"
    request = invite(caller, call_id, 1, sdp).replace("sip:bob@localhost", uri).replace(
        "<sip:alice@localhost>", "<sip:%s@localhost>" % caller.user)
    caller.send(request)
    challenge = caller.final()
    caller.send(ack_for(challenge, caller, uri, 1))
    credentials = authorization(pick_challenge(challenge, True), caller.user, caller.password, "INVITE", uri, True)
    caller.send(invite(caller, call_id, 2, sdp, credentials).replace("sip:bob@localhost", uri).replace(
        "<sip:alice@localhost>", "<sip:%s@localhost>" % caller.user))
    ring_everything(carol, 0.5)
    end = time.time() + 5.0
    while time.time() < end:
        try:
            message = caller.receive(max(0.05, end - time.time()))
        except OSError:
            return None
        code = status(message)
        if code is not None and code > 100:
            return code
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hogs", type=int, default=3)
    parser.add_argument("--sections", type=int, default=8)
    args = parser.parse_args()
    edge = ("127.0.0.1", args.port)
    carol = Party("carol", "pw-carol", edge)
    if carol.register() != 200:
        print(json.dumps({"error": "carol not registered"}))
        return 0
    alice, bob = Party("alice", "pw-alice", edge), Party("bob", "pw-bob", edge)
    hogs = [call(alice, "hog-%d" % index, offer(args.sections), carol) for index in range(args.hogs)]
    ordinary = call(bob, "ordinary", offer(1), carol)
    print(json.dumps({"alice": hogs, "bob": ordinary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
