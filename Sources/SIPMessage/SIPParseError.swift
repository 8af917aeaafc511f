/// A SIP message, URI or header value that could not be accepted.
///
/// Every rejection says what was wrong (``code`` and ``reason``), where (``offset`` into the message and
/// the ``headerName`` when a header was at fault) and which SIP status an edge would answer (``sipStatus``).
/// The reason never quotes raw payload: hostile bytes and secrets stay out of logs.
/// Equality compares the ``code`` only, so tests and callers match on the kind of failure.
public struct SIPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; an extensible set of static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Backing: String, Hashable, Sendable {
            case messageTooLarge, bodyTooLarge, tooManyHeaders, lineTooLong, headerValueTooLong
            case requestURITooLong, tooManyVias, truncated, malformedStartLine, unsupportedVersion
            case malformedHeader, missingHeader, duplicateHeader, invalidContentLength, contentLengthMismatch
            case malformedURI, invalidHost, unsupportedURIScheme, malformedVia, malformedAddress, malformedCSeq
            case methodMismatch, malformedNumber, valueOutOfRange, illegalCharacter, bareLineBreak
            case malformedParameter, emptyMessage, malformedContact
        }
        fileprivate let backing: Backing
        fileprivate init(_ backing: Backing) { self.backing = backing }

        /// The whole message exceeds ``SIPParseLimits/maxMessageSize``.
        public static let messageTooLarge = Code(.messageTooLarge)
        /// The body exceeds ``SIPParseLimits/maxBodySize``.
        public static let bodyTooLarge = Code(.bodyTooLarge)
        /// More header lines than ``SIPParseLimits/maxHeaderCount``.
        public static let tooManyHeaders = Code(.tooManyHeaders)
        /// A header line (with its folded continuation lines) exceeds ``SIPParseLimits/maxLineLength``.
        public static let lineTooLong = Code(.lineTooLong)
        /// A header value exceeds ``SIPParseLimits/maxHeaderValueLength``.
        public static let headerValueTooLong = Code(.headerValueTooLong)
        /// The Request-URI exceeds ``SIPParseLimits/maxRequestURILength``.
        public static let requestURITooLong = Code(.requestURITooLong)
        /// More Via values than ``SIPParseLimits/maxViaCount``.
        public static let tooManyVias = Code(.tooManyVias)
        /// The message ends before its header section or its declared body does.
        public static let truncated = Code(.truncated)
        /// The request line or status line does not follow RFC 3261 §7.1 / §7.2.
        public static let malformedStartLine = Code(.malformedStartLine)
        /// A SIP version other than SIP/2.0.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// A header line without a valid name and colon, or a value that does not follow its grammar.
        public static let malformedHeader = Code(.malformedHeader)
        /// A header that RFC 3261 §8.1.1 requires is absent.
        public static let missingHeader = Code(.missingHeader)
        /// A header that may appear once appears several times (or with several values).
        public static let duplicateHeader = Code(.duplicateHeader)
        /// Content-Length is not a non-negative decimal number.
        public static let invalidContentLength = Code(.invalidContentLength)
        /// Content-Length promises more bytes than the datagram carries.
        public static let contentLengthMismatch = Code(.contentLengthMismatch)
        /// A URI that does not follow RFC 3261 §25.1 or RFC 3966.
        public static let malformedURI = Code(.malformedURI)
        /// A host that is not a strict hostname, IPv4 dotted quad or IPv6 reference.
        public static let invalidHost = Code(.invalidHost)
        /// A Request-URI whose scheme the edge does not serve (parses, but answered 416).
        public static let unsupportedURIScheme = Code(.unsupportedURIScheme)
        /// A Via value that does not follow RFC 3261 §20.42.
        public static let malformedVia = Code(.malformedVia)
        /// A name-addr / addr-spec (From, To, Contact, Route...) that does not follow RFC 3261 §20.
        public static let malformedAddress = Code(.malformedAddress)
        /// A Contact header that does not follow RFC 3261 §20.10.
        public static let malformedContact = Code(.malformedContact)
        /// A CSeq that is not `number method` with number < 2^31.
        public static let malformedCSeq = Code(.malformedCSeq)
        /// The CSeq method differs from the request method.
        public static let methodMismatch = Code(.methodMismatch)
        /// A numeric field that is not a decimal number.
        public static let malformedNumber = Code(.malformedNumber)
        /// A numeric field outside its legal range.
        public static let valueOutOfRange = Code(.valueOutOfRange)
        /// A byte that may not appear where it was found (NUL, control characters).
        public static let illegalCharacter = Code(.illegalCharacter)
        /// A CR or LF that is not part of a CRLF line ending or a folded line (CRLF injection).
        public static let bareLineBreak = Code(.bareLineBreak)
        /// A header or URI parameter that does not follow the generic-param grammar.
        public static let malformedParameter = Code(.malformedParameter)
        /// Nothing but whitespace or line breaks.
        public static let emptyMessage = Code(.emptyMessage)

        public var description: String { backing.rawValue }
    }

    /// What went wrong.
    public let code: Code
    /// A human-readable explanation; never contains payload bytes or secrets.
    public let reason: String
    /// Byte offset into the message where the problem was found, when known.
    public let offset: Int?
    /// The header at fault, in its canonical form, when a header was at fault.
    public let headerName: String?
    /// The SIP status an edge answers to a request failing this way (RFC 3261 §21). A response that fails
    /// to parse is dropped, never answered.
    public let sipStatus: Int
    /// Where in Rampart the error was raised.
    public let fileID: String
    /// Where in Rampart the error was raised.
    public let line: Int

    /// Creates an error; ``sipStatus`` defaults to the status RFC 3261 gives for the code.
    public init(
        _ code: Code, _ reason: String, offset: Int? = nil, headerName: String? = nil, sipStatus: Int? = nil,
        fileID: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.reason = reason
        self.offset = offset
        self.headerName = headerName
        self.sipStatus = sipStatus ?? Self.defaultStatus(for: code)
        self.fileID = fileID
        self.line = line
    }

    /// Returns a copy that names the header at fault and the offset, keeping everything else.
    func located(header: String?, offset: Int?) -> SIPParseError {
        SIPParseError(
            code, reason, offset: self.offset ?? offset, headerName: headerName ?? header, sipStatus: sipStatus,
            fileID: fileID, line: line)
    }

    static func defaultStatus(for code: Code) -> Int {
        switch code.backing {
        case .messageTooLarge, .tooManyHeaders, .lineTooLong, .headerValueTooLong: 513  // RFC 3261 §21.5.14
        case .bodyTooLarge: 413  // RFC 3261 §21.4.11
        case .requestURITooLong: 414  // RFC 3261 §21.4.12
        case .tooManyVias: 483  // RFC 3261 §21.4.20
        case .unsupportedVersion: 505  // RFC 3261 §21.5.6
        case .unsupportedURIScheme: 416  // RFC 3261 §21.4.14
        default: 400
        }
    }

    public var description: String {
        var text = "\(reason)"
        if let headerName { text += " (header \(headerName))" }
        if let offset { text += " at offset \(offset)" }
        return text
    }

    public static func == (lhs: SIPParseError, rhs: SIPParseError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
