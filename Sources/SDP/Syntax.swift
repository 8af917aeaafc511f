/// Byte-level character classes and small scanners shared by the line parser and the typed
/// attribute parsers. Everything works on UTF-8 code units so no grapheme breaking is involved.
enum Syntax {
    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool {
        byte &- 0x30 < 10
    }

    @inline(__always)
    static func isAlpha(_ byte: UInt8) -> Bool {
        (byte | 0x20) &- 0x61 < 26
    }

    @inline(__always)
    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isDigit(byte) || isAlpha(byte)
    }

    @inline(__always)
    static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte | 0x20) &- 0x61 < 6
    }

    /// RFC 8866 §9 `token-char`: %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E.
    @inline(__always)
    static func isTokenChar(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x21, 0x23...0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x30...0x39, 0x41...0x5A, 0x5E...0x7E:
            return true
        default:
            return false
        }
    }

    /// RFC 5234 VCHAR (%x21-7E).
    @inline(__always)
    static func isVisible(_ byte: UInt8) -> Bool {
        byte &- 0x21 < 0x5E
    }

    /// RFC 8839 §5.1 `ice-char`: ALPHA / DIGIT / "+" / "/".
    @inline(__always)
    static func isICEChar(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "/")
    }

    /// Characters of an IPv4/IPv6 literal or an FQDN: ALPHA / DIGIT / "." / ":" / "-".
    @inline(__always)
    static func isAddressChar(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":")
            || byte == UInt8(ascii: "-")
    }

    /// True when `text` is non-empty and every byte satisfies `predicate`.
    @inline(__always)
    static func all<S: StringProtocol>(_ text: S, _ predicate: (UInt8) -> Bool) -> Bool {
        guard !text.isEmpty else { return false }
        for byte in text.utf8 where !predicate(byte) {
            return false
        }
        return true
    }

    /// RFC 8866 §9 `token` (one or more `token-char`).
    static func isToken<S: StringProtocol>(_ text: S) -> Bool {
        all(text, isTokenChar)
    }

    /// Splits on single spaces. Returns `nil` when a field is empty (leading, trailing or doubled
    /// spaces, which the RFC 8866 grammar does not allow) or when there are more than `maxFields`.
    static func fields<S: StringProtocol>(_ text: S, maxFields: Int = Int.max) -> [Substring]?
    where S.SubSequence == Substring {
        var result: [Substring] = []
        result.reserveCapacity(8)
        var start = text.startIndex
        var index = text.startIndex
        let utf8 = text.utf8
        while index != text.endIndex {
            if utf8[index] == 0x20 {
                if start == index { return nil }
                if result.count == maxFields { return nil }
                result.append(text[start..<index])
                index = utf8.index(after: index)
                start = index
            } else {
                index = utf8.index(after: index)
            }
        }
        if start == text.endIndex { return nil }
        if result.count == maxFields { return nil }
        result.append(text[start..<text.endIndex])
        return result
    }

    /// Splits on `separator` keeping empty pieces.
    static func split(_ text: Substring, on separator: UInt8) -> [Substring] {
        var result: [Substring] = []
        result.reserveCapacity(4)
        var start = text.startIndex
        var index = text.startIndex
        let utf8 = text.utf8
        while index != text.endIndex {
            if utf8[index] == separator {
                result.append(text[start..<index])
                index = utf8.index(after: index)
                start = index
            } else {
                index = utf8.index(after: index)
            }
        }
        result.append(text[start..<text.endIndex])
        return result
    }

    /// Splits once at the first `separator`; `nil` when it does not occur.
    static func splitOnce(_ text: Substring, at separator: UInt8) -> (Substring, Substring)? {
        guard let index = text.utf8.firstIndex(of: separator) else { return nil }
        return (text[text.startIndex..<index], text[text.utf8.index(after: index)...])
    }

    /// Parses `1*DIGIT` as an unsigned decimal no larger than `maximum`. Rejects signs, spaces,
    /// empty input and anything longer than 20 digits (so it never loops on huge input).
    static func decimal<S: StringProtocol>(_ text: S, maximum: UInt64 = UInt64.max) -> UInt64? {
        let utf8 = text.utf8
        guard !utf8.isEmpty, utf8.count <= 20 else { return nil }
        var value: UInt64 = 0
        for byte in utf8 {
            guard isDigit(byte) else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte &- 0x30))
            if overflow1 || overflow2 { return nil }
            value = sum
        }
        return value <= maximum ? value : nil
    }

    /// ASCII-case-insensitive comparison with a lowercase ASCII literal.
    static func equalsIgnoringCase<S: StringProtocol>(_ text: S, _ lowercaseLiteral: StaticString) -> Bool {
        let literal = UnsafeBufferPointer(start: lowercaseLiteral.utf8Start, count: lowercaseLiteral.utf8CodeUnitCount)
        guard text.utf8.count == literal.count else { return false }
        for (byte, expected) in zip(text.utf8, literal) {
            let folded = isAlpha(byte) ? byte | 0x20 : byte
            if folded != expected { return false }
        }
        return true
    }

    /// ASCII uppercase copy (non-ASCII bytes are left as they are).
    static func asciiUppercased<S: StringProtocol>(_ text: S) -> String {
        String(decoding: text.utf8.map { byte in (byte &- 0x61 < 26) ? byte - 0x20 : byte }, as: UTF8.self)
    }

    /// ASCII lowercase copy (non-ASCII bytes are left as they are).
    static func asciiLowercased<S: StringProtocol>(_ text: S) -> String {
        String(decoding: text.utf8.map { byte in (byte &- 0x41 < 26) ? byte + 0x20 : byte }, as: UTF8.self)
    }

    /// Decodes an even-length hexadecimal string (either case).
    static func hexBytes<S: StringProtocol>(_ text: S) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard !utf8.isEmpty, utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = hexValue(utf8[index]), let low = hexValue(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8? {
        if isDigit(byte) { return byte &- 0x30 }
        let folded = byte | 0x20
        if folded &- 0x61 < 6 { return folded &- 0x61 &+ 10 }
        return nil
    }

    /// Hexadecimal rendering of `bytes`, upper case, optionally with a separator between octets.
    static func hexString(_ bytes: [UInt8], uppercase: Bool, separator: Character? = nil) -> String {
        let digits: [Character] = Array(uppercase ? "0123456789ABCDEF" : "0123456789abcdef")
        var text = ""
        text.reserveCapacity(bytes.count * 3)
        for (offset, byte) in bytes.enumerated() {
            if offset > 0, let separator { text.append(separator) }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return text
    }
}
