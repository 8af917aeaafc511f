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

    static func sequence(_ packet: UnsafeRawBufferPointer) -> UInt16 { BigEndian.uint16(packet, at: 2) }

    static func ssrc(_ packet: UnsafeRawBufferPointer) -> UInt32 { BigEndian.uint32(packet, at: 8) }
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

/// Protects outgoing RTP packets of one SSRC (RFC 3711 §3.3): encrypts the payload in place, appends the MKI (when
/// the policy has one) and the tag. Its keys serve this direction only; they are zeroed when the last stream using
/// them goes.
public final class SRTPSender {
    public let profile: SRTPProfile
    private let contexts: [SRTPKeyContext]
    // One owner at a time (not Sendable); the per-packet state skips dynamic exclusivity checks.
    @exclusivity(unchecked) private var active = 0
    @exclusivity(unchecked) private var tracker = SRTPIndexTracker()
    /// The indices already protected: one index never protects two packets (the same keystream, or for GCM the
    /// same nonce, twice), as libsrtp2's sender checks too.
    @exclusivity(unchecked) private var used = SRTPReplayWindow(size: 128)

    /// A sender for `policy`.
    /// - Throws: ``MediaSecurityError/Code/invalidKey`` for wrong lengths, MKIs or rate.
    public convenience init(policy: SRTPPolicy) throws(MediaSecurityError) {
        let contexts = try SRTPKeyContext.all(for: policy, rtcp: false)
        self.init(profile: policy.profile, contexts: contexts)
    }

    /// A sender for `profile` with one master key and salt (from SDES or DTLS-SRTP) and no MKI.
    /// - Throws: ``MediaSecurityError/Code/invalidKey`` for wrong lengths.
    public convenience init(profile: SRTPProfile, masterKey: [UInt8], masterSalt: [UInt8],
                            backend: SRTPCryptoBackend = .preferred) throws(MediaSecurityError) {
        try self.init(policy: SRTPPolicy(profile: profile, masterKey: masterKey, masterSalt: masterSalt, backend: backend))
    }

    init(profile: SRTPProfile, contexts: [SRTPKeyContext]) {
        (self.profile, self.contexts) = (profile, contexts)
    }

    /// A sender for another SSRC under the same keys (a session's template).
    func forNewStream() throws(MediaSecurityError) -> SRTPSender {
        let contexts = try SRTPKeyContext.forNewStream(self.contexts)
        let sender = SRTPSender(profile: profile, contexts: contexts)
        sender.active = active
        return sender
    }

    /// Packets protected under the active master key: at most 2^48 (RFC 3711 §9.2).
    public var packetCount: UInt64 { contexts[active].packetCount }

    /// Protects the following packets with the master key whose MKI is `mki` (re-keying, RFC 3711 §8.1).
    /// - Throws: ``MediaSecurityError/Code/unknownMKI``.
    public func useKey(mki: [UInt8]) throws(MediaSecurityError) {
        guard let position = contexts.firstIndex(where: { $0.mki == mki }) else {
            throw MediaSecurityError(.unknownMKI, "no master key with that MKI")
        }
        active = position
    }

