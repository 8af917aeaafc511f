/// One Contact value (RFC 3261 §20.10) with the parameters a registrar uses.
public struct SIPContact: Hashable, Sendable, CustomStringConvertible {
    /// The address and its parameters.
    public var address: SIPAddress

    /// Creates a contact.
    public init(address: SIPAddress) { self.address = address }

    /// The `expires` parameter in seconds. Values above 2^32-1 are clamped (RFC 4475 §3.1.2.4 lets an element
    /// treat them as a default; the registrar's maximum applies anyway). Nil if absent.
    public var expires: UInt32? {
        address.parameters.value(named: "expires").flatMap { SIPContact.deltaSeconds($0) }
    }

    /// The `q` parameter in thousandths (0...1000), nil if absent.
    public var qValueThousandths: Int? {
        address.parameters.value(named: "q").flatMap(SIPContact.parseQValue)
    }

    /// The `+sip.instance` parameter (RFC 5626 §4.1) without its quotes and angle brackets.
    public var instanceID: String? {
        guard var value = address.parameters.value(named: "+sip.instance") else { return nil }
        if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
        if value.hasPrefix("<"), value.hasSuffix(">"), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
        return value
    }

    /// The `reg-id` parameter (RFC 5626 §4.2).
    public var regID: UInt32? { address.parameters.value(named: "reg-id").flatMap { UInt32($0) } }

    /// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) (RFC 3261 §25.1).
    static func parseQValue(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, first == UInt8(ascii: "0") || first == UInt8(ascii: "1") else { return nil }
        var value = Int(first - 0x30) * 1000
        if bytes.count == 1 { return value }
        guard bytes[1] == UInt8(ascii: "."), bytes.count <= 5 else { return nil }
        var scale = 100
        for byte in bytes.dropFirst(2) {
            guard SIPGrammar.isDigit(byte) else { return nil }
            value += Int(byte - 0x30) * scale
            scale /= 10
        }
        return value <= 1000 ? value : nil
    }

    /// delta-seconds, clamped to 2^32-1; nil if not a number.
    static func deltaSeconds(_ text: String) -> UInt32? {
        guard !text.isEmpty, text.utf8.allSatisfy(SIPGrammar.isDigit) else { return nil }
        let significant = text.drop { $0 == "0" }
        if significant.count > 10 { return UInt32.max }
        return UInt32(exactly: UInt64(significant.isEmpty ? "0" : String(significant)) ?? 0) ?? UInt32.max
    }

    public var description: String { address.description }
}

/// The Contact header's value: either `*` (remove all bindings, RFC 3261 §10.2.2) or a list of contacts.
public enum SIPContactList: Hashable, Sendable {
    case wildcard
    case contacts([SIPContact])

    static func parse(_ scanner: inout SIPValueScanner, into list: inout SIPContactList?) throws(SIPParseError) {
        scanner.skipLWS()
        if scanner.peek == UInt8(ascii: "*") {
            scanner.position += 1
            try scanner.expectEnd(error: .malformedContact)
            guard list == nil else { throw SIPParseError(.malformedContact, "'*' combined with other contacts") }
            list = .wildcard
            return
        }
        var contacts: [SIPContact] = []
        if case .contacts(let existing) = list { contacts = existing }
        if case .wildcard = list { throw SIPParseError(.malformedContact, "'*' combined with other contacts") }
        repeat {
            let address = try SIPAddress.parse(&scanner, requireNameAddr: false)
            let contact = SIPContact(address: address)
            if let expires = address.parameters.value(named: "expires"), SIPContact.deltaSeconds(expires) == nil {
                throw SIPParseError(.malformedContact, "expires parameter is not delta-seconds")
            }
            if let q = address.parameters.value(named: "q"), SIPContact.parseQValue(q) == nil {
                throw SIPParseError(.malformedContact, "q parameter is not a qvalue")
            }
            contacts.append(contact)
            guard contacts.count <= SIPParameter.maxCount else {
                throw SIPParseError(.malformedContact, "more than \(SIPParameter.maxCount) contacts")
            }
        } while try scanner.listSeparator(error: .malformedContact)
        list = .contacts(contacts)
    }
}

/// A media type (Content-Type, RFC 3261 §20.15): `type/subtype;param=value`.
public struct SIPMediaType: Hashable, Sendable, CustomStringConvertible {
    /// The type, lowercased (`application`).
    public var type: String
    /// The subtype, lowercased (`sdp`).
    public var subtype: String
    /// Parameters as written.
    public var parameters: [SIPParameter]

    /// Creates a media type.
    public init(type: String, subtype: String, parameters: [SIPParameter] = []) {
        self.type = type.asciiLowercased
        self.subtype = subtype.asciiLowercased
        self.parameters = parameters
    }

    /// `application/sdp`.
    public static let sdp = SIPMediaType(type: "application", subtype: "sdp")

    /// Whether this is `application/sdp` (parameters ignored).
    public var isSDP: Bool { type == "application" && subtype == "sdp" }

    static func parse(_ scanner: inout SIPValueScanner) throws(SIPParseError) -> SIPMediaType {
        scanner.skipLWS()
        guard let type = scanner.token(), scanner.consumeSeparator(UInt8(ascii: "/")), let subtype = scanner.token()
        else { throw SIPParseError(.malformedHeader, "media type is not type/subtype") }
        let parameters = try scanner.genericParameters(error: .malformedHeader)
        try scanner.expectEnd(error: .malformedHeader)
        return SIPMediaType(type: scanner.string(type), subtype: scanner.string(subtype), parameters: parameters)
    }

    public var description: String { "\(type)/\(subtype)" + parameters.serialized }
}

