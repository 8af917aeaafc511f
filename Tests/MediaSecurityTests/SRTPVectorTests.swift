import Foundation
import CLibSRTPShim
import SDP
@testable import MediaSecurity
import Testing
import TestVectors

/// `Tests/Vectors/<path>` as a JSON object, checked against the manifest; a missing file fails the test.
func vectors(_ path: String) throws -> [String: Any] { try RFCVectors.json(path) }

func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace }.utf8)
    return stride(from: 0, to: digits.count - 1, by: 2).map {
        UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)!
    }
}

func hexString(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

@Suite struct SRTPVectorTests {
    @Test(arguments: SRTPCryptoBackend.allCases)
    func aesCounterModeKeystreamMatchesRFC3711AppendixB2(backend: SRTPCryptoBackend) throws {
        let vector = try vectors("rfc3711/b2-aes-cm-keystream.json")
        let params = try #require(vector["params"] as? [String: String])
        let cipher = try backend.counterMode(key: hex(try #require(params["session_key"])))
        for block in try #require(vector["keystream_blocks"] as? [[String: String]]) {
            let counter = hex(try #require(block["counter"]))
            var output = [UInt8](repeating: 0, count: 16)
            #expect(counter.withUnsafeBufferPointer { iv in
                output.withUnsafeMutableBytes { cipher.apply(iv: iv.baseAddress!, to: $0) }
            })
            #expect(hexString(output) == block["keystream"]!.lowercased())
        }
    }

    @Test(arguments: SRTPCryptoBackend.allCases)
    func keyDerivationMatchesRFC3711AppendixB3(backend: SRTPCryptoBackend) throws {
        let vector = try vectors("rfc3711/b3-key-derivation.json")
        let inputs = try #require(vector["inputs"] as? [String: String])
        let key = hex(inputs["master_key"]!), salt = hex(inputs["master_salt"]!)
        var checked: [String] = []
        for derivation in try #require(vector["derivations"] as? [[String: Any]]) {
            guard let labelText = derivation["label"] as? String, let label = UInt8(labelText, radix: 16),
                let kind = SRTPKeyDerivation.Label(rawValue: label)
            else { continue }
            let expected: String
            if let output = derivation["output"] as? String {
                expected = output
            } else if let full = derivation["full_output"] as? String ?? derivation["auth_key"] as? String {
                expected = full
            } else {
                continue
            }
            let length = hex(expected).count
            let derived = try SRTPKeyDerivation.derive(kind, masterKey: key, masterSalt: salt, length: length,
                                                       backend: backend)
            #expect(hexString(derived) == expected.lowercased(), "label \(labelText)")
            checked.append(labelText)
        }
        #expect(checked == ["00", "02", "01"], "the RFC's cipher key, salt and authentication key")
    }

    @Test(arguments: SRTPCryptoBackend.allCases)
    func libsrtpKnownAnswerPacketsProtectAndUnprotect(backend: SRTPCryptoBackend) throws {
        let vector = try vectors("libsrtp/srtp_driver-known-answers.json")
        var checked: [String] = []
        for packet in try #require(vector["vectors"] as? [[String: Any]]) {
            // RFC 6904 (encrypted header extensions) is not in this library's scope: its vector is the only one
            // whose header differs once protected.
            guard let name = packet["name"] as? String, !name.contains("encrypted header extensions"), let plain = packet["rtp_plaintext"] as? String,
                let protected = packet["srtp_protected"] as? String, let material = packet["master_key_and_salt"] as? String,
                let profile = SRTPProfile.allCases.first(where: { name.hasPrefix($0.name.replacingOccurrences(of: "AES_256_CM", with: "AES_CM_256")) || name.hasPrefix($0.name) })
            else { continue }
            let keyAndSalt = hex(material)
            let key = Array(keyAndSalt.prefix(profile.keyLength)), salt = Array(keyAndSalt.suffix(profile.saltLength))
            var outgoing = hex(plain)
            try SRTPSender(profile: profile, masterKey: key, masterSalt: salt, backend: backend).protect(&outgoing)
            #expect(hexString(outgoing) == protected.lowercased(), "\(name)")
            var incoming = hex(protected)
            try SRTPReceiver(profile: profile, masterKey: key, masterSalt: salt, backend: backend).unprotect(&incoming)
            #expect(hexString(incoming) == plain.lowercased(), "\(name)")
            checked.append(name)
        }
        #expect(checked == ["AES_CM_128_HMAC_SHA1_80 SRTP (default policy)", "AES_CM_256_HMAC_SHA1_80 SRTP",
                            "AEAD_AES_128_GCM (16-octet tag) SRTP"])
    }
}

