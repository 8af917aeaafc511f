/// Upper bounds the parser enforces before and while it builds a ``SessionDescription``.
///
/// Every limit bounds memory and CPU per input: the parser never allocates more than a small
/// constant factor of ``maxTotalBytes``, and no per-section list can grow past its limit, so a
/// hostile peer cannot make one SDP body expensive. The defaults are far above what real stacks
/// send (a WebRTC offer with several bundled sections and full ICE gathering is a few kilobytes and
/// a few hundred lines) and well below what would hurt. Exceeding a limit throws the
/// `tooMany...`/`inputTooLarge`/`lineTooLong` codes of ``SDPParseError/Code``.
public struct SDPParseLimits: Hashable, Sendable {
    /// Maximum size of the whole description in bytes. Default 65,536 (64 KiB): SIP over UDP
    /// cannot carry more than that in one datagram anyway.
    public var maxTotalBytes: Int
    /// Maximum number of lines. Default 2,048.
    public var maxLines: Int
    /// Maximum length of one line in bytes, excluding its line ending. Default 4,096: room for long
    /// video `a=fmtp` parameter sets and SHA-512 fingerprints, while keeping any one line cheap.
    public var maxLineLength: Int
    /// Maximum number of `m=` sections. Default 64.
    public var maxMediaSections: Int
    /// Maximum number of `a=` lines in the session section or in one media section. Default 256.
    public var maxAttributesPerSection: Int
    /// Maximum number of `a=candidate` lines in one media section. Default 64 (a host with many
    /// interfaces, IPv4 and IPv6, UDP and TCP, and relays gathers a few dozen).
    public var maxCandidatesPerSection: Int
    /// Maximum number of `a=crypto` lines in one media section. Default 16 (offers carry 1-6).
    public var maxCryptoAttributesPerSection: Int
    /// Maximum number of `inline:` key parameters in one `a=crypto` line. Default 16.
    public var maxKeyParamsPerCrypto: Int
    /// Maximum number of formats on one `m=` line. Default 128 (the RTP payload type space).
    public var maxFormatsPerMedia: Int
    /// Maximum count of each other repeated field: `e=`, `p=`, `b=` and `c=` lines per section,
    /// `t=` lines, `r=` lines per `t=`, offsets per `r=` and adjustments per `z=`. Default 32.
    public var maxRepeatedFields: Int

    /// Creates limits; every parameter defaults to the documented safe default.
    public init(
        maxTotalBytes: Int = 65_536,
        maxLines: Int = 2_048,
        maxLineLength: Int = 4_096,
        maxMediaSections: Int = 64,
        maxAttributesPerSection: Int = 256,
        maxCandidatesPerSection: Int = 64,
        maxCryptoAttributesPerSection: Int = 16,
        maxKeyParamsPerCrypto: Int = 16,
        maxFormatsPerMedia: Int = 128,
        maxRepeatedFields: Int = 32
    ) {
        self.maxTotalBytes = maxTotalBytes
        self.maxLines = maxLines
        self.maxLineLength = maxLineLength
        self.maxMediaSections = maxMediaSections
        self.maxAttributesPerSection = maxAttributesPerSection
        self.maxCandidatesPerSection = maxCandidatesPerSection
        self.maxCryptoAttributesPerSection = maxCryptoAttributesPerSection
        self.maxKeyParamsPerCrypto = maxKeyParamsPerCrypto
        self.maxFormatsPerMedia = maxFormatsPerMedia
        self.maxRepeatedFields = maxRepeatedFields
    }

    /// The documented safe defaults.
    public static let `default` = SDPParseLimits()
}
