import Proxy
import SIPAuth
import SIPDialog
import SIPMessage
import SecurityPolicy
import Storage
import Testing

/// An answered call: the session, the INVITE the callee got, and the 200 the caller got.
func answeredCall(maxDurationSeconds: Int? = nil, calleeOK extra: [(String, String)] = [], transport: String = "tls",
                  referDomain: String? = nil)
    throws -> (CallSession, SIPMessage, SIPMessage)
{
    var configuration = setup(targets: 1, transport: transport)
    configuration.maxDurationSeconds = maxDurationSeconds
    configuration.referDomain = referDomain
    var (session, actions) = CallSession.start(configuration, now: 0)
    let invite = try #require(Sent(actions).callee[0]?.first)
    var headers = [("Contact", "<sip:bob@192.0.2.20:5070;transport=tls>"), ("Content-Type", "application/sdp")]
    headers += extra
    let ok = try SIPMessage.parse(try invite.makeResponse(status: 200, toTag: "bob", extraHeaders: headers,
                                                          body: Array(sdesAnswer.utf8)))
    let relayed = try #require(Sent(session.calleeResponded(ok, branch: 0, now: 1_000)).caller.first)
    _ = session.callerAcknowledged()
    return (session, invite, relayed)
}

/// A request from the caller in its dialog with the edge.
func fromCaller(_ method: String, cseq: Int, toTag: String, body: String = "", headers: [String] = []) -> SIPMessage {
    var lines = [
        "\(method) sip:edge@198.51.100.1:5061;transport=tls SIP/2.0",
        "Via: SIP/2.0/TLS 192.0.2.10:40000;branch=z9hG4bKc\(cseq)\(method);rport",
        "Max-Forwards: 70", "From: <sip:alice@example.com>;tag=alice", "To: <sip:bob@example.com>;tag=\(toTag)",
        "Call-ID: call-a", "CSeq: \(cseq) \(method)", "Contact: <sip:alice@192.0.2.11:40001;transport=tls>",
    ] + headers
    if !body.isEmpty { lines.append("Content-Type: application/sdp") }
    lines += ["Content-Length: \(body.utf8.count)", "", body]
    return try! SIPMessage.parse(lines.joined(separator: "\r\n"))
}

/// A request from the callee in its dialog with the edge (the edge's INVITE gave its tag and Call-ID).
func fromCallee(_ method: String, cseq: Int, invite: SIPMessage, body: String = "", contentType: String = "application/sdp",
                headers: [String] = []) -> SIPMessage
{
    var lines = [
        "\(method) sip:edge@198.51.100.1:5061;transport=tls SIP/2.0",
        "Via: SIP/2.0/TLS 192.0.2.20:5070;branch=z9hG4bKd\(cseq)\(method)", "Max-Forwards: 70",
        "From: <sip:bob@example.com>;tag=bob", "To: <sip:alice@example.com>;tag=\(try! invite.fromTag()!)",
        "Call-ID: \(try! invite.callID())", "CSeq: \(cseq) \(method)", "Contact: <sip:bob@192.0.2.20:5070;transport=tls>",
        "User-Agent: Bob's internal PBX 1.2",
    ] + headers
    if !body.isEmpty { lines.append("Content-Type: \(contentType)") }
    lines += ["Content-Length: \(body.utf8.count)", "", body]
    return try! SIPMessage.parse(lines.joined(separator: "\r\n"))
}

/// The answer of the side a request was relayed to.
func reply(_ request: SIPMessage, _ status: Int, body: String = "", headers: [(String, String)] = []) -> SIPMessage {
    var extra = headers
    if !body.isEmpty { extra.append(("Content-Type", "application/sdp")) }
    return try! SIPMessage.parse(try! request.makeResponse(status: status, extraHeaders: extra, body: Array(body.utf8)))
}

