/// The SRTP key derivation function (RFC 3711 §4.3; RFC 6188 §3 for AES-256): session keys from the master key and
/// salt with the AES-CM PRF.
public enum SRTPKeyDerivation {
    /// The labels of RFC 3711 §4.3.1-4.3.2.
    public enum Label: UInt8, Sendable {
        case rtpEncryption = 0, rtpAuthentication = 1, rtpSalt = 2
        case rtcpEncryption = 3, rtcpAuthentication = 4, rtcpSalt = 5
    }

    /// The largest key derivation rate RFC 3711 §4.3.1 allows (2^24).
    public static let maximumRate: UInt64 = 1 << 24

    /// `length` octets of session key for `label` at packet index `index` with key derivation rate `rate` (0: derive
    /// once; otherwise a power of two up to 2^24).
    /// - Throws: ``MediaSecurityError/Code/invalidKey`` for a master key not of 16, 24 or 32 octets, a salt not of
    ///   14 (or 12 for AEAD) octets, or a rate that is not 0 or a power of two up to 2^24;
    ///   ``MediaSecurityError/Code/backendFailure``.
    public static func derive(_ label: Label, masterKey: [UInt8], masterSalt: [UInt8], length: Int,
                              index: UInt64 = 0, rate: UInt64 = 0, backend: SRTPCryptoBackend = .preferred)
        throws(MediaSecurityError) -> [UInt8]
    {
        guard isValid(rate: rate) else {
            throw MediaSecurityError(.invalidKey, "the key derivation rate is 0 or a power of two up to 2^24")
        }
        return try derive(label, masterKey: masterKey, masterSalt: masterSalt, length: length,
                          r: rate == 0 ? 0 : index / rate, backend: backend)
    }

    /// Whether `rate` is a key derivation rate RFC 3711 allows.
    public static func isValid(rate: UInt64) -> Bool { rate == 0 || (rate <= maximumRate && rate & (rate - 1) == 0) }

    /// The derivation for r = index DIV key_derivation_rate directly.
    static func derive(_ label: Label, masterKey: [UInt8], masterSalt: [UInt8], length: Int, r: UInt64,
                       backend: SRTPCryptoBackend) throws(MediaSecurityError) -> [UInt8] {
        guard masterSalt.count == 14 || masterSalt.count == 12 else {
            throw MediaSecurityError(.invalidKey, "master salts are 14 octets (12 for AEAD)")
        }
        let cipher = try backend.counterMode(key: masterKey)
        // x = (label || r) XOR master salt, r 48 bits, right-aligned; the PRF input is x * 2^16. A 96-bit AEAD
        // salt is taken as the first 96 of 112 bits (RFC 7714 §11, as libsrtp2 does).
        var iv = masterSalt + [UInt8](repeating: 0, count: 16 - masterSalt.count)
        iv[7] ^= label.rawValue
        for octet in 0..<6 { iv[8 + octet] ^= UInt8(truncatingIfNeeded: r >> UInt64(8 * (5 - octet))) }
        var output = [UInt8](repeating: 0, count: length)
        let ok = iv.withUnsafeBufferPointer { ivBuffer in
            output.withUnsafeMutableBytes { cipher.apply(iv: ivBuffer.baseAddress!, to: $0) }
        }
        guard ok else { throw MediaSecurityError(.backendFailure, "AES-CM PRF") }
        return output
    }
}
