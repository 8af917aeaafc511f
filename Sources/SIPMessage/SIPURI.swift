/// A `sip:` or `sips:` URI (RFC 3261 §19.1, grammar §25.1), validated strictly.
///
/// Components keep their escapes as written; ``text`` is the URI exactly as received, so a parsed URI
/// serializes byte-exact. ``isEquivalent(to:)`` implements the comparison rules of RFC 3261 §19.1.4.
public struct SIPURI: Hashable, Sendable, CustomStringConvertible {
    /// `sip` or `sips`.
    public enum Scheme: String, Hashable, Sendable {
        case sip, sips
    }

    /// The scheme.
    public let scheme: Scheme
    /// The user part as written (escapes kept), or nil.
    public let user: String?
    /// The password as written, or nil. Deprecated by RFC 3261 §19.1.1; parsed so it can be refused or stripped.
    public let password: String?
    /// The host.
    public let host: SIPHost
    /// The port, if given.
    public let port: UInt16?
    /// URI parameters (`;transport=tcp;lr`), in order.
    public let parameters: [SIPParameter]
    /// URI headers (`?subject=x&priority=urgent`), in order.
    public let headers: [SIPParameter]
    /// The URI as written.
    public let text: String

    /// Parses a SIP or SIPS URI.
    /// - Throws: ``SIPParseError/Code/malformedURI``, ``SIPParseError/Code/invalidHost``.
    public init(_ text: String) throws(SIPParseError) {
        self = try withScanner(text) { (scanner) throws(SIPParseError) -> SIPURI in
            try SIPURI.parse(scanner.bytes, 0..<scanner.end)
        }
    }

    /// Builds a URI from components; the user part must already be escaped.
    /// - Throws: ``SIPParseError/Code/malformedURI`` when a component does not follow the grammar.
    public init(
        scheme: Scheme = .sip, user: String? = nil, host: SIPHost, port: UInt16? = nil,
        parameters: [SIPParameter] = [], headers: [SIPParameter] = []
    ) throws(SIPParseError) {
        var text = scheme.rawValue + ":"
        if let user { text += user + "@" }
        text += host.description
        if let port { text += ":\(port)" }
        text += parameters.serialized
        if !headers.isEmpty { text += "?" + headers.map(\.description).joined(separator: "&") }
        try self.init(text)
    }

