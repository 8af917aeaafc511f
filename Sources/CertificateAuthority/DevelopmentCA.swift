import Crypto
import Foundation
import SwiftASN1
import X509

/// A private certificate authority for development and tests: it signs the edge's TLS certificate and the client
/// certificates used for mutual TLS (`rampart cert issue`). P-256 keys, ECDSA-SHA256, short validity.
///
/// It is for a fresh install that must work without configuration; production deployments give the edge a
/// certificate from their own PKI.
public struct DevelopmentCA: Sendable {
    /// The CA certificate.
    public let certificate: Certificate
    private let privateKey: P256.Signing.PrivateKey

    /// What an issued certificate comes with.
    public struct Issued: Sendable {
        /// The certificate, PEM.
        public let certificatePEM: String
        /// Its private key, PEM (PKCS#8). Write it owner-only.
        public let privateKeyPEM: String
        /// SHA-256 of the certificate's DER, lowercase hex: what device bindings store.
        public let fingerprint: String
    }

    /// Creates a new CA valid for ten years from `now`.
    public static func create(commonName: String = "Rampart Development CA", now: Date = Date()) throws -> DevelopmentCA {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(commonName); OrganizationName("Rampart") }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(10 * 365 * 86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(key.publicKey))
            },
            issuerPrivateKey: .init(key))
        return DevelopmentCA(certificate: certificate, privateKey: key)
    }

    /// Loads a CA from its PEM files' contents.
    public init(certificatePEM: String, privateKeyPEM: String) throws {
        self.certificate = try Certificate(pemEncoded: certificatePEM)
        self.privateKey = try P256.Signing.PrivateKey(pemRepresentation: privateKeyPEM)
    }

    private init(certificate: Certificate, privateKey: P256.Signing.PrivateKey) {
        self.certificate = certificate
        self.privateKey = privateKey
    }

    /// The CA certificate, PEM.
    public func certificatePEM() throws -> String { try certificate.serializeAsPEM().pemString }
    /// The CA key, PEM (PKCS#8).
    public var privateKeyPEM: String { privateKey.pemRepresentation }

    /// A server certificate for the given DNS names and IP addresses, valid one year. It may authenticate the edge
    /// as a TLS client too (both extended key usages), since a SIP server also opens connections to other servers
    /// and to Contacts (RFC 5922 §7).
    public func issueServerCertificate(dnsNames: [String], ipAddresses: [[UInt8]], now: Date = Date()) throws -> Issued {
        let names = dnsNames.map { GeneralName.dnsName($0) }
            + ipAddresses.map { GeneralName.ipAddress(ASN1OctetString(contentBytes: ArraySlice($0))) }
        return try issue(commonName: dnsNames.first ?? "rampart", alternativeNames: names, usage: [.serverAuth, .clientAuth],
                         validity: 365 * 86_400, now: now)
    }

    /// A client certificate for a device of `username@domain`, with `sip:username@domain` as its SAN URI
    /// (RFC 5922 §7.1 identity form), valid one year.
    public func issueClientCertificate(username: String, domain: String, now: Date = Date()) throws -> Issued {
        try issue(commonName: username, alternativeNames: [.uniformResourceIdentifier("sip:\(username)@\(domain)")],
                  usage: [.clientAuth], validity: 365 * 86_400, now: now)
    }

    private func issue(
        commonName: String, alternativeNames: [GeneralName], usage: [ExtendedKeyUsage.Usage], validity: TimeInterval,
        now: Date
    ) throws -> Issued {
        let key = P256.Signing.PrivateKey()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(validity),
            issuer: self.certificate.subject, subject: try DistinguishedName { CommonName(commonName) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage(usage)
                SubjectAlternativeNames(alternativeNames)
            },
            issuerPrivateKey: .init(privateKey))
        return Issued(certificatePEM: try certificate.serializeAsPEM().pemString,
                      privateKeyPEM: key.pemRepresentation, fingerprint: try Self.fingerprint(of: certificate))
    }

    /// SHA-256 of a certificate's DER, lowercase hex (what `openssl x509 -fingerprint -sha256` shows).
    public static func fingerprint(of certificate: Certificate) throws -> String {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return SHA256.hash(data: serializer.serializedBytes).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// The fingerprint of a PEM certificate.
    public static func fingerprint(ofPEM pem: String) throws -> String {
        try fingerprint(of: Certificate(pemEncoded: pem))
    }
}
