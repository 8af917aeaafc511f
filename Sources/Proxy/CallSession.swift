import SDP
import SIPAuth
import SIPDialog
import SIPMessage
import SIPTransaction
import SecurityPolicy
import Storage

/// One call through the edge as a back-to-back user agent, sans I/O: messages in, actions out (RFC 3261 §12-§16
/// from the edge's two sides). The caller's INVITE, once the edge has authenticated it and found the callee's
/// bindings, starts a session that forks to every binding, relays provisional and final answers, cancels the
/// branches that lose, relays every in-dialog request (re-INVITE, UPDATE, PRACK, INFO, MESSAGE, NOTIFY, SUBSCRIBE,
/// REFER, OPTIONS) and its answers between the legs with the media policy applied to each offer and answer, ends
/// calls that outlive their session timer (RFC 4028) or the maximum duration, and writes the CDR when it ends.
/// Every request the edge sends on a leg runs through an RFC 3261 client transaction (``ClientTransaction``: Timers
/// A/B or E/F, the ACK of a failure) and its 2xx to the caller through ``AnswerRetransmission``; their timers are
/// the session's (``Timer/transaction(_:_:)``). Retransmitted requests get the answer again.
public struct CallSession: Sendable {
    /// What the edge must do.
    public enum Action: Equatable, Sendable {
        /// Send these bytes to the caller, on the flow its INVITE came in on.
        case toCaller([UInt8])
        /// Send these bytes to a callee branch, down its flow.
        case toCallee(branch: Int, bytes: [UInt8], flow: SIPPeer)
        /// The edge's own answer to the request being handled: send it back where that request came from.
        case reply([UInt8])
        /// Record a security event concerning this call.
        case securityEvent(SecurityEvent.Kind)
        /// Call ``CallSession/timerFired(_:now:)`` with this timer once this much time has passed (on the edge's
        /// monotonic clock).
        case startTimer(Timer, after: Duration)
        /// A timer started earlier is no longer needed. Firing it anyway does nothing (the transactions ignore a
        /// timer their state has moved past): the edge may drop it to save the work.
        case cancelTimer(Timer)
        /// The call's media is over: the edge gives the relay's ports back (``MediaAnchor/finish()``) and adds what
        /// the relay measured to the record that follows (``CallDetailRecord/add(_:)``). The session never touches
        /// the relay's resources itself: it runs under the call's lock.
        case releaseMedia
        /// The call is over: store its record.
        case finished(CallDetailRecord)
    }

    /// The session's timers: its transactions' (RFC 3261 §17.1, §13.3.1.4) and the call's own.
    public enum Timer: Hashable, Sendable {
        /// A timer of one of the session's transactions.
        case transaction(TransactionRef, TransactionTimer)
        /// An ended call waited long enough for its cancelled branches' final answers (to acknowledge them).
        case linger
        /// The negotiated session interval passed without a refresh (RFC 4028 §10).
        case sessionExpiry(generation: Int)
        /// The call reached the maximum duration.
        case maxDuration
        /// The call rang unanswered for the ring timeout.
        case ringTimeout
    }

    /// Which of the session's transactions a timer belongs to.
    public enum TransactionRef: Hashable, Sendable {
        /// The edge's INVITE (or SUBSCRIBE) on a branch; a new CSeq (an authenticated retry) is a new transaction.
        case branch(Int, cseq: UInt32)
        /// A request relayed to the other leg in the dialog.
        case relayed(id: Int)
        /// The CANCEL of a branch's INVITE (of that CSeq).
        case cancel(Int, cseq: UInt32)
        /// A BYE the edge sent over UDP.
        case bye(index: Int)
        /// The 2xx relayed to the caller over UDP, until its ACK.
        case answer
        /// The edge's final failure to the caller over UDP, until its ACK (RFC 3261 §17.2.1, Timers G and H): a
        /// caller that has had a provisional no longer resends its INVITE, so a lost 4xx-6xx would leave it waiting.
        case failure
    }


    /// Where a branch goes.
    public struct Target: Sendable, Hashable {
        /// The Request-URI: the registered Contact, or a URI at a trunk.
        public var contact: String
        /// The flow the binding was registered over (or the trunk's).
        public var flow: SIPPeer
        /// The edge's address on that flow, for Via and Contact.
        public var address: SIPLocalAddress
        /// What the edge answers the target's digest challenge (401 or 407) with, once: a trunk's account.
        public var credentials: Credentials?
        /// Who the target is, for its SDP's addresses.
        public var party: MediaParty

        public init(contact: String, flow: SIPPeer, address: SIPLocalAddress, credentials: Credentials? = nil,
                    party: MediaParty = MediaParty()) {
            self.contact = contact
            self.flow = flow
            self.address = address
            self.credentials = credentials
            self.party = party
        }
    }

    /// The edge's own account at a peer (a trunk). The description never shows the password.
    public struct Credentials: Sendable, Hashable, CustomStringConvertible {
        public var username: String
        public var password: String
        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }
        public var description: String { "\(username):<redacted>" }
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
        /// What the callees may see of the caller's headers in the requests relayed in the dialog (the INVITE's are
        /// the caller's to police, in ``forwardedHeaders``).
        public var calleeHeaderPolicy: HeaderPolicy
        /// The CDR's identity fields, as the edge records parties (clear or pseudonymised).
        public var recordID: String
        public var recordedCaller: String
        public var recordedCallee: String
        public var account: String?
        /// The key that made the pseudonyms among them, if any did.
        public var pseudonymKeyID: String?
        /// The trunk the call came from or goes to, for the CDR.
        public var trunk: String?
        /// The STIR/SHAKEN outcome, for the CDR (``CallDetailRecord/identity``).
        public var identity: String?
        /// Longest a call may last once answered; the edge then ends it (nil: no limit).
        public var maxDurationSeconds: Int?
        /// Longest a call may ring unanswered: the edge then cancels the branches and answers 408 (a proxy's
        /// Timer C, RFC 3261 §16.8; nil: until the caller gives up).
        public var ringTimeoutSeconds: Int?
        /// Where the call's media is anchored (the edge's relay), if it is: every SDP crossing the edge goes through
        /// it after the media policy, and it is finished when the call ends.
        public var mediaAnchor: (any MediaAnchor)?
        /// Who the caller is, for its SDP's addresses.
        public var caller = MediaParty()
        /// Where an SDP may make the edge send media (``AddressPolicy``); nil: not checked (no relay sends anywhere).
        public var addressPolicy: AddressPolicy?
        /// The caller's leg's own media policy, when its SRTP ends at the edge (a trunk with `bridge_srtp` behind
        /// it): the INVITE's offer must meet it as well as ``mediaPolicy`` (the trunk's leg).
        public var callerLegPolicy: MediaPolicy?
        /// The domain a REFER in this call may transfer to (its Refer-To a SIP URI there: one of the edge's own
        /// users); nil refuses every REFER. A transfer to anywhere else makes the other party, or a carrier, call a
        /// number the referrer chose (toll fraud through the transferee).
        public var referDomain: String?
        /// Longest a subscription is kept without a refresh, whatever the notifier granted (seconds).
        public var maxSubscriptionSeconds = 3_600
        /// T1, T2 and T4 (RFC 3261 §17), for every transaction of the call.
        public var timers = TransactionTimers()

        public init(invite: SIPMessage, forwardedHeaders: [SIPHeaderField]? = nil, presentedCaller: String,
                    callee: String, callerAddress: SIPLocalAddress, targets: [Target], mediaPolicy: MediaPolicy,
                    headerPolicy: HeaderPolicy = .minimizing, callerUsesUDP: Bool = false, recordID: String,
                    recordedCaller: String, recordedCallee: String, account: String?, maxDurationSeconds: Int? = nil,
                    ringTimeoutSeconds: Int? = nil) {
            self.invite = invite
            self.ringTimeoutSeconds = ringTimeoutSeconds
            self.maxDurationSeconds = maxDurationSeconds
            self.callerUsesUDP = callerUsesUDP
            self.forwardedHeaders = forwardedHeaders ?? B2BUA.endToEndHeaders(of: invite)
            self.headerPolicy = headerPolicy
            self.calleeHeaderPolicy = headerPolicy
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
        /// The caller-side dialog of this branch, once the callee's answer created it (early or confirmed).
        var callerLeg: CallLeg?
        /// The CSeq of the edge's INVITE on this leg (later INVITEs on it are re-INVITEs).
        var inviteCSeq: UInt32
        var final: Int?
        /// Whether the callee answered anything (which stops Timer A).
        var responded = false
        /// Whether the INVITE was sent again with credentials (only once: a second challenge is a refusal).
        var authenticated = false
        /// The branch is to be cancelled as soon as it answers provisionally.
        var cancelPending = false
        /// The edge's ACK for this branch's 2xx, sent again if the 2xx is.
        var ackSent: [UInt8]?
        /// The client transaction of ``invite``.
        var transaction: ClientTransaction
        /// The client transaction of the CANCEL of ``invite``, once sent.
        var cancelTransaction: ClientNonInviteTransaction?
    }

