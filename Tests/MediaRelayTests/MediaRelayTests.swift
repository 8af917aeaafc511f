@testable import MediaRelay
import SDP
import Testing

@Suite struct RelayPortPoolTests {
    @Test func pairsAreHandedOutOnceAndReusedLast() throws {
        var pool = try RelayPortPool(range: 30_001...30_020)
        #expect(pool.range == 30_002...30_020)
        #expect(pool.available == 9, "30002, 30004 ... 30018: each with its odd neighbour inside the range")
        var ports: [UInt16] = []
        while let port = pool.allocate() { ports.append(port) }
        #expect(ports.count == 9 && Set(ports).count == 9)
        #expect(ports.allSatisfy { $0 % 2 == 0 && pool.range.contains($0) && pool.range.contains($0 + 1) })
        #expect(pool.allocate() == nil, "exhausted")
        pool.release(ports[0])
        pool.release(ports[0])
        pool.release(12_345)
        #expect(pool.available == 1)
        #expect(pool.allocate() == ports[0])
        #expect(throws: RelayPortPool.RangeError.self) { try RelayPortPool(range: 30_000...30_000) }
        #expect(throws: RelayPortPool.RangeError.self) { try RelayPortPool(range: 80...1_000) }
        #expect(throws: RelayPortPool.RangeError.self) { try RelayPortPool(range: 65_535...65_535) }
    }

    /// Thousands of calls through a small pool: nothing leaks, and a released port waits behind every other free
    /// one before it comes back.
    @Test func thousandsOfCallsLeakNothing() throws {
        var pool = try RelayPortPool(range: 40_000...40_199)
        var live: [UInt16] = []
        var lastReleased: [UInt16: Int] = [:]
        for call in 0..<20_000 {
            if live.count == 50 || (call % 3 == 0 && !live.isEmpty) {
                let port = live.removeFirst()
                pool.release(port)
                lastReleased[port] = call
            }
            let allocated = pool.allocate()
            let port = try #require(allocated)
            if let released = lastReleased[port] {
                #expect(call - released >= 50, "port \(port) came back after \(call - released) calls")
            }
            live.append(port)
        }
        for port in live { pool.release(port) }
        #expect(pool.allocated == 0 && pool.available == 100)
    }
}

@Suite struct RelayLatchTests {
    static let phone = RelayLatch.Source(address: [203, 0, 113, 5], port: 4_000)
    static let attacker = RelayLatch.Source(address: [198, 51, 100, 66], port: 4_000)
    static let second: Int64 = 1_000_000_000

    /// rtpengine's ES2025-01 lesson: a third party that sends first must not get the stream.
    @Test func aThirdPartyCannotLatchOrInjectWithoutKeys() {
        var latch = RelayLatch(signalled: Self.phone)
        #expect(latch.packet(from: Self.attacker, at: 0, authenticated: nil) == .dropUnlatched)
        #expect(latch.packet(from: RelayLatch.Source(address: [203, 0, 113, 5], port: 61_000), at: 1, authenticated: nil)
                == .relay(latched: true), "the signalled address from another port: the phone behind a NAT")
        for tick in 2..<100 {
            #expect(latch.packet(from: Self.attacker, at: Int64(tick), authenticated: nil) == .dropForeignSource)
        }
        #expect(latch.droppedForeign == 98 && latch.droppedUnlatched == 1 && latch.relatches == 0)
    }

    @Test func withKeysOnlyAuthenticPacketsLatchOrMoveTheLatch() {
        var latch = RelayLatch(signalled: Self.phone)
        #expect(latch.packet(from: Self.phone, at: 0, authenticated: false) == .dropUnlatched, "forged from the right address")
        #expect(latch.packet(from: Self.attacker, at: 1, authenticated: true) == .relay(latched: true),
                "an authentic packet proves the sender, wherever it comes from")
        let moved = RelayLatch.Source(address: [192, 0, 2, 9], port: 5_000)
        #expect(latch.packet(from: moved, at: 2, authenticated: false) == .dropForeignSource)
        #expect(latch.packet(from: moved, at: 3, authenticated: true) == .relay(latched: true), "a NAT rebinding")
        #expect(latch.latched == moved && latch.relatches == 1)
        #expect(latch.packet(from: moved, at: 4, authenticated: false) == .dropUnauthenticated,
                "a forged packet from the latched address itself, counted apart")
        #expect(latch.droppedUnauthenticated == 1 && latch.droppedForeign == 1)
    }

    @Test func withoutKeysTheSignalledAddressRelatchesOnlyAfterSilence() {
        var latch = RelayLatch(signalled: Self.phone)
        #expect(latch.packet(from: Self.phone, at: 0, authenticated: nil) == .relay(latched: true))
        let newPort = RelayLatch.Source(address: Self.phone.address, port: 4_002)
        #expect(latch.packet(from: newPort, at: Self.second, authenticated: nil) == .dropForeignSource, "the old one still talks")
        #expect(latch.packet(from: newPort, at: 4 * Self.second, authenticated: nil) == .relay(latched: true))
        #expect(latch.packet(from: Self.attacker, at: 10 * Self.second, authenticated: nil) == .dropForeignSource,
                "silence alone never hands the stream to another address")
    }

    @Test func aPrivateSignalledAddressLatchesToTheFirstPacketOnlyWhenAllowed() {
        let behindNAT = RelayLatch.Source(address: [192, 168, 1, 20], port: 4_000)
        var strict = RelayLatch(signalled: behindNAT)
        #expect(strict.packet(from: Self.phone, at: 0, authenticated: nil) == .dropUnlatched)
        var lenient = RelayLatch(signalled: behindNAT, allowsPrivateSignalledAddress: true)
        #expect(lenient.packet(from: Self.phone, at: 0, authenticated: nil) == .relay(latched: true))
        #expect(lenient.packet(from: Self.attacker, at: 1, authenticated: nil) == .dropForeignSource)
        var publicAddress = RelayLatch(signalled: Self.phone, allowsPrivateSignalledAddress: true)
        #expect(publicAddress.packet(from: Self.attacker, at: 0, authenticated: nil) == .dropUnlatched,
                "a public signalled address is never replaced by a first packet")
    }

    @Test func aReInviteReleasesTheLatch() {
        var latch = RelayLatch(signalled: Self.phone)
        _ = latch.packet(from: Self.phone, at: 0, authenticated: nil)
        let newPhone = RelayLatch.Source(address: [203, 0, 113, 77], port: 4_000)
        latch.resignal(newPhone)
        #expect(latch.packet(from: Self.phone, at: 1, authenticated: nil) == .dropUnlatched)
        #expect(latch.packet(from: newPhone, at: 2, authenticated: nil) == .relay(latched: true))
    }
}

