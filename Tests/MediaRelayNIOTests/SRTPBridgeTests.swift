import CLibSRTPShim
import MediaRelayNIO
import MediaSecurity
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// SRTP terminated at the relay (a trusted legacy trunk behind it): alice's SRTP comes from libsrtp2, the reference
/// implementation, with her own key; bob is plain. What bob receives must be alice's RTP and RTCP in the clear,
/// what alice receives must be bob's, protected under the relay's key as libsrtp2 verifies it; packets that do not
/// authenticate under alice's key go nowhere, even from her address.
@Suite(.serialized) struct SRTPBridgeTests {
    /// A libsrtp2 session (AES_CM_128_HMAC_SHA1_80, any SSRC), freed on deinit.
    final class LibSRTP: @unchecked Sendable {
        let session: UnsafeMutableRawPointer

        init(keyAndSalt: [UInt8], inbound: Bool) throws {
            session = try #require(keyAndSalt.withUnsafeBufferPointer {
                rampart_libsrtp_session(0, 0, $0.baseAddress, inbound ? 1 : 0)
            })
        }

        func apply(_ packet: [UInt8], rtcp: Bool, protect: Bool) -> [UInt8]? {
            var buffer = packet + [UInt8](repeating: 0, count: 64)
            var length = Int32(packet.count)
            let status = buffer.withUnsafeMutableBufferPointer { bytes in
                switch (rtcp, protect) {
                case (false, true): rampart_libsrtp_protect(session, bytes.baseAddress, &length)
                case (false, false): rampart_libsrtp_unprotect(session, bytes.baseAddress, &length)
                case (true, true): rampart_libsrtp_protect_rtcp(session, bytes.baseAddress, &length)
                case (true, false): rampart_libsrtp_unprotect_rtcp(session, bytes.baseAddress, &length)
                }
            }
            return status == 0 ? Array(buffer.prefix(Int(length))) : nil
        }

        deinit { rampart_libsrtp_free(session) }
    }

    @Test func aliceSpeaksSRTPBobPlainRTPAndOnlyAuthenticPacketsCross() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let relay = try RelayServer(group: group, host: "127.0.0.1", ports: 20_600...20_609)
        try await relay.start(warmPairs: 2)
        let alice = try await Phone.open("127.0.0.1", group: group), bob = try await Phone.open("127.0.0.1", group: group)
        let aliceRTCP = try await Phone.open("127.0.0.1", group: group)
        let bobRTCP = try await Phone.open("127.0.0.1", group: group)
        let call = try #require(relay.makeCall())
        call.signal(.a, rtp: alice.address, rtcp: aliceRTCP.address, sendBeforeLatch: true)
        call.signal(.b, rtp: bob.address, rtcp: bobRTCP.address, sendBeforeLatch: true)
        let aliceKey = (0..<30).map { UInt8($0) }, relayKey = (0..<30).map { UInt8(100 + $0) }
        let aliceSRTPPolicy = SRTPPolicy(profile: .aes128CMHMACSHA1_80, masterKey: Array(aliceKey.prefix(16)),
                                         masterSalt: Array(aliceKey.suffix(14)))
        let relaySRTPPolicy = SRTPPolicy(profile: .aes128CMHMACSHA1_80, masterKey: Array(relayKey.prefix(16)),
                                         masterSalt: Array(relayKey.suffix(14)))
        try call.bridge(section: 0, side: .a, inbound: aliceSRTPPolicy, outbound: relaySRTPPolicy)
        #expect(call.isBridged(section: 0))
        let aliceSends = try LibSRTP(keyAndSalt: aliceKey, inbound: false)
        let aliceHears = try LibSRTP(keyAndSalt: relayKey, inbound: true)

        // alice: five SRTP packets, then one forged (her address, a wrong tag), then an SRTCP sender report.
        let spoken = (UInt16(0)..<5).map { rtp(sequence: $0, ssrc: 0xA, payload: [UInt8](repeating: 0xD5, count: 160)) }
        var protectedSpoken: [[UInt8]] = []
        for packet in spoken {
            protectedSpoken.append(try #require(aliceSends.apply(packet, rtcp: false, protect: true)))
            try await alice.send(protectedSpoken.last!, to: call.port(for: .a))
        }
        let firstProtected = protectedSpoken[0]
        var forged = try #require(aliceSends.apply(rtp(sequence: 9, ssrc: 0xA, payload: [1, 2]), rtcp: false, protect: true))
        forged[forged.count - 1] ^= 1
        try await alice.send(forged, to: call.port(for: .a))
        let senderReport: [UInt8] = [0x80, 200, 0, 6, 0, 0, 0, 0x0A, 0xE8, 0xA1, 0, 1, 0, 2, 0, 0]
            + [UInt8](repeating: 0, count: 12)
        try await aliceRTCP.send(try #require(aliceSends.apply(senderReport, rtcp: true, protect: true)),
                                 to: call.port(for: .a) + 1)
        try await bob.waitFor(5)
        try await bobRTCP.waitFor(1)
        // bob: three plain packets back.
        let answered = (UInt16(0)..<3).map { rtp(sequence: $0, ssrc: 0xB, payload: (0..<160).map { UInt8($0) }) }
        for packet in answered { try await bob.send(packet, to: call.port(for: .b)) }
        // Bob's five came before his answers went out: nothing of alice's is still on its way to him.
        try await alice.waitFor(3)

        #expect(bob.received.withLock { $0.map(\.bytes) } == spoken, "bob hears alice's RTP in the clear, no forgery")
        #expect(bobRTCP.received.withLock { $0.map(\.bytes) } == [senderReport], "and her SRTCP as plain RTCP")
        let atAlice = alice.received.withLock { $0.map(\.bytes) }
        #expect(atAlice.count == 3 && atAlice.allSatisfy { !answered.contains($0) }, "never in the clear to alice")
        #expect(atAlice.compactMap { aliceHears.apply($0, rtcp: false, protect: false) } == answered,
                "libsrtp2 verifies and decrypts what the relay protected for alice")
        let fromAlice = try #require(call.report().first { $0.side == .a })
        #expect(fromAlice.relayed == 6 && fromAlice.droppedUnauthenticated == 1 && fromAlice.droppedForeign == 0,
                "the forged packet (from her own address) was dropped as unauthenticated: \(fromAlice)")

        // The same keys again (a repeated answer, a session refresh) keep the sessions: a replay of alice's first
        // packet is still refused, and her next packet still crosses.
        try call.bridge(section: 0, side: .a, inbound: aliceSRTPPolicy, outbound: relaySRTPPolicy)
        try await alice.send(firstProtected, to: call.port(for: .a))
        let next = rtp(sequence: 5, ssrc: 0xA, payload: [UInt8](repeating: 0xD5, count: 160))
        try await alice.send(try #require(aliceSends.apply(next, rtcp: false, protect: true)), to: call.port(for: .a))
        // `next` went after the replay down the same path: its arrival is the evidence that the replay was judged.
        try await bob.waitFor(6)
        #expect(bob.received.withLock { $0.map(\.bytes) } == spoken + [next], "the replay went nowhere")
        await call.close()
        await relay.stop()
        for phone in [alice, bob, aliceRTCP, bobRTCP] { await phone.close() }
        try await group.shutdownGracefully()
    }
}
