import Foundation
import SDP
import Testing

@Suite("Session-level parsing (RFC 8866 §5)")
struct SessionParsingTests {
    static let fullSession = crlf([
        "v=0",
        "o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1",
        "s=Call to John Smith",
        "i=SDP Offer #1",
        "u=http://www.jdoe.example.com/home.html",
        "e=Jane Doe <jane@jdoe.example.com>",
        "p=+1 617 555-6011",
        "c=IN IP4 198.51.100.1",
        "b=CT:128",
        "t=0 0",
        "t=3724394400 3724398000",
        "r=7d 1h 0 25h",
        "z=3730928400 -1h 3749680800 0",
        "k=prompt",
        "a=recvonly",
        "a=tool:rampart",
        "m=audio 49170 RTP/AVP 0",
        "m=audio 49180 RTP/AVP 0",
        "m=video 51372/2 RTP/AVP 99",
        "i=main camera",
        "c=IN IP6 2001:db8::2",
        "c=IN IP6 ff15::101/3",
        "b=AS:512",
        "b=TIAS:512000",
        "a=rtpmap:99 h263-1998/90000",
    ])

    @Test func parsesEveryField() throws {
        let sdp = try SessionDescription(parsing: Self.fullSession)
        #expect(sdp.version == 0)
        #expect(sdp.origin == SDPOrigin(username: "jdoe", sessionID: 3_724_394_400, sessionVersion: 3_724_394_405,
                                        networkType: "IN", addressType: .ip4, address: "198.51.100.1"))
        #expect(sdp.sessionName == "Call to John Smith")
        #expect(sdp.information == "SDP Offer #1")
        #expect(sdp.uri == "http://www.jdoe.example.com/home.html")
        #expect(sdp.emails == ["Jane Doe <jane@jdoe.example.com>"])
        #expect(sdp.phones == ["+1 617 555-6011"])
        #expect(sdp.connection == ConnectionData(address: "198.51.100.1"))
        #expect(sdp.bandwidths == [SDPBandwidth(type: "CT", value: 128)])
        #expect(sdp.timings.count == 2)
        #expect(sdp.timings[0] == SDPTiming())
        let timing = sdp.timings[1]
        #expect(timing.start == 3_724_394_400 && timing.stop == 3_724_398_000)
        #expect(timing.repeats == [SDPRepeatTime(interval: SDPTypedTime(7, unit: .days),
                                                 activeDuration: SDPTypedTime(1, unit: .hours),
                                                 offsets: [SDPTypedTime(0), SDPTypedTime(25, unit: .hours)])])
        #expect(timing.repeats[0].interval.seconds == 604_800)
        #expect(timing.zoneAdjustments == [
            SDPZoneAdjustment(time: 3_730_928_400, offset: SDPTypedTime(1, unit: .hours), isNegative: true),
            SDPZoneAdjustment(time: 3_749_680_800, offset: SDPTypedTime(0)),
        ])
        #expect(sdp.key == SDPEncryptionKey(method: "prompt"))
        #expect(sdp.attributes == [SDPAttribute(name: "recvonly"), SDPAttribute(name: "tool", value: "rampart")])
        #expect(sdp.direction == .recvonly)
        #expect(sdp.media.count == 3)

        let video = sdp.media[2]
        #expect(video.mediaType == .video)
        #expect(video.port == 51372)
        #expect(video.portCount == 2)
        #expect(video.proto == .rtpAVP)
        #expect(video.formats == ["99"])
        #expect(video.payloadTypes == [99])
        #expect(video.information == "main camera")
        #expect(video.connections == [
            ConnectionData(addressType: .ip6, address: "2001:db8::2"),
            ConnectionData(addressType: .ip6, address: "ff15::101", addressCount: 3),
        ])
        #expect(video.bandwidths == [SDPBandwidth(type: "AS", value: 512), SDPBandwidth(type: "TIAS", value: 512_000)])
        #expect(sdp.effectiveDirection(of: video) == .recvonly)
        #expect(sdp.effectiveConnections(of: sdp.media[0]) == [ConnectionData(address: "198.51.100.1")])
        #expect(sdp.effectiveConnections(of: video).count == 2)
    }

    @Test func canonicalInputSerializesByteExact() throws {
        let sdp = try SessionDescription(parsing: Self.fullSession)
        #expect(try sdp.serialized() == Self.fullSession)
        #expect(try sdp.serializedBytes() == Array(Self.fullSession.utf8))
    }

    @Test func lfOnlyAndMissingFinalNewlineAreAccepted() throws {
        let canonical = try SessionDescription(parsing: Self.fullSession)
        let lfOnly = Self.fullSession.replacingOccurrences(of: "\r\n", with: "\n")
        #expect(try SessionDescription(parsing: lfOnly) == canonical)
        let noFinalNewline = String(decoding: Self.fullSession.utf8.dropLast(2), as: UTF8.self)
        #expect(try SessionDescription(parsing: noFinalNewline) == canonical)
        // Serialization always produces CRLF.
        #expect(try SessionDescription(parsing: lfOnly).serialized() == Self.fullSession)
    }

    @Test func parsesFromBytes() throws {
        let bytes = Array(Self.fullSession.utf8)
        #expect(try SessionDescription(parsing: bytes) == SessionDescription(parsing: Self.fullSession))
        #expect(try SessionDescription(parsing: bytes[...]) == SessionDescription(parsing: Self.fullSession))
    }

    @Test func multicastConnectionData() throws {
        #expect(try ConnectionData(parsing: "IN IP4 224.2.36.42/127") ==
                ConnectionData(address: "224.2.36.42", ttl: 127))
        #expect(try ConnectionData(parsing: "IN IP4 224.2.1.1/127/3") ==
                ConnectionData(address: "224.2.1.1", ttl: 127, addressCount: 3))
        #expect(try ConnectionData(parsing: "IN IP6 ff15::101/3") ==
                ConnectionData(addressType: .ip6, address: "ff15::101", addressCount: 3))
        #expect(try ConnectionData(parsing: "IN IP4 host.example.com").address == "host.example.com")
        #expect(ConnectionData(address: "224.2.1.1", ttl: 127, addressCount: 3).description == "IN IP4 224.2.1.1/127/3")
    }

    @Test(arguments: [
        "IN IP4",
        "IN IP4 224.2.1.1/256",
        "IN IP4 224.2.1.1/127/0",
        "IN IP4 224.2.1.1/127/3/4",
        "IN IP6 ff15::101/3/4",
        "IN IP4 bad_host!",
        "IN  IP4 192.0.2.1",
        "IN IP4 192.0.2.1 extra",
        "IN IP4 /127",
    ])
    func malformedConnectionData(value: String) {
        #expect(captureError { try ConnectionData(parsing: value) }?.code == .invalidConnection)
    }

    @Test func emptySessionNameIsAcceptedAndKept() throws {
        let text = crlf(["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=", "t=0 0"])
        let sdp = try SessionDescription(parsing: text)
        #expect(sdp.sessionName == "")
        #expect(try sdp.serialized() == text)
    }

    @Test func sessionWithoutMediaNeedsNoConnection() throws {
        let sdp = try SessionDescription(parsing: crlf(["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0"]))
        #expect(sdp.media.isEmpty && sdp.connection == nil)
    }

    @Test func mediaLevelConnectionSuffices() throws {
        let text = crlf(["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0",
                         "m=audio 4000 RTP/AVP 0", "c=IN IP4 192.0.2.9"])
        #expect(try SessionDescription(parsing: text).media[0].connections.count == 1)
    }

    @Test func missingConnectionIsRejected() {
        let text = crlf(["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0",
                         "m=audio 4000 RTP/AVP 0", "c=IN IP4 192.0.2.9", "m=video 4002 RTP/AVP 31"])
        let error = parseError(text)
        #expect(error?.code == .missingConnection)
        #expect(error?.lineNumber == 7)
    }

    @Test func rfc4566ZoneAfterLastTimeAndRepeatParse() throws {
        let text = session(["r=604800 3600 0 90000", "z=2882844526 -3600 2898848070 0"])
        let sdp = try SessionDescription(parsing: text)
        #expect(sdp.timings[0].repeats[0].interval == SDPTypedTime(604_800))
        #expect(sdp.timings[0].zoneAdjustments.count == 2)
        #expect(try sdp.serialized() == text)
    }

    @Test func hostileKeyLineIsRedactedInDescription() throws {
        let sdp = try SessionDescription(parsing: session(["k=clear:secret-key"]))
        #expect(sdp.key == SDPEncryptionKey(method: "clear", value: "secret-key"))
        #expect(!sdp.description.contains("secret-key"))
        #expect(try sdp.serialized().contains("k=clear:secret-key"))
    }

    @Test func mediaLineFields() throws {
        let sdp = try SessionDescription(parsing: session([
            "m=image 6000 udptl t38",
            "m=message 7654 TCP/MSRP *",
            "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
            "m=audio 0 RTP/SAVPF 0 8",
            "m=video 9 UDP/TLS/RTP/SAVPF 96 97",
        ]))
        #expect(sdp.media.map(\.mediaType) == [.image, .message, .application, .audio, .video])
        #expect(sdp.media.map(\.proto) == [.other("udptl"), .other("TCP/MSRP"), .other("UDP/DTLS/SCTP"),
                                           .rtpSAVPF, .udpTLSRTPSAVPF])
        #expect(sdp.media[0].formats == ["t38"])
        #expect(sdp.media[0].payloadTypes.isEmpty)
        #expect(sdp.media[3].port == 0)
        #expect(sdp.media[4].payloadTypes == [96, 97])
    }

    @Test func mediaProtocolEqualityUsesSpelling() {
        #expect(SDPMediaProtocol.other("RTP/AVP") == .rtpAVP)
        #expect(SDPMediaProtocol(rawValue: "UDP/TLS/RTP/SAVP") == .udpTLSRTPSAVP)
        #expect(SDPMediaProtocol(rawValue: "rtp/avp") != .rtpAVP)
        #expect(SDPMediaProtocol(rawValue: "rtp/avp").isRTP)
        #expect(SDPMediaProtocol(rawValue: "TCP/TLS/RTP/SAVPF").isDTLSTransport)
        #expect(SDPMediaProtocol(rawValue: "TCP/TLS/RTP/SAVPF").isSecureRTPProfile)
        #expect(!SDPMediaProtocol(rawValue: "UDP/DTLS/SCTP").isRTP)
        #expect(!SDPMediaProtocol.rtpSAVP.isDTLSTransport)
    }

    @Test func originParsing() throws {
        let origin = try SDPOrigin(parsing: "- 4611731400430051336 2 IN IP4 127.0.0.1")
        #expect(origin.username == "-")
        #expect(origin.sessionID == 4_611_731_400_430_051_336)
        #expect(origin.sessionVersion == 2)
        #expect(origin.description == "- 4611731400430051336 2 IN IP4 127.0.0.1")
        #expect(captureError { try SDPOrigin(parsing: "- 99999999999999999999 2 IN IP4 127.0.0.1") }?.code == .invalidOrigin)
        #expect(captureError { try SDPOrigin(parsing: "- 1 2 IN IP4") }?.code == .invalidOrigin)
        #expect(captureError { try SDPOrigin(parsing: "- x 2 IN IP4 127.0.0.1") }?.code == .invalidOrigin)
    }

    @Test func descriptionIsCRLFAndRedactsCryptoKeys() throws {
        let sdp = try SessionDescription(parsing: session([
            "m=audio 4000 RTP/SAVP 0",
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(ExampleKeys.bytes30)",
        ]))
        #expect(sdp.description.hasSuffix("a=crypto:<redacted>\r\n"))
        #expect(!sdp.description.contains(ExampleKeys.bytes30))
        #expect(try sdp.serialized().contains(ExampleKeys.bytes30))
    }

    @Test func serializationRejectsInjectedLines() throws {
        var sdp = SessionDescription(origin: SDPOrigin(sessionID: 1, sessionVersion: 1, address: "192.0.2.1"),
                                     connection: ConnectionData(address: "192.0.2.1"))
        sdp.sessionName = "x\r\na=injected"
        #expect(captureError { try sdp.serialized() } != nil)
        sdp.sessionName = "x\u{0}"
        #expect(captureError { try sdp.serialized() }?.code == .invalidCharacter)

        sdp.sessionName = "-"
        sdp.media = [MediaDescription(mediaType: .audio, port: 4000, proto: .rtpAVP, formats: ["0"],
                                      attributes: [SDPAttribute(name: "tool", value: "x\nm=video 1 RTP/AVP 0")])]
        #expect(captureError { try sdp.serialized() } != nil)

        sdp.media[0].attributes = [SDPAttribute(name: "tool", value: "rampart\r\na=tool:second")]
        #expect(captureError { try sdp.serialized() }?.code == .serializationMismatch)

        sdp.media[0].attributes = [SDPAttribute(name: "bad name", value: "x")]
        #expect(captureError { try sdp.serialized() }?.code == .invalidAttribute)

        sdp.media[0].attributes = [SDPAttribute(name: "tool", value: "rampart")]
        #expect(try sdp.serialized().hasSuffix("a=tool:rampart\r\n"))
    }

    @Test func serializationDetectsValuesThatCannotRoundTrip() {
        var sdp = SessionDescription(origin: SDPOrigin(sessionID: 1, sessionVersion: 1, address: "192.0.2.1"))
        sdp.attributes = [SDPAttribute(name: "tool", value: "")]
        #expect(captureError { try sdp.serialized() }?.code == .invalidAttribute)
        sdp.attributes = []
        sdp.version = 1
        #expect(captureError { try sdp.serialized() }?.code == .unsupportedVersion)
    }

    @Test func defaultInitializerBuildsAValidSession() throws {
        let sdp = SessionDescription(
            origin: SDPOrigin(sessionID: 42, sessionVersion: 1, address: "192.0.2.1"),
            connection: ConnectionData(address: "192.0.2.1"),
            media: [MediaDescription(mediaType: .audio, port: 4000, proto: .rtpAVP, formats: ["0", "101"],
                                     attributes: [
                                        .rtpMap(SDPRTPMap(payloadType: 0, encodingName: "PCMU", clockRate: 8000)),
                                        .rtpMap(SDPRTPMap(payloadType: 101, encodingName: "telephone-event", clockRate: 8000)),
                                        .formatParameters(SDPFormatParameters(format: "101", parameters: "0-15")),
                                        .direction(.sendrecv),
                                        .ptime(20),
                                     ])])
        let text = try sdp.serialized()
        #expect(text == crlf([
            "v=0", "o=- 42 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=0 0",
            "m=audio 4000 RTP/AVP 0 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-15", "a=sendrecv", "a=ptime:20",
        ]))
    }
}