    private init(
        scheme: Scheme, user: String?, password: String?, host: SIPHost, port: UInt16?,
        parameters: [SIPParameter], headers: [SIPParameter], text: String
    ) {
        self.scheme = scheme
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.parameters = parameters
        self.headers = headers
        self.text = text
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) throws(SIPParseError) -> SIPURI {
        func fail(_ reason: String) -> SIPParseError { SIPParseError(.malformedURI, reason) }
        var index = range.lowerBound
        let end = range.upperBound
        let scheme: Scheme
        if SIPGrammar.equalsLowercase(bytes, index..<min(index + 4, end), "sip:") {
            scheme = .sip
            index += 4
        } else if SIPGrammar.equalsLowercase(bytes, index..<min(index + 5, end), "sips:") {
            scheme = .sips
            index += 5
        } else {
            throw fail("not a sip or sips URI")
        }
        // The first '@' ends the userinfo: no other component may contain an unescaped '@'.
        var at: Int? = nil
        for position in index..<end where bytes[position] == UInt8(ascii: "@") {
            at = position
            break
        }
        var user: String? = nil
        var password: String? = nil
        if let at {
            var colon: Int? = nil
            for position in index..<at where bytes[position] == UInt8(ascii: ":") {
                colon = position
                break
            }
            let userEnd = colon ?? at
            guard userEnd > index else { throw fail("empty user part") }
            guard validateEscaped(bytes, index..<userEnd, allowed: [.unreserved, .userUnreserved]) else {
                throw fail("illegal character in user part")
            }
            user = String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<userEnd]), as: UTF8.self)
            if let colon {
                guard validateEscaped(bytes, colon + 1..<at, allowed: [.unreserved, .passwordExtra]) else {
                    throw fail("illegal character in password")
                }
                password = String(decoding: UnsafeBufferPointer(rebasing: bytes[colon + 1..<at]), as: UTF8.self)
            }
            index = at + 1
        }
        // hostport
        let hostStart = index
        if index < end, bytes[index] == UInt8(ascii: "[") {
            while index < end, bytes[index] != UInt8(ascii: "]") { index += 1 }
            guard index < end else { throw SIPParseError(.invalidHost, "unterminated IPv6 reference") }
            index += 1
        } else {
            while index < end, bytes[index] != UInt8(ascii: ":"), bytes[index] != UInt8(ascii: ";"),
                bytes[index] != UInt8(ascii: "?")
            {
                index += 1
            }
        }
        let host = try SIPHost.parse(bytes, hostStart..<index)
        var port: UInt16? = nil
        if index < end, bytes[index] == UInt8(ascii: ":") {
            index += 1
            let start = index
            var value = 0
            while index < end, SIPGrammar.isDigit(bytes[index]), index - start < 5 {
                value = value * 10 + Int(bytes[index] - 0x30)
                index += 1
            }
            guard index > start, value <= 65535, index == end || !SIPGrammar.isDigit(bytes[index]) else {
                throw fail("invalid port")
            }
            port = UInt16(value)
        }
        // uri-parameters
        var parameters: [SIPParameter] = []
        while index < end, bytes[index] == UInt8(ascii: ";") {
            index += 1
            let parameter = try parseComponent(bytes, &index, end, separator: UInt8(ascii: ";"),
                                               allowed: [.unreserved, .paramUnreserved], what: "parameter")
            parameters.append(parameter)
            guard parameters.count <= SIPParameter.maxCount else { throw fail("too many URI parameters") }
        }
        var headers: [SIPParameter] = []
        if index < end, bytes[index] == UInt8(ascii: "?") {
            repeat {
                index += 1
                let header = try parseComponent(bytes, &index, end, separator: UInt8(ascii: "&"),
                                                allowed: [.unreserved, .hnvUnreserved], what: "header")
                guard header.value != nil else { throw fail("URI header without '='") }
                headers.append(header)
                guard headers.count <= SIPParameter.maxCount else { throw fail("too many URI headers") }
            } while index < end && bytes[index] == UInt8(ascii: "&")
        }
        guard index == end else { throw fail("unexpected character in URI") }
        return SIPURI(
            scheme: scheme, user: user, password: password, host: host, port: port, parameters: parameters,
            headers: headers,
            text: String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self))
    }

    /// `name[=value]` of a URI parameter or header; stops at the separator, `?`, or the end.
    private static func parseComponent(
        _ bytes: UnsafeBufferPointer<UInt8>, _ index: inout Int, _ end: Int, separator: UInt8,
        allowed: SIPGrammar.CharClass, what: String
    ) throws(SIPParseError) -> SIPParameter {
        func scan() -> Range<Int> {
            let start = index
            while index < end {
                let byte = bytes[index]
                // Parameters end at ';' or '?', headers at '&'; both at '='.
                if byte == separator || byte == UInt8(ascii: "=") || separator == UInt8(ascii: ";") && byte == UInt8(ascii: "?") {
                    break
                }
                index += 1
            }
            return start..<index
        }
        let name = scan()
        guard !name.isEmpty, validateEscaped(bytes, name, allowed: allowed) else {
            throw SIPParseError(.malformedURI, "empty or malformed URI \(what) name")
        }
        var value: String? = nil
        if index < end, bytes[index] == UInt8(ascii: "=") {
            index += 1
            let valueRange = scan()
            // URI headers may have an empty value (hvalue = *(...)); parameters need one (pvalue = 1*paramchar).
            guard separator == UInt8(ascii: "&") || !valueRange.isEmpty,
                validateEscaped(bytes, valueRange, allowed: allowed)
            else {
                throw SIPParseError(.malformedURI, "empty or malformed URI \(what) value")
            }
            value = String(decoding: UnsafeBufferPointer(rebasing: bytes[valueRange]), as: UTF8.self)
        }
        return SIPParameter(
            name: String(decoding: UnsafeBufferPointer(rebasing: bytes[name]), as: UTF8.self), value: value)
    }

    /// Whether every byte is in `allowed` or part of a valid `%HEX HEX` escape.
    static func validateEscaped(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, allowed: SIPGrammar.CharClass)
        -> Bool
    {
        var index = range.lowerBound
        while index < range.upperBound {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < range.upperBound, SIPGrammar.isHex(bytes[index + 1]), SIPGrammar.isHex(bytes[index + 2])
                else { return false }
                index += 3
                continue
            }
            guard SIPGrammar.has(byte, allowed) else { return false }
            index += 1
        }
        return true
    }

    /// The user part with escapes decoded (RFC 3261 §19.1.2), or nil if there is none.
    public var decodedUser: String? { user.map(SIPURI.percentDecoded) }

    /// The `transport` parameter, lowercased.
    public var transport: String? { parameters.value(named: "transport")?.asciiLowercased }
    /// Whether `;lr` (loose routing, RFC 3261 §19.1.1) is present.
    public var isLooseRouter: Bool { parameters.contains(named: "lr") }
    /// The `user` parameter (`phone` marks a telephone number, RFC 3261 §19.1.1), lowercased.
    public var userParameter: String? { parameters.value(named: "user")?.asciiLowercased }
    /// The `maddr` parameter.
    public var maddr: String? { parameters.value(named: "maddr") }

    public var description: String { text }

    /// RFC 3261 §19.1.4 equivalence: schemes equal; userinfo case-sensitive after unescaping unreserved
    /// characters; host case-insensitive; ports both absent or equal; `user`, `ttl`, `method`, `maddr` and
    /// `transport` must match when either URI has them, other parameters only when both have them; URI
    /// headers must all be present in both and match.
    public func isEquivalent(to other: SIPURI) -> Bool {
        guard scheme == other.scheme, host == other.host, port == other.port else { return false }
        guard user.map(SIPURI.normalizedEscapes) == other.user.map(SIPURI.normalizedEscapes),
            password.map(SIPURI.normalizedEscapes) == other.password.map(SIPURI.normalizedEscapes)
        else { return false }
        let significant = ["user", "ttl", "method", "maddr", "transport"]
        for name in significant {
            let left = parameters.value(named: name).map { SIPURI.percentDecoded($0).asciiLowercased }
            let right = other.parameters.value(named: name).map { SIPURI.percentDecoded($0).asciiLowercased }
            if left != right { return false }
        }
        for parameter in parameters where !significant.contains(where: { $0.caseInsensitiveEquals(parameter.name) }) {
            if let otherValue = other.parameters.value(named: parameter.name),
                SIPURI.percentDecoded(otherValue).asciiLowercased
                    != SIPURI.percentDecoded(parameter.value ?? "").asciiLowercased
            {
                return false
            }
        }
        guard headers.count == other.headers.count else { return false }
        for header in headers {
            guard let otherValue = other.headers.value(named: header.name),
                SIPURI.percentDecoded(otherValue) == SIPURI.percentDecoded(header.value ?? "")
            else { return false }
        }
        return true
    }

    /// Decodes every `%HEX HEX` escape (invalid escapes are left as they are).
    public static func percentDecoded(_ text: String) -> String {
        decodingEscapes(text) { _ in true }
    }

    /// Decodes escapes of unreserved characters and uppercases the hex of the rest, so that two spellings of
    /// the same userinfo compare equal while an escaped reserved character stays distinct (RFC 3261 §19.1.4).
    static func normalizedEscapes(_ text: String) -> String {
        decodingEscapes(text) { SIPGrammar.has($0, .unreserved) }
    }

    /// Decodes the escapes whose byte `shouldDecode` accepts; the others are kept with uppercase hex.
    private static func decodingEscapes(_ text: String, where shouldDecode: (UInt8) -> Bool) -> String {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        var out = [UInt8]()
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = SIPGrammar.hexValue(bytes[index + 1]), let low = SIPGrammar.hexValue(bytes[index + 2])
            {
                let decoded = high << 4 | low
                if shouldDecode(decoded) {
                    out.append(decoded)
                } else {
                    out.append(contentsOf: ("%" + String(decoded, radix: 16, uppercase: true).leftPadded(to: 2)).utf8)
                }
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
