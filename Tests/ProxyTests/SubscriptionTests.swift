import Proxy
import SIPDialog
import SIPMessage
import SecurityPolicy
import Testing

func subscribe() -> SIPMessage {
    try! SIPMessage.parse([
        "SUBSCRIBE sip:bob@example.com SIP/2.0", "Via: SIP/2.0/TLS 192.0.2.10:40000;branch=z9hG4bKs1;rport",
        "Max-Forwards: 70", "From: <sip:alice@example.com>;tag=alice", "To: <sip:bob@example.com>",
        "Call-ID: sub-1", "CSeq: 1 SUBSCRIBE", "Contact: <sip:alice@192.0.2.10:40000;transport=tls>",
        "Event: dialog", "Expires: 600", "Accept: application/dialog-info+xml", "Content-Length: 0", "", "",
    ].joined(separator: "\r\n"))
}

func subscriptionSetup() -> CallSession.Setup {
    let request = subscribe()
    return CallSession.Setup(
        invite: request, forwardedHeaders: B2BUA.endToEndHeaders(of: request), presentedCaller: "<sip:alice@example.com>",
        callee: "<sip:bob@example.com>", callerAddress: edgeAddress,
        targets: [.init(contact: "sip:bob@192.0.2.20:5070;transport=tls", flow: SIPPeer("tls:192.0.2.20:5070")!,
                        address: edgeAddress)],
        mediaPolicy: .srtpOnly, recordID: "s", recordedCaller: "a", recordedCallee: "b", account: nil)
}

/// A NOTIFY from the notifier on the edge's subscription leg.
func notify(to subscribe: SIPMessage, cseq: Int, state: String, body: String = "<dialog-info/>") -> SIPMessage {
    try! SIPMessage.parse([
        "NOTIFY sip:edge@198.51.100.1:5061;transport=tls SIP/2.0", "Via: SIP/2.0/TLS 192.0.2.20:5070;branch=z9hG4bKn\(cseq)",
        "Max-Forwards: 70", "From: <sip:bob@example.com>;tag=bob", "To: <sip:alice@example.com>;tag=\(try! subscribe.fromTag()!)",
        "Call-ID: \(try! subscribe.callID())", "CSeq: \(cseq) NOTIFY", "Contact: <sip:bob@192.0.2.20:5070;transport=tls>",
        "Event: dialog", "Subscription-State: \(state)", "Content-Type: application/dialog-info+xml",
        "Content-Length: \(body.utf8.count)", "", body,
    ].joined(separator: "\r\n"))
}

@Suite struct SubscriptionTests {
    @Test func aSubscriptionIsRelayedItsNotifiesReachTheSubscriberAndATerminatingOneEndsIt() throws {
        var (session, actions) = CallSession.start(subscriptionSetup(), now: 0)
        var sent = Sent(actions)
        #expect(sent.caller.isEmpty)  // no 100 for a non-INVITE
        let towardsBob = try #require(sent.callee[0]?.first)
        #expect(towardsBob.method == .subscribe && towardsBob.fields(named: "Event").first?.value == "dialog")
        #expect(try towardsBob.callID() != "sub-1")

        // The notifier's first NOTIFY may come before its 2xx: it creates the dialog.
        sent = Sent(session.calleeRequest(notify(to: towardsBob, cseq: 1, state: "active;expires=600"), branch: 0,
                                          now: 10))
        let firstNotify = try #require(sent.caller.first)
        #expect(try firstNotify.method == .notify && firstNotify.callID() == "sub-1")
        #expect(try firstNotify.toTag() == "alice" && String(decoding: firstNotify.body, as: UTF8.self) == "<dialog-info/>")
        sent = Sent(session.callerResponded(reply(firstNotify, 200), now: 11))
        #expect(sent.callee[0]?.map(\.statusCode) == [200])

        sent = Sent(session.calleeResponded(tagged(towardsBob, 202, headers: [("Expires", "600")]),
                                            branch: 0, now: 12))
        let accepted = try #require(sent.caller.first)
        #expect(try accepted.statusCode == 202 && accepted.toTag() == firstNotify.fromTag())
        #expect(sent.timers.map(\.milliseconds) == [632_000])  // Expires plus 64·T1 for the last NOTIFY
        #expect(sent.records.isEmpty)

        // A retransmitted SUBSCRIBE gets the same answer again.
        #expect(Sent(session.initialRequestRetransmitted(subscribe())).caller.first?.statusCode == 202)

        // The notifier ends it: relayed, answered, and the session is over without a CDR.
        sent = Sent(session.calleeRequest(notify(to: towardsBob, cseq: 2, state: "terminated;reason=timeout"),
                                          branch: 0, now: 20))
        let last = try #require(sent.caller.first)
        sent = Sent(session.callerResponded(reply(last, 200), now: 21))
        #expect(session.isEnded && sent.records.isEmpty)
        #expect(session.isSubscription)
    }

