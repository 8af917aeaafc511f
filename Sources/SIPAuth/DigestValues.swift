/// A quality-of-protection token (RFC 7616 §3.3 `qop`, §3.4 `message-qop`; RFC 3261
/// §25.1 `qop-value`). Tokens compare case-insensitively and are kept in lowercase.
public struct DigestQOP: Hashable, Sendable, CustomStringConvertible {
    /// The token in lowercase, as written on the wire (RFC 7616 §3.4).
    public let token: String

    /// `auth`: authentication only (RFC 7616 §3.4.3). The one every SIP client supports.
    public static let auth = DigestQOP(validToken: "auth")
    /// `auth-int`: authentication with integrity protection of the message body
    /// (RFC 7616 §3.4.3).
    public static let authInt = DigestQOP(validToken: "auth-int")

    private init(validToken: String) {
        self.token = validToken
    }

    /// The qop named by `token` (RFC 3261 §25.1 `qop-value = "auth" / "auth-int" / token`);
    /// `nil` unless `token` is a non-empty token.
    public init?(_ token: some StringProtocol) {
        guard !token.isEmpty, token.utf8.allSatisfy(\.isTokenByte) else { return nil }
        self.token = String(decoding: token.utf8.map(\.lowercasedASCII), as: UTF8.self)
    }

    /// Whether this module can compute a response for it (`auth` or `auth-int`,
    /// RFC 7616 §3.4.3).
    public var isSupported: Bool { self == .auth || self == .authInt }

    /// The token (RFC 7616 §3.3).
    public var description: String { token }
}

/// A nonce count, `nc` (RFC 7616 §3.4; RFC 3261 §25.1 `nonce-count = "nc" EQUAL 8LHEX`):
/// exactly 8 hex digits, kept as written because the response hashes that text.
public struct DigestNonceCount: Hashable, Sendable, CustomStringConvertible {
    /// The 8 hex digits as written on the wire (RFC 7616 §3.4), hashed verbatim (RFC 7616 §3.4.1).
    public let text: String
    /// The count's numeric value, for replay checks (RFC 7616 §3.4, §5.5).
    public let value: UInt32

    /// The count `value`, written as 8 lowercase hex digits (RFC 7616 §3.4).
    public init(_ value: UInt32) {
        let digits = hex([
            UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
            UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value),
        ])
        self.text = digits
        self.value = value
    }

    /// The count written as `text`; `nil` unless it is exactly 8 hex digits (RFC 3261 §25.1).
    /// Upper-case digits are accepted and kept.
    public init?(_ text: some StringProtocol) {
        guard text.utf8.count == 8 else { return nil }
        var value: UInt32 = 0
        for byte in text.utf8 {
            guard byte.isHexDigit else { return nil }
            let lowered = byte.lowercasedASCII
            let digit = lowered <= UInt8(ascii: "9") ? lowered - UInt8(ascii: "0") : lowered - UInt8(ascii: "a") + 10
            value = value << 4 | UInt32(digit)
        }
        self.text = String(text)
        self.value = value
    }

    /// The 8 hex digits (RFC 7616 §3.4).
    public var description: String { text }
}

/// An auth-param this module does not interpret, kept as received (RFC 7616 §3.3, §3.4:
/// "Any unrecognized directive MUST be ignored"; RFC 3261 §25.1 `auth-param`).
public struct DigestParameter: Hashable, Sendable {
    /// The parameter name as received (RFC 3261 §25.1 `auth-param-name`).
    public var name: String
    /// The value, unquoted and unescaped (RFC 3261 §25.1 `quoted-pair`).
    public var value: String
    /// Whether the value was (or is to be) sent as a quoted-string rather than a token
    /// (RFC 3261 §25.1).
    public var isQuoted: Bool

    /// A parameter `name=value`, quoted if `isQuoted` (RFC 3261 §25.1 `auth-param`).
    public init(name: String, value: String, isQuoted: Bool = true) {
        self.name = name
        self.value = value
        self.isQuoted = isQuoted
    }
}

/// Bounds on what the Digest header parsers accept, against resource exhaustion by
/// hostile headers (RFC 3261 §26.1.5: denial of service). The defaults are generous for
/// any real client.
public struct DigestParsingLimits: Hashable, Sendable {
    /// The longest header field value accepted, in UTF-8 bytes (RFC 3261 §26.1.5). Default 8192.
    public var maxFieldLength: Int
    /// The longest single parameter value accepted, in UTF-8 bytes after unescaping.
    /// Default 4096 (RFC 3261 §26.1.5).
    public var maxValueLength: Int
    /// The most auth-params accepted in one header. Default 32 (a challenge or
    /// credentials has at most 12 defined ones, RFC 7616 §3.3, §3.4).
    public var maxParameterCount: Int

    /// Limits with the safe defaults, or the given values (RFC 3261 §26.1.5).
    public init(maxFieldLength: Int = 8192, maxValueLength: Int = 4096, maxParameterCount: Int = 32) {
        self.maxFieldLength = maxFieldLength
        self.maxValueLength = maxValueLength
        self.maxParameterCount = maxParameterCount
    }
}
