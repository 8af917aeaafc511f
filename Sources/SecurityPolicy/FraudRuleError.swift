/// Why a toll-fraud rule (a destination prefix list or a fraud threshold) was refused.
///
/// Thrown while configuration is loaded, never while calls are checked: a call's outcome is a value
/// (``DestinationVerdict``, ``FraudDecision``). Equality compares the code only (as swift-certificates does).
public struct FraudRuleError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Backing: String, Hashable, Sendable { case invalidPrefix, tooLarge, invalidThreshold }
        fileprivate let backing: Backing
        /// A prefix that is not `+` and 1-15 digits, or a home country code that is not 1-3 digits.
        public static let invalidPrefix = Code(backing: .invalidPrefix)
        /// A prefix list with too many entries, or a line that is too long.
        public static let tooLarge = Code(backing: .tooLarge)
        /// A fraud threshold out of range (a negative limit, a smoothing factor outside (0, 1]).
        public static let invalidThreshold = Code(backing: .invalidThreshold)
        /// A short form for logs.
        public var description: String { backing.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// What was wrong, for the operator; it quotes no more than the offending prefix.
    public let reason: String
    /// The 1-based line of the prefix list, for a parse error.
    public let lineNumber: Int?
    /// The source file that threw.
    public let fileID: String
    /// The source line that threw.
    public let line: Int

    /// Creates an error.
    public init(_ code: Code, _ reason: String, lineNumber: Int? = nil, fileID: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.lineNumber = lineNumber
        self.fileID = fileID
        self.line = line
    }

    /// A short form for logs.
    public var description: String { lineNumber.map { "\(code): line \($0): \(reason)" } ?? "\(code): \(reason)" }
    /// Errors are equal when their codes are.
    public static func == (lhs: FraudRuleError, rhs: FraudRuleError) -> Bool { lhs.code == rhs.code }
    /// Hashes the code only, as equality compares it.
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
