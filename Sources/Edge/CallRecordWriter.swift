import Logging
import Storage
import Synchronization

/// Writes CDRs behind the calls, in batches: a call that ends hands its record over and goes on; one task at a time
/// saves everything that has accumulated (one SQLite transaction per batch instead of one per call), then rests
/// ``pause`` so that the next batch gathers more (at 1,500 calls/s, per-call transactions and the wake-ups of the
/// store's writer cost a sixth of the CPU). A crash can lose the records of the last pause; ``drain()`` waits until
/// every record handed over is stored, for a clean shutdown.
final class CallRecordWriter: Sendable {
    private struct State {
        var pending: [CallDetailRecord] = []
        var writing = false
    }

    /// Records waiting at most; beyond it (the store is down or far behind) new ones are dropped and logged.
    static let capacity = 100_000
    /// The rest between two batches.
    static let pause = Duration.milliseconds(100)

    private let state = Mutex(State())
    private let store: any Store
    private let logger: Logger

    init(store: any Store, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// Hands a record over; it is saved soon, with whatever else is waiting.
    func write(_ record: CallDetailRecord) {
        let startWriting = state.withLock { state -> Bool? in
            guard state.pending.count < Self.capacity else { return nil }
            state.pending.append(record)
            if state.writing { return false }
            state.writing = true
            return true
        }
        switch startWriting {
        case nil: logger.error("call record dropped: too many waiting for the store", metadata: ["id": "\(record.id)"])
        case true?: Task { await self.writeAll() }
        case false?: break
        }
    }

    private func writeAll() async {
        while true {
            let batch = state.withLock { state -> [CallDetailRecord] in
                let batch = state.pending
                state.pending = []
                if batch.isEmpty { state.writing = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            do throws(StorageError) { try await store.saveCallRecords(batch) } catch {
                logger.error("call records not stored", metadata: ["error": "\(error.code)", "count": "\(batch.count)"])
            }
            try? await Task.sleep(for: Self.pause)
        }
    }

    /// Waits until every record handed over so far is stored (or its write failed), at most `seconds`.
    func drain(seconds: Int = 10) async {
        for _ in 0..<(seconds * 100) {
            if state.withLock({ !$0.writing && $0.pending.isEmpty }) { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
        logger.error("call records still waiting for the store at shutdown")
    }
}
