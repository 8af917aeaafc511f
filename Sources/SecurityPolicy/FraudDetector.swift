/// Velocity and anomaly rules against toll fraud, per account and per trunk (issue 4).
///
/// The edge calls ``callAttempt(subject:international:now:)`` for each new call (INVITE) of each subject
/// involved (the calling account, the trunk it leaves by), ``callStarted(subject:callID:now:)`` once the call
/// is admitted, ``callAnswered(subject:callID:now:)`` on its 2xx and ``callEnded(subject:callID:now:)`` when it
/// is over. It holds the detector under a lock; the detector reads no clock: every `now` is a monotonic
/// `Duration` (a `ContinuousClock` instant minus a fixed origin), so tests step time by hand.
///
/// Rules, each fired when the observed value exceeds its limit (``Thresholds``), each with its own action
/// (``Actions``):
/// - concurrent calls: calls started and not yet ended, plus this attempt;
/// - calls per minute: attempts in a sliding window of 5-second buckets that covers the last 60 to 65 seconds,
///   so no 60-second span can hold more attempts than the limit without firing;
/// - international attempts per hour: the same, with 5-minute buckets covering the last 60 to 65 minutes;
/// - minutes per day: answered seconds of ended calls, credited when the call ends to hourly buckets covering
///   the last 24 to 25 hours, plus the answered seconds so far of calls still up; rounded up to minutes;
/// - anomaly: this hour's attempts against the subject's own baseline, an EWMA of its attempts per hour.
///
/// Every attempt is counted in the windows, blocked or not, so a subject that keeps hammering stays blocked
/// until it slows down. Only admitted attempts are learned by the baseline, so a blocked flood does not teach
/// it that floods are normal. A subject whose rule says ``FraudAction/suspend`` is suspended until an operator
/// calls ``resume(subject:)``; its attempts are then refused with ``FraudRule/suspended`` without being counted.
///
/// Memory is bounded: at most ``maxSubjects`` subjects are tracked (a few hundred bytes each, allocated lazily,
/// plus one entry for each call up). When the table is full, a new subject replaces the least recently seen one
/// that has no call up; busy subjects met on the way are moved to the most recent end (at most
/// ``evictionScanLimit`` per attempt), and if all of those are busy the least recently seen one is replaced
/// anyway: the edge's own limit on calls should keep that from happening. An evicted subject's counters and
/// baseline are forgotten; suspensions are kept apart and survive eviction.
public struct FraudDetector: Sendable {
    /// The limits for one subject; `nil` switches a rule off.
    public struct Thresholds: Hashable, Sendable {
        /// Most calls up at once.
        public var maxConcurrentCalls: Int?
        /// Most call attempts in a minute.
        public var maxCallsPerMinute: Int?
        /// Most international call attempts in an hour.
        public var maxInternationalPerHour: Int?
        /// Most answered minutes in a day.
        public var maxMinutesPerDay: Int?
        /// The learned-baseline rule.
        public var anomaly: Anomaly?
        /// What each rule does when it fires.
        public var actions: Actions

        /// Creates thresholds; every rule is off unless given.
        public init(maxConcurrentCalls: Int? = nil, maxCallsPerMinute: Int? = nil, maxInternationalPerHour: Int? = nil,
                    maxMinutesPerDay: Int? = nil, anomaly: Anomaly? = nil, actions: Actions = Actions()) {
            self.maxConcurrentCalls = maxConcurrentCalls
            self.maxCallsPerMinute = maxCallsPerMinute
            self.maxInternationalPerHour = maxInternationalPerHour
            self.maxMinutesPerDay = maxMinutesPerDay
            self.anomaly = anomaly
            self.actions = actions
        }

        /// Defaults for a user account: 4 calls up, 10 attempts a minute, 10 international attempts an hour,
        /// 600 minutes a day, and the default anomaly rule. A person rarely comes near these; a fraud run
        /// (tens of parallel calls to premium numbers around the clock) passes them within minutes.
        public static let account = Thresholds(maxConcurrentCalls: 4, maxCallsPerMinute: 10,
                                               maxInternationalPerHour: 10, maxMinutesPerDay: 600, anomaly: Anomaly())
        /// Defaults for a trunk: 100 calls up, 120 attempts a minute, 600 international attempts an hour,
        /// 100 channels' worth of minutes a day, and an anomaly rule that needs 100 attempts in an hour.
        /// Size them to the trunk with ``FraudDetector/init(account:trunk:overrides:maxSubjects:)``'s overrides.
        public static let trunk = Thresholds(maxConcurrentCalls: 100, maxCallsPerMinute: 120,
                                             maxInternationalPerHour: 600, maxMinutesPerDay: 144_000,
                                             anomaly: Anomaly(minimumCalls: 100))

