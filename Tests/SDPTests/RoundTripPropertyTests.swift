import PropertyBased
import SDP
import Synchronization
import Testing

/// Builds a valid description deterministically from random raw material, so the property
/// exercises every field and the recognised attributes rather than only unknown ones.
enum SessionBuilder {
    static let mediaTypes: [SDPMediaType] = [.audio, .video, .text, .application, .image, .message]
    static let protocols: [SDPMediaProtocol] = [.rtpAVP, .rtpAVPF, .rtpSAVP, .rtpSAVPF, .udpTLSRTPSAVP, .udpTLSRTPSAVPF,
                                                .other("udptl"), .other("UDP/DTLS/SCTP")]
    static let directions = SDPDirection.allCases

    static func build(username: String, sessionID: UInt64, ports: [Int], choices: [Int], words: [String], keyBytes: [UInt8])
        -> SessionDescription
    {
        func choice(_ index: Int) -> Int { choices.isEmpty ? index : choices[index % choices.count] &+ index }
        func word(_ index: Int) -> String { words.isEmpty ? "w\(index)" : words[index % words.count] }

        var sdp = SessionDescription(
            origin: SDPOrigin(username: username, sessionID: sessionID, sessionVersion: UInt64(choice(0)),
                              addressType: choice(1) % 2 == 0 ? .ip4 : .ip6,
                              address: choice(1) % 2 == 0 ? "192.0.2.\(choice(2) % 256)" : "2001:db8::\(choice(2) % 9999)"),
            sessionName: choice(3) % 4 == 0 ? "" : words.joined(separator: " "),
            connection: ConnectionData(address: "198.51.100.\(choice(4) % 256)",
                                       ttl: choice(5) % 3 == 0 ? UInt8(choice(5) % 256) : nil))
        if choice(6) % 2 == 0 { sdp.information = "info " + word(1) }
        if choice(7) % 3 == 0 { sdp.uri = "https://example.com/" + word(2) }
        sdp.emails = (0..<(choice(8) % 3)).map { "user\($0)@example.com (\(word($0)))" }
        sdp.phones = (0..<(choice(9) % 2)).map { "+1 555 010\($0)" }
        sdp.bandwidths = (0..<(choice(10) % 3)).map { SDPBandwidth(type: ["AS", "CT", "TIAS"][$0], value: UInt64(choice($0 + 11))) }
        var timing = SDPTiming(start: choice(12) % 2 == 0 ? 0 : 3_724_394_400, stop: 0)
        if choice(13) % 3 == 0 {
            timing.repeats = [SDPRepeatTime(interval: SDPTypedTime(7, unit: .days), activeDuration: SDPTypedTime(UInt64(choice(14) % 100)),
                                            offsets: [SDPTypedTime(0), SDPTypedTime(25, unit: .hours)])]
            timing.zoneAdjustments = [SDPZoneAdjustment(time: 3_730_928_400, offset: SDPTypedTime(1, unit: .hours),
                                                        isNegative: choice(15) % 2 == 0)]
        }
        sdp.timings = [timing] + (choice(16) % 4 == 0 ? [SDPTiming(start: 1, stop: 2)] : [])
        if choice(17) % 5 == 0 { sdp.key = SDPEncryptionKey(method: "prompt") }
        sdp.attributes = (0..<(choice(18) % 4)).map { SDPAttribute(name: "x-\(word($0))", value: choice($0) % 2 == 0 ? nil : word($0 + 1) + " " + word($0 + 2)) }
        if choice(19) % 3 == 0 { sdp.attributes.append(.direction(directions[choice(20) % 4])) }

        for (index, port) in ports.enumerated() {
            let proto = protocols[choice(30 + index) % protocols.count]
            let type = proto.isRTP ? (choice(40 + index) % 2 == 0 ? SDPMediaType.audio : .video)
                : mediaTypes[choice(40 + index) % mediaTypes.count]
            var formats = proto.isRTP ? Array(Set((0..<(1 + choice(50 + index) % 4)).map { String((choice(60 + $0) % 128)) })).sorted()
                : [word(index)]
            if formats.isEmpty { formats = ["0"] }
            var media = MediaDescription(mediaType: type, port: UInt16(port), proto: proto, formats: formats)
            if choice(70 + index) % 4 == 0 { media.portCount = 2; media.port = UInt16(min(port, 65_000)) }
            if choice(71 + index) % 3 == 0 { media.information = word(index) }
            if choice(72 + index) % 3 == 0 { media.connections = [ConnectionData(addressType: .ip6, address: "2001:db8::1")] }
            if choice(73 + index) % 4 == 0 { media.bandwidths = [SDPBandwidth(type: "AS", value: 64)] }
            var attributes: [SDPAttribute] = []
            if proto.isRTP {
                for format in formats {
                    let payloadType = UInt8(format)!
                    attributes.append(.rtpMap(SDPRTPMap(payloadType: payloadType, encodingName: word(Int(payloadType)),
                                                        clockRate: [8000, 16000, 48000, 90000][Int(payloadType) % 4],
                                                        encodingParameters: payloadType % 3 == 0 ? 2 : nil)))
                }
                if choice(80 + index) % 2 == 0 { attributes.append(.rtcpMux) }
                if choice(81 + index) % 3 == 0 { attributes.append(.ptime(10 * (1 + choice(82) % 6))) }
                if choice(83 + index) % 3 == 0 {
                    attributes.append(.rtcp(SDPRTCPAttribute(port: UInt16(port % 65_535) + 1,
                                                             connection: choice(84) % 2 == 0 ? nil : ConnectionData(address: "192.0.2.7"))))
                }
            }
            if proto == .rtpSAVP || proto == .rtpSAVPF {
                let suites: [SRTPCryptoSuite] = [.aesCM128HMACSHA1_80, .aes256CMHMACSHA1_32, .aeadAES128GCM, .unknown("X_SUITE")]
                for tag in 1...(1 + choice(90 + index) % 3) {
                    let suite = suites[(choice(91 + tag) % suites.count)]
                    let length = suite.keyAndSaltLength ?? 20
                    let key = Array((keyBytes + keyBytes)[0..<length])
                    let lifetime: SDESLifetime? = choice(92 + tag) % 3 == 0 ? .powerOfTwo(UInt8(choice(93) % 49)) :
                        (choice(92 + tag) % 3 == 1 ? .packets(UInt64(1 + choice(94))) : nil)
                    let mki: SDESMKI? = choice(95 + tag) % 2 == 0 ? SDESMKI(value: UInt64(choice(96) % 256), length: 1) : nil
                    attributes.append(.crypto(SDESCryptoAttribute(tag: UInt32(tag), suite: suite,
                                                                  keyParams: [SDESKeyParam(keyAndSalt: key, lifetime: lifetime, mki: mki)],
                                                                  sessionParams: choice(97) % 4 == 0 ? ["UNENCRYPTED_SRTCP"] : [])))
                }
            }
            if proto.isDTLSTransport || choice(100 + index) % 5 == 0 {
                attributes.append(.fingerprint(SDPFingerprint(hashFunction: .sha256, digest: Array((keyBytes + keyBytes)[0..<32]))))
                attributes.append(.setup([.actpass, .active, .passive][choice(101) % 3]))
                attributes.append(.iceUfrag(String(repeating: word(index), count: 4)))
                attributes.append(.icePwd(String(repeating: "Ab0+/", count: 5)))
                attributes.append(.candidate(ICECandidate(
                    foundation: "\(choice(102))", componentID: 1, transport: "UDP", priority: UInt32(1 + choice(103) % 1000),
                    address: "192.0.2.\(index)", port: UInt16(port), type: .serverReflexive,
                    relatedAddress: "10.0.0.1", relatedPort: 5000,
                    extensions: [ICECandidateExtension(name: "generation", value: "0")])))
            }
            if proto == .rtpAVP && choice(110 + index) % 3 == 0 {
                attributes.append(.zrtpHash(SDPZRTPHash(version: "1.10", hash: Array((keyBytes + keyBytes)[0..<32]))))
            }
            if choice(111 + index) % 2 == 0 { attributes.append(.direction(directions[choice(112 + index) % 4])) }
            attributes.append(SDPAttribute(name: "x-\(word(index))", value: word(index + 3)))
            media.attributes = attributes
            sdp.media.append(media)
        }
        return sdp
    }
}

