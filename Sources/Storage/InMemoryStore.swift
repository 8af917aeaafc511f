import Synchronization

/// A ``Store`` in memory: for tests and for `rampart` tools that need no persistence.
public final class InMemoryStore: Store, ImmediateDirectoryLookup {
    private struct State {
        var accounts: [String: Account] = [:]
        var devices: [String: (String, String)] = [:]
        var registrations: [String: [RegistrationRecord]] = [:]
        var directoryVersion: Int64 = 0
        var callRecords: [String: CallDetailRecord] = [:]
        var bans: [String: StoredBan] = [:]
        var banVersion: Int64 = 0
        var securityEvents: [StoredSecurityEvent] = []
    }

    private let state = Mutex(State())
    /// False makes the edge await this store as it would a remote one (tests of the deferred path).
    public let answersImmediately: Bool

    public init(answersImmediately: Bool = true) {
        self.answersImmediately = answersImmediately
    }

    private static func key(_ username: String, _ domain: String) -> String { username + "@" + domain.lowercased() }

    public func account(username: String, domain: String) async throws(StorageError) -> Account? {
        state.withLock { $0.accounts[Self.key(username, domain)] }
    }

    public func saveAccount(_ account: Account) async throws(StorageError) {
        try StoreValidation.check(account)
        var stored = account
        stored.domain = account.domain.lowercased()
        state.withLock { state in
            let key = Self.key(account.username, account.domain)
            stored.strongDigestOnly = account.strongDigestOnly || state.accounts[key]?.strongDigestOnly == true
            state.accounts[key] = stored
            state.directoryVersion += 1
        }
    }

    public func pinStrongDigest(username: String, domain: String) async throws(StorageError) -> Bool {
        state.withLock { state in
            let key = Self.key(username, domain)
            guard state.accounts[key] != nil else { return false }
            state.accounts[key]?.strongDigestOnly = true  // not a directory change (see directoryVersion)
            return true
        }
    }

    public func removeAccount(username: String, domain: String) async throws(StorageError) -> Bool {
        state.withLock { state in
            let removed = state.accounts.removeValue(forKey: Self.key(username, domain)) != nil
            state.devices = state.devices.filter { $0.value != (username, domain.lowercased()) }
            state.directoryVersion += 1
            return removed
        }
    }

    public func allAccounts() async throws(StorageError) -> [Account] {
        state.withLock { $0.accounts.values.sorted { ($0.domain, $0.username) < ($1.domain, $1.username) } }
    }

    public func directoryVersion() async throws(StorageError) -> Int64 { state.withLock { $0.directoryVersion } }

    public func accountNow(username: String, domain: String) throws(StorageError) -> Account? {
        state.withLock { $0.accounts[Self.key(username, domain)] }
    }

    public func boundAccountNow(fingerprint: String) throws(StorageError) -> (username: String, domain: String)? {
        state.withLock { $0.devices[fingerprint.lowercased()].map { (username: $0.0, domain: $0.1) } }
    }

    public func bindDevice(fingerprint: String, username: String, domain: String) async throws(StorageError) {
        try StoreValidation.checkFingerprint(fingerprint)
        let exists = state.withLock { $0.accounts[Self.key(username, domain)] != nil }
        guard exists else { throw StorageError(.constraint, "no such account") }
        state.withLock {
            $0.devices[fingerprint.lowercased()] = (username, domain.lowercased())
            $0.directoryVersion += 1
        }
    }

    public func unbindDevice(fingerprint: String) async throws(StorageError) -> Bool {
        state.withLock {
            $0.directoryVersion += 1
            return $0.devices.removeValue(forKey: fingerprint.lowercased()) != nil
        }
    }

    public func boundAccount(fingerprint: String) async throws(StorageError) -> (username: String, domain: String)? {
        state.withLock { $0.devices[fingerprint.lowercased()].map { (username: $0.0, domain: $0.1) } }
    }

    public func registrations(addressOfRecord: String) async throws(StorageError) -> [RegistrationRecord] {
        state.withLock { $0.registrations[addressOfRecord] ?? [] }
    }

    public func replaceRegistrations(addressOfRecord: String, with records: [RegistrationRecord])
        async throws(StorageError)
    {
        state.withLock { $0.registrations[addressOfRecord] = records.isEmpty ? nil : records }
    }

    public func replaceRegistrations(_ batch: [String: [RegistrationRecord]]) async throws(StorageError) {
        state.withLock { state in
            for (aor, records) in batch { state.registrations[aor] = records.isEmpty ? nil : records }
        }
    }

