/// Fingerprints of SIP scanning tools (sipvicious, friendly-scanner, sipcli, VaxSIPUserAgent...), loaded from a
/// data file the operator can update without a new release (`data/scanner-signatures.txt`).
///
/// One rule per line: `FIELD OPERATOR VALUE [# comment]`, fields and operators case-insensitive, values compared
/// case-insensitively. Fields: `user-agent`, `from-display`, `from-uri`, `from-tag`, `to-uri`, `contact`,
/// `call-id`, `via-branch`. Operators: `contains`, `equals`, `prefix`, `digits-after` (the value, then only
/// digits: sipvicious's `z9hG4bK-123456` branches), `hex-with-byte` (the field is hex that decodes to printable
/// text with the given byte exactly once: sipvicious's tags are hex of `text \x01 random`). A line starting with `weak`
/// is a weak fingerprint that some legitimate stacks might share: a request is a scanner's when it matches one
/// strong rule, or two weak ones.
public struct ScannerSignatures: Hashable, Sendable {
    /// The parts of a request the rules look at.
    public enum Field: String, Hashable, Sendable, CaseIterable {
        case userAgent = "user-agent", fromDisplay = "from-display", fromURI = "from-uri", fromTag = "from-tag"
        case toURI = "to-uri", contact, callID = "call-id", viaBranch = "via-branch"

        /// The field's index in ``allCases``.
        var slot: Int {
            switch self {
            case .userAgent: 0
            case .fromDisplay: 1
            case .fromURI: 2
            case .fromTag: 3
            case .toURI: 4
            case .contact: 5
            case .callID: 6
            case .viaBranch: 7
            }
        }
    }

    /// How a rule compares.
    public enum Operator: String, Hashable, Sendable {
        case contains, equals, prefix, digitsAfter = "digits-after", hexWithByte = "hex-with-byte"
    }

    /// One rule.
    public struct Rule: Hashable, Sendable, CustomStringConvertible {
        public let field: Field
        public let op: Operator
        /// Lowercased value (for `hex-with-byte`, the byte).
        public let value: String
        /// Whether the rule alone is not enough (see the file format).
        public let isWeak: Bool
        let byte: UInt8

        /// `user-agent contains friendly-scanner`.
        public var description: String { (isWeak ? "weak " : "") + "\(field.rawValue) \(op.rawValue) \(value)" }

        /// The value's bytes (lowercased when parsed).
        let valueBytes: [UInt8]

        init(field: Field, op: Operator, value: String, isWeak: Bool, byte: UInt8) {
            self.field = field
            self.op = op
            self.value = value
            self.isWeak = isWeak
            self.byte = byte
            valueBytes = Array(value.utf8)
        }

        /// Whether a field's value, ASCII-lowercased, matches.
        func matches(_ lowered: [UInt8]) -> Bool {
            let value = valueBytes
            switch op {
            case .contains:
                guard value.count <= lowered.count else { return false }
                if value.isEmpty { return true }
                for start in 0...(lowered.count - value.count)
                where lowered[start] == value[0] && lowered[start..<start + value.count].elementsEqual(value) {
                    return true
                }
                return false
            case .equals: return lowered == value
            case .prefix: return lowered.starts(with: value)
            case .digitsAfter:
                guard lowered.count > value.count, lowered.starts(with: value) else { return false }
                return lowered[value.count...].allSatisfy { (0x30...0x39).contains($0) }
            case .hexWithByte:
                guard lowered.count >= 4, lowered.count % 2 == 0, lowered.count <= 512 else { return false }
                var index = 0, markers = 0
                while index < lowered.count {
                    guard let high = Self.hexValue(lowered[index]), let low = Self.hexValue(lowered[index + 1]) else {
                        return false
                    }
                    let decoded = high << 4 | low
                    if decoded == byte { markers += 1 } else if !(0x20...0x7E).contains(decoded) { return false }
                    index += 2
                }
                return markers == 1
            }
        }

        /// ASCII-lowercased bytes of a field's value (at most 1,024: longer values are cut, as no signature needs more).
        static func lowered(_ text: Substring) -> [UInt8] {
            text.utf8.prefix(1_024).map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }
        }

