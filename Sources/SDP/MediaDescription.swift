/// The `<media>` of an `m=` line (RFC 8866 §5.14). The registered values have constants; any
/// other token is kept as written.
public struct SDPMediaType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The token as written, for example `audio`.
    public let rawValue: String

    /// Wraps a token (validated when parsed or serialized, not here).
    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    /// `audio`.
    public static let audio = SDPMediaType(rawValue: "audio")
    /// `video`.
    public static let video = SDPMediaType(rawValue: "video")
    /// `text` (RFC 4103 real-time text).
    public static let text = SDPMediaType(rawValue: "text")
    /// `application` (for example WebRTC data channels, BFCP).
    public static let application = SDPMediaType(rawValue: "application")
    /// `message` (for example MSRP).
    public static let message = SDPMediaType(rawValue: "message")
    /// `image` (for example T.38 fax over `udptl`).
    public static let image = SDPMediaType(rawValue: "image")

    /// The token.
    public var description: String { rawValue }
}

/// The `<proto>` of an `m=` line (RFC 8866 §5.14): the transport and, for RTP, the profile.
///
/// Two values are equal when their ``rawValue`` spellings are equal, so `.other("RTP/AVP")`
/// equals `.rtpAVP`; parsing always produces the named case for the names below (matched exactly,
/// as registered).
public enum SDPMediaProtocol: Hashable, Sendable, CustomStringConvertible {
    /// `RTP/AVP`: plain RTP, audio/video profile (RFC 3551).
    case rtpAVP
    /// `RTP/AVPF`: plain RTP with RTCP feedback (RFC 4585).
    case rtpAVPF
    /// `RTP/SAVP`: SRTP (RFC 3711), keyed by SDES (RFC 4568) in practice.
    case rtpSAVP
    /// `RTP/SAVPF`: SRTP with RTCP feedback (RFC 5124).
    case rtpSAVPF
    /// `UDP/TLS/RTP/SAVP`: DTLS-SRTP (RFC 5764 §8).
    case udpTLSRTPSAVP
    /// `UDP/TLS/RTP/SAVPF`: DTLS-SRTP with RTCP feedback (RFC 5764 §8, RFC 5124).
    case udpTLSRTPSAVPF
    /// Any other protocol, as written (for example `udptl`, `UDP/DTLS/SCTP`, `TCP/MSRP`).
    case other(String)

    /// Maps a protocol string to its case.
    public init(rawValue: String) {
        switch rawValue {
        case "RTP/AVP": self = .rtpAVP
        case "RTP/AVPF": self = .rtpAVPF
        case "RTP/SAVP": self = .rtpSAVP
        case "RTP/SAVPF": self = .rtpSAVPF
        case "UDP/TLS/RTP/SAVP": self = .udpTLSRTPSAVP
        case "UDP/TLS/RTP/SAVPF": self = .udpTLSRTPSAVPF
        default: self = .other(rawValue)
        }
    }

    /// The protocol string as written on the `m=` line.
    public var rawValue: String {
        switch self {
        case .rtpAVP: return "RTP/AVP"
        case .rtpAVPF: return "RTP/AVPF"
        case .rtpSAVP: return "RTP/SAVP"
        case .rtpSAVPF: return "RTP/SAVPF"
        case .udpTLSRTPSAVP: return "UDP/TLS/RTP/SAVP"
        case .udpTLSRTPSAVPF: return "UDP/TLS/RTP/SAVPF"
        case .other(let raw): return raw
        }
    }

    /// Compares spellings.
    public static func == (lhs: SDPMediaProtocol, rhs: SDPMediaProtocol) -> Bool {
        lhs.rawValue == rhs.rawValue
    }

    /// Hashes the spelling, consistently with `==`.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(rawValue)
    }

    /// The protocol string.
    public var description: String { rawValue }

    /// The `/`-separated components, upper-cased, for classifying unregistered spellings.
    private var components: [String] {
        Syntax.split(rawValue[...], on: UInt8(ascii: "/")).map { Syntax.asciiUppercased($0) }
    }

    /// Whether media in this section is RTP: the named RTP cases, or any protocol with an `RTP`
    /// component (compared case-insensitively, so an odd spelling such as `rtp/avp` or
    /// `TCP/TLS/RTP/SAVPF` is still treated as RTP rather than slipping past a media policy).
    public var isRTP: Bool {
        switch self {
        case .rtpAVP, .rtpAVPF, .rtpSAVP, .rtpSAVPF, .udpTLSRTPSAVP, .udpTLSRTPSAVPF:
            return true
        case .other:
            return components.contains("RTP")
        }
    }

    /// Whether the RTP profile is a secure one (`SAVP` or `SAVPF`, RFC 3711 / RFC 5124):
    /// the last component decides, case-insensitively.
    public var isSecureRTPProfile: Bool {
        guard isRTP else { return false }
        let last = components.last
        return last == "SAVP" || last == "SAVPF"
    }

    /// Whether the RTP profile runs over (D)TLS, so DTLS-SRTP keys it (RFC 5764 §8): a `TLS` or
    /// `DTLS` component before `RTP`.
    public var isDTLSTransport: Bool {
        guard isRTP else { return false }
        let parts = components
        guard let rtp = parts.firstIndex(of: "RTP") else { return false }
        return parts[..<rtp].contains { $0 == "TLS" || $0 == "DTLS" }
    }
}

