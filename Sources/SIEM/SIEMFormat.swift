import SIPMessage

/// How an event is written for a SIEM: one line each, every field escaped by the format's own rules so that a
/// hostile value (a From user with `|`, `=`, CR/LF, a tab, a quote) stays inside its field and cannot forge fields
/// or lines (fail2ban#1927 was exactly that).
public enum SIEMFormat: String, Hashable, Sendable, CaseIterable {
    /// ArcSight Common Event Format, version 0.
    case cef
    /// IBM QRadar Log Event Extended Format 2.0 (tab-delimited attributes).
    case leef
    /// RFC 5424 syslog with the fields as structured data (`rampart@32473`).
    case rfc5424
    /// One JSON object per line (RFC 8259).
    case json

    /// The product version written into CEF and LEEF headers.
    public static let productVersion = "0.19"

    /// The event as one line, without a line end. `host`: the edge's host name.
    public func line(_ event: SIEMEvent, host: String) -> String {
        switch self {
        case .cef: Self.cef(event, host: host)
        case .leef: Self.leef(event, host: host)
        case .rfc5424: Self.rfc5424(event, host: host)
        case .json: Self.json(event, host: host)
        }
    }

    // MARK: CEF

    static func cef(_ event: SIEMEvent, host: String) -> String {
        let header = ["CEF:0", "Rampart", "Rampart", productVersion, event.name, event.name, String(event.severity)]
        var extensions: [(String, String)] = [("rt", String(event.time)), ("act", event.name)]
        if let source = event.source { extensions.append(isAddress(source) ? ("src", source) : ("cs3", source)) }
        if event.source.map(isAddress) == false { extensions.append(("cs3Label", "source")) }
        if let account = event.account { extensions.append(("suser", account)) }
        extensions += [("cs1Label", "subject"), ("cs1", event.subject), ("cs2Label", "actor"), ("cs2", event.actor),
                       ("cn1Label", "auditSequence"), ("cn1", String(event.sequence)),
                       ("outcome", event.succeeded ? "success" : "failure"), ("dvchost", host)]
        if let message = event.message { extensions.append(("msg", message)) }
        // Header fields escape `\` and `|`; extension values `\` and `=`, with line breaks written as \n and \r.
        return header.map { escape($0, [("\\", "\\\\"), ("|", "\\|"), ("\r", " "), ("\n", " ")]) }
            .joined(separator: "|") + "|"
            + extensions.map { $0.0 + "=" + escape($0.1, [("\\", "\\\\"), ("=", "\\="), ("\r", "\\r"), ("\n", "\\n")]) }
            .joined(separator: " ")
    }

    // MARK: LEEF

    static func leef(_ event: SIEMEvent, host: String) -> String {
        let header = ["LEEF:2.0", "Rampart", "Rampart", productVersion, event.name]
        var attributes: [(String, String)] = [
            ("devTime", timestamp(event.time)), ("devTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSX"), ("cat", event.name),
            ("sev", String(event.severity)),
        ]
        if let source = event.source { attributes.append((isAddress(source) ? "src" : "sourceSubject", source)) }
        if let account = event.account { attributes.append(("usrName", account)) }
        attributes += [("subject", event.subject), ("actor", event.actor),
                       ("outcome", event.succeeded ? "success" : "failure"),
                       ("auditSequence", String(event.sequence)), ("identHostName", host)]
        if let message = event.message { attributes.append(("msg", message)) }
        // Tab separates attributes: a value's tabs and line breaks are written as \t, \r, \n (and `\` as `\\`).
        return header.map { escape($0, [("\\", "\\\\"), ("|", "\\|"), ("\r", " "), ("\n", " "), ("\t", " ")]) }
            .joined(separator: "|") + "|"
            + attributes.map {
                $0.0 + "=" + escape($0.1, [("\\", "\\\\"), ("\t", "\\t"), ("\r", "\\r"), ("\n", "\\n")])
            }.joined(separator: "\t")
    }

    // MARK: RFC 5424

