import MediaRelay
import MediaSecurity
import NIOCore
import RTP
import SDP
import SecurityPolicy
import Synchronization

/// One call through the relay: for each side and component (RTP, RTCP) a latch, and for each side's RTP the
/// receive statistics and the crypto watch. SRTP is passed through: the relay holds no keys, so latching follows
/// the signalled address (``RelayLatch``). Thread-safe; one lock per call.
public final class RelayCall: Sendable {
    public enum Side: Int, Sendable, CaseIterable {
        case a = 0, b = 1
        /// The side across the relay.
        public var other: Side { self == .a ? .b : .a }
    }

    public enum Component: Int, Sendable { case rtp = 0, rtcp = 1 }

    /// What one side sent through the relay on one media section.
    public struct SideReport: Sendable {
        /// The SDP media section (0 for the first).
        public var section: Int
        public var side: Side
        /// The relay's port (RTP; RTCP on the next) that this side sends to.
        public var port: UInt16
        public var relayed: Int
        public var droppedForeign: Int
        /// From the latched source but failing SRTP authentication (bridged sides only).
        public var droppedUnauthenticated: Int
        public var droppedUnlatched: Int
        /// Datagrams that were not media the section may carry (not RTP or RTCP, nor DTLS, STUN or ZRTP where the
        /// SDP keyed the stream so): dropped before they could latch or go anywhere.
        public var droppedNotMedia: Int
        /// Datagrams dropped because a leg of the section that must be bridged (``requireBridge(on:)``) is not:
        /// never relayed in the clear.
        public var droppedUnbridged: Int
        public var statistics: RTPStreamStatistics
        public var findings: [MediaCryptoWatch.Finding]
        /// The RTP payload type seen last.
        public var payloadType: UInt8?
        /// How this side's RTP payloads looked: encrypted, plaintext or undetermined (``EncryptionCheck``).
        public var payloads: EncryptionCheck.Verdict
        /// This side's stream as its receiver last reported it in RTCP (plain RTCP only: SRTCP is encrypted).
        public var receiverReport: ReceiverReport?
        /// The estimated MOS of this side's audio as the relay received it.
        public var meanOpinionScore: Double? {
            guard statistics.received > 0, let payloadType else { return nil }
            return EModel.meanOpinionScore(statistics, payloadType: payloadType)
        }
    }

    /// How the receiver of a side's stream reported it in RTCP receiver or sender reports (RFC 3550 §6.4.1).
    public struct ReceiverReport: Hashable, Sendable {
        /// Reports read.
        public var reports = 0
        /// The fraction lost in the interval before the last report (0-1).
        public var fractionLost = 0.0
        /// Lost since reception began, by the receiver's count.
        public var cumulativeLost = 0
        /// The receiver's interarrival jitter, in milliseconds.
        public var jitterMilliseconds = 0.0
        /// The round trip between the relay and the receiver: from the relay passing on a sender report to the
        /// receiver's report naming it, less the delay the receiver states (LSR/DLSR).
        public var roundTripMilliseconds: Double?
    }

    /// A socket address and its latch form, kept so that a packet from the same sender (or to the same receiver)
    /// as the last one costs no conversion and no allocation.
    struct AddressCache {
        var address: SocketAddress
        var source: RelayLatch.Source
    }

    /// One side's RTP or RTCP: its latch, the last sender's address, and where this side was last sent to.
    struct ComponentState {
        var latch = RelayLatch(signalled: nil)
        /// Whether the relay may send to the signalled address before this side has latched (the address the party
        /// signals from, or a trunk's media gateway); otherwise only to the latched source, so that an SDP cannot
        /// aim the relay at a host that never sent anything.
        var sendsBeforeLatch = false
        var lastSender: AddressCache?
        var lastDestination: AddressCache?
    }

    struct SideState {
        var rtp = ComponentState()
        var rtcp = ComponentState()
        var statistics = RTPStreamStatistics(clockRate: 8_000)
        var watch = MediaCryptoWatch(offered: .plainRTP, answered: .plainRTP)
        var payloadType: UInt8?
        var lastPacket: Int64 = 0
        var droppedNotMedia = 0
        var droppedUnbridged = 0
        /// The SSRC of this side's RTP last relayed, to find the report block about it.
        var ssrc: UInt32?
        var receiverReport: ReceiverReport?
        /// This side's last few sender reports: their NTP time (middle 32 bits) and when the relay saw each.
        var senderReports: [(time: UInt32, at: Int64)] = []

