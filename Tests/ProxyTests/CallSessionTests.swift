import Proxy
import SIPDialog
import SIPMessage
import SIPTransaction
import SecurityPolicy
import Storage
import Testing

let sdesOffer = [
    "v=0", "o=- 1 1 IN IP4 192.0.2.10", "s=-", "c=IN IP4 192.0.2.10", "t=0 0", "m=audio 4000 RTP/SAVP 0",
    "a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e",
    "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e", "",
].joined(separator: "\r\n")
let sdesAnswer = [
    "v=0", "o=- 2 2 IN IP4 192.0.2.20", "s=-", "c=IN IP4 192.0.2.20", "t=0 0", "m=audio 5000 RTP/SAVP 0",
    "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:HhwaGBYUEhAODAoIBgQCAB4cGhgWFBIQDgwKCAYE", "",
].joined(separator: "\r\n")
let plainSDP = ["v=0", "o=- 3 3 IN IP4 192.0.2.30", "s=-", "c=IN IP4 192.0.2.30", "t=0 0", "m=audio 6000 RTP/AVP 0", ""]
    .joined(separator: "\r\n")

func callerInvite(body: String) -> SIPMessage {
    try! SIPMessage.parse([
        "INVITE sip:bob@example.com SIP/2.0", "Via: SIP/2.0/TLS 192.0.2.10:40000;branch=z9hG4bKa1;rport",
        "Max-Forwards: 70", "From: <sip:alice@example.com>;tag=alice", "To: <sip:bob@example.com>",
        "Call-ID: call-a", "CSeq: 1 INVITE", "Contact: <sip:alice@192.0.2.10:40000;transport=tls>",
        "Content-Type: application/sdp", "Content-Length: \(body.utf8.count)", "", body,
    ].joined(separator: "\r\n"))
}

let edgeAddress = SIPLocalAddress(host: .ipv4(0xC633_6401), port: 5061, transport: "TLS")

func setup(body: String = sdesOffer, targets: Int = 2, transport: String = "tls", callerUsesUDP: Bool = false)
    -> CallSession.Setup
{
    CallSession.Setup(
        invite: callerInvite(body: body), presentedCaller: "<sip:alice@example.com>", callee: "<sip:bob@example.com>",
        callerAddress: edgeAddress,
        targets: (0..<targets).map {
            .init(contact: "sip:bob@192.0.2.\(20 + $0):5070;transport=\(transport)",
                  flow: SIPPeer("\(transport):192.0.2.\(20 + $0):5070")!, address: edgeAddress)
        },
        mediaPolicy: .srtpOnly, callerUsesUDP: callerUsesUDP, recordID: "cdr-1", recordedCaller: "sip:alice@example.com",
        recordedCallee: "sip:bob@example.com", account: "alice@example.com")
}

/// The messages of the actions, by destination.
struct Sent {
    var caller: [SIPMessage] = []
    var callee: [Int: [SIPMessage]] = [:]
    /// The edge's own answers to the request handled.
    var replies: [SIPMessage] = []
    var events: [SecurityEvent.Kind] = []
    var records: [CallDetailRecord] = []
    var timers: [(timer: CallSession.Timer, milliseconds: Int)] = []
    var cancelled: [CallSession.Timer] = []
    /// How many times the session asked for its media to be released.
    var mediaReleases = 0

    /// The actions as the edge carries them out: with `anchor`, a media release finishes it and its figures go into
    /// the record that follows.
    init(_ actions: [CallSession.Action], anchor: (any MediaAnchor)? = nil) {
        var released: AnchoredMedia?
        for action in actions {
            switch action {
            case .toCaller(let bytes): caller.append(try! SIPMessage.parse(bytes))
            case .toCallee(let branch, let bytes, _): callee[branch, default: []].append(try! SIPMessage.parse(bytes))
            case .reply(let bytes): replies.append(try! SIPMessage.parse(bytes))
            case .securityEvent(let event): events.append(event)
            case .releaseMedia:
                mediaReleases += 1
                released = anchor?.finish()
            case .finished(var record):
                if let released { record.add(released) }
                records.append(record)
            case .startTimer(let timer, let delay): timers.append((timer, Int(delay.wholeMilliseconds)))
            case .cancelTimer(let timer): cancelled.append(timer)  // SessionClock fires them anyway: they must do nothing
            }
        }
    }
}

