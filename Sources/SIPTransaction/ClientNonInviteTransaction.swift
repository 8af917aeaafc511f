import SIPMessage

/// The non-INVITE client transaction of RFC 3261 §17.1.2 (Figure 6).
public struct ClientNonInviteTransaction: Sendable {
    /// RFC 3261 Figure 6.
    public enum State: Sendable, Equatable {
        case trying, proceeding, completed, terminated
    }

    /// The current state.
    public private(set) var state: State = .trying
    let requestBytes: [UInt8]
    let reliable: Bool
    let timers: TransactionTimers
    private var retransmitInterval: Duration

    /// Creates the transaction for a request other than INVITE and ACK.
    /// - Parameter bytes: the request as the owner built it (the request serialized when nil).
    public init(request: SIPMessage, bytes: [UInt8]? = nil, reliable: Bool,
                timers: TransactionTimers = TransactionTimers()) {
        self.init(method: request.method, bytes: bytes ?? request.serialized(), reliable: reliable, timers: timers)
    }

    /// Creates the transaction for a request the owner built and need not parse: the machine only resends it.
    public init(method: SIPMethod?, bytes: [UInt8], reliable: Bool, timers: TransactionTimers = TransactionTimers()) {
        precondition(method != .invite && method != .ack, "INVITE and ACK have their own rules")
        self.requestBytes = bytes
        self.reliable = reliable
        self.timers = timers
        self.retransmitInterval = timers.t1
    }

    /// Sends the request and arms Timers E (unreliable only) and F.
    public mutating func start(now: Duration) -> [TransactionAction] {
        var actions: [TransactionAction] = [.send(requestBytes)]
        if !reliable { actions.append(.scheduleTimer(.e, deadline: now + retransmitInterval)) }
        actions.append(.scheduleTimer(.f, deadline: now + timers.transactionTimeout))
        return actions
    }

    /// Handles a response matched to this transaction.
    public mutating func receive(response: SIPMessage, now: Duration) -> [TransactionAction] {
        guard let code = response.statusCode else { return [] }
        switch (state, code) {
        case (.trying, 100...199), (.proceeding, 100...199):
            state = .proceeding
            return [.passToTransactionUser(SIPMessageBox(response))]
        case (.trying, 200...699), (.proceeding, 200...699):
            state = .completed
            var actions: [TransactionAction] = [.cancelTimer(.e), .cancelTimer(.f),
                                                .passToTransactionUser(SIPMessageBox(response))]
            if reliable {
                state = .terminated
                actions.append(.terminated)
            } else {
                actions.append(.scheduleTimer(.k, deadline: now + timers.t4))
            }
            return actions
        default:
            return []  // retransmitted finals are absorbed in Completed
        }
    }

    /// Handles a timer the owner scheduled.
    public mutating func timerFired(_ timer: TransactionTimer, now: Duration) -> [TransactionAction] {
        switch (timer, state) {
        case (.e, .trying):
            retransmitInterval = min(retransmitInterval * 2, timers.t2)
            return [.send(requestBytes), .scheduleTimer(.e, deadline: now + retransmitInterval)]
        case (.e, .proceeding):
            // RFC 3261 §17.1.2.2: in Proceeding the request is retransmitted every T2.
            return [.send(requestBytes), .scheduleTimer(.e, deadline: now + timers.t2)]
        case (.f, .trying), (.f, .proceeding):
            state = .terminated
            return [.cancelTimer(.e), .timeout, .terminated]
        case (.k, .completed):
            state = .terminated
            return [.terminated]
        default:
            return []
        }
    }

    /// The owner's transport reported a failure sending (RFC 3261 §17.1.4).
    public mutating func transportError() -> [TransactionAction] {
        guard state != .terminated else { return [] }
        state = .terminated
        return [.cancelTimer(.e), .cancelTimer(.f), .timeout, .terminated]
    }
}
