import AuditTrail
import Logging
import Metrics
import NIOCore
import SIPMessage
import SecurityPolicy
import Storage
import Synchronization

/// The edge's attack detection and response: the sans-I/O ``AttackGuard`` behind a lock, the overload state, and
/// the security event stream (logged, counted in metrics, stored in batches with the bans it causes).
public final class EdgeDefense: Sendable {
    /// Where events and bans go besides the store and the log (tests watch it).
    public typealias EventSink = @Sendable (SecurityEvent) -> Void

    /// What is waiting for the store.
    private struct Pending {
        var events: [StoredSecurityEvent] = []
        var bans: [StoredBan] = []
        var removedBans: [String] = []
        var droppedEvents = 0
    }

    /// Events waiting for the store at most; beyond it (a store far behind under attack) they are counted, not kept.
    static let pendingCapacity = 20_000

    private let attackGuard: Mutex<AttackGuard>
    /// Whether any ban is held: with no address rules and no bans, messages inside dialogs skip the lock.
    private let holdsBans = Atomic<Bool>(false)
    /// Whether address or country rules are configured (they apply to every message).
    private let hasAddressRules: Bool
    /// The allow-list (fixed at start, read without the lock).
    private let allowList: NetworkList
    private let overload: Mutex<OverloadGuard>
    private let overloaded = Atomic<Bool>(false)
    private let pending = Mutex(Pending())
    private let throttle = Mutex(EventThrottle<String>(capacity: 20_000))
    private let logger: Logger
    private let sink: EventSink
    private let counters: [String: Counter]
    private let authFailureCounters: [AuthFailureCause: Counter]
    /// Most events kept in the store.
    let retainedEvents: Int
    /// How stored events write their source addresses (the log and the metrics are not stored records).
    let addresses: AddressRecording

    /// Creates the defense.
    public init(configuration: AttackGuard.Configuration = .init(), overload: OverloadGuard.Thresholds = .init(),
                retainedEvents: Int = 1_000_000, addresses: AddressRecording = .clear,
                logger: Logger = Logger(label: "rampart.security"), sink: @escaping EventSink = { _ in }) {
        attackGuard = Mutex(AttackGuard(configuration: configuration))
        allowList = configuration.acl.allow
        hasAddressRules = !configuration.acl.allow.isEmpty || !configuration.acl.deny.isEmpty || configuration.geo != nil
        self.overload = Mutex(OverloadGuard(thresholds: overload))
        self.retainedEvents = retainedEvents
        self.addresses = addresses
        self.logger = logger
        self.sink = sink
        var counters: [String: Counter] = [:]
        for kind in SecurityEvent.Kind.all {
            counters[kind.name] = Counter(label: "rampart_security_events_total", dimensions: [("type", kind.name)])
        }
        self.counters = counters
        authFailureCounters = Dictionary(uniqueKeysWithValues: AuthFailureCause.allCases.map { cause in
            (cause, Counter(label: "rampart_auth_failures_total",
                            dimensions: [("interface", cause.interface), ("reason", cause.rawValue)]))
        })
    }

    /// Counts a failed authentication by its cause (`rampart_auth_failures_total{interface, reason}`).
    public func countAuthFailure(_ cause: AuthFailureCause) {
        authFailureCounters[cause]?.increment()
    }

    // MARK: Decisions

    /// Whether a source is allow-listed (it always passes).
    func isAllowListed(_ address: IPAddress) -> Bool { !allowList.isEmpty && allowList.contains(address) }

    /// The source check of every message (see ``AttackGuard/screen(source:method:now:epochSeconds:)``).
    func screen(source: IPAddress, method: RateLimiter.MethodClass?, now: Duration, epochSeconds: Int64)
        -> AttackGuard.Verdict
    {
        // Responses and in-dialog requests have no budget: without bans or address rules there is nothing to check.
        if method == nil, !hasAddressRules, !holdsBans.load(ordering: .relaxed) { return .pass(trusted: false) }
        return handle(withGuard { $0.screen(source: source, method: method, now: now, epochSeconds: epochSeconds) })
    }