        /// Checks the ranges.
        /// - Throws: ``FraudRuleError/Code/invalidThreshold`` for a negative limit or an anomaly rule out of range.
        public func validate() throws(FraudRuleError) {
            for (name, limit) in [("maxConcurrentCalls", maxConcurrentCalls), ("maxCallsPerMinute", maxCallsPerMinute),
                                  ("maxInternationalPerHour", maxInternationalPerHour),
                                  ("maxMinutesPerDay", maxMinutesPerDay)] {
                if let limit, !(0...Int(Int32.max)).contains(limit) {
                    throw FraudRuleError(.invalidThreshold, "\(name) must be 0...\(Int32.max)")
                }
            }
            guard let anomaly else { return }
            guard anomaly.alpha > 0, anomaly.alpha <= 1 else {
                throw FraudRuleError(.invalidThreshold, "anomaly alpha must be in (0, 1]")
            }
            guard anomaly.multiplier >= 1, anomaly.multiplier.isFinite else {
                throw FraudRuleError(.invalidThreshold, "anomaly multiplier must be at least 1")
            }
            guard anomaly.minimumCalls >= 1, anomaly.warmUpHours >= 0 else {
                throw FraudRuleError(.invalidThreshold, "anomaly minimumCalls must be >= 1, warmUpHours >= 0")
            }
        }
    }

    /// The learned-baseline rule: this hour's attempts against an exponentially weighted moving average of the
    /// subject's attempts per hour.
    ///
    /// The average takes in each finished hour as `alpha * count + (1 - alpha) * average` (the first hour seeds
    /// it; hours without attempts count as zero). The rule fires when this hour's count exceeds `multiplier`
    /// times the average and is at least `minimumCalls`, once the subject has `warmUpHours` of history.
    public struct Anomaly: Hashable, Sendable {
        /// Smoothing factor in (0, 1]; 0.1 gives the last 10 hours or so most of the weight.
        public var alpha: Double
        /// How many times the baseline this hour's count must exceed.
        public var multiplier: Double
        /// The fewest attempts in an hour that can fire: a quiet account's few calls never do.
        public var minimumCalls: Int
        /// Hours of history before the baseline is trusted.
        public var warmUpHours: Int

        /// Creates the rule; the defaults are 0.1, 5 times, 10 calls and 24 hours.
        public init(alpha: Double = 0.1, multiplier: Double = 5, minimumCalls: Int = 10, warmUpHours: Int = 24) {
            self.alpha = alpha
            self.multiplier = multiplier
            self.minimumCalls = minimumCalls
            self.warmUpHours = warmUpHours
        }
    }

    /// What each rule does when it fires.
    public struct Actions: Hashable, Sendable {
        /// For ``FraudRule/concurrentCalls``.
        public var concurrentCalls: FraudAction
        /// For ``FraudRule/callsPerMinute``.
        public var callsPerMinute: FraudAction
        /// For ``FraudRule/internationalPerHour``.
        public var internationalPerHour: FraudAction
        /// For ``FraudRule/minutesPerDay``.
        public var minutesPerDay: FraudAction
        /// For ``FraudRule/anomaly``.
        public var anomaly: FraudAction

        /// Creates the actions. The defaults block new calls for the hard limits (which lifts by itself as the
        /// windows slide) and only alert for the anomaly rule, whose learned baseline can misjudge a busy day.
        public init(concurrentCalls: FraudAction = .blockNewCalls, callsPerMinute: FraudAction = .blockNewCalls,
                    internationalPerHour: FraudAction = .blockNewCalls, minutesPerDay: FraudAction = .blockNewCalls,
                    anomaly: FraudAction = .alert) {
            self.concurrentCalls = concurrentCalls
            self.callsPerMinute = callsPerMinute
            self.internationalPerHour = internationalPerHour
            self.minutesPerDay = minutesPerDay
            self.anomaly = anomaly
        }
    }

    /// Thresholds for accounts without an override.
    public private(set) var accountThresholds: Thresholds
    /// Thresholds for trunks without an override.
    public private(set) var trunkThresholds: Thresholds
    /// Thresholds for particular subjects.
    public private(set) var overrides: [FraudSubject: Thresholds]
    /// Most subjects tracked at once.
    public let maxSubjects: Int
    /// Subjects suspended until ``resume(subject:)``.
    public private(set) var suspendedSubjects: Set<FraudSubject> = []

