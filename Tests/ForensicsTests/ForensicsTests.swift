import CLibSRTPShim
@testable import Forensics
import MediaSecurity
import Pcap
import RTP
import SDP
import Testing

@Suite struct UDPDatagramTests {
    static let payload: [UInt8] = Array("hello, rtp".utf8)

    @Test func datagramsAreFoundBehindEveryLinkType() throws {
        let ip = CaptureBuilder.ipv4UDP(from: CaptureBuilder.alice, 5004, to: CaptureBuilder.bob, 6000, payload: Self.payload)
        let frames: [(UInt32, [UInt8])] = [
            (1, CaptureBuilder.ethernet(ip)), (1, CaptureBuilder.ethernet(ip, vlan: true)), (101, ip), (228, ip),
            (0, [2, 0, 0, 0] + ip), (113, [0, 0, 0, 1, 0, 6] + [UInt8](repeating: 0, count: 8) + [0x08, 0x00] + ip),
            (276, [0x08, 0x00, 0, 0] + [UInt8](repeating: 0, count: 16) + ip),
        ]
        for (linkType, frame) in frames {
            let datagram = try #require(UDPDatagram(frame: frame, linkType: linkType), "link type \(linkType)")
            #expect(datagram.source.description == "192.0.2.10:5004")
            #expect(datagram.destination.description == "198.51.100.20:6000")
            #expect(Array(frame[datagram.payload]) == Self.payload)
            #expect(!datagram.isTruncated)
        }
        let v6 = try #require(UDPDatagram(frame: CaptureBuilder.ethernet(
            CaptureBuilder.ipv6UDP(sourcePort: 1, destinationPort: 2, payload: Self.payload, hopByHop: true)), linkType: 1))
        #expect(v6.source.description == "[2001:db8::1]:1")
        #expect(v6.ipVersion == 6)

        // Not UDP datagrams: a fragment, TCP, an unknown link type, a truncated header.
        #expect(UDPDatagram(frame: CaptureBuilder.ipv4UDP(from: CaptureBuilder.alice, 1, to: CaptureBuilder.bob, 2,
                                                          payload: Self.payload, fragmentOffset: 0x2000), linkType: 101) == nil)
        #expect(UDPDatagram(frame: CaptureBuilder.ipv4UDP(from: CaptureBuilder.alice, 1, to: CaptureBuilder.bob, 2,
                                                          payload: Self.payload, protocolNumber: 6), linkType: 101) == nil)
        #expect(UDPDatagram(frame: ip, linkType: 147) == nil)
        #expect(UDPDatagram(frame: Array(ip.prefix(24)), linkType: 101) == nil)
        let short = try #require(UDPDatagram(frame: Array(ip.dropLast(3)), linkType: 101))
        #expect(short.isTruncated)
    }

    @Test func replacingThePayloadKeepsLengthsAndChecksumsRight() throws {
        for ip in [CaptureBuilder.ipv4UDP(from: CaptureBuilder.alice, 5004, to: CaptureBuilder.bob, 6000, payload: Self.payload),
                   CaptureBuilder.ipv6UDP(sourcePort: 5004, destinationPort: 6000, payload: Self.payload)] {
            let frame = CaptureBuilder.ethernet(ip)
            let datagram = try #require(UDPDatagram(frame: frame, linkType: 1))
            let replaced = try #require(datagram.replacingPayload(in: frame, with: Array("a longer payload than before".utf8)))
            #expect(datagram.replacingPayload(in: frame, with: [UInt8](repeating: 0, count: 65_530)) == nil)
            let again = try #require(UDPDatagram(frame: replaced, linkType: 1))
            #expect(Array(replaced[again.payload]) == Array("a longer payload than before".utf8))
            let ipBytes = Array(replaced[14...])
            if datagram.ipVersion == 4 {
                #expect(CaptureBuilder.onesComplement(Array(ipBytes[..<20])) == 0, "IPv4 header checksum")
            }
            // The UDP checksum verifies over the pseudo-header.
            let udp = Array(replaced[again.udpOffset...])
            let pseudo = again.source.address + again.destination.address
                + (datagram.ipVersion == 4 ? [0, 17, 0, UInt8(udp.count)] : [0, 0, 0, UInt8(udp.count), 0, 0, 0, 17])
            #expect(CaptureBuilder.onesComplement(pseudo + udp) == 0, "UDP checksum")
        }
    }
}

