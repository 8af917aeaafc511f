import NIOCore
import NIOSSL
import NIOTLS
import SIPMessage

/// The TCP and TLS shell around the sans-I/O SIP core (RFC 3261 §18.3): frames the byte stream with
/// ``SIPStreamFramer``, answers RFC 5626 keep-alive pings, hands each message to the transaction user and writes
/// its reply back on the same connection (connection reuse for responses, RFC 3261 §18.2.2).
///
/// Every connection is bounded: the framer holds at most one maximum-size message, at most
/// ``StreamLimits/maxPendingRequests`` requests may wait for answers (more are refused with 503), and a connection
/// idle for ``StreamLimits/idleTimeout`` is closed (via an `IdleStateHandler` placed before this handler). A stream
/// that cannot be framed is closed without an answer, since the next message boundary is unknown (a framed
/// message that does not parse is answered with its status, as over UDP).
public final class SIPStreamHandler: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// Per-connection limits.
    public struct StreamLimits: Sendable, Hashable {
        /// Requests handed on and not yet answered (default 32).
        public var maxPendingRequests: Int
        /// Idle time after which the connection is closed (default 5 minutes: above the 120 s RFC 5626
        /// keep-alive interval of clients, below NAT bindings of well-kept networks).
        public var idleTimeout: TimeAmount
        /// Longest a TLS handshake may take before the connection is closed (default 10 s): a peer that opens
        /// connections and stalls their handshakes would otherwise hold slots until the idle timeout.
        public var handshakeTimeout: TimeAmount
        /// Longest an accepted connection may go without one complete message (default 30 s): a peer that trickles
        /// a request, or sends nothing, does not hold a slot.
        public var firstMessageTimeout: TimeAmount

        /// Creates limits; defaults as documented on each property.
        public init(maxPendingRequests: Int = 32, idleTimeout: TimeAmount = .minutes(5),
                    handshakeTimeout: TimeAmount = .seconds(10), firstMessageTimeout: TimeAmount = .seconds(30)) {
            self.maxPendingRequests = maxPendingRequests
            self.idleTimeout = idleTimeout
            self.handshakeTimeout = handshakeTimeout
            self.firstMessageTimeout = firstMessageTimeout
        }
    }

    let transport: SIPTransportKind
    let limits: SIPParseLimits
    let streamLimits: StreamLimits
    let handler: any SIPInboundHandler
    let onEvent: SIPTransportEventSink
    let connections: SIPConnectionTable?
    private var flow: SIPFlow? = nil
    private var framer: SIPStreamFramer
    private var pendingRequests = 0
    private var clientCertificateFingerprint: String? = nil
    private var closed = false
    private var readingPaused = false
    /// Whether the peer must send the first message (an accepted connection), so the first-message deadline runs.
    let awaitsFirstMessage: Bool
    private var handshakeDone = false
    private var sawMessage = false
    private var deadlines: [Scheduled<Void>] = []

    /// Creates the handler for one connection.
    public init(transport: SIPTransportKind, limits: SIPParseLimits = .default, streamLimits: StreamLimits = StreamLimits(),
                handler: any SIPInboundHandler, connections: SIPConnectionTable? = nil,
                onEvent: @escaping SIPTransportEventSink = { _, _ in }, awaitsFirstMessage: Bool = true) {
        self.awaitsFirstMessage = awaitsFirstMessage
        self.transport = transport
        self.connections = connections
        self.limits = limits
        self.streamLimits = streamLimits
        self.handler = handler
        self.onEvent = onEvent
        self.framer = SIPStreamFramer(limits: limits)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closed else { return }
        let buffer = unwrapInboundIn(data)
        framer.append(buffer.readableBytesView)
        while !closed {
            let frame: SIPStreamFramer.Frame?
            do {
                frame = try framer.nextFrame()
            } catch {
                onEvent(.framingErrorClosed(status: error.sipStatus), context.remoteAddress)
                closed = true
                context.close(promise: nil)
                return
            }
            guard let frame else { return }
            switch frame {
            case .keepAlivePing:
                write(Array("\r\n".utf8), context: context)
            case .keepAlivePong:
                continue
            case .message(let bytes):
                // Only a message counts for the first-message deadline: keep-alives alone hold no slot.
                sawMessage = true
                deliver(bytes, context: context)
            }
        }
    }

    private func deliver(_ bytes: [UInt8], context: ChannelHandlerContext) {
        let source = context.remoteAddress
        let verdict = InboundVerdict(bytes, limits: limits, framing: .stream, source: source, handler: handler) { message in
            source.map {
                SIPInbound(message: message, transport: self.transport, source: $0, local: context.localAddress,
                           clientCertificateFingerprint: self.clientCertificateFingerprint)
            }
        }
        switch verdict {
        case .screened(let reply):
            if let reply { write(reply.bytes, context: context) }
        case .answer(let response, let status):
            onEvent(.malformedRequestAnswered(status: status), source)
            write(response, context: context)
        case .drop:
            onEvent(.malformedDropped, source)
        case .message(let inbound):
            let message = inbound.message
            if message.isRequest, pendingRequests >= streamLimits.maxPendingRequests {
                onEvent(.requestBacklogFull, inbound.source)
                if let busy = try? message.makeResponse(status: 503, toTag: SIPTag.make(),
                                                           extraHeaders: [("Retry-After", "5")]) {
                    write(busy, context: context)
                }
                return
            }
            let deferral: SIPDeferral?
            switch handler.handleNow(inbound) {
            case .reply(let reply):
                if let reply { write(reply.bytes, context: context) }
                return
            case .deferred(let stopped):
                deferral = stopped
            }
            pendingRequests += 1
            let handler = self.handler
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let contextBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            Task {
                let reply = await handler.handle(inbound, resuming: deferral)
                eventLoop.execute {
                    let this = loopBound.value
                    this.pendingRequests -= 1
                    if let reply, !this.closed { this.write(reply.bytes, context: contextBound.value) }
                }
            }
        }
    }

    private func write(_ bytes: [UInt8], context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        // Backpressure: a peer that sends without reading (pipelined requests, keep-alive pings) must not grow
        // our outbound buffer without bound. Stop reading until the socket drains below the low watermark.
        if !context.channel.isWritable, !readingPaused {
            readingPaused = true
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, readingPaused {
            readingPaused = false
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent {
            handshakeDone = true
            clientCertificateFingerprint = Self.peerFingerprint(context: context)
        } else if event is IdleStateHandler.IdleStateEvent {
            onEvent(.idleTimeout, context.remoteAddress)
            closed = true
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { armDeadlines(context: context) }
    }

    /// The handshake and first-message deadlines, from the moment the connection is up.
    private func armDeadlines(context: ChannelHandlerContext) {
        guard deadlines.isEmpty else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        if transport == .tls {
            deadlines.append(context.eventLoop.scheduleTask(in: streamLimits.handshakeTimeout) {
                let (this, context) = bound.value
                guard !this.handshakeDone, !this.closed else { return }
                this.expire(.handshakeTimeout, context: context)
            })
        }
        if awaitsFirstMessage {
            deadlines.append(context.eventLoop.scheduleTask(in: streamLimits.firstMessageTimeout) {
                let (this, context) = bound.value
                guard !this.sawMessage, !this.closed else { return }
                this.expire(.firstMessageTimeout, context: context)
            })
        }
    }

    private func expire(_ event: SIPTransportEvent, context: ChannelHandlerContext) {
        onEvent(event, context.remoteAddress)
        closed = true
        context.close(promise: nil)
    }

    public func channelActive(context: ChannelHandlerContext) {
        armDeadlines(context: context)
        if let connections, let remote = context.remoteAddress {
            let flow = SIPFlow(transport: transport, remote: remote)
            self.flow = flow
            connections.register(flow, channel: context.channel)
        }
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        closed = true
        for deadline in deadlines { deadline.cancel() }
        if let connections, let flow { connections.remove(flow, channel: context.channel) }
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let tlsError = error as? NIOSSLError, case .handshakeFailed(let inner) = tlsError {
            onEvent(.tlsHandshakeFailed(reason: "\(inner)"), context.remoteAddress)
        }
        closed = true
        context.close(promise: nil)
    }

    /// The verified client certificate's fingerprint (the handshake verified it against the configured CA).
    static func peerFingerprint(context: ChannelHandlerContext) -> String? {
        guard let tls = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self),
            let certificate = tls.peerCertificate, let der = try? certificate.toDERBytes()
        else { return nil }
        return TLSSettings.fingerprint(ofDER: der)
    }
}
