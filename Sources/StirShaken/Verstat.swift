/// The outcome of verifying a request's identity (ATIS-1000074 §5.3.1 `verstat`, RFC 8224 §6.2).
public enum Verstat: Hashable, Sendable {
    /// The PASSporT's signature, certificate and claims check out: `TN-Validation-Passed`.
    case passed
    /// A PASSporT was there and did not hold: `TN-Validation-Failed`.
    case failed(Reason)
    /// Nothing this verifier could check: no Identity header, or only ones it cannot read (the RFC 4474 form, a
    /// foreign `ppt`): `No-TN-Validation`.
    case noValidation(Reason)

    /// Why a verification did not pass.
    public enum Reason: String, Hashable, Sendable, CaseIterable {
        /// No Identity header.
        case missing = "missing"
        /// An Identity header that is not a PASSporT (the obsolete RFC 4474 form, for one).
        case unreadable = "unreadable"
        /// A PASSporT extension other than `shaken`.
        case unsupportedPPT = "unsupported-ppt"
        /// A signature algorithm other than ES256 (`none` and `HS256` included).
        case unsupportedAlgorithm = "unsupported-alg"
        /// Not a well-formed PASSporT: bad base64url, bad JSON, a claim missing or of the wrong type.
        case malformed = "malformed"
        /// The signature does not verify under the certificate's key.
        case badSignature = "bad-signature"
        /// `iat` outside the freshness window.
        case staleIat = "stale-iat"
        /// `orig` is not the number the request comes from.
        case origMismatch = "orig-mismatch"
        /// `dest` does not include the number the request goes to.
        case destMismatch = "dest-mismatch"
        /// The `info` parameter and the `x5u` header differ, or the URL is not one this verifier fetches.
        case x5uMismatch = "x5u-mismatch"
        /// The certificate URL names an address the address policy forbids (loopback, private, metadata...).
        case x5uForbidden = "x5u-forbidden"
        /// The certificate could not be fetched (refused, too slow, too big, not HTTP 200).
        case x5uFetchFailed = "x5u-fetch-failed"
        /// The certificate does not chain to a configured STI-CA root, or is not fit to sign PASSporTs.
        case certUntrusted = "cert-untrusted"
        /// The certificate is expired or not yet valid.
        case certExpired = "cert-expired"
        /// A configured revocation list of its issuer lists the certificate (or one of the chain's).
        case certRevoked = "cert-revoked"
        /// The certificate's TNAuthList covers neither the calling number nor carries an SPC.
        case notCovered = "tn-not-covered"
    }

    /// The `verstat` parameter's value.
    public var parameterValue: String {
        switch self {
        case .passed: "TN-Validation-Passed"
        case .failed: "TN-Validation-Failed"
        case .noValidation: "No-TN-Validation"
        }
    }

    /// The reason, nil when passed.
    public var reason: Reason? {
        switch self {
        case .passed: nil
        case .failed(let reason), .noValidation(let reason): reason
        }
    }

    /// The response that refuses the request when the policy rejects it (RFC 8224 §6.2.2, §13.3), nil when passed:
    /// 428 for no identity, 436 for a certificate that cannot be had, 437 for one not trusted, 403 Stale Date for an
    /// old `iat`, 438 for the rest.
    public var rejection: (status: Int, reason: String)? {
        switch self {
        case .passed: nil
        case .noValidation: (428, "Use Identity Header")
        case .failed(let reason):
            switch reason {
            case .x5uMismatch, .x5uForbidden, .x5uFetchFailed: (436, "Bad Identity Info")
            case .certUntrusted, .certExpired, .certRevoked, .notCovered: (437, "Unsupported Credential")
            case .staleIat: (403, "Stale Date")
            default: (438, "Invalid Identity Header")
            }
        }
    }
}
