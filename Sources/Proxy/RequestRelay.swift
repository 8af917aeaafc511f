import SIPDialog
import SIPMessage
import SIPTransaction
import SecurityPolicy

/// A request outside any dialog relayed to a user's phones (MESSAGE, RFC 3428; OPTIONS, RFC 3261 §11), sans I/O:
/// the edge sends its own copy to every binding (a fresh Call-ID each, nothing of the sender's topology), relays the
/// first 2xx or, once every binding has answered (or timed out), the best failure, and gives up with 408 after
/// 64·T1. Each copy runs through its own non-INVITE client transaction (RFC 3261 §17.1.2: Timers E and F).
public struct RequestRelay: Sendable {
    /// What the edge must do.
    public enum Action: Equatable, Sendable {
        /// The answer to the original request, back where it came from.
        case reply([UInt8])
        /// The edge's request to one binding, down its flow.
        case toTarget(index: Int, bytes: [UInt8], flow: SIPPeer)
        /// Call ``RequestRelay/timerFired(_:)`` with this timer once this much time has passed.
        case startTimer(Timer, after: Duration)
    }

    /// The copies' transaction timers, and the end of the relay's life (64·T1: until then a retransmission of the
    /// original request gets the answer again).
    public enum Timer: Hashable, Sendable {
        case transaction(target: Int, TransactionTimer)
        case expiry
    }

    struct Leg: Sendable {
        let callID: String
        let flow: SIPPeer
        var final: Int?
        var transaction: ClientNonInviteTransaction
    }

    let request: SIPMessage
    let headerPolicy: HeaderPolicy
    var legs: [Leg] = []
    /// The final answer given, once there is one.
    public private(set) var answer: [UInt8]?

    /// The Call-IDs of the edge's requests, by target.
    public var targetCallIDs: [String] { legs.map(\.callID) }
    /// Whether the original request has its final answer.
    public var isFinished: Bool { answer != nil }

    /// Sends the request to every target, or answers 480 when there is none. `headerPolicy` polices the answer on
    /// its way back (the request's headers come policed in `forwardedHeaders`).
    /// - Parameters:
    ///   - request: the original, authenticated request.
    ///   - forwardedHeaders: its end-to-end headers after identity and header policy.
    ///   - from: the sender as the targets may see it (name-addr without tag); `to`: the target AOR.
    public static func start(_ request: SIPMessage, forwardedHeaders: [SIPHeaderField], from: String, to: String,
                             targets: [CallSession.Target], headerPolicy: HeaderPolicy,
                             timers: TransactionTimers = TransactionTimers()) -> (RequestRelay, [Action]) {
        var relay = RequestRelay(request: request, headerPolicy: headerPolicy)
        guard let method = request.method, method != .invite, method != .ack else { return (relay, []) }
        var actions = [Action]()
        let headers = forwardedHeaders.filter { $0.kind != .contentLength }.map { ($0.name, $0.value) }
        for target in targets {
            var leg = CallLeg.calling(target: target.contact, from: from, to: to)
            guard let (bytes, _) = try? leg.request(method, via: target.address, headers: headers,
                                                    body: Array(request.body))
            else { continue }
            var transaction = ClientNonInviteTransaction(method: method, bytes: bytes,
                                                         reliable: target.flow.isReliable, timers: timers)
            let steps = transaction.start(now: .zero)
            relay.legs.append(Leg(callID: leg.callID, flow: target.flow, transaction: transaction))
            actions += relay.carryOut(steps, target: relay.legs.count - 1).actions
        }
        guard !relay.legs.isEmpty else {
            let refusal = relay.finish(480)
            return (relay, refusal)
        }
        actions.append(.startTimer(.expiry, after: timers.transactionTimeout))
        return (relay, actions)
    }

    /// A target's response: a 2xx is relayed at once; failures wait for the others, the best one wins.
    public mutating func targetResponded(_ response: SIPMessage, target index: Int) -> [Action] {
        guard legs.indices.contains(index), let status = response.statusCode, !isFinished else { return [] }
        let (sent, delivered, _) = carryOut(legs[index].transaction.receive(response: response, now: .zero),
                                            target: index)
        guard delivered, status >= 200, legs[index].final == nil else { return sent }
        legs[index].final = status
        if status < 300 {
            // An OPTIONS answer's body is the answering phone's capabilities as SDP, its addresses included: the
            // sender learns that it answered, not where it is.
            let keepsBody = request.method != .options
            let headers = headerPolicy.filtered(B2BUA.endToEndHeaders(of: response).filter {
                $0.kind != .pAssertedIdentity && $0.kind != .pPreferredIdentity && (keepsBody || $0.kind != .contentType)
            }).map { ($0.name, $0.value) }
            guard let bytes = try? request.makeResponse(
                status: status, reason: response.statusLine?.reasonPhrase, toTag: SIPTag.make(),
                extraHeaders: headers, body: keepsBody ? Array(response.body) : [])
            else { return finish(500) }
            answer = bytes
            return sent + [.reply(bytes)]
        }
        return sent + answerIfEveryLegFailed()
    }

    /// A timer fired: a copy's transaction resends or gives up (that copy counts as 408), or the relay's life ends.
    public mutating func timerFired(_ timer: Timer) -> [Action] {
        guard !isFinished else { return [] }
        switch timer {
        case .expiry:
            return finish(408)
        case .transaction(let index, let timer):
            guard legs.indices.contains(index) else { return [] }
            let (sent, _, timedOut) = carryOut(legs[index].transaction.timerFired(timer, now: .zero), target: index)
            guard timedOut, legs[index].final == nil else { return sent }
            legs[index].final = 408
            return sent + answerIfEveryLegFailed()
        }
    }

    /// Once every copy has failed, the best failure answers the request (RFC 3261 §16.7 step 6).
    private mutating func answerIfEveryLegFailed() -> [Action] {
        guard legs.allSatisfy({ $0.final != nil }) else { return [] }
        return finish(CallSession.bestFinal(legs.compactMap(\.final)))
    }

    /// What a copy's transaction asks: its sends go to the copy's target, its timers become the relay's. Also
    /// whether it passed a response up, and whether it timed out. The relay hands its transactions `now` = zero at
    /// every step: it needs only the intervals, so a deadline is the delay to schedule.
    private func carryOut(_ steps: [TransactionAction], target index: Int)
        -> (actions: [Action], delivered: Bool, timedOut: Bool)
    {
        var actions = [Action]()
        var delivered = false
        var timedOut = false
        for step in steps {
            switch step {
            case .send(let bytes): actions.append(.toTarget(index: index, bytes: bytes, flow: legs[index].flow))
            case .passToTransactionUser: delivered = true
            case .scheduleTimer(let timer, let deadline):
                actions.append(.startTimer(.transaction(target: index, timer),
                                           after: deadline))
            case .timeout: timedOut = true
            case .cancelTimer, .terminated: break  // a timer the state moved past fires to no effect
            }
        }
        return (actions, delivered, timedOut)
    }

    private mutating func finish(_ status: Int) -> [Action] {
        guard let bytes = try? request.makeResponse(status: status, toTag: SIPTag.make()) else { return [] }
        answer = bytes
        return [.reply(bytes)]
    }
}
