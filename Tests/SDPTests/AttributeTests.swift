import SDP
import Testing

@Suite("Typed attribute accessors")
struct AttributeTests {
    static func media(_ attributes: [String], proto: String = "RTP/AVP 0 8 96 101") throws -> MediaDescription {
        try SessionDescription(parsing: session(["m=audio 4000 \(proto)"] + attributes)).media[0]
    }

    // MARK: rtpmap / fmtp

    @Test func rtpMaps() throws {
        let media = try Self.media([
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:96 opus/48000/2",
            "a=rtpmap:101 telephone-event/8000",
        ])
        #expect(media.rtpMaps == [
            SDPRTPMap(payloadType: 0, encodingName: "PCMU", clockRate: 8000),
            SDPRTPMap(payloadType: 96, encodingName: "opus", clockRate: 48000, encodingParameters: 2),
            SDPRTPMap(payloadType: 101, encodingName: "telephone-event", clockRate: 8000),
        ])
        #expect(media.rtpMap(for: 96)?.channels == 2)
        #expect(media.rtpMap(for: 0)?.channels == 1)
        #expect(media.rtpMap(for: 8) == nil)
        #expect(SDPRTPMap(payloadType: 96, encodingName: "opus", clockRate: 48000, encodingParameters: 2).description
                == "96 opus/48000/2")
    }

    @Test(arguments: ["128 PCMU/8000", "0 PCMU", "0 PCMU/0", "0 PCMU/8000/0", "0 PCMU/8000/2/1", "x PCMU/8000",
                      "0  PCMU/8000", "0 PCMU/8000 ", "0 PC MU/8000", "0 PCMU/99999999999"])
    func malformedRTPMap(value: String) {
        #expect(captureError { try SDPRTPMap(parsing: value) }?.code == .invalidRTPMap)
        #expect(parseError(session(["m=audio 4000 RTP/AVP 0", "a=rtpmap:\(value)"]))?.code == .invalidRTPMap)
    }

    @Test func formatParameters() throws {
        let media = try Self.media([
            "a=rtpmap:96 H264/90000",
            "a=fmtp:96 profile-level-id=42e01f; packetization-mode=1;level-asymmetry-allowed=1",
            "a=fmtp:101 0-15",
        ])
        let h264 = try #require(media.fmtp(for: 96))
        #expect(h264.payloadType == 96)
        #expect(h264.parameter(named: "packetization-mode") == "1")
        #expect(h264.parameter(named: "PROFILE-LEVEL-ID") == "42e01f")
        #expect(h264.parameterList.count == 3)
        #expect(media.fmtp(for: 101)?.parameters == "0-15")
        #expect(media.fmtp(for: 0) == nil)
        #expect(captureError { try SDPFormatParameters(parsing: "96") }?.code == .invalidFormatParameters)
        #expect(captureError { try SDPFormatParameters(parsing: "96 ") }?.code == .invalidFormatParameters)
    }

    @Test func duplicateRTPMapOrFMTPIsRejected() {
        #expect(parseError(session(["m=audio 4000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMA/8000"]))?.code
                == .duplicateAttribute)
        #expect(parseError(session(["m=audio 4000 RTP/AVP 0", "a=fmtp:0 a=1", "a=fmtp:0 b=2"]))?.code
                == .duplicateAttribute)
    }

    @Test(arguments: ["rtpmap:0 PCMU/8000", "fmtp:0 x=1", "crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(ExampleKeys.bytes30)",
                      "candidate:1 1 UDP 1 192.0.2.1 1 typ host", "rtcp:4001", "ptime:20", "maxptime:40"])
    func mediaLevelAttributesAreRejectedAtSessionLevel(attribute: String) {
        #expect(parseError(session(["a=\(attribute)"]))?.code == .misplacedAttribute)
    }

    // MARK: direction

    @Test(arguments: SDPDirection.allCases)
    func direction(_ direction: SDPDirection) throws {
        let sdp = try SessionDescription(parsing: session(["m=audio 4000 RTP/AVP 0", "a=\(direction.rawValue)"]))
        #expect(sdp.media[0].direction == direction)
        #expect(sdp.effectiveDirection(of: sdp.media[0]) == direction)
    }

    @Test func directionDefaultsAndPrecedence() throws {
        let sdp = try SessionDescription(parsing: session([
            "a=sendonly",
            "m=audio 4000 RTP/AVP 0",
            "m=audio 4002 RTP/AVP 0",
            "a=inactive",
        ]))
        #expect(sdp.direction == .sendonly)
        #expect(sdp.media[0].direction == nil)
        #expect(sdp.effectiveDirection(of: sdp.media[0]) == .sendonly)
        #expect(sdp.effectiveDirection(of: sdp.media[1]) == .inactive)
        let plain = try SessionDescription(parsing: session(["m=audio 4000 RTP/AVP 0"]))
        #expect(plain.effectiveDirection(of: plain.media[0]) == .sendrecv)
        #expect(SDPDirection.sendonly.sends && !SDPDirection.sendonly.receives)
        #expect(SDPDirection.inactive.sends == false && SDPDirection.inactive.receives == false)
    }

    @Test func conflictingOrValuedDirectionIsRejected() {
        #expect(parseError(session(["m=audio 4000 RTP/AVP 0", "a=sendonly", "a=recvonly"]))?.code == .duplicateAttribute)
        #expect(parseError(session(["m=audio 4000 RTP/AVP 0", "a=sendonly:yes"]))?.code == .invalidAttribute)
        #expect(parseError(session(["m=audio 4000 RTP/AVP 0", "a=rtcp-mux:1"]))?.code == .invalidAttribute)
    }

    // MARK: rtcp / rtcp-mux

    @Test func rtcpAndRTCPMux() throws {
        let media = try Self.media(["a=rtcp:53020 IN IP4 126.16.64.4", "a=rtcp-mux"])
        #expect(media.rtcp == SDPRTCPAttribute(port: 53020, connection: ConnectionData(address: "126.16.64.4")))
        #expect(media.rtcpMux)
        let bare = try Self.media(["a=rtcp:53020"])
        #expect(bare.rtcp == SDPRTCPAttribute(port: 53020))
        #expect(!bare.rtcpMux)
        #expect(SDPRTCPAttribute(port: 9, connection: ConnectionData(address: "0.0.0.0")).description == "9 IN IP4 0.0.0.0")
    }

    @Test(arguments: ["", "x", "70000", "53020 IN IP4", "53020 IN IP4 224.2.1.1/127", "53020  IN IP4 1.2.3.4"])
    func malformedRTCP(value: String) {
        #expect(captureError { try SDPRTCPAttribute(parsing: value) }?.code == .invalidRTCP)
    }

    // MARK: ptime

    @Test func packetTimes() throws {
        let media = try Self.media(["a=ptime:20", "a=maxptime:40"])
        #expect(media.ptime == 20)
        #expect(media.maxptime == 40)
        #expect(try Self.media(["a=ptime:22.5"]).ptime == 22.5)
        #expect(try Self.media([]).ptime == nil)
    }

    @Test(arguments: ["0", "-20", "abc", "1e3", "inf", "nan", "20.", ".5", "1234567", "20 ms"])
    func malformedPacketTime(value: String) {
        #expect(parseError(session(["m=audio 4000 RTP/AVP 0", "a=ptime:\(value)"]))?.code == .invalidPacketTime)
    }

    @Test func duplicatePacketTimeIsRejected() {
        #expect(parseError(session(["m=audio 4000 RTP/AVP 0", "a=ptime:20", "a=ptime:30"]))?.code == .duplicateAttribute)
    }

    // MARK: telephone-event (RFC 4733)

    @Test func telephoneEventFromVectors() throws {
        let vectors = try Vectors.json("rfc4733/telephone-event.json")
        let layout = try #require(vectors["payload_layout"] as? [String: Any])
        let sdpHint = try #require(layout["sdp"] as? String)
        #expect(sdpHint.contains("telephone-event/8000"))
        let codes = try #require(vectors["dtmf_event_codes"] as? [String: Int])
        #expect(codes.count == 16)

        let media = try Self.media(["a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15"])
        let event = try #require(media.telephoneEvent)
        #expect(event.payloadType == 101)
        #expect(event.clockRate == 8000)
        #expect(event.events == [0...15])
        for (digit, code) in codes {
            #expect(event.supports(UInt8(code)), "DTMF \(digit) must be supported by 0-15")
        }
        #expect(!event.supports(16))
        #expect(event.eventListDescription == "0-15")
    }

    @Test func telephoneEventLists() throws {
        let media = try Self.media([
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-15,32,36-40",
            "a=rtpmap:96 TELEPHONE-EVENT/48000",
        ])
        #expect(media.telephoneEvents.count == 2)
        #expect(media.telephoneEvents[0].events == [0...15, 32...32, 36...40])
        #expect(media.telephoneEvents[0].supports(38))
        #expect(media.telephoneEvents[1].clockRate == 48000)
        #expect(media.telephoneEvents[1].events == nil)
        #expect(media.telephoneEvents[1].supportedEvents == [0...15])
    }

    @Test(arguments: ["15-0", "0-256", "a-b", "0-15,", "0--15", "0-15 ,16"])
    func malformedTelephoneEventList(list: String) {
        let text = session(["m=audio 4000 RTP/AVP 101", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 \(list)"])
        let error = parseError(text)
        #expect(error?.code == .invalidFormatParameters)
        #expect(error?.lineNumber == 8)
    }

    @Test func rfc3264MisspelledTelephoneEventsParsesButIsNotTelephoneEvent() throws {
        let media = try Self.media(["a=rtpmap:110 telephone-events/8000"], proto: "RTP/AVP 110")
        #expect(media.rtpMap(for: 110)?.encodingName == "telephone-events")
        #expect(media.telephoneEvent == nil)
    }

    // MARK: fingerprint / setup

    static let sha256Fingerprint =
        "F9:3F:6D:73:FC:1D:B3:19:CA:35:0E:AB:C6:BE:9D:F5:03:AE:8A:2A:CD:DA:20:39:2B:6E:60:D4:BC:04:C9:DE"

    @Test func fingerprintAndSetup() throws {
        let media = try Self.media(["a=fingerprint:sha-256 \(Self.sha256Fingerprint)", "a=setup:actpass"],
                                   proto: "UDP/TLS/RTP/SAVPF 111")
        let fingerprint = try #require(media.fingerprints.first)
        #expect(fingerprint.hashFunction == .sha256)
        #expect(fingerprint.digest.count == 32)
        #expect(fingerprint.digest.first == 0xF9 && fingerprint.digest.last == 0xDE)
        #expect(fingerprint.description == "sha-256 \(Self.sha256Fingerprint)")
        #expect(media.setup == .actpass)
    }

    @Test func fingerprintAcceptsLowerCaseAndOtherHashes() throws {
        let lower = try SDPFingerprint(parsing: "SHA-1 e4:70:26:f6:3d:9e:10:ab:48:d2:c8:c1:12:83:0c:18:1f:93:5f:e1")
        #expect(lower.hashFunction == .sha1)
        #expect(lower.description == "sha-1 E4:70:26:F6:3D:9E:10:AB:48:D2:C8:C1:12:83:0C:18:1F:93:5F:E1")
        let other = try SDPFingerprint(parsing: "blake3 00:11")
        #expect(other.hashFunction == .other("blake3"))
        #expect(SDPFingerprint.HashFunction.md5.isDeprecated)
    }

    @Test(arguments: [
        "sha-256",
        "sha-256 F9:3F",
        "sha-1 \(sha256Fingerprint)",
        "sha-256 \(sha256Fingerprint):00",
        "sha-256 F93F6D73FC1DB319CA350EABC6BE9DF503AE8A2ACDDA20392B6E60D4BC04C9DE",
        "sha-256 F9:3F:6D:73:FC:1D:B3:19:CA:35:0E:AB:C6:BE:9D:F5:03:AE:8A:2A:CD:DA:20:39:2B:6E:60:D4:BC:04:C9:DG",
        "sha-256 F9:3F:6D:73:FC:1D:B3:19:CA:35:0E:AB:C6:BE:9D:F5:03:AE:8A:2A:CD:DA:20:39:2B:6E:60:D4:BC:04:C9:D",
        "sha-256  \(sha256Fingerprint)",
        "x " + Array(repeating: "00", count: 65).joined(separator: ":"),
    ])
    func malformedFingerprint(value: String) {
        #expect(captureError { try SDPFingerprint(parsing: value) }?.code == .invalidFingerprint)
        #expect(parseError(session(["a=fingerprint:\(value)"]))?.code == .invalidFingerprint)
    }

    @Test func setupRoles() throws {
        for role in SDPSetupRole.allCases {
            #expect(try SDPSetupRole(parsing: role.rawValue) == role)
        }
        #expect(try SDPSetupRole(parsing: "ACTIVE") == .active)
        #expect(captureError { try SDPSetupRole(parsing: "client") }?.code == .invalidSetup)
        #expect(parseError(session(["a=setup:server"]))?.code == .invalidSetup)
        #expect(parseError(session(["a=setup:active", "a=setup:passive"]))?.code == .duplicateAttribute)
    }

    @Test func sessionLevelFingerprintAndSetupApplyToMedia() throws {
        let sdp = try SessionDescription(parsing: session([
            "a=fingerprint:sha-256 \(Self.sha256Fingerprint)",
            "a=setup:passive",
            "m=audio 4000 UDP/TLS/RTP/SAVP 0",
            "m=audio 4002 UDP/TLS/RTP/SAVP 0",
            "a=setup:active",
        ]))
        #expect(sdp.media[0].fingerprints.isEmpty)
        #expect(sdp.effectiveFingerprints(of: sdp.media[0]).count == 1)
        #expect(sdp.effectiveSetup(of: sdp.media[0]) == .passive)
        #expect(sdp.effectiveSetup(of: sdp.media[1]) == .active)
    }

    // MARK: zrtp-hash

    static let zrtpHashHex = "fe30efd02423cb054e50efd0248742ac7a52c8f91bc2df881ae642c371ba46df"

    @Test func zrtpHash() throws {
        let media = try Self.media(["a=zrtp-hash:1.10 \(Self.zrtpHashHex)"])
        let hash = try #require(media.zrtpHash)
        #expect(hash.version == "1.10")
        #expect(hash.hash.count == 32)
        #expect(hash.hashHex == Self.zrtpHashHex)
        #expect(hash.description == "1.10 \(Self.zrtpHashHex)")
        let upper = try SDPZRTPHash(parsing: "1.10 " + Self.zrtpHashHex.uppercased())
        #expect(upper.hash == hash.hash)
    }

    @Test(arguments: ["1.10", "1.10 abcd", "110 \(zrtpHashHex)", "1.x \(zrtpHashHex)", "1.10 \(zrtpHashHex)00",
                      "1.10 \(String(zrtpHashHex.dropLast()))g", "1.10  \(zrtpHashHex)"])
    func malformedZRTPHash(value: String) {
        #expect(captureError { try SDPZRTPHash(parsing: value) }?.code == .invalidZRTPHash)
    }

    // MARK: ICE

    @Test func iceCredentialsAndOptions() throws {
        let sdp = try SessionDescription(parsing: session([
            "a=ice-lite",
            "a=ice-options:trickle ice2",
            "a=ice-ufrag:Fsb8",
            "a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y",
            "m=audio 4000 RTP/AVP 0",
            "a=ice-ufrag:8hhY",
            "a=ice-pwd:asd88fgpdd777uzjYhagZg/abc",
        ]))
        #expect(sdp.iceLite)
        #expect(sdp.iceOptions == ["trickle", "ice2"])
        #expect(sdp.iceUfrag == "Fsb8")
        #expect(sdp.icePwd == "bP+XJMM09aR8AiX1jdukzR6Y")
        #expect(sdp.effectiveICEUfrag(of: sdp.media[0]) == "8hhY")
        #expect(sdp.effectiveICEPwd(of: sdp.media[0]) == "asd88fgpdd777uzjYhagZg/abc")
    }

    @Test(arguments: ["a=ice-ufrag:abc", "a=ice-ufrag:ab-cd", "a=ice-pwd:tooshort", "a=ice-pwd:has space in the password!!",
                      "a=ice-ufrag:" + String(repeating: "a", count: 257), "a=ice-ufrag"])
    func malformedICECredentials(line: String) {
        #expect(parseError(session([line]))?.code == .invalidICECredentials)
    }

    @Test func duplicateICECredentialsAreRejected() {
        #expect(parseError(session(["a=ice-ufrag:abcd", "a=ice-ufrag:efgh"]))?.code == .duplicateAttribute)
    }

    @Test func candidates() throws {
        let media = try Self.media([
            "a=candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ host",
            "a=candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998",
            "a=candidate:3009457211 1 tcp 1518280447 192.168.1.2 9 typ host tcptype active generation 0",
            "a=candidate:4 2 udp 16777215 2001:db8::5 3478 typ relay raddr 203.0.113.9 rport 50000 network-id 1 network-cost 10",
            "a=candidate:5 1 udp 2122260223 4e1c7a3c-4a45-4c21-9bb0-6f2e3b0f8c2a.local 56143 typ host",
            "a=candidate:6 1 udp 1 192.0.2.4 1 typ prflx",
            "a=candidate:7 1 udp 1 192.0.2.4 1 typ xyz",
        ])
        let candidates = media.candidates
        #expect(candidates.count == 7)
        #expect(candidates[0] == ICECandidate(foundation: "1", componentID: 1, transport: "UDP", priority: 2_130_706_431,
                                              address: "10.0.1.1", port: 8998, type: .host))
        #expect(candidates[0].isUDP)
        #expect(candidates[1].type == .serverReflexive)
        #expect(candidates[1].relatedAddress == "10.0.1.1")
        #expect(candidates[1].relatedPort == 8998)
        #expect(candidates[2].extensionValue(named: "tcptype") == "active")
        #expect(!candidates[2].isUDP)
        #expect(candidates[2].extensions == [ICECandidateExtension(name: "tcptype", value: "active"),
                                             ICECandidateExtension(name: "generation", value: "0")])
        #expect(candidates[3].type == .relayed)
        #expect(candidates[3].componentID == 2)
        #expect(candidates[3].address == "2001:db8::5")
        #expect(candidates[3].extensions.count == 2)
        #expect(candidates[4].address.hasSuffix(".local"))
        #expect(candidates[5].type == .peerReflexive)
        #expect(candidates[6].type == .other("xyz"))
        #expect(candidates[1].description == "2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998")
    }

    @Test(arguments: [
        "1 1 UDP 2130706431 10.0.1.1 8998 typ",
        "1 1 UDP 2130706431 10.0.1.1 8998 type host",
        "1 0 UDP 2130706431 10.0.1.1 8998 typ host",
        "1 257 UDP 2130706431 10.0.1.1 8998 typ host",
        "1 1 UDP 0 10.0.1.1 8998 typ host",
        "1 1 UDP 2147483648 10.0.1.1 8998 typ host",
        "1 1 UDP 2130706431 10.0.1.1 99999 typ host",
        "1 1 UDP 2130706431 10.0.1.1/8 8998 typ host",
        "1 1 UDP 2130706431 10.0.1.1 8998 typ host generation",
        "1 1 UDP 2130706431 10.0.1.1 8998 typ srflx raddr 10.0.0.1 rport 70000",
        "f_o 1 UDP 2130706431 10.0.1.1 8998 typ host",
        "123456789012345678901234567890123 1 UDP 2130706431 10.0.1.1 8998 typ host",
        "1 1 UDP 2130706431 10.0.1.1  8998 typ host",
    ])
    func malformedCandidate(value: String) {
        #expect(captureError { try ICECandidate(parsing: value) }?.code == .invalidCandidate)
        #expect(parseError(session(["m=audio 4000 RTP/AVP 0", "a=candidate:\(value)"]))?.code == .invalidCandidate)
    }

    // MARK: generic

    @Test func unknownAttributesAreKeptVerbatim() throws {
        let sdp = try SessionDescription(parsing: session([
            "a=msid-semantic: WMS stream",
            "a=x-custom:value:with:colons",
            "a=flag-only",
        ]))
        #expect(sdp.attributes == [
            SDPAttribute(name: "msid-semantic", value: " WMS stream"),
            SDPAttribute(name: "x-custom", value: "value:with:colons"),
            SDPAttribute(name: "flag-only"),
        ])
        #expect(sdp.attributes(named: "flag-only").count == 1)
        #expect(sdp.hasAttribute(named: "x-custom"))
        #expect(sdp.firstAttribute(named: "missing") == nil)
    }

    @Test func typedAttributeConstructorsRoundTrip() throws {
        let candidate = try ICECandidate(parsing: "2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998")
        let attributes: [SDPAttribute] = [
            .rtpMap(SDPRTPMap(payloadType: 0, encodingName: "PCMU", clockRate: 8000)),
            .rtcp(SDPRTCPAttribute(port: 4001)),
            .rtcpMux,
            .fingerprint(try SDPFingerprint(parsing: "sha-256 \(Self.sha256Fingerprint)")),
            .setup(.actpass),
            .zrtpHash(try SDPZRTPHash(parsing: "1.10 \(Self.zrtpHashHex)")),
            .iceUfrag("abcd"),
            .icePwd("abcdefghijklmnopqrstuvwxyz"),
            .candidate(candidate),
            .maxptime(40),
        ]
        let sdp = SessionDescription(
            origin: SDPOrigin(sessionID: 1, sessionVersion: 1, address: "192.0.2.1"),
            connection: ConnectionData(address: "192.0.2.1"),
            media: [MediaDescription(mediaType: .audio, port: 4000, proto: .rtpAVP, formats: ["0"], attributes: attributes)])
        let parsed = try SessionDescription(parsing: try sdp.serialized())
        #expect(parsed == sdp)
        #expect(parsed.media[0].candidates == [candidate])
        #expect(parsed.media[0].maxptime == 40)
        #expect(parsed.media[0].rtcp?.port == 4001)
    }
}