        subscript(component: Component) -> ComponentState {
            get { component == .rtp ? rtp : rtcp }
            _modify {
                if component == .rtp { yield &rtp } else { yield &rtcp }
            }
        }

        var latches: [RelayLatch] { [rtp.latch, rtcp.latch] }
    }

    /// SRTP terminated at the relay for one side of a section: what that side sends is verified and decrypted with
    /// its own keys, what goes to it is encrypted with the relay's. Each direction keeps its session for as long as
    /// its keys stay the same (a new session under the same key would reuse keystream and accept replays). Used
    /// only under the call's lock.
    final class SRTPBridge: @unchecked Sendable {
        var inbound: SRTPSession
        var outbound: SRTPSession
        var inboundPolicy: SRTPPolicy
        var outboundPolicy: SRTPPolicy

        init(inbound: SRTPPolicy, outbound: SRTPPolicy) throws(MediaSecurityError) {
            let sessions = try SRTPSession.pair(outbound: outbound, inbound: inbound, maximumStreams: 8)
            (self.inbound, self.outbound) = (sessions.inbound, sessions.outbound)
            (inboundPolicy, outboundPolicy) = (inbound, outbound)
        }

        /// New keys for either direction; a direction whose keys are unchanged keeps its session.
        func rekey(inbound newInbound: SRTPPolicy, outbound newOutbound: SRTPPolicy) throws(MediaSecurityError) {
            let sameInbound = Self.same(inboundPolicy, newInbound), sameOutbound = Self.same(outboundPolicy, newOutbound)
            guard !sameInbound || !sameOutbound else { return }
            let sessions = try SRTPSession.pair(outbound: newOutbound, inbound: newInbound, maximumStreams: 8)
            if !sameInbound { (inbound, inboundPolicy) = (sessions.inbound, newInbound) }
            if !sameOutbound { (outbound, outboundPolicy) = (sessions.outbound, newOutbound) }
        }

        static func same(_ one: SRTPPolicy, _ other: SRTPPolicy) -> Bool {
            one.profile == other.profile && one.keys.count == other.keys.count
                && zip(one.keys, other.keys).allSatisfy { $0.sameSecret(as: $1) && $0.mki == $1.mki }
        }
    }

    /// One media section: a bound pair and a state per side.
    struct Section {
        let pairs: [RelayServer.BoundPair]
        var sides = [SideState(), SideState()]
        /// Per side, SRTP terminated at the relay (nil: passed through, or plain).
        var bridges: [SRTPBridge?] = [nil, nil]
    }

    struct State {
        var sections: [Section]
        var closed = false
        /// Per side, whether its leg must carry SRTP the relay terminates, in every section: without a bridge,
        /// nothing goes to or comes from it (fail closed, never cleartext on that leg; ``requireBridge(on:)``).
        var bridgedSides = [false, false]
    }

    /// Most media sections one call may hold (audio, video, and a few more).
    public static let maximumSections = 8
    /// Foreign packets on one side's port before the watch reports an injection attempt (once).
    public static let foreignSourceThreshold = 10
    /// Datagrams on one side's port that are not media before the relay reports it (once).
    public static let notMediaThreshold = 10

    private let state: Mutex<State>
    private let onFinding: @Sendable (Side, MediaCryptoWatch.Finding) -> Void
    /// Hears every readable RTCP report passed on; nil: none is copied (nothing allocated for it).
    private let onRTCP: (@Sendable (RTCPCopy) -> Void)?
    /// Where each side's pairs come from (one server per address family).
    private let servers: [RelayServer]
    private let started: ContinuousClock.Instant

    init(servers: [RelayServer], onFinding: @escaping @Sendable (Side, MediaCryptoWatch.Finding) -> Void,
         onRTCP: (@Sendable (RTCPCopy) -> Void)? = nil) {
        (self.servers, self.onFinding, self.onRTCP) = (servers, onFinding, onRTCP)
        state = Mutex(State(sections: []))
        started = ContinuousClock.now
    }

