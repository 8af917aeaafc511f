@testable import Edge
import NIOCore
import SIPAuth
import SIPDialog
import SIPMessage
import SIPTransportNIO
import SecurityPolicy
import Storage
import Synchronization
import Testing

/// What the edge sent, by flow.
final class SentMessages: Sendable {
    private let sent = Mutex<[(flow: String, message: SIPMessage)]>([])
    func append(_ bytes: [UInt8], _ flow: SIPFlow) -> Bool {
        guard let message = try? SIPMessage.parse(bytes) else { return false }
        sent.withLock { $0.append((flow.description, message)) }
        return true
    }
    /// Takes what was sent so far.
    func take() -> [(flow: String, message: SIPMessage)] { sent.withLock { let all = $0; $0 = []; return all } }
}

let offer = [
    "v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 4000 RTP/SAVP 0",
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e", "",
].joined(separator: "\r\n")
let plainOffer = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 4000 RTP/AVP 0", ""]
    .joined(separator: "\r\n")

func invite(from caller: String = "alice", to callee: String = "bob", branch: String, cseq: Int,
            proxyAuthorization: String? = nil, body: String = offer) -> String {
    var lines = [
        "INVITE sip:\(callee)@localhost SIP/2.0", "Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK\(branch);rport",
        "Max-Forwards: 70", "From: \"Alice A.\" <sip:\(caller)@localhost>;tag=a-tag", "To: <sip:\(callee)@localhost>",
        "Call-ID: call-1", "CSeq: \(cseq) INVITE", "Contact: <sip:alice@127.0.0.1:40000>", "User-Agent: Zoiper 5",
        "Content-Type: application/sdp",
    ]
    if let proxyAuthorization { lines.append("Proxy-Authorization: \(proxyAuthorization)") }
    lines.append("Content-Length: \(body.utf8.count)")
    return lines.joined(separator: "\r\n") + "\r\n\r\n" + body
}

/// Answers a 407 as alice.
func proxyCredentials(for response: SIPMessage?, uri: String = "sip:bob@localhost") throws -> String {
    let response = try #require(response)
    #expect(response.statusCode == 407)
    let challenge = try #require(try response.digestChallenges(proxy: true).first {
        $0.effectiveAlgorithm == DigestAlgorithm.Insecure.md5
    })
    let ha1 = DigestHA1(algorithm: DigestAlgorithm.Insecure.md5, username: "alice", realm: "localhost", password: "secret")
    return try DigestCredentials(answering: challenge, ha1: ha1, method: "INVITE", uri: uri, cnonce: "c0ffee",
                                 nonceCount: DigestNonceCount(1)).serialized()
}

@Suite struct CallRouterTests {
    /// An edge with bob registered from 127.0.0.1:40001 over UDP, and the calls wired to `sent`.
    static func edgeWithBob(_ configuration: EdgeService.Configuration = .init()) async throws
        -> (EdgeFixture, SentMessages)
    {
        let fixture = try await EdgeFixture(configuration: configuration)
        let sent = SentMessages()
        fixture.edge.calls.attach(sender: { sent.append($0, $1) }, addresses: { flow in
            SIPLocalAddress(host: .ipv4(0x7F00_0001), port: 5060, transport: flow.transport.rawValue)
        })
        let bobContact = "<sip:bob@127.0.0.1:40001>"
        let challenge = try await fixture.send(register(user: "bob", branch: "rb1", cseq: 1, contact: bobContact),
                                               port: 40_001)
        let ok = try await fixture.send(register(
            user: "bob", branch: "rb2", cseq: 2, contact: bobContact,
            authorization: credentials(for: challenge, username: "bob")), port: 40_001)
        #expect(ok?.statusCode == 200)
        return (fixture, sent)
    }

