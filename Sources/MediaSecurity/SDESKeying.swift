import SDP

/// SDES glue (RFC 4568): an `a=crypto` attribute's suite and key parameter into SRTP and SRTCP contexts.
extension SRTPProfile {
    /// The profile of an SDES crypto suite; nil for suites this library does not implement.
    public init?(_ suite: SRTPCryptoSuite) { self.init(name: suite.name) }
}

/// The keys of one `a=crypto` line, checked against its suite.
public struct SDESKeying {
    public let profile: SRTPProfile
    /// Master key and salt; wiped by ``wipe()``.
    var key: [UInt8]
    var salt: [UInt8]

    /// The profile and master key and salt of `attribute`'s first key parameter.
    /// - Throws: ``MediaSecurityError/Code/invalidKey`` for a suite this library does not implement, a key of the
    ///   wrong length, an MKI (not supported yet: one key per stream), or session parameters.
    public init(_ attribute: SDESCryptoAttribute) throws(MediaSecurityError) {
        guard let profile = SRTPProfile(attribute.suite) else {
            throw MediaSecurityError(.invalidKey, "suite \(attribute.suite.name) is not implemented")
        }
        guard attribute.keyParams.count == 1, let param = attribute.keyParams.first else {
            throw MediaSecurityError(.invalidKey, "one key parameter per crypto line is supported")
        }
        guard param.mki == nil else { throw MediaSecurityError(.invalidKey, "MKI is not supported yet") }
        // UNENCRYPTED_SRTP and UNAUTHENTICATED_SRTP weaken the stream; KDR and the others are not implemented.
        guard attribute.sessionParams.isEmpty else {
            throw MediaSecurityError(.invalidKey, "SDES session parameters are not accepted")
        }
        guard let key = param.masterKey(for: attribute.suite), let salt = param.masterSalt(for: attribute.suite),
            key.count == profile.keyLength, salt.count == profile.saltLength
        else { throw MediaSecurityError(.invalidKey, "the key does not fit \(profile.name)") }
        self.profile = profile
        self.key = key
        self.salt = salt
    }

    /// Zeroes the key material held here (contexts made from it keep only session keys).
    public mutating func wipe() {
        cleanse(&key)
        cleanse(&salt)
    }

    /// An SRTP sender for the stream these keys protect.
    public func srtpSender() throws(MediaSecurityError) -> SRTPSender {
        try SRTPSender(profile: profile, masterKey: key, masterSalt: salt)
    }

    /// An SRTP receiver.
    public func srtpReceiver(replayWindow: Int = 128) throws(MediaSecurityError) -> SRTPReceiver {
        try SRTPReceiver(profile: profile, masterKey: key, masterSalt: salt, replayWindow: replayWindow)
    }

    /// An SRTCP sender.
    public func srtcpSender() throws(MediaSecurityError) -> SRTCPSender {
        try SRTCPSender(profile: profile, masterKey: key, masterSalt: salt)
    }

    /// An SRTCP receiver.
    public func srtcpReceiver(replayWindow: Int = 128) throws(MediaSecurityError) -> SRTCPReceiver {
        try SRTCPReceiver(profile: profile, masterKey: key, masterSalt: salt, replayWindow: replayWindow)
    }
}
