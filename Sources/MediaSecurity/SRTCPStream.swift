/// Protects outgoing RTCP packets (compound packets included) of one sender (RFC 3711 §3.4): everything after the
/// first 8 octets is encrypted, then the E flag and the 31-bit SRTCP index, the MKI (if any) and the tag are
/// appended.
public final class SRTCPSender {
    public let profile: SRTPProfile
    private let contexts: [SRTPKeyContext]
    private var active = 0
    /// The next SRTCP index: 0 for the first packet (RFC 3711 §3.3.2; libsrtp2 starts at 1, either is read fine).
    private(set) var nextIndex: UInt32

    /// A sender for `policy` (the SRTP session's: SRTCP derives its own keys from the same master keys).
    /// - Throws: ``MediaSecurityError/Code/invalidKey`` for wrong lengths, MKIs or rate.
    public convenience init(policy: SRTPPolicy) throws(MediaSecurityError) {
        try self.init(policy: policy, firstIndex: 0)
    }

    /// A sender for `profile` with one master key and salt and no MKI.
    public convenience init(profile: SRTPProfile, masterKey: [UInt8], masterSalt: [UInt8],
                            backend: SRTPCryptoBackend = .preferred) throws(MediaSecurityError) {
        try self.init(policy: SRTPPolicy(profile: profile, masterKey: masterKey, masterSalt: masterSalt, backend: backend))
    }

    convenience init(profile: SRTPProfile, masterKey: [UInt8], masterSalt: [UInt8], firstIndex: UInt32)
        throws(MediaSecurityError)
    {
        try self.init(policy: SRTPPolicy(profile: profile, masterKey: masterKey, masterSalt: masterSalt),
                      firstIndex: firstIndex)
    }

    init(policy: SRTPPolicy, firstIndex: UInt32) throws(MediaSecurityError) {
        let contexts = try SRTPKeyContext.all(for: policy, rtcp: true)
        (profile, self.contexts, nextIndex) = (policy.profile, contexts, firstIndex)
    }

    init(profile: SRTPProfile, contexts: [SRTPKeyContext], active: Int = 0, firstIndex: UInt32 = 0) {
        (self.profile, self.contexts, self.active, nextIndex) = (profile, contexts, active, firstIndex)
    }

    /// A sender for another SSRC under the same keys (a session's template).
    func forNewStream() throws(MediaSecurityError) -> SRTCPSender {
        let contexts = try SRTPKeyContext.forNewStream(self.contexts)
        return SRTCPSender(profile: profile, contexts: contexts, active: active)
    }

    /// Protects the following packets with the master key whose MKI is `mki`.
    /// - Throws: ``MediaSecurityError/Code/unknownMKI``.
    public func useKey(mki: [UInt8]) throws(MediaSecurityError) {
        guard let position = contexts.firstIndex(where: { $0.mki == mki }) else {
            throw MediaSecurityError(.unknownMKI, "no master key with that MKI")
        }
        active = position
    }

