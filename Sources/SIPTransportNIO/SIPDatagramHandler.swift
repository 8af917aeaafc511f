import NIOCore
import SIPMessage
import Synchronization

/// The UDP shell around the sans-I/O SIP core (RFC 3261 §18): one datagram in, one parse, the verdict out.
///
/// A request that does not parse is answered with the status its ``SIPParseError`` names when its Via, From,
/// To, Call-ID and CSeq can still be read (RFC 3261 §8.2, §21), and dropped otherwise; a malformed response is
/// always dropped. Everything else goes to the transaction user, whose reply is sent to the reply's destination
/// or, by default, back to the packet's source address and port (RFC 3581).
public final class SIPDatagramHandler: ChannelInboundHandler, Sendable {
    public typealias InboundIn = AddressedEnvelope<ByteBuffer>
    public typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let limits: SIPParseLimits
    let handler: any SIPInboundHandler
    let onEvent: SIPTransportEventSink
    /// Most messages handed on and not yet answered; beyond it datagrams are dropped (UDP senders retransmit),
    /// so a flood cannot queue unbounded work.
    let maxInFlight: Int
    private let inFlight = Atomic<Int>(0)

    /// Creates a handler.
    /// - Parameters:
    ///   - handler: gets every well-formed message.
    ///   - maxInFlight: most messages being handled at once (default 4096).
    ///   - onEvent: gets rejected datagrams.
    public init(limits: SIPParseLimits = .default, handler: any SIPInboundHandler, maxInFlight: Int = 4096,
                workers: (any EventLoopGroup)? = nil, onEvent: @escaping SIPTransportEventSink = { _, _ in }) {
        self.limits = limits
        self.handler = handler
        self.maxInFlight = maxInFlight
        self.workers = workers
        self.onEvent = onEvent
    }

    /// With workers, the socket's event loop only receives and sends; parsing and handling run on the workers'
    /// loops in turn, so one busy UDP socket (one peer, one 4-tuple, as under sipp) can use every core.
    let workers: (any EventLoopGroup)?

    /// Parses and handles one datagram (on a worker loop, or the socket's own); replies go back through the
    /// channel. Ends the datagram's in-flight count, at once or when its task ends.
    private func process(_ bytes: [UInt8], source: SocketAddress, local: SocketAddress?, channel: any Channel) {
        let verdict = InboundVerdict(bytes, limits: limits, framing: .datagram, source: source, handler: handler) {
            SIPInbound(message: $0, transport: .udp, source: source, local: local)
        }
        switch verdict {
        case .screened(let reply):
            inFlight.subtract(1, ordering: .relaxed)
            if let reply { Self.send(reply.bytes, to: reply.destination ?? source, on: channel) }
        case .message(let inbound):
            let deferral: SIPDeferral?
            switch handler.handleNow(inbound) {
            case .reply(let reply):
                inFlight.subtract(1, ordering: .relaxed)
                if let reply { Self.send(reply.bytes, to: reply.destination ?? source, on: channel) }
                return
            case .deferred(let stopped):
                deferral = stopped
            }
            let handler = self.handler
            Task {
                defer { self.inFlight.subtract(1, ordering: .relaxed) }
                guard let reply = await handler.handle(inbound, resuming: deferral) else { return }
                Self.send(reply.bytes, to: reply.destination ?? source, on: channel)
            }
        case .answer(let response, let status):
            inFlight.subtract(1, ordering: .relaxed)
            onEvent(.malformedRequestAnswered(status: status), source)
            Self.send(response, to: source, on: channel)
        case .drop:
            inFlight.subtract(1, ordering: .relaxed)
            onEvent(.malformedDropped, source)
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let source = envelope.remoteAddress
        guard inFlight.add(1, ordering: .relaxed).newValue <= maxInFlight else {
            inFlight.subtract(1, ordering: .relaxed)
            onEvent(.overloadDropped, source)
            return
        }
        let bytes = Array(envelope.data.readableBytesView)
        let channel = context.channel
        let local = channel.localAddress
        guard let workers else {
            process(bytes, source: source, local: local, channel: channel)
            return
        }
        workers.next().execute { self.process(bytes, source: source, local: local, channel: channel) }
    }

    static func send(_ bytes: [UInt8], to destination: SocketAddress, on channel: any Channel) {
        // A send error other than EMSGSIZE/EHOSTUNREACH closes a NIO datagram channel: never address port 0
        // (a spoofed source port or Via port must not take the listener down).
        guard let port = destination.port, port != 0 else { return }
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: destination, data: buffer), promise: nil)
    }
}
