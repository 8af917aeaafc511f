/// Which E.164 destinations an account may dial: the toll-fraud (IRSF) destination rules of issue 4.
///
/// Numbers are compared after ``SIPMessage/E164Normalizer`` (`+` and digits). Checks run in this order, and the
/// first refusal wins:
/// 1. the number must be `+` and 1-15 digits (ITU-T E.164 §6.1), else ``DestinationDenial/Reason/invalidNumber``;
/// 2. the allow and deny prefixes: the longest matching prefix of either list decides (a tie goes to deny), so
///    `allow +49` with `deny +49900` refuses German premium rate, and `deny +1` with `allow +1800` admits
///    North American toll-free. A number no prefix matches is refused when the allow list is non-empty;
/// 3. the high-risk list (premium rate, satellite, IRSF destinations; `data/high-risk-prefixes.txt`): refused
///    unless the account is in ``highRiskAccounts``;
/// 4. international calls (a number outside ``homeCountryCode``): refused unless the account is in
///    ``internationalAccounts`` or ``internationalByDefault`` is set. The secure default is no international
///    calling: toll fraud on a compromised account is almost always international.
///
/// A check costs at most 15 hash lookups per list (one per digit), whatever the list sizes.
public struct DestinationRules: Hashable, Sendable {
    /// The home country code, digits only (`49`); any other number is international.
    ///
    /// Note that in a shared code such as NANP's `1`, calls to other member countries (Jamaica `+1876`) are not
    /// international by this rule: list them as high risk or deny them.
    public let homeCountryCode: String
    /// Accounts permitted international calls.
    public var internationalAccounts: Set<String>
    /// Every account may call internationally (default: false).
    public var internationalByDefault: Bool
    /// Accounts permitted to call high-risk destinations.
    public var highRiskAccounts: Set<String>

    private let allowTable: PrefixTable
    private let denyTable: PrefixTable
    private let highRiskTable: PrefixTable

    /// The most entries a prefix list may hold: a bound on memory (about 100 bytes an entry), far above the
    /// few thousand prefixes commercial IRSF lists carry.
    public static let maxPrefixEntries = 1_000_000
    /// The longest line a prefix list may have, in bytes.
    public static let maxLineLength = 256

    /// Creates the rules.
    /// - Parameters:
    ///   - homeCountryCode: 1-3 digits (ITU-T E.164 country codes are 1-3 digits).
    ///   - allowPrefixes: if non-empty, only numbers under one of these prefixes may be called.
    ///   - denyPrefixes: numbers under these prefixes are refused (unless a longer allow prefix matches).
    ///   - highRiskPrefixes: premium-rate and IRSF prefixes with a label each, usually from ``parsePrefixList(_:)``;
    ///     a later entry for the same prefix replaces an earlier one.
    ///   - internationalAccounts: accounts permitted international calls.
    ///   - internationalByDefault: every account may call internationally.
    ///   - highRiskAccounts: accounts permitted high-risk destinations.
    /// - Throws: ``FraudRuleError/Code/invalidPrefix`` for a prefix that is not `+` (optional) and 1-15 digits, or
    ///   a home country code that is not 1-3 digits; ``FraudRuleError/Code/tooLarge`` for a list longer than
    ///   ``maxPrefixEntries``.
    public init(homeCountryCode: String, allowPrefixes: [String] = [], denyPrefixes: [String] = [],
                highRiskPrefixes: [(prefix: String, label: String)] = [], internationalAccounts: Set<String> = [],
                internationalByDefault: Bool = false, highRiskAccounts: Set<String> = []) throws(FraudRuleError) {
        guard (1...3).contains(homeCountryCode.utf8.count), homeCountryCode.utf8.allSatisfy(\.isASCIIDigit),
              homeCountryCode.utf8.first != UInt8(ascii: "0") else {
            throw FraudRuleError(.invalidPrefix, "home country code must be 1-3 digits")
        }
        self.homeCountryCode = homeCountryCode
        self.allowTable = try PrefixTable(allowPrefixes.map { ($0, "") })
        self.denyTable = try PrefixTable(denyPrefixes.map { ($0, "") })
        self.highRiskTable = try PrefixTable(highRiskPrefixes)
        self.internationalAccounts = internationalAccounts
        self.internationalByDefault = internationalByDefault
        self.highRiskAccounts = highRiskAccounts
    }