    enum Phase: Sendable, Equatable {
        case proceeding
        case answered(branch: Int)
        case ended
    }

    /// A request relayed from one leg to the other, kept until its final answer is relayed back (and for a
    /// while after, so that a retransmission gets that answer again).
    struct RelayedRequest: Sendable {
        let id: Int
        /// Whether the caller sent it (else the branch's callee).
        let fromCaller: Bool
        let branch: Int
        let method: SIPMethod
        /// As received: the answer to its sender is built from it.
        let request: SIPMessage
        let receivedCSeq: UInt32
        /// The CSeq of the edge's request on the other leg.
        let sentCSeq: UInt32
        var finalStatus: Int?
        /// The final answer relayed back.
        var answer: [UInt8]?
        /// For a re-INVITE answered 2xx: the edge's ACK on the other leg, sent again if that 2xx is.
        var ackSent: [UInt8]?
        /// The client transaction of the edge's request on the other leg.
        var transaction: ClientTransaction
    }

    /// Most relayed requests remembered per call; the oldest answered ones are forgotten first.
    static let maxRelayed = 32

    let setup: Setup
    var branches: [Branch] = []
    var phase: Phase = .proceeding
    var record: CallDetailRecord
    /// The record as it stands (a live call's: no end yet).
    public var currentRecord: CallDetailRecord { record }
    var relayed: [RelayedRequest] = []
    var nextRelayID = 0
    /// Bumped at every session refresh, so that only the latest expiry timer counts.
    var sessionGeneration = 0
    var lingered = false
    /// The 2xx carried a late offer: the caller's ACK must answer it.
    var awaitsLateAnswer = false

    /// A BYE the edge sent over UDP, kept until it is answered (or Timer F gives up) so that it is sent again.
    struct PendingBye: Sendable {
        let toCaller: Bool
        let branch: Int
        let cseq: UInt32
        var answered = false
        var transaction: ClientNonInviteTransaction
    }

    var pendingByes: [PendingBye] = []
    /// The final answer to the caller's initial request, sent again if the request is retransmitted.
    var finalToCaller: [UInt8]?
    /// A relayed NOTIFY said the subscription is terminated: its answer ends the session.
    var terminatingNotify: Int?
    var posture: MediaPolicy.Posture = .none
    /// The 2xx relayed to the caller over UDP, sent again until its ACK arrives.
    var answerToCaller: AnswerRetransmission?
    /// The final failure sent to a caller over UDP, resent until its ACK (``TransactionRef/failure``), and its To tag.
    var failureToCaller: (retransmission: AnswerRetransmission, toTag: String)?

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

    /// When the call was answered (milliseconds since the epoch), if it was.
    public var answeredAtMilliseconds: Int64? { record.answeredAtMilliseconds }

    /// Whether the call has ended (its record was emitted).
    public var isEnded: Bool { phase == .ended }

    /// Whether this session is a subscription (RFC 6665): a SUBSCRIBE instead of an INVITE, a dialog that NOTIFY may
    /// create, no media, no ACK, no CANCEL, no CDR; it ends with a terminating NOTIFY or when it expires.
    public var isSubscription: Bool { setup.invite.method == .subscribe }

    /// Whether an ended call has nothing left to do: every branch gave its final answer (which the edge
    /// acknowledged), or 64·T1 passed (RFC 3261 Timer B). Until then it stays to acknowledge a cancelled branch's 487.
    public var isFinished: Bool {
        phase == .ended && (lingered || (branches.allSatisfy { $0.final != nil } && pendingByes.allSatisfy(\.answered)
            && failureToCaller?.retransmission.state != .waitingForACK))
    }

    /// Starts a call: checks the offer, answers 100 Trying, and sends an INVITE to every target (or refuses the
    /// call: 488 for an offer the media policy refuses, 480 when the callee has no binding).
    public static func start(_ setup: Setup, now: Int64) -> (CallSession, [Action]) {
        var session = CallSession(setup: setup, record: CallDetailRecord(
            id: setup.recordID, startedAtMilliseconds: now, caller: setup.recordedCaller, callee: setup.recordedCallee,
            account: setup.account, trunk: setup.trunk, disposition: .failed, finalStatus: 0,
            pseudonymKeyID: setup.pseudonymKeyID, identity: setup.identity))
        var actions: [Action] = []
        var offer: [UInt8] = []
        let subscribing = setup.invite.method == .subscribe
        if subscribing {
            offer = Array(setup.invite.body)
        } else if !setup.invite.body.isEmpty, !Self.carriesSDP(setup.invite) {
            // An offer in another body type (multipart) would pass the policy and the relay unseen.
            actions += session.refuse(415, disposition: .rejected, now: now)
            return (session, actions)
        } else if !setup.invite.body.isEmpty {
            switch session.filterOffer(setup.invite.body, fromCaller: true, branch: nil,
                                       alsoHeldTo: setup.callerLegPolicy) {
            case .failure(let violation):
                actions.append(session.recordEvent(violation))
                actions += session.refuse(violation.sipStatus, disposition: .rejected, now: now)
                return (session, actions)
            case .success(let filtered):
                offer = session.anchored(filtered, fromCaller: true, branch: nil, isOffer: true)
            }
        }
        guard !setup.targets.isEmpty else {
            actions += session.refuse(480, disposition: .failed, now: now)
            return (session, actions)
        }
        if !subscribing, let trying = try? setup.invite.makeResponse(status: 100) { actions.append(.toCaller(trying)) }
        // The same end-to-end headers for every branch, with the offer's type when there is one.
        var extra = setup.forwardedHeaders.filter { $0.kind != .contentType }
        if subscribing, !offer.isEmpty, let type = setup.invite.firstField(.contentType) {
            extra.append(type)
        } else if !offer.isEmpty, let type = try? SIPHeaderField(.contentType, value: "application/sdp") {
            extra.append(type)
        }
        for target in setup.targets {
            guard let (bytes, leg, _) = try? B2BUA.invite(
                bridging: setup.invite, method: setup.invite.method ?? .invite, target: target.contact,
                from: setup.presentedCaller, to: setup.callee, address: target.address, headers: extra, body: offer),
                let invite = try? SIPMessage.parse(bytes)
            else { continue }
            // Over UDP Timer A retransmits; over TCP and TLS only Timer B runs (RFC 3261 §17.1.1.2).
            var transaction = ClientTransaction(request: invite, bytes: bytes, reliable: target.flow.isReliable,
                                                timers: setup.timers)
            let steps = transaction.start(now: .milliseconds(now))
            session.branches.append(Branch(target: target, leg: leg, invite: invite, callerTag: SIPTag.make(),
                                           inviteCSeq: leg.localCSeq, transaction: transaction))
            let index = session.branches.count - 1
            actions += session.carryOut(steps, of: .branch(index, cseq: leg.localCSeq), toCaller: false,
                                        branch: index, now: now).actions
        }
        if session.branches.isEmpty {
            actions += session.refuse(480, disposition: .failed, now: now)
        } else if let seconds = setup.ringTimeoutSeconds {
            actions.append(.startTimer(.ringTimeout, after: .seconds(seconds)))
        }
        return (session, actions)
    }

    /// The caller sent its initial request again (its answer was lost over UDP): the final answer, once more.
    public func initialRequestRetransmitted(_ request: SIPMessage) -> [Action] {
        guard let final = finalToCaller, let cseq = try? request.cseq(), let initial = try? setup.invite.cseq(),
            cseq == initial
        else { return [] }
        return [.toCaller(final)]
    }

    /// A response from a callee branch: to the edge's INVITE, or to a request the edge relayed in the dialog.
    public mutating func calleeResponded(_ response: SIPMessage, branch index: Int, now: Int64) -> [Action] {
        guard branches.indices.contains(index), let status = response.statusCode, let cseq = try? response.cseq()
        else { return [] }
        if cseq.method == .bye {
            return byeAnswered(response, toCaller: false, branch: index, cseq: cseq.sequenceNumber, now: now)
        }
        if cseq.method == .cancel {
            // The answer to the edge's CANCEL ends its transaction; the INVITE's own final (487) follows apart.
            guard cseq.sequenceNumber == branches[index].inviteCSeq,
                let steps = branches[index].cancelTransaction?.receive(response: response, now: .milliseconds(now))
            else { return [] }
            return carryOut(steps, of: .cancel(index, cseq: cseq.sequenceNumber), toCaller: false, branch: index,
                            now: now).actions
        }
        guard cseq.method == setup.invite.method, cseq.sequenceNumber == branches[index].inviteCSeq else {
            return relayedResponse(response, responderIsCaller: false, branch: index, now: now)
        }
        // The transaction first: it absorbs a retransmitted failure (acknowledging it again) and ACKs a new one.
        let steps = branches[index].transaction.receive(response: response, now: .milliseconds(now))
        let (sent, delivered, _) = carryOut(steps, of: .branch(index, cseq: cseq.sequenceNumber), toCaller: false,
                                           branch: index, now: now)
        guard delivered != nil else { return sent }
        return sent + branchResponded(response, status: status, branch: index, now: now)
    }

