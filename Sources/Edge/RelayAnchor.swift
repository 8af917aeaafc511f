import MediaRelay
import Metrics
import MediaRelayNIO
import MediaSecurity
import NIOCore
import Proxy
import SDP
import SecurityPolicy
import Storage
import Synchronization

/// Where the edge anchors calls' media (issue 7): the relay's sockets and the address the SDP gives the parties,
/// for one address family or both, and how long a call may go without media.
public struct MediaRelayWiring: Sendable {
    /// One relay address: its sockets, and the address parties reach it at (an IP literal of the same family),
    /// written into the SDP they receive.
    public struct Interface: Sendable {
        public var relay: RelayServer
        public var advertisedAddress: String

        public init(relay: RelayServer, advertisedAddress: String) {
            (self.relay, self.advertisedAddress) = (relay, advertisedAddress)
        }

        var isIPv6: Bool { relay.isIPv6 }
    }

    /// The relay's addresses, at most one per family; the first serves a party whose family has none.
    public var interfaces: [Interface]
    /// An answered call with no media either way for this long is ended (rtpengine's `timeout`; 60 by default).
    public var timeoutSeconds: Int
    /// Hears every readable RTCP report the relay passes on, with the caller's Call-ID (a HEP copy); nil: none.
    public var rtcpCopies: (@Sendable (RelayCall.RTCPCopy, _ callID: String) -> Void)?

    public init(interfaces: [Interface], timeoutSeconds: Int = 60) {
        precondition(!interfaces.isEmpty, "a media relay needs an address")
        self.interfaces = interfaces
        self.timeoutSeconds = max(1, timeoutSeconds)
    }

    public init(relay: RelayServer, advertisedAddress: String, timeoutSeconds: Int = 60) {
        self.init(interfaces: [Interface(relay: relay, advertisedAddress: advertisedAddress)],
                  timeoutSeconds: timeoutSeconds)
    }

    /// The interface for a party on IPv6 (or IPv4): its own family's when the relay has one.
    func interface(ipv6: Bool?) -> Interface {
        guard let ipv6 else { return interfaces[0] }
        return interfaces.first { $0.isIPv6 == ipv6 } ?? interfaces[0]
    }
}

/// A call's media anchored at the relay: rewrites each SDP so that each party sees only the relay, tells the relay
/// where each party said it receives (the latch's signalled address) and what each stream negotiated (the crypto
/// watch), and turns what the relay measured into the CDR's media streams. Side `a` of the relay call is the
/// caller, side `b` the callee.
///
/// Each side is relayed on the relay's address of that party's family (IPv4 or IPv6) when it has one, so that an
/// IPv4 phone can call an IPv6 one. Sections the relay cannot carry (not over UDP, beyond the ports the call could
/// get, or at an address of a family the party's relay side does not have) are disabled (port 0), never passed on
/// with the sender's address. With forking, every branch's early answer signals side `b`: the
/// latest one wins, as the final answer does.
final class RelayAnchor: MediaAnchor {
    struct State {
        /// The last offer's class per section.
        var offered: [MediaSecurityClass] = []
        /// What each side's last SDP said, per section: RTP and RTCP addresses, clock rate, class.
        var described: [[SectionDescription?]] = [[], []]
        var securityEvents: [SecurityEvent.Kind] = []
        var finished: AnchoredMedia?
        /// Bridging, per side and section: the keys that side offered (tag, suite, policy), and the relay's own
        /// offered to it (tag, policy). Keys are kept only as policies, whose master keys are wiped when released.
        var partyOffered: [[Int: [(tag: UInt32, suite: SRTPCryptoSuite, policy: SRTPPolicy)]]] = [[:], [:]]
        var relayOffered: [[Int: [(tag: UInt32, suite: SRTPCryptoSuite, policy: SRTPPolicy)]]] = [[:], [:]]
        /// Per side, the SDES suite its bridged leg settled on (the CDR's account of each leg).
        var bridgedSuites: [String?] = [nil, nil]
    }

    /// SRTP terminated at the relay (a trunk with `bridge_srtp`): per side (caller, callee), what its leg carries.
    struct Bridging: Sendable {
        enum Leg: Sendable, Equatable {
            /// Plain RTP (a legacy trunk that cannot encrypt).
            case plain
            /// SDES-SRTP with the relay, under keys the relay makes, offering these suites (most preferred first).
            case sdes([SRTPCryptoSuite])
        }

        var caller: Leg
        var callee: Leg

