/// A master key and salt (from SDES, DTLS-SRTP or ZRTP) with its optional MKI (RFC 3711 §3.1). Zeroed when the
/// last stream using it goes.
public final class SRTPMasterKey: @unchecked Sendable {  // immutable after init; deinit only wipes
    private(set) var key: [UInt8]
    private(set) var salt: [UInt8]
    /// The master key identifier carried in each packet, empty when the session has one key and no MKI.
    public let mki: [UInt8]
    /// The most packets this key may protect (an SDES lifetime), below the suite's own limit; nil: the suite's
    /// limit (2^48 SRTP, 2^31 SRTCP packets).
    public let lifetime: UInt64?

    /// A master key; `mki` empty for none. The caller's copies of `key` and `salt` are the caller's to wipe.
    public init(key: [UInt8], salt: [UInt8], mki: [UInt8] = [], lifetime: UInt64? = nil) {
        self.key = key
        self.salt = salt
        self.mki = mki
        self.lifetime = lifetime
    }

    deinit {
        cleanse(&key)
        cleanse(&salt)
    }

    /// Whether both keys are the same secret (constant time).
    public func sameSecret(as other: SRTPMasterKey) -> Bool {
        key.withUnsafeBytes { mine in other.key.withUnsafeBytes { ConstantTime.equal(mine, $0) } }
    }
}

/// How one direction of an SRTP session is protected: the suite, the master keys, the key derivation rate, the
/// replay window and the crypto backend (libsrtp's `srtp_policy_t`).
public struct SRTPPolicy: Sendable {
    /// The largest MKI (libsrtp2 allows 128 octets too).
    public static let maximumMKILength = 128
    /// The most master keys one stream may hold.
    public static let maximumKeys = 16

    public var profile: SRTPProfile
    /// One key, or several told apart by MKIs of one length. The sender starts with the first.
    public var keys: [SRTPMasterKey]
    /// 0 (derive session keys once, the usual case) or a power of two up to 2^24: session keys are derived again
    /// every `keyDerivationRate` packets (RFC 3711 §4.3.1).
    public var keyDerivationRate: UInt64
    /// How far behind the highest index packets are still accepted (at least 64; default 128).
    public var replayWindow: Int
    public var backend: SRTPCryptoBackend

    public init(profile: SRTPProfile, keys: [SRTPMasterKey], keyDerivationRate: UInt64 = 0, replayWindow: Int = 128,
                backend: SRTPCryptoBackend = .preferred) {
        self.profile = profile
        self.keys = keys
        self.keyDerivationRate = keyDerivationRate
        self.replayWindow = replayWindow
        self.backend = backend
    }

    /// A policy with one master key and no MKI.
    public init(profile: SRTPProfile, masterKey: [UInt8], masterSalt: [UInt8], keyDerivationRate: UInt64 = 0,
                replayWindow: Int = 128, backend: SRTPCryptoBackend = .preferred) {
        self.init(profile: profile, keys: [SRTPMasterKey(key: masterKey, salt: masterSalt)],
                  keyDerivationRate: keyDerivationRate, replayWindow: replayWindow, backend: backend)
    }

    /// The MKI length every packet carries (0: none).
    public var mkiLength: Int { keys.first?.mki.count ?? 0 }

    /// Checks lengths, MKIs and the rate.
    /// - Throws: ``MediaSecurityError/Code/invalidKey``.
    func validate() throws(MediaSecurityError) {
        guard !keys.isEmpty, keys.count <= Self.maximumKeys else {
            throw MediaSecurityError(.invalidKey, "a policy holds 1 to \(Self.maximumKeys) master keys")
        }
        for key in keys where key.key.count != profile.keyLength || key.salt.count != profile.saltLength {
            throw MediaSecurityError(.invalidKey, "\(profile.name) takes a \(profile.keyLength)-octet key and a "
                + "\(profile.saltLength)-octet salt")
        }
        guard keys.allSatisfy({ $0.mki.count == mkiLength }), mkiLength <= Self.maximumMKILength,
            keys.count == 1 || mkiLength > 0, Set(keys.map(\.mki)).count == keys.count
        else {
            throw MediaSecurityError(.invalidKey, "several master keys need distinct MKIs of one length (at most "
                + "\(Self.maximumMKILength) octets)")
        }
        guard SRTPKeyDerivation.isValid(rate: keyDerivationRate) else {
            throw MediaSecurityError(.invalidKey, "the key derivation rate is 0 or a power of two up to 2^24")
        }
    }
}

