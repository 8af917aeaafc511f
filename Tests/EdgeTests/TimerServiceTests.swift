@testable import Edge
import Synchronization
import Testing

/// The edge's one timer service: short timers go to the event loop, long ones wait by owner until due, cancelled
/// or forgotten.
@Suite struct TimerServiceTests {
    typealias Service = TimerService<String, String>

    /// What a scheduler was handed.
    final class Scheduled: Sendable {
        let delays = Mutex<[Duration]>([])
        let bodies = Mutex<[@Sendable () -> Void]>([])
        var scheduler: Service.Scheduler {
            { delay, body in
                self.delays.withLock { $0.append(delay) }
                self.bodies.withLock { $0.append(body) }
            }
        }
    }

    @Test func aShortTimerRunsOnTheSchedulerAndALongOneWaitsUntilDue() {
        let service = Service(longFrom: .seconds(1))
        let scheduled = Scheduled()
        let fired = Mutex<[String]>([])
        service.start("retransmit", for: "call", after: .milliseconds(500), now: .seconds(10),
                      scheduler: scheduled.scheduler) { fired.withLock { $0.append("retransmit") } }
        service.start("ring", for: "call", after: .seconds(30), now: .seconds(10), scheduler: scheduled.scheduler) {
            Issue.record("a long timer's closure is not kept")
        }
        #expect(scheduled.delays.withLock { $0 } == [.milliseconds(500)])
        for body in scheduled.bodies.withLock({ $0 }) { body() }
        #expect(fired.withLock { $0 } == ["retransmit"])
        #expect(service.waitingCount == 1)

        var due: [(String, String)] = []
        service.fireDue(now: .milliseconds(39_999)) { due.append(($0, $1)) }
        #expect(due.isEmpty, "not due a millisecond early")
        service.fireDue(now: .seconds(40)) { due.append(($0, $1)) }
        #expect(due.map(\.0) == ["call"] && due.map(\.1) == ["ring"])
        service.fireDue(now: .seconds(80)) { due.append(($0, $1)) }
        #expect(due.count == 1, "a timer fires once")
        #expect(service.waitingCount == 0)
    }

    @Test func aCancelledOrForgottenLongTimerNeverFires() {
        let service = Service(longFrom: .seconds(1))
        let scheduler: Service.Scheduler = { _, _ in Issue.record("nothing here is short") }
        for owner in ["a", "b"] {
            for timer in ["ring", "expiry"] {
                service.start(timer, for: owner, after: .seconds(5), now: .zero, scheduler: scheduler) {}
            }
        }
        service.cancel(["ring"], for: "a")
        service.forget("b")
        #expect(service.waitingCount == 1)
        var due: [(String, String)] = []
        service.fireDue(now: .seconds(5)) { due.append(($0, $1)) }
        #expect(due.map(\.0) == ["a"] && due.map(\.1) == ["expiry"])
    }

    @Test func withoutASchedulerNothingStarts() {
        let service = Service()
        service.start("ring", for: "call", after: .seconds(30), now: .zero, scheduler: nil) {}
        service.start("retransmit", for: "call", after: .milliseconds(500), now: .zero, scheduler: nil) {}
        #expect(service.waitingCount == 0)
    }

    @Test func atShutdownEveryWaitingTimerIsDropped() {
        let service = Service()
        for owner in 0..<100 {
            service.start("ring", for: "\(owner)", after: .seconds(30), now: .zero, scheduler: { _, _ in }) {}
        }
        #expect(service.waitingCount == 100)
        service.forgetAll()
        var fired = 0
        service.fireDue(now: .seconds(60)) { _, _ in fired += 1 }
        #expect(service.waitingCount == 0 && fired == 0)
    }
}
