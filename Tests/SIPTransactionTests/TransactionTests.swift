import SIPMessage
import SIPTransaction
import Testing

/// A manual clock and timer wheel: the owner's side of the sans-I/O contract, stepped without sleeping.
struct TimerWheel {
    var now: Duration = .zero
    var armed: [TransactionTimer: Duration] = [:]
    var sent: [[UInt8]] = []
    var delivered: [SIPMessage] = []
    var timedOut = false
    var terminated = false

    mutating func apply(_ actions: [TransactionAction]) {
        for action in actions {
            switch action {
            case .send(let bytes): sent.append(bytes)
            case .passToTransactionUser(let box): delivered.append(box.message)
            case .scheduleTimer(let timer, let deadline): armed[timer] = deadline
            case .cancelTimer(let timer): armed[timer] = nil
            case .timeout: timedOut = true
            case .terminated: terminated = true
            }
        }
    }

    /// Pops the earliest armed timer and advances the clock to it.
    mutating func nextTimer() -> TransactionTimer? {
        guard let (timer, deadline) = armed.min(by: { $0.value < $1.value }) else { return nil }
        armed[timer] = nil
        now = deadline
        return timer
    }
}

func message(_ text: String) -> SIPMessage {
    try! SIPMessage.parse(Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8))
}

let invite = message("""
    INVITE sip:bob@biloxi.example.com SIP/2.0
    Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8
    Route: <sip:edge.example.com;lr>
    Max-Forwards: 70
    To: Bob <sip:bob@biloxi.example.com>
    From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
    Call-ID: a84b4c76e66710
    CSeq: 314159 INVITE
    Content-Length: 0


    """)

func response(_ status: String, method: String = "INVITE", toTag: String? = "a6c85cf") -> SIPMessage {
    message("""
        SIP/2.0 \(status)
        Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8
        To: Bob <sip:bob@biloxi.example.com>\(toTag.map { ";tag=\($0)" } ?? "")
        From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
        Call-ID: a84b4c76e66710
        CSeq: 314159 \(method)
        Content-Length: 0


        """)
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

@Suite struct AnswerRetransmissionTests {
    @Test func the2xxIsResentDoublingToT2UntilTheACK() {
        var retransmission = AnswerRetransmission(response: Array("SIP/2.0 200 OK".utf8))
        var wheel = TimerWheel()
        wheel.apply(retransmission.start(now: .zero))
        var resent: [Duration] = []
        while let timer = wheel.nextTimer(), wheel.now < .seconds(12) {
            let before = wheel.sent.count
            wheel.apply(retransmission.timerFired(timer, now: wheel.now))
            if wheel.sent.count > before { resent.append(wheel.now) }
        }
        // RFC 3261 §13.3.1.4: T1, then doubling, capped at T2.
        #expect(resent == [.milliseconds(500), .milliseconds(1500), .milliseconds(3500), .milliseconds(7500),
                           .milliseconds(11500)])
        #expect(retransmission.acknowledge() && !retransmission.acknowledge())  // the first ACK counts, once
        #expect(retransmission.timerFired(.g, now: .seconds(16)).isEmpty)
        #expect(retransmission.timerFired(.h, now: .seconds(32)).isEmpty)
    }

    @Test func withoutAnACKItGivesUpAfter64T1() {
        var retransmission = AnswerRetransmission(response: Array("SIP/2.0 200 OK".utf8))
        var wheel = TimerWheel()
        wheel.apply(retransmission.start(now: .zero))
        while let timer = wheel.nextTimer() { wheel.apply(retransmission.timerFired(timer, now: wheel.now)) }
        #expect(wheel.timedOut && wheel.terminated && wheel.now >= .seconds(32))
        #expect(retransmission.state == .abandoned && !retransmission.acknowledge())
    }
}