@Suite struct SRTPStreamTests {
    static let key = [UInt8](repeating: 0x11, count: 16)
    static let salt = [UInt8](repeating: 0x22, count: 14)

    static func rtp(sequence: UInt16, payload: [UInt8] = Array(repeating: 0xAB, count: 160)) -> [UInt8] {
        [0x80, 0x00, UInt8(sequence >> 8), UInt8(sequence & 0xFF), 0, 0, 0, 1, 0xCA, 0xFE, 0xBA, 0xBE] + payload
    }

    @Test(arguments: SRTPProfile.allCases) func roundTripAcrossARolloverWithReplaysAndTampering(profile: SRTPProfile) throws {
        let key = Array(repeating: UInt8(0x11), count: profile.keyLength)
        let salt = Array(repeating: UInt8(0x22), count: profile.saltLength)
        let sender = try SRTPSender(profile: profile, masterKey: key, masterSalt: salt)
        let receiver = try SRTPReceiver(profile: profile, masterKey: key, masterSalt: salt)
        var kept: [UInt8] = []
        for sequence in [UInt16(65_533), 65_534, 65_535, 0, 1, 2] {
            let plain = Self.rtp(sequence: sequence)
            var packet = plain
            try sender.protect(&packet)
            #expect(packet.count == plain.count + profile.srtpTagLength)
            #expect(packet[12..<172] != plain[12..<172], "the payload is encrypted")
            if sequence == 1 { kept = packet }
            try receiver.unprotect(&packet)
            #expect(packet == plain)
        }
        #expect(receiver.rolloverCounter == 1, "the sequence number wrapped once")
        var replay = kept
        #expect(throws: MediaSecurityError(.replayed, "")) { try receiver.unprotect(&replay) }
        #expect(replay == kept, "a refused packet is left as it was")
        var tampered = try { () throws -> [UInt8] in
            var packet = Self.rtp(sequence: 3)
            try sender.protect(&packet)
            return packet
        }()
        tampered[20] ^= 1
        #expect(throws: MediaSecurityError(.authenticationFailed, "")) { try receiver.unprotect(&tampered) }
        var short: [UInt8] = [0x80, 0, 0]
        #expect(throws: MediaSecurityError(.malformed, "")) { try receiver.unprotect(&short) }
        #expect(throws: MediaSecurityError(.malformed, "")) { try sender.protect(&short) }
    }

    @Test func wrongKeyLengthsAreRefused() {
        #expect(throws: MediaSecurityError(.invalidKey, "")) {
            try SRTPSender(profile: .aes128CMHMACSHA1_80, masterKey: Array(repeating: 0, count: 32), masterSalt: Self.salt)
        }
        #expect(throws: MediaSecurityError(.invalidKey, "")) {
            try SRTPReceiver(profile: .aes256CMHMACSHA1_80, masterKey: Self.key, masterSalt: Self.salt)
        }
    }

    @Test func theReplayWindowAcceptsLatePacketsInsideItAndRefusesOlderOnes() {
        var window = SRTPReplayWindow(size: 64)
        window.accept(100)
        #expect(window.check(100) == .replayed)
        #expect(window.check(99) == nil)
        window.accept(99)
        window.accept(163)
        #expect(window.check(100) == .replayed)
        #expect(window.check(99) == .tooOld)
        #expect(window.check(101) == nil)
        window.accept(1_000)
        #expect(window.check(163) == .tooOld)
        #expect(SRTPReplayWindow(size: 10).size == 64)
        #expect(SRTPReplayWindow(size: .max).size == SRTPReplayWindow.maximumSize)
        var narrow = SRTPReplayWindow(size: 64)
        narrow.accept(1_000)
        narrow.accept(10)  // far behind, without a check first: ignored, not a crash
        #expect(narrow.check(10) == .tooOld)
    }
}

