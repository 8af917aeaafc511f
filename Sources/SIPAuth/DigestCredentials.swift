/// Digest credentials: the value of an `Authorization` or `Proxy-Authorization` header
/// field (RFC 7616 §3.4; RFC 3261 §22.4, §25.1 `digest-response`; RFC 8760 §2).
///
/// A server parses them with ``init(parsing:limits:)`` and checks them with
/// ``verify(expectedHA1:method:body:)``; a client builds them with
/// ``init(answering:ha1:method:uri:cnonce:nonceCount:body:)`` and writes them with
/// ``serialized()``. ``description`` redacts `response`, which would allow an offline
/// dictionary attack on the password if logged.
public struct DigestCredentials: Hashable, Sendable, CustomStringConvertible {
    /// How the user name is carried (RFC 7616 §3.4).
    public enum UsernameForm: Hashable, Sendable {
        /// `username="..."`: a quoted-string (RFC 7616 §3.4), or the userhash when
        /// ``DigestCredentials/userhash`` is `true` (RFC 7616 §3.4.4).
        case quoted
        /// `username*=UTF-8''...`: an RFC 8187 ext-value, for names a quoted-string cannot
        /// carry (RFC 7616 §3.4, §4).
        case extended
    }

    /// The user name, decoded from `username` or `username*`; when ``userhash`` is `true`,
    /// the hex userhash H(username ":" realm) instead (RFC 7616 §3.4, §3.4.4).
    public var username: String
    /// Whether ``username`` is sent as `username` or `username*` (RFC 7616 §3.4).
    public var usernameForm: UsernameForm
    /// `realm` (RFC 7616 §3.4), required.
    public var realm: String
    /// `nonce`, echoed from the challenge (RFC 7616 §3.4), required.
    public var nonce: String
    /// `uri`: the digest-uri, the Request-URI in SIP (RFC 7616 §3.4; RFC 3261 §22.4).
    public var uri: String
    /// `response`, ``DigestAlgorithm/hexLength`` hex digits (RFC 7616 §3.4, §3.4.1).
    public var response: String
    /// `algorithm` as sent; `nil` when absent, which means MD5 (RFC 7616 §3.4).
    public var algorithm: DigestAlgorithm?
    /// `cnonce`, required with a qop (RFC 7616 §3.4).
    public var cnonce: String?
    /// `opaque`, echoed from the challenge (RFC 7616 §3.4).
    public var opaque: String?
    /// `qop`: `auth` or `auth-int`; `nil` for the RFC 2069 form (RFC 7616 §3.4).
    public var qop: DigestQOP?
    /// `nc`, required with a qop (RFC 7616 §3.4).
    public var nonceCount: DigestNonceCount?
    /// `userhash`: ``username`` is the hashed user name (RFC 7616 §3.4.4). Absent means
    /// `false`; `false` is not written.
    public var userhash: Bool
    /// Parameters this module does not interpret, in received order (RFC 7616 §3.4).
    public var extensionParameters: [DigestParameter]

    /// Credentials with the given parameters (RFC 7616 §3.4). To compute `response`, use
    /// ``init(answering:ha1:method:uri:cnonce:nonceCount:body:)`` or
    /// ``DigestHA1/response(method:uri:nonce:qop:nonceCount:cnonce:body:)``.
    public init(
        username: String,
        usernameForm: UsernameForm = .quoted,
        realm: String,
        nonce: String,
        uri: String,
        response: String,
        algorithm: DigestAlgorithm?,
        cnonce: String? = nil,
        opaque: String? = nil,
        qop: DigestQOP? = nil,
        nonceCount: DigestNonceCount? = nil,
        userhash: Bool = false,
        extensionParameters: [DigestParameter] = []
    ) {
        self.username = username
        self.usernameForm = usernameForm
        self.realm = realm
        self.nonce = nonce
        self.uri = uri
        self.response = response
        self.algorithm = algorithm
        self.cnonce = cnonce
        self.opaque = opaque
        self.qop = qop
        self.nonceCount = nonceCount
        self.userhash = userhash
        self.extensionParameters = extensionParameters
    }