    /// Warm pairs for `sections` sections, side `a`'s and side `b`'s alternating, or nil if none are ready (with
    /// `partial`, for as many sections as both servers have pairs for).
    static func takePairs(sections: Int, from servers: [RelayServer], partial: Bool) -> [RelayServer.BoundPair]? {
        if servers[0] === servers[1] { return servers[0].takeWarmPairs(2 * sections, partial: partial) }
        guard let first = servers[0].takeWarmPairs(sections, partial: partial, inTwos: false) else { return nil }
        guard let second = servers[1].takeWarmPairs(first.count, partial: partial, inTwos: false) else {
            servers[0].giveBack(first)
            return nil
        }
        if second.count < first.count { servers[0].giveBack(Array(first[second.count...])) }
        return zip(first, second).flatMap { [$0, $1] }
    }

    /// Whether `side` is relayed over IPv6 (else IPv4).
    public func isIPv6(_ side: Side) -> Bool { servers[side.rawValue].isIPv6 }

    /// Takes `pairs` (two per section) for new sections and points their sockets at this call; false if closed.
    func adopt(_ pairs: [RelayServer.BoundPair]) -> Bool {
        // The handlers are pointed at the call under its lock: a close() cannot slip in between and leave a handler
        // serving a closed call (a cycle that would keep it, and its keys, alive).
        state.withLock { state in
            guard !state.closed else { return false }
            for index in stride(from: 0, to: pairs.count - 1, by: 2) {
                let section = Section(pairs: [pairs[index], pairs[index + 1]])
                for (side, pair) in zip(Side.allCases, section.pairs) {
                    for (component, handler) in zip([Component.rtp, .rtcp], pair.handlers) {
                        handler.serve(self, section: state.sections.count, side: side, component: component)
                    }
                }
                state.sections.append(section)
            }
            return true
        }
    }

    /// How many media sections the call holds ports for.
    public var sections: Int { state.withLock { $0.sections.count } }

    /// Holds ports for at least `count` sections (at most ``maximumSections``), taking warm pairs from the relay
    /// synchronously; returns how many it holds now (fewer when the relay has no pairs left).
    @discardableResult
    public func reserveSections(_ count: Int) -> Int {
        let held = sections
        let wanted = min(count, Self.maximumSections)
        guard wanted > held else { return held }
        if let pairs = Self.takePairs(sections: wanted - held, from: servers, partial: true) {
            if !adopt(pairs) { Task { for pair in pairs { await pair.server.close(pair) } } }
        }
        return sections
    }

    /// The relay's RTP port for `side` of a section (RTCP is the next one).
    public func port(for side: Side, section: Int = 0) -> UInt16 {
        state.withLock { $0.sections[section].pairs[side.rawValue].port }
    }

    /// Where the SDP of `side` says it receives on a section: its RTP and RTCP addresses (a new address releases
    /// the latches), and the security classes of the section in the offer and the answer, for the watch. With
    /// `sendBeforeLatch` the relay sends to those addresses before the side's first packet; without it (the
    /// default) only to where the side's packets come from once it has latched.
    public func signal(_ side: Side, section: Int = 0, rtp: SocketAddress?, rtcp: SocketAddress?,
                       clockRate: Int = 8_000, offered: MediaSecurityClass = .plainRTP,
                       answered: MediaSecurityClass = .plainRTP, sendBeforeLatch: Bool = false) {
        let rtpSource = rtp.flatMap(Self.source), rtcpSource = rtcp.flatMap(Self.source)
        state.withLock { state in
            guard state.sections.indices.contains(section) else { return }
            var current = state.sections[section].sides[side.rawValue]
            // The same address again (an early answer repeated, a session refresh) keeps the latch.
            if current.rtp.latch.signalled != rtpSource { current.rtp.latch.resignal(rtpSource) }
            if current.rtcp.latch.signalled != rtcpSource { current.rtcp.latch.resignal(rtcpSource) }
            current.rtp.sendsBeforeLatch = sendBeforeLatch
            current.rtcp.sendsBeforeLatch = sendBeforeLatch
            if current.statistics.received == 0 { current.statistics = RTPStreamStatistics(clockRate: clockRate) }
            if current.watch.offered != offered || current.watch.answered != answered {
                current.watch = MediaCryptoWatch(offered: offered, answered: answered)
            }
            state.sections[section].sides[side.rawValue] = current
        }
    }

