import Crypto
import Foundation
import Metrics
import NIOCore
import NIOPosix
import NIOSSL
import SecurityPolicy
import STUN
import TURN

#if canImport(Glibc)
    import Glibc
#endif

/// The TURN server on SwiftNIO: listeners over UDP, TCP and TLS, a relay socket per allocation and address family,
/// and the protocol core (``TURNServerCore``) deciding everything. All of it runs on one event loop, so the core
/// is a plain value touched from there only; packets are relayed in that loop's reads.
public final class TURNRelayServer: @unchecked Sendable {
    /// One listener.
    public struct Listener: Hashable, Sendable, CustomStringConvertible {
        public var transport: TURNTransport
        public var address: IPAddress
        public var port: UInt16

        public init(transport: TURNTransport, address: IPAddress, port: UInt16) {
            (self.transport, self.address, self.port) = (transport, address, port)
        }

        /// `udp:127.0.0.1:3478`, `tls:[::1]:5349`.
        public init?(_ text: String) {
            let parts = text.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let transport = TURNTransport(rawValue: String(parts[0]).lowercased()) else { return nil }
            let rest = String(parts[1])
            guard let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]),
                let address = IPAddress(String(rest[..<colon]))
            else { return nil }
            self.init(transport: transport, address: address, port: port)
        }

        public var description: String {
            "\(transport.rawValue):" + (address.isIPv4 ? "\(address)" : "[\(address)]") + ":\(port)"
        }
    }

    public struct Configuration: Sendable {
        public var listeners: [Listener]
        public var core: TURNConfiguration
        public var relayPorts: ClosedRange<UInt16>
        public var credentials: any TURNCredentialSource
        /// The certificate for `tls` listeners.
        public var tls: NIOSSLContext?
        /// Stream connections at once, in all and per client IP address.
        public var maxConnections = 1_024
        public var maxConnectionsPerSource = 32
        /// A stream connection that has not allocated within this long is closed.
        public var idleConnectionSeconds = 30
        /// Security events, on the server's event loop (keep the work short: hand it on).
        public var events: @Sendable ([TURNEvent]) -> Void = { _ in }
        /// Ended allocations, on the server's event loop.
        public var sessions: @Sendable (TURNSessionRecord) -> Void = { _ in }

        public init(listeners: [Listener], core: TURNConfiguration, relayPorts: ClosedRange<UInt16>,
                    credentials: any TURNCredentialSource) {
            (self.listeners, self.core, self.relayPorts, self.credentials) = (listeners, core, relayPorts, credentials)
        }
    }

    private let configuration: Configuration
    private let loop: EventLoop
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant
    private var core: TURNServerCore
    private var datagramListeners: [STUNTransportAddress: Channel] = [:]
    private var streamListeners: [Channel] = []
    private var streams: [TURNFiveTuple: (channel: Channel, opened: Duration)] = [:]
    private var streamsPerSource: [IPAddress: Int] = [:]
    /// Relay sockets per allocation, one per family.
    private var relays: [UInt32: RelaySockets] = [:]

    private struct RelaySockets {
        var v4: Channel?
        var v6: Channel?
        var all: [Channel] { [v4, v6].compactMap { $0 } }
    }
    private var housekeeping: RepeatedTask?
    private var stopped = false

    private let relayedToPeers = Counter(label: "rampart_turn_relayed_packets_total", dimensions: [("direction", "to-peer")])
    private let relayedToClients = Counter(label: "rampart_turn_relayed_packets_total", dimensions: [("direction", "to-client")])
    private let dropped = Counter(label: "rampart_turn_dropped_packets_total")
    private let allocationsGauge = Gauge(label: "rampart_turn_allocations")

    public init(configuration: Configuration, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        loop = group.next()
        origin = clock.now
        core = TURNServerCore(configuration: configuration.core, credentials: configuration.credentials,
                              nonceSecret: SymmetricKey(size: .bits256), relayPorts: configuration.relayPorts)
    }

    private var now: Duration { clock.now - origin }

    /// Datagrams read from a UDP listener in one system call, and the largest one taken (TURN over UDP carries
    /// media; a bigger datagram is IP-fragmented anyway and dropped here).
    static let listenerBatch = 16
    static let largestClientDatagram = 4_096
    /// The largest datagram taken from a peer on a relay socket (as the media relay's).
    static let largestPeerDatagram = 2_048
    /// A UDP listener's socket buffers.
    static let listenerBuffer = 4 * 1_024 * 1_024
    /// UDP listeners with answers written but not yet flushed (flushed once per event loop pass: sendmmsg).
    private var unflushed: [Channel] = []
    private var flushScheduled = false
    private var epochSeconds: Int64 { Int64(Date().timeIntervalSince1970) }

    // MARK: - Start and stop

    /// Binds every listener; returns them with their ports (0 asks the system for one).
    public func start() async throws -> [Listener] {
        var bound: [Listener] = []
        for listener in configuration.listeners {
            let host = listener.address.description
            switch listener.transport {
            case .udp:
                let handler = DatagramListenerHandler(server: self)
                // recvmmsg: up to 16 datagrams a system call, each up to 4 KiB (a larger one is dropped).
                let channel = try await DatagramBootstrap(group: loop)
                    .channelOption(.socketOption(.so_reuseaddr), value: 1)
                    .channelOption(.datagramVectorReadMessageCount, value: Self.listenerBatch)
                    .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(
                        capacity: Self.listenerBatch * (Self.largestClientDatagram + 1)))
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(handler)
                        }
                    }
                    .bind(host: host, port: Int(listener.port)).get()
                // Every client's media arrives on this one socket in 20 ms bursts: a receive buffer of 4 MiB (the
                // system's limit decides; with CAP_NET_ADMIN, beyond it) rides them out instead of dropping.
                try? await channel.setOption(.socketOption(.so_rcvbuf), value: Self.listenerBuffer)
                try? await channel.setOption(ChannelOptions.socket(.init(SOL_SOCKET), .init(SO_RCVBUFFORCE)),
                                             value: Self.listenerBuffer)
                try? await channel.setOption(.socketOption(.so_sndbuf), value: Self.listenerBuffer)
                let port = UInt16(channel.localAddress?.port ?? Int(listener.port))
                let local = STUNTransportAddress(address: listener.address, port: port)
                try await loop.submit {
                    self.datagramListeners[local] = channel
                    handler.local = local
                }.get()
                bound.append(Listener(transport: .udp, address: listener.address, port: port))
            case .tcp, .tls:
                if listener.transport == .tls, configuration.tls == nil { throw TURNServerError.noCertificate }
                let transport = listener.transport
                let channel = try await ServerBootstrap(group: loop)
                    .serverChannelOption(.backlog, value: 256)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelOption(.writeBufferWaterMark, value: .init(low: 32 * 1_024, high: 128 * 1_024))
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            guard self.admit(channel, transport: transport) else { throw TURNServerError.tooManyConnections }
                            if transport == .tls, let tls = self.configuration.tls {
                                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                            }
                            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(StreamFramer()))
                            try channel.pipeline.syncOperations.addHandler(StreamHandler(server: self, transport: transport))
                        }
                    }
                    .bind(host: host, port: Int(listener.port)).get()
                try await loop.submit { self.streamListeners.append(channel) }.get()
                bound.append(Listener(transport: transport, address: listener.address,
                                      port: UInt16(channel.localAddress?.port ?? Int(listener.port))))
            }
        }
        let own = bound.map { AddressPolicy.Endpoint(address: $0.address, port: $0.port) }
        try await loop.submit { self.core.addOwnListeners(own) }.get()
        housekeeping = loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in self.tick() }
        return bound
    }

    /// Closes everything; allocations end with their records.
    public func stop() async {
        let channels: [Channel] = (try? await loop.submit { () -> [Channel] in
            self.stopped = true
            self.housekeeping?.cancel()
            for tuple in Array(self.core.allocationTuples) { self.close(tuple) }
            return Array(self.datagramListeners.values) + self.streamListeners + self.streams.values.map(\.channel)
        }.get()) ?? []
        for channel in channels { try? await channel.close() }
    }

    /// The allocations alive now.
    public func allocationCount() async -> Int { (try? await loop.submit { self.core.allocationCount }.get()) ?? 0 }

    /// Listeners of the process's other services (as bound) that no peer may be.
    public func addOwnListeners(_ endpoints: [AddressPolicy.Endpoint]) async {
        try? await loop.submit { self.core.addOwnListeners(endpoints) }.get()
    }

    // MARK: - From clients

    private func admit(_ channel: Channel, transport: TURNTransport) -> Bool {
        guard let remote = channel.remoteAddress.flatMap(STUNTransportAddress.init) else { return false }
        guard streams.count < configuration.maxConnections,
            streamsPerSource[remote.address, default: 0] < configuration.maxConnectionsPerSource
        else { return false }
        return true
    }

    fileprivate func streamOpened(_ channel: Channel, transport: TURNTransport) -> TURNFiveTuple? {
        guard let tuple = tuple(of: channel, transport: transport) else { return nil }
        streams[tuple] = (channel, now)
        streamsPerSource[tuple.client.address, default: 0] += 1
        return tuple
    }

    fileprivate func streamClosed(_ tuple: TURNFiveTuple) {
        guard streams.removeValue(forKey: tuple) != nil else { return }
        streamsPerSource[tuple.client.address, default: 1] -= 1
        if streamsPerSource[tuple.client.address] == 0 { streamsPerSource[tuple.client.address] = nil }
        close(tuple)
    }

    private func tuple(of channel: Channel, transport: TURNTransport) -> TURNFiveTuple? {
        guard let remote = channel.remoteAddress.flatMap(STUNTransportAddress.init),
            let local = channel.localAddress.flatMap(STUNTransportAddress.init)
        else { return nil }
        return TURNFiveTuple(client: remote, server: local, transport: transport)
    }

    fileprivate func datagram(_ buffer: ByteBuffer, from remote: SocketAddress, listener local: STUNTransportAddress) {
        guard buffer.readableBytes <= Self.largestClientDatagram, let client = STUNTransportAddress(remote) else {
            dropped.increment()
            return
        }
        fromClient(buffer, tuple: TURNFiveTuple(client: client, server: local, transport: .udp))
    }

    fileprivate func streamMessage(_ buffer: ByteBuffer, tuple: TURNFiveTuple) {
        fromClient(buffer, tuple: tuple)
    }

    /// A datagram or a framed stream message from a client.
    private func fromClient(_ buffer: ByteBuffer, tuple: TURNFiveTuple) {
        let now = self.now
        let start = buffer.readerIndex
        guard let first = buffer.getInteger(at: start, as: UInt8.self) else { return }
        // ChannelData needs an allocation, so it never funds an unauthenticated answer: STUN messages alone count.
        if !ChannelData.isChannelData(firstByte: first) { core.received(buffer.readableBytes, from: tuple.client, now: now) }
        if ChannelData.isChannelData(firstByte: first) {
            guard let number = buffer.getInteger(at: start, as: UInt16.self), let channel = TURNChannelNumber(rawValue: number),
                let length = buffer.getInteger(at: start + 2, as: UInt16.self), Int(length) + 4 <= buffer.readableBytes,
                let (allocation, peer) = core.channelData(channel, length: Int(length), on: tuple, now: now),
                let payload = buffer.getSlice(at: start + 4, length: Int(length))
            else {
                dropped.increment()
                return
            }
            toPeer(payload, allocation: allocation, peer: peer)
            return
        }
        guard let message = try? STUNMessage(parsing: Array(buffer.readableBytesView)) else {
            dropped.increment()
            return
        }
        let reply = core.handle(message, on: tuple, now: now, epochSeconds: epochSeconds)
        if !reply.events.isEmpty { configuration.events(reply.events) }
        switch reply.outcome {
        case .none:
            break
        case .respond(let bytes):
            toClient(ByteBuffer(bytes: bytes), tuple: tuple)
        case .relay(let allocation, let peer, let range):
            toPeer(ByteBuffer(bytes: message.bytes[range]), allocation: allocation, peer: peer)
        case .ended(let record, let allocation, let response):
            closeRelays(allocation)
            configuration.sessions(record)
            toClient(ByteBuffer(bytes: response), tuple: tuple)
        case .allocate(let plan):
            bindRelays(plan)
        }
        allocationsGauge.record(core.allocationCount)
    }

    /// Binds a plan's relay sockets; the core answers once they are all bound, or 508 if one is not.
    private func bindRelays(_ plan: TURNAllocationPlan) {
        let handlers = plan.relayed.map { _ in RelayHandler(server: self) }
        let binds = zip(plan.relayed, handlers).map { address, handler in
            // One datagram a wake-up: a peer's media comes a packet at a time, and a second read would only find
            // nothing (a wasted system call per packet).
            var bootstrap = DatagramBootstrap(group: loop)
                .channelOption(.maxMessagesPerRead, value: 1)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: Self.largestPeerDatagram + 1))
            // DONT-FRAGMENT (RFC 8656 §7.2): the relay socket sets DF (IPv4), or does not fragment (IPv6).
            if plan.dontFragment, address.address.isIPv4 {
                bootstrap = bootstrap.channelOption(
                    ChannelOptions.socket(.init(CInt(IPPROTO_IP)), .init(IP_MTU_DISCOVER)),
                    value: Int(IP_PMTUDISC_DO))
            } else if plan.dontFragment {
                bootstrap = bootstrap.channelOption(
                    ChannelOptions.socket(.init(CInt(IPPROTO_IPV6)), .init(IPV6_DONTFRAG)), value: 1)
            }
            return bootstrap
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
                }
                .bind(to: address.socketAddress)
        }
        EventLoopFuture.whenAllComplete(binds, on: loop).whenSuccess { results in
            let channels: [Channel] = results.compactMap { try? $0.get() }
            // A stream client that went while the sockets were bound has no allocation to come back to.
            let clientGone = plan.tuple.transport != .udp && self.streams[plan.tuple] == nil
            if clientGone { _ = self.core.close(plan.tuple, now: self.now) }
            if !self.stopped, !clientGone, channels.count < results.count {
                // A port another process holds: the core picks others (a few times) or answers 508.
                for channel in channels { channel.close(promise: nil) }
                let unavailable = zip(plan.relayed, results).compactMap { address, result -> STUNTransportAddress? in
                    if case .failure = result { return address }
                    return nil
                }
                switch self.core.rebind(plan, unavailable: unavailable, now: self.now) {
                case .allocate(let next): self.bindRelays(next)
                case .respond(let response): self.toClient(ByteBuffer(bytes: response), tuple: plan.tuple)
                default: break
                }
                return
            }
            guard !self.stopped, !clientGone, let (id, response) = self.core.allocationBound(plan, now: self.now) else {
                for channel in channels { channel.close(promise: nil) }
                if let response = self.core.allocationFailed(plan) { self.toClient(ByteBuffer(bytes: response), tuple: plan.tuple) }
                return
            }
            for handler in handlers { handler.allocation = id }
            var sockets = RelaySockets()
            for (address, channel) in zip(plan.relayed, channels) {
                if address.address.isIPv4 { sockets.v4 = channel } else { sockets.v6 = channel }
            }
            self.relays[id] = sockets
            self.allocationsGauge.record(self.core.allocationCount)
            self.toClient(ByteBuffer(bytes: response), tuple: plan.tuple)
        }
    }

    private func toPeer(_ payload: ByteBuffer, allocation: UInt32, peer: STUNTransportAddress) {
        guard let sockets = relays[allocation], let socket = peer.address.isIPv4 ? sockets.v4 : sockets.v6 else { return }
        relayedToPeers.increment()
        socket.writeAndFlush(AddressedEnvelope(remoteAddress: peer.socketAddress, data: payload), promise: nil)
    }

    private func toClient(_ buffer: ByteBuffer, tuple: TURNFiveTuple) {
        switch tuple.transport {
        case .udp:
            guard let listener = datagramListeners[tuple.server] else { return }
            listener.write(AddressedEnvelope(remoteAddress: tuple.client.socketAddress, data: buffer), promise: nil)
            if !unflushed.contains(where: { $0 === listener }) { unflushed.append(listener) }
            if !flushScheduled {
                flushScheduled = true
                // After this pass's reads: what piled up goes out in one sendmmsg.
                loop.execute {
                    self.flushScheduled = false
                    for channel in self.unflushed { channel.flush() }
                    self.unflushed.removeAll(keepingCapacity: true)
                }
            }
        case .tcp, .tls:
            // A client that does not read gets nothing more once its write buffer is full (the water marks):
            // dropped and counted, never queued without end.
            guard let channel = streams[tuple]?.channel else { return }
            guard channel.isWritable else {
                dropped.increment()
                return
            }
            channel.writeAndFlush(buffer, promise: nil)
        }
    }

    // MARK: - From peers

    fileprivate func fromPeer(_ buffer: ByteBuffer, from remote: SocketAddress, allocation: UInt32) {
        let length = buffer.readableBytes
        guard length <= Self.largestPeerDatagram, let peer = STUNTransportAddress(remote) else {
            dropped.increment()
            return
        }
        switch core.fromPeer(peer, to: allocation, length: length, now: now) {
        case nil:
            dropped.increment()
        case .channel(let channel, let tuple)?:
            let padding = tuple.transport == .udp ? 0 : (4 - length % 4) % 4
            var framed = ByteBufferAllocator().buffer(capacity: 4 + length + padding)
            framed.writeBytes(ChannelData.headerBytes(channel: channel, length: length))
            framed.writeImmutableBuffer(buffer)
            if padding > 0 { framed.writeRepeatingByte(0, count: padding) }
            relayedToClients.increment()
            toClient(framed, tuple: tuple)
        case .indication(let tuple)?:
            guard let indication = TURNServerCore.dataIndication(from: peer, payload: buffer.readableBytesView) else {
                dropped.increment()  // too large for a Data indication
                return
            }
            relayedToClients.increment()
            toClient(ByteBuffer(bytes: indication), tuple: tuple)
        }
    }

    // MARK: - Lifetimes

    private func tick() {
        let now = self.now
        for (allocation, record) in core.expire(now: now) {
            closeRelays(allocation)
            configuration.sessions(record)
        }
        // Stream connections that never allocated go after the idle limit.
        for (tuple, stream) in streams where core.allocation(tuple) == nil
            && now - stream.opened > .seconds(configuration.idleConnectionSeconds)
        {
            stream.channel.close(promise: nil)
        }
        allocationsGauge.record(core.allocationCount)
    }

    private func close(_ tuple: TURNFiveTuple) {
        guard let (allocation, record) = core.close(tuple, now: now) else { return }
        closeRelays(allocation)
        configuration.sessions(record)
    }

    private func closeRelays(_ allocation: UInt32) {
        for channel in relays.removeValue(forKey: allocation)?.all ?? [] { channel.close(promise: nil) }
    }
}