@Suite struct SDPRelayRewriteTests {
    @Test func endpointsAddressesPortsAndCandidatesAreReplaced() throws {
        let offer = """
            v=0\r
            o=alice 1 1 IN IP4 192.168.1.20\r
            s=-\r
            c=IN IP4 192.168.1.20\r
            t=0 0\r
            a=ice-ufrag:abcd\r
            m=audio 4000 RTP/SAVP 0 8\r
            c=IN IP4 192.168.1.20\r
            a=rtcp:4001 IN IP4 192.168.1.20\r
            a=candidate:1 1 UDP 2130706431 192.168.1.20 4000 typ host\r
            a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r
            m=video 4002 RTP/SAVP 96\r
            a=rtcp-mux\r
            a=rtcp:4002\r
            m=audio 0 RTP/AVP 0\r

            """
        let sdp = try SessionDescription(parsing: offer)
        let rewritten = try SDPRelayRewrite.rewrite(sdp, address: "198.51.100.1", addressType: .ip4,
                                                    ports: [30_000, 30_002, nil]).serialized()
        #expect(!rewritten.contains("192.168.1.20"), "no endpoint address survives")
        #expect(!rewritten.contains("candidate") && !rewritten.contains("ice-ufrag"))
        #expect(rewritten.contains("o=alice 1 1 IN IP4 198.51.100.1"))
        #expect(rewritten.contains("m=audio 30000 RTP/SAVP 0 8"))
        #expect(rewritten.contains("a=rtcp:30001 IN IP4 198.51.100.1"))
        #expect(rewritten.contains("m=video 30002 RTP/SAVP 96"))
        #expect(rewritten.contains("a=rtcp:30002 IN IP4 198.51.100.1"), "rtcp-mux keeps RTCP on the RTP port")
        #expect(rewritten.contains("m=audio 0 RTP/AVP 0"), "a disabled section stays disabled")
        #expect(rewritten.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80"), "SRTP passes through end to end")
        // A live section the relay does not carry keeps the endpoint's own address, never the relay's.
        let partial = try SDPRelayRewrite.rewrite(sdp, address: "198.51.100.1", addressType: .ip4,
                                                  ports: [30_000, nil, nil]).serialized()
        #expect(partial.contains("m=video 4002 RTP/SAVP 96\r\nc=IN IP4 192.168.1.20"))
    }
}

/// Topology hiding of SDP bodies (issue 17): with the relay's identity for a side, the other side learns nothing
/// of the sender's origin, session name, tool or CNAME, and the session id stays the same across re-offers while
/// the version the sender counts passes.
@Suite struct SDPIdentityRewriteTests {
    @Test func theSendersNamesAreReplacedConsistently() throws {
        func offer(version: Int) throws -> SessionDescription {
            try SessionDescription(parsing: [
                "v=0", "o=alice-pc 987654321 \(version) IN IP4 10.1.2.3", "s=Alice's softphone", "c=IN IP4 10.1.2.3",
                "t=0 0", "a=tool:SecretPhone 9.1", "m=audio 4000 RTP/AVP 0", "a=ssrc:1234 cname:alice@10.1.2.3",
                "a=ssrc:1234 msid:stream track", "a=tool:SecretPhone 9.1", "",
            ].joined(separator: "\r\n"))
        }
        let identity = SDPRelayRewrite.Identity(sessionID: 42, canonicalName: "k3x9")
        let first = SDPRelayRewrite.rewrite(try offer(version: 1), address: "198.51.100.1", addressType: .ip4,
                                            ports: [30_000], identity: identity)
        let again = SDPRelayRewrite.rewrite(try offer(version: 2), address: "198.51.100.1", addressType: .ip4,
                                            ports: [30_000], identity: identity)
        let text = try first.serialized()
        for leak in ["alice-pc", "987654321", "Alice", "SecretPhone", "10.1.2.3"] {
            #expect(!text.contains(leak), "\(leak) crossed: \(text)")
        }
        #expect(first.origin.username == "-" && first.origin.sessionID == 42 && first.sessionName == "-")
        #expect(again.origin.sessionID == 42 && again.origin.sessionVersion == 2, "one session, the sender's versions")
        #expect(first.media[0].attributes.filter { $0.name == "ssrc" }.compactMap(\.value)
            == ["1234 cname:k3x9", "1234 msid:stream track"])
        let fresh = SDPRelayRewrite.Identity.random()
        #expect(fresh.sessionID > 0 && fresh.canonicalName.count == 12 && fresh != SDPRelayRewrite.Identity.random())
    }
}