/// One media section: an `m=` line and the `i=`, `c=`, `b=`, `k=` and `a=` lines that follow it
/// (RFC 8866 §5.14).
///
/// Typed views of the attributes (``rtpMaps``, ``cryptos``, ``fingerprints``, ...) are computed
/// from ``attributes`` on each access. A description produced by the parser has already had every
/// recognised attribute validated, so those views contain every line; for a hand-built section they
/// skip values that do not parse.
public struct MediaDescription: Hashable, Sendable, SDPAttributeContainer {
    /// The media type (`audio`, `video`, `image`, ...).
    public var mediaType: SDPMediaType
    /// The transport port; 0 rejects or disables the stream (RFC 3264 §5.1, §6).
    public var port: UInt16
    /// The `/<number of ports>` suffix, if present.
    public var portCount: UInt16?
    /// The transport protocol and profile.
    public var proto: SDPMediaProtocol
    /// The formats: RTP payload type numbers for RTP protocols, otherwise protocol-specific tokens.
    public var formats: [String]
    /// The `i=` line.
    public var information: String?
    /// The `c=` lines (several are allowed in a media section, RFC 8866 §5.7).
    public var connections: [ConnectionData]
    /// The `b=` lines.
    public var bandwidths: [SDPBandwidth]
    /// The obsolete `k=` line.
    public var key: SDPEncryptionKey?
    /// The `a=` lines, in order, verbatim.
    public var attributes: [SDPAttribute]

    /// Creates a media section.
    public init(
        mediaType: SDPMediaType,
        port: UInt16,
        portCount: UInt16? = nil,
        proto: SDPMediaProtocol,
        formats: [String],
        information: String? = nil,
        connections: [ConnectionData] = [],
        bandwidths: [SDPBandwidth] = [],
        key: SDPEncryptionKey? = nil,
        attributes: [SDPAttribute] = []
    ) {
        self.mediaType = mediaType
        self.port = port
        self.portCount = portCount
        self.proto = proto
        self.formats = formats
        self.information = information
        self.connections = connections
        self.bandwidths = bandwidths
        self.key = key
        self.attributes = attributes
    }

    /// The RTP payload types of ``formats`` (empty for non-RTP protocols).
    public var payloadTypes: [UInt8] {
        guard proto.isRTP else { return [] }
        return formats.compactMap { Syntax.decimal($0, maximum: 127).map { UInt8($0) } }
    }

    /// Parses the value of an `m=` line into a section without attributes.
    ///
    /// - Throws: ``SDPParseError/Code/invalidMedia`` (fewer than four fields, a port or port
    ///   count that is not a decimal in range, a malformed protocol, or an RTP format that is not a
    ///   payload type 0...127), ``SDPParseError/Code/tooManyValues`` beyond
    ///   ``SDPParseLimits/maxFormatsPerMedia``.
    init(parsingMediaLine value: Substring, limits: SDPParseLimits) throws(SDPParseError) {
        guard let fields = Syntax.fields(value, maxFields: limits.maxFormatsPerMedia + 3) else {
            if Syntax.fields(value) != nil {
                throw SDPParseError(.tooManyValues, reason: "m= line has more formats than the limit")
            }
            throw SDPParseError(.invalidMedia, reason: "m= fields must be separated by single spaces")
        }
        guard fields.count >= 4 else {
            throw SDPParseError(.invalidMedia, reason: "m= needs <media> <port> <proto> and at least one format")
        }
        guard Syntax.isToken(fields[0]) else {
            throw SDPParseError(.invalidMedia, reason: "m= media type must be a token")
        }
        let portParts = Syntax.split(fields[1], on: UInt8(ascii: "/"))
        guard portParts.count <= 2, let port = Syntax.decimal(portParts[0], maximum: UInt64(UInt16.max)) else {
            throw SDPParseError(.invalidMedia, reason: "m= port must be a decimal number 0...65535")
        }
        var portCount: UInt16?
        if portParts.count == 2 {
            guard let count = Syntax.decimal(portParts[1], maximum: UInt64(UInt16.max)), count > 0,
                  port + count - 1 <= UInt64(UInt16.max)
            else {
                throw SDPParseError(.invalidMedia, reason: "m= number of ports must be positive and stay within 65535")
            }
            portCount = UInt16(count)
        }
        let protoParts = Syntax.split(fields[2], on: UInt8(ascii: "/"))
        guard protoParts.allSatisfy({ Syntax.isToken($0) }) else {
            throw SDPParseError(.invalidMedia, reason: "m= proto must be tokens separated by /")
        }
        let proto = SDPMediaProtocol(rawValue: String(fields[2]))
        var formats: [String] = []
        formats.reserveCapacity(fields.count - 3)
        for format in fields[3...] {
            guard Syntax.isToken(format) else {
                throw SDPParseError(.invalidMedia, reason: "m= formats must be tokens")
            }
            if proto.isRTP {
                guard Syntax.decimal(format, maximum: 127) != nil,
                      format.utf8.count == 1 || format.utf8.first != UInt8(ascii: "0")
                else {
                    throw SDPParseError(.invalidMedia, reason: "RTP formats must be payload types 0...127 without leading zeros")
                }
            }
            formats.append(String(format))
        }
        self.init(mediaType: SDPMediaType(rawValue: String(fields[0])), port: UInt16(port), portCount: portCount,
                  proto: proto, formats: formats)
    }

    /// The value of the `m=` line (without `m=`).
    var mediaLineValue: String {
        var text = mediaType.rawValue
        text += " \(port)"
        if let portCount { text += "/\(portCount)" }
        text += " \(proto.rawValue)"
        for format in formats {
            text += " "
            text += format
        }
        return text
    }
}