    public func allRegistrations(validAt epochSeconds: Int64) async throws(StorageError) -> [RegistrationRecord] {
        state.withLock { state in
            state.registrations.keys.sorted().flatMap { aor in
                state.registrations[aor, default: []].filter { $0.expiresAtEpochSeconds > epochSeconds }
            }
        }
    }

    public func removeExpiredRegistrations(before epochSeconds: Int64) async throws(StorageError) -> Int {
        state.withLock { state in
            var removed = 0
            for (aor, records) in state.registrations {
                let live = records.filter { $0.expiresAtEpochSeconds >= epochSeconds }
                removed += records.count - live.count
                state.registrations[aor] = live.isEmpty ? nil : live
            }
            return removed
        }
    }
}

/// Input checks every store applies before writing.
public enum StoreValidation {
    /// Longest username or domain accepted (RFC 3261 puts no bound; this one keeps rows small).
    public static let maxNameLength = 256

    /// Checks an account's names and HA1 values.
    public static func check(_ account: Account) throws(StorageError) {
        for name in [account.username, account.domain] {
            guard !name.isEmpty, name.utf8.count <= maxNameLength, !name.utf8.contains(where: { $0 < 0x21 || $0 == 0x7F })
            else { throw StorageError(.invalidInput, "username and domain must be 1-\(maxNameLength) visible characters") }
        }
        for (algorithm, ha1) in account.ha1ByAlgorithm {
            guard !algorithm.isEmpty, algorithm.utf8.count <= 32,
                  ha1.utf8.count == 32 || ha1.utf8.count == 64,
                  ha1.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
            else { throw StorageError(.invalidInput, "HA1 values must be lowercase hex digests") }
        }
    }

    /// Checks a certificate fingerprint: lowercase or uppercase hex SHA-256 (64 digits).
    public static func checkFingerprint(_ fingerprint: String) throws(StorageError) {
        guard fingerprint.utf8.count == 64, fingerprint.utf8.allSatisfy({ SIPHex.isHex($0) }) else {
            throw StorageError(.invalidInput, "fingerprints are SHA-256 in hex (64 digits)")
        }
    }
}

enum SIPHex {
    static func isHex(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46)
    }
}

extension InMemoryStore {
    public func saveCallRecords(_ records: [CallDetailRecord]) async throws(StorageError) {
        state.withLock { state in for record in records { state.callRecords[record.id] = record } }
    }

    public func callRecords(matching filter: CallRecordFilter) async throws(StorageError) -> [CallDetailRecord] {
        state.withLock { state in
            Array(state.callRecords.values.filter(filter.matches)
                .sorted { ($0.startedAtMilliseconds, $0.id) < ($1.startedAtMilliseconds, $1.id) }.prefix(filter.limit))
        }
    }
}

extension InMemoryStore {
    public func saveBans(_ bans: [StoredBan]) async throws(StorageError) {
        state.withLock { state in
            for ban in bans { state.bans[ban.subject] = ban }
            state.banVersion += 1
        }
    }

    public func removeBan(subject: String) async throws(StorageError) -> Bool {
        state.withLock { state in
            guard state.bans.removeValue(forKey: subject) != nil else { return false }
            state.banVersion += 1
            return true
        }
    }

    public func allBans() async throws(StorageError) -> [StoredBan] {
        state.withLock { $0.bans.values.sorted { $0.subject < $1.subject } }
    }

    public func removeExpiredBans(before epochSeconds: Int64) async throws(StorageError) -> Int {
        state.withLock { state in
            let ended = state.bans.values.filter { ($0.expiresAtEpochSeconds ?? .max) < epochSeconds }
            for ban in ended { state.bans.removeValue(forKey: ban.subject) }
            if !ended.isEmpty { state.banVersion += 1 }
            return ended.count
        }
    }

    public func banVersion() async throws(StorageError) -> Int64 { state.withLock { $0.banVersion } }

    public func appendSecurityEvents(_ events: [StoredSecurityEvent], keeping: Int) async throws(StorageError) {
        state.withLock { state in
            state.securityEvents += events
            let excess = state.securityEvents.count - max(0, keeping)
            if excess > 0 { state.securityEvents.removeFirst(excess) }
        }
    }

    public func securityEvents(matching filter: SecurityEventFilter) async throws(StorageError) -> [StoredSecurityEvent] {
        state.withLock { Array($0.securityEvents.filter(filter.matches).suffix(filter.limit)) }
    }
}