@Suite("Round-trip properties")
struct RoundTripPropertyTests {
    @Test func parseOfSerializeIsIdentity() async {
        await propertyCheck(
            count: 200,
            input: Gen.letterOrNumber.string(of: 1...10),
            Gen.uint64(in: 0...UInt64.max),
            Gen.int(in: 0...65_535).array(of: 0...4),
            Gen.int(in: 0...10_000).array(of: 0...12),
            Gen.letterOrNumber.string(of: 1...10).array(of: 0...8),
            Gen.uint8(in: 0...255).array(of: 46)
        ) { username, sessionID, ports, choices, words, keyBytes in
            let sdp = SessionBuilder.build(username: username, sessionID: sessionID, ports: ports, choices: choices,
                                           words: words, keyBytes: keyBytes)
            let text = try sdp.serialized()
            let parsed = try SessionDescription(parsing: text)
            #expect(parsed == sdp)
            // Serializing the parsed value reproduces the text byte for byte.
            #expect(try parsed.serialized() == text)
            // Classification is total and stable across the round trip.
            #expect(parsed.mediaSecurity == sdp.mediaSecurity)
        }
    }

    /// Mutated real descriptions (lines dropped, duplicated, swapped or cut short, bytes
    /// replaced) must either be rejected with an SDPParseError or round-trip exactly.
    @Test func mutatedInputIsRejectedOrRoundTrips() async {
        let corpus = RealWorldSDP.all.map { $0.1.components() }
        let outcomes = Mutex((accepted: 0, rejected: 0))
        await propertyCheck(
            count: 200,
            input: Gen.int(in: 0...(corpus.count - 1)),
            Gen.int(in: 0...10_000).array(of: 1...6),
            Gen.uint8(in: 0...255)
        ) { index, operations, byte in
            var lines = corpus[index]
            for operation in operations where !lines.isEmpty {
                let target = operation % lines.count
                switch operation % 5 {
                case 0: lines.remove(at: target)
                case 1: lines.insert(lines[target], at: target)
                case 2: lines.swapAt(target, (target + 1) % lines.count)
                case 3: lines[target] = String(decoding: lines[target].utf8.prefix(operation % 12), as: UTF8.self)
                default:
                    var bytes = Array(lines[target].utf8)
                    if !bytes.isEmpty { bytes[operation % bytes.count] = byte }
                    lines[target] = String(decoding: bytes, as: UTF8.self)
                }
            }
            let text = crlf(lines)
            let sdp: SessionDescription
            do {
                sdp = try SessionDescription(parsing: text)
            } catch is SDPParseError {
                outcomes.withLock { $0.rejected += 1 }
                return
            } catch {
                Issue.record("a rejection that is no SDPParseError: \(error)")
                return
            }
            outcomes.withLock { $0.accepted += 1 }
            let serialized = try sdp.serialized()
            #expect(try SessionDescription(parsing: serialized) == sdp)
        }
        // Both branches were taken: the property says something about each.
        let (accepted, rejected) = outcomes.withLock { ($0.accepted, $0.rejected) }
        #expect(accepted > 0 && rejected > 0, "accepted \(accepted), rejected \(rejected)")
    }
}

extension String {
    /// The CRLF-separated lines of a canonical description.
    fileprivate func components() -> [String] {
        var lines = self.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }
}
