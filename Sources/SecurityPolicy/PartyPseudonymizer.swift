import Crypto

/// Pseudonyms for call parties in CDRs (issue 4: callers and callees "stored as configured: clear, or
/// pseudonymised with a keyed hash").
///
/// A pseudonym is `anon:` and the first 128 bits of HMAC-SHA256 under the operator's key, in hex: one party always
/// maps to the same pseudonym, so records still correlate, but without the key nobody can test a guess. A plain
/// hash would not do: the numbering plan is small enough to enumerate. Parties are hashed as given; callers pass a
/// normalised form (an E.164 number, or a lowercased `user@domain`) so that spellings of one party agree.
public struct PartyPseudonymizer: Sendable {
    /// Kept in swift-crypto's key storage, which zeroes it when released.
    private let key: SymmetricKey
    /// Names the key without revealing it: `k` and the first 32 bits of HMAC-SHA256 of a fixed label under it, in
    /// hex. Stored with each pseudonymised record, so that after a rotation a lookup knows which key made it.
    public let keyID: String

    /// Why a key was refused.
    public struct KeyError: Error, Hashable, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Creates a pseudonymizer; the key must hold at least 256 bits (RFC 2104 §3: no shorter than the hash output).
    public init(key: SymmetricKey) throws(KeyError) {
        guard key.bitCount >= 256 else {
            throw KeyError(description: "a pseudonym key needs at least 256 bits, not \(key.bitCount)")
        }
        self.key = key
        let mac = HMAC<SHA256>.authenticationCode(for: Array("rampart pseudonym key id".utf8), using: key)
        keyID = "k" + Self.hex(mac.prefix(4))
    }

    private static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The pseudonym of a party.
    public func pseudonym(for party: String) -> String {
        "anon:" + Self.hex(HMAC<SHA256>.authenticationCode(for: Array(party.utf8), using: key).prefix(16))
    }
}

/// How call parties are written to CDRs.
public enum PartyRecording: Sendable {
    /// As they are.
    case clear
    /// Replaced by keyed pseudonyms.
    case pseudonymised(PartyPseudonymizer)

    /// The form of `party` to store.
    public func recorded(_ party: String) -> String {
        switch self {
        case .clear: return party
        case .pseudonymised(let pseudonymizer): return pseudonymizer.pseudonym(for: party)
        }
    }

    /// The identifier of the key pseudonyms are made with; nil in clear.
    public var keyID: String? {
        if case .pseudonymised(let pseudonymizer) = self { return pseudonymizer.keyID }
        return nil
    }
}

/// How IP addresses are written to stored records (security events and their audit records): an address is
/// personal data when it identifies a subscriber's line. Bans keep the exact address while they last: they could
/// not be enforced otherwise.
public enum AddressRecording: Sendable {
    case clear
    /// The network only: an IPv4 address's /24, an IPv6 address's /48 (`192.0.2.0/24`); still enough to see
    /// where an attack came from, no longer one line.
    case truncated
    /// A keyed pseudonym (`anon:...`): one address always gives the same one, so records still correlate.
    case pseudonymised(PartyPseudonymizer)

    /// The form of `address` to store; text that is not an IP address is stored as `unknown` unless in clear.
    public func recorded(_ address: String) -> String {
        switch self {
        case .clear:
            return address
        case .truncated:
            guard let ip = IPAddress(address) else { return "unknown" }
            return ip.isIPv4 ? "\(ip.masked(to: 96 + 24))/24" : "\(ip.masked(to: 48))/48"
        case .pseudonymised(let pseudonymizer):
            guard let ip = IPAddress(address) else { return "unknown" }
            return pseudonymizer.pseudonym(for: "ip:" + ip.description)
        }
    }
}