@Suite struct SRTCPTests {
    @Test(arguments: SRTPCryptoBackend.allCases)
    func libsrtpSRTCPKnownAnswerProtectsAndUnprotects(backend: SRTPCryptoBackend) throws {
        let vector = try vectors("libsrtp/srtp_driver-known-answers.json")
        let packet = try #require((vector["vectors"] as? [[String: Any]])?.first { $0["rtcp_plaintext"] != nil })
        let material = hex(try #require(packet["master_key_and_salt"] as? String))
        let key = Array(material.prefix(16)), salt = Array(material.suffix(14))
        let plain = hex(try #require(packet["rtcp_plaintext"] as? String))
        let protected = try #require(packet["srtcp_protected"] as? String).lowercased()
        // libsrtp2 numbers its first SRTCP packet 1; RFC 3711 §3.3.2 starts at 0 (both are read alike).
        var outgoing = plain
        let policy = SRTPPolicy(profile: .aes128CMHMACSHA1_80, masterKey: key, masterSalt: salt, backend: backend)
        try SRTCPSender(policy: policy, firstIndex: 1).protect(&outgoing)
        #expect(hexString(outgoing) == protected)
        var incoming = hex(protected)
        let receiver = try SRTCPReceiver(policy: policy)
        try receiver.unprotect(&incoming)
        #expect(incoming == plain)
        var again = hex(protected)
        #expect(throws: MediaSecurityError(.replayed, "")) { try receiver.unprotect(&again) }
        var tampered = hex(protected)
        tampered[9] ^= 0x40
        #expect(throws: MediaSecurityError(.authenticationFailed, "")) {
            try SRTCPReceiver(profile: .aes128CMHMACSHA1_80, masterKey: key, masterSalt: salt).unprotect(&tampered)
        }
    }

    @Test(arguments: LibSRTPInteropTests.profiles) func srtcpInteroperatesWithLibSRTP(profile: SRTPProfile) throws {
        let keyAndSalt = (0..<(profile.keyLength + profile.saltLength)).map { UInt8(truncatingIfNeeded: $0 * 13 + 1) }
        let key = Array(keyAndSalt.prefix(profile.keyLength)), salt = Array(keyAndSalt.suffix(profile.saltLength))
        // A compound packet: a sender report and an SDES chunk.
        let plain: [UInt8] = [0x80, 0xC8, 0x00, 0x06, 0xCA, 0xFE, 0xBA, 0xBE] + (0..<20).map { UInt8($0) }
            + [0x81, 0xCA, 0x00, 0x02, 0xCA, 0xFE, 0xBA, 0xBE, 0x01, 0x02, 0x61, 0x62]
        let sender = try SRTCPSender(profile: profile, masterKey: key, masterSalt: salt)
        let receiver = try SRTCPReceiver(profile: profile, masterKey: key, masterSalt: salt)
        try LibSRTPInteropTests.withLibSRTP(profile, keyAndSalt: keyAndSalt, inbound: true) { libsrtp in
            for _ in 0..<3 {
                var packet = plain
                try sender.protect(&packet)
                #expect(packet.count == plain.count + 4 + profile.srtcpTagLength, "80-bit tags for every HMAC suite")
                var length = Int32(packet.count)
                let status = packet.withUnsafeMutableBufferPointer {
                    rampart_libsrtp_unprotect_rtcp(libsrtp, $0.baseAddress, &length)
                }
                #expect(status == 0, "libsrtp2 refused Rampart's SRTCP: \(status)")
                #expect(Array(packet.prefix(Int(length))) == plain)
            }
        }
        try LibSRTPInteropTests.withLibSRTP(profile, keyAndSalt: keyAndSalt, inbound: false) { libsrtp in
            for _ in 0..<3 {
                var packet = plain + [UInt8](repeating: 0, count: 64)
                var length = Int32(plain.count)
                #expect(packet.withUnsafeMutableBufferPointer {
                    rampart_libsrtp_protect_rtcp(libsrtp, $0.baseAddress, &length)
                } == 0)
                packet = Array(packet.prefix(Int(length)))
                try receiver.unprotect(&packet)
                #expect(packet == plain)
            }
        }
    }
}