    /// The algorithm in force: ``algorithm``, or MD5 when absent (RFC 7616 §3.4).
    public var effectiveAlgorithm: DigestAlgorithm { algorithm ?? DigestAlgorithm.Insecure.md5 }

    /// The parameter names this type interprets (RFC 7616 §3.4).
    static let knownParameters: Set<String> = [
        "username", "username*", "realm", "nonce", "uri", "response", "algorithm", "cnonce", "opaque", "qop",
        "nc", "userhash",
    ]

    /// Parses an `Authorization` / `Proxy-Authorization` header field value such as
    /// `Digest username="alice", realm="x", nonce="y", uri="sip:x", response="..."`
    /// (RFC 7616 §3.4, RFC 3261 §25.1).
    ///
    /// Strict: throws ``DigestError`` for another auth-scheme
    /// (``DigestError/Code/unsupportedScheme``), a syntax violation, a duplicate parameter,
    /// a missing `username` / `realm` / `nonce` / `uri` / `response`, a qop without `cnonce`
    /// and `nc` (or those without a qop), an `nc` that is not 8 hex digits, a `response`
    /// (or userhash) of the wrong length for the algorithm, an unknown algorithm or qop,
    /// both `username` and `username*`, a control character, or an exceeded limit.
    public init(parsing headerValue: String, limits: DigestParsingLimits = DigestParsingLimits()) throws(DigestError) {
        var table = ParameterTable(try parseDigestParameters(headerValue, limits: limits))

        if let parameter = table.take("algorithm") {
            guard let parsed = DigestAlgorithm(token: parameter.value) else {
                throw DigestError(
                    code: .unsupportedAlgorithm, reason: "algorithm \(loggable(parameter.value)) is not supported")
            }
            algorithm = parsed
        } else {
            algorithm = nil
        }
        let effective = algorithm ?? DigestAlgorithm.Insecure.md5

        if let parameter = table.take("userhash") {
            userhash = try parseBoolean(parameter)
        } else {
            userhash = false
        }

        // username / username* (RFC 7616 §3.4: exactly one of them).
        let plain = table.take("username")
        let extended = table.take("username*")
        switch (plain, extended) {
        case (let plain?, nil):
            username = plain.value
            usernameForm = .quoted
        case (nil, let extended?):
            guard !userhash else {
                throw DigestError(code: .unexpectedParameter, reason: "username* cannot carry a userhash")
            }
            username = try decodeExtendedValue(extended.value)
            usernameForm = .extended
        case (.some, .some):
            throw DigestError(code: .unexpectedParameter, reason: "both username and username* are present")
        case (nil, nil):
            throw DigestError(code: .missingParameter, reason: "required parameter username is missing")
        }
        if userhash && !isHex(username, length: effective.hexLength) {
            throw DigestError(
                code: .invalidParameterValue,
                reason: "userhash username is not \(effective.hexLength) hex digits for \(effective.token)")
        }

        realm = try table.require("realm")
        nonce = try table.require("nonce")
        uri = try table.require("uri")
        response = try table.require("response")
        guard isHex(response, length: effective.hexLength) else {
            throw DigestError(
                code: .invalidParameterValue,
                reason: "response of \(response.utf8.count) bytes is not "
                    + "\(effective.hexLength) hex digits for \(effective.token)")
        }
        opaque = table.take("opaque")?.value

        if let parameter = table.take("qop") {
            guard let parsed = DigestQOP(parameter.value) else {
                throw DigestError(code: .invalidParameterValue, reason: "qop is not a token")
            }
            guard parsed.isSupported else {
                throw DigestError(
                    code: .unsupportedQOP, reason: "qop \(loggable(parsed.token)) is not auth or auth-int")
            }
            qop = parsed
        } else {
            qop = nil
        }
        cnonce = table.take("cnonce")?.value
        if let parameter = table.take("nc") {
            guard let parsed = DigestNonceCount(parameter.value) else {
                throw DigestError(code: .invalidParameterValue, reason: "nc is not exactly 8 hex digits")
            }
            nonceCount = parsed
        } else {
            nonceCount = nil
        }

        // RFC 7616 §3.4 / RFC 2617 §3.2.2: cnonce and nc go with qop, and only with it.
        if qop != nil {
            guard cnonce != nil else {
                throw DigestError(code: .missingParameter, reason: "cnonce is required with qop")
            }
            guard nonceCount != nil else {
                throw DigestError(code: .missingParameter, reason: "nc is required with qop")
            }
        } else {
            guard cnonce == nil, nonceCount == nil else {
                throw DigestError(code: .unexpectedParameter, reason: "cnonce and nc are not allowed without qop")
            }
            guard !effective.isSession else {
                throw DigestError(code: .missingParameter, reason: "\(effective.token) requires qop and cnonce")
            }
        }

        extensionParameters = table.extensions
    }