    /// Terminates SRTP on one side of a section (a trusted legacy trunk behind the other): `inbound` is the policy
    /// of the keys `side` protects its media with (from its SDP), `outbound` the relay's own for what it sends that
    /// side. Packets from that side that do not authenticate are dropped (and latch nothing). With both sides
    /// terminated, media is decrypted from one and protected anew for the other (a different suite or key on each
    /// leg). A later call replaces the keys. The sessions live only in memory and wipe their keys when the call
    /// ends.
    /// - Throws: ``MediaSecurityError`` for invalid keys, or the same key both ways.
    public func bridge(section: Int, side: Side, inbound: SRTPPolicy, outbound: SRTPPolicy) throws(MediaSecurityError) {
        // Under the call's lock: packets use the sessions while they are made or swapped (a rare event).
        try state.withLock { (state) throws(MediaSecurityError) in
            guard state.sections.indices.contains(section) else { return }
            if let existing = state.sections[section].bridges[side.rawValue] {
                try existing.rekey(inbound: inbound, outbound: outbound)
            } else {
                state.sections[section].bridges[side.rawValue] = try SRTPBridge(inbound: inbound, outbound: outbound)
            }
        }
    }

    /// Every section of `side`, now and to come, must carry SRTP the relay terminates: until a bridge is set up
    /// (and if it never is), packets to and from that side are dropped rather than relayed in the clear.
    public func requireBridge(on side: Side) {
        state.withLock { $0.bridgedSides[side.rawValue] = true }
    }

    /// Whether SRTP is terminated at the relay on a section (on `side`, or on either side when nil).
    public func isBridged(section: Int, side: Side? = nil) -> Bool {
        state.withLock { state in
            guard state.sections.indices.contains(section) else { return false }
            let bridges = state.sections[section].bridges
            return side.map { bridges[$0.rawValue] != nil } ?? bridges.contains { $0 != nil }
        }
    }

    /// How long since `side` last sent a packet that was relayed, on any section (or since the call began).
    public func silence(of side: Side) -> Duration {
        let now = nanoseconds()
        let last = state.withLock { $0.sections.map { $0.sides[side.rawValue].lastPacket }.max() ?? 0 }
        return .nanoseconds(now - last)
    }

    /// How long since any packet of the call was relayed, either way (or since the call began).
    public var idle: Duration { min(silence(of: .a), silence(of: .b)) }

    /// A snapshot of every section's two sides, section by section.
    public func report() -> [SideReport] {
        state.withLock { state in
            state.sections.enumerated().flatMap { index, section in
                Side.allCases.map { side in
                    let current = section.sides[side.rawValue]
                    let latches = current.latches
                    return SideReport(section: index, side: side, port: section.pairs[side.rawValue].port,
                                      relayed: latches.reduce(0) { $0 + $1.relayed },
                                      droppedForeign: latches.reduce(0) { $0 + $1.droppedForeign },
                                      droppedUnauthenticated: latches.reduce(0) { $0 + $1.droppedUnauthenticated },
                                      droppedUnlatched: latches.reduce(0) { $0 + $1.droppedUnlatched },
                                      droppedNotMedia: current.droppedNotMedia,
                                      droppedUnbridged: current.droppedUnbridged,
                                      statistics: current.statistics, findings: current.watch.findings,
                                      payloadType: current.payloadType, payloads: current.watch.payloads,
                                      receiverReport: current.receiverReport)
                }
            }
        }
    }

    /// Closes the sockets and returns the ports; the report stays readable.
    public func close() async {
        let pairs = state.withLock { state -> [RelayServer.BoundPair] in
            defer { state.closed = true }
            // The SRTP sessions go now (their keys are wiped as they are freed), not when the call is.
            for index in state.sections.indices { state.sections[index].bridges = [nil, nil] }
            return state.closed ? [] : state.sections.flatMap(\.pairs)
        }
        for pair in pairs { await pair.server.close(pair) }
    }

    /// A readable RTCP report the relay passed on (plain RTCP, or SRTCP it decrypted as a bridge), for a HEP copy:
    /// which side sent it, from where, to which of the relay's addresses.
    public struct RTCPCopy: Sendable {
        public let side: Side
        public let source: SocketAddress
        public let destination: SocketAddress?
        public let report: RTCPReport
    }

