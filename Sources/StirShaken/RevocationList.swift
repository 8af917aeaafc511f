import CertificateAuthority
import Foundation
import SwiftASN1
import X509

/// A certificate revocation list (RFC 5280 §5) an STI-CA publishes: the serial numbers it revoked, signed by the
/// CA. Read with swift-asn1 and checked with swift-certificates (ECDSA P-256/P-384 signatures only, as SHAKEN's
/// PKI uses). A list is used only for certificates of the issuer it names, and only when its signature verifies
/// under that issuer's key.
public struct RevocationList: Hashable, Sendable {
    /// Whose certificates it lists.
    public let issuer: DistinguishedName
    public let thisUpdate: Date
    public let nextUpdate: Date?
    /// The revoked serial numbers (big-endian bytes without leading zeros).
    public let revokedSerials: Set<[UInt8]>
    private let signedBytes: [UInt8]
    private let signature: [UInt8]
    private let algorithm: Certificate.SignatureAlgorithm

    /// The most entries read from one list.
    public static let maxEntries = 100_000

    /// Why a list was not read.
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Reads one list, DER or PEM (`X509 CRL`).
    public init(_ bytes: [UInt8]) throws(ParseError) {
        var der = bytes
        if let text = String(validating: bytes, as: UTF8.self), text.contains("-----BEGIN X509 CRL-----") {
            guard let document = try? PEMDocument(pemString: text), document.discriminator == "X509 CRL" else {
                throw ParseError(description: "not a PEM CRL")
            }
            der = Array(document.derBytes)
        }
        do {
            let root = try DER.parse(der)
            guard case .constructed(let parts) = root.content else { throw ParseError(description: "not a CRL") }
            var iterator = parts.makeIterator()
            guard let tbs = iterator.next(), let algorithmNode = iterator.next(), let signatureNode = iterator.next(),
                iterator.next() == nil, case .constructed(let fields) = tbs.content
            else { throw ParseError(description: "not a CRL") }
            signedBytes = Array(tbs.encodedBytes)
            algorithm = try Self.algorithm(algorithmNode)
            signature = Array(try ASN1BitString(derEncoded: signatureNode).bytes)
            var field = fields.makeIterator()
            var next = field.next()
            if let version = next, version.identifier == .integer { next = field.next() }  // v2
            guard next != nil else { throw ParseError(description: "no signature algorithm") }  // signature (inner)
            guard let issuerNode = field.next() else { throw ParseError(description: "no issuer") }
            issuer = try DistinguishedName(derEncoded: issuerNode)
            guard let thisNode = field.next() else { throw ParseError(description: "no thisUpdate") }
            thisUpdate = try Self.date(thisNode)
            next = field.next()
            if let candidate = next, candidate.identifier == .utcTime || candidate.identifier == .generalizedTime {
                nextUpdate = try Self.date(candidate)
                next = field.next()
            } else {
                nextUpdate = nil
            }
            var revoked: Set<[UInt8]> = []
            if let list = next, list.identifier == .sequence, case .constructed(let entries) = list.content {
                for entry in entries {
                    guard revoked.count < Self.maxEntries else { throw ParseError(description: "too many entries") }
                    guard case .constructed(let members) = entry.content, let serialNode = members.first(where: { _ in true }),
                        serialNode.identifier == .integer, case .primitive(let serial) = serialNode.content
                    else { throw ParseError(description: "a bad revoked entry") }
                    revoked.insert(Self.magnitude(serial))
                }
            }
            revokedSerials = revoked
        } catch let error as ParseError {
            throw error
        } catch {
            throw ParseError(description: "not a CRL: \(error)")
        }
    }

    private static func algorithm(_ node: ASN1Node) throws -> Certificate.SignatureAlgorithm {
        guard case .constructed(let parts) = node.content, let oidNode = parts.first(where: { _ in true }) else {
            throw ParseError(description: "a bad signature algorithm")
        }
        switch try ASN1ObjectIdentifier(derEncoded: oidNode) {
        case [1, 2, 840, 10045, 4, 3, 2]: return .ecdsaWithSHA256
        case [1, 2, 840, 10045, 4, 3, 3]: return .ecdsaWithSHA384
        default: throw ParseError(description: "a CRL not signed with ECDSA-SHA256 or -SHA384")
        }
    }

    private static func date(_ node: ASN1Node) throws -> Date {
        guard let date = ASN1Time.date(node) else { throw ParseError(description: "a bad time") }
        return date
    }

    /// Whether `issuerCertificate` signed this list.
    public func isSigned(by issuerCertificate: Certificate) -> Bool {
        issuerCertificate.subject == issuer
            && issuerCertificate.publicKey.isValidSignature(signature, for: signedBytes, signatureAlgorithm: algorithm)
    }

    /// Whether it revokes `certificate` (a certificate of the list's issuer).
    public func revokes(_ certificate: Certificate) -> Bool {
        certificate.issuer == issuer && revokedSerials.contains(Self.magnitude(certificate.serialNumber.bytes))
    }

    /// A serial number's bytes without leading zeros: DER writes a 0 before a first byte of 128 or more, and a
    /// certificate's serial may be kept with or without it.
    static func magnitude(_ bytes: some Collection<UInt8>) -> [UInt8] {
        Array(bytes.drop { $0 == 0 })
    }
}
