import NIOCore
import SIPMessage

/// One message as it arrived, with what the transport knows about where it came from.
public struct SIPInbound: Sendable {
    /// The parsed (lazily indexed) message.
    public let message: SIPMessage
    /// The transport it came over.
    public let transport: SIPTransportKind
    /// The peer's address and port (the packet source; `received`/`rport` are stamped from it).
    public let source: SocketAddress
    /// The local address it arrived on.
    public let local: SocketAddress?
    /// Lowercase hex SHA-256 of the DER client certificate, when a TLS peer presented one that verified.
    public let clientCertificateFingerprint: String?
    /// What the handler's ``SIPInboundHandler/screen(_:)`` kept of this message when it let it pass, handed back
    /// with it to ``SIPInboundHandler/handleNow(_:)`` (nil when nothing screened it).
    public var screening: (any Sendable)?

    /// Creates an inbound message.
    public init(message: SIPMessage, transport: SIPTransportKind, source: SocketAddress, local: SocketAddress?,
                clientCertificateFingerprint: String? = nil) {
        self.message = message
        self.transport = transport
        self.source = source
        self.local = local
        self.clientCertificateFingerprint = clientCertificateFingerprint
    }

    /// The flow the message came in on: where requests to this peer go (over its connection for TCP and TLS).
    public var flow: SIPFlow { SIPFlow(transport: transport, remote: source) }

    /// The source as a SIP host and port, for `received`/`rport` stamping (RFC 3581).
    public var sourceHostPort: (host: SIPHost, port: UInt16)? { Self.hostPort(of: source) }

    /// A socket address as a SIP host and port.
    static func hostPort(of address: SocketAddress?) -> (host: SIPHost, port: UInt16)? {
        guard let host = address?.ipAddress.flatMap(SIPHost.parseAddress),
            let port = address?.port.flatMap({ UInt16(exactly: $0) })
        else { return nil }
        return (host, port)
    }
}

/// What to send back for an inbound message.
public struct SIPReply: Sendable {
    /// The bytes of the response.
    public var bytes: [UInt8]
    /// For UDP: where to send it (RFC 3261 §18.2.2); nil sends it to the packet source. Streams always answer on
    /// the connection the request came in on.
    public var destination: SocketAddress?

    /// Creates a reply.
    public init(bytes: [UInt8], destination: SocketAddress? = nil) {
        self.bytes = bytes
        self.destination = destination
    }
}

/// What the first stage decided of a message it saw before validation.
public enum SIPScreenVerdict: Sendable {
    /// Let it go on to validation and the handler, keeping this (``SIPInbound/screening``).
    case pass((any Sendable)?)
    /// Stop here: send this reply (nil: drop it silently).
    case reply(SIPReply?)
}

/// What a transaction user decided without suspending.
public enum SIPImmediateOutcome: Sendable {
    /// Done: send this reply (nil: nothing to send).
    case reply(SIPReply?)
    /// It needs to wait (a store read): call ``SIPInboundHandler/handle(_:resuming:)`` with the deferral, which
    /// carries how far the handler got, so that it resumes there instead of starting over.
    case deferred(SIPDeferral? = nil)
}

/// Where a handler stopped when it deferred a message: its own state, opaque to the transports, handed back to
/// ``SIPInboundHandler/handle(_:resuming:)``. A handler that screens and counts a request before it defers (rate
/// budgets, scanner rules) resumes after those steps, so a deferred request is charged once.
public struct SIPDeferral: Sendable {
    public let state: any Sendable

    public init(_ state: any Sendable) {
        self.state = state
    }
}

/// The transaction user's side of the transports: everything well-framed is handed to it, its answer is sent.
///
/// The transports first call ``handleNow(_:)`` on the event loop: what can be answered from memory is answered
/// there, without a thread hop per message. Only a ``SIPImmediateOutcome/deferred`` message goes to ``handle(_:)``
/// in a task.
public protocol SIPInboundHandler: Sendable {
    /// The first look at a message, as soon as it is framed and lazily parsed and before it is fully validated:
    /// bans, address rules and rate budgets need only its source and first line, and a flood refused here never
    /// costs a full parse. Must not block.
    func screen(_ inbound: SIPInbound) -> SIPScreenVerdict
    /// Answers a message without suspending, or defers it. Must not block.
    func handleNow(_ inbound: SIPInbound) -> SIPImmediateOutcome
    /// Handles one well-formed message; returns the reply to send, if any.
    func handle(_ inbound: SIPInbound) async -> SIPReply?
    /// Handles a message ``handleNow(_:)`` deferred, from where it stopped.
    func handle(_ inbound: SIPInbound, resuming deferral: SIPDeferral?) async -> SIPReply?
}