@Suite struct InDialogTests {
    @Test func aReInviteFromTheCallerIsRelayedAnsweredAndAcknowledgedOnEachLegsOwnTerms() throws {
        var (session, invite, ok) = try answeredCall()
        let edgeTag = try #require(try ok.toTag())
        let reInvite = fromCaller("INVITE", cseq: 2, toTag: edgeTag, body: sdesOffer)
        var sent = Sent(session.callerRequest(reInvite, now: 5_000))
        #expect(sent.replies.map(\.statusCode) == [100])
        let relayed = try #require(sent.callee[0]?.first)
        #expect(relayed.method == .invite)
        #expect(try relayed.callID() == invite.callID() && relayed.cseq().sequenceNumber == 2)
        #expect(try relayed.toTag() == "bob" && relayed.fromTag() == invite.fromTag())
        #expect(relayed.requestLine?.requestURIText == "sip:bob@192.0.2.20:5070;transport=tls")
        // Nothing of the caller's leg: its Call-ID, addresses and the weak suite stay behind.
        let text = String(decoding: relayed.serialized(), as: UTF8.self)
        #expect(!text.contains("call-a") && !text.contains("192.0.2.11") && !text.contains("z9hG4bKc2INVITE"))
        #expect(!text.contains("SHA1_32") && text.contains("AES_CM_128_HMAC_SHA1_80"))

        sent = Sent(session.calleeResponded(reply(relayed, 200, body: sdesAnswer,
                                                  headers: [("Contact", "<sip:bob@192.0.2.21:5072;transport=tls>")]),
                                            branch: 0, now: 5_100))
        let answer = try #require(sent.caller.first)
        #expect(try answer.statusCode == 200 && answer.cseq().sequenceNumber == 2)
        #expect(try answer.callID() == "call-a" && answer.toTag() == edgeTag)
        #expect(try answer.topVia().branch == "z9hG4bKc2INVITE")
        let contact = try #require(answer.firstField(.contact)?.value)
        #expect(!contact.contains("192.0.2.21") && String(decoding: answer.body, as: UTF8.self) == sdesAnswer)

        sent = Sent(session.callerRequest(fromCaller("ACK", cseq: 2, toTag: edgeTag), now: 5_200))
        let ack = try #require(sent.callee[0]?.first)
        #expect(try ack.method == .ack && ack.cseq().sequenceNumber == 2)
        // The callee's new Contact from its 2xx is where the ACK goes (target refresh).
        #expect(ack.requestLine?.requestURIText == "sip:bob@192.0.2.21:5072;transport=tls")
        // The caller's new Contact is where the edge's BYE goes later.
        sent = Sent(session.calleeRequest(fromCallee("BYE", cseq: 1, invite: invite), branch: 0, now: 9_000))
        #expect(sent.caller.first?.requestLine?.requestURIText == "sip:alice@192.0.2.11:40001;transport=tls")
        #expect(session.isEnded)
    }

    @Test func aReInviteThatDropsEncryptionIsRefusedAndTheCallGoesOn() throws {
        var (session, invite, _) = try answeredCall()
        let sent = Sent(session.calleeRequest(fromCallee("INVITE", cseq: 1, invite: invite, body: plainSDP), branch: 0,
                                              now: 2_000))
        #expect(sent.replies.map(\.statusCode) == [488])
        #expect(sent.caller.isEmpty && sent.events == [.mediaDowngradeAttempt])
        #expect(!session.isEnded)
        // The next, encrypted re-INVITE goes through.
        let next = Sent(session.calleeRequest(fromCallee("INVITE", cseq: 2, invite: invite, body: sdesOffer), branch: 0,
                                              now: 3_000))
        #expect(next.caller.first?.method == .invite)
    }

    /// An offer or answer in another body type would carry media past the policy and the relay (issue 17): a
    /// multipart re-INVITE gets 415 with Accept and goes nowhere; a multipart answer is relayed without its body.
    @Test func offersAndAnswersInOtherBodyTypesNeverCrossUnpoliced() throws {
        var (session, invite, ok) = try answeredCall()
        let multipart = "--b\r\nContent-Type: application/sdp\r\n\r\n" + plainSDP + "\r\n--b--\r\n"
        let refused = Sent(session.calleeRequest(fromCallee("INVITE", cseq: 1, invite: invite, body: multipart,
                                                            contentType: "multipart/mixed;boundary=b"),
                                                 branch: 0, now: 2_000))
        #expect(refused.replies.map(\.statusCode) == [415])
        #expect(refused.replies.first?.fields(named: "Accept").first?.value == "application/sdp")
        #expect(refused.caller.isEmpty && !session.isEnded)

        var sent = Sent(session.callerRequest(fromCaller("INVITE", cseq: 2, toTag: try ok.toTag()!, body: sdesOffer),
                                              now: 3_000))
        let relayed = try #require(sent.callee[0]?.first)
        let multipartAnswer = try SIPMessage.parse(try relayed.makeResponse(
            status: 200, extraHeaders: [("Content-Type", "multipart/mixed;boundary=b")], body: Array(multipart.utf8)))
        sent = Sent(session.calleeResponded(multipartAnswer, branch: 0, now: 3_100))
        let answer = try #require(sent.caller.first)
        #expect(answer.statusCode == 200 && answer.body.isEmpty, "the multipart answer's body stays behind")
    }

