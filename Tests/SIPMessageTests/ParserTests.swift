import Foundation
import SIPMessage
import Testing

/// Builds a datagram from lines joined by CRLF, with the blank line and an optional body.
func datagram(_ lines: [String], body: String = "") -> [UInt8] {
    Array((lines.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8)
}

let inviteLines = [
    "INVITE sip:bob@biloxi.example.com SIP/2.0",
    "Via: SIP/2.0/TLS client.atlanta.example.com:5061;branch=z9hG4bK74bf9;rport",
    "Max-Forwards: 70",
    "From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl",
    "To: \"Bob\" <sip:bob@biloxi.example.com>",
    "Call-ID: 3848276298220188511@atlanta.example.com",
    "CSeq: 1 INVITE",
    "Contact: <sip:alice@client.atlanta.example.com;transport=tls>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\";reg-id=1",
    "User-Agent: Rampart-Test/1.0",
    "Supported: timer, outbound",
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS",
    "Session-Expires: 1800;refresher=uac",
    "P-Asserted-Identity: \"Alice\" <sip:alice@atlanta.example.com>, <tel:+14085551212>",
    "Reason: Q.850;cause=16;text=\"Terminated\"",
    "X-Custom-Thing:   keep   me   exactly  ",
    "Content-Type: application/sdp",
    "Content-Length: 0",
]

/// Strictness where RFC 4475's torture messages and hostile framing disagree with a lax reading (issue 17).
@Suite struct ParserStrictnessTests {
    @Test func aBackslashEscapesControlOctetsOnlyInsideQuotes() throws {
        var quoted = inviteLines
        quoted[4] = "To: \"Bob\\\u{01}\" <sip:bob@biloxi.example.com>"
        #expect(throws: Never.self) { _ = try SIPMessage.parse(datagram(quoted)) }
        var bare = inviteLines
        bare[14] = "X-Custom-Thing: keep\\\u{01}me"
        #expect { _ = try SIPMessage.parse(datagram(bare)) } throws: { ($0 as? SIPParseError)?.code == .illegalCharacter }
        var escapedQuote = inviteLines
        escapedQuote[14] = "X-Custom-Thing: \"a\\\"\" after\\\u{01}"
        #expect { _ = try SIPMessage.parse(datagram(escapedQuote)) } throws: {
            ($0 as? SIPParseError)?.code == .illegalCharacter
        }
    }

    @Test func thirtyFourViasAreValidAndSeventyOneAreNot() throws {
        func message(vias: Int) -> [UInt8] {
            var lines = inviteLines
            lines.insert(contentsOf: (0..<vias - 1).map { "Via: SIP/2.0/UDP hop\($0).example.com;branch=z9hG4bKhop\($0)" },
                         at: 2)
            return datagram(lines)
        }
        #expect(throws: Never.self) { try SIPMessage.parse(message(vias: 34)).validate() }
        #expect(throws: Never.self) { try SIPMessage.parse(message(vias: 70)).validate() }
        #expect { try SIPMessage.parse(message(vias: 71)).validate() } throws: {
            ($0 as? SIPParseError)?.code == .tooManyVias && ($0 as? SIPParseError)?.sipStatus == 483
        }
    }

    @Test func transferEncodingIsRefused() throws {
        var lines = inviteLines
        lines.insert("Transfer-Encoding: chunked", at: 5)
        #expect { try SIPMessage.parse(datagram(lines)).validate() } throws: {
            ($0 as? SIPParseError)?.code == .malformedHeader && ($0 as? SIPParseError)?.sipStatus == 400
        }
    }
}

