import SDP
import SIPDialog
import SIPMessage
import SecurityPolicy
import Storage

/// One call through the edge as a back-to-back user agent, sans I/O: messages in, actions out (RFC 3261 §12-§16
/// from the edge's two sides). The caller's INVITE, once the edge has authenticated it and found the callee's
/// bindings, starts a session that forks to every binding, relays provisional and final answers, cancels the
/// branches that lose, forwards ACK and BYE between the legs, and writes the CDR when it ends. Transactions
/// (retransmissions, timers) are the transport's; the session sees each message once.
public struct CallSession: Sendable {
    /// What the edge must do.
    public enum Action: Equatable, Sendable {
        /// Send these bytes to the caller, on the flow its INVITE came in on.
        case toCaller([UInt8])
        /// Send these bytes to a callee branch, down its flow.
        case toCallee(branch: Int, bytes: [UInt8], flow: String)
        /// Record a security event concerning this call.
        case securityEvent(String)
        /// Call ``CallSession/timerFired(_:now:)`` with this timer after this many milliseconds.
        case startTimer(Timer, afterMilliseconds: Int)
        /// The call is over: store its record.
        case finished(CallDetailRecord)
    }

    /// Retransmissions over UDP (RFC 3261 §17.1.1.2 Timers A and B for the edge's INVITEs; §13.3.1.4 for the
    /// 2xx the edge relays to the caller, until its ACK).
    public enum Timer: Hashable, Sendable {
        case inviteRetransmission(branch: Int)
        case answerRetransmission
    }

    /// T1 (RFC 3261 §17.1.1.1), in milliseconds.
    public static let t1 = 500
    /// T2, the cap of the 2xx retransmission interval.
    public static let t2 = 4_000

    /// Where a branch goes.
    public struct Target: Sendable, Hashable {
        /// The Request-URI: the registered Contact.
        public var contact: String
        /// The flow the binding was registered over.
        public var flow: String
        /// The edge's address on that flow, for Via and Contact.
        public var address: SIPLocalAddress

        public init(contact: String, flow: String, address: SIPLocalAddress) {
            self.contact = contact
            self.flow = flow
            self.address = address
        }
    }

    /// What is known about the call when it starts.
    public struct Setup: Sendable {
        /// The caller's INVITE as received (authenticated): responses to the caller are built from it.
        public var invite: SIPMessage
        /// The end-to-end headers the callees receive (the caller's, after identity and header policy).
        public var forwardedHeaders: [SIPHeaderField]
        /// The caller as the callee may see it (name-addr without tag).
        public var presentedCaller: String
        /// The callee's address of record (name-addr without tag).
        public var callee: String
        /// The edge's address on the caller's flow.
        public var callerAddress: SIPLocalAddress
        /// The callee's bindings.
        public var targets: [Target]
        /// The media policy of the call.
        public var mediaPolicy: MediaPolicy
        /// Whether the caller's INVITE came over UDP (the edge then retransmits its 2xx until the ACK).
        public var callerUsesUDP: Bool
        /// What the caller may see of the callees' response headers.
        public var headerPolicy: HeaderPolicy
        /// The CDR's identity fields, as the edge records parties (clear or pseudonymised).
        public var recordID: String
        public var recordedCaller: String
        public var recordedCallee: String
        public var account: String?

        public init(invite: SIPMessage, forwardedHeaders: [SIPHeaderField]? = nil, presentedCaller: String,
                    callee: String, callerAddress: SIPLocalAddress, targets: [Target], mediaPolicy: MediaPolicy,
                    headerPolicy: HeaderPolicy = .minimizing, callerUsesUDP: Bool = false, recordID: String,
                    recordedCaller: String, recordedCallee: String, account: String?) {
            self.invite = invite
            self.callerUsesUDP = callerUsesUDP
            self.forwardedHeaders = forwardedHeaders ?? B2BUA.endToEndHeaders(of: invite)
            self.headerPolicy = headerPolicy
            self.presentedCaller = presentedCaller
            self.callee = callee
            self.callerAddress = callerAddress
            self.targets = targets
            self.mediaPolicy = mediaPolicy
            self.recordID = recordID
            self.recordedCaller = recordedCaller
            self.recordedCallee = recordedCallee
            self.account = account
        }
    }

    struct Branch: Sendable {
        var target: Target
        var leg: CallLeg
        var invite: SIPMessage
        /// The edge's To tag towards the caller for this branch's dialog.
        let callerTag: String
        var final: Int?
        /// Whether the callee answered anything (which stops Timer A).
        var responded = false
        var retransmission = Retransmission()
    }

    /// One retransmission schedule: the current interval and the time spent so far.
    struct Retransmission: Sendable {
        var interval = CallSession.t1
        var elapsed = 0
    }

