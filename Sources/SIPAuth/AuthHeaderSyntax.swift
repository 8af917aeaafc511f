// The RFC 3261 §25.1 / RFC 7616 §3.3-3.4 auth header grammar, shared by challenges and
// credentials:
//
//   challenge / credentials = "Digest" LWS param *(COMMA param)
//   auth-param  = auth-param-name EQUAL ( token / quoted-string )
//   COMMA = SWS "," SWS;  EQUAL = SWS "=" SWS;  LWS = [*WSP CRLF] 1*WSP
//   quoted-string = DQUOTE *(qdtext / quoted-pair) DQUOTE
//
// Values may be tokens or quoted-strings for any parameter when parsing (RFC 7235 §2.2
// makes the two forms equivalent, and real clients quote or not inconsistently); the
// serializers quote exactly as RFC 7616 prescribes.

/// One parsed auth-param.
struct ParsedParameter {
    /// The name as received.
    var name: String
    /// The name in ASCII lowercase, for case-insensitive matching (RFC 7616 §3.3).
    var key: String
    /// The value, unquoted and unescaped.
    var value: String
    var isQuoted: Bool
}

extension UInt8 {
    /// RFC 3261 §25.1 `token` characters, plus the RFC 7230 `tchar` ones (`#$&^|`) that
    /// RFC 8187 ext-values may hold unquoted.
    var isTokenByte: Bool {
        switch self {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "%"),
            UInt8(ascii: "*"), UInt8(ascii: "_"), UInt8(ascii: "+"), UInt8(ascii: "`"),
            UInt8(ascii: "'"), UInt8(ascii: "~"), UInt8(ascii: "#"), UInt8(ascii: "$"),
            UInt8(ascii: "&"), UInt8(ascii: "^"), UInt8(ascii: "|"):
            true
        default:
            false
        }
    }

    /// A control character that may appear nowhere in a header value: C0 except HTAB, and DEL.
    /// (CR LF is accepted only as part of an RFC 3261 §7.3.1 line fold.)
    var isForbiddenControl: Bool {
        (self < 0x20 && self != 0x09) || self == 0x7F
    }

    var isWhitespace: Bool { self == 0x20 || self == 0x09 }
}

/// Splits a Digest header field value into its auth-params (RFC 3261 §25.1).
///
/// Throws ``DigestError/Code/unsupportedScheme`` if the scheme is a token other than
/// `Digest`, and a typed error for every grammar violation, control character, duplicate
/// parameter or exceeded limit.
func parseDigestParameters(
    _ headerValue: String,
    limits: DigestParsingLimits
) throws(DigestError) -> [ParsedParameter] {
    guard headerValue.utf8.count <= limits.maxFieldLength else {
        throw DigestError(
            code: .limitExceeded,
            reason: "header value of \(headerValue.utf8.count) bytes exceeds the limit of \(limits.maxFieldLength)")
    }
    var headerValue = headerValue
    return try headerValue.withUTF8 { (bytes) -> Result<[ParsedParameter], DigestError> in
        // Folded values (rare) are unfolded into a copy first; the rest is read in place.
        guard bytes.contains(0x0D) else { return Result { () throws(DigestError) in try parseAuthParameters(bytes, limits: limits) } }
        return Result { () throws(DigestError) in
            try unfold(bytes).withUnsafeBufferPointer { (unfolded) -> Result<[ParsedParameter], DigestError> in
                Result { () throws(DigestError) in try parseAuthParameters(unfolded, limits: limits) }
            }.get()
        }
    }.get()
}

/// The value with each line fold (RFC 3261 §7.3.1: CRLF followed by whitespace is equivalent to a space)
/// replaced by its whitespace; any other CR or LF is refused.
private func unfold(_ bytes: UnsafeBufferPointer<UInt8>) throws(DigestError) -> [UInt8] {
    var unfolded = [UInt8]()
    unfolded.reserveCapacity(bytes.count)
    var pendingCR = false
    var pendingCRLF = false
    for byte in bytes {
        if pendingCRLF {
            guard byte.isWhitespace else {
                throw DigestError(code: .controlCharacter, reason: "line break not followed by whitespace")
            }
            pendingCRLF = false
            unfolded.append(byte)
            continue
        }
        if pendingCR {
            guard byte == 0x0A else {
                throw DigestError(code: .controlCharacter, reason: "bare CR in header value")
            }
            pendingCR = false
            pendingCRLF = true
            continue
        }
        if byte == 0x0D {
            pendingCR = true
            continue
        }
        unfolded.append(byte)
    }
    if pendingCR || pendingCRLF {
        throw DigestError(code: .controlCharacter, reason: "line break at end of header value")
    }
    return unfolded
}

