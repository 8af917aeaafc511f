/// A parsed SDP session description (RFC 8866 §5): the session-level fields followed by zero
/// or more media sections.
///
/// Parse with `init(parsing:limits:)`; produce wire text with
/// ``serialized(limits:)``. Parsing is strict: lines must follow the RFC 8866 §5 order, every
/// field must match its grammar, recognised attributes (see ``MediaDescription``) must be valid,
/// and every size is bounded by ``SDPParseLimits``. The only leniencies are those deployed stacks
/// need: LF-only line endings, a missing line ending after the last line, and an empty `s=`
/// (RFC 3264 §10.1 prints one).
public struct SessionDescription: Hashable, Sendable, CustomStringConvertible, SDPAttributeContainer {
    /// The protocol version (`v=`); always 0 (RFC 8866 §5.1).
    public var version: Int
    /// The `o=` line.
    public var origin: SDPOrigin
    /// The `s=` line (RFC 8866 §5.3); `-` or a space is conventional when there is no name.
    public var sessionName: String
    /// The `i=` line.
    public var information: String?
    /// The `u=` line.
    public var uri: String?
    /// The `e=` lines.
    public var emails: [String]
    /// The `p=` lines.
    public var phones: [String]
    /// The session-level `c=` line; media sections without their own `c=` use it (RFC 8866 §5.7).
    public var connection: ConnectionData?
    /// The session-level `b=` lines.
    public var bandwidths: [SDPBandwidth]
    /// The time descriptions (`t=`, `r=`, `z=`); at least one.
    public var timings: [SDPTiming]
    /// The obsolete session-level `k=` line.
    public var key: SDPEncryptionKey?
    /// The session-level `a=` lines, in order, verbatim.
    public var attributes: [SDPAttribute]
    /// The media sections, in order.
    public var media: [MediaDescription]

    /// Creates a description; the defaults give `v=0`, `s=-` and `t=0 0`.
    public init(
        version: Int = 0,
        origin: SDPOrigin,
        sessionName: String = "-",
        information: String? = nil,
        uri: String? = nil,
        emails: [String] = [],
        phones: [String] = [],
        connection: ConnectionData? = nil,
        bandwidths: [SDPBandwidth] = [],
        timings: [SDPTiming] = [SDPTiming()],
        key: SDPEncryptionKey? = nil,
        attributes: [SDPAttribute] = [],
        media: [MediaDescription] = []
    ) {
        self.version = version
        self.origin = origin
        self.sessionName = sessionName
        self.information = information
        self.uri = uri
        self.emails = emails
        self.phones = phones
        self.connection = connection
        self.bandwidths = bandwidths
        self.timings = timings
        self.key = key
        self.attributes = attributes
        self.media = media
    }

    /// Parses SDP text.
    ///
    /// - Throws: ``SDPParseError`` with a code naming the first problem and the 1-based line it
    ///   is on; see ``SDPParseError/Code`` for the list (limits, characters, line grammar and
    ///   order, each field, each recognised attribute).
    public init(parsing text: String, limits: SDPParseLimits = .default) throws(SDPParseError) {
        try self.init(parsing: text.utf8, limits: limits)
    }

