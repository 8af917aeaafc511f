/// An SRTP crypto-suite name usable in `a=crypto` (RFC 4568 §6.2, RFC 6188, RFC 7714).
///
/// Names are matched ASCII-case-insensitively (RFC 4568 §9.2 writes them as ABNF literals) and
/// rendered in their registered upper-case spelling. An unregistered name parses as
/// ``unknown(_:)`` and carries no key-length rules; a policy should treat it as unusable.
public enum SRTPCryptoSuite: Hashable, Sendable, CustomStringConvertible {
    /// `AES_CM_128_HMAC_SHA1_80` (RFC 4568 §6.2.1): 128-bit key, 112-bit salt, 80-bit tag.
    case aesCM128HMACSHA1_80
    /// `AES_CM_128_HMAC_SHA1_32` (RFC 4568 §6.2.2): as above with a 32-bit tag.
    case aesCM128HMACSHA1_32
    /// `F8_128_HMAC_SHA1_80` (RFC 4568 §6.2.3): AES-f8, 128-bit key, 112-bit salt.
    case f8_128HMACSHA1_80
    /// `AES_192_CM_HMAC_SHA1_80` (RFC 6188): 192-bit key, 112-bit salt.
    case aes192CMHMACSHA1_80
    /// `AES_192_CM_HMAC_SHA1_32` (RFC 6188).
    case aes192CMHMACSHA1_32
    /// `AES_256_CM_HMAC_SHA1_80` (RFC 6188): 256-bit key, 112-bit salt.
    case aes256CMHMACSHA1_80
    /// `AES_256_CM_HMAC_SHA1_32` (RFC 6188).
    case aes256CMHMACSHA1_32
    /// `AEAD_AES_128_GCM` (RFC 7714): 128-bit key, 96-bit salt.
    case aeadAES128GCM
    /// `AEAD_AES_256_GCM` (RFC 7714): 256-bit key, 96-bit salt.
    case aeadAES256GCM
    /// Any other name, as written.
    case unknown(String)

    /// Every registered suite this module knows.
    public static let registered: [SRTPCryptoSuite] = [
        .aesCM128HMACSHA1_80, .aesCM128HMACSHA1_32, .f8_128HMACSHA1_80,
        .aes192CMHMACSHA1_80, .aes192CMHMACSHA1_32, .aes256CMHMACSHA1_80, .aes256CMHMACSHA1_32,
        .aeadAES128GCM, .aeadAES256GCM,
    ]

    /// Maps a suite name to its case (ASCII-case-insensitively).
    public init(name: String) {
        let upper = Syntax.asciiUppercased(name)
        self = SRTPCryptoSuite.registered.first { $0.name == upper } ?? .unknown(name)
    }

    /// The registered name, or the unknown name as written.
    public var name: String {
        switch self {
        case .aesCM128HMACSHA1_80: return "AES_CM_128_HMAC_SHA1_80"
        case .aesCM128HMACSHA1_32: return "AES_CM_128_HMAC_SHA1_32"
        case .f8_128HMACSHA1_80: return "F8_128_HMAC_SHA1_80"
        case .aes192CMHMACSHA1_80: return "AES_192_CM_HMAC_SHA1_80"
        case .aes192CMHMACSHA1_32: return "AES_192_CM_HMAC_SHA1_32"
        case .aes256CMHMACSHA1_80: return "AES_256_CM_HMAC_SHA1_80"
        case .aes256CMHMACSHA1_32: return "AES_256_CM_HMAC_SHA1_32"
        case .aeadAES128GCM: return "AEAD_AES_128_GCM"
        case .aeadAES256GCM: return "AEAD_AES_256_GCM"
        case .unknown(let name): return name
        }
    }

    /// The suite name.
    public var description: String { name }

    /// Whether this is a registered suite (not ``unknown(_:)``).
    public var isRegistered: Bool {
        if case .unknown = self { return false }
        return true
    }

