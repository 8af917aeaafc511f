#!/usr/bin/env python3
"""A small SIP client for Rampart's integration tests: REGISTER with digest authentication over UDP, TCP or TLS
(optionally with a client certificate), written from RFC 3261 / RFC 7616 independently of Rampart's code.

Usage:
  sip_client.py register --transport tls --host 127.0.0.1 --port 5061 --user alice --password pw
                [--domain localhost] [--ca ca.crt] [--cert c.crt --key c.key] [--algorithm SHA-256|MD5|MD5-sess]
                [--expires 3600] [--query] [--bind 127.0.0.2] [--user-agent UA] [--answer-call [--ready-file PATH]]
Prints one JSON object: {"challenge_algorithms": [...], "status": 200, "contacts": [...]} or
{"handshake_failed": "reason"}. Exit code 0 when it printed a result (whatever the status), 2 on usage errors.
"""
import argparse
import hashlib
import json
import os
import re
import socket
import ssl
import sys

TIMEOUT = 5.0


def digest(algorithm, text):
    name = {"MD5": "md5", "SHA-256": "sha256"}[algorithm]
    return hashlib.new(name, text.encode()).hexdigest()


def parse_challenges(response):
    challenges = []
    for line in response.split("\r\n"):
        if line.lower().startswith("www-authenticate:"):
            value = line.split(":", 1)[1].strip()
            params = dict((k.lower(), v.strip('"')) for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', value))
            params.setdefault("algorithm", "MD5")
            challenges.append(params)
    return challenges


class Connection:
    def __init__(self, args):
        self.args = args
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        if args.transport == "udp":
            self.sock = socket.socket(family, socket.SOCK_DGRAM)
            self.sock.settimeout(TIMEOUT)
            if args.bind:
                self.sock.bind((args.bind, 0))
            self.sock.connect((args.host, args.port))
        else:
            raw = socket.create_connection((args.host, args.port), timeout=TIMEOUT)
            if args.transport == "tls":
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.minimum_version = ssl.TLSVersion.TLSv1_2
                context.load_verify_locations(args.ca)
                if args.cert:
                    context.load_cert_chain(args.cert, args.key)
                raw = context.wrap_socket(raw, server_hostname=args.domain)
            self.sock = raw
        self.buffer = b""
        self.local = self.sock.getsockname()

    def send(self, text):
        data = text.encode()
        if self.args.transport == "udp":
            self.sock.send(data)
        else:
            self.sock.sendall(data)

    def receive(self):
        """Returns the next final response (1xx are skipped)."""
        while True:
            if self.args.transport == "udp":
                message = self.sock.recv(65535).decode()
            else:
                message = self.read_stream_message()
            status = int(message.split(" ", 2)[1])
            if status >= 200:
                return message

    def receive_any(self):
        """Returns the next message, request or response (stream keep-alives skipped)."""
        if self.args.transport == "udp":
            return self.sock.recv(65535).decode()
        return self.read_stream_message()

    def read_stream_message(self):
        while self.buffer.startswith(b"\r\n"):  # RFC 5626 keep-alives
            self.buffer = self.buffer[2:]
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65535)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buffer += chunk
        head, rest = self.buffer.split(b"\r\n\r\n", 1)
        length = int(re.search(rb"(?im)^(content-length|l)\s*:\s*(\d+)", head).group(2))
        while len(rest) < length:
            chunk = self.sock.recv(65535)
            if not chunk:
                raise ConnectionError("connection closed")
            rest += chunk
        self.buffer = rest[length:]
        return (head + b"\r\n\r\n" + rest[:length]).decode()


def register(args):
    try:
        connection = Connection(args)
    except ssl.SSLError as error:
        return {"handshake_failed": error.reason or str(error)}
    try:
        return run_register(args, connection)
    except ssl.SSLError as error:
        # With TLS 1.3 the server's verdict on a client certificate arrives after the client's handshake ends.
        return {"handshake_failed": error.reason or str(error)}
    except (ConnectionResetError, ConnectionError) as error:
        if args.transport == "tls":
            return {"handshake_failed": str(error) or type(error).__name__}
        raise


