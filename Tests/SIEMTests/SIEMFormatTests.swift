import AuditTrail
import Foundation
@testable import SIEM
import Testing

/// Each format read back by a parser written here from the format's own description (not from the writer): a
/// hostile value must come back whole, in its own field, on one line.
@Suite struct SIEMFormatTests {
    static let hostile = "alice|x=1\\ \"q\"] \t end\r\nCEF:0|Evil|Evil|1|forged|forged|10|src=6.6.6.6\u{0}\u{1B}[31m"
    static let event = SIEMEvent(sequence: 42, time: 1_796_655_073_404, name: "security.auth-failure", severity: 4,
                                 actor: "edge", subject: hostile, succeeded: false, message: "bad\r\ndigest | = \\",
                                 source: "192.0.2.7", account: "bob=admin|x")
    /// What survives: every value as given, but for the control characters the format has no escape for (NUL,
    /// ESC, and a tab but in LEEF), which become spaces.
    static func kept(_ text: String, escaping escaped: Set<Unicode.Scalar> = ["\r", "\n"]) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map {
            ($0.value < 0x20 || $0.value == 0x7F) && !escaped.contains($0) ? " " : $0
        }))
    }

    @Test func timestampsAreRFC3339InUTC() {
        #expect(SIEMFormat.timestamp(0) == "1970-01-01T00:00:00.000Z")
        #expect(SIEMFormat.timestamp(1_796_655_073_404) == "2026-12-07T14:51:13.404Z")
        #expect(SIEMFormat.timestamp(-1) == "1969-12-31T23:59:59.999Z")
        #expect(SIEMFormat.timestamp(951_782_400_000) == "2000-02-29T00:00:00.000Z")
        #expect(SIEMFormat.timestamp(4_102_444_799_999) == "2099-12-31T23:59:59.999Z")
    }

    @Test(arguments: SIEMFormat.allCases)
    func everyFormatIsOneLine(_ format: SIEMFormat) {
        let line = format.line(Self.event, host: "edge-1")
        #expect(!line.contains("\n") && !line.contains("\r") && !line.unicodeScalars.contains("\u{0}"))
        #expect(!line.unicodeScalars.contains("\u{1B}"), "no terminal escape reaches a console")
    }

    /// CEF: seven `|`-separated header fields (`\|` and `\\` escaped), then `key=value` pairs separated by spaces,
    /// a value running to the next unescaped ` key=`.
    @Test func cefFieldsComeBackWhole() throws {
        let line = SIEMFormat.cef.line(Self.event, host: "edge-1")
        var header: [String] = [], current = "", escaped = false, rest = Substring("")
        for (offset, character) in line.enumerated() {
            if escaped { current.append(character); escaped = false; continue }
            if character == "\\" { escaped = true; continue }
            if character == "|" {
                header.append(current)
                current = ""
                if header.count == 7 { rest = line.dropFirst(offset + 1); break }
                continue
            }
            current.append(character)
        }
        #expect(header == ["CEF:0", "Rampart", "Rampart", SIEMFormat.productVersion, "security.auth-failure",
                           "security.auth-failure", "4"])
        let fields = Self.cefExtension(String(rest))
        #expect(fields["cs1"] == Self.kept(Self.hostile) && fields["cs1Label"] == "subject")
        #expect(fields["suser"] == "bob=admin|x" && fields["src"] == "192.0.2.7" && fields["cn1"] == "42")
        #expect(fields["msg"] == "bad\r\ndigest | = \\" && fields["outcome"] == "failure" && fields["rt"] == "1796655073404")
        #expect(fields.count == 13, "\(fields.keys.sorted())")
    }

    static func cefExtension(_ text: String) -> [String: String] {
        // Split at spaces followed by `key=` (an unescaped `=`), then unescape each value.
        var pairs: [String: String] = [:]
        let characters = Array(text)
        var index = 0
        func readKey() -> String? {
            var key = ""
            while index < characters.count, characters[index].isLetter || characters[index].isNumber {
                key.append(characters[index]); index += 1
            }
            guard index < characters.count, characters[index] == "=" else { return nil }
            index += 1
            return key
        }
        while index < characters.count, let key = readKey() {
            var value = ""
            while index < characters.count {
                let character = characters[index]
                if character == "\\", index + 1 < characters.count {
                    let next = characters[index + 1]
                    value += next == "n" ? "\n" : next == "r" ? "\r" : String(next)
                    index += 2
                    continue
                }
                if character == " " {
                    // A space ends the value only if a key and an unescaped `=` follow.
                    var probe = index + 1
                    while probe < characters.count, characters[probe].isLetter || characters[probe].isNumber { probe += 1 }
                    if probe > index + 1, probe < characters.count, characters[probe] == "=" { index += 1; break }
                }
                value.append(character)
                index += 1
            }
            pairs[key] = value
        }
        return pairs
    }

    /// LEEF 2.0: five `|`-separated header fields and a trailing `|`, then tab-separated `key=value` attributes.
    @Test func leefAttributesComeBackWhole() throws {
        let line = SIEMFormat.leef.line(Self.event, host: "edge-1")
        let parts = line.components(separatedBy: "|")
        #expect(Array(parts.prefix(5)) == ["LEEF:2.0", "Rampart", "Rampart", SIEMFormat.productVersion, "security.auth-failure"])
        let attributes = line.dropFirst(parts.prefix(5).joined(separator: "|").count + 1)
        var fields: [String: String] = [:]
        for attribute in attributes.components(separatedBy: "\t") {
            let key = String(attribute.prefix { $0 != "=" })
            var value = "", escaped = false
            for character in attribute.dropFirst(key.count + 1) {
                if escaped {
                    value += character == "t" ? "\t" : character == "n" ? "\n" : character == "r" ? "\r" : String(character)
                    escaped = false
                } else if character == "\\" { escaped = true } else { value.append(character) }
            }
            #expect(fields[key] == nil, "one \(key)")
            fields[key] = value
        }
        #expect(fields["subject"] == Self.kept(Self.hostile, escaping: ["\r", "\n", "\t"]) && fields["usrName"] == "bob=admin|x")
        #expect(fields["msg"] == "bad\r\ndigest | = \\" && fields["src"] == "192.0.2.7" && fields["sev"] == "4")
        #expect(fields["devTime"] == "2026-12-07T14:51:13.404Z" && fields["auditSequence"] == "42")
    }

    /// RFC 5424: PRI, version, timestamp, host, app, procid, msgid, one SD element whose values escape `"`, `\`
    /// and `]`, and the message.
    @Test func rfc5424StructuredDataComesBackWhole() throws {
        let line = SIEMFormat.rfc5424.line(Self.event, host: "edge 1\u{7F}é")
        let head = line.split(separator: " ", maxSplits: 6).map(String.init)
        #expect(head[0] == "<85>1" && head[1] == "2026-12-07T14:51:13.404Z" && head[2] == "edge1")
        #expect(head[3] == "rampart" && head[4] == "-" && head[5] == "security.auth-failure")
        var data = Array(head[6])
        #expect(String(data.prefix(15)) == "[rampart@32473 ")
        data.removeFirst(15)
        var fields: [String: String] = [:]
        while let first = data.first, first != "]" {
            let key = String(data.prefix { $0 != "=" })
            data.removeFirst(key.count + 2)  // key="
            var value = ""
            while let character = data.first, character != "\"" {
                data.removeFirst()
                if character == "\\", let next = data.first {
                    data.removeFirst()
                    value += next == "n" ? "\n" : next == "r" ? "\r" : String(next)
                } else {
                    value.append(character)
                }
            }
            data.removeFirst()  // closing quote
            if data.first == " " { data.removeFirst() }
            fields[key] = value
        }
        data.removeFirst()  // ]
        #expect(fields["subject"] == Self.kept(Self.hostile) && fields["account"] == "bob=admin|x")
        #expect(fields["seq"] == "42" && fields["outcome"] == "failure" && fields["source"] == "192.0.2.7")
        #expect(String(data) == " bad\\r\\ndigest | = \\\\")
    }

    @Test func jsonIsReadBackByFoundation() throws {
        let line = SIEMFormat.json.line(Self.event, host: "edge-1")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["subject"] as? String == Self.hostile, "JSON escapes every control character instead")
        #expect(object["account"] as? String == "bob=admin|x" && object["sequence"] as? Int == 42)
        #expect(object["message"] as? String == "bad\r\ndigest | = \\" && object["severity"] as? Int == 4)
        #expect(object["time"] as? String == "2026-12-07T14:51:13.404Z" && object["host"] as? String == "edge-1")
        let separators = SIEMFormat.json.line(SIEMEvent(sequence: 1, time: 0, name: "x", severity: 0, actor: "a",
                                                        subject: "\u{2028}\u{2029}"), host: "h")
        #expect(separators.contains("\\u2028\\u2029"))
    }

    /// Audit records become events: severity from the action (higher for a failure), details as fields.
    @Test func auditRecordsBecomeEventsAndFiltersSelectThem() {
        let ban = SIEMEvent(sequence: 7, content: AuditContent(
            time: 5, actor: .edge, action: .securityEvent("ban"), subject: "192.0.2.66",
            details: ["reason": "scanner", "source": "192.0.2.66"]))
        #expect(ban.severity == 7 && ban.message == "scanner" && ban.source == "192.0.2.66" && ban.succeeded)
        let failed = SIEMEvent(sequence: 8, content: AuditContent(
            time: 5, actor: AuditActor(kind: .edge, name: "edge"), action: .certificatesReloaded, subject: "tls",
            outcome: .failure("the new key did not load")))
        #expect(failed.severity == 7 && !failed.succeeded && failed.message == "the new key did not load")
        #expect(ban.passes(types: [], minimumSeverity: 0) && ban.passes(types: ["security."], minimumSeverity: 7))
        #expect(!ban.passes(types: ["user.add", "ban."], minimumSeverity: 0) && !ban.passes(types: [], minimumSeverity: 8))
        #expect(ban.passes(types: ["security.ban"], minimumSeverity: 0) && !ban.passes(types: ["security.ba"], minimumSeverity: 0))
    }
}
