/// An error thrown when SDP text, or one of its typed attributes, is malformed or exceeds a limit.
///
/// The error never echoes the offending payload: ``reason`` describes the problem in general
/// terms (field names, limits), because SDP can carry key material (`a=crypto`, `k=`) that must
/// not end up in logs. Two errors are equal when their ``code`` is equal; the reason, line number
/// and source location are diagnostics only.
public struct SDPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of problem, as an extensible set of static values (new codes may be added in
    /// later versions, so `switch` over them with a `default` case).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Backing: String, Hashable, Sendable {
            case inputTooLarge
            case tooManyLines
            case lineTooLong
            case tooManyMediaSections
            case tooManyAttributes
            case tooManyCandidates
            case tooManyCryptoAttributes
            case tooManyValues
            case invalidCharacter
            case invalidUTF8
            case malformedLine
            case unknownLineType
            case unexpectedLine
            case missingRequiredLine
            case unsupportedVersion
            case invalidOrigin
            case invalidText
            case invalidConnection
            case missingConnection
            case invalidBandwidth
            case invalidTiming
            case invalidRepeat
            case invalidZoneAdjustment
            case invalidKey
            case invalidMedia
            case invalidAttribute
            case duplicateAttribute
            case misplacedAttribute
            case invalidRTPMap
            case invalidFormatParameters
            case invalidRTCP
            case invalidPacketTime
            case invalidCrypto
            case invalidBase64
            case invalidKeyLength
            case invalidLifetime
            case invalidMKI
            case invalidFingerprint
            case invalidSetup
            case invalidZRTPHash
            case invalidCandidate
            case invalidICECredentials
            case serializationMismatch
        }

        private let backing: Backing

        private init(_ backing: Backing) {
            self.backing = backing
        }

        /// The code's name, for logs.
        public var description: String { backing.rawValue }

        /// The input is larger than ``SDPParseLimits/maxTotalBytes``.
        public static let inputTooLarge = Code(.inputTooLarge)
        /// The input has more lines than ``SDPParseLimits/maxLines``.
        public static let tooManyLines = Code(.tooManyLines)
        /// A line is longer than ``SDPParseLimits/maxLineLength``.
        public static let lineTooLong = Code(.lineTooLong)
        /// There are more `m=` sections than ``SDPParseLimits/maxMediaSections``.
        public static let tooManyMediaSections = Code(.tooManyMediaSections)
        /// A section has more `a=` lines than ``SDPParseLimits/maxAttributesPerSection``.
        public static let tooManyAttributes = Code(.tooManyAttributes)
        /// A media section has more `a=candidate` lines than ``SDPParseLimits/maxCandidatesPerSection``.
        public static let tooManyCandidates = Code(.tooManyCandidates)
        /// A media section has more `a=crypto` lines than ``SDPParseLimits/maxCryptoAttributesPerSection``.
        public static let tooManyCryptoAttributes = Code(.tooManyCryptoAttributes)
        /// A repeated field or list (formats, `e=`, `p=`, `b=`, `c=`, `t=`, `r=`, `z=` entries, key
        /// parameters) exceeds its limit in ``SDPParseLimits``.
        public static let tooManyValues = Code(.tooManyValues)
        /// The input contains a NUL byte, a control character (including TAB and a bare CR) or DEL.
        public static let invalidCharacter = Code(.invalidCharacter)
        /// A line is not valid UTF-8.
        public static let invalidUTF8 = Code(.invalidUTF8)
        /// A line is not of the form `<type>=<value>` with a one-letter lowercase type (RFC 8866 §5),
        /// or is empty.
        public static let malformedLine = Code(.malformedLine)
        /// A line's type letter is not one RFC 8866 defines (RFC 8866 §5 lets a parser reject these).
        public static let unknownLineType = Code(.unknownLineType)
        /// A line appears out of the order RFC 8866 §5 requires, or a single-instance line repeats.
        public static let unexpectedLine = Code(.unexpectedLine)
        /// A mandatory line (`v=`, `o=`, `s=`, `t=`) is missing.
        public static let missingRequiredLine = Code(.missingRequiredLine)
        /// `v=` is not `0` (RFC 8866 §5.1).
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// The `o=` line is malformed (RFC 8866 §5.2).
        public static let invalidOrigin = Code(.invalidOrigin)
        /// An `s=`, `i=`, `u=`, `e=` or `p=` value is malformed (for example empty where text is required).
        public static let invalidText = Code(.invalidText)
        /// A `c=` line (or a connection address inside an attribute) is malformed (RFC 8866 §5.7).
        public static let invalidConnection = Code(.invalidConnection)
        /// Neither the session nor every media section has a `c=` line (RFC 8866 §5.7).
        public static let missingConnection = Code(.missingConnection)
        /// A `b=` line is malformed (RFC 8866 §5.8).
        public static let invalidBandwidth = Code(.invalidBandwidth)
        /// A `t=` line is malformed (RFC 8866 §5.9).
        public static let invalidTiming = Code(.invalidTiming)
        /// An `r=` line is malformed (RFC 8866 §5.10).
        public static let invalidRepeat = Code(.invalidRepeat)
        /// A `z=` line is malformed (RFC 8866 §5.11).
        public static let invalidZoneAdjustment = Code(.invalidZoneAdjustment)
        /// A `k=` line is malformed (RFC 8866 §5.12).
        public static let invalidKey = Code(.invalidKey)
        /// An `m=` line is malformed or has an out-of-range port or format (RFC 8866 §5.14).
        public static let invalidMedia = Code(.invalidMedia)
        /// An `a=` line is malformed, or a flag attribute carries a value (RFC 8866 §5.13).
        public static let invalidAttribute = Code(.invalidAttribute)
        /// A single-instance attribute (direction, `setup`, `ptime`, ICE credentials, ...) repeats,
        /// or an `rtpmap`/`fmtp`/`crypto` repeats for the same payload type or tag.
        public static let duplicateAttribute = Code(.duplicateAttribute)
        /// A media-level-only attribute (`rtpmap`, `fmtp`, `crypto`, `candidate`, `rtcp`, `ptime`,
        /// `maxptime`) appears at session level.
        public static let misplacedAttribute = Code(.misplacedAttribute)
        /// An `a=rtpmap` value is malformed (RFC 8866 §6.6).
        public static let invalidRTPMap = Code(.invalidRTPMap)
        /// An `a=fmtp` value is malformed (RFC 8866 §6.15), including a bad telephone-event list.
        public static let invalidFormatParameters = Code(.invalidFormatParameters)
        /// An `a=rtcp` value is malformed (RFC 3605 §2.1).
        public static let invalidRTCP = Code(.invalidRTCP)
        /// An `a=ptime` or `a=maxptime` value is malformed (RFC 8866 §6.4, §6.5).
        public static let invalidPacketTime = Code(.invalidPacketTime)
        /// An `a=crypto` value is malformed (RFC 4568 §9.1).
        public static let invalidCrypto = Code(.invalidCrypto)
        /// An `inline:` key is not valid base64 (RFC 4568 §6.1).
        public static let invalidBase64 = Code(.invalidBase64)
        /// An `inline:` key does not decode to the master key + salt length its suite requires.
        public static let invalidKeyLength = Code(.invalidKeyLength)
        /// An SDES key lifetime is malformed, zero, or above the suite's maximum (RFC 4568 §6.1).
        public static let invalidLifetime = Code(.invalidLifetime)
        /// An SDES MKI is malformed, its length is outside 1...128, its value does not fit its
        /// length, or several keys disagree on MKI use (RFC 4568 §6.1).
        public static let invalidMKI = Code(.invalidMKI)
        /// An `a=fingerprint` value is malformed or has the wrong length for its hash (RFC 8122 §5).
        public static let invalidFingerprint = Code(.invalidFingerprint)
        /// An `a=setup` value is not a known role (RFC 4145 §4).
        public static let invalidSetup = Code(.invalidSetup)
        /// An `a=zrtp-hash` value is malformed (RFC 6189 §8.1).
        public static let invalidZRTPHash = Code(.invalidZRTPHash)
        /// An `a=candidate` value is malformed (RFC 8839 §5.1).
        public static let invalidCandidate = Code(.invalidCandidate)
        /// An `a=ice-ufrag` or `a=ice-pwd` value is malformed (RFC 8839 §5.4).
        public static let invalidICECredentials = Code(.invalidICECredentials)
        /// A description could be rendered but the text does not parse back to an equal value
        /// (see ``SessionDescription/serialized(limits:)``).
        public static let serializationMismatch = Code(.serializationMismatch)
    }

    /// What went wrong.
    public let code: Code
    /// A human-readable explanation. It never contains bytes from the input.
    public let reason: String
    /// The 1-based SDP line the problem was found on, when it is tied to one line.
    public let lineNumber: Int?
    /// The source file (`#fileID`) that raised the error.
    public let sourceFile: String
    /// The source line (`#line`) that raised the error.
    public let sourceLine: UInt

    /// Creates an error. Library code throws these; the initializer is public so callers can build
    /// expected values for comparisons (equality looks only at ``code``).
    public init(
        _ code: Code,
        reason: String,
        lineNumber: Int? = nil,
        sourceFile: String = #fileID,
        sourceLine: UInt = #line
    ) {
        self.code = code
        self.reason = reason
        self.lineNumber = lineNumber
        self.sourceFile = sourceFile
        self.sourceLine = sourceLine
    }

    /// Compares the ``code`` only.
    public static func == (lhs: SDPParseError, rhs: SDPParseError) -> Bool {
        lhs.code == rhs.code
    }

    /// Hashes the ``code`` only, consistently with `==`.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
    }

    /// `SDPParseError.<code>: <reason> (SDP line n)`.
    public var description: String {
        var text = "SDPParseError.\(code): \(reason)"
        if let lineNumber {
            text += " (SDP line \(lineNumber))"
        }
        return text
    }

    /// The same error attributed to `lineNumber` unless it already has one.
    func located(at lineNumber: Int) -> SDPParseError {
        guard self.lineNumber == nil else { return self }
        return SDPParseError(
            code, reason: reason, lineNumber: lineNumber, sourceFile: sourceFile, sourceLine: sourceLine)
    }
}
