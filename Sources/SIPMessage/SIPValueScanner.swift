/// A cursor over one header value (or URI) for the typed parsers. Header values reach it already framed:
/// every CR or LF inside is part of a fold (CRLF followed by whitespace), so CR and LF count as LWS here.
struct SIPValueScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var position: Int
    let end: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        self.position = 0
        self.end = bytes.count
    }

    var isAtEnd: Bool { position >= end }
    var peek: UInt8? { position < end ? bytes[position] : nil }

    @inline(__always)
    func string(_ range: Range<Int>) -> String { SIPGrammar.string(bytes, range) }

    /// Skips SWS (optional linear whitespace, folds included); returns whether any was skipped.
    @discardableResult
    @inline(__always)
    mutating func skipLWS() -> Bool {
        let start = position
        while position < end, SIPGrammar.isLWS(bytes[position]) { position += 1 }
        return position > start
    }

    /// Consumes `byte` after optional LWS (and LWS after it), as RFC 3261's SEMI, COMMA, EQUAL, SLASH, COLON do.
    @inline(__always)
    mutating func consumeSeparator(_ byte: UInt8) -> Bool {
        let saved = position
        skipLWS()
        if position < end, bytes[position] == byte {
            position += 1
            skipLWS()
            return true
        }
        position = saved
        return false
    }

    @inline(__always)
    mutating func consume(_ byte: UInt8) -> Bool {
        if position < end, bytes[position] == byte {
            position += 1
            return true
        }
        return false
    }

    /// 1*token characters.
    @inline(__always)
    mutating func token() -> Range<Int>? {
        let start = position
        while position < end, SIPGrammar.isToken(bytes[position]) { position += 1 }
        return position > start ? start..<position : nil
    }

    /// 1*DIGIT, capped so that hostile lengths cannot overflow: returns nil past `maxValue`.
    mutating func number(maxValue: UInt64) -> UInt64?? {
        let start = position
        var value: UInt64 = 0
        var overflow = false
        while position < end, SIPGrammar.isDigit(bytes[position]) {
            if !overflow {
                value = value &* 10 &+ UInt64(bytes[position] - 0x30)
                if value > maxValue { overflow = true }
            }
            position += 1
            if position - start > 64 { overflow = true }
        }
        if position == start { return nil }
        return overflow ? .some(nil) : .some(value)
    }

    /// A quoted-string (RFC 3261 §25.1) starting at the current position; returns the range including quotes.
    mutating func quotedString() throws(SIPParseError) -> Range<Int> {
        let start = position
        guard consume(UInt8(ascii: "\"")) else {
            throw SIPParseError(.malformedHeader, "expected a quoted string")
        }
        while position < end {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                return start..<position
            }
            if byte == UInt8(ascii: "\\") {
                position += 1
                guard position < end, bytes[position] != 0x0D, bytes[position] != 0x0A else {
                    throw SIPParseError(.malformedHeader, "bad escape in quoted string")
                }
            }
            position += 1
        }
        throw SIPParseError(.malformedHeader, "unterminated quoted string")
    }

    /// Decodes a quoted-string range (with its quotes): escapes resolved, folds turned into one space.
    func unquote(_ range: Range<Int>) -> String {
        var out = [UInt8]()
        out.reserveCapacity(range.count)
        var index = range.lowerBound + 1
        let last = range.upperBound - 1
        while index < last {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\\"), index + 1 < last {
                out.append(bytes[index + 1])
                index += 2
                continue
            }
            if byte == 0x0D || byte == 0x0A {
                if out.last != 0x20 { out.append(0x20) }
                index += 1
                while index < last, SIPGrammar.isLWS(bytes[index]) { index += 1 }
                continue
            }
            out.append(byte)
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses `*( SEMI generic-param )` (RFC 3261 §25.1): `token [ EQUAL ( token / host / quoted-string ) ]`.
    /// Stops before anything that is not a `;` (a comma, the end).
    mutating func genericParameters(error code: SIPParseError.Code) throws(SIPParseError) -> [SIPParameter] {
        var parameters: [SIPParameter] = []
        while consumeSeparator(UInt8(ascii: ";")) {
            guard let name = token() else {
                throw SIPParseError(code, "empty or malformed parameter name", offset: position)
            }
            var value: String?
            if consumeSeparator(UInt8(ascii: "=")) {
                if peek == UInt8(ascii: "\"") {
                    value = string(try quotedString())
                } else if peek == UInt8(ascii: "[") {
                    let start = position
                    while position < end, bytes[position] != UInt8(ascii: "]") { position += 1 }
                    guard consume(UInt8(ascii: "]")) else {
                        throw SIPParseError(code, "unterminated IPv6 reference in parameter", offset: start)
                    }
                    value = string(start..<position)
                } else if let range = token() {
                    // gen-value = token / host / quoted-string; a bare IPv6 address (Via received) adds ':'.
                    var end = range.upperBound
                    while position < self.end, bytes[position] == UInt8(ascii: ":") || SIPGrammar.isToken(bytes[position]) {
                        position += 1
                        end = position
                    }
                    value = string(range.lowerBound..<end)
                } else {
                    throw SIPParseError(code, "empty or malformed parameter value", offset: position)
                }
            }
            if parameters.isEmpty { parameters.reserveCapacity(4) }  // one allocation for typical lists
            parameters.append(SIPParameter(name: string(name), value: value))
            if parameters.count > SIPParameter.maxCount {
                throw SIPParseError(.malformedParameter, "more than \(SIPParameter.maxCount) parameters")
            }
        }
        return parameters
    }

    /// Consumes a COMMA between list elements; true if one was there, false at the end; throws on anything else.
    mutating func listSeparator(error code: SIPParseError.Code) throws(SIPParseError) -> Bool {
        skipLWS()
        if isAtEnd { return false }
        if consume(UInt8(ascii: ",")) {
            skipLWS()
            if isAtEnd { throw SIPParseError(code, "empty list element after comma", offset: position) }
            return true
        }
        throw SIPParseError(code, "unexpected character in value", offset: position)
    }

    mutating func expectEnd(error code: SIPParseError.Code) throws(SIPParseError) {
        skipLWS()
        if !isAtEnd { throw SIPParseError(code, "unexpected trailing characters", offset: position) }
    }
}