    enum Phase: Sendable, Equatable {
        case proceeding
        case answered(branch: Int)
        case ended
    }

    let setup: Setup
    var branches: [Branch] = []
    var phase: Phase = .proceeding
    var callerLeg: CallLeg?
    var record: CallDetailRecord
    var posture: MediaPolicy.Posture = .none
    /// The 2xx relayed to the caller, until its ACK arrives.
    var unacknowledgedAnswer: [UInt8]?
    var answerRetransmission = Retransmission()

    /// The Call-IDs of the callee legs, by branch.
    public var calleeCallIDs: [String] { branches.map(\.leg.callID) }

    /// Whether an in-dialog request from the caller names the answered branch's caller-side dialog (its To tag).
    public func isCallerDialog(toTag: String?) -> Bool {
        guard case .answered(let index) = phase else { return false }
        return toTag == branches[index].callerTag
    }

    /// Whether a request from a callee belongs to that branch's dialog: its From tag is the callee's, its To tag
    /// the edge's (RFC 3261 §12.2.2).
    public func isCalleeDialog(branch index: Int, fromTag: String??, toTag: String??) -> Bool {
        guard branches.indices.contains(index), let remote = branches[index].leg.remoteTag else { return false }
        return fromTag == .some(.some(remote)) && toTag == .some(.some(branches[index].leg.localTag))
    }

    /// Whether the call has ended (its record was emitted).
    public var isEnded: Bool { phase == .ended }

    /// Starts a call: checks the offer, answers 100 Trying, and sends an INVITE to every target (or refuses the
    /// call: 488 for an offer the media policy refuses, 480 when the callee has no binding).
    public static func start(_ setup: Setup, now: Int64) -> (CallSession, [Action]) {
        var session = CallSession(setup: setup, record: CallDetailRecord(
            id: setup.recordID, startedAtMilliseconds: now, caller: setup.recordedCaller, callee: setup.recordedCallee,
            account: setup.account, disposition: .failed, finalStatus: 0))
        var actions: [Action] = []
        var offer: [UInt8] = []
        if !setup.invite.body.isEmpty {
            switch setup.mediaPolicy.checkOffer(body: setup.invite.body) {
            case .failure(let violation):
                actions.append(.securityEvent(violation.securityEvent))
                session.record.securityEvents.append(violation.securityEvent)
                actions += session.refuse(violation.sipStatus, disposition: .rejected, now: now)
                return (session, actions)
            case .success(let filtered):
                offer = (try? filtered.serializedBytes()) ?? Array(setup.invite.body)
            }
        }
        guard !setup.targets.isEmpty else {
            actions += session.refuse(480, disposition: .failed, now: now)
            return (session, actions)
        }
        if let trying = try? setup.invite.makeResponse(status: 100) { actions.append(.toCaller(trying)) }
        // The same end-to-end headers for every branch, with the offer's type when there is one.
        var extra = setup.forwardedHeaders.filter { $0.kind != .contentType }
        if !offer.isEmpty, let type = try? SIPHeaderField(.contentType, value: "application/sdp") { extra.append(type) }
        for target in setup.targets {
            guard let (bytes, leg, _) = try? B2BUA.invite(
                bridging: setup.invite, target: target.contact, from: setup.presentedCaller, to: setup.callee,
                address: target.address, headers: extra, body: offer),
                let invite = try? SIPMessage.parse(bytes)
            else { continue }
            session.branches.append(Branch(target: target, leg: leg, invite: invite, callerTag: SIPTag.make()))
            actions.append(.toCallee(branch: session.branches.count - 1, bytes: bytes, flow: target.flow))
            if target.flow.hasPrefix("udp:") {
                actions.append(.startTimer(.inviteRetransmission(branch: session.branches.count - 1),
                                           afterMilliseconds: t1))
            }
        }
        if session.branches.isEmpty { actions += session.refuse(480, disposition: .failed, now: now) }
        return (session, actions)
    }

