/// Character classes of RFC 3261 §25.1, as one table lookup per byte.
enum SIPGrammar {
    struct CharClass: OptionSet {
        let rawValue: UInt16
        static let alphanum = CharClass(rawValue: 1 << 0)
        static let token = CharClass(rawValue: 1 << 1)  // alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
        static let unreserved = CharClass(rawValue: 1 << 2)  // alphanum / mark
        static let userUnreserved = CharClass(rawValue: 1 << 3)  // "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
        static let passwordExtra = CharClass(rawValue: 1 << 4)  // "&" / "=" / "+" / "$" / ","
        static let paramUnreserved = CharClass(rawValue: 1 << 5)  // "[" / "]" / "/" / ":" / "&" / "+" / "$"
        static let hnvUnreserved = CharClass(rawValue: 1 << 6)  // "[" / "]" / "/" / "?" / ":" / "+" / "$"
        static let word = CharClass(rawValue: 1 << 7)  // Call-ID word
        static let hex = CharClass(rawValue: 1 << 8)
        static let digit = CharClass(rawValue: 1 << 9)
        static let alpha = CharClass(rawValue: 1 << 10)
        static let uric = CharClass(rawValue: 1 << 11)  // RFC 2396 uric: reserved / unreserved / escaped
    }


    @inline(__always) static func isToken(_ byte: UInt8) -> Bool { classBits[Int(byte)] & CharClass.token.rawValue != 0 }
    @inline(__always) static func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }
    @inline(__always) static func isAlpha(_ byte: UInt8) -> Bool { classBits[Int(byte)] & CharClass.alpha.rawValue != 0 }
    @inline(__always) static func isAlphanum(_ byte: UInt8) -> Bool { classBits[Int(byte)] & CharClass.alphanum.rawValue != 0 }
    @inline(__always) static func isHex(_ byte: UInt8) -> Bool { classBits[Int(byte)] & CharClass.hex.rawValue != 0 }
    @inline(__always) static func has(_ byte: UInt8, _ cls: CharClass) -> Bool { classBits[Int(byte)] & cls.rawValue != 0 }
    /// SP or HTAB.
    @inline(__always) static func isWSP(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
    /// Whitespace inside an already framed header value: folds (CRLF WSP) were validated by the framer.
    @inline(__always) static func isLWS(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }

    @inline(__always) static func lowercased(_ byte: UInt8) -> UInt8 {
        byte &- 0x41 < 26 ? byte | 0x20 : byte
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - 0x30
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - 0x61 + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - 0x41 + 10
        default: nil
        }
    }

    /// Case-insensitive ASCII comparison of raw bytes against a lowercase literal.
    @inline(__always)
    static func equalsLowercase(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ lower: StaticString) -> Bool {
        guard range.count == lower.utf8CodeUnitCount, range.count > 0 else { return range.isEmpty && lower.utf8CodeUnitCount == 0 }
        let literal = lower.utf8Start
        if lowercased(bytes[range.lowerBound]) != literal[0] { return false }
        var index = 0
        for position in range {
            if lowercased(bytes[position]) != literal[index] { return false }
            index += 1
        }
        return true
    }
}

extension String {
    /// Case-insensitive ASCII equality, without allocating.
    func caseInsensitiveEquals(_ other: String) -> Bool {
        if self == other { return true }
        guard utf8.count == other.utf8.count else { return false }
        var left = utf8.makeIterator()
        var right = other.utf8.makeIterator()
        while true {
            let a = left.next()
            let b = right.next()
            switch (a, b) {
            case (nil, nil): return true
            case let (x?, y?) where SIPGrammar.lowercased(x) == SIPGrammar.lowercased(y): continue
            default: return false
            }
        }
    }

    /// The ASCII-lowercased string (non-ASCII bytes untouched).
    var asciiLowercased: String {
        if !utf8.contains(where: { $0 &- 0x41 < 26 }) { return self }
        return String(decoding: utf8.map(SIPGrammar.lowercased), as: UTF8.self)
    }
}
