import Crypto
import Foundation

/// STI-AS (RFC 8224 §5, RFC 8588): signs a call's identity as an Identity header value.
public struct StirSigner: Sendable {
    private let key: P256.Signing.PrivateKey
    /// Where verifiers fetch the signer's certificate chain.
    public let certificateURL: String

    /// The protected header, encoded once: it names only the algorithm, the extension and the URL.
    private let headerSegment: String

    public init(key: P256.Signing.PrivateKey, certificateURL: String) {
        self.key = key
        self.certificateURL = certificateURL
        self.headerSegment = Base64URL.encode(PASSporT.Header(x5u: certificateURL).json.canonical)
    }

    /// Reads a PEM private key (PKCS#8 or SEC1) for P-256.
    public init(keyPEM: String, certificateURL: String) throws {
        self.init(key: try P256.Signing.PrivateKey(pemRepresentation: keyPEM), certificateURL: certificateURL)
    }

    /// The Identity header value for a call from `orig` to `dest` (normalised numbers):
    /// `<PASSporT>;info=<x5u>;alg=ES256;ppt=shaken`.
    public func identity(orig: String, dest: [String], attest: PASSporT.Attestation, origid: String = UUID().uuidString.lowercased(),
                         iat: Int64) throws -> String
    {
        let token = try PASSporT.sign(
            headerSegment: headerSegment,
            claims: .init(orig: .tn(orig), destTNs: dest, iat: iat, attest: attest, origid: origid), with: key)
        return "\(token);info=<\(certificateURL)>;alg=ES256;ppt=shaken"
    }
}