    /// Protects `packet` (an RTP packet) in place: the payload is encrypted, the MKI and the tag appended.
    /// - Throws: ``MediaSecurityError/Code/malformed``, ``MediaSecurityError/Code/keyExhausted``,
    ///   ``MediaSecurityError/Code/replayed`` or ``MediaSecurityError/Code/tooOld`` for a sequence number whose
    ///   index was already used (it would reuse keystream).
    public func protect(_ packet: inout [UInt8]) throws(MediaSecurityError) {
        let context = contexts[active]
        guard context.mayProtect else {
            throw MediaSecurityError(.keyExhausted, "the master key's lifetime (at most 2^48 SRTP packets) is used up")
        }
        guard let (header, sequence, ssrc) = packet.withUnsafeBytes({ bytes in
            RTPHeader.length(of: bytes).map { ($0, RTPHeader.sequence(bytes), RTPHeader.ssrc(bytes)) }
        }) else { throw MediaSecurityError(.malformed, "not an RTP packet") }
        // A sender's index: the ROC goes up when the sequence number wraps (RFC 3711 §3.3.1). An index already used
        // (the same sequence number again, or one from before a wrap) is refused.
        let (index, roc) = tracker.estimate(sequence)
        if let refusal = used.check(index) {
            throw MediaSecurityError(refusal, "SRTP index \(index) was already used or is too old to protect")
        }
        let keys = try context.keys(for: index)
        if let aead = keys.aead {
            // RFC 7714 §8: the header is the AAD, the payload encrypted, the tag appended, then the MKI.
            var tag = (UInt64(0), UInt64(0))
            var iv = (UInt64(0), UInt32(0))
            keys.aeadIV(ssrc: ssrc, high: roc, low: UInt32(sequence), into: &iv)
            let sealed = packet.withUnsafeMutableBytes { bytes in
                withUnsafeBytes(of: &iv) { ivBytes in
                    withUnsafeMutableBytes(of: &tag) { tagBytes in
                        aead.seal(iv: ivBytes.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                  aad: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[..<header]),
                                  text: UnsafeMutableRawBufferPointer(rebasing: bytes[header...]),
                                  tag: tagBytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
            guard sealed else { throw MediaSecurityError(.backendFailure, "AES-GCM") }
            withUnsafeBytes(of: &tag) { packet.append(contentsOf: $0) }
            if !context.mki.isEmpty { packet.append(contentsOf: context.mki) }
        } else {
            let encrypted = packet.withUnsafeMutableBytes { bytes in
                keys.crypt(UnsafeMutableRawBufferPointer(rebasing: bytes[header...]), ssrc: ssrc, index: index)
            }
            guard encrypted else { throw MediaSecurityError(.backendFailure, "AES-CM") }
            // The tag covers header and payload and the ROC (RFC 3711 §4.2), not the MKI that sits before it.
            var tag = (UInt64(0), UInt64(0), UInt32(0))
            let authenticated = withUnsafeBytes(of: roc.bigEndian) { trailer in
                packet.withUnsafeBytes { message in
                    withUnsafeMutableBytes(of: &tag) { output in
                        keys.mac.authenticate(message, trailer: trailer,
                                              into: output.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
            guard authenticated else { throw MediaSecurityError(.backendFailure, "HMAC-SHA1") }
            if !context.mki.isEmpty { packet.append(contentsOf: context.mki) }
            withUnsafeBytes(of: &tag) { packet.append(contentsOf: $0.prefix(profile.srtpTagLength)) }
        }
        tracker.update(index: index)
        used.accept(index)
        context.adopt(keys, index: index)
        context.packetCount += 1
    }
}

/// Unprotects incoming SRTP packets of one SSRC: finds the master key by MKI, verifies the tag in constant time,
/// refuses replays, decrypts in place and strips MKI and tag. Its keys serve this direction only.
public final class SRTPReceiver {
    public let profile: SRTPProfile
    private let contexts: [SRTPKeyContext]
    private let mkiLength: Int
    // One owner at a time (not Sendable); the per-packet state skips dynamic exclusivity checks.
    @exclusivity(unchecked) private var tracker = SRTPIndexTracker()
    @exclusivity(unchecked) private var window: SRTPReplayWindow

    /// A receiver for `policy`.
    /// - Throws: ``MediaSecurityError/Code/invalidKey`` for wrong lengths, MKIs or rate.
    public convenience init(policy: SRTPPolicy) throws(MediaSecurityError) {
        let contexts = try SRTPKeyContext.all(for: policy, rtcp: false)
        self.init(profile: policy.profile, contexts: contexts, replayWindow: policy.replayWindow)
    }

    /// A receiver for `profile` with one master key and salt and no MKI, and a replay window (default 128, at
    /// least 64).
    public convenience init(profile: SRTPProfile, masterKey: [UInt8], masterSalt: [UInt8], replayWindow: Int = 128,
                            backend: SRTPCryptoBackend = .preferred) throws(MediaSecurityError) {
        try self.init(policy: SRTPPolicy(profile: profile, masterKey: masterKey, masterSalt: masterSalt,
                                         replayWindow: replayWindow, backend: backend))
    }

    init(profile: SRTPProfile, contexts: [SRTPKeyContext], replayWindow: Int) {
        (self.profile, self.contexts) = (profile, contexts)
        mkiLength = contexts.first?.mki.count ?? 0
        window = SRTPReplayWindow(size: replayWindow)
    }

    /// A receiver for another SSRC under the same keys (a session's template).
    func forNewStream() throws(MediaSecurityError) -> SRTPReceiver {
        let contexts = try SRTPKeyContext.forNewStream(self.contexts)
        return SRTPReceiver(profile: profile, contexts: contexts, replayWindow: window.size)
    }

    /// The rollover counter (for tests and for joining a stream late).
    public var rolloverCounter: UInt32 { tracker.rolloverCounter }

    /// Unprotects `packet` in place; on failure it is left as it was.
    /// - Throws: ``MediaSecurityError/Code/malformed``, ``MediaSecurityError/Code/unknownMKI``,
    ///   ``MediaSecurityError/Code/authenticationFailed``, ``MediaSecurityError/Code/replayed``,
    ///   ``MediaSecurityError/Code/tooOld``.
    public func unprotect(_ packet: inout [UInt8]) throws(MediaSecurityError) {
        let tagLength = profile.srtpTagLength, aeadLayout = profile.isAEAD
        guard packet.count >= 12 + tagLength + mkiLength else {
            throw MediaSecurityError(.malformed, "shorter than an SRTP packet")
        }
        // HMAC suites: message || MKI || tag; AEAD: header || ciphertext || tag || MKI (RFC 7714 §8).
        let mkiStart = aeadLayout ? packet.count - mkiLength : packet.count - tagLength - mkiLength
        let messageEnd = aeadLayout ? mkiStart - tagLength : mkiStart
        let tagStart = aeadLayout ? messageEnd : packet.count - tagLength
        let context = mkiLength == 0 ? contexts[0] : try context(packet: packet, mkiStart: mkiStart)
        guard let (header, sequence, ssrc) = packet.withUnsafeBytes({ bytes in
            let message = UnsafeRawBufferPointer(rebasing: bytes[..<messageEnd])
            return RTPHeader.length(of: message).map { ($0, RTPHeader.sequence(message), RTPHeader.ssrc(message)) }
        }) else { throw MediaSecurityError(.malformed, "not an SRTP packet") }
        let (index, roc) = tracker.estimate(sequence)
        if let refusal = window.check(index) { throw MediaSecurityError(refusal, "SRTP index \(index)") }
        let keys = try context.keys(for: index)
        let outcome: MediaSecurityError.Code? = packet.withUnsafeMutableBytes { bytes in
            let readOnly = UnsafeRawBufferPointer(bytes)
            let tag = UnsafeRawBufferPointer(rebasing: readOnly[tagStart..<(tagStart + tagLength)])
            if let aead = keys.aead {
                var iv = (UInt64(0), UInt32(0))
                keys.aeadIV(ssrc: ssrc, high: roc, low: UInt32(sequence), into: &iv)
                let opened = withUnsafeBytes(of: &iv) { ivBytes in
                    aead.open(iv: ivBytes.baseAddress!.assumingMemoryBound(to: UInt8.self),
                              aad: UnsafeRawBufferPointer(rebasing: readOnly[..<header]),
                              text: UnsafeMutableRawBufferPointer(rebasing: bytes[header..<messageEnd]), tag: tag)
                }
                return opened ? nil : .authenticationFailed
            }
            var expected = (UInt64(0), UInt64(0), UInt32(0))
            let computed = withUnsafeBytes(of: roc.bigEndian) { trailer in
                withUnsafeMutableBytes(of: &expected) { output in
                    keys.mac.authenticate(UnsafeRawBufferPointer(rebasing: readOnly[..<messageEnd]), trailer: trailer,
                                          into: output.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
            guard computed else { return .backendFailure }
            let tagMatches = withUnsafeBytes(of: &expected) { expectedTag in
                ConstantTime.equal(UnsafeRawBufferPointer(rebasing: expectedTag[..<tagLength]), tag)
            }
            guard tagMatches else { return .authenticationFailed }
            let payload = UnsafeMutableRawBufferPointer(rebasing: bytes[header..<messageEnd])
            return keys.crypt(payload, ssrc: ssrc, index: index) ? nil : .backendFailure
        }
        if let outcome { throw MediaSecurityError(outcome, "cannot unprotect the SRTP packet") }
        tracker.update(index: index)
        window.accept(index)
        context.adopt(keys, index: index)
        packet.removeLast(packet.count - messageEnd)
    }

    /// The master key the MKI at `mkiStart` names (the only one when there is no MKI).
    private func context(packet: [UInt8], mkiStart: Int) throws(MediaSecurityError) -> SRTPKeyContext {
        guard mkiLength > 0 else { return contexts[0] }
        let mki = packet[mkiStart..<(mkiStart + mkiLength)]
        for context in contexts where context.mki.elementsEqual(mki) { return context }
        throw MediaSecurityError(.unknownMKI, "the packet's MKI names no master key")
    }
}
