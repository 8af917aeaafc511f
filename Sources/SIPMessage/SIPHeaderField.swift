/// One header line of a SIP message: its name as written, its kind, and its value.
///
/// A parsed field refers to the message's own bytes (no copy), so unknown headers round-trip byte-exact,
/// folds and odd spacing included. Values are read through ``value`` (folds turned into single spaces,
/// surrounding whitespace trimmed) or parsed into typed values by ``SIPMessage``'s accessors.
public struct SIPHeaderField: Sendable, CustomStringConvertible {
    /// Which known header this is, or ``SIPHeaderKind/other``.
    public let kind: SIPHeaderKind
    /// The whole line as written, without the final CRLF.
    public let rawLine: ArraySlice<UInt8>
    let nameEnd: Int
    let valueRange: Range<Int>
    /// Whether the value spans several lines (RFC 3261 §7.3.1 folding).
    public let isFolded: Bool

    init(kind: SIPHeaderKind, rawLine: ArraySlice<UInt8>, nameEnd: Int, valueRange: Range<Int>, isFolded: Bool) {
        self.kind = kind
        self.rawLine = rawLine
        self.nameEnd = nameEnd
        self.valueRange = valueRange
        self.isFolded = isFolded
    }

    /// Builds a header line `name: value`.
    ///
    /// - Throws: ``SIPParseError/Code/malformedHeader`` if the name is not a token;
    ///   ``SIPParseError/Code/bareLineBreak`` or ``SIPParseError/Code/illegalCharacter`` if the value carries
    ///   CR, LF, NUL or other control characters (header injection).
    public init(name: String, value: String) throws(SIPParseError) {
        try Self.checkInjectionFree(name: name, value: value)
        let bytes = Array(name.utf8) + Array(": ".utf8) + Array(Self.trimmingWhitespace(value).utf8)
        let nameEnd = name.utf8.count
        self.init(
            kind: SIPHeaderKind.identify(name), rawLine: bytes[...], nameEnd: nameEnd,
            valueRange: nameEnd + 2..<bytes.count, isFolded: false)
    }

    /// Checks that a header built from `name` and `value` is one header line: the name a token, the value free
    /// of CR, LF and other control characters (header injection).
    /// - Throws: as ``init(name:value:)``.
    static func checkInjectionFree(name: String, value: String) throws(SIPParseError) {
        guard !name.isEmpty, name.utf8.allSatisfy(SIPGrammar.isToken) else {
            throw SIPParseError(.malformedHeader, "header name is not a token")
        }
        for byte in value.utf8 where byte < 0x20 && byte != 0x09 || byte == 0x7F {
            if byte == 0x0D || byte == 0x0A {
                throw SIPParseError(.bareLineBreak, "line break in header value", headerName: name)
            }
            throw SIPParseError(.illegalCharacter, "control character in header value", headerName: name)
        }
    }

    /// The value without leading and trailing spaces and tabs.
    static func trimmingWhitespace(_ value: String) -> Substring {
        var trimmed = Substring(value)
        while let first = trimmed.utf8.first, first == 0x20 || first == 0x09 { trimmed = trimmed.dropFirst() }
        while let last = trimmed.utf8.last, last == 0x20 || last == 0x09 { trimmed = trimmed.dropLast() }
        return trimmed
    }

    /// Builds a known header with its canonical name.
    /// - Throws: as ``init(name:value:)``.
    public init(_ kind: SIPHeaderKind, value: String) throws(SIPParseError) {
        precondition(kind != .other, "use init(name:value:) for unknown headers")
        try self.init(name: kind.canonicalName, value: value)
    }

    /// The name as written (`v`, `VIA`, `Via`).
    public var name: String {
        String(decoding: rawLine[rawLine.startIndex..<nameEnd], as: UTF8.self)
    }

    /// The canonical name for known headers, the name as written otherwise.
    public var canonicalName: String { kind == .other ? name : kind.canonicalName }

    /// The value: surrounding whitespace trimmed, each fold (CRLF and whitespace) replaced by one space.
    public var value: String {
        let bytes = rawLine[valueRange]
        guard isFolded else { return String(decoding: bytes, as: UTF8.self) }
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == 0x0D || byte == 0x0A {
                while out.last == 0x20 || out.last == 0x09 { out.removeLast() }
                out.append(0x20)
                index += 1
                while index < bytes.endIndex, SIPGrammar.isLWS(bytes[index]) { index += 1 }
                continue
            }
            out.append(byte)
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The value bytes as written (folds included).
    public var rawValue: ArraySlice<UInt8> { rawLine[valueRange] }

    /// `Name: value` as written.
    public var description: String { String(decoding: rawLine, as: UTF8.self) }
}
