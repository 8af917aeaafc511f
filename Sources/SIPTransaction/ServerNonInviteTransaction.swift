import SIPMessage

/// The non-INVITE server transaction of RFC 3261 §17.2.2 (Figure 8).
public struct ServerNonInviteTransaction: Sendable {
    /// RFC 3261 Figure 8.
    public enum State: Sendable, Equatable {
        case trying, proceeding, completed, terminated
    }

    /// The current state.
    public private(set) var state: State = .trying
    let reliable: Bool
    let timers: TransactionTimers
    private var lastResponse: [UInt8]? = nil

    /// Creates the transaction for a request just received.
    public init(reliable: Bool, timers: TransactionTimers = TransactionTimers()) {
        self.reliable = reliable
        self.timers = timers
    }

    /// Handles the request that created the transaction.
    public mutating func start(request: SIPMessage) -> [TransactionAction] {
        [.passToTransactionUser(SIPMessageBox(request))]
    }

    /// The TU sends a response.
    public mutating func send(response: SIPMessage, now: Duration) -> [TransactionAction] {
        guard let code = response.statusCode, state != .completed, state != .terminated else { return [] }
        let bytes = response.serialized()
        lastResponse = bytes
        if code < 200 {
            state = .proceeding
            return [.send(bytes)]
        }
        if reliable {
            state = .terminated
            return [.send(bytes), .terminated]
        }
        state = .completed
        return [.send(bytes), .scheduleTimer(.j, deadline: now + timers.transactionTimeout)]
    }

    /// A retransmission of the request: absorbed in Trying, answered with the last response afterwards.
    public mutating func receive(request: SIPMessage, now: Duration) -> [TransactionAction] {
        switch state {
        case .proceeding, .completed: return lastResponse.map { [.send($0)] } ?? []
        default: return []
        }
    }

    /// Handles a timer the owner scheduled.
    public mutating func timerFired(_ timer: TransactionTimer, now: Duration) -> [TransactionAction] {
        guard timer == .j, state == .completed else { return [] }
        state = .terminated
        return [.terminated]
    }
}
