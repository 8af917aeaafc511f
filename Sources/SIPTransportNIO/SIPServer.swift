import NIOCore
import NIOPosix
import NIOSSL
import SIPMessage
import Synchronization

/// Binds the configured UDP, TCP and TLS listeners and wires each to the transaction user.
public final class SIPServer: Sendable {
    /// What the server needs besides its handler.
    public struct Configuration: Sendable {
        /// The listeners to bind.
        public var listeners: [SIPListenAddress]
        /// The TLS context, required when a listener is TLS.
        public var tls: ReloadableTLSContext?
        /// Message limits (sizes, header counts).
        public var parseLimits: SIPParseLimits
        /// Per-connection limits of TCP and TLS.
        public var streamLimits: SIPStreamHandler.StreamLimits
        /// Connection limits per source and in all.
        public var connectionLimiter: ConnectionLimiter
        /// UDP socket receive buffer (bytes): bursts above the handling rate wait here instead of being lost.
        public var udpReceiveBufferBytes: Int
        /// Parse and handle each UDP socket's datagrams on all the group's loops in turn (the socket's own loop
        /// only receives and sends), so one busy peer can use every core.
        public var spreadUDPWork: Bool
        /// The client side of TLS connections the edge opens itself; nil: the edge opens no TLS connections.
        public var outboundTLS: TLSConfiguration?
        /// Certificates pinned for TLS connections the edge opens to these peers (a trunk's
        /// `certificate_fingerprint`, lowercase hex SHA-256 of the DER): the peer must present exactly that leaf
        /// certificate, which then stands in for the CA chain; a mismatch fails the handshake before anything is sent.
        public var pinnedServerCertificates: [SIPFlow: String] = [:]
        /// Whether a stream connection from this peer may be accepted at all (bans, address rules): refused ones are
        /// closed at accept, before any TLS work or slot is spent on them.
        public var acceptFilter: @Sendable (SocketAddress) -> Bool

        /// Creates a configuration.
        public init(listeners: [SIPListenAddress], tls: ReloadableTLSContext? = nil,
                    parseLimits: SIPParseLimits = .default,
                    streamLimits: SIPStreamHandler.StreamLimits = .init(),
                    connectionLimiter: ConnectionLimiter = ConnectionLimiter(),
                    udpReceiveBufferBytes: Int = 4 << 20, spreadUDPWork: Bool = true,
                    outboundTLS: TLSConfiguration? = nil,
                    acceptFilter: @escaping @Sendable (SocketAddress) -> Bool = { _ in true }) {
            self.outboundTLS = outboundTLS
            self.acceptFilter = acceptFilter
            self.listeners = listeners
            self.tls = tls
            self.parseLimits = parseLimits
            self.streamLimits = streamLimits
            self.connectionLimiter = connectionLimiter
            self.udpReceiveBufferBytes = udpReceiveBufferBytes
            self.spreadUDPWork = spreadUDPWork
        }
    }

    /// A bound listener: the configured address with the real port (when 0 was asked).
    public struct Bound: Sendable {
        public let address: SIPListenAddress
        let channel: any Channel

        /// Completes when the listener's socket closes (on ``SIPServer/stop(_:)``, or on a fatal socket error).
        public var closed: EventLoopFuture<Void> { channel.closeFuture }
    }

    /// Why the server could not start.
    public struct StartError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    let configuration: Configuration
    let handler: any SIPInboundHandler
    let onEvent: SIPTransportEventSink
    let group: any EventLoopGroup
    /// The open TCP and TLS connections, for requests the edge sends (``send(_:over:)``).
    public let connections = SIPConnectionTable()
    private let udpChannels = Mutex<[any Channel]>([])
    /// Messages waiting for a connection the edge is opening, by flow.
    private let dialing = Mutex<[SIPFlow: [[UInt8]]]>([:])
    private let outboundTLSContext: NIOSSLContext?
    /// For peers with a pinned certificate: the pin is the whole verification (the exact certificate, which need
    /// carry no name of the address the edge dialled), so no hostname check.
    private let pinnedTLSContext: NIOSSLContext?
    /// Most connections being opened at once, and most messages waiting for one.
    static let maxDialing = 1_024
    static let maxQueuedPerDial = 64

