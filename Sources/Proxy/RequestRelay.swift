import SIPDialog
import SIPMessage
import SecurityPolicy

/// A request outside any dialog relayed to a user's phones (MESSAGE, RFC 3428; OPTIONS, RFC 3261 §11), sans I/O:
/// the edge sends its own copy to every binding (a fresh Call-ID each, nothing of the sender's topology), relays the
/// first 2xx or, once every binding has answered, the best failure, and gives up with 408 after 64·T1. Like a call,
/// it retransmits over UDP itself (Timer E).
public struct RequestRelay: Sendable {
    /// What the edge must do.
    public enum Action: Equatable, Sendable {
        /// The answer to the original request, back where it came from.
        case reply([UInt8])
        /// The edge's request to one binding, down its flow.
        case toTarget(index: Int, bytes: [UInt8], flow: SIPPeer)
        /// Call ``RequestRelay/timerFired(_:)`` with this timer after this many milliseconds.
        case startTimer(Timer, afterMilliseconds: Int)
    }

    /// Retransmissions over UDP (Timer E), and the end of waiting (Timer F).
    public enum Timer: Hashable, Sendable {
        case retransmission(target: Int)
        case timeout
    }

    struct Leg: Sendable {
        let callID: String
        let bytes: [UInt8]
        let flow: SIPPeer
        var final: Int?
        var responded = false
        var interval: Int
    }

    let request: SIPMessage
    let headerPolicy: HeaderPolicy
    let t2: Int
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
                             targets: [CallSession.Target], headerPolicy: HeaderPolicy, t1: Int = 500,
                             t2: Int = 4_000) -> (RequestRelay, [Action]) {
        var relay = RequestRelay(request: request, headerPolicy: headerPolicy, t2: t2)
        guard let method = request.method else { return (relay, []) }
        var actions = [Action]()
        let headers = forwardedHeaders.filter { $0.kind != .contentLength }.map { ($0.name, $0.value) }
        for target in targets {
            var leg = CallLeg.calling(target: target.contact, from: from, to: to)
            guard let (bytes, _) = try? leg.request(method, via: target.address, headers: headers,
                                                    body: Array(request.body))
            else { continue }
            relay.legs.append(Leg(callID: leg.callID, bytes: bytes, flow: target.flow, interval: t1))
            let index = relay.legs.count - 1
            actions.append(.toTarget(index: index, bytes: bytes, flow: target.flow))
            if !target.flow.isReliable { actions.append(.startTimer(.retransmission(target: index), afterMilliseconds: t1)) }
        }
        guard !relay.legs.isEmpty else {
            let refusal = relay.finish(480)
            return (relay, refusal)
        }
        actions.append(.startTimer(.timeout, afterMilliseconds: 64 * t1))
        return (relay, actions)
    }

    /// A target's response: a 2xx is relayed at once; failures wait for the others, the best one wins.
    public mutating func targetResponded(_ response: SIPMessage, target index: Int) -> [Action] {
        guard legs.indices.contains(index), let status = response.statusCode, !isFinished else { return [] }
        legs[index].responded = true
        guard status >= 200, legs[index].final == nil else { return [] }
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
            return [.reply(bytes)]
        }
        guard legs.allSatisfy({ $0.final != nil }) else { return [] }
        return finish(CallSession.bestFinal(legs.compactMap(\.final)))
    }

    /// A timer fired: resend what is unanswered (doubling up to T2), or give up.
    public mutating func timerFired(_ timer: Timer) -> [Action] {
        guard !isFinished else { return [] }
        switch timer {
        case .timeout:
            return finish(408)
        case .retransmission(let index):
            guard legs.indices.contains(index), !legs[index].responded, legs[index].final == nil else { return [] }
            legs[index].interval = min(legs[index].interval * 2, t2)
            return [.toTarget(index: index, bytes: legs[index].bytes, flow: legs[index].flow),
                    .startTimer(timer, afterMilliseconds: legs[index].interval)]
        }
    }

    private mutating func finish(_ status: Int) -> [Action] {
        guard let bytes = try? request.makeResponse(status: status, toTag: SIPTag.make()) else { return [] }
        answer = bytes
        return [.reply(bytes)]
    }
}
