import Foundation
import MediaRelayNIO
import NIOCore
import NIOPosix
import SDP
import SecurityPolicy
import Synchronization
import Testing

/// A UDP endpoint on loopback that records what it receives and from where.
final class Phone: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let received = Mutex<[(from: SocketAddress, bytes: [UInt8])]>([])
    let channel = Mutex<(any Channel)?>(nil)

    static func open(_ host: String, group: any EventLoopGroup) async throws -> Phone {
        let phone = Phone()
        let channel = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(phone) }
            }
            .bind(host: host, port: 0).get()
        phone.channel.withLock { $0 = channel }
        return phone
    }

    var address: SocketAddress { channel.withLock { $0!.localAddress! } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        received.withLock { $0.append((envelope.remoteAddress, Array(envelope.data.readableBytesView))) }
    }

    func send(_ bytes: [UInt8], to port: UInt16, host: String = "127.0.0.1") async throws {
        let channel = channel.withLock { $0! }
        try await channel.writeAndFlush(AddressedEnvelope(
            remoteAddress: try SocketAddress(ipAddress: host, port: Int(port)), data: ByteBuffer(bytes: bytes)))
    }

    /// Sends all of `datagrams` with one flush (NIO's sendmmsg), so that they arrive together.
    func sendBurst(_ datagrams: [[UInt8]], to port: UInt16) async throws {
        let channel = channel.withLock { $0! }
        let destination = try SocketAddress(ipAddress: "127.0.0.1", port: Int(port))
        let writes = datagrams.map { channel.write(AddressedEnvelope(remoteAddress: destination, data: ByteBuffer(bytes: $0))) }
        channel.flush()
        for write in writes { try await write.get() }
    }

    func close() async { try? await channel.withLock { $0 }?.close() }

    /// Waits (at most 2 s) until `count` datagrams have arrived.
    func waitFor(_ count: Int) async throws {
        for _ in 0..<200 where received.withLock({ $0.count }) < count { try await Task.sleep(for: .milliseconds(10)) }
    }
}

func rtp(sequence: UInt16, ssrc: UInt32, payload: [UInt8]) -> [UInt8] {
    [0x80, 0x08, UInt8(sequence >> 8), UInt8(truncatingIfNeeded: sequence), 0, 0, UInt8(truncatingIfNeeded: sequence >> 8),
     UInt8(truncatingIfNeeded: sequence), UInt8(ssrc >> 24), UInt8(truncatingIfNeeded: ssrc >> 16),
     UInt8(truncatingIfNeeded: ssrc >> 8), UInt8(truncatingIfNeeded: ssrc)] + payload
}

@Suite(.serialized) struct RelayCallTests {
    /// Alice and Bob talk through the relay; each sees only the relay's ports; a third party on another address
    /// is dropped; two packets Alice never sent are counted as lost; closing returns the ports.
    @Test func mediaFlowsThroughTheRelayOnlyAndInjectionIsDropped() async throws {
        // (A warm pool: the call's ports are bound before the INVITE that needs them.)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let relay = try RelayServer(group: group, host: "127.0.0.1", ports: 20_000...20_099)
        try await relay.start(warmPairs: 4)
        #expect(relay.warmPairs == 4 && relay.availablePairs == 46)
        let alice = try await Phone.open("127.0.0.1", group: group), bob = try await Phone.open("127.0.0.1", group: group)
        let attacker = try await Phone.open("127.0.0.2", group: group)
        let findings = Mutex<[MediaCryptoWatch.Finding]>([])
        let call = try #require(relay.makeCall { _, finding in findings.withLock { $0.append(finding) } })
        let sdes = MediaSecurityClass.sdesSRTP(suites: [SRTPCryptoSuite(name: "AES_CM_128_HMAC_SHA1_80")])
        call.signal(.a, rtp: alice.address, rtcp: nil, offered: sdes, answered: sdes, sendBeforeLatch: true)
        call.signal(.b, rtp: bob.address, rtcp: nil, offered: sdes, answered: sdes, sendBeforeLatch: true)
        let portA = call.port(for: .a), portB = call.port(for: .b)

        // Alice sends 50 packets but 10 and 20 are "lost"; her payload is plain although SRTP was negotiated.
        for sequence in UInt16(0)..<50 where sequence != 10 && sequence != 20 {
            try await alice.send(rtp(sequence: sequence, ssrc: 1, payload: [UInt8](repeating: 0xD5, count: 160)), to: portA)
        }
        try await bob.waitFor(48)
        // A third party injects on Alice's relay port: nothing reaches Bob.
        for sequence in UInt16(100)..<120 {
            try await attacker.send(rtp(sequence: sequence, ssrc: 666, payload: [1, 2, 3]), to: portA)
        }
        for sequence in UInt16(0)..<10 {
            try await bob.send(rtp(sequence: sequence, ssrc: 2, payload: (0..<160).map { UInt8($0) }), to: portB)
        }
        try await alice.waitFor(10)
        // The evidence that the twenty injected packets arrived and went nowhere: the relay counts each as foreign.
        let foreign = { call.report().filter { $0.side == .a }.reduce(0) { $0 + $1.droppedForeign } }
        for _ in 0..<200 where foreign() < 20 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(foreign() == 20)

        let atBob = bob.received.withLock { $0 }, atAlice = alice.received.withLock { $0 }
        #expect(atBob.count == 48)
        #expect(atBob.allSatisfy { $0.from.port == Int(portB) }, "Bob hears only the relay's side-B port")
        #expect(atBob.allSatisfy { $0.bytes.count == 172 && $0.bytes[11] == 1 }, "no injected packet reached Bob")
        #expect(atAlice.count == 10 && atAlice.allSatisfy { $0.from.port == Int(portA) })
        #expect(attacker.received.withLock { $0.isEmpty })

        let report = call.report()
        #expect(report[0].relayed == 48)
        #expect(report[0].droppedForeign == 20)
        #expect(report[0].statistics.received == 48 && report[0].statistics.lost == 2)
        #expect(report[1].statistics.received == 10 && report[1].statistics.lost == 0)
        #expect((report[0].meanOpinionScore ?? 0) < (report[1].meanOpinionScore ?? 0), "loss lowers Alice's MOS")
        #expect(findings.withLock { $0.contains { $0.eventKind == .mediaNotEncrypted } },
                "plain G.711 octets on a stream negotiated as SRTP")
        #expect(call.silence(of: .a) < .seconds(5))