/// The session keys derived from one master key for one r (= index DIV key derivation rate): the ciphers, the
/// HMAC and the session salt of RFC 3711 §4.3, for SRTP or for SRTCP.
final class SRTPSessionKeys {
    let profile: SRTPProfile
    /// AES-CM and HMAC-SHA1 for the counter-mode suites; nil for AEAD.
    let counterMode: (cipher: any CounterModeCipher, mac: any MessageAuthenticator)?
    /// AES-GCM for the AEAD suites (RFC 7714); nil otherwise.
    let aead: (any AEADCipher)?
    /// The session salt (14 octets, 12 for AEAD) in 16 zero-padded octets, zeroed on deinit. Behind a pointer so
    /// that the per-packet IV reads it without copies or exclusivity checks.
    private let salt = UnsafeMutableRawBufferPointer.allocate(byteCount: 16, alignment: 16)

    init(profile: SRTPProfile, master: SRTPMasterKey, rtcp: Bool, r: UInt64, backend: SRTPCryptoBackend)
        throws(MediaSecurityError)
    {
        self.profile = profile
        var key = try SRTPKeyDerivation.derive(rtcp ? .rtcpEncryption : .rtpEncryption, masterKey: master.key,
                                               masterSalt: master.salt, length: profile.keyLength, r: r,
                                               backend: backend)
        defer { cleanse(&key) }
        var sessionSalt = try SRTPKeyDerivation.derive(rtcp ? .rtcpSalt : .rtpSalt, masterKey: master.key,
                                                       masterSalt: master.salt, length: profile.saltLength, r: r,
                                                       backend: backend)
        defer { cleanse(&sessionSalt) }
        if profile.isAEAD {
            aead = try backend.gcm(key: key)
            counterMode = nil
        } else {
            var auth = try SRTPKeyDerivation.derive(rtcp ? .rtcpAuthentication : .rtpAuthentication,
                                                    masterKey: master.key, masterSalt: master.salt,
                                                    length: profile.authKeyLength, r: r, backend: backend)
            defer { cleanse(&auth) }
            counterMode = (try backend.counterMode(key: key), try backend.hmacSHA1(key: auth))
            aead = nil
        }
        salt.initializeMemory(as: UInt8.self, repeating: 0)
        sessionSalt.withUnsafeBytes { salt.copyMemory(from: $0) }
    }

    /// AEAD session keys given directly (RFC 7714's own vectors start there).
    init(aead profile: SRTPProfile, sessionKey: [UInt8], sessionSalt: [UInt8], backend: SRTPCryptoBackend = .preferred)
        throws(MediaSecurityError)
    {
        self.profile = profile
        aead = try backend.gcm(key: sessionKey)
        counterMode = nil
        salt.initializeMemory(as: UInt8.self, repeating: 0)
        sessionSalt.withUnsafeBytes { salt.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.prefix(16))) }
    }

    deinit {
        cleanse(salt)
        salt.deallocate()
    }

    /// The HMAC of a counter-mode suite (the only ones that call it).
    var mac: any MessageAuthenticator { counterMode!.mac }

    /// The AEAD IV of RFC 7714 §8.1 (SRTP: 0x0000 || SSRC || ROC || SEQ) or §9.1 (SRTCP: 0x0000 || SSRC ||
    /// 0x0000 || index), XORed with the session salt.
    func aeadIV(ssrc: UInt32, high: UInt32, low: UInt32, into iv: inout (UInt64, UInt32)) {
        withUnsafeMutableBytes(of: &iv) { bytes in
            bytes[0] = 0
            bytes[1] = 0
            BigEndian.store(ssrc, into: bytes, at: 2)
            BigEndian.store(high, into: bytes, at: 6)
            bytes[10] = UInt8(truncatingIfNeeded: low >> 8)
            bytes[11] = UInt8(truncatingIfNeeded: low)
            for position in 0..<12 { bytes[position] ^= salt[position] }
        }
    }

    /// The AES-CM IV of RFC 3711 §4.1.1: (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16).
    func iv(ssrc: UInt32, index: UInt64, into iv: inout (UInt64, UInt64)) {
        withUnsafeMutableBytes(of: &iv) { bytes in
            bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: salt[..<14]))
            bytes[14] = 0
            bytes[15] = 0
            for octet in 0..<4 { bytes[4 + octet] ^= UInt8(truncatingIfNeeded: ssrc >> UInt32(8 * (3 - octet))) }
            for octet in 0..<6 { bytes[8 + octet] ^= UInt8(truncatingIfNeeded: index >> UInt64(8 * (5 - octet))) }
        }
    }

    /// Encrypts or decrypts `payload` in place for the packet `index` of `ssrc` (counter-mode suites).
    func crypt(_ payload: UnsafeMutableRawBufferPointer, ssrc: UInt32, index: UInt64) -> Bool {
        var block: (UInt64, UInt64) = (0, 0)
        iv(ssrc: ssrc, index: index, into: &block)
        return withUnsafeBytes(of: &block) { raw in
            counterMode!.cipher.apply(iv: raw.baseAddress!.assumingMemoryBound(to: UInt8.self), to: payload)
        }
    }
}