    @Test func anAccountMayCallAsAnIdentityItIsAllowedAndNoOtherAndAllowListsKeepOnlyWhatTheySay() async throws {
        var configuration = EdgeService.Configuration()
        configuration.assertableIdentities = ["alice": ["+15551234"]]
        configuration.headerPolicy = HeaderPolicy(mode: .allowList(["x-call-reason"]),
                                                  replacements: ["user-agent": "Rampart"])
        let (fixture, sent) = try await Self.edgeWithBob(configuration)
        func call(as user: String, id: String) async throws -> SIPMessage? {
            let first = invite(from: user, branch: "\(id)a", cseq: 1)
                .replacingOccurrences(of: "Call-ID: call-1", with: "Call-ID: \(id)")
                .replacingOccurrences(of: "User-Agent: Zoiper 5", with: "User-Agent: Zoiper 5\r\nX-Call-Reason: sales\r\nX-Internal: 7")
            let challenge = try await fixture.send(first)
            let second = invite(from: user, branch: "\(id)b", cseq: 2, proxyAuthorization: try proxyCredentials(for: challenge))
                .replacingOccurrences(of: "Call-ID: call-1", with: "Call-ID: \(id)")
                .replacingOccurrences(of: "User-Agent: Zoiper 5", with: "User-Agent: Zoiper 5\r\nX-Call-Reason: sales\r\nX-Internal: 7")
            return try await fixture.send(second)
        }
        // alice's credentials, presenting her number: allowed, and asserted as such.
        #expect(try await call(as: "+15551234", id: "n1") == nil)
        let towardsBob = try #require(sent.take().first { $0.message.method == .invite }?.message)
        #expect(towardsBob.firstField(.pAssertedIdentity)?.value == "<sip:+15551234@localhost>")
        #expect(try towardsBob.from().uri.description == "sip:+15551234@localhost")
        // Allow-list mode: the listed header passes, anything else not essential does not.
        #expect(towardsBob.fields(named: "X-Call-Reason").first?.value == "sales")
        #expect(towardsBob.fields(named: "X-Internal").isEmpty)
        #expect(towardsBob.firstField(.userAgent)?.value == "Rampart")  // replaced, not passed on
        // Another number is a spoof.
        #expect(try await call(as: "+15559999", id: "n2")?.statusCode == 403)
    }

    @Test func aDisplayNameCannotSmuggleAnotherCallerAndRemotePartyIDNeverCrosses() async throws {
        let (fixture, sent) = try await Self.edgeWithBob()
        let alicesDevice = String(repeating: "a", count: 64)
        try await fixture.store.bindDevice(fingerprint: alicesDevice, username: "alice", domain: "localhost")
        let crafted = invite(branch: "d1", cseq: 1)
            .replacingOccurrences(of: "From: \"Alice A.\" <sip:alice@localhost>",
                                  with: "From: \"x\\\" <sip:ceo@localhost> \\\"\" <sip:alice@localhost>")
            .replacingOccurrences(of: "User-Agent: Zoiper 5", with: "Remote-Party-ID: \"CEO\" <sip:ceo@localhost>;screen=yes")
        #expect(try await fixture.send(crafted, transport: .tls, fingerprint: alicesDevice) == nil)
        let towardsBob = try #require(sent.take().first { $0.message.method == .invite }?.message)
        let from = try towardsBob.from()
        #expect(from.uri.description == "sip:alice@localhost")
        #expect(from.displayName == "x\" <sip:ceo@localhost> \"")  // still one quoted name, escaped
        #expect(towardsBob.fields(named: "Remote-Party-ID").isEmpty)
    }

    @Test func aCallerWhoseTLSCertificateIsBoundToItsAccountNeedsNoDigest() async throws {
        let (fixture, sent) = try await Self.edgeWithBob()
        let alicesDevice = String(repeating: "a", count: 64)
        try await fixture.store.bindDevice(fingerprint: alicesDevice, username: "alice", domain: "localhost")
        // Mutual TLS names the account: no 407, and bob's phone rings.
        #expect(try await fixture.send(invite(branch: "m1", cseq: 1), transport: .tls, fingerprint: alicesDevice) == nil)
        let out = sent.take()
        #expect(out.contains { $0.message.method == .invite && $0.flow == "udp:127.0.0.1:40001" })
        // The certificate's account must still be the one in From.
        let spoof = try await fixture.send(invite(from: "carol", branch: "m2", cseq: 1).replacingOccurrences(
            of: "Call-ID: call-1", with: "Call-ID: call-2"), transport: .tls, fingerprint: alicesDevice)
        #expect(spoof?.statusCode == 403)
        // Over plain UDP a fingerprint means nothing: digest as usual.
        let udp = try await fixture.send(invite(branch: "m3", cseq: 1).replacingOccurrences(
            of: "Call-ID: call-1", with: "Call-ID: call-3"), fingerprint: alicesDevice)
        #expect(udp?.statusCode == 407)
    }

