#if canImport(COpenSSL)
import COpenSSL

/// AES-GCM (RFC 7714's AEAD for SRTP and SRTCP) with one encrypting and one decrypting context whose key
/// schedules are expanded once: each packet only sets its 12-octet IV.
final class AESGCM {
    private let encryptor: OpaquePointer
    private let decryptor: OpaquePointer
    static let tagLength = 16
    /// The tag travels through OSSL_PARAMs made once: EVP_CIPHER_CTX_ctrl would build them, and look their names
    /// up, on every packet.
    private let tagBuffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 16)
    /// OSSL_CIPHER_PARAM_AEAD_TAG, as a C string that lives as long as the process.
    nonisolated(unsafe) private static let tagName: UnsafeMutablePointer<CChar> = {  // written once, then only read
        let name = UnsafeMutablePointer<CChar>.allocate(capacity: 4)
        name.initialize(from: [0x74, 0x61, 0x67, 0], count: 4)
        return name
    }()
    private let tagParams = UnsafeMutablePointer<OSSL_PARAM>.allocate(capacity: 2)

    /// A cipher for a 16- or 32-octet key.
    init(key: [UInt8]) throws(MediaSecurityError) {
        let cipher: OpaquePointer?
        switch key.count {
        case 16: cipher = EVP_aes_128_gcm()
        case 32: cipher = EVP_aes_256_gcm()
        default: throw MediaSecurityError(.invalidKey, "AES-GCM keys are 16 or 32 octets")
        }
        guard let encryptor = EVP_CIPHER_CTX_new(), let decryptor = EVP_CIPHER_CTX_new() else {
            throw MediaSecurityError(.backendFailure, "EVP_CIPHER_CTX_new")
        }
        (self.encryptor, self.decryptor) = (encryptor, decryptor)
        tagParams[0] = OSSL_PARAM_construct_octet_string(Self.tagName, tagBuffer, 16)
        tagParams[1] = OSSL_PARAM_construct_end()
        guard EVP_EncryptInit_ex(encryptor, cipher, nil, key, nil) == 1,
            EVP_DecryptInit_ex(decryptor, cipher, nil, key, nil) == 1
        else { throw MediaSecurityError(.backendFailure, "AES-GCM key setup") }
    }

    deinit {
        EVP_CIPHER_CTX_free(encryptor)
        EVP_CIPHER_CTX_free(decryptor)
        tagBuffer.deallocate()
        tagParams.deallocate()
    }

    /// Encrypts `text` in place and writes the 16-octet tag over `aad` and the ciphertext to `tag`.
    func seal(iv: UnsafePointer<UInt8>, aad: UnsafeRawBufferPointer, text: UnsafeMutableRawBufferPointer,
              tag: UnsafeMutablePointer<UInt8>) -> Bool {
        var length: Int32 = 0
        guard EVP_EncryptInit_ex(encryptor, nil, nil, nil, iv) == 1 else { return false }
        if aad.count > 0 {
            guard EVP_EncryptUpdate(encryptor, nil, &length, aad.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                    Int32(aad.count)) == 1
            else { return false }
        }
        if let base = text.baseAddress?.assumingMemoryBound(to: UInt8.self), text.count > 0 {
            guard EVP_EncryptUpdate(encryptor, base, &length, base, Int32(text.count)) == 1 else { return false }
        }
        var scratch: UInt8 = 0
        guard EVP_EncryptFinal_ex(encryptor, &scratch, &length) == 1,
            EVP_CIPHER_CTX_get_params(encryptor, tagParams) == 1
        else { return false }
        tag.update(from: tagBuffer, count: Self.tagLength)
        return true
    }

    /// Decrypts `text` in place if `tag` verifies over `aad` and the ciphertext; otherwise leaves `text` as it was
    /// and returns false.
    func open(iv: UnsafePointer<UInt8>, aad: UnsafeRawBufferPointer, text: UnsafeMutableRawBufferPointer,
              tag: UnsafeRawBufferPointer) -> Bool {
        guard tag.count == Self.tagLength, transform(iv: iv, aad: aad, text: text) else { return false }
        var length: Int32 = 0, scratch: UInt8 = 0
        UnsafeMutableRawPointer(tagBuffer).copyMemory(from: tag.baseAddress!, byteCount: Self.tagLength)
        let verified = EVP_CIPHER_CTX_set_params(decryptor, tagParams) == 1
            && EVP_DecryptFinal_ex(decryptor, &scratch, &length) == 1
        if !verified {
            // GCM decrypts as counter mode does: the same keystream again gives the ciphertext back.
            _ = transform(iv: iv, aad: UnsafeRawBufferPointer(start: nil, count: 0), text: text)
        }
        return verified
    }

    private func transform(iv: UnsafePointer<UInt8>, aad: UnsafeRawBufferPointer, text: UnsafeMutableRawBufferPointer)
        -> Bool
    {
        var length: Int32 = 0
        guard EVP_DecryptInit_ex(decryptor, nil, nil, nil, iv) == 1 else { return false }
        if aad.count > 0 {
            guard EVP_DecryptUpdate(decryptor, nil, &length, aad.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                    Int32(aad.count)) == 1
            else { return false }
        }
        if let base = text.baseAddress?.assumingMemoryBound(to: UInt8.self), text.count > 0 {
            guard EVP_DecryptUpdate(decryptor, base, &length, base, Int32(text.count)) == 1 else { return false }
        }
        return true
    }
}
#endif
