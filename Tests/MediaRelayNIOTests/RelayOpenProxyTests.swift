import Foundation
import MediaRelayNIO
import NIOCore
import NIOPosix
import SDP
import SecurityPolicy
import Synchronization
import Testing

/// The relay is no open proxy (issue 17): a party cannot make it forward bytes that are not media, nor send to an
/// address its SDP names that never sent anything. Each test sends a marker that must arrive, so that what does
/// not arrive is known to have been dropped rather than late.
@Suite(.serialized) struct RelayOpenProxyTests {
    static let invite = Array("""
        INVITE sip:+4420555@carrier.example SIP/2.0\r
        Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-relay-abuse\r
        From: <sip:attacker@example.com>;tag=1\r
        To: <sip:+4420555@carrier.example>\r
        Call-ID: relay-abuse\r
        CSeq: 1 INVITE\r
        Max-Forwards: 70\r
        Content-Length: 0\r
        \r

        """.utf8)

    /// alice writes a SIP INVITE, a DNS-looking query, a DTLS record and a STUN request into her relay port on a
    /// plain RTP stream, eleven times: bob (who has latched) receives none of them, only alice's RTP marker after them;
    /// they latch nothing, are counted, and the relay reports it once.
    @Test func whatIsNotMediaIsDroppedAndReported() async throws {
        try await Self.withCall(ports: 20_700...20_709) { call, alice, bob, findings in
            call.signal(.a, rtp: alice.address, rtcp: nil, sendBeforeLatch: true)
            call.signal(.b, rtp: bob.address, rtcp: nil, sendBeforeLatch: true)
            let dns: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 7] + Array("example".utf8) + [0, 0, 1, 0, 1]
            let dtls: [UInt8] = [22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16] + [UInt8](repeating: 1, count: 16)
            let stun: [UInt8] = [0, 1, 0, 0, 0x21, 0x12, 0xA4, 0x42] + [UInt8](repeating: 7, count: 12)
            // An RTCP header whose length runs past the datagram: not plausible.
            let longRTCP: [UInt8] = [0x80, 200, 0x00, 0x40, 0, 0, 0, 1]
            for _ in 0..<11 {
                for hostile in [Self.invite, dns, dtls, stun, longRTCP] { try await alice.send(hostile, to: call.port(for: .a)) }
            }
            try await alice.send(rtp(sequence: 1, ssrc: 9, payload: [1, 2, 3]), to: call.port(for: .a))
            // The marker went last down the same path: once it is at bob, every hostile packet has been judged.
            try await bob.waitFor(1)
            let atBob = bob.received.withLock { $0 }
            #expect(atBob.count == 1 && atBob.first?.bytes == rtp(sequence: 1, ssrc: 9, payload: [1, 2, 3]),
                    "only the RTP marker crossed: \(atBob.map { $0.bytes.prefix(8) })")
            let fromAlice = try #require(call.report().first { $0.side == .a })
            #expect(fromAlice.droppedNotMedia == 55 && fromAlice.relayed == 1, "\(fromAlice.droppedNotMedia)")
            #expect(findings.all == [.notMedia(dropped: RelayCall.notMediaThreshold)])
            #expect(MediaCryptoWatch.Finding.notMedia(dropped: 10).eventKind == .mediaAnomaly)
        }
    }

    /// DTLS on a stream the SDP keyed with DTLS-SRTP is media and crosses; the same record on a plain stream does not.
    @Test func dtlsCrossesOnlyWhereTheSDPKeyedTheStreamWithIt() async throws {
        try await Self.withCall(ports: 20_710...20_719) { call, alice, bob, _ in
            let fingerprint = try SDPFingerprint(parsing: "sha-256 " + Array(repeating: "AB", count: 32).joined(separator: ":"))
            let dtlsKeyed = MediaSecurityClass.dtlsSRTP(fingerprints: [fingerprint])
            call.signal(.a, rtp: alice.address, rtcp: nil, offered: dtlsKeyed, answered: dtlsKeyed, sendBeforeLatch: true)
            call.signal(.b, rtp: bob.address, rtcp: nil, offered: dtlsKeyed, answered: dtlsKeyed, sendBeforeLatch: true)
            let clientHello: [UInt8] = [22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0]
            try await alice.send(clientHello, to: call.port(for: .a))
            try await bob.waitFor(1)
            #expect(bob.received.withLock { $0.map(\.bytes) } == [clientHello])

            call.signal(.a, rtp: alice.address, rtcp: nil, sendBeforeLatch: true)  // re-offered plain
            call.signal(.b, rtp: bob.address, rtcp: nil, sendBeforeLatch: true)
            try await alice.send(clientHello, to: call.port(for: .a))
            try await alice.send(rtp(sequence: 1, ssrc: 9, payload: [1]), to: call.port(for: .a))
            try await bob.waitFor(2)
            #expect(bob.received.withLock { $0.map(\.bytes) } == [clientHello, rtp(sequence: 1, ssrc: 9, payload: [1])])
        }
    }

    /// bob's SDP names a socket that never sends (a carrier's port, a host inside): before it has sent anything the
    /// relay sends it nothing, even valid RTP; once a party at the signalled address sends, it latches and receives.
    @Test func anAddressThatNeverSentReceivesNothingBeforeItLatches() async throws {
        try await Self.withCall(ports: 20_720...20_729) { call, alice, target, _ in
            call.signal(.a, rtp: alice.address, rtcp: nil, sendBeforeLatch: true)
            call.signal(.b, rtp: target.address, rtcp: nil)  // told, not where the party signals from
            for sequence in UInt16(0)..<10 {
                try await alice.send(rtp(sequence: sequence, ssrc: 9, payload: [1, 2, 3]), to: call.port(for: .a))
            }
            // The relay has taken all ten (counted on alice's side) before the target speaks and latches.
            let taken = { call.report().first { $0.side == .a }?.relayed == 10 }
            for _ in 0..<200 where !taken() { try await Task.sleep(for: .milliseconds(10)) }
            #expect(taken())
            try await target.send(rtp(sequence: 1, ssrc: 5, payload: [9]), to: call.port(for: .b))
            try await alice.waitFor(1)
            #expect(alice.received.withLock { $0.count } == 1)
            #expect(target.received.withLock { $0.isEmpty }, "nothing reached an address that had not sent")
            try await alice.send(rtp(sequence: 10, ssrc: 9, payload: [1, 2, 3]), to: call.port(for: .a))
            try await target.waitFor(1)
            #expect(target.received.withLock { $0.count } == 1, "once latched, it receives")
        }
    }

    /// What the relay reported.
    final class Findings: Sendable {
        private let findings = Mutex<[MediaCryptoWatch.Finding]>([])
        func append(_ finding: MediaCryptoWatch.Finding) { findings.withLock { $0.append(finding) } }
        var all: [MediaCryptoWatch.Finding] { findings.withLock { $0 } }
    }

    /// A relay with one call between alice and a second phone (bob, or a target that never sent) on loopback,
    /// stopped and closed after `body`, whatever it threw.
    static func withCall(ports: ClosedRange<UInt16>,
                         _ body: (RelayCall, _ alice: Phone, _ other: Phone, Findings) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let relay = try RelayServer(group: group, host: "127.0.0.1", ports: ports)
        try await relay.start(warmPairs: 2)
        let alice = try await Phone.open("127.0.0.1", group: group), other = try await Phone.open("127.0.0.1", group: group)
        let findings = Findings()
        let call = try #require(relay.makeCall { _, finding in findings.append(finding) })
        var failure: (any Error)?
        do { try await body(call, alice, other, findings) } catch { failure = error }
        await call.close()
        await relay.stop()
        for phone in [alice, other] { await phone.close() }
        try await group.shutdownGracefully()
        if let failure { throw failure }
    }
}