    /// What to write through a channel when sending straight from the socket failed (its buffer was full).
    typealias Fallback = (channel: any Channel, destination: SocketAddress, data: ByteBuffer)

    /// One datagram from `side`: latched or dropped, watched, and sent on from the other side's socket.
    func forward(_ envelope: AddressedEnvelope<ByteBuffer>, section: Int, from side: Side, component: Component) {
        let now = nanoseconds()
        var finding: MediaCryptoWatch.Finding?
        var copy: (report: RTCPReport, channel: any Channel)?
        let wantsRTCP = onRTCP != nil
        let fallback = envelope.data.withUnsafeReadableBytes { bytes in
            state.withLock { state -> Fallback? in
                guard !state.closed, state.sections.indices.contains(section) else { return nil }
                return Self.relay(bytes, of: envelope, in: &state.sections[section], bridgedSides: state.bridgedSides,
                                  from: side, component: component, at: now, finding: &finding,
                                  wantsRTCP: wantsRTCP, rtcp: &copy)
            }
        }
        if let finding { onFinding(side, finding) }
        if let copy, let onRTCP {
            onRTCP(RTCPCopy(side: side, source: envelope.remoteAddress, destination: copy.channel.localAddress,
                            report: copy.report))
        }
        guard let fallback else { return }
        fallback.channel.writeAndFlush(AddressedEnvelope(remoteAddress: fallback.destination, data: fallback.data),
                                       promise: nil)
    }

    /// The packet's way through a section, under the call's lock: received by the sender's side, then sent from
    /// the receiver's.
    private static func relay(_ bytes: UnsafeRawBufferPointer, of envelope: AddressedEnvelope<ByteBuffer>,
                              in section: inout Section, bridgedSides: [Bool], from side: Side, component: Component,
                              at now: Int64, finding: inout MediaCryptoWatch.Finding?,
                              wantsRTCP: Bool, rtcp copy: inout (report: RTCPReport, channel: any Channel)?)
        -> Fallback? {
        // A leg that must be bridged and is not (yet): nothing in or out, never cleartext.
        guard !bridgedSides[side.rawValue] || section.bridges[side.rawValue] != nil,
            !bridgedSides[side.other.rawValue] || section.bridges[side.other.rawValue] != nil
        else {
            section.sides[side.rawValue].droppedUnbridged += 1
            return nil
        }
        let header = RTPPacketView(raw: bytes)
        // Only media goes anywhere: a SIP request, a DNS query or anything else a party writes to its relay port is
        // dropped before it could latch or reach the other side's address (the relay is no open proxy).
        guard Self.isMedia(bytes, header: header, for: section.sides[side.rawValue].watch) else {
            section.sides[side.rawValue].droppedNotMedia += 1
            if section.sides[side.rawValue].droppedNotMedia == Self.notMediaThreshold {
                finding = .notMedia(dropped: Self.notMediaThreshold)
            }
            return nil
        }
        var cleartext: [UInt8]?
        guard let report = receive(bytes, header: header, from: envelope.remoteAddress, by: &section.sides[side.rawValue],
                                   component: component, bridge: section.bridges[side.rawValue], at: now,
                                   finding: &finding, cleartext: &cleartext)
        else { return nil }
        if let report {
            record(report, from: side, at: now, in: &section)
            if wantsRTCP {
                let pair = section.pairs[side.rawValue]
                copy = (report, component == .rtp ? pair.rtp : pair.rtcp)
            }
        }
        // What goes to the receiver leaves from its own socket. This thread may send on the socket's descriptor
        // only on the event loop of its channel (NIO closes a channel on its own loop, so it cannot close it
        // meanwhile) and while the channel is open (once closed, the number may already name another socket);
        // otherwise the packet goes through the channel.
        let pair = section.pairs[side.other.rawValue]
        let channel = component == .rtp ? pair.rtp : pair.rtcp
        let descriptor = channel.eventLoop.inEventLoop && channel.isActive ? pair.descriptors[component.rawValue] : nil
        let protecting = section.bridges[side.other.rawValue]
        let fallback = send(protecting == nil && cleartext == nil ? bytes : nil, cleartext ?? Array(bytes),
                            header: header, to: &section.sides[side.other.rawValue][component], protecting: protecting,
                            on: descriptor)
        return fallback.map { (channel, $0.destination, $0.data) }
    }