@Suite struct ClientInviteTransactionTests {
    @Test func unansweredInviteIsRetransmittedThenTimesOutAtTimerB() {
        var transaction = ClientInviteTransaction(request: invite, reliable: false)
        var wheel = TimerWheel()
        wheel.apply(transaction.start(now: wheel.now))
        var retransmissions: [Duration] = []
        while let timer = wheel.nextTimer() {
            let before = wheel.sent.count
            wheel.apply(transaction.timerFired(timer, now: wheel.now))
            if wheel.sent.count > before { retransmissions.append(wheel.now) }
        }
        // Timer A doubles from T1: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; Timer B fires at 64*T1 = 32 s.
        #expect(retransmissions == [.milliseconds(500), .milliseconds(1500), .milliseconds(3500), .milliseconds(7500),
                                    .milliseconds(15500), .milliseconds(31500)])
        #expect(wheel.now == .seconds(32))
        #expect(wheel.timedOut && wheel.terminated)
        #expect(transaction.state == .terminated)
    }

    @Test func failureResponseIsAcknowledgedAndRetransmissionsAbsorbed() throws {
        var transaction = ClientInviteTransaction(request: invite, reliable: false)
        var wheel = TimerWheel()
        wheel.apply(transaction.start(now: wheel.now))
        wheel.apply(transaction.receive(response: response("180 Ringing"), now: .milliseconds(100)))
        #expect(transaction.state == .proceeding)
        #expect(wheel.armed[.a] == nil)  // no retransmission after a provisional
        wheel.apply(transaction.receive(response: response("486 Busy Here"), now: .milliseconds(200)))
        #expect(transaction.state == .completed)
        let ack = try SIPMessage.parse(try #require(wheel.sent.last))
        #expect(ack.method == .ack)
        #expect(ack.requestLine?.requestURIText == "sip:bob@biloxi.example.com")
        #expect(try ack.cseq() == CSeq(sequenceNumber: 314159, method: .ack))
        #expect(try ack.toTag() == "a6c85cf")
        #expect(try ack.vias().map(\.branch) == ["z9hG4bKnashds8"])
        #expect(try ack.routes().count == 1)
        #expect(wheel.delivered.map(\.statusCode) == [180, 486])
        // The 486 again: the ACK is resent, the TU hears nothing more.
        wheel.apply(transaction.receive(response: response("486 Busy Here"), now: .seconds(1)))
        #expect(wheel.sent.filter { $0.starts(with: Array("ACK".utf8)) }.count == 2)
        #expect(wheel.delivered.count == 2)
        #expect(wheel.armed[.d] == .milliseconds(200) + .seconds(32))
        wheel.apply(transaction.timerFired(.d, now: .seconds(33)))
        #expect(transaction.state == .terminated)
    }

    @Test func everyTwoHundredReachesTheTransactionUserUntilTimerM() {
        var transaction = ClientInviteTransaction(request: invite, reliable: true)
        var wheel = TimerWheel()
        wheel.apply(transaction.start(now: .zero))
        #expect(wheel.armed[.a] == nil)  // reliable transport: no retransmissions
        wheel.apply(transaction.receive(response: response("200 OK"), now: .seconds(1)))
        wheel.apply(transaction.receive(response: response("200 OK", toTag: "fork2"), now: .seconds(2)))
        #expect(transaction.state == .accepted)
        #expect(wheel.delivered.count == 2)  // RFC 6026: forked 2xx are not swallowed
        wheel.apply(transaction.timerFired(.m, now: .seconds(33)))
        #expect(transaction.state == .terminated)
    }

    @Test func aCancelMatchesTheInviteItCancels() throws {
        let transaction = ClientInviteTransaction(request: invite, reliable: false)
        let cancel = try SIPMessage.parse(transaction.cancelRequest())
        #expect(cancel.method == .cancel)
        #expect(cancel.requestLine?.requestURIText == "sip:bob@biloxi.example.com")
        #expect(try cancel.vias().map(\.branch) == ["z9hG4bKnashds8"])
        #expect(try cancel.cseq() == CSeq(sequenceNumber: 314159, method: .cancel))
        #expect(try cancel.callID() == invite.callID() && cancel.fromTag() == invite.fromTag())
        #expect(try cancel.toTag() == nil && cancel.routes().count == 1)
        #expect(try cancel.validate().isEmpty)
    }

    @Test func theOwnersBytesAreWhatGoesOnTheWire() {
        // A B2BUA builds its INVITE once: the transaction sends those bytes, not a second serialization.
        let built = Array("INVITE as built".utf8)
        var transaction = ClientTransaction(request: invite, bytes: built, reliable: false, timers: TransactionTimers())
        var wheel = TimerWheel()
        wheel.apply(transaction.start(now: .zero))
        wheel.apply(transaction.timerFired(.a, now: .milliseconds(500)))
        #expect(wheel.sent == [built, built])
        #expect(transaction.cancelRequest() != nil)
        let probe = message("""
            OPTIONS sip:bob@biloxi.example.com SIP/2.0
            Via: SIP/2.0/TLS pc33.atlanta.example.com;branch=z9hG4bKopt
            To: <sip:bob@biloxi.example.com>
            From: <sip:alice@atlanta.example.com>;tag=1
            Call-ID: o1
            CSeq: 1 OPTIONS
            Content-Length: 0


            """)
        var options = ClientTransaction(request: probe, bytes: built, reliable: true, timers: TransactionTimers())
        wheel = TimerWheel()
        wheel.apply(options.start(now: .zero))
        #expect(wheel.armed.keys.sorted { $0.rawValue < $1.rawValue } == [.f])  // non-INVITE, reliable: Timer F only
        #expect(options.cancelRequest() == nil)
    }

    @Test func reliableFailureTerminatesAtOnce() {
        var transaction = ClientInviteTransaction(request: invite, reliable: true)
        var wheel = TimerWheel()
        wheel.apply(transaction.start(now: .zero))
        wheel.apply(transaction.receive(response: response("603 Decline"), now: .seconds(1)))
        #expect(transaction.state == .terminated && wheel.terminated)
    }
}