    /// REFER transfers only to the edge's own users (issue 17): a Refer-To elsewhere (a premium number at a carrier,
    /// a tel: URI) gets 403 and is not relayed, and without a transfer domain (a call with a trunk) every REFER does.
    @Test func referTransfersOnlyToTheEdgesOwnUsers() throws {
        var (session, invite, _) = try answeredCall(referDomain: "example.com")
        func refer(_ target: String, cseq: Int) -> Sent {
            Sent(session.calleeRequest(fromCallee("REFER", cseq: cseq, invite: invite, headers: ["Refer-To: <\(target)>"]),
                                       branch: 0, now: 2_000 + Int64(cseq)))
        }
        for (cseq, target) in [(1, "sip:+88213@carrier.example"), (2, "tel:+88213"), (3, "sip:carol@example.com.evil")] {
            let refused = refer(target, cseq: cseq)
            #expect(refused.replies.map(\.statusCode) == [403] && refused.caller.isEmpty, "\(target)")
        }
        let local = refer("sip:carol@example.com", cseq: 4)
        #expect(local.caller.first?.method == .refer, "a transfer to one of the edge's users is relayed")

        var (withTrunk, trunkInvite, _) = try answeredCall()
        let noDomain = Sent(withTrunk.calleeRequest(fromCallee("REFER", cseq: 1, invite: trunkInvite,
                                                               headers: ["Refer-To: <sip:carol@example.com>"]),
                                                    branch: 0, now: 2_000))
        #expect(noDomain.replies.map(\.statusCode) == [403])
    }

    /// An OPTIONS answer's SDP names the answering phone's addresses (issue 17): it crosses without its body.
    @Test func anOptionsAnswerCrossesWithoutItsSDP() throws {
        var (session, _, ok) = try answeredCall()
        var sent = Sent(session.callerRequest(fromCaller("OPTIONS", cseq: 2, toTag: try ok.toTag()!), now: 2_000))
        let relayed = try #require(sent.callee[0]?.first)
        sent = Sent(session.calleeResponded(reply(relayed, 200, body: sdesAnswer), branch: 0, now: 2_100))
        let answer = try #require(sent.caller.first)
        #expect(answer.statusCode == 200 && answer.body.isEmpty && answer.firstField(.contentType) == nil)
    }

    @Test func anAnswerThatDropsEncryptionEndsTheCall() throws {
        var (session, _, ok) = try answeredCall()
        var sent = Sent(session.callerRequest(fromCaller("INVITE", cseq: 2, toTag: try ok.toTag()!, body: sdesOffer),
                                              now: 2_000))
        let relayed = try #require(sent.callee[0]?.first)
        sent = Sent(session.calleeResponded(reply(relayed, 200, body: plainSDP), branch: 0, now: 2_100))
        #expect(sent.events == [.mediaDowngradeAttempt])
        #expect(sent.callee[0]?.map(\.method) == [.ack, .bye])
        #expect(sent.caller.map { $0.statusCode ?? 0 } == [488, 0] && sent.caller.last?.method == .bye)
        let record = try #require(sent.records.first)
        #expect(record.hangupReason == "media-downgrade" && record.hangupSide == .edge)
        #expect(record.securityEvents == ["media-downgrade-attempt"])
    }

