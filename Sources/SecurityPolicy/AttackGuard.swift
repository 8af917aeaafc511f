/// The edge's attack detection and response, sans-I/O: every decision is a value computed from what the caller
/// passes in (addresses, accounts, outcomes, the time), so each rule is unit-tested with an injected clock.
///
/// What Kamailio operators assemble from pike, ratelimit, secfilter, htable, permissions and fail2ban:
/// - address rules first (allow-lists always win, deny-lists, countries), then bans, then rate budgets, all
///   before the request is parsed beyond its first lines or any database or digest work is done;
/// - scanner detection by behaviour (extension sweeps, failure ratios, probes at the edge's address or foreign
///   domains) and by tool signatures;
/// - failed-authentication tracking per source, per account and per (account, source) pair, with escalating
///   bans and a step-up for accounts under attack that spares their known devices.
///
/// Allow-listed sources are never banned and never rate limited by source, but their pairs still are: a brute
/// force from a trusted network is still stopped.
public struct AttackGuard: Sendable {
    /// When failures and probes turn into bans.
    public struct Rules: Hashable, Sendable {
        /// How long failures and probes are counted before the count starts again (seconds).
        public var windowSeconds: Int64 = 600
        /// Failed authentications of one account from one source before that pair is banned (svcrack gets at
        /// most this many guesses).
        public var pairFailures: Int = 10
        /// Failed authentications from one source (any accounts) before the source is banned.
        public var sourceFailures: Int = 30
        /// Distinct accounts failing from one source before the source is banned (credential stuffing).
        public var sourceFailedAccounts: Int = 5
        /// Successful authentications (decaying by half each window) that make a source established: a site whose
        /// phones authenticate all day. Its source-wide ban needs failures of two kinds (wrong passwords and
        /// replays, say), never one kind alone: one lossy link or one overloaded moment must not ban a whole site.
        public var establishedSourceSuccesses: Int = 20
        /// How long a source's last successful authentication keeps it trusted (exempt from the scanner rules and
        /// served under overload), in seconds; after that it is judged like any other.
        public var successMemorySeconds: Int64 = 3_600
        /// Distinct failing sources that put an account under attack (step-up).
        public var accountAttackSources: Int = 3
        /// How long an account stays stepped up (seconds).
        public var stepUpSeconds: Int64 = 900
        /// Failures of an unknown (account, source) pair before its ban while the account is stepped up.
        public var stepUpPairFailures: Int = 3
        /// The pair budget of unknown devices while the account is stepped up.
        public var stepUpPairBudget: RateLimiter.Budget = .init(perSecond: 1.0 / 60, burst: 3)
        /// Distinct request-URI users one unauthenticated source may probe in a window before it counts as an
        /// extension sweep (svwar).
        public var sweepTargets: Int = 10
        /// Out-of-dialog requests without credentials (REGISTER aside) at the edge's address or at foreign domains
        /// from an unauthenticated source in a window before it counts as a probe sweep (svmap over many hosts
        /// and ports).
        public var probes: Int = 20
        /// Failure answers (401, 403, 404, 407) to an unauthenticated source in a window before the ratio rule
        /// looks at it; it fires when the source has no success at all.
        public var failureAnswers: Int = 40
        /// Rate-budget refusals in a row from one source before it is banned as a flood.
        public var floodRefusals: Int = 200
        /// The first ban of a subject (seconds); each further offence doubles it.
        public var firstBanSeconds: Int64 = 600
        /// The longest automatic ban (seconds).
        public var maxBanSeconds: Int64 = 86_400
        /// How long an offence is remembered for escalation (seconds).
        public var offenceMemorySeconds: Int64 = 86_400
        /// Whether banned sources get 403 rather than silence (silence is the default: a scanner learns nothing
        /// and waits for its timeouts).
        public var rejectsBanned = false

        /// Creates the default rules.
        public init() {}
    }

    /// Everything the guard is configured with.
    public struct Configuration: Sendable {
        public var rules: Rules
        public var rateLimits: RateLimiter.Limits
        public var signatures: ScannerSignatures
        /// Allow-list and deny-list of sources.
        public var acl: AddressACL
        /// Networks accounts may authenticate from.
        public var accountNetworks: AccountNetworks
        /// A country rule and the database it looks addresses up in.
        public var geo: (rule: GeoRule, database: GeoIPDatabase)?
        /// Most sources and accounts tracked per table.
        public var capacity: Int
        /// Sources never banned automatically (configured trunks): their own traffic, or UDP forged from their
        /// address, must not cut a carrier off. A ban one would get becomes a `ban-withheld` event instead; an
        /// operator may still ban them by hand.
        public var protectedSources: NetworkList = .empty

