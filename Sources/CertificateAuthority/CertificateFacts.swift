import Foundation
import SwiftASN1

/// What `rampart lint` needs to know of a certificate: when it expires, and whether its key or signature is weak.
/// Read from the DER structure itself (RFC 5280 §4.1), not through swift-certificates, which refuses to load
/// exactly the certificates this is for (RSA keys under 2,048 bits).
public struct CertificateFacts: Sendable, Hashable {
    public var notValidAfter: Date
    /// The RSA modulus size, for RSA keys.
    public var rsaBits: Int?
    /// Signed with SHA-1 (collisions are practical: a forged certificate can share the signature).
    public var signedWithSHA1: Bool

    /// The facts of the first certificate in a PEM file's text; nil if it holds none that parses.
    public init?(pem: String) {
        guard let start = pem.range(of: "-----BEGIN CERTIFICATE-----"),
            let end = pem.range(of: "-----END CERTIFICATE-----", range: start.upperBound..<pem.endIndex),
            let der = Data(base64Encoded: String(pem[start.upperBound..<end.lowerBound]),
                           options: .ignoreUnknownCharacters),
            let certificate = try? DER.parse(Array(der))
        else { return nil }
        func children(_ node: ASN1Node) -> [ASN1Node] {
            if case .constructed(let collection) = node.content { return Array(collection) }
            return []
        }
        func bytes(_ node: ASN1Node) -> ArraySlice<UInt8> {
            if case .primitive(let bytes) = node.content { return bytes }
            return []
        }
        let parts = children(certificate)
        guard parts.count == 3 else { return nil }
        var tbs = children(parts[0])[...]
        if tbs.first?.identifier.tagClass == .contextSpecific { tbs = tbs.dropFirst() }  // [0] version
        // serial, signature, issuer, validity, subject, subjectPublicKeyInfo
        guard tbs.count >= 6 else { return nil }
        let fields = Array(tbs)
        let validity = children(fields[3])
        guard validity.count == 2 else { return nil }
        guard let date = ASN1Time.date(validity[1]) else { return nil }
        notValidAfter = date
        // sha1WithRSAEncryption 1.2.840.113549.1.1.5, ecdsa-with-SHA1 1.2.840.10045.4.1
        let signatureOID = children(parts[1]).first.map(bytes) ?? []
        signedWithSHA1 = signatureOID == [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x05]
            || signatureOID == [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x01]
        // rsaEncryption 1.2.840.113549.1.1.1: the BIT STRING holds RSAPublicKey { modulus, publicExponent }.
        let keyInfo = children(fields[5])
        rsaBits = nil
        if keyInfo.count == 2, children(keyInfo[0]).first.map(bytes) == [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01],
            let key = try? DER.parse(bytes(keyInfo[1]).dropFirst()),  // the unused-bits octet
            let modulus = children(key).first
        {
            let digits = bytes(modulus).drop { $0 == 0 }
            rsaBits = digits.first.map { (digits.count - 1) * 8 + (8 - $0.leadingZeroBitCount) } ?? 0
        }
    }
}
