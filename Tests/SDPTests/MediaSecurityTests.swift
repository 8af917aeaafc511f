import SDP
import Testing

@Suite("Media security classification")
struct MediaSecurityTests {
    static let fingerprintLine =
        "a=fingerprint:sha-256 F9:3F:6D:73:FC:1D:B3:19:CA:35:0E:AB:C6:BE:9D:F5:03:AE:8A:2A:CD:DA:20:39:2B:6E:60:D4:BC:04:C9:DE"
    static let cryptoLine = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(ExampleKeys.bytes30)"
    static let gcmCryptoLine = "a=crypto:2 AEAD_AES_256_GCM inline:\(ExampleKeys.bytes44)"
    static let unknownCryptoLine = "a=crypto:3 NULL_HMAC_SHA1_80 inline:\(ExampleKeys.bytes30)"
    static let zrtpLine = "a=zrtp-hash:1.10 fe30efd02423cb054e50efd0248742ac7a52c8f91bc2df881ae642c371ba46df"

    static func classify(_ lines: [String], sessionAttributes: [String] = []) throws -> MediaSecurityClass {
        let sdp = try SessionDescription(parsing: session(sessionAttributes + lines))
        return try #require(sdp.mediaSecurity.first)
    }

    enum Expected: Sendable {
        case disabled, notRTP, plainRTP, sdes([SRTPCryptoSuite]), dtls, zrtp, bestEffort([SRTPCryptoSuite]), noKeying

        func matches(_ value: MediaSecurityClass) -> Bool {
            switch (self, value) {
            case (.disabled, .disabled), (.notRTP, .notRTP), (.plainRTP, .plainRTP), (.noKeying, .srtpWithoutKeying):
                return true
            case (.sdes(let expected), .sdesSRTP(let suites)), (.bestEffort(let expected), .bestEffortSDES(let suites)):
                return expected == suites
            case (.dtls, .dtlsSRTP(let fingerprints)):
                return fingerprints.count == 1 && fingerprints[0].hashFunction == .sha256
            case (.zrtp, .zrtp(let hashes)):
                return hashes.count == 1
            default:
                return false
            }
        }
    }

    static let cases: [(String, [String], Expected)] = [
        ("plain RTP/AVP", ["m=audio 4000 RTP/AVP 0"], .plainRTP),
        ("plain RTP/AVPF", ["m=video 4000 RTP/AVPF 96"], .plainRTP),
        ("port 0 is disabled", ["m=audio 0 RTP/SAVP 0", cryptoLine], .disabled),
        ("port 0 plain is disabled", ["m=audio 0 RTP/AVP 0"], .disabled),
        ("bundle-only port 0 classified", ["m=audio 0 UDP/TLS/RTP/SAVPF 111", "a=bundle-only", fingerprintLine], .dtls),
        ("T.38 image", ["m=image 4002 udptl t38"], .notRTP),
        ("data channel", ["m=application 9 UDP/DTLS/SCTP webrtc-datachannel", fingerprintLine], .notRTP),
        ("MSRP", ["m=message 7654 TCP/MSRP *"], .notRTP),
        ("SDES one suite", ["m=audio 4000 RTP/SAVP 0", cryptoLine], .sdes([.aesCM128HMACSHA1_80])),
        ("SDES offer order", ["m=audio 4000 RTP/SAVPF 0", gcmCryptoLine, cryptoLine], .sdes([.aeadAES256GCM, .aesCM128HMACSHA1_80])),
        ("SDES unknown suite", ["m=audio 4000 RTP/SAVP 0", unknownCryptoLine], .sdes([.unknown("NULL_HMAC_SHA1_80")])),
        ("SDES wins over fingerprint on RTP/SAVP", ["m=audio 4000 RTP/SAVP 0", cryptoLine, fingerprintLine], .sdes([.aesCM128HMACSHA1_80])),
        ("legacy DTLS on RTP/SAVPF", ["m=audio 4000 RTP/SAVPF 0", fingerprintLine], .dtls),
        ("SAVP without keying", ["m=audio 4000 RTP/SAVP 0"], .noKeying),
        ("DTLS profile", ["m=audio 4000 UDP/TLS/RTP/SAVP 0", fingerprintLine], .dtls),
        ("DTLS profile with feedback", ["m=audio 4000 UDP/TLS/RTP/SAVPF 0", fingerprintLine, "a=setup:actpass"], .dtls),
        ("DTLS profile ignores crypto", ["m=audio 4000 UDP/TLS/RTP/SAVPF 0", cryptoLine], .noKeying),
        ("DTLS profile without fingerprint", ["m=audio 4000 UDP/TLS/RTP/SAVPF 0"], .noKeying),
        ("ZRTP", ["m=audio 4000 RTP/AVP 0", zrtpLine], .zrtp),
        ("ZRTP before best-effort SDES", ["m=audio 4000 RTP/AVP 0", cryptoLine, zrtpLine], .zrtp),
        ("zrtp-hash on SAVP is SDES", ["m=audio 4000 RTP/SAVP 0", cryptoLine, zrtpLine], .sdes([.aesCM128HMACSHA1_80])),
        ("best-effort SDES on AVP", ["m=audio 4000 RTP/AVP 0", cryptoLine], .bestEffort([.aesCM128HMACSHA1_80])),
        ("fingerprint on AVP is plain", ["m=audio 4000 RTP/AVP 0", fingerprintLine], .plainRTP),
        ("odd-case secure proto", ["m=audio 4000 rtp/savp 0", cryptoLine], .sdes([.aesCM128HMACSHA1_80])),
        ("odd-case plain proto is RTP", ["m=audio 4000 rtp/avp 0"], .plainRTP),
        ("TCP/TLS DTLS-style proto", ["m=audio 9 TCP/TLS/RTP/SAVPF 0", fingerprintLine], .dtls),
        ("unknown RTP profile is plain", ["m=audio 4000 RTP/XYZ 0"], .plainRTP),
    ]