        /// Creates a configuration; the defaults detect and ban with no address or country rules.
        public init(rules: Rules = .init(), rateLimits: RateLimiter.Limits = .init(),
                    signatures: ScannerSignatures = .none, acl: AddressACL = .init(),
                    accountNetworks: AccountNetworks = .init(), geo: (rule: GeoRule, database: GeoIPDatabase)? = nil,
                    capacity: Int = 200_000) {
            self.rules = rules
            self.rateLimits = rateLimits
            self.signatures = signatures
            self.acl = acl
            self.accountNetworks = accountNetworks
            self.geo = geo
            self.capacity = capacity
        }
    }

    /// What to do with a request.
    public enum Verdict: Hashable, Sendable {
        /// Go on; `trusted` when the source is allow-listed or has authenticated recently (overload spares it).
        case pass(trusted: Bool)
        /// Drop it without an answer (banned, flooding, denied by address).
        case drop
        /// Answer with this status (and Retry-After seconds, for 503).
        case reject(status: Int, retryAfter: Int?)
    }

    /// A decision with what it caused: events to record and bans to store.
    public struct Outcome: Hashable, Sendable {
        public var verdict: Verdict
        public var events: [SecurityEvent]
        public var newBans: [Ban]

        init(_ verdict: Verdict, events: [SecurityEvent] = [], newBans: [Ban] = []) {
            self.verdict = verdict
            self.events = events
            self.newBans = newBans
        }
    }

    /// What the scanner rules look at in one out-of-dialog request.
    public struct Probe {
        /// The extension probed: the request-URI's user part, if any. None for REGISTER: phones behind one NAT
        /// register many users before the first of them has authenticated; a REGISTER sweep meets the
        /// failure-answer rule instead.
        public var targetUser: Substring?
        /// Whether it counts as a probe: no credentials, not a REGISTER (phones set up with the edge's address
        /// register to it), and a request-URI host that is an IP literal or a domain the edge does not serve.
        public var targetsAddressOrForeignDomain: Bool
        /// A header's value for the signatures.
        public var field: (ScannerSignatures.Field) -> Substring?

        /// Creates a probe.
        public init(targetUser: Substring?, targetsAddressOrForeignDomain: Bool,
                    field: @escaping (ScannerSignatures.Field) -> Substring?) {
            self.targetUser = targetUser
            self.targetsAddressOrForeignDomain = targetsAddressOrForeignDomain
            self.field = field
        }
    }

    struct Window: Sendable {
        var startEpochSeconds: Int64
        var count: Int = 0

        mutating func add(now: Int64, length: Int64) -> Int {
            if now - startEpochSeconds >= length { (startEpochSeconds, count) = (now, 0) }
            count += 1
            return count
        }
    }

    /// Per-source counters for the scanner and failure rules.
    struct SourceState: Sendable {
        var windowStart: Int64
        var failures = 0
        var failureAnswers = 0
        var probes = 0
        /// Hashes of distinct probed users, up to the sweep threshold.
        var targets: [Int] = []
        /// Accounts that failed from here, up to the threshold.
        var failedAccounts: [String] = []
        /// The kinds of failure seen in the window (a bit per kind: ``failureBit(_:)``).
        var failureKinds: UInt8 = 0
        var lastSuccess: Int64?
        /// Successful authentications, halved at every new window.
        var successes = 0

        mutating func roll(now: Int64, length: Int64) {
            guard now - windowStart >= length else { return }
            self = SourceState(windowStart: now, lastSuccess: lastSuccess, successes: successes / 2)
        }

        /// Whether a success within `memory` seconds of `now` vouches for the source.
        func isTrusted(now: Int64, memory: Int64) -> Bool { lastSuccess.map { now - $0 < memory } ?? false }

        static func failureBit(_ kind: SecurityEvent.Kind) -> UInt8 {
            switch kind {
            case .authFailure: 1
            case .digestReplay: 2
            case .digestDowngradeAttempt: 4
            default: 8
            }
        }
    }

    struct AccountState: Sendable {
        var windowStart: Int64
        var failingSources: [SourceKey] = []
        var steppedUpUntil: Int64?
    }

