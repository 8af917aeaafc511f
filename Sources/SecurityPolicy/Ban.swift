/// A ban: who, why, on what evidence, until when.
public struct Ban: Hashable, Sendable {
    /// What a ban applies to.
    public enum Subject: Hashable, Sendable, CustomStringConvertible {
        /// Every request from a source (IPv4 address or IPv6 /64).
        case source(SourceKey)
        /// Every authentication as an account, from anywhere (an operator's decision: automatic bans never
        /// lock an account's owner out; they ban sources and pairs).
        case account(String)
        /// Authentication as an account from one source: a stale password or a brute force, without
        /// punishing the rest of the source (a shared NAT) or the account's other devices.
        case pair(account: String, source: SourceKey)

        /// `192.0.2.7`, `2001:db8:1:2::/64`, `account:alice`, `alice@192.0.2.7`.
        public var description: String {
            switch self {
            case .source(let key): return key.description
            case .account(let name): return "account:\(name)"
            case .pair(let account, let source): return "\(account)@\(source)"
            }
        }

        /// Parses the forms ``description`` writes.
        public init?(_ text: String) {
            if text.hasPrefix("account:") {
                let name = String(text.dropFirst("account:".count))
                guard !name.isEmpty, name.utf8.count <= 256 else { return nil }
                self = .account(name)
            } else if let at = text.lastIndex(of: "@") {
                let account = String(text[..<at])
                guard !account.isEmpty, account.utf8.count <= 256,
                    let source = SourceKey(String(text[text.index(after: at)...]))
                else { return nil }
                self = .pair(account: account, source: source)
            } else if let source = SourceKey(text) {
                self = .source(source)
            } else {
                return nil
            }
        }
    }

    /// Who is banned.
    public var subject: Subject
    /// Why (`brute-force`, `scanner: user-agent friendly-scanner`, `operator`).
    public var reason: String
    /// How many offending requests or failures led to it.
    public var evidenceCount: Int
    /// When it began, in seconds since 1970.
    public var createdAtEpochSeconds: Int64
    /// When it ends, in seconds since 1970; nil: until an operator removes it.
    public var expiresAtEpochSeconds: Int64?
    /// How many times this subject has been banned recently (this ban included): durations escalate with it.
    public var offence: Int

    /// Creates a ban.
    public init(subject: Subject, reason: String, evidenceCount: Int, createdAtEpochSeconds: Int64,
                expiresAtEpochSeconds: Int64?, offence: Int = 1) {
        self.subject = subject
        self.reason = reason
        self.evidenceCount = evidenceCount
        self.createdAtEpochSeconds = createdAtEpochSeconds
        self.expiresAtEpochSeconds = expiresAtEpochSeconds
        self.offence = offence
    }

    /// Whether the ban is in force at `epochSeconds`.
    public func isActive(at epochSeconds: Int64) -> Bool {
        expiresAtEpochSeconds.map { epochSeconds < $0 } ?? true
    }
}

/// The bans in force, bounded: when full, the ban that ends soonest makes room (a permanent or long ban is
/// never pushed out by a flood of short ones).
public struct BanList: Sendable {
    private var bans: [Ban.Subject: Ban] = [:]
    /// Most bans held.
    public let capacity: Int

    /// Creates an empty list holding at most `capacity` bans (default 100,000).
    public init(capacity: Int = 100_000) {
        self.capacity = max(1, capacity)
    }

    /// Whether no ban is held (the common case: checks stop here).
    public var isEmpty: Bool { bans.isEmpty }

    /// The ban of `subject` in force at `epochSeconds`, if any.
    public func ban(_ subject: Ban.Subject, at epochSeconds: Int64) -> Ban? {
        guard let ban = bans[subject], ban.isActive(at: epochSeconds) else { return nil }
        return ban
    }

    /// Adds or replaces the ban of its subject; returns a ban pushed out to make room, if any.
    @discardableResult
    public mutating func add(_ ban: Ban) -> Ban? {
        var evicted: Ban?
        if bans[ban.subject] == nil, bans.count >= capacity {
            let soonest = bans.values.min { ($0.expiresAtEpochSeconds ?? .max) < ($1.expiresAtEpochSeconds ?? .max) }
            if let soonest, (soonest.expiresAtEpochSeconds ?? .max) <= (ban.expiresAtEpochSeconds ?? .max) {
                evicted = bans.removeValue(forKey: soonest.subject)
            } else {
                return ban  // every held ban outlasts the new one: keep them
            }
        }
        bans[ban.subject] = ban
        return evicted
    }

    /// Removes the ban of `subject`; returns it.
    @discardableResult
    public mutating func remove(_ subject: Ban.Subject) -> Ban? { bans.removeValue(forKey: subject) }

    /// Removes and returns the bans that ended at or before `epochSeconds`.
    public mutating func removeExpired(at epochSeconds: Int64) -> [Ban] {
        let ended = bans.values.filter { !$0.isActive(at: epochSeconds) }
        for ban in ended { bans.removeValue(forKey: ban.subject) }
        return ended
    }

    /// Every ban held, soonest to end first.
    public var all: [Ban] {
        bans.values.sorted { ($0.expiresAtEpochSeconds ?? .max, $0.subject.description)
            < ($1.expiresAtEpochSeconds ?? .max, $1.subject.description) }
    }

    /// Replaces the whole list (loading from the store).
    public mutating func replaceAll(with bans: [Ban]) {
        self.bans = [:]
        for ban in bans { add(ban) }
    }
}