        func leg(_ side: RelayCall.Side) -> Leg { side == .a ? caller : callee }

        /// The suites an SRTP leg may use (nil: a plain leg).
        func suites(_ side: RelayCall.Side) -> [SRTPCryptoSuite]? {
            if case .sdes(let suites) = leg(side) { return suites }
            return nil
        }
    }

    struct SectionDescription {
        var rtp: SocketAddress?
        var rtcp: SocketAddress?
        var clockRate: Int
        var security: MediaSecurityClass
        /// Whether the relay may send to these addresses before the party's first packet (``MediaParty``).
        var sendBeforeLatch = false
    }

    /// The state in a class of its own: the relay's finding callback, made before the anchor, shares it.
    final class Shared: Sendable {
        let state = Mutex(State())
    }

    let call: RelayCall
    /// Per side (caller, callee): the relay address that side sends to, written into the SDP it receives.
    let advertisedAddresses: [String]
    /// Per side (caller, callee): what the other side is told of it instead of its own SDP names.
    let identities = [SDPRelayRewrite.Identity.random(), SDPRelayRewrite.Identity.random()]
    let bridging: Bridging?
    private let shared: Shared

    /// A call with ports for `sections` media sections, or nil when the relay has none to give. The caller's and
    /// the callee's family (true: IPv6) choose each side's relay address; nil: the relay's first.
    init?(wiring: MediaRelayWiring, sections: Int, callerIPv6: Bool? = nil, calleeIPv6: Bool? = nil,
          bridging: Bridging? = nil, callID: String = "",
          onFinding: @escaping @Sendable (MediaCryptoWatch.Finding) -> Void) {
        self.bridging = bridging
        let shared = Shared()
        let sides = [wiring.interface(ipv6: callerIPv6), wiring.interface(ipv6: calleeIPv6)]
        var onRTCP: (@Sendable (RelayCall.RTCPCopy) -> Void)?
        if let copies = wiring.rtcpCopies { onRTCP = { copy in copies(copy, callID) } }
        guard let call = RelayServer.makeCall(a: sides[0].relay, b: sides[1].relay, sections: sections,
                                              onFinding: { _, finding in
            shared.state.withLock { $0.securityEvents.append(finding.eventKind) }
            onFinding(finding)
        }, onRTCP: onRTCP) else { return nil }
        self.call = call
        self.shared = shared
        advertisedAddresses = sides.map(\.advertisedAddress)
        // An SRTP leg bridged at the relay never carries cleartext, whatever the SDP exchange comes to.
        for side in RelayCall.Side.allCases where bridging?.suites(side) != nil { call.requireBridge(on: side) }
    }

    func rewrite(_ description: SessionDescription, fromCaller: Bool, isOffer: Bool, from party: MediaParty) -> [UInt8] {
        let held = call.reserveSections(description.media.count)
        let sender: RelayCall.Side = fromCaller ? .a : .b
        let receiver = sender.other
        // The SDP goes to the other party, who sends to the relay's address and port of its own side.
        let advertisedAddress = advertisedAddresses[receiver.rawValue]
        let addressType: SDPAddressType = advertisedAddress.contains(":") ? .ip6 : .ip4
        var ports: [UInt16?] = []
        var described: [SectionDescription?] = []
        for (index, media) in description.media.enumerated() {
            let section = Self.describe(media, in: description, from: party)
            // The relay sends to the sender from the sender's side: an address of another family is unreachable.
            let reachable = [section.rtp, section.rtcp].allSatisfy { address in
                address.map { ($0.protocol == .inet6) == call.isIPv6(sender) } ?? true
            }
            guard media.port != 0, index < held, Self.relayable(media), reachable else {
                ports.append(nil)
                described.append(nil)
                continue
            }
            ports.append(call.port(for: receiver, section: index))
            described.append(section)
        }
        var rewritten = SDPRelayRewrite.rewrite(description, address: advertisedAddress, addressType: addressType,
                                                ports: ports, identity: identities[sender.rawValue])
        // Fail closed: a live section the relay does not carry is declined rather than leaking the sender's address.
        for index in rewritten.media.indices where ports[index] == nil && rewritten.media[index].port != 0 {
            rewritten.media[index].port = 0
            rewritten.media[index].connections = []
            rewritten.media[index].attributes.removeAll { $0.name == "rtcp" }
        }
        if rewritten.connection == nil, rewritten.media.contains(where: { $0.connections.isEmpty }) {
            rewritten.connection = ConnectionData(addressType: addressType, address: advertisedAddress)
        }
        if let bridging {
            for index in rewritten.media.indices where ports[index] != nil {
                bridge(section: index, of: description, into: &rewritten, from: sender, isOffer: isOffer,
                       bridging: bridging)
            }
        }
        signal(described, from: sender, isOffer: isOffer)
        guard let text = try? rewritten.serialized() else { return [] }
        return Array(text.utf8)
    }

