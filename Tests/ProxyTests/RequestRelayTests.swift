import Proxy
import SIPDialog
import SIPMessage
import SIPTransaction
import SecurityPolicy
import Testing

func message(_ body: String = "hello") -> SIPMessage {
    try! SIPMessage.parse([
        "MESSAGE sip:bob@example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bKm1;rport",
        "Max-Forwards: 70", "From: <sip:alice@example.com>;tag=alice", "To: <sip:bob@example.com>",
        "Call-ID: im-1", "CSeq: 1 MESSAGE", "Content-Type: text/plain", "Content-Length: \(body.utf8.count)", "", body,
    ].joined(separator: "\r\n"))
}

func relayTargets(_ count: Int, transport: String = "udp") -> [CallSession.Target] {
    (0..<count).map {
        .init(contact: "sip:bob@192.0.2.\(20 + $0):5070", flow: SIPPeer("\(transport):192.0.2.\(20 + $0):5070")!,
              address: SIPLocalAddress(host: .ipv4(0xC633_6401), port: 5060, transport: "UDP"))
    }
}

/// The requests and answers of relay actions.
struct Relayed {
    var replies: [SIPMessage] = []
    var targets: [Int: [SIPMessage]] = [:]
    var timers: [(RequestRelay.Timer, Int)] = []
    init(_ actions: [RequestRelay.Action]) {
        for action in actions {
            switch action {
            case .reply(let bytes): replies.append(try! SIPMessage.parse(bytes))
            case .toTarget(let index, let bytes, _): targets[index, default: []].append(try! SIPMessage.parse(bytes))
            case .startTimer(let timer, let delay): timers.append((timer, Int(delay.wholeMilliseconds)))
            }
        }
    }
}

@Suite struct RequestRelayTests {
    @Test func aMessageGoesToEveryPhoneAndTheFirst2xxAnswersIt() throws {
        let request = message()
        var (relay, actions) = RequestRelay.start(
            request, forwardedHeaders: B2BUA.endToEndHeaders(of: request), from: "<sip:alice@example.com>",
            to: "<sip:bob@example.com>", targets: relayTargets(2), headerPolicy: .minimizing)
        let sent = Relayed(actions)
        let copies = try [0, 1].map { try #require(sent.targets[$0]?.first) }
        #expect(copies.allSatisfy { $0.method == .message && String(decoding: $0.body, as: UTF8.self) == "hello" })
        #expect(try copies.allSatisfy { try $0.callID() != "im-1" && $0.topVia().host.description == "198.51.100.1" })
        #expect(try copies[0].callID() != copies[1].callID())
        // Each copy's Timers E and F, then the relay's expiry.
        #expect(sent.timers.map(\.1) == [500, 32_000, 500, 32_000, 32_000])

        // A failure from one phone waits for the other; its 2xx answers the sender.
        #expect(Relayed(relay.targetResponded(
            try SIPMessage.parse(try copies[0].makeResponse(status: 480, toTag: "x")), target: 0)).replies.isEmpty)
        let ok = Relayed(relay.targetResponded(
            try SIPMessage.parse(try copies[1].makeResponse(status: 200, toTag: "y",
                                                            extraHeaders: [("Server", "phone-9")])), target: 1))
        let answer = try #require(ok.replies.first)
        #expect(try answer.statusCode == 200 && answer.callID() == "im-1" && answer.firstField(.server) == nil)
        #expect(relay.isFinished && relay.timerFired(.expiry).isEmpty)
    }

    @Test func unansweredOrRefusedMessagesGetTheBestFailureOr408() throws {
        let request = message()
        var (failing, first) = RequestRelay.start(
            request, forwardedHeaders: [], from: "<sip:alice@example.com>", to: "<sip:bob@example.com>",
            targets: relayTargets(2), headerPolicy: .minimizing)
        let copies = Relayed(first).targets
        _ = failing.targetResponded(try SIPMessage.parse(try copies[0]![0].makeResponse(status: 408, toTag: "a")), target: 0)
        let refused = Relayed(failing.targetResponded(
            try SIPMessage.parse(try copies[1]![0].makeResponse(status: 486, toTag: "b")), target: 1))
        #expect(refused.replies.map(\.statusCode) == [486])

        var (silent, _) = RequestRelay.start(
            request, forwardedHeaders: [], from: "<sip:alice@example.com>", to: "<sip:bob@example.com>",
            targets: relayTargets(1), headerPolicy: .minimizing)
        let resent = Relayed(silent.timerFired(.transaction(target: 0, .e)))
        #expect(resent.targets[0]?.count == 1 && resent.timers.map(\.1) == [1_000])
        #expect(Relayed(silent.timerFired(.expiry)).replies.map(\.statusCode) == [408])

        let (nobody, alone) = RequestRelay.start(
            request, forwardedHeaders: [], from: "<sip:alice@example.com>", to: "<sip:bob@example.com>", targets: [],
            headerPolicy: .minimizing)
        #expect(Relayed(alone).replies.map(\.statusCode) == [480] && nobody.isFinished)
    }
}
