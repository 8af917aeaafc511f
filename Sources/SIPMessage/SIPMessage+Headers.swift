/// Typed access to the headers the stack needs. Each accessor parses the value on demand and throws a
/// ``SIPParseError`` naming the header when the value does not follow its grammar.
extension SIPMessage {
    /// The only field of a kind; nil if absent.
    /// - Throws: ``SIPParseError/Code/duplicateHeader`` if the header appears more than once.
    public func singleField(_ kind: SIPHeaderKind) throws(SIPParseError) -> SIPHeaderField? {
        try singleEntry(kind).map(field)
    }

    func singleEntry(_ kind: SIPHeaderKind) throws(SIPParseError) -> HeaderEntry? {
        var found: HeaderEntry? = nil
        for entry in entries where entry.kind == kind {
            guard found == nil else {
                throw SIPParseError(.duplicateHeader, "header may appear only once", headerName: kind.canonicalName)
            }
            found = entry
        }
        return found
    }

    func requiredEntry(_ kind: SIPHeaderKind) throws(SIPParseError) -> HeaderEntry {
        guard let entry = try singleEntry(kind) else {
            throw SIPParseError(.missingHeader, "required header missing", headerName: kind.canonicalName)
        }
        return entry
    }

    /// The topmost Via value, the one responses are routed by (RFC 3261 §18.2.2). Parses only that value.
    /// - Throws: ``SIPParseError/Code/missingHeader``, ``SIPParseError/Code/malformedVia``.
    public func topVia() throws(SIPParseError) -> Via {
        guard let entry = entries.first(where: { $0.kind == .via }) else {
            throw SIPParseError(.missingHeader, "no Via", headerName: "Via")
        }
        return try parse(entry) { (scanner) throws(SIPParseError) -> Via in
            let via = try Via.parse(&scanner)
            scanner.skipLWS()
            guard scanner.isAtEnd || scanner.peek == UInt8(ascii: ",") else {
                throw SIPParseError(.malformedVia, "unexpected characters after Via value", offset: scanner.position)
            }
            return via
        }
    }

    /// Every Via value, top first.
    /// - Throws: ``SIPParseError/Code/malformedVia``.
    public func vias() throws(SIPParseError) -> [Via] {
        var result: [Via] = []
        for entry in entries where entry.kind == .via {
            try parse(entry) { (scanner) throws(SIPParseError) in
                repeat { result.append(try Via.parse(&scanner)) } while try scanner.listSeparator(error: .malformedVia)
            }
        }
        return result
    }

    private func address(_ kind: SIPHeaderKind) throws(SIPParseError) -> SIPAddress {
        try parse(try requiredEntry(kind)) { (scanner) throws(SIPParseError) -> SIPAddress in
            try SIPAddress.parseSingle(&scanner)
        }
    }

    /// The From header (RFC 3261 §20.20).
    /// - Throws: ``SIPParseError/Code/missingHeader``, ``SIPParseError/Code/duplicateHeader``,
    ///   ``SIPParseError/Code/malformedAddress``.
    public func from() throws(SIPParseError) -> SIPAddress { try address(.from) }

    /// The To header (RFC 3261 §20.39).
    /// - Throws: as ``from()``.
    public func to() throws(SIPParseError) -> SIPAddress { try address(.to) }

    /// The From tag, read without parsing the URI: what a router needs to match a dialog (RFC 3261 §12).
    /// The full grammar is checked by ``from()`` and ``validate(options:)``.
    /// - Throws: ``SIPParseError/Code/missingHeader``, ``SIPParseError/Code/duplicateHeader``,
    ///   ``SIPParseError/Code/malformedAddress``.
    public func fromTag() throws(SIPParseError) -> String? { try tag(.from) }

    /// The To tag, read without parsing the URI (see ``fromTag()``).
    public func toTag() throws(SIPParseError) -> String? { try tag(.to) }

