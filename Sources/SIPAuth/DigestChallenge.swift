/// A Digest challenge: the value of a `WWW-Authenticate` or `Proxy-Authenticate` header
/// field (RFC 7616 §3.3; RFC 3261 §22.4, §25.1 `digest-cln`; RFC 8760 §2).
///
/// Parse with ``init(parsing:limits:)``; build with the memberwise initializer and write
/// with ``serialized()``. A SIP registrar sends one challenge per algorithm it accepts, in
/// order of preference: `SHA-256` first, then `MD5` (RFC 8760 §2.4).
public struct DigestChallenge: Hashable, Sendable {
    /// `realm` (RFC 7616 §3.3), required.
    public var realm: String
    /// `domain`: the space-separated URIs of the protection space (RFC 7616 §3.3); `nil`
    /// when absent.
    public var domain: [String]?
    /// `nonce` (RFC 7616 §3.3), required.
    public var nonce: String
    /// `opaque`, to be echoed by the client (RFC 7616 §3.3).
    public var opaque: String?
    /// `stale`: the previous nonce was stale but the credentials were valid (RFC 7616
    /// §3.3). Absent means `false`; `false` is not written.
    public var stale: Bool
    /// `algorithm` as sent; `nil` when absent, which means MD5 (RFC 7616 §3.3).
    public var algorithm: DigestAlgorithm?
    /// `qop` options offered (RFC 7616 §3.3); `nil` when absent (RFC 2069 mode, which
    /// RFC 7616 no longer allows but old SIP servers still send). Unknown tokens are kept.
    public var qopOptions: [DigestQOP]?
    /// Whether `charset=UTF-8` is announced, the only value RFC 7616 §3.3 allows.
    public var charsetUTF8: Bool
    /// `userhash`: the server supports hashed user names (RFC 7616 §3.3, §3.4.4). Absent
    /// means `false`; `false` is not written.
    public var userhash: Bool
    /// Parameters this module does not interpret, in received order (RFC 7616 §3.3).
    public var extensionParameters: [DigestParameter]

    /// A challenge with the given parameters (RFC 7616 §3.3). RFC 7616 requires a `qop`;
    /// `[.auth]` is the default.
    public init(
        realm: String,
        nonce: String,
        algorithm: DigestAlgorithm?,
        qopOptions: [DigestQOP]? = [.auth],
        opaque: String? = nil,
        stale: Bool = false,
        domain: [String]? = nil,
        charsetUTF8: Bool = false,
        userhash: Bool = false,
        extensionParameters: [DigestParameter] = []
    ) {
        self.realm = realm
        self.domain = domain
        self.nonce = nonce
        self.opaque = opaque
        self.stale = stale
        self.algorithm = algorithm
        self.qopOptions = qopOptions
        self.charsetUTF8 = charsetUTF8
        self.userhash = userhash
        self.extensionParameters = extensionParameters
    }

    /// The algorithm in force: ``algorithm``, or MD5 when absent (RFC 7616 §3.3).
    public var effectiveAlgorithm: DigestAlgorithm { algorithm ?? DigestAlgorithm.Insecure.md5 }

    /// The parameter names this type interprets (RFC 7616 §3.3).
    static let knownParameters: Set<String> = [
        "realm", "domain", "nonce", "opaque", "stale", "algorithm", "qop", "charset", "userhash",
    ]

