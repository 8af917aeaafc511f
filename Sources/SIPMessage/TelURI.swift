/// A `tel:` URI (RFC 3966): a global number (`+` and digits) or a local number with a `phone-context`.
public struct TelURI: Hashable, Sendable, CustomStringConvertible {
    /// The number as written, visual separators included (`+1-201-555-0123`).
    public let number: String
    /// Whether the number is global (starts with `+`, RFC 3966 §5.1.4).
    public let isGlobal: Bool
    /// Parameters (`ext`, `isub`, `phone-context`, others) in order.
    public let parameters: [SIPParameter]
    /// The URI as written.
    public let text: String

    /// Parses a tel URI.
    /// - Throws: ``SIPParseError/Code/malformedURI``.
    public init(_ text: String) throws(SIPParseError) {
        self = try withScanner(text) { (scanner) throws(SIPParseError) -> TelURI in
            try TelURI.parse(scanner.bytes, 0..<scanner.end)
        }
    }

    private init(number: String, isGlobal: Bool, parameters: [SIPParameter], text: String) {
        self.number = number
        self.isGlobal = isGlobal
        self.parameters = parameters
        self.text = text
    }

    static func isVisualSeparator(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "(") || byte == UInt8(ascii: ")")
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) throws(SIPParseError) -> TelURI {
        func fail(_ reason: String) -> SIPParseError { SIPParseError(.malformedURI, reason) }
        guard SIPGrammar.equalsLowercase(bytes, range.lowerBound..<min(range.lowerBound + 4, range.upperBound), "tel:")
        else { throw fail("not a tel URI") }
        var index = range.lowerBound + 4
        let end = range.upperBound
        let numberStart = index
        let isGlobal = index < end && bytes[index] == UInt8(ascii: "+")
        if isGlobal { index += 1 }
        var digits = 0
        while index < end, bytes[index] != UInt8(ascii: ";") {
            let byte = bytes[index]
            if SIPGrammar.isDigit(byte) {
                digits += 1
            } else if !isGlobal && (SIPGrammar.isHex(byte) || byte == UInt8(ascii: "*") || byte == UInt8(ascii: "#")) {
                digits += 1
            } else if !isVisualSeparator(byte) {
                throw fail("illegal character in telephone number")
            }
            index += 1
        }
        guard digits > 0 else { throw fail("telephone number without digits") }
        let number = String(decoding: UnsafeBufferPointer(rebasing: bytes[numberStart..<index]), as: UTF8.self)
        var parameters: [SIPParameter] = []
        while index < end, bytes[index] == UInt8(ascii: ";") {
            index += 1
            let nameStart = index
            while index < end, SIPGrammar.isAlphanum(bytes[index]) || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index > nameStart else { throw fail("empty tel URI parameter name") }
            var value: String? = nil
            let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[nameStart..<index]), as: UTF8.self)
            if index < end, bytes[index] == UInt8(ascii: "=") {
                index += 1
                let valueStart = index
                while index < end, bytes[index] != UInt8(ascii: ";") { index += 1 }
                guard index > valueStart,
                    SIPURI.validateEscaped(bytes, valueStart..<index, allowed: [.unreserved, .paramUnreserved])
                else { throw fail("empty or malformed tel URI parameter value") }
                value = String(decoding: UnsafeBufferPointer(rebasing: bytes[valueStart..<index]), as: UTF8.self)
            }
            parameters.append(SIPParameter(name: name, value: value))
            guard parameters.count <= SIPParameter.maxCount else { throw fail("too many tel URI parameters") }
        }
        // RFC 3966 §5.1.5: a local number must carry a phone-context.
        guard isGlobal || parameters.contains(named: "phone-context") else {
            throw fail("local number without phone-context")
        }
        return TelURI(
            number: number, isGlobal: isGlobal, parameters: parameters,
            text: String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self))
    }

    /// The number's digits without visual separators (`+12015550123`).
    public var digits: String { String(decoding: number.utf8.filter { !TelURI.isVisualSeparator($0) }, as: UTF8.self) }

    public var description: String { text }
}

