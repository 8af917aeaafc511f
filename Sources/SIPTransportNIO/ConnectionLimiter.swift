import NIOConcurrencyHelpers

/// Counts open stream connections, in all and per source IP, so one peer cannot exhaust the server's sockets
/// (a TCP/TLS flood from one address is refused at accept, before any TLS work).
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
