#!/usr/bin/env python3
"""Retransmissions are not replays (issue 17): several accounts on one source (phones behind one NAT on a lossy
link, or sipp against an edge that fell behind) each send an authenticated INVITE over UDP several times, as RFC 3261
Timer A does when no answer came, before and after the edge answers it. Written independently of Rampart's code.

  retransmissions.py --port EDGE --accounts a1:pw1,a2:pw2,... --callee USER [--copies 4] [--late-copies 2]

Prints one JSON object: per account the statuses of every answer received, then whether the source can still
register (a banned source gets nothing). Loopback only; every wait is bounded.
"""
import argparse
import json
import sys
import time

from media_abuse import Party, ack_for, authorization, invite, pick_challenge, status


def answers(party, seconds):
    """The statuses of every response that reaches `party` within `seconds`."""
    got, end = [], time.time() + seconds
    while time.time() < end:
        try:
            message = party.receive(max(0.05, end - time.time()))
        except OSError:
            break
        if status(message) is not None:
            got.append(status(message))
    return got


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--accounts", required=True)
    parser.add_argument("--callee", required=True)
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--late-copies", type=int, default=2)
    args = parser.parse_args()
    edge = ("127.0.0.1", args.port)
    offer = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 24000 RTP/SAVP 0\r\n"
             "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e\r\n")
    uri = "sip:%s@localhost" % args.callee
    results = {}
    # One socket for every account: the same source address and port, as phones behind one NAT binding.
    accounts = [entry.split(":", 1) for entry in args.accounts.split(",")]
    shared = Party(accounts[0][0], accounts[0][1], edge)
    for user, password in accounts:
        shared.user, shared.password, shared.tag = user, password, "t-" + user
        call_id = "retransmitted-%s" % user
        request = invite(shared, call_id, 1, offer).replace("sip:bob@localhost", uri).replace(
            "<sip:alice@localhost>", "<sip:%s@localhost>" % user)
        shared.send(request)
        challenge = shared.final()
        if challenge is None:  # dropped: the source is banned
            results[user] = {"challenged": False}
            continue
        shared.send(ack_for(challenge, shared, uri, 1))
        credentials = authorization(pick_challenge(challenge, True), user, password, "INVITE", uri, True)
        authenticated = invite(shared, call_id, 2, offer, credentials).replace("sip:bob@localhost", uri).replace(
            "<sip:alice@localhost>", "<sip:%s@localhost>" % user)
        # Timer A's copies, all before any answer could come back: byte for byte the same request.
        for _ in range(args.copies):
            shared.send(authenticated)
        early = answers(shared, 1.0)
        # ...and copies that cross the final answer (it was lost on the way back).
        for _ in range(args.late_copies):
            shared.send(authenticated)
        late = answers(shared, 1.0)
        results[user] = {"challenged": True, "early": early, "late": late}
    # Still welcome: the first account registers from the same source address (a banned source gets nothing).
    later = Party(accounts[0][0], accounts[0][1], edge)
    print(json.dumps({"calls": results, "register_after": later.register()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
