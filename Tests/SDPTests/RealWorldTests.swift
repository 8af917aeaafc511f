import SDP
import Testing

/// Real-world-shaped descriptions. Each is canonical (CRLF, RFC order) so it must re-serialize
/// byte-exact.
enum RealWorldSDP {
    static let fingerprint =
        "D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F"

    /// A browser (WebRTC) offer: BUNDLE, DTLS fingerprint, ICE candidates, rtcp-mux, a data channel.
    static let webRTCOffer = crlf([
        "v=0",
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "a=extmap-allow-mixed",
        "a=msid-semantic: WMS stream1",
        "m=audio 52000 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
        "c=IN IP4 203.0.113.7",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=candidate:1467250027 1 udp 2122260223 192.168.1.2 52000 typ host generation 0 network-id 1",
        "a=candidate:842163049 1 udp 1677729535 203.0.113.7 52000 typ srflx raddr 192.168.1.2 rport 52000 generation 0 network-cost 999",
        "a=candidate:3009457211 1 tcp 1518280447 192.168.1.2 9 typ host tcptype active generation 0 network-id 1",
        "a=ice-ufrag:EsAw",
        "a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 \(fingerprint)",
        "a=setup:actpass",
        "a=mid:0",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=sendrecv",
        "a=msid:stream1 track1",
        "a=rtcp-mux",
        "a=rtpmap:111 opus/48000/2",
        "a=rtcp-fb:111 transport-cc",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=rtpmap:63 red/48000/2",
        "a=fmtp:63 111/111",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:13 CN/8000",
        "a=rtpmap:110 telephone-event/48000",
        "a=rtpmap:126 telephone-event/8000",
        "a=ssrc:1001 cname:4TOk42mSjXCkVIa6",
        "m=application 52000 UDP/DTLS/SCTP webrtc-datachannel",
        "c=IN IP4 203.0.113.7",
        "a=ice-ufrag:EsAw",
        "a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 \(fingerprint)",
        "a=setup:actpass",
        "a=mid:1",
        "a=sctp-port:5000",
        "a=max-message-size:262144",
    ])

    static let key1 = "YUJDZGVmZ2hpSktMbW9QUXJzVHVWd3l6MTIzNDU2"
    static let key2 = "MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm"

    /// A SIP softphone (baresip/linphone style) SDES offer with two crypto lines.
    static let sdesOffer = crlf([
        "v=0",
        "o=- 1395213498 3914137632 IN IP4 192.168.1.10",
        "s=-",
        "c=IN IP4 192.168.1.10",
        "t=0 0",
        "m=audio 10420 RTP/SAVP 96 0 8 101",
        "b=AS:64",
        "a=rtpmap:96 opus/48000/2",
        "a=fmtp:96 stereo=1;sprop-stereo=1",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
        "a=sendrecv",
        "a=rtcp-mux",
        "a=ptime:20",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(key1)",
        "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:\(key2)",
    ])

    static let zrtpHash = "fe30efd02423cb054e50efd0248742ac7a52c8f91bc2df881ae642c371ba46df"

    /// A ZRTP-capable client's offer (plain RTP/AVP plus a=zrtp-hash).
    static let zrtpOffer = crlf([
        "v=0",
        "o=alice 123456 654321 IN IP4 192.0.2.10",
        "s=Talk",
        "c=IN IP4 192.0.2.10",
        "t=0 0",
        "m=audio 7078 RTP/AVP 96 0 101",
        "a=rtpmap:96 opus/48000/2",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=zrtp-hash:1.10 \(zrtpHash)",
        "a=rtcp:7079",
    ])

    /// A T.38 fax re-INVITE: an image section over udptl.
    static let t38Offer = crlf([
        "v=0",
        "o=- 1 2 IN IP4 198.51.100.5",
        "s=-",
        "c=IN IP4 198.51.100.5",
        "t=0 0",
        "m=image 4002 udptl t38",
        "a=T38FaxVersion:0",
        "a=T38MaxBitRate:14400",
        "a=T38FaxRateManagement:transferredTCF",
        "a=T38FaxMaxBuffer:262",
        "a=T38FaxMaxDatagram:176",
        "a=T38FaxUdpEC:t38UDPRedundancy",
        "m=audio 0 RTP/AVP 0",
    ])

    static let all: [(String, String)] = [
        ("webrtc", webRTCOffer), ("sdes", sdesOffer), ("zrtp", zrtpOffer), ("t38", t38Offer),
    ]
}

