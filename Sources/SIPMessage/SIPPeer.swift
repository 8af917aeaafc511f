/// The SIP transports (RFC 3261 §18, RFC 5630 for TLS).
public enum SIPTransportKind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case udp, tcp, tls

    /// Stream transports deliver reliably: no retransmissions, responses on the same connection.
    public var isReliable: Bool { self != .udp }
    /// The Via transport token (`UDP`, `TCP`, `TLS`).
    public var viaToken: String { rawValue.uppercased() }
    /// 5060, or 5061 for TLS (RFC 3261 §19.1.2).
    public var defaultPort: Int { self == .tls ? 5061 : 5060 }
    public var description: String { rawValue }
}

/// A peer as the sans-I/O cores name it: the transport and the peer's IP address and port, with no socket type in
/// sight. Written `udp:192.0.2.1:5060` or `tls:[2001:db8::1]:5061`, the form registrations are stored with; the
/// transports turn it into a socket address (`SIPFlow`).
public struct SIPPeer: Hashable, Sendable, CustomStringConvertible {
    /// The transport.
    public let transport: SIPTransportKind
    /// The peer's address: an IP literal, never a name.
    public let host: SIPHost
    /// The peer's port.
    public let port: UInt16

    /// A peer at an IP address (a hostname is refused: nil).
    public init?(transport: SIPTransportKind, host: SIPHost, port: UInt16) {
        if case .hostname = host { return nil }
        (self.transport, self.host, self.port) = (transport, host, port)
    }

    /// Parses ``description``'s form; nil if it is not one (a name instead of an address, port 0, no transport).
    public init?(_ text: String) {
        guard let colon = text.firstIndex(of: ":"), let transport = SIPTransportKind(rawValue: String(text[..<colon])),
            let portColon = text.lastIndex(of: ":"), portColon > colon,
            let port = UInt16(text[text.index(after: portColon)...]), port > 0
        else { return nil }
        var hostText = text[text.index(after: colon)..<portColon]
        if hostText.hasPrefix("[") {
            guard hostText.hasSuffix("]") else { return nil }
            hostText = hostText.dropFirst().dropLast()
        } else if hostText.contains(":") {
            return nil  // an IPv6 address without brackets would be ambiguous with the port
        }
        guard let host = SIPHost.parseAddress(String(hostText)) else { return nil }
        self.init(transport: transport, host: host, port: port)
    }

    /// Whether messages to this peer are retransmitted (UDP) or carried reliably.
    public var isReliable: Bool { transport.isReliable }

    /// `transport:address:port`, IPv6 in brackets.
    public var description: String { "\(transport.rawValue):\(host):\(port)" }
}
