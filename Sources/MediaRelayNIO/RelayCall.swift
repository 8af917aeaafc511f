import MediaRelay
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
        var other: Side { self == .a ? .b : .a }
    }

    public enum Component: Int, Sendable { case rtp = 0, rtcp = 1 }

    /// What one side sent through the relay.
    public struct SideReport: Sendable {
        /// The relay's port (RTP; RTCP on the next) that this side sends to.
        public var port: UInt16
        public var relayed: Int
        public var droppedForeign: Int
        public var droppedUnlatched: Int
        public var statistics: RTPStreamStatistics
        public var findings: [MediaCryptoWatch.Finding]
        /// The RTP payload type seen last.
        public var payloadType: UInt8?
        /// The estimated MOS of this side's audio as the relay received it.
        public var meanOpinionScore: Double? {
            guard statistics.received > 0, let payloadType else { return nil }
            return EModel.meanOpinionScore(statistics, payloadType: payloadType)
        }
    }

    struct SideState {
        var latches = [RelayLatch(signalled: nil), RelayLatch(signalled: nil)]
        var statistics = RTPStreamStatistics(clockRate: 8_000)
        var watch = MediaCryptoWatch(offered: .plainRTP, answered: .plainRTP)
        var payloadType: UInt8?
        var lastPacket: Int64 = 0
    }

    struct State {
        var sides = [SideState(), SideState()]
        var closed = false
    }

    private let state = Mutex(State())
    private let onFinding: @Sendable (Side, MediaCryptoWatch.Finding) -> Void
    private let server: RelayServer
    private let pairs: [RelayServer.BoundPair]
    private let channels: [[any Channel]]
    private let started: ContinuousClock.Instant

    init(server: RelayServer, pairs: [RelayServer.BoundPair],
         onFinding: @escaping @Sendable (Side, MediaCryptoWatch.Finding) -> Void) {
        (self.server, self.pairs, self.onFinding) = (server, pairs, onFinding)
        channels = pairs.map { [$0.rtp, $0.rtcp] }
        started = ContinuousClock.now
    }

    /// The relay's RTP port for `side` (RTCP is the next one).
    public func port(for side: Side) -> UInt16 { pairs[side.rawValue].port }

    /// Where the SDP of `side` says it receives: its RTP and RTCP addresses (a re-INVITE calls this again and
    /// releases the latches), and the security classes of its section in the offer and the answer, for the watch.
    public func signal(_ side: Side, rtp: SocketAddress?, rtcp: SocketAddress?, clockRate: Int = 8_000,
                       offered: MediaSecurityClass = .plainRTP, answered: MediaSecurityClass = .plainRTP) {
        state.withLock { state in
            state.sides[side.rawValue].latches[0].resignal(rtp.flatMap(Self.source))
            state.sides[side.rawValue].latches[1].resignal(rtcp.flatMap(Self.source))
            if state.sides[side.rawValue].statistics.received == 0 {
                state.sides[side.rawValue].statistics = RTPStreamStatistics(clockRate: clockRate)
            }
            state.sides[side.rawValue].watch = MediaCryptoWatch(offered: offered, answered: answered)
        }
    }

    /// How long since `side` last sent a packet that was relayed (or since the call began).
    public func silence(of side: Side) -> Duration {
        let now = nanoseconds()
        let last = state.withLock { $0.sides[side.rawValue].lastPacket }
        return .nanoseconds(now - last)
    }

    /// A snapshot of both sides.
    public func report() -> [SideReport] {
        state.withLock { state in
            Side.allCases.map { side in
                let current = state.sides[side.rawValue]
                let latches = current.latches
                return SideReport(port: pairs[side.rawValue].port,
                                  relayed: latches.reduce(0) { $0 + $1.relayed },
                                  droppedForeign: latches.reduce(0) { $0 + $1.droppedForeign },
                                  droppedUnlatched: latches.reduce(0) { $0 + $1.droppedUnlatched },
                                  statistics: current.statistics, findings: current.watch.findings,
                                  payloadType: current.payloadType)
            }
        }
    }

    /// Closes the sockets and returns the ports; the report stays readable.
    public func close() async {
        let first = state.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        guard first else { return }
        for pair in pairs { await server.close(pair) }
    }

    /// One datagram from `side`: latched or dropped, watched, and sent on from the other side's socket.
    func forward(_ envelope: AddressedEnvelope<ByteBuffer>, from side: Side, component: Component) {
        guard let source = Self.source(envelope.remoteAddress) else { return }
        let now = nanoseconds()
        let bytes = envelope.data.readableBytesView
        var finding: MediaCryptoWatch.Finding?
        let target = state.withLock { state -> (any Channel, SocketAddress)? in
            guard !state.closed else { return nil }
            let decision = state.sides[side.rawValue].latches[component.rawValue]
                .packet(from: source, at: now, authenticated: nil)
            guard case .relay = decision else { return nil }
            state.sides[side.rawValue].lastPacket = now
            if component == .rtp || MediaPacketKind(bytes) == .rtp {
                finding = state.sides[side.rawValue].watch.observe(bytes)
                if let header = RTPPacketView(bytes), header.kind == .rtp {
                    state.sides[side.rawValue].payloadType = header.payloadType
                    state.sides[side.rawValue].statistics.record(
                        sequence: header.sequence, timestamp: header.timestamp, arrivalNanoseconds: now,
                        payloadOctets: bytes.count - header.payloadOffset)
                }
            }
            // To the other side's latched source, or until it latches, to the address its SDP gave.
            let otherLatch = state.sides[side.other.rawValue].latches[component.rawValue]
            guard let destination = (otherLatch.latched ?? otherLatch.signalled).flatMap(Self.address) else { return nil }
            return (channels[side.other.rawValue][component.rawValue], destination)
        }
        if let finding { onFinding(side, finding) }
        guard let (channel, destination) = target else { return }
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: destination, data: envelope.data), promise: nil)
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
