/// `a=fingerprint:<hash-func> <fingerprint>` (RFC 8122 §5): the hash of the certificate a DTLS
/// (DTLS-SRTP, RFC 5763 §5) or TLS peer will present.
public struct SDPFingerprint: Hashable, Sendable, CustomStringConvertible {
    /// A hash function name from the IANA "Hash Function Textual Names" registry (RFC 8122 §5).
    public enum HashFunction: Hashable, Sendable, CustomStringConvertible {
        /// `sha-1` (20 bytes).
        case sha1
        /// `sha-224` (28 bytes).
        case sha224
        /// `sha-256` (32 bytes).
        case sha256
        /// `sha-384` (48 bytes).
        case sha384
        /// `sha-512` (64 bytes).
        case sha512
        /// `md5` (16 bytes); RFC 8122 §5 says it MUST NOT be used for new fingerprints.
        case md5
        /// `md2` (16 bytes); RFC 8122 §5 says it MUST NOT be used for new fingerprints.
        case md2
        /// Any other token, lower-cased.
        case other(String)

        /// Maps a token to its case (case-insensitively, RFC 8122 §5).
        public init(name: String) {
            switch Syntax.asciiLowercased(name) {
            case "sha-1": self = .sha1
            case "sha-224": self = .sha224
            case "sha-256": self = .sha256
            case "sha-384": self = .sha384
            case "sha-512": self = .sha512
            case "md5": self = .md5
            case "md2": self = .md2
            case let other: self = .other(other)
            }
        }

        /// The registered lower-case name.
        public var name: String {
            switch self {
            case .sha1: return "sha-1"
            case .sha224: return "sha-224"
            case .sha256: return "sha-256"
            case .sha384: return "sha-384"
            case .sha512: return "sha-512"
            case .md5: return "md5"
            case .md2: return "md2"
            case .other(let name): return name
            }
        }

        /// The digest length in bytes, `nil` for unknown functions.
        public var digestLength: Int? {
            switch self {
            case .sha1: return 20
            case .sha224: return 28
            case .sha256: return 32
            case .sha384: return 48
            case .sha512: return 64
            case .md5, .md2: return 16
            case .other: return nil
            }
        }

        /// Whether RFC 8122 §5 forbids the function for new fingerprints (`md2`, `md5`).
        public var isDeprecated: Bool { self == .md2 || self == .md5 }

        /// The name.
        public var description: String { name }
    }

    /// The hash function.
    public var hashFunction: HashFunction
    /// The certificate digest.
    public var digest: [UInt8]

    /// Creates a fingerprint.
    public init(hashFunction: HashFunction, digest: [UInt8]) {
        self.hashFunction = hashFunction
        self.digest = digest
    }

    /// Parses a fingerprint value (the text after `a=fingerprint:`).
    ///
    /// Hex digits are accepted in either case (RFC 8122 §5 writes upper case; deployed stacks send
    /// both). The digest must have the function's length; unknown functions may have 1...64 bytes.
    ///
    /// - Throws: ``SDPParseError/Code/invalidFingerprint``.
    public init(parsing value: String) throws(SDPParseError) {
        guard let fields = Syntax.fields(value, maxFields: 2), fields.count == 2, Syntax.isToken(fields[0]) else {
            throw SDPParseError(.invalidFingerprint, reason: "fingerprint must be <hash-func> <hex pairs>")
        }
        let function = HashFunction(name: String(fields[0]))
        // `2HEX *(":" 2HEX)`: every third character is a colon, so the text is 3n-1 long.
        let text = fields[1].utf8
        guard (text.count + 1) % 3 == 0 else {
            throw SDPParseError(.invalidFingerprint, reason: "fingerprint must be colon-separated two-digit hex bytes")
        }
        guard (text.count + 1) / 3 <= 64 else {
            throw SDPParseError(.invalidFingerprint, reason: "fingerprint is longer than 64 bytes")
        }
        var digest: [UInt8] = []
        digest.reserveCapacity((text.count + 1) / 3)
        var high: UInt8 = 0
        for (offset, byte) in text.enumerated() {
            switch offset % 3 {
            case 0:
                guard let value = Syntax.hexValue(byte) else {
                    throw SDPParseError(.invalidFingerprint, reason: "fingerprint must be colon-separated two-digit hex bytes")
                }
                high = value
            case 1:
                guard let value = Syntax.hexValue(byte) else {
                    throw SDPParseError(.invalidFingerprint, reason: "fingerprint must be colon-separated two-digit hex bytes")
                }
                digest.append(high << 4 | value)
            default:
                guard byte == UInt8(ascii: ":") else {
                    throw SDPParseError(.invalidFingerprint, reason: "fingerprint must be colon-separated two-digit hex bytes")
                }
            }
        }
        if let expected = function.digestLength, digest.count != expected {
            throw SDPParseError(
                .invalidFingerprint,
                reason: "\(function.name) fingerprint has \(digest.count) bytes instead of \(expected)")
        }
        self.init(hashFunction: function, digest: digest)
    }