    /// Most busy subjects skipped per eviction.
    public static let evictionScanLimit = 64

    private var index: [FraudSubject: Int] = [:]
    private var slots: [Slot] = []
    /// Most and least recently seen slots (-1 when empty).
    private var newest = -1
    private var oldest = -1

    /// Creates a detector.
    /// - Parameters:
    ///   - account: thresholds for accounts.
    ///   - trunk: thresholds for trunks.
    ///   - overrides: thresholds for particular subjects.
    ///   - maxSubjects: most subjects tracked (1...10_000_000); the default, 100 000, costs tens of megabytes.
    /// - Throws: ``FraudRuleError/Code/invalidThreshold`` for thresholds out of range or `maxSubjects` out of range.
    public init(account: Thresholds = .account, trunk: Thresholds = .trunk, overrides: [FraudSubject: Thresholds] = [:],
                maxSubjects: Int = 100_000) throws(FraudRuleError) {
        guard (1...10_000_000).contains(maxSubjects) else {
            throw FraudRuleError(.invalidThreshold, "maxSubjects must be 1...10000000")
        }
        self.accountThresholds = .init()
        self.trunkThresholds = .init()
        self.overrides = [:]
        self.maxSubjects = maxSubjects
        try reconfigure(account: account, trunk: trunk, overrides: overrides)
    }

    /// Replaces the thresholds, keeping every counter, baseline and suspension (a configuration reload).
    /// - Throws: ``FraudRuleError/Code/invalidThreshold``; the detector is then unchanged.
    public mutating func reconfigure(account: Thresholds, trunk: Thresholds,
                                     overrides: [FraudSubject: Thresholds] = [:]) throws(FraudRuleError) {
        try account.validate()
        try trunk.validate()
        for thresholds in overrides.values { try thresholds.validate() }
        accountThresholds = account
        trunkThresholds = trunk
        self.overrides = overrides
    }

    /// The thresholds that apply to a subject.
    public func thresholds(for subject: FraudSubject) -> Thresholds {
        if !overrides.isEmpty, let thresholds = overrides[subject] { return thresholds }
        switch subject {
        case .account: return accountThresholds
        case .trunk: return trunkThresholds
        }
    }

    /// Counts a new call attempt and checks the subject's rules.
    /// - Parameters:
    ///   - subject: the account or trunk the attempt is charged to.
    ///   - international: whether the destination is international (``DestinationVerdict/allowed(international:)``).
    ///   - now: monotonic time.
    /// - Returns: the rules that fired and the strongest action; a ``FraudAction/suspend`` also suspends the subject.
    public mutating func callAttempt(subject: FraudSubject, international: Bool, now: Duration) -> FraudDecision {
        if !suspendedSubjects.isEmpty, suspendedSubjects.contains(subject) {
            let alert = FraudAlert(rule: .suspended, subject: subject, observed: 1, limit: 0, action: .blockNewCalls)
            return FraudDecision(outcome: .block, alerts: [alert])
        }
        let limits = thresholds(for: subject)
        let slot = touch(subject)
        let decision = slots[slot].state.attempt(subject: subject, international: international, now: now,
                                                 limits: limits)
        if decision.outcome == .suspend { suspendedSubjects.insert(subject) }
        return decision
    }

    /// Records that an admitted call is under way (call it when the INVITE is forwarded, not at answer, so
    /// that calls still ringing count as concurrent). A call ID already up is ignored.
    public mutating func callStarted(subject: FraudSubject, callID: String, now: Duration) {
        let slot = touch(subject)
        if slots[slot].state.calls[callID] == nil { slots[slot].state.calls[callID] = ActiveCall() }
    }

    /// Records that a call was answered: its minutes count from now. Unknown calls are ignored.
    public mutating func callAnswered(subject: FraudSubject, callID: String, now: Duration) {
        guard let slot = index[subject] else { return }
        moveToNewest(slot)
        slots[slot].state.answer(callID: callID, now: now)
    }

    /// Records that a call is over: it no longer counts as concurrent, and its answered seconds are credited to the
    /// day's minutes. Unknown calls are ignored, so a repeated end is harmless.
    public mutating func callEnded(subject: FraudSubject, callID: String, now: Duration) {
        guard let slot = index[subject] else { return }
        moveToNewest(slot)
        slots[slot].state.end(callID: callID, now: now)
    }

