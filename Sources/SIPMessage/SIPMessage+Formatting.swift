extension SIPMessage {
    /// A human-readable view of the message and its parsed structure (`rampart sip format`): the start line,
    /// every header with what Rampart understood of it (or the parse error), and the body.
    public func formattedDescription() -> String {
        var lines: [String] = []
        switch startLine {
        case .request(let line):
            lines.append("Request   \(line.method) \(line.requestURIText)")
            lines.append("  Request-URI  " + describe { () throws(SIPParseError) -> String in
                SIPMessage.describe(try line.requestURI())
            })
        case .response(let line):
            lines.append("Response  \(line.statusCode) \(line.reasonPhrase)")
        }
        lines.append("Headers (\(entries.count))")
        let width = min(24, (headers.map { $0.canonicalName.count }.max() ?? 0) + 1)
        for entry in entries {
            let field = field(entry)
            let name = field.canonicalName.padding(to: width)
            lines.append("  \(name) \(field.value)")
            if let detail = detail(for: field, entry: entry) { lines.append("  \("".padding(to: width))   -> \(detail)") }
        }
        let type = (try? contentType())?.map(\.description) ?? "no Content-Type"
        lines.append("Body      \(body.count) bytes, \(type)")
        if !body.isEmpty {
            let text = String(decoding: body, as: UTF8.self)
            let printable = body.allSatisfy { $0 == 0x09 || $0 == 0x0A || $0 == 0x0D || ($0 >= 0x20 && $0 != 0x7F) }
            if printable {
                for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
                where !line.isEmpty {
                    lines.append("  | " + line.trimmingCR())
                }
            } else {
                lines.append("  (binary)")
            }
        }
        return lines.joined(separator: "\n")
    }

    private func describe(_ body: () throws(SIPParseError) -> String) -> String {
        do { return try body() } catch { return "invalid: \(error)" }
    }

    private func detail(for field: SIPHeaderField, entry: HeaderEntry) -> String? {
        switch field.kind {
        case .via:
            return describe { () throws(SIPParseError) -> String in
                try parse(entry) { (scanner) throws(SIPParseError) -> String in
                    var parts: [String] = []
                    repeat {
                        let via = try Via.parse(&scanner)
                        var text = "transport=\(via.transport) sent-by=\(via.host.description)"
                        if let port = via.port { text += ":\(port)" }
                        if let branch = via.branch { text += " branch=\(branch)" }
                        switch via.rport {
                        case .absent: break
                        case .requested: text += " rport=requested"
                        case .value(let port): text += " rport=\(port)"
                        }
                        if let received = via.received { text += " received=\(received.addressText)" }
                        parts.append(text)
                    } while try scanner.listSeparator(error: .malformedVia)
                    return parts.joined(separator: " | ")
                }
            }
        case .from, .to, .replyTo, .referTo, .referredBy:
            return describe { () throws(SIPParseError) -> String in
                let address = try parse(entry) { (scanner) throws(SIPParseError) -> SIPAddress in
                    try SIPAddress.parseSingle(&scanner)
                }
                var text = ""
                if let name = address.displayName { text += "display-name=\"\(name)\" " }
                text += "uri=" + SIPMessage.describe(address.uri)
                if let tag = address.tag { text += " tag=\(tag)" }
                return text
            }
        case .contact:
            return describe { () throws(SIPParseError) -> String in
                var list: SIPContactList? = nil
                try parse(entry) { (scanner) throws(SIPParseError) in try SIPContactList.parse(&scanner, into: &list) }
                guard case .contacts(let contacts) = list else { return "wildcard (remove all bindings)" }
                return contacts.map { contact in
                    var text = "uri=" + SIPMessage.describe(contact.address.uri)
                    if let expires = contact.expires { text += " expires=\(expires)" }
                    if let q = contact.qValueThousandths { text += " q=\(Double(q) / 1000)" }
                    if let instance = contact.instanceID { text += " instance=\(instance)" }
                    return text
                }.joined(separator: " | ")
            }
        case .cseq:
            return describe { () throws(SIPParseError) -> String in
                let cseq = try parse(entry) { (scanner) throws(SIPParseError) -> CSeq in try CSeq.parse(&scanner) }
                return "number=\(cseq.sequenceNumber) method=\(cseq.method)"
            }
        case .callID, .maxForwards, .expires, .contentType, .contentLength, .allow, .supported, .require,
            .proxyRequire, .route, .recordRoute, .pAssertedIdentity, .identity, .sessionExpires, .reason, .privacy:
            // Validate through the message-level accessors; report only problems.
            let summary = describe { () throws(SIPParseError) -> String in
                var single = self
                single.entries = [entry]
                switch field.kind {
                case .callID: _ = try single.callID()
                case .maxForwards: _ = try single.maxForwards()
                case .expires: _ = try single.expires()
                case .contentType: _ = try single.contentType()
                case .route, .recordRoute, .pAssertedIdentity:
                    return try single.nameAddresses(field.kind).map { SIPMessage.describe($0.uri) }
                        .joined(separator: " | ")
                case .identity:
                    return try single.identities().map {
                        $0.unreadable == nil ? "PASSporT, info=\($0.info ?? "-")" : "not an RFC 8224 identity (unverifiable)"
                    }.joined()
                case .sessionExpires:
                    let value = try single.sessionExpires()
                    return "interval=\(value?.deltaSeconds ?? 0)s refresher=\(value?.refresher ?? "-")"
                case .reason:
                    return try single.reasons().map { "\($0.protocolName) cause=\($0.cause.map(String.init) ?? "-")" }
                        .joined(separator: " | ")
                case .privacy: return try single.privacy().joined(separator: ",")
                default: _ = try single.tokens(field.kind)
                }
                return "ok"
            }
            return summary == "ok" ? nil : summary
        case .other:
            return "unknown header, kept verbatim"
        default:
            return nil
        }
    }

    static func describe(_ uri: SIPAnyURI) -> String {
        switch uri {
        case .sip(let sip):
            var text = "\(sip.scheme.rawValue) "
            if let user = sip.decodedUser { text += "user=\(user) " }
            if sip.password != nil { text += "password=(present, deprecated) " }
            text += "host=\(sip.host)"
            if let port = sip.port { text += " port=\(port)" }
            if !sip.parameters.isEmpty { text += " params=" + sip.parameters.map(\.description).joined(separator: ",") }
            if !sip.headers.isEmpty { text += " headers=" + sip.headers.map(\.description).joined(separator: ",") }
            return text
        case .tel(let tel):
            return "tel number=\(tel.number) (\(tel.isGlobal ? "global" : "local"))"
        case .other(let uri):
            return "\(uri.scheme) (unsupported scheme) \(uri.text)"
        }
    }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}

extension Substring {
    func trimmingCR() -> String {
        var text = String(self)
        if text.hasSuffix("\r") { text.removeLast() }
        return text
    }
}