    /// The sender's side takes a packet: its source is checked against the latch (after SRTP verification when
    /// the relay terminates it), then it is watched and counted. Nil when dropped; else a readable RTCP report, if
    /// any (an empty optional inside).
    private static func receive(_ bytes: UnsafeRawBufferPointer, header: RTPPacketView?, from remote: SocketAddress,
                                by sender: inout SideState, component: Component, bridge: SRTPBridge?, at now: Int64,
                                finding: inout MediaCryptoWatch.Finding?, cleartext: inout [UInt8]?)
        -> RTCPReport??
    {
        let source: RelayLatch.Source
        if let cached = sender[component].lastSender, cached.address == remote {
            source = cached.source
        } else {
            guard let converted = Self.source(remote) else { return nil }
            source = converted
            sender[component].lastSender = AddressCache(address: remote, source: converted)
        }
        // Bridged SRTP from the secure side: only what authenticates under its keys counts (and may latch).
        var authenticated: Bool?
        if let bridge {
            var packet = Array(bytes)
            authenticated = header?.kind == .rtcp
                ? (try? bridge.inbound.unprotectRTCP(&packet)) != nil
                : (try? bridge.inbound.unprotectRTP(&packet)) != nil
            if authenticated == true { cleartext = packet }
        }
        let decision = sender[component].latch.packet(from: source, at: now, authenticated: authenticated)
        guard case .relay = decision else {
            // Forged packets count towards the finding whether they came from elsewhere or from a spoofed source.
            let dropped = sender.rtp.latch.droppedForeign + sender.rtcp.latch.droppedForeign
                + sender.rtp.latch.droppedUnauthenticated + sender.rtcp.latch.droppedUnauthenticated
            if decision != .dropUnlatched, dropped == Self.foreignSourceThreshold {
                finding = .foreignSource(dropped: dropped)
            }
            return nil
        }
        sender.lastPacket = now
        if component == .rtp || header?.kind == .rtp {
            finding = sender.watch.observe(raw: bytes)
        }
        if let header, header.kind == .rtp {
            sender.payloadType = header.payloadType
            sender.ssrc = header.ssrc
            sender.statistics.record(sequence: header.sequence, timestamp: header.timestamp, arrivalNanoseconds: now,
                                     payloadOctets: bytes.count - header.payloadOffset)
        } else if header?.kind == .rtcp {
            // Readable when plain, or once the relay has decrypted it.
            if let cleartext { return .some(RTCPReport(cleartext)) }
            if sender.watch.answered == .plainRTP { return .some(RTCPReport(bytes)) }
        }
        return .some(nil)
    }

    /// The receiver's side sends a packet on: to its latched source or, until it latches, the address its SDP gave,
    /// straight out of its own socket's `descriptor` (a sendto, none of the channel's write path; under the call's
    /// lock, so never after close(), which marks the call closed under it before the sockets close). `bytes` when
    /// the packet goes as it came, else `packet` (decrypted, or to be protected under the relay's keys for a bridged
    /// side). Without a descriptor, or with a full socket buffer, the packet is handed back, to be queued in the
    /// channel.
    private static func send(_ bytes: UnsafeRawBufferPointer?, _ packet: @autoclosure () -> [UInt8],
                             header: RTPPacketView?, to receiver: inout ComponentState,
                             protecting bridge: SRTPBridge?, on descriptor: CInt?)
        -> (destination: SocketAddress, data: ByteBuffer)?
    {
        guard let target = receiver.latch.latched ?? (receiver.sendsBeforeLatch ? receiver.latch.signalled : nil)
        else { return nil }
        let destination: SocketAddress
        if let cached = receiver.lastDestination, cached.source == target {
            destination = cached.address
        } else {
            guard let converted = Self.address(target) else { return nil }
            destination = converted
            receiver.lastDestination = AddressCache(address: converted, source: target)
        }
        func sendto(_ bytes: UnsafeRawBufferPointer) -> Bool {
            guard let descriptor else { return false }
            return destination.withSockAddr { Datagrams.send(bytes, on: descriptor, to: $0, length: $1) }
        }
        if let bytes {
            return sendto(bytes) ? nil : (destination, ByteBuffer(bytes: bytes))
        }
        var outgoing = packet()
        if let bridge {
            let protected = header?.kind == .rtcp
                ? (try? bridge.outbound.protectRTCP(&outgoing)) != nil : (try? bridge.outbound.protectRTP(&outgoing)) != nil
            guard protected else { return nil }
        }
        return outgoing.withUnsafeBytes(sendto) ? nil : (destination, ByteBuffer(bytes: outgoing))
    }