    struct PairKey: Hashable, Sendable {
        let account: String
        let source: SourceKey
    }

    struct Offence: Sendable {
        var count: Int
        var lastEpochSeconds: Int64
    }

    public private(set) var configuration: Configuration
    /// Bans in force.
    public private(set) var bans: BanList
    private var rateLimiter: RateLimiter
    private var sources: BoundedTable<SourceKey, SourceState>
    private var accounts: BoundedTable<String, AccountState>
    private var pairFailures: BoundedTable<PairKey, Window>
    /// Pairs that authenticated: an account's known devices, spared by its step-up.
    private var knownPairs: BoundedTable<PairKey, Int64>
    private var offences: BoundedTable<Ban.Subject, Offence>
    /// Rate refusals already reported per source in the current burst (one event per burst, not per packet).
    private var reportedFloods: EventThrottle<SourceKey>

    /// Creates a guard.
    public init(configuration: Configuration = .init(), bans: BanList = .init()) {
        self.configuration = configuration
        self.bans = bans
        let capacity = configuration.capacity
        rateLimiter = RateLimiter(limits: configuration.rateLimits, capacity: capacity)
        sources = BoundedTable(capacity: capacity)
        accounts = BoundedTable(capacity: capacity)
        pairFailures = BoundedTable(capacity: capacity)
        knownPairs = BoundedTable(capacity: capacity)
        offences = BoundedTable(capacity: capacity)
        reportedFloods = EventThrottle(capacity: max(2, capacity / 10))
    }

    // MARK: Sources

    /// The first check of every request, before parsing beyond the request line: address rules, source bans,
    /// the source's rate budget. In-dialog requests and responses skip the rate budget (calls in progress keep
    /// working) but not bans or address rules.
    public mutating func screen(source address: IPAddress, method: RateLimiter.MethodClass?, now: Duration,
                                epochSeconds: Int64) -> Outcome {
        let source = SourceKey(address)
        switch configuration.acl.verdict(for: address) {
        case .allowListed: return Outcome(.pass(trusted: true))
        case .denied:
            return Outcome(.drop, events: oncePerBurst(source, epochSeconds) {
                SecurityEvent(kind: .aclDenied, source: address.description, reason: "source deny-listed",
                              epochSeconds: epochSeconds)
            })
        case .neutral: break
        }
        if let (rule, database) = configuration.geo, case .denied(let country) = rule.verdict(for: address, in: database) {
            return Outcome(.drop, events: oncePerBurst(source, epochSeconds) {
                SecurityEvent(kind: .geoDenied, source: address.description,
                              reason: "country \(country ?? "unknown")", epochSeconds: epochSeconds)
            })
        }
        if !bans.isEmpty, bans.ban(.source(source), at: epochSeconds) != nil {
            return Outcome(configuration.rules.rejectsBanned && method != nil ? .reject(status: 403, retryAfter: nil) : .drop)
        }
        let trusted = sources[source]?.isTrusted(now: epochSeconds, memory: configuration.rules.successMemorySeconds)
            ?? false
        guard let method else { return Outcome(.pass(trusted: trusted)) }
        switch rateLimiter.admit(source: source, method, now: now) {
        case .admitted: return Outcome(.pass(trusted: trusted))
        case .refused(_, let inARow):
            var outcome = Outcome(.drop, events: oncePerBurst(source, epochSeconds) {
                SecurityEvent(kind: .rateLimited, source: address.description,
                              reason: "\(method) over the source budget", epochSeconds: epochSeconds)
            })
            if inARow >= configuration.rules.floodRefusals {
                outcome.add(ban(.source(source), reason: "flood: \(method) over the source budget",
                                evidence: inARow, address: address.description, epochSeconds: epochSeconds))
            }
            return outcome
        }
    }

