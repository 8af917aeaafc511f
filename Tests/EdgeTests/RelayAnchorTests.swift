@testable import Edge
import MediaRelayNIO
import NIOPosix
import Proxy
import SDP
import SecurityPolicy
import Testing

/// The edge's side of media anchoring: what each party receives names only the relay, and what the relay cannot
/// carry is declined rather than passed on with the sender's address.
@Suite(.serialized) struct RelayAnchorTests {
    static let offer = [
        "v=0", "o=alice 1 1 IN IP4 192.0.2.10", "s=-", "c=IN IP4 192.0.2.10", "t=0 0",
        "a=ice-ufrag:abcd", "a=ice-pwd:0123456789abcdef01234567",
        "m=audio 4000 RTP/SAVP 0", "a=rtcp:4001 IN IP4 192.0.2.10",
        "a=candidate:1 1 UDP 2130706431 192.0.2.10 4000 typ host",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e",
        "m=application 5000 TCP/BFCP *", "c=IN IP4 192.0.2.11",
        "m=video 4002 RTP/SAVP 96", "a=rtpmap:96 H264/90000", "a=rtcp-mux",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e", "",
    ].joined(separator: "\r\n")

    @Test func theOfferNamesOnlyTheRelayAndWhatItCannotCarryIsDeclined() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let relay = try RelayServer(group: group, host: "127.0.0.1", ports: 21_000...21_039)
        try await relay.start(warmPairs: 8)
        let wiring = MediaRelayWiring(relay: relay, advertisedAddress: "203.0.113.7")
        let anchor = try #require(RelayAnchor(wiring: wiring, sections: 3) { _ in })

        let rewritten = String(decoding: anchor.rewrite(Array(Self.offer.utf8), fromCaller: true, isOffer: true),
                               as: UTF8.self)
        let description = try SessionDescription(parsing: rewritten)
        #expect(!rewritten.contains("192.0.2.1"), "no address of the caller's: \(rewritten)")
        #expect(!rewritten.contains("candidate") && !rewritten.contains("ice-"))
        #expect(description.origin.address == "203.0.113.7" && description.connection?.address == "203.0.113.7")
        // Audio and video on the relay's callee-side ports; the TCP section declined.
        #expect(description.media[0].port == anchor.call.port(for: .b, section: 0))
        #expect(description.media[0].rtcp?.port == anchor.call.port(for: .b, section: 0) + 1)
        #expect(description.media[1].port == 0 && description.media[1].connections.isEmpty)
        #expect(description.media[2].port == anchor.call.port(for: .b, section: 2) && description.media[2].rtcpMux)
        #expect(description.media[0].attributes.contains { $0.name == "crypto" }, "SRTP keys pass through")

        // Nine sections: the relay holds at most eight per call, so the ninth is declined.
        let many = (0..<9).map { "m=audio \(6000 + 2 * $0) RTP/AVP 0" }
        let wide = ["v=0", "o=- 1 1 IN IP4 192.0.2.10", "s=-", "c=IN IP4 192.0.2.10", "t=0 0"] + many + [""]
        let declined = try SessionDescription(parsing: String(decoding: anchor.rewrite(
            Array(wide.joined(separator: "\r\n").utf8), fromCaller: true, isOffer: true), as: UTF8.self))
        #expect(anchor.call.sections <= RelayCall.maximumSections)
        #expect(declined.media.last?.port == 0)
        #expect(declined.media.prefix(anchor.call.sections).allSatisfy { $0.port != 0 })