    /// Creates a server; nothing is bound until ``start()``.
    /// - Throws: an NIOSSL error if ``Configuration/outboundTLS`` cannot make a context (unreadable trust roots).
    public init(configuration: Configuration, handler: any SIPInboundHandler, group: any EventLoopGroup,
                onEvent: @escaping SIPTransportEventSink = { _, _ in }) throws {
        self.outboundTLSContext = try configuration.outboundTLS.map { try NIOSSLContext(configuration: $0) }
        self.pinnedTLSContext = try configuration.outboundTLS.map { base in
            var pinned = base
            pinned.certificateVerification = .noHostnameVerification
            return try NIOSSLContext(configuration: pinned)
        }
        self.configuration = configuration
        self.handler = handler
        self.group = group
        self.onEvent = onEvent
    }

    /// Binds every listener; on any failure the ones already bound are closed and the error names the listener.
    public func start() async throws -> [Bound] {
        var bound: [Bound] = []
        for address in configuration.listeners {
            do {
                let channel = try await bind(address)
                var actual = address
                actual.port = channel.localAddress?.port ?? address.port
                bound.append(Bound(address: actual, channel: channel))
                if address.transport == .udp { udpChannels.withLock { $0.append(channel) } }
            } catch {
                for listener in bound { try? await listener.channel.close() }
                throw StartError(description: "cannot listen on \(address): \(error)")
            }
        }
        return bound
    }

    /// Sends a message (a request the edge originates, or a response on a flow) down a flow: over TCP or TLS on the
    /// flow's open connection, over UDP from a UDP listener of the same address family. Returns false when there
    /// is no way (the connection has closed, or no UDP listener fits). This never opens a connection: see
    /// ``send(_:connecting:serverName:)``.
    @discardableResult
    public func send(_ bytes: [UInt8], over flow: SIPFlow) -> Bool {
        switch flow.transport {
        case .udp:
            guard flow.remote.port != 0, let channel = udpChannels.withLock({ channels in
                channels.first { $0.isActive && $0.localAddress?.protocol == flow.remote.protocol }
            }) else { return false }
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            let envelope = AddressedEnvelope(remoteAddress: flow.remote, data: buffer)
            Self.inOrder(channel) { channel.writeAndFlush(envelope, promise: nil) }
            return true
        case .tcp, .tls:
            guard let channel = connections.channel(for: flow), channel.isActive else { return false }
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            Self.inOrder(channel) { [buffer] in channel.writeAndFlush(buffer, promise: nil) }
            return true
        }
    }

    /// Runs a write through the channel's task queue even when already on its event loop. A write from another
    /// thread is queued, one on the loop would go at once: so of two messages a call sends in order (under its
    /// lock) from two threads, the second could leave first (a losing branch's 180 after the winner's 200).
    /// Through the queue they leave in the order they were sent.
    private static func inOrder(_ channel: any Channel, _ write: @escaping @Sendable () -> Void) {
        channel.eventLoop.execute(write)
    }

    /// Whether a flow can be used as it is: a UDP flow, or a connection that is open.
    public func isOpen(_ flow: SIPFlow) -> Bool {
        flow.transport == .udp || connections.channel(for: flow)?.isActive == true
    }

    /// Sends down a flow like ``send(_:over:)``, and over TCP or TLS opens a connection to the flow's address when
    /// none is open (requests to a Contact whose registration connection has gone, or to a trunk). Messages wait in
    /// order until the connection is up, at most ``maxQueuedPerDial`` of them; false when they cannot wait (too
    /// many connections being opened, or TLS with no client configuration).
    /// - Parameter serverName: the name the TLS peer's certificate must carry (SNI and verification); nil checks
    ///   the certificate against the peer's IP address.
    @discardableResult
    public func send(_ bytes: [UInt8], connecting flow: SIPFlow, serverName: String? = nil) -> Bool {
        if send(bytes, over: flow) { return true }
        guard flow.transport != .udp, flow.transport == .tcp || outboundTLSContext != nil else { return false }
        let isFirst: Bool? = dialing.withLock { waiting in
            if var queue = waiting[flow] {
                guard queue.count < Self.maxQueuedPerDial else { return nil }
                queue.append(bytes)
                waiting[flow] = queue
                return false
            }
            guard waiting.count < Self.maxDialing else { return nil }
            waiting[flow] = [bytes]
            return true
        }
        guard let isFirst else { return false }
        if isFirst { dial(flow, serverName: serverName) }
        return true
    }

