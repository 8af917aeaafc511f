import Crypto

/// Records signed with the trail's key: an `audit.erase` record carries an Ed25519 signature over its own content,
/// so that someone who can write the database but does not hold the key cannot erase a record's content and append
/// an erasure that excuses it (the next checkpoint would otherwise sign what it finds).
extension AuditContent {
    /// The detail that holds a record's signature (hexadecimal).
    public static let signatureDetail = "signature"

    /// What the signature covers: a label, then the canonical encoding of the content without its signature.
    func signedBytes() -> [UInt8]? {
        var unsigned = self
        unsigned.details[Self.signatureDetail] = nil
        guard let encoded = try? unsigned.canonicalEncoding() else { return nil }
        return Array("rampart audit record signature 1\u{0}".utf8) + encoded
    }
}

extension AuditSigner {
    /// `content` with its signature as the ``AuditContent/signatureDetail`` detail.
    public func signed(_ content: AuditContent) -> AuditContent {
        guard let bytes = content.signedBytes() else { return content }
        var signed = content
        signed.details[AuditContent.signatureDetail] = AuditHex.encode(sign(bytes))
        return signed
    }
}

extension AuditPublicKey {
    /// Whether `content` carries a signature that verifies under this key.
    public func isValidSignature(of content: AuditContent) -> Bool {
        guard let text = content.details[AuditContent.signatureDetail], let signature = AuditHex.decode(text),
            let bytes = content.signedBytes()
        else { return false }
        return isValid(signature: signature, for: bytes)
    }
}