    /// The header field value (RFC 7616 §3.4), in the parameter order of the RFC 7616 §3.9
    /// examples.
    ///
    /// `username`, `realm`, `uri`, `nonce`, `cnonce`, `response` and `opaque` are
    /// quoted-strings; `algorithm`, `qop`, `nc` and `userhash` are tokens; `username*` is an
    /// RFC 8187 ext-value token. Throws if a value holds a control character, or an
    /// extension parameter clashes with a defined one.
    public func serialized() throws(DigestError) -> String {
        var writer = DigestHeaderWriter()
        switch usernameForm {
        case .quoted: try writer.quoted("username", username)
        case .extended: try writer.token("username*", encodeExtendedValue(username))
        }
        try writer.quoted("realm", realm)
        try writer.quoted("uri", uri)
        if let algorithm {
            try writer.token("algorithm", algorithm.token)
        }
        try writer.quoted("nonce", nonce)
        if let nonceCount {
            try writer.token("nc", nonceCount.text)
        }
        if let cnonce {
            try writer.quoted("cnonce", cnonce)
        }
        if let qop {
            try writer.token("qop", qop.token)
        }
        try writer.quoted("response", response)
        if let opaque {
            try writer.quoted("opaque", opaque)
        }
        if userhash {
            try writer.token("userhash", "true")
        }
        try writeExtensions(extensionParameters, known: Self.knownParameters, to: &writer)
        return writer.output
    }

    /// A log-safe summary: the `response` is redacted (RFC 7616 §5: with the nonce, it
    /// allows an offline dictionary attack on the password).
    public var description: String {
        var parts = ["username: \(username)", "realm: \(realm)", "uri: \(uri)", "algorithm: \(effectiveAlgorithm)"]
        if let qop { parts.append("qop: \(qop)") }
        if let nonceCount { parts.append("nc: \(nonceCount)") }
        if userhash { parts.append("userhash") }
        parts.append("response: <redacted>")
        return "DigestCredentials(" + parts.joined(separator: ", ") + ")"
    }
}