    /// A dialog-info document names the notifier's devices by address (issue 17): every SIP URI at an IP literal
    /// reaches the subscriber at the served domain instead; names and states pass.
    @Test func notifyBodiesDoNotCarryTheNotifiersAddresses() throws {
        var (session, actions) = CallSession.start(subscriptionSetup(), now: 0)
        let towardsBob = try #require(Sent(actions).callee[0]?.first)
        let document = """
            <dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="sip:bob@example.com">\
            <dialog id="a"><state>confirmed</state><local><identity>sip:bob@example.com</identity>\
            <target uri="sip:bob@192.0.2.20:5070;transport=tls"/></local><remote>\
            <target uri="sips:carol@[2001:db8::7]:5061"/></remote></dialog></dialog-info>
            """
        let sent = Sent(session.calleeRequest(notify(to: towardsBob, cseq: 1, state: "active;expires=600",
                                                     body: document), branch: 0, now: 10))
        let relayed = String(decoding: try #require(sent.caller.first).body, as: UTF8.self)
        #expect(!relayed.contains("192.0.2.20") && !relayed.contains("2001:db8"), "\(relayed)")
        #expect(relayed.contains("<target uri=\"sip:bob@example.com;transport=tls\"/>"), "\(relayed)")
        #expect(relayed.contains("sips:carol@example.com\"") && relayed.contains("<state>confirmed</state>"))
    }

    @Test func anUnansweredSubscriptionIsNotCancelledAndFailsLikeAnyRequest() throws {
        var (session, actions) = CallSession.start(subscriptionSetup(), now: 0)
        let towardsBob = try #require(Sent(actions).callee[0]?.first)
        #expect(session.callerCancelled(now: 1).isEmpty)
        let sent = Sent(session.calleeResponded(tagged(towardsBob, 489), branch: 0, now: 2))
        #expect(sent.caller.map(\.statusCode) == [489])
        #expect(sent.callee.isEmpty)  // no ACK for a SUBSCRIBE's failure
        #expect(session.isFinished && sent.records.isEmpty)
    }

    @Test func aNotifierThatOnlySays100IsGivenUpAfterTimerF() throws {
        var (session, actions) = CallSession.start(subscriptionSetup(), now: 0)
        let towardsBob = try #require(Sent(actions).callee[0]?.first)
        var clock = SessionClock(arming: Sent(actions))
        _ = session.calleeResponded(reply(towardsBob, 100), branch: 0, now: 1)
        let fired = clock.run(&session, limit: 20)
        #expect(fired.flatMap(\.sent.caller).map(\.statusCode) == [408])
        #expect(session.isFinished)
    }
}

/// The notifier's answer to the edge's SUBSCRIBE, with its tag.
func tagged(_ request: SIPMessage, _ status: Int, headers: [(String, String)] = []) -> SIPMessage {
    try! SIPMessage.parse(try! request.makeResponse(status: status, toTag: "bob", extraHeaders: headers))
}