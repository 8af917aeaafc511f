@testable import Edge
import MediaRelayNIO
import MediaSecurity
import NIOCore
import NIOPosix
import SDP
import Synchronization
import Testing

/// SRTP bridged at the edge for a legacy trunk: the account's leg negotiates SDES-SRTP with the relay, the trunk's
/// leg plain RTP, and the keys in the SDP the account receives are the ones the relay protects its media with.
@Suite(.serialized) struct MediaBridgeAnchorTests {
    static func sdp(_ proto: String, port: Int, cryptos: [String] = []) -> [UInt8] {
        Array((["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
                "m=audio \(port) \(proto) 8", "a=rtpmap:8 PCMA/8000"] + cryptos.map { "a=crypto:" + $0 } + [""])
            .joined(separator: "\r\n").utf8)
    }

    static func parse(_ bytes: [UInt8]) throws -> MediaDescription {
        try #require(try SessionDescription(parsing: String(decoding: bytes, as: UTF8.self)).media.first)
    }

    /// A UDP socket on loopback that keeps what it receives.
    final class Socket: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let received = Mutex<[[UInt8]]>([])
        let channel = Mutex<(any Channel)?>(nil)

        static func open(_ group: any EventLoopGroup) async throws -> Socket {
            let socket = Socket()
            let channel = try await DatagramBootstrap(group: group).channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(socket) }
            }.bind(host: "127.0.0.1", port: 0).get()
            socket.channel.withLock { $0 = channel }
            return socket
        }

        var port: Int { channel.withLock { $0?.localAddress?.port ?? 0 } }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = Array(unwrapInboundIn(data).data.readableBytesView)
            received.withLock { $0.append(bytes) }
        }

        func send(_ bytes: [UInt8], to port: UInt16) async throws {
            let channel = channel.withLock { $0! }
            try await channel.writeAndFlush(AddressedEnvelope(
                remoteAddress: try SocketAddress(ipAddress: "127.0.0.1", port: Int(port)), data: ByteBuffer(bytes: bytes)))
        }

        func close() async { try? await channel.withLock { $0 }?.close() }
    }

    /// A relay on `ports` (one event loop, four warm pairs) and two loopback sockets for the parties; after `body`,
    /// the anchors' sockets are waited for (they close in the background) and everything is stopped.
    static func withRelay(ports: ClosedRange<UInt16>,
                          _ body: (RelayServer, Socket, Socket) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let relay = try RelayServer(group: group, host: "127.0.0.1", ports: ports)
        try await relay.start(warmPairs: 4)
        let first = try await Socket.open(group), second = try await Socket.open(group)
        var failure: (any Error)?
        do { try await body(relay, first, second) } catch { failure = error }
        try await relay.closed()
        await relay.stop()
        for socket in [first, second] { await socket.close() }
        try await group.shutdownGracefully()
        if let failure { throw failure }
    }

    static let aliceKey = "AES_CM_128_HMAC_SHA1_80 inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e"

    @Test func anAccountsSRTPOfferMeetsAPlainTrunkAndMediaIsProtectedUnderTheKeysTheSDPGave() async throws {
        try await Self.withRelay(ports: 21_200...21_219) { relay, alice, trunk in
            let anchor = try #require(RelayAnchor(
                wiring: MediaRelayWiring(relay: relay, advertisedAddress: "127.0.0.1"), sections: 1,
                bridging: .init(caller: .sdes([SRTPCryptoSuite(name: "AES_CM_128_HMAC_SHA1_80")]), callee: .plain)
            ) { _ in })

            // alice offers SDES (one suite the edge cannot do, then one it can); the trunk is offered plain RTP.
            let offer = Self.sdp("RTP/SAVP", port: alice.port, cryptos: [
                "1 F8_128_HMAC_SHA1_80 inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e", "2 " + Self.aliceKey,
            ])
            let toTrunk = try Self.parse(anchor.rewrite(offer, fromCaller: true, isOffer: true))
            #expect(toTrunk.proto == .rtpAVP && toTrunk.cryptos.isEmpty, "the trunk never sees a key")
            // The trunk answers plain; alice is answered SRTP, tag 2, under a key of the relay's own.
            let toAlice = try Self.parse(anchor.rewrite(Self.sdp("RTP/AVP", port: trunk.port), fromCaller: false,
                                                       isOffer: false))
            let relayCrypto = try #require(toAlice.cryptos.first)
            #expect(toAlice.proto == .rtpSAVP && toAlice.cryptos.count == 1 && relayCrypto.tag == 2)
            #expect(!relayCrypto.serialized().contains("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e"), "not alice's key")
            #expect(anchor.call.isBridged(section: 0))

            // Media: alice protects under her key, the trunk hears it plain; the trunk's plain RTP reaches alice
            // protected under the key her answer gave.
            let aliceSender = try SDESKeying(try SDESCryptoAttribute(parsing: "2 " + Self.aliceKey)).srtpSender()
            let aliceReceiver = try SDESKeying(relayCrypto).srtpReceiver()
            // Twenty packets each way, enough for the relay to judge each leg's payloads.
            func packet(_ sequence: UInt8, ssrc: UInt8, fill: UInt8) -> [UInt8] {
                [0x80, 8, 0, sequence, 0, 0, 0, 160 &* sequence, 0, 0, 0, ssrc] + [UInt8](repeating: fill, count: 160)
            }
            let spoken = (1...20).map { packet($0, ssrc: 0xA, fill: 0xD5) }
            let answered = (1...20).map { packet($0, ssrc: 0xB, fill: 0x55) }
            for (mine, theirs) in zip(spoken, answered) {
                var protected = mine
                try aliceSender.protect(&protected)
                try await alice.send(protected, to: anchor.call.port(for: .a))
                try await trunk.send(theirs, to: anchor.call.port(for: .b))
            }
            for _ in 0..<200
            where trunk.received.withLock({ $0.count }) < 20 || alice.received.withLock({ $0.count }) < 20 {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(trunk.received.withLock { $0 } == spoken)
            let heard = alice.received.withLock { $0 }
            #expect(heard.count == 20 && heard.allSatisfy { !answered.contains($0) },
                    "never in the clear on alice's leg")
            #expect(try heard.map { packet in
                var copy = packet
                try aliceReceiver.unprotect(&copy)
                return copy
            } == answered)

            let media = anchor.finish()
            #expect(media.streams.map(\.payloads) == ["encrypted", "plaintext"], "alice's leg SRTP, the trunk's plain")
            #expect(media.securityEvents.isEmpty, "two legs negotiated apart are no downgrade: \(media.securityEvents)")
            #expect(media.encryption == "bridged caller:sdes-srtp/AES_CM_128_HMAC_SHA1_80 callee:plain")
            #expect(media.srtpSuite == "AES_CM_128_HMAC_SHA1_80", "the CDR tells each leg, not the trunk's SDP alone")
        }
    }

    @Test func aPlainTrunkOfferReachesTheAccountAsSRTPAndItsAnswerGoesBackPlain() async throws {
        try await Self.withRelay(ports: 21_220...21_239) { relay, _, _ in
            let suites = ["AEAD_AES_256_GCM", "AES_CM_128_HMAC_SHA1_80"].map { SRTPCryptoSuite(name: $0) }
            let anchor = try #require(RelayAnchor(
                wiring: MediaRelayWiring(relay: relay, advertisedAddress: "127.0.0.1"), sections: 1,
                bridging: .init(caller: .plain, callee: .sdes(suites))) { _ in })
            let toAccount = try Self.parse(anchor.rewrite(Self.sdp("RTP/AVP", port: 20_000), fromCaller: true,
                                                          isOffer: true))
            #expect(toAccount.proto == .rtpSAVP && toAccount.cryptos.map(\.suite) == suites)
            #expect(toAccount.cryptos.map(\.tag) == [1, 2])
            // The account picks the second suite with its own key.
            let answer = Self.sdp("RTP/SAVP", port: 20_002, cryptos: ["2 " + Self.aliceKey])
            let toTrunk = try Self.parse(anchor.rewrite(answer, fromCaller: false, isOffer: false))
            #expect(toTrunk.proto == .rtpAVP && toTrunk.cryptos.isEmpty)
            #expect(anchor.call.isBridged(section: 0))

            // An account that offers only what the edge cannot do gets its section declined, not bridged in the clear.
            let unusable = Self.sdp("RTP/SAVP", port: 20_004,
                                    cryptos: ["1 F8_128_HMAC_SHA1_80 inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e"])
            let declined = try Self.parse(anchor.rewrite(unusable, fromCaller: false, isOffer: true))
            #expect(declined.port == 0)
            _ = anchor.finish()
        }
    }

    /// A trunk that speaks SRTP, but another suite than the account's: both legs end at the relay, each under its
    /// own keys, and media is decrypted from one leg and protected anew for the other.
    @Test func twoSRTPLegsOfDifferentSuitesAreBridgedUnderFourKeys() async throws {
        try await Self.withRelay(ports: 21_240...21_259) { relay, alice, trunk in
            let anchor = try #require(RelayAnchor(
                wiring: MediaRelayWiring(relay: relay, advertisedAddress: "127.0.0.1"), sections: 1,
                bridging: .init(caller: .sdes([SRTPCryptoSuite(name: "AES_CM_128_HMAC_SHA1_80")]),
                                callee: .sdes([SRTPCryptoSuite(name: "AES_CM_128_HMAC_SHA1_32")]))) { _ in })
            let toTrunk = try Self.parse(anchor.rewrite(
                Self.sdp("RTP/SAVP", port: alice.port, cryptos: ["2 " + Self.aliceKey]), fromCaller: true, isOffer: true))
            let offeredTrunk = try #require(toTrunk.cryptos.first)
            #expect(toTrunk.proto == .rtpSAVP && toTrunk.cryptos.count == 1)
            #expect(offeredTrunk.suite.name == "AES_CM_128_HMAC_SHA1_32"
                && !offeredTrunk.serialized().contains("AQIDBAUG"))
            let trunkKey = "1 AES_CM_128_HMAC_SHA1_32 inline:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9"
            let toAlice = try Self.parse(anchor.rewrite(Self.sdp("RTP/SAVP", port: trunk.port, cryptos: [trunkKey]),
                                                       fromCaller: false, isOffer: false))
            let answeredAlice = try #require(toAlice.cryptos.first)
            #expect(toAlice.proto == .rtpSAVP && answeredAlice.tag == 2
                && answeredAlice.suite.name == "AES_CM_128_HMAC_SHA1_80")
            #expect(anchor.call.isBridged(section: 0, side: .a) && anchor.call.isBridged(section: 0, side: .b))

            // alice -> relay (her key) -> trunk (the relay's SHA1_32 key it was offered); and back under the others.
            let spoken: [UInt8] = [0x80, 8, 0, 1, 0, 0, 0, 160, 0, 0, 0, 0xA] + [UInt8](repeating: 0xD5, count: 160)
            let answered: [UInt8] = [0x80, 8, 0, 1, 0, 0, 0, 160, 0, 0, 0, 0xB] + [UInt8](repeating: 0x55, count: 160)
            var fromAlice = spoken, fromTrunk = answered
            try SDESKeying(try SDESCryptoAttribute(parsing: "2 " + Self.aliceKey)).srtpSender().protect(&fromAlice)
            try SDESKeying(try SDESCryptoAttribute(parsing: trunkKey)).srtpSender().protect(&fromTrunk)
            try await alice.send(fromAlice, to: anchor.call.port(for: .a))
            try await trunk.send(fromTrunk, to: anchor.call.port(for: .b))
            for _ in 0..<200 where trunk.received.withLock({ $0.isEmpty }) || alice.received.withLock({ $0.isEmpty }) {
                try await Task.sleep(for: .milliseconds(10))
            }
            var atTrunk = try #require(trunk.received.withLock { $0.first })
            var atAlice = try #require(alice.received.withLock { $0.first })
            #expect(atTrunk != fromAlice && atAlice != fromTrunk, "each leg under its own keys")
            try SDESKeying(offeredTrunk).srtpReceiver().unprotect(&atTrunk)
            try SDESKeying(answeredAlice).srtpReceiver().unprotect(&atAlice)
            #expect(atTrunk == spoken && atAlice == answered)
            _ = anchor.finish()
        }
    }

    /// Failing closed: an account that answers the relay's SRTP offer with plain RTP gets no media at all (its
    /// section is declined and the relay drops the trunk's packets for it), and an account offering another
    /// suite first is bridged on the one its leg may use.
    @Test func anSRTPLegThatCannotBeBridgedCarriesNothingAndOnlyItsOwnSuites() async throws {
        try await Self.withRelay(ports: 21_260...21_279) { relay, account, trunk in
            let wiring = MediaRelayWiring(relay: relay, advertisedAddress: "127.0.0.1")
            let sha80 = SRTPCryptoSuite(name: "AES_CM_128_HMAC_SHA1_80")
            let plainAnswer = try #require(RelayAnchor(
                wiring: wiring, sections: 1, bridging: .init(caller: .plain, callee: .sdes([sha80]))) { _ in })
            _ = plainAnswer.rewrite(Self.sdp("RTP/AVP", port: trunk.port), fromCaller: true, isOffer: true)
            let toTrunk = try Self.parse(plainAnswer.rewrite(Self.sdp("RTP/AVP", port: account.port), fromCaller: false,
                                                             isOffer: false))
            #expect(toTrunk.port == 0 && toTrunk.cryptos.isEmpty, "declined")
            let rtp: [UInt8] = [0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 0xB] + [UInt8](repeating: 0x55, count: 160)
            for _ in 0..<5 { try await trunk.send(rtp, to: plainAnswer.call.port(for: .a)) }
            // The evidence that the five arrived and went nowhere: the relay counts each as dropped unbridged.
            let fromTrunk = { plainAnswer.call.report().first { $0.side == .a }?.droppedUnbridged ?? 0 }
            for _ in 0..<500 where fromTrunk() < 5 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(fromTrunk() == 5)
            #expect(account.received.withLock { $0.isEmpty }, "no cleartext on the account's leg")
            _ = plainAnswer.finish()

            // The account lists the trunk's weaker suite first: its leg takes the one it may use, tag 2.
            let choosy = try #require(RelayAnchor(wiring: wiring, sections: 1,
                                                   bridging: .init(caller: .sdes([sha80]), callee: .plain)) { _ in })
            _ = choosy.rewrite(Self.sdp("RTP/SAVP", port: account.port, cryptos: [
                "1 AES_CM_128_HMAC_SHA1_32 inline:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9", "2 " + Self.aliceKey,
            ]), fromCaller: true, isOffer: true)
            let toAccount = try Self.parse(choosy.rewrite(Self.sdp("RTP/AVP", port: trunk.port), fromCaller: false,
                                                          isOffer: false))
            #expect(toAccount.cryptos.map(\.tag) == [2] && toAccount.cryptos.first?.suite == sha80)
            _ = choosy.finish()
        }
    }
}