    /// The scanner rules on one out-of-dialog request from a source that has not authenticated: signatures,
    /// extension sweeps, probes at addresses and foreign domains.
    public mutating func inspect(_ probe: Probe, source address: IPAddress, epochSeconds: Int64) -> Outcome {
        let source = SourceKey(address)
        if configuration.acl.verdict(for: address) == .allowListed { return Outcome(.pass(trusted: true)) }
        if let matched = configuration.signatures.match(probe.field) {
            let reason = "scanner signature: " + matched.map(\.description).joined(separator: " and ")
            return scannerDetected(source, address: address, reason: reason, evidence: 1, epochSeconds: epochSeconds)
        }
        let rules = configuration.rules
        var finding: (String, Int)?
        sources.update(source, default: SourceState(windowStart: epochSeconds)) { state in
            guard !state.isTrusted(now: epochSeconds, memory: rules.successMemorySeconds) else { return }
            state.roll(now: epochSeconds, length: rules.windowSeconds)
            if probe.targetsAddressOrForeignDomain {
                state.probes += 1
                if state.probes >= rules.probes { finding = ("probe sweep at addresses or foreign domains", state.probes) }
            }
            if let user = probe.targetUser, !user.isEmpty {
                let hash = user.hashValue
                if !state.targets.contains(hash), state.targets.count < rules.sweepTargets { state.targets.append(hash) }
                if state.targets.count >= rules.sweepTargets {
                    finding = ("extension sweep over \(state.targets.count) users", state.targets.count)
                }
            }
        }
        guard let (reason, evidence) = finding else { return Outcome(.pass(trusted: false)) }
        return scannerDetected(source, address: address, reason: reason, evidence: evidence, epochSeconds: epochSeconds)
    }

    /// Counts an answer the edge sent to a source: failure answers without any success make the ratio rule fire.
    public mutating func answered(status: Int, source address: IPAddress, epochSeconds: Int64) -> Outcome {
        guard [401, 403, 404, 407].contains(status) else { return Outcome(.pass(trusted: false)) }
        let source = SourceKey(address)
        if configuration.acl.verdict(for: address) == .allowListed { return Outcome(.pass(trusted: true)) }
        let rules = configuration.rules
        let fired = sources.update(source, default: SourceState(windowStart: epochSeconds)) { state -> Int? in
            guard !state.isTrusted(now: epochSeconds, memory: rules.successMemorySeconds) else { return nil }
            state.roll(now: epochSeconds, length: rules.windowSeconds)
            state.failureAnswers += 1
            return state.failureAnswers >= rules.failureAnswers ? state.failureAnswers : nil
        }
        guard let fired else { return Outcome(.pass(trusted: false)) }
        return scannerDetected(source, address: address, reason: "\(fired) failure answers and no success",
                               evidence: fired, epochSeconds: epochSeconds)
    }

    // MARK: Accounts

    /// The check of a request that names an account, before any digest work: bans of the pair and the
    /// account, the account's networks, the account's and pair's budgets (stricter for unknown devices of an
    /// account under attack). A client certificate bound to the account skips the step-up.
    public mutating func screen(account: String, source address: IPAddress, method: RateLimiter.MethodClass,
                                certified: Bool = false, now: Duration, epochSeconds: Int64) -> Outcome {
        let source = SourceKey(address)
        if !bans.isEmpty {
            if bans.ban(.account(account), at: epochSeconds) != nil
                || bans.ban(.pair(account: account, source: source), at: epochSeconds) != nil
            {
                return Outcome(configuration.rules.rejectsBanned ? .reject(status: 403, retryAfter: nil) : .drop)
            }
        }
        guard configuration.accountNetworks.permits(account: account, from: address) else {
            return Outcome(.reject(status: 403, retryAfter: nil), events: [
                SecurityEvent(kind: .aclDenied, source: address.description, account: account,
                              reason: "account not allowed from this network", epochSeconds: epochSeconds),
            ])
        }
        let known = knownPairs[PairKey(account: account, source: source)] != nil
        let stricter = !certified && !known && isSteppedUp(account, epochSeconds: epochSeconds)
        switch rateLimiter.admit(account: account, source: source, method, now: now,
                                 pairBudget: stricter ? configuration.rules.stepUpPairBudget : nil) {
        case .admitted: return Outcome(.pass(trusted: known))
        case .refused(let scope, let inARow):
            let events = inARow == 1 ? [SecurityEvent(kind: .rateLimited, source: address.description, account: account,
                                                      reason: "\(method) over the \(scope) budget",
                                                      epochSeconds: epochSeconds)] : []
            return Outcome(.reject(status: 503, retryAfter: 60), events: events)
        }
    }

    /// Whether an account is under attack from several sources (its unknown devices get stricter limits).
    public func isSteppedUp(_ account: String, epochSeconds: Int64) -> Bool {
        accounts[account]?.steppedUpUntil.map { epochSeconds < $0 } ?? false
    }

