import Crypto

/// Stateless digest nonces (RFC 7616 §3.3, §5.4) with nonce-count replay protection (§5.5).
///
/// A nonce is `base64url(issued-at || salt || HMAC-SHA256(key, issued-at || salt || realm)[0..<16])`: the server
/// keeps no per-challenge state, a nonce for one realm is useless in another, and its age is known without a
/// lookup. Age past ``lifetime`` gives ``Verdict/stale`` (answer with `stale=true`, RFC 7616 §3.3) rather than a
/// failure, so a phone whose nonce simply aged is not counted as a wrong password.
///
/// Replay protection needs state: the highest nonce-count seen per nonce, in a table bounded by
/// ``maxTrackedNonces``. When it is full the oldest nonce is forgotten; such a nonce (genuine and fresh, but no
/// longer tracked, or issued by another server sharing the key) is refused as ``Verdict/stale``: never accepted,
/// and the client gets a fresh challenge instead of a 403 (a flood of challenges must not lock phones out).
public struct DigestNonceIssuer: Sendable {
    /// The result of checking a nonce and its count.
    public enum Verdict: Hashable, Sendable {
        /// Genuine, fresh, and the count is new.
        case valid
        /// Genuine but older than the lifetime: challenge again with `stale=true`.
        case stale
        /// Not issued by this server for this realm (forged, altered or truncated).
        case invalid
        /// The nonce-count was already used, or the nonce is no longer tracked.
        case replayed
    }

    /// How long a nonce stays fresh (default 300 s).
    public let lifetime: Duration
    /// Most nonces whose counts are tracked (default 100,000: one per active client is plenty).
    public let maxTrackedNonces: Int
    /// HMAC-SHA256 already keyed: copying it per nonce skips hashing the key pads again.
    private let keyedMAC: HMAC<SHA256>
    /// Per issued nonce: the highest nonce-count seen, and a keyed hash of the realm it was issued for.
    private var tracked: [String: (highestCount: UInt32, realm: Int)] = [:]
    private var issueOrder: [String] = []
    private var issueOrderStart = 0
    /// Makes every nonce distinct (the MAC makes it unforgeable); starts at a random value so nonces do not
    /// reveal how many were issued. A counter, not a CSPRNG draw per nonce: getrandom is a syscall.
    private var salt = UInt64.random(in: .min ... .max)

    /// Creates an issuer with a fresh random key (nonces do not survive a restart, by design).
    public init(lifetime: Duration = .seconds(300), maxTrackedNonces: Int = 100_000) {
        self.init(key: SymmetricKey(size: .bits256), lifetime: lifetime, maxTrackedNonces: maxTrackedNonces)
    }

    /// Creates an issuer with a given key (tests, or a cluster sharing one key).
    public init(key: SymmetricKey, lifetime: Duration = .seconds(300), maxTrackedNonces: Int = 100_000) {
        precondition(maxTrackedNonces > 0, "at least one nonce must be tracked")
        self.keyedMAC = HMAC<SHA256>(key: key)
        self.lifetime = lifetime
        self.maxTrackedNonces = maxTrackedNonces
    }

    /// Issues a nonce for `realm` at time `now` (seconds on the caller's clock).
    public mutating func issue(realm: String, now: Duration) -> String {
        self.salt &+= 1
        let salt = withUnsafeBytes(of: self.salt.bigEndian) { Array($0) }
        let nonce = Self.encode(issuedAt: UInt64(max(0, now.components.seconds)), salt: salt, mac: mac(
            issuedAt: UInt64(max(0, now.components.seconds)), salt: salt, realm: realm))
        track(nonce, realm: realm)
        return nonce
    }