@Suite struct ClientNonInviteTransactionTests {
    static let register = message("""
        REGISTER sip:example.com SIP/2.0
        Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKreg1
        To: <sip:alice@example.com>
        From: <sip:alice@example.com>;tag=1
        Call-ID: reg-1
        CSeq: 1 REGISTER
        Content-Length: 0


        """)

    @Test func retransmissionsCapAtT2AndTimerFEnds() {
        var transaction = ClientNonInviteTransaction(request: Self.register, reliable: false)
        var wheel = TimerWheel()
        wheel.apply(transaction.start(now: .zero))
        var gaps: [Duration] = []
        var last = Duration.zero
        while let timer = wheel.nextTimer() {
            let before = wheel.sent.count
            wheel.apply(transaction.timerFired(timer, now: wheel.now))
            if wheel.sent.count > before {
                gaps.append(wheel.now - last)
                last = wheel.now
            }
        }
        #expect(Array(gaps.prefix(5)) == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(4)])
        #expect(wheel.now == .seconds(32) && wheel.timedOut)
    }

    @Test func provisionalMovesRetransmissionsToT2() {
        var transaction = ClientNonInviteTransaction(request: Self.register, reliable: false)
        var wheel = TimerWheel()
        wheel.apply(transaction.start(now: .zero))
        wheel.apply(transaction.receive(response: response("100 Trying", method: "REGISTER"), now: .milliseconds(100)))
        wheel.apply(transaction.timerFired(.e, now: .milliseconds(500)))
        #expect(wheel.armed[.e] == .milliseconds(500) + .seconds(4))
        wheel.apply(transaction.receive(response: response("200 OK", method: "REGISTER"), now: .seconds(1)))
        #expect(transaction.state == .completed)
        #expect(wheel.armed[.k] == .seconds(6))
        wheel.apply(transaction.receive(response: response("200 OK", method: "REGISTER"), now: .seconds(2)))
        #expect(wheel.delivered.count == 2)  // the retransmitted 200 is absorbed
    }
}

@Suite struct ServerTransactionTests {
    @Test func failureIsRetransmittedUntilAckThenTimerI() throws {
        var transaction = ServerInviteTransaction(reliable: false)
        var wheel = TimerWheel()
        wheel.apply(transaction.start(request: invite))
        wheel.apply(transaction.send(response: response("100 Trying", toTag: nil), now: .zero))
        wheel.apply(transaction.receive(request: invite, now: .milliseconds(300)))
        #expect(wheel.sent.count == 2)  // the retransmitted INVITE gets the 100 again
        wheel.apply(transaction.send(response: response("486 Busy Here"), now: .seconds(1)))
        #expect(transaction.state == .completed)
        var gaps: [Duration] = []
        var last = Duration.seconds(1)
        for _ in 0..<5 {
            guard let timer = wheel.nextTimer(), timer == .g else { break }
            wheel.apply(transaction.timerFired(timer, now: wheel.now))
            gaps.append(wheel.now - last)
            last = wheel.now
        }
        #expect(gaps == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(4)])
        let ack = message("""
            ACK sip:bob@biloxi.example.com SIP/2.0
            Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8
            To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf
            From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
            Call-ID: a84b4c76e66710
            CSeq: 314159 ACK
            Content-Length: 0


            """)
        wheel.apply(transaction.receive(request: ack, now: wheel.now))
        #expect(transaction.state == .confirmed)
        #expect(wheel.armed[.g] == nil && wheel.armed[.h] == nil)
        wheel.apply(transaction.timerFired(.i, now: wheel.now + .seconds(5)))
        #expect(transaction.state == .terminated)
        #expect(try ServerTransactionKey(request: ack) == ServerTransactionKey(request: invite))
    }