@Suite struct UnprotectRobustnessTests {
    /// What the network can send: random and truncated packets give typed errors and are left as they were.
    @Test func arbitraryBytesAreRefusedWithoutChangingThem() throws {
        let key = [UInt8](repeating: 1, count: 16), salt = [UInt8](repeating: 2, count: 14)
        let rtp = try SRTPReceiver(profile: .aes128CMHMACSHA1_80, masterKey: key, masterSalt: salt)
        let rtcp = try SRTCPReceiver(profile: .aes128CMHMACSHA1_80, masterKey: key, masterSalt: salt)
        let sender = try SRTPSender(profile: .aes128CMHMACSHA1_80, masterKey: key, masterSalt: salt)
        var valid: [UInt8] = [0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0xBE, 0xDE, 0, 1, 1, 2, 3, 4] + Array(repeating: 7, count: 40)
        try sender.protect(&valid)
        var generator = SystemRandomNumberGenerator()
        var refused = 0
        for round in 0..<5_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0...80, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                if !bytes.isEmpty, round % 4 == 0 { bytes[0] = 0x80 | (bytes[0] & 0x3F) }  // version 2, to get further
            } else {
                bytes = Array(valid.prefix(Int.random(in: 0..<valid.count, using: &generator)))  // truncations
            }
            var packet = bytes
            do { try rtp.unprotect(&packet) } catch {
                refused += 1
                #expect(packet == bytes)
            }
            packet = bytes
            do { try rtcp.unprotect(&packet) } catch { #expect(packet == bytes) }
        }
        #expect(refused == 5_000)
    }
}

@Suite struct AEADTests {
    @Test(arguments: SRTPCryptoBackend.allCases)
    func rfc7714Section16PacketsSealAndOpen(backend: SRTPCryptoBackend) throws {
        let vector = try vectors("rfc7714/section16-srtp-aead-aes-gcm.json")
        let salt = hex(try #require(vector["session_salt"] as? String))
        let rtp = try #require(vector["rtp_packet"] as? [String: Any])
        let plain = hex(try #require(rtp["hex"] as? String))
        var checked = 0
        for packet in try #require(vector["vectors"] as? [[String: String]]) {
            guard let expected = packet["srtp_packet"], let suite = packet["suite"] else { continue }
            let profile = try #require(SRTPProfile(name: suite))
            let key = hex(try #require(vector[profile == .aeadAES128GCM ? "session_key_128" : "session_key_256"] as? String))
            let context = try SRTPSessionKeys(aead: profile, sessionKey: key, sessionSalt: salt, backend: backend)
            var iv = (UInt64(0), UInt32(0))
            context.aeadIV(ssrc: 0x5501_A0B2, high: 0, low: 0xF17B, into: &iv)
            #expect(hexString(withUnsafeBytes(of: &iv) { Array($0) }) == (vector["iv"] as? [String: String])?["value"])
            var sealed = plain
            var tag = [UInt8](repeating: 0, count: 16)
            let ok = withUnsafeBytes(of: &iv) { ivBytes in
                sealed.withUnsafeMutableBytes { bytes in
                    tag.withUnsafeMutableBufferPointer { tagBuffer in
                        context.aead!.seal(iv: ivBytes.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                           aad: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[..<12]),
                                           text: UnsafeMutableRawBufferPointer(rebasing: bytes[12...]),
                                           tag: tagBuffer.baseAddress!)
                    }
                }
            }
            #expect(ok)
            #expect(hexString(sealed + tag) == expected.lowercased(), "\(suite)")
            // Opening: a good tag restores the plaintext; a bad one leaves the ciphertext as it was.
            var opened = sealed
            var badTag = tag
            badTag[0] ^= 1
            for (candidate, valid) in [(badTag, false), (tag, true)] {
                let result = withUnsafeBytes(of: &iv) { ivBytes in
                    opened.withUnsafeMutableBytes { bytes in
                        candidate.withUnsafeBytes { tagBytes in
                            context.aead!.open(iv: ivBytes.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                               aad: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[..<12]),
                                               text: UnsafeMutableRawBufferPointer(rebasing: bytes[12...]), tag: tagBytes)
                        }
                    }
                }
                #expect(result == valid)
                #expect(opened == (valid ? plain : sealed))
            }
            checked += 1
        }
        #expect(checked == 2)
    }