    /// Parses SDP bytes (UTF-8).
    ///
    /// The size limit is checked before anything is copied or scanned.
    ///
    /// - Throws: ``SDPParseError``; see `init(parsing:limits:)`.
    public init<Bytes: Collection>(parsing bytes: Bytes, limits: SDPParseLimits = .default) throws(SDPParseError)
    where Bytes.Element == UInt8 {
        guard bytes.count <= limits.maxTotalBytes else {
            throw SDPParseError(.inputTooLarge, reason: "SDP is larger than the limit of \(limits.maxTotalBytes) bytes")
        }
        let contiguous = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(SDPParseError) in try SDPParser.parse(buffer, limits: limits) }
        }
        let result: Result<SessionDescription, SDPParseError>
        if let contiguous {
            result = contiguous
        } else {
            let copy = Array(bytes)
            result = copy.withUnsafeBufferPointer { buffer in
                Result { () throws(SDPParseError) in try SDPParser.parse(buffer, limits: limits) }
            }
        }
        self = try result.get()
    }

    /// The description as SDP text with CRLF line endings, in RFC 8866 §5 order, after checking
    /// that the text parses back (under `limits`) to a value equal to `self`.
    ///
    /// The check makes it impossible to emit a line break, a control character or a malformed
    /// field smuggled in through a hand-built value (SDP injection), and guarantees
    /// `SessionDescription(parsing: x.serialized()) == x`. A description that came from the parser
    /// always passes, and for canonical input (CRLF endings on every line, numbers without leading
    /// zeros) the text is byte-identical to the input. The re-parse applies `limits`; a
    /// description parsed from LF-only text close to ``SDPParseLimits/maxTotalBytes`` grows by one
    /// byte per line, so pass roomier limits for those.
    ///
    /// - Throws: the ``SDPParseError`` the re-parse raises (for example
    ///   ``SDPParseError/Code/invalidCharacter`` or ``SDPParseError/Code/invalidCrypto``), or
    ///   ``SDPParseError/Code/serializationMismatch`` when the text parses to a different value.
    public func serialized(limits: SDPParseLimits = .default) throws(SDPParseError) -> String {
        let text = render(redactingKeys: false)
        let reparsed = try SessionDescription(parsing: text, limits: limits)
        guard reparsed == self else {
            throw SDPParseError(.serializationMismatch, reason: "the rendered SDP does not parse back to the same description")
        }
        return text
    }

    /// ``serialized(limits:)`` as UTF-8 bytes.
    ///
    /// - Throws: as ``serialized(limits:)``.
    public func serializedBytes(limits: SDPParseLimits = .default) throws(SDPParseError) -> [UInt8] {
        Array(try serialized(limits: limits).utf8)
    }

    /// The SDP text (CRLF lines, RFC 8866 §5 order) with `a=crypto`/`key-mgmt` values and `k=`
    /// values redacted, for logs. Use ``serialized(limits:)`` for the wire.
    public var description: String {
        render(redactingKeys: true)
    }

    // MARK: - Session/media precedence helpers

    /// The direction that applies to `media`: its own attribute, else the session-level one, else
    /// `sendrecv` (RFC 8866 §6.7).
    public func effectiveDirection(of media: MediaDescription) -> SDPDirection {
        media.direction ?? direction ?? .sendrecv
    }

    /// The connection data that applies to `media`: its own `c=` lines, else the session's
    /// (RFC 8866 §5.7).
    public func effectiveConnections(of media: MediaDescription) -> [ConnectionData] {
        if !media.connections.isEmpty { return media.connections }
        return connection.map { [$0] } ?? []
    }

    /// The fingerprints that apply to `media`: its own, else the session-level ones (RFC 8122 §5).
    public func effectiveFingerprints(of media: MediaDescription) -> [SDPFingerprint] {
        let own = media.fingerprints
        return own.isEmpty ? fingerprints : own
    }

    /// The setup role that applies to `media`: its own, else the session-level one (RFC 4145 §4).
    public func effectiveSetup(of media: MediaDescription) -> SDPSetupRole? {
        media.setup ?? setup
    }

    /// The zrtp-hash values that apply to `media`: its own, else the session-level ones (RFC 6189 §8.1).
    public func effectiveZRTPHashes(of media: MediaDescription) -> [SDPZRTPHash] {
        let own = media.zrtpHashes
        return own.isEmpty ? zrtpHashes : own
    }

    /// The ICE ufrag that applies to `media`: its own, else the session-level one (RFC 8839 §5.4).
    public func effectiveICEUfrag(of media: MediaDescription) -> String? {
        media.iceUfrag ?? iceUfrag
    }

    /// The ICE password that applies to `media`: its own, else the session-level one (RFC 8839 §5.4).
    public func effectiveICEPwd(of media: MediaDescription) -> String? {
        media.icePwd ?? icePwd
    }
}