        await call.close()
        for _ in 0..<100 where relay.warmPairs < 4 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(relay.warmPairs == 4, "refilled in the background")
        #expect(relay.availablePairs == 46, "the call's two pairs returned, two others bound in their place")
        await relay.stop()
        #expect(relay.availablePairs == 50)
        for phone in [alice, bob, attacker] { await phone.close() }
        try await group.shutdownGracefully()
    }

    /// Datagrams that arrive together, full size: each must arrive whole (a receive buffer too small for them once
    /// cut them short, with recvmmsg).
    @Test func fullSizeDatagramsInABurstArriveWhole() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let relay = try RelayServer(group: group, host: "127.0.0.1", ports: 20_300...20_309)
        try await relay.start(warmPairs: 2)
        let alice = try await Phone.open("127.0.0.1", group: group), bob = try await Phone.open("127.0.0.1", group: group)
        let call = try #require(relay.makeCall())
        call.signal(.a, rtp: alice.address, rtcp: nil, offered: .plainRTP, answered: .plainRTP, sendBeforeLatch: true)
        call.signal(.b, rtp: bob.address, rtcp: nil, offered: .plainRTP, answered: .plainRTP, sendBeforeLatch: true)
        let sent = (UInt16(0)..<40).map { sequence in
            rtp(sequence: sequence, ssrc: 7, payload: (0..<1_400).map { UInt8(truncatingIfNeeded: $0 &+ Int(sequence)) })
        }
        try await alice.sendBurst(sent, to: call.port(for: .a))
        try await bob.waitFor(sent.count)
        let atBob = bob.received.withLock { $0.map(\.bytes) }
        #expect(atBob.count == sent.count)
        let whole = Set(atBob) == Set(sent)
        #expect(whole, "every datagram arrives with all its octets; sizes seen: \(Set(atBob.map(\.count)).sorted())")
        await call.close()
        await relay.stop()
        for phone in [alice, bob] { await phone.close() }
        try await group.shutdownGracefully()
    }

    /// An IPv4 phone calls an IPv6 one: each side's ports are on the relay's address of that phone's family, and
    /// media crosses between the families both ways.
    @Test func mediaCrossesAddressFamilies() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let relay4 = try RelayServer(group: group, host: "127.0.0.1", ports: 20_400...20_409)
        let relay6 = try RelayServer(group: group, host: "::1", ports: 20_400...20_409)
        try await relay4.start(warmPairs: 2)
        try await relay6.start(warmPairs: 2)
        let alice = try await Phone.open("127.0.0.1", group: group), bob = try await Phone.open("::1", group: group)
        let call = try #require(RelayServer.makeCall(a: relay4, b: relay6))
        #expect(relay4.warmPairs == 1 && relay6.warmPairs == 1, "one pair from each family's pool")
        call.signal(.a, rtp: alice.address, rtcp: nil, sendBeforeLatch: true)
        call.signal(.b, rtp: bob.address, rtcp: nil, sendBeforeLatch: true)
        for sequence in UInt16(0)..<5 {
            try await alice.send(rtp(sequence: sequence, ssrc: 1, payload: [1, 2, 3]), to: call.port(for: .a))
            try await bob.send(rtp(sequence: sequence, ssrc: 2, payload: [4, 5, 6]), to: call.port(for: .b), host: "::1")
        }
        try await bob.waitFor(5)
        try await alice.waitFor(5)
        let atBob = bob.received.withLock { $0 }, atAlice = alice.received.withLock { $0 }
        #expect(atBob.count == 5 && atBob.allSatisfy { $0.from.ipAddress == "::1" && $0.from.port == Int(call.port(for: .b)) })
        #expect(atAlice.count == 5
            && atAlice.allSatisfy { $0.from.ipAddress == "127.0.0.1" && $0.from.port == Int(call.port(for: .a)) })
        await call.close()
        let returned = { (relay: RelayServer) in relay.availablePairs + relay.warmPairs == 5 }
        for _ in 0..<100 where !returned(relay4) || !returned(relay6) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(returned(relay4) && returned(relay6), "each pair went back to its own pool (five pairs in each range)")
        await relay4.stop()
        await relay6.stop()
        for phone in [alice, bob] { await phone.close() }
        try await group.shutdownGracefully()
    }

    /// Plain RTCP is read as it passes: bob's receiver report about alice's stream becomes her stream's reported
    /// figures, and the round trip comes from the sender report it names (LSR) less bob's stated delay (DLSR).
    @Test func plainRTCPReportsReachTheStreamTheyDescribe() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let relay = try RelayServer(group: group, host: "127.0.0.1", ports: 20_500...20_509)
        try await relay.start(warmPairs: 2)
        let alice = try await Phone.open("127.0.0.1", group: group), bob = try await Phone.open("127.0.0.1", group: group)
        let aliceRTCP = try await Phone.open("127.0.0.1", group: group), bobRTCP = try await Phone.open("127.0.0.1", group: group)
        let copies = Mutex<[RelayCall.RTCPCopy]>([])
        let made = RelayServer.makeCall(a: relay, b: relay, onRTCP: { copy in copies.withLock { $0.append(copy) } })
        let call = try #require(made)
        call.signal(.a, rtp: alice.address, rtcp: aliceRTCP.address, sendBeforeLatch: true)
        call.signal(.b, rtp: bob.address, rtcp: bobRTCP.address, sendBeforeLatch: true)
        try await alice.send(rtp(sequence: 1, ssrc: 0xA11CE, payload: [1, 2, 3]), to: call.port(for: .a))
        try await bob.waitFor(1)
        // alice's sender report, then bob's receiver report naming it, sent (he says) 5 ms after he got it.
        // SR: V=2, no blocks, 6 words after the header: SSRC, NTP E8A10001 00020000, RTP time, counts.
        let senderReport: [UInt8] = [0x80, 200, 0, 6, 0, 0x0A, 0x11, 0xCE, 0xE8, 0xA1, 0, 1, 0, 2, 0, 0]
            + [UInt8](repeating: 0, count: 12)
        let clock = ContinuousClock(), sent = clock.now
        try await aliceRTCP.send(senderReport, to: call.port(for: .a) + 1)
        try await bobRTCP.waitFor(1)
        try await Task.sleep(for: .milliseconds(20))
        // RR with one block about alice: fraction 128/256, 7 lost, jitter 160, LSR 00010002, DLSR 327/65536 s.
        let receiverReport: [UInt8] = [0x81, 201, 0, 7, 0, 0, 0x0B, 0x0B, 0, 0x0A, 0x11, 0xCE, 128, 0, 0, 7,
                                       0, 1, 0x11, 0x70, 0, 0, 0, 160, 0, 1, 0, 2, 0, 0, 0x01, 0x47]
        try await bobRTCP.send(receiverReport, to: call.port(for: .b) + 1)
        try await aliceRTCP.waitFor(1)
        let elapsed = clock.now - sent
        let fromAlice = try #require(call.report().first { $0.side == .a })
        let reported = try #require(fromAlice.receiverReport)
        #expect(reported.reports == 1 && reported.fractionLost == 0.5 && reported.cumulativeLost == 7)
        #expect(reported.jitterMilliseconds == 20, "160 timestamp units at 8 kHz")
        let roundTrip = try #require(reported.roundTripMilliseconds)
        // At least the 20 ms bob waited less the 5 ms he owns up to; at most what the test saw less those 5 ms.
        #expect(roundTrip >= 14.9 && roundTrip <= Double(elapsed.components.attoseconds) / 1e15
            + Double(elapsed.components.seconds) * 1_000 - 4.9, "\(roundTrip) ms in \(elapsed)")
        #expect(call.report().first { $0.side == .b }?.receiverReport == nil, "nobody reported on bob's stream")
        // Both reports were handed on for a HEP copy: who sent each, from where, to which relay port.
        let handed = copies.withLock { $0 }
        #expect(handed.map(\.side) == [.a, .b] && handed.map(\.report.packetType) == [200, 201])
        #expect(handed[0].source == aliceRTCP.address && handed[1].source == bobRTCP.address)
        #expect(handed[0].destination?.port == Int(call.port(for: .a)) + 1
            && handed[1].destination?.port == Int(call.port(for: .b)) + 1)
        #expect(handed[0].report.senderInfo?.ntpSeconds == 0xE8A1_0001)
        await call.close()
        await relay.stop()
        for phone in [alice, bob, aliceRTCP, bobRTCP] { await phone.close() }
        try await group.shutdownGracefully()
    }

    /// Thousands of calls made, used and closed: every port goes back, every socket is closed, and no call outlives
    /// its close (nothing keeps a reference to it: no cycle through the sockets' handlers).
    @Test func thousandsOfCallsLeakNoPortSocketOrCall() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let alice = try await Phone.open("127.0.0.1", group: group), bob = try await Phone.open("127.0.0.1", group: group)
        /// The process's open descriptors and what each is (sockets by inode).
        func openDescriptors() -> Set<String> {
            Set(((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap {
                try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)
            })
        }
        let descriptorsBefore = openDescriptors()
        let relay = try RelayServer(group: group, host: "127.0.0.1", ports: 22_000...22_199)
        try await relay.start(warmPairs: 16)
        final class Weak: @unchecked Sendable { weak var call: RelayCall? }
        var closed: [Weak] = []
        for round in 0..<2_000 {
            var made: RelayCall?
            for _ in 0..<200 where made == nil {
                made = relay.makeCall()
                if made == nil { try await Task.sleep(for: .milliseconds(1)) }  // the pool refills in the background
            }
            let call = try #require(made, "round \(round): the relay ran out of ports")
            call.signal(.a, rtp: alice.address, rtcp: nil, sendBeforeLatch: true)
            call.signal(.b, rtp: bob.address, rtcp: nil, sendBeforeLatch: true)
            if round % 100 == 0 {
                try await alice.send(rtp(sequence: 1, ssrc: 1, payload: [1]), to: call.port(for: .a))
                try await bob.waitFor(round / 100 + 1)
            }
            await call.close()
            let weak = Weak()
            weak.call = call
            closed.append(weak)
        }
        #expect(bob.received.withLock { $0.count } == 20, "a packet every hundredth call crossed")
        for _ in 0..<200 where relay.warmPairs < 16 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(relay.availablePairs + relay.warmPairs == 100, "every port pair of the range is free or warm")
        #expect(closed.allSatisfy { $0.call == nil }, "closed calls are freed")
        await relay.stop()
        #expect(relay.availablePairs == 100)
        let sockets = { openDescriptors().subtracting(descriptorsBefore).filter { $0.hasPrefix("socket:") } }
        for _ in 0..<100 where !sockets().isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        #expect(sockets().isEmpty, "no socket left open")
        for phone in [alice, bob] { await phone.close() }
        try await group.shutdownGracefully()
    }

    /// Four pairs make two calls; a third finds none (and says so instead of waiting); closing one lets the pool
    /// bind again.
    @Test func anExhaustedRelayRefusesAndRecovers() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let relay = try RelayServer(group: group, host: "127.0.0.1", ports: 20_200...20_207)
        try await relay.start(warmPairs: 4)
        let first = try #require(relay.makeCall()), second = try #require(relay.makeCall())
        #expect(relay.makeCall() == nil)
        await first.close()
        for _ in 0..<100 where relay.warmPairs < 2 { try await Task.sleep(for: .milliseconds(10)) }
        let third = try #require(relay.makeCall(), "ports came back and were bound again")
        #expect(Set([third.port(for: .a), third.port(for: .b)]).isDisjoint(with: [second.port(for: .a), second.port(for: .b)]))
        for call in [second, third] { await call.close() }
        await relay.stop()
        #expect(relay.availablePairs == 4)
        try await group.shutdownGracefully()
    }
}
