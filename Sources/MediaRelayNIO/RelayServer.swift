import MediaRelay
import NIOCore
import NIOPosix
import RTP
import SDP
import SecurityPolicy
import Synchronization

/// The media relay's sockets (issue 7): a port pool on one address and the calls relayed through it. Each call
/// gets a pair of ports (RTP, RTCP) per side; what arrives on one side's port goes out of the other side's port of
/// the same component, so each side only ever sees the relay.
///
/// Binding a socket is asynchronous, but a call's SDP is rewritten while its INVITE is handled: so the server
/// keeps a few pairs bound in advance (``start(warmPairs:)``) and hands them out synchronously
/// (``makeCall(onFinding:)``), binding replacements in the background. A warm pair's sockets drop whatever arrives
/// before a call takes them. A call's sockets are closed with it and their ports go back to the pool, to be reused
/// last.
public final class RelayServer: Sendable {
    /// Why the relay could not start.
    public struct SetupError: Error, Hashable, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// A bound RTP/RTCP pair, waiting for a call or serving one.
    struct BoundPair: Sendable {
        /// The server it was bound by, and returns to.
        let server: RelayServer
        let port: UInt16
        let rtp: any Channel
        let rtcp: any Channel
        /// The sockets' descriptors (RTP, RTCP), for sending without the channel's write path. Valid while the
        /// channels are open: only a call that is not closed sends on them, under its lock, on the channel's loop.
        let descriptors: [CInt]
        let handlers: [RelayHandler]
    }

    /// The most octets a relayed datagram may have (a full Ethernet MTU with room to spare).
    static let largestDatagram = 2_048

    let group: any EventLoopGroup
    /// The address the relay binds and advertises.
    public let host: String
    /// The ports it hands out.
    public let ports: ClosedRange<UInt16>
    private let pool: Mutex<RelayPortPool>
    private let warm = Mutex<[BoundPair]>([])
    private let warmTarget = Mutex(0)
    private let refilling = Atomic<Bool>(false)
    private let refillRequested = Atomic<Bool>(false)

    public init(group: any EventLoopGroup, host: String, ports: ClosedRange<UInt16>) throws(RelayPortPool.RangeError) {
        self.group = group
        self.host = host
        self.ports = ports
        pool = Mutex(try RelayPortPool(range: ports))
    }

    /// Binds `warmPairs` pairs ahead (two per call).
    public func start(warmPairs: Int = 16) async throws {
        warmTarget.withLock { $0 = max(2, warmPairs) }
        try await refill()
    }

    /// Whether the relay's address is IPv6 (else IPv4).
    public var isIPv6: Bool { host.contains(":") }

    /// Pairs neither bound nor serving a call.
    public var availablePairs: Int { pool.withLock { $0.available } }

    /// Pairs bound and waiting for calls.
    public var warmPairs: Int { warm.withLock { $0.count } }

    /// Pairs taken from the range and not waiting in the warm pool: serving calls, or being bound or closed. Zero
    /// once every call's sockets have closed and no refill is under way (what a clean stop waits for).
    public var busyPairs: Int { pool.withLock { $0.allocated } - warmPairs }

    /// A new call holding ports for `sections` media sections (two warm pairs each), or nil when the relay cannot
    /// (the port range is exhausted, or calls came faster than pairs could be bound). `onFinding` hears the crypto
    /// watch's findings.
    public func makeCall(sections: Int = 1,
                         onFinding: @escaping @Sendable (RelayCall.Side, MediaCryptoWatch.Finding) -> Void = { _, _ in })
        -> RelayCall?
    {
        Self.makeCall(a: self, b: self, sections: sections, onFinding: onFinding)
    }

    /// A new call whose side `a` is relayed on one server and side `b` on another: an IPv4 party calling an IPv6
    /// one. Nil when either has no pairs ready.
    public static func makeCall(a: RelayServer, b: RelayServer, sections: Int = 1,
                                onFinding: @escaping @Sendable (RelayCall.Side, MediaCryptoWatch.Finding) -> Void = { _, _ in },
                                onRTCP: (@Sendable (RelayCall.RTCPCopy) -> Void)? = nil)
        -> RelayCall?
    {
        let count = min(max(1, sections), RelayCall.maximumSections)
        guard let pairs = RelayCall.takePairs(sections: count, from: [a, b], partial: false) else { return nil }
        let call = RelayCall(servers: [a, b], onFinding: onFinding, onRTCP: onRTCP)
        _ = call.adopt(pairs)
        return call
    }

    /// `count` warm pairs, or none if fewer are ready (with `partial`, as many as are ready: in twos when `inTwos`,
    /// a section's two sides bound on one event loop); the pool is refilled in the background either way.
    func takeWarmPairs(_ count: Int, partial: Bool = false, inTwos: Bool = true) -> [BoundPair]? {
        let pairs = warm.withLock { warm -> [BoundPair]? in
            let taken = partial ? min(count, inTwos ? warm.count & ~1 : warm.count) : count
            guard taken > 0, warm.count >= taken else { return nil }
            defer { warm.removeFirst(taken) }
            return Array(warm.prefix(taken))
        }
        scheduleRefill()
        return pairs
    }

    /// Puts pairs taken but not used back at the front of the warm pool.
    func giveBack(_ pairs: [BoundPair]) {
        warm.withLock { $0.insert(contentsOf: pairs, at: 0) }
    }

