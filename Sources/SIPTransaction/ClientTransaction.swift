import SIPMessage

/// A client transaction of either kind, for an owner that keeps INVITE and other requests side by side (a B2BUA
/// relays both in one dialog): the INVITE machine for an INVITE, the non-INVITE one for anything but ACK.
public enum ClientTransaction: Sendable {
    case invite(ClientInviteTransaction)
    case nonInvite(ClientNonInviteTransaction)

    /// The transaction for a request the owner has built and not yet sent (any method but ACK).
    /// - Parameters:
    ///   - bytes: the request as built (what goes on the wire, retransmissions included).
    ///   - reliable: whether its transport is reliable (TCP, TLS): then only the timeout runs.
    public init(request: SIPMessage, bytes: [UInt8], reliable: Bool, timers: TransactionTimers) {
        if request.method == .invite {
            self = .invite(ClientInviteTransaction(request: request, bytes: bytes, reliable: reliable, timers: timers))
        } else {
            self = .nonInvite(ClientNonInviteTransaction(request: request, bytes: bytes, reliable: reliable,
                                                         timers: timers))
        }
    }

    /// The transaction for a request the owner built, from its bytes: only an INVITE is parsed (its transaction
    /// builds the ACK of a failure and the CANCEL from it); nil for an INVITE that does not parse.
    public init?(method: SIPMethod, bytes: [UInt8], reliable: Bool, timers: TransactionTimers) {
        guard method == .invite else {
            self = .nonInvite(ClientNonInviteTransaction(method: method, bytes: bytes, reliable: reliable,
                                                         timers: timers))
            return
        }
        guard let invite = try? SIPMessage.parse(bytes) else { return nil }
        self = .invite(ClientInviteTransaction(request: invite, bytes: bytes, reliable: reliable, timers: timers))
    }

    /// Sends the request and arms the retransmission and timeout timers.
    public mutating func start(now: Duration) -> [TransactionAction] {
        apply { $0.start(now: now) } nonInvite: { $0.start(now: now) }
    }

    /// Handles a response matched to this transaction.
    public mutating func receive(response: SIPMessage, now: Duration) -> [TransactionAction] {
        apply { $0.receive(response: response, now: now) } nonInvite: { $0.receive(response: response, now: now) }
    }

    /// Handles a timer the owner scheduled; a timer the state has moved past does nothing, so owners need not
    /// cancel timers.
    public mutating func timerFired(_ timer: TransactionTimer, now: Duration) -> [TransactionAction] {
        apply { $0.timerFired(timer, now: now) } nonInvite: { $0.timerFired(timer, now: now) }
    }

    /// The CANCEL for an INVITE (RFC 3261 §9.1); nil for any other request.
    public func cancelRequest() -> [UInt8]? {
        guard case .invite(let transaction) = self else { return nil }
        return transaction.cancelRequest()
    }

    private mutating func apply(
        _ invite: (inout ClientInviteTransaction) -> [TransactionAction],
        nonInvite: (inout ClientNonInviteTransaction) -> [TransactionAction]
    ) -> [TransactionAction] {
        switch self {
        case .invite(var transaction):
            let actions = invite(&transaction)
            self = .invite(transaction)
            return actions
        case .nonInvite(var transaction):
            let actions = nonInvite(&transaction)
            self = .nonInvite(transaction)
            return actions
        }
    }
}

/// The retransmission of a 2xx to an INVITE over an unreliable transport (RFC 3261 §13.3.1.4): the UAS core, not
/// the server transaction, sends it again at T1, doubling up to T2, until the ACK comes; after 64·T1 without one
/// the owner is told (``TransactionAction/timeout``) and ends the dialog with BYE. Timers G and H keep their
/// names from the server INVITE transaction, whose schedule this is.
public struct AnswerRetransmission: Sendable {
    /// Where the 2xx stands.
    public enum State: Sendable, Equatable {
        case waitingForACK, acknowledged, abandoned
    }

    /// The current state.
    public private(set) var state: State = .waitingForACK
    let response: [UInt8]
    let timers: TransactionTimers
    private var interval: Duration

    /// Retransmission of a 2xx the owner has just sent.
    public init(response: [UInt8], timers: TransactionTimers = TransactionTimers()) {
        self.response = response
        self.timers = timers
        self.interval = timers.t1
    }

    /// Arms the retransmission (G) and the give-up (H) timers; the first send was the owner's.
    public func start(now: Duration) -> [TransactionAction] {
        [.scheduleTimer(.g, deadline: now + interval), .scheduleTimer(.h, deadline: now + timers.transactionTimeout)]
    }

    /// The ACK arrived: nothing more to send. False (and no change) if the 2xx was acknowledged or abandoned before.
    public mutating func acknowledge() -> Bool {
        guard state == .waitingForACK else { return false }
        state = .acknowledged
        return true
    }

    /// Handles a timer the owner scheduled.
    public mutating func timerFired(_ timer: TransactionTimer, now: Duration) -> [TransactionAction] {
        switch (timer, state) {
        case (.g, .waitingForACK):
            interval = min(interval * 2, timers.t2)
            return [.send(response), .scheduleTimer(.g, deadline: now + interval)]
        case (.h, .waitingForACK):
            state = .abandoned
            return [.timeout, .terminated]
        default:
            return []
        }
    }
}
