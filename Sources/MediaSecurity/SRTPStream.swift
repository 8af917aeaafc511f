import COpenSSL

/// The session keys and crypto state of one direction of one RTP stream (one SSRC), RFC 3711 §3.2.
final class SRTPCryptoContext {
    let profile: SRTPProfile
    /// AES-CM and HMAC-SHA1 for the counter-mode suites; nil for AEAD.
    let counterMode: (cipher: AESCounterMode, mac: HMACSHA1)?
    /// AES-GCM for the AEAD suites (RFC 7714); nil otherwise.
    let aead: AESGCM?
    /// The session salt (14 octets, 12 for AEAD), zeroed on deinit.
    var salt: [UInt8]

    init(profile: SRTPProfile, masterKey: [UInt8], masterSalt: [UInt8], rtcp: Bool) throws(MediaSecurityError) {
        guard masterKey.count == profile.keyLength, masterSalt.count == profile.saltLength else {
            throw MediaSecurityError(.invalidKey, "\(profile.name) takes a \(profile.keyLength)-octet key and a "
                + "\(profile.saltLength)-octet salt")
        }
        self.profile = profile
        var key = try SRTPKeyDerivation.derive(rtcp ? .rtcpEncryption : .rtpEncryption, masterKey: masterKey,
                                               masterSalt: masterSalt, length: profile.keyLength)
        defer { cleanse(&key) }
        salt = try SRTPKeyDerivation.derive(rtcp ? .rtcpSalt : .rtpSalt, masterKey: masterKey, masterSalt: masterSalt,
                                            length: profile.saltLength)
        if profile.isAEAD {
            aead = try AESGCM(key: key)
            counterMode = nil
        } else {
            var auth = try SRTPKeyDerivation.derive(rtcp ? .rtcpAuthentication : .rtpAuthentication,
                                                    masterKey: masterKey, masterSalt: masterSalt,
                                                    length: profile.authKeyLength)
            defer { cleanse(&auth) }
            counterMode = (try AESCounterMode(key: key), try HMACSHA1(key: auth))
            aead = nil
        }
    }

    /// An AEAD context from session keys directly (RFC 7714's own vectors start there).
    init(aead profile: SRTPProfile, sessionKey: [UInt8], sessionSalt: [UInt8]) throws(MediaSecurityError) {
        self.profile = profile
        salt = sessionSalt
        aead = try AESGCM(key: sessionKey)
        counterMode = nil
    }

    /// The HMAC of a counter-mode suite (the only ones that call it).
    var mac: HMACSHA1 { counterMode!.mac }

    /// The AEAD IV of RFC 7714 §8.1 (SRTP: 0x0000 || SSRC || ROC || SEQ) or §9.1 (SRTCP: 0x0000 || SSRC ||
    /// 0x0000 || index), XORed with the session salt.
    func aeadIV(ssrc: UInt32, high: UInt32, low: UInt32, into iv: inout (UInt64, UInt32)) {
        withUnsafeMutableBytes(of: &iv) { bytes in
            bytes[0] = 0
            bytes[1] = 0
            for octet in 0..<4 {
                bytes[2 + octet] = UInt8(truncatingIfNeeded: ssrc >> UInt32(8 * (3 - octet)))
                bytes[6 + octet] = UInt8(truncatingIfNeeded: high >> UInt32(8 * (3 - octet)))
            }
            bytes[10] = UInt8(truncatingIfNeeded: low >> 8)
            bytes[11] = UInt8(truncatingIfNeeded: low)
            for position in 0..<12 { bytes[position] ^= salt[position] }
        }
    }

    deinit { cleanse(&salt) }

    /// The AES-CM IV of RFC 3711 §4.1.1: (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16).
    func iv(ssrc: UInt32, index: UInt64, into iv: inout (UInt64, UInt64)) {
        withUnsafeMutableBytes(of: &iv) { bytes in
            for position in 0..<14 { bytes[position] = salt[position] }
            bytes[14] = 0
            bytes[15] = 0
            for octet in 0..<4 { bytes[4 + octet] ^= UInt8(truncatingIfNeeded: ssrc >> UInt32(8 * (3 - octet))) }
            for octet in 0..<6 { bytes[8 + octet] ^= UInt8(truncatingIfNeeded: index >> UInt64(8 * (5 - octet))) }
        }
    }

