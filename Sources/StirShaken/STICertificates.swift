import Crypto
import Foundation
import SwiftASN1
import X509

/// A signer's certificate as its x5u URL serves it: the end-entity certificate first, then the intermediates that
/// lead to an STI-CA root. The whole chain is kept (a cache that kept only the first certificate failed every call
/// after the first: kamailio#3246).
public struct STICertificateChain: Hashable, Sendable {
    /// The most certificates one chain may hold (a chain of a hundred links is refused, not walked).
    public static let maxCertificates = 8
    /// The largest chain read, as served.
    public static let maxBytes = 64 * 1_024

    public let leaf: Certificate
    public let intermediates: [Certificate]

    /// Reads PEM (one or more certificates) or a single DER certificate (`application/pkix-cert`).
    public init(served bytes: [UInt8]) throws(Verstat.Reason) {
        guard !bytes.isEmpty, bytes.count <= Self.maxBytes else { throw .x5uFetchFailed }
        var certificates: [Certificate] = []
        if let text = String(validating: bytes, as: UTF8.self), text.contains("-----BEGIN") {
            let (blocks, truncated) = Self.pemCertificateBlocks(text)
            guard !truncated, blocks.count <= Self.maxCertificates else { throw .certUntrusted }
            for pem in blocks {
                guard let certificate = try? Certificate(pemEncoded: pem) else { throw .certUntrusted }
                certificates.append(certificate)
            }
        } else if let certificate = try? Certificate(derEncoded: bytes) {
            certificates = [certificate]
        }
        guard let leaf = certificates.first else { throw .certUntrusted }
        self.leaf = leaf
        self.intermediates = Array(certificates.dropFirst())
    }

    /// The `CERTIFICATE` blocks of PEM text, each from its BEGIN line to its END line (other blocks left out), and
    /// whether the text ends inside one (a BEGIN without its END).
    static func pemCertificateBlocks(_ text: String) -> (blocks: [String], truncated: Bool) {
        var blocks: [String] = []
        for block in text.components(separatedBy: "-----BEGIN CERTIFICATE-----").dropFirst() {
            guard let end = block.range(of: "-----END CERTIFICATE-----") else { return (blocks, true) }
            blocks.append("-----BEGIN CERTIFICATE-----" + block[..<end.upperBound])
        }
        return (blocks, false)
    }

    /// The chain as PEM, leaf first (what a cache stores and an x5u URL serves).
    public func pem() throws -> String {
        try ([leaf] + intermediates).map { try $0.serializeAsPEM().pemString + "\n" }.joined()
    }
}

/// The STI-CA roots a verifier trusts, and the check of a signer's chain against them.
public struct STITrust: Sendable {
    public let roots: [Certificate]
    /// Revocation lists of the STI-CAs (none: no revocation checking).
    public var revocationLists: [RevocationList] = []
    /// The budget of precomputed tables the signers this trust hands out draw on.
    public var keyTables: ES256KeyTables = .shared

    public init(roots: [Certificate], revocationLists: [RevocationList] = []) {
        self.roots = roots
        self.revocationLists = revocationLists
    }

    /// Roots from PEM text (one or more certificates).
    public init(pem: String) throws {
        let roots = try STICertificateChain.pemCertificateBlocks(pem).blocks.map { try Certificate(pemEncoded: $0) }
        guard !roots.isEmpty else { throw Verstat.Reason.certUntrusted }
        self.roots = roots
    }

    /// What a chain that checks out tells a verifier.
    public struct Signer: Sendable {
        /// The key PASSporTs must be signed with, as the verifier holds it (a hot key gets a table of its multiples).
        public let verifyingKey: ES256VerifyingKey
        public var key: P256.Signing.PublicKey { verifyingKey.key }
        /// The numbers or service provider codes the certificate speaks for.
        public let authority: TNAuthList
        /// When the first certificate of the chain expires: a cached signer is good until then at most.
        public let notValidAfter: Date
    }

    /// Checks `chain` at `now`: the end-entity certificate in its validity period, fit to sign (a P-256 key, the
    /// digitalSignature usage when key usage is given), chaining to one of the roots under RFC 5280's rules, and
    /// carrying a TNAuthList.
    public func evaluate(_ chain: STICertificateChain, at now: Date) async -> Result<Signer, Verstat.Reason> {
        let leaf = chain.leaf
        guard leaf.notValidBefore <= now, now <= leaf.notValidAfter else { return .failure(.certExpired) }
        guard let key = P256.Signing.PublicKey(leaf.publicKey) else { return .failure(.certUntrusted) }
        if let usage = try? leaf.extensions.keyUsage, !usage.digitalSignature { return .failure(.certUntrusted) }
        var verifier = Verifier(rootCertificates: CertificateStore(roots)) {
            RFC5280Policy(validationTime: now)
            TNAuthListIsUnderstood()
        }
        guard case .validCertificate(let validated) = await verifier.validate(
            leaf: leaf, intermediates: CertificateStore(chain.intermediates))
        else {
            // An intermediate out of its validity period is an expiry, not a stranger.
            let expired = chain.intermediates.contains { !($0.notValidBefore <= now && now <= $0.notValidAfter) }
            return .failure(expired ? .certExpired : .certUntrusted)
        }
        // Each certificate below the root against its issuer's lists (only lists that issuer signed count).
        let path = Array(validated)
        for (certificate, issuer) in zip(path, path.dropFirst()) {
            if revocationLists.contains(where: { $0.revokes(certificate) && $0.isSigned(by: issuer) }) {
                return .failure(.certRevoked)
            }
        }
        guard let authority = try? TNAuthList(certificate: leaf) else { return .failure(.notCovered) }
        let expiry = ([leaf] + chain.intermediates).map(\.notValidAfter).min() ?? leaf.notValidAfter
        return .success(Signer(verifyingKey: ES256VerifyingKey(key, tables: keyTables), authority: authority,
                               notValidAfter: expiry))
    }
}

/// Lets a chain whose certificate marks TNAuthList critical be built: the verifier checks the list itself.
struct TNAuthListIsUnderstood: VerifierPolicy {
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [TNAuthList.oid]
    func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult { .meetsPolicy }
}