    @Test func infoAndMessageFromTheCalleeReachTheCallerAndTheirAnswersComeBack() throws {
        var (session, invite, ok) = try answeredCall()
        for (cseq, method) in [(1, "INFO"), (2, "MESSAGE")] {
            let request = fromCallee(method, cseq: cseq, invite: invite, body: "Signal=5\r\n",
                                     contentType: "application/dtmf-relay")
            var sent = Sent(session.calleeRequest(request, branch: 0, now: 2_000))
            let relayed = try #require(sent.caller.first)
            #expect(relayed.method == SIPMethod(stringLiteral: method))
            #expect(try relayed.callID() == "call-a" && relayed.fromTag() == ok.toTag() && relayed.toTag() == "alice")
            #expect(relayed.firstField(.contentType)?.value == "application/dtmf-relay")
            #expect(String(decoding: relayed.body, as: UTF8.self) == "Signal=5\r\n")
            #expect(relayed.firstField(.userAgent) == nil)  // the header policy holds in dialogs too
            sent = Sent(session.callerResponded(reply(relayed, 200), now: 2_100))
            let back = try #require(sent.callee[0]?.first)
            #expect(try back.statusCode == 200 && back.cseq().sequenceNumber == UInt32(cseq))
            #expect(try back.callID() == invite.callID())
            // A retransmission of the request gets the same answer, without a second relay.
            sent = Sent(session.calleeRequest(request, branch: 0, now: 2_200))
            #expect(sent.replies.map(\.statusCode) == [200] && sent.caller.isEmpty)
        }
    }

    @Test func requestsOutOfOrderOrCrossingAnOfferAreRefused() throws {
        var (session, invite, ok) = try answeredCall()
        let tag = try #require(try ok.toTag())
        _ = session.callerRequest(fromCaller("INVITE", cseq: 5, toTag: tag, body: sdesOffer), now: 1)
        // An offer from the other side while one is pending: 491 (RFC 3261 §14.1).
        var sent = Sent(session.calleeRequest(fromCallee("UPDATE", cseq: 1, invite: invite, body: sdesOffer),
                                              branch: 0, now: 2))
        #expect(sent.replies.map(\.statusCode) == [491])
        // A lower CSeq than one seen: 500 (RFC 3261 §12.2.2).
        sent = Sent(session.callerRequest(fromCaller("INFO", cseq: 3, toTag: tag), now: 3))
        #expect(sent.replies.map(\.statusCode) == [500])
        // A tag that names no dialog of the call: 481.
        sent = Sent(session.callerRequest(fromCaller("INFO", cseq: 6, toTag: "other"), now: 4))
        #expect(sent.replies.map(\.statusCode) == [481])
    }

    @Test func prackInAnEarlyDialogCarriesTheRAckOfTheCalleesLeg() throws {
        var (session, actions) = CallSession.start(setup(targets: 1), now: 0)
        let invite = try #require(Sent(actions).callee[0]?.first)
        let reliable = try SIPMessage.parse(try invite.makeResponse(
            status: 183, toTag: "bob",
            extraHeaders: [("Contact", "<sip:bob@192.0.2.20:5070;transport=tls>"), ("Require", "100rel"),
                           ("RSeq", "7")]))
        let progress = try #require(Sent(session.calleeResponded(reliable, branch: 0, now: 1)).caller.first)
        #expect(progress.firstField(.rseq)?.value == "7" && progress.firstField(.require)?.value == "100rel")
        let prack = fromCaller("PRACK", cseq: 2, toTag: try progress.toTag()!, headers: ["RAck: 7 1 INVITE"])
        var sent = Sent(session.callerRequest(prack, now: 2))
        let relayed = try #require(sent.callee[0]?.first)
        let inviteCSeq = try invite.cseq().sequenceNumber
        #expect(relayed.method == .prack && relayed.firstField(.rack)?.value == "7 \(inviteCSeq) INVITE")
        sent = Sent(session.calleeResponded(reply(relayed, 200), branch: 0, now: 3))
        #expect(try sent.caller.map(\.statusCode) == [200] && sent.caller.first?.cseq().method == .prack)
    }

