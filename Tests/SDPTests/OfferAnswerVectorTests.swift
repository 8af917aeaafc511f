import SDP
import Testing

@Suite("RFC 3264 §10.1 offer/answer vectors")
struct OfferAnswerVectorTests {
    static func exchange() throws -> [[String]] {
        let vectors = try Vectors.json("rfc3264/offer-answer-10.1.json")
        let steps = try #require(vectors["exchange"] as? [[String: Any]])
        return try steps.map { try #require($0["sdp_lines"] as? [String]) }
    }

    @Test func allStepsParseAndReserializeByteExact() throws {
        let steps = try Self.exchange()
        #expect(steps.count == 4)
        for lines in steps {
            let text = crlf(lines)
            let sdp = try SessionDescription(parsing: text)
            #expect(sdp.sessionName == "")
            #expect(try sdp.serialized() == text)
        }
    }

    @Test func offerAndAnswerContents() throws {
        let steps = try Self.exchange().map { try SessionDescription(parsing: crlf($0)) }
        let offer = steps[0], answer = steps[1], reOffer = steps[2], reAnswer = steps[3]

        #expect(offer.origin.username == "alice")
        #expect(offer.connection?.address == "host.anywhere.com")
        #expect(offer.media.map(\.port) == [49170, 51372, 53000])
        #expect(offer.media.map { $0.rtpMaps.first?.encodingName } == ["PCMU", "H261", "MPV"])
        #expect(offer.mediaSecurity == [.plainRTP, .plainRTP, .plainRTP])

        // Bob rejects the first video stream with port 0 (RFC 3264 §6).
        #expect(answer.media[1].port == 0)
        #expect(answer.media[1].attributes.isEmpty)
        #expect(answer.mediaSecurity == [.plainRTP, .disabled, .plainRTP])

        // Re-offer: same session id, version incremented (RFC 3264 §8).
        #expect(reOffer.origin.sessionID == answer.origin.sessionID)
        #expect(reOffer.origin.sessionVersion == answer.origin.sessionVersion + 1)
        #expect(reOffer.media[0].port == 65422)
        #expect(reOffer.media[3].direction == .recvonly)
        #expect(reOffer.effectiveDirection(of: reOffer.media[0]) == .sendrecv)
        #expect(reOffer.media[3].rtpMap(for: 110)?.encodingName == "telephone-events")

        #expect(reAnswer.origin.sessionVersion == offer.origin.sessionVersion + 1)
        #expect(reAnswer.media[3].direction == .sendonly)
        #expect(reAnswer.media[1].port == 0)
        #expect(reAnswer.media[1].rtpMap(for: 31)?.encodingName == "H261")
        #expect(reAnswer.mediaSecurity == [.plainRTP, .disabled, .plainRTP, .plainRTP])
    }
}
