import Foundation
import Proxy
import SDP
import SIPMessage
import Storage
import Synchronization
import Testing

/// Records what crosses it and marks each SDP it rewrites, so a test can see which side got which version.
final class RecordingAnchor: MediaAnchor {
    struct Crossing: Equatable {
        var fromCaller: Bool
        var isOffer: Bool
    }

    let crossings = Mutex<[Crossing]>([])
    let finishes = Mutex(0)

    func rewrite(_ sdp: SessionDescription, fromCaller: Bool, isOffer: Bool, from party: MediaParty) -> [UInt8] {
        crossings.withLock { $0.append(Crossing(fromCaller: fromCaller, isOffer: isOffer)) }
        let text = (try? sdp.serialized()) ?? ""
        return Array(text.replacingOccurrences(of: fromCaller ? "192.0.2.10" : "192.0.2.20", with: "203.0.113.5").utf8)
    }

    func finish() -> AnchoredMedia {
        finishes.withLock { $0 += 1 }
        return AnchoredMedia(streams: [CallMediaStream(
            section: 0, sender: .caller, packets: 100, payloadOctets: 16_000, lost: 2, duplicates: 0, outOfOrder: 1,
            jitterMilliseconds: 1.5, meanOpinionScore: 4.3, droppedForeign: 20, droppedUnlatched: 0)],
                             securityEvents: [.mediaAnomaly])
    }
}

@Suite struct MediaAnchorTests {
    /// Every SDP goes through the anchor in order (offer from the caller, answer from the callee, then a re-INVITE
    /// the callee offers and the caller answers); each side only ever sees the anchor's address; the anchor is
    /// finished once and its figures land in the CDR.
    @Test func everySDPCrossesTheAnchorAndItsFiguresLandInTheRecord() throws {
        let anchor = RecordingAnchor()
        var configuration = setup(targets: 1)
        configuration.mediaAnchor = anchor
        var (session, actions) = CallSession.start(configuration, now: 0)
        let invite = try #require(Sent(actions).callee[0]?.first)
        #expect(!String(decoding: invite.body, as: UTF8.self).contains("192.0.2.10"))
        #expect(String(decoding: invite.body, as: UTF8.self).contains("203.0.113.5"))

        let ok = answer(invite, 200, tag: "bob", body: sdesAnswer)
        let relayed = try #require(Sent(session.calleeResponded(ok, branch: 0, now: 1_000)).caller.first)
        #expect(!String(decoding: relayed.body, as: UTF8.self).contains("192.0.2.20"))
        _ = session.callerAcknowledged()

        let reInvite = fromCallee("INVITE", cseq: 2, invite: invite, body: sdesAnswer)
        let towardsCaller = try #require(Sent(session.calleeRequest(reInvite, branch: 0, now: 2_000)).caller.first)
        #expect(!String(decoding: towardsCaller.body, as: UTF8.self).contains("192.0.2.20"))
        let callerOK = reply(towardsCaller, 200, body: sdesAnswer.replacingOccurrences(of: "192.0.2.20", with: "192.0.2.10"))
        let back = try #require(Sent(session.callerResponded(callerOK, now: 2_100)).callee[0]?.first)
        #expect(!String(decoding: back.body, as: UTF8.self).contains("192.0.2.10"))

        #expect(anchor.crossings.withLock { $0 } == [
            .init(fromCaller: true, isOffer: true), .init(fromCaller: false, isOffer: false),
            .init(fromCaller: false, isOffer: true), .init(fromCaller: true, isOffer: false),
        ])
        // The session asks for the release; the edge (here Sent) finishes the anchor.
        let sent = Sent(session.calleeRequest(fromCallee("BYE", cseq: 3, invite: invite), branch: 0, now: 9_000),
                        anchor: anchor)
        #expect(sent.mediaReleases == 1 && anchor.finishes.withLock { $0 } == 1)
        let record = try #require(sent.records.first)
        #expect(record.media.count == 1 && record.media[0].lost == 2 && record.media[0].meanOpinionScore == 4.3)
        #expect(record.securityEvents == ["media-anomaly"])
        #expect(anchor.finishes.withLock { $0 } == 1)
    }

    /// A call refused at once (an offer the policy refuses) still gives its ports back.
    @Test func aRefusedCallFinishesItsAnchor() {
        let anchor = RecordingAnchor()
        var configuration = setup(body: plainSDP, targets: 1)
        configuration.mediaAnchor = anchor
        let (session, actions) = CallSession.start(configuration, now: 0)
        #expect(anchor.finishes.withLock { $0 } == 0, "the session never finishes the anchor itself")
        let sent = Sent(actions, anchor: anchor)
        #expect(sent.caller.map(\.statusCode) == [488] && sent.mediaReleases == 1)
        #expect(session.isEnded && anchor.finishes.withLock { $0 } == 1)
        #expect(anchor.crossings.withLock { $0.isEmpty }, "a refused offer never reaches the anchor")
    }

    /// No media for the timeout: the edge sends BYE on both legs and records `media-timeout`; before the answer
    /// nothing happens.
    @Test func aMediaTimeoutEndsTheCallWithByeOnBothLegs() throws {
        var configuration = setup(targets: 1)
        let anchor = RecordingAnchor()
        configuration.mediaAnchor = anchor
        var (session, actions) = CallSession.start(configuration, now: 0)
        #expect(session.mediaTimedOut(now: 500).isEmpty, "a ringing call is not timed out")
        let invite = try #require(Sent(actions).callee[0]?.first)
        _ = session.calleeResponded(answer(invite, 200, tag: "bob", body: sdesAnswer), branch: 0, now: 1_000)
        _ = session.callerAcknowledged()
        #expect(session.answeredAtMilliseconds == 1_000)
        actions = session.mediaTimedOut(now: 61_000)
        let sent = Sent(actions, anchor: anchor)
        #expect(sent.caller.map(\.method) == [.bye] && sent.callee[0]?.map(\.method) == [.bye])
        let record = try #require(sent.records.first)
        #expect(record.hangupReason == "media-timeout" && record.hangupSide == .edge && record.media.count == 1)
    }
}