    /// Suspends a subject (an operator's decision, or a rule's ``FraudAction/suspend``).
    public mutating func suspend(subject: FraudSubject) {
        suspendedSubjects.insert(subject)
    }

    /// Lifts a suspension (an operator's decision); the subject's counters are kept.
    /// - Returns: whether the subject was suspended.
    @discardableResult
    public mutating func resume(subject: FraudSubject) -> Bool {
        suspendedSubjects.remove(subject) != nil
    }

    /// Whether a subject is suspended.
    public func isSuspended(_ subject: FraudSubject) -> Bool { suspendedSubjects.contains(subject) }

    /// How many subjects are tracked.
    public var trackedSubjects: Int { index.count }

    /// Whether a subject is tracked (it has not been evicted, or has been seen since).
    public func isTracking(_ subject: FraudSubject) -> Bool { index[subject] != nil }

    /// Calls up for a subject.
    public func activeCalls(of subject: FraudSubject) -> Int { index[subject].map { slots[$0].state.calls.count } ?? 0 }

    /// The subject's learned attempts per hour, or nil before its first full hour.
    public func baseline(of subject: FraudSubject) -> Double? {
        guard let slot = index[subject], slots[slot].state.hoursLearned > 0 else { return nil }
        return slots[slot].state.baseline
    }

    // MARK: - Subject table (a dictionary onto slots, kept in a doubly linked list from newest to oldest seen)

    private struct Slot {
        var subject: FraudSubject
        var state = SubjectState()
        var newer = -1
        var older = -1
    }

    /// The slot of a subject, created (or taken over from an evicted subject) if needed, moved to the newest end.
    private mutating func touch(_ subject: FraudSubject) -> Int {
        if let slot = index[subject] {
            moveToNewest(slot)
            return slot
        }
        let slot: Int
        if slots.count < maxSubjects {
            slot = slots.count
            slots.append(Slot(subject: subject))
        } else {
            slot = evictionVictim()
            unlink(slot)
            index[slots[slot].subject] = nil
            slots[slot] = Slot(subject: subject)
        }
        index[subject] = slot
        linkNewest(slot)
        return slot
    }

    /// The least recently seen slot without a call up, moving busy ones out of the way (a bounded number).
    private mutating func evictionVictim() -> Int {
        var scanned = 0
        while !slots[oldest].state.calls.isEmpty, scanned < Self.evictionScanLimit {
            moveToNewest(oldest)
            scanned += 1
        }
        return oldest
    }

    private mutating func moveToNewest(_ slot: Int) {
        guard slot != newest else { return }
        unlink(slot)
        linkNewest(slot)
    }

    private mutating func unlink(_ slot: Int) {
        let (newer, older) = (slots[slot].newer, slots[slot].older)
        if newer >= 0 { slots[newer].older = older } else { newest = older }
        if older >= 0 { slots[older].newer = newer } else { oldest = newer }
        slots[slot].newer = -1
        slots[slot].older = -1
    }

    private mutating func linkNewest(_ slot: Int) {
        slots[slot].older = newest
        if newest >= 0 { slots[newest].newer = slot } else { oldest = slot }
        newest = slot
    }
}

/// Whom a fraud rule counts: an account or a trunk, each with its own counters and thresholds.
public enum FraudSubject: Hashable, Sendable, CustomStringConvertible {
    /// A user account (its authenticated identity, as the edge names it).
    case account(String)
    /// A trunk (its configured name).
    case trunk(String)

    /// A short form for logs.
    public var description: String {
        switch self {
        case .account(let name): return "account:\(name)"
        case .trunk(let name): return "trunk:\(name)"
        }
    }
}

/// A fraud rule.
public enum FraudRule: String, Hashable, Sendable, CustomStringConvertible {
    /// Calls up at once.
    case concurrentCalls = "concurrent-calls"
    /// Call attempts per minute.
    case callsPerMinute = "calls-per-minute"
    /// International call attempts per hour.
    case internationalPerHour = "international-per-hour"
    /// Answered minutes per day.
    case minutesPerDay = "minutes-per-day"
    /// Attempts this hour against the learned baseline.
    case anomaly = "anomaly"
    /// The subject is suspended.
    case suspended = "suspended"

    /// A short form for logs.
    public var description: String { rawValue }
}

/// What a fired rule does, weakest first.
public enum FraudAction: Int, Hashable, Sendable, Comparable {
    /// Record an alert; the call proceeds.
    case alert
    /// Refuse the call; later calls are checked afresh.
    case blockNewCalls
    /// Refuse the call and suspend the subject until an operator resumes it.
    case suspend

