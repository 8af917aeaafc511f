import SIPMessage

/// The INVITE server transaction of RFC 3261 §17.2.1 with RFC 6026's Accepted state (2xx retransmissions of
/// the TU pass through, retransmitted INVITEs are absorbed for Timer L).
public struct ServerInviteTransaction: Sendable {
    /// RFC 3261 Figure 7, amended by RFC 6026 §7.1.
    public enum State: Sendable, Equatable {
        case proceeding, completed, confirmed, accepted, terminated
    }

    /// The current state.
    public private(set) var state: State = .proceeding
    let reliable: Bool
    let timers: TransactionTimers
    private var lastResponse: [UInt8]? = nil
    private var retransmitInterval: Duration

    /// Creates the transaction for an INVITE just received.
    public init(reliable: Bool, timers: TransactionTimers = TransactionTimers()) {
        self.reliable = reliable
        self.timers = timers
        self.retransmitInterval = timers.t1
    }

    /// Handles the INVITE that created the transaction: it goes up to the TU.
    public mutating func start(request: SIPMessage) -> [TransactionAction] {
        [.passToTransactionUser(SIPMessageBox(request))]
    }

    /// The TU sends a response through the transaction.
    public mutating func send(response: SIPMessage, now: Duration) -> [TransactionAction] {
        guard let code = response.statusCode else { return [] }
        let bytes = response.serialized()
        switch (state, code) {
        case (.proceeding, 100...199):
            lastResponse = bytes
            return [.send(bytes)]
        case (.proceeding, 200...299):
            state = .accepted
            return [.send(bytes), .scheduleTimer(.l, deadline: now + timers.transactionTimeout)]
        case (.accepted, 200...299):
            return [.send(bytes)]  // RFC 6026 §7.1: the TU retransmits 2xx itself
        case (.proceeding, 300...699):
            state = .completed
            lastResponse = bytes
            var actions: [TransactionAction] = [.send(bytes)]
            if !reliable { actions.append(.scheduleTimer(.g, deadline: now + retransmitInterval)) }
            actions.append(.scheduleTimer(.h, deadline: now + timers.transactionTimeout))
            return actions
        default:
            return []
        }
    }

    /// A request matched to this transaction: a retransmitted INVITE or the ACK for a non-2xx response.
    public mutating func receive(request: SIPMessage, now: Duration) -> [TransactionAction] {
        switch (state, request.method) {
        case (.proceeding, .invite?), (.completed, .invite?):
            return lastResponse.map { [.send($0)] } ?? []  // retransmit the last provisional or final response
        case (.completed, .ack?):
            state = .confirmed
            if reliable {
                state = .terminated
                return [.cancelTimer(.g), .cancelTimer(.h), .terminated]
            }
            return [.cancelTimer(.g), .cancelTimer(.h), .scheduleTimer(.i, deadline: now + timers.t4)]
        default:
            return []  // absorbed: INVITE retransmissions in Accepted, ACKs in Confirmed
        }
    }

    /// Handles a timer the owner scheduled.
    public mutating func timerFired(_ timer: TransactionTimer, now: Duration) -> [TransactionAction] {
        switch (timer, state) {
        case (.g, .completed):
            retransmitInterval = min(retransmitInterval * 2, timers.t2)
            return (lastResponse.map { [.send($0)] } ?? []) + [.scheduleTimer(.g, deadline: now + retransmitInterval)]
        case (.h, .completed):
            // No ACK arrived (RFC 3261 §17.2.1): the TU learns of the failure.
            state = .terminated
            return [.cancelTimer(.g), .timeout, .terminated]
        case (.i, .confirmed), (.l, .accepted):
            state = .terminated
            return [.terminated]
        default:
            return []
        }
    }
}