@Suite("Real-world descriptions")
struct RealWorldTests {
    @Test(arguments: RealWorldSDP.all)
    func reserializesByteExact(name: String, text: String) throws {
        let sdp = try SessionDescription(parsing: text)
        #expect(try sdp.serialized() == text, "\(name)")
        #expect(try SessionDescription(parsing: try sdp.serialized()) == sdp)
    }

    @Test func webRTCOffer() throws {
        let sdp = try SessionDescription(parsing: RealWorldSDP.webRTCOffer)
        #expect(sdp.media.count == 2)
        let audio = sdp.media[0]
        #expect(audio.proto == .udpTLSRTPSAVPF)
        #expect(audio.rtcpMux)
        #expect(audio.rtcp == SDPRTCPAttribute(port: 9, connection: ConnectionData(address: "0.0.0.0")))
        #expect(audio.iceUfrag == "EsAw")
        #expect(audio.icePwd == "bP+XJMM09aR8AiX1jdukzR6Y")
        #expect(audio.iceOptions == ["trickle"])
        #expect(audio.candidates.count == 3)
        #expect(audio.candidates.map(\.type) == [.host, .serverReflexive, .host])
        #expect(audio.candidates[2].extensionValue(named: "tcptype") == "active")
        #expect(audio.fingerprints.first?.hashFunction == .sha256)
        #expect(audio.setup == .actpass)
        #expect(audio.direction == .sendrecv)
        #expect(audio.rtpMap(for: 111) == SDPRTPMap(payloadType: 111, encodingName: "opus", clockRate: 48000, encodingParameters: 2))
        #expect(audio.fmtp(for: 111)?.parameter(named: "useinbandfec") == "1")
        #expect(audio.telephoneEvents.map(\.payloadType) == [110, 126])
        #expect(audio.telephoneEvent?.clockRate == 48000)
        #expect(sdp.mediaSecurity == [
            .dtlsSRTP(fingerprints: [try SDPFingerprint(parsing: "sha-256 \(RealWorldSDP.fingerprint)")]),
            .notRTP,
        ])
        #expect(sdp.attributes(named: "group").first?.value == "BUNDLE 0 1")
    }

    @Test func sdesOffer() throws {
        let sdp = try SessionDescription(parsing: RealWorldSDP.sdesOffer)
        let audio = try #require(sdp.media.first)
        #expect(audio.proto == .rtpSAVP)
        #expect(audio.cryptos.map(\.tag) == [1, 2])
        #expect(audio.cryptos.map(\.suite) == [.aesCM128HMACSHA1_80, .aesCM128HMACSHA1_32])
        #expect(audio.cryptos.allSatisfy { $0.keyParams.count == 1 && $0.keyParams[0].keyAndSalt.count == 30 })
        #expect(audio.ptime == 20)
        #expect(audio.bandwidths == [SDPBandwidth(type: "AS", value: 64)])
        #expect(audio.telephoneEvent == SDPTelephoneEvent(payloadType: 101, clockRate: 8000, events: [0...15]))
        #expect(sdp.mediaSecurity == [.sdesSRTP(suites: [.aesCM128HMACSHA1_80, .aesCM128HMACSHA1_32])])
        #expect(!sdp.description.contains(RealWorldSDP.key1))
        #expect(!sdp.description.contains(RealWorldSDP.key2))
    }

    @Test func zrtpOffer() throws {
        let sdp = try SessionDescription(parsing: RealWorldSDP.zrtpOffer)
        let audio = try #require(sdp.media.first)
        #expect(audio.zrtpHash?.version == "1.10")
        #expect(audio.zrtpHash?.hashHex == RealWorldSDP.zrtpHash)
        #expect(audio.telephoneEvent?.events == [0...16])
        #expect(audio.rtcp == SDPRTCPAttribute(port: 7079))
        #expect(sdp.mediaSecurity == [.zrtp(hashes: [try SDPZRTPHash(parsing: "1.10 \(RealWorldSDP.zrtpHash)")])])
    }

    @Test func t38Offer() throws {
        let sdp = try SessionDescription(parsing: RealWorldSDP.t38Offer)
        let image = sdp.media[0]
        #expect(image.mediaType == .image)
        #expect(image.proto == .other("udptl"))
        #expect(image.formats == ["t38"])
        #expect(image.firstAttribute(named: "T38MaxBitRate")?.value == "14400")
        #expect(image.rtpMaps.isEmpty)
        #expect(sdp.mediaSecurity == [.notRTP, .disabled])
    }
}