    @Test func aSessionThatIsNotRefreshedExpiresAndARefreshPostponesIt() throws {
        let isExpiry = { (armed: (timer: CallSession.Timer, milliseconds: Int)) in
            if case .sessionExpiry = armed.timer { true } else { false }
        }
        var (session, _, ok) = try answeredCall(calleeOK: [("Session-Expires", "120;refresher=uac")])
        // The timer armed by the 2xx (looked up again: answeredCall did not keep the actions).
        var (fresh, actions) = CallSession.start(setup(targets: 1), now: 0)
        let invite = try #require(Sent(actions).callee[0]?.first)
        let answer = try SIPMessage.parse(try invite.makeResponse(
            status: 200, toTag: "bob",
            extraHeaders: [("Contact", "<sip:bob@192.0.2.20:5070>"), ("Content-Type", "application/sdp"),
                           ("Session-Expires", "120;refresher=uac")], body: Array(sdesAnswer.utf8)))
        let armed = try #require(Sent(fresh.calleeResponded(answer, branch: 0, now: 0)).timers.first(where: isExpiry))
        #expect(armed.milliseconds == 120_000)
        let expired = Sent(fresh.timerFired(armed.timer, now: 120_000))
        #expect(expired.callee[0]?.map(\.method) == [.bye] && expired.caller.map(\.method) == [.bye])
        #expect(expired.records.first?.hangupReason == "session-expired")

        // A refresh (re-INVITE answered 2xx with Session-Expires) makes the first timer stale.
        var sent = Sent(session.callerRequest(fromCaller("INVITE", cseq: 2, toTag: try ok.toTag()!, body: sdesOffer),
                                              now: 60_000))
        let relayed = try #require(sent.callee[0]?.first)
        #expect(relayed.firstField(.sessionExpires) == nil)  // only what the caller sent crosses
        sent = Sent(session.calleeResponded(reply(relayed, 200, body: sdesAnswer,
                                                  headers: [("Session-Expires", "120;refresher=uac")]),
                                            branch: 0, now: 60_100))
        let refreshed = try #require(sent.timers.first(where: isExpiry))
        #expect(session.timerFired(.sessionExpiry(generation: 1), now: 120_000).isEmpty)
        #expect(!Sent(session.timerFired(refreshed.timer, now: 180_100)).records.isEmpty)
    }

    /// Only the latest expiry waits at the edge: a refresh cancels the one it replaces (the edge's timer service
    /// drops it), and the first 2xx cancels nothing.
    @Test func aRefreshCancelsTheExpiryItReplaces() throws {
        var (fresh, actions) = CallSession.start(setup(targets: 1), now: 0)
        let invite = try #require(Sent(actions).callee[0]?.first)
        let ok200 = try SIPMessage.parse(try invite.makeResponse(
            status: 200, toTag: "bob",
            extraHeaders: [("Contact", "<sip:bob@192.0.2.20:5070>"), ("Content-Type", "application/sdp"),
                           ("Session-Expires", "120;refresher=uac")], body: Array(sdesAnswer.utf8)))
        let answered = Sent(fresh.calleeResponded(ok200, branch: 0, now: 0))
        let isExpiry = { (timer: CallSession.Timer) in if case .sessionExpiry = timer { true } else { false } }
        let armed = try #require(answered.timers.map(\.timer).last(where: isExpiry))
        #expect(answered.timers.map(\.timer).filter(isExpiry) == [armed])
        #expect(!answered.cancelled.contains(where: isExpiry))

        let ok = try #require(answered.caller.first)
        var sent = Sent(fresh.callerRequest(fromCaller("INVITE", cseq: 2, toTag: try ok.toTag()!, body: sdesOffer),
                                            now: 60_000))
        let relayed = try #require(sent.callee[0]?.first)
        sent = Sent(fresh.calleeResponded(reply(relayed, 200, body: sdesAnswer,
                                                headers: [("Session-Expires", "120;refresher=uac")]),
                                          branch: 0, now: 60_100))
        let rearmed = try #require(sent.timers.map(\.timer).last(where: isExpiry))
        #expect(sent.cancelled.filter(isExpiry) == [armed] && rearmed != armed)
    }

    @Test func aCallLongerThanTheMaximumIsEndedByTheEdge() throws {
        var configuration = setup(targets: 1)
        configuration.maxDurationSeconds = 3_600
        var (session, actions) = CallSession.start(configuration, now: 0)
        let invite = try #require(Sent(actions).callee[0]?.first)
        let sent = Sent(session.calleeResponded(answer(invite, 200, tag: "bob", body: sdesAnswer), branch: 0, now: 0))
        let limit = try #require(sent.timers.first { $0.timer == .maxDuration })
        #expect(limit.milliseconds == 3_600_000)
        let ended = Sent(session.timerFired(.maxDuration, now: 3_600_000))
        #expect(ended.callee[0]?.map(\.method) == [.bye] && ended.caller.map(\.method) == [.bye])
        #expect(ended.records.first?.hangupReason == "max-duration" && ended.records.first?.durationSeconds == 3_600)
    }