@Suite struct ParserTests {
    @Test func typedAccessors() throws {
        let message = try SIPMessage.parse(datagram(inviteLines))
        #expect(message.method == .invite)
        #expect(message.requestLine?.requestURIText == "sip:bob@biloxi.example.com")
        let via = try message.topVia()
        #expect(via.transport == "TLS")
        #expect(via.host == .hostname("client.atlanta.example.com"))
        #expect(via.port == 5061)
        #expect(via.branch == "z9hG4bK74bf9")
        #expect(via.rport == .requested)
        #expect(via.hasRFC3261Branch)
        #expect(try message.maxForwards() == 70)
        let from = try message.from()
        #expect(from.displayName == "Alice")
        #expect(from.tag == "9fxced76sl")
        #expect(try message.to().displayName == "Bob")
        #expect(try message.to().tag == nil)
        #expect(try message.callID() == "3848276298220188511@atlanta.example.com")
        #expect(try message.cseq() == CSeq(sequenceNumber: 1, method: .invite))
        guard case .contacts(let contacts) = try message.contacts() else {
            Issue.record("expected contacts")
            return
        }
        #expect(contacts.count == 1)
        #expect(contacts[0].instanceID == "urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF")
        #expect(contacts[0].regID == 1)
        #expect(message.userAgent == "Rampart-Test/1.0")
        #expect(try message.supported() == ["timer", "outbound"])
        #expect(try message.allow() == [.invite, .ack, .cancel, .bye, .options])
        let sessionExpires = try #require(try message.sessionExpires())
        #expect(sessionExpires.deltaSeconds == 1800)
        #expect(sessionExpires.refresher == "uac")
        let identities = try message.pAssertedIdentities()
        #expect(identities.map(\.uri.scheme) == ["sip", "tel"])
        let reason = try #require(try message.reasons().first)
        #expect(reason.protocolName == "Q.850")
        #expect(reason.cause == 16)
        #expect(reason.text == "Terminated")
        #expect(try message.contentType()?.isSDP == true)
        #expect(message.fields(named: "x-custom-thing").first?.value == "keep   me   exactly")
        #expect(try message.validate().isEmpty)
    }

    @Test func compactFormsAreRecognised() throws {
        let message = try SIPMessage.parse(datagram([
            "OPTIONS sip:x@example.com SIP/2.0", "v: SIP/2.0/UDP h.example.com;branch=z9hG4bK1", "f: <sip:a@example.com>;tag=1",
            "t: <sip:x@example.com>", "i: abc", "CSeq: 2 OPTIONS", "m: <sip:a@h.example.com>", "k: path", "l: 0",
        ]))
        #expect(message.headers.map(\.kind) == [.via, .from, .to, .callID, .cseq, .contact, .supported, .contentLength])
        #expect(try message.validate().isEmpty)
    }

    @Test func contactWildcardAndParameters() throws {
        let wildcard = try SIPMessage.parse(datagram([
            "REGISTER sip:example.com SIP/2.0", "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1",
            "From: <sip:a@example.com>;tag=1", "To: <sip:a@example.com>", "Call-ID: r1", "CSeq: 3 REGISTER",
            "Contact: *", "Expires: 0", "Content-Length: 0",
        ]))
        #expect(try wildcard.contacts() == .wildcard)
        #expect(try wildcard.expires() == 0)
        let mixed = try SIPMessage.parse(datagram([
            "REGISTER sip:example.com SIP/2.0", "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1",
            "From: <sip:a@example.com>;tag=1", "To: <sip:a@example.com>", "Call-ID: r1", "CSeq: 3 REGISTER",
            "Contact: *", "Contact: <sip:a@h.example.com>", "Content-Length: 0",
        ]))
        #expect(throws: SIPParseError(.malformedContact, "")) { try mixed.contacts() }
        let params = try SIPMessage.parse(datagram([
            "REGISTER sip:example.com SIP/2.0", "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1",
            "From: <sip:a@example.com>;tag=1", "To: <sip:a@example.com>", "Call-ID: r1", "CSeq: 3 REGISTER",
            "Contact: <sip:a@h.example.com>;expires=99999999999999;q=0.5, sip:b@h.example.com;q=1.000",
            "Content-Length: 0",
        ]))
        guard case .contacts(let contacts) = try params.contacts() else {
            Issue.record("expected contacts")
            return
        }
        #expect(contacts.map(\.expires) == [UInt32.max, nil])
        #expect(contacts.map(\.qValueThousandths) == [500, 1000])
    }

    @Test(arguments: ["q=1.5", "q=0.1234", "q=abc", "expires=-1", "expires=x"])
    func badContactParametersAreRejected(_ parameter: String) throws {
        let message = try SIPMessage.parse(datagram([
            "REGISTER sip:example.com SIP/2.0", "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1",
            "From: <sip:a@example.com>;tag=1", "To: <sip:a@example.com>", "Call-ID: r1", "CSeq: 3 REGISTER",
            "Contact: <sip:a@h.example.com>;\(parameter)", "Content-Length: 0",
        ]))
        #expect(throws: SIPParseError.self) { try message.contacts() }
    }

