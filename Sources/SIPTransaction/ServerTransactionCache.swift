import SIPMessage

/// The server-transaction layer a stateless-looking element (registrar, OPTIONS responder) needs: it recognises
/// retransmitted requests by their ``ServerTransactionKey`` and answers them with the response already sent
/// (RFC 3261 §17.2.2 for non-INVITE, §17.2.1 for the INVITE it refuses), without running the request twice.
///
/// Over unreliable transports a completed transaction is kept for Timer J (64·T1) so late retransmissions are
/// still absorbed; over streams it is forgotten once answered (RFC 3261 §17.2.2: Timer J is 0 there). Callers
/// may also forget answers that are safe to compute again (a fresh challenge). The cache is bounded: when full,
/// the oldest transactions are forgotten early (under load a response is then remembered for less than Timer J,
/// which still covers the first retransmissions at T1, 2·T1, 4·T1...), so memory stays bounded and no request
/// is refused for want of room.
public struct ServerTransactionCache: Sendable {
    /// What an arriving request is.
    public enum Arrival: Equatable, Sendable {
        /// A new transaction: process the request, then call ``complete(_:response:reliable:now:)``.
        case new
        /// A retransmission: resend `response` if there is one yet (nil while the first copy is being processed).
        case retransmission(response: [UInt8]?)
    }

    private struct Entry: Sendable {
        var response: [UInt8]?
        var deadline: Duration
    }

    /// Most transactions kept at once.
    public let capacity: Int
    /// The timer values (T1 drives Timer J).
    public let timers: TransactionTimers
    private var entries: [ServerTransactionKey: Entry] = [:]
    /// Keys in deadline order (every deadline is `now + constant`, so appending keeps it sorted).
    private var expiryQueue: [(deadline: Duration, key: ServerTransactionKey)] = []
    private var expiryHead = 0

    /// Creates a cache.
    public init(capacity: Int = 200_000, timers: TransactionTimers = TransactionTimers()) {
        self.capacity = capacity
        self.timers = timers
    }

    /// Transactions currently kept.
    public var count: Int { entries.count }

    /// Records an arriving request.
    public mutating func arrive(_ key: ServerTransactionKey, now: Duration) -> Arrival {
        expire(now: now)
        if let entry = entries[key] { return .retransmission(response: entry.response) }
        while entries.count >= capacity, expiryHead < expiryQueue.count {
            entries[expiryQueue[expiryHead].key] = nil  // the oldest first
            expiryHead += 1
        }
        // A request in processing is held until answered, or at most one transaction timeout.
        let deadline = now + timers.transactionTimeout
        entries[key] = Entry(response: nil, deadline: deadline)
        expiryQueue.append((deadline, key))
        return .new
    }

    /// What a request would be if it arrived now, without recording it: a retransmission of a transaction in
    /// processing or answered (with its response, or nil while in processing), or nil for a new one.
    public func known(_ key: ServerTransactionKey, now: Duration) -> Arrival? {
        guard let entry = entries[key], entry.deadline > now else { return nil }
        return .retransmission(response: entry.response)
    }

    /// Records that a transaction was handed over to a transaction user that answers it itself (a call): its
    /// retransmissions go there; a response already recorded stays.
    public mutating func handOver(_ key: ServerTransactionKey, now: Duration) {
        guard let entry = entries[key], entry.response == nil else { return }
        complete(key, response: [], reliable: false, now: now)
    }

    /// Records the final response sent for a transaction; with `remember` false (or over a reliable transport)
    /// the transaction is forgotten at once.
    public mutating func complete(_ key: ServerTransactionKey, response: [UInt8], reliable: Bool, now: Duration,
                                  remember: Bool = true) {
        if reliable || !remember {
            entries[key] = nil
            return
        }
        guard entries[key] != nil else { return }
        let deadline = now + timers.transactionTimeout  // Timer J
        entries[key] = Entry(response: response, deadline: deadline)
        expiryQueue.append((deadline, key))
    }

    /// Forgets transactions whose time is over.
    public mutating func expire(now: Duration) {
        while expiryHead < expiryQueue.count, expiryQueue[expiryHead].deadline <= now {
            let key = expiryQueue[expiryHead].key
            if let entry = entries[key], entry.deadline <= now { entries[key] = nil }
            expiryHead += 1
        }
        compact()
    }

    private mutating func compact() {
        if expiryHead > 1024, expiryHead * 2 > expiryQueue.count {
            expiryQueue.removeFirst(expiryHead)
            expiryHead = 0
        }
    }
}
