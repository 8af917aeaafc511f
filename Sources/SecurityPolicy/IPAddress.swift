/// An IP address as the policies compare it: 128 bits, IPv4 held as an IPv4-mapped IPv6 address
/// (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2), so one CIDR comparison serves both families and a mapped address on a
/// dual-stack socket matches the same rules as the plain IPv4 address.
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The high 64 bits (network byte order as an integer).
    public let high: UInt64
    /// The low 64 bits.
    public let low: UInt64

    /// The IPv4-mapped prefix in the low half: `::ffff:0:0/96`.
    static let mappedMarker: UInt64 = 0x0000_FFFF_0000_0000

    /// An address from its two halves.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// An IPv4 address (network byte order as an integer: 192.0.2.1 is 0xC000_0201).
    public init(ipv4: UInt32) {
        self.init(high: 0, low: Self.mappedMarker | UInt64(ipv4))
    }

    /// Parses a bare IPv4 dotted quad or IPv6 address (no brackets, no zone). Odd forms (`127.1`, octal, leading
    /// zeros in IPv4) are refused, as by ``SIPMessage/SIPHost``, so that a rule cannot be sidestepped by spelling.
    public init?(_ text: String) {
        var text = text
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        guard let parsed = Self.parseIPv4(text).map(IPAddress.init(ipv4:)) ?? Self.parseIPv6(text) else { return nil }
        self = parsed
    }

    /// Whether the address is IPv4 (or IPv4-mapped IPv6).
    public var isIPv4: Bool { high == 0 && low & 0xFFFF_FFFF_0000_0000 == Self.mappedMarker }

    /// The IPv4 address, if this is one.
    public var ipv4: UInt32? { isIPv4 ? UInt32(truncatingIfNeeded: low) : nil }

    /// Dotted quad for IPv4; for IPv6 the RFC 5952 canonical text (lowercase, longest zero run compressed).
    public var description: String {
        if let v4 = ipv4 {
            return "\(v4 >> 24).\((v4 >> 16) & 0xFF).\((v4 >> 8) & 0xFF).\(v4 & 0xFF)"
        }
        var groups: [UInt16] = []
        for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16(truncatingIfNeeded: high >> UInt64(shift))) }
        for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16(truncatingIfNeeded: low >> UInt64(shift))) }
        // RFC 5952 §4.2: compress the longest run of two or more zero groups (the first one on a tie).
        var bestStart = -1, bestLength = 0, runStart = -1
        for index in 0...8 {
            if index < 8, groups[index] == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                if index - runStart > bestLength, index - runStart >= 2 { (bestStart, bestLength) = (runStart, index - runStart) }
                runStart = -1
            }
        }
        func hex(_ range: Range<Int>) -> String { groups[range].map { String($0, radix: 16) }.joined(separator: ":") }
        guard bestStart >= 0 else { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex(bestStart + bestLength..<8)
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    /// The address with only its first `length` bits kept (0...128).
    public func masked(to length: Int) -> IPAddress {
        let length = max(0, min(128, length))
        if length >= 128 { return self }
        if length >= 64 {
            let keep = length == 64 ? 0 : ~UInt64(0) << UInt64(128 - length)
            return IPAddress(high: high, low: low & keep)
        }
        let keep = length == 0 ? 0 : ~UInt64(0) << UInt64(64 - length)
        return IPAddress(high: high & keep, low: 0)
    }

    static func parseIPv4(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }),
                part.count == 1 || part.first != "0", let octet = UInt32(part), octet <= 255
            else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    static func parseIPv6(_ text: String) -> IPAddress? {
        guard text.utf8.count <= 45, text.contains(":") else { return nil }
        var head: [UInt16] = [], tail: [UInt16] = []
        let halves = text.doubleColonHalves
        guard halves.count <= 2 else { return nil }
        func groups(_ part: Substring, allowIPv4: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            var result: [UInt16] = []
            for (index, piece) in pieces.enumerated() {
                if allowIPv4, index == pieces.count - 1, piece.contains(".") {
                    guard let v4 = parseIPv4(String(piece)) else { return nil }
                    result += [UInt16(v4 >> 16), UInt16(v4 & 0xFFFF)]
                } else {
                    guard (1...4).contains(piece.count), piece.allSatisfy(\.isHexDigit), piece.allSatisfy(\.isASCII),
                        let group = UInt16(piece, radix: 16)
                    else { return nil }
                    result.append(group)
                }
            }
            return result
        }
        if halves.count == 2 {
            guard let first = groups(halves[0], allowIPv4: false), let second = groups(halves[1], allowIPv4: true),
                first.count + second.count <= 7
            else { return nil }
            head = first
            tail = second
        } else {
            guard let all = groups(halves[0], allowIPv4: true), all.count == 8 else { return nil }
            head = all
        }
        let groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        var high: UInt64 = 0, low: UInt64 = 0
        for group in groups[0..<4] { high = high << 16 | UInt64(group) }
        for group in groups[4..<8] { low = low << 16 | UInt64(group) }
        return IPAddress(high: high, low: low)
    }
}

extension StringProtocol {
    /// The parts around each `::` (an IPv6 address has at most one).
    fileprivate var doubleColonHalves: [Substring] {
        var parts: [Substring] = []
        var rest = self[...]
        while let range = rest.firstRange(of: "::") {
            parts.append(Substring(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        parts.append(Substring(rest))
        return parts
    }
}
