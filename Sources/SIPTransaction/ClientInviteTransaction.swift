import SIPMessage

/// The INVITE client transaction of RFC 3261 §17.1.1, with RFC 6026's Accepted state: 2xx responses pass to the
/// transaction user for the whole of Timer M instead of ending the transaction at the first one.
public struct ClientInviteTransaction: Sendable {
    /// RFC 3261 Figure 5, amended by RFC 6026 §7.2.
    public enum State: Sendable, Equatable {
        case calling, proceeding, completed, accepted, terminated
    }

    /// The current state.
    public private(set) var state: State = .calling
    /// The request as sent.
    public let request: SIPMessage
    let requestBytes: [UInt8]
    let reliable: Bool
    let timers: TransactionTimers
    private var retransmitInterval: Duration
    private var ackBytes: [UInt8]? = nil

    /// Creates the transaction for an INVITE that the owner has not yet sent.
    /// - Parameters:
    ///   - bytes: the INVITE as the owner built it (the request serialized when nil): what goes on the wire.
    ///   - reliable: whether the transport is reliable (TCP, TLS): no retransmissions, Timer D of zero.
    public init(request: SIPMessage, bytes: [UInt8]? = nil, reliable: Bool,
                timers: TransactionTimers = TransactionTimers()) {
        precondition(request.method == .invite, "an INVITE client transaction needs an INVITE")
        self.request = request
        self.requestBytes = bytes ?? request.serialized()
        self.reliable = reliable
        self.timers = timers
        self.retransmitInterval = timers.t1
    }

    /// Starts the transaction: sends the INVITE and arms Timers A (unreliable only) and B.
    public mutating func start(now: Duration) -> [TransactionAction] {
        var actions: [TransactionAction] = [.send(requestBytes)]
        if !reliable { actions.append(.scheduleTimer(.a, deadline: now + retransmitInterval)) }
        actions.append(.scheduleTimer(.b, deadline: now + timers.transactionTimeout))
        return actions
    }

    /// Handles a response matched to this transaction (RFC 3261 §17.1.3).
    public mutating func receive(response: SIPMessage, now: Duration) -> [TransactionAction] {
        guard let code = response.statusCode else { return [] }
        switch (state, code) {
        case (.calling, 100...199), (.proceeding, 100...199):
            let wasCalling = state == .calling
            state = .proceeding
            var actions: [TransactionAction] = [.passToTransactionUser(SIPMessageBox(response))]
            if wasCalling, !reliable { actions.insert(.cancelTimer(.a), at: 0) }
            return actions
        case (.calling, 200...299), (.proceeding, 200...299):
            // RFC 6026 §7.2: Accepted absorbs nothing; every 2xx goes up so the TU can ACK each dialog.
            state = .accepted
            return [.cancelTimer(.a), .cancelTimer(.b), .passToTransactionUser(SIPMessageBox(response)),
                    .scheduleTimer(.m, deadline: now + timers.transactionTimeout)]
        case (.accepted, 200...299):
            return [.passToTransactionUser(SIPMessageBox(response))]
        case (.calling, 300...699), (.proceeding, 300...699):
            state = .completed
            let ack = makeACK(for: response)
            ackBytes = ack
            var actions: [TransactionAction] = [.cancelTimer(.a), .cancelTimer(.b), .send(ack),
                                                .passToTransactionUser(SIPMessageBox(response))]
            if reliable {
                state = .terminated
                actions.append(.terminated)
            } else {
                actions.append(.scheduleTimer(.d, deadline: now + timers.timerD))
            }
            return actions
        case (.completed, 300...699):
            // A retransmitted final response: resend the ACK, do not bother the TU (RFC 3261 §17.1.1.2).
            return ackBytes.map { [.send($0)] } ?? []
        default:
            return []
        }
    }

    /// Handles a timer the owner scheduled.
    public mutating func timerFired(_ timer: TransactionTimer, now: Duration) -> [TransactionAction] {
        switch (timer, state) {
        case (.a, .calling):
            retransmitInterval = retransmitInterval * 2
            return [.send(requestBytes), .scheduleTimer(.a, deadline: now + retransmitInterval)]
        case (.b, .calling):
            state = .terminated
            return [.cancelTimer(.a), .timeout, .terminated]
        case (.d, .completed), (.m, .accepted):
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
        return [.cancelTimer(.a), .cancelTimer(.b), .timeout, .terminated]
    }

    /// The CANCEL for this INVITE (RFC 3261 §9.1): the INVITE's Request-URI, top Via (so that it matches the
    /// INVITE's transaction at the far side), Route set, From, To, Call-ID and CSeq number.
    public func cancelRequest() -> [UInt8] {
        sameTransactionRequest(.cancel, to: request.firstField(.to))
    }

    /// The ACK for a non-2xx final response (RFC 3261 §17.1.1.3): as the CANCEL, with the response's To (and tag).
    func makeACK(for response: SIPMessage) -> [UInt8] {
        sameTransactionRequest(.ack, to: response.firstField(.to))
    }

    /// A request that belongs with the INVITE's transaction (ACK for a failure, CANCEL): the one builder of both.
    private func sameTransactionRequest(_ method: SIPMethod, to: SIPHeaderField?) -> [UInt8] {
        var lines = ["\(method) \(request.requestLine?.requestURIText ?? "") SIP/2.0"]
        // Only the top Via value: the field may carry several.
        if let via = request.firstField(.via) {
            lines.append("Via: \((try? request.topVia()).map(\.description) ?? via.value)")
        }
        lines.append("Max-Forwards: 70")
        for field in request.fields(.route) { lines.append("Route: \(field.value)") }
        if let from = request.firstField(.from) { lines.append("From: \(from.value)") }
        if let to { lines.append("To: \(to.value)") }
        if let callID = request.firstField(.callID) { lines.append("Call-ID: \(callID.value)") }
        let number = (try? request.cseq().sequenceNumber) ?? 0
        lines.append("CSeq: \(number) \(method)")
        lines.append("Content-Length: 0")
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }
}
