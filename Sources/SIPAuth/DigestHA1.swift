// The Digest computations (RFC 7616 §3.4.1-3.4.3, RFC 2617 §3.2.2):
//
//   HA1      = H(username ":" realm ":" passwd)                         (stored)
//   -sess    : HA1' = H(HA1 ":" nonce ":" cnonce)
//   HA2      = H(method ":" digest-uri)                                 qop=auth or none
//            = H(method ":" digest-uri ":" H(entity-body))              qop=auth-int
//   response = H(HA1' ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)      with qop
//            = H(HA1' ":" nonce ":" HA2)                                without qop (RFC 2069)

/// A stored Digest secret: the hex HA1 = H(username ":" realm ":" password) of one user in
/// one realm for one algorithm (RFC 7616 §3.4.2, §5.2; RFC 3261 §22.4).
///
/// Registrars store HA1s, never passwords: compute one per algorithm at provisioning time
/// with ``init(algorithm:username:realm:password:)`` and keep ``hexValue``. An HA1 is
/// password-equivalent for its realm, so ``description``, ``debugDescription`` and
/// reflection (`dump`) are redacted, and equality runs in constant time.
///
/// For a `-sess` algorithm the stored value is the same H(username ":" realm ":" password);
/// the session step with the nonce and cnonce is applied when a response is computed.
public struct DigestHA1: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The algorithm this HA1 is for (RFC 7616 §3.4.2).
    public let algorithm: DigestAlgorithm
    /// The user name hashed into the HA1 (RFC 7616 §3.4.2 `username`).
    public let username: String
    /// The realm hashed into the HA1 (RFC 7616 §3.4.2 `realm`).
    public let realm: String
    // Lowercase ASCII hex digits.
    private let digits: [UInt8]

    /// Computes HA1 = H(username ":" realm ":" password) (RFC 7616 §3.4.2). The strings
    /// are hashed as UTF-8; RFC 7616 §4 asks that they be in Unicode Normalization Form C,
    /// which the caller must ensure.
    public init(algorithm: DigestAlgorithm, username: String, realm: String, password: String) {
        var hasher = DigestHasher(algorithm.hashFunction)
        hasher.update(username)
        hasher.update(":")
        hasher.update(realm)
        hasher.update(":")
        hasher.update(password)
        self.algorithm = algorithm
        self.username = username
        self.realm = realm
        self.digits = Array(hasher.finalizeHex().utf8)
    }

    /// An HA1 loaded from storage: `hexValue` must be ``DigestAlgorithm/hexLength`` hex
    /// digits (RFC 7616 §3.4.2); either case is accepted.
    public init(algorithm: DigestAlgorithm, username: String, realm: String, hexValue: String)
        throws(DigestError)
    {
        guard isHex(hexValue, length: algorithm.hexLength) else {
            throw DigestError(
                code: .invalidParameterValue,
                reason: "stored HA1 is not \(algorithm.hexLength) hex digits for \(algorithm.token)")
        }
        self.algorithm = algorithm
        self.username = username
        self.realm = realm
        self.digits = hexValue.utf8.map(\.lowercasedASCII)
    }

    /// The HA1 in lowercase hex, for storage (RFC 7616 §5.2). It is password-equivalent:
    /// never log it.
    public var hexValue: String { String(decoding: digits, as: UTF8.self) }

    /// Redacted: names the algorithm, user and realm, never the HA1 (RFC 7616 §5.2).
    public var description: String {
        "DigestHA1(\(algorithm.token), username: \(username), realm: \(realm), <redacted>)"
    }

    /// Redacted, as ``description`` (RFC 7616 §5.2).
    public var debugDescription: String { description }

    /// Redacted reflection, so `dump` and debuggers do not print the HA1 (RFC 7616 §5.2).
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "algorithm": algorithm, "username": username, "realm": realm, "hexValue": "<redacted>",
            ],
            displayStyle: .struct)
    }

    /// Equal when algorithm, user, realm and HA1 are; the HA1s compare in constant time
    /// (RFC 7616 §3.4.2).
    public static func == (lhs: DigestHA1, rhs: DigestHA1) -> Bool {
        let secretsEqual = constantTimeEquals(lhs.digits, rhs.digits)
        return secretsEqual && lhs.algorithm == rhs.algorithm && lhs.username == rhs.username
            && lhs.realm == rhs.realm
    }

    /// The `response` a client holding this HA1 computes (RFC 7616 §3.4.1; RFC 2617
    /// §3.2.2.1 without `qop`).
    ///
    /// - Parameters:
    ///   - method: the request method (RFC 3261 §22.4: the SIP method, `REGISTER`, ...).
    ///   - uri: the `uri` parameter exactly as sent (RFC 7616 §3.4 `digest-uri`).
    ///   - nonce: the server's nonce.
    ///   - qop: `auth`, `auth-int`, or `nil` for the RFC 2069 form.
    ///   - nonceCount: `nc`; required with a qop.
    ///   - cnonce: the client nonce; required with a qop and for `-sess` algorithms.
    ///   - body: the message body, hashed for `auth-int` (RFC 7616 §3.4.3; RFC 3261 §22.4
    ///     hashes an empty body as the empty string).
    /// - Returns: the response in lowercase hex, ``DigestAlgorithm/hexLength`` digits.
    public func response(
        method: String,
        uri: String,
        nonce: String,
        qop: DigestQOP?,
        nonceCount: DigestNonceCount?,
        cnonce: String?,
        body: [UInt8] = []
    ) throws(DigestError) -> String {
        let function = algorithm.hashFunction

        if let qop {
            guard qop.isSupported else {
                throw DigestError(code: .unsupportedQOP, reason: "qop \(loggable(qop.token)) is not auth or auth-int")
            }
            guard nonceCount != nil else {
                throw DigestError(code: .missingParameter, reason: "nc is required with qop")
            }
            guard cnonce != nil else {
                throw DigestError(code: .missingParameter, reason: "cnonce is required with qop")
            }
        }

        // RFC 7616 §3.4.2: the session key for -sess.
        var sessionKey = digits
        if algorithm.isSession {
            guard let cnonce else {
                throw DigestError(code: .missingParameter, reason: "cnonce is required by \(algorithm.token)")
            }
            var hasher = DigestHasher(function)
            hasher.update(digits)
            hasher.update(":")
            hasher.update(nonce)
            hasher.update(":")
            hasher.update(cnonce)
            sessionKey = Array(hasher.finalizeHex().utf8)
        }

        // RFC 7616 §3.4.3: HA2.
        var ha2Hasher = DigestHasher(function)
        ha2Hasher.update(method)
        ha2Hasher.update(":")
        ha2Hasher.update(uri)
        if qop == .authInt {
            ha2Hasher.update(":")
            ha2Hasher.update(algorithm.hexDigest(body))
        }
        let ha2 = ha2Hasher.finalizeHex()

        // RFC 7616 §3.4.1: the response.
        var hasher = DigestHasher(function)
        hasher.update(sessionKey)
        hasher.update(":")
        hasher.update(nonce)
        hasher.update(":")
        if let qop, let nonceCount, let cnonce {
            hasher.update(nonceCount.text)
            hasher.update(":")
            hasher.update(cnonce)
            hasher.update(":")
            hasher.update(qop.token)
            hasher.update(":")
        }
        hasher.update(ha2)
        return hasher.finalizeHex()
    }
}

extension DigestHA1 {
    /// The algorithms an account is provisioned for by default: RFC 8760's SHA-256 and SHA-512-256, and MD5
    /// because most deployed phones speak nothing else (RFC 8760 §2.4; policy can refuse it per realm).
    public static let provisionedAlgorithms: [DigestAlgorithm] = [.sha256, .sha512_256, DigestAlgorithm.Insecure.md5]

    /// The HA1 values to store for a new password, keyed by algorithm token; the password itself is not kept.
    public static func storedValues(
        username: String, realm: String, password: String, algorithms: [DigestAlgorithm] = provisionedAlgorithms
    ) -> [String: String] {
        var values: [String: String] = [:]
        for algorithm in algorithms {
            values[algorithm.token] = DigestHA1(algorithm: algorithm, username: username, realm: realm, password: password)
                .hexValue
        }
        return values
    }
}
