/// Why an address rule (a network list or an IP-to-country database) was refused when it was loaded.
///
/// Errors name the 1-based line or list entry and what was wrong with it; a database error never carries the text
/// of the row, so a hostile or corrupt file cannot inject into logs. Equality compares the ``code`` only.
public struct AddressRuleError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Backing: String, Hashable, Sendable {
            case invalidNetwork, invalidRow, overlappingRanges, tooLarge
        }
        fileprivate let backing: Backing
        /// A list entry is not an address or CIDR block (RFC 4632 §3.1, RFC 4291 §2.3).
        public static let invalidNetwork = Code(backing: .invalidNetwork)
        /// A database row does not parse: bad address, bad country code, start above end, unterminated quote or an
        /// over-long line.
        public static let invalidRow = Code(backing: .invalidRow)
        /// Two database ranges share addresses, so a lookup would have two answers.
        public static let overlappingRanges = Code(backing: .overlappingRanges)
        /// More entries or rows than the configured limit.
        public static let tooLarge = Code(backing: .tooLarge)
        public var description: String { backing.rawValue }
    }

    /// What went wrong.
    public let code: Code
    /// A human-readable explanation.
    public let reason: String
    /// The 1-based line of the database, or entry of the list, that was refused; nil when no one line is to blame.
    public let line: Int?
    /// The source file (`#fileID`) that raised the error.
    public let fileID: String
    /// The source line (`#line`) that raised the error.
    public let sourceLine: Int

    /// Creates an error; public so callers can build expected values (equality looks at ``code`` only).
    public init(_ code: Code, _ reason: String, line: Int? = nil, fileID: String = #fileID, sourceLine: Int = #line) {
        self.code = code
        self.reason = reason
        self.line = line
        self.fileID = fileID
        self.sourceLine = sourceLine
    }

    /// `<code>: <reason> (line n)`.
    public var description: String { "\(code): \(reason)" + (line.map { " (line \($0))" } ?? "") }
    /// Compares the ``code`` only.
    public static func == (lhs: AddressRuleError, rhs: AddressRuleError) -> Bool { lhs.code == rhs.code }
    /// Hashes the ``code`` only, consistently with `==`.
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
