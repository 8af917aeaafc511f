/// Bounds on everything a SIP message may contain. Every limit is checked while parsing, before any
/// allocation proportional to the hostile quantity is made.
///
/// The defaults accept every real-world message seen from phones, PBXs and carriers (RFC 4475's torture
/// messages included) while keeping the worst case per message small: a single UDP datagram's worth of
/// bytes, a few hundred header lines.
public struct SIPParseLimits: Hashable, Sendable {
    /// Largest message, start line to end of body (default 65,535: the largest UDP payload; RFC 3261 §18.1.1).
    public var maxMessageSize: Int
    /// Largest body (default 32,768: SDP offers with many codecs and ICE candidates stay well below).
    public var maxBodySize: Int
    /// Most header lines (default 256; RFC 4475 messages use fewer than 40).
    public var maxHeaderCount: Int
    /// Longest single header line including folded continuations (default 8,192).
    public var maxLineLength: Int
    /// Longest header value after the colon (default 8,192).
    public var maxHeaderValueLength: Int
    /// Longest Request-URI (default 4,096; longer ones are answered 414).
    public var maxRequestURILength: Int
    /// Most Via values (default 70, Max-Forwards' usual start: a request cannot legitimately cross more hops, and
    /// RFC 4475 §3.1.1.7's valid torture message has 34).
    public var maxViaCount: Int

    /// Creates limits; every parameter defaults to the safe value documented on its property.
    public init(
        maxMessageSize: Int = 65_535, maxBodySize: Int = 32_768, maxHeaderCount: Int = 256,
        maxLineLength: Int = 8_192, maxHeaderValueLength: Int = 8_192, maxRequestURILength: Int = 4_096,
        maxViaCount: Int = 70
    ) {
        self.maxMessageSize = maxMessageSize
        self.maxBodySize = maxBodySize
        self.maxHeaderCount = maxHeaderCount
        self.maxLineLength = maxLineLength
        self.maxHeaderValueLength = maxHeaderValueLength
        self.maxRequestURILength = maxRequestURILength
        self.maxViaCount = maxViaCount
    }

    /// The defaults.
    public static let `default` = SIPParseLimits()
}
