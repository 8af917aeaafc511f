import SecurityPolicy
import STUN

/// How a client reaches the server.
public enum TURNTransport: String, Hashable, Sendable, CaseIterable {
    case udp, tcp, tls
}

/// An address family as REQUESTED-ADDRESS-FAMILY and ADDITIONAL-ADDRESS-FAMILY carry it (RFC 8656 §18.8, §18.11).
public enum TURNAddressFamily: UInt8, Hashable, Sendable {
    case ipv4 = 0x01
    case ipv6 = 0x02

    public init(of address: IPAddress) { self = address.isIPv4 ? .ipv4 : .ipv6 }

    public var attributeValue: [UInt8] { [rawValue, 0, 0, 0] }
}

/// The client's transport address, the server's, and the transport: what an allocation is known by (RFC 8656 §2).
public struct TURNFiveTuple: Hashable, Sendable, CustomStringConvertible {
    public var client: STUNTransportAddress
    public var server: STUNTransportAddress
    public var transport: TURNTransport

    public init(client: STUNTransportAddress, server: STUNTransportAddress, transport: TURNTransport) {
        (self.client, self.server, self.transport) = (client, server, transport)
    }

    public var description: String { "\(transport.rawValue):\(client)->\(server)" }
}

/// What the server's limits are, and how long things live (RFC 8656 §7, §9, §11 defaults).
public struct TURNLimits: Sendable, Hashable {
    /// Allocations in the whole server, per user, per client IP address.
    public var allocations = 10_000
    public var allocationsPerUser = 10
    public var allocationsPerSource = 10
    /// Permissions (peer IP addresses) and channels per allocation.
    public var permissionsPerAllocation = 64
    public var channelsPerAllocation = 64
    /// Bytes per second each allocation relays, each way (a token bucket holding one second's worth).
    public var bytesPerSecond = 1_250_000
    /// Lifetimes, in seconds.
    public var defaultLifetime = 600
    public var maxLifetime = 3_600
    public var permissionLifetime = 300
    public var channelLifetime = 600
    /// How long a channel number stays tied to its peer after its binding expired (RFC 8656 §12: 5 minutes).
    public var channelQuarantine = 300
    /// How long a port held by EVEN-PORT's R bit waits for its RESERVATION-TOKEN (RFC 8656 §14.9: about 30 s).
    public var reservationLifetime = 30

    public init() {}
}

/// A token bucket of bytes.
struct ByteBucket: Sendable {
    private var tokens: Double
    private var last: Duration
    let rate: Double

    init(bytesPerSecond: Int, now: Duration) {
        rate = Double(bytesPerSecond)
        tokens = rate
        last = now
    }

    mutating func take(_ bytes: Int, now: Duration) -> Bool {
        let elapsed = Double((now - last).components.seconds) + Double((now - last).components.attoseconds) / 1e18
        last = now
        tokens = min(rate, tokens + max(0, elapsed) * rate)
        guard tokens >= Double(bytes) else { return false }
        tokens -= Double(bytes)
        return true
    }
}

/// One allocation (RFC 8656 §2.2): its relayed addresses, who owns it, when it ends, its permissions and channels,
/// and what it has carried.
public struct TURNAllocation: Sendable {
    /// The server's own number for it; the I/O layer keys its relay sockets by it.
    public let id: UInt32
    public let tuple: TURNFiveTuple
    public let username: String
    public let realm: String
    /// The key and algorithm the allocation's requests must be signed with (those of the Allocate).
    let key: STUNKey
    let sha256: Bool
    public internal(set) var relayed: [STUNTransportAddress]
    public internal(set) var expires: Duration
    public let dontFragment: Bool
    /// Peer IP → when its permission ends.
    var permissions: [IPAddress: Duration] = [:]
    /// Channel → peer and when the binding ends; peer → channel.
    var channels: [TURNChannelNumber: (peer: STUNTransportAddress, expires: Duration)] = [:]
    var channelOfPeer: [STUNTransportAddress: TURNChannelNumber] = [:]
    /// Channels whose binding expired, tied to their peer until the quarantine ends.
    var quarantined: [TURNChannelNumber: (peer: STUNTransportAddress, until: Duration)] = [:]
    /// The Allocate's transaction and response, answered again to a retransmission (RFC 8656 §7.2).
    let allocateTransaction: STUNTransactionID
    var allocateResponse: [UInt8]
    let started: Duration
    var toPeers = ByteBucket(bytesPerSecond: 0, now: .zero)
    var toClient = ByteBucket(bytesPerSecond: 0, now: .zero)
    /// Counters for the session record.
    public internal(set) var bytesToPeers = 0
    public internal(set) var bytesToClient = 0
    public internal(set) var packetsDropped = 0
    public internal(set) var peersSeen: Set<IPAddress> = []