    /// The allow prefixes, `+` and digits, sorted.
    public var allowPrefixes: [String] { allowTable.entries.map(\.prefix) }
    /// The deny prefixes, `+` and digits, sorted.
    public var denyPrefixes: [String] { denyTable.entries.map(\.prefix) }
    /// The high-risk prefixes with their labels, sorted by prefix.
    public var highRiskPrefixes: [(prefix: String, label: String)] { highRiskTable.entries }

    /// Whether an account may call a number.
    /// - Parameters:
    ///   - account: the calling account (as named in ``internationalAccounts`` and ``highRiskAccounts``).
    ///   - number: the dialled number, already normalised to `+` and digits by ``SIPMessage/E164Normalizer``.
    public func verdict(account: String, number: String) -> DestinationVerdict {
        let digits = number.utf8.dropFirst()
        guard number.utf8.first == UInt8(ascii: "+"), (1...PrefixTable.maxDigits).contains(digits.count),
              digits.allSatisfy(\.isASCIIDigit) else {
            return .denied(DestinationDenial(reason: .invalidNumber))
        }
        let allowed = allowTable.longestMatch(digits)
        let denied = denyTable.longestMatch(digits)
        if let denied, denied.length >= (allowed?.length ?? 0) {
            let prefix = Self.prefix(of: number, digits: denied.length)
            return .denied(DestinationDenial(reason: .denyListed(prefix: prefix)))
        }
        if allowed == nil, !allowTable.isEmpty {
            return .denied(DestinationDenial(reason: .notAllowListed))
        }
        if let risky = highRiskTable.longestMatch(digits), !highRiskAccounts.contains(account) {
            let prefix = Self.prefix(of: number, digits: risky.length)
            return .denied(DestinationDenial(reason: .highRisk(prefix: prefix, label: risky.label)))
        }
        let international = !digits.starts(with: homeCountryCode.utf8)
        if international, !internationalByDefault, !internationalAccounts.contains(account) {
            return .denied(DestinationDenial(reason: .international))
        }
        return .allowed(international: international)
    }

    /// The `+` and first `count` digits of a normalised number.
    private static func prefix(of number: String, digits count: Int) -> String {
        String(Substring(number.utf8.prefix(count + 1)))
    }

    /// Parses a prefix list such as `data/high-risk-prefixes.txt`.
    ///
    /// One entry a line: `+prefix[,label]` or `prefix[ label]`; `#` starts a comment (to the end of the line);
    /// blank lines are skipped; CRLF line ends are accepted. Prefixes are returned as `+` and digits.
    /// - Throws: ``FraudRuleError/Code/invalidPrefix`` for a prefix that is not `+` (optional) and 1-15 digits,
    ///   ``FraudRuleError/Code/tooLarge`` for a line longer than ``maxLineLength`` or more than
    ///   ``maxPrefixEntries`` entries; both name the 1-based line.
    public static func parsePrefixList(_ text: String) throws(FraudRuleError) -> [(prefix: String, label: String)] {
        var entries: [(prefix: String, label: String)] = []
        var lineNumber = 0
        for rawLine in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            guard rawLine.count <= maxLineLength else {
                throw FraudRuleError(.tooLarge, "line longer than \(maxLineLength) bytes", lineNumber: lineNumber)
            }
            var line = rawLine
            if let hash = line.firstIndex(of: UInt8(ascii: "#")) { line = line[..<hash] }
            line = line.trimmingSpaces()
            guard !line.isEmpty else { continue }
            let end = line.firstIndex { $0 == UInt8(ascii: ",") || $0.isSpace } ?? line.endIndex
            var label = line[end...].trimmingSpaces()
            if label.first == UInt8(ascii: ",") { label = label.dropFirst().trimmingSpaces() }
            guard let prefix = PrefixTable.normalize(line[..<end]) else {
                throw FraudRuleError(.invalidPrefix, "a prefix must be an optional + and 1-15 digits",
                                     lineNumber: lineNumber)
            }
            guard entries.count < maxPrefixEntries else {
                throw FraudRuleError(.tooLarge, "more than \(maxPrefixEntries) entries", lineNumber: lineNumber)
            }
            entries.append((prefix, String(Substring(label))))
        }
        return entries
    }
}

