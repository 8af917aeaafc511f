import SIPMessage

/// Where the edge listens: `udp|tcp|tls:HOST:PORT` (the `--listen` form), IPv6 hosts in brackets
/// (`tls:[::1]:5061`). The port may be left out (5060, or 5061 for TLS); 0 asks for any free port.
public struct SIPListenAddress: Hashable, Sendable, CustomStringConvertible {
    /// The transport.
    public var transport: SIPTransportKind
    /// An IP literal (no brackets); names are refused so that nothing depends on DNS at startup.
    public var host: String
    /// The port.
    public var port: Int

    /// Creates an address.
    public init(transport: SIPTransportKind, host: String, port: Int) {
        self.transport = transport
        self.host = host
        self.port = port
    }

    /// Why a listen address was refused.
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Parses `udp|tcp|tls:HOST[:PORT]`.
    public init(parsing text: String) throws(ParseError) {
        guard let colon = text.firstIndex(of: ":"),
            let transport = SIPTransportKind(rawValue: text[..<colon].lowercased())
        else { throw ParseError(description: "'\(text)': expected udp|tcp|tls:HOST:PORT") }
        var rest = text[text.index(after: colon)...]
        let host: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                throw ParseError(description: "'\(text)': unclosed [ in IPv6 host")
            }
            host = rest[rest.index(after: rest.startIndex)..<close]
            rest = rest[rest.index(after: close)...]
        } else if let portColon = rest.lastIndex(of: ":"), !rest[..<portColon].contains(":") {
            host = rest[..<portColon]
            rest = rest[portColon...]
        } else {
            host = rest
            rest = ""
        }
        var port = transport.defaultPort
        if !rest.isEmpty {
            guard rest.first == ":", let value = Int(rest.dropFirst()), (0...65_535).contains(value) else {
                throw ParseError(description: "'\(text)': the port must be 0-65535")
            }
            port = value
        }
        guard Self.isIPLiteral(String(host)) else {
            throw ParseError(description: "'\(text)': the host must be an IPv4 or IPv6 address")
        }
        self.init(transport: transport, host: String(host), port: port)
    }

    /// The text form, `tls:[::1]:5061`.
    public var description: String {
        host.contains(":") ? "\(transport):[\(host)]:\(port)" : "\(transport):\(host):\(port)"
    }

    static func isIPLiteral(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