    @Test(arguments: SRTPCryptoBackend.allCases)
    func libsrtpGCMKnownAnswerPacketsProtectAndUnprotect(backend: SRTPCryptoBackend) throws {
        let vector = try vectors("libsrtp/srtp_driver-known-answers.json")
        var checked: [String] = []
        for packet in try #require(vector["vectors"] as? [[String: Any]]) {
            guard let name = packet["name"] as? String, name.hasPrefix("AEAD_AES_128_GCM"),
                let material = packet["master_key_and_salt"] as? String
            else { continue }
            let keyAndSalt = hex(material)
            let key = Array(keyAndSalt.prefix(16)), salt = Array(keyAndSalt.suffix(12))
            let policy = SRTPPolicy(profile: .aeadAES128GCM, masterKey: key, masterSalt: salt, backend: backend)
            if let plain = packet["rtp_plaintext"] as? String, let protected = packet["srtp_protected"] as? String {
                var outgoing = hex(plain)
                try SRTPSender(policy: policy).protect(&outgoing)
                #expect(hexString(outgoing) == protected.lowercased())
                var incoming = hex(protected)
                try SRTPReceiver(policy: policy).unprotect(&incoming)
                #expect(incoming == hex(plain))
                checked.append(name)
            }
            if let plain = packet["rtcp_plaintext"] as? String, let protected = packet["srtcp_protected"] as? String {
                var outgoing = hex(plain)
                try SRTCPSender(policy: policy, firstIndex: 1).protect(&outgoing)
                #expect(hexString(outgoing) == protected.lowercased())
                var incoming = hex(protected)
                try SRTCPReceiver(policy: policy).unprotect(&incoming)
                #expect(incoming == hex(plain))
                checked.append(name)
            }
        }
        #expect(checked == ["AEAD_AES_128_GCM (16-octet tag) SRTP", "AEAD_AES_128_GCM (16-octet tag) SRTCP"])
    }
}