extension DigestCredentials {
    /// Checks the credentials against a stored HA1 (RFC 7616 §3.4.1; RFC 3261 §22.4):
    /// recomputes the response and compares it in constant time.
    ///
    /// This is only the digest math. The caller must also check that the nonce is one it
    /// issued, fresh, and that `nc` has not been replayed (RFC 7616 §3.3, §5.5), that `uri`
    /// matches the Request-URI (RFC 3261 §22.4), that `opaque` matches, and that the `qop`
    /// and algorithm are ones it offered (refusing the RFC 2069 no-qop form unless allowed).
    ///
    /// - Parameters:
    ///   - expectedHA1: the stored HA1 of the user named by the credentials.
    ///   - method: the request's method (RFC 3261 §22.4: the SIP method).
    ///   - body: the message body, used for `qop=auth-int`.
    /// - Returns: whether `response` is the one the HA1 gives.
    /// - Throws: ``DigestError/Code/algorithmMismatch`` if the HA1 is for another algorithm
    ///   than the credentials' (RFC 7616 §3.4), ``DigestError/Code/credentialsMismatch`` if
    ///   it is for another realm or user (comparing userhashes when ``userhash`` is set).
    public func verify(expectedHA1: DigestHA1, method: String, body: [UInt8] = []) throws(DigestError) -> Bool {
        let algorithm = effectiveAlgorithm
        guard algorithm == expectedHA1.algorithm else {
            throw DigestError(
                code: .algorithmMismatch,
                reason: "credentials use \(algorithm.token) but the HA1 is for \(expectedHA1.algorithm.token)")
        }
        guard realm == expectedHA1.realm else {
            throw DigestError(code: .credentialsMismatch, reason: "credentials are for another realm than the HA1")
        }
        if userhash {
            let expected = algorithm.userhash(username: expectedHA1.username, realm: expectedHA1.realm)
            guard constantTimeEquals(expected.utf8, username.utf8.map(\.lowercasedASCII)) else {
                throw DigestError(code: .credentialsMismatch, reason: "userhash does not match the HA1's user")
            }
        } else {
            guard username == expectedHA1.username else {
                throw DigestError(code: .credentialsMismatch, reason: "credentials are for another user than the HA1")
            }
        }
        let expected = try expectedHA1.response(
            method: method, uri: uri, nonce: nonce, qop: qop, nonceCount: nonceCount, cnonce: cnonce, body: body)
        return constantTimeEquals(expected.utf8, response.utf8.map(\.lowercasedASCII))
    }

    /// Credentials answering `challenge` with the stored or freshly computed `ha1`
    /// (RFC 7616 §3.4; RFC 3261 §22.4), as a client (or a test peer) sends them.
    ///
    /// Picks `qop=auth` if offered, else `auth-int`; uses no qop only if the challenge
    /// offers none (RFC 2069). Echoes `opaque`, and sends the userhash when the challenge
    /// asks for it (RFC 7616 §3.4.4).
    ///
    /// - Parameters:
    ///   - cnonce: a fresh, unpredictable client nonce (RFC 7616 §5.12); the caller
    ///     supplies the randomness.
    ///   - nonceCount: how many requests this nonce has served, from 1 (RFC 7616 §3.4).
    /// - Throws: ``DigestError/Code/algorithmMismatch`` if the challenge's algorithm is not
    ///   the HA1's, ``DigestError/Code/credentialsMismatch`` for another realm,
    ///   ``DigestError/Code/unsupportedQOP`` if only unknown qops are offered.
    public init(
        answering challenge: DigestChallenge,
        ha1: DigestHA1,
        method: String,
        uri: String,
        cnonce: String,
        nonceCount: DigestNonceCount = DigestNonceCount(1),
        body: [UInt8] = []
    ) throws(DigestError) {
        let algorithm = challenge.effectiveAlgorithm
        guard algorithm == ha1.algorithm else {
            throw DigestError(
                code: .algorithmMismatch,
                reason: "challenge uses \(algorithm.token) but the HA1 is for \(ha1.algorithm.token)")
        }
        guard challenge.realm == ha1.realm else {
            throw DigestError(code: .credentialsMismatch, reason: "challenge is for another realm than the HA1")
        }
        let qop: DigestQOP?
        if let options = challenge.qopOptions {
            if options.contains(.auth) {
                qop = .auth
            } else if options.contains(.authInt) {
                qop = .authInt
            } else {
                throw DigestError(code: .unsupportedQOP, reason: "the challenge offers neither auth nor auth-int")
            }
        } else {
            qop = nil
        }
        let response = try ha1.response(
            method: method, uri: uri, nonce: challenge.nonce, qop: qop,
            nonceCount: qop == nil ? nil : nonceCount, cnonce: qop == nil ? nil : cnonce, body: body)
        self.init(
            username: challenge.userhash ? algorithm.userhash(username: ha1.username, realm: ha1.realm) : ha1.username,
            realm: challenge.realm,
            nonce: challenge.nonce,
            uri: uri,
            response: response,
            algorithm: challenge.algorithm,
            cnonce: qop == nil ? nil : cnonce,
            opaque: challenge.opaque,
            qop: qop,
            nonceCount: qop == nil ? nil : nonceCount,
            userhash: challenge.userhash)
    }
}