    /// Runs `body` on the guard and keeps ``holdsBans`` true to it.
    private func withGuard<Result>(_ body: (inout AttackGuard) -> Result) -> Result {
        attackGuard.withLock { attackGuard in
            let result = body(&attackGuard)
            // Written only on change: a store per request would bounce the cache line between the loops' cores.
            let holds = !attackGuard.bans.isEmpty
            if holdsBans.load(ordering: .relaxed) != holds { holdsBans.store(holds, ordering: .relaxed) }
            return result
        }
    }

    /// The scanner rules on an out-of-dialog request.
    func inspect(_ probe: AttackGuard.Probe, source: IPAddress, epochSeconds: Int64) -> AttackGuard.Verdict {
        handle(withGuard { $0.inspect(probe, source: source, epochSeconds: epochSeconds) })
    }

    /// The account check before digest work.
    func screen(account: String, source: IPAddress, method: RateLimiter.MethodClass, certified: Bool, now: Duration,
                epochSeconds: Int64) -> AttackGuard.Verdict {
        handle(withGuard {
            $0.screen(account: account, source: source, method: method, certified: certified, now: now,
                      epochSeconds: epochSeconds)
        })
    }

    /// Counts an answer sent to an unauthenticated source.
    func answered(status: Int, source: IPAddress, epochSeconds: Int64) {
        _ = handle(withGuard { $0.answered(status: status, source: source, epochSeconds: epochSeconds) })
    }

    /// Records a failed authentication (the event itself included).
    func authenticationFailed(account: String?, source: IPAddress, kind: SecurityEvent.Kind, reason: String,
                              cause: AuthFailureCause, epochSeconds: Int64) {
        countAuthFailure(cause)
        _ = handle(withGuard {
            $0.authenticationFailed(account: account, source: source, kind: kind, reason: reason,
                                    epochSeconds: epochSeconds)
        })
    }

    /// Records a successful authentication.
    func authenticationSucceeded(account: String, source: IPAddress, epochSeconds: Int64) {
        attackGuard.withLock { $0.authenticationSucceeded(account: account, source: source, epochSeconds: epochSeconds) }
    }

    /// Suspends an account for fraud: a ban of the account until an operator lifts it.
    func suspend(account: String, reason: String, epochSeconds: Int64) {
        let ban = Ban(subject: .account(account), reason: reason, evidenceCount: 1, createdAtEpochSeconds: epochSeconds,
                      expiresAtEpochSeconds: nil)
        withGuard { _ = $0.add(ban) }
        let event = SecurityEvent(kind: .ban, account: account, reason: "account suspended: \(reason)",
                                  epochSeconds: epochSeconds)
        log(event)
        enqueue(events: [event], bans: [ban])
    }

    /// Records an event that no rule produced (media policy, TLS, malformed input...).
    public func record(_ event: SecurityEvent) {
        log(event)
        enqueue(events: [event], bans: [])
    }

    /// Records an event of a kind and source at most once a minute (transport events can come per packet).
    public func recordThrottled(_ event: SecurityEvent) {
        let key = event.kind.name + " " + (event.source ?? "")
        if throttle.withLock({ $0.allows(key, at: event.epochSeconds) }) { record(event) }
    }

    private func handle(_ outcome: AttackGuard.Outcome) -> AttackGuard.Verdict {
        if !outcome.events.isEmpty || !outcome.newBans.isEmpty {
            for event in outcome.events { log(event) }
            enqueue(events: outcome.events, bans: outcome.newBans)
        }
        return outcome.verdict
    }

    /// Live feeds of the events (the admin API's stream), by number; each buffers its newest 256.
    private let watchers = Mutex<(next: Int, feeds: [Int: AsyncStream<StoredSecurityEvent>.Continuation])>((0, [:]))
    /// Most live feeds at once.
    public static let maximumWatchers = 16