/// Session-Expires (RFC 4028 §4): interval and refresher.
public struct SessionExpires: Hashable, Sendable {
    /// The session interval in seconds.
    public var deltaSeconds: UInt32
    /// `uac` or `uas`, lowercased, if given.
    public var refresher: String?
    /// All parameters as written.
    public var parameters: [SIPParameter]

    static func parse(_ scanner: inout SIPValueScanner) throws(SIPParseError) -> SessionExpires {
        scanner.skipLWS()
        guard case .some(let parsed) = scanner.number(maxValue: UInt64(UInt32.max)) else {
            throw SIPParseError(.malformedNumber, "Session-Expires is not delta-seconds")
        }
        let parameters = try scanner.genericParameters(error: .malformedHeader)
        try scanner.expectEnd(error: .malformedHeader)
        let refresher = parameters.value(named: "refresher")?.asciiLowercased
        if let refresher, refresher != "uac", refresher != "uas" {
            throw SIPParseError(.malformedHeader, "refresher must be uac or uas")
        }
        return SessionExpires(deltaSeconds: UInt32(parsed ?? UInt64(UInt32.max)), refresher: refresher,
                              parameters: parameters)
    }
}

/// One Reason value (RFC 3326): protocol, cause and text.
public struct SIPReason: Hashable, Sendable {
    /// `SIP`, `Q.850` or another token.
    public var protocolName: String
    /// The `cause` parameter.
    public var cause: Int?
    /// The `text` parameter, unquoted.
    public var text: String?
    /// All parameters as written.
    public var parameters: [SIPParameter]
}

/// The Identity header (RFC 8224 §4.1): a PASSporT in compact form plus `info`, `alg` and `ppt` parameters.
/// Signature verification belongs to the StirShaken module; this is the syntax only.
///
/// A value that is not of that form (the obsolete RFC 4474 Identity, a quoted base64 signature) is no reason to
/// refuse the request: it is kept as ``unreadable`` text, with an empty token, and a verifier's verdict on it is
/// No-TN-Validation.
public struct SIPIdentity: Hashable, Sendable {
    /// The compact JWS (`header.payload.signature`, base64url); empty when the value is not one.
    public var token: String
    /// Parameters as written (`info=<https://...>`, `alg=ES256`, `ppt=shaken`).
    public var parameters: [SIPParameter]
    /// The value as written when it is not an RFC 8224 Identity (at most 256 bytes of it), else nil.
    public var unreadable: String?

    public init(token: String, parameters: [SIPParameter], unreadable: String? = nil) {
        (self.token, self.parameters, self.unreadable) = (token, parameters, unreadable)
    }

    /// Reads one Identity header value as a request would carry it (never fails: see ``unreadable``).
    public init(parsing value: String) {
        self = (try? withScanner(value) { (scanner) throws(SIPParseError) -> SIPIdentity in try Self.parse(&scanner) })
            ?? SIPIdentity(token: "", parameters: [], unreadable: String(value.prefix(256)))
    }

    /// The `info` URI without angle brackets.
    public var info: String? {
        guard let value = parameters.value(named: "info") else { return nil }
        return value.hasPrefix("<") && value.hasSuffix(">") ? String(value.dropFirst().dropLast()) : value
    }

    static func parse(_ scanner: inout SIPValueScanner) throws(SIPParseError) -> SIPIdentity {
        let start = scanner.position
        do {
            return try parseRFC8224(&scanner)
        } catch {
            let text = scanner.string(start..<scanner.end)
            scanner.position = scanner.end
            return SIPIdentity(token: "", parameters: [], unreadable: String(text.utf8.prefix(256)) ?? "")
        }
    }

    private static func parseRFC8224(_ scanner: inout SIPValueScanner) throws(SIPParseError) -> SIPIdentity {
        scanner.skipLWS()
        var quoted = false
        if scanner.consume(UInt8(ascii: "\"")) { quoted = true }  // RFC 4474 style quoting seen in the wild
        let start = scanner.position
        while let byte = scanner.peek, SIPGrammar.isAlphanum(byte) || byte == UInt8(ascii: "-")
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "=")
        {
            scanner.position += 1
        }
        let token = scanner.string(start..<scanner.position)
        if quoted, !scanner.consume(UInt8(ascii: "\"")) {
            throw SIPParseError(.malformedHeader, "unterminated Identity token")
        }
        guard token.utf8.filter({ $0 == UInt8(ascii: ".") }).count == 2 else {
            throw SIPParseError(.malformedHeader, "Identity is not a compact JWS")
        }
        var parameters: [SIPParameter] = []
        while scanner.consumeSeparator(UInt8(ascii: ";")) {
            guard let name = scanner.token() else { throw SIPParseError(.malformedHeader, "empty Identity parameter") }
            var value: String? = nil
            if scanner.consumeSeparator(UInt8(ascii: "=")) {
                let valueStart = scanner.position
                if scanner.consume(UInt8(ascii: "<")) {
                    while let byte = scanner.peek, byte != UInt8(ascii: ">"), !SIPGrammar.isLWS(byte) {
                        scanner.position += 1
                    }
                    guard scanner.consume(UInt8(ascii: ">")) else {
                        throw SIPParseError(.malformedHeader, "unterminated <> in Identity parameter")
                    }
                } else if scanner.peek == UInt8(ascii: "\"") {
                    _ = try scanner.quotedString()
                } else if scanner.token() == nil {
                    throw SIPParseError(.malformedHeader, "empty Identity parameter value")
                }
                value = scanner.string(valueStart..<scanner.position)
            }
            parameters.append(SIPParameter(name: scanner.string(name), value: value))
            guard parameters.count <= SIPParameter.maxCount else {
                throw SIPParseError(.malformedHeader, "too many Identity parameters")
            }
        }
        try scanner.expectEnd(error: .malformedHeader)
        return SIPIdentity(token: token, parameters: parameters)
    }
}