/// One master key's use in one direction of SRTP or SRTCP: its session keys for the current r, re-derived when the
/// packet index crosses a key derivation rate boundary, and its packet count against the key's lifetime.
/// Streams that share a master key without a key derivation rate share one context (their SSRCs keep their IVs
/// apart), so a template's streams cost no key derivation.
final class SRTPKeyContext {
    let profile: SRTPProfile
    let mki: [UInt8]
    private let master: SRTPMasterKey
    private let rtcp: Bool
    private let rate: UInt64
    private let backend: SRTPCryptoBackend
    /// The session keys of r = 0: with no key derivation rate, the only ones (a `let`, read per packet without
    /// exclusivity checks).
    private let initial: SRTPSessionKeys
    /// With a key derivation rate: the keys of the highest r accepted so far.
    @exclusivity(unchecked) private var rederived: (keys: SRTPSessionKeys, r: UInt64)?
    /// Packets protected under this master key, against RFC 3711 §9.2's limits and the key's lifetime.
    @exclusivity(unchecked) var packetCount: UInt64 = 0

    /// Whether the key may protect another packet: below the suite limit (2^48 SRTP, 2^31 SRTCP) and the
    /// key's own lifetime.
    var mayProtect: Bool { packetCount < min(rtcp ? 1 << 31 : 1 << 48, master.lifetime ?? .max) }

    convenience init(policy: SRTPPolicy, master: SRTPMasterKey, rtcp: Bool) throws(MediaSecurityError) {
        try self.init(profile: policy.profile, master: master, rtcp: rtcp, rate: policy.keyDerivationRate,
                      backend: policy.backend)
    }

    /// The session keys for packet `index`: the current ones, or (with a key derivation rate) freshly derived ones
    /// that ``adopt(_:index:)`` keeps once the packet is accepted.
    @inline(__always)
    func keys(for index: UInt64) throws(MediaSecurityError) -> SRTPSessionKeys {
        guard rate != 0 else { return initial }
        let r = index / rate, current = rederived ?? (initial, 0)
        if r == current.r { return current.keys }
        return try SRTPSessionKeys(profile: profile, master: master, rtcp: rtcp, r: index / rate, backend: backend)
    }

    /// Keeps `keys` as the current ones when `index` moved r forward.
    @inline(__always)
    func adopt(_ keys: SRTPSessionKeys, index: UInt64) {
        guard rate != 0, index / rate > (rederived?.r ?? 0) else { return }
        rederived = (keys, index / rate)
    }

    /// A context over session keys given directly, never re-derived (RFC 7714's vectors start from session keys).
    init(sessionKeys: SRTPSessionKeys, rtcp: Bool) {
        (profile, mki, master, self.rtcp, rate, backend) =
            (sessionKeys.profile, [], SRTPMasterKey(key: [], salt: []), rtcp, 0, .preferred)
        initial = sessionKeys
    }

    /// The context a new stream of the same key uses: this one, unless a key derivation rate makes the current
    /// session keys depend on the stream's own index.
    func forNewStream() throws(MediaSecurityError) -> SRTPKeyContext {
        guard rate != 0 else { return self }
        return try SRTPKeyContext(profile: profile, master: master, rtcp: rtcp, rate: rate, backend: backend)
    }

    private init(profile: SRTPProfile, master: SRTPMasterKey, rtcp: Bool, rate: UInt64, backend: SRTPCryptoBackend)
        throws(MediaSecurityError)
    {
        (self.profile, mki, self.master, self.rtcp, self.rate, self.backend) =
            (profile, master.mki, master, rtcp, rate, backend)
        initial = try SRTPSessionKeys(profile: profile, master: master, rtcp: rtcp, r: 0, backend: backend)
    }
}

extension SRTPKeyContext {
    /// One context per master key of a validated `policy`.
    static func all(for policy: SRTPPolicy, rtcp: Bool) throws(MediaSecurityError) -> [SRTPKeyContext] {
        try policy.validate()
        var contexts: [SRTPKeyContext] = []
        for key in policy.keys { contexts.append(try SRTPKeyContext(policy: policy, master: key, rtcp: rtcp)) }
        return contexts
    }

    /// The contexts a new stream of the same keys uses.
    static func forNewStream(_ contexts: [SRTPKeyContext]) throws(MediaSecurityError) -> [SRTPKeyContext] {
        var fresh: [SRTPKeyContext] = []
        for context in contexts { fresh.append(try context.forNewStream()) }
        return fresh
    }
}

/// Big-endian reads and writes on raw packet bytes.
enum BigEndian {
    static func uint32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
    }

    static func uint16(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt16 {
        UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    static func store(_ value: UInt32, into bytes: UnsafeMutableRawBufferPointer, at offset: Int) {
        for octet in 0..<4 { bytes[offset + octet] = UInt8(truncatingIfNeeded: value >> UInt32(8 * (3 - octet))) }
    }
}