/// Reads `auth-scheme LWS auth-param *(COMMA auth-param)` from an unfolded value.
private func parseAuthParameters(
    _ bytes: UnsafeBufferPointer<UInt8>, limits: DigestParsingLimits
) throws(DigestError) -> [ParsedParameter] {
    if let control = bytes.first(where: \.isForbiddenControl) {
        throw DigestError(code: .controlCharacter, reason: "control character 0x\(hex([control])) in header value")
    }
    var index = 0
    let end = bytes.count

    func skipWhitespace() {
        while index < end && bytes[index].isWhitespace { index += 1 }
    }

    func readToken() -> Range<Int> {
        let start = index
        while index < end && bytes[index].isTokenByte { index += 1 }
        return start..<index
    }

    func string(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }

    // auth-scheme
    skipWhitespace()
    let scheme = readToken()
    guard !scheme.isEmpty else {
        throw DigestError(code: .malformedHeader, reason: "missing auth-scheme")
    }
    guard bytes[scheme].lazy.map(\.lowercasedASCII).elementsEqual("digest".utf8) else {
        throw DigestError(code: .unsupportedScheme, reason: "auth-scheme \(loggable(string(scheme))) is not Digest")
    }
    let afterScheme = index
    skipWhitespace()
    if index == end {
        return []  // no parameters at all; the caller reports the missing required ones
    }
    guard index > afterScheme else {
        throw DigestError(code: .malformedHeader, reason: "no whitespace after the Digest auth-scheme")
    }

    var parameters = [ParsedParameter]()
    parameters.reserveCapacity(12)
    while true {
        // auth-param-name
        let nameRange = readToken()
        guard !nameRange.isEmpty else {
            throw DigestError(code: .malformedHeader, reason: "expected a parameter name at offset \(index)")
        }
        let name = string(nameRange)
        let key = bytes[nameRange].contains(where: { $0 &- 0x41 < 26 })
            ? String(decoding: bytes[nameRange].map(\.lowercasedASCII), as: UTF8.self) : name
        skipWhitespace()
        guard index < end, bytes[index] == UInt8(ascii: "=") else {
            throw DigestError(code: .malformedHeader, reason: "parameter \(loggable(name)) has no '='")
        }
        index += 1
        skipWhitespace()

        // token / quoted-string
        let value: String
        let isQuoted: Bool
        if index < end && bytes[index] == UInt8(ascii: "\"") {
            isQuoted = true
            index += 1
            let start = index
            var escaped = false
            var closed = false
            var length = 0
            while index < end {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    closed = true
                    break
                }
                if byte == UInt8(ascii: "\\") {
                    escaped = true
                    index += 1
                    guard index < end else { break }
                }
                index += 1
                length += 1
                guard length <= limits.maxValueLength else {
                    throw DigestError(
                        code: .limitExceeded,
                        reason: "value of \(loggable(name)) exceeds the limit of \(limits.maxValueLength) bytes")
                }
            }
            guard closed else {
                throw DigestError(code: .malformedHeader, reason: "unterminated quoted-string in \(loggable(name))")
            }
            value = escaped ? unescapedQuotedPairs(bytes[start..<index]) : string(start..<index)
            index += 1  // the closing quote
        } else {
            isQuoted = false
            let token = readToken()
            guard !token.isEmpty else {
                throw DigestError(code: .malformedHeader, reason: "parameter \(loggable(name)) has no value")
            }
            guard token.count <= limits.maxValueLength else {
                throw DigestError(
                    code: .limitExceeded,
                    reason: "value of \(loggable(name)) exceeds the limit of \(limits.maxValueLength) bytes")
            }
            value = string(token)
        }

        // A handful of parameters: a linear scan beats hashing them.
        guard !parameters.contains(where: { $0.key == key }) else {
            throw DigestError(code: .duplicateParameter, reason: "parameter \(loggable(name)) appears more than once")
        }
        guard parameters.count < limits.maxParameterCount else {
            throw DigestError(
                code: .limitExceeded, reason: "more than \(limits.maxParameterCount) parameters")
        }
        parameters.append(ParsedParameter(name: name, key: key, value: value, isQuoted: isQuoted))

        // COMMA or the end
        skipWhitespace()
        if index == end { break }
        guard bytes[index] == UInt8(ascii: ",") else {
            throw DigestError(
                code: .malformedHeader, reason: "expected ',' after parameter \(loggable(name)) at offset \(index)")
        }
        index += 1
        skipWhitespace()
        guard index < end else {
            throw DigestError(code: .malformedHeader, reason: "trailing ',' at the end of the header value")
        }
    }
    return parameters
}