    /// A response the branch's INVITE transaction passed up: relayed, answered, or counted towards the best failure.
    private mutating func branchResponded(_ response: SIPMessage, status: Int, branch index: Int, now: Int64)
        -> [Action]
    {
        branches[index].responded = true
        if status < 200, branches[index].cancelPending, branches[index].final == nil {
            branches[index].cancelPending = false
            return cancel(index, now: now)
        }
        guard status > 100 else { return [] }
        guard branches[index].final == nil else {
            // A 2xx again: the edge's ACK was lost over UDP, so it goes again (RFC 3261 §13.2.2.4). Other finals are
            // the transaction's to absorb.
            guard (200..<300).contains(status), let ack = branches[index].ackSent else { return [] }
            return [.toCallee(branch: index, bytes: ack, flow: branches[index].target.flow)]
        }
        try? branches[index].leg.learn(from: response)
        if branches[index].callerLeg == nil, branches[index].leg.remoteTag != nil, status < 300 {
            branches[index].callerLeg = try? CallLeg.answering(setup.invite, localTag: branches[index].callerTag)
        }
        switch status {
        case 101..<200:
            guard phase == .proceeding else { return [] }
            // Early media is media too: an early answer the policy refuses is relayed without its SDP.
            guard !response.body.isEmpty else { return relay(response, from: index, body: []) }
            switch checkAnswer(response.body, fromCaller: false, branch: index) {
            case .failure(let violation):
                return [recordEvent(violation)] + relay(response, from: index, body: [])
            case .success(let checked):
                return relay(response, from: index, body: anchored(checked, fromCaller: false, branch: index, isOffer: false))
            }
        case 200..<300 where isSubscription:
            branches[index].final = status
            guard phase == .proceeding else { return [] }
            phase = .answered(branch: index)
            let answer = relay(response, from: index, body: [])
            if case .toCaller(let bytes)? = answer.first { finalToCaller = bytes }
            return answer + armExpiry(response)
        case 200..<300:
            branches[index].final = status
            var actions = [Action]()
            guard phase == .proceeding else {
                // A second branch answered too late: take its dialog down (RFC 3261 §16.7 step 5 for a B2BUA).
                actions += ackAndBye(index, now: now)
                return actions
            }
            var body = Array(response.body)
            if setup.invite.body.isEmpty, !body.isEmpty {
                // A late offer (RFC 3261 §13.2.1): the 2xx offers, the caller's ACK will answer.
                switch filterOffer(response.body, fromCaller: false, branch: index) {
                case .failure(let violation):
                    return takeDown(answered: index, violation, now: now)
                case .success(let filtered):
                    body = anchored(filtered, fromCaller: false, branch: index, isOffer: true)
                    awaitsLateAnswer = true
                }
            } else if !body.isEmpty || !setup.invite.body.isEmpty {
                switch checkAnswer(response.body, fromCaller: false, branch: index) {
                case .failure(let violation):
                    return takeDown(answered: index, violation, now: now)
                case .success(let answered):
                    posture = answered.posture
                    body = anchored(answered, fromCaller: false, branch: index, isOffer: false)
                }
            }
            phase = .answered(branch: index)
            record.answeredAtMilliseconds = now
            record.finalStatus = status
            record.disposition = .answered
            let answer = relay(response, from: index, body: body)
            actions += answer
            if setup.callerUsesUDP, case .toCaller(let bytes)? = answer.first {
                let retransmission = AnswerRetransmission(response: bytes, timers: setup.timers)
                answerToCaller = retransmission
                actions += carryOut(retransmission.start(now: .milliseconds(now)), of: .answer, toCaller: true,
                                    branch: index, now: now).actions
            }
            actions += cancelOthers(than: index, now: now)
            if let seconds = setup.maxDurationSeconds {
                actions.append(.startTimer(.maxDuration, after: .seconds(seconds)))
            }
            return actions + armSessionTimer(response)
        default:
            // The transaction has acknowledged the failure (an INVITE's; a SUBSCRIBE's needs no ACK).
            branches[index].final = status
            if phase == .proceeding, let retry = authenticatedRetry(after: response, branch: index, now: now) {
                return retry
            }
            guard phase == .proceeding, branches.allSatisfy({ $0.final != nil }) else { return [] }
            let best = Self.bestFinal(branches.compactMap(\.final))
            return refuse(best, disposition: Self.disposition(of: best), now: now)
        }
    }

    /// The caller's ACK for the 2xx: the edge ACKs the answering branch (RFC 3261 §13.2.2.4, per leg).
    /// In a late-offer call the ACK carries the caller's answer, checked by the media policy and passed on; one the
    /// policy refuses (or none) ends the call.
    public mutating func callerAcknowledged(_ ack: SIPMessage? = nil, now: Int64 = 0) -> [Action] {
        // Over UDP only the first ACK for the 2xx counts (a retransmitted one is not passed on twice).
        guard case .answered(let index) = phase, answerToCaller?.acknowledge() ?? !setup.callerUsesUDP else {
            return []
        }
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        var actions: [Action] = []
        if awaitsLateAnswer {
            awaitsLateAnswer = false
            let answer = ack?.body ?? []
            switch checkAnswer(answer, fromCaller: true, branch: index) {
            case .success(let answered):
                posture = answered.posture
                body = anchored(answered, fromCaller: true, branch: index, isOffer: false)
                if let type = ack?.firstField(.contentType) { headers.append((type.name, type.value)) }
            case .failure(let violation):
                actions.append(recordEvent(violation))
                if let bare = try? branches[index].leg.request(
                    .ack, via: branches[index].target.address, cseq: branches[index].inviteCSeq)
                {
                    actions.append(.toCallee(branch: index, bytes: bare.bytes, flow: branches[index].target.flow))
                }
                return actions + hangUp(reason: "media-downgrade", now: now)
            }
        }
        guard let relayed = try? branches[index].leg.request(
            .ack, via: branches[index].target.address, cseq: branches[index].inviteCSeq, headers: headers, body: body)
        else { return [] }
        branches[index].ackSent = relayed.bytes
        return [.toCallee(branch: index, bytes: relayed.bytes, flow: branches[index].target.flow)]
    }

    /// The caller cancelled (the edge has answered the CANCEL itself): cancel every branch and answer the INVITE
    /// 487 Request Terminated (RFC 3261 §9.2).
    public mutating func callerCancelled(now: Int64) -> [Action] {
        guard phase == .proceeding, !isSubscription else { return [] }  // a SUBSCRIBE cannot be cancelled
        record.hangupSide = .caller
        record.hangupReason = "cancel"
        return cancelOthers(than: nil, now: now) + refuse(487, disposition: .cancelled, now: now)
    }

    /// A BYE on an answered call from one side: answer it 200, send BYE on the other leg, end the call.
    public mutating func byeReceived(_ bye: SIPMessage, fromCaller: Bool, now: Int64) -> [Action] {
        guard case .answered(let index) = phase else { return [] }
        var actions = [Action]()
        if let ok = try? bye.makeResponse(status: 200) {
            actions.append(fromCaller ? .toCaller(ok) : .toCallee(branch: index, bytes: ok, flow: branches[index].target.flow))
        }
        actions += fromCaller ? byeToCallee(index, now: now) : byeToCaller(index, now: now)
        record.hangupSide = fromCaller ? .caller : .callee
        record.hangupReason = "bye"
        return actions + finish(now: now)
    }

    /// The edge ends the call (shutting down, or told to by an operator): an answered call ends with BYE on both
    /// legs; a ringing one has its branches cancelled and its caller answered 503. Either way the record is emitted
    /// (hangup side: the edge, hangup reason: `reason`).
    public mutating func terminate(now: Int64, reason: String = "shutdown") -> [Action] {
        switch phase {
        case .answered:
            return hangUp(reason: reason, now: now)
        case .proceeding:
            record.hangupSide = .edge
            record.hangupReason = reason
            return cancelOthers(than: nil, now: now) + refuse(503, disposition: .failed, now: now)
        case .ended:
            return []
        }
    }