/// Runs a parser over the UTF-8 bytes of a string.
func withScanner<T>(_ text: String, _ body: (inout SIPValueScanner) throws(SIPParseError) -> T) throws(SIPParseError) -> T {
    let bytes = Array(text.utf8)
    return try bytes.withUnsafeBufferPointer { (buffer) throws(SIPParseError) -> T in
        var scanner = SIPValueScanner(buffer)
        return try body(&scanner)
    }
}

/// One `name[=value]` parameter of a header or URI, as written (values keep their quotes).
public struct SIPParameter: Hashable, Sendable, CustomStringConvertible {
    /// Most parameters one header value or URI may carry; bounds the work per value.
    public static let maxCount = 64

    /// The name, as written.
    public var name: String
    /// The value as written (a quoted-string keeps its quotes), or nil for a flag parameter such as `;lr`.
    public var value: String?

    /// Creates a parameter.
    public init(name: String, value: String? = nil) {
        self.name = name
        self.value = value
    }

    /// `name` or `name=value`.
    public var description: String { value.map { "\(name)=\($0)" } ?? name }
}

extension Array where Element == SIPParameter {
    /// The first parameter with this name (case-insensitive, RFC 3261 §7.3.1).
    public func first(named name: String) -> SIPParameter? {
        first { $0.name.caseInsensitiveEquals(name) }
    }

    /// The value of the first parameter with this name; `""` for a flag parameter; nil if absent.
    public func value(named name: String) -> String? {
        first(named: name).map { $0.value ?? "" }
    }

    /// Whether a parameter with this name is present.
    public func contains(named name: String) -> Bool { first(named: name) != nil }

    /// `;a=b;c` serialization.
    var serialized: String {
        var text = ""
        for parameter in self { text += ";" + parameter.description }
        return text
    }
}
