/// A host in a SIP URI or Via (RFC 3261 §25.1 `host`): a strict hostname, an IPv4 dotted quad, or an IPv6
/// reference. Odd encodings that some stacks resolve differently (`127.1`, `0x7f.0.0.1`, `0177.0.0.1`,
/// percent escapes, zone IDs) are refused so that an ACL or a topology check cannot be sidestepped.
public enum SIPHost: Hashable, Sendable, CustomStringConvertible {
    /// A hostname, lowercased (hostnames compare case-insensitively, RFC 3261 §19.1.4).
    case hostname(String)
    /// An IPv4 address in network byte order.
    case ipv4(UInt32)
    /// An IPv6 address (RFC 4291), high and low 64 bits.
    case ipv6(high: UInt64, low: UInt64)

    /// Longest hostname accepted (RFC 1035 §2.3.4).
    public static let maxHostnameLength = 253

    /// Parses a host as it appears in a URI or Via: IPv6 addresses in brackets.
    /// - Throws: ``SIPParseError/Code/invalidHost``.
    public static func parse(_ text: String) throws(SIPParseError) -> SIPHost {
        try withScanner(text) { (scanner) throws(SIPParseError) -> SIPHost in
            try parse(scanner.bytes, 0..<scanner.end)
        }
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) throws(SIPParseError) -> SIPHost {
        guard !range.isEmpty else { throw SIPParseError(.invalidHost, "empty host") }
        if bytes[range.lowerBound] == UInt8(ascii: "[") {
            guard range.count > 2, bytes[range.upperBound - 1] == UInt8(ascii: "]"),
                let address = parseIPv6(bytes, range.lowerBound + 1..<range.upperBound - 1)
            else { throw SIPParseError(.invalidHost, "malformed IPv6 reference") }
            return .ipv6(high: address.0, low: address.1)
        }
        // A hostname starts with a letter or digit; only an all-digits-and-dots host is an IPv4 address.
        var allNumeric = SIPGrammar.isDigit(bytes[range.lowerBound])
        if allNumeric {
            for index in range where !(SIPGrammar.isDigit(bytes[index]) || bytes[index] == UInt8(ascii: ".")) {
                allNumeric = false
                break
            }
        }
        if allNumeric {
            guard let address = parseIPv4(bytes, range) else {
                throw SIPParseError(.invalidHost, "malformed IPv4 address")
            }
            return .ipv4(address)
        }
        return .hostname(try parseHostname(bytes, range))
    }

    /// Parses a bare IPv4 or IPv6 address (no brackets), as in Via `received` (RFC 3261 §20.42).
    public static func parseAddress(_ text: String) -> SIPHost? {
        var copy = text
        return copy.withUTF8 { bytes -> SIPHost? in
            if let v4 = parseIPv4(bytes, 0..<bytes.count) { return .ipv4(v4) }
            if let v6 = parseIPv6(bytes, 0..<bytes.count) { return .ipv6(high: v6.0, low: v6.1) }
            return nil
        }
    }

    static func parseHostname(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) throws(SIPParseError) -> String {
        guard range.count <= maxHostnameLength else { throw SIPParseError(.invalidHost, "hostname too long") }
        var end = range.upperBound
        if bytes[end - 1] == UInt8(ascii: ".") { end -= 1 }  // a trailing dot is allowed (fully qualified)
        var labelStart = range.lowerBound
        var lastLabelStart = labelStart
        var index = range.lowerBound
        while index <= end {
            if index == end || bytes[index] == UInt8(ascii: ".") {
                let length = index - labelStart
                guard length > 0, length <= 63 else { throw SIPParseError(.invalidHost, "empty or long label") }
                guard SIPGrammar.isAlphanum(bytes[labelStart]), SIPGrammar.isAlphanum(bytes[index - 1]) else {
                    throw SIPParseError(.invalidHost, "label must start and end with a letter or digit")
                }
                lastLabelStart = labelStart
                labelStart = index + 1
            } else if !(SIPGrammar.isAlphanum(bytes[index]) || bytes[index] == UInt8(ascii: "-")) {
                throw SIPParseError(.invalidHost, "illegal character in hostname")
            }
            index += 1
        }
        // RFC 3261 toplabel starts with a letter: a numeric last label means a broken IPv4 address.
        guard SIPGrammar.isAlpha(bytes[lastLabelStart]) else {
            throw SIPParseError(.invalidHost, "top label must start with a letter")
        }
        let slice = UnsafeBufferPointer(rebasing: bytes[range])
        guard slice.contains(where: { $0 &- 0x41 < 26 }) else { return String(decoding: slice, as: UTF8.self) }
        return String(unsafeUninitializedCapacity: range.count) { out in
            for (offset, byte) in slice.enumerated() { out[offset] = SIPGrammar.lowercased(byte) }
            return range.count
        }
    }