        static func hexValue(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 0x30...0x39: byte - 0x30
            case 0x61...0x66: byte - 0x61 + 10
            case 0x41...0x46: byte - 0x41 + 10
            default: nil
            }
        }
    }

    /// The rules, in file order.
    public let rules: [Rule]

    /// Most rules a file may hold.
    public static let maxRules = 10_000

    /// No rules.
    public static let none = ScannerSignatures(rules: [])

    init(rules: [Rule]) { self.rules = rules }

    /// Parses a signature file.
    /// - Throws: ``SignatureFileError`` naming the line of an unknown field or operator, a missing value, a bad
    ///   byte, or too many rules.
    public init(parsing text: String) throws(SignatureFileError) {
        var rules: [Rule] = []
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = offset + 1
            var line = rawLine
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            var words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if words.isEmpty { continue }
            let isWeak = words[0].lowercased() == "weak"
            if isWeak { words.removeFirst() }
            guard words.count >= 3 else { throw SignatureFileError(line: lineNumber, "expected FIELD OPERATOR VALUE") }
            guard let field = Field(rawValue: words[0].lowercased()) else {
                throw SignatureFileError(line: lineNumber, "unknown field")
            }
            guard let op = Operator(rawValue: words[1].lowercased()) else {
                throw SignatureFileError(line: lineNumber, "unknown operator")
            }
            let value = words[2...].joined(separator: " ").lowercased()
            guard value.utf8.count <= 256 else { throw SignatureFileError(line: lineNumber, "value too long") }
            var byte: UInt8 = 0
            if op == .hexWithByte {
                guard value.utf8.count == 2, let parsed = UInt8(value, radix: 16) else {
                    throw SignatureFileError(line: lineNumber, "hex-with-byte takes one byte in hex")
                }
                byte = parsed
            }
            guard rules.count < Self.maxRules else { throw SignatureFileError(line: lineNumber, "too many rules") }
            rules.append(Rule(field: field, op: op, value: value, isWeak: isWeak, byte: byte))
        }
        self.rules = rules
    }

    /// What a request matched: one strong rule, or the first two weak ones; nil if not enough.
    /// `value(field)` gives the request's value of a field, nil when absent.
    public func match(_ value: (Field) -> Substring?) -> [Rule]? {
        // Each field is fetched and lowercased once, however many rules look at it.
        var fields = [[UInt8]?](repeating: nil, count: Field.allCases.count)
        var fetched = [Bool](repeating: false, count: Field.allCases.count)
        var weak: Rule?
        for rule in rules {
            let slot = rule.field.slot
            if !fetched[slot] {
                fetched[slot] = true
                fields[slot] = value(rule.field).map(Rule.lowered)
            }
            guard let text = fields[slot], rule.matches(text) else { continue }
            if !rule.isWeak { return [rule] }
            if let first = weak { return [first, rule] }
            weak = rule
        }
        return nil
    }
}

/// A signature file did not parse: the line and what was wrong with it (never the line's text).
public struct SignatureFileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The 1-based line.
    public let line: Int
    /// What was wrong.
    public let reason: String

    init(line: Int, _ reason: String) {
        self.line = line
        self.reason = reason
    }

    public var description: String { "line \(line): \(reason)" }
}

extension ScannerSignatures {
    /// The signature file `rampart serve` starts from (written to the data directory on first start).
    public static let builtInText = #"""
# Rampart scanner signatures: fingerprints of SIP scanning and cracking tools.
# FIELD OPERATOR VALUE   (see ScannerSignatures in Sources/SecurityPolicy; case-insensitive)
# Fields: user-agent from-display from-uri from-tag to-uri contact call-id via-branch
# Operators: contains equals prefix digits-after hex-with-byte
# A rule starting with "weak" is not enough alone: a request needs one strong rule or two weak ones.
# Attackers change User-Agents: these only add to the behaviour rules (sweeps, failure ratios), never replace them.

# SIPVicious (svmap, svwar, svcrack) and its defaults
user-agent contains friendly-scanner
user-agent contains sipvicious
from-display equals sipvicious
contact equals sip:123@1.1.1.1
weak from-tag hex-with-byte 01          # createTag(): hex of "data \x01 random"
weak via-branch digits-after z9hg4bk-    # branch "z9hG4bK-" followed by random digits

# Other scanners and toll-fraud tooling seen in honeypot logs
user-agent contains sipcli
user-agent contains vaxsipuseragent
user-agent contains sip-scan
user-agent contains sipscan
user-agent contains iwar
user-agent contains sundayddr
user-agent contains pplsip
user-agent contains siparmyknife
user-agent prefix smap
user-agent contains voipbuster
user-agent contains sipptk
"""#

    /// The built-in signatures.
    public static let builtIn = try! ScannerSignatures(parsing: builtInText)
}
