import AuditTrail
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
        var auditRecords: [AuditRecord] = []
        var auditCheckpoints: [AuditCheckpoint] = []
        var adminTokens: [String: AdminToken] = [:]
        var certificateChains: [String: CachedCertificateChain] = [:]
        var turnUsers: [String: TURNUser] = [:]
        var turnSessions: [StoredTURNSession] = []
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
        _ = try change(.saveAccounts([account]))
    }

    /// Checks a change, then makes it under the lock (with `alongside`, in the same critical section, as a
    /// transaction would): whether it changed anything, and what `alongside` returned.
    private func change(_ change: AuditedChange) throws(StorageError) -> (changed: Bool, Void) {
        try self.change(change, prepare: { _ throws(StorageError) in }, commit: { _, _ in })
    }

    /// Makes a change as one transaction would: under the lock, everything that can fail first (the change's
    /// checks, then `prepare`), then the change and `commit`, which cannot fail. Whether it changed anything,
    /// and what `prepare` made.
    private func change<T>(_ change: AuditedChange, prepare: (State) throws(StorageError) -> T,
                           commit: (inout State, T) -> Void) throws(StorageError) -> (changed: Bool, T)
    {
        switch change {
        case .saveAccounts(let accounts): for account in accounts { try StoreValidation.check(account) }
        case .bindDevice(let fingerprint, _, _): try StoreValidation.checkFingerprint(fingerprint)
        case .saveAdminToken(let token): try StoreValidation.check(token)
        default: break
        }
        return try state.withLock { state throws(StorageError) in
            if case .bindDevice(_, let username, let domain) = change, state.accounts[Self.key(username, domain)] == nil {
                throw StorageError(.constraint, "no such account")
            }
            if case .saveAdminToken(let token) = change,
                state.adminTokens.values.contains(where: { $0.digest == token.digest && $0.name != token.name })
            {
                throw StorageError(.constraint, "a token with this secret exists")
            }
            let prepared = try prepare(state)
            var changed = true
            switch change {
            case .none:
                changed = false
            case .saveAccounts(let accounts):
                for account in accounts {
                    var stored = account
                    stored.domain = account.domain.lowercased()
                    let key = Self.key(account.username, account.domain)
                    stored.strongDigestOnly = account.strongDigestOnly || state.accounts[key]?.strongDigestOnly == true
                    state.accounts[key] = stored
                }
                state.directoryVersion += 1
            case .removeAccount(let username, let domain):
                changed = state.accounts.removeValue(forKey: Self.key(username, domain)) != nil
                state.devices = state.devices.filter { $0.value != (username, domain.lowercased()) }
                state.directoryVersion += 1
            case .bindDevice(let fingerprint, let username, let domain):
                state.devices[fingerprint.lowercased()] = (username, domain.lowercased())
                state.directoryVersion += 1
            case .unbindDevice(let fingerprint):
                state.directoryVersion += 1
                changed = state.devices.removeValue(forKey: fingerprint.lowercased()) != nil
            case .saveBans(let bans):
                for ban in bans { state.bans[ban.subject] = ban }
                state.banVersion += 1
            case .removeBan(let subject):
                changed = state.bans.removeValue(forKey: subject) != nil
                if changed { state.banVersion += 1 }
            case .saveAdminToken(let token):
                state.adminTokens[token.name] = token
            case .removeAdminToken(let name):
                changed = state.adminTokens.removeValue(forKey: name) != nil
            }
            commit(&state, prepared)
            return (changed, prepared)
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
        try change(.removeAccount(username: username, domain: domain)).changed
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
        _ = try change(.bindDevice(fingerprint: fingerprint, username: username, domain: domain))
    }

    public func unbindDevice(fingerprint: String) async throws(StorageError) -> Bool {
        try change(.unbindDevice(fingerprint: fingerprint)).changed
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
        _ = try change(.saveBans(bans))
    }

    public func removeBan(subject: String) async throws(StorageError) -> Bool {
        try change(.removeBan(subject: subject)).changed
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

extension InMemoryStore: AuditStore {
    public func audit(_ contents: [AuditContent], with change: AuditedChange) async throws(StorageError)
        -> (records: [AuditRecord], changed: Bool)
    {
        let (changed, records) = try self.change(change, prepare: { state throws(StorageError) in
            try AuditAppending.records(contents, after: state.auditRecords.last)
        }, commit: { state, records in state.auditRecords += records })
        return (records, changed)
    }

    public func checkpointAudit(signer: AuditSigner, time: Int64) async throws(StorageError) -> AuditCheckpoint? {
        state.withLock { state in
            guard let last = state.auditRecords.last,
                last.sequence > (state.auditCheckpoints.last?.sequence ?? 0)
            else { return nil }
            var chain = AuditChain(after: last, uncheckpointed: 1, now: .zero)
            let checkpoint = chain.checkpoint(signer: signer, time: time, now: .zero)
            if let checkpoint { state.auditCheckpoints.append(checkpoint) }
            return checkpoint
        }
    }

    public func auditRecords(from sequence: Int64, limit: Int) async throws(StorageError) -> [AuditRecord] {
        state.withLock { Array($0.auditRecords.lazy.filter { $0.sequence >= sequence }.prefix(max(0, limit))) }
    }

    public func auditCheckpoints() async throws(StorageError) -> [AuditCheckpoint] {
        state.withLock { $0.auditCheckpoints }
    }

    public func auditTail() async throws(StorageError) -> (last: AuditRecord?, uncheckpointed: Int) {
        state.withLock { state in
            let checkpointed = state.auditCheckpoints.last?.sequence ?? 0
            return (state.auditRecords.last, state.auditRecords.count { $0.sequence > checkpointed })
        }
    }

    public func eraseAuditContents(_ sequences: [Int64], by actor: AuditActor, subject: String, time: Int64,
                                   signer: AuditSigner?) async throws(StorageError) -> Int
    {
        let wanted = Set(sequences)
        return try change(.none, prepare: { state throws(StorageError) -> (erased: [Int], records: [AuditRecord]) in
            let erased = state.auditRecords.indices.filter {
                wanted.contains(state.auditRecords[$0].sequence) && state.auditRecords[$0].content != nil
            }
            guard !erased.isEmpty else { return ([], []) }
            let contents = AuditContent.erasures(of: erased.map { state.auditRecords[$0].sequence }, by: actor,
                                                 subject: subject, time: time, signer: signer)
            return (erased, try AuditAppending.records(contents, after: state.auditRecords.last))
        }, commit: { state, erasure in
            for index in erasure.erased { state.auditRecords[index] = state.auditRecords[index].erased() }
            state.auditRecords += erasure.records
        }).1.erased.count
    }
}

extension InMemoryStore: DataLifecycleStore {
    public func applyLifecycle(_ change: LifecycleChange, dryRun: Bool, erasedBy actor: AuditActor,
                               signer: AuditSigner?, time: Int64,
                               audit: @escaping @Sendable (LifecycleCounts) -> [AuditContent]) async throws(StorageError)
        -> LifecycleCounts
    {
        try state.withLock { state throws(StorageError) in
            var next = state
            var counts = LifecycleCounts()
            switch change {
            case .retention(let plan):
                if let cutoff = plan.callRecordsStartedBefore {
                    for record in next.callRecords.values where record.startedAtMilliseconds < cutoff {
                        switch plan.callRecordExpiry {
                        case .erase:
                            next.callRecords[record.id] = nil
                            counts.callRecordsErased += 1
                        case .pseudonymise(let pseudonymisation):
                            guard let changed = DataLifecycle.pseudonymised(record, by: pseudonymisation) else { continue }
                            next.callRecords[record.id] = changed
                            counts.callRecordsPseudonymised += 1
                        }
                    }
                }
                if let cutoff = plan.securityEventsBefore {
                    counts.securityEvents = next.securityEvents.count { $0.epochSeconds < cutoff }
                    next.securityEvents.removeAll { $0.epochSeconds < cutoff }
                }
            case .erasure(let subject):
                for record in next.callRecords.values {
                    guard let changed = DataLifecycle.redacted(record, of: subject) else { continue }
                    next.callRecords[record.id] = changed
                    counts.callRecordsRedacted += 1
                }
                counts.securityEvents = next.securityEvents.count { subject.isNamed(by: $0.account) }
                next.securityEvents.removeAll { subject.isNamed(by: $0.account) }
                let bans = next.bans.keys.filter { subject.isNamed(by: $0) }
                for ban in bans { next.bans[ban] = nil }
                counts.bans = bans.count
                counts.registrations = next.registrations.removeValue(forKey: subject.addressOfRecord)?.count ?? 0
                let devices = next.devices.filter { $0.value == (subject.username, subject.domain) }.keys
                for device in devices { next.devices[device] = nil }
                counts.deviceBindings = devices.count
                if next.accounts.removeValue(forKey: Self.key(subject.username, subject.domain)) != nil {
                    counts.accounts = 1
                }
                if counts.deviceBindings + counts.accounts > 0 { next.directoryVersion += 1 }
            }
            if counts.bans > 0 { next.banVersion += 1 }
            var scan = AuditErasureScan(change)
            for record in next.auditRecords {
                guard let content = record.content else { continue }
                guard scan.consider(record.sequence, content) else { break }
            }
            let erased = Set(scan.sequences)
            counts.auditContents = erased.count
            guard !dryRun else { return counts }
            for index in next.auditRecords.indices where erased.contains(next.auditRecords[index].sequence) {
                next.auditRecords[index] = next.auditRecords[index].erased()
            }
            let contents = AuditContent.erasures(of: Array(erased), by: actor, subject: change.auditName, time: time,
                                                 signer: signer)
                + audit(counts)
            next.auditRecords += try AuditAppending.records(contents, after: next.auditRecords.last)
            state = next
            return counts
        }
    }

    public func subjectData(_ subject: DataSubject) async throws(StorageError) -> SubjectData {
        state.withLock { state in
            let limit = DataLifecycle.maximumRecordsPerKind
            var data = SubjectData()
            if var account = state.accounts[Self.key(subject.username, subject.domain)] {
                account.ha1ByAlgorithm = account.ha1ByAlgorithm.mapValues { _ in "" }  // the algorithms only
                data.account = account
            }
            data.deviceFingerprints = state.devices.filter { $0.value == (subject.username, subject.domain) }
                .keys.sorted()
            data.registrations = state.registrations[subject.addressOfRecord] ?? []
            let names = subject.names
            data.callRecords = Array(state.callRecords.values.filter {
                names.contains($0.caller) || names.contains($0.callee) || $0.account.map(names.contains) == true
            }.sorted { ($0.startedAtMilliseconds, $0.id) < ($1.startedAtMilliseconds, $1.id) }.prefix(limit))
            data.securityEvents = Array(state.securityEvents.filter { subject.isNamed(by: $0.account) }.prefix(limit))
            data.bans = state.bans.values.filter { subject.isNamed(by: $0.subject) }.sorted { $0.subject < $1.subject }
            for record in state.auditRecords where data.auditRecords.count < limit {
                guard let bytes = record.content, let content = try? AuditContent(canonical: bytes),
                    subject.isNamed(by: content)
                else { continue }
                data.auditRecords.append((record.sequence, content))
            }
            return data
        }
    }
}

extension InMemoryStore: AdminTokenStore {
    public func adminToken(digest: String) async throws(StorageError) -> AdminToken? {
        state.withLock { $0.adminTokens.values.first { $0.digest == digest } }
    }

    public func allAdminTokens() async throws(StorageError) -> [AdminToken] {
        state.withLock { $0.adminTokens.values.sorted { $0.name < $1.name } }
    }
}

extension InMemoryStore: CertificateCacheStore {
    public func saveCertificateChain(_ entry: CachedCertificateChain) async throws(StorageError) {
        try StoreValidation.check(entry)
        state.withLock { state in
            state.certificateChains[entry.url] = entry
            while state.certificateChains.count > CachedCertificateChain.maximumEntries,
                let soonest = state.certificateChains.values.min(by: { $0.expiresAtEpochSeconds < $1.expiresAtEpochSeconds })
            {
                state.certificateChains[soonest.url] = nil
            }
        }
    }

    public func certificateChains(validAt epochSeconds: Int64, limit: Int) async throws(StorageError)
        -> [CachedCertificateChain]
    {
        state.withLock { state in
            state.certificateChains = state.certificateChains.filter { $0.value.expiresAtEpochSeconds > epochSeconds }
            return Array(state.certificateChains.values.sorted {
                ($0.expiresAtEpochSeconds, $1.url) > ($1.expiresAtEpochSeconds, $0.url)
            }.prefix(max(0, limit)))
        }
    }
}

extension InMemoryStore: TURNStore {
    public func saveTURNUser(_ user: TURNUser) async throws(StorageError) {
        try StoreValidation.check(user)
        state.withLock { $0.turnUsers[user.realm + "\u{0}" + user.username] = user }
    }

    public func removeTURNUser(username: String, realm: String) async throws(StorageError) -> Bool {
        state.withLock { $0.turnUsers.removeValue(forKey: realm + "\u{0}" + username) != nil }
    }

    public func turnUsers(realm: String) async throws(StorageError) -> [TURNUser] {
        state.withLock { $0.turnUsers.values.filter { $0.realm == realm }.sorted { $0.username < $1.username } }
    }

    public func appendTURNSessions(_ sessions: [StoredTURNSession]) async throws(StorageError) {
        state.withLock { state in
            state.turnSessions += sessions
            if state.turnSessions.count > StoredTURNSession.maximumKept {
                state.turnSessions.removeFirst(state.turnSessions.count - StoredTURNSession.maximumKept)
            }
        }
    }

    public func turnSessions(limit: Int) async throws(StorageError) -> [StoredTURNSession] {
        state.withLock { Array($0.turnSessions.reversed().prefix(max(0, limit))) }
    }
}
