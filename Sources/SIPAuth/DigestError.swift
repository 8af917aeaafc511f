/// An error from Digest authentication parsing, building or verification (RFC 7616 §3,
/// RFC 3261 §22.4, RFC 8760 §2).
///
/// ``code`` says what went wrong and is what equality compares; ``reason`` is a
/// human-readable explanation meant for logs. A reason never contains a secret or a
/// credential value (no password, HA1, response, nonce or cnonce), only parameter names
/// and lengths. ``file`` and ``line`` locate where the error was raised.
public struct DigestError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of error this is (RFC 7616 §3). New codes may be added: switch with a
    /// `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Backing: Hashable, Sendable {
            case unsupportedScheme
            case malformedHeader
            case controlCharacter
            case limitExceeded
            case duplicateParameter
            case missingParameter
            case unexpectedParameter
            case invalidParameterValue
            case unsupportedAlgorithm
            case unsupportedQOP
            case invalidEncoding
            case algorithmMismatch
            case credentialsMismatch
        }

        private let backing: Backing

        private init(_ backing: Backing) {
            self.backing = backing
        }

        /// The header's auth-scheme is not `Digest` (RFC 3261 §22.4; RFC 4475 §3.3.7
        /// expects a fresh 401/407 challenge, not a 400, for an unknown scheme).
        public static let unsupportedScheme = Code(.unsupportedScheme)
        /// The header value does not follow the RFC 3261 §25.1 / RFC 7616 §3.3 grammar
        /// (for example an unterminated quoted-string or a missing `=`).
        public static let malformedHeader = Code(.malformedHeader)
        /// The header value holds a control character such as NUL, a bare CR or LF
        /// (RFC 3261 §25.1: none is allowed in a `qdtext` or `token`).
        public static let controlCharacter = Code(.controlCharacter)
        /// The header value exceeds a ``DigestParsingLimits`` bound (RFC 3261 §26.1.5:
        /// denial of service).
        public static let limitExceeded = Code(.limitExceeded)
        /// A parameter appears more than once (RFC 7616 §3.3, §3.4: each at most once).
        public static let duplicateParameter = Code(.duplicateParameter)
        /// A parameter the RFC requires is absent (RFC 7616 §3.3, §3.4).
        public static let missingParameter = Code(.missingParameter)
        /// A parameter is present where the RFC forbids it, such as `cnonce` without `qop`
        /// (RFC 2617 §3.2.2) or both `username` and `username*` (RFC 7616 §3.4).
        public static let unexpectedParameter = Code(.unexpectedParameter)
        /// A parameter value is not valid for that parameter (for example an `nc` that is
        /// not 8 hex digits, or a `response` of the wrong length for its algorithm;
        /// RFC 7616 §3.4, RFC 3261 §25.1).
        public static let invalidParameterValue = Code(.invalidParameterValue)
        /// The `algorithm` is not one of RFC 7616 §3.2 / RFC 8760 §2.
        public static let unsupportedAlgorithm = Code(.unsupportedAlgorithm)
        /// The `qop` is not `auth` or `auth-int` (RFC 7616 §3.4), or none of the offered
        /// ones is.
        public static let unsupportedQOP = Code(.unsupportedQOP)
        /// A `username*` value is not a valid RFC 8187 §3.2 ext-value.
        public static let invalidEncoding = Code(.invalidEncoding)
        /// The stored HA1 is for another algorithm than the credentials use (RFC 7616 §3.4).
        public static let algorithmMismatch = Code(.algorithmMismatch)
        /// The credentials name another realm or user than the stored HA1 (RFC 7616 §3.4).
        public static let credentialsMismatch = Code(.credentialsMismatch)

        /// The code's name, for logs (RFC 7616 §3).
        public var description: String {
            switch backing {
            case .unsupportedScheme: "unsupportedScheme"
            case .malformedHeader: "malformedHeader"
            case .controlCharacter: "controlCharacter"
            case .limitExceeded: "limitExceeded"
            case .duplicateParameter: "duplicateParameter"
            case .missingParameter: "missingParameter"
            case .unexpectedParameter: "unexpectedParameter"
            case .invalidParameterValue: "invalidParameterValue"
            case .unsupportedAlgorithm: "unsupportedAlgorithm"
            case .unsupportedQOP: "unsupportedQOP"
            case .invalidEncoding: "invalidEncoding"
            case .algorithmMismatch: "algorithmMismatch"
            case .credentialsMismatch: "credentialsMismatch"
            }
        }
    }

    /// What kind of error this is; the only thing equality compares (RFC 7616 §3).
    public let code: Code
    /// A log-safe explanation; it never contains secrets or credential values (RFC 7616 §5.2).
    public let reason: String
    /// The file that raised the error (`#fileID`), for diagnosing RFC 7616 §3 failures.
    public let file: String
    /// The line that raised the error, for diagnosing RFC 7616 §3 failures.
    public let line: UInt

    /// An error with `code` and a log-safe `reason` (RFC 7616 §3). Never put a secret or a
    /// credential value in `reason`.
    public init(code: Code, reason: String, file: String = #fileID, line: UInt = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    /// `code: reason (file:line)`; log-safe (RFC 7616 §5.2).
    public var description: String {
        "DigestError.\(code): \(reason) (\(file):\(line))"
    }

    /// Errors are equal when their codes are (RFC 7616 §3 error kinds).
    public static func == (lhs: DigestError, rhs: DigestError) -> Bool {
        lhs.code == rhs.code
    }

    /// Hashes the code only, consistent with `==` (RFC 7616 §3 error kinds).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
    }
}

/// A log-safe rendering of a name that came off the wire: printable ASCII only, truncated.
func loggable(_ name: some StringProtocol) -> String {
    var out = ""
    for scalar in name.unicodeScalars.prefix(32) {
        if scalar.value >= 0x21 && scalar.value <= 0x7E && scalar != "\"" && scalar != "\\" {
            out.unicodeScalars.append(scalar)
        } else {
            out += "?"
        }
    }
    if name.unicodeScalars.count > 32 { out += "…" }
    return out
}