    /// Weaker before stronger.
    public static func < (lhs: FraudAction, rhs: FraudAction) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A rule that fired.
public struct FraudAlert: Hashable, Sendable, CustomStringConvertible {
    /// The rule.
    public let rule: FraudRule
    /// Whose counters fired it.
    public let subject: FraudSubject
    /// The value seen, this attempt included (minutes for ``FraudRule/minutesPerDay``).
    public let observed: Int
    /// The highest value that would not have fired.
    public let limit: Int
    /// The rule's action.
    public let action: FraudAction

    /// Creates an alert.
    public init(rule: FraudRule, subject: FraudSubject, observed: Int, limit: Int, action: FraudAction) {
        self.rule = rule
        self.subject = subject
        self.observed = observed
        self.limit = limit
        self.action = action
    }

    /// A short form for logs.
    public var description: String { "\(subject) \(rule): \(observed) > \(limit)" }
}

/// The outcome of a call attempt's fraud check.
public struct FraudDecision: Hashable, Sendable {
    /// What to do with the call, weakest first.
    public enum Outcome: Int, Hashable, Sendable, Comparable {
        /// No rule fired.
        case allow
        /// Rules fired whose action is only to alert: record them and let the call proceed.
        case alertOnly
        /// Refuse the call.
        case block
        /// Refuse the call; the subject is now suspended.
        case suspend

        /// Weaker before stronger.
        public static func < (lhs: Outcome, rhs: Outcome) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// What to do with the call.
    public let outcome: Outcome
    /// The rules that fired, in the order checked.
    public let alerts: [FraudAlert]

    /// Creates a decision.
    public init(outcome: Outcome, alerts: [FraudAlert]) {
        self.outcome = outcome
        self.alerts = alerts
    }

    /// Whether the call may proceed.
    public var admitsCall: Bool { outcome <= .alertOnly }
    /// The SIP status to refuse with, 403 Forbidden (RFC 3261 §21.4.4), or nil when the call may proceed.
    public var sipStatus: Int? { admitsCall ? nil : 403 }
}

// MARK: - Per-subject state

/// A call that is up.
private struct ActiveCall {
    var answeredAt: Duration?
}

/// One subject's counters.
private struct SubjectState {
    var attempts = BucketWindow(width: 5, count: 13)
    var internationalAttempts = BucketWindow(width: 300, count: 13)
    var answeredSeconds = BucketWindow(width: 3600, count: 25)
    var calls: [String: ActiveCall] = [:]
    /// Calls up that were answered, and the sum of their answer times: their seconds so far are
    /// `answeredCount * now - answeredSince`, without walking the calls.
    var answeredCount = 0
    var answeredSince: Duration = .zero
    /// The hour being counted (since the monotonic origin), its admitted attempts, and the EWMA of earlier hours.
    var hour: Int64 = -1
    var hourCount = 0
    var baseline = 0.0
    var hoursLearned = 0

    mutating func attempt(subject: FraudSubject, international: Bool, now: Duration,
                          limits: FraudDetector.Thresholds) -> FraudDecision {
        let second = secondsSinceOrigin(now)
        var alerts: [FraudAlert] = []
        var strongest: FraudAction?
        func check(_ rule: FraudRule, _ observed: Int, _ limit: Int?, _ action: FraudAction) {
            guard let limit, observed > limit else { return }
            alerts.append(FraudAlert(rule: rule, subject: subject, observed: observed, limit: limit, action: action))
            strongest = max(strongest ?? action, action)
        }

        check(.concurrentCalls, calls.count + 1, limits.maxConcurrentCalls, limits.actions.concurrentCalls)
        attempts.add(1, at: second)
        check(.callsPerMinute, attempts.total, limits.maxCallsPerMinute, limits.actions.callsPerMinute)
        if international {
            internationalAttempts.add(1, at: second)
            check(.internationalPerHour, internationalAttempts.total, limits.maxInternationalPerHour,
                  limits.actions.internationalPerHour)
        }
        if let limit = limits.maxMinutesPerDay {
            answeredSeconds.advance(to: second)
            let seconds = answeredSeconds.total + Int(wholeSeconds(now * answeredCount - answeredSince))
            check(.minutesPerDay, (seconds + 59) / 60, limit, limits.actions.minutesPerDay)
        }
        if let anomaly = limits.anomaly {
            roll(toHour: second / 3600, alpha: anomaly.alpha)
            if hoursLearned >= anomaly.warmUpHours {
                let observed = hourCount + 1
                let ceiling = anomaly.multiplier * baseline
                let limit = max(anomaly.minimumCalls - 1, ceiling < Double(Int32.max) ? Int(ceiling) : Int(Int32.max))
                check(.anomaly, observed, limit, limits.actions.anomaly)
            }
        }

        let outcome: FraudDecision.Outcome
        switch strongest {
        case nil: outcome = .allow
        case .alert: outcome = .alertOnly
        case .blockNewCalls: outcome = .block
        case .suspend: outcome = .suspend
        }
        if outcome <= .alertOnly, limits.anomaly != nil { hourCount += 1 }
        return FraudDecision(outcome: outcome, alerts: alerts)
    }