    /// A timer fired: one of the transactions' (resending, or giving up: a branch whose INVITE timed out counts as
    /// 408, RFC 3261 §16.7; a 2xx never ACKed ends the call with BYE, §13.3.1.4), or the call's own.
    public mutating func timerFired(_ timer: Timer, now: Int64) -> [Action] {
        switch timer {
        case .linger:
            lingered = true
            return []
        case .transaction(let ref, let timer):
            return transactionTimerFired(ref, timer, now: now)
        case .sessionExpiry(let generation):
            guard case .answered = phase, generation == sessionGeneration else { return [] }
            return hangUp(reason: "session-expired", now: now)
        case .maxDuration:
            guard case .answered = phase else { return [] }
            return hangUp(reason: "max-duration", now: now)
        case .ringTimeout:
            guard phase == .proceeding else { return [] }
            record.hangupSide = .edge
            record.hangupReason = "no-answer"
            return cancelOthers(than: nil, now: now) + refuse(408, disposition: .noAnswer, now: now)
        }
    }

    private mutating func transactionTimerFired(_ ref: TransactionRef, _ timer: TransactionTimer, now: Int64)
        -> [Action]
    {
        let at = Duration.milliseconds(now)
        switch ref {
        case .branch(let index, let cseq):
            guard branches.indices.contains(index), branches[index].inviteCSeq == cseq else { return [] }
            let steps = branches[index].transaction.timerFired(timer, now: at)
            let (actions, _, timedOut) = carryOut(steps, of: ref, toCaller: false, branch: index, now: now)
            guard timedOut, branches[index].final == nil else { return actions }
            branches[index].final = 408
            guard phase == .proceeding, branches.allSatisfy({ $0.final != nil }) else { return actions }
            let best = Self.bestFinal(branches.compactMap(\.final))
            return actions + refuse(best, disposition: Self.disposition(of: best), now: now)
        case .cancel(let index, let cseq):
            // A CANCEL that times out changes nothing: the INVITE's own timers decide the branch.
            guard branches.indices.contains(index), branches[index].inviteCSeq == cseq,
                let steps = branches[index].cancelTransaction?.timerFired(timer, now: at)
            else { return [] }
            return carryOut(steps, of: ref, toCaller: false, branch: index, now: now).actions
        case .relayed(let id):
            guard let position = relayed.firstIndex(where: { $0.id == id }) else { return [] }
            let steps = relayed[position].transaction.timerFired(timer, now: at)
            let entry = relayed[position]
            let (actions, _, timedOut) = carryOut(steps, of: ref, toCaller: !entry.fromCaller, branch: entry.branch,
                                                  now: now)
            // Timer B or F: the other side never answered (RFC 3261 §16.7 for a proxy: 408 to the sender).
            guard timedOut, entry.finalStatus == nil, let timeout = try? entry.request.makeResponse(status: 408)
            else { return actions }
            relayed[position].finalStatus = 408
            relayed[position].answer = timeout
            return actions + [send(timeout, toCaller: entry.fromCaller, branch: entry.branch)]
        case .bye(let index):
            guard pendingByes.indices.contains(index) else { return [] }
            let steps = pendingByes[index].transaction.timerFired(timer, now: at)
            let pending = pendingByes[index]
            let (actions, _, timedOut) = carryOut(steps, of: ref, toCaller: pending.toCaller, branch: pending.branch,
                                                  now: now)
            if timedOut { pendingByes[index].answered = true }  // Timer F: the far side is gone
            return actions
        case .failure:
            guard var failure = failureToCaller else { return [] }
            let steps = failure.retransmission.timerFired(timer, now: at)
            failureToCaller = failure
            return carryOut(steps, of: ref, toCaller: true, branch: 0, now: now).actions
        case .answer:
            guard case .answered(let index) = phase, var retransmission = answerToCaller else { return [] }
            let steps = retransmission.timerFired(timer, now: at)
            answerToCaller = retransmission
            let (actions, _, timedOut) = carryOut(steps, of: ref, toCaller: true, branch: index, now: now)
            guard timedOut else { return actions }
            // The callee's 2xx still wants its ACK before the BYE.
            var ending = actions
            if let ack = try? branches[index].leg.request(
                .ack, via: branches[index].target.address, cseq: branches[index].inviteCSeq)
            {
                ending.append(.toCallee(branch: index, bytes: ack.bytes, flow: branches[index].target.flow))
            }
            return ending + hangUp(reason: "no-ack", now: now)
        }
    }

    /// Carries out what one of the session's transactions asks: its sends go down the leg it runs on, its timers
    /// become the session's. Also returns the response it passes up (nil: absorbed) and whether it timed out.
    private func carryOut(_ steps: [TransactionAction], of ref: TransactionRef, toCaller: Bool, branch: Int,
                          now: Int64) -> (actions: [Action], delivered: SIPMessage?, timedOut: Bool)
    {
        var actions = [Action]()
        var delivered: SIPMessage?
        var timedOut = false
        for step in steps {
            switch step {
            case .send(let bytes):
                actions.append(send(bytes, toCaller: toCaller, branch: branch))
            case .passToTransactionUser(let box):
                delivered = box.message
            case .scheduleTimer(let timer, let deadline):
                actions.append(.startTimer(.transaction(ref, timer),
                                           after: deadline - .milliseconds(now)))
            case .cancelTimer(let timer):
                actions.append(.cancelTimer(.transaction(ref, timer)))
            case .timeout:
                timedOut = true
            case .terminated:
                break  // the session keeps the finished transaction: it absorbs late retransmissions to no effect
            }
        }
        return (actions, delivered, timedOut)
    }

    /// The INVITE again, with credentials, when a trunk challenged it (RFC 3261 §22.2): same leg, next CSeq, the
    /// Authorization or Proxy-Authorization the challenge asks for. Nil when there is nothing to answer with.
    private mutating func authenticatedRetry(after response: SIPMessage, branch index: Int, now: Int64) -> [Action]? {
        guard let status = response.statusCode, status == 401 || status == 407, !branches[index].authenticated,
            let credentials = branches[index].target.credentials,
            let header = response.firstField(status == 401 ? .wwwAuthenticate : .proxyAuthenticate),
            let challenge = try? DigestChallenge(parsing: header.value)
        else { return nil }
        let ha1 = DigestHA1(algorithm: challenge.effectiveAlgorithm, username: credentials.username,
                            realm: challenge.realm, password: credentials.password)
        let invite = branches[index].invite
        guard let uri = invite.requestLine?.requestURIText,
            let answer = try? DigestCredentials(answering: challenge, ha1: ha1, method: "INVITE", uri: uri,
                                                cnonce: SIPTag.make(), body: Array(invite.body)).serialized()
        else { return nil }
        var headers = B2BUA.endToEndHeaders(of: invite).map { ($0.name, $0.value) }
        headers.append((status == 401 ? "Authorization" : "Proxy-Authorization", answer))
        var leg = branches[index].leg
        guard let (bytes, _) = try? leg.request(.invite, via: branches[index].target.address, headers: headers,
                                                body: Array(invite.body)),
            let sent = try? SIPMessage.parse(bytes)
        else { return nil }
        branches[index].leg = leg
        branches[index].invite = sent
        branches[index].inviteCSeq = leg.localCSeq
        branches[index].final = nil
        branches[index].responded = false
        branches[index].authenticated = true
        // A new CSeq, a new transaction: the old one's timers go stale.
        var transaction = ClientTransaction(request: sent, bytes: bytes, reliable: branches[index].target.flow.isReliable,
                                            timers: setup.timers)
        let steps = transaction.start(now: .milliseconds(now))
        branches[index].transaction = transaction
        return carryOut(steps, of: .branch(index, cseq: leg.localCSeq), toCaller: false, branch: index, now: now).actions
    }

    // MARK: In-dialog requests

    /// A request from the caller on its side of the call (everything but CANCEL): ACK and BYE end their part of
    /// the call; anything else is relayed to the branch whose dialog it names (the answered one, or an early dialog
    /// for PRACK and UPDATE). A request naming no dialog of this call gets 481.
    public mutating func callerRequest(_ request: SIPMessage, now: Int64) -> [Action] {
        guard let method = request.method else { return [] }
        let toTag = (try? request.toTag()) ?? nil
        // The ACK of the edge's own failure answer: nothing more to resend.
        if method == .ack, phase == .ended, var failure = failureToCaller, failure.toTag == toTag {
            _ = failure.retransmission.acknowledge()
            failureToCaller = failure
            return []
        }
        let index: Int?
        switch phase {
        case .answered(let answered): index = branches[answered].callerTag == toTag ? answered : nil
        case .proceeding:
            index = branches.firstIndex { $0.callerTag == toTag && $0.callerLeg != nil && $0.final == nil }
        case .ended: index = nil
        }
        guard let index else { return method == .ack ? [] : respond(request, 481) }
        switch method {
        case .ack:
            guard let cseq = try? request.cseq() else { return [] }
            if cseq.sequenceNumber == (try? setup.invite.cseq().sequenceNumber) {
                return callerAcknowledged(request, now: now)
            }
            return acknowledged(request, fromCaller: true, branch: index, now: now)
        case .bye:
            guard phase == .proceeding else { return byeReceived(request, fromCaller: true, now: now) }
            // A BYE in an early dialog gives up the whole attempt, like CANCEL (RFC 3261 §15).
            return respond(request, 200) + callerCancelled(now: now)
        default:
            return relayRequest(request, fromCaller: true, branch: index, now: now)
        }
    }