/// Whether a destination may be called.
public enum DestinationVerdict: Hashable, Sendable {
    /// The call may proceed; `international` says whether the number is outside the home country code (the edge
    /// passes it on to ``FraudDetector/callAttempt(subject:international:now:)``).
    case allowed(international: Bool)
    /// The call is refused.
    case denied(DestinationDenial)
}

/// Why a destination was refused; over SIP it is a 403 Forbidden (RFC 3261 §21.4.4).
public struct DestinationDenial: Hashable, Sendable, CustomStringConvertible {
    /// Which rule refused the number.
    public enum Reason: Hashable, Sendable {
        /// The number is not `+` and 1-15 digits.
        case invalidNumber
        /// The allow list is non-empty and no allow prefix matches.
        case notAllowListed
        /// The longest matching prefix is this deny prefix.
        case denyListed(prefix: String)
        /// The number is international and the account is not permitted international calls.
        case international
        /// The number is under this high-risk prefix and the account is not permitted high-risk destinations.
        case highRisk(prefix: String, label: String)
    }

    /// Which rule refused the number.
    public let reason: Reason

    /// Creates a denial.
    public init(reason: Reason) { self.reason = reason }

    /// The SIP status to answer: 403 Forbidden.
    public var sipStatus: Int { 403 }
    /// A short reason for logs and CDRs (the caller dialled the number, so naming its prefix leaks nothing).
    public var description: String {
        switch reason {
        case .invalidNumber: return "destination is not an E.164 number"
        case .notAllowListed: return "destination not allow-listed"
        case .denyListed(let prefix): return "destination deny-listed (\(prefix))"
        case .international: return "international calls not permitted"
        case .highRisk(let prefix, let label):
            return label.isEmpty ? "high-risk destination (\(prefix))" : "high-risk destination (\(prefix): \(label))"
        }
    }
}

/// A set of digit prefixes with a label each, matched longest first.
///
/// A prefix of k digits is keyed as the integer `1` followed by its digits (so `+0` and `+00` differ), which
/// fits a `UInt64` for up to 15 digits; a lookup walks the number's digits once, probing only the lengths some
/// prefix has, without allocating.
private struct PrefixTable: Hashable, Sendable {
    static let maxDigits = 15
    private var labels: [UInt64: String] = [:]
    /// Bit k set: some prefix has k digits.
    private var lengths: UInt16 = 0

    init(_ prefixes: [(prefix: String, label: String)]) throws(FraudRuleError) {
        guard prefixes.count <= DestinationRules.maxPrefixEntries else {
            throw FraudRuleError(.tooLarge, "more than \(DestinationRules.maxPrefixEntries) prefixes")
        }
        labels.reserveCapacity(prefixes.count)
        for (prefix, label) in prefixes {
            guard let normalized = Self.normalize(prefix.utf8[...]) else {
                throw FraudRuleError(.invalidPrefix, "a prefix must be an optional + and 1-15 digits")
            }
            let digits = normalized.utf8.dropFirst()
            labels[Self.key(digits)] = label
            lengths |= 1 << digits.count
        }
    }

    var isEmpty: Bool { labels.isEmpty }

    /// The prefixes and labels, sorted by prefix.
    var entries: [(prefix: String, label: String)] {
        labels.map { (key, label) in
            var digits = String(key)
            digits.removeFirst()
            return ("+" + digits, label)
        }.sorted { $0.prefix < $1.prefix }
    }

    /// The longest prefix of `digits` in the table: its length in digits and its label.
    func longestMatch(_ digits: Substring.UTF8View) -> (length: Int, label: String)? {
        guard lengths != 0 else { return nil }
        var key: UInt64 = 1
        var length = 0
        var best: (length: Int, label: String)?
        for digit in digits {
            key = key &* 10 &+ UInt64(digit &- UInt8(ascii: "0"))
            length += 1
            if lengths & (1 << length) != 0, let label = labels[key] { best = (length, label) }
            if lengths >> (length + 1) == 0 { break }
        }
        return best
    }

    /// `+` and the digits of an optional `+` and 1-15 digits, or nil.
    static func normalize(_ text: Substring.UTF8View) -> String? {
        let digits = text.first == UInt8(ascii: "+") ? text.dropFirst() : text
        guard (1...maxDigits).contains(digits.count), digits.allSatisfy(\.isASCIIDigit) else { return nil }
        return "+" + String(Substring(digits))
    }