    /// A plain RTCP packet from `side`: its sender report's time is kept for the round trip, and its report block
    /// about the other side's stream becomes that stream's receiver report.
    static func record(_ report: RTCPReport?, from side: Side, at now: Int64, in section: inout Section) {
        guard let report else { return }
        if let time = report.senderReportTime {
            section.sides[side.rawValue].senderReports.append((time, now))
            if section.sides[side.rawValue].senderReports.count > 4 { section.sides[side.rawValue].senderReports.removeFirst() }
        }
        let stream = section.sides[side.other.rawValue]
        // The block about the stream the relay passed to this side (any, before that stream's first packet).
        guard let block = report.blocks.first(where: { stream.ssrc == nil || $0.ssrc == stream.ssrc }) else { return }
        var figures = stream.receiverReport ?? ReceiverReport()
        figures.reports += 1
        figures.fractionLost = Double(block.fractionLost) / 256
        figures.cumulativeLost = Int(block.cumulativeLost)
        figures.jitterMilliseconds = Double(block.jitter) * 1_000 / Double(stream.statistics.clockRate)
        if block.lastSenderReport != 0,
            let sent = stream.senderReports.last(where: { $0.time == block.lastSenderReport })
        {
            let roundTrip = now - sent.at - Int64(block.delaySinceLastSenderReport) * 1_000_000_000 / 65_536
            if roundTrip >= 0 { figures.roundTripMilliseconds = Double(roundTrip) / 1e6 }
        }
        section.sides[side.other.rawValue].receiverReport = figures
    }

    /// Whether a datagram is media this section may carry, as RFC 7983 tells them apart: RTP or RTCP with a
    /// plausible version 2 header (an RTCP length that fits the datagram); DTLS and STUN only on a stream the SDP
    /// keyed with DTLS-SRTP, ZRTP only on one keyed with ZRTP.
    static func isMedia(_ bytes: UnsafeRawBufferPointer, header: RTPPacketView?, for watch: MediaCryptoWatch) -> Bool {
        if let header {
            guard header.kind == .rtcp else { return true }
            // The first RTCP packet's length in 32-bit words minus one (RFC 3550 §6.4.1) must fit the datagram.
            let words = Int(bytes[2]) << 8 | Int(bytes[3])
            return (words + 1) * 4 <= bytes.count
        }
        let keyings = [watch.offered, watch.answered]
        switch MediaPacketKind(bytes) {
        case .dtls, .stun: return keyings.contains { if case .dtlsSRTP = $0 { true } else { false } }
        case .zrtp: return keyings.contains { if case .zrtp = $0 { true } else { false } }
        default: return false
        }
    }

    private func nanoseconds() -> Int64 {
        let elapsed = ContinuousClock.now - started
        return elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
    }

    static func source(_ address: SocketAddress) -> RelayLatch.Source? {
        guard let port = address.port else { return nil }
        switch address {
        case .v4(let v4):
            return withUnsafeBytes(of: v4.address.sin_addr) { RelayLatch.Source(address: Array($0), port: UInt16(port)) }
        case .v6(let v6):
            // An IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d: compare it as the IPv4 address the SDP
            // signalled.
            let octets = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            let mapped = octets.prefix(10).allSatisfy { $0 == 0 } && octets[10] == 0xFF && octets[11] == 0xFF
            return RelayLatch.Source(address: mapped ? Array(octets.suffix(4)) : octets, port: UInt16(port))
        default:
            return nil
        }
    }

    static func address(_ source: RelayLatch.Source) -> SocketAddress? {
        try? SocketAddress(packedIPAddress: ByteBuffer(bytes: source.address), port: Int(source.port))
    }
}