    /// Takes `bytes` from the bucket of their direction; counts them, or the drop.
    mutating func consume(_ bytes: Int, toPeers direction: Bool, now: Duration) -> Bool {
        let allowed = direction ? toPeers.take(bytes, now: now) : toClient.take(bytes, now: now)
        guard allowed else {
            packetsDropped += 1
            return false
        }
        if direction { bytesToPeers += bytes } else { bytesToClient += bytes }
        return true
    }

    /// ChannelData from the client on `channel`: the peer it goes to, if the binding lives and the bandwidth allows.
    mutating func forward(on channel: TURNChannelNumber, length: Int, now: Duration)
        -> (allocation: UInt32, peer: STUNTransportAddress)?
    {
        guard let peer = peer(on: channel, now: now), consume(length, toPeers: true, now: now) else { return nil }
        return (id, peer)
    }

    /// Data from `peer`: nil when it has no permission or the bandwidth is spent; else the channel bound to it, if any
    /// (`.some(nil)`: send it as a Data indication).
    mutating func receive(from peer: STUNTransportAddress, length: Int, now: Duration) -> TURNChannelNumber?? {
        guard permits(peer.address, now: now), consume(length, toPeers: false, now: now) else { return nil }
        return .some(channel(for: peer, now: now))
    }

    /// Remembers a peer address for the session record (a count: at most 1,024 are kept).
    mutating func notePeer(_ address: IPAddress) {
        if peersSeen.count < 1_024 { peersSeen.insert(address) }
    }

    /// Whether `peer`'s IP address has an unexpired permission.
    public func permits(_ peer: IPAddress, now: Duration) -> Bool { permissions[peer].map { now < $0 } ?? false }

    /// The peer bound to `channel`, if the binding is alive.
    public func peer(on channel: TURNChannelNumber, now: Duration) -> STUNTransportAddress? {
        guard let binding = channels[channel], now < binding.expires else { return nil }
        return binding.peer
    }

    /// The channel bound to `peer`, if alive.
    public func channel(for peer: STUNTransportAddress, now: Duration) -> TURNChannelNumber? {
        guard let channel = channelOfPeer[peer], let binding = channels[channel], now < binding.expires else { return nil }
        return channel
    }

    /// Drops permissions and channel bindings that have ended (a channel's number stays tied to its peer for the
    /// quarantine).
    mutating func sweep(now: Duration, quarantine: Duration) {
        permissions = permissions.filter { now < $0.value }
        for (channel, binding) in channels where binding.expires <= now {
            channels[channel] = nil
            channelOfPeer[binding.peer] = nil
            quarantined[channel] = (binding.peer, binding.expires + quarantine)
        }
        quarantined = quarantined.filter { now < $0.value.until }
    }
}

/// What an ended allocation leaves behind (stored as a TURN session record).
public struct TURNSessionRecord: Sendable, Hashable {
    public var username: String
    public var client: STUNTransportAddress
    public var transport: TURNTransport
    public var peers: Int
    public var bytesToPeers: Int
    public var bytesToClient: Int
    public var packetsDropped: Int
    public var seconds: Int
    /// Why it ended: `refresh` (the client deleted it), `expired`, `closed` (the connection or the server went).
    public var ending: String
}
