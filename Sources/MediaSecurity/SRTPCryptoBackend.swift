/// Which crypto library runs SRTP's primitives. Both pass every vector and interoperate with libsrtp2; they differ
/// in speed and portability.
public enum SRTPCryptoBackend: String, Hashable, Sendable, CaseIterable {
    #if canImport(COpenSSL)
    /// The system OpenSSL 3 (EVP): key schedules and HMAC pads are expanded once per stream and packets are
    /// transformed in place. The fast path, and the default where OpenSSL is there (Linux).
    case openSSL
    #endif
    /// swift-crypto's public API: portable (Apple platforms), but it re-keys and copies on every packet, so it
    /// runs several times slower than the OpenSSL backend. The only one on Apple platforms and in the portable
    /// build (`RAMPART_PORTABLE_MEDIA=1`).
    case swiftCrypto

    /// OpenSSL where it is linked, else swift-crypto.
    public static var preferred: SRTPCryptoBackend {
        #if canImport(COpenSSL)
        .openSSL
        #else
        .swiftCrypto
        #endif
    }

    func counterMode(key: [UInt8]) throws(MediaSecurityError) -> any CounterModeCipher {
        switch self {
        #if canImport(COpenSSL)
        case .openSSL: try AESCounterMode(key: key)
        #endif
        case .swiftCrypto: try SwiftCryptoCounterMode(key: key)
        }
    }

    func hmacSHA1(key: [UInt8]) throws(MediaSecurityError) -> any MessageAuthenticator {
        switch self {
        #if canImport(COpenSSL)
        case .openSSL: try HMACSHA1(key: key)
        #endif
        case .swiftCrypto: SwiftCryptoHMACSHA1(key: key)
        }
    }

    func gcm(key: [UInt8]) throws(MediaSecurityError) -> any AEADCipher {
        switch self {
        #if canImport(COpenSSL)
        case .openSSL: try AESGCM(key: key)
        #endif
        case .swiftCrypto: try SwiftCryptoGCM(key: key)
        }
    }
}

/// AES in counter mode with its key set up once.
protocol CounterModeCipher: AnyObject {
    /// XORs the keystream that starts at the 16-octet counter block `iv` into `bytes` in place.
    func apply(iv: UnsafePointer<UInt8>, to bytes: UnsafeMutableRawBufferPointer) -> Bool
}

/// HMAC-SHA1 with its key set up once.
protocol MessageAuthenticator: AnyObject {
    /// The 20-octet MAC of `message` followed by `trailer`, written to `output`.
    func authenticate(_ message: UnsafeRawBufferPointer, trailer: UnsafeRawBufferPointer,
                      into output: UnsafeMutablePointer<UInt8>) -> Bool
}

/// AES-GCM with a 12-octet IV and a 16-octet tag, its key set up once.
protocol AEADCipher: AnyObject {
    /// Encrypts `text` in place and writes the tag over `aad` and the ciphertext to `tag`.
    func seal(iv: UnsafePointer<UInt8>, aad: UnsafeRawBufferPointer, text: UnsafeMutableRawBufferPointer,
              tag: UnsafeMutablePointer<UInt8>) -> Bool
    /// Decrypts `text` in place if `tag` verifies; otherwise leaves `text` as it was and returns false.
    func open(iv: UnsafePointer<UInt8>, aad: UnsafeRawBufferPointer, text: UnsafeMutableRawBufferPointer,
              tag: UnsafeRawBufferPointer) -> Bool
}

#if canImport(COpenSSL)
extension AESCounterMode: CounterModeCipher {}
extension HMACSHA1: MessageAuthenticator {}
extension AESGCM: AEADCipher {}
#endif