    /// A request from a callee in its branch's dialog (its From tag the callee's, its To tag the edge's): BYE ends
    /// the call, ACK completes a re-INVITE, anything else is relayed to the caller. A branch that lost or failed
    /// has no dialog left (481).
    public mutating func calleeRequest(_ request: SIPMessage, branch index: Int, now: Int64) -> [Action] {
        guard let method = request.method, branches.indices.contains(index) else { return [] }
        let live: Bool
        switch phase {
        case .answered(let answered): live = answered == index
        case .proceeding: live = branches[index].final == nil
        case .ended: live = false
        }
        // A NOTIFY may arrive before the 2xx to the SUBSCRIBE and create the dialog (RFC 6665 §4.1.2.4).
        if live, isSubscription, method == .notify, branches[index].leg.remoteTag == nil,
            let tag = (try? request.fromTag()) ?? nil, (try? request.toTag()) == .some(branches[index].leg.localTag)
        {
            branches[index].leg.establish(remoteTag: tag)
            branches[index].callerLeg = try? CallLeg.answering(setup.invite, localTag: branches[index].callerTag)
        }
        guard live, isCalleeDialog(branch: index, fromTag: try? request.fromTag(), toTag: try? request.toTag()) else {
            return method == .ack ? [] : respond(request, 481)
        }
        switch method {
        case .ack: return acknowledged(request, fromCaller: false, branch: index, now: now)
        case .bye:
            guard phase == .proceeding else { return byeReceived(request, fromCaller: false, now: now) }
            return respond(request, 481)  // a callee gives up with a final answer
        default: return relayRequest(request, fromCaller: false, branch: index, now: now)
        }
    }

    /// A response from the caller to a request the edge relayed to it (its From tag names the branch).
    public mutating func callerResponded(_ response: SIPMessage, now: Int64) -> [Action] {
        guard let fromTag = (try? response.fromTag()) ?? nil,
            let index = branches.firstIndex(where: { $0.callerTag == fromTag })
        else { return [] }
        if let cseq = try? response.cseq(), cseq.method == .bye {
            return byeAnswered(response, toCaller: true, branch: index, cseq: cseq.sequenceNumber, now: now)
        }
        return relayedResponse(response, responderIsCaller: true, branch: index, now: now)
    }

    private mutating func relayRequest(_ request: SIPMessage, fromCaller: Bool, branch index: Int, now: Int64)
        -> [Action]
    {
        guard let method = request.method, let cseq = try? request.cseq() else { return [] }
        // A retransmission gets the answer again, or nothing while the other side has not answered.
        if let earlier = relayed.first(where: {
            $0.fromCaller == fromCaller && $0.branch == index && $0.receivedCSeq == cseq.sequenceNumber
                && $0.method == method
        }) {
            return earlier.answer.map { [.reply($0)] } ?? []
        }
        let inOrder = fromCaller
            ? branches[index].callerLeg?.accept(remoteCSeq: cseq.sequenceNumber) ?? false
            : branches[index].leg.accept(remoteCSeq: cseq.sequenceNumber)
        guard inOrder else { return respond(request, 500) }
        // Max-Forwards counts down across the edge too (RFC 3261 §16.6 step 3): a loop through it ends with 483.
        let maxForwards = ((try? request.maxForwards()) ?? nil) ?? 70
        guard maxForwards > 0 else { return respond(request, 483) }
        // A subscription's dialog carries NOTIFYs and refreshes, never a call (RFC 6665 §4.5.2 dialog reuse is
        // deprecated): an INVITE in it would start media nobody authorised.
        if isSubscription, method == .invite { return respond(request, 403) }
        if method == .refer, !Self.refers(request, within: setup.referDomain) { return respond(request, 403) }
        // Offer/answer bodies are SDP or nothing: a multipart (or any other) body would carry media past the policy
        // and the relay (RFC 3261 §21.4.16: 415, saying what is accepted).
        if !isSubscription, Self.carriesOfferAnswer(method), !request.body.isEmpty, !Self.carriesSDP(request) {
            return respond(request, 415, headers: [("Accept", "application/sdp")])
        }
        let offers = method == .invite || method == .update
        // One offer at a time (RFC 3261 §14.1, RFC 3311 §5.2).
        if offers, relayed.contains(where: {
            $0.branch == index && $0.finalStatus == nil && ($0.method == .invite || $0.method == .update)
        }) {
            return respond(request, 491)
        }
        forgetAnsweredRelays()
        guard relayed.count < Self.maxRelayed else {
            return respond(request, 503, headers: [("Retry-After", "1")])
        }
        var body = Array(request.body)
        if method == .notify, !body.isEmpty {
            // dialog-info and presence documents name the notifier's devices by address (RFC 4235 targets, PIDF
            // contacts): every SIP URI at an IP literal is shown at the served domain instead.
            body = Self.hidingAddresses(in: body, domain: domain)
        }
        if !isSubscription, !body.isEmpty, Self.carriesSDP(request) {
            // Any SDP crossing the edge is policed, whatever carries it (re-INVITE, UPDATE, PRACK, even INFO): none
            // may take encryption away mid-call.
            switch filterOffer(request.body, current: posture, fromCaller: fromCaller, branch: index) {
            case .failure(let violation):
                return [recordEvent(violation)] + respond(request, violation.sipStatus)
            case .success(let filtered):
                // A PRACK answers the offer of a reliable provisional; the other requests offer (RFC 3262, 3311).
                body = anchored(filtered, fromCaller: fromCaller, branch: index, isOffer: method != .prack)
            }
        }
        if Self.refreshesTarget(method) {
            if fromCaller { branches[index].callerLeg?.refreshTarget(from: request) } else {
                branches[index].leg.refreshTarget(from: request)
            }
        }
        var headers = forwardable(request, bodyKept: !body.isEmpty, towardsCallee: fromCaller)
        if method == .prack, let position = headers.firstIndex(where: { $0.0.lowercased() == "rack" }) {
            // RAck names the INVITE of the leg it travels on (RFC 3262 §7.2): the edge's INVITE for the first
            // one, or the edge's copy of the re-INVITE whose reliable provisional it acknowledges.
            let parts = headers[position].1.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 3, let acknowledged = UInt32(parts[1]) else { return respond(request, 400) }
            let mapped: UInt32
            if fromCaller, acknowledged == (try? setup.invite.cseq().sequenceNumber) {
                mapped = branches[index].inviteCSeq
            } else if let reInvite = relayed.first(where: {
                $0.fromCaller == fromCaller && $0.branch == index && $0.method == .invite && $0.receivedCSeq == acknowledged
            }) {
                mapped = reInvite.sentCSeq
            } else {
                return respond(request, 481)  // no INVITE of this dialog has that CSeq
            }
            headers[position].1 = "\(parts[0]) \(mapped) \(parts[2])"
        }
        let sent: [UInt8]
        let sentCSeq: UInt32
        let overUDP: Bool
        if fromCaller {
            guard let request = try? branches[index].leg.request(
                method, via: branches[index].target.address, maxForwards: maxForwards - 1, headers: headers,
                body: body)
            else { return respond(request, 500) }
            (sent, sentCSeq) = (request.bytes, branches[index].leg.localCSeq)
            overUDP = !branches[index].target.flow.isReliable
        } else {
            guard var leg = branches[index].callerLeg,
                let request = try? leg.request(method, via: setup.callerAddress, maxForwards: maxForwards - 1,
                                               headers: headers, body: body)
            else { return respond(request, 500) }
            branches[index].callerLeg = leg
            (sent, sentCSeq) = (request.bytes, leg.localCSeq)
            overUDP = setup.callerUsesUDP
        }
        nextRelayID += 1
        if isSubscription, method == .notify,
            request.fields(named: "Subscription-State").first?.value.lowercased().hasPrefix("terminated") == true
        {
            terminatingNotify = nextRelayID
        }
        guard var transaction = ClientTransaction(method: method, bytes: sent, reliable: !overUDP,
                                                  timers: setup.timers)
        else { return respond(request, 500) }
        let steps = transaction.start(now: .milliseconds(now))
        relayed.append(RelayedRequest(
            id: nextRelayID, fromCaller: fromCaller, branch: index, method: method, request: request,
            receivedCSeq: cseq.sequenceNumber, sentCSeq: sentCSeq, transaction: transaction))
        var actions = [Action]()
        if method == .invite { actions += respond(request, 100) }
        return actions + carryOut(steps, of: .relayed(id: nextRelayID), toCaller: !fromCaller, branch: index,
                                  now: now).actions
    }

