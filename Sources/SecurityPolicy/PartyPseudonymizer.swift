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
    }

    /// The pseudonym of a party.
    public func pseudonym(for party: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(party.utf8), using: key)
        let digits = Array("0123456789abcdef".utf8)
        var text = Array("anon:".utf8)
        for byte in mac.prefix(16) {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
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
}