    @Test(arguments: cases)
    func classification(name: String, lines: [String], expected: Expected) throws {
        let result = try Self.classify(lines)
        #expect(expected.matches(result), "\(name): got \(result)")
    }

    @Test func sessionLevelFingerprintAndZRTPHashApply() throws {
        #expect(Expected.dtls.matches(try Self.classify(["m=audio 4000 UDP/TLS/RTP/SAVP 0"],
                                                        sessionAttributes: [Self.fingerprintLine])))
        #expect(Expected.zrtp.matches(try Self.classify(["m=audio 4000 RTP/AVP 0"], sessionAttributes: [Self.zrtpLine])))
        // Without the session context only media-level attributes count.
        let sdp = try SessionDescription(parsing: session([Self.fingerprintLine, "m=audio 4000 UDP/TLS/RTP/SAVP 0"]))
        #expect(sdp.media[0].security == .srtpWithoutKeying)
        #expect(MediaSecurity.classify(sdp.media[0], in: sdp) == sdp.security(of: sdp.media[0]))
    }

    @Test func classDescriptionsAndKeyedFlag() throws {
        #expect(MediaSecurityClass.sdesSRTP(suites: [.aesCM128HMACSHA1_80]).description == "sdes-srtp(AES_CM_128_HMAC_SHA1_80)")
        #expect(MediaSecurityClass.plainRTP.description == "plain-rtp")
        #expect(MediaSecurityClass.sdesSRTP(suites: []).isSRTPKeyedInSignalling)
        #expect(MediaSecurityClass.dtlsSRTP(fingerprints: []).isSRTPKeyedInSignalling)
        #expect(!MediaSecurityClass.zrtp(hashes: []).isSRTPKeyedInSignalling)
        #expect(!MediaSecurityClass.bestEffortSDES(suites: []).isSRTPKeyedInSignalling)
        #expect(!MediaSecurityClass.srtpWithoutKeying.isSRTPKeyedInSignalling)
    }

    @Test func everySectionIsClassified() throws {
        let sdp = try SessionDescription(parsing: session([
            "m=audio 4000 RTP/SAVP 0", Self.cryptoLine,
            "m=video 0 RTP/SAVP 96",
            "m=image 4002 udptl t38",
            "m=audio 4004 RTP/AVP 0",
        ]))
        #expect(sdp.mediaSecurity == [.sdesSRTP(suites: [.aesCM128HMACSHA1_80]), .disabled, .notRTP, .plainRTP])
    }
}