    /// Records a failed authentication; bans the pair, the source, or steps the account up when the rules say.
    /// `account` is the claimed user name (nil when the credentials named none).
    public mutating func authenticationFailed(account: String?, source address: IPAddress,
                                              kind: SecurityEvent.Kind = .authFailure, reason: String,
                                              epochSeconds: Int64) -> Outcome {
        let source = SourceKey(address)
        let rules = configuration.rules
        var outcome = Outcome(.pass(trusted: false), events: [
            SecurityEvent(kind: kind, source: address.description, account: account, reason: reason,
                          epochSeconds: epochSeconds),
        ])
        let allowListed = configuration.acl.verdict(for: address) == .allowListed
        if let account {
            let pair = PairKey(account: account, source: source)
            let count = pairFailures.update(pair, default: Window(startEpochSeconds: epochSeconds)) {
                $0.add(now: epochSeconds, length: rules.windowSeconds)
            }
            let steppedUp = knownPairs[pair] == nil && isSteppedUp(account, epochSeconds: epochSeconds)
            if count >= (steppedUp ? min(rules.stepUpPairFailures, rules.pairFailures) : rules.pairFailures) {
                outcome.add(ban(.pair(account: account, source: source),
                                reason: steppedUp ? "password guessing on an account under attack" : "password guessing",
                                evidence: count, address: address.description, epochSeconds: epochSeconds))
                pairFailures.removeValue(forKey: pair)
            }
            let newlyAttacked = accounts.update(account, default: AccountState(windowStart: epochSeconds)) { state -> Bool in
                if epochSeconds - state.windowStart >= rules.windowSeconds {
                    (state.windowStart, state.failingSources) = (epochSeconds, [])
                }
                if !state.failingSources.contains(source), state.failingSources.count < rules.accountAttackSources {
                    state.failingSources.append(source)
                }
                guard state.failingSources.count >= rules.accountAttackSources,
                    !(state.steppedUpUntil.map { epochSeconds < $0 } ?? false)
                else { return false }
                state.steppedUpUntil = epochSeconds + rules.stepUpSeconds
                return true
            }
            if newlyAttacked {
                outcome.events.append(SecurityEvent(
                    kind: .authFailure, source: address.description, account: account,
                    reason: "account under attack from \(rules.accountAttackSources) sources: stricter limits for "
                        + "unknown devices", epochSeconds: epochSeconds))
            }
        }
        guard !allowListed else { return outcome }
        let sourceBan = sources.update(source, default: SourceState(windowStart: epochSeconds)) { state -> (String, Int)? in
            state.roll(now: epochSeconds, length: rules.windowSeconds)
            state.failures += 1
            state.failureKinds |= SourceState.failureBit(kind)
            if let account, !state.failedAccounts.contains(account), state.failedAccounts.count < rules.sourceFailedAccounts {
                state.failedAccounts.append(account)
            }
            // An established source (its phones authenticate all the time) is banned as a whole only on two kinds
            // of evidence; its pairs still are, one account at a time.
            if state.successes >= rules.establishedSourceSuccesses, state.failureKinds.nonzeroBitCount < 2 { return nil }
            if state.failures >= rules.sourceFailures { return ("authentication failures", state.failures) }
            if state.failedAccounts.count >= rules.sourceFailedAccounts {
                return ("failures across \(state.failedAccounts.count) accounts", state.failures)
            }
            return nil
        }
        if let (reason, evidence) = sourceBan {
            outcome.add(ban(.source(source), reason: reason, evidence: evidence, address: address.description,
                            epochSeconds: epochSeconds))
        }
        return outcome
    }

    /// Records a successful authentication: the pair becomes a known device and the source trusted.
    public mutating func authenticationSucceeded(account: String, source address: IPAddress, epochSeconds: Int64) {
        let source = SourceKey(address)
        let refreshed = knownPairs.update(PairKey(account: account, source: source), default: .min) { last -> Bool in
            defer { last = epochSeconds }
            return last != .min && epochSeconds - last < 60
        }
        let window = configuration.rules.windowSeconds
        sources.update(source, default: SourceState(windowStart: epochSeconds)) { state in
            state.roll(now: epochSeconds, length: window)
            state.lastSuccess = epochSeconds
            state.successes += 1
        }
        if refreshed { return }  // seen within the minute: the pair has no failures left
        pairFailures.removeValue(forKey: PairKey(account: account, source: source))
    }