    @Test func overUDPARelayedRequestIsRetransmittedThenTimesOutWith408() throws {
        var (session, _, ok) = try answeredCall(transport: "udp")
        let sent = Sent(session.callerRequest(fromCaller("INFO", cseq: 2, toTag: try ok.toTag()!), now: 0))
        var clock = SessionClock(arming: sent)
        let fired = clock.run(&session)
        let resent = fired.reduce(0) { $0 + ($1.sent.callee[0]?.count ?? 0) }
        let intervals = fired.flatMap { $0.sent.timers.filter { isTransactionTimer($0.timer, .e) }.map(\.milliseconds) }
        // Timer E doubles to T2 and stays there; Timer F gives up after 64·T1 (RFC 3261 §17.1.2.2).
        #expect(intervals == [1_000, 2_000, 4_000, 4_000, 4_000, 4_000, 4_000, 4_000, 4_000, 4_000])
        #expect(resent == intervals.count)
        #expect(fired.flatMap(\.sent.caller).map(\.statusCode) == [408])
        #expect(!session.isEnded)
    }

    @Test func overUDPARelayedRequestAnsweredOnly100IsResentEveryT2AndStillTimesOut() throws {
        // Before the transaction layer a provisional answer stopped both the resending and the timeout: the
        // sender waited forever. RFC 3261 §17.1.2.2: in Proceeding, Timer E fires every T2 and Timer F still runs.
        var (session, _, ok) = try answeredCall(transport: "udp")
        let sent = Sent(session.callerRequest(fromCaller("INFO", cseq: 2, toTag: try ok.toTag()!), now: 0))
        let relayed = try #require(sent.callee[0]?.first)
        var clock = SessionClock(arming: sent)
        #expect(Sent(session.calleeResponded(reply(relayed, 100), branch: 0, now: 1)).caller.isEmpty)
        let fired = clock.run(&session)
        let resentAt = fired.filter { $0.sent.callee[0]?.isEmpty == false }.map(\.now)
        #expect(resentAt == [500, 4_500, 8_500, 12_500, 16_500, 20_500, 24_500, 28_500])
        let timeout = try #require(fired.first { !$0.sent.caller.isEmpty })
        #expect(timeout.now == 32_000 && timeout.sent.caller.map(\.statusCode) == [408])
        #expect(try timeout.sent.caller.first?.cseq() == CSeq(sequenceNumber: 2, method: .info))
    }

