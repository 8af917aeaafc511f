import Foundation
import Testing

/// Two real softphones (baresip, Debian `baresip-core`) registered over TLS call each other through the edge with
/// SDES-SRTP, the way a deployment would run: each verifies the edge's certificate against the development CA,
/// authenticates (401 for REGISTER, 407 for INVITE), and sends a tone as SRTP through the edge's media relay (each
/// learns only the relay's address). A third party injects plain RTP into bob's relay port during the call: it is
/// dropped and flagged. A third run offers plain RTP and is refused. Loopback only, bounded, stopped by PID.
@Suite(.serialized, .timeLimit(.minutes(2))) struct BaresipCallTests {
    @Test func twoBaresipsRegisteredOverTLSTalkSRTPThroughTheEdge() throws {
        try CallsWithPeersTests.withAliceAndBob(listening: "tls") { directory, data, server in
            let tlsPort = server.ports["tls"]!
            let tone = directory + "/tone.wav"
            try Self.writeTone(to: tone)
            let bobConfig = try Self.softphone("bob", password: "pw-bob", edgePort: tlsPort, data: data, tone: tone,
                                               directory: directory, extra: ";answermode=auto")
            let bob = try Peers.background(try Peers.tool("baresip"), ["-f", bobConfig, "-n", "127.0.0.1", "-s", "-t", "9"],
                                           seconds: 15, directory: directory, output: directory + "/bob.log")
            defer { Peers.stop(bob) }
            // Bob is reachable once his REGISTER was answered 200.
            for _ in 0..<50 where !((try? Self.read(directory + "/bob.log")) ?? "").contains("200 OK") {
                Thread.sleep(forTimeInterval: 0.1)
            }

            // The injector: once bob has the INVITE, 30 plain G.711 packets from another address (127.0.0.2) to the
            // relay port bob's SDP names, a second into the call.
            let injector = try Peers.background(try Peers.tool("python3"), ["-c", Self.injector, directory + "/bob.log"],
                                                seconds: 15, directory: directory, output: directory + "/injector.log")
            defer { Peers.stop(injector) }
            let aliceConfig = try Self.softphone("alice", password: "pw-alice", edgePort: tlsPort, data: data,
                                                 tone: tone, directory: directory)
            let alice = try Peers.run(try Peers.tool("baresip"), [
                "-f", aliceConfig, "-n", "127.0.0.1", "-s", "-t", "4", "-e", "/dial sip:bob@localhost",
            ], seconds: 15, directory: directory)
            #expect(alice.output.contains("SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)"))
            #expect(alice.output.contains("Call established: sip:bob@localhost"), "alice: \(alice.output.suffix(1500))")
            #expect(alice.output.contains("incoming rtp for 'audio' established"), "alice heard nothing")
            for _ in 0..<100 where bob.isRunning { Thread.sleep(forTimeInterval: 0.1) }
            let bobLog = try Self.read(directory + "/bob.log")
            #expect(bobLog.contains("Call established: sip:alice@localhost"))
            #expect(bobLog.contains("incoming rtp for 'audio' established"), "bob heard nothing")

            // What bob received names the edge, never alice's own Contact or Via.
            let invite = try #require(Self.message(in: bobLog, startingWith: "INVITE sip:bob"))
            #expect(!invite.contains("alice-0x") && invite.components(separatedBy: "\nVia:").count == 2)
            for _ in 0..<50 where injector.isRunning { Thread.sleep(forTimeInterval: 0.1) }
            let injected = try Self.read(directory + "/injector.log")
            #expect(injected.hasPrefix("injected 30 to "), "injector: \(injected)")
            #expect(invite.contains("P-Asserted-Identity: <sip:alice@localhost>"))

            // A softphone that offers plain RTP is refused, and both calls are on record.
            let plainConfig = try Self.softphone("alice", password: "pw-alice", edgePort: tlsPort, data: data,
                                                 tone: tone, directory: directory + "/plain", mediaEncryption: nil)
            let plain = try Peers.run(try Peers.tool("baresip"), [
                "-f", plainConfig, "-n", "127.0.0.1", "-t", "3", "-e", "/dial sip:bob@localhost",
            ], seconds: 15, directory: directory)
            #expect(plain.output.contains("488 Not Acceptable Here"), "plain: \(plain.output.suffix(1500))")

            var records: [[String: Any]] = []
            for _ in 0..<50 where records.count < 2 {
                let export = try RampartProcess.run(["cdr", "export", "--format", "json", "--data-dir", data])
                records = (try? JSONSerialization.jsonObject(with: Data(export.stdout.utf8)) as? [[String: Any]]) ?? []
                if records.count < 2 { Thread.sleep(forTimeInterval: 0.1) }
            }
            let answered = records.first { $0["disposition"] as? String == "answered" }
            #expect(answered?["srtpSuite"] as? String == "AES_CM_128_HMAC_SHA1_80")
            // The relay carried the tone both ways, found it encrypted, and dropped and flagged the injection.
            let media = answered?["media"] as? [[String: Any]] ?? []
            #expect(media.count == 2, "\(media)")
            for stream in media {
                #expect((stream["packets"] as? Int ?? 0) >= 50, "\(stream)")
                #expect(stream["payloads"] as? String == "encrypted", "\(stream)")
            }
            let fromBob = media.first { $0["sender"] as? String == "callee" }
            #expect(fromBob?["droppedForeign"] as? Int == 30, "\(media)")
            let events = answered?["securityEvents"] as? [String] ?? []
            #expect(events.contains("media-anomaly") && !events.contains("media-not-encrypted"), "\(events)")
            #expect(answered?["hangupSide"] as? String == "caller")
            #expect(records.contains { $0["disposition"] as? String == "rejected" && $0["finalStatus"] as? Int == 488 })
            #expect(server.stop() == 0)
        }
    }

    /// A legacy carrier that cannot encrypt (sipp, plain G.711, echoing every packet) behind a trunk with
    /// `bridge_srtp`: alice (baresip, SDES-SRTP mandatory, over TLS) calls a number there. SRTP ends at the edge:
    /// the carrier is offered plain RTP and never sees a key, alice is answered SRTP under the edge's key, and her
    /// tone comes back to her through the carrier's echo, decrypted and re-encrypted by the relay.
    @Test func baresipSpeaksSRTPToALegacyTrunkBridgedAtTheEdge() throws {
        let trunkPort = try Peers.freePort(), trunkMedia = try MediaRelayWithPeersTests.evenFreePort()
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            let server = try ServeProcess(dataDir: data, config: ServeWithPeersTests.sippConfig + """

                [[trunks]]
                name = "legacy"
                address = "udp:127.0.0.2:\(trunkPort)"
                prefixes = ["+"]
                bridge_srtp = true

                [fraud]
                country_code = "1"
                """, listeners: ["tls", "udp"])
            defer { server.stop() }
            let answer = directory + "/answer-plain.xml"
            // sipp's answer made plain PCMU (baresip's codec here).
            try String(contentsOfFile: Peers.directory.appendingPathComponent("sipp/answer-call.xml").path, encoding: .utf8)
                .replacingOccurrences(of: "m=audio [media_port] RTP/SAVP 0", with: "m=audio [media_port] RTP/AVP 0")
                .split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("a=crypto:") }
                .joined(separator: "\n").write(toFile: answer, atomically: true, encoding: .utf8)
            let carrier = try Peers.sippServer(answer, ip: "127.0.0.2", port: trunkPort,
                                               messageFile: directory + "/carrier.msg", directory: directory,
                                               extra: ["-mp", String(trunkMedia), "-rtp_echo"])
            defer { Peers.stop(carrier) }

            let tone = directory + "/tone.wav"
            try Self.writeTone(to: tone)
            let aliceConfig = try Self.softphone("alice", password: "pw-alice", edgePort: server.ports["tls"]!,
                                                 data: data, tone: tone, directory: directory)
            let alice = try Peers.run(try Peers.tool("baresip"), [
                "-f", aliceConfig, "-n", "127.0.0.1", "-s", "-t", "4", "-e", "/dial sip:+15551234@localhost",
            ], seconds: 15, directory: directory)
            #expect(alice.output.contains("SRTP is Enabled"), "alice: \(alice.output.suffix(1500))")
            #expect(alice.output.contains("Call established: sip:+15551234@localhost"))
            #expect(alice.output.contains("incoming rtp for 'audio' established"), "alice heard no (valid) SRTP")
            #expect(!alice.output.lowercased().contains("unprotect"), "every packet alice got authenticated")
            for _ in 0..<100 where carrier.isRunning { Thread.sleep(forTimeInterval: 0.1) }
            let carrierSaw = try Self.read(directory + "/carrier.msg")
            #expect(carrierSaw.contains("INVITE sip:+15551234") && carrierSaw.contains(" RTP/AVP 0")
                && !carrierSaw.contains("SAVP") && !carrierSaw.contains("a=crypto"),
                "the carrier is offered plain RTP and no key: \(carrierSaw.prefix(1500))")

            let record = try #require(try TrunkWithPeersTests.records(data).first)
            #expect(record["disposition"] as? String == "answered")
            let media = record["media"] as? [[String: Any]] ?? []
            let fromAlice = media.first { $0["sender"] as? String == "caller" }
            let fromCarrier = media.first { $0["sender"] as? String == "callee" }
            #expect((fromAlice?["packets"] as? Int ?? 0) >= 50 && fromAlice?["payloads"] as? String == "encrypted",
                    "\(media)")
            #expect((fromCarrier?["packets"] as? Int ?? 0) >= 50 && fromCarrier?["payloads"] as? String == "plaintext",
                    "the carrier's echo, in the clear on its leg: \(media)")
            #expect(fromAlice?["droppedForeign"] as? Int == 0, "nothing came from anywhere but alice")
            // baresip sends its RTCP BYE in the clear after it tore down SRTP (libre frees the SRTP hooks before the
            // RTP socket, whose RTCP session says goodbye): when that datagram beats the SIP BYE to the edge, the
            // relay drops it as unauthenticated. At most that one; everything else of alice's authenticated.
            #expect((fromAlice?["droppedUnauthenticated"] as? Int ?? 0) <= 1, "\(media)")
            let encryption = record["mediaEncryption"] as? String ?? ""
            #expect(encryption.hasPrefix("bridged caller:sdes-srtp/") && encryption.hasSuffix(" callee:plain"),
                    "the record tells each leg: \(encryption)")
            let events = record["securityEvents"] as? [String] ?? []
            #expect(!events.contains("media-not-encrypted") && !events.contains("media-downgrade-attempt"), "\(events)")
            #expect(server.stop() == 0)
        }
    }

    /// Waits for bob's INVITE in his trace, then sends 30 plain RTP packets from 127.0.0.2 to the relay port its SDP
    /// names; prints what it did.
    static let injector = """
        import re, socket, sys, time
        deadline, port = time.time() + 10, None
        while port is None and time.time() < deadline:
            try:
                found = re.search(r"m=audio (\\d+) ", open(sys.argv[1], errors="replace").read())
            except FileNotFoundError:
                found = None
            if found:
                port = int(found.group(1))
            else:
                time.sleep(0.05)
        if port is None:
            sys.exit("no INVITE")
        time.sleep(1.0)
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.bind(("127.0.0.2", 0))
        for n in range(30):
            header = bytes([0x80, 0x00]) + n.to_bytes(2, "big") + (n * 160).to_bytes(4, "big") + bytes([0, 0, 0x12, 0x34])
            sender.sendto(header + bytes([0xFF]) * 160, ("127.0.0.1", port))
            time.sleep(0.01)
        print("injected 30 to", port)
        """

    /// A baresip configuration directory: TLS to the edge with the development CA, PCMU, a tone as the microphone,
    /// SDES-SRTP mandatory (or none).
    static func softphone(_ user: String, password: String, edgePort: Int, data: String, tone: String,
                          directory: String, extra: String = "", mediaEncryption: String? = "srtp-mand") throws
        -> String
    {
        let path = directory + "/\(user)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try """
            poll_method epoll
            sip_listen 127.0.0.1:0
            sip_cafile \(data)/ca.crt
            audio_source aufile,\(tone)
            audio_player aufile,/dev/null
            audio_alert aufile,/dev/null
            module_path /usr/lib/baresip/modules
            module g711.so
            module aufile.so
            module srtp.so
            module_tmp account.so
            module_app menu.so
            rtcp_mux no

            """.write(toFile: path + "/config", atomically: true, encoding: .utf8)
        let encryption = mediaEncryption.map { ";mediaenc=\($0)" } ?? ""
        try """
            <sip:\(user)@localhost;transport=tls>;auth_pass=\(password);outbound="sip:127.0.0.1:\(edgePort);transport=tls"\
            \(encryption);regint=600;audio_codecs=PCMU\(extra)

            """.write(toFile: path + "/accounts", atomically: true, encoding: .utf8)
        return path
    }

    /// Ten seconds of a 440 Hz tone, 8 kHz 16-bit mono WAV.
    static func writeTone(to path: String) throws {
        let rate = 8_000
        var samples = [UInt8]()
        for index in 0..<(rate * 10) {
            let value = Int16(8_000 * sin(2 * Double.pi * 440 * Double(index) / Double(rate)))
            samples += [UInt8(truncatingIfNeeded: value), UInt8(truncatingIfNeeded: value >> 8)]
        }
        func le32(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        func le16(_ value: Int) -> [UInt8] { (0..<2).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        let header = Array("RIFF".utf8) + le32(36 + samples.count) + Array("WAVEfmt ".utf8) + le32(16) + le16(1)
            + le16(1) + le32(rate) + le32(rate * 2) + le16(2) + le16(16) + Array("data".utf8) + le32(samples.count)
        try Data(header + samples).write(to: URL(fileURLWithPath: path))
    }

    static func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    /// The header section of one SIP message in a baresip trace (`-s`): from its start line to the blank line.
    static func message(in trace: String, startingWith start: String) -> String? {
        guard let range = trace.range(of: start) else { return nil }
        let rest = trace[range.lowerBound...].replacingOccurrences(of: "\r\n", with: "\n")
        let end = rest.range(of: "\n\n")?.lowerBound ?? rest.endIndex
        return String(rest[..<end])
    }
}
