import CLibSRTPShim
@testable import MediaSecurity
import Testing

/// Interoperability with libsrtp2 (Debian's libsrtp2-dev, the reference implementation): what Rampart protects,
/// libsrtp2 unprotects, and the other way round, for every suite (AES-CM and AEAD-GCM), across a ROC rollover.
@Suite struct LibSRTPInteropTests {
    static let ssrc: UInt32 = 0xCAFE_BABE
    /// The suites both libraries implement alike. Debian's libsrtp2 2.5 derives AES-192 keys with the AES-256
    /// PRF (cisco/libsrtp#763, fixed in 2025), so its AES_192_CM suites do not follow RFC 6188; Rampart's are
    /// checked against RFC 6188's own vectors instead.
    static let profiles = SRTPProfile.allCases.filter { $0.keyLength != 24 }

    static func shimProfile(_ profile: SRTPProfile) -> Int32 { rampart_libsrtp_profile(profile.name) }

    static func rtp(sequence: UInt16, payloadSize: Int) -> [UInt8] {
        var packet: [UInt8] = [0x80, 0x08, UInt8(sequence >> 8), UInt8(truncatingIfNeeded: sequence),
                               0, 1, 0, 0, 0xCA, 0xFE, 0xBA, 0xBE]
        packet += (0..<payloadSize).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(sequence)) }
        return packet
    }

    /// A libsrtp2 session for `profile`, freed at the end of `body`.
    static func withLibSRTP<T>(_ profile: SRTPProfile, keyAndSalt: [UInt8], inbound: Bool, ssrc: UInt32 = ssrc,
                               _ body: (UnsafeMutableRawPointer) throws -> T) throws -> T {
        let session = try #require(keyAndSalt.withUnsafeBufferPointer {
            rampart_libsrtp_session(shimProfile(profile), ssrc, $0.baseAddress, inbound ? 1 : 0)
        }, "libsrtp2 refused the policy")
        defer { rampart_libsrtp_free(session) }
        return try body(session)
    }

    @Test(arguments: LibSRTPInteropTests.profiles, SRTPCryptoBackend.allCases)
    func rampartAndLibSRTPUnprotectEachOther(profile: SRTPProfile, backend: SRTPCryptoBackend) throws {
        let keyAndSalt = (0..<(profile.keyLength + profile.saltLength)).map { UInt8(truncatingIfNeeded: $0 * 29 + 3) }
        let key = Array(keyAndSalt.prefix(profile.keyLength)), salt = Array(keyAndSalt.suffix(profile.saltLength))
        // Sequence numbers across the wrap: the ROC goes to 1 on both sides.
        let sequences = (0..<12).map { UInt16(truncatingIfNeeded: 65_530 + $0) }

        let sender = try SRTPSender(profile: profile, masterKey: key, masterSalt: salt, backend: backend)
        try Self.withLibSRTP(profile, keyAndSalt: keyAndSalt, inbound: true) { libsrtp in
            for (offset, sequence) in sequences.enumerated() {
                let plain = Self.rtp(sequence: sequence, payloadSize: 160 + offset)
                var packet = plain
                try sender.protect(&packet)
                packet.reserveCapacity(packet.count + 64)
                var length = Int32(packet.count)
                let status = packet.withUnsafeMutableBufferPointer {
                    rampart_libsrtp_unprotect(libsrtp, $0.baseAddress, &length)
                }
                #expect(status == 0, "libsrtp2 refused Rampart's packet \(sequence): status \(status)")
                #expect(Array(packet.prefix(Int(length))) == plain)
            }
        }

        let receiver = try SRTPReceiver(profile: profile, masterKey: key, masterSalt: salt, backend: backend)
        try Self.withLibSRTP(profile, keyAndSalt: keyAndSalt, inbound: false) { libsrtp in
            for (offset, sequence) in sequences.enumerated() {
                let plain = Self.rtp(sequence: sequence, payloadSize: 200 - offset)
                var packet = plain + [UInt8](repeating: 0, count: 64)
                var length = Int32(plain.count)
                let status = packet.withUnsafeMutableBufferPointer {
                    rampart_libsrtp_protect(libsrtp, $0.baseAddress, &length)
                }
                #expect(status == 0)
                packet = Array(packet.prefix(Int(length)))
                #expect(packet.count == plain.count + profile.srtpTagLength)
                try receiver.unprotect(&packet)
                #expect(packet == plain, "Rampart could not read libsrtp2's packet \(sequence)")
            }
            #expect(receiver.rolloverCounter == 1)
        }
    }
}

/// CSRCs and a header extension are authenticated but stay in clear (RFC 3711 §3.1), the same in both libraries.
@Suite struct HeaderExtensionInteropTests {
    @Test(arguments: [SRTPProfile.aes128CMHMACSHA1_80, .aeadAES128GCM])
    func csrcsAndHeaderExtensionsInteroperateWithLibSRTP(profile: SRTPProfile) throws {
        let keys = material(profile, seed: 40)
        // V=2, X=1, CC=2; two CSRCs; a one-byte-header extension (0xBEDE) of two words; then the payload.
        let header: [UInt8] = [0x92, 0x08, 0x12, 0x34, 0, 0, 0x01, 0x40, 0xCA, 0xFE, 0xBA, 0xBE,
                               0, 0, 0, 1, 0, 0, 0, 2, 0xBE, 0xDE, 0, 2, 0x10, 0xAA, 0x21, 0xBB, 0xCC, 0, 0, 0]
        let plain = header + (0..<100).map { UInt8($0) }
        var packet = plain
        try SRTPSender(profile: profile, masterKey: keys.key, masterSalt: keys.salt).protect(&packet)
        #expect(Array(packet.prefix(header.count)) == header, "the header stays in clear")
        #expect(packet[header.count..<plain.count] != plain[header.count...], "the payload does not")
        try LibSRTPInteropTests.withLibSRTP(profile, keyAndSalt: keys.both, inbound: true) { libsrtp in
            var length = Int32(packet.count)
            #expect(packet.withUnsafeMutableBufferPointer { rampart_libsrtp_unprotect(libsrtp, $0.baseAddress, &length) } == 0)
            #expect(Array(packet.prefix(Int(length))) == plain)
        }
        try LibSRTPInteropTests.withLibSRTP(profile, keyAndSalt: keys.both, inbound: false) { libsrtp in
            var buffer = plain + [UInt8](repeating: 0, count: 32)
            var length = Int32(plain.count)
            #expect(buffer.withUnsafeMutableBufferPointer { rampart_libsrtp_protect(libsrtp, $0.baseAddress, &length) } == 0)
            var fromLibSRTP = Array(buffer.prefix(Int(length)))
            // A new receiver: libsrtp2 used the same key and index as the sender above.
            try SRTPReceiver(profile: profile, masterKey: keys.key, masterSalt: keys.salt).unprotect(&fromLibSRTP)
            #expect(fromLibSRTP == plain)
        }
    }
}