    @Test func aCallNobodyAnswersIsCancelledAfterTheRingTimeoutWith408() throws {
        var configuration = setup(targets: 2)
        configuration.ringTimeoutSeconds = 30
        var (session, actions) = CallSession.start(configuration, now: 0)
        let limit = try #require(Sent(actions).timers.first { $0.timer == .ringTimeout })
        #expect(limit.milliseconds == 30_000)
        for (branch, invite) in Sent(actions).callee {
            _ = session.calleeResponded(answer(try #require(invite.first), 180, tag: "r\(branch)"), branch: branch, now: 1)
        }
        let sent = Sent(session.timerFired(.ringTimeout, now: 30_000))
        #expect(sent.callee[0]?.map(\.method) == [.cancel] && sent.callee[1]?.map(\.method) == [.cancel])
        #expect(sent.caller.map(\.statusCode) == [408])
        #expect(sent.records.first?.disposition == .noAnswer && sent.records.first?.hangupReason == "no-answer")
    }

    @Test func aLateOfferIsPolicedInThe2xxAndItsAnswerInTheACK() throws {
        // The caller's INVITE has no SDP: the callee offers in its 2xx, the caller answers in the ACK.
        var (session, actions) = CallSession.start(setup(body: "", targets: 1), now: 0)
        let invite = try #require(Sent(actions).callee[0]?.first)
        #expect(invite.body.isEmpty)
        var sent = Sent(session.calleeResponded(answer(invite, 200, tag: "bob", body: sdesOffer), branch: 0, now: 1))
        let ok = try #require(sent.caller.first)
        // The offer in the 2xx lost its weak suite on the way, like any offer.
        #expect(!String(decoding: ok.body, as: UTF8.self).contains("SHA1_32"))
        let ack = fromCaller("ACK", cseq: 1, toTag: try ok.toTag()!, body: sdesAnswer)
        sent = Sent(session.callerRequest(ack, now: 2))
        let relayed = try #require(sent.callee[0]?.first)
        #expect(relayed.method == .ack && String(decoding: relayed.body, as: UTF8.self) == sdesAnswer)

        // A plain answer in the ACK ends the call.
        var (plain, start) = CallSession.start(setup(body: "", targets: 1), now: 0)
        let second = try #require(Sent(start).callee[0]?.first)
        let offered = try #require(Sent(plain.calleeResponded(answer(second, 200, tag: "bob", body: sdesOffer),
                                                              branch: 0, now: 1)).caller.first)
        sent = Sent(plain.callerRequest(fromCaller("ACK", cseq: 1, toTag: try offered.toTag()!, body: plainSDP), now: 2))
        #expect(sent.events == [.mediaDowngradeAttempt])
        #expect(sent.callee[0]?.map(\.method) == [.ack, .bye] && sent.caller.map(\.method) == [.bye])
        #expect(sent.records.first?.hangupReason == "media-downgrade")
    }

    @Test func aTrunksChallengeIsAnsweredOnceWithTheEdgesAccount() throws {
        var configuration = setup(targets: 1, transport: "udp")
        configuration.targets[0].credentials = .init(username: "rampart", password: "trunk-secret")
        var (session, actions) = CallSession.start(configuration, now: 0)
        let invite = try #require(Sent(actions).callee[0]?.first)
        let challenge = try SIPMessage.parse(try invite.makeResponse(
            status: 407, toTag: "t1",
            extraHeaders: [("Proxy-Authenticate", "Digest realm=\"carrier\", nonce=\"n0nce\", algorithm=MD5, qop=\"auth\"")]))
        var sent = Sent(session.calleeResponded(challenge, branch: 0, now: 10))
        #expect(sent.caller.isEmpty)
        let methods = try #require(sent.callee[0]).map { $0.method }
        #expect(methods == [.ack, .invite])
        let retry = try #require(sent.callee[0]?.last)
        #expect(try retry.cseq().sequenceNumber == invite.cseq().sequenceNumber + 1)
        #expect(try retry.callID() == invite.callID() && retry.fromTag() == invite.fromTag())
        #expect(try retry.topVia().branch != invite.topVia().branch)
        let credentials = try DigestCredentials(parsing: try #require(retry.firstField(.proxyAuthorization)?.value))
        #expect(credentials.username == "rampart" && credentials.realm == "carrier" && credentials.nonce == "n0nce")
        let expected = try DigestHA1(algorithm: DigestAlgorithm.Insecure.md5, username: "rampart", realm: "carrier",
                                     password: "trunk-secret")
            .response(method: "INVITE", uri: retry.requestLine!.requestURIText, nonce: "n0nce", qop: .auth,
                      nonceCount: credentials.nonceCount, cnonce: credentials.cnonce)
        #expect(credentials.response == expected)
        // The old INVITE's retransmission timer is stale now.
        let stale = try #require(Sent(actions).timers.first)
        #expect(session.timerFired(stale.timer, now: 500).isEmpty)
        // A second challenge is a refusal: the caller gets 403, never the trunk's challenge.
        sent = Sent(session.calleeResponded(reply(retry, 407, headers: [("Proxy-Authenticate",
            "Digest realm=\"carrier\", nonce=\"other\", algorithm=MD5")]), branch: 0, now: 20))
        #expect(sent.caller.map(\.statusCode) == [403])
        #expect(sent.caller.first?.firstField(.proxyAuthenticate) == nil)
    }

    @Test func sdpInAPrackOrInAnOfferless2xxIsPolicedToo() throws {
        // A PRACK that offers plain RTP is refused like a re-INVITE would be.
        var (early, actions) = CallSession.start(setup(targets: 1), now: 0)
        let invite = try #require(Sent(actions).callee[0]?.first)
        let reliable = try SIPMessage.parse(try invite.makeResponse(
            status: 183, toTag: "bob", extraHeaders: [("Contact", "<sip:bob@192.0.2.20:5070>"), ("Require", "100rel"),
                                                      ("RSeq", "1"), ("Content-Type", "application/sdp")],
            body: Array(sdesAnswer.utf8)))
        let progress = try #require(Sent(early.calleeResponded(reliable, branch: 0, now: 1)).caller.first)
        let prack = fromCaller("PRACK", cseq: 2, toTag: try progress.toTag()!, body: plainSDP, headers: ["RAck: 1 1 INVITE"])
        let refused = Sent(early.callerRequest(prack, now: 2))
        #expect(refused.replies.map(\.statusCode) == [488] && refused.callee.isEmpty)
        #expect(refused.events == [.mediaDowngradeAttempt])

        // A re-INVITE without SDP: the 2xx offers (weak suite stripped), the ACK answers.
        var (session, _, ok) = try answeredCall()
        var sent = Sent(session.callerRequest(fromCaller("INVITE", cseq: 2, toTag: try ok.toTag()!), now: 10))
        let relayed = try #require(sent.callee[0]?.first)
        sent = Sent(session.calleeResponded(reply(relayed, 200, body: sdesOffer), branch: 0, now: 11))
        let offered = try #require(sent.caller.first)
        #expect(offered.statusCode == 200 && !String(decoding: offered.body, as: UTF8.self).contains("SHA1_32"))
        #expect(!session.isEnded && sent.events.isEmpty)
        sent = Sent(session.callerRequest(fromCaller("ACK", cseq: 2, toTag: try ok.toTag()!, body: sdesAnswer), now: 12))
        let ack = try #require(sent.callee[0]?.first)
        #expect(ack.method == .ack && String(decoding: ack.body, as: UTF8.self) == sdesAnswer)
        // The callee did not get that ACK and sends its 2xx again: the edge answers with the same ACK.
        let again = Sent(session.calleeResponded(reply(relayed, 200, body: sdesOffer), branch: 0, now: 13))
        #expect(again.callee[0]?.map(\.method) == [.ack] && again.caller.isEmpty)
    }

    @Test func aLost2xxAcknowledgementIsRepeated() throws {
        var (session, invite, _) = try answeredCall()
        // answeredCall already ACKed; the callee's 2xx arrives again.
        let repeated = try SIPMessage.parse(try invite.makeResponse(
            status: 200, toTag: "bob", extraHeaders: [("Contact", "<sip:bob@192.0.2.20:5070>"),
                                                      ("Content-Type", "application/sdp")], body: Array(sdesAnswer.utf8)))
        let sent = Sent(session.calleeResponded(repeated, branch: 0, now: 2_000))
        #expect(sent.callee[0]?.map(\.method) == [.ack] && sent.caller.isEmpty)
    }

    @Test func aPrackForAReInvitesReliableProvisionalNamesTheEdgesReInvite() throws {
        var (session, invite, _) = try answeredCall()
        // The callee re-INVITEs; the caller answers 183 reliably; the callee PRACKs it with its own CSeq.
        let reInvite = fromCallee("INVITE", cseq: 7, invite: invite, body: sdesOffer)
        let towardsCaller = try #require(Sent(session.calleeRequest(reInvite, branch: 0, now: 1)).caller.first)
        let callerCSeq = try towardsCaller.cseq().sequenceNumber
        _ = session.callerResponded(try SIPMessage.parse(try towardsCaller.makeResponse(
            status: 183, extraHeaders: [("Require", "100rel"), ("RSeq", "4")])), now: 2)
        let prack = fromCallee("PRACK", cseq: 8, invite: invite, headers: ["RAck: 4 7 INVITE"])
        let relayed = try #require(Sent(session.calleeRequest(prack, branch: 0, now: 3)).caller.first)
        #expect(relayed.firstField(.rack)?.value == "4 \(callerCSeq) INVITE")
        // A RAck naming no INVITE of the dialog gets 481.
        let stray = fromCallee("PRACK", cseq: 9, invite: invite, headers: ["RAck: 4 99 INVITE"])
        #expect(Sent(session.calleeRequest(stray, branch: 0, now: 4)).replies.map(\.statusCode) == [481])
    }
}