    mutating func answer(callID: String, now: Duration) {
        guard let call = calls[callID], call.answeredAt == nil else { return }
        calls[callID]?.answeredAt = now
        answeredCount += 1
        answeredSince += now
    }

    mutating func end(callID: String, now: Duration) {
        guard let call = calls.removeValue(forKey: callID), let answeredAt = call.answeredAt else { return }
        answeredCount -= 1
        answeredSince -= answeredAt
        answeredSeconds.add(Int(min(wholeSeconds(now - answeredAt), Int64(Int32.max))), at: secondsSinceOrigin(now))
    }

    /// Folds the hours finished before `hour` into the baseline: the counted hour, then any skipped ones as zero
    /// (a closed form, so a subject back after a year costs a few multiplications).
    private mutating func roll(toHour newHour: Int64, alpha: Double) {
        guard hour >= 0 else {
            hour = newHour
            return
        }
        guard newHour > hour else { return }
        baseline = hoursLearned == 0 ? Double(hourCount) : alpha * Double(hourCount) + (1 - alpha) * baseline
        let skipped = newHour - hour - 1
        if skipped > 0 { baseline *= power(1 - alpha, skipped) }
        hoursLearned = Int(min(Int64(hoursLearned) + newHour - hour, Int64(Int32.max)))
        hour = newHour
        hourCount = 0
    }
}

/// Counts in a ring of fixed-width time buckets: the sum covers the current bucket and the `count - 1` before it.
/// The ring is allocated on first use, so a subject that never calls internationally pays nothing for that window.
private struct BucketWindow {
    /// Seconds per bucket.
    let width: Int64
    /// Buckets in the ring.
    let count: Int
    private var buckets: [UInt32] = []
    /// The newest bucket's number (seconds / width).
    private var head: Int64 = 0
    /// The sum of the buckets.
    private(set) var total = 0

    init(width: Int64, count: Int) {
        self.width = width
        self.count = count
    }

    /// Expires the buckets older than the window ending at `second`. Time going backwards is treated as now.
    mutating func advance(to second: Int64) {
        let bucket = second / width
        guard !buckets.isEmpty, bucket > head else { return }
        if bucket - head >= Int64(count) {
            for slot in buckets.indices { buckets[slot] = 0 }
            total = 0
        } else {
            for number in (head + 1)...bucket {
                let slot = Int(number % Int64(count))
                total -= Int(buckets[slot])
                buckets[slot] = 0
            }
        }
        head = bucket
    }

    /// Adds `amount` (saturating) to the bucket of `second` (or the newest bucket, if time went backwards).
    mutating func add(_ amount: Int, at second: Int64) {
        if buckets.isEmpty {
            buckets = Array(repeating: 0, count: count)
            head = second / width
        } else {
            advance(to: second)
        }
        let slot = Int(head % Int64(count))
        let added = min(UInt32(clamping: amount), UInt32.max - buckets[slot])
        buckets[slot] += added
        total += Int(added)
    }
}

/// The second a monotonic time falls in (rounded down), never negative.
private func secondsSinceOrigin(_ now: Duration) -> Int64 {
    max(0, now.components.seconds)
}

/// Whole seconds of a duration, rounded up (so a partial second counts), never negative.
private func wholeSeconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    guard seconds >= 0, attoseconds >= 0 else { return 0 }
    return attoseconds > 0 ? seconds + 1 : seconds
}

/// `base` to the power `exponent` (at least 1), by squaring.
private func power(_ base: Double, _ exponent: Int64) -> Double {
    var (result, factor, exponent) = (1.0, base, exponent)
    while exponent > 0 {
        if exponent & 1 == 1 { result *= factor }
        factor *= factor
        exponent >>= 1
    }
    return result
}