    private static func key(_ digits: Substring.UTF8View) -> UInt64 {
        digits.reduce(1) { $0 * 10 + UInt64($1 - UInt8(ascii: "0")) }
    }
}

extension UInt8 {
    fileprivate var isASCIIDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }
    fileprivate var isSpace: Bool {
        self == UInt8(ascii: " ") || self == UInt8(ascii: "\t") || self == UInt8(ascii: "\r")
    }
}

extension Substring.UTF8View {
    fileprivate func trimmingSpaces() -> Substring.UTF8View {
        guard let first = firstIndex(where: { !$0.isSpace }), let last = lastIndex(where: { !$0.isSpace }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }
}

extension DestinationRules {
    /// The high-risk prefix list `rampart serve` starts from (written to the data directory on first start as
    /// `high-risk-prefixes.txt`, then the operator's to review and update).
    public static let builtInHighRiskText = #"""
# Rampart: high-risk destination prefixes (premium rate, satellite, IRSF)
#
# A STARTING POINT, NOT AN AUTHORITATIVE LIST. The operator must review it against their own traffic, their
# carrier's fraud advisories and a maintained IRSF feed before relying on it. Destinations here are refused by
# DestinationRules unless the calling account is listed in its highRiskAccounts. Ranges move: premium-rate
# number blocks and the destinations IRSF runs terminate on change over time.
#
# Chosen for being cited again and again in carrier fraud advisories and toll-fraud literature: global
# non-geographic and satellite codes (very high termination rates, little legitimate enterprise traffic),
# small remote destinations and countries repeatedly used as IRSF terminations, NANP area codes named in
# "one ring" scam warnings, and well-known national premium-rate ranges. Larger countries that often appear in
# IRSF lists (Latvia, Lithuania, Tunisia, Serbia, Bosnia and Herzegovina, ...) are listed only by their premium
# ranges, if at all: add them whole only if your traffic allows it.
#
# Format: +prefix,label  (one per line, longest prefix wins, '#' starts a comment)

# Global non-geographic codes (ITU-T E.164 shared country codes)
+870,Inmarsat satellite
+881,Global Mobile Satellite System
+8816,Iridium satellite
+8817,Iridium satellite
+8818,Globalstar satellite
+8819,Globalstar satellite
+882,International Networks (includes Thuraya satellite)
+883,International Networks
+979,International Premium Rate Service

# Small remote destinations frequently used for IRSF terminations
+239,Sao Tome and Principe
+246,Diego Garcia (British Indian Ocean Territory)
+247,Ascension Island
+290,Saint Helena and Tristan da Cunha
+674,Nauru
+675,Papua New Guinea
+677,Solomon Islands
+678,Vanuatu
+681,Wallis and Futuna
+682,Cook Islands
+683,Niue
+686,Kiribati
+688,Tuvalu
+690,Tokelau
+692,Marshall Islands

# Countries repeatedly cited as IRSF destinations
+53,Cuba
+224,Guinea
+232,Sierra Leone
+252,Somalia

# NANP area codes named in "one ring" callback scam warnings (domestic-rate dialling from +1, international cost)
+1268,Antigua and Barbuda (NANP)
+1284,British Virgin Islands (NANP)
+1473,Grenada (NANP)
+1649,Turks and Caicos Islands (NANP)
+1767,Dominica (NANP)
+1809,Dominican Republic (NANP)
+1829,Dominican Republic (NANP)
+1849,Dominican Republic (NANP)
+1876,Jamaica (NANP)

# National premium-rate ranges
+1900,NANP premium rate (900)
+3290,Belgium premium rate (090x)
+3389,France premium rate (089x)
+34803,Spain premium rate (803)
+34806,Spain premium rate (806)
+34807,Spain premium rate (807)
+37190,Latvia premium rate (90x)
+39899,Italy premium rate (899)
+41900,Switzerland premium rate (0900)
+41901,Switzerland premium rate (0901)
+41906,Switzerland premium rate (0906)
+43900,Austria premium rate (0900)
+43930,Austria premium rate (0930)
+449,United Kingdom premium rate (09)
+4470,United Kingdom personal numbering (070), often abused
+49137,Germany mass calling (0137)
+49900,Germany premium rate (0900)
+61190,Australia premium rate (190x)
"""#
}
