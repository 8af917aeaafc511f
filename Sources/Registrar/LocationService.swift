import Storage
import Synchronization

/// The registrar's location service: bindings in memory (every REGISTER reads and rewrites its AOR's bindings
/// under one lock, so concurrent REGISTERs for one AOR cannot lose each other's changes), written behind to the
/// ``Store`` in batches so that registrations survive a restart without a disk write per request (Kamailio's
/// usrloc "write-back" mode). ``flush()`` runs periodically and at shutdown.
public final class LocationService: Sendable {
    private struct State {
        var bindings: [String: [RegistrationRecord]] = [:]
        var dirty: Set<String> = []
    }

    private let store: any RegistrationStore
    private let state = Mutex(State())

    /// Creates an empty service over a store; call ``load(now:)`` to read what the store kept.
    public init(store: any RegistrationStore) {
        self.store = store
    }

    /// Loads the unexpired bindings the store holds (at startup).
    public func load(now epochSeconds: Int64) async throws(StorageError) {
        let records = try await store.allRegistrations(validAt: epochSeconds)
        state.withLock { state in
            state.bindings = Dictionary(grouping: records, by: \.addressOfRecord)
            state.dirty = []
        }
    }

    /// The current bindings of an AOR.
    public func bindings(of addressOfRecord: String) -> [RegistrationRecord] {
        state.withLock { $0.bindings[addressOfRecord] ?? [] }
    }

    /// Runs `update` on an AOR's bindings atomically; a non-nil result replaces them (and is queued for the
    /// store). Returns what `update` returned.
    public func update<Result>(
        _ addressOfRecord: String, _ update: ([RegistrationRecord]) -> (replacement: [RegistrationRecord]?, result: Result)
    ) -> Result {
        state.withLock { state in
            let outcome = update(state.bindings[addressOfRecord] ?? [])
            if let replacement = outcome.replacement, replacement != state.bindings[addressOfRecord] ?? [] {
                state.bindings[addressOfRecord] = replacement.isEmpty ? nil : replacement
                state.dirty.insert(addressOfRecord)
            }
            return outcome.result
        }
    }

    /// Number of AORs with bindings.
    public var addressOfRecordCount: Int { state.withLock { $0.bindings.count } }

    /// Every binding, by address-of-record, at most `limit`.
    public func allBindings(limit: Int) -> [RegistrationRecord] {
        state.withLock { state in
            var listed: [RegistrationRecord] = []
            for key in state.bindings.keys.sorted() where listed.count < limit {
                listed += (state.bindings[key] ?? []).prefix(limit - listed.count)
            }
            return listed
        }
    }

    /// How many bindings there are.
    public var bindingCount: Int { state.withLock { $0.bindings.values.reduce(0) { $0 + $1.count } } }

    /// Drops expired bindings (in memory; the store's copies follow with the next flush and its own sweep).
    public func sweep(now epochSeconds: Int64) -> Int {
        state.withLock { state in
            var removed = 0
            for (aor, records) in state.bindings {
                let live = records.filter { $0.expiresAtEpochSeconds > epochSeconds }
                guard live.count != records.count else { continue }
                removed += records.count - live.count
                state.bindings[aor] = live.isEmpty ? nil : live
                state.dirty.insert(aor)
            }
            return removed
        }
    }

    /// Writes the changed AORs to the store in one transaction; on failure they stay queued.
    public func flush() async throws(StorageError) {
        let batch: [String: [RegistrationRecord]] = state.withLock { state in
            var batch: [String: [RegistrationRecord]] = [:]
            for aor in state.dirty { batch[aor] = state.bindings[aor] ?? [] }
            state.dirty = []
            return batch
        }
        guard !batch.isEmpty else { return }
        do {
            try await store.replaceRegistrations(batch)
        } catch {
            state.withLock { state in state.dirty.formUnion(batch.keys) }
            throw error
        }
    }
}
