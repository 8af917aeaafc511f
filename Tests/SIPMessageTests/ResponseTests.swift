import SIPMessage
import Testing

@Suite struct ResponseTests {
    static let request = try! SIPMessage.parse(datagram([
        "OPTIONS sip:edge@example.com SIP/2.0",
        "Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKopt;rport",
        "Via: SIP/2.0/TCP proxy.example.net;branch=z9hG4bKup",
        "From: <sip:probe@example.net>;tag=99",
        "To: <sip:edge@example.com>",
        "Call-ID: opt-1",
        "CSeq: 7 OPTIONS",
        "Content-Length: 0",
    ]))

    @Test func responseCopiesTheDialogHeadersAndStampsTheSource() throws {
        let bytes = try Self.request.makeResponse(
            status: 200, toTag: "edge1", source: (.ipv4(0xC633_6407), 40_123), extraHeaders: [("Allow", "INVITE, ACK")])
        let response = try SIPMessage.parse(bytes)
        #expect(response.statusCode == 200)
        #expect(response.statusLine?.reasonPhrase == "OK")
        let vias = try response.vias()
        #expect(vias.count == 2)
        #expect(vias[0].received == .ipv4(0xC633_6407))  // RFC 3261 §18.2.1: the NAT's address
        #expect(vias[0].rport == .value(40_123))  // RFC 3581 §4
        #expect(vias[1].branch == "z9hG4bKup")
        #expect(try response.toTag() == "edge1")
        #expect(try response.fromTag() == "99")
        #expect(try response.callID() == "opt-1")
        #expect(try response.cseq() == CSeq(sequenceNumber: 7, method: .options))
        #expect(try response.allow() == [.invite, .ack])
        #expect(try response.validate().isEmpty)
    }

    @Test func viaValuesAreCopiedAsWrittenAndInOrderWhenAHeaderLineHoldsSeveral() throws {
        let request = try SIPMessage.parse(datagram([
            "REGISTER sip:example.com SIP/2.0",
            "v: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKa;rport , SIP/2.0/TCP relay.example.net;branch=z9hG4bKb",
            "Via: SIP/2.0/UDP edge.example.org:5070;branch=z9hG4bKc;x=\"a,b\"",
            "From: <sip:a@example.com>;tag=1", "To: <sip:a@example.com>;tag=2", "i: r-1", "CSeq: 2 REGISTER",
            "Content-Length: 0",
        ]))
        let stamped = try SIPMessage.parse(request.makeResponse(status: 401, toTag: "ignored",
                                                                source: (.ipv4(0x0A00_0005), 5062)))
        #expect(try stamped.vias().map(\.branch) == ["z9hG4bKa", "z9hG4bKb", "z9hG4bKc"])
        #expect(try stamped.topVia().rport == .value(5062))
        #expect(try stamped.topVia().received == nil)  // RFC 3261 §18.2.1: the sent-by is already the source
        #expect(try stamped.toTag() == "2")  // an existing To tag is kept
        let text = String(decoding: try request.makeResponse(status: 500), as: UTF8.self)
        #expect(text.contains("Via: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKa;rport\r\n"))
        #expect(text.contains("Via: SIP/2.0/TCP relay.example.net;branch=z9hG4bKb\r\n"))
        #expect(text.contains("Via: SIP/2.0/UDP edge.example.org:5070;branch=z9hG4bKc;x=\"a,b\"\r\n"))
        #expect(text.contains("Call-ID: r-1\r\n"))
        #expect(try SIPMessage.parse(Array(text.utf8)).validate().isEmpty)
    }

    @Test func headerInjectionThroughExtraHeadersIsRefused() {
        #expect(throws: SIPParseError.self) {
            try Self.request.makeResponse(status: 400, extraHeaders: [("Warning", "399 x\r\nVia: SIP/2.0/UDP evil")])
        }
    }
}