    /// Master key length in bytes; `nil` for unknown suites.
    public var masterKeyLength: Int? {
        switch self {
        case .aesCM128HMACSHA1_80, .aesCM128HMACSHA1_32, .f8_128HMACSHA1_80, .aeadAES128GCM: return 16
        case .aes192CMHMACSHA1_80, .aes192CMHMACSHA1_32: return 24
        case .aes256CMHMACSHA1_80, .aes256CMHMACSHA1_32, .aeadAES256GCM: return 32
        case .unknown: return nil
        }
    }

    /// Master salt length in bytes: 14 for the counter-mode/f8 suites (RFC 3711, RFC 6188),
    /// 12 for AEAD (RFC 7714); `nil` for unknown suites.
    public var masterSaltLength: Int? {
        switch self {
        case .aeadAES128GCM, .aeadAES256GCM: return 12
        case .unknown: return nil
        default: return 14
        }
    }

    /// The decoded length of an `inline:` key: master key followed by master salt.
    public var keyAndSaltLength: Int? {
        guard let key = masterKeyLength, let salt = masterSaltLength else { return nil }
        return key + salt
    }

    /// The largest key lifetime the suite allows, as a power of two: 2^48 SRTP packets for every
    /// registered suite (RFC 4568 §6.2, RFC 6188, RFC 7714); `nil` (no limit beyond
    /// 2^63) for unknown suites.
    public var maximumLifetimeExponent: Int? {
        isRegistered ? 48 : nil
    }
}

/// An SDES key lifetime (RFC 4568 §6.1): the number of packets a master key may protect,
/// written as `2^n` or as a decimal count.
public enum SDESLifetime: Hashable, Sendable, CustomStringConvertible {
    /// `2^n`.
    case powerOfTwo(UInt8)
    /// A decimal packet count.
    case packets(UInt64)

    /// The packet count, or `nil` when it does not fit 64 bits.
    public var packetCount: UInt64? {
        switch self {
        case .powerOfTwo(let exponent): return exponent < 64 ? UInt64(1) << UInt64(exponent) : nil
        case .packets(let count): return count
        }
    }

    /// `2^n` or the decimal count.
    public var description: String {
        switch self {
        case .powerOfTwo(let exponent): return "2^\(exponent)"
        case .packets(let count): return "\(count)"
        }
    }
}

/// An SDES master key identifier (RFC 4568 §6.1, RFC 3711 §3.1): `<value>:<length in bytes>`.
public struct SDESMKI: Hashable, Sendable, CustomStringConvertible {
    /// The MKI value.
    public var value: UInt64
    /// The MKI field length on the wire, 1...128 bytes.
    public var length: UInt8

    /// Creates an MKI.
    public init(value: UInt64, length: UInt8) {
        self.value = value
        self.length = length
    }

    /// The MKI as it appears in each SRTP packet: `value` big-endian in `length` bytes.
    public var bytes: [UInt8] {
        (0..<Int(length)).reversed().map { index in
            index < 8 ? UInt8(truncatingIfNeeded: value >> UInt64(index * 8)) : 0
        }
    }

    /// `value:length`.
    public var description: String { "\(value):\(length)" }
}