    private func dial(_ flow: SIPFlow, serverName: String?) {
        let limits = configuration.parseLimits
        let streamLimits = configuration.streamLimits
        let handler = self.handler
        let onEvent = self.onEvent
        let connections = self.connections
        let tlsContext = flow.transport == .tls ? outboundTLSContext : nil
        let pin = configuration.pinnedServerCertificates[flow]
        let pinnedTLSContext = self.pinnedTLSContext
        ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(readTimeout: streamLimits.idleTimeout))
                    if tlsContext != nil, let pin, let pinnedTLSContext {
                        try sync.addHandler(NIOSSLClientHandler(
                            context: pinnedTLSContext, serverHostname: serverName,
                            customVerificationCallback: { certificates, promise in
                                let presented = certificates.first.flatMap { try? $0.toDERBytes() }
                                    .map(TLSSettings.fingerprint(ofDER:)) ?? ""
                                let matches = presented.utf8.count == pin.utf8.count
                                    && zip(presented.utf8, pin.utf8).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
                                promise.succeed(matches ? .certificateVerified : .failed)
                            }))
                    } else if let tlsContext {
                        try sync.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: serverName))
                    }
                    try sync.addHandler(SIPStreamHandler(
                        transport: flow.transport, limits: limits, streamLimits: streamLimits, handler: handler,
                        connections: connections, onEvent: onEvent, awaitsFirstMessage: false))
                }
            }
            .connect(to: flow.remote)
            .whenComplete { [self] result in
                let queued = self.dialing.withLock { $0.removeValue(forKey: flow) } ?? []
                switch result {
                case .success(let channel):
                    for bytes in queued {
                        var buffer = channel.allocator.buffer(capacity: bytes.count)
                        buffer.writeBytes(bytes)
                        channel.write(buffer, promise: nil)
                    }
                    channel.flush()
                case .failure(let error):
                    onEvent(.outboundConnectFailed(reason: "\(error)"), flow.remote)
                }
            }
    }

    /// Closes the listeners (open connections end with their peers or their idle timeout).
    public static func stop(_ listeners: [Bound]) async {
        for listener in listeners { try? await listener.channel.close() }
    }

    private func bind(_ address: SIPListenAddress) async throws -> any Channel {
        let limits = configuration.parseLimits
        let handler = self.handler
        let onEvent = self.onEvent
        switch address.transport {
        case .udp:
            let udpWorkers: (any EventLoopGroup)? = configuration.spreadUDPWork ? group : nil
            // No SO_REUSEADDR here: for UDP on Linux it would let another local socket bind the same port.
            return try await DatagramBootstrap(group: group)
                .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(configuration.udpReceiveBufferBytes))
                // Room for the largest message allowed and one octet more: NIO's default 2 KiB would cut every
                // larger datagram (an INVITE with video and ICE, a request through many proxies) and it would be
                // dropped as malformed; one octet over the limit tells a too-large datagram from a full one (513).
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: limits.maxMessageSize + 1))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            SIPDatagramHandler(limits: limits, handler: handler, workers: udpWorkers, onEvent: onEvent))
                    }
                }
                .bind(host: address.host, port: address.port).get()
        case .tcp, .tls:
            let transport = address.transport
            let tlsContext: ReloadableTLSContext?
            if transport == .tls {
                guard let tls = configuration.tls else {
                    throw StartError(description: "a TLS listener needs a certificate and key")
                }
                tlsContext = tls
            } else {
                tlsContext = nil
            }
            let streamLimits = configuration.streamLimits
            let connections = self.connections
            let limiter = configuration.connectionLimiter
            let acceptFilter = configuration.acceptFilter
            return try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 1024)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    let source = channel.remoteAddress.map(ConnectionLimiter.sourceKey) ?? "?"
                    if let remote = channel.remoteAddress, !acceptFilter(remote) { return channel.close() }
                    switch limiter.acquire(source) {
                    case .admitted: break
                    case let refusal:
                        onEvent(.connectionRefused(perSource: refusal == .sourceFull), channel.remoteAddress)
                        return channel.close()
                    }
                    channel.closeFuture.whenComplete { _ in limiter.release(source) }
                    return channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(IdleStateHandler(readTimeout: streamLimits.idleTimeout))
                        if let tlsContext {
                            try sync.addHandler(NIOSSLServerHandler(context: tlsContext.context))
                        }
                        try sync.addHandler(SIPStreamHandler(
                            transport: transport, limits: limits, streamLimits: streamLimits, handler: handler,
                            connections: connections, onEvent: onEvent))
                    }
                }
                .bind(host: address.host, port: address.port).get()
        }
    }
}