    @Test func missingAckTimesOutAtTimerH() {
        var transaction = ServerInviteTransaction(reliable: true)
        var wheel = TimerWheel()
        wheel.apply(transaction.send(response: response("404 Not Found"), now: .zero))
        #expect(wheel.armed[.g] == nil)  // reliable: no retransmission
        wheel.apply(transaction.timerFired(.h, now: .seconds(32)))
        #expect(wheel.timedOut && transaction.state == .terminated)
    }

    @Test func nonInviteRetransmissionsGetTheLastResponse() {
        var transaction = ServerNonInviteTransaction(reliable: false)
        var wheel = TimerWheel()
        wheel.apply(transaction.start(request: ClientNonInviteTransactionTests.register))
        wheel.apply(transaction.receive(request: ClientNonInviteTransactionTests.register, now: .milliseconds(500)))
        #expect(wheel.sent.isEmpty)  // absorbed in Trying
        wheel.apply(transaction.send(response: response("200 OK", method: "REGISTER"), now: .seconds(1)))
        wheel.apply(transaction.receive(request: ClientNonInviteTransactionTests.register, now: .seconds(2)))
        #expect(wheel.sent.count == 2 && wheel.sent[0] == wheel.sent[1])
        #expect(wheel.armed[.j] == .seconds(33))
        wheel.apply(transaction.timerFired(.j, now: .seconds(33)))
        #expect(transaction.state == .terminated)
    }
}

@Suite struct TransactionKeyTests {
    @Test func cancelFindsTheInviteItCancels() throws {
        let cancel = message("""
            CANCEL sip:bob@biloxi.example.com SIP/2.0
            Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8
            To: Bob <sip:bob@biloxi.example.com>
            From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
            Call-ID: a84b4c76e66710
            CSeq: 314159 CANCEL
            Content-Length: 0


            """)
        #expect(try ServerTransactionKey(request: cancel) != ServerTransactionKey(request: invite))
        #expect(try ServerTransactionKey.cancelledInviteKey(of: cancel) == ServerTransactionKey(request: invite))
    }

    @Test func rfc2543RequestsMatchWithoutABranch() throws {
        let old = message("""
            INVITE sip:UserB@example.com SIP/2.0
            Via: SIP/2.0/UDP iftgw.example.com
            From: <sip:+13035551111@ift.client.example.net;user=phone>;tag=1
            To: sip:+16505552222@ss1.example.net;user=phone
            Call-ID: inv2543.1717@ift.client.example.com
            CSeq: 56 INVITE
            Content-Length: 0


            """)
        guard case .rfc2543(_, _, let fromTag, let callID, let cseq, _) = try ServerTransactionKey(request: old) else {
            Issue.record("expected the RFC 2543 key")
            return
        }
        #expect(fromTag == "1" && callID == "inv2543.1717@ift.client.example.com" && cseq == 56)
    }

    @Test func responsesMatchClientTransactionsByBranchAndMethod() throws {
        #expect(try ClientTransactionKey(message: response("200 OK")) == ClientTransactionKey(message: invite))
        #expect(try ClientTransactionKey(message: response("200 OK", method: "CANCEL"))
            != ClientTransactionKey(message: invite))
    }
}

@Suite struct TransactionTableTests {
    @Test func tableIsBoundedAndForgetsTerminatedTransactions() throws {
        var table = TransactionTable<ServerTransactionKey, ServerNonInviteTransaction>(capacity: 2)
        let first = ServerTransactionKey.rfc3261(branch: "z9hG4bK1", sentBy: "a:5060", method: "OPTIONS")
        let second = ServerTransactionKey.rfc3261(branch: "z9hG4bK2", sentBy: "a:5060", method: "OPTIONS")
        let third = ServerTransactionKey.rfc3261(branch: "z9hG4bK3", sentBy: "a:5060", method: "OPTIONS")
        let inserted = [
            table.insert(ServerNonInviteTransaction(reliable: true), for: first),
            table.insert(ServerNonInviteTransaction(reliable: true), for: first),  // key taken
            table.insert(ServerNonInviteTransaction(reliable: true), for: second),
            table.insert(ServerNonInviteTransaction(reliable: true), for: third),  // full: refuse, keep live state
        ]
        #expect(inserted == [true, false, true, false])
        #expect(table.count == 2)
        let actions = table.update(first) { transaction in
            transaction.send(response: response("200 OK", method: "OPTIONS"), now: .zero)
        }
        #expect(actions?.contains(.terminated) == true)  // reliable: the final response ends it
        #expect(table.count == 1 && table[first] == nil)
        let reinserted = table.insert(ServerNonInviteTransaction(reliable: true), for: third)
        #expect(reinserted)
        let missing = table.update(first) { _ in [] }
        #expect(missing == nil)
    }
}
