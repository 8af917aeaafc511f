import CLibSRTPShim
import Foundation
import Pcap
import Testing

/// `rampart srtp` on a real capture: sipp's G.711 A-law recording (Debian sip-tester), protected by libsrtp2,
/// decrypted by Rampart and read back by tshark.
@Suite(.serialized) struct SRTPCommandTests {
    static let capture = "/usr/share/sip-tester/g711a.pcap"
    static let keyAndSalt = (0..<30).map { UInt8(truncatingIfNeeded: $0 * 11 + 5) }

    /// The capture with every RTP payload protected by libsrtp2 (AES_CM_128_HMAC_SHA1_80), as a classic pcap.
    static func protectCapture(into path: String) throws -> Int {
        var reader = PcapReader()
        reader.append(try #require(FileManager.default.contents(atPath: capture), "sip-tester's g711a.pcap"))
        let session = try #require(keyAndSalt.withUnsafeBufferPointer {
            rampart_libsrtp_session(0, 0, $0.baseAddress, 0)  // the outbound template: any SSRC
        })
        defer { rampart_libsrtp_free(session) }
        var output = PcapWriter(linkType: 1).fileHeader(), protected = 0
        while let packet = try reader.next() {
            guard let datagram = UDPDatagram(frame: packet.data, linkType: packet.linkType) else { continue }
            var buffer = Array(packet.data[datagram.payload]) + [UInt8](repeating: 0, count: 32)
            var length = Int32(datagram.payload.count)
            #expect(buffer.withUnsafeMutableBufferPointer { rampart_libsrtp_protect(session, $0.baseAddress, &length) } == 0)
            var protectedPacket = packet
            protectedPacket.data = try #require(datagram.replacingPayload(in: packet.data, with: Array(buffer.prefix(Int(length)))))
            protectedPacket.originalLength = protectedPacket.data.count
            output += PcapWriter(linkType: 1).record(protectedPacket)
            protected += 1
        }
        try Data(output).write(to: URL(fileURLWithPath: path))
        return protected
    }

    static func tsharkPayloads(_ path: String) throws -> [String] {
        let result = try Peers.run(try Peers.tool("tshark"), ["-r", path, "-d", "udp.port==2006,rtp", "-Y", "rtp",
                                                              "-T", "fields", "-e", "rtp.payload"])
        #expect(result.status == 0)
        return result.output.split(separator: "\n").map(String.init).filter { !$0.isEmpty && !$0.hasPrefix("Running as") }
    }

    @Test func decryptWritesWhatTsharkReadsAsTheOriginalAudioAndCheckTellsThemApart() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-srtp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let protected = directory.appendingPathComponent("protected.pcap").path
        let clear = directory.appendingPathComponent("clear.pcap").path
        let keyFile = directory.appendingPathComponent("key").path
        let count = try Self.protectCapture(into: protected)
        #expect(count == 236)
        try Data(Data(Self.keyAndSalt).base64EncodedString().utf8).write(to: URL(fileURLWithPath: keyFile))

        let plainCheck = try RampartProcess.run(["srtp", "check", Self.capture])
        #expect(plainCheck.status == 1, "plaintext media fails the check")
        #expect(plainCheck.stdout.contains("SSRC 0xdee0ee8f: plaintext"))
        let cipherCheck = try RampartProcess.run(["srtp", "check", protected])
        #expect(cipherCheck.status == 0, "\(cipherCheck.stdout)")
        #expect(cipherCheck.stdout.contains("SSRC 0xdee0ee8f: encrypted"))

        let decrypt = try RampartProcess.run(["srtp", "decrypt", "--in", protected, "--out", clear,
                                              "--suite", "AES_CM_128_HMAC_SHA1_80", "--key-file", keyFile])
        #expect(decrypt.status == 0, "\(decrypt.stdout)\(decrypt.stderr)")
        #expect(decrypt.stdout.contains("RTP decrypted         236"))
        let mode = try FileManager.default.attributesOfItem(atPath: clear)[.posixPermissions] as? Int
        #expect(mode == 0o600, "decrypted media is the owner's only")
        #expect(!decrypt.stdout.contains(Data(Self.keyAndSalt).base64EncodedString()))
        #expect(try Self.tsharkPayloads(clear) == Self.tsharkPayloads(Self.capture), "tshark hears the original audio")
        // Every rewritten header checks out in Wireshark's own validation.
        let checksums = try Peers.run(try Peers.tool("tshark"), [
            "-r", clear, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
            "-T", "fields", "-e", "ip.checksum.status", "-e", "udp.checksum.status"])
        let statuses = checksums.output.split(separator: "\n").filter { !$0.hasPrefix("Running as") }
        #expect(statuses.count == 236)
        #expect(statuses.allSatisfy { $0 == "1\t1" }, "all good: \(Set(statuses))")

        // pcapng in, the same out.
        let pcapng = directory.appendingPathComponent("protected.pcapng").path
        #expect(try Peers.run(try Peers.tool("editcap"), ["-F", "pcapng", protected, pcapng]).status == 0)
        let fromNG = try RampartProcess.run(["srtp", "decrypt", "--in", pcapng, "--out", clear,
                                             "--suite", "AES_CM_128_HMAC_SHA1_80", "--key-file", keyFile])
        #expect(fromNG.stdout.contains("RTP decrypted         236"))

        // A wrong key: nothing decrypted, nothing passed through, exit 1.
        let wrong = try RampartProcess.run(["srtp", "decrypt", "--in", protected, "--out", clear,
                                            "--suite", "AES_CM_128_HMAC_SHA1_80",
                                            "--key", Data([UInt8](repeating: 1, count: 30)).base64EncodedString()])
        #expect(wrong.status == 1)
        #expect(wrong.stdout.contains("failed authentication 236 (left out)"))
        #expect(try Self.tsharkPayloads(clear).isEmpty)

        let usage = try RampartProcess.run(["srtp", "decrypt", "--in", protected, "--out", clear, "--suite", "NULL_CIPHER",
                                            "--key", "AAAA"])
        #expect(usage.status == 2)
        #expect(usage.stderr.contains("unknown suite"))
    }
}