    /// Protects `packet` in place.
    /// - Throws: ``MediaSecurityError/Code/malformed`` for a packet shorter than an RTCP header or not version 2,
    ///   ``MediaSecurityError/Code/keyExhausted`` after 2^31 packets.
    public func protect(_ packet: inout [UInt8]) throws(MediaSecurityError) {
        guard packet.count >= 8, packet[0] >> 6 == 2 else { throw MediaSecurityError(.malformed, "not an RTCP packet") }
        let context = contexts[active], index = nextIndex
        guard nextIndex < 1 << 31, context.mayProtect else {
            throw MediaSecurityError(.keyExhausted, "the master key's lifetime (at most 2^31 SRTCP packets) is used up")
        }
        let keys = try context.keys(for: UInt64(index))
        let ssrc = packet.withUnsafeBytes { BigEndian.uint32($0, at: 4) }
        let word = (UInt32(1) << 31 | index).bigEndian  // E = 1: encrypted
        if let aead = keys.aead {
            // RFC 7714 §9, §17: AAD = the first 8 octets and E || index; the rest encrypted; then the tag,
            // E || index and the MKI.
            var aad = (UInt64(0), UInt32(0))
            withUnsafeMutableBytes(of: &aad) { aadBytes in
                for position in 0..<8 { aadBytes[position] = packet[position] }
                withUnsafeBytes(of: word) { for position in 0..<4 { aadBytes[8 + position] = $0[position] } }
            }
            var iv = (UInt64(0), UInt32(0))
            keys.aeadIV(ssrc: ssrc, high: index >> 16, low: index & 0xFFFF, into: &iv)
            var tag = (UInt64(0), UInt64(0))
            let sealed = packet.withUnsafeMutableBytes { bytes in
                withUnsafeBytes(of: &iv) { ivBytes in
                    withUnsafeBytes(of: &aad) { aadBytes in
                        withUnsafeMutableBytes(of: &tag) { tagBytes in
                            aead.seal(iv: ivBytes.baseAddress!.assumingMemoryBound(to: UInt8.self), aad: aadBytes,
                                      text: UnsafeMutableRawBufferPointer(rebasing: bytes[8...]),
                                      tag: tagBytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
                        }
                    }
                }
            }
            guard sealed else { throw MediaSecurityError(.backendFailure, "AES-GCM") }
            withUnsafeBytes(of: &tag) { packet.append(contentsOf: $0) }
            withUnsafeBytes(of: word) { packet.append(contentsOf: $0) }
            packet.append(contentsOf: context.mki)
        } else {
            let encrypted = packet.withUnsafeMutableBytes { bytes in
                keys.crypt(UnsafeMutableRawBufferPointer(rebasing: bytes[8...]), ssrc: ssrc, index: UInt64(index))
            }
            guard encrypted else { throw MediaSecurityError(.backendFailure, "AES-CM") }
            withUnsafeBytes(of: word) { packet.append(contentsOf: $0) }
            var tag = (UInt64(0), UInt64(0), UInt32(0))
            let authenticated = packet.withUnsafeBytes { message in
                withUnsafeMutableBytes(of: &tag) { output in
                    keys.mac.authenticate(message, trailer: UnsafeRawBufferPointer(start: nil, count: 0),
                                          into: output.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
            guard authenticated else { throw MediaSecurityError(.backendFailure, "HMAC-SHA1") }
            packet.append(contentsOf: context.mki)
            withUnsafeBytes(of: &tag) { packet.append(contentsOf: $0.prefix(profile.srtcpTagLength)) }
        }
        context.adopt(keys, index: UInt64(index))
        context.packetCount += 1
        nextIndex += 1
    }
}

/// Unprotects incoming SRTCP packets of one sender: the master key by MKI, the tag in constant time, the index
/// against a replay window, then decryption in place (when the E flag says the packet was encrypted) and the
/// trailer stripped.
public final class SRTCPReceiver {
    public let profile: SRTPProfile
    private let contexts: [SRTPKeyContext]
    private let mkiLength: Int
    private var window: SRTPReplayWindow

    /// A receiver for `policy` (the SRTP session's).
    public convenience init(policy: SRTPPolicy) throws(MediaSecurityError) {
        let contexts = try SRTPKeyContext.all(for: policy, rtcp: true)
        self.init(profile: policy.profile, contexts: contexts, replayWindow: policy.replayWindow)
    }

    /// A receiver for `profile` with one master key and salt and no MKI.
    public convenience init(profile: SRTPProfile, masterKey: [UInt8], masterSalt: [UInt8], replayWindow: Int = 128,
                            backend: SRTPCryptoBackend = .preferred) throws(MediaSecurityError) {
        try self.init(policy: SRTPPolicy(profile: profile, masterKey: masterKey, masterSalt: masterSalt,
                                         replayWindow: replayWindow, backend: backend))
    }

    init(profile: SRTPProfile, contexts: [SRTPKeyContext], replayWindow: Int = 128) {
        (self.profile, self.contexts) = (profile, contexts)
        mkiLength = contexts.first?.mki.count ?? 0
        window = SRTPReplayWindow(size: replayWindow)
    }

    /// A receiver for another SSRC under the same keys (a session's template).
    func forNewStream() throws(MediaSecurityError) -> SRTCPReceiver {
        let contexts = try SRTPKeyContext.forNewStream(self.contexts)
        return SRTCPReceiver(profile: profile, contexts: contexts, replayWindow: window.size)
    }

    /// Unprotects `packet` in place; on failure it is left as it was.
    /// - Throws: ``MediaSecurityError/Code/malformed``, ``MediaSecurityError/Code/unknownMKI``,
    ///   ``MediaSecurityError/Code/authenticationFailed``, ``MediaSecurityError/Code/replayed``,
    ///   ``MediaSecurityError/Code/tooOld``.
    public func unprotect(_ packet: inout [UInt8]) throws(MediaSecurityError) {
        let tagLength = profile.srtcpTagLength, aeadLayout = profile.isAEAD
        guard packet.count >= 8 + 4 + tagLength + mkiLength, packet[0] >> 6 == 2 else {
            throw MediaSecurityError(.malformed, "not an SRTCP packet")
        }
        // HMAC suites: header || payload || E+index || MKI || tag (the tag covers up to the index);
        // AEAD: header || ciphertext || tag || E+index || MKI (RFC 7714 §17).
        let mkiStart = aeadLayout ? packet.count - mkiLength : packet.count - tagLength - mkiLength
        let wordStart = mkiStart - 4
        let tagStart = aeadLayout ? wordStart - tagLength : packet.count - tagLength
        let payloadEnd = aeadLayout ? tagStart : wordStart
        let context = try context(packet: packet, mkiStart: mkiStart)
        let (word, ssrc) = packet.withUnsafeBytes { (BigEndian.uint32($0, at: wordStart), BigEndian.uint32($0, at: 4)) }
        let encrypted = word >> 31 == 1, index = word & 0x7FFF_FFFF
        if let refusal = window.check(UInt64(index)) { throw MediaSecurityError(refusal, "SRTCP index \(index)") }
        let keys = try context.keys(for: UInt64(index))
        let outcome: MediaSecurityError.Code?
        if let aead = keys.aead {
            var iv = (UInt64(0), UInt32(0))
            keys.aeadIV(ssrc: ssrc, high: index >> 16, low: index & 0xFFFF, into: &iv)
            // AAD: E = 1, the header and E || index; E = 0, everything before the tag and E || index.
            var aad = [UInt8](packet[0..<(encrypted ? 8 : tagStart)]) + packet[wordStart..<mkiStart]
            defer { aad.removeAll() }
            let opened = packet.withUnsafeMutableBytes { bytes in
                withUnsafeBytes(of: &iv) { ivBytes in
                    aad.withUnsafeBytes { aadBytes in
                        aead.open(iv: ivBytes.baseAddress!.assumingMemoryBound(to: UInt8.self), aad: aadBytes,
                                  text: UnsafeMutableRawBufferPointer(rebasing: bytes[(encrypted ? 8 : tagStart)..<tagStart]),
                                  tag: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[tagStart..<wordStart]))
                    }
                }
            }
            outcome = opened ? nil : .authenticationFailed
        } else {
            outcome = packet.withUnsafeMutableBytes { bytes in
                let readOnly = UnsafeRawBufferPointer(bytes)
                var expected = (UInt64(0), UInt64(0), UInt32(0))
                let computed = withUnsafeMutableBytes(of: &expected) { output in
                    keys.mac.authenticate(UnsafeRawBufferPointer(rebasing: readOnly[..<mkiStart]),
                                          trailer: UnsafeRawBufferPointer(start: nil, count: 0),
                                          into: output.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
                guard computed else { return .backendFailure }
                let matches = withUnsafeBytes(of: &expected) { tag in
                    ConstantTime.equal(UnsafeRawBufferPointer(rebasing: tag[..<tagLength]),
                                       UnsafeRawBufferPointer(rebasing: readOnly[tagStart...]))
                }
                guard matches else { return .authenticationFailed }
                guard encrypted else { return nil }
                return keys.crypt(UnsafeMutableRawBufferPointer(rebasing: bytes[8..<payloadEnd]), ssrc: ssrc,
                                  index: UInt64(index)) ? nil : .backendFailure
            }
        }
        if let outcome { throw MediaSecurityError(outcome, "cannot unprotect the SRTCP packet") }
        window.accept(UInt64(index))
        context.adopt(keys, index: UInt64(index))
        packet.removeLast(packet.count - payloadEnd)
    }

    /// The master key the MKI at `mkiStart` names (the only one when there is no MKI).
    private func context(packet: [UInt8], mkiStart: Int) throws(MediaSecurityError) -> SRTPKeyContext {
        guard mkiLength > 0 else { return contexts[0] }
        let mki = packet[mkiStart..<(mkiStart + mkiLength)]
        for context in contexts where context.mki.elementsEqual(mki) { return context }
        throw MediaSecurityError(.unknownMKI, "the packet's MKI names no master key")
    }
}
