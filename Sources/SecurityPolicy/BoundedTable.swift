/// A map with a hard bound on its size, for per-source and per-account state that an attacker spraying addresses
/// or user names could otherwise grow without end.
///
/// Two generations, as in a generational cache: new keys go into the young one; when it holds half the capacity
/// it becomes the old one and the previous old one is dropped. A key found in the old generation moves back to
/// the young one. So active keys stay, idle ones are forgotten after about one generation of new keys, memory
/// never exceeds `capacity` entries, and every operation is O(1) with no per-entry bookkeeping.
public struct BoundedTable<Key: Hashable, Value> {
    private var young: [Key: Value] = [:]
    private var old: [Key: Value] = [:]
    /// Most entries held at once.
    public let capacity: Int

    /// Creates an empty table holding at most `capacity` (≥ 2) entries.
    public init(capacity: Int) {
        self.capacity = max(2, capacity)
    }

    /// The value of `key`, without refreshing it.
    public subscript(key: Key) -> Value? { young[key] ?? old[key] }

    /// Entries held.
    public var count: Int { young.count + old.count }

    /// Runs `body` on the value of `key`, created with `makeDefault` if absent, and refreshes the key.
    public mutating func update<Result>(_ key: Key, default makeDefault: @autoclosure () -> Value,
                                        _ body: (inout Value) -> Result) -> Result {
        // One hash in the common case: the key is young.
        if let index = young.index(forKey: key) { return body(&young.values[index]) }
        var value = old.removeValue(forKey: key) ?? makeDefault()
        let result = body(&value)
        insert(key, value)
        return result
    }

    /// Removes `key`; returns its value.
    @discardableResult
    public mutating func removeValue(forKey key: Key) -> Value? {
        young.removeValue(forKey: key) ?? old.removeValue(forKey: key)
    }

    /// Every entry (young first).
    public var entries: [(key: Key, value: Value)] {
        young.map { ($0.key, $0.value) } + old.map { ($0.key, $0.value) }
    }

    private mutating func insert(_ key: Key, _ value: Value) {
        if young.count >= capacity / 2 {
            swap(&young, &old)
            young.removeAll(keepingCapacity: true)
        }
        young[key] = value
    }
}

extension BoundedTable: Sendable where Key: Sendable, Value: Sendable {}