@Suite struct EncryptionCheckTests {
    @Test func ciphertextSpeechAndCodecHeadersAreToldApart() {
        var random = SystemRandomNumberGenerator()
        var cipher = EncryptionCheck(), speech = EncryptionCheck(), opusLike = EncryptionCheck(), short = EncryptionCheck()
        for sequence in UInt16(0)..<100 {
            cipher.add(payload: (0..<160).map { _ in UInt8.random(in: 0...255, using: &random) })
            speech.add(payload: CaptureBuilder.pcmaPacket(ssrc: 1, sequence: sequence).dropFirst(12))
            // A constant TOC octet in front of random-looking frames: plaintext Opus/AMR with a visible header.
            opusLike.add(payload: [0x78] + (0..<80).map { _ in UInt8.random(in: 0...255, using: &random) })
        }
        for _ in 0..<5 { short.add(payload: [UInt8](repeating: 1, count: 40)) }
        #expect(cipher.verdict == .encrypted)
        #expect(cipher.entropy > 7.9)
        #expect(speech.verdict == .plaintext)
        #expect(opusLike.verdict == .plaintext)
        #expect(opusLike.repeatedFirstOctet == 1)
        #expect(short.verdict == .undetermined)
    }
}

/// SRTP made by libsrtp2 (the reference), decrypted from a capture by Rampart.
@Suite struct CaptureDecryptionTests {
    static let ssrc: UInt32 = 0xCAFE_BABE

    /// A SIP message (INVITE or response) whose SDP offers `crypto` for audio at `address`:`port`.
    static func sip(_ startLine: String, address: String, port: Int, crypto: SDESCryptoAttribute, cseq: Int = 1)
        -> [UInt8]
    {
        let sdp = "v=0\r\no=- 1 \(cseq) IN IP4 \(address)\r\ns=-\r\nc=IN IP4 \(address)\r\nt=0 0\r\n"
            + "m=audio \(port) RTP/SAVP 8\r\na=crypto:\(crypto.serialized())\r\n"
        return Array(("\(startLine)\r\nVia: SIP/2.0/UDP \(address);branch=z9hG4bK\(cseq)\r\nFrom: <sip:a@x>;tag=1\r\n"
            + "To: <sip:b@x>\r\nCall-ID: c1\r\nCSeq: \(cseq) INVITE\r\nContent-Type: application/sdp\r\n"
            + "Content-Length: \(sdp.utf8.count)\r\n\r\n" + sdp).utf8)
    }

    /// SDP addresses become octets the way SIP hosts are parsed: strictly, in network order.
    @Test func sdpAddressesAreReadAsOctets() {
        #expect(SDESKeyHarvest.address("192.0.2.10") == [192, 0, 2, 10])
        #expect(SDESKeyHarvest.address("2001:db8::1") == [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [1])
        #expect(SDESKeyHarvest.address("127.1") == nil, "odd encodings are refused")
        #expect(SDESKeyHarvest.address("example.com") == nil)
    }

