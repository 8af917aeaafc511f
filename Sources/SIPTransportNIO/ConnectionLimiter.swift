import NIOConcurrencyHelpers
import NIOCore

/// Counts open stream connections, in all and per source, so one peer cannot exhaust the server's sockets (a TCP/TLS
/// flood from one address is refused at accept, before any TLS work). A source is an IPv4 address or an IPv6 /64
/// (RFC 6177: what one subscriber gets), so an attacker cannot rotate through the addresses of its prefix.
public final class ConnectionLimiter: Sendable {
    /// Most connections from one IP address.
    public let maxPerSource: Int
    /// Most connections in all.
    public let maxTotal: Int
    private let state = NIOLockedValueBox<(total: Int, bySource: [String: Int])>((0, [:]))

    /// Creates a limiter.
    public init(maxPerSource: Int = 64, maxTotal: Int = 10_000) {
        self.maxPerSource = maxPerSource
        self.maxTotal = maxTotal
    }

    /// Whether a new connection from `source` may open; if so it is counted until ``release(_:)``.
    public enum Admission: Equatable, Sendable { case admitted, sourceFull, serverFull }

    /// Counts a new connection if the limits allow it.
    public func acquire(_ source: String) -> Admission {
        state.withLockedValue { state in
            guard state.total < maxTotal else { return .serverFull }
            let current = state.bySource[source, default: 0]
            guard current < maxPerSource else { return .sourceFull }
            state.total += 1
            state.bySource[source] = current + 1
            return .admitted
        }
    }

    /// The unit a peer is counted by: its IPv4 address (also when IPv4-mapped), or the /64 of its IPv6 address.
    public static func sourceKey(_ address: SocketAddress) -> String {
        guard case .v6(let v6) = address else { return address.ipAddress ?? "?" }
        let octets = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
        if octets.prefix(10).allSatisfy({ $0 == 0 }), octets[10] == 0xFF, octets[11] == 0xFF {
            return octets.suffix(4).map(String.init).joined(separator: ".")
        }
        return stride(from: 0, to: 8, by: 2).map { String(UInt16(octets[$0]) << 8 | UInt16(octets[$0 + 1]), radix: 16) }
            .joined(separator: ":") + "::/64"
    }

    /// Forgets a connection counted by ``acquire(_:)``.
    public func release(_ source: String) {
        state.withLockedValue { state in
            state.total -= 1
            let remaining = state.bySource[source, default: 1] - 1
            state.bySource[source] = remaining > 0 ? remaining : nil
        }
    }

    /// Open connections in all.
    public var openConnections: Int { state.withLockedValue { $0.total } }
}
