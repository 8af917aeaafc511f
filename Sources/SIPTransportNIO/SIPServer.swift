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

        /// Creates a configuration.
        public init(listeners: [SIPListenAddress], tls: ReloadableTLSContext? = nil,
                    parseLimits: SIPParseLimits = .default,
                    streamLimits: SIPStreamHandler.StreamLimits = .init(),
                    connectionLimiter: ConnectionLimiter = ConnectionLimiter(),
                    udpReceiveBufferBytes: Int = 4 << 20, spreadUDPWork: Bool = true) {
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

    /// Creates a server; nothing is bound until ``start()``.
    public init(configuration: Configuration, handler: any SIPInboundHandler, group: any EventLoopGroup,
                onEvent: @escaping SIPTransportEventSink = { _, _ in }) {
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
    /// is no way (the connection has closed, or no UDP listener fits): the peer is unreachable until it registers
    /// again (RFC 5626 §4.4: the edge does not open connections towards clients).
    @discardableResult
    public func send(_ bytes: [UInt8], over flow: SIPFlow) -> Bool {
        switch flow.transport {
        case .udp:
            guard flow.remote.port != 0, let channel = udpChannels.withLock({ channels in
                channels.first { $0.isActive && $0.localAddress?.protocol == flow.remote.protocol }
            }) else { return false }
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: flow.remote, data: buffer), promise: nil)
            return true
        case .tcp, .tls:
            guard let channel = connections.channel(for: flow), channel.isActive else { return false }
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            channel.writeAndFlush(buffer, promise: nil)
            return true
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
            return try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 1024)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    let source = channel.remoteAddress?.ipAddress ?? "?"
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
