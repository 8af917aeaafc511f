/// A bounded table of live transactions, keyed as RFC 3261 §17.1.3 / §17.2.3 say.
///
/// An edge under a flood must not grow without bound: once ``capacity`` transactions are live, ``insert(_:for:)``
/// refuses new ones (the caller answers a new request 503, RFC 3261 §21.5.4) instead of evicting live state,
/// which would turn a flood into lost calls.
public struct TransactionTable<Key: Hashable & Sendable, Transaction: Sendable>: Sendable {
    /// Most live transactions.
    public let capacity: Int
    private var transactions: [Key: Transaction] = [:]

    /// Creates a table. The default capacity (100,000) is far above what a 2-core edge completes in 64*T1.
    public init(capacity: Int = 100_000) {
        precondition(capacity > 0, "a transaction table needs room for at least one transaction")
        self.capacity = capacity
    }

    /// Live transactions.
    public var count: Int { transactions.count }

    /// The transaction for a key.
    public subscript(key: Key) -> Transaction? {
        get { transactions[key] }
    }

    /// Adds a transaction; false (and no change) when the key is taken or the table is full.
    @discardableResult
    public mutating func insert(_ transaction: Transaction, for key: Key) -> Bool {
        guard transactions[key] == nil, transactions.count < capacity else { return false }
        transactions[key] = transaction
        return true
    }

    /// Runs `body` on the transaction for `key` in place and returns its result; nil if there is none.
    /// A transaction whose actions include ``TransactionAction/terminated`` is removed.
    public mutating func update(
        _ key: Key, _ body: (inout Transaction) -> [TransactionAction]
    ) -> [TransactionAction]? {
        guard var transaction = transactions[key] else { return nil }
        let actions = body(&transaction)
        if actions.contains(.terminated) {
            transactions[key] = nil
        } else {
            transactions[key] = transaction
        }
        return actions
    }

    /// Removes a transaction.
    public mutating func remove(_ key: Key) { transactions[key] = nil }
}
