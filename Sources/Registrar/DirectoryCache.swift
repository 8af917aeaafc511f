import Storage
import Synchronization

/// Accounts and device bindings as the edge last read them from the store, so that a REGISTER is answered
/// from memory on the event loop. Entries (including "no such account") stay until the store's
/// ``AccountStore/directoryVersion()`` changes, which ``refresh(from:)`` checks a few times a second: a
/// `rampart user remove` or `device unbind` takes effect within that period. Bounded: when full it starts over
/// (random user names from a scanner cannot grow it without limit).
public final class DirectoryCache: Sendable {
    /// A device binding as cached: the account, or none.
    public typealias Binding = (username: String, domain: String)?

    private struct State {
        var version: Int64? = nil
        var epoch: UInt64 = 0
        var accounts: [String: Account?] = [:]
        var bindings: [String: Binding] = [:]
    }

    /// Most entries kept (accounts and bindings together).
    public let capacity: Int
    private let state = Mutex(State())

    /// Creates an empty cache.
    public init(capacity: Int = 200_000) { self.capacity = capacity }

    static func key(_ username: String, _ domain: String) -> String { username + "\u{0}" + domain }

    /// The cached account: `.some(nil)` means known not to exist; nil means not cached.
    public func account(username: String, domain: String) -> Account?? {
        state.withLock { $0.accounts[Self.key(username, domain)] }
    }

    /// The cached binding of a fingerprint: `.some(nil)` means known unbound; nil means not cached.
    public func binding(fingerprint: String) -> Binding? {
        state.withLock { $0.bindings[fingerprint] }
    }

    /// Changes each time the cache is emptied; a reader takes it before asking the store and hands it back
    /// with the answer, so an answer read before a change cannot land after the cache was emptied for it.
    public var epoch: UInt64 { state.withLock { $0.epoch } }

    /// Caches what the store said about an account (read during `epoch`).
    public func store(account: Account?, username: String, domain: String, epoch: UInt64) {
        state.withLock { state in
            guard state.epoch == epoch else { return }
            makeRoom(&state)
            state.accounts[Self.key(username, domain)] = .some(account)
        }
    }

    /// Caches what the store said about a fingerprint (read during `epoch`).
    public func store(binding: Binding, fingerprint: String, epoch: UInt64) {
        state.withLock { state in
            guard state.epoch == epoch else { return }
            makeRoom(&state)
            state.bindings[fingerprint] = .some(binding)
        }
    }

    /// Marks a cached account as pinned to strong digests (the store is told separately).
    public func pinStrongDigest(username: String, domain: String) {
        state.withLock { state in
            let key = Self.key(username, domain)
            if case .some(.some(var account)) = state.accounts[key] {
                account.strongDigestOnly = true
                state.accounts[key] = .some(account)
            }
        }
    }

    /// Drops everything if the store's directory changed since the last call.
    public func refresh(from store: any AccountStore) async throws(StorageError) {
        let version = try await store.directoryVersion()
        state.withLock { state in
            guard state.version != version else { return }
            state = State(version: version, epoch: state.epoch &+ 1)
        }
    }

    private func makeRoom(_ state: inout State) {
        if state.accounts.count + state.bindings.count >= capacity {
            state.accounts = [:]
            state.bindings = [:]
            state.epoch &+= 1
        }
    }
}
