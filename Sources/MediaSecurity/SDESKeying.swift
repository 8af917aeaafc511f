import SDP

/// SDES glue (RFC 4568): an `a=crypto` attribute's suite and key parameter into SRTP and SRTCP contexts.
extension SRTPProfile {
    /// The profile of an SDES crypto suite; nil for suites this library does not implement.
    public init?(_ suite: SRTPCryptoSuite) { self.init(name: suite.name) }
}

/// The keys of one `a=crypto` line, checked against its suite: what one side uses to protect what it sends.
public struct SDESKeying {
    /// The most packets a replay window may span when a peer hints one with `WSH`.
    public static let maximumWindowSizeHint = 4_096

    public let profile: SRTPProfile
    /// The master keys, with their MKIs and lifetimes when the line gives them.
    public let keys: [SRTPMasterKey]
    /// From `KDR=n` (2^n); 0 when absent.
    public let keyDerivationRate: UInt64
    /// From `WSH=n`, at least 64; 128 when absent.
    public let replayWindow: Int

    /// The keys of `attribute`.
    /// - Throws: ``MediaSecurityError/Code/invalidKey`` for a suite this library does not implement, a key of the
    ///   wrong length, several keys without distinct MKIs, or session parameters other than `KDR` and `WSH`:
    ///   `UNENCRYPTED_SRTP`, `UNENCRYPTED_SRTCP` and `UNAUTHENTICATED_SRTP` weaken the stream and are refused,
    ///   the FEC parameters are not implemented, and an unknown parameter makes the line unusable
    ///   (RFC 4568 §6.3).
    public init(_ attribute: SDESCryptoAttribute) throws(MediaSecurityError) {
        guard let profile = SRTPProfile(attribute.suite) else {
            throw MediaSecurityError(.invalidKey, "suite \(attribute.suite.name) is not implemented")
        }
        var keys: [SRTPMasterKey] = []
        for param in attribute.keyParams {
            guard let key = param.masterKey(for: attribute.suite), let salt = param.masterSalt(for: attribute.suite),
                key.count == profile.keyLength, salt.count == profile.saltLength
            else { throw MediaSecurityError(.invalidKey, "the key does not fit \(profile.name)") }
            let lifetime: UInt64? = switch param.lifetime {
            case .powerOfTwo(let exponent)?: exponent >= 64 ? nil : 1 << UInt64(exponent)
            case .packets(let count)?: count
            case nil: nil
            }
            keys.append(SRTPMasterKey(key: key, salt: salt, mki: param.mki?.bytes ?? [], lifetime: lifetime))
        }
        var rate: UInt64 = 0, window = 128
        for parameter in attribute.sessionParams {
            let (name, value) = Self.split(parameter)
            switch name {
            case "KDR":
                // RFC 4568 §6.3.1: 2^n packets, n up to 24 (0 read as "derive once", the default).
                guard let exponent = value.flatMap({ UInt64($0) }), exponent <= 24 else {
                    throw MediaSecurityError(.invalidKey, "KDR takes an exponent from 0 to 24")
                }
                rate = exponent == 0 ? 0 : 1 << exponent
            case "WSH":
                guard let hint = value.flatMap({ Int($0) }), hint >= 64 else {
                    throw MediaSecurityError(.invalidKey, "WSH takes a window of at least 64 packets")
                }
                window = min(hint, Self.maximumWindowSizeHint)
            default:
                throw MediaSecurityError(.invalidKey, "SDES session parameter \(name) is not accepted")
            }
        }
        self.profile = profile
        self.keys = keys
        keyDerivationRate = rate
        replayWindow = window
        try policy().validate()
    }

    /// Fresh keys for `profile` from a CSPRNG (OpenSSL's, or the system's), with an MKI of `mkiLength` octets (0: none), and the
    /// `a=crypto` line that offers them. The line carries the key: send it only over TLS, never log it.
    /// - Throws: ``MediaSecurityError/Code/backendFailure`` if the random generator fails.
    public static func generate(profile: SRTPProfile, tag: UInt32 = 1, mkiLength: Int = 0)
        throws(MediaSecurityError) -> (keying: SDESKeying, attribute: SDESCryptoAttribute)
    {
        var keyAndSalt = [UInt8](repeating: 0, count: profile.keyLength + profile.saltLength)
        defer { cleanse(&keyAndSalt) }
        try fillRandom(&keyAndSalt)
        let mki = mkiLength > 0 ? SDESMKI(value: 1, length: UInt8(min(mkiLength, 128))) : nil
        let attribute = SDESCryptoAttribute(tag: tag, suite: SRTPCryptoSuite(name: profile.name),
                                            keyParams: [SDESKeyParam(keyAndSalt: keyAndSalt, mki: mki)])
        return (try SDESKeying(attribute), attribute)
    }

    /// The policy these keys give, for an ``SRTPSession`` or the stream types.
    public func policy(backend: SRTPCryptoBackend = .preferred) -> SRTPPolicy {
        SRTPPolicy(profile: profile, keys: keys, keyDerivationRate: keyDerivationRate, replayWindow: replayWindow,
                   backend: backend)
    }

    /// An SRTP sender for the stream these keys protect.
    public func srtpSender() throws(MediaSecurityError) -> SRTPSender { try SRTPSender(policy: policy()) }

    /// An SRTP receiver.
    public func srtpReceiver() throws(MediaSecurityError) -> SRTPReceiver { try SRTPReceiver(policy: policy()) }

    /// An SRTCP sender.
    public func srtcpSender() throws(MediaSecurityError) -> SRTCPSender { try SRTCPSender(policy: policy()) }

    /// An SRTCP receiver.
    public func srtcpReceiver() throws(MediaSecurityError) -> SRTCPReceiver { try SRTCPReceiver(policy: policy()) }

    private static func split(_ parameter: String) -> (name: String, value: Substring?) {
        guard let equals = parameter.firstIndex(of: "=") else { return (parameter.uppercased(), nil) }
        return (parameter[..<equals].uppercased(), parameter[parameter.index(after: equals)...])
    }
}