    @Test func anAuthenticatedCallReachesTheCalleesFlowWithoutTheCallersTopologyAndEndsWithACDR() async throws {
        let (fixture, sent) = try await Self.edgeWithBob()
        let challenge = try await fixture.send(invite(branch: "i1", cseq: 1))
        #expect(challenge?.statusCode == 407)
        #expect(try await fixture.send(invite(branch: "i2", cseq: 2,
                                              proxyAuthorization: proxyCredentials(for: challenge))) == nil)
        var out = sent.take()
        #expect(out.map(\.flow) == ["udp:127.0.0.1:40000", "udp:127.0.0.1:40001"])
        #expect(out[0].message.statusCode == 100)
        let calleeInvite = out[1].message
        #expect(calleeInvite.method == .invite && calleeInvite.requestLine?.requestURIText == "sip:bob@127.0.0.1:40001")
        let headers = String(decoding: calleeInvite.serialized().prefix(while: { $0 != 0x76 }), as: UTF8.self)
        for trace in ["40000", "call-1", "a-tag", "Proxy-Authorization", "Zoiper"] {
            #expect(!headers.contains(trace), "bob would see \(trace)")
        }
        #expect(try calleeInvite.from().uri.description == "sip:alice@localhost")
        #expect(try calleeInvite.from().displayName == "Alice A.")

        // Bob answers; alice gets the 200 on her own dialog.
        let answer = try calleeInvite.makeResponse(
            status: 200, toTag: "bob-tag", extraHeaders: [("Contact", "<sip:bob@127.0.0.1:40001>"),
                                                         ("Content-Type", "application/sdp")],
            body: Array(offer.replacingOccurrences(of: "4000", with: "5000").utf8))
        #expect(try await fixture.send(String(decoding: answer, as: UTF8.self), port: 40_001) == nil)
        out = sent.take()
        #expect(out.map(\.flow) == ["udp:127.0.0.1:40000"])
        let ok = out[0].message
        #expect(try ok.statusCode == 200 && ok.callID() == "call-1")
        let aliceSideTag = try #require(try ok.toTag())

        let ack = "ACK sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKack\r\n"
            + "From: <sip:alice@localhost>;tag=a-tag\r\nTo: <sip:bob@localhost>;tag=\(aliceSideTag)\r\n"
            + "Call-ID: call-1\r\nCSeq: 2 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        #expect(try await fixture.send(ack) == nil)
        #expect(sent.take().map { $0.message.method } == [.ack])
        let bye = ack.replacingOccurrences(of: "ACK", with: "BYE").replacingOccurrences(of: "2 BYE", with: "3 BYE")
            .replacingOccurrences(of: "z9hG4bKBYE", with: "z9hG4bKbye")
        // A BYE that names another dialog (a guessed or stale To tag) ends nothing (RFC 3261 §12.2.2), from either side.
        let calleeBye = "BYE sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:40001;branch=z9hG4bKbb\r\n"
            + "From: <sip:bob@localhost>;tag=bob-tag\r\nTo: <sip:alice@localhost>;tag=not-the-edges\r\n"
            + "Call-ID: \(try calleeInvite.callID())\r\nCSeq: 9 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        #expect(try await fixture.send(calleeBye, port: 40_001)?.statusCode == 481)
        let stray = try await fixture.send(bye.replacingOccurrences(of: "tag=\(aliceSideTag)", with: "tag=guessed"))
        #expect(stray?.statusCode == 481 && fixture.edge.calls.activeCalls == 1)
        #expect(sent.take().isEmpty)
        #expect(try await fixture.send(bye) == nil)
        out = sent.take()
        #expect(out.map(\.flow) == ["udp:127.0.0.1:40000", "udp:127.0.0.1:40001"])
        #expect(out[0].message.statusCode == 200 && out[1].message.method == .bye)
        // The call is forgotten once bob answers the edge's BYE (until then it would be sent again over UDP).
        #expect(fixture.edge.calls.activeCalls == 1)
        let byeAnswer = try out[1].message.makeResponse(status: 200)
        #expect(try await fixture.send(String(decoding: byeAnswer, as: UTF8.self), port: 40_001) == nil)
        #expect(fixture.edge.calls.activeCalls == 0)
        var records: [CallDetailRecord] = []
        for _ in 0..<100 where records.isEmpty {
            records = try await fixture.store.callRecords(matching: CallRecordFilter())
            if records.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(records.first?.disposition == .answered && records.first?.hangupSide == .caller)
        #expect(records.first?.caller == "sip:alice@localhost" && records.first?.callee == "sip:bob@localhost")
        #expect(records.first?.srtpSuite == "AES_CM_128_HMAC_SHA1_80")
    }

    @Test func spoofedCallersPlainMediaAndUnknownCalleesAreRefused() async throws {
        let (fixture, sent) = try await Self.edgeWithBob()
        // Alice's credentials with bob's identity in From: 403 and an event.
        var challenge = try await fixture.send(invite(from: "bob", to: "alice", branch: "s1", cseq: 1))
        let spoofed = try await fixture.send(invite(
            from: "bob", to: "alice", branch: "s2", cseq: 2,
            proxyAuthorization: proxyCredentials(for: challenge, uri: "sip:alice@localhost")))
        #expect(spoofed?.statusCode == 403)
        #expect(fixture.events.kinds.contains("caller-id-spoofing"))
        // Plain RTP: 488 to the caller, nothing to bob.
        challenge = try await fixture.send(invite(branch: "p1", cseq: 3, body: plainOffer))
        #expect(try await fixture.send(invite(branch: "p2", cseq: 4, proxyAuthorization: proxyCredentials(for: challenge),
                                              body: plainOffer)) == nil)
        let out = sent.take()
        #expect(out.map { $0.message.statusCode } == [488])
        #expect(fixture.events.kinds.contains("media-downgrade-attempt"))
        // A user with no binding: 480.
        challenge = try await fixture.send(invite(to: "carol", branch: "c1", cseq: 5))
        let unreachable = try await fixture.send(invite(
            to: "carol", branch: "c2", cseq: 6,
            proxyAuthorization: proxyCredentials(for: challenge, uri: "sip:carol@localhost")))
        #expect(unreachable == nil)
        #expect(sent.take().map { $0.message.statusCode } == [480])
    }

    /// SDP is screened by the address policy for the party that sent it (issue 17): a phone on the Internet may not
    /// point the edge's media at loopback or an internal host, nor a callee at the metadata endpoint; 488, an event,
    /// and nothing reaches the other side. Its own address is fine.
    @Test func mediaAddressesAPartyMayNotNameAreRefusedWith488() async throws {
        let (fixture, sent) = try await Self.edgeWithBob()
        let internet = "198.51.100.7"
        var cseq = 0
        func call(_ body: String) async throws -> [SIPMessage] {
            cseq += 2
            let challenge = try await fixture.send(invite(branch: "m\(cseq)", cseq: cseq, body: body), ip: internet)
            #expect(try await fixture.send(invite(branch: "n\(cseq)", cseq: cseq + 1,
                                                  proxyAuthorization: proxyCredentials(for: challenge), body: body),
                                           ip: internet) == nil)
            return sent.take().map(\.message)
        }
        for named in ["127.0.0.1", "10.0.0.9", "169.254.169.254"] {
            let refused = try await call(offer.replacingOccurrences(of: "127.0.0.1", with: named))
            #expect(refused.map(\.statusCode) == [488], "\(named) from \(internet)")
        }
        #expect(fixture.events.kinds.filter { $0 == "media-address-refused" }.count == 3)
        #expect(fixture.edge.calls.activeCalls == 0)

        // Its own address: the call reaches bob; bob (on loopback) answering with the metadata endpoint takes it down.
        let placed = try await call(offer.replacingOccurrences(of: "127.0.0.1", with: internet))
        #expect(placed.map(\.statusCode) == [100, nil])
        let calleeInvite = try #require(placed.last)
        let answer = try calleeInvite.makeResponse(
            status: 200, toTag: "bob-tag", extraHeaders: [("Contact", "<sip:bob@127.0.0.1:40001>"),
                                                         ("Content-Type", "application/sdp")],
            body: Array(offer.replacingOccurrences(of: "127.0.0.1", with: "169.254.169.254").utf8))
        #expect(try await fixture.send(String(decoding: answer, as: UTF8.self), port: 40_001) == nil)
        let out = sent.take()
        #expect(out.map(\.message.method) == [.ack, .bye, nil], "bob's dialog is acknowledged and ended")
        #expect(out.last?.flow == "udp:\(internet):40000" && out.last?.message.statusCode == 488)
        #expect(fixture.events.kinds.filter { $0 == "media-address-refused" }.count == 4)
    }

    /// Copies of an authenticated INVITE over UDP (Timer A before the edge answered, or crossing its final answer)
    /// are one request, not replays (issue 17): the digest check runs once, so no `digest-replay` event; a call
    /// refused at once gives every copy the same answer; a call that rings stays one call; copies handled at the same
    /// moment on several threads are one request too.
    @Test func copiesOfAnAuthenticatedInviteAreOneRequestNotReplays() async throws {
        let (fixture, sent) = try await Self.edgeWithBob()
        var challenge = try await fixture.send(invite(to: "carol", branch: "r1", cseq: 1))
        let refused = invite(to: "carol", branch: "r2", cseq: 2,
                             proxyAuthorization: try proxyCredentials(for: challenge, uri: "sip:carol@localhost"))
        #expect(try await fixture.send(refused) == nil)
        #expect(sent.take().map(\.message.statusCode) == [480])
        for _ in 0..<3 { #expect(try await fixture.send(refused)?.statusCode == 480, "the same answer again") }

        challenge = try await fixture.send(invite(branch: "c1", cseq: 3))
        let ringing = invite(branch: "c2", cseq: 4, proxyAuthorization: try proxyCredentials(for: challenge))
        #expect(try await fixture.send(ringing) == nil)
        #expect(sent.take().map(\.flow) == ["udp:127.0.0.1:40000", "udp:127.0.0.1:40001"], "100 Trying, bob's INVITE")
        for _ in 0..<3 { #expect(try await fixture.send(ringing) == nil) }
        #expect(sent.take().allSatisfy { $0.message.method != .invite }, "bob is not called again")
        #expect(fixture.edge.calls.activeCalls == 1)

        // Another call (its own Call-ID) whose copies arrive together.
        challenge = try await fixture.send(invite(to: "carol", branch: "k1", cseq: 5)
            .replacingOccurrences(of: "call-1", with: "call-2"))
        let concurrent = invite(to: "carol", branch: "k2", cseq: 6,
                                proxyAuthorization: try proxyCredentials(for: challenge, uri: "sip:carol@localhost"))
            .replacingOccurrences(of: "call-1", with: "call-2")
        let answers = try await withThrowingTaskGroup(of: Int?.self) { group in
            for _ in 0..<4 { group.addTask { try await fixture.send(concurrent)?.statusCode } }
            return try await group.reduce(into: [Int?]()) { $0.append($1) }
        }
        let sentNow = sent.take().map(\.message.statusCode)
        #expect(sentNow == [480] && answers.allSatisfy { $0 == nil || $0 == 480 }, "\(answers) \(sentNow)")
        #expect(!fixture.events.kinds.contains("digest-replay"), "\(fixture.events.kinds)")
    }

    /// A trunk is held to its own budgets, not to the rules for unknown sources (issue 17): `max_cps` new calls a
    /// second (a burst of as many), then 503 with Retry-After; `max_calls` at once. Its address is never banned
    /// automatically.
    @Test func aTrunkHasItsOwnBudgetsAndIsNeverBannedByTheRules() async throws {
        var carrier = Trunk(name: "carrier", flow: SIPFlow("udp:127.0.0.2:5060")!, prefixes: ["+"],
                            mediaPolicy: MediaPolicy(allowsPlainRTP: true))
        carrier.maxCallsPerSecond = 3
        carrier.maxCalls = 5
        let (fixture, sent) = try await Self.edgeWithBob(EdgeService.Configuration(trunks: [carrier]))
        func trunkCall(_ index: Int) async throws -> SIPMessage? {
            try await fixture.send(invite(branch: "t\(index)", cseq: 1, body: plainOffer)
                .replacingOccurrences(of: "call-1", with: "trunk-call-\(index)")
                .replacingOccurrences(of: "a-tag", with: "tag-\(index)"), ip: "127.0.0.2")
        }
        for index in 0..<3 { #expect(try await trunkCall(index) == nil, "call \(index) goes to bob") }
        #expect(sent.take().filter { $0.message.method == .invite }.count == 3)
        let refused = try await trunkCall(3)
        #expect(refused?.statusCode == 503 && refused?.firstField(.retryAfter) != nil, "over max_cps")
        fixture.clock.advance(milliseconds: 700)  // two more tokens at 3 a second
        for index in 4..<6 { #expect(try await trunkCall(index) == nil) }
        #expect(fixture.edge.calls.activeCalls == 5)
        fixture.clock.advance(milliseconds: 400)
        #expect(try await trunkCall(6)?.statusCode == 503, "over max_calls: five ring already")

        // The rules would ban its address (an extension sweep by an unknown source): they withhold it and say so.
        var guardConfiguration = AttackGuard.Configuration()
        guardConfiguration.protectedSources = try NetworkList(parsing: ["127.0.0.2"])
        var attackGuard = AttackGuard(configuration: guardConfiguration)
        var outcomes: [AttackGuard.Outcome] = []
        for number in 0..<10 {
            let probe = AttackGuard.Probe(targetUser: Substring("+1555\(number)"), targetsAddressOrForeignDomain: false) {
                _ in nil
            }
            outcomes.append(attackGuard.inspect(probe, source: IPAddress("127.0.0.2")!, epochSeconds: 1_800_000_000))
        }
        #expect(outcomes.flatMap(\.newBans).isEmpty && attackGuard.bans.isEmpty)
        #expect(outcomes.last?.events.map(\.kind) == [.scannerDetected, .banWithheld])
    }

    /// A registered Contact cannot aim the edge anywhere (issue 17): when a TLS registration's connection has closed
    /// the edge connects to the Contact only at the address the registration came from, never to another host, a
    /// trunk's address or its own listener; such a callee is unreachable (480) rather than a pivot.
    @Test func aContactIsReachedOnlyWhereItsRegistrationCameFrom() async throws {
        let carrier = Trunk(name: "carrier", flow: SIPFlow("tls:127.0.0.2:5061")!, prefixes: ["+"])
        let fixture = try await EdgeFixture(configuration: EdgeService.Configuration(trunks: [carrier]))
        for name in ["carol", "dave", "erin"] {
            try await fixture.store.saveAccount(Account(
                username: name, domain: "localhost",
                ha1ByAlgorithm: DigestHA1.storedValues(username: name, realm: "localhost", password: "secret")))
        }
        fixture.edge.calls.listening(on: [.init(address: IPAddress("127.0.0.1")!, port: 5061)])
        let sent = SentMessages()
        let connections = Mutex<[String]>([])
        fixture.edge.calls.attach(sender: { sent.append($0, $1) }, connector: { bytes, flow in
            connections.withLock { $0.append(flow.description) }
            return sent.append(bytes, flow)
        }, isOpen: { $0.transport == .udp }, addresses: { flow in
            SIPLocalAddress(host: .ipv4(0x7F00_0001), port: 5060, transport: flow.transport.rawValue)
        })
        // Each registers over TLS from 127.0.0.1 (bob) or the trunk's address (erin); the connections then close.
        let registrations = [("bob", "127.0.0.1", "<sip:bob@127.0.0.1:5071;transport=tls>"),
                             ("carol", "127.0.0.1", "<sip:carol@127.0.0.9:5071;transport=tls>"),
                             ("dave", "127.0.0.1", "<sip:dave@127.0.0.1:5061;transport=tls>"),
                             ("erin", "127.0.0.2", "<sip:erin@127.0.0.2:5061;transport=tls>")]
        for (index, (user, ip, contact)) in registrations.enumerated() {
            let challenge = try await fixture.send(register(user: user, branch: "c\(index)", cseq: 1, callID: "r-\(user)",
                                                            contact: contact), transport: .tls, port: 41_000 + index, ip: ip)
            let ok = try await fixture.send(register(
                user: user, branch: "d\(index)", cseq: 2, callID: "r-\(user)", contact: contact,
                authorization: credentials(for: challenge, username: user)), transport: .tls, port: 41_000 + index, ip: ip)
            #expect(ok?.statusCode == 200, "\(user)")
        }
        for (index, (user, _, _)) in registrations.enumerated() {
            let call = { (branch: String, cseq: Int, auth: String?) in
                invite(to: user, branch: branch, cseq: cseq, proxyAuthorization: auth)
                    .replacingOccurrences(of: "call-1", with: "call-to-\(user)")
            }
            let challenge = try await fixture.send(call("x\(index)", 1, nil))
            #expect(try await fixture.send(call("y\(index)", 2, try proxyCredentials(
                for: challenge, uri: "sip:\(user)@localhost"))) == nil)
        }
        let outcomes = sent.take().filter { $0.flow.hasPrefix("udp:127.0.0.1:40000") }.compactMap(\.message.statusCode)
        #expect(connections.withLock { $0 } == ["tls:127.0.0.1:5071"], "only bob's Contact, at his own address")
        #expect(outcomes == [100, 480, 480, 480], "\(outcomes)")
    }

    /// alice's INVITE or SUBSCRIBE (Expires: 86400) to `uri`, sent again with her credentials after the edge's 407;
    /// the edge's answer to the second (nil: none yet, the request went on).
    static func authenticated(_ method: String, _ index: Int, uri: String = "sip:bob@localhost",
                              algorithm: DigestAlgorithm = DigestAlgorithm.Insecure.md5,
                              via fixture: EdgeFixture) async throws -> SIPMessage? {
        var text = invite(branch: "\(method)\(index)a", cseq: 1, body: "")
            .replacingOccurrences(of: "call-1", with: "\(method)-\(index)")
        if method == "SUBSCRIBE" {
            text = text.replacingOccurrences(of: "INVITE", with: "SUBSCRIBE")
                .replacingOccurrences(of: "Content-Type: application/sdp\r\n",
                                      with: "Event: presence\r\nExpires: 86400\r\n")
        }
        let challenge = try await fixture.send(text)
        let method = method == "SUBSCRIBE" ? "SUBSCRIBE" : "INVITE"
        let ha1 = DigestHA1(algorithm: algorithm, username: "alice", realm: "localhost", password: "secret")
        let proxyChallenge = try #require(try challenge?.digestChallenges(proxy: true).first {
            $0.effectiveAlgorithm == algorithm
        })
        let authorization = try DigestCredentials(answering: proxyChallenge, ha1: ha1, method: method, uri: uri,
                                                  cnonce: "c0ffee", nonceCount: DigestNonceCount(1)).serialized()
        let authorized = text.replacingOccurrences(of: "CSeq: 1", with: "CSeq: 2")
            .replacingOccurrences(of: "a;rport", with: "b;rport")
            .replacingOccurrences(of: "Content-Length:", with: "Proxy-Authorization: \(authorization)\r\nContent-Length:")
        return try await fixture.send(authorized)
    }

    /// Deadlines run on the monotonic clock (issue 18): a ringing call's timeout is not fired by the wall clock
    /// stepping an hour ahead, and fires once the monotonic clock has passed it (the caller gets 408).
    @Test func aWallClockStepNeitherFiresNorHoldsADeadline() async throws {
        var configuration = EdgeService.Configuration()
        configuration.ringTimeoutSeconds = 30
        let (fixture, sent) = try await Self.edgeWithBob(configuration)
        // Short timers (retransmissions) never fire here; long ones wait in the calls' deadline table.
        fixture.edge.calls.attach(sender: { sent.append($0, $1) }, addresses: { flow in
            SIPLocalAddress(host: .ipv4(0x7F00_0001), port: 5060, transport: flow.transport.rawValue)
        }, scheduler: { _, _ in })
        #expect(try await Self.authenticated("INVITE", 0, via: fixture) == nil, "the call rings at bob")
        _ = sent.take()
        fixture.clock.epoch.withLock { $0 += 3_600 }
        fixture.edge.calls.fireDueTimers(edge: fixture.edge)
        #expect(!sent.take().contains { $0.message.statusCode == 408 }, "an hour of wall clock is no time here")
        fixture.clock.advance(milliseconds: 31_000)
        fixture.edge.calls.fireDueTimers(edge: fixture.edge)
        #expect(sent.take().contains { $0.message.statusCode == 408 }, "thirty-one seconds later it has rung out")
    }

    /// The downgrade pin is earned by any request a strong digest authenticates, not by REGISTER alone, and it is
    /// stored: alice's SHA-256 INVITE pins her account in the store, so a restart keeps refusing her MD5.
    @Test func aCallWithAStrongDigestPinsTheAccountInTheStore() async throws {
        let (fixture, _) = try await Self.edgeWithBob()
        #expect(try await fixture.store.account(username: "alice", domain: "localhost")?.strongDigestOnly == false)
        #expect(try await Self.authenticated("INVITE", 0, algorithm: .sha256, via: fixture) == nil)
        var pinned = false
        for _ in 0..<100 where !pinned {
            pinned = try await fixture.store.account(username: "alice", domain: "localhost")?.strongDigestOnly == true
            if !pinned { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(pinned)
    }

    /// Who may watch whom (issue 17): with `subscriptions = "listed"` alice may subscribe to bob only once she is
    /// one of his watchers, and with "off" nobody may; a refused SUBSCRIBE never reaches bob.
    @Test func onlyPermittedWatchersMaySubscribe() async throws {
        for (policy, allowed) in [
            (CallRouter.WatchPolicy(mode: .listed, watchers: ["bob": ["carol"]]), false),
            (CallRouter.WatchPolicy(mode: .listed, watchers: ["bob": ["alice"]]), true),
            (CallRouter.WatchPolicy(mode: .off, watchers: ["bob": ["alice"]]), false),
            (CallRouter.WatchPolicy(), true),
        ] {
            var configuration = EdgeService.Configuration()
            configuration.watchPolicy = policy
            let (fixture, sent) = try await Self.edgeWithBob(configuration)
            let answer = try await Self.authenticated("SUBSCRIBE", 0, via: fixture)
            #expect(answer?.statusCode == (allowed ? nil : 403), "\(policy)")
            #expect(sent.take().contains { $0.message.method == .subscribe } == allowed, "\(policy)")
        }
        #expect(!CallRouter.WatchPolicy().permits(watcher: nil, watched: "bob"), "a trunk watches nobody")
    }

    /// What one account may hold (issue 17): calls and subscriptions are counted apart, each up to its limit (503
    /// and a `rate-limited` event beyond), and a subscription is asked for no longer than the edge keeps one.
    @Test func anAccountHoldsAtMostItsShareOfCallsAndSubscriptions() async throws {
        var configuration = EdgeService.Configuration()
        configuration.accountLimits = CallRouter.AccountLimits(calls: 2, subscriptions: 2, subscriptionSeconds: 600)
        let (fixture, sent) = try await Self.edgeWithBob(configuration)
        func place(_ method: String, _ index: Int) async throws -> SIPMessage? {
            try await Self.authenticated(method, index, via: fixture)
        }
        for index in 0..<2 { #expect(try await place("SUBSCRIBE", index) == nil) }
        let subscriptions = sent.take().filter { $0.message.method == .subscribe }
        #expect(subscriptions.count == 2)
        #expect(subscriptions.allSatisfy { $0.message.firstField(.expires)?.value == "600" }, "asked for 86400")
        #expect(try await place("SUBSCRIBE", 2)?.statusCode == 503, "a third subscription")
        for index in 0..<2 { #expect(try await place("INVITE", index) == nil, "calls are counted apart") }
        #expect(sent.take().filter { $0.message.method == .invite }.count == 2)
        #expect(try await place("INVITE", 2)?.statusCode == 503, "a third call")
        #expect(fixture.events.kinds.filter { $0 == "rate-limited" }.count == 2)
    }

    /// Towards a carrier only the edge speaks for an account (issue 17): the redirection history, Call-Info and an
    /// Identity a phone wrote never reach the trunk.
    @Test func anAccountsRedirectionHistoryAndIdentityNeverReachATrunk() async throws {
        let carrier = Trunk(name: "carrier", flow: SIPFlow("udp:127.0.0.2:5060")!, prefixes: ["+"])
        var configuration = EdgeService.Configuration(trunks: [carrier])
        configuration.fraud.normalizer = E164Normalizer(countryCode: "1")
        configuration.fraud.destinations = try DestinationRules(homeCountryCode: "1")
        let (fixture, sent) = try await Self.edgeWithBob(configuration)
        let smuggled = [
            "Diversion: <sip:+15550000@localhost>;reason=unconditional", "History-Info: <sip:+15550000@localhost>;index=1",
            "Call-Info: <http://attacker.example/logo.png>;purpose=icon", "Identity: forged.jwt.token;info=<https://x.example/c>",
        ]
        func call(_ branch: String, _ cseq: Int, _ auth: String?) -> String {
            invite(to: "+15551234", branch: branch, cseq: cseq, proxyAuthorization: auth)
                .replacingOccurrences(of: "User-Agent: Zoiper 5", with: smuggled.joined(separator: "\r\n"))
        }
        let challenge = try await fixture.send(call("h1", 1, nil))
        let answer = try await fixture.send(call("h2", 2, try proxyCredentials(for: challenge, uri: "sip:+15551234@localhost")))
        #expect(answer == nil, "\(answer?.statusCode as Any) \(fixture.events.kinds)")
        let toTrunk = try #require(sent.take().first { $0.flow == "udp:127.0.0.2:5060" }?.message)
        #expect(toTrunk.method == .invite)
        for name in ["Diversion", "History-Info", "Call-Info", "Identity"] {
            #expect(toTrunk.fields(named: name).isEmpty, "\(name) reached the trunk")
        }
    }
}
