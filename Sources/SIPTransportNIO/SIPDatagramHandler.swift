import NIOCore
import SIPMessage

/// The UDP shell around the sans-I/O SIP core (RFC 3261 §18): one datagram in, one parse, the verdict out.
///
/// A request that does not parse is answered with the status its ``SIPParseError`` names when its Via, From,
/// To, Call-ID and CSeq can still be read (RFC 3261 §8.2, §21), and dropped otherwise; a malformed response is
/// always dropped. Everything else goes to the transaction user (`onMessage`), whose answer is sent back to the
/// source address and port (RFC 3581: the port the request came from, which is what `rport` asks for).
public final class SIPDatagramHandler: ChannelInboundHandler, Sendable {
    public typealias InboundIn = AddressedEnvelope<ByteBuffer>
    public typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    /// What the handler reports besides messages: counters and security events are built on these.
    public enum Event: Sendable, Equatable {
        case malformedRequestAnswered(status: Int)
        case malformedDropped
    }

    let limits: SIPParseLimits
    let onMessage: @Sendable (SIPMessage, SocketAddress) -> [UInt8]?
    let onEvent: @Sendable (Event, SocketAddress) -> Void

    /// Creates a handler.
    /// - Parameters:
    ///   - onMessage: called for every well-framed message with its source; returns bytes to send back, if any.
    ///   - onEvent: called for rejected datagrams.
    public init(
        limits: SIPParseLimits = .default, onMessage: @escaping @Sendable (SIPMessage, SocketAddress) -> [UInt8]?,
        onEvent: @escaping @Sendable (Event, SocketAddress) -> Void = { _, _ in }
    ) {
        self.limits = limits
        self.onMessage = onMessage
        self.onEvent = onEvent
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = Array(envelope.data.readableBytesView)
        let reply: [UInt8]?
        switch SIPDatagramHandler.classify(bytes, limits: limits, source: envelope.remoteAddress) {
        case .message(let message):
            reply = onMessage(message, envelope.remoteAddress)
        case .answer(let response, let status):
            onEvent(.malformedRequestAnswered(status: status), envelope.remoteAddress)
            reply = response
        case .drop:
            onEvent(.malformedDropped, envelope.remoteAddress)
            reply = nil
        }
        guard let reply else { return }
        var buffer = context.channel.allocator.buffer(capacity: reply.count)
        buffer.writeBytes(reply)
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: buffer)),
                              promise: nil)
    }

    enum Verdict {
        case message(SIPMessage)
        case answer([UInt8], status: Int)
        case drop
    }

    /// Parses a datagram and decides; for a broken request, builds the error response when it can.
    static func classify(_ bytes: [UInt8], limits: SIPParseLimits, source: SocketAddress) -> Verdict {
        let check = SIPMessageCheck.check(bytes, limits: limits)
        if let message = check.message, check.isValid { return .message(message) }
        guard !check.isResponse, let error = check.error, let message = check.message else { return .drop }
        let host = source.ipAddress.flatMap(SIPHost.parseAddress)
        let port = source.port.flatMap { UInt16(exactly: $0) }
        let stamped = host.flatMap { host in port.map { (host: host, port: $0) } }
        guard let response = try? message.makeResponse(status: error.sipStatus, source: stamped) else { return .drop }
        return .answer(response, status: error.sipStatus)
    }
}