public enum TURNServerError: Error, CustomStringConvertible {
    case noCertificate
    case tooManyConnections

    public var description: String {
        switch self {
        case .noCertificate: "a tls TURN listener needs a certificate"
        case .tooManyConnections: "too many TURN connections"
        }
    }
}

// MARK: - Handlers

private final class DatagramListenerHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let server: TURNRelayServer
    /// The listener's address as bound (set on the loop once known; nothing is read before).
    var local: STUNTransportAddress?

    init(server: TURNRelayServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let local else { return }
        let envelope = unwrapInboundIn(data)
        server.datagram(envelope.data, from: envelope.remoteAddress, listener: local)
    }
}

private final class RelayHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let server: TURNRelayServer
    /// Set once the allocation exists; until then what arrives is dropped.
    var allocation: UInt32?

    init(server: TURNRelayServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let allocation else { return }
        let envelope = unwrapInboundIn(data)
        server.fromPeer(envelope.data, from: envelope.remoteAddress, allocation: allocation)
    }
}

private final class StreamHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let server: TURNRelayServer
    let transport: TURNTransport
    /// The connection's 5-tuple, read once when it opens.
    private var tuple: TURNFiveTuple?

    init(server: TURNRelayServer, transport: TURNTransport) { (self.server, self.transport) = (server, transport) }

    func channelActive(context: ChannelHandlerContext) {
        if tuple == nil { tuple = server.streamOpened(context.channel, transport: transport) }
        context.fireChannelActive()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive, tuple == nil { tuple = server.streamOpened(context.channel, transport: transport) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let tuple { server.streamClosed(tuple) }
        tuple = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let tuple else { return }
        server.streamMessage(unwrapInboundIn(data), tuple: tuple)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}

/// Frames a TURN stream (RFC 8656 §12.5): STUN messages by their header's length, ChannelData by its length padded
/// to 4; anything else closes the connection.
struct StreamFramer: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard buffer.readableBytes >= 4, let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
            let length = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self)
        else { return .needMoreData }
        let frame: Int
        if ChannelData.isChannelData(firstByte: first) {
            frame = ChannelData.streamFrameLength(payloadLength: Int(length))
        } else if first & 0xC0 == 0 {
            frame = 20 + Int(length)
        } else {
            throw StreamFramingError()
        }
        guard buffer.readableBytes >= frame, let message = buffer.readSlice(length: frame) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(message))
        return .continue
    }
}

struct StreamFramingError: Error {}