def run_register(args, connection):
    host, port = connection.local[0], connection.local[1]
    if ":" in host:
        host = "[%s]" % host  # IPv6 reference (RFC 3261 §25.1)
    uri = "sip:" + args.domain
    call_id = os.urandom(8).hex()
    transport = args.transport.upper()
    contact = "" if args.query else "Contact: <sip:%s@%s:%d;transport=%s>\r\n" % (args.user, host, port, args.transport)
    expires = "" if args.query else "Expires: %d\r\n" % args.expires
    if args.user_agent:
        expires += "User-Agent: %s\r\n" % args.user_agent

    def request(cseq, authorization=""):
        return ("REGISTER %s SIP/2.0\r\n"
                "Via: SIP/2.0/%s %s:%d;branch=z9hG4bK%s;rport\r\n"
                "Max-Forwards: 70\r\n"
                "From: <sip:%s@%s>;tag=%s\r\n"
                "To: <sip:%s@%s>\r\n"
                "Call-ID: %s\r\n"
                "CSeq: %d REGISTER\r\n"
                "%s%s%s"
                "Content-Length: 0\r\n\r\n") % (
                    uri, transport, host, port, os.urandom(6).hex(), args.user, args.domain, os.urandom(4).hex(),
                    args.user, args.domain, call_id, cseq, contact, expires, authorization)

    connection.send(request(1))
    first = connection.receive()
    status = int(first.split(" ", 2)[1])
    challenges = parse_challenges(first)
    result = {"challenge_algorithms": [c["algorithm"] for c in challenges], "first_status": status}
    if status != 401:
        result["status"] = status
        return result
    wanted = (args.algorithm or challenges[0]["algorithm"]).upper()
    # A session variant (MD5-sess, RFC 7616 §3.4.2) is answered to the challenge of its base algorithm, as a
    # client trying a weaker form than the one offered would.
    session = wanted.endswith("-SESS")
    base = wanted[:-len("-SESS")] if session else wanted
    challenge = next(c for c in challenges if c["algorithm"].upper() == base)
    algorithm = challenge["algorithm"].upper()
    realm, nonce = challenge["realm"], challenge["nonce"]
    cnonce, nc = os.urandom(8).hex(), "00000001"
    ha1 = digest(algorithm, "%s:%s:%s" % (args.user, realm, args.password))
    if session:
        ha1 = digest(algorithm, "%s:%s:%s" % (ha1, nonce, cnonce))
        algorithm += "-sess"
    ha2 = digest(base, "REGISTER:%s" % uri)
    response = digest(base, "%s:%s:%s:%s:auth:%s" % (ha1, nonce, nc, cnonce, ha2))
    authorization = ('Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", '
                     'algorithm=%s, cnonce="%s", qop=auth, nc=%s\r\n') % (
                         args.user, realm, nonce, uri, response, algorithm, cnonce, nc)
    connection.send(request(2, authorization))
    final = connection.receive()
    result["status"] = int(final.split(" ", 2)[1])
    result["reason"] = final.split("\r\n", 1)[0].split(" ", 2)[2]
    result["header_names"] = [line.split(":", 1)[0] for line in final.split("\r\n\r\n", 1)[0].split("\r\n")[1:]]
    result["contacts"] = [line.split(":", 1)[1].strip() for line in final.split("\r\n")
                          if line.lower().startswith(("contact:", "m:"))]
    if args.answer_call and result["status"] == 200:
        result["call"] = answer_call(args, connection, host, port)
    return result


ANSWER_SDP = ("v=0\r\no=callee 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
              "m=audio 7000 RTP/SAVP 0\r\n"
              "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:HhwaGBYUEhAODAoIBgQCAB4cGhgWFBIQDgwKCAYE\r\n")


def header(message, *names):
    for line in message.split("\r\n")[1:]:
        if not line:
            break
        name, _, value = line.partition(":")
        if name.strip().lower() in names:
            return value.strip()
    return None


def answer_call(args, connection, host, port):
    """Stays on the registration's connection as a callee: answers one INVITE with 180 and 200 (an SRTP answer),
    then waits for the ACK and the BYE, which it answers 200. Returns what it received."""
    if args.ready_file:
        open(args.ready_file, "w").close()
    connection.sock.settimeout(30.0)
    received = []
    tag = os.urandom(4).hex()

    def next_request():
        while True:
            message = connection.receive_any()
            received.append(message)
            if not message.startswith("SIP/2.0"):
                return message

    def reply(request, status, reason, extra="", body=""):
        lines = [("SIP/2.0 %d %s" % (status, reason))]
        for line in request.split("\r\n")[1:]:
            if not line:
                break
            name = line.split(":", 1)[0].strip().lower()
            if name in ("via", "v", "from", "f", "call-id", "i", "cseq"):
                lines.append(line)
            elif name in ("to", "t"):
                lines.append(line if ";tag=" in line or status == 100 else line + ";tag=" + tag)
        contact = "Contact: <sip:%s@%s:%d;transport=%s>" % (args.user, host, port, args.transport)
        text = "\r\n".join(lines) + "\r\n" + contact + "\r\n" + extra
        text += "Content-Length: %d\r\n\r\n%s" % (len(body.encode()), body)
        connection.send(text)

    invite = next_request()
    if not invite.startswith("INVITE "):
        return {"unexpected": invite.split("\r\n", 1)[0]}
    reply(invite, 180, "Ringing")
    reply(invite, 200, "OK", "Content-Type: application/sdp\r\n", ANSWER_SDP)
    ack = next_request()
    bye = next_request()
    if bye.startswith("BYE "):
        reply(bye, 200, "OK")
    return {"invite": invite, "ack": ack.split("\r\n", 1)[0], "bye": bye.split("\r\n", 1)[0]}


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    reg = sub.add_parser("register")
    reg.add_argument("--transport", choices=["udp", "tcp", "tls"], required=True)
    reg.add_argument("--host", required=True)
    reg.add_argument("--port", type=int, required=True)
    reg.add_argument("--user", required=True)
    reg.add_argument("--password", required=True)
    reg.add_argument("--domain", default="localhost")
    reg.add_argument("--ca")
    reg.add_argument("--cert")
    reg.add_argument("--key")
    reg.add_argument("--algorithm")
    reg.add_argument("--bind", help="UDP: the loopback address to send from")
    reg.add_argument("--expires", type=int, default=3600)
    reg.add_argument("--user-agent", help="a User-Agent header to send")
    reg.add_argument("--query", action="store_true", help="no Contact: list the bindings")
    reg.add_argument("--answer-call", action="store_true",
                     help="then answer one call on the same connection (180, 200 with SRTP, ACK, BYE)")
    reg.add_argument("--ready-file", help="created once registered, before waiting for the call")
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "::1"):
        parser.error("loopback only")
    print(json.dumps(register(args)))


if __name__ == "__main__":
    sys.exit(main())
