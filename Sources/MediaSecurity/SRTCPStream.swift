/// Protects outgoing RTCP packets (compound packets included) of one sender (RFC 3711 §3.4): everything after the
/// first 8 octets is encrypted, then the E flag and the 31-bit SRTCP index and the 80-bit tag are appended.
public final class SRTCPSender {
    let context: SRTPCryptoContext
    /// The next SRTCP index: 0 for the first packet (RFC 3711 §3.3.2; libsrtp2 starts at 1, either is read fine).
    private(set) var nextIndex: UInt32

    /// A sender for `profile` with the master key and salt of the SRTP session.
    /// - Throws: ``MediaSecurityError/Code/invalidKey`` for wrong lengths.
    public convenience init(profile: SRTPProfile, masterKey: [UInt8], masterSalt: [UInt8]) throws(MediaSecurityError) {
        try self.init(profile: profile, masterKey: masterKey, masterSalt: masterSalt, firstIndex: 0)
    }

    init(profile: SRTPProfile, masterKey: [UInt8], masterSalt: [UInt8], firstIndex: UInt32) throws(MediaSecurityError) {
        context = try SRTPCryptoContext(profile: profile, masterKey: masterKey, masterSalt: masterSalt, rtcp: true)
        nextIndex = firstIndex
    }