    /// Checks a nonce and nonce-count from credentials; a `.valid` verdict records the count.
    public mutating func verify(nonce: String, nonceCount: UInt32?, realm: String, now: Duration) -> Verdict {
        guard let (issuedAt, salt, presented) = Self.decode(nonce) else { return .invalid }
        // Only issued nonces are tracked, so one tracked for this realm is genuine without recomputing its MAC; an
        // untracked one is either forged or forgotten.
        let entry = tracked[nonce]
        if entry?.realm != realm.hashValue {
            guard constantTimeEquals(presented, mac(issuedAt: issuedAt, salt: salt, realm: realm)) else {
                return .invalid
            }
        }
        let age = now - .seconds(Int64(clamping: issuedAt))
        if age > lifetime || age < .seconds(-5) { return .stale }
        guard let highest = entry?.highestCount else { return .stale }  // forgotten: fail closed, re-challenge
        guard let count = nonceCount else {
            // RFC 2069 form (no qop, no count): nothing orders the uses, so the nonce is good for one use only,
            // else a dictionary attack could reuse it (sipvicious `svcrack -n`).
            guard highest == 0 else { return .replayed }
            tracked[nonce]?.highestCount = .max
            return .valid
        }
        guard count > highest else { return .replayed }
        tracked[nonce]?.highestCount = count
        return .valid
    }

    private mutating func track(_ nonce: String, realm: String) {
        if tracked.count >= maxTrackedNonces {
            let oldest = issueOrder[issueOrderStart]
            issueOrderStart += 1
            tracked[oldest] = nil
            if issueOrderStart > maxTrackedNonces {  // compact the queue now and then
                issueOrder.removeFirst(issueOrderStart)
                issueOrderStart = 0
            }
        }
        tracked[nonce] = (0, realm.hashValue)
        issueOrder.append(nonce)
    }

    private func mac(issuedAt: UInt64, salt: [UInt8], realm: String) -> [UInt8] {
        var hmac = keyedMAC
        withUnsafeBytes(of: issuedAt.bigEndian) { hmac.update(data: $0) }
        salt.withUnsafeBytes { hmac.update(data: $0) }
        var realm = realm
        realm.withUTF8 { hmac.update(data: UnsafeRawBufferPointer($0)) }
        return hmac.finalize().withUnsafeBytes { Array($0.prefix(16)) }
    }

    static func encode(issuedAt: UInt64, salt: [UInt8], mac: [UInt8]) -> String {
        base64URL(withUnsafeBytes(of: issuedAt.bigEndian) { Array($0) } + salt + mac)
    }

    static func decode(_ nonce: String) -> (UInt64, [UInt8], [UInt8])? {
        guard nonce.utf8.count == 43, let bytes = fromBase64URL(nonce), bytes.count == 32 else { return nil }
        let issuedAt = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return (issuedAt, Array(bytes[8..<16]), Array(bytes[16..<32]))
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Each byte's value in ``alphabet``, 0xFF for bytes outside it.
    private static let alphabetIndex: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(value) }
        return table
    }()

    static func base64URL(_ bytes: [UInt8]) -> String {
        let alphabet = Self.alphabet
        return String(unsafeUninitializedCapacity: (bytes.count * 4 + 2) / 3) { out in
            var written = 0
            func emit(_ value: UInt32, _ shift: UInt32) {
                out[written] = alphabet[Int(value >> shift & 63)]
                written += 1
            }
            var index = 0
            while index + 3 <= bytes.count {
                let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
                emit(value, 18)
                emit(value, 12)
                emit(value, 6)
                emit(value, 0)
                index += 3
            }
            let rest = bytes.count - index
            if rest > 0 {
                var value = UInt32(bytes[index]) << 16
                if rest == 2 { value |= UInt32(bytes[index + 1]) << 8 }
                emit(value, 18)
                emit(value, 12)
                if rest == 2 { emit(value, 6) }
            }
            return written
        }
    }

    static func fromBase64URL(_ text: String) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        let alphabetIndex = Self.alphabetIndex
        for byte in text.utf8 {
            let value = alphabetIndex[Int(byte)]
            guard value != 0xFF else { return nil }
            buffer = buffer << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return out
    }
}