    /// Parses a `WWW-Authenticate` / `Proxy-Authenticate` header field value such as
    /// `Digest realm="x", nonce="y", algorithm=SHA-256, qop="auth"` (RFC 7616 §3.3,
    /// RFC 3261 §25.1).
    ///
    /// Throws ``DigestError`` with code ``DigestError/Code/unsupportedScheme`` for another
    /// auth-scheme, ``DigestError/Code/unsupportedAlgorithm`` for an unknown algorithm
    /// (RFC 7616 §3.3: such a challenge is to be ignored), and a typed error for every
    /// syntax violation, duplicate, missing `realm` or `nonce`, bad value or exceeded limit.
    public init(parsing headerValue: String, limits: DigestParsingLimits = DigestParsingLimits()) throws(DigestError) {
        var table = ParameterTable(try parseDigestParameters(headerValue, limits: limits))

        realm = try table.require("realm")
        nonce = try table.require("nonce")
        opaque = table.take("opaque")?.value

        if let parameter = table.take("domain") {
            domain = parameter.value.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        } else {
            domain = nil
        }

        if let parameter = table.take("stale") {
            stale = try parseBoolean(parameter)
        } else {
            stale = false
        }
        if let parameter = table.take("userhash") {
            userhash = try parseBoolean(parameter)
        } else {
            userhash = false
        }

        if let parameter = table.take("algorithm") {
            guard let parsed = DigestAlgorithm(token: parameter.value) else {
                throw DigestError(
                    code: .unsupportedAlgorithm, reason: "algorithm \(loggable(parameter.value)) is not supported")
            }
            algorithm = parsed
        } else {
            algorithm = nil
        }

        if let parameter = table.take("qop") {
            var options = [DigestQOP]()
            for element in parameter.value.split(separator: ",", omittingEmptySubsequences: false) {
                guard let option = DigestQOP(trimmingWhitespace(element)) else {
                    throw DigestError(code: .invalidParameterValue, reason: "qop options are not a list of tokens")
                }
                options.append(option)
            }
            qopOptions = options
        } else {
            qopOptions = nil
        }

        if let parameter = table.take("charset") {
            guard parameter.value.lowercased() == "utf-8" else {
                throw DigestError(code: .invalidParameterValue, reason: "charset must be UTF-8")
            }
            charsetUTF8 = true
        } else {
            charsetUTF8 = false
        }

        extensionParameters = table.extensions
    }

    /// The header field value, for example `Digest realm="x", qop="auth",
    /// algorithm=SHA-256, nonce="y"` (RFC 7616 §3.3).
    ///
    /// `realm`, `domain`, `nonce`, `opaque` and `qop` are quoted-strings; `algorithm`,
    /// `stale`, `charset` and `userhash` are tokens. Throws if a value holds a control
    /// character, or an extension parameter clashes with a defined one, so that a header
    /// can never be split or forged through a value.
    public func serialized() throws(DigestError) -> String {
        var writer = DigestHeaderWriter()
        try writer.quoted("realm", realm)
        if let domain {
            try writer.quoted("domain", domain.joined(separator: " "))
        }
        if let qopOptions {
            guard !qopOptions.isEmpty else {
                throw DigestError(code: .invalidParameterValue, reason: "qop options must not be empty")
            }
            try writer.quoted("qop", qopOptions.map(\.token).joined(separator: ", "))
        }
        if let algorithm {
            try writer.token("algorithm", algorithm.token)
        }
        try writer.quoted("nonce", nonce)
        if let opaque {
            try writer.quoted("opaque", opaque)
        }
        if stale {
            try writer.token("stale", "true")
        }
        if charsetUTF8 {
            try writer.token("charset", "UTF-8")
        }
        if userhash {
            try writer.token("userhash", "true")
        }
        try writeExtensions(extensionParameters, known: Self.knownParameters, to: &writer)
        return writer.output
    }
}

/// Writes extension parameters, refusing names that repeat or shadow defined ones.
func writeExtensions(
    _ parameters: [DigestParameter],
    known: Set<String>,
    to writer: inout DigestHeaderWriter
) throws(DigestError) {
    var seen = Set<String>()
    for parameter in parameters {
        let key = parameter.name.lowercased()
        guard !known.contains(key), seen.insert(key).inserted else {
            throw DigestError(
                code: .duplicateParameter,
                reason: "extension parameter \(loggable(parameter.name)) repeats a parameter")
        }
        try writer.parameter(parameter)
    }
}

/// `text` without leading and trailing spaces and tabs.
func trimmingWhitespace(_ text: Substring) -> Substring {
    var trimmed = text
    while let first = trimmed.first, first == " " || first == "\t" { trimmed.removeFirst() }
    while let last = trimmed.last, last == " " || last == "\t" { trimmed.removeLast() }
    return trimmed
}
