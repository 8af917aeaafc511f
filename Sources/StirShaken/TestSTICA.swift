import Crypto
import Foundation
import SwiftASN1
import X509

/// A test STI-CA (`rampart stir ca init`): a root (the trust anchor verifiers configure) and an intermediate that
/// issues service provider certificates with a TNAuthList (`rampart stir cert issue`), all P-256. For operators to
/// try signing and verification without a real STI-CA; production certificates come from an STI-CA.
public struct TestSTICA: Sendable {
    public let root: Certificate
    public let intermediate: Certificate
    private let intermediateKey: P256.Signing.PrivateKey

    /// A new root (ten years) and intermediate (five), the root's key discarded once it has signed.
    public static func create(now: Date = Date()) throws -> TestSTICA {
        let rootKey = P256.Signing.PrivateKey()
        let rootName = try DistinguishedName { CommonName("Rampart Test STI-CA Root"); OrganizationName("Rampart") }
        let root = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(rootKey.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(10 * 365 * 86_400),
            issuer: rootName, subject: rootName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 1))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(rootKey.publicKey))
            },
            issuerPrivateKey: .init(rootKey))
        let key = P256.Signing.PrivateKey()
        let intermediate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(5 * 365 * 86_400),
            issuer: rootName,
            subject: try DistinguishedName { CommonName("Rampart Test STI-CA Intermediate"); OrganizationName("Rampart") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(key.publicKey))
                AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: .init(rootKey.publicKey)).keyIdentifier)
            },
            issuerPrivateKey: .init(rootKey))
        return TestSTICA(root: root, intermediate: intermediate, intermediateKey: key)
    }

    /// Loads the intermediate (certificate and key) and the root.
    public init(rootPEM: String, intermediatePEM: String, intermediateKeyPEM: String) throws {
        self.root = try Certificate(pemEncoded: rootPEM)
        self.intermediate = try Certificate(pemEncoded: intermediatePEM)
        self.intermediateKey = try P256.Signing.PrivateKey(pemRepresentation: intermediateKeyPEM)
    }

    private init(root: Certificate, intermediate: Certificate, intermediateKey: P256.Signing.PrivateKey) {
        (self.root, self.intermediate, self.intermediateKey) = (root, intermediate, intermediateKey)
    }

    /// The intermediate's key, PEM (PKCS#8). Write it owner-only.
    public var intermediateKeyPEM: String { intermediateKey.pemRepresentation }

    /// A service provider certificate for `authority` (an SPC and/or numbers), valid `days` from `now`: the chain
    /// an x5u URL serves (the certificate, then the intermediate) and its key.
    public func issue(authority: TNAuthList, commonName: String, days: Int = 365, now: Date = Date()) throws
        -> (chainPEM: String, keyPEM: String)
    {
        let key = P256.Signing.PrivateKey()
        let tnAuthList = try authority.certificateExtension()
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(Double(days) * 86_400),
            issuer: intermediate.subject, subject: try DistinguishedName { CommonName(commonName) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                SubjectKeyIdentifier(hash: .init(key.publicKey))
                AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: .init(intermediateKey.publicKey)).keyIdentifier)
                tnAuthList
            },
            issuerPrivateKey: .init(intermediateKey))
        let chain = try certificate.serializeAsPEM().pemString + "\n" + intermediate.serializeAsPEM().pemString + "\n"
        return (chain, key.pemRepresentation)
    }
}