    /// Bridging one section: each leg gets what it carries (``Bridging/Leg``) whatever the other sent. A party's
    /// SDES keys protect what it sends (the relay verifies and decrypts them); the relay's own fresh keys protect
    /// what it sends that party. A section that cannot be bridged (keys that do not parse, no random numbers, a
    /// plain answer on an SRTP leg) is declined rather than sent in the clear; a section without SDES from a party
    /// on an SRTP leg's offer (plain, or DTLS) is left to the media policy.
    private func bridge(section index: Int, of original: SessionDescription, into rewritten: inout SessionDescription,
                        from sender: RelayCall.Side, isOffer: Bool, bridging: Bridging) {
        let media = original.media[index]
        let proto = media.proto
        guard [.rtpAVP, .rtpAVPF, .rtpSAVP, .rtpSAVPF].contains(proto) else { return }
        let receiver = sender.other
        func decline() {
            // No key of anyone's goes on with a declined section (and the relay drops its media: requireBridge).
            rewritten.media[index].port = 0
            rewritten.media[index].connections = []
            rewritten.media[index].attributes.removeAll { $0.name == "crypto" }
        }
        // The sender's leg: its SRTP ends here, on one of the suites that leg may use.
        if let legSuites = bridging.suites(sender) {
            let offered = media.cryptos.compactMap { crypto -> (tag: UInt32, suite: SRTPCryptoSuite, policy: SRTPPolicy)? in
                guard legSuites.contains(crypto.suite) else { return nil }
                return (try? SDESKeying(crypto)).map { (crypto.tag, crypto.suite, $0.policy()) }
            }
            let relayOffer = shared.state.withLock { state in
                // A new offer replaces what this party offered before, keys included.
                if isOffer { state.partyOffered[sender.rawValue][index] = offered.isEmpty ? nil : offered }
                return state.relayOffered[sender.rawValue][index]
            }
            if media.cryptos.isEmpty {
                // A plain answer to the relay's SRTP offer would leave this leg unencrypted: no media.
                if !isOffer, relayOffer != nil { decline() }
                return
            }
            if isOffer {
                guard !offered.isEmpty else { return decline() }
            } else {
                // The answer picks one of the relay's offered lines: the same tag, and the same suite.
                guard let chosen = offered.first,
                    let ours = relayOffer?.first(where: { $0.tag == chosen.tag && $0.suite == chosen.suite }),
                    (try? call.bridge(section: index, side: sender, inbound: chosen.policy, outbound: ours.policy)) != nil
                else { return decline() }
                shared.state.withLock { $0.bridgedSuites[sender.rawValue] = chosen.suite.name }
            }
        }
        // The receiver's leg: what it gets, under the relay's keys when it is SRTP.
        var cryptos: [SDESCryptoAttribute] = []
        switch bridging.leg(receiver) {
        case .plain:
            break
        case .sdes(let suites) where isOffer:
            var offers: [(tag: UInt32, suite: SRTPCryptoSuite, policy: SRTPPolicy)] = []
            for (position, suite) in suites.enumerated() {
                guard let profile = SRTPProfile(suite),
                    let fresh = try? SDESKeying.generate(profile: profile, tag: UInt32(position + 1))
                else { continue }
                offers.append((fresh.attribute.tag, suite, fresh.keying.policy()))
                cryptos.append(fresh.attribute)
            }
            guard !offers.isEmpty else { return decline() }
            shared.state.withLock { $0.relayOffered[receiver.rawValue][index] = offers }
        case .sdes:
            // Answering the receiver's offer: its first usable suite, under a fresh key of the relay's.
            guard let chosen = shared.state.withLock({ $0.partyOffered[receiver.rawValue][index]?.first }) else { return }
            guard let profile = SRTPProfile(chosen.suite),
                let fresh = try? SDESKeying.generate(profile: profile, tag: chosen.tag),
                (try? call.bridge(section: index, side: receiver, inbound: chosen.policy,
                                  outbound: fresh.keying.policy())) != nil
            else { return decline() }
            shared.state.withLock { $0.bridgedSuites[receiver.rawValue] = chosen.suite.name }
            cryptos = [fresh.attribute]
        }
        let feedback = proto == .rtpAVPF || proto == .rtpSAVPF
        let secure = !cryptos.isEmpty
        rewritten.media[index].proto = secure ? (feedback ? .rtpSAVPF : .rtpSAVP) : (feedback ? .rtpAVPF : .rtpAVP)
        rewritten.media[index].attributes.removeAll { $0.name == "crypto" }
        rewritten.media[index].attributes += cryptos.map { SDPAttribute(name: "crypto", value: $0.serialized()) }
    }

