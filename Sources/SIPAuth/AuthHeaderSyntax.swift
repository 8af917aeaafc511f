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

    // Unfold (RFC 3261 §7.3.1: CRLF followed by whitespace is equivalent to a space) and
    // refuse every other control character.
    var bytes = [UInt8]()
    bytes.reserveCapacity(headerValue.utf8.count)
    do {
        var iterator = headerValue.utf8.makeIterator()
        var pendingCR = false
        var pendingCRLF = false
        while let byte = iterator.next() {
            if pendingCRLF {
                guard byte.isWhitespace else {
                    throw DigestError(code: .controlCharacter, reason: "line break not followed by whitespace")
                }
                pendingCRLF = false
                bytes.append(byte)
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
            if byte.isForbiddenControl {
                throw DigestError(code: .controlCharacter, reason: "control character 0x\(hex([byte])) in header value")
            }
            bytes.append(byte)
        }
        if pendingCR || pendingCRLF {
            throw DigestError(code: .controlCharacter, reason: "line break at end of header value")
        }
    }

    var index = 0
    let end = bytes.count

    func skipWhitespace() {
        while index < end && bytes[index].isWhitespace { index += 1 }
    }

    func readToken() -> String {
        let start = index
        while index < end && bytes[index].isTokenByte { index += 1 }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    // auth-scheme
    skipWhitespace()
    let scheme = readToken()
    guard !scheme.isEmpty else {
        throw DigestError(code: .malformedHeader, reason: "missing auth-scheme")
    }
    guard scheme.utf8.map(\.lowercasedASCII).elementsEqual("digest".utf8) else {
        throw DigestError(code: .unsupportedScheme, reason: "auth-scheme \(loggable(scheme)) is not Digest")
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
    var seen = Set<String>()
    while true {
        // auth-param-name
        let name = readToken()
        guard !name.isEmpty else {
            throw DigestError(code: .malformedHeader, reason: "expected a parameter name at offset \(index)")
        }
        let key = String(decoding: name.utf8.map(\.lowercasedASCII), as: UTF8.self)
        skipWhitespace()
        guard index < end, bytes[index] == UInt8(ascii: "=") else {
            throw DigestError(code: .malformedHeader, reason: "parameter \(loggable(name)) has no '='")
        }
        index += 1
        skipWhitespace()

        // token / quoted-string
        var value = [UInt8]()
        let isQuoted: Bool
        if index < end && bytes[index] == UInt8(ascii: "\"") {
            isQuoted = true
            index += 1
            var closed = false
            while index < end {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    closed = true
                    break
                }
                if byte == UInt8(ascii: "\\") {
                    index += 1
                    guard index < end else { break }
                }
                value.append(bytes[index])
                index += 1
                guard value.count <= limits.maxValueLength else {
                    throw DigestError(
                        code: .limitExceeded,
                        reason: "value of \(loggable(name)) exceeds the limit of \(limits.maxValueLength) bytes")
                }
            }
            guard closed else {
                throw DigestError(code: .malformedHeader, reason: "unterminated quoted-string in \(loggable(name))")
            }
        } else {
            isQuoted = false
            let start = index
            while index < end && bytes[index].isTokenByte { index += 1 }
            value.append(contentsOf: bytes[start..<index])
            guard !value.isEmpty else {
                throw DigestError(code: .malformedHeader, reason: "parameter \(loggable(name)) has no value")
            }
            guard value.count <= limits.maxValueLength else {
                throw DigestError(
                    code: .limitExceeded,
                    reason: "value of \(loggable(name)) exceeds the limit of \(limits.maxValueLength) bytes")
            }
        }

        guard seen.insert(key).inserted else {
            throw DigestError(code: .duplicateParameter, reason: "parameter \(loggable(name)) appears more than once")
        }
        guard parameters.count < limits.maxParameterCount else {
            throw DigestError(
                code: .limitExceeded, reason: "more than \(limits.maxParameterCount) parameters")
        }
        parameters.append(
            ParsedParameter(name: name, key: key, value: String(decoding: value, as: UTF8.self), isQuoted: isQuoted))

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

/// The parsed parameters by lowercase name, with the ones a parser has consumed tracked,
/// so that the rest become extension parameters in their original order.
struct ParameterTable {
    private var parameters: [ParsedParameter]
    private var consumed = Set<String>()

    init(_ parameters: [ParsedParameter]) {
        self.parameters = parameters
    }

    /// The parameter named `key` (lowercase), marking it consumed.
    mutating func take(_ key: String) -> ParsedParameter? {
        guard let parameter = parameters.first(where: { $0.key == key }) else { return nil }
        consumed.insert(key)
        return parameter
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
        parameters.filter { !consumed.contains($0.key) }.map {
            DigestParameter(name: $0.name, value: $0.value, isQuoted: $0.isQuoted)
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
