#!/usr/bin/env python3
"""An attacker's use of a running Rampart edge's media relay (issue 17), written from RFC 3261 / RFC 7616 / RFC 3550
independently of Rampart's code. Two accounts over UDP on loopback: bob registers, alice calls him (plain RTP).

  media_abuse.py relay --port EDGE --bob-media-host 127.0.0.2
      bob answers with an SDP naming a socket on --bob-media-host that never sends. alice then writes eleven SIP
      INVITEs and five RTP packets into her relay port; the silent socket records what reaches it. Then the silent
      socket sends one RTP packet to bob's relay port (it latches), and alice one more. Prints what arrived where.
  media_abuse.py offer --port EDGE --media-host H --media-port P
      alice offers media at H:P; prints the INVITE's final status (and whether bob was ever reached).

Prints one JSON object. Loopback only; every wait is bounded.
"""
import argparse
import json
import os
import re
import socket
import sys
import time

from sip_client import digest, header  # the same directory: RFC 7616 digest, header lookup

TIMEOUT = 5.0


def headers(message, *names):
    found = []
    for line in message.split("\r\n")[1:]:
        if not line:
            break
        name, _, value = line.partition(":")
        if name.strip().lower() in names:
            found.append(line)
    return found


def status(message):
    return int(message.split(" ", 2)[1]) if message.startswith("SIP/2.0 ") else None


def body(message):
    return message.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in message else ""