/// The edge's timer service in miniature: a session's timers fire in deadline order, each at its deadline, and
/// cancelled ones fire too (the session must ignore them).
struct SessionClock {
    var now: Int64
    private var pending: [(due: Int64, timer: CallSession.Timer)] = []

    init(now: Int64 = 0, arming sent: Sent) {
        self.now = now
        arm(sent)
    }

    mutating func arm(_ sent: Sent) {
        pending += sent.timers.map { (now + Int64($0.milliseconds), $0.timer) }
    }

    /// Fires every timer in deadline order, arming what each starts (at most `limit` firings, and none after one
    /// that meets `stop`): the time and the actions of each firing.
    mutating func run(_ session: inout CallSession, limit: Int = 200, until stop: (Sent) -> Bool = { _ in false })
        -> [(now: Int64, sent: Sent)]
    {
        var fired: [(now: Int64, sent: Sent)] = []
        while fired.count < limit, let position = pending.indices.min(by: { pending[$0].due < pending[$1].due }) {
            let (due, timer) = pending.remove(at: position)
            now = due
            let sent = Sent(session.timerFired(timer, now: now))
            arm(sent)
            fired.append((now, sent))
            if stop(sent) { break }
        }
        return fired
    }
}

/// Whether a timer is the given transaction timer of any of the session's transactions.
func isTransactionTimer(_ timer: CallSession.Timer, _ kind: TransactionTimer) -> Bool {
    if case .transaction(_, let fired) = timer { fired == kind } else { false }
}

/// A callee's response to the edge's INVITE.
func answer(_ invite: SIPMessage, _ status: Int, tag: String, body: String = "") -> SIPMessage {
    var headers = [("Contact", "<sip:bob@192.0.2.20:5070;transport=tls>")]
    if !body.isEmpty { headers.append(("Content-Type", "application/sdp")) }
    return try! SIPMessage.parse(try! invite.makeResponse(status: status, toTag: tag, extraHeaders: headers,
                                                          body: Array(body.utf8)))
}

