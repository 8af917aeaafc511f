import SDP
import SecurityPolicy
import Testing

/// An SDP with one line per element of `media` after the session lines.
func sdp(_ media: [String]) -> SessionDescription {
    let text = (["v=0", "o=- 1 1 IN IP4 192.0.2.10", "s=-", "c=IN IP4 192.0.2.10", "t=0 0"] + media)
        .joined(separator: "\r\n") + "\r\n"
    return try! SessionDescription(parsing: text)
}

let aesCM80 = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e"
let aesCM32 = "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e"
let gcm128 = "a=crypto:3 AEAD_AES_128_GCM inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHA=="
let gcm256 = "a=crypto:4 AEAD_AES_256_GCM inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKyw="
let fingerprint = "a=fingerprint:sha-256 " + (0..<32).map { _ in "AB" }.joined(separator: ":")

extension Result {
    var violation: MediaPolicy.Violation.Kind? {
        if case .failure(let error as MediaPolicy.Violation) = self { return error.kind }
        return nil
    }
}

@Suite struct MediaPolicyTests {
    let policy = MediaPolicy.srtpOnly

    @Test func plainRTPOffersAndAnswersAreRefusedWith488AndADowngradeEvent() throws {
        let plain = sdp(["m=audio 4000 RTP/AVP 0"])
        guard case .failure(let violation) = policy.checkOffer(plain) else {
            Issue.record("plain RTP offer accepted")
            return
        }
        #expect(violation.kind == .plainRTP)
        #expect(violation.mediaIndex == 0)
        #expect(violation.sipStatus == 488)
        #expect(violation.securityEvent == .mediaDowngradeAttempt)
        #expect(policy.checkAnswer(plain).violation == .plainRTP)
    }

    @Test func weakerSuitesAreStrippedFromAnOfferAndAnOfferOfOnlyWeakOnesIsRefused() throws {
        let mixed = sdp(["m=audio 4000 RTP/SAVP 0", aesCM32, aesCM80])
        let filtered = try policy.checkOffer(mixed).get()
        #expect(filtered.media[0].cryptos.map(\.suite) == [.aesCM128HMACSHA1_80])
        #expect(policy.checkOffer(sdp(["m=audio 4000 RTP/SAVP 0", aesCM32])).violation == .weakCrypto)
        // Session parameters that switch protection off make a suite weak too (RFC 4568 §6.3.4).
        let unencrypted = aesCM80 + " UNENCRYPTED_SRTP"
        #expect(policy.checkOffer(sdp(["m=audio 4000 RTP/SAVP 0", unencrypted])).violation == .weakCrypto)
        let custom = MediaPolicy(allowedSuites: [.aeadAES256GCM])
        #expect(custom.checkOffer(sdp(["m=audio 4000 RTP/SAVP 0", aesCM80, gcm128])).violation == .weakCrypto)
        #expect(try custom.checkOffer(sdp(["m=audio 4000 RTP/SAVP 0", aesCM80, gcm256])).get()
            .media[0].cryptos.map(\.suite) == [.aeadAES256GCM])
    }

    @Test func anAnswerMustPickExactlyOneAllowedSuite() throws {
        #expect(try policy.checkAnswer(sdp(["m=audio 5000 RTP/SAVP 0", gcm128])).get() == .sdes(.aeadAES128GCM))
        #expect(policy.checkAnswer(sdp(["m=audio 5000 RTP/SAVP 0", aesCM32])).violation == .weakCrypto)
        #expect(policy.checkAnswer(sdp(["m=audio 5000 RTP/SAVP 0", aesCM80, gcm128])).violation == .ambiguousAnswer)
        #expect(policy.checkAnswer(sdp(["m=audio 5000 RTP/SAVP 0"])).violation == .noKeying)
    }

    @Test func dtlsSRTPAndZRTPAreEncryptedKeyingAndCanBeSwitchedOff() throws {
        let dtls = sdp(["m=audio 4000 UDP/TLS/RTP/SAVPF 111", fingerprint, "a=setup:actpass"])
        #expect(try policy.checkOffer(dtls).get() == dtls)
        #expect(try policy.checkAnswer(dtls).get() == .dtlsSRTP)
        let zrtp = sdp(["m=audio 4000 RTP/AVP 0", "a=zrtp-hash:1.10 " + String(repeating: "ab", count: 32)])
        #expect(try policy.checkAnswer(zrtp).get() == .zrtp)
        let noExtras = MediaPolicy(allowsDTLSSRTP: false, allowsZRTP: false)
        #expect(noExtras.checkOffer(dtls).violation == .keyingNotAllowed)
        #expect(noExtras.checkOffer(zrtp).violation == .keyingNotAllowed)
    }

    @Test func secureProfilesWithoutKeysAndUnencryptedNonRTPMediaAreRefused() throws {
        #expect(policy.checkOffer(sdp(["m=audio 4000 RTP/SAVP 0"])).violation == .noKeying)
        #expect(policy.checkOffer(sdp(["m=image 4002 udptl t38"])).violation == .unencryptedNonRTP)
        // A rejected stream (port 0) carries no media and is not judged.
        #expect(try policy.checkAnswer(sdp(["m=audio 5000 RTP/SAVP 0", gcm256, "m=video 0 RTP/AVP 96"])).get()
            == .sdes(.aeadAES256GCM))
    }

    @Test func malformedSDPAndMalformedCryptoLinesAreRefused() {
        #expect(policy.checkOffer(body: Array("v=0\r\nnonsense\r\n".utf8)).violation == .malformedSDP)
        let badKey = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
            + "m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:short\r\n"
        guard case .failure(let violation) = policy.checkOffer(body: Array(badKey.utf8)) else {
            Issue.record("malformed crypto accepted")
            return
        }
        #expect(violation.kind == .malformedSDP)
        #expect(violation.securityEvent == .malformedMessage)
    }

    @Test func aLegacyTrunkMayBeAllowedPlainRTPButNoReOfferMayDropEncryption() throws {
        let legacy = MediaPolicy(allowsPlainRTP: true)
        let plain = sdp(["m=audio 4000 RTP/AVP 0"])
        #expect(try legacy.checkAnswer(plain).get() == .plain)
        // Best-effort SDES on a plain profile: the weak line goes, the offer stays (plain is allowed here).
        let bestEffort = try legacy.checkOffer(sdp(["m=audio 4000 RTP/AVP 0", aesCM32])).get()
        #expect(bestEffort.media[0].cryptos.isEmpty)
        #expect(legacy.checkOffer(plain, current: .sdes(.aesCM128HMACSHA1_80)).violation == .encryptionDropped)
        #expect(legacy.checkAnswer(plain, current: .dtlsSRTP).violation == .encryptionDropped)
        #expect(try legacy.checkOffer(plain, current: .plain).get() == plain)
    }

    @Test func aCallsPostureIsItsWeakestStream() throws {
        let answer = sdp(["m=audio 5000 RTP/SAVP 0", gcm256, "m=video 5002 RTP/SAVP 96", aesCM80])
        #expect(try policy.checkAnswer(answer).get() == .sdes(.aesCM128HMACSHA1_80))
        #expect(MediaPolicy.Posture.sdes(.aesCM128HMACSHA1_80).description == "sdes-srtp/AES_CM_128_HMAC_SHA1_80")
        #expect(try MediaPolicy(allowsPlainRTP: true).checkAnswer(
            sdp(["m=audio 5000 RTP/SAVP 0", gcm256, "m=video 5002 RTP/AVP 96"])).get() == .plain)
    }
}