    /// Tells the relay what the sender's SDP said; after an answer, both sides' watches learn the offer and answer.
    private func signal(_ described: [SectionDescription?], from sender: RelayCall.Side, isOffer: Bool) {
        let signals = shared.state.withLock { state -> [(RelayCall.Side, Int, SectionDescription, MediaSecurityClass, MediaSecurityClass)] in
            state.described[sender.rawValue] = described
            if isOffer {
                state.offered = described.map { $0?.security ?? .disabled }
                // Until the answer, the offer is all the watch knows.
                return described.enumerated().compactMap { index, section in
                    section.map { (sender, index, $0, $0.security, $0.security) }
                }
            }
            var signals: [(RelayCall.Side, Int, SectionDescription, MediaSecurityClass, MediaSecurityClass)] = []
            for side in RelayCall.Side.allCases {
                for (index, section) in state.described[side.rawValue].enumerated() {
                    guard let section else { continue }
                    let offered = index < state.offered.count ? state.offered[index] : section.security
                    let answered = index < described.count ? described[index]?.security ?? .disabled : .disabled
                    signals.append((side, index, section, offered, answered))
                }
            }
            return signals
        }
        for (side, index, section, offered, answered) in signals {
            // Bridged, each leg negotiates on its own: each side's watch expects what its own SDP said.
            let bridged = bridging != nil && call.isBridged(section: index)
            call.signal(side, section: index, rtp: section.rtp, rtcp: section.rtcp, clockRate: section.clockRate,
                        offered: bridged ? section.security : offered, answered: bridged ? section.security : answered,
                        sendBeforeLatch: section.sendBeforeLatch)
        }
    }

    /// The call's streams as the relay has measured them so far: what a live call's record shows, and what the
    /// CDR keeps when the call ends.
    func measuredStreams() -> [CallMediaStream] {
        call.report().map { report in
            let received = report.receiverReport
            func rounded(_ value: Double) -> Double { (value * 1_000).rounded() / 1_000 }
            var stream = CallMediaStream(
                section: report.section, sender: report.side == .a ? .caller : .callee, packets: report.relayed,
                payloadOctets: report.statistics.payloadOctets, lost: report.statistics.lost,
                duplicates: report.statistics.duplicates, outOfOrder: report.statistics.outOfOrder,
                jitterMilliseconds: rounded(report.statistics.jitterMilliseconds),
                meanOpinionScore: report.meanOpinionScore.map { ($0 * 100).rounded() / 100 },
                droppedForeign: report.droppedForeign, droppedUnlatched: report.droppedUnlatched,
                payloads: report.payloads.rawValue, reportedFractionLost: received.map { rounded($0.fractionLost) },
                reportedLost: received?.cumulativeLost,
                reportedJitterMilliseconds: received.map { rounded($0.jitterMilliseconds) },
                roundTripMilliseconds: received?.roundTripMilliseconds.map(rounded))
            stream.droppedNotMedia = report.droppedNotMedia
            stream.droppedUnauthenticated = report.droppedUnauthenticated
            return stream
        }
    }

    func finish() -> AnchoredMedia {
        if let done = shared.state.withLock({ $0.finished }) { return done }
        // Keys offered and never used go with the call.
        shared.state.withLock { state in
            state.partyOffered = [[:], [:]]
            state.relayOffered = [[:], [:]]
        }
        let streams = measuredStreams()
        // Two calls racing here: only the one that records the result closes the call and counts it.
        let (media, first) = shared.state.withLock { state -> (AnchoredMedia, Bool) in
            if let done = state.finished { return (done, false) }
            var media = AnchoredMedia(streams: streams, securityEvents: state.securityEvents)
            if let bridging, state.bridgedSuites.contains(where: { $0 != nil }) {
                // Each leg as it was negotiated with the relay: the call's SDP posture tells only one of them.
                let legs = RelayCall.Side.allCases.map { side in
                    state.bridgedSuites[side.rawValue].map { "sdes-srtp/\($0)" }
                        ?? (bridging.suites(side) == nil ? "plain" : "none")
                }
                media.encryption = "bridged caller:\(legs[0]) callee:\(legs[1])"
                media.srtpSuite = state.bridgedSuites.compactMap { $0 }.first
            }
            state.finished = media
            return (media, true)
        }
        guard first else { return media }
        let call = call
        Task { await call.close() }
        Self.count(streams)
        return media
    }

