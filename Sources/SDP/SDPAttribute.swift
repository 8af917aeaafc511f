/// One `a=` line (RFC 8866 §5.13): `a=<name>` (a property/flag) or `a=<name>:<value>`.
///
/// The name and value are kept verbatim so unknown attributes survive a round trip; typed views
/// (``MediaDescription/cryptos``, ``SDPAttributeContainer/fingerprints``, ...) are computed from
/// them. Names are compared case-sensitively, as registered.
public struct SDPAttribute: Hashable, Sendable, CustomStringConvertible {
    /// The attribute name (an RFC 8866 §9 token), for example `rtpmap`.
    public var name: String
    /// Everything after the first `:`, or `nil` for a flag attribute such as `sendrecv`.
    public var value: String?

    /// Creates an attribute. Nothing is validated here; the parser validates what it reads and
    /// ``SessionDescription/serialized(limits:)`` refuses to emit what would not parse back.
    public init(name: String, value: String? = nil) {
        self.name = name
        self.value = value
    }

    /// The text after `a=`. For `crypto` this contains master keys: do not log it.
    public func serialized() -> String {
        guard let value else { return name }
        return "\(name):\(value)"
    }

    /// The text after `a=`, with the value of key-carrying attributes (`crypto`, `key-mgmt`)
    /// redacted so it is safe for logs.
    public var description: String {
        guard let value else { return name }
        if name == SDPAttributeName.crypto || name == "key-mgmt" {
            return "\(name):<redacted>"
        }
        return "\(name):\(value)"
    }

    init(parsing text: Substring) throws(SDPParseError) {
        let name: Substring
        var value: Substring?
        if let (head, rest) = Syntax.splitOnce(text, at: UInt8(ascii: ":")) {
            name = head
            value = rest
        } else {
            name = text
        }
        guard Syntax.isToken(name) else {
            throw SDPParseError(.invalidAttribute, reason: "attribute name must be a token")
        }
        if let value, value.isEmpty {
            throw SDPParseError(.invalidAttribute, reason: "attribute value after ':' must not be empty")
        }
        self.init(name: String(name), value: value.map(String.init))
    }
}

/// Attribute names this module interprets.
enum SDPAttributeName {
    static let rtpmap = "rtpmap"
    static let fmtp = "fmtp"
    static let sendrecv = "sendrecv"
    static let sendonly = "sendonly"
    static let recvonly = "recvonly"
    static let inactive = "inactive"
    static let rtcp = "rtcp"
    static let rtcpMux = "rtcp-mux"
    static let crypto = "crypto"
    static let fingerprint = "fingerprint"
    static let setup = "setup"
    static let zrtpHash = "zrtp-hash"
    static let iceUfrag = "ice-ufrag"
    static let icePwd = "ice-pwd"
    static let iceLite = "ice-lite"
    static let iceOptions = "ice-options"
    static let candidate = "candidate"
    static let ptime = "ptime"
    static let maxptime = "maxptime"
    static let bundleOnly = "bundle-only"
}

/// Something with an ordered list of `a=` lines: the session level (``SessionDescription``) or a
/// media section (``MediaDescription``). The accessors here read attributes valid at either level;
/// where both levels may carry one, ``SessionDescription`` offers helpers that apply the RFC's
/// precedence (media level first).
public protocol SDPAttributeContainer {
    /// The `a=` lines in order.
    var attributes: [SDPAttribute] { get }
}

extension SDPAttributeContainer {
    /// Every attribute called `name`, in order.
    public func attributes(named name: String) -> [SDPAttribute] {
        attributes.filter { $0.name == name }
    }

    /// The first attribute called `name`.
    public func firstAttribute(named name: String) -> SDPAttribute? {
        attributes.first { $0.name == name }
    }

    /// Whether an attribute called `name` is present.
    public func hasAttribute(named name: String) -> Bool {
        attributes.contains { $0.name == name }
    }

    /// The explicit direction attribute at this level, if any (RFC 8866 §6.7). Use
    /// ``SessionDescription/effectiveDirection(of:)`` for the value that applies to a stream.
    public var direction: SDPDirection? {
        for attribute in attributes where attribute.value == nil {
            if let direction = SDPDirection(rawValue: attribute.name) { return direction }
        }
        return nil
    }

    /// The `a=fingerprint` values at this level (RFC 8122 §5).
    public var fingerprints: [SDPFingerprint] {
        attributes.compactMap { attribute in
            guard attribute.name == SDPAttributeName.fingerprint, let value = attribute.value else { return nil }
            return try? SDPFingerprint(parsing: value)
        }
    }

    /// The `a=setup` role at this level (RFC 4145 §4).
    public var setup: SDPSetupRole? {
        guard let value = firstAttribute(named: SDPAttributeName.setup)?.value else { return nil }
        return try? SDPSetupRole(parsing: value)
    }