    /// Encrypts or decrypts `payload` in place for the packet `index` of `ssrc`.
    func crypt(_ payload: UnsafeMutableRawBufferPointer, ssrc: UInt32, index: UInt64) -> Bool {
        var block: (UInt64, UInt64) = (0, 0)
        iv(ssrc: ssrc, index: index, into: &block)
        return withUnsafeBytes(of: &block) { raw in
            counterMode!.cipher.apply(iv: raw.baseAddress!.assumingMemoryBound(to: UInt8.self), to: payload)
        }
    }
}

/// The RTP header's extent (RFC 3550 §5.1, §5.3.1): what SRTP authenticates but does not encrypt.
enum RTPHeader {
    /// The header length (fixed part, CSRCs, extension), or nil if the packet is not RTP version 2 or too short.
    static func length(of packet: UnsafeRawBufferPointer) -> Int? {
        guard packet.count >= 12, packet[0] >> 6 == 2 else { return nil }
        var length = 12 + 4 * Int(packet[0] & 0x0F)
        if packet[0] & 0x10 != 0 {
            guard packet.count >= length + 4 else { return nil }
            length += 4 + 4 * (Int(packet[length + 2]) << 8 | Int(packet[length + 3]))
        }
        return packet.count >= length ? length : nil
    }

    static func sequence(_ packet: UnsafeRawBufferPointer) -> UInt16 { UInt16(packet[2]) << 8 | UInt16(packet[3]) }

    static func ssrc(_ packet: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(packet[8]) << 24 | UInt32(packet[9]) << 16 | UInt32(packet[10]) << 8 | UInt32(packet[11])
    }
}

/// The rollover counter and highest sequence number of a stream, and index estimation (RFC 3711 §3.3.1, App. A).
struct SRTPIndexTracker: Hashable, Sendable {
    var rolloverCounter: UInt32 = 0
    var highestSequence: UInt16?

    /// The packet index a received sequence number most likely has, and the ROC it implies.
    func estimate(_ sequence: UInt16) -> (index: UInt64, roc: UInt32) {
        guard let last = highestSequence else { return (UInt64(sequence), rolloverCounter) }
        var roc = rolloverCounter
        if last < 32_768 {
            if Int(sequence) - Int(last) > 32_768, roc > 0 { roc -= 1 }
        } else if Int(last) - 32_768 > Int(sequence) {
            roc &+= 1
        }
        return (UInt64(roc) << 16 | UInt64(sequence), roc)
    }

    /// Moves the state forward to an authenticated packet's index.
    mutating func update(index: UInt64) {
        let roc = UInt32(truncatingIfNeeded: index >> 16), sequence = UInt16(truncatingIfNeeded: index)
        guard let last = highestSequence else {
            (rolloverCounter, highestSequence) = (roc, sequence)
            return
        }
        if index > (UInt64(rolloverCounter) << 16 | UInt64(last)) { (rolloverCounter, highestSequence) = (roc, sequence) }
    }
}

/// Protects outgoing RTP packets of one SSRC (RFC 3711 §3.3): encrypts the payload in place and appends the tag.
/// Its keys serve this direction only; they are zeroed when it goes.
public final class SRTPSender {
    let context: SRTPCryptoContext
    private var tracker = SRTPIndexTracker()
    /// Packets protected with this key: at most 2^48 (RFC 3711 §9.2).
    public private(set) var packetCount: UInt64 = 0

    /// A sender for `profile` with a master key and salt (from SDES or DTLS-SRTP).
    /// - Throws: ``MediaSecurityError/Code/invalidKey`` for wrong lengths.
    public init(profile: SRTPProfile, masterKey: [UInt8], masterSalt: [UInt8]) throws(MediaSecurityError) {
        context = try SRTPCryptoContext(profile: profile, masterKey: masterKey, masterSalt: masterSalt, rtcp: false)
    }

