import SIPMessage
import SecurityPolicy
import Synchronization

/// Toll-fraud (IRSF) checks of calls that reach or leave by a trunk: calls between the edge's own users cost
/// nothing and are not checked. Destination rules on the E.164-normalised number, then the velocity and anomaly
/// rules of the calling account and of the trunk.
public final class FraudMonitor: Sendable {
    /// How calls to numbers are judged.
    public struct Configuration: Sendable {
        /// Turns dialled numbers into `+digits`.
        public var normalizer: E164Normalizer
        /// Destination rules; nil when no country code is configured (then no account may call a trunk).
        public var destinations: DestinationRules?
        /// The velocity and anomaly rules, with their thresholds (checked when it was made).
        public var detector: FraudDetector

        /// Creates a configuration; without destination rules, calls to trunks are refused.
        public init(normalizer: E164Normalizer = .init(), destinations: DestinationRules? = nil,
                    detector: FraudDetector = try! FraudDetector()) {
            self.normalizer = normalizer
            self.destinations = destinations
            self.detector = detector
        }
    }

    /// What a check decided.
    struct Verdict {
        /// nil: the call may go on; else the status to refuse it with.
        var refusal: Int?
        var events: [SecurityEvent] = []
        /// An account the rules suspend (to be banned until an operator lifts it).
        var suspendedAccount: String?
    }

    private struct State {
        var detector: FraudDetector
        /// The subjects of each call up, by CDR id.
        var calls: [String: [FraudSubject]] = [:]
    }

    let configuration: Configuration
    private let state: Mutex<State>
    /// Most calls followed at once (the edge's call limit, and some).
    private let maxCalls: Int

    /// Creates the monitor.
    init(configuration: Configuration, maxCalls: Int) {
        self.configuration = configuration
        self.maxCalls = maxCalls
        state = Mutex(State(detector: configuration.detector))
    }

    /// Checks a call attempt: an account's call out by `outboundTrunk` to `dialled`, or a trunk's call in.
    /// `source` is only formatted for a call through a trunk: calls between users are the hot path.
    func check(account: String?, inboundTrunk: String?, outboundTrunk: String?, dialled: String, callID: String,
               source sourceText: @autoclosure () -> String, epochSeconds seconds: Int64, now: Duration) -> Verdict {
        guard inboundTrunk != nil || outboundTrunk != nil else { return Verdict() }
        let source = sourceText()
        var verdict = Verdict()
        func alert(_ reason: String) {
            verdict.events.append(SecurityEvent(kind: .fraudAlert, source: source, account: account ?? inboundTrunk,
                                                reason: reason, epochSeconds: seconds))
        }
        var international = false
        if let outboundTrunk, let account {
            guard let rules = configuration.destinations else {
                alert("call to \(outboundTrunk) refused: no destination rules (fraud.country_code) configured")
                verdict.refusal = 403
                return verdict
            }
            guard let number = configuration.normalizer.normalize(dialled) else {
                alert("call to \(outboundTrunk) refused: the number is not E.164")
                verdict.refusal = 404
                return verdict
            }
            switch rules.verdict(account: account, number: number) {
            case .denied(let denial):
                alert("call to \(number) refused: \(denial.description)")
                verdict.refusal = denial.sipStatus
                return verdict
            case .allowed(let isInternational):
                international = isInternational
            }
        }
        var subjects: [FraudSubject] = []
        if let account, outboundTrunk != nil { subjects.append(.account(account)) }
        if let trunk = outboundTrunk ?? inboundTrunk { subjects.append(.trunk(trunk)) }
        let decisions = state.withLock { state -> [FraudDecision]? in
            guard state.calls.count < maxCalls else { return nil }
            let decisions = subjects.map { state.detector.callAttempt(subject: $0, international: international, now: now) }
            guard decisions.allSatisfy(\.admitsCall) else { return decisions }
            for subject in subjects { state.detector.callStarted(subject: subject, callID: callID, now: now) }
            state.calls[callID] = subjects
            return decisions
        }
        guard let decisions else {
            verdict.refusal = 503
            return verdict
        }
        for decision in decisions {
            for fired in decision.alerts { alert("\(fired.rule): \(fired.observed) over \(fired.limit) (\(fired.action))") }
            if !decision.admitsCall { verdict.refusal = decision.sipStatus ?? 403 }
            let suspendsAccount = decision.alerts.contains { $0.subject == .account(account ?? "") && $0.action == .suspend }
            if decision.outcome == .suspend, suspendsAccount { verdict.suspendedAccount = account }
        }
        if let suspended = verdict.suspendedAccount {
            // The suspension is kept as a ban of the account (stored, listed, lifted with `rampart ban remove`),
            // not in the detector.
            state.withLock { _ = $0.detector.resume(subject: .account(suspended)) }
        }
        return verdict
    }

    /// A call ended (or was refused after its check): its time is credited and its concurrency released. The
    /// detector runs on the monotonic clock (`now`); the record's wall-clock times only say how long ago the call
    /// was answered.
    func ended(callID: String, answeredAtMilliseconds: Int64?, endedAtMilliseconds: Int64, now: Duration) {
        state.withLock { state in
            guard let subjects = state.calls.removeValue(forKey: callID) else { return }
            for subject in subjects {
                if let answered = answeredAtMilliseconds {
                    let talked = Duration.milliseconds(max(0, endedAtMilliseconds - answered))
                    state.detector.callAnswered(subject: subject, callID: callID, now: now - talked)
                }
                state.detector.callEnded(subject: subject, callID: callID, now: now)
            }
        }
    }

    /// Calls followed (for tests).
    var followedCalls: Int { state.withLock { $0.calls.count } }
}
