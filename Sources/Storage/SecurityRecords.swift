/// Bans and security events as stored. The edge's ``SecurityPolicy`` types convert to and from these, so that
/// storage stays independent of the policy code.

/// A ban as stored: survives restarts, and `rampart ban add|remove` in another process changes it.
public struct StoredBan: Hashable, Sendable {
    /// The banned subject in its text form (`192.0.2.7`, `2001:db8:1:2::/64`, `account:alice`, `alice@192.0.2.7`).
    public var subject: String
    /// Why.
    public var reason: String
    /// How many offending requests or failures led to it.
    public var evidenceCount: Int
    /// When it began (seconds since 1970).
    public var createdAtEpochSeconds: Int64
    /// When it ends (seconds since 1970); nil until removed.
    public var expiresAtEpochSeconds: Int64?
    /// The subject's offence count (durations escalate with it).
    public var offence: Int

    /// Creates a stored ban.
    public init(subject: String, reason: String, evidenceCount: Int, createdAtEpochSeconds: Int64,
                expiresAtEpochSeconds: Int64?, offence: Int) {
        self.subject = subject
        self.reason = reason
        self.evidenceCount = evidenceCount
        self.createdAtEpochSeconds = createdAtEpochSeconds
        self.expiresAtEpochSeconds = expiresAtEpochSeconds
        self.offence = offence
    }
}

/// A security event as stored.
public struct StoredSecurityEvent: Hashable, Sendable {
    /// When (seconds since 1970).
    public var epochSeconds: Int64
    /// The event kind's name (`auth-failure`).
    public var kind: String
    public var source: String?
    public var account: String?
    public var reason: String

    /// Creates a stored event.
    public init(epochSeconds: Int64, kind: String, source: String?, account: String?, reason: String) {
        self.epochSeconds = epochSeconds
        self.kind = kind
        self.source = source
        self.account = account
        self.reason = reason
    }
}

/// Which security events to list.
public struct SecurityEventFilter: Hashable, Sendable {
    /// Events at or after this time (seconds since 1970).
    public var since: Int64?
    /// Events of this kind.
    public var kind: String?
    /// Most events returned (the newest ones), 1...100,000.
    public var limit: Int

    /// Creates a filter.
    public init(since: Int64? = nil, kind: String? = nil, limit: Int = 1_000) {
        self.since = since
        self.kind = kind
        self.limit = min(max(limit, 1), 100_000)
    }

    /// Whether an event passes.
    public func matches(_ event: StoredSecurityEvent) -> Bool {
        if let since, event.epochSeconds < since { return false }
        if let kind, event.kind != kind { return false }
        return true
    }
}

/// Bans.
public protocol BanStore: Sendable {
    /// Adds or replaces the bans of their subjects.
    func saveBans(_ bans: [StoredBan]) async throws(StorageError)
    /// Removes a subject's ban; false if there was none.
    func removeBan(subject: String) async throws(StorageError) -> Bool
    /// Every ban, ended ones included until removed, ordered by subject.
    func allBans() async throws(StorageError) -> [StoredBan]
    /// Removes bans that ended before the time; returns how many.
    func removeExpiredBans(before epochSeconds: Int64) async throws(StorageError) -> Int
    /// A number that changes whenever the bans change, by this process or another (the CLI).
    func banVersion() async throws(StorageError) -> Int64
}

/// The security event log.
public protocol SecurityEventStore: Sendable {
    /// Appends events, atomically; the oldest are removed beyond `keeping` events in all.
    func appendSecurityEvents(_ events: [StoredSecurityEvent], keeping: Int) async throws(StorageError)
    /// The newest events matching `filter`, oldest first.
    func securityEvents(matching filter: SecurityEventFilter) async throws(StorageError) -> [StoredSecurityEvent]
}