/// A URI of any other scheme (RFC 3986 absolute URI), kept as text: it parses, and an edge answers 416.
public struct AbsoluteURI: Hashable, Sendable, CustomStringConvertible {
    /// The scheme, lowercased.
    public let scheme: String
    /// The URI as written.
    public let text: String

    /// Longest scheme accepted.
    static let maxSchemeLength = 32

    /// Parses `scheme ":" 1*uric`.
    /// - Throws: ``SIPParseError/Code/malformedURI``.
    public init(_ text: String) throws(SIPParseError) {
        self = try withScanner(text) { (scanner) throws(SIPParseError) -> AbsoluteURI in
            try AbsoluteURI.parse(scanner.bytes, 0..<scanner.end)
        }
    }

    private init(scheme: String, text: String) {
        self.scheme = scheme
        self.text = text
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) throws(SIPParseError) -> AbsoluteURI {
        var index = range.lowerBound
        guard index < range.upperBound, SIPGrammar.isAlpha(bytes[index]) else {
            throw SIPParseError(.malformedURI, "URI scheme must start with a letter")
        }
        while index < range.upperBound, SIPGrammar.isAlphanum(bytes[index]) || bytes[index] == UInt8(ascii: "+")
            || bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: ".")
        {
            index += 1
        }
        guard index < range.upperBound, bytes[index] == UInt8(ascii: ":"),
            index - range.lowerBound <= maxSchemeLength
        else { throw SIPParseError(.malformedURI, "missing or overlong URI scheme") }
        let scheme = String(decoding: UnsafeBufferPointer(rebasing: bytes[range.lowerBound..<index]), as: UTF8.self)
        index += 1
        guard index < range.upperBound else { throw SIPParseError(.malformedURI, "empty URI after scheme") }
        guard SIPURI.validateEscaped(bytes, index..<range.upperBound, allowed: .uric) else {
            throw SIPParseError(.malformedURI, "illegal character in URI")
        }
        return AbsoluteURI(
            scheme: scheme.asciiLowercased,
            text: String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self))
    }

    public var description: String { text }
}

/// Any URI that may stand in a Request-URI or an address (RFC 3261 §25.1 `addr-spec`).
public enum SIPAnyURI: Hashable, Sendable, CustomStringConvertible {
    /// `sip:` or `sips:`.
    case sip(SIPURI)
    /// `tel:` (RFC 3966).
    case tel(TelURI)
    /// Any other scheme, kept as text.
    case other(AbsoluteURI)

    /// Parses a URI of any scheme; sip, sips and tel are validated strictly.
    /// - Throws: ``SIPParseError/Code/malformedURI``, ``SIPParseError/Code/invalidHost``.
    public init(_ text: String) throws(SIPParseError) {
        self = try withScanner(text) { (scanner) throws(SIPParseError) -> SIPAnyURI in
            try SIPAnyURI.parse(scanner.bytes, 0..<scanner.end)
        }
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) throws(SIPParseError) -> SIPAnyURI {
        let scheme = range.lowerBound..<min(range.lowerBound + 5, range.upperBound)
        if SIPGrammar.equalsLowercase(bytes, scheme.lowerBound..<min(scheme.lowerBound + 4, scheme.upperBound), "sip:")
            || SIPGrammar.equalsLowercase(bytes, scheme, "sips:")
        {
            return .sip(try SIPURI.parse(bytes, range))
        }
        if SIPGrammar.equalsLowercase(bytes, scheme.lowerBound..<min(scheme.lowerBound + 4, scheme.upperBound), "tel:") {
            return .tel(try TelURI.parse(bytes, range))
        }
        return .other(try AbsoluteURI.parse(bytes, range))
    }

    /// The scheme, lowercased.
    public var scheme: String {
        switch self {
        case .sip(let uri): uri.scheme.rawValue
        case .tel: "tel"
        case .other(let uri): uri.scheme
        }
    }

    /// The SIP URI, if this is one.
    public var sipURI: SIPURI? {
        if case .sip(let uri) = self { return uri }
        return nil
    }

    public var description: String {
        switch self {
        case .sip(let uri): uri.text
        case .tel(let uri): uri.text
        case .other(let uri): uri.text
        }
    }
}
