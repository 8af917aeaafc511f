/// The SRTP protection profiles (crypto suites) of RFC 3711, RFC 6188 and RFC 7714, by their RFC 4568 names.
public enum SRTPProfile: String, Hashable, Sendable, CaseIterable {
    case aes128CMHMACSHA1_80 = "AES_CM_128_HMAC_SHA1_80"
    case aes128CMHMACSHA1_32 = "AES_CM_128_HMAC_SHA1_32"
    case aes256CMHMACSHA1_80 = "AES_256_CM_HMAC_SHA1_80"
    case aes256CMHMACSHA1_32 = "AES_256_CM_HMAC_SHA1_32"

    /// The profile with this SDES name, or nil.
    public init?(name: String) { self.init(rawValue: name) }

    /// The RFC 4568 name.
    public var name: String { rawValue }

    /// Master (and session) encryption key length in octets.
    public var keyLength: Int {
        switch self {
        case .aes128CMHMACSHA1_80, .aes128CMHMACSHA1_32: 16
        case .aes256CMHMACSHA1_80, .aes256CMHMACSHA1_32: 32
        }
    }

    /// Master salt length in octets (112 bits for the counter-mode suites, RFC 3711 §8.2).
    public var saltLength: Int { 14 }

    /// Session authentication key length in octets (160 bits, RFC 3711 §8.2).
    public var authKeyLength: Int { 20 }

    /// The SRTP authentication tag length in octets.
    public var srtpTagLength: Int {
        switch self {
        case .aes128CMHMACSHA1_80, .aes256CMHMACSHA1_80: 10
        case .aes128CMHMACSHA1_32, .aes256CMHMACSHA1_32: 4
        }
    }

    /// The SRTCP tag length: 80 bits for every HMAC-SHA1 suite (RFC 3711 §5.2; the _32 suites shorten SRTP's only).
    public var srtcpTagLength: Int { 10 }
}
