/// Decides when the edge is over capacity (RFC 7339's idea, applied at the edge itself): from measured event-loop
/// lag and the backlog of requests waiting for the store. While overloaded, new dialog-creating requests and
/// requests from unknown sources get 503 with Retry-After (RFC 3261 §21.5.4); in-dialog requests, ACKs, BYEs,
/// allow-listed sources and sources that authenticated recently keep being served.
///
/// Hysteresis keeps it from flapping: it enters at the thresholds and leaves only once both measures have stayed
/// under half of them for `calmSeconds`.
public struct OverloadGuard: Hashable, Sendable {
    /// The thresholds.
    public struct Thresholds: Hashable, Sendable {
        /// Event-loop lag (how late a scheduled task runs) that means overload, in milliseconds.
        public var loopLagMilliseconds: Int
        /// Requests waiting for the store that mean overload.
        public var backlog: Int
        /// How long both measures must stay under half their thresholds before new work is accepted again.
        public var calmSeconds: Int
        /// The Retry-After sent with 503 (seconds).
        public var retryAfterSeconds: Int

        /// Creates thresholds (defaults: 250 ms of lag, 2,000 waiting requests, 5 s calm, retry after 10 s).
        public init(loopLagMilliseconds: Int = 250, backlog: Int = 2_000, calmSeconds: Int = 5,
                    retryAfterSeconds: Int = 10) {
            self.loopLagMilliseconds = loopLagMilliseconds
            self.backlog = backlog
            self.calmSeconds = calmSeconds
            self.retryAfterSeconds = retryAfterSeconds
        }
    }

    public let thresholds: Thresholds
    /// Whether the edge is refusing new work.
    public private(set) var isOverloaded = false
    private var calmSince: Duration?

    /// Creates a guard that starts calm.
    public init(thresholds: Thresholds = .init()) { self.thresholds = thresholds }

    /// Takes one measurement; returns true when the state changed.
    public mutating func sample(loopLagMilliseconds: Int, backlog: Int, now: Duration) -> Bool {
        let over = loopLagMilliseconds >= thresholds.loopLagMilliseconds || backlog >= thresholds.backlog
        if over {
            calmSince = nil
            guard !isOverloaded else { return false }
            isOverloaded = true
            return true
        }
        guard isOverloaded else { return false }
        let calm = loopLagMilliseconds * 2 < thresholds.loopLagMilliseconds && backlog * 2 < thresholds.backlog
        guard calm else {
            calmSince = nil
            return false
        }
        let since = calmSince ?? now
        calmSince = since
        guard now - since >= .seconds(thresholds.calmSeconds) else { return false }
        isOverloaded = false
        calmSince = nil
        return true
    }
}