@Suite struct SDESKeyingTests {
    @Test func anSDESCryptoLineKeysBothEndsOfAStream() throws {
        let line = "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20"
        let keying = try SDESKeying(try SDESCryptoAttribute(parsing: line))
        #expect(keying.profile == .aes128CMHMACSHA1_80)
        #expect(keying.keys.first?.lifetime == 1 << 20)
        let sender = try keying.srtpSender(), receiver = try keying.srtpReceiver()
        let rtcpSender = try keying.srtcpSender(), rtcpReceiver = try keying.srtcpReceiver()
        var packet: [UInt8] = [0x80, 0, 0, 7, 0, 0, 0, 0, 1, 2, 3, 4] + Array(repeating: 9, count: 20)
        let plain = packet
        try sender.protect(&packet)
        try receiver.unprotect(&packet)
        #expect(packet == plain)
        var report: [UInt8] = [0x80, 0xC9, 0, 1, 1, 2, 3, 4]
        let plainReport = report
        try rtcpSender.protect(&report)
        try rtcpReceiver.unprotect(&report)
        #expect(report == plainReport)

        let gcm = "2 AEAD_AES_128_GCM inline:" + Base64Sample.gcm128
        #expect(try SDESKeying(try SDESCryptoAttribute(parsing: gcm)).profile == .aeadAES128GCM)
        for refused in [line + " UNENCRYPTED_SRTP", line + " UNAUTHENTICATED_SRTP", line + " FEC_ORDER=FEC_SRTP",
                        line + " KDR=25", line + " WSH=10", line + " SOMETHING_NEW"] {
            #expect(throws: MediaSecurityError(.invalidKey, ""), "\(refused)") {
                try SDESKeying(try SDESCryptoAttribute(parsing: refused))
            }
        }
        #expect(throws: MediaSecurityError(.invalidKey, "")) {
            try SDESKeying(try SDESCryptoAttribute(parsing: "3 F8_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"))
        }
    }

    /// MKIs, KDR and WSH from the line reach the streams: two keys with MKIs, and a rate of 2^4.
    @Test func mkisAndSessionParametersReachTheStreams() throws {
        let line = "1 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1:2;"
            + "inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd|2:2 KDR=4 WSH=256"
        let keying = try SDESKeying(try SDESCryptoAttribute(parsing: line))
        #expect(keying.keys.map(\.mki) == [[0, 1], [0, 2]])
        #expect(keying.keyDerivationRate == 16 && keying.replayWindow == 256)
        let sender = try keying.srtpSender(), receiver = try keying.srtpReceiver()
        for sequence in UInt16(0)..<40 {
            if sequence == 20 { try sender.useKey(mki: [0, 2]) }
            var packet = rtpPacket(ssrc: 3, sequence: sequence)
            try sender.protect(&packet)
            #expect(Array(packet.dropLast(4).suffix(2)) == (sequence < 20 ? [0, 1] : [0, 2]))
            try receiver.unprotect(&packet)
            #expect(packet == rtpPacket(ssrc: 3, sequence: sequence))
        }
    }

    /// Generated keys are fresh each time, fit the suite, and the offered line reads back to the same keys.
    @Test(arguments: SRTPProfile.allCases) func generatedKeysRoundTripThroughTheirCryptoLine(profile: SRTPProfile) throws {
        let (keying, attribute) = try SDESKeying.generate(profile: profile, tag: 7, mkiLength: 2)
        let line = attribute.serialized()
        #expect(line.hasPrefix("7 \(profile.name) inline:"))
        #expect(!attribute.description.contains(String(line.split(separator: ":")[1].prefix(20))), "redacted")
        let reread = try SDESKeying(try SDESCryptoAttribute(parsing: line))
        var packet = rtpPacket(ssrc: 1, sequence: 1)
        try keying.srtpSender().protect(&packet)
        try reread.srtpReceiver().unprotect(&packet)
        #expect(packet == rtpPacket(ssrc: 1, sequence: 1))
        let other = try SDESKeying.generate(profile: profile).attribute
        #expect(other.keyParams[0].keyAndSalt != attribute.keyParams[0].keyAndSalt)
    }

    /// A key's SDES lifetime bounds what it may protect.
    @Test func aKeysLifetimeIsEnforced() throws {
        let keys = material(.aes128CMHMACSHA1_80, seed: 2)
        let policy = SRTPPolicy(profile: .aes128CMHMACSHA1_80,
                                keys: [SRTPMasterKey(key: keys.key, salt: keys.salt, lifetime: 3)])
        let sender = try SRTPSender(policy: policy), rtcp = try SRTCPSender(policy: policy)
        for sequence in UInt16(1)...3 {
            var packet = rtpPacket(ssrc: 1, sequence: sequence), report = rtcpPacket(ssrc: 1)
            try sender.protect(&packet)
            try rtcp.protect(&report)
        }
        var fourth = rtpPacket(ssrc: 1, sequence: 4), report = rtcpPacket(ssrc: 1)
        #expect(throws: MediaSecurityError(.keyExhausted, "")) { try sender.protect(&fourth) }
        #expect(throws: MediaSecurityError(.keyExhausted, "")) { try rtcp.protect(&report) }
    }
}

enum Base64Sample {
    /// 28 octets (16-octet key and 12-octet salt) in base64.
    static let gcm128 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw=="
}