@Suite struct CallSessionTests {
    @Test func aForkedCallIsAnsweredByOneBranchTheOtherIsCancelledAndByeEndsIt() throws {
        var (session, actions) = CallSession.start(setup(), now: 1_000)
        var sent = Sent(actions)
        #expect(sent.caller.map(\.statusCode) == [100])
        let invites = try [0, 1].map { try #require(sent.callee[$0]?.first) }
        #expect(invites.allSatisfy { $0.method == .invite })
        // The weak suite was stripped from the offer both branches received.
        #expect(invites.allSatisfy { !String(decoding: $0.body, as: UTF8.self).contains("SHA1_32") })

        sent = Sent(session.calleeResponded(answer(invites[0], 180, tag: "ring"), branch: 0, now: 1_100))
        let ringing = try #require(sent.caller.first)
        #expect(try ringing.statusCode == 180 && ringing.callID() == "call-a")

        sent = Sent(session.calleeResponded(answer(invites[1], 200, tag: "bob", body: sdesAnswer), branch: 1,
                                            now: 3_000))
        let ok = try #require(sent.caller.first)
        #expect(ok.statusCode == 200 && String(decoding: ok.body, as: UTF8.self) == sdesAnswer)
        #expect(try ok.toTag() != ringing.toTag())  // one caller-side dialog per callee dialog
        #expect(sent.callee[0]?.map(\.method) == [.cancel])

        sent = Sent(session.callerAcknowledged())
        #expect(sent.callee[1]?.map(\.method) == [.ack])
        #expect(try sent.callee[1]?.first?.toTag() == "bob")

        let bye = try SIPMessage.parse(
            "BYE sip:edge@198.51.100.1 SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.10:40000;branch=z9hG4bKa2\r\n"
                + "From: <sip:alice@example.com>;tag=alice\r\nTo: <sip:bob@example.com>;tag=\(try ok.toTag()!)\r\n"
                + "Call-ID: call-a\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n")
        sent = Sent(session.byeReceived(bye, fromCaller: true, now: 63_000))
        #expect(sent.caller.map(\.statusCode) == [200])
        #expect(sent.callee[1]?.map(\.method) == [.bye])
        let record = try #require(sent.records.first)
        #expect(record.disposition == .answered && record.finalStatus == 200 && record.hangupSide == .caller)
        #expect(record.durationSeconds == 60 && record.srtpSuite == "AES_CM_128_HMAC_SHA1_80")
        #expect(record.mediaEncryption == "sdes-srtp/AES_CM_128_HMAC_SHA1_80")
        #expect(session.isEnded)
    }

    @Test func aPlainRTPOfferIsRefusedBeforeAnyCalleeIsDisturbed() {
        let (session, actions) = CallSession.start(setup(body: plainSDP), now: 0)
        let sent = Sent(actions)
        #expect(sent.caller.map(\.statusCode) == [488])
        #expect(sent.callee.isEmpty)
        #expect(sent.events == [.mediaDowngradeAttempt])
        #expect(sent.records.first?.disposition == .rejected && sent.records.first?.securityEvents == sent.events.map(\.name))
        #expect(session.isEnded)
    }

    @Test func aPlainRTPAnswerIsTakenDownAndTheCallerGets488() throws {
        var (session, actions) = CallSession.start(setup(), now: 0)
        let invites = Sent(actions).callee
        let sent = Sent(session.calleeResponded(answer(try #require(invites[0]?.first), 200, tag: "b", body: plainSDP),
                                                branch: 0, now: 10))
        #expect(sent.callee[0]?.map(\.method) == [.ack, .bye])
        #expect(sent.callee[1] == nil)  // silent so far: cancelled at its first provisional answer
        #expect(sent.caller.map(\.statusCode) == [488])
        #expect(sent.events == [.mediaDowngradeAttempt])
    }

    @Test func whenEveryBranchFailsTheBestAnswerWins() throws {
        var (session, actions) = CallSession.start(setup(), now: 0)
        let invites = Sent(actions).callee
        var sent = Sent(session.calleeResponded(answer(try #require(invites[0]?.first), 480, tag: "x"), branch: 0, now: 5))
        #expect(sent.callee[0]?.map(\.method) == [.ack] && sent.caller.isEmpty)
        #expect(try sent.callee[0]?.first?.topVia().branch == invites[0]?.first?.topVia().branch)
        sent = Sent(session.calleeResponded(answer(try #require(invites[1]?.first), 486, tag: "y"), branch: 1, now: 6))
        #expect(sent.caller.map(\.statusCode) == [486])
        #expect(sent.records.first?.disposition == .busy)
    }

    @Test func aCallerCancelCancelsEveryBranchAndAnswers487() throws {
        var (session, actions) = CallSession.start(setup(), now: 0)
        let invites = Sent(actions).callee
        _ = session.calleeResponded(answer(try #require(invites[0]?.first), 180, tag: "ringing"), branch: 0, now: 1)
        let sent = Sent(session.callerCancelled(now: 2_000))
        // The branch that rang is cancelled now; the silent one once it answers anything (RFC 3261 §9.1).
        #expect(sent.callee[0]?.map(\.method) == [.cancel] && sent.callee[1] == nil)
        #expect(sent.caller.map(\.statusCode) == [487])
        #expect(!session.isFinished)
        let late = Sent(session.calleeResponded(answer(try #require(invites[1]?.first), 100, tag: "x"), branch: 1,
                                                now: 2_100))
        #expect(late.callee[1]?.map(\.method) == [.cancel])
        #expect(sent.records.first?.disposition == .cancelled && sent.records.first?.hangupReason == "cancel")
    }

    @Test func anAnswerThatCrossesTheCancelIsTakenDown() throws {
        var (session, actions) = CallSession.start(setup(targets: 1), now: 0)
        let invite = try #require(Sent(actions).callee[0]?.first)
        _ = session.callerCancelled(now: 1)
        let sent = Sent(session.calleeResponded(answer(invite, 200, tag: "bob", body: sdesAnswer), branch: 0, now: 2))
        #expect(sent.callee[0]?.map(\.method) == [.ack, .bye])
        #expect(sent.caller.isEmpty && sent.records.isEmpty)  // the caller already has its 487 and the CDR is written
    }

    @Test func aByeFromTheCalleeReachesTheCallerOnItsOwnDialog() throws {
        var (session, actions) = CallSession.start(setup(targets: 1), now: 0)
        let invite = try #require(Sent(actions).callee[0]?.first)
        let ok = try #require(Sent(session.calleeResponded(answer(invite, 200, tag: "bob", body: sdesAnswer), branch: 0,
                                                           now: 1)).caller.first)
        let bye = try SIPMessage.parse(
            "BYE sip:edge@198.51.100.1 SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.20:5070;branch=z9hG4bKb9\r\n"
                + "From: <sip:bob@example.com>;tag=bob\r\nTo: <sip:alice@example.com>;tag=\(try invite.fromTag()!)\r\n"
                + "Call-ID: \(try invite.callID())\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n")
        let sent = Sent(session.byeReceived(bye, fromCaller: false, now: 5_000))
        #expect(sent.callee[0]?.map(\.statusCode) == [200])
        let towardsCaller = try #require(sent.caller.first)
        #expect(towardsCaller.method == .bye)
        #expect(try towardsCaller.callID() == "call-a" && towardsCaller.toTag() == "alice")
        #expect(try towardsCaller.fromTag() == ok.toTag())
        #expect(towardsCaller.requestLine?.requestURIText == "sip:alice@192.0.2.10:40000;transport=tls")
        #expect(sent.records.first?.hangupSide == .callee)
    }

    @Test func plainEarlyMediaIsRelayedWithoutItsSDP() throws {
        var (session, actions) = CallSession.start(setup(targets: 1), now: 0)
        let invite = try #require(Sent(actions).callee[0]?.first)
        let sent = Sent(session.calleeResponded(answer(invite, 183, tag: "bob", body: plainSDP), branch: 0, now: 1))
        #expect(sent.caller.map(\.statusCode) == [183])
        #expect(sent.caller.first?.body.isEmpty == true && sent.caller.first?.firstField(.contentType) == nil)
        #expect(sent.events == [.mediaDowngradeAttempt])
    }

    @Test func overUDPTheCalleesInviteIsRetransmittedUntilAnAnswerOrTimerB() throws {
        var (session, actions) = CallSession.start(setup(targets: 1, transport: "udp"), now: 0)
        let sent = Sent(actions)
        #expect(sent.callee[0]?.first?.method == .invite)
        #expect(sent.timers.map(\.milliseconds) == [500, 32_000])  // Timer A at T1, Timer B at 64·T1
        var clock = SessionClock(arming: sent)
        let fired = clock.run(&session)
        let intervals = fired.flatMap { $0.sent.timers.filter { isTransactionTimer($0.timer, .a) }.map(\.milliseconds) }
        let resent = fired.reduce(0) { $0 + ($1.sent.callee[0]?.count ?? 0) }
        #expect(intervals == [1_000, 2_000, 4_000, 8_000, 16_000, 32_000])  // Timer A doubles (RFC 3261 §17.1.1.2)
        #expect(resent == 6)
        let ending = try #require(fired.first { !$0.sent.caller.isEmpty })
        #expect(ending.sent.caller.map(\.statusCode) == [408])  // Timer B: 64·T1 without any answer
        #expect(ending.now == 32_000 && fired.flatMap(\.sent.caller).count == 1)
        #expect(ending.sent.records.first?.disposition == .noAnswer)
        // Any answer stops the retransmissions.
        var (answered, first) = CallSession.start(setup(targets: 1, transport: "udp"), now: 0)
        let timer = try #require(Sent(first).timers.first)
        _ = answered.calleeResponded(answer(try #require(Sent(first).callee[0]?.first), 100, tag: "t"), branch: 0, now: 1)
        #expect(answered.timerFired(timer.timer, now: 500).isEmpty)
    }

    @Test func overUDPTheCancelIsResentUntilTheCalleeAnswersIt() throws {
        // RFC 3261 §9.1: a CANCEL is a request of its own, with a non-INVITE client transaction (Timer E over UDP).
        var (session, actions) = CallSession.start(setup(targets: 1, transport: "udp"), now: 0)
        let invite = try #require(Sent(actions).callee[0]?.first)
        _ = session.calleeResponded(answer(invite, 180, tag: "bob"), branch: 0, now: 10)
        let cancelled = Sent(session.callerCancelled(now: 100))
        let cancel = try #require(cancelled.callee[0]?.first)
        #expect(try cancel.method == .cancel && cancel.topVia().branch == invite.topVia().branch)
        #expect(cancelled.caller.map(\.statusCode) == [487])
        var clock = SessionClock(now: 100, arming: Sent(cancelled.timers.compactMap {
            if case .transaction(.cancel, _) = $0.timer { .startTimer($0.timer, after: .milliseconds($0.milliseconds)) }
            else { nil }
        }))
        let unanswered = clock.run(&session, limit: 3)
        #expect(unanswered.map { $0.sent.callee[0]?.map(\.method) ?? [] } == [[.cancel], [.cancel], [.cancel]])
        #expect(unanswered.map(\.now) == [600, 1_600, 3_600])  // Timer E doubles from T1
        // Its 200 ends the CANCEL's transaction: nothing more is resent, and the caller heard 487 once.
        _ = session.calleeResponded(try SIPMessage.parse(try cancel.makeResponse(status: 200, toTag: "bob")), branch: 0,
                                    now: 3_700)
        let answered = clock.run(&session)
        #expect(answered.allSatisfy { $0.sent.callee.isEmpty && $0.sent.caller.isEmpty })
    }

    @Test func aRetransmittedFailureIsAcknowledgedAgainAndRelayedOnce() throws {
        // The callee resends its 486 when the edge's ACK is lost (RFC 3261 §17.1.1.2): the transaction answers it
        // with the same ACK again, and the caller hears the failure once.
        var (session, actions) = CallSession.start(setup(targets: 1, transport: "udp"), now: 0)
        let invite = try #require(Sent(actions).callee[0]?.first)
        let busy = answer(invite, 486, tag: "bob")
        let first = Sent(session.calleeResponded(busy, branch: 0, now: 10))
        #expect(first.callee[0]?.map(\.method) == [.ack] && first.caller.map(\.statusCode) == [486])
        let again = Sent(session.calleeResponded(busy, branch: 0, now: 600))
        #expect(again.callee[0]?.map(\.method) == [.ack] && again.caller.isEmpty && again.records.isEmpty)
        let ack = try #require(again.callee[0]?.first)
        #expect(try ack.toTag() == "bob" && ack.cseq() == CSeq(sequenceNumber: invite.cseq().sequenceNumber, method: .ack))
        #expect(try ack.topVia().branch == invite.topVia().branch)  // the INVITE's transaction, as RFC 3261 §17.1.1.3 says
        #expect(ack.serialized() == first.callee[0]?.first?.serialized())
    }

    @Test func overUDPThe2xxIsRetransmittedToTheCallerUntilItsACK() throws {
        var (session, actions) = CallSession.start(setup(targets: 1, callerUsesUDP: true), now: 0)
        let invite = try #require(Sent(actions).callee[0]?.first)
        var sent = Sent(session.calleeResponded(answer(invite, 200, tag: "bob", body: sdesAnswer), branch: 0, now: 1))
        let timer = try #require(sent.timers.first { $0.timer == .transaction(.answer, .g) })
        #expect(timer.milliseconds == 500)
        sent = Sent(session.timerFired(timer.timer, now: 501))
        #expect(sent.caller.map(\.statusCode) == [200] && sent.timers.map(\.milliseconds) == [1_000])
        #expect(Sent(session.callerAcknowledged()).callee[0]?.map(\.method) == [.ack])
        #expect(session.callerAcknowledged().isEmpty)  // a retransmitted ACK is not forwarded twice
        #expect(session.timerFired(timer.timer, now: 1_501).isEmpty)

        // Never acknowledged: after 64·T1 both legs get a BYE and the call ends.
        var (lost, start) = CallSession.start(setup(targets: 1, callerUsesUDP: true), now: 0)
        sent = Sent(lost.calleeResponded(answer(try #require(Sent(start).callee[0]?.first), 200, tag: "bob",
                                                body: sdesAnswer), branch: 0, now: 1))
        var clock = SessionClock(now: 1, arming: sent)
        let ending = try #require(clock.run(&lost, until: { !$0.records.isEmpty }).last)
        let now = ending.now
        sent = ending.sent
        #expect(now == 32_001)  // 64·T1 after the 2xx
        #expect(sent.callee[0]?.map(\.method) == [.ack, .bye] && sent.caller.map(\.method) == [.bye])
        #expect(sent.records.first?.hangupReason == "no-ack" && sent.records.first?.hangupSide == .edge)
        // The BYE to the caller (over UDP) is sent again until answered; then the call is forgotten.
        let byeTimer = try #require(sent.timers.first { if case .transaction(.bye, .e) = $0.timer { true } else { false } })
        let bye = try #require(sent.caller.first)
        #expect(!lost.isFinished)
        #expect(Sent(lost.timerFired(byeTimer.timer, now: now + 500)).caller.map(\.method) == [.bye])
        _ = lost.callerResponded(try SIPMessage.parse(try bye.makeResponse(status: 200)), now: now + 600)
        #expect(lost.isFinished && lost.timerFired(byeTimer.timer, now: now + 1_500).isEmpty)
    }

    /// An operator ends a ringing call (``CallSession/terminate(now:reason:)``): the branch is cancelled, the caller
    /// answered 503; over UDP that 503 is sent again on Timer G until the caller's ACK (RFC 3261 §17.2.1): a caller
    /// that had a 180 no longer resends its INVITE, so one lost datagram would leave it waiting.
    @Test func aRingingCallEndedByTheEdgeIsCancelledAndTheCallersFailureResentUntilAcknowledged() throws {
        var (session, actions) = CallSession.start(setup(targets: 1, transport: "udp", callerUsesUDP: true), now: 0)
        let invite = try #require(Sent(actions).callee[0]?.first)
        _ = session.calleeResponded(answer(invite, 180, tag: "bob"), branch: 0, now: 10)
        var sent = Sent(session.terminate(now: 20, reason: "operator"))
        #expect(sent.callee[0]?.map(\.method) == [.cancel])
        let refusal = try #require(sent.caller.first)
        #expect(refusal.statusCode == 503 && sent.records.first?.hangupReason == "operator"
                && sent.records.first?.hangupSide == .edge)
        let timer = try #require(sent.timers.first { $0.timer == .transaction(.failure, .g) })
        #expect(timer.milliseconds == 500 && !session.isFinished)
        sent = Sent(session.timerFired(timer.timer, now: 520))
        #expect(sent.caller.map(\.statusCode) == [503] && sent.timers.map(\.milliseconds) == [1_000])
        let ack = try SIPMessage.parse([
            "ACK sip:bob@example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bKa1;rport",
            "Max-Forwards: 70", "From: <sip:alice@example.com>;tag=alice",
            "To: <sip:bob@example.com>;tag=\(try #require(try refusal.toTag()))", "Call-ID: call-a", "CSeq: 1 ACK",
            "Content-Length: 0", "", "",
        ].joined(separator: "\r\n"))
        #expect(session.callerRequest(ack, now: 700).isEmpty)
        #expect(session.timerFired(timer.timer, now: 1_520).isEmpty, "acknowledged: nothing more is sent")
        // The callee's 487 for the cancelled INVITE closes the branch: the session is done.
        _ = session.calleeResponded(answer(invite, 487, tag: "bob"), branch: 0, now: 800)
        #expect(session.isFinished)

        // Never acknowledged: resent at 0.5, 1, 2, 4, 4... seconds, given up after 64·T1.
        var (lost, start) = CallSession.start(setup(targets: 1, transport: "udp", callerUsesUDP: true), now: 0)
        let lostInvite = try #require(Sent(start).callee[0]?.first)
        _ = lost.calleeResponded(answer(lostInvite, 180, tag: "bob"), branch: 0, now: 10)
        var clock = SessionClock(now: 20, arming: Sent(lost.terminate(now: 20, reason: "operator")))
        let resent = clock.run(&lost).filter { $0.sent.caller.contains { $0.statusCode == 503 } }.map(\.now)
        #expect(resent.prefix(4) == [520, 1_520, 3_520, 7_520] && resent.allSatisfy { $0 < 32_020 }, "\(resent)")
    }

    @Test func callsWithNoBindingGet480() {
        let (_, actions) = CallSession.start(setup(targets: 0), now: 0)
        #expect(Sent(actions).caller.map(\.statusCode) == [480])
    }
}