    /// The `a=zrtp-hash` values at this level (RFC 6189 §8.1).
    public var zrtpHashes: [SDPZRTPHash] {
        attributes.compactMap { attribute in
            guard attribute.name == SDPAttributeName.zrtpHash, let value = attribute.value else { return nil }
            return try? SDPZRTPHash(parsing: value)
        }
    }

    /// The first `a=zrtp-hash` at this level.
    public var zrtpHash: SDPZRTPHash? { zrtpHashes.first }

    /// The `a=ice-ufrag` value at this level (RFC 8839 §5.4).
    public var iceUfrag: String? {
        guard let value = firstAttribute(named: SDPAttributeName.iceUfrag)?.value,
              ICECredentials.isValidUfrag(value) else { return nil }
        return value
    }

    /// The `a=ice-pwd` value at this level (RFC 8839 §5.4). It is a credential: do not log it.
    public var icePwd: String? {
        guard let value = firstAttribute(named: SDPAttributeName.icePwd)?.value,
              ICECredentials.isValidPassword(value) else { return nil }
        return value
    }

    /// Whether `a=ice-lite` is present (RFC 8839 §5.3).
    public var iceLite: Bool {
        attributes.contains { $0.name == SDPAttributeName.iceLite && $0.value == nil }
    }

    /// The `a=ice-options` tokens (RFC 8839 §5.6), for example `trickle`.
    public var iceOptions: [String] {
        attributes(named: SDPAttributeName.iceOptions).flatMap { attribute -> [String] in
            guard let value = attribute.value, let fields = Syntax.fields(value) else { return [] }
            return fields.map(String.init)
        }
    }
}

extension SDPAttribute {
    /// `a=rtpmap:<value>`.
    public static func rtpMap(_ map: SDPRTPMap) -> SDPAttribute {
        SDPAttribute(name: SDPAttributeName.rtpmap, value: map.description)
    }

    /// `a=fmtp:<value>`.
    public static func formatParameters(_ parameters: SDPFormatParameters) -> SDPAttribute {
        SDPAttribute(name: SDPAttributeName.fmtp, value: parameters.description)
    }

    /// `a=sendrecv`, `a=sendonly`, `a=recvonly` or `a=inactive`.
    public static func direction(_ direction: SDPDirection) -> SDPAttribute {
        SDPAttribute(name: direction.rawValue)
    }

    /// `a=rtcp:<value>`.
    public static func rtcp(_ rtcp: SDPRTCPAttribute) -> SDPAttribute {
        SDPAttribute(name: SDPAttributeName.rtcp, value: rtcp.description)
    }

    /// `a=rtcp-mux`.
    public static let rtcpMux = SDPAttribute(name: SDPAttributeName.rtcpMux)

    /// `a=crypto:<value>` (carries a master key).
    public static func crypto(_ crypto: SDESCryptoAttribute) -> SDPAttribute {
        SDPAttribute(name: SDPAttributeName.crypto, value: crypto.serialized())
    }

    /// `a=fingerprint:<value>`.
    public static func fingerprint(_ fingerprint: SDPFingerprint) -> SDPAttribute {
        SDPAttribute(name: SDPAttributeName.fingerprint, value: fingerprint.description)
    }

    /// `a=setup:<role>`.
    public static func setup(_ role: SDPSetupRole) -> SDPAttribute {
        SDPAttribute(name: SDPAttributeName.setup, value: role.rawValue)
    }

    /// `a=zrtp-hash:<value>`.
    public static func zrtpHash(_ hash: SDPZRTPHash) -> SDPAttribute {
        SDPAttribute(name: SDPAttributeName.zrtpHash, value: hash.description)
    }

    /// `a=ice-ufrag:<ufrag>`.
    public static func iceUfrag(_ ufrag: String) -> SDPAttribute {
        SDPAttribute(name: SDPAttributeName.iceUfrag, value: ufrag)
    }

    /// `a=ice-pwd:<password>`.
    public static func icePwd(_ password: String) -> SDPAttribute {
        SDPAttribute(name: SDPAttributeName.icePwd, value: password)
    }

    /// `a=candidate:<value>`.
    public static func candidate(_ candidate: ICECandidate) -> SDPAttribute {
        SDPAttribute(name: SDPAttributeName.candidate, value: candidate.description)
    }

    /// `a=ptime:<milliseconds>`.
    public static func ptime(_ milliseconds: Int) -> SDPAttribute {
        SDPAttribute(name: SDPAttributeName.ptime, value: String(milliseconds))
    }

    /// `a=maxptime:<milliseconds>`.
    public static func maxptime(_ milliseconds: Int) -> SDPAttribute {
        SDPAttribute(name: SDPAttributeName.maxptime, value: String(milliseconds))
    }
}
