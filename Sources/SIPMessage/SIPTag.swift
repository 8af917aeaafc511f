import Synchronization

/// Tags for To and From (RFC 3261 §19.3: random, at least 32 bits).
public enum SIPTag {
    /// A fresh tag: a counter through the process's randomly seeded SipHash, so tags are unpredictable without a
    /// getrandom syscall per response (tags are not secrets; they must not repeat or be guessable in advance).
    public static func make() -> String {
        var hasher = Hasher()
        hasher.combine(counter.add(1, ordering: .relaxed).newValue)
        return String(UInt64(bitPattern: Int64(hasher.finalize())), radix: 16)
    }

    private static let counter = Atomic<UInt64>(0)
}