    /// A response to a relayed request, from the side it was relayed to: relayed back to its sender, with the media
    /// policy applied to an answer. An answer that takes encryption away ends the call.
    private mutating func relayedResponse(_ response: SIPMessage, responderIsCaller: Bool, branch index: Int,
                                          now: Int64) -> [Action] {
        guard let status = response.statusCode, let cseq = try? response.cseq(),
            let position = relayed.firstIndex(where: {
                $0.fromCaller != responderIsCaller && $0.branch == index && $0.sentCSeq == cseq.sequenceNumber
                    && $0.method == cseq.method
            })
        else { return [] }
        let steps = relayed[position].transaction.receive(response: response, now: .milliseconds(now))
        let entry = relayed[position]
        let (sent, delivered, _) = carryOut(steps, of: .relayed(id: entry.id), toCaller: responderIsCaller,
                                           branch: index, now: now)
        let toCaller = entry.fromCaller
        guard delivered != nil, status > 100 else { return sent }
        if let final = entry.finalStatus {
            // The answering side retransmits a 2xx to a re-INVITE until the ACK: the edge passes it on until the
            // ACK comes, and then answers it with that ACK again.
            guard entry.method == .invite, (200..<300).contains(final), (200..<300).contains(status) else { return sent }
            if let ack = entry.ackSent { return sent + [send(ack, toCaller: !toCaller, branch: index)] }
            return sent + (entry.answer.map { [send($0, toCaller: toCaller, branch: index)] } ?? [])
        }
        var body = Array(response.body)
        var actions = sent
        if entry.method == .options { body = [] }  // the answering phone's SDP capabilities name its addresses
        if !isSubscription, !body.isEmpty, Self.carriesOfferAnswer(entry.method), !Self.carriesSDP(response) {
            body = []  // an answer in another body type (multipart) would pass the policy and the relay: not relayed
        }
        if !isSubscription, !body.isEmpty, Self.carriesSDP(response), entry.method == .invite, entry.request.body.isEmpty,
            status >= 200
        {
            // A re-INVITE without SDP: its 2xx offers, and the ACK will answer (checked in `acknowledged`).
            switch filterOffer(response.body, current: posture, fromCaller: responderIsCaller, branch: index) {
            case .success(let filtered):
                body = anchored(filtered, fromCaller: responderIsCaller, branch: index, isOffer: true)
            case .failure(let violation): return sent + refuseRelayedAnswer(at: position, status, violation, now: now)
            }
        } else if !isSubscription, !body.isEmpty, Self.carriesSDP(response) {
            switch checkAnswer(response.body, current: posture, fromCaller: responderIsCaller, branch: index) {
            case .success(let answered):
                if status >= 200 { posture = answered.posture }
                body = anchored(answered, fromCaller: responderIsCaller, branch: index, isOffer: false)
            case .failure(let violation) where status < 200:
                // Early media the policy refuses is relayed without its SDP.
                actions.append(recordEvent(violation))
                body = []
            case .failure(let violation):
                return sent + refuseRelayedAnswer(at: position, status, violation, now: now)
            }
        }
        actions += relayBack(response, of: position, body: body)
        if status >= 200, entry.id == terminatingNotify { return actions + finish(now: now) }
        if isSubscription, entry.method == .subscribe, (200..<300).contains(status) { actions += armExpiry(response) }
        if (200..<300).contains(status), entry.method == .invite || entry.method == .update, case .answered = phase {
            // A refresh without Session-Expires switches the timer off (RFC 4028 §9).
            let rearmed = armSessionTimer(response)
            actions += rearmed.isEmpty ? stopSessionExpiry() : rearmed
        }
        return actions
    }

    /// Notes a policy violation in the call's record; returns the event to report.
    private mutating func recordEvent(_ violation: MediaPolicy.Violation) -> Action {
        record.securityEvents.append(violation.securityEvent.name)
        return .securityEvent(violation.securityEvent)
    }

    /// A branch answered 2xx with media the policy refuses: it is acknowledged and hung up, the others cancelled,
    /// and the caller refused.
    private mutating func takeDown(answered index: Int, _ violation: MediaPolicy.Violation, now: Int64) -> [Action] {
        [recordEvent(violation)] + ackAndBye(index, now: now) + cancelOthers(than: index, now: now)
            + refuse(violation.sipStatus, disposition: .rejected, now: now)
    }

    /// A final answer to a relayed request carries media the policy refuses: the answering side now sends it, so the
    /// edge acknowledges (for an INVITE), refuses the request to its sender and ends the call.
    private mutating func refuseRelayedAnswer(at position: Int, _ status: Int, _ violation: MediaPolicy.Violation,
                                              now: Int64) -> [Action]
    {
        let entry = relayed[position]
        var actions = [recordEvent(violation)]
        relayed[position].finalStatus = violation.sipStatus
        // A 2xx is the edge's to acknowledge on the dialog; a failure the transaction has acknowledged already.
        if entry.method == .invite, (200..<300).contains(status), let ack = ackRelayed(entry, body: []) {
            actions.append(ack)
        }
        if let refusal = try? entry.request.makeResponse(status: violation.sipStatus) {
            actions.append(send(refusal, toCaller: entry.fromCaller, branch: entry.branch))
        }
        return actions + hangUp(reason: "media-downgrade", now: now)
    }

    /// Relays a response back to the sender of a relayed request, remembering a final one.
    private mutating func relayBack(_ response: SIPMessage, of position: Int, body: [UInt8]) -> [Action] {
        let entry = relayed[position]
        guard let status = response.statusCode else { return [] }
        var headers = forwardable(response, bodyKept: !body.isEmpty, towardsCallee: !entry.fromCaller)
        if status < 300, Self.refreshesTarget(entry.method) {
            let address = entry.fromCaller ? setup.callerAddress : branches[entry.branch].target.address
            headers.insert(("Contact", address.contact), at: 0)
            // The responder's Contact is its new target too (RFC 3261 §12.2.1.2).
            if entry.fromCaller { branches[entry.branch].leg.refreshTarget(from: response) } else {
                branches[entry.branch].callerLeg?.refreshTarget(from: response)
            }
        }
        guard let bytes = try? entry.request.makeResponse(
            status: status, reason: response.statusLine?.reasonPhrase, extraHeaders: headers, body: body)
        else { return [] }
        if status >= 200 {
            relayed[position].finalStatus = status
            relayed[position].answer = bytes
        }
        return [send(bytes, toCaller: entry.fromCaller, branch: entry.branch)]
    }

    /// The ACK for a 2xx to a relayed re-INVITE: sent on the other leg with that leg's CSeq (RFC 3261 §13.2.2.4).
    /// The ACK of a failure stays with the edge, which acknowledged it itself.
    private mutating func acknowledged(_ ack: SIPMessage, fromCaller: Bool, branch index: Int, now: Int64)
        -> [Action]
    {
        guard let cseq = try? ack.cseq(), let position = relayed.firstIndex(where: {
            $0.fromCaller == fromCaller && $0.branch == index && $0.method == .invite
                && $0.receivedCSeq == cseq.sequenceNumber
        }), let final = relayed[position].finalStatus, (200..<300).contains(final)
        else { return [] }
        let entry = relayed[position]
        guard relayed[position].ackSent == nil else { return [] }  // the caller's ACK again: already passed on
        var actions = [Action]()
        var answer: [UInt8] = []
        if !ack.body.isEmpty {
            switch checkAnswer(ack.body, current: posture, fromCaller: fromCaller, branch: index) {
            case .failure(let violation):
                // A late offer's answer in the ACK that the policy refuses.
                actions.append(recordEvent(violation))
                if let ack = ackRelayed(entry, body: []) { actions.append(ack) }
                return actions + hangUp(reason: "media-downgrade", now: now)
            case .success(let checked):
                answer = anchored(checked, fromCaller: fromCaller, branch: index, isOffer: false)
            }
        }
        if let relayedAck = ackRelayed(entry, body: answer, type: ack.firstField(.contentType)) {
            actions.append(relayedAck)
            if case .toCaller(let bytes) = relayedAck { relayed[position].ackSent = bytes }
            if case .toCallee(_, let bytes, _) = relayedAck { relayed[position].ackSent = bytes }
        }
        return actions
    }

    /// The edge's ACK on the other leg for a relayed re-INVITE.
    private mutating func ackRelayed(_ entry: RelayedRequest, body: [UInt8], type: SIPHeaderField? = nil) -> Action? {
        let headers = body.isEmpty ? [] : type.map { [($0.name, $0.value)] } ?? []
        if entry.fromCaller {
            guard let ack = try? branches[entry.branch].leg.request(
                .ack, via: branches[entry.branch].target.address, cseq: entry.sentCSeq, headers: headers, body: body)
            else { return nil }
            return send(ack.bytes, toCaller: false, branch: entry.branch)
        }
        guard var leg = branches[entry.branch].callerLeg, let ack = try? leg.request(
            .ack, via: setup.callerAddress, cseq: entry.sentCSeq, headers: headers, body: body)
        else { return nil }
        branches[entry.branch].callerLeg = leg
        return send(ack.bytes, toCaller: true, branch: entry.branch)
    }