    private func tag(_ kind: SIPHeaderKind) throws(SIPParseError) -> String? {
        try parse(try requiredEntry(kind)) { (scanner) throws(SIPParseError) -> String? in
            // Skip the display name and the address: a quoted string, then <...>; or a bare addr-spec.
            scanner.skipLWS()
            if scanner.peek == UInt8(ascii: "\"") { _ = try scanner.quotedString() }
            var bracketed = false
            var index = scanner.position
            let bytes = scanner.bytes
            while index < scanner.end {
                let byte = bytes[index]
                if byte == UInt8(ascii: "<") { bracketed = true }
                if byte == UInt8(ascii: ">") || !bracketed && (byte == UInt8(ascii: ";") || byte == UInt8(ascii: ",")) {
                    break
                }
                index += 1
            }
            scanner.position = index
            if bracketed, !scanner.consume(UInt8(ascii: ">")) {
                throw SIPParseError(.malformedAddress, "missing >")
            }
            // The header parameters, checked as generic-params, keeping only the tag (no array is built).
            var tag: String? = nil
            var count = 0
            while scanner.consumeSeparator(UInt8(ascii: ";")) {
                guard let name = scanner.token() else {
                    throw SIPParseError(.malformedAddress, "empty or malformed parameter name", offset: scanner.position)
                }
                let isTag = SIPGrammar.equalsLowercase(scanner.bytes, name, "tag")
                if scanner.consumeSeparator(UInt8(ascii: "=")) {
                    let value: Range<Int>
                    if scanner.peek == UInt8(ascii: "\"") {
                        value = try scanner.quotedString()
                    } else if let token = scanner.token() {
                        value = token
                    } else {
                        throw SIPParseError(.malformedAddress, "empty or malformed parameter value", offset: scanner.position)
                    }
                    if isTag, tag == nil { tag = scanner.string(value) }
                } else if isTag, tag == nil {
                    tag = ""
                }
                count += 1
                guard count <= SIPParameter.maxCount else {
                    throw SIPParseError(.malformedAddress, "more than \(SIPParameter.maxCount) parameters")
                }
            }
            try scanner.expectEnd(error: .malformedAddress)
            return tag
        }
    }

