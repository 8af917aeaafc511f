import SIPMessage

/// Typed access to the authentication headers of a SIP message (RFC 3261 §22, RFC 7616 §3.3-3.4).
extension SIPMessage {
    /// Digest credentials from Authorization (for a registrar or UAS) or Proxy-Authorization (for a proxy).
    ///
    /// - Parameter proxy: read Proxy-Authorization instead of Authorization.
    /// - Throws: ``DigestError``; ``DigestError/Code/unsupportedScheme`` for a non-Digest scheme, which a
    ///   server answers with a fresh Digest challenge (RFC 4475 §3.3.7).
    public func digestCredentials(proxy: Bool = false, limits: DigestParsingLimits = DigestParsingLimits())
        throws(DigestError) -> [DigestCredentials]
    {
        var result: [DigestCredentials] = []
        for field in fields(proxy ? .proxyAuthorization : .authorization) {
            result.append(try DigestCredentials(parsing: field.value, limits: limits))
        }
        return result
    }

    /// Digest challenges from WWW-Authenticate (401) or Proxy-Authenticate (407), in the order offered.
    /// - Throws: ``DigestError``.
    public func digestChallenges(proxy: Bool = false, limits: DigestParsingLimits = DigestParsingLimits())
        throws(DigestError) -> [DigestChallenge]
    {
        var result: [DigestChallenge] = []
        for field in fields(proxy ? .proxyAuthenticate : .wwwAuthenticate) {
            result.append(try DigestChallenge(parsing: field.value, limits: limits))
        }
        return result
    }
}
