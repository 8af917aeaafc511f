/// The SRTP protection profiles (crypto suites) of RFC 3711, RFC 6188 (AES-192 and AES-256) and RFC 7714, by their
/// RFC 4568 names.
public enum SRTPProfile: String, Hashable, Sendable, CaseIterable {
    case aes128CMHMACSHA1_80 = "AES_CM_128_HMAC_SHA1_80"
    case aes128CMHMACSHA1_32 = "AES_CM_128_HMAC_SHA1_32"
    case aes192CMHMACSHA1_80 = "AES_192_CM_HMAC_SHA1_80"
    case aes192CMHMACSHA1_32 = "AES_192_CM_HMAC_SHA1_32"
    case aes256CMHMACSHA1_80 = "AES_256_CM_HMAC_SHA1_80"
    case aes256CMHMACSHA1_32 = "AES_256_CM_HMAC_SHA1_32"
    case aeadAES128GCM = "AEAD_AES_128_GCM"
    case aeadAES256GCM = "AEAD_AES_256_GCM"

    /// Whether the suite is an AEAD (RFC 7714): AES-GCM authenticates and encrypts in one pass.
    public var isAEAD: Bool { self == .aeadAES128GCM || self == .aeadAES256GCM }

    /// The profile with this SDES name, or nil.
    public init?(name: String) { self.init(rawValue: name) }

    /// The RFC 4568 name.
    public var name: String { rawValue }

    /// Master (and session) encryption key length in octets.
    public var keyLength: Int {
        switch self {
        case .aes128CMHMACSHA1_80, .aes128CMHMACSHA1_32, .aeadAES128GCM: 16
        case .aes192CMHMACSHA1_80, .aes192CMHMACSHA1_32: 24
        case .aes256CMHMACSHA1_80, .aes256CMHMACSHA1_32, .aeadAES256GCM: 32
        }
    }

    /// Master salt length in octets: 112 bits for the counter-mode suites (RFC 3711 §8.2), 96 for AEAD (RFC 7714 §12).
    public var saltLength: Int { isAEAD ? 12 : 14 }

    /// Session authentication key length in octets (160 bits, RFC 3711 §8.2; none for AEAD).
    public var authKeyLength: Int { isAEAD ? 0 : 20 }

    /// The SRTP authentication tag length in octets.
    public var srtpTagLength: Int {
        switch self {
        case .aes128CMHMACSHA1_80, .aes192CMHMACSHA1_80, .aes256CMHMACSHA1_80: 10
        case .aes128CMHMACSHA1_32, .aes192CMHMACSHA1_32, .aes256CMHMACSHA1_32: 4
        case .aeadAES128GCM, .aeadAES256GCM: 16
        }
    }

    /// The SRTCP tag length: 80 bits for every HMAC-SHA1 suite (RFC 3711 §5.2; the _32 suites shorten SRTP's only),
    /// 128 for AEAD.
    public var srtcpTagLength: Int { isAEAD ? 16 : 10 }
}
