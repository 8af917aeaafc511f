import Crypto

/// A Digest `algorithm` token (RFC 7616 §3.2, §6.1; RFC 8760 §2 for SIP; RFC 3261 §22.4).
///
/// The strong algorithms are static members: ``sha256``, ``sha256Sess``, ``sha512_256``,
/// ``sha512_256Sess``. MD5, which RFC 8760 keeps only for backward compatibility (and
/// which sipp 3.6 and most phones still use), reads as legacy at every use site:
/// ``Insecure/md5`` and ``Insecure/md5Sess``, as swift-crypto's `Insecure.MD5`.
///
/// A `-sess` variant hashes the same stored HA1 once more with the nonce and cnonce
/// (RFC 7616 §3.4.2).
public struct DigestAlgorithm: Hashable, Sendable, CustomStringConvertible {
    enum HashFunction: Hashable, Sendable {
        case md5
        case sha256
        // swift-format-ignore: AlwaysUseLowerCamelCase
        case sha512_256
    }

    let hashFunction: HashFunction

    /// Whether this is a `-sess` variant (RFC 7616 §3.4.2).
    public let isSession: Bool

    private init(_ hashFunction: HashFunction, session: Bool) {
        self.hashFunction = hashFunction
        self.isSession = session
    }

    /// `SHA-256` (RFC 7616 §3.2, RFC 8760 §2): what a SIP registrar should offer first
    /// (RFC 8760 §2.4).
    public static let sha256 = DigestAlgorithm(.sha256, session: false)
    /// `SHA-256-sess` (RFC 7616 §3.2, §3.4.2).
    public static let sha256Sess = DigestAlgorithm(.sha256, session: true)
    // swift-format-ignore: AlwaysUseLowerCamelCase
    /// `SHA-512-256`, SHA-512/256 of FIPS 180-4 §5.3.6.2 (RFC 7616 §3.2, RFC 8760 §2).
    public static let sha512_256 = DigestAlgorithm(.sha512_256, session: false)
    // swift-format-ignore: AlwaysUseLowerCamelCase
    /// `SHA-512-256-sess` (RFC 7616 §3.2, §3.4.2).
    public static let sha512_256Sess = DigestAlgorithm(.sha512_256, session: true)

    /// Legacy Digest algorithms still spoken for interoperability (RFC 8760 §2 keeps MD5
    /// for backward compatibility only; RFC 7616 §3.2).
    public enum Insecure {
        /// `MD5` (RFC 2617 §3.2.1, RFC 7616 §3.2): the default when `algorithm` is absent
        /// (RFC 7616 §3.3) and the only one many SIP phones and sipp 3.6 speak.
        public static let md5 = DigestAlgorithm(.md5, session: false)
        /// `MD5-sess` (RFC 2617 §3.2.2.2, RFC 7616 §3.4.2).
        public static let md5Sess = DigestAlgorithm(.md5, session: true)
    }

    /// Every supported algorithm, strongest first (RFC 7616 §3.7: a server lists its
    /// challenges in order of preference).
    public static let allCases: [DigestAlgorithm] = [
        .sha512_256, .sha512_256Sess, .sha256, .sha256Sess, Insecure.md5, Insecure.md5Sess,
    ]

    /// The algorithm named by `token`, compared case-insensitively as RFC 7616 §3.3
    /// requires; `nil` for an unknown token.
    public init?(token: some StringProtocol) {
        var lowered = ""
        for scalar in token.unicodeScalars {
            guard scalar.isASCII else { return nil }
            lowered.unicodeScalars.append(Unicode.Scalar(UInt8(ascii: scalar).lowercasedASCII))
        }
        switch lowered {
        case "md5": self = Insecure.md5
        case "md5-sess": self = Insecure.md5Sess
        case "sha-256": self = .sha256
        case "sha-256-sess": self = .sha256Sess
        case "sha-512-256": self = .sha512_256
        case "sha-512-256-sess": self = .sha512_256Sess
        default: return nil
        }
    }

    /// The token as written on the wire (RFC 7616 §3.3, §6.1), for example `SHA-256-sess`.
    public var token: String {
        let base =
            switch hashFunction {
            case .md5: "MD5"
            case .sha256: "SHA-256"
            case .sha512_256: "SHA-512-256"
            }
        return isSession ? base + "-sess" : base
    }

    /// The wire token (RFC 7616 §3.3).
    public var description: String { token }