/// One `inline:` key parameter of an `a=crypto` line (RFC 4568 §6.1):
/// `inline:<base64 key||salt>[|<lifetime>][|<MKI>:<length>]`.
///
/// The key material is redacted from ``description``, ``debugDescription`` and reflection (so
/// `print`, `dump` and test failure messages do not leak it); ``serialized()`` gives the wire form.
public struct SDESKeyParam: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The decoded master key followed by the master salt.
    public var keyAndSalt: [UInt8]
    /// The key lifetime, if given.
    public var lifetime: SDESLifetime?
    /// The master key identifier, if given.
    public var mki: SDESMKI?

    /// Creates a key parameter.
    public init(keyAndSalt: [UInt8], lifetime: SDESLifetime? = nil, mki: SDESMKI? = nil) {
        self.keyAndSalt = keyAndSalt
        self.lifetime = lifetime
        self.mki = mki
    }

    /// The master key part of ``keyAndSalt`` for `suite`, or `nil` if the length does not match.
    public func masterKey(for suite: SRTPCryptoSuite) -> [UInt8]? {
        guard let keyLength = suite.masterKeyLength, suite.keyAndSaltLength == keyAndSalt.count else { return nil }
        return Array(keyAndSalt[..<keyLength])
    }

    /// The master salt part of ``keyAndSalt`` for `suite`, or `nil` if the length does not match.
    public func masterSalt(for suite: SRTPCryptoSuite) -> [UInt8]? {
        guard let keyLength = suite.masterKeyLength, suite.keyAndSaltLength == keyAndSalt.count else { return nil }
        return Array(keyAndSalt[keyLength...])
    }

    /// The wire form, `inline:...`. It contains the key: do not log it.
    public func serialized() -> String {
        var text = "inline:" + Base64.encode(keyAndSalt)
        if let lifetime { text += "|\(lifetime)" }
        if let mki { text += "|\(mki)" }
        return text
    }

    /// A log-safe rendering with the key replaced by its length.
    public var description: String {
        var text = "inline:<redacted \(keyAndSalt.count) bytes>"
        if let lifetime { text += "|\(lifetime)" }
        if let mki { text += "|\(mki)" }
        return text
    }

    /// Same as ``description``.
    public var debugDescription: String { description }

    /// Reflection without the key bytes.
    public var customMirror: Mirror {
        Mirror(self, children: ["keyAndSalt": "<redacted \(keyAndSalt.count) bytes>", "lifetime": lifetime as Any,
                                "mki": mki as Any])
    }

    static func parse(_ text: Substring, suite: SRTPCryptoSuite) throws(SDPParseError) -> SDESKeyParam {
        guard let (method, info) = Syntax.splitOnce(text, at: UInt8(ascii: ":")),
              Syntax.equalsIgnoringCase(method, "inline")
        else {
            throw SDPParseError(.invalidCrypto, reason: "key parameter must use the inline: key method")
        }
        let parts = Syntax.split(info, on: UInt8(ascii: "|"))
        guard parts.count <= 3 else {
            throw SDPParseError(.invalidCrypto, reason: "inline key has too many |-separated fields")
        }
        guard let keyAndSalt = Base64.decode(parts[0]) else {
            throw SDPParseError(.invalidBase64, reason: "inline key is not valid base64")
        }
        if let expected = suite.keyAndSaltLength, keyAndSalt.count != expected {
            throw SDPParseError(
                .invalidKeyLength,
                reason: "inline key decodes to \(keyAndSalt.count) bytes; \(suite.name) needs \(expected) (master key + salt)")
        }
        var lifetime: SDESLifetime?
        var mki: SDESMKI?
        for (offset, part) in parts.dropFirst().enumerated() {
            if part.utf8.contains(UInt8(ascii: ":")) {
                guard offset == parts.count - 2 else {
                    throw SDPParseError(.invalidMKI, reason: "MKI must be the last field of an inline key")
                }
                mki = try parseMKI(part)
            } else {
                guard offset == 0 else {
                    throw SDPParseError(.invalidLifetime, reason: "lifetime must directly follow the key")
                }
                lifetime = try parseLifetime(part, suite: suite)
            }
        }
        return SDESKeyParam(keyAndSalt: keyAndSalt, lifetime: lifetime, mki: mki)
    }

    private static func parseLifetime(_ text: Substring, suite: SRTPCryptoSuite) throws(SDPParseError) -> SDESLifetime {
        let maximumExponent = suite.maximumLifetimeExponent ?? 63
        if text.utf8.starts(with: "2^".utf8) {
            let digits = text.dropFirst(2)
            guard digits.utf8.count <= 3, let exponent = Syntax.decimal(digits), exponent <= UInt64(maximumExponent) else {
                throw SDPParseError(.invalidLifetime, reason: "lifetime 2^n must have n <= \(maximumExponent) for this suite")
            }
            return .powerOfTwo(UInt8(exponent))
        }
        guard let count = Syntax.decimal(text), count > 0, count <= UInt64(1) << UInt64(maximumExponent) else {
            throw SDPParseError(.invalidLifetime, reason: "lifetime must be a positive count no larger than 2^\(maximumExponent)")
        }
        return .packets(count)
    }

    private static func parseMKI(_ text: Substring) throws(SDPParseError) -> SDESMKI {
        guard let (valueText, lengthText) = Syntax.splitOnce(text, at: UInt8(ascii: ":")),
              lengthText.utf8.count <= 3, let length = Syntax.decimal(lengthText), (1...128).contains(length)
        else {
            throw SDPParseError(.invalidMKI, reason: "MKI must be <value>:<length> with length 1...128")
        }
        guard let value = Syntax.decimal(valueText) else {
            throw SDPParseError(.invalidMKI, reason: "MKI value must be a decimal number below 2^64")
        }
        if length < 8 && value >= UInt64(1) << (8 * length) {
            throw SDPParseError(.invalidMKI, reason: "MKI value does not fit in \(length) bytes")
        }
        return SDESMKI(value: value, length: UInt8(length))
    }
}

