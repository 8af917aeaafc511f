/// Lets an event through at most once a minute per key (a flood of refusals or of broken packets becomes one
/// event a minute, not one per packet), remembering at most `capacity` keys.
public struct EventThrottle<Key: Hashable> {
    private var lastReported: BoundedTable<Key, Int64>
    /// Seconds between two events of one key.
    public static var interval: Int64 { 60 }

    /// Creates a throttle remembering at most `capacity` keys.
    public init(capacity: Int) { lastReported = BoundedTable(capacity: capacity) }

    /// Whether an event of `key` at `epochSeconds` goes through (and, if so, starts the key's next minute).
    public mutating func allows(_ key: Key, at epochSeconds: Int64) -> Bool {
        lastReported.update(key, default: Int64.min) { last -> Bool in
            guard last == .min || epochSeconds - last >= Self.interval else { return false }
            last = epochSeconds
            return true
        }
    }
}

extension EventThrottle: Sendable where Key: Sendable {}