    @Test func viaVariants() throws {
        let via = try Via("SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bKx;received=192.0.2.9;rport=6000;ttl=16")
        #expect(via.host == .ipv6(high: 0x2001_0db8_0000_0000, low: 1))
        #expect(via.port == 5070)
        #expect(via.received == .ipv4(0xC000_0209))
        #expect(via.rport == .value(6000))
        #expect(via.ttl == 16)
        #expect(throws: SIPParseError(.malformedVia, "")) { try Via("SIP/2.0/UDP host;ttl=300") }
        #expect(throws: SIPParseError(.malformedVia, "")) { try Via("SIP/2.0/UDP host;received=evil.example.com") }
        #expect(throws: SIPParseError(.malformedVia, "")) { try Via("SIP/2.0/UDP host;branch") }
        #expect(throws: SIPParseError.self) { try Via("SIP/2.0/UDP host:70000") }
        #expect(throws: SIPParseError(.malformedVia, "")) { try Via("SIP/2.0/UDPhost") }
    }

    @Test func limitsAreEnforcedWithTheirStatus() throws {
        let tight = SIPParseLimits(maxMessageSize: 400, maxBodySize: 10, maxHeaderCount: 5, maxLineLength: 60,
                                   maxHeaderValueLength: 40, maxRequestURILength: 30, maxViaCount: 2)
        func error(_ bytes: [UInt8]) -> SIPParseError? {
            do {
                _ = try SIPMessage.parse(bytes, limits: tight)
                return nil
            } catch { return error }
        }
        let base = ["OPTIONS sip:x@example.com SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "Call-ID: a"]
        #expect(error(datagram(base)) == nil)
        #expect(error(datagram(base + ["X: " + String(repeating: "v", count: 500)]))?.sipStatus == 513)
        #expect(error(datagram(base + ["X: " + String(repeating: "v", count: 50)]))?.code == .headerValueTooLong)
        #expect(error(datagram(base + ["Subject: " + String(repeating: "v", count: 39) + "xxxxxxxxxxxxxxxxx"]))?.code
            == .lineTooLong)
        #expect(error(datagram(base + ["A: 1", "B: 2", "C: 3", "D: 4"]))?.code == .tooManyHeaders)
        #expect(error(datagram(base + ["Via: SIP/2.0/UDP a, SIP/2.0/UDP b"]))?.code == .tooManyVias)
        #expect(error(datagram(base + ["Content-Type: text/plain"], body: "0123456789ab"))?.code == .bodyTooLarge)
        #expect(error(datagram(base + ["Content-Type: text/plain"], body: "0123456789ab"))?.sipStatus == 413)
        let longURI = "OPTIONS sip:" + String(repeating: "u", count: 40) + "@example.com SIP/2.0"
        #expect(error(datagram([longURI]))?.sipStatus == 414)
        #expect(error(datagram(base + [String(repeating: "X: y", count: 1)], body: String(repeating: "z", count: 400)))?
            .code == .messageTooLarge)
    }

    @Test func thousandsOfViasAreRefusedEarly() throws {
        let vias = (0..<5000).map { "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK\($0)" }
        let bytes = datagram(["OPTIONS sip:x@example.com SIP/2.0"] + vias)
        let limits = SIPParseLimits(maxMessageSize: 1 << 20, maxHeaderCount: 10_000)
        #expect(throws: SIPParseError(.tooManyVias, "")) { try SIPMessage.parse(bytes, limits: limits) }
    }

    @Test func hostileFramingIsRejected() throws {
        let ok = ["OPTIONS sip:x@example.com SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1"]
        #expect(throws: SIPParseError(.bareLineBreak, "")) {
            try SIPMessage.parse(Array("OPTIONS sip:x@example.com SIP/2.0\r\nVia: a\rX: b\r\n\r\n".utf8))
        }
        #expect(throws: SIPParseError(.illegalCharacter, "")) { try SIPMessage.parse(datagram(ok + ["X: a\u{1}b"])) }
        #expect(throws: SIPParseError(.malformedHeader, "")) { try SIPMessage.parse(datagram(ok + [" folded-first"]).dropFirstLine()) }
        #expect(throws: SIPParseError(.malformedHeader, "")) { try SIPMessage.parse(datagram(ok + ["No colon here"])) }
        #expect(throws: SIPParseError(.malformedHeader, "")) { try SIPMessage.parse(datagram(ok + [": empty name"])) }
        #expect(throws: SIPParseError(.truncated, "")) { try SIPMessage.parse(Array("OPTIONS sip:x@example.com SIP/2.0".utf8)) }
        #expect(throws: SIPParseError(.emptyMessage, "")) { try SIPMessage.parse([UInt8]()) }
        #expect(throws: SIPParseError(.invalidContentLength, "")) { try SIPMessage.parse(datagram(ok + ["Content-Length: 1e3"])) }
        #expect(throws: SIPParseError(.duplicateHeader, "")) {
            try SIPMessage.parse(datagram(ok + ["Content-Length: 0", "l: 0"]))
        }
        // A status line with a bad code or without a reason separator.
        #expect(throws: SIPParseError(.malformedStartLine, "")) { try SIPMessage.parse(datagram(["SIP/2.0 099 Low"])) }
        #expect(throws: SIPParseError(.malformedStartLine, "")) { try SIPMessage.parse(datagram(["SIP/2.0 200"])) }
    }

    @Test func streamFramingRequiresAnExactContentLength() throws {
        let lines = ["OPTIONS sip:x@example.com SIP/2.0", "Via: SIP/2.0/TCP h;branch=z9hG4bK1"]
        #expect(throws: SIPParseError(.missingHeader, "")) {
            try SIPMessage.parse(datagram(lines), framing: .stream)
        }
        #expect(throws: SIPParseError(.contentLengthMismatch, "")) {
            try SIPMessage.parse(datagram(lines + ["Content-Length: 2"], body: "abc"), framing: .stream)
        }
        let message = try SIPMessage.parse(datagram(lines + ["Content-Length: 3"], body: "abc"), framing: .stream)
        #expect(Array(message.body) == Array("abc".utf8))
    }

    @Test func editingKeepsUntouchedBytes() throws {
        var message = try SIPMessage.parse(datagram(inviteLines))
        message.prependHeader(try SIPHeaderField(.via, value: "SIP/2.0/UDP edge.example.net;branch=z9hG4bKedge"))
        message.setBody(Array("v=0\r\n".utf8))
        let reparsed = try SIPMessage.parse(message.serialized())
        #expect(try reparsed.vias().map(\.host) == [.hostname("edge.example.net"), .hostname("client.atlanta.example.com")])
        #expect(reparsed.contentLength == 5)
        #expect(reparsed.fields(named: "X-Custom-Thing").first?.description == "X-Custom-Thing:   keep   me   exactly  ")
        #expect(throws: SIPParseError(.bareLineBreak, "")) {
            try SIPHeaderField(name: "Subject", value: "hi\r\nVia: SIP/2.0/UDP evil")
        }
        #expect(throws: SIPParseError(.illegalCharacter, "")) { try SIPHeaderField(name: "Subject", value: "a\u{0}b") }
        #expect(throws: SIPParseError(.malformedHeader, "")) { try SIPHeaderField(name: "Bad Name", value: "x") }
    }

    @Test func lazyParseDefersHeaderErrorsUntilAsked() throws {
        // Framing succeeds; the bad From is found only when From is read (or the message validated).
        let message = try SIPMessage.parse(datagram([
            "OPTIONS sip:x@example.com SIP/2.0", "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1",
            "From: <sip:a@exa mple.com>", "To: <sip:x@example.com>", "Call-ID: c", "CSeq: 1 OPTIONS",
        ]))
        #expect(try message.callID() == "c")
        let error = #expect(throws: SIPParseError.self) { try message.from() }
        #expect(error?.headerName == "From")
        #expect(error?.sipStatus == 400)
    }

    @Test func errorsNeverEchoPayload() throws {
        let secret = "s3cr3t-nonce-value"
        let message = try SIPMessage.parse(datagram([
            "OPTIONS sip:x@example.com SIP/2.0", "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1",
            "From: \"\(secret)", "To: <sip:x@example.com>", "Call-ID: c", "CSeq: 1 OPTIONS",
        ]))
        let error = #expect(throws: SIPParseError.self) { try message.validate() }
        #expect(!(error?.description.contains(secret) ?? true))
    }
}

extension Array where Element == UInt8 {
    /// Drops the start line so the first header line becomes a continuation line.
    func dropFirstLine() -> [UInt8] {
        let text = String(decoding: self, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        return Array(([lines[0]] + lines[2...]).joined(separator: "\r\n").utf8)
    }
}