@Suite struct RFC6188AndRFC7714SRTCPVectorTests {
    /// RFC 6188 §7.1, §7.3: AES-256-CM and AES-192-CM keystreams, the first three blocks and the last three of
    /// 0xFF02 blocks.
    @Test(arguments: SRTPCryptoBackend.allCases) func aes192And256KeystreamsMatchRFC6188(backend: SRTPCryptoBackend) throws {
        let vector = try vectors("rfc6188/aes192-aes256-vectors.json")
        var checked = 0
        for stream in try #require(vector["keystream"] as? [[String: String]]) {
            let cipher = try backend.counterMode(key: hex(try #require(stream["session_key"])))
            let counter = hex(try #require(stream["session_salt_shifted"]))
            var keystream = [UInt8](repeating: 0, count: 0xFF02 * 16)
            #expect(counter.withUnsafeBufferPointer { iv in keystream.withUnsafeMutableBytes { cipher.apply(iv: iv.baseAddress!, to: $0) } })
            #expect(hexString(Array(keystream.prefix(48))) == stream["first_three_blocks"], "\(stream["section"] ?? "")")
            #expect(hexString(Array(keystream.suffix(48))) == stream["last_three_blocks_of_0xFF02"], "\(stream["section"] ?? "")")
            checked += 1
        }
        #expect(checked == 2)
    }

    /// RFC 6188 §7.2, §7.4: the AES-256 and AES-192 PRFs derive the session keys.
    @Test(arguments: SRTPCryptoBackend.allCases) func aes192And256KeyDerivationMatchesRFC6188(backend: SRTPCryptoBackend) throws {
        let vector = try vectors("rfc6188/aes192-aes256-vectors.json")
        var checked = 0
        for kdf in try #require(vector["kdf"] as? [[String: String]]) {
            let key = hex(try #require(kdf["master_key"])), salt = hex(try #require(kdf["master_salt"]))
            for (label, field) in [(SRTPKeyDerivation.Label.rtpEncryption, "cipher_key_label00"),
                                   (.rtpAuthentication, "auth_key_label01_first20"), (.rtpSalt, "cipher_salt_label02")] {
                let expected = try #require(kdf[field])
                let derived = try SRTPKeyDerivation.derive(label, masterKey: key, masterSalt: salt,
                                                           length: expected.count / 2, backend: backend)
                #expect(hexString(derived) == expected, "\(kdf["section"] ?? "") \(field)")
                checked += 1
            }
        }
        #expect(checked == 6)
    }

    /// RFC 7714 §17.1-17.4: SRTCP with AEAD_AES_128/256_GCM, encrypted (E = 1, protected and unprotected) and
    /// authenticated only (E = 0, unprotected), from session keys, SRTCP index 0x5d4.
    @Test(arguments: SRTPCryptoBackend.allCases) func srtcpAEADPacketsMatchRFC7714Section17(backend: SRTPCryptoBackend) throws {
        let vector = try vectors("rfc7714/section17-srtcp-aead-aes-gcm.json")
        let salt = hex(try #require(vector["session_salt"] as? String))
        let plain = hex(try #require((vector["rtcp_packet"] as? [String: Any])?["hex"] as? String))
        var checked = 0
        for packet in try #require(vector["vectors"] as? [[String: Any]]) {
            guard let suite = packet["suite"] as? String, let wire = packet["srtcp_packet"] as? String,
                let profile = SRTPProfile(name: suite), let encrypted = packet["e_flag"] as? Int
            else { continue }
            let key = hex(try #require(vector[profile == .aeadAES128GCM ? "session_key_128" : "session_key_256"] as? String))
            func context() throws -> SRTPKeyContext {
                SRTPKeyContext(sessionKeys: try SRTPSessionKeys(aead: profile, sessionKey: key, sessionSalt: salt,
                                                                backend: backend), rtcp: true)
            }
            if encrypted == 1 {
                var outgoing = plain
                try SRTCPSender(profile: profile, contexts: [try context()], firstIndex: 0x5D4).protect(&outgoing)
                #expect(hexString(outgoing) == wire, "\(packet["id"] ?? "")")
            }
            var incoming = hex(wire)
            let receiver = SRTCPReceiver(profile: profile, contexts: [try context()])
            try receiver.unprotect(&incoming)
            #expect(incoming == plain, "\(packet["id"] ?? "")")
            var tampered = hex(wire)
            tampered[20] ^= 0x80
            let copy = tampered
            #expect(throws: MediaSecurityError(.authenticationFailed, "")) {
                try SRTCPReceiver(profile: profile, contexts: [try context()]).unprotect(&tampered)
            }
            #expect(tampered == copy)
            checked += 1
        }
        #expect(checked == 4)
    }
}
