import RTP
import SDP
@testable import SecurityPolicy
import Testing

@Suite struct MediaCryptoWatchTests {
    static let sdes = MediaSecurityClass.sdesSRTP(suites: [SRTPCryptoSuite(name: "AES_CM_128_HMAC_SHA1_80")])
    static let dtls = MediaSecurityClass.dtlsSRTP(fingerprints: [])

    static func rtp(ssrc: UInt32 = 7, sequence: UInt16, payload: [UInt8]) -> [UInt8] {
        [0x80, 0x08, UInt8(sequence >> 8), UInt8(truncatingIfNeeded: sequence), 0, 0, 0, 0,
         UInt8(ssrc >> 24), UInt8(truncatingIfNeeded: ssrc >> 16), UInt8(truncatingIfNeeded: ssrc >> 8),
         UInt8(truncatingIfNeeded: ssrc)] + payload
    }

    /// G.711 A-law silence and speech-like octets: what a phone sends when it does not encrypt.
    static func plainPayload(_ sequence: UInt16) -> [UInt8] {
        (0..<160).map { UInt8(truncatingIfNeeded: 0xD5 ^ (($0 * 3 + Int(sequence)) % 16)) }
    }

    @Test func plainRTPOnAnSRTPStreamIsReportedOnce() {
        var watch = MediaCryptoWatch(offered: Self.sdes, answered: Self.sdes)
        var reported: [MediaCryptoWatch.Finding] = []
        for sequence in UInt16(0)..<50 {
            if let finding = watch.observe(Self.rtp(sequence: sequence, payload: Self.plainPayload(sequence))) {
                reported.append(finding)
            }
        }
        #expect(reported.count == 1)
        #expect(reported.first?.eventKind == .mediaNotEncrypted)
        guard case .plaintextOnSecureStream? = reported.first else {
            Issue.record("expected plaintext, got \(reported)")
            return
        }
    }

    @Test func encryptedPayloadsRaiseNothing() {
        var watch = MediaCryptoWatch(offered: Self.dtls, answered: Self.dtls)
        var generator = SystemRandomNumberGenerator()
        let dtlsHandshake: [UInt8] = [22, 0xFE, 0xFD] + [UInt8](repeating: 0, count: 20)
        #expect(watch.observe(dtlsHandshake) == nil, "DTLS on a DTLS-SRTP stream is expected")
        for sequence in UInt16(0)..<200 {
            let payload = (0..<170).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(watch.observe(Self.rtp(sequence: sequence, payload: payload)) == nil)
        }
        #expect(watch.findings.isEmpty)
    }

    /// DTLS-SRTP offered, SDES answered: rewritten on the way. DTLS then seen on what the SDP calls SDES.
    @Test func keyingThatChangesOnTheWayOrInTheMediaIsAnAnomaly() {
        var watch = MediaCryptoWatch(offered: Self.dtls, answered: Self.sdes)
        #expect(watch.findings == [.keyingChangedInAnswer(offered: "dtls", answered: "sdes")])
        #expect(watch.observe([22, 0xFE, 0xFD] + [UInt8](repeating: 0, count: 20))
                == .unexpectedKeyingInMedia(observed: "dtls", negotiated: "sdes"))
        #expect(watch.observe([22, 0xFE, 0xFD] + [UInt8](repeating: 0, count: 20)) == nil, "once")
        #expect(watch.findings.allSatisfy { $0.eventKind == .mediaAnomaly })
    }

    /// ZRTP in the media path while neither side's SDP carried a=zrtp-hash: a middlebox removed it.
    @Test func zrtpWithoutItsSignalledHashIsAnAnomaly() {
        let hello: [UInt8] = [0x10, 0, 0, 1, 0x5A, 0x52, 0x54, 0x50, 0, 0, 0, 9] + [UInt8](repeating: 0, count: 20)
        #expect(MediaPacketKind(hello) == .zrtp)
        var stripped = MediaCryptoWatch(offered: .plainRTP, answered: .plainRTP)
        #expect(stripped.observe(hello) == .unexpectedKeyingInMedia(observed: "zrtp", negotiated: "plain"))
        var signalled = MediaCryptoWatch(offered: .zrtp(hashes: []), answered: .plainRTP)
        #expect(signalled.observe(hello) == nil)
    }

    @Test func ssrcChurnIsAnAnomaly() {
        var watch = MediaCryptoWatch(offered: .plainRTP, answered: .plainRTP)
        var findings: [MediaCryptoWatch.Finding] = []
        for ssrc in UInt32(1)...8 {
            if let finding = watch.observe(Self.rtp(ssrc: ssrc, sequence: 1, payload: [1, 2, 3])) { findings.append(finding) }
        }
        #expect(findings == [.tooManySSRCs(5)])
    }

    @Test func packetsAreDemultiplexedAsRFC7983Says() {
        #expect(MediaPacketKind([0, 1, 0, 0]) == .stun)
        #expect(MediaPacketKind([22, 0xFE, 0xFD]) == .dtls)
        #expect(MediaPacketKind([0x40, 0, 0, 4]) == .turnChannel)
        #expect(MediaPacketKind(Self.rtp(sequence: 1, payload: [])) == .rtp)
        #expect(MediaPacketKind([0x80, 0xC8, 0, 1, 0, 0, 0, 1]) == .rtcp)
        #expect(MediaPacketKind([0x10, 0, 0, 1, 1, 2, 3, 4, 0, 0, 0, 0]) == .unknown, "no ZRTP cookie")
        #expect(MediaPacketKind([UInt8]()) == .unknown)
    }
}
