#if canImport(COpenSSL)
import COpenSSL
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

// The few things MediaSecurity needs beyond a cipher: wiping, constant-time comparison and key generation. With
// OpenSSL they are OpenSSL's; without it (Apple platforms, the portable build) the C library's.

/// Overwrites key material with zeros in a way the optimiser cannot drop (`OPENSSL_cleanse`, `memset_s`,
/// `explicit_bzero`).
func cleanse(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { cleanse($0) }
}

/// The same for raw memory.
func cleanse(_ raw: UnsafeMutableRawBufferPointer) {
    guard let base = raw.baseAddress, raw.count > 0 else { return }
    #if canImport(COpenSSL)
    OPENSSL_cleanse(base, raw.count)
    #elseif canImport(Darwin)
    _ = memset_s(base, raw.count, 0, raw.count)
    #else
    explicit_bzero(base, raw.count)
    #endif
}

/// Comparison whose time does not depend on where the inputs differ (`CRYPTO_memcmp`, or an OR of XORs).
enum ConstantTime {
    static func equal(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
        guard lhs.count == rhs.count else { return false }
        guard let left = lhs.baseAddress, let right = rhs.baseAddress else { return lhs.count == 0 }
        #if canImport(COpenSSL)
        return CRYPTO_memcmp(left, right, lhs.count) == 0
        #else
        var difference: UInt8 = 0
        for index in 0..<lhs.count { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
        #endif
    }
}

/// Fills `bytes` from a cryptographically secure generator (OpenSSL's `RAND_bytes`, or the system's:
/// `getrandom`, `arc4random`).
func fillRandom(_ bytes: inout [UInt8]) throws(MediaSecurityError) {
    #if canImport(COpenSSL)
    guard RAND_bytes(&bytes, Int32(bytes.count)) == 1 else { throw MediaSecurityError(.backendFailure, "RAND_bytes") }
    #else
    var generator = SystemRandomNumberGenerator()
    for index in bytes.indices { bytes[index] = generator.next() }
    #endif
}