    /// Starts a refill unless one runs; one that runs goes round again if asked meanwhile (ports returned while it
    /// found the range exhausted would otherwise wait for the next call).
    private func scheduleRefill() {
        refillRequested.store(true, ordering: .releasing)
        guard refilling.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        Task {
            repeat {
                while self.refillRequested.exchange(false, ordering: .acquiringAndReleasing) { try? await self.refill() }
                self.refilling.store(false, ordering: .releasing)
            } while self.refillRequested.load(ordering: .acquiring)
                && self.refilling.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing)
                    .exchanged
        }
    }

    /// Binds pairs until the warm target is met or the range is exhausted, two at a time on one event loop: a
    /// section's two sides, so that a packet is written out of the other side's socket on the loop that read it
    /// (no hop between threads per packet). Calls take pairs in twos, so the pool stays in such twos.
    private func refill() async throws {
        while warm.withLock({ $0.count }) < warmTarget.withLock({ $0 }) {
            let loop = group.next()
            guard let first = try await bindPair(on: loop) else { return }
            guard let second = try await bindPair(on: loop) else {
                await unbind(first)
                return
            }
            // Stopped while binding: the pairs are not kept.
            guard warmTarget.withLock({ $0 }) > 0 else {
                await unbind(first)
                await unbind(second)
                return
            }
            warm.withLock { $0 += [first, second] }
        }
    }

    /// Binds an even/odd pair, trying a few if the first ones are taken by other programs; nil when the range is
    /// exhausted.
    private func bindPair(on loop: any EventLoop) async throws -> BoundPair? {
        for _ in 0..<8 {
            guard let port = pool.withLock({ $0.allocate() }) else { return nil }
            let handlers = [RelayHandler(), RelayHandler()]
            do {
                let (rtp, rtpDescriptor) = try await bind(port, handler: handlers[0], on: loop)
                do {
                    let (rtcp, rtcpDescriptor) = try await bind(port + 1, handler: handlers[1], on: loop)
                    return BoundPair(server: self, port: port, rtp: rtp, rtcp: rtcp,
                                     descriptors: [rtpDescriptor, rtcpDescriptor], handlers: handlers)
                } catch {
                    try? await rtp.close()
                    throw error
                }
            } catch {
                pool.withLock { $0.release(port) }  // taken by another program: try the next pair
            }
        }
        throw SetupError(description: "no relay port pair could be bound on \(host)")
    }

    /// A channel on a UDP socket the relay binds itself (so that it knows the descriptor), on `loop`.
    private func bind(_ port: UInt16, handler: RelayHandler, on loop: any EventLoop) async throws
        -> (channel: any Channel, descriptor: CInt)
    {
        let address = try SocketAddress(ipAddress: host, port: Int(port))
        let bound = address.withSockAddr { Datagrams.boundSocket($0, length: $1, ipv6: address.protocol == .inet6) }
        let descriptor: CInt
        switch bound {
        case .success(let bound): descriptor = bound
        case .failure(let failure): throw SetupError(description: "cannot bind \(host):\(port): \(failure)")
        }
        // From here the channel owns the descriptor and closes it.
        let channel = try await DatagramBootstrap(group: loop)
            // One recvmsg per wake-up, and no second call to learn that none are left: at 50 packets a second a
            // socket rarely holds more than one. (recvmmsg cost more here than it saved: measured with bench-relay.)
            .channelOption(.maxMessagesPerRead, value: 1)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: Self.largestDatagram))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
            .withBoundSocket(descriptor).get()
        return (channel, descriptor)
    }

    /// Closes a call's pair and returns its ports; the warm pool binds again if it ran short.
    func close(_ pair: BoundPair) async {
        await unbind(pair)
        if warmTarget.withLock({ $0 }) > 0 { scheduleRefill() }
    }

    /// Closes a pair's sockets and returns its ports, without asking for a refill (the refill's own undo).
    private func unbind(_ pair: BoundPair) async {
        for handler in pair.handlers { handler.stop() }
        try? await pair.rtp.close()
        try? await pair.rtcp.close()
        pool.withLock { $0.release(pair.port) }
    }

    /// Stops binding and closes the warm pairs (calls close their own). A bind in progress is waited for, at most
    /// two seconds.
    public func stop() async {
        warmTarget.withLock { $0 = 0 }
        for _ in 0..<400 where refilling.load(ordering: .acquiring) { try? await Task.sleep(for: .milliseconds(5)) }
        let pairs = warm.withLock { warm -> [BoundPair] in
            defer { warm.removeAll() }
            return warm
        }
        for pair in pairs { await close(pair) }
    }
}

/// Hands each datagram to the call its socket serves; drops what arrives while it serves none.
final class RelayHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let target = Mutex<(call: RelayCall, section: Int, side: RelayCall.Side, component: RelayCall.Component)?>(nil)
    /// Datagrams that arrived while the socket served no call.
    let droppedIdle = Atomic<Int>(0)

    func serve(_ call: RelayCall, section: Int, side: RelayCall.Side, component: RelayCall.Component) {
        target.withLock { $0 = (call, section, side, component) }
    }

    func stop() { target.withLock { $0 = nil } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let (call, section, side, component) = target.withLock({ $0 }) else {
            droppedIdle.add(1, ordering: .relaxed)
            return
        }
        call.forward(unwrapInboundIn(data), section: section, from: side, component: component)
    }
}
