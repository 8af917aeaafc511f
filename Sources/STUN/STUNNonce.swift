import Crypto
import SIPAuth
import Foundation

/// The security features a server announces at the start of its NONCE (RFC 8489 §9.2: the cookie `obMatJos2` and
/// four base64 characters of a 24-bit set; bit 0, the most significant, is password algorithms, bit 1 username
/// anonymity).
public struct STUNSecurityFeatures: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue & 0xFF_FFFF }

    public static let passwordAlgorithms = STUNSecurityFeatures(rawValue: 0x80_0000)
    public static let usernameAnonymity = STUNSecurityFeatures(rawValue: 0x40_0000)

    public static let cookie = "obMatJos2"

    /// The nonce prefix announcing these features.
    public var noncePrefix: String {
        Self.cookie + Data([UInt8(rawValue >> 16), UInt8((rawValue >> 8) & 0xFF), UInt8(rawValue & 0xFF)]).base64EncodedString()
    }

    /// The features a nonce announces; nil when it does not start with the cookie (an RFC 5389 server's nonce).
    public init?(nonce: String) {
        let utf8 = Array(nonce.utf8)
        guard utf8.count >= 13, utf8.starts(with: Self.cookie.utf8),
            let bits = Data(base64Encoded: String(decoding: utf8[9..<13], as: UTF8.self)), bits.count == 3
        else { return nil }
        self.init(rawValue: UInt32(bits[0]) << 16 | UInt32(bits[1]) << 8 | UInt32(bits[2]))
    }
}

/// Stateless nonces, as the registrar's are: the expiry and an HMAC binding it to the client's address, so a server
/// keeps no table of nonces and a nonce from one source is stale from another (RFC 8489 §9.2 leaves the form to the
/// server). `nonce = features-prefix base64url(expiry, 4 bytes) base64url(HMAC-SHA256(secret, prefix expiry source))`,
/// the HMAC cut to 96 bits: 35 characters in all, because the nonce rides in every challenge, which must stay small
/// (see TURN's amplification limit).
public struct STUNNonceIssuer: Sendable {
    private let secret: SymmetricKey
    public let features: STUNSecurityFeatures
    /// How long a nonce is good for.
    public let lifetimeSeconds: Int64

    public init(secret: SymmetricKey, features: STUNSecurityFeatures = .passwordAlgorithms, lifetimeSeconds: Int64 = 600) {
        (self.secret, self.features, self.lifetimeSeconds) = (secret, features, lifetimeSeconds)
    }

    /// A nonce for `source` (the client's transport address as text) at `now` (Unix seconds, before 2106).
    public func nonce(for source: String, now: Int64) -> String {
        let expiry = UInt32(clamping: now + lifetimeSeconds)
        let body = features.noncePrefix + Self.base64url([UInt8(expiry >> 24), UInt8(expiry >> 16 & 0xFF),
                                                          UInt8(expiry >> 8 & 0xFF), UInt8(expiry & 0xFF)])
        return body + tag(body, source)
    }

    /// Whether `nonce` is one of ours for `source`, within its life at `now`. Anything else is stale (438).
    public func isFresh(_ nonce: String, for source: String, now: Int64) -> Bool {
        let prefix = features.noncePrefix
        let characters = Array(nonce.utf8)
        guard characters.count == prefix.utf8.count + 6 + 16, nonce.hasPrefix(prefix) else { return false }
        let body = String(decoding: characters[..<(prefix.utf8.count + 6)], as: UTF8.self)
        guard let expiryBytes = Self.decodeBase64url(String(body.dropFirst(prefix.count))), expiryBytes.count == 4 else {
            return false
        }
        let expiry = expiryBytes.reduce(Int64(0)) { $0 << 8 | Int64($1) }
        let expected = Array(tag(body, source).utf8)
        guard constantTimeEquals(expected, characters[(prefix.utf8.count + 6)...]) else { return false }
        return now <= expiry && expiry - now <= lifetimeSeconds
    }

    private func tag(_ body: String, _ source: String) -> String {
        Self.base64url(Array(HMAC<SHA256>.authenticationCode(for: Array((body + " " + source).utf8), using: secret).prefix(12)))
    }

    static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func decodeBase64url(_ text: String) -> [UInt8]? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.count % 4 != 0 { standard += "=" }
        return Data(base64Encoded: standard).map(Array.init)
    }
}