/// An `a=crypto` attribute (RFC 4568 §9.1):
/// `<tag> <crypto-suite> <key-params> [<session-params>]` where key-params are `;`-separated
/// `inline:` keys.
///
/// Parsing checks, for registered suites, that every key decodes to exactly the suite's master key
/// + salt length (RFC 4568 §6.1), that the lifetime does not exceed 2^48, and that MKIs are
/// well-formed: 1...128 bytes, a value that fits, and, when there are several keys, an MKI on
/// every key with one common length and distinct values (SRTP can only select among several master
/// keys by MKI, RFC 3711 §3.1). Unknown suites only get the syntax checks.
///
/// ``description`` redacts the keys; ``serialized()`` is the wire form.
public struct SDESCryptoAttribute: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The tag (1-9 digits) that the answer echoes to select this line.
    public var tag: UInt32
    /// The crypto-suite.
    public var suite: SRTPCryptoSuite
    /// The keys (at least one).
    public var keyParams: [SDESKeyParam]
    /// The session parameters verbatim, for example `UNENCRYPTED_SRTCP`, `KDR=10`, `FEC_ORDER=FEC_SRTP`.
    public var sessionParams: [String]

    /// Creates a crypto attribute.
    public init(tag: UInt32, suite: SRTPCryptoSuite, keyParams: [SDESKeyParam], sessionParams: [String] = []) {
        self.tag = tag
        self.suite = suite
        self.keyParams = keyParams
        self.sessionParams = sessionParams
    }

    /// Parses an `a=crypto` value (the text after `a=crypto:`).
    ///
    /// - Parameter maxKeyParams: the most `inline:` keys accepted; bounded so a line cannot make
    ///   the parser decode an unbounded number of keys.
    /// - Throws: ``SDPParseError/Code/invalidCrypto`` (structure, tag, key method),
    ///   ``SDPParseError/Code/invalidBase64``, ``SDPParseError/Code/invalidKeyLength``,
    ///   ``SDPParseError/Code/invalidLifetime``, ``SDPParseError/Code/invalidMKI``,
    ///   ``SDPParseError/Code/tooManyValues``.
    public init(parsing value: String, maxKeyParams: Int = SDPParseLimits.default.maxKeyParamsPerCrypto)
        throws(SDPParseError)
    {
        // RFC 4568 §9.1: fields are separated by 1*WSP; TAB never reaches here (the line parser
        // rejects control characters), so runs of spaces are the only variation.
        let words = Syntax.split(value[...], on: 0x20)
        guard let first = words.first, !first.isEmpty, let last = words.last, !last.isEmpty else {
            throw SDPParseError(.invalidCrypto, reason: "crypto must not start or end with whitespace")
        }
        let fields = words.filter { !$0.isEmpty }
        guard fields.count >= 3 else {
            throw SDPParseError(.invalidCrypto, reason: "crypto needs <tag> <suite> <key-params>")
        }
        guard fields[0].utf8.count <= 9, let tag = Syntax.decimal(fields[0]) else {
            throw SDPParseError(.invalidCrypto, reason: "crypto tag must be 1-9 digits")
        }
        guard Syntax.all(fields[1], { Syntax.isAlphanumeric($0) || $0 == UInt8(ascii: "_") }) else {
            throw SDPParseError(.invalidCrypto, reason: "crypto-suite must be letters, digits and underscores")
        }
        let suite = SRTPCryptoSuite(name: String(fields[1]))
        let keyTexts = Syntax.split(fields[2], on: UInt8(ascii: ";"))
        guard keyTexts.count <= maxKeyParams else {
            throw SDPParseError(.tooManyValues, reason: "crypto has more key parameters than the limit of \(maxKeyParams)")
        }
        var keys: [SDESKeyParam] = []
        keys.reserveCapacity(keyTexts.count)
        for keyText in keyTexts {
            keys.append(try SDESKeyParam.parse(keyText, suite: suite))
        }
        if suite.isRegistered && keys.count > 1 {
            let mkis = keys.compactMap(\.mki)
            guard mkis.count == keys.count else {
                throw SDPParseError(.invalidMKI, reason: "every key needs an MKI when a crypto line has several keys")
            }
            guard Set(mkis.map(\.length)).count == 1 else {
                throw SDPParseError(.invalidMKI, reason: "all MKIs of one crypto line must have the same length")
            }
            guard Set(mkis.map(\.value)).count == mkis.count else {
                throw SDPParseError(.invalidMKI, reason: "MKI values of one crypto line must be distinct")
            }
        }
        for parameter in fields[3...] {
            guard Syntax.all(parameter, Syntax.isVisible) else {
                throw SDPParseError(.invalidCrypto, reason: "session parameters must be visible characters")
            }
        }
        self.init(tag: UInt32(tag), suite: suite, keyParams: keys, sessionParams: fields[3...].map(String.init))
    }

    /// Whether `UNENCRYPTED_SRTP` is set: SRTP payloads are NOT encrypted (RFC 4568 §6.3).
    public var isSRTPUnencrypted: Bool { sessionParams.contains("UNENCRYPTED_SRTP") }
    /// Whether `UNENCRYPTED_SRTCP` is set: SRTCP payloads are NOT encrypted (RFC 4568 §6.3).
    public var isSRTCPUnencrypted: Bool { sessionParams.contains("UNENCRYPTED_SRTCP") }
    /// Whether `UNAUTHENTICATED_SRTP` is set: SRTP packets are NOT authenticated (RFC 4568 §6.3).
    public var isSRTPUnauthenticated: Bool { sessionParams.contains("UNAUTHENTICATED_SRTP") }

    /// The wire form of the value (after `a=crypto:`). It contains keys: do not log it.
    public func serialized() -> String {
        var text = "\(tag) \(suite.name) " + keyParams.map { $0.serialized() }.joined(separator: ";")
        for parameter in sessionParams {
            text += " " + parameter
        }
        return text
    }

    /// A log-safe rendering with the keys redacted.
    public var description: String {
        var text = "\(tag) \(suite.name) " + keyParams.map(\.description).joined(separator: ";")
        for parameter in sessionParams {
            text += " " + parameter
        }
        return text
    }

    /// Same as ``description``.
    public var debugDescription: String { description }
}

extension MediaDescription {
    /// The `a=crypto` lines in offer order (RFC 4568 §9.1). Lines that do not parse are skipped
    /// (a parsed description has none).
    public var cryptos: [SDESCryptoAttribute] {
        attributes.compactMap { attribute in
            guard attribute.name == SDPAttributeName.crypto, let value = attribute.value else { return nil }
            return try? SDESCryptoAttribute(parsing: value, maxKeyParams: Int.max)
        }
    }
}