    /// The relay's figures as metrics, once per call (never per packet: the relay path stays free of them).
    static func count(_ streams: [CallMediaStream]) {
        for stream in streams {
            let sender = [("sender", stream.sender.rawValue)]
            Counter(label: "rampart_media_packets_relayed_total", dimensions: sender).increment(by: stream.packets)
            Counter(label: "rampart_media_packets_lost_total", dimensions: sender).increment(by: stream.lost)
            Counter(label: "rampart_media_packets_dropped_total", dimensions: sender + [("reason", "foreign-source")])
                .increment(by: stream.droppedForeign)
            Counter(label: "rampart_media_packets_dropped_total", dimensions: sender + [("reason", "unauthenticated")])
                .increment(by: stream.droppedUnauthenticated ?? 0)
            Counter(label: "rampart_media_packets_dropped_total", dimensions: sender + [("reason", "unlatched")])
                .increment(by: stream.droppedUnlatched)
            Counter(label: "rampart_media_packets_dropped_total", dimensions: sender + [("reason", "not-media")])
                .increment(by: stream.droppedNotMedia ?? 0)
            if let score = stream.meanOpinionScore {
                Recorder(label: "rampart_media_mos", dimensions: sender).record(score)
            }
            Recorder(label: "rampart_media_jitter_milliseconds", dimensions: sender).record(stream.jitterMilliseconds)
        }
    }

    /// Whether the relay can carry a section: UDP-based transports (RTP profiles, UDPTL for T.38, DTLS over UDP).
    static func relayable(_ media: MediaDescription) -> Bool {
        let proto = media.proto.rawValue.uppercased()
        return proto.hasPrefix("RTP/") || proto.hasPrefix("UDP")  // UDP, UDPTL, UDP/TLS/RTP/SAVP
    }

    /// Where a section says its party receives, its clock rate (of its first format) and its security class. An
    /// unspecified address (legacy hold, RFC 3264 §8.4) is no destination: sending to 0.0.0.0 reaches the edge's
    /// own machine.
    static func describe(_ media: MediaDescription, in session: SessionDescription,
                         from party: MediaParty = MediaParty()) -> SectionDescription {
        func destination(_ host: String?, _ port: UInt16) -> SocketAddress? {
            guard let host, let ip = IPAddress(host), !ip.isUnspecified else { return nil }
            return try? SocketAddress(ipAddress: host, port: Int(port))
        }
        let host = (media.connections.first ?? session.connection)?.address
        let rtp = destination(host, media.port)
        var rtcp: SocketAddress?
        if !media.rtcpMux {
            rtcp = destination(media.rtcp?.connection?.address ?? host, media.rtcp?.port ?? media.port &+ 1)
        }
        // Before its first packet the relay sends only where the party itself signals from (or to a trunk's media
        // gateways): an SDP naming a third party's address gets nothing from the relay until that address sends.
        let own = [rtp, rtcp].compactMap { $0?.policyAddress }
        let sendBeforeLatch = party.isTrunk || (!own.isEmpty && own.allSatisfy { $0 == party.signalsFrom })
        let clockRate = media.payloadTypes.first.flatMap { type in
            media.rtpMap(for: type).map { Int($0.clockRate) } ?? Self.staticClockRate(type)
        } ?? 8_000
        return SectionDescription(rtp: rtp, rtcp: rtcp, clockRate: clockRate,
                                  security: MediaSecurity.classify(media, in: session), sendBeforeLatch: sendBeforeLatch)
    }

    /// RFC 3551's static payload types that are not 8 kHz.
    static func staticClockRate(_ payloadType: UInt8) -> Int {
        switch payloadType {
        case 10, 11: 44_100
        case 14, 25, 26, 28, 31, 32, 33, 34: 90_000
        case 6: 16_000
        case 16: 11_025
        case 17: 22_050
        default: 8_000
        }
    }
}