    /// Whether a source authenticated recently (overload protection keeps serving it).
    public func isKnown(_ address: IPAddress, epochSeconds: Int64) -> Bool {
        sources[SourceKey(address)]?.isTrusted(now: epochSeconds, memory: configuration.rules.successMemorySeconds) ?? false
    }

    // MARK: Bans

    /// Adds a ban (an operator's, or one loaded from the store).
    @discardableResult
    public mutating func add(_ ban: Ban) -> Ban? { bans.add(ban) }

    /// Lifts a ban; returns it.
    @discardableResult
    public mutating func removeBan(_ subject: Ban.Subject) -> Ban? {
        offences.removeValue(forKey: subject)
        return bans.remove(subject)
    }

    /// Replaces the bans (the store's copy changed).
    public mutating func replaceBans(with list: [Ban]) { bans.replaceAll(with: list) }

    /// Lifts the bans that have ended; returns `unban` events for them.
    public mutating func expireBans(epochSeconds: Int64) -> [SecurityEvent] {
        bans.removeExpired(at: epochSeconds).map {
            SecurityEvent(kind: .unban, source: Self.sourceText($0.subject), account: Self.accountText($0.subject),
                          reason: "ban ended", epochSeconds: epochSeconds)
        }
    }

    private mutating func scannerDetected(_ source: SourceKey, address: IPAddress, reason: String, evidence: Int,
                                          epochSeconds: Int64) -> Outcome {
        var outcome = Outcome(.drop, events: [
            SecurityEvent(kind: .scannerDetected, source: address.description, reason: reason, epochSeconds: epochSeconds),
        ])
        outcome.add(ban(.source(source), reason: reason, evidence: evidence, address: address.description,
                        epochSeconds: epochSeconds))
        return outcome
    }

    /// Bans `subject` for the escalated duration of its offence, unless already banned.
    private mutating func ban(_ subject: Ban.Subject, reason: String, evidence: Int, address: String,
                              epochSeconds: Int64) -> (Ban?, SecurityEvent)? {
        guard bans.ban(subject, at: epochSeconds) == nil else { return nil }
        if case .source = subject, let ip = IPAddress(address), configuration.protectedSources.contains(ip) {
            return (nil, SecurityEvent(kind: .banWithheld, source: address,
                                       reason: "\(reason) (\(evidence) pieces of evidence): not banned, a configured trunk",
                                       epochSeconds: epochSeconds))
        }
        let rules = configuration.rules
        let offence = offences.update(subject, default: Offence(count: 0, lastEpochSeconds: epochSeconds)) { offence in
            if epochSeconds - offence.lastEpochSeconds > rules.offenceMemorySeconds { offence.count = 0 }
            offence.count += 1
            offence.lastEpochSeconds = epochSeconds
            return offence.count
        }
        let seconds = min(rules.maxBanSeconds, rules.firstBanSeconds << Int64(min(offence - 1, 20)))
        let ban = Ban(subject: subject, reason: reason, evidenceCount: evidence, createdAtEpochSeconds: epochSeconds,
                      expiresAtEpochSeconds: epochSeconds + seconds, offence: offence)
        bans.add(ban)
        let event = SecurityEvent(kind: .ban, source: address, account: Self.accountText(subject),
                                  reason: "\(reason) (\(evidence) pieces of evidence; offence \(offence), \(seconds) s)",
                                  epochSeconds: epochSeconds)
        return (ban, event)
    }

    /// Runs `makeEvent` only for the first refusal of a burst from `source` (one event a minute at most).
    private mutating func oncePerBurst(_ source: SourceKey, _ epochSeconds: Int64,
                                       _ makeEvent: () -> SecurityEvent) -> [SecurityEvent] {
        reportedFloods.allows(source, at: epochSeconds) ? [makeEvent()] : []
    }

    static func sourceText(_ subject: Ban.Subject) -> String? {
        switch subject {
        case .source(let key), .pair(_, let key): key.description
        case .account: nil
        }
    }

    static func accountText(_ subject: Ban.Subject) -> String? {
        switch subject {
        case .account(let name), .pair(let name, _): name
        case .source: nil
        }
    }
}

extension AttackGuard.Outcome {
    mutating func add(_ ban: (Ban?, SecurityEvent)?) {
        guard let (ban, event) = ban else { return }
        if let ban { newBans.append(ban) }
        events.append(event)
        if case .pass = verdict, let ban, case .source = ban.subject { verdict = .drop }
    }
}
