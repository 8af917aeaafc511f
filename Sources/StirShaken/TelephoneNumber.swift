import SIPMessage

/// Telephone numbers as STIR/SHAKEN compares them (RFC 8224 §8.3, ATIS-1000074): the digits of the E.164 form,
/// country code included, without `+` or visual separators.
public enum TelephoneNumber {
    /// The longest number E.164 allows.
    public static let maxDigits = 15

    /// `text` as a telephone number (`+1 (215) 555-0121` → `12155550121`), or nil when it is not one: anything but
    /// digits once the leading `+` and the separators `-`, `.`, `(`, `)` and spaces are gone, or more than 15 digits.
    public static func normalize(_ text: some StringProtocol) -> String? {
        // Byte by byte: every accepted character is ASCII, so anything else (a multi-byte one included) refuses.
        var digits: [UInt8] = []
        digits.reserveCapacity(maxDigits)
        var first = true
        for byte in text.utf8 {
            defer { first = false }
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                guard digits.count < maxDigits else { return nil }
                digits.append(byte)
            case UInt8(ascii: "+") where first: continue
            case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: " "): continue
            default: return nil
            }
        }
        guard !digits.isEmpty else { return nil }
        return String(decoding: digits, as: UTF8.self)
    }

    /// The telephone number a SIP or tel URI names: a tel URI's number, or the user part of a sip/sips URI that is
    /// a number (with or without `user=phone`). Nil for `sip:alice@example.com`.
    public static func fromURI(_ uri: some StringProtocol) -> String? {
        var text = Substring(uri)
        if let open = text.firstIndex(of: "<"), let close = text[open...].firstIndex(of: ">") {
            text = text[text.index(after: open)..<close]
        }
        let lowered = text.lowercased()
        if lowered.hasPrefix("tel:") { return fromUserPart(text.dropFirst(4)) }
        guard lowered.hasPrefix("sip:") || lowered.hasPrefix("sips:") else { return nil }
        let rest = text.drop { $0 != ":" }.dropFirst()
        guard let at = rest.firstIndex(of: "@") else { return nil }
        return fromUserPart(rest[..<at])
    }

    /// The telephone number a parsed URI names (as ``fromURI(_:)-(StringProtocol)`` reads its text): the request's
    /// own headers, without writing them out and reading them again.
    public static func fromURI(_ uri: SIPAnyURI) -> String? {
        switch uri {
        // A user part with a password (`123:secret@`) is no number, as its text is not.
        case .sip(let sip): sip.password == nil ? sip.user.flatMap { fromUserPart(Substring($0)) } : nil
        case .tel(let tel): fromUserPart(Substring(tel.number))
        case .other: nil
        }
    }

    /// A URI's user part (or a tel URI's number) up to its parameters, as a number.
    private static func fromUserPart(_ part: Substring) -> String? {
        part.prefix { $0 != ";" }.decodingDialSeparators.flatMap(normalize)
    }
}

extension Substring {
    /// `%2B` (+) and `%2D` (-) decoded: the only escapes a dialled number's user part has reason to carry; nil for
    /// any other escape.
    fileprivate var decodingDialSeparators: String? {
        var output = ""
        var rest = self[...]
        while let percent = rest.firstIndex(of: "%") {
            output += rest[..<percent]
            let code = rest[percent...].dropFirst().prefix(2).uppercased()
            switch code {
            case "2B": output += "+"
            case "2D": output += "-"
            default: return nil
            }
            rest = rest[percent...].dropFirst(3)
        }
        return output + rest
    }
}