    /// Protects `packet` in place.
    /// - Throws: ``MediaSecurityError/Code/malformed`` for a packet shorter than an RTCP header or not version 2,
    ///   ``MediaSecurityError/Code/keyExhausted`` after 2^31 packets.
    public func protect(_ packet: inout [UInt8]) throws(MediaSecurityError) {
        guard packet.count >= 8, packet[0] >> 6 == 2 else { throw MediaSecurityError(.malformed, "not an RTCP packet") }
        guard nextIndex < 1 << 31 else { throw MediaSecurityError(.keyExhausted, "2^31 SRTCP packets under one key") }
        let index = nextIndex
        let ssrc = UInt32(packet[4]) << 24 | UInt32(packet[5]) << 16 | UInt32(packet[6]) << 8 | UInt32(packet[7])
        if let aead = context.aead {
            try protectAEAD(&packet, aead, ssrc: ssrc, index: index)
            nextIndex += 1
            return
        }
        let encrypted = packet.withUnsafeMutableBytes { bytes in
            context.crypt(UnsafeMutableRawBufferPointer(rebasing: bytes[8...]), ssrc: ssrc, index: UInt64(index))
        }
        guard encrypted else { throw MediaSecurityError(.backendFailure, "AES-CM") }
        let word = (UInt32(1) << 31 | index).bigEndian  // E = 1: encrypted
        withUnsafeBytes(of: word) { packet.append(contentsOf: $0) }
        var tag = (UInt64(0), UInt64(0), UInt32(0))
        let authenticated = packet.withUnsafeBytes { message in
            withUnsafeMutableBytes(of: &tag) { output in
                context.mac.authenticate(message, trailer: UnsafeRawBufferPointer(start: nil, count: 0),
                                         into: output.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        guard authenticated else { throw MediaSecurityError(.backendFailure, "HMAC-SHA1") }
        withUnsafeBytes(of: &tag) { packet.append(contentsOf: $0.prefix(context.profile.srtcpTagLength)) }
        nextIndex += 1
    }

    /// RFC 7714 §9, §17: AAD = the first 8 octets and E || index; the rest encrypted; then the tag, then E || index.
    private func protectAEAD(_ packet: inout [UInt8], _ aead: AESGCM, ssrc: UInt32, index: UInt32)
        throws(MediaSecurityError)
    {
        let word = (UInt32(1) << 31 | index).bigEndian
        var aad = (UInt64(0), UInt32(0))
        withUnsafeMutableBytes(of: &aad) { aadBytes in
            for position in 0..<8 { aadBytes[position] = packet[position] }
            withUnsafeBytes(of: word) { for position in 0..<4 { aadBytes[8 + position] = $0[position] } }
        }
        var iv = (UInt64(0), UInt32(0))
        context.aeadIV(ssrc: ssrc, high: index >> 16, low: index & 0xFFFF, into: &iv)
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
    }
}

/// Unprotects incoming SRTCP packets of one sender: the tag in constant time, the index against a replay window,
/// then decryption in place (when the E flag says the packet was encrypted) and the trailer stripped.
public final class SRTCPReceiver {
    let context: SRTPCryptoContext
    private var window: SRTPReplayWindow

    /// A receiver for `profile` with the master key and salt of the SRTP session.
    public init(profile: SRTPProfile, masterKey: [UInt8], masterSalt: [UInt8], replayWindow: Int = 128)
        throws(MediaSecurityError)
    {
        context = try SRTPCryptoContext(profile: profile, masterKey: masterKey, masterSalt: masterSalt, rtcp: true)
        window = SRTPReplayWindow(size: replayWindow)
    }

    /// Unprotects `packet` in place; on failure it is left as it was.
    /// - Throws: ``MediaSecurityError/Code/malformed``, ``MediaSecurityError/Code/authenticationFailed``,
    ///   ``MediaSecurityError/Code/replayed``, ``MediaSecurityError/Code/tooOld``.
    public func unprotect(_ packet: inout [UInt8]) throws(MediaSecurityError) {
        if let aead = context.aead { return try unprotectAEAD(&packet, aead) }
        let tagLength = context.profile.srtcpTagLength
        guard packet.count >= 8 + 4 + tagLength, packet[0] >> 6 == 2 else {
            throw MediaSecurityError(.malformed, "not an SRTCP packet")
        }
        let trailerStart = packet.count - tagLength - 4
        let word = UInt32(packet[trailerStart]) << 24 | UInt32(packet[trailerStart + 1]) << 16
            | UInt32(packet[trailerStart + 2]) << 8 | UInt32(packet[trailerStart + 3])
        let encrypted = word >> 31 == 1, index = UInt64(word & 0x7FFF_FFFF)
        if let refusal = window.check(index) { throw MediaSecurityError(refusal, "SRTCP index \(index)") }
        let outcome: MediaSecurityError.Code? = packet.withUnsafeMutableBytes { bytes in
            let message = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[..<(bytes.count - tagLength)])
            var expected = (UInt64(0), UInt64(0), UInt32(0))
            let computed = withUnsafeMutableBytes(of: &expected) { output in
                context.mac.authenticate(message, trailer: UnsafeRawBufferPointer(start: nil, count: 0),
                                         into: output.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            guard computed else { return .backendFailure }
            let matches = withUnsafeBytes(of: &expected) { tag in
                ConstantTime.equal(UnsafeRawBufferPointer(rebasing: tag[..<tagLength]),
                                   UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[(bytes.count - tagLength)...]))
            }
            guard matches else { return .authenticationFailed }
            if encrypted {
                let ssrc = UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7])
                guard context.crypt(UnsafeMutableRawBufferPointer(rebasing: bytes[8..<trailerStart]), ssrc: ssrc,
                                    index: index)
                else { return .backendFailure }
            }
            return nil
        }
        if let outcome { throw MediaSecurityError(outcome, "cannot unprotect the SRTCP packet") }
        window.accept(index)
        packet.removeLast(4 + tagLength)
    }

    /// RFC 7714 §9, §17: header, ciphertext, 16-octet tag, E || index; with E = 0 the whole packet is AAD.
    private func unprotectAEAD(_ packet: inout [UInt8], _ aead: AESGCM) throws(MediaSecurityError) {
        let tagLength = AESGCM.tagLength
        guard packet.count >= 8 + tagLength + 4, packet[0] >> 6 == 2 else {
            throw MediaSecurityError(.malformed, "not an SRTCP packet")
        }
        let wordStart = packet.count - 4, tagStart = wordStart - tagLength
        let word = UInt32(packet[wordStart]) << 24 | UInt32(packet[wordStart + 1]) << 16
            | UInt32(packet[wordStart + 2]) << 8 | UInt32(packet[wordStart + 3])
        let encrypted = word >> 31 == 1, index = word & 0x7FFF_FFFF
        if let refusal = window.check(UInt64(index)) { throw MediaSecurityError(refusal, "SRTCP index \(index)") }
        let ssrc = UInt32(packet[4]) << 24 | UInt32(packet[5]) << 16 | UInt32(packet[6]) << 8 | UInt32(packet[7])
        var iv = (UInt64(0), UInt32(0))
        context.aeadIV(ssrc: ssrc, high: index >> 16, low: index & 0xFFFF, into: &iv)
        // AAD: E = 1, the header and E || index; E = 0, everything before the tag and E || index.
        var aad = [UInt8](packet[0..<(encrypted ? 8 : tagStart)]) + packet[wordStart...]
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
        guard opened else { throw MediaSecurityError(.authenticationFailed, "cannot unprotect the SRTCP packet") }
        window.accept(UInt64(index))
        packet.removeLast(tagLength + 4)
    }
}