    /// A response from a callee branch to the edge's INVITE.
    public mutating func calleeResponded(_ response: SIPMessage, branch index: Int, now: Int64) -> [Action] {
        guard branches.indices.contains(index), let status = response.statusCode else { return [] }
        branches[index].responded = true
        guard status > 100 else { return [] }
        guard branches[index].final == nil else { return [] }  // a retransmitted final is the transaction's
        try? branches[index].leg.learn(from: response)
        switch status {
        case 101..<200:
            guard phase == .proceeding else { return [] }
            // Early media is media too: an early answer the policy refuses is relayed without its SDP.
            guard !response.body.isEmpty, case .failure(let violation) = setup.mediaPolicy.checkAnswer(body: response.body)
            else { return relay(response, from: index, body: Array(response.body)) }
            record.securityEvents.append(violation.securityEvent)
            return [.securityEvent(violation.securityEvent)] + relay(response, from: index, body: [])
        case 200..<300:
            branches[index].final = status
            var actions = [Action]()
            guard phase == .proceeding else {
                // A second branch answered too late: take its dialog down (RFC 3261 §16.7 step 5 for a B2BUA).
                actions += ackAndBye(index)
                return actions
            }
            var body = Array(response.body)
            if !body.isEmpty || !setup.invite.body.isEmpty {
                switch setup.mediaPolicy.checkAnswer(body: response.body) {
                case .failure(let violation):
                    actions.append(.securityEvent(violation.securityEvent))
                    record.securityEvents.append(violation.securityEvent)
                    actions += ackAndBye(index)
                    actions += cancelOthers(than: index)
                    return actions + refuse(violation.sipStatus, disposition: .rejected, now: now)
                case .success(let answered):
                    posture = answered
                    body = Array(response.body)
                }
            }
            phase = .answered(branch: index)
            record.answeredAtMilliseconds = now
            record.finalStatus = status
            record.disposition = .answered
            callerLeg = try? CallLeg.answering(setup.invite, localTag: branches[index].callerTag)
            let relayed = relay(response, from: index, body: body)
            actions += relayed
            if setup.callerUsesUDP, case .toCaller(let bytes)? = relayed.first {
                unacknowledgedAnswer = bytes
                actions.append(.startTimer(.answerRetransmission, afterMilliseconds: Self.t1))
            }
            actions += cancelOthers(than: index)
            return actions
        default:
            branches[index].final = status
            var actions = [Action]()
            if let ack = try? B2BUA.ack(for: branches[index].invite, failure: response) {
                actions.append(.toCallee(branch: index, bytes: ack, flow: branches[index].target.flow))
            }
            guard phase == .proceeding, branches.allSatisfy({ $0.final != nil }) else { return actions }
            let best = Self.bestFinal(branches.compactMap(\.final))
            return actions + refuse(best, disposition: Self.disposition(of: best), now: now)
        }
    }

    /// The caller's ACK for the 2xx: the edge ACKs the answering branch (RFC 3261 §13.2.2.4, per leg).
    public mutating func callerAcknowledged() -> [Action] {
        guard case .answered(let index) = phase, unacknowledgedAnswer != nil || !setup.callerUsesUDP else { return [] }
        unacknowledgedAnswer = nil
        guard let ack = try? branches[index].leg.request(.ack, via: branches[index].target.address, cseq: 1) else {
            return []
        }
        return [.toCallee(branch: index, bytes: ack.bytes, flow: branches[index].target.flow)]
    }

    /// The caller cancelled (the edge has answered the CANCEL itself): cancel every branch and answer the INVITE
    /// 487 Request Terminated (RFC 3261 §9.2).
    public mutating func callerCancelled(now: Int64) -> [Action] {
        guard phase == .proceeding else { return [] }
        record.hangupSide = .caller
        record.hangupReason = "cancel"
        return cancelOthers(than: nil) + refuse(487, disposition: .cancelled, now: now)
    }

    /// A BYE on an answered call from one side: answer it 200, send BYE on the other leg, end the call.
    public mutating func byeReceived(_ bye: SIPMessage, fromCaller: Bool, now: Int64) -> [Action] {
        guard case .answered(let index) = phase else { return [] }
        var actions = [Action]()
        if let ok = try? bye.makeResponse(status: 200) {
            actions.append(fromCaller ? .toCaller(ok) : .toCallee(branch: index, bytes: ok, flow: branches[index].target.flow))
        }
        if fromCaller {
            if let request = try? branches[index].leg.request(.bye, via: branches[index].target.address) {
                actions.append(.toCallee(branch: index, bytes: request.bytes, flow: branches[index].target.flow))
            }
        } else if var leg = callerLeg, let request = try? leg.request(.bye, via: setup.callerAddress) {
            callerLeg = leg
            actions.append(.toCaller(request.bytes))
        }
        record.hangupSide = fromCaller ? .caller : .callee
        record.hangupReason = "bye"
        return actions + finish(now: now)
    }