    /// The attribute value, upper-case hex as RFC 8122 §5 specifies.
    public var description: String {
        "\(hashFunction.name) \(Syntax.hexString(digest, uppercase: true, separator: ":"))"
    }
}

/// `a=setup` roles for connection-oriented media and DTLS (RFC 4145 §4, used by RFC 5763 §5).
public enum SDPSetupRole: String, Hashable, Sendable, CaseIterable {
    /// The endpoint initiates the connection / DTLS handshake.
    case active
    /// The endpoint accepts the connection.
    case passive
    /// The endpoint can do either (offers must use this for DTLS-SRTP, RFC 5763 §5).
    case actpass
    /// The endpoint does not want the connection established for now.
    case holdconn

    /// Parses a role (ASCII-case-insensitively, as RFC 4145 §4 writes the roles as ABNF literals).
    ///
    /// - Throws: ``SDPParseError/Code/invalidSetup`` for any other value.
    public init(parsing value: String) throws(SDPParseError) {
        guard let role = SDPSetupRole(rawValue: Syntax.asciiLowercased(value)) else {
            throw SDPParseError(.invalidSetup, reason: "setup must be active, passive, actpass or holdconn")
        }
        self = role
    }
}

/// `a=zrtp-hash:<zrtp-version> <zrtp-hash-value>` (RFC 6189 §8.1): the SHA-256 hash of the
/// endpoint's ZRTP Hello message, which binds the in-media ZRTP exchange to the signalling.
public struct SDPZRTPHash: Hashable, Sendable, CustomStringConvertible {
    /// The ZRTP protocol version, for example `1.10`.
    public var version: String
    /// The 32-byte Hello hash.
    public var hash: [UInt8]

    /// Creates a zrtp-hash.
    public init(version: String, hash: [UInt8]) {
        self.version = version
        self.hash = hash
    }

    /// Parses a zrtp-hash value (the text after `a=zrtp-hash:`).
    ///
    /// - Throws: ``SDPParseError/Code/invalidZRTPHash`` unless it is `<digits>.<digits>` (at most
    ///   8 digits each) followed by exactly 64 hex digits (a SHA-256 hash).
    public init(parsing value: String) throws(SDPParseError) {
        guard let fields = Syntax.fields(value, maxFields: 2), fields.count == 2 else {
            throw SDPParseError(.invalidZRTPHash, reason: "zrtp-hash must be <version> <hex hash>")
        }
        let versionParts = Syntax.split(fields[0], on: UInt8(ascii: "."))
        guard versionParts.count == 2,
              versionParts.allSatisfy({ Syntax.all($0, Syntax.isDigit) && $0.utf8.count <= 8 })
        else {
            throw SDPParseError(.invalidZRTPHash, reason: "zrtp-hash version must be <digits>.<digits>")
        }
        guard fields[1].utf8.count == 64, let hash = Syntax.hexBytes(fields[1]) else {
            throw SDPParseError(.invalidZRTPHash, reason: "zrtp-hash value must be 64 hex digits")
        }
        self.init(version: String(fields[0]), hash: hash)
    }

    /// The hash as lower-case hex.
    public var hashHex: String { Syntax.hexString(hash, uppercase: false) }

    /// The attribute value.
    public var description: String { "\(version) \(hashHex)" }
}