    /// Strict dotted quad: four decimal octets 0-255 without leading zeros.
    static func parseIPv4(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UInt32? {
        var address: UInt32 = 0
        var octets = 0
        var index = range.lowerBound
        while octets < 4 {
            let start = index
            var value: UInt32 = 0
            while index < range.upperBound, SIPGrammar.isDigit(bytes[index]), index - start < 3 {
                value = value * 10 + UInt32(bytes[index] - 0x30)
                index += 1
            }
            let length = index - start
            guard length > 0, value <= 255, !(length > 1 && bytes[start] == UInt8(ascii: "0")) else { return nil }
            address = address << 8 | value
            octets += 1
            if octets < 4 {
                guard index < range.upperBound, bytes[index] == UInt8(ascii: ".") else { return nil }
                index += 1
            }
        }
        return index == range.upperBound ? address : nil
    }

    /// RFC 4291 §2.2 text forms, including `::` and a trailing dotted quad; no zone IDs.
    static func parseIPv6(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> (UInt64, UInt64)? {
        var groups: [UInt16] = []
        groups.reserveCapacity(8)
        var gap: Int? = nil
        var index = range.lowerBound
        let end = range.upperBound
        guard range.count >= 2, range.count <= 45 else { return nil }
        if bytes[index] == UInt8(ascii: ":") {
            guard bytes[index + 1] == UInt8(ascii: ":") else { return nil }
            gap = 0
            index += 2
            if index == end { return (0, 0) }
        }
        while index < end {
            // A trailing IPv4 part occupies the last two groups.
            var dotAhead = false
            var probe = index
            while probe < end, bytes[probe] != UInt8(ascii: ":") {
                if bytes[probe] == UInt8(ascii: ".") { dotAhead = true }
                probe += 1
            }
            if dotAhead {
                guard probe == end, let v4 = parseIPv4(bytes, index..<end) else { return nil }
                groups.append(UInt16(v4 >> 16))
                groups.append(UInt16(v4 & 0xFFFF))
                index = end
                break
            }
            var value: UInt32 = 0
            let start = index
            while index < end, let digit = SIPGrammar.hexValue(bytes[index]) {
                value = value << 4 | UInt32(digit)
                index += 1
                if index - start > 4 { return nil }
            }
            guard index > start else { return nil }
            groups.append(UInt16(value))
            if index == end { break }
            guard bytes[index] == UInt8(ascii: ":") else { return nil }
            index += 1
            if index < end, bytes[index] == UInt8(ascii: ":") {
                guard gap == nil else { return nil }
                gap = groups.count
                index += 1
                if index == end { break }
            } else if index == end {
                return nil
            }
            if groups.count > 8 { return nil }
        }
        if let gap {
            guard groups.count < 8 else { return nil }
            groups.insert(contentsOf: [UInt16](repeating: 0, count: 8 - groups.count), at: gap)
        }
        guard groups.count == 8 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<4 { high = high << 16 | UInt64(groups[index]) }
        for index in 4..<8 { low = low << 16 | UInt64(groups[index]) }
        return (high, low)
    }

    /// Whether this is an IP address rather than a hostname.
    public var isIPAddress: Bool {
        if case .hostname = self { return false }
        return true
    }

    /// The host as written in a URI: hostnames lowercased, IPv6 in brackets (RFC 5952 form).
    public var description: String {
        switch self {
        case .hostname(let name): return name
        case .ipv4: return addressText
        case .ipv6: return "[\(addressText)]"
        }
    }

    /// The address without brackets (for `received`, logs, ACLs).
    public var addressText: String {
        switch self {
        case .hostname(let name):
            return name
        case .ipv4(let address):
            return "\(address >> 24).\(address >> 16 & 0xFF).\(address >> 8 & 0xFF).\(address & 0xFF)"
        case .ipv6(let high, let low):
            let groups = (0..<4).map { UInt16(truncatingIfNeeded: high >> (48 - 16 * $0)) }
                + (0..<4).map { UInt16(truncatingIfNeeded: low >> (48 - 16 * $0)) }
            // RFC 5952 §4.2: compress the longest run (of two or more) of zero groups.
            var bestStart = -1
            var bestLength = 1
            var runStart = -1
            for index in 0...8 {
                if index < 8, groups[index] == 0 {
                    if runStart < 0 { runStart = index }
                } else if runStart >= 0 {
                    if index - runStart > bestLength {
                        bestStart = runStart
                        bestLength = index - runStart
                    }
                    runStart = -1
                }
            }
            func hex(_ range: Range<Int>) -> String {
                range.map { String(groups[$0], radix: 16) }.joined(separator: ":")
            }
            if bestStart < 0 { return hex(0..<8) }
            return hex(0..<bestStart) + "::" + hex(bestStart + bestLength..<8)
        }
    }
}
