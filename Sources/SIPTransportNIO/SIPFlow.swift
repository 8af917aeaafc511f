import NIOCore
import SIPMessage
import Synchronization

/// How to reach a peer again over the path its messages came in on (RFC 5626 §3.1 "flow"): the transport and the
/// peer's address. For TCP and TLS that is the peer's connection, which the edge must reuse: phones behind NAT
/// accept no incoming connections (RFC 5626 §3.2, RFC 5923 §2).
public struct SIPFlow: Hashable, Sendable, CustomStringConvertible {
    /// The transport.
    public let transport: SIPTransportKind
    /// The peer's address and port, as seen by the edge.
    public let remote: SocketAddress

    /// Creates a flow.
    public init(transport: SIPTransportKind, remote: SocketAddress) {
        self.transport = transport
        self.remote = remote
    }

    /// `transport:address:port`, with IPv6 addresses in brackets (the form stored with registrations).
    public var description: String {
        let host = remote.ipAddress ?? "?"
        let bracketed = remote.protocol == .inet6 ? "[\(host)]" : host
        return "\(transport.rawValue):\(bracketed):\(remote.port ?? 0)"
    }

    /// The flow to a peer the cores named; nil if its address is not one a socket takes.
    public init?(_ peer: SIPPeer) {
        guard let address = try? SocketAddress(ipAddress: peer.host.addressText, port: Int(peer.port)) else { return nil }
        self.init(transport: peer.transport, remote: address)
    }

    /// The peer as the cores name it; nil for a socket without an IP address and port.
    public var peer: SIPPeer? {
        guard let ip = remote.ipAddress, let host = SIPHost.parseAddress(ip), let port = remote.port,
            let port16 = UInt16(exactly: port)
        else { return nil }
        return SIPPeer(transport: transport, host: host, port: port16)
    }

    /// Parses ``description``'s form; nil if it is not one.
    public init?(_ text: String) {
        guard let listen = try? SIPListenAddress(parsing: text), listen.port > 0,
            let address = try? SocketAddress(ipAddress: listen.host, port: listen.port)
        else { return nil }
        self.init(transport: listen.transport, remote: address)
    }
}

/// The open TCP and TLS connections by flow, so the edge can send requests down the connection a client
/// registered over. Bounded: connections themselves are capped by the ``ConnectionLimiter``, and a table at
/// ``capacity`` takes no more entries (such a connection still works for its own requests and responses).
public final class SIPConnectionTable: Sendable {
    private let channels = Mutex<[SIPFlow: any Channel]>([:])
    /// Most connections remembered.
    public let capacity: Int

    /// Creates a table (default capacity 100,000).
    public init(capacity: Int = 100_000) { self.capacity = capacity }

    func register(_ flow: SIPFlow, channel: any Channel) {
        channels.withLock { table in
            if table.count < capacity || table[flow] != nil { table[flow] = channel }
        }
    }

    func remove(_ flow: SIPFlow, channel: any Channel) {
        channels.withLock { table in
            if let current = table[flow], current === channel { table[flow] = nil }
        }
    }

    /// The connection of a flow, if it is open.
    public func channel(for flow: SIPFlow) -> (any Channel)? { channels.withLock { $0[flow] } }

    /// How many connections are remembered.
    public var count: Int { channels.withLock { $0.count } }
}