    /// The Call-ID (RFC 3261 §20.8): `word [ "@" word ]`.
    /// - Throws: ``SIPParseError/Code/missingHeader``, ``SIPParseError/Code/duplicateHeader``,
    ///   ``SIPParseError/Code/malformedHeader``.
    public func callID() throws(SIPParseError) -> String {
        try parse(try requiredEntry(.callID)) { (scanner) throws(SIPParseError) -> String in
            let bytes = scanner.bytes
            var at = false
            var wordLength = 0
            for byte in bytes {
                if byte == UInt8(ascii: "@") {
                    guard !at, wordLength > 0 else { throw SIPParseError(.malformedHeader, "malformed Call-ID") }
                    at = true
                    wordLength = 0
                } else if SIPGrammar.has(byte, .word) {
                    wordLength += 1
                } else {
                    throw SIPParseError(.malformedHeader, "illegal character in Call-ID")
                }
            }
            guard wordLength > 0 else { throw SIPParseError(.malformedHeader, "empty Call-ID word") }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// The CSeq (RFC 3261 §20.16).
    /// - Throws: ``SIPParseError/Code/missingHeader``, ``SIPParseError/Code/duplicateHeader``,
    ///   ``SIPParseError/Code/malformedCSeq``.
    public func cseq() throws(SIPParseError) -> CSeq {
        try parse(try requiredEntry(.cseq)) { (scanner) throws(SIPParseError) -> CSeq in try CSeq.parse(&scanner) }
    }

    /// Max-Forwards (RFC 3261 §20.22), 0-255; nil if absent (RFC 2543 peers omit it).
    /// - Throws: ``SIPParseError/Code/malformedNumber``, ``SIPParseError/Code/valueOutOfRange``,
    ///   ``SIPParseError/Code/duplicateHeader``.
    public func maxForwards() throws(SIPParseError) -> Int? {
        guard let entry = try singleEntry(.maxForwards) else { return nil }
        return try parse(entry) { (scanner) throws(SIPParseError) -> Int in
            guard case .some(let parsed) = scanner.number(maxValue: 255) else {
                throw SIPParseError(.malformedNumber, "Max-Forwards is not a number")
            }
            try scanner.expectEnd(error: .malformedNumber)
            guard let value = parsed else { throw SIPParseError(.valueOutOfRange, "Max-Forwards above 255") }
            return Int(value)
        }
    }

    /// The Contact header(s) (RFC 3261 §20.10), nil if absent.
    /// - Throws: ``SIPParseError/Code/malformedContact``, ``SIPParseError/Code/malformedAddress``.
    public func contacts() throws(SIPParseError) -> SIPContactList? {
        var list: SIPContactList? = nil
        for entry in entries where entry.kind == .contact {
            try parse(entry) { (scanner) throws(SIPParseError) in try SIPContactList.parse(&scanner, into: &list) }
        }
        return list
    }

    /// Addresses of a list header whose values must be name-addr (Route, Record-Route, Path, Service-Route,
    /// P-Asserted-Identity).
    public func nameAddresses(_ kind: SIPHeaderKind) throws(SIPParseError) -> [SIPAddress] {
        var result: [SIPAddress] = []
        let requireBrackets = kind != .pAssertedIdentity && kind != .pPreferredIdentity
        for entry in entries where entry.kind == kind {
            try parse(entry) { (scanner) throws(SIPParseError) in
                repeat {
                    result.append(try SIPAddress.parse(&scanner, requireNameAddr: requireBrackets))
                    guard result.count <= limits.maxHeaderCount else {
                        throw SIPParseError(.malformedAddress, "too many addresses")
                    }
                } while try scanner.listSeparator(error: .malformedAddress)
            }
        }
        return result
    }

    /// Route values, in order (RFC 3261 §20.34).
    public func routes() throws(SIPParseError) -> [SIPAddress] { try nameAddresses(.route) }
    /// Record-Route values, in order (RFC 3261 §20.30).
    public func recordRoutes() throws(SIPParseError) -> [SIPAddress] { try nameAddresses(.recordRoute) }
    /// P-Asserted-Identity values (RFC 3325 §9.1).
    public func pAssertedIdentities() throws(SIPParseError) -> [SIPAddress] { try nameAddresses(.pAssertedIdentity) }

    /// Expires (RFC 3261 §20.19) in seconds, clamped to 2^32-1; nil if absent.
    /// - Throws: ``SIPParseError/Code/malformedNumber``, ``SIPParseError/Code/duplicateHeader``.
    public func expires() throws(SIPParseError) -> UInt32? {
        guard let entry = try singleEntry(.expires) else { return nil }
        return try deltaSeconds(entry)
    }

    /// Min-Expires (RFC 3261 §20.23); nil if absent.
    public func minExpires() throws(SIPParseError) -> UInt32? {
        guard let entry = try singleEntry(.minExpires) else { return nil }
        return try deltaSeconds(entry)
    }

    private func deltaSeconds(_ entry: HeaderEntry) throws(SIPParseError) -> UInt32 {
        try parse(entry) { (scanner) throws(SIPParseError) -> UInt32 in
            guard case .some(let parsed) = scanner.number(maxValue: UInt64(UInt32.max)) else {
                throw SIPParseError(.malformedNumber, "not delta-seconds")
            }
            try scanner.expectEnd(error: .malformedNumber)
            return UInt32(parsed ?? UInt64(UInt32.max))
        }
    }

    /// Content-Type (RFC 3261 §20.15); nil if absent.
    public func contentType() throws(SIPParseError) -> SIPMediaType? {
        guard let entry = try singleEntry(.contentType) else { return nil }
        return try parse(entry) { (scanner) throws(SIPParseError) -> SIPMediaType in try SIPMediaType.parse(&scanner) }
    }

    /// The Content-Length value (validated while framing); nil if absent.
    public var contentLength: Int? {
        firstField(.contentLength).flatMap { Int($0.value) }
    }

    /// Comma-separated tokens of every field of a kind (Allow, Supported, Require, Proxy-Require, Unsupported).
    /// - Throws: ``SIPParseError/Code/malformedHeader`` for a non-token element.
    public func tokens(_ kind: SIPHeaderKind) throws(SIPParseError) -> [String] {
        var result: [String] = []
        for entry in entries where entry.kind == kind {
            try parse(entry) { (scanner) throws(SIPParseError) in
                scanner.skipLWS()
                if scanner.isAtEnd { return }  // `Supported:` with no option tags is legal
                repeat {
                    guard let token = scanner.token() else {
                        throw SIPParseError(.malformedHeader, "list element is not a token", offset: scanner.position)
                    }
                    result.append(scanner.string(token))
                    guard result.count <= SIPParameter.maxCount else {
                        throw SIPParseError(.malformedHeader, "too many list elements")
                    }
                } while try scanner.listSeparator(error: .malformedHeader)
            }
        }
        return result
    }

    /// Allow (RFC 3261 §20.5).
    public func allow() throws(SIPParseError) -> [SIPMethod] { try tokens(.allow).map { SIPMethod($0) } }
    /// Supported option tags (RFC 3261 §20.37).
    public func supported() throws(SIPParseError) -> [String] { try tokens(.supported) }
    /// Require option tags (RFC 3261 §20.32).
    public func require() throws(SIPParseError) -> [String] { try tokens(.require) }
    /// Proxy-Require option tags (RFC 3261 §20.29).
    public func proxyRequire() throws(SIPParseError) -> [String] { try tokens(.proxyRequire) }

    /// User-Agent (RFC 3261 §20.41) as written.
    public var userAgent: String? { firstField(.userAgent)?.value }
    /// Server (RFC 3261 §20.35) as written.
    public var server: String? { firstField(.server)?.value }

    /// Identity headers (RFC 8224 §4.1).
    public func identities() throws(SIPParseError) -> [SIPIdentity] {
        var result: [SIPIdentity] = []
        for entry in entries where entry.kind == .identity {
            result.append(try parse(entry) { (scanner) throws(SIPParseError) -> SIPIdentity in
                try SIPIdentity.parse(&scanner)
            })
        }
        return result
    }

    /// Session-Expires (RFC 4028 §4); nil if absent.
    public func sessionExpires() throws(SIPParseError) -> SessionExpires? {
        guard let entry = try singleEntry(.sessionExpires) else { return nil }
        return try parse(entry) { (scanner) throws(SIPParseError) -> SessionExpires in try SessionExpires.parse(&scanner) }
    }

    /// Reason values (RFC 3326 §2).
    public func reasons() throws(SIPParseError) -> [SIPReason] {
        var result: [SIPReason] = []
        for entry in entries where entry.kind == .reason {
            try parse(entry) { (scanner) throws(SIPParseError) in
                repeat {
                    scanner.skipLWS()
                    guard let protocolName = scanner.token() else {
                        throw SIPParseError(.malformedHeader, "Reason without protocol")
                    }
                    let parameters = try scanner.genericParameters(error: .malformedHeader)
                    let cause = parameters.value(named: "cause").flatMap { Int($0) }
                    if parameters.contains(named: "cause"), cause == nil {
                        throw SIPParseError(.malformedHeader, "Reason cause is not a number")
                    }
                    var text = parameters.value(named: "text")
                    if let quoted = text, quoted.hasPrefix("\""), quoted.hasSuffix("\""), quoted.count >= 2 {
                        text = String(quoted.dropFirst().dropLast())
                    }
                    result.append(SIPReason(protocolName: scanner.string(protocolName), cause: cause, text: text,
                                            parameters: parameters))
                } while try scanner.listSeparator(error: .malformedHeader)
            }
        }
        return result
    }

    /// Privacy values (RFC 3323 §4.2), lowercased: `id`, `header`, `session`, `user`, `none`, `critical`.
    public func privacy() throws(SIPParseError) -> [String] {
        var result: [String] = []
        for entry in entries where entry.kind == .privacy {
            try parse(entry) { (scanner) throws(SIPParseError) in
                repeat {
                    scanner.skipLWS()
                    guard let token = scanner.token() else { throw SIPParseError(.malformedHeader, "bad Privacy value") }
                    result.append(scanner.string(token).asciiLowercased)
                    scanner.skipLWS()
                } while scanner.consume(UInt8(ascii: ";")) || scanner.consume(UInt8(ascii: ","))
                try scanner.expectEnd(error: .malformedHeader)
            }
        }
        return result
    }
}
