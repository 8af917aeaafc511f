import SIPDialog
import SIPMessage
import Testing

/// The caller's INVITE as a phone behind a NAT and an internal proxy would send it.
let callerInvite = try! SIPMessage.parse([
    "INVITE sip:bob@example.com SIP/2.0",
    "Via: SIP/2.0/UDP 10.20.30.40:5062;branch=z9hG4bKcaller1;rport",
    "Via: SIP/2.0/UDP 192.168.7.9:5060;branch=z9hG4bKphone",
    "Record-Route: <sip:10.20.30.40;lr>",
    "Max-Forwards: 69",
    "From: \"Alice\" <sip:alice@192.168.7.9>;tag=caller-tag",
    "To: <sip:bob@example.com>",
    "Call-ID: 4711@192.168.7.9",
    "CSeq: 20 INVITE",
    "Contact: <sip:alice@192.168.7.9:5060;ob>",
    "Proxy-Authorization: Digest username=\"alice\", realm=\"example.com\", nonce=\"n\", uri=\"sip:bob@example.com\", response=\"00000000000000000000000000000000\"",
    "Supported: timer, 100rel",
    "Allow: INVITE, ACK, CANCEL, BYE, UPDATE",
    "Content-Type: application/sdp",
    "Content-Length: 4",
    "",
    "sdp!",
].joined(separator: "\r\n"))

let calleeSide = SIPLocalAddress(host: .ipv4(0xC633_6401), port: 5061, transport: "TLS")  // 198.51.100.1
let callerSide = SIPLocalAddress(host: .ipv4(0xCB00_7101), port: 5060, transport: "UDP")  // 203.0.113.1

@Suite struct B2BUATests {
    @Test func theCalleesInviteCarriesNothingOfTheCallersTopology() throws {
        let (bytes, leg, branch) = try B2BUA.invite(
            bridging: callerInvite, target: "sip:bob@198.51.100.20:5070;transport=tls",
            from: "\"Alice\" <sip:alice@example.com>", to: "<sip:bob@example.com>", address: calleeSide,
            headers: B2BUA.endToEndHeaders(of: callerInvite), body: Array("sdp!".utf8))
        let text = String(decoding: bytes, as: UTF8.self)
        for trace in ["10.20.30.40", "192.168.7.9", "4711", "caller-tag", "z9hG4bKcaller1", "z9hG4bKphone", "Proxy-Auth"] {
            #expect(!text.contains(trace), "the callee would see \(trace)")
        }
        let invite = try SIPMessage.parse(bytes)
        #expect(try invite.validate().isEmpty)
        #expect(invite.requestLine?.requestURIText == "sip:bob@198.51.100.20:5070;transport=tls")
        #expect(try invite.vias().count == 1)
        #expect(try invite.topVia().branch == branch && branch.hasPrefix("z9hG4bK"))
        #expect(try invite.maxForwards() == 68)  // decremented (RFC 3261 §16.6 step 3)
        #expect(try invite.callID() == leg.callID && leg.callID.utf8.count >= 16)
        #expect(try invite.fromTag() == leg.localTag)
        #expect(try invite.from().uri.description == "sip:alice@example.com")
        #expect(try invite.toTag() == nil)
        #expect(invite.fields(.contact).map(\.value) == ["<sip:198.51.100.1:5061;transport=tls>"])
        #expect(invite.fields(.recordRoute).isEmpty)
        #expect(invite.fields(.supported).map(\.value) == ["timer, 100rel"])
        #expect(try invite.contentType()?.isSDP == true)
        #expect(Array(invite.body) == Array("sdp!".utf8))
        // Two branches of one call never share identifiers.
        let other = try B2BUA.invite(
            bridging: callerInvite, target: "sip:bob@198.51.100.21", from: "<sip:alice@example.com>",
            to: "<sip:bob@example.com>", address: calleeSide, headers: [], body: [])
        #expect(other.leg.callID != leg.callID && other.leg.localTag != leg.localTag && other.branch != branch)
    }