    /// RFC 5424 §6: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`, facility authpriv (10).
    static func rfc5424(_ event: SIEMEvent, host: String) -> String {
        let priority = 10 * 8 + syslogSeverity(event.severity)
        var parameters: [(String, String)] = [
            ("seq", String(event.sequence)), ("name", event.name), ("severity", String(event.severity)),
            ("actor", event.actor), ("subject", event.subject), ("outcome", event.succeeded ? "success" : "failure"),
        ]
        if let source = event.source { parameters.append(("source", source)) }
        if let account = event.account { parameters.append(("account", account)) }
        // SD-PARAM values escape `"`, `\` and `]` (§6.3.3); line breaks are written as \r and \n.
        let data = "[rampart@32473 " + parameters.map {
            $0.0 + "=\"" + escape($0.1, [("\\", "\\\\"), ("\"", "\\\""), ("]", "\\]"), ("\r", "\\r"), ("\n", "\\n")]) + "\""
        }.joined(separator: " ") + "]"
        let message = event.message.map { " " + escape($0, [("\\", "\\\\"), ("\r", "\\r"), ("\n", "\\n")]) } ?? ""
        return "<\(priority)>1 \(timestamp(event.time)) \(printableName(host, limit: 255)) rampart - "
            + "\(printableName(event.name, limit: 32)) \(data)\(message)"
    }

    /// CEF's 0-10 onto syslog's severities: 9-10 critical, 7-8 error, 5-6 warning, 3-4 notice, else informational.
    static func syslogSeverity(_ severity: Int) -> Int {
        switch severity {
        case 9...: 2
        case 7...8: 3
        case 5...6: 4
        case 3...4: 5
        default: 6
        }
    }

    /// A header field of RFC 5424 (HOSTNAME, MSGID): printable US-ASCII without spaces, at most `limit`, or `-`.
    static func printableName(_ text: String, limit: Int) -> String {
        let kept = text.unicodeScalars.filter { $0.value > 32 && $0.value < 127 }.prefix(limit)
        return kept.isEmpty ? "-" : String(String.UnicodeScalarView(kept))
    }

    // MARK: JSON

    static func json(_ event: SIEMEvent, host: String) -> String {
        var fields: [(String, String)] = [
            ("sequence", String(event.sequence)), ("time", quoted(timestamp(event.time))),
            ("timeMillis", String(event.time)), ("name", quoted(event.name)), ("severity", String(event.severity)),
            ("actor", quoted(event.actor)), ("subject", quoted(event.subject)),
            ("outcome", quoted(event.succeeded ? "success" : "failure")), ("host", quoted(host)),
        ]
        if let message = event.message { fields.append(("message", quoted(message))) }
        if let source = event.source { fields.append(("source", quoted(source))) }
        if let account = event.account { fields.append(("account", quoted(account))) }
        return "{" + fields.map { quoted($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    /// A JSON string (RFC 8259 §7): quotes, backslashes and control characters escaped, and U+2028/U+2029 too (they
    /// end lines in some readers).
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    // MARK: Shared

    /// Replaces each listed character (the escape character itself is listed first, so no escape is escaped
    /// twice); other control characters (NUL, ESC, ...) become spaces: no format has a use for them and terminals
    /// act on some. Works on Unicode scalars, so that CR LF (one Swift `Character`) is two replacements.
    static func escape(_ text: String, _ replacements: [(Unicode.Scalar, String)]) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if let replacement = replacements.first(where: { $0.0 == scalar }) {
                out += replacement.1
            } else if scalar.value < 0x20 || scalar.value == 0x7F {
                out += " "
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// An IPv4 or IPv6 address (not a prefix or a name): what CEF's `src` and LEEF's `src` may hold.
    static func isAddress(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 45 && text.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || ($0 >= 0x41 && $0 <= 0x46) || $0 == 0x2E
                || $0 == 0x3A
        } && (text.contains(".") || text.contains(":"))
    }

    /// RFC 3339 UTC with milliseconds: `2026-12-07T15:08:42.123Z`.
    public static func timestamp(_ milliseconds: Int64) -> String {
        // Years 1 to 9999 (RFC 3339's); a record's time outside them is written at the nearest end, never trapped on.
        let milliseconds = min(max(milliseconds, -62_135_596_800_000), 253_402_300_799_999)
        let seconds = milliseconds >= 0 ? milliseconds / 1_000 : (milliseconds - 999) / 1_000
        let millis = Int(milliseconds - seconds * 1_000)
        let date = CivilDate(epochSeconds: seconds)
        let (year, month, day, secondOfDay) = (date.year, date.month, date.day, date.secondOfDay)
        func padded(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(padded(year, 4))-\(padded(month, 2))-\(padded(day, 2))T\(padded(Int64(secondOfDay / 3_600), 2)):"
            + "\(padded(Int64(secondOfDay % 3_600 / 60), 2)):\(padded(Int64(secondOfDay % 60), 2)).\(padded(Int64(millis), 3))Z"
    }
}