    /// Forgets answered relays beyond the newest few (an unacknowledged 2xx to a re-INVITE is kept).
    private mutating func forgetAnsweredRelays() {
        while relayed.count >= Self.maxRelayed / 2, let oldest = relayed.firstIndex(where: {
            $0.finalStatus != nil
                && !($0.method == .invite && (200..<300).contains($0.finalStatus ?? 0) && $0.ackSent == nil)
        }) {
            relayed.remove(at: oldest)
        }
    }

    /// Starts (or restarts, at a refresh) the session timer a 2xx negotiated (RFC 4028 §4: Session-Expires,
    /// in seconds, at least 90; capped at a day).
    private mutating func armSessionTimer(_ response: SIPMessage) -> [Action] {
        guard let value = response.firstField(.sessionExpires)?.value,
            let seconds = Int(value.prefix { $0 >= "0" && $0 <= "9" }), seconds > 0
        else { return [] }
        return restartSessionExpiry(after: .seconds(min(max(seconds, 90), 86_400)))
    }

    /// A subscription lasts what the notifier granted (Expires of its 2xx, RFC 6665 §4.1.2.1) and a grace of 64·T1
    /// for the final NOTIFY: then the edge forgets it (``Timer/sessionExpiry(generation:)``).
    private mutating func armExpiry(_ response: SIPMessage) -> [Action] {
        // Without Expires the notifier granted the default of most event packages (RFC 6665 §4.1.2.1): an hour.
        let value = response.firstField(.expires)?.value ?? "3600"
        let seconds = Int(value.drop { $0 == " " || $0 == "\t" }.prefix { $0 >= "0" && $0 <= "9" }) ?? 3600
        return restartSessionExpiry(after: .seconds(min(seconds, setup.maxSubscriptionSeconds))
                                        + setup.timers.transactionTimeout)
    }

    /// A new generation of the session's expiry: the one it replaces is cancelled, so only the latest waits.
    private mutating func restartSessionExpiry(after delay: Duration) -> [Action] {
        stopSessionExpiry() + [.startTimer(.sessionExpiry(generation: sessionGeneration), after: delay)]
    }

    /// Cancels the session's expiry, and makes it stale should it fire anyway.
    private mutating func stopSessionExpiry() -> [Action] {
        defer { sessionGeneration += 1 }
        return sessionGeneration > 0 ? [.cancelTimer(.sessionExpiry(generation: sessionGeneration))] : []
    }

    /// The relay saw no media in either direction for the configured time: the edge ends the call (BYE on both
    /// legs, CDR reason `media-timeout`), as rtpengine's timeout does. Nothing happens before the call is answered.
    public mutating func mediaTimedOut(now: Int64) -> [Action] {
        hangUp(reason: "media-timeout", now: now)
    }

    /// An SDP the policies passed: the bytes to send on (the offer as filtered, the answer as it came) and their
    /// description, parsed once for the media policy, the address screen and the relay rewrite alike.
    struct Policed {
        var bytes: [UInt8]
        var description: SessionDescription
        /// For an answer, the posture it leaves the call in.
        var posture: MediaPolicy.Posture = .none
    }

    /// The SDP as the other side must see it: through the relay, when the call's media is anchored.
    private func anchored(_ sdp: Policed, fromCaller: Bool, branch: Int?, isOffer: Bool) -> [UInt8] {
        guard let anchor = setup.mediaAnchor, !sdp.bytes.isEmpty, !isSubscription else { return sdp.bytes }
        return anchor.rewrite(sdp.description, fromCaller: fromCaller, isOffer: isOffer,
                              from: party(fromCaller: fromCaller, branch: branch))
    }

    /// The party that sent an SDP: the caller, or the callee of a branch.
    private func party(fromCaller: Bool, branch: Int?) -> MediaParty {
        if fromCaller { return setup.caller }
        guard let branch, branches.indices.contains(branch) else { return MediaParty() }
        return branches[branch].target.party
    }

    /// An offer through the media policy, then through the address policy for the party that sent it (one parse
    /// for both; filtering removes only crypto lines, so the addresses screened are the ones sent on).
    /// `alsoHeldTo`: a second policy the offer must pass as it came (the caller's own leg when SRTP ends at the
    /// relay), on the same parse.
    private func filterOffer(_ body: some Collection<UInt8>, current: MediaPolicy.Posture? = nil, fromCaller: Bool,
                             branch: Int?, alsoHeldTo legPolicy: MediaPolicy? = nil)
        -> Result<Policed, MediaPolicy.Violation>
    {
        MediaPolicy.parse(body).flatMap { parsed in
            if let legPolicy, case .failure(let violation) = legPolicy.filterOffer(parsed, body: body, current: current) {
                return .failure(violation)
            }
            return setup.mediaPolicy.filterOffer(parsed, body: body, current: current).flatMap { filtered in
                screen(parsed, fromCaller: fromCaller, branch: branch).map { .failure($0) }
                    ?? .success(Policed(bytes: filtered.bytes, description: filtered.description))
            }
        }
    }

    /// An answer through the media policy, then through the address policy for the party that sent it.
    private func checkAnswer(_ body: some Collection<UInt8>, current: MediaPolicy.Posture? = nil, fromCaller: Bool,
                             branch: Int?) -> Result<Policed, MediaPolicy.Violation> {
        MediaPolicy.parse(body).flatMap { parsed in
            setup.mediaPolicy.checkAnswer(parsed, current: current).flatMap { posture in
                screen(parsed, fromCaller: fromCaller, branch: branch).map { .failure($0) }
                    ?? .success(Policed(bytes: Array(body), description: parsed, posture: posture))
            }
        }
    }

    private func screen(_ description: SessionDescription, fromCaller: Bool, branch: Int?) -> MediaPolicy.Violation? {
        guard let addresses = setup.addressPolicy, !isSubscription else { return nil }
        return MediaPolicy.screenAddresses(description, with: addresses,
                                           toldBy: party(fromCaller: fromCaller, branch: branch).signalsFrom)
    }

    /// The edge ends an answered call itself: BYE on both legs, and the CDR.
    private mutating func hangUp(reason: String, now: Int64) -> [Action] {
        guard case .answered(let index) = phase else { return [] }
        if isSubscription { return finish(now: now) }  // an expired subscription simply ends
        let actions = byeToCallee(index, now: now) + byeToCaller(index, now: now)
        record.hangupSide = .edge
        record.hangupReason = reason
        return actions + finish(now: now)
    }

    /// The edge's BYE on a branch's callee leg (or caller leg), remembered until answered and retransmitted over UDP.
    private mutating func byeToCallee(_ index: Int, now: Int64) -> [Action] {
        guard let bye = try? branches[index].leg.request(.bye, via: branches[index].target.address) else { return [] }
        return sendBye(bye.bytes, toCaller: false, branch: index, cseq: branches[index].leg.localCSeq, now: now)
    }

    private mutating func byeToCaller(_ index: Int, now: Int64) -> [Action] {
        guard let bytes = requestToCaller(.bye, branch: index), let cseq = branches[index].callerLeg?.localCSeq else {
            return []
        }
        return sendBye(bytes, toCaller: true, branch: index, cseq: cseq, now: now)
    }

    /// Sends one of the edge's BYEs; over UDP through a client transaction (Timers E and F) that the call waits for
    /// before it is finished. Over a connection nothing is resent and nothing waited for.
    private mutating func sendBye(_ bytes: [UInt8], toCaller: Bool, branch: Int, cseq: UInt32, now: Int64)
        -> [Action]
    {
        let overUDP = toCaller ? setup.callerUsesUDP : !branches[branch].target.flow.isReliable
        guard overUDP else { return [send(bytes, toCaller: toCaller, branch: branch)] }
        var transaction = ClientNonInviteTransaction(method: .bye, bytes: bytes, reliable: false, timers: setup.timers)
        let steps = transaction.start(now: .milliseconds(now))
        pendingByes.append(PendingBye(toCaller: toCaller, branch: branch, cseq: cseq, transaction: transaction))
        return carryOut(steps, of: .bye(index: pendingByes.count - 1), toCaller: toCaller, branch: branch,
                        now: now).actions
    }