    /// Protects `packet` (an RTP packet) in place: the payload is encrypted and the tag appended.
    /// - Throws: ``MediaSecurityError/Code/malformed``, ``MediaSecurityError/Code/keyExhausted``.
    public func protect(_ packet: inout [UInt8]) throws(MediaSecurityError) {
        guard packetCount < 1 << 48 else { throw MediaSecurityError(.keyExhausted, "2^48 SRTP packets under one key") }
        if let aead = context.aead { return try protectAEAD(&packet, aead) }
        let tagLength = context.profile.srtpTagLength
        let outcome: MediaSecurityError.Code? = packet.withUnsafeMutableBytes { bytes in
            let readOnly = UnsafeRawBufferPointer(bytes)
            guard let header = RTPHeader.length(of: readOnly) else { return .malformed }
            let sequence = RTPHeader.sequence(readOnly), ssrc = RTPHeader.ssrc(readOnly)
            // A sender's index: the ROC goes up when the sequence number wraps (RFC 3711 §3.3.1).
            let (index, _) = tracker.estimate(sequence)
            guard context.crypt(UnsafeMutableRawBufferPointer(rebasing: bytes[header...]), ssrc: ssrc, index: index)
            else { return .backendFailure }
            tracker.update(index: index)
            return nil
        }
        if let outcome { throw MediaSecurityError(outcome, "cannot protect the packet") }
        let roc = tracker.rolloverCounter.bigEndian
        var tag = (UInt64(0), UInt64(0), UInt32(0))
        let authenticated = withUnsafeBytes(of: roc) { trailer in
            packet.withUnsafeBytes { message in
                withUnsafeMutableBytes(of: &tag) { output in
                    context.mac.authenticate(message, trailer: trailer,
                                             into: output.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        guard authenticated else { throw MediaSecurityError(.backendFailure, "HMAC-SHA1") }
        withUnsafeBytes(of: &tag) { packet.append(contentsOf: $0.prefix(tagLength)) }
        packetCount += 1
    }

    /// RFC 7714 §8: the header is the AAD, the payload is encrypted, the 16-octet tag appended.
    private func protectAEAD(_ packet: inout [UInt8], _ aead: AESGCM) throws(MediaSecurityError) {
        var tag = (UInt64(0), UInt64(0))
        let outcome: MediaSecurityError.Code? = packet.withUnsafeMutableBytes { bytes in
            let readOnly = UnsafeRawBufferPointer(bytes)
            guard let header = RTPHeader.length(of: readOnly) else { return .malformed }
            let sequence = RTPHeader.sequence(readOnly)
            let (index, roc) = tracker.estimate(sequence)
            var iv = (UInt64(0), UInt32(0))
            context.aeadIV(ssrc: RTPHeader.ssrc(readOnly), high: roc, low: UInt32(sequence), into: &iv)
            let sealed = withUnsafeBytes(of: &iv) { ivBytes in
                withUnsafeMutableBytes(of: &tag) { tagBytes in
                    aead.seal(iv: ivBytes.baseAddress!.assumingMemoryBound(to: UInt8.self),
                              aad: UnsafeRawBufferPointer(rebasing: readOnly[..<header]),
                              text: UnsafeMutableRawBufferPointer(rebasing: bytes[header...]),
                              tag: tagBytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
            guard sealed else { return .backendFailure }
            tracker.update(index: index)
            return nil
        }
        if let outcome { throw MediaSecurityError(outcome, "cannot protect the packet") }
        withUnsafeBytes(of: &tag) { packet.append(contentsOf: $0) }
        packetCount += 1
    }
}

/// Unprotects incoming SRTP packets of one SSRC: verifies the tag in constant time, refuses replays, decrypts in
/// place and strips the tag. Its keys serve this direction only.
public final class SRTPReceiver {
    let context: SRTPCryptoContext
    private var tracker = SRTPIndexTracker()
    private var window: SRTPReplayWindow

    /// A receiver for `profile` with a master key and salt, and a replay window (default 128, at least 64).
    public init(profile: SRTPProfile, masterKey: [UInt8], masterSalt: [UInt8], replayWindow: Int = 128)
        throws(MediaSecurityError)
    {
        context = try SRTPCryptoContext(profile: profile, masterKey: masterKey, masterSalt: masterSalt, rtcp: false)
        window = SRTPReplayWindow(size: replayWindow)
    }

    /// The rollover counter (for tests and for joining a stream late).
    public var rolloverCounter: UInt32 { tracker.rolloverCounter }

    /// Unprotects `packet` in place; on failure it is left as it was.
    /// - Throws: ``MediaSecurityError/Code/malformed``, ``MediaSecurityError/Code/authenticationFailed``,
    ///   ``MediaSecurityError/Code/replayed``, ``MediaSecurityError/Code/tooOld``.
    public func unprotect(_ packet: inout [UInt8]) throws(MediaSecurityError) {
        let tagLength = context.profile.srtpTagLength
        let outcome: MediaSecurityError.Code? = packet.withUnsafeMutableBytes { bytes in
            guard bytes.count > tagLength else { return .malformed }
            let message = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[..<(bytes.count - tagLength)])
            guard let header = RTPHeader.length(of: message) else { return .malformed }
            let (index, roc) = tracker.estimate(RTPHeader.sequence(message))
            if let refusal = window.check(index) { return refusal }
            if let aead = context.aead {
                // RFC 7714 §8: the header is the AAD; the tag is checked before anything is kept.
                var iv = (UInt64(0), UInt32(0))
                context.aeadIV(ssrc: RTPHeader.ssrc(message), high: roc, low: UInt32(RTPHeader.sequence(message)),
                               into: &iv)
                let opened = withUnsafeBytes(of: &iv) { ivBytes in
                    aead.open(iv: ivBytes.baseAddress!.assumingMemoryBound(to: UInt8.self),
                              aad: UnsafeRawBufferPointer(rebasing: message[..<header]),
                              text: UnsafeMutableRawBufferPointer(rebasing: bytes[header..<(bytes.count - tagLength)]),
                              tag: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[(bytes.count - tagLength)...]))
                }
                guard opened else { return .authenticationFailed }
                tracker.update(index: index)
                window.accept(index)
                return nil
            }
            var expected = (UInt64(0), UInt64(0), UInt32(0))
            let computed = withUnsafeBytes(of: roc.bigEndian) { trailer in
                withUnsafeMutableBytes(of: &expected) { output in
                    context.mac.authenticate(message, trailer: trailer,
                                             into: output.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
            guard computed else { return .backendFailure }
            let tagMatches = withUnsafeBytes(of: &expected) { expectedTag in
                ConstantTime.equal(UnsafeRawBufferPointer(rebasing: expectedTag[..<tagLength]),
                                   UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[(bytes.count - tagLength)...]))
            }
            guard tagMatches else { return .authenticationFailed }
            let payload = UnsafeMutableRawBufferPointer(rebasing: bytes[header..<(bytes.count - tagLength)])
            guard context.crypt(payload, ssrc: RTPHeader.ssrc(message), index: index) else { return .backendFailure }
            tracker.update(index: index)
            window.accept(index)
            return nil
        }
        if let outcome { throw MediaSecurityError(outcome, "cannot unprotect the packet") }
        packet.removeLast(tagLength)
    }
}

/// Comparison whose time does not depend on where the inputs differ: OpenSSL's `CRYPTO_memcmp`.
enum ConstantTime {
    static func equal(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
        guard lhs.count == rhs.count else { return false }
        guard let left = lhs.baseAddress, let right = rhs.baseAddress else { return lhs.count == 0 }
        return CRYPTO_memcmp(left, right, lhs.count) == 0
    }
}
