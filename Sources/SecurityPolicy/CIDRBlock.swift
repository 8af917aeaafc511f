/// An address block in CIDR notation (RFC 4632 §3.1; RFC 4291 §2.3): `192.0.2.0/24`, `2001:db8::/32`, or a
/// single address (a /32 or /128). IPv4 blocks are held as IPv4-mapped blocks (`::ffff:192.0.2.0/120`).
public struct CIDRBlock: Hashable, Sendable, CustomStringConvertible {
    /// The network address (host bits zero).
    public let network: IPAddress
    /// Prefix length over the 128-bit form.
    public let prefixLength: Int

    /// A block from an address and its prefix length over the 128-bit form; host bits are cleared.
    public init(network: IPAddress, prefixLength: Int) {
        self.prefixLength = max(0, min(128, prefixLength))
        self.network = network.masked(to: self.prefixLength)
    }

    /// Parses `address/length` or a bare address. IPv4 lengths are 0...32, IPv6 0...128 (an address written in
    /// IPv6 notation takes an IPv6 length even when it is IPv4-mapped). Host bits set in the
    /// address are refused (`192.0.2.1/24` is almost always a typo for a different block than meant).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let address = IPAddress(String(parts[0])) else { return nil }
        // The spelling decides the family: `::ffff:0:0/96` is an IPv6 block even though its address is IPv4-mapped.
        let writtenAsIPv4 = !parts[0].contains(":")
        let maximum = writtenAsIPv4 ? 32 : 128
        var length = maximum
        if parts.count == 2 {
            guard (1...3).contains(parts[1].count), parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                let parsed = Int(parts[1]), parsed <= maximum
            else { return nil }
            length = parsed
        }
        let full = writtenAsIPv4 ? 96 + length : length
        guard address.masked(to: full) == address else { return nil }
        self.init(network: address, prefixLength: full)
    }

    /// Whether the block holds `address`.
    public func contains(_ address: IPAddress) -> Bool { address.masked(to: prefixLength) == network }

    public var description: String {
        network.isIPv4 && prefixLength >= 96 ? "\(network)/\(prefixLength - 96)" : "\(network)/\(prefixLength)"
    }
}