    /// A response to one of the edge's BYEs, through its transaction; a final one lets the call be finished.
    private mutating func byeAnswered(_ response: SIPMessage, toCaller: Bool, branch: Int, cseq: UInt32, now: Int64)
        -> [Action]
    {
        guard let index = pendingByes.firstIndex(where: {
            $0.toCaller == toCaller && $0.branch == branch && $0.cseq == cseq
        }) else { return [] }
        let steps = pendingByes[index].transaction.receive(response: response, now: .milliseconds(now))
        let (actions, delivered, _) = carryOut(steps, of: .bye(index: index), toCaller: toCaller, branch: branch,
                                              now: now)
        if let status = delivered?.statusCode, status >= 200 { pendingByes[index].answered = true }
        return actions
    }

    /// A request the edge itself sends to the caller on a branch's caller-side dialog.
    private mutating func requestToCaller(_ method: SIPMethod, branch index: Int) -> [UInt8]? {
        guard var leg = branches[index].callerLeg, let request = try? leg.request(method, via: setup.callerAddress)
        else { return nil }
        branches[index].callerLeg = leg
        return request.bytes
    }

    /// The end-to-end headers of a message that may cross to the other leg: the header policy's, without identity
    /// assertions (neither side is trusted to make them) and with Content-Type only when a body goes along.
    private func forwardable(_ message: SIPMessage, bodyKept: Bool, towardsCallee: Bool) -> [(String, String)] {
        let policy = towardsCallee ? setup.calleeHeaderPolicy : setup.headerPolicy
        var headers = policy.filtered(B2BUA.endToEndHeaders(of: message).filter {
            $0.kind != .contentType && $0.kind != .pAssertedIdentity && $0.kind != .pPreferredIdentity
        }).map { ($0.name, $0.value) }
        if bodyKept, let type = message.firstField(.contentType) { headers.append((type.name, type.value)) }
        return headers
    }

    /// An answer the edge gives itself to the request being handled.
    private func respond(_ request: SIPMessage, _ status: Int, headers: [(String, String)] = []) -> [Action] {
        guard let bytes = try? request.makeResponse(status: status, extraHeaders: headers) else { return [] }
        return [.reply(bytes)]
    }

    private func send(_ bytes: [UInt8], toCaller: Bool, branch: Int) -> Action {
        toCaller ? .toCaller(bytes) : .toCallee(branch: branch, bytes: bytes, flow: branches[branch].target.flow)
    }

    /// Whether a REFER's Refer-To (RFC 3515 §2.1) is a SIP URI in `domain` (nil: no REFER is allowed).
    static func refers(_ request: SIPMessage, within domain: String?) -> Bool {
        guard let domain, let value = request.firstField(.referTo)?.value,
            let address = try? SIPAddress(value), case .sip(let uri) = address.uri
        else { return false }
        if case .hostname(let host) = uri.host { return host.lowercased() == domain.lowercased() }
        return false
    }

    /// The domain the call's users are in (the callee's AOR's host), for bodies that must not show addresses.
    var domain: String {
        guard let address = try? SIPAddress(setup.callee), case .sip(let uri) = address.uri else { return "invalid" }
        return uri.host.addressText
    }

    /// A text body with every `sip:`/`sips:` URI whose host is an IP literal (with any port) moved to `domain`.
    static func hidingAddresses(in body: [UInt8], domain: String) -> [UInt8] {
        guard let text = String(validating: body, as: UTF8.self),
            let pattern = try? Regex(#"(sips?:[^@\s"'<>]*@)(\[[0-9A-Fa-f:.]+\]|\d{1,3}(?:\.\d{1,3}){3})(:\d{1,5})?"#)
        else { return body }
        return Array(text.replacing(pattern) { match in
            let prefix = match.output[1].substring ?? ""
            return "\(prefix)\(domain)"
        }.utf8)
    }

    /// Methods whose body is an SDP offer or answer (RFC 3261 §13, RFC 3262, RFC 3311).
    static func carriesOfferAnswer(_ method: SIPMethod) -> Bool {
        method == .invite || method == .update || method == .prack || method == .ack
    }

    /// Whether a message's body is SDP (by its Content-Type; a body without one is taken as SDP, to be safe).
    static func carriesSDP(_ message: SIPMessage) -> Bool {
        guard let type = message.firstField(.contentType)?.value else { return true }
        return type.lowercased().hasPrefix("application/sdp")
    }

    /// Methods whose Contact replaces the dialog's remote target (RFC 3261 §12.2, RFC 3311, RFC 6665, RFC 3515).
    static func refreshesTarget(_ method: SIPMethod) -> Bool {
        method == .invite || method == .update || method == .subscribe || method == .notify || method == .refer
    }

    // MARK: Helpers

    private func relay(_ response: SIPMessage, from index: Int, body: [UInt8]) -> [Action] {
        // The callee is not trusted to assert identities (RFC 3325), and its product details stay with it.
        var headers = setup.headerPolicy.filtered(B2BUA.endToEndHeaders(of: response).filter {
            $0.kind != .contentType && $0.kind != .pAssertedIdentity && $0.kind != .pPreferredIdentity
        })
        if !body.isEmpty, let type = response.firstField(.contentType) { headers.append(type) }
        guard let bytes = try? B2BUA.response(
            relaying: response, to: setup.invite, toTag: branches[index].callerTag, address: setup.callerAddress,
            headers: headers, body: body)
        else { return [] }
        return [.toCaller(bytes)]
    }

    private mutating func ackAndBye(_ index: Int, now: Int64) -> [Action] {
        var actions = [Action]()
        let address = branches[index].target.address
        let flow = branches[index].target.flow
        if let ack = try? branches[index].leg.request(.ack, via: address, cseq: branches[index].inviteCSeq) {
            actions.append(.toCallee(branch: index, bytes: ack.bytes, flow: flow))
        }
        return actions + byeToCallee(index, now: now)
    }

    /// Cancels every unanswered branch but `winner`. A branch that has not answered anything yet is cancelled when
    /// its first provisional response arrives (RFC 3261 §9.1: a CANCEL could overtake its INVITE).
    private mutating func cancelOthers(than winner: Int?, now: Int64) -> [Action] {
        var actions = [Action]()
        for index in branches.indices where index != winner && branches[index].final == nil {
            if branches[index].responded {
                actions += cancel(index, now: now)
            } else {
                branches[index].cancelPending = true
            }
        }
        return actions
    }

    /// The CANCEL of a branch's INVITE, through a non-INVITE client transaction of its own (RFC 3261 §9.1): over
    /// UDP it is sent again until the callee answers it.
    private mutating func cancel(_ index: Int, now: Int64) -> [Action] {
        guard let bytes = branches[index].transaction.cancelRequest() else { return [] }
        var transaction = ClientNonInviteTransaction(method: .cancel, bytes: bytes,
                                                     reliable: branches[index].target.flow.isReliable,
                                                     timers: setup.timers)
        let steps = transaction.start(now: .milliseconds(now))
        branches[index].cancelTransaction = transaction
        return carryOut(steps, of: .cancel(index, cseq: branches[index].inviteCSeq), toCaller: false, branch: index,
                        now: now).actions
    }

    /// Answers the caller's INVITE with a final failure and ends the call.
    private mutating func refuse(_ status: Int, disposition: CallDetailRecord.Disposition, now: Int64) -> [Action] {
        var actions = [Action]()
        let toTag = SIPTag.make()
        if let response = try? setup.invite.makeResponse(status: status, toTag: toTag) {
            actions.append(.toCaller(response))
            finalToCaller = response
            // Resent until acknowledged once branches rang (a refusal at the start is the server transaction's to
            // repeat, for copies of the INVITE, as ``EdgeService`` remembers it).
            if setup.callerUsesUDP, !branches.isEmpty {
                let retransmission = AnswerRetransmission(response: response, timers: setup.timers)
                failureToCaller = (retransmission, toTag)
                actions += carryOut(retransmission.start(now: .milliseconds(now)), of: .failure, toCaller: true, branch: 0,
                                    now: now).actions
            }
        }
        record.finalStatus = status
        record.disposition = disposition
        return actions + finish(now: now)
    }

    private mutating func finish(now: Int64) -> [Action] {
        phase = .ended
        if isSubscription {  // not a call: no CDR; wait for the SUBSCRIBE's final answer a while, at most
            return isFinished ? [] : [.startTimer(.linger, after: setup.timers.transactionTimeout)]
        }
        record.endedAtMilliseconds = now
        // What the SDP exchange came to; the relay's own account of a bridged call replaces it when its media is
        // released.
        record.mediaEncryption = posture.description
        if case .sdes(let suite) = posture { record.srtpSuite = suite.name }
        let release: [Action] = setup.mediaAnchor == nil ? [] : [.releaseMedia]
        if isFinished { return release + [.finished(record)] }
        return release + [.finished(record), .startTimer(.linger, after: setup.timers.transactionTimeout)]
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
        switch best {
        case 503: return 500  // a 503 from a callee is not the edge's overload (RFC 3261 §16.7)
        case 401, 407: return 403  // a callee's or trunk's challenge is the edge's to answer, not the caller's
        default: return best
        }
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
