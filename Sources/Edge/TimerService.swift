import Synchronization

/// The edge's one timer service: every timer a call, a subscription or a relayed request starts runs through it,
/// on the edge's monotonic clock (``EdgeClock/monotonic``).
///
/// A short timer (a retransmission: T1 up to T2) runs on an event loop, where scheduling costs next to nothing. A
/// long one (ring timeout, session expiry, maximum duration, Timer B over streams, a relayed request's expiry) waits
/// here, by owner, until housekeeping fires it (``fireDue(now:_:)``, twice a second) or its owner goes
/// (``forget(_:)``): timers of hours do not linger in an event loop's queue after their call, and a cancelled one
/// is dropped. A short timer is never cancelled: it fires, and its owner finds nothing to do.
final class TimerService<Owner: Hashable & Sendable, Timer: Hashable & Sendable>: Sendable {
    /// Runs a closure once a delay has passed, on an event loop.
    typealias Scheduler = @Sendable (Duration, @escaping @Sendable () -> Void) -> Void

    struct Waiting: Sendable {
        var timer: Timer
        var due: Duration
    }

    /// Timers at least this long wait in the table; shorter ones go to the event loop.
    let longFrom: Duration
    /// One shard of the table (one lock for every owner would make the event loops queue for it).
    final class Shard: Sendable {
        let table = Mutex<[Owner: [Waiting]]>([:])
    }

    private let shards: [Shard]

    init(longFrom: Duration = .seconds(1), shards: Int = 16) {
        precondition(shards > 0 && shards & (shards - 1) == 0, "a power of two")
        self.longFrom = longFrom
        self.shards = (0..<shards).map { _ in Shard() }
    }

    private func shard(_ owner: Owner) -> Shard { shards[owner.hashValue & (shards.count - 1)] }

    /// Starts `timer` for `owner`: `fire` runs once `delay` has passed since `now`. A long timer's `fire` is not
    /// kept: ``fireDue(now:_:)`` is told what to run. Without a scheduler (no transport) nothing is started.
    func start(_ timer: Timer, for owner: Owner, after delay: Duration, now: Duration, scheduler: Scheduler?,
               fire: @escaping @Sendable () -> Void) {
        guard let scheduler else { return }
        guard delay >= longFrom else { return scheduler(delay, fire) }
        shard(owner).table.withLock { $0[owner, default: []].append(Waiting(timer: timer, due: now + delay)) }
    }

    /// Drops the owner's waiting timers equal to any of `timers`.
    func cancel(_ timers: [Timer], for owner: Owner) {
        guard !timers.isEmpty else { return }
        shard(owner).table.withLock { table in
            guard var waiting = table[owner] else { return }
            waiting.removeAll { timers.contains($0.timer) }
            table[owner] = waiting.isEmpty ? nil : waiting
        }
    }

    /// Drops every timer of an owner that is gone.
    func forget(_ owner: Owner) {
        _ = shard(owner).table.withLock { $0.removeValue(forKey: owner) }
    }

    /// Drops every waiting timer (at shutdown).
    func forgetAll() {
        for shard in shards { shard.table.withLock { $0 = [:] } }
    }

    /// Takes the timers due at `now` out of the table and runs `fire` on each, outside the table's locks.
    func fireDue(now: Duration, _ fire: (Owner, Timer) -> Void) {
        let due = shards.flatMap { shard in
            shard.table.withLock { table -> [(Owner, Timer)] in
                var due: [(Owner, Timer)] = []
                for (owner, waiting) in table where waiting.contains(where: { $0.due <= now }) {
                    due += waiting.filter { $0.due <= now }.map { (owner, $0.timer) }
                    let later = waiting.filter { $0.due > now }
                    table[owner] = later.isEmpty ? nil : later
                }
                return due
            }
        }
        for (owner, timer) in due { fire(owner, timer) }
    }

    /// How many timers wait in the table.
    var waitingCount: Int { shards.reduce(0) { $0 + $1.table.withLock { $0.values.reduce(0) { $0 + $1.count } } } }
}
