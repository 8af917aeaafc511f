/// E.164 normalisation of dialled numbers and telephone-number user parts (ITU-T E.164, RFC 3966 §5.1.4).
///
/// Destination rules and toll-fraud checks compare numbers, so every spelling of one number must become
/// the same `+<digits>` string: visual separators dropped, the international prefix replaced by `+`, a
/// national number prefixed with the configured country code.
public struct E164Normalizer: Hashable, Sendable {
    /// The country code for national numbers, digits only (`1`, `44`, `49`).
    public var countryCode: String
    /// International call prefixes that stand for `+` (`00`, `011`).
    public var internationalPrefixes: [String]
    /// The national trunk prefix dropped before adding the country code (`0` in most of Europe, `1` in NANP).
    public var trunkPrefix: String?

    /// Creates a normaliser. Defaults: no country code (national numbers cannot be normalised), `00` and `011`.
    public init(countryCode: String = "", internationalPrefixes: [String] = ["00", "011"], trunkPrefix: String? = nil) {
        self.countryCode = countryCode
        self.internationalPrefixes = internationalPrefixes
        self.trunkPrefix = trunkPrefix
    }

    /// Longest E.164 number: 15 digits (ITU-T E.164 §6.1).
    public static let maxDigits = 15

    /// Returns `+` and 8-15 digits, or nil if the text is not a plausible telephone number.
    public func normalize(_ text: String) -> String? {
        var digits = ""
        var global = false
        for (offset, scalar) in text.unicodeScalars.enumerated() {
            switch scalar {
            case "+" where offset == 0 && !global: global = true
            case "0"..."9": digits.unicodeScalars.append(scalar)
            case "-", ".", "(", ")", " ": continue
            default: return nil
            }
            if digits.count > E164Normalizer.maxDigits + 4 { return nil }
        }
        if !global {
            if let prefix = internationalPrefixes.sorted(by: { $0.count > $1.count }).first(where: { digits.hasPrefix($0) }) {
                digits.removeFirst(prefix.count)
            } else {
                guard !countryCode.isEmpty else { return nil }
                if let trunkPrefix, digits.hasPrefix(trunkPrefix) { digits.removeFirst(trunkPrefix.count) }
                digits = countryCode + digits
            }
        }
        guard (8...E164Normalizer.maxDigits).contains(digits.count), digits.first != "0" else { return nil }
        return "+" + digits
    }

    /// Normalises the number in a URI: a global tel URI, or a SIP URI whose user part is a telephone number
    /// (`;user=phone`, or digits only). The user part's parameters (`;npdi`, `;rn=`) are ignored.
    public func normalize(_ uri: SIPAnyURI) -> String? {
        switch uri {
        case .tel(let tel):
            return tel.isGlobal ? normalize(tel.digits) : nil
        case .sip(let sip):
            guard let user = sip.decodedUser else { return nil }
            let number = user.split(separator: ";", maxSplits: 1).first.map(String.init) ?? user
            return normalize(number)
        case .other:
            return nil
        }
    }
}