    /// A live feed of the events as they are stored (their addresses as `privacy.ip_addresses` says), from now
    /// on; nil when ``maximumWatchers`` feeds are open. It ends when the consumer stops iterating.
    public func watch() -> AsyncStream<StoredSecurityEvent>? {
        let (stream, continuation) = AsyncStream<StoredSecurityEvent>.makeStream(bufferingPolicy: .bufferingNewest(256))
        let number: Int? = watchers.withLock { watchers in
            guard watchers.feeds.count < Self.maximumWatchers else { return nil }
            watchers.next += 1
            watchers.feeds[watchers.next] = continuation
            return watchers.next
        }
        guard let number else { return nil }
        continuation.onTermination = { [weak self] _ in self?.watchers.withLock { _ = $0.feeds.removeValue(forKey: number) } }
        return stream
    }

    private func log(_ event: SecurityEvent) {
        watchers.withLock { watchers in
            guard !watchers.feeds.isEmpty else { return }
            let stored = Self.stored(event, addresses: addresses)
            for feed in watchers.feeds.values { feed.yield(stored) }
        }
        var metadata: Logger.Metadata = ["event": "\(event.kind.name)", "reason": "\(event.reason)"]
        if let source = event.source { metadata["source"] = "\(source)" }
        if let account = event.account { metadata["account"] = "\(account)" }
        logger.warning("security event", metadata: metadata)
        counters[event.kind.name]?.increment()
        sink(event)
    }

    private func enqueue(events: [SecurityEvent], bans: [Ban]) {
        pending.withLock { pending in
            let room = max(0, Self.pendingCapacity - pending.events.count)
            pending.droppedEvents += max(0, events.count - room)
            pending.events += events.prefix(room).map { Self.stored($0, addresses: addresses) }
            pending.bans += bans.map(Self.stored)
        }
    }

    // MARK: Overload

    /// Whether the edge refuses new work from unknown sources.
    public var isOverloaded: Bool { overloaded.load(ordering: .relaxed) }

    /// The Retry-After of 503s under overload.
    var retryAfterSeconds: Int { overload.withLock { $0.thresholds.retryAfterSeconds } }

    /// One load measurement: the worst event-loop lag and the backlog of requests waiting for the store.
    public func sampleLoad(loopLagMilliseconds: Int, backlog: Int, now: Duration, epochSeconds: Int64) {
        let (changed, state) = overload.withLock { guard_ in
            (guard_.sample(loopLagMilliseconds: loopLagMilliseconds, backlog: backlog, now: now), guard_.isOverloaded)
        }
        guard changed else { return }
        overloaded.store(state, ordering: .relaxed)
        record(SecurityEvent(
            kind: .overload,
            reason: state ? "over capacity (loop lag \(loopLagMilliseconds) ms, backlog \(backlog)): new work refused"
                : "load back to normal", epochSeconds: epochSeconds))
    }

    // MARK: Bans

    /// Every ban in force.
    public var bans: [Ban] { attackGuard.withLock { $0.bans.all } }

    /// Replaces the bans with the store's (at startup, and when `rampart ban` changed them).
    public func load(_ stored: [StoredBan]) {
        let bans = stored.compactMap(Self.ban)
        withGuard { $0.replaceBans(with: bans) }
    }

    /// Lifts ended bans (their `unban` events are recorded; the store drops them on the next flush).
    public func expireBans(epochSeconds: Int64) {
        let events = withGuard { $0.expireBans(epochSeconds: epochSeconds) }
        for event in events { log(event) }
        enqueue(events: events, bans: [])
    }