    @Test func theCallersResponseIsBuiltFromItsOwnInviteWithTheEdgesContact() throws {
        let ringing = try SIPMessage.parse([
            "SIP/2.0 183 Session Progress",
            "Via: SIP/2.0/TLS 198.51.100.1:5061;branch=z9hG4bKb2;rport=5061",
            "Record-Route: <sip:172.16.0.8;lr>",
            "From: <sip:alice@example.com>;tag=edge-b",
            "To: <sip:bob@example.com>;tag=callee-tag",
            "Call-ID: b-leg-call",
            "CSeq: 1 INVITE",
            "Contact: <sip:bob@172.16.0.9:5070;transport=tls>",
            "Require: 100rel",
            "RSeq: 1",
            "Content-Type: application/sdp",
            "Content-Length: 3",
            "",
            "ans",
        ].joined(separator: "\r\n"))
        let bytes = try B2BUA.response(
            relaying: ringing, to: callerInvite, toTag: "edge-a1", address: callerSide,
            headers: B2BUA.endToEndHeaders(of: ringing), body: Array(ringing.body))
        let text = String(decoding: bytes, as: UTF8.self)
        for trace in ["172.16.0", "callee-tag", "b-leg-call", "edge-b", "z9hG4bKb2"] {
            #expect(!text.contains(trace), "the caller would see \(trace)")
        }
        let response = try SIPMessage.parse(bytes)
        #expect(response.statusCode == 183 && response.statusLine?.reasonPhrase == "Session Progress")
        #expect(try response.vias().map(\.branch) == ["z9hG4bKcaller1", "z9hG4bKphone"])
        #expect(try response.callID() == "4711@192.168.7.9" && response.fields(.cseq).map(\.value) == ["20 INVITE"])
        #expect(try response.fromTag() == "caller-tag" && response.toTag() == "edge-a1")
        #expect(response.fields(.contact).map(\.value) == ["<sip:203.0.113.1:5060>"])
        #expect(response.fields(.require).map(\.value) == ["100rel"])
        #expect(Array(response.body) == Array("ans".utf8))
        #expect(try response.validate().isEmpty)
        // A 100 Trying gets no To tag and no Contact.
        let trying = try SIPMessage.parse(try B2BUA.response(
            relaying: try SIPMessage.parse(Array("SIP/2.0 100 Trying\r\nVia: SIP/2.0/UDP x;branch=z9hG4bKq\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: q\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n".utf8)),
            to: callerInvite, toTag: "edge-a1", address: callerSide, headers: [], body: []))
        #expect(try trying.toTag() == nil && trying.fields(.contact).isEmpty)
    }
}

@Suite struct CallLegTests {
    @Test func theCalleeLegLearnsTagTargetAndReversedRouteSetThenSendsInDialogRequests() throws {
        var leg = CallLeg.calling(target: "sip:bob@198.51.100.20", from: "<sip:alice@example.com>",
                                  to: "<sip:bob@example.com>")
        let invite = try leg.request(.invite, via: calleeSide)
        #expect(leg.localCSeq == 1)
        let ok = try SIPMessage.parse([
            "SIP/2.0 200 OK", "Via: SIP/2.0/TLS 198.51.100.1:5061;branch=\(invite.branch)",
            "Record-Route: <sip:p2.example.net;lr>", "Record-Route: <sip:p1.example.net;lr>",
            "From: <sip:alice@example.com>;tag=\(leg.localTag)", "To: <sip:bob@example.com>;tag=bob-1",
            "Call-ID: \(leg.callID)", "CSeq: 1 INVITE", "Contact: <sip:bob@198.51.100.20:5070>", "Content-Length: 0",
            "", "",
        ].joined(separator: "\r\n"))
        try leg.learn(from: ok)
        #expect(leg.remoteTag == "bob-1" && leg.remoteTarget == "sip:bob@198.51.100.20:5070")
        #expect(leg.routeSet == ["<sip:p1.example.net;lr>", "<sip:p2.example.net;lr>"])
        let ack = try SIPMessage.parse(try leg.request(.ack, via: calleeSide, cseq: 1).bytes)
        #expect(try ack.cseq() == CSeq(sequenceNumber: 1, method: .ack) && leg.localCSeq == 1)
        let bye = try SIPMessage.parse(try leg.request(.bye, via: calleeSide).bytes)
        #expect(bye.requestLine?.requestURIText == "sip:bob@198.51.100.20:5070")
        #expect(bye.fields(.route).map(\.value) == ["<sip:p1.example.net;lr>", "<sip:p2.example.net;lr>"])
        #expect(try bye.cseq().sequenceNumber == 2 && bye.toTag() == "bob-1" && bye.fromTag() == leg.localTag)
        #expect(bye.fields(.contact).isEmpty)
        #expect(try bye.validate().isEmpty)
        #expect(throws: SIPParseError.self) {
            _ = try leg.request(.info, via: calleeSide, headers: [("Subject", "x\r\nVia: evil")])
        }
    }

    @Test func theCallerLegIsTheInvitesDialogSeenFromTheUAS() throws {
        var leg = try CallLeg.answering(callerInvite, localTag: "edge-a1")
        #expect(leg.callID == "4711@192.168.7.9" && leg.remoteTag == "caller-tag")
        #expect(leg.remoteTarget == "sip:alice@192.168.7.9:5060;ob")
        #expect(leg.routeSet == ["<sip:10.20.30.40;lr>"])  // as written for the UAS (RFC 3261 §12.1.1)
        #expect(leg.accept(remoteCSeq: 21) && !leg.accept(remoteCSeq: 20))
        let bye = try SIPMessage.parse(try leg.request(.bye, via: callerSide).bytes)
        #expect(try bye.fromTag() == "edge-a1" && bye.toTag() == "caller-tag")
        #expect(bye.fields(.from).first?.value.hasPrefix("<sip:bob@example.com>") == true)
        #expect(throws: SIPParseError.self) {
            _ = try CallLeg.answering(try SIPMessage.parse(
                "INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\n"
                    + "Call-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"), localTag: "t")
        }
    }
}
