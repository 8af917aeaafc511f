/// A `name-addr` or `addr-spec` with header parameters, as in From, To, Contact, Route, Record-Route,
/// P-Asserted-Identity and Refer-To (RFC 3261 §20, grammar §25.1).
public struct SIPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The display name, unquoted and unescaped, or nil.
    public var displayName: String?
    /// The URI.
    public var uri: SIPAnyURI
    /// Whether the URI was written in angle brackets.
    public var isNameAddr: Bool
    /// Header parameters after the address (`;tag=...`, `;expires=...`), as written.
    public var parameters: [SIPParameter]

    /// Creates an address.
    public init(displayName: String? = nil, uri: SIPAnyURI, parameters: [SIPParameter] = []) {
        self.displayName = displayName
        self.uri = uri
        self.isNameAddr = true
        self.parameters = parameters
    }

    /// Parses one address from a header value such as From or To.
    /// - Throws: ``SIPParseError/Code/malformedAddress``, ``SIPParseError/Code/malformedURI``.
    public init(_ text: String) throws(SIPParseError) {
        self = try withScanner(text) { (scanner) throws(SIPParseError) -> SIPAddress in try SIPAddress.parseSingle(&scanner) }
    }

    /// Parses a header value that holds exactly one address (From, To, Reply-To, Refer-To...).
    static func parseSingle(_ scanner: inout SIPValueScanner) throws(SIPParseError) -> SIPAddress {
        let address = try parse(&scanner, requireNameAddr: false)
        try scanner.expectEnd(error: .malformedAddress)
        return address
    }

    /// The `tag` parameter (RFC 3261 §19.3).
    public var tag: String? { parameters.value(named: "tag") }

    /// Parses `( name-addr / addr-spec ) *( SEMI generic-param )` at the scanner's position.
    static func parse(_ scanner: inout SIPValueScanner, requireNameAddr: Bool) throws(SIPParseError) -> SIPAddress {
        func fail(_ reason: String) -> SIPParseError { SIPParseError(.malformedAddress, reason, offset: scanner.position) }
        scanner.skipLWS()
        var displayName: String? = nil
        var hasDisplayName = false
        if scanner.peek == UInt8(ascii: "\"") {
            let quoted = try scanner.quotedString()
            displayName = scanner.unquote(quoted)
            hasDisplayName = true
            scanner.skipLWS()
            guard scanner.peek == UInt8(ascii: "<") else { throw fail("quoted display name not followed by <") }
        } else if scanner.peek != UInt8(ascii: "<") {
            // Either display-name tokens before '<', or an addr-spec: look ahead for '<' before any separator.
            let start = scanner.position
            var probe = start
            var sawAngle = false
            while probe < scanner.end {
                let byte = scanner.bytes[probe]
                if byte == UInt8(ascii: "<") {
                    sawAngle = true
                    break
                }
                if !(SIPGrammar.isToken(byte) || SIPGrammar.isLWS(byte)) { break }
                probe += 1
            }
            if sawAngle {
                // display-name = *(token LWS): collapse whitespace between tokens.
                var words: [String] = []
                while let word = scanner.token() {
                    words.append(scanner.string(word))
                    scanner.skipLWS()
                }
                guard scanner.peek == UInt8(ascii: "<") else { throw fail("malformed display name") }
                displayName = words.joined(separator: " ")
                hasDisplayName = !words.isEmpty
            }
        }
        let uri: SIPAnyURI
        let isNameAddr: Bool
        if scanner.consume(UInt8(ascii: "<")) {
            // LAQUOT = SWS "<": no whitespace inside the brackets (RFC 4475 §3.1.2.14).
            let start = scanner.position
            while scanner.position < scanner.end, scanner.bytes[scanner.position] != UInt8(ascii: ">") {
                let byte = scanner.bytes[scanner.position]
                if SIPGrammar.isLWS(byte) || byte == UInt8(ascii: "<") || byte == UInt8(ascii: "\"") {
                    throw fail("whitespace or illegal character inside <>")
                }
                scanner.position += 1
            }
            guard scanner.consume(UInt8(ascii: ">")) else { throw fail("missing >") }
            uri = try SIPAnyURI.parse(scanner.bytes, start..<scanner.position - 1)
            isNameAddr = true
        } else {
            guard !requireNameAddr else { throw fail("address must be enclosed in <>") }
            guard !hasDisplayName else { throw fail("display name without <>") }
            // addr-spec without brackets may not contain ';', ',' or '?' (RFC 3261 §20).
            let start = scanner.position
            while scanner.position < scanner.end {
                let byte = scanner.bytes[scanner.position]
                if byte == UInt8(ascii: ";") || byte == UInt8(ascii: ",") || SIPGrammar.isLWS(byte) { break }
                if byte == UInt8(ascii: "?") { throw fail("URI with '?' must be enclosed in <>") }
                scanner.position += 1
            }
            guard scanner.position > start else { throw fail("missing address") }
            do {
                uri = try SIPAnyURI.parse(scanner.bytes, start..<scanner.position)
            } catch {
                throw SIPParseError(.malformedAddress, "neither a name-addr nor an addr-spec: \(error.reason)",
                                    offset: start)
            }
            isNameAddr = false
        }
        let parameters = try scanner.genericParameters(error: .malformedAddress)
        var address = SIPAddress(displayName: displayName, uri: uri, parameters: parameters)
        address.isNameAddr = isNameAddr
        return address
    }

    /// The address in name-addr form: `"Display" <uri>;params`.
    public var description: String {
        var text = ""
        if let displayName {
            let escaped = displayName.replacingBackslashesAndQuotes()
            text += "\"\(escaped)\" "
        }
        if isNameAddr || displayName != nil || !parameters.isEmpty {
            text += "<\(uri)>"
        } else {
            text += uri.description
        }
        return text + parameters.serialized
    }
}

extension String {
    func replacingBackslashesAndQuotes() -> String {
        var out = ""
        for character in self {
            if character == "\\" || character == "\"" { out.append("\\") }
            out.append(character)
        }
        return out
    }
}