extension SIPInboundHandler {
    /// By default every message passes to validation.
    public func screen(_ inbound: SIPInbound) -> SIPScreenVerdict { .pass(nil) }

    /// By default every message is handled asynchronously.
    public func handleNow(_ inbound: SIPInbound) -> SIPImmediateOutcome { .deferred() }

    /// By default a deferred message is handled from the start.
    public func handle(_ inbound: SIPInbound, resuming deferral: SIPDeferral?) async -> SIPReply? {
        await handle(inbound)
    }
}

/// What the transports report besides messages: counters and security events are built on these.
public enum SIPTransportEvent: Sendable, Equatable {
    /// A request that did not parse was answered with this status (RFC 3261 §8.2, §21).
    case malformedRequestAnswered(status: Int)
    /// Input that could not be answered was dropped (garbage, malformed responses).
    case malformedDropped
    /// A stream could not be framed (no or bad Content-Length, oversize): the connection was closed.
    case framingErrorClosed(status: Int)
    /// A connection was refused because the peer already holds the maximum number of connections, or the
    /// server holds its maximum in all.
    case connectionRefused(perSource: Bool)
    /// A connection was closed after its idle timeout.
    case idleTimeout
    /// A TLS connection was closed because its handshake did not complete in time (a slow-handshake hold).
    case handshakeTimeout
    /// A connection was closed because its first complete message did not arrive in time.
    case firstMessageTimeout
    /// A connection had more requests waiting for answers than allowed; the extra request was refused with 503.
    case requestBacklogFull
    /// A datagram was dropped because too many messages were already being handled (overload).
    case overloadDropped
    /// A TLS handshake failed (a security event: scans, wrong CA, old protocol versions).
    case tlsHandshakeFailed(reason: String)
    /// A connection the edge opened (to a Contact or a trunk) could not be established; what waited for it was
    /// dropped (the calls' own timers answer for it).
    case outboundConnectFailed(reason: String)
}

/// Receives transport events with the peer they concern.
public typealias SIPTransportEventSink = @Sendable (SIPTransportEvent, SocketAddress?) -> Void

/// Decides what to do with one framed message's bytes, in the order of the request path: frame and parse lazily,
/// screen (the handler's first look, before any full validation), validate, then hand it on. A malformed request
/// is answered with its status, anything else that does not parse is dropped.
enum InboundVerdict {
    /// Valid: hand it on (its ``SIPInbound/screening`` set).
    case message(SIPInbound)
    /// The screen stopped it (or it has no peer to hand on): send this reply, or nothing.
    case screened(SIPReply?)
    case answer([UInt8], status: Int)
    case drop

    /// `inbound` wraps the lazily parsed message with what the transport knows of it (nil: no peer address);
    /// `handler` screens that before the message is validated.
    init(_ bytes: [UInt8], limits: SIPParseLimits, framing: SIPMessage.Framing, source: SocketAddress?,
         handler: any SIPInboundHandler, inbound: (SIPMessage) -> SIPInbound?) {
        guard let message = try? SIPMessage.parse(bytes, limits: limits, framing: framing) else {
            self = .drop
            return
        }
        var wrapped = inbound(message)
        if let screened = wrapped {
            switch handler.screen(screened) {
            case .reply(let reply):
                self = .screened(reply)
                return
            case .pass(let kept):
                wrapped?.screening = kept
            }
        }
        do {
            _ = try message.validate()
            self = wrapped.map { .message($0) } ?? .screened(nil)
        } catch {
            guard message.isRequest, let response = try? message.makeResponse(
                status: error.sipStatus, toTag: SIPTag.make(), source: SIPInbound.hostPort(of: source))
            else {
                self = .drop
                return
            }
            self = .answer(response, status: error.sipStatus)
        }
    }
}