/// A quoted-string's content with each quoted-pair (`\x`) replaced by the character it escapes.
private func unescapedQuotedPairs(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> String {
    var out = [UInt8]()
    out.reserveCapacity(bytes.count)
    var escaping = false
    for byte in bytes {
        if !escaping && byte == UInt8(ascii: "\\") {
            escaping = true
            continue
        }
        escaping = false
        out.append(byte)
    }
    return String(decoding: out, as: UTF8.self)
}

/// The parsed parameters by lowercase name, with the ones a parser has consumed tracked,
/// so that the rest become extension parameters in their original order.
struct ParameterTable {
    private var parameters: [ParsedParameter]
    private var consumed: [Bool]

    init(_ parameters: [ParsedParameter]) {
        self.parameters = parameters
        self.consumed = Array(repeating: false, count: parameters.count)
    }

    /// The parameter named `key` (lowercase), marking it consumed.
    mutating func take(_ key: String) -> ParsedParameter? {
        guard let index = parameters.firstIndex(where: { $0.key == key }) else { return nil }
        consumed[index] = true
        return parameters[index]
    }

    /// The value of the required parameter `key`.
    mutating func require(_ key: String) throws(DigestError) -> String {
        guard let parameter = take(key) else {
            throw DigestError(code: .missingParameter, reason: "required parameter \(key) is missing")
        }
        return parameter.value
    }

    /// The parameters not consumed, in received order.
    var extensions: [DigestParameter] {
        parameters.indices.filter { !consumed[$0] }.map {
            DigestParameter(name: parameters[$0].name, value: parameters[$0].value, isQuoted: parameters[$0].isQuoted)
        }
    }
}

/// Parses `true` / `false` case-insensitively (RFC 7616 §3.3 `stale`, `userhash`).
func parseBoolean(_ parameter: ParsedParameter) throws(DigestError) -> Bool {
    switch parameter.value.lowercased() {
    case "true": return true
    case "false": return false
    default:
        throw DigestError(
            code: .invalidParameterValue, reason: "parameter \(parameter.key) must be true or false")
    }
}

/// Builds a header field value `Digest name=value, ...`, checking that nothing it writes
/// could break out of the header (RFC 3261 §25.1).
struct DigestHeaderWriter {
    private(set) var output = "Digest"
    private var first = true

    private mutating func separator() {
        output += first ? " " : ", "
        first = false
    }

    /// Appends `name="value"`, escaping `"` and `\` (RFC 3261 §25.1 `quoted-pair`).
    mutating func quoted(_ name: String, _ value: String) throws(DigestError) {
        try checkName(name)
        // The common case (nonces, realms, URIs) needs no escaping: copy it whole.
        if !value.utf8.contains(where: { $0.isForbiddenControl || $0 == 0x09 || $0 == 0x22 || $0 == 0x5C }) {
            separator()
            output += name
            output += "=\""
            output += value
            output += "\""
            return
        }
        var escaped = ""
        escaped.reserveCapacity(value.utf8.count + 2)
        for scalar in value.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                throw DigestError(
                    code: .controlCharacter, reason: "value of \(loggable(name)) contains a control character")
            }
            if scalar == "\"" || scalar == "\\" { escaped.unicodeScalars.append("\\") }
            escaped.unicodeScalars.append(scalar)
        }
        separator()
        output += name + "=\"" + escaped + "\""
    }

    /// Appends `name=value` for a token value (RFC 3261 §25.1 `token`).
    mutating func token(_ name: String, _ value: String) throws(DigestError) {
        try checkName(name)
        guard !value.isEmpty, value.utf8.allSatisfy(\.isTokenByte) else {
            throw DigestError(code: .invalidParameterValue, reason: "value of \(loggable(name)) is not a token")
        }
        separator()
        output += name + "=" + value
    }

    /// Appends an extension parameter, quoting it if asked or if it is not a token.
    mutating func parameter(_ parameter: DigestParameter) throws(DigestError) {
        if parameter.isQuoted || parameter.value.isEmpty || !parameter.value.utf8.allSatisfy(\.isTokenByte) {
            try quoted(parameter.name, parameter.value)
        } else {
            try token(parameter.name, parameter.value)
        }
    }

    private func checkName(_ name: String) throws(DigestError) {
        guard !name.isEmpty, name.utf8.allSatisfy(\.isTokenByte) else {
            throw DigestError(code: .malformedHeader, reason: "parameter name \(loggable(name)) is not a token")
        }
    }
}
