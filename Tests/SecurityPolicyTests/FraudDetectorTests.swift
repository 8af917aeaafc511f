import SecurityPolicy
import Testing

/// Monotonic time `seconds` after the origin.
private func at(_ seconds: Double) -> Duration { .milliseconds(Int64((seconds * 1000).rounded())) }
private let hour = 3600.0
private let alice = FraudSubject.account("alice")

@Suite struct FraudDetectorTests {
    func detector(_ thresholds: FraudDetector.Thresholds, maxSubjects: Int = 100_000) throws -> FraudDetector {
        try FraudDetector(account: thresholds, trunk: thresholds, maxSubjects: maxSubjects)
    }

    @Test func theConcurrentCallLimitCountsCallsUpUntilTheyEnd() throws {
        var fraud = try detector(.init(maxConcurrentCalls: 2))
        #expect(fraud.callAttempt(subject: alice, international: false, now: at(0)).outcome == .allow)
        fraud.callStarted(subject: alice, callID: "c1", now: at(0))
        #expect(fraud.callAttempt(subject: alice, international: false, now: at(1)).outcome == .allow)
        fraud.callStarted(subject: alice, callID: "c2", now: at(1))
        fraud.callStarted(subject: alice, callID: "c2", now: at(1))
        #expect(fraud.activeCalls(of: alice) == 2)
        let refused = fraud.callAttempt(subject: alice, international: false, now: at(2))
        #expect(refused.outcome == .block)
        #expect(refused.sipStatus == 403)
        #expect(refused.alerts == [FraudAlert(rule: .concurrentCalls, subject: alice, observed: 3, limit: 2,
                                              action: .blockNewCalls)])
        fraud.callEnded(subject: alice, callID: "c1", now: at(3))
        fraud.callEnded(subject: alice, callID: "c1", now: at(3))
        #expect(fraud.activeCalls(of: alice) == 1)
        #expect(fraud.callAttempt(subject: alice, international: false, now: at(4)).admitsCall)
    }

    @Test func callsPerMinuteCountAttemptsForAtLeastSixtySeconds() throws {
        var fraud = try detector(.init(maxCallsPerMinute: 3))
        for second in [0.0, 0.5, 4.9] {
            #expect(fraud.callAttempt(subject: alice, international: false, now: at(second)).outcome == .allow)
        }
        // Sixty seconds later the first attempts still count (5-second buckets, 60-65 s covered)...
        let refused = fraud.callAttempt(subject: alice, international: false, now: at(60))
        #expect(refused.alerts.map(\.rule) == [.callsPerMinute])
        #expect(refused.alerts.first?.observed == 4)
        #expect(refused.alerts.first?.limit == 3)
        // ...and from 65 s they have slid out; the refused attempt at 60 s still counts (hammering stays blocked).
        #expect(fraud.callAttempt(subject: alice, international: false, now: at(65)).outcome == .allow)
        #expect(fraud.callAttempt(subject: alice, international: false, now: at(66)).outcome == .allow)
        #expect(fraud.callAttempt(subject: alice, international: false, now: at(67)).outcome == .block)
        // A long silence clears the window.
        #expect(fraud.callAttempt(subject: alice, international: false, now: at(10 * hour)).outcome == .allow)
    }

    @Test func noSixtySecondSpanAdmitsMoreAttemptsThanTheLimit() throws {
        var fraud = try detector(.init(maxCallsPerMinute: 5))
        var state: UInt64 = 7
        var now = 0.0
        var admitted: [Double] = []
        for _ in 0..<2_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            now += Double((state >> 40) % 20_000) / 1000
            if fraud.callAttempt(subject: alice, international: false, now: at(now)).admitsCall { admitted.append(now) }
        }
        #expect(admitted.count > 100)
        for (index, time) in admitted.enumerated() {
            #expect(admitted[index...].prefix { $0 < time + 60 }.count <= 5)
        }
    }

    @Test func internationalAttemptsPerHourCountOnlyInternationalCalls() throws {
        var fraud = try detector(.init(maxInternationalPerHour: 2))
        #expect(fraud.callAttempt(subject: alice, international: true, now: at(0)).outcome == .allow)
        #expect(fraud.callAttempt(subject: alice, international: true, now: at(100)).outcome == .allow)
        let refused = fraud.callAttempt(subject: alice, international: true, now: at(200))
        #expect(refused.alerts == [FraudAlert(rule: .internationalPerHour, subject: alice, observed: 3, limit: 2,
                                              action: .blockNewCalls)])
        #expect(fraud.callAttempt(subject: alice, international: false, now: at(300)).outcome == .allow)
        #expect(fraud.callAttempt(subject: alice, international: true, now: at(hour)).outcome == .block)
        // 5-minute buckets covering 60-65 minutes: everything from the first bucket has gone at 65 minutes.
        #expect(fraud.callAttempt(subject: alice, international: true, now: at(hour + 300)).outcome == .allow)
    }

    @Test func minutesPerDayCountAnsweredSecondsIncludingCallsStillUp() throws {
        var fraud = try detector(.init(maxMinutesPerDay: 10))
        fraud.callStarted(subject: alice, callID: "c1", now: at(0))
        fraud.callAnswered(subject: alice, callID: "c1", now: at(10))
        fraud.callEnded(subject: alice, callID: "c1", now: at(310))
        fraud.callStarted(subject: alice, callID: "c2", now: at(400))
        fraud.callEnded(subject: alice, callID: "c2", now: at(1000))  // never answered: no minutes
        fraud.callStarted(subject: alice, callID: "c3", now: at(1000))
        fraud.callAnswered(subject: alice, callID: "c3", now: at(1000))
        fraud.callAnswered(subject: alice, callID: "c3", now: at(1100))  // a repeated answer changes nothing
        #expect(fraud.callAttempt(subject: alice, international: false, now: at(1300)).outcome == .allow)
        let refused = fraud.callAttempt(subject: alice, international: false, now: at(1300.5))
        #expect(refused.alerts == [FraudAlert(rule: .minutesPerDay, subject: alice, observed: 11, limit: 10,
                                              action: .blockNewCalls)])
        fraud.callEnded(subject: alice, callID: "c3", now: at(1400))
        #expect(fraud.callAttempt(subject: alice, international: false, now: at(24 * hour)).outcome == .block)
        // Hourly buckets covering 24-25 hours: the minutes of hour 0 have gone at hour 25.
        #expect(fraud.callAttempt(subject: alice, international: false, now: at(25 * hour)).outcome == .allow)
    }

    /// Attempts evenly spread over `hours` hours from `start`, `perHour` an hour; the decisions.
    func traffic(_ fraud: inout FraudDetector, from start: Double, hours: Int, perHour: Int) -> [FraudDecision] {
        (0..<hours * perHour).map { call in
            fraud.callAttempt(subject: alice, international: false,
                              now: at(start + Double(call) * hour / Double(perHour)))
        }
    }

    @Test func aBurstOfTenTimesTheLearnedBaselineAlertsWhileSteadyTrafficDoesNot() throws {
        var fraud = try detector(.init(anomaly: .init(alpha: 0.1, multiplier: 5, minimumCalls: 10, warmUpHours: 24)))
        #expect(traffic(&fraud, from: 0, hours: 48, perHour: 10).allSatisfy { $0.outcome == .allow })
        let learned = try #require(fraud.baseline(of: alice))
        #expect(abs(learned - 10) < 0.001)
        let burst = traffic(&fraud, from: 48 * hour, hours: 1, perHour: 100)
        #expect(burst.prefix(50).allSatisfy { $0.outcome == .allow })
        #expect(burst.dropFirst(50).allSatisfy { $0.outcome == .alertOnly && $0.admitsCall })
        #expect(burst[50].alerts == [FraudAlert(rule: .anomaly, subject: alice, observed: 51, limit: 50,
                                                action: .alert)])
        // The burst is learned (it was only alerted), so the baseline rises by alpha * (100 - 10).
        _ = fraud.callAttempt(subject: alice, international: false, now: at(49 * hour))
        let raised = try #require(fraud.baseline(of: alice))
        #expect(abs(raised - 19) < 0.001)
    }

    @Test func theBaselineIsNotTrustedDuringWarmUpAndAQuietAccountNeedsTheMinimumCount() throws {
        let rule = FraudDetector.Anomaly(alpha: 0.1, multiplier: 5, minimumCalls: 10, warmUpHours: 24)
        var young = try detector(.init(anomaly: rule))
        _ = traffic(&young, from: 0, hours: 3, perHour: 2)
        #expect(traffic(&young, from: 3 * hour, hours: 1, perHour: 100).allSatisfy { $0.outcome == .allow })

        var quiet = try detector(.init(anomaly: rule))
        _ = traffic(&quiet, from: 0, hours: 30, perHour: 1)
        #expect(traffic(&quiet, from: 30 * hour, hours: 1, perHour: 9).allSatisfy { $0.outcome == .allow })
        #expect(traffic(&quiet, from: 31 * hour, hours: 1, perHour: 10).last?.outcome == .alertOnly)
    }

    @Test func hoursWithoutCallsDecayTheBaseline() throws {
        var fraud = try detector(.init(anomaly: .init(alpha: 0.5, warmUpHours: 0)))
        #expect(fraud.baseline(of: alice) == nil)
        _ = traffic(&fraud, from: 0, hours: 2, perHour: 8)
        _ = fraud.callAttempt(subject: alice, international: false, now: at(5 * hour))
        // Hour 1 folded in (8), then hours 2, 3 and 4 without calls: 8 / 2^3.
        #expect(fraud.baseline(of: alice) == 1)
        _ = fraud.callAttempt(subject: alice, international: false, now: at(1_000_000 * hour))
        let decayed = try #require(fraud.baseline(of: alice))
        #expect(decayed < 1e-100)
    }

    @Test func aSuspendedSubjectStaysSuspendedUntilResumed() throws {
        var fraud = try detector(.init(maxCallsPerMinute: 1, actions: .init(callsPerMinute: .suspend)))
        #expect(fraud.callAttempt(subject: alice, international: false, now: at(0)).outcome == .allow)
        let suspended = fraud.callAttempt(subject: alice, international: false, now: at(1))
        #expect(suspended.outcome == .suspend)
        #expect(suspended.sipStatus == 403)
        #expect(fraud.isSuspended(alice))
        for day in 1...3 {
            let refused = fraud.callAttempt(subject: alice, international: false, now: at(Double(day) * 24 * hour))
            #expect(refused.outcome == .block)
            #expect(refused.alerts.map(\.rule) == [.suspended])
        }
        let resumed = fraud.resume(subject: alice)
        let resumedAgain = fraud.resume(subject: alice)
        #expect(resumed && !resumedAgain)
        #expect(fraud.callAttempt(subject: alice, international: false, now: at(4 * 24 * hour)).outcome == .allow)
    }

    @Test func theStrongestActionWinsAndEveryFiredRuleIsReported() throws {
        var fraud = try detector(.init(maxConcurrentCalls: 0, maxCallsPerMinute: 0,
                                       actions: .init(concurrentCalls: .alert, callsPerMinute: .blockNewCalls)))
        let decision = fraud.callAttempt(subject: alice, international: false, now: at(0))
        #expect(decision.outcome == .block)
        #expect(decision.alerts.map(\.rule) == [.concurrentCalls, .callsPerMinute])
        #expect(decision.alerts.map(\.description) == ["account:alice concurrent-calls: 1 > 0",
                                                       "account:alice calls-per-minute: 1 > 0"])
    }

    @Test func trunksAndAccountsHaveTheirOwnCountersAndThresholds() throws {
        let carrier = FraudSubject.trunk("alice")  // the same name as the account: still another subject
        var fraud = try FraudDetector(account: .init(maxCallsPerMinute: 1), trunk: .init(maxCallsPerMinute: 3),
                                      overrides: [.trunk("big"): .init(maxCallsPerMinute: 100)])
        #expect(fraud.callAttempt(subject: alice, international: false, now: at(0)).outcome == .allow)
        #expect(fraud.callAttempt(subject: carrier, international: false, now: at(0)).outcome == .allow)
        #expect(fraud.callAttempt(subject: alice, international: false, now: at(1)).outcome == .block)
        #expect(fraud.callAttempt(subject: carrier, international: false, now: at(1)).outcome == .allow)
        #expect(fraud.callAttempt(subject: carrier, international: false, now: at(2)).outcome == .allow)
        #expect(fraud.callAttempt(subject: carrier, international: false, now: at(3)).outcome == .block)
        #expect(fraud.callAttempt(subject: .account("bob"), international: false, now: at(3)).outcome == .allow)
        #expect(fraud.thresholds(for: .trunk("big")).maxCallsPerMinute == 100)
        #expect(fraud.thresholds(for: .trunk("other")).maxCallsPerMinute == 3)
    }

    @Test func theSubjectTableEvictsTheLeastRecentlySeenIdleSubject() throws {
        var fraud = try detector(.init(maxCallsPerMinute: 1), maxSubjects: 3)
        let (a, b, c, d, e) = (FraudSubject.account("a"), FraudSubject.account("b"), FraudSubject.account("c"),
                               FraudSubject.account("d"), FraudSubject.account("e"))
        fraud.callStarted(subject: a, callID: "a1", now: at(0))
        for subject in [b, c] { _ = fraud.callAttempt(subject: subject, international: false, now: at(1)) }
        fraud.suspend(subject: b)
        _ = fraud.callAttempt(subject: d, international: false, now: at(2))  // a is busy: b goes
        #expect(fraud.trackedSubjects == 3)
        #expect(!fraud.isTracking(b) && fraud.isTracking(a) && fraud.activeCalls(of: a) == 1)
        #expect(fraud.isSuspended(b))  // suspensions outlive eviction
        _ = fraud.callAttempt(subject: e, international: false, now: at(3))  // then c
        #expect(!fraud.isTracking(c) && fraud.isTracking(a) && fraud.isTracking(d) && fraud.isTracking(e))
        // c comes back with fresh counters.
        #expect(fraud.callAttempt(subject: c, international: false, now: at(4)).outcome == .allow)

        // When every subject has a call up, the least recently seen one goes anyway.
        var busy = try detector(.init(), maxSubjects: 2)
        busy.callStarted(subject: a, callID: "1", now: at(0))
        busy.callStarted(subject: b, callID: "2", now: at(0))
        busy.callStarted(subject: c, callID: "3", now: at(0))
        #expect(busy.trackedSubjects == 2 && busy.isTracking(c))
        busy.callEnded(subject: a, callID: "1", now: at(1))  // whichever went, an unknown end is ignored
        busy.callEnded(subject: b, callID: "2", now: at(1))
    }

    @Test func thresholdsOutOfRangeAreRefused() {
        let invalid = FraudRuleError(.invalidThreshold, "")
        #expect(throws: invalid) { try FraudDetector(account: .init(maxCallsPerMinute: -1)) }
        #expect(throws: invalid) { try FraudDetector(trunk: .init(anomaly: .init(alpha: 0))) }
        #expect(throws: invalid) { try FraudDetector(trunk: .init(anomaly: .init(alpha: 1.5))) }
        #expect(throws: invalid) { try FraudDetector(account: .init(anomaly: .init(multiplier: 0.5))) }
        #expect(throws: invalid) { try FraudDetector(account: .init(anomaly: .init(minimumCalls: 0))) }
        #expect(throws: invalid) { try FraudDetector(overrides: [alice: .init(maxMinutesPerDay: -5)]) }
        #expect(throws: invalid) { try FraudDetector(maxSubjects: 0) }
        #expect(throws: Never.self) { try FraudDetector() }
    }

    @Test func reconfiguringKeepsCountersAndSuspensions() throws {
        var fraud = try detector(.init(maxCallsPerMinute: 5))
        for second in 0..<3 { _ = fraud.callAttempt(subject: alice, international: false, now: at(Double(second))) }
        fraud.suspend(subject: .trunk("t"))
        try fraud.reconfigure(account: .init(maxCallsPerMinute: 3), trunk: .trunk)
        #expect(fraud.callAttempt(subject: alice, international: false, now: at(3)).outcome == .block)
        #expect(fraud.isSuspended(.trunk("t")))
        #expect(throws: FraudRuleError(.invalidThreshold, "")) {
            try fraud.reconfigure(account: .init(maxConcurrentCalls: -1), trunk: .trunk)
        }
        #expect(fraud.accountThresholds.maxCallsPerMinute == 3)
    }
}