        #expect(anchor.rewrite(Array("not sdp".utf8), fromCaller: false, isOffer: false).isEmpty,
                "unparsable SDP is dropped, not passed on")

        let media = anchor.finish()
        #expect(media.streams.count == 2 * anchor.call.sections && media.streams.allSatisfy { $0.packets == 0 })
        #expect(anchor.finish() == media, "finishing twice changes nothing")
        // The call closes its sockets in the background and the pool refills: wait for both to settle.
        for _ in 0..<500 where relay.availablePairs != 20 - 8 || relay.warmPairs != 8 {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(relay.availablePairs == 20 - 8, "every pair the call held came back; only the warm ones are bound")
        await relay.stop()
        try await group.shutdownGracefully()
    }

    /// An IPv4 caller and an IPv6 callee: each receives SDP naming the relay's address of its own family, and a
    /// section at an address of a family the relay does not have is declined.
    @Test func eachSideIsRelayedOnItsOwnFamily() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let relay4 = try RelayServer(group: group, host: "127.0.0.1", ports: 21_100...21_119)
        let relay6 = try RelayServer(group: group, host: "::1", ports: 21_100...21_119)
        try await relay4.start(warmPairs: 4)
        try await relay6.start(warmPairs: 4)
        let wiring = MediaRelayWiring(interfaces: [.init(relay: relay4, advertisedAddress: "127.0.0.1"),
                                                   .init(relay: relay6, advertisedAddress: "::1")])
        let anchor = try #require(RelayAnchor(wiring: wiring, sections: 1, callerIPv6: false, calleeIPv6: true) { _ in })
        #expect(!anchor.call.isIPv6(.a) && anchor.call.isIPv6(.b))
        let offer = ["v=0", "o=alice 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
                     "m=audio 4000 RTP/AVP 0", ""].joined(separator: "\r\n")
        let toCallee = try SessionDescription(parsing: String(decoding: anchor.rewrite(
            Array(offer.utf8), fromCaller: true, isOffer: true), as: UTF8.self))
        #expect(toCallee.connection?.addressType == .ip6 && toCallee.connection?.address == "::1")
        #expect(toCallee.origin.address == "::1" && toCallee.media[0].port == anchor.call.port(for: .b))
        let answer = ["v=0", "o=bob 1 1 IN IP6 ::1", "s=-", "c=IN IP6 ::1", "t=0 0",
                      "m=audio 5000 RTP/AVP 0", ""].joined(separator: "\r\n")
        let toCaller = try SessionDescription(parsing: String(decoding: anchor.rewrite(
            Array(answer.utf8), fromCaller: false, isOffer: false), as: UTF8.self))
        #expect(toCaller.connection?.addressType == .ip4 && toCaller.connection?.address == "127.0.0.1")
        #expect(toCaller.media[0].port == anchor.call.port(for: .a))
        _ = anchor.finish()

        // A relay with IPv4 only: a caller offering IPv6 cannot be sent to, so its section is declined.
        let only4 = MediaRelayWiring(relay: relay4, advertisedAddress: "127.0.0.1")
        let narrow = try #require(RelayAnchor(wiring: only4, sections: 1, callerIPv6: true, calleeIPv6: false) { _ in })
        let declined = try SessionDescription(parsing: String(decoding: narrow.rewrite(
            Array(answer.utf8), fromCaller: true, isOffer: true), as: UTF8.self))
        #expect(declined.media[0].port == 0 && declined.connection?.address == "127.0.0.1")
        _ = narrow.finish()
        for relay in [relay4, relay6] { try await relay.closed() }
        await relay4.stop()
        await relay6.stop()
        try await group.shutdownGracefully()
    }
}

extension RelayAnchor {
    /// An SDP from a party that signals from the address its SDP names (a phone that is not behind a NAT).
    func rewrite(_ sdp: [UInt8], fromCaller: Bool, isOffer: Bool) -> [UInt8] {
        let text = String(decoding: sdp, as: UTF8.self)
        let address = text.split(separator: "\r\n").first { $0.hasPrefix("c=IN ") }
            .flatMap { $0.split(separator: " ").last }.flatMap { IPAddress(String($0)) }
        return rewrite(sdp, fromCaller: fromCaller, isOffer: isOffer, from: MediaParty(signalsFrom: address))
    }
}

extension RelayServer {
    /// Waits (at most two seconds) until every call's sockets have closed: they close in the background once the
    /// anchor is finished.
    func closed() async throws {
        for _ in 0..<200 where busyPairs > 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(busyPairs == 0, "every call's ports are back")
    }
}
