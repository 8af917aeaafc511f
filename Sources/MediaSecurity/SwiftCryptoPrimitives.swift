import Crypto
import Foundation
import CryptoExtras

// The portable backend: swift-crypto's public API. It takes a key per call, so each packet re-keys and copies;
// the OpenSSL backend is the fast path. Kept free of OpenSSL imports (BoringSSL and OpenSSL headers clash).

final class SwiftCryptoCounterMode: CounterModeCipher {
    private let key: SymmetricKey  // zeroed by swift-crypto when released

    init(key: [UInt8]) throws(MediaSecurityError) {
        guard [16, 24, 32].contains(key.count) else {
            throw MediaSecurityError(.invalidKey, "AES keys are 16, 24 or 32 octets")
        }
        self.key = SymmetricKey(data: key)
    }

    func apply(iv: UnsafePointer<UInt8>, to bytes: UnsafeMutableRawBufferPointer) -> Bool {
        guard bytes.count > 0 else { return true }
        do {
            let nonce = try AES._CTR.Nonce(nonceBytes: UnsafeBufferPointer(start: iv, count: 16))
            let keystreamed = try AES._CTR.encrypt(UnsafeRawBufferPointer(bytes), using: key, nonce: nonce)
            guard keystreamed.count == bytes.count else { return false }
            keystreamed.withUnsafeBytes { bytes.copyMemory(from: $0) }
            return true
        } catch {
            return false
        }
    }
}

final class SwiftCryptoHMACSHA1: MessageAuthenticator {
    /// The keyed state; a copy per packet carries the prepared pads.
    private let keyed: HMAC<Insecure.SHA1>

    init(key: [UInt8]) { keyed = HMAC<Insecure.SHA1>(key: SymmetricKey(data: key)) }

    func authenticate(_ message: UnsafeRawBufferPointer, trailer: UnsafeRawBufferPointer,
                      into output: UnsafeMutablePointer<UInt8>) -> Bool {
        var state = keyed
        state.update(data: message)
        state.update(data: trailer)
        let code = state.finalize()
        code.withUnsafeBytes { digest in
            UnsafeMutableRawBufferPointer(start: output, count: 20).copyMemory(from: digest)
        }
        return true
    }
}

final class SwiftCryptoGCM: AEADCipher {
    private let key: SymmetricKey

    init(key: [UInt8]) throws(MediaSecurityError) {
        guard key.count == 16 || key.count == 32 else {
            throw MediaSecurityError(.invalidKey, "AES-GCM keys are 16 or 32 octets")
        }
        self.key = SymmetricKey(data: key)
    }

    func seal(iv: UnsafePointer<UInt8>, aad: UnsafeRawBufferPointer, text: UnsafeMutableRawBufferPointer,
              tag: UnsafeMutablePointer<UInt8>) -> Bool {
        do {
            let nonce = try AES.GCM.Nonce(data: UnsafeRawBufferPointer(start: iv, count: 12))
            let box = try AES.GCM.seal(UnsafeRawBufferPointer(text), using: key, nonce: nonce, authenticating: aad)
            guard box.ciphertext.count == text.count, box.tag.count == 16 else { return false }
            box.ciphertext.withUnsafeBytes { text.copyMemory(from: $0) }
            box.tag.withUnsafeBytes { UnsafeMutableRawBufferPointer(start: tag, count: 16).copyMemory(from: $0) }
            return true
        } catch {
            return false
        }
    }

    func open(iv: UnsafePointer<UInt8>, aad: UnsafeRawBufferPointer, text: UnsafeMutableRawBufferPointer,
              tag: UnsafeRawBufferPointer) -> Bool {
        do {
            let nonce = try AES.GCM.Nonce(data: UnsafeRawBufferPointer(start: iv, count: 12))
            let box = try AES.GCM.SealedBox(nonce: nonce, ciphertext: UnsafeRawBufferPointer(text), tag: tag)
            let plain = try AES.GCM.open(box, using: key, authenticating: aad)
            guard plain.count == text.count else { return false }
            plain.withUnsafeBytes { text.copyMemory(from: $0) }
            return true
        } catch {
            return false  // nothing was written: the ciphertext stays as it was
        }
    }
}