def authorization(challenge_line, user, password, method, uri, proxy):
    params = dict((k.lower(), v.strip('"')) for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', challenge_line))
    algorithm = params.get("algorithm", "MD5").upper()
    cnonce, nc = os.urandom(8).hex(), "00000001"
    ha1 = digest(algorithm, "%s:%s:%s" % (user, params["realm"], password))
    ha2 = digest(algorithm, "%s:%s" % (method, uri))
    response = digest(algorithm, "%s:%s:%s:%s:auth:%s" % (ha1, params["nonce"], nc, cnonce, ha2))
    return ('%s: Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", algorithm=%s, '
            'cnonce="%s", qop=auth, nc=%s\r\n') % ("Proxy-Authorization" if proxy else "Authorization", user,
                                                   params["realm"], params["nonce"], uri, response, algorithm, cnonce,
                                                   nc)


def pick_challenge(message, proxy):
    name = "proxy-authenticate" if proxy else "www-authenticate"
    challenges = [line.split(":", 1)[1] for line in headers(message, name)]
    return next((c for c in challenges if "SHA-256" in c), challenges[0])


class Party:
    def __init__(self, user, password, edge, host="127.0.0.1"):
        self.user, self.password, self.edge = user, password, edge
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.host = host
        self.sock.settimeout(TIMEOUT)
        self.port = self.sock.getsockname()[1]
        self.tag = os.urandom(4).hex()

    def send(self, text, to=None):
        self.sock.sendto(text.encode(), to or self.edge)

    def receive(self, deadline=TIMEOUT):
        self.sock.settimeout(deadline)
        data, _ = self.sock.recvfrom(65535)
        return data.decode(errors="replace")

    def via(self):
        return "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport\r\n" % (self.host, self.port, os.urandom(6).hex())

    def final(self, deadline=TIMEOUT):
        """The next final response (provisional ones skipped); None if none came in time."""
        end = time.time() + deadline
        while time.time() < end:
            try:
                message = self.receive(max(0.05, end - time.time()))
            except socket.timeout:
                return None
            code = status(message)
            if code is not None and code >= 200:
                return message
        return None

    def register(self):
        def request(cseq, auth=""):
            return ("REGISTER sip:localhost SIP/2.0\r\n%sMax-Forwards: 70\r\nFrom: <sip:%s@localhost>;tag=%s\r\n"
                    "To: <sip:%s@localhost>\r\nCall-ID: reg-%s\r\nCSeq: %d REGISTER\r\n"
                    "Contact: <sip:%s@127.0.0.1:%d>\r\nExpires: 300\r\n%sContent-Length: 0\r\n\r\n") % (
                        self.via(), self.user, self.tag, self.user, self.tag, cseq, self.user, self.port, auth)
        self.send(request(1))
        challenge = self.final()
        self.send(request(2, authorization(pick_challenge(challenge, False), self.user, self.password, "REGISTER",
                                           "sip:localhost", False)))
        return status(self.final())

    def reply(self, request, code, reason, extra="", sdp=""):
        self.send(response(request, code, reason, self.tag, "sip:%s@127.0.0.1:%d" % (self.user, self.port), extra, sdp))


def response(request, code, reason, tag, contact, extra="", sdp=""):
    """A UAS's response to `request` (RFC 3261 §8.2.6): its Via, From, Call-ID and CSeq, its To with our `tag`."""
    lines = ["SIP/2.0 %d %s" % (code, reason)]
    lines += headers(request, "via", "v", "from", "f", "call-id", "i", "cseq")
    to = headers(request, "to", "t")[0]
    lines.append(to if ";tag=" in to else to + ";tag=" + tag)
    lines.append("Contact: <%s>" % contact)
    return "\r\n".join(lines) + "\r\n" + extra + "Content-Length: %d\r\n\r\n%s" % (len(sdp.encode()), sdp)


# What alice's SDP says about her that bob must never learn through the edge (topology hiding of the body).
ALICE_NAMES = ["alice-workstation", "4242424242", "Alice's softphone", "SecretPhone 9.1", "alice@10.1.2.3"]


def sdp(host, port, names=False):
    if not names:
        return ("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\n"
                "a=rtpmap:0 PCMU/8000\r\n") % (host, host, port)
    return ("v=0\r\no=alice-workstation 4242424242 1 IN IP4 %s\r\ns=Alice's softphone\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "a=tool:SecretPhone 9.1\r\nm=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=ssrc:1234 cname:alice@10.1.2.3\r\n") % (host, host, port)


def media_address(message):
    text = body(message)
    host = re.search(r"(?m)^c=IN IP4 (\S+)", text).group(1)
    port = int(re.search(r"(?m)^m=audio (\d+)", text).group(1))
    return host, port


def rtp(sequence, ssrc):
    return bytes([0x80, 0x00, sequence >> 8, sequence & 0xFF, 0, 0, 0, sequence, ssrc >> 24, (ssrc >> 16) & 0xFF,
                  (ssrc >> 8) & 0xFF, ssrc & 0xFF]) + bytes(160)


def invite(alice, call_id, cseq, offer, auth="", content_type="application/sdp"):
    return ("INVITE sip:bob@localhost SIP/2.0\r\n%sMax-Forwards: 70\r\nFrom: <sip:alice@localhost>;tag=%s\r\n"
            "To: <sip:bob@localhost>\r\nCall-ID: %s\r\nCSeq: %d INVITE\r\nContact: <sip:alice@127.0.0.1:%d>\r\n"
            "Content-Type: %s\r\n%sContent-Length: %d\r\n\r\n%s") % (
                alice.via(), alice.tag, call_id, cseq, alice.port, content_type, auth, len(offer.encode()), offer)


def ack_for(message, alice, request_uri, cseq):
    """An ACK for a final response (RFC 3261 §17.1.1.3 for a failure, §13.2.2.4 for a 2xx: same shape here)."""
    return ("ACK %s SIP/2.0\r\n%sMax-Forwards: 70\r\n%s\r\n%s\r\nCall-ID: %s\r\nCSeq: %d ACK\r\n"
            "Content-Length: 0\r\n\r\n") % (request_uri, alice.via(), headers(message, "from", "f")[0],
                                            headers(message, "to", "t")[0], header(message, "call-id", "i"), cseq)


def place_call(alice, offer, content_type="application/sdp"):
    """alice's INVITE through the edge's 407 (the authenticated one sent; its answers are the caller's to read)."""
    call_id = "abuse-" + os.urandom(6).hex()
    alice.send(invite(alice, call_id, 1, offer, content_type=content_type))
    challenge = alice.final()
    alice.send(ack_for(challenge, alice, "sip:bob@localhost", 1))
    alice.send(invite(alice, call_id, 2, offer, authorization(pick_challenge(challenge, True), "alice",
                                                              alice.password, "INVITE", "sip:bob@localhost", True),
                      content_type))
    return call_id


def drain(sock, seconds):
    """Every datagram that reaches `sock` within `seconds`."""
    got, end = [], time.time() + seconds
    while time.time() < end:
        sock.settimeout(max(0.01, end - time.time()))
        try:
            got.append(sock.recvfrom(65535)[0])
        except socket.timeout:
            break
    return got


def describe(datagrams):
    return [{"sip": d.startswith(b"INVITE "), "rtp": len(d) >= 12 and d[0] >> 6 == 2, "length": len(d)}
            for d in datagrams]


def run_relay(args, alice, bob):
    alice_media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    alice_media.bind(("127.0.0.1", 0))
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind((args.bob_media_host, 0))
    place_call(alice, sdp("127.0.0.1", alice_media.getsockname()[1], names=True))
    incoming = None
    end = time.time() + TIMEOUT
    while time.time() < end:
        message = bob.receive()
        if message.startswith("INVITE "):
            incoming = message
            break
    if incoming is None:
        return {"error": "bob got no INVITE"}
    bob_relay = media_address(incoming)
    bob.reply(incoming, 200, "OK", "Content-Type: application/sdp\r\n", sdp(*silent.getsockname()))
    answer = alice.final()
    if status(answer) != 200:
        return {"error": "call not answered", "status": status(answer)}
    contact = re.search(r"<([^>]+)>", header(answer, "contact", "m")).group(1)
    alice.send(ack_for(answer, alice, contact, 2))
    alice_relay = media_address(answer)

    for _ in range(11):
        alice_media.sendto(invite(alice, "smuggled", 1, "").encode(), alice_relay)
    for sequence in range(5):
        alice_media.sendto(rtp(sequence, 0xA11CE), alice_relay)
    before = drain(silent, 1.0)
    # The address bob's SDP named speaks: it latches, and from then on it hears alice's media (only media).
    silent.sendto(rtp(1, 0xB0B), bob_relay)
    heard = drain(alice_media, 1.0)
    alice_media.sendto(invite(alice, "smuggled", 1, "").encode(), alice_relay)
    alice_media.sendto(rtp(5, 0xA11CE), alice_relay)
    after = drain(silent, 1.0)

    alice.send(("BYE %s SIP/2.0\r\n%sMax-Forwards: 70\r\n%s\r\n%s\r\nCall-ID: %s\r\nCSeq: 3 BYE\r\n"
                "Content-Length: 0\r\n\r\n") % (contact, alice.via(), headers(answer, "from", "f")[0],
                                                headers(answer, "to", "t")[0], header(answer, "call-id", "i")))
    end = time.time() + TIMEOUT
    while time.time() < end:
        message = bob.receive()
        if message.startswith("BYE "):
            bob.reply(message, 200, "OK")
            break
    bye = alice.final()
    return {"answered": True, "leaked": [name for name in ALICE_NAMES if name in body(incoming)],
            "bob_sdp_lines": len(body(incoming).splitlines()), "before_latch": describe(before), "alice_heard": describe(heard),
            "after_latch": describe(after), "bye": status(bye) if bye else None}


def multipart(body, depth=1):
    """The SDP inside a multipart/mixed body (RFC 5621), as some clients send it: the policy must see it or refuse.
    With depth > 1 each part is itself multipart, `depth` levels down (a parser that recurses must bound it)."""
    content_type = "application/sdp"
    for level in range(depth, 0, -1):
        boundary = "rampart-boundary" if level == 1 else "rampart-boundary-%d" % level
        body = "--%s\r\nContent-Type: %s\r\n\r\n%s\r\n--%s--\r\n" % (boundary, content_type, body, boundary)
        content_type = "multipart/mixed;boundary=" + boundary
    return body


def run_offer(args, alice, bob):
    offer = sdp(args.media_host, args.media_port)
    if args.multipart:
        place_call(alice, multipart(offer, args.multipart_depth), "multipart/mixed;boundary=rampart-boundary")
    else:
        place_call(alice, offer)
    final = alice.final()
    code = status(final) if final else None
    if final:
        alice.send(ack_for(final, alice, "sip:bob@localhost", 2))
    reached = [m for m in drain(bob.sock, 0.3) if m.startswith(b"INVITE ")]
    return {"status": code, "bob_reached": bool(reached)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["relay", "offer"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--alice-password", default="pw-alice")
    parser.add_argument("--bob-password", default="pw-bob")
    parser.add_argument("--bob-media-host", default="127.0.0.2")
    parser.add_argument("--media-host")
    parser.add_argument("--media-port", type=int)
    parser.add_argument("--multipart", action="store_true", help="offer: the SDP inside multipart/mixed")
    parser.add_argument("--multipart-depth", type=int, default=1, help="offer: multipart nested this deep")
    parser.add_argument("--alice-host", default="127.0.0.1", help="the loopback address alice signals from")
    args = parser.parse_args()
    for host in [args.bob_media_host, args.media_host or "127.0.0.1", args.alice_host]:
        if not host.startswith("127."):
            parser.error("loopback only")
    edge = ("127.0.0.1", args.port)
    alice = Party("alice", args.alice_password, edge, host=args.alice_host)
    bob = Party("bob", args.bob_password, edge)
    registered = bob.register()
    if registered != 200:
        print(json.dumps({"error": "bob not registered", "status": registered}))
        return 0
    result = run_relay(args, alice, bob) if args.mode == "relay" else run_offer(args, alice, bob)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