    /// A retransmission timer fired: resend what is still unanswered, doubling the interval, or give up after
    /// 64·T1 (RFC 3261 Timer B: the branch counts as 408; §13.3.1.4: a 2xx never ACKed ends the call with BYE).
    public mutating func timerFired(_ timer: Timer, now: Int64) -> [Action] {
        switch timer {
        case .inviteRetransmission(let index):
            guard phase == .proceeding, branches.indices.contains(index), !branches[index].responded,
                branches[index].final == nil
            else { return [] }
            branches[index].retransmission.elapsed += branches[index].retransmission.interval
            guard branches[index].retransmission.elapsed < 64 * Self.t1 else {
                branches[index].final = 408
                guard branches.allSatisfy({ $0.final != nil }) else { return [] }
                let best = Self.bestFinal(branches.compactMap(\.final))
                return refuse(best, disposition: Self.disposition(of: best), now: now)
            }
            branches[index].retransmission.interval *= 2
            return [.toCallee(branch: index, bytes: branches[index].invite.serialized(), flow: branches[index].target.flow),
                    .startTimer(timer, afterMilliseconds: branches[index].retransmission.interval)]
        case .answerRetransmission:
            guard case .answered(let index) = phase, let answer = unacknowledgedAnswer else { return [] }
            answerRetransmission.elapsed += answerRetransmission.interval
            guard answerRetransmission.elapsed < 64 * Self.t1 else {
                unacknowledgedAnswer = nil
                var actions = ackAndBye(index)
                if var leg = callerLeg, let bye = try? leg.request(.bye, via: setup.callerAddress) {
                    callerLeg = leg
                    actions.append(.toCaller(bye.bytes))
                }
                record.hangupSide = .edge
                record.hangupReason = "no-ack"
                return actions + finish(now: now)
            }
            answerRetransmission.interval = min(answerRetransmission.interval * 2, Self.t2)
            return [.toCaller(answer), .startTimer(timer, afterMilliseconds: answerRetransmission.interval)]
        }
    }

    // MARK: Helpers

    private func relay(_ response: SIPMessage, from index: Int, body: [UInt8]) -> [Action] {
        // The callee is not trusted to assert identities (RFC 3325), and its product details stay with it.
        var headers = B2BUA.endToEndHeaders(of: response).filter {
            $0.kind != .contentType && $0.kind != .pAssertedIdentity && $0.kind != .pPreferredIdentity
                && setup.headerPolicy.passes($0)
        }
        if !body.isEmpty, let type = response.firstField(.contentType) { headers.append(type) }
        guard let bytes = try? B2BUA.response(
            relaying: response, to: setup.invite, toTag: branches[index].callerTag, address: setup.callerAddress,
            headers: headers, body: body)
        else { return [] }
        return [.toCaller(bytes)]
    }

    private mutating func ackAndBye(_ index: Int) -> [Action] {
        var actions = [Action]()
        let address = branches[index].target.address
        let flow = branches[index].target.flow
        if let ack = try? branches[index].leg.request(.ack, via: address, cseq: 1) {
            actions.append(.toCallee(branch: index, bytes: ack.bytes, flow: flow))
        }
        if let bye = try? branches[index].leg.request(.bye, via: address) {
            actions.append(.toCallee(branch: index, bytes: bye.bytes, flow: flow))
        }
        return actions
    }

    private func cancelOthers(than winner: Int?) -> [Action] {
        branches.indices.filter { $0 != winner && branches[$0].final == nil }.compactMap { index in
            (try? B2BUA.cancel(for: branches[index].invite)).map {
                .toCallee(branch: index, bytes: $0, flow: branches[index].target.flow)
            }
        }
    }

    /// Answers the caller's INVITE with a final failure and ends the call.
    private mutating func refuse(_ status: Int, disposition: CallDetailRecord.Disposition, now: Int64) -> [Action] {
        var actions = [Action]()
        if let response = try? setup.invite.makeResponse(status: status, toTag: SIPTag.make()) {
            actions.append(.toCaller(response))
        }
        record.finalStatus = status
        record.disposition = disposition
        return actions + finish(now: now)
    }

    private mutating func finish(now: Int64) -> [Action] {
        phase = .ended
        record.endedAtMilliseconds = now
        record.mediaEncryption = posture.description
        if case .sdes(let suite) = posture { record.srtpSuite = suite.name }
        return [.finished(record)]
    }

    /// The response to forward when every branch failed (RFC 3261 §16.7 step 6): a 6xx if any, else the lowest
    /// class, preferring a busy or a refusal over a timeout, 408 and 503 last.
    static func bestFinal(_ statuses: [Int]) -> Int {
        if let global = statuses.first(where: { $0 >= 600 }) { return global }
        func rank(_ status: Int) -> (Int, Int) {
            let demoted = status == 408 || status == 503 || status == 480 ? 1 : 0
            return (status / 100, demoted)
        }
        let best = statuses.min { rank($0) < rank($1) } ?? 500
        return best == 503 ? 500 : best  // a 503 from a callee is not the edge's overload (RFC 3261 §16.7)
    }

    /// The CDR disposition of a final failure.
    static func disposition(of status: Int) -> CallDetailRecord.Disposition {
        switch status {
        case 486, 600: return .busy
        case 408, 480: return .noAnswer
        case 487: return .cancelled
        case 400..<500, 603, 606: return .rejected
        default: return .failed
        }
    }
}