    /// Whether this algorithm is a legacy one kept only for interoperability (MD5 and
    /// MD5-sess; RFC 8760 §2, RFC 7616 §5.1).
    public var isInsecure: Bool { hashFunction == .md5 }

    /// The length of this algorithm's hex digests, hence of its `response` and `userhash`
    /// values: 32 for MD5, 64 for the SHA-2 ones (RFC 7616 §3.4.1).
    public var hexLength: Int {
        switch hashFunction {
        case .md5: 32
        case .sha256, .sha512_256: 64
        }
    }

    /// The same hash function without `-sess` (RFC 7616 §3.4.2).
    public var withoutSession: DigestAlgorithm { DigestAlgorithm(hashFunction, session: false) }

    /// H(data) in lowercase hex (RFC 7616 §3.4: "H(data) = hexadecimal representation of
    /// the hash of data", lowercase per the `LHEX` rule).
    public func hexDigest(_ bytes: some Sequence<UInt8>) -> String {
        var hasher = DigestHasher(hashFunction)
        hasher.update(bytes)
        return hasher.finalizeHex()
    }

    /// The `userhash` value: H(unq(username) ":" unq(realm)) in hex (RFC 7616 §3.4.4).
    public func userhash(username: String, realm: String) -> String {
        var hasher = DigestHasher(hashFunction)
        hasher.update(username)
        hasher.update(":")
        hasher.update(realm)
        return hasher.finalizeHex()
    }
}

/// A streaming hash over one of the Digest hash functions, so that H(a ":" b ":" c) is
/// computed without concatenating its pieces.
struct DigestHasher {
    private enum State {
        case spent  // transient, so the hasher being updated is uniquely referenced
        case md5(Insecure.MD5)
        case sha256(SHA256)
        // swift-format-ignore: AlwaysUseLowerCamelCase
        case sha512_256(SHA512_256)
    }

    private var state: State

    init(_ function: DigestAlgorithm.HashFunction) {
        switch function {
        case .md5: state = .md5(Insecure.MD5())
        case .sha256: state = .sha256(SHA256())
        case .sha512_256: state = .sha512_256(SHA512_256())
        }
    }

    mutating func update(_ string: String) {
        var string = string
        string.withUTF8 { update(buffer: $0) }
    }

    mutating func update(_ bytes: some Sequence<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(buffer: $0) }
        if done == nil {
            let copy = Array(bytes)
            copy.withUnsafeBufferPointer { update(buffer: $0) }
        }
    }

    mutating func update(buffer: UnsafeBufferPointer<UInt8>) {
        switch state {
        case .spent:
            preconditionFailure("DigestHasher used after finalization")
        case .md5(var hasher):
            state = .spent
            hasher.update(bufferPointer: UnsafeRawBufferPointer(buffer))
            state = .md5(hasher)
        case .sha256(var hasher):
            state = .spent
            hasher.update(bufferPointer: UnsafeRawBufferPointer(buffer))
            state = .sha256(hasher)
        case .sha512_256(var hasher):
            state = .spent
            hasher.update(buffer: buffer)
            state = .sha512_256(hasher)
        }
    }

    consuming func finalizeHex() -> String {
        switch state {
        case .spent: preconditionFailure("DigestHasher finalized twice")
        case .md5(let hasher): hex(hasher.finalize())
        case .sha256(let hasher): hex(hasher.finalize())
        case .sha512_256(let hasher): hex(hasher.finalize())
        }
    }
}

private let lowercaseHexDigits: [UInt8] = Array("0123456789abcdef".utf8)

/// Lowercase hex of `bytes` (RFC 7616 §3.4 `LHEX`).
func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = lowercaseHexDigits
    var out = [UInt8]()
    out.reserveCapacity(bytes.underestimatedCount * 2)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}

extension UInt8 {
    var lowercasedASCII: UInt8 {
        (self >= UInt8(ascii: "A") && self <= UInt8(ascii: "Z")) ? self | 0x20 : self
    }

    var isHexDigit: Bool {
        (self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9"))
            || (self >= UInt8(ascii: "a") && self <= UInt8(ascii: "f"))
            || (self >= UInt8(ascii: "A") && self <= UInt8(ascii: "F"))
    }
}

/// Whether `value` is exactly `length` hex digits (either case).
func isHex(_ value: String, length: Int) -> Bool {
    var count = 0
    for byte in value.utf8 {
        guard byte.isHexDigit else { return false }
        count += 1
    }
    return count == length
}