    /// 100 PCMA packets from alice to bob protected by libsrtp2, as Ethernet frames; and the plaintext ones.
    static func protectedCapture(_ profile: SRTPProfile, keyAndSalt: [UInt8]) throws -> (plain: [[UInt8]], frames: [PcapPacket]) {
        var plain: [[UInt8]] = [], frames: [PcapPacket] = []
        let shimProfile = rampart_libsrtp_profile(profile.name)
        let session = try #require(keyAndSalt.withUnsafeBufferPointer {
            rampart_libsrtp_session(shimProfile, ssrc, $0.baseAddress, 0)
        })
        defer { rampart_libsrtp_free(session) }
        for sequence in UInt16(1)...100 {
            let rtp = CaptureBuilder.pcmaPacket(ssrc: ssrc, sequence: sequence)
            plain.append(rtp)
            var buffer = rtp + [UInt8](repeating: 0, count: 32)
            var length = Int32(rtp.count)
            #expect(buffer.withUnsafeMutableBufferPointer { rampart_libsrtp_protect(session, $0.baseAddress, &length) } == 0)
            let ip = CaptureBuilder.ipv4UDP(from: CaptureBuilder.alice, 5004, to: CaptureBuilder.bob, 6000,
                                            payload: Array(buffer.prefix(Int(length))))
            frames.append(CaptureBuilder.packet(CaptureBuilder.ethernet(ip), at: Int(sequence)))
        }
        return (plain, frames)
    }

    @Test(arguments: [SRTPProfile.aes128CMHMACSHA1_80, .aeadAES256GCM])
    func aGivenKeyDecryptsAndForgeriesAndReplaysAreLeftOut(profile: SRTPProfile) throws {
        let keyAndSalt = (0..<(profile.keyLength + profile.saltLength)).map { UInt8(truncatingIfNeeded: $0 * 7 + 1) }
        var (plain, frames) = try Self.protectedCapture(profile, keyAndSalt: keyAndSalt)
        // A forged copy of packet 50 (one flipped payload bit), packet 10 replayed, and a SIP message.
        var forged = frames[49]
        forged.data[60] ^= 0x01
        frames.insert(forged, at: 49)  // before the genuine one: after it, the replay check would refuse it first
        frames.append(frames[9])
        let sip = CaptureBuilder.ipv4UDP(from: CaptureBuilder.alice, 5060, to: CaptureBuilder.bob, 5060,
                                         payload: Array("OPTIONS sip:bob@example.com SIP/2.0\r\n\r\n".utf8))
        frames.append(CaptureBuilder.packet(CaptureBuilder.ethernet(sip), at: 500))

        let policy = SRTPPolicy(profile: profile, masterKey: Array(keyAndSalt.prefix(profile.keyLength)),
                                masterSalt: Array(keyAndSalt.suffix(profile.saltLength)))
        let decryptor = SRTPCaptureDecryptor(options: .init(policy: policy))
        let output = frames.compactMap { decryptor.process($0) }
        let report = decryptor.finish()
        #expect(report.rtpDecrypted == 100)
        #expect(report.authenticationFailures == 1)
        #expect(report.replayedOrLate == 1)
        #expect(report.otherTraffic == 1)
        #expect(output.count == 101, "the decrypted packets and the SIP message")
        let decrypted = output.compactMap { packet -> [UInt8]? in
            guard let datagram = UDPDatagram(frame: packet.data, linkType: 1), datagram.destination.port == 6000 else { return nil }
            return Array(packet.data[datagram.payload])
        }
        #expect(decrypted == plain)
        plain.removeAll()

        // The check agrees: the capture is encrypted, the output is not.
        var before = RTPStreamSurvey(), after = RTPStreamSurvey()
        frames.forEach { before.add($0) }
        output.forEach { after.add($0) }
        #expect(before.streams.map(\.verdict) == ["encrypted"])
        #expect(after.streams.map(\.verdict) == ["plaintext"])
    }

    @Test func aWrongKeyDecryptsNothingAndPassesNothingThrough() throws {
        let keyAndSalt = [UInt8](repeating: 3, count: 30)
        let (_, frames) = try Self.protectedCapture(.aes128CMHMACSHA1_80, keyAndSalt: keyAndSalt)
        let wrong = SRTPPolicy(profile: .aes128CMHMACSHA1_80, masterKey: [UInt8](repeating: 4, count: 16),
                               masterSalt: [UInt8](repeating: 3, count: 14))
        let decryptor = SRTPCaptureDecryptor(options: .init(policy: wrong))
        #expect(frames.compactMap { decryptor.process($0) }.isEmpty)
        #expect(decryptor.finish().authenticationFailures == 100)
        // Without any key, nothing is tried.
        let keyless = SRTPCaptureDecryptor(options: .init(keysFromSIP: true))
        #expect(frames.compactMap { keyless.process($0) }.isEmpty)
        #expect(keyless.finish().withoutKey == 100)
    }

    /// An INVITE offers alice's key and a 200 OK bob's, each for its own media address; the decryptor finds
    /// which protects which direction, RTP and RTCP.
    @Test func keysFromTheCapturesOwnSIPDecryptBothDirections() throws {
        let (aliceKeys, aliceLine) = try SDESKeying.generate(profile: .aes128CMHMACSHA1_80, tag: 1)
        let (bobKeys, bobLine) = try SDESKeying.generate(profile: .aes128CMHMACSHA1_32, tag: 2)
        var frames = [
            CaptureBuilder.ipv4UDP(from: CaptureBuilder.alice, 5060, to: CaptureBuilder.bob, 5060,
                                   payload: Self.sip("INVITE sip:b@x SIP/2.0", address: "192.0.2.10", port: 5004, crypto: aliceLine)),
            CaptureBuilder.ipv4UDP(from: CaptureBuilder.bob, 5060, to: CaptureBuilder.alice, 5060,
                                   payload: Self.sip("SIP/2.0 200 OK", address: "198.51.100.20", port: 6000, crypto: bobLine)),
        ]
        let aliceSender = try aliceKeys.srtpSender(), bobSender = try bobKeys.srtpSender()
        let aliceRTCP = try aliceKeys.srtcpSender()
        var plain: [[UInt8]] = []
        for sequence in UInt16(1)...20 {
            var fromAlice = CaptureBuilder.pcmaPacket(ssrc: 1, sequence: sequence)
            var fromBob = CaptureBuilder.pcmaPacket(ssrc: 2, sequence: sequence)
            plain += [fromAlice, fromBob]
            try aliceSender.protect(&fromAlice)
            try bobSender.protect(&fromBob)
            frames.append(CaptureBuilder.ipv4UDP(from: CaptureBuilder.alice, 5004, to: CaptureBuilder.bob, 6000, payload: fromAlice))
            frames.append(CaptureBuilder.ipv4UDP(from: CaptureBuilder.bob, 6000, to: CaptureBuilder.alice, 5004, payload: fromBob))
        }
        var report: [UInt8] = [0x80, 0xC8, 0, 6, 0, 0, 0, 1] + [UInt8](repeating: 9, count: 20)
        try aliceRTCP.protect(&report)
        frames.append(CaptureBuilder.ipv4UDP(from: CaptureBuilder.alice, 5005, to: CaptureBuilder.bob, 6001, payload: report))

        let decryptor = SRTPCaptureDecryptor(options: .init(keysFromSIP: true))
        let output = frames.enumerated().compactMap { decryptor.process(CaptureBuilder.packet(CaptureBuilder.ethernet($1), at: $0)) }
        let result = decryptor.finish()
        #expect(result.keysFromSIP == 2)
        #expect(result.rtpDecrypted == 40)
        #expect(result.rtcpDecrypted == 1)
        #expect(result.authenticationFailures == 0)
        #expect(result.streams.map(\.key) == ["AES_CM_128_HMAC_SHA1_80 tag 1 in INVITE for 192.0.2.10:5004",
                                             "AES_CM_128_HMAC_SHA1_32 tag 2 in response for 198.51.100.20:6000",
                                             "AES_CM_128_HMAC_SHA1_80 tag 1 in INVITE for 192.0.2.10:5004"])
        let media = output.compactMap { packet -> [UInt8]? in
            guard let datagram = UDPDatagram(frame: packet.data, linkType: 1), datagram.source.port != 5060,
                datagram.source.port != 5005 else { return nil }
            return Array(packet.data[datagram.payload])
        }
        #expect(media == plain)
        #expect(!result.streams.description.contains(aliceLine.serialized()), "reports never carry keys")
    }

    /// A capture that starts mid-call (packets before any key), a key for someone else tried meanwhile, then the
    /// INVITE's key, then a re-INVITE that re-keys the same media address under the same tag: every packet after
    /// each key is decrypted.
    @Test func keysThatArriveLateOrChangeInAReInviteAreFound() throws {
        func invite(_ crypto: SDESCryptoAttribute, address: String, port: Int, cseq: Int) -> [UInt8] {
            Self.sip("INVITE sip:b@x SIP/2.0", address: address, port: port, crypto: crypto, cseq: cseq)
        }
        let (stranger, strangerLine) = try SDESKeying.generate(profile: .aes128CMHMACSHA1_80, tag: 1)
        _ = stranger
        let (first, firstLine) = try SDESKeying.generate(profile: .aes128CMHMACSHA1_80, tag: 1)
        let (second, secondLine) = try SDESKeying.generate(profile: .aes128CMHMACSHA1_80, tag: 1)
        var frames: [[UInt8]] = [CaptureBuilder.ipv4UDP(from: [192, 0, 2, 99], 5060, to: CaptureBuilder.bob, 5060,
                                                        payload: invite(strangerLine, address: "192.0.2.99", port: 7000, cseq: 1))]
        let before = try first.srtpSender(), after = try second.srtpSender()
        func media(_ sender: SRTPSender, _ sequences: Range<UInt16>) throws {
            for sequence in sequences {
                var packet = CaptureBuilder.pcmaPacket(ssrc: 1, sequence: sequence)
                try sender.protect(&packet)
                frames.append(CaptureBuilder.ipv4UDP(from: CaptureBuilder.alice, 5004, to: CaptureBuilder.bob, 6000, payload: packet))
            }
        }
        try media(before, 0..<40)  // the capture joined mid-call: its key comes later
        frames.append(CaptureBuilder.ipv4UDP(from: CaptureBuilder.alice, 5060, to: CaptureBuilder.bob, 5060,
                                             payload: invite(firstLine, address: "192.0.2.10", port: 5004, cseq: 2)))
        try media(before, 40..<60)
        frames.append(CaptureBuilder.ipv4UDP(from: CaptureBuilder.alice, 5060, to: CaptureBuilder.bob, 5060,
                                             payload: invite(secondLine, address: "192.0.2.10", port: 5004, cseq: 3)))
        try media(after, 60..<80)
        let decryptor = SRTPCaptureDecryptor(options: .init(keysFromSIP: true))
        _ = frames.enumerated().map { decryptor.process(CaptureBuilder.packet(CaptureBuilder.ethernet($1), at: $0)) }
        let report = decryptor.finish()
        #expect(report.rtpDecrypted == 40, "20 under the INVITE's key, 20 under the re-INVITE's")
        #expect(report.authenticationFailures == 40, "the 40 before any right key")
    }
}
