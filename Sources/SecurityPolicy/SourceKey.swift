/// The unit a source is rate limited and banned by: an IPv4 address, or the /64 an IPv6 address belongs to
/// (RFC 6177: a /64 is what one subscriber gets, so limiting single IPv6 addresses would let one attacker rotate
/// through 2^64 of them).
public enum SourceKey: Hashable, Sendable, CustomStringConvertible {
    /// One IPv4 address (also an IPv4-mapped IPv6 one).
    case ipv4(UInt32)
    /// An IPv6 /64 prefix: the high 64 bits.
    case ipv6Prefix(UInt64)

    /// The key of an address.
    public init(_ address: IPAddress) {
        if let v4 = address.ipv4 { self = .ipv4(v4) } else { self = .ipv6Prefix(address.high) }
    }

    /// Parses an IPv4 address, an IPv6 address (keeping its /64) or an IPv6 `prefix/64` as `ban add` takes it.
    public init?(_ text: String) {
        var text = Substring(text)
        if text.hasSuffix("/64") { text = text.dropLast(3) }
        guard let address = IPAddress(String(text)) else { return nil }
        self.init(address)
    }

    /// The address of an IPv4 key; an IPv6 key as `prefix::/64`.
    public var description: String {
        switch self {
        case .ipv4(let v4): return IPAddress(ipv4: v4).description
        case .ipv6Prefix(let high): return IPAddress(high: high, low: 0).description + "/64"
        }
    }

    /// Whether the address falls under this key.
    public func covers(_ address: IPAddress) -> Bool { SourceKey(address) == self }
}