    /// Writes waiting events and bans to the store: the new bans and an audit record of each event (its kind,
    /// subject and reason, by the edge) in one transaction, so that no stored ban lacks its record; then the events
    /// to the event log. Returns how many audit records were appended.
    @discardableResult
    public func flush(to store: any Store) async -> Int {
        let batch = pending.withLock { pending in
            defer { pending = Pending() }
            return pending
        }
        if batch.droppedEvents > 0 {
            logger.error("security events not stored: too many waiting", metadata: ["count": "\(batch.droppedEvents)"])
        }
        guard !batch.bans.isEmpty || !batch.events.isEmpty else { return 0 }
        do throws(StorageError) {
            let records = try await store.audit(batch.events.map(Self.auditContent),
                                                with: batch.bans.isEmpty ? .none : .saveBans(batch.bans)).records
            if !batch.events.isEmpty { try await store.appendSecurityEvents(batch.events, keeping: retainedEvents) }
            return records.count
        } catch {
            logger.error("security events or bans not stored", metadata: ["error": "\(error.code)"])
            return 0
        }
    }

    /// A security event as an audit record of the edge: `security.<kind>`, about its account or else its source.
    /// Every field is cut to 1,000 bytes of UTF-8 on a scalar boundary (not to so many characters: one character
    /// can be any number of combining scalars): a hostile user name must not make the record, and with it the
    /// batch's bans, too large to store.
    static func auditContent(_ event: StoredSecurityEvent) -> AuditContent {
        func clamped(_ text: String) -> String {
            guard text.utf8.count > 1_000 else { return text }
            var kept = String.UnicodeScalarView()
            var bytes = 0
            for scalar in text.unicodeScalars {
                bytes += UTF8.width(scalar)
                guard bytes <= 1_000 else { break }
                kept.append(scalar)
            }
            return String(kept)
        }
        var details = ["reason": clamped(event.reason)]
        if let source = event.source { details["source"] = clamped(source) }
        if let account = event.account { details["account"] = clamped(account) }
        return AuditContent(time: event.epochSeconds * 1_000, actor: .edge, action: .securityEvent(clamped(event.kind)),
                            subject: clamped(event.account ?? event.source ?? "edge"), details: details)
    }

    static func stored(_ event: SecurityEvent, addresses: AddressRecording) -> StoredSecurityEvent {
        StoredSecurityEvent(epochSeconds: event.epochSeconds, kind: event.kind.name,
                            source: event.source.map(addresses.recorded),
                            account: event.account, reason: event.reason)
    }

    /// A ban as stored.
    public static func stored(_ ban: Ban) -> StoredBan {
        StoredBan(subject: ban.subject.description, reason: ban.reason, evidenceCount: ban.evidenceCount,
                  createdAtEpochSeconds: ban.createdAtEpochSeconds, expiresAtEpochSeconds: ban.expiresAtEpochSeconds,
                  offence: ban.offence)
    }

    /// A stored ban, or nil if its subject does not parse.
    public static func ban(_ stored: StoredBan) -> Ban? {
        Ban.Subject(stored.subject).map {
            Ban(subject: $0, reason: stored.reason, evidenceCount: stored.evidenceCount,
                createdAtEpochSeconds: stored.createdAtEpochSeconds, expiresAtEpochSeconds: stored.expiresAtEpochSeconds,
                offence: stored.offence)
        }
    }
}

extension SocketAddress {
    /// The IP address without going through text (no allocation).
    public var policyAddress: IPAddress? {
        switch self {
        case .v4(let address):
            return IPAddress(ipv4: UInt32(bigEndian: address.address.sin_addr.s_addr))
        case .v6(let address):
            var bytes = address.address.sin6_addr
            return withUnsafeBytes(of: &bytes) { raw -> IPAddress in
                var high: UInt64 = 0, low: UInt64 = 0
                for index in 0..<8 { high = high << 8 | UInt64(raw[index]) }
                for index in 8..<16 { low = low << 8 | UInt64(raw[index]) }
                return IPAddress(high: high, low: low)
            }
        case .unixDomainSocket:
            return nil
        }
    }

    /// The address and port as the address policy compares them.
    var endpoint: AddressPolicy.Endpoint? {
        guard let ip = policyAddress, let port, let port16 = UInt16(exactly: port) else { return nil }
        return AddressPolicy.Endpoint(address: ip, port: port16)
    }
}
