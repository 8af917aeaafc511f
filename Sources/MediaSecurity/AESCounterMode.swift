#if canImport(COpenSSL)
import COpenSSL

/// AES in counter mode (RFC 3711 §4.1.1) with its key schedule expanded once: each packet only sets a new IV and
/// XORs the keystream into the buffer in place.
final class AESCounterMode {
    private let context: OpaquePointer

    /// A cipher for a 16-, 24- or 32-octet key.
    init(key: [UInt8]) throws(MediaSecurityError) {
        let cipher: OpaquePointer?
        switch key.count {
        case 16: cipher = EVP_aes_128_ctr()
        case 24: cipher = EVP_aes_192_ctr()
        case 32: cipher = EVP_aes_256_ctr()
        default: throw MediaSecurityError(.invalidKey, "AES keys are 16, 24 or 32 octets")
        }
        guard let made = EVP_CIPHER_CTX_new() else { throw MediaSecurityError(.backendFailure, "EVP_CIPHER_CTX_new") }
        context = made
        let zeroIV = [UInt8](repeating: 0, count: 16)
        guard EVP_EncryptInit_ex(context, cipher, nil, key, zeroIV) == 1 else {
            EVP_CIPHER_CTX_free(context)
            throw MediaSecurityError(.backendFailure, "EVP_EncryptInit_ex")
        }
    }

    deinit { EVP_CIPHER_CTX_free(context) }  // frees (and cleanses) the key schedule

    /// XORs the keystream that starts at `iv` (16 octets) into `bytes` in place.
    func apply(iv: UnsafePointer<UInt8>, to bytes: UnsafeMutableRawBufferPointer) -> Bool {
        guard EVP_EncryptInit_ex(context, nil, nil, nil, iv) == 1 else { return false }
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count > 0 else { return true }
        var written: Int32 = 0
        return EVP_EncryptUpdate(context, base, &written, base, Int32(bytes.count)) == 1
    }
}

/// HMAC-SHA1 (RFC 2104) with the key's inner and outer pads hashed once: each packet copies the two prepared
/// digest states instead of re-keying.
final class HMACSHA1 {
    private let inner: OpaquePointer
    private let outer: OpaquePointer
    private let work: OpaquePointer

    init(key: [UInt8]) throws(MediaSecurityError) {
        guard let inner = EVP_MD_CTX_new(), let outer = EVP_MD_CTX_new(), let work = EVP_MD_CTX_new() else {
            throw MediaSecurityError(.backendFailure, "EVP_MD_CTX_new")
        }
        (self.inner, self.outer, self.work) = (inner, outer, work)
        var block = [UInt8](repeating: 0, count: 64)
        defer { cleanse(&block) }
        guard key.count <= 64 else { throw MediaSecurityError(.invalidKey, "HMAC keys longer than a block") }
        block.replaceSubrange(0..<key.count, with: key)
        var pad = block.map { $0 ^ 0x36 }
        guard EVP_DigestInit_ex(inner, EVP_sha1(), nil) == 1, EVP_DigestUpdate(inner, pad, 64) == 1 else {
            throw MediaSecurityError(.backendFailure, "SHA-1 inner pad")
        }
        pad = block.map { $0 ^ 0x5C }
        defer { cleanse(&pad) }
        guard EVP_DigestInit_ex(outer, EVP_sha1(), nil) == 1, EVP_DigestUpdate(outer, pad, 64) == 1 else {
            throw MediaSecurityError(.backendFailure, "SHA-1 outer pad")
        }
    }

    deinit {
        EVP_MD_CTX_free(inner)
        EVP_MD_CTX_free(outer)
        EVP_MD_CTX_free(work)
    }

    /// The 20-octet MAC of `message` followed by `trailer`, written to `output`.
    func authenticate(_ message: UnsafeRawBufferPointer, trailer: UnsafeRawBufferPointer,
                      into output: UnsafeMutablePointer<UInt8>) -> Bool {
        var length: UInt32 = 0
        guard EVP_MD_CTX_copy_ex(work, inner) == 1,
            EVP_DigestUpdate(work, message.baseAddress, message.count) == 1,
            EVP_DigestUpdate(work, trailer.baseAddress, trailer.count) == 1,
            EVP_DigestFinal_ex(work, output, &length) == 1,
            EVP_MD_CTX_copy_ex(work, outer) == 1,
            EVP_DigestUpdate(work, output, 20) == 1,
            EVP_DigestFinal_ex(work, output, &length) == 1
        else { return false }
        return true
    }
}
#endif
