import Foundation
import Testing

/// Media through `rampart serve`'s relay with real peers (issue 7). alice (sipp) calls bob (sipp) with plain G.711
/// (both accounts may use plain RTP here) and plays sipp's own recording of a real call, with three packets cut out;
/// bob echoes every packet back (`-rtp_echo`). Each side only learns the relay's address, so every packet in either
/// direction must cross the relay, and the CDR holds what it counted, as does `/metrics` (read by Prometheus). A
/// call that carries no media is ended by the relay's timeout. Loopback only, bounded, every process stopped by PID.
@Suite(.serialized, .timeLimit(.minutes(3))) struct MediaRelayWithPeersTests {
    static let config = """
        [calls]
        plain_rtp_accounts = ["alice", "bob"]

        [media]
        port_min = 31000
        port_max = 31199
        timeout_seconds = 3
        """

    /// sipp's G.711 A-law recording (Debian sip-tester): 236 packets, sequence numbers without gaps.
    static let recording = "/usr/share/sip-tester/g711a.pcap"

    @Test func sippMediaCrossesTheRelayBothWaysAndTheRecordCountsItsLoss() throws {
        try withTemporaryDirectory { directory in
            // The recording with packets 10, 20 and 30 removed: three sequence numbers the relay must find missing.
            let lossy = directory + "/lossy.pcap"
            let editcap = try Peers.run(try Peers.tool("editcap"), ["-F", "pcap", Self.recording, lossy, "10", "20", "30"],
                                        seconds: 20, directory: directory)
            try #require(editcap.status == 0, "editcap: \(editcap.output)")

            try Self.withServer(directory) { data, server in
                let edgePort = server.ports["udp"]!
                let bobMedia = try Self.evenFreePort(), aliceMedia = try Self.evenFreePort()
                let callee = directory + "/answer-plain.xml"
                try Self.plain(Peers.directory.appendingPathComponent("sipp/answer-call.xml").path)
                    .write(toFile: callee, atomically: true, encoding: .utf8)
                let (bob, bobPort) = try Peers.bobAnswering(
                    callee, edgePort: edgePort, messageFile: directory + "/bob.msg", directory: directory,
                    extra: ["-mp", String(bobMedia), "-rtp_echo"])
                defer { Peers.stop(bob) }

                // alice plays the recording once the call is up, and hangs up after it (7.1 s of audio: 30 ms packets).
                try Self.alicePlays(lossy, edgePort: edgePort, media: aliceMedia, directory: directory)
                for _ in 0..<50 where bob.isRunning { Thread.sleep(forTimeInterval: 0.1) }
                #expect(!bob.isRunning && bob.terminationStatus == 0, "bob did not complete his scenario")

                // Each saw only the relay: besides its own, every media port in its trace is one of the relay's.
                let aliceSaw = try String(contentsOfFile: directory + "/alice.msg", encoding: .utf8)
                let bobSaw = try String(contentsOfFile: directory + "/bob.msg", encoding: .utf8)
                let relayPorts = 31_000...31_199
                let aliceGot = Self.mediaPorts(in: aliceSaw).filter { $0 != aliceMedia }
                let bobGot = Self.mediaPorts(in: bobSaw).filter { $0 != bobMedia }
                #expect(!aliceGot.isEmpty && aliceGot.allSatisfy(relayPorts.contains), "\(aliceGot)")
                #expect(!bobGot.isEmpty && bobGot.allSatisfy(relayPorts.contains), "\(bobGot)")

                let record = try #require(try TrunkWithPeersTests.records(data).first)
                let media = try #require(record["media"] as? [[String: Any]])
                let fromAlice = try #require(media.first { $0["sender"] as? String == "caller" })
                let fromBob = try #require(media.first { $0["sender"] as? String == "callee" })
                // 233 of 236 packets played, all relayed to bob; his echo of each came back through the relay.
                #expect(fromAlice["packets"] as? Int == 233, "\(fromAlice)")
                #expect(fromAlice["lost"] as? Int == 3, "the three packets cut from the recording")
                #expect(fromBob["packets"] as? Int == 233, "bob's echo: \(fromBob)")
                #expect(fromAlice["droppedForeign"] as? Int == 0)
                let score = try #require(fromAlice["meanOpinionScore"] as? Double)
                #expect(score > 3.5 && score < 4.5, "G.711 with 1.3 % loss: \(score)")
                #expect(record["hangupSide"] as? String == "caller")

                // The same figures as Prometheus reads them from /metrics, per sender, with PromQL.
                try AdminAPITests.token("prometheus", role: "viewer", data: data)
                    .write(toFile: directory + "/token", atomically: true, encoding: .utf8)
                let prometheus = try PrometheusServer(data: data, adminPort: try #require(server.ports["admin"]),
                                                      tokenFile: directory + "/token", directory: directory)
                defer { prometheus.stop() }
                #expect(try prometheus.query("rampart_media_packets_relayed_total{sender=\"caller\"}") == 233)
                #expect(try prometheus.query("rampart_media_packets_lost_total{sender=\"caller\"}") == 3)
                #expect(try prometheus.query("rampart_media_mos_count{sender=\"caller\"}") == 1)
                let mos = try #require(try prometheus.query("rampart_media_mos_sum{sender=\"caller\"}"))
                #expect(abs(mos - score) < 0.01, "the MOS Prometheus reads is the CDR's: \(mos) \(score)")
                #expect(try prometheus.query("rampart_media_mos_bucket{sender=\"caller\",le=\"3.6\"}") == 0,
                        "a good call is above the complaint line")
                #expect(server.stop() == 0)
            }
        }
    }

    @Test func aCallWithoutMediaIsEndedByTheRelayTimeoutWithByeOnBothSides() throws {
        try withTemporaryDirectory { directory in
            try Self.withServer(directory) { data, server in
                let edgePort = server.ports["udp"]!
                let (bob, _) = try Peers.bobAnswering("answer-call", edgePort: edgePort,
                                                      messageFile: directory + "/bob.msg", directory: directory)
                defer { Peers.stop(bob) }
                // alice stays on the line silently and answers the edge's BYE.
                let scenario = directory + "/silent-call.xml"
                try CallOutcomesWithPeersTests.callerScenario(
                    ending: CallOutcomesWithPeersTests.answered + CallOutcomesWithPeersTests.answerBye, to: scenario)
                let started = Date()
                let alice = try Peers.run(try Peers.tool("sipp"), [
                    "127.0.0.1:\(edgePort)", "-sf", scenario, "-t", "u1", "-s", "alice", "-au", "alice", "-ap", "pw-alice",
                    "-auth_uri", "bob@localhost", "-key", "domain", "localhost", "-key", "callee", "bob",
                    "-i", "127.0.0.1", "-p", "0", "-m", "1", "-nostdin", "-timeout", "20", "-trace_err",
                ], seconds: 30, directory: directory)
                #expect(alice.status == 0, "alice got no BYE: \(alice.output.suffix(800))")
                #expect(Date().timeIntervalSince(started) >= 3, "not before the 3 s timeout")
                for _ in 0..<50 where bob.isRunning { Thread.sleep(forTimeInterval: 0.1) }
                #expect(!bob.isRunning && bob.terminationStatus == 0, "bob got no BYE")
                let record = try #require(try TrunkWithPeersTests.records(data).first)
                #expect(record["hangupReason"] as? String == "media-timeout")
                #expect(record["hangupSide"] as? String == "edge")
                #expect(server.stop() == 0)
            }
        }
    }

    /// An IPv4 caller and an IPv6 callee: bob registers and answers over IPv6 (echoing RTP), alice calls over IPv4
    /// and plays the recording. The relay serves each on its own family's address (the default with an IPv6
    /// listener): bob's SDP and headers name only `::1`, alice's only `127.0.0.1`, and every packet crosses.
    @Test func anIPv4CallerAndAnIPv6CalleeEachSeeTheRelayInTheirOwnFamily() throws {
        try withTemporaryDirectory { directory in
            try Self.withServer(directory, alsoListen: ["udp:[::1]:0"]) { data, server in
                let edgePort = server.ports["udp"]!, edgePort6 = server.ports["udp6"]!
                let bobPort = try Peers.freePort(), bobMedia = try Self.evenFreePort(), aliceMedia = try Self.evenFreePort()
                let register = try Peers.run(try Peers.tool("sipp"), [
                    "[::1]:\(edgePort6)", "-sf", Peers.directory.appendingPathComponent("sipp/register.xml").path,
                    "-t", "u1", "-s", "bob", "-au", "bob", "-ap", "pw-bob", "-auth_uri", "localhost",
                    "-key", "domain", "localhost", "-key", "expires", "600", "-i", "::1", "-p", String(bobPort),
                    "-m", "1", "-nostdin", "-timeout", "20", "-trace_err",
                ], seconds: 30, directory: directory)
                try #require(register.status == 0, "bob's registration over IPv6: \(register.output.suffix(600))")
                // sipp writes o= with a bracketed IPv6 address, which RFC 4566 does not allow: its media address.
                let callee = directory + "/answer-plain6.xml"
                try Self.plain(Peers.directory.appendingPathComponent("sipp/answer-call.xml").path)
                    .replacingOccurrences(of: "IN IP[local_ip_type] [local_ip]", with: "IN IP[media_ip_type] [media_ip]")
                    .write(toFile: callee, atomically: true, encoding: .utf8)
                let bob = try Peers.sippServer(callee, ip: "::1", port: bobPort, messageFile: directory + "/bob.msg",
                                               directory: directory, extra: ["-mp", String(bobMedia), "-rtp_echo"])
                defer { Peers.stop(bob) }

                try Self.alicePlays(Self.recording, edgePort: edgePort, media: aliceMedia, directory: directory)
                for _ in 0..<50 where bob.isRunning { Thread.sleep(forTimeInterval: 0.1) }
                #expect(!bob.isRunning && bob.terminationStatus == 0, "bob did not complete his scenario")

                let aliceSaw = try String(contentsOfFile: directory + "/alice.msg", encoding: .utf8)
                let bobSaw = try String(contentsOfFile: directory + "/bob.msg", encoding: .utf8)
                #expect(bobSaw.contains("c=IN IP6 ::1") && !bobSaw.contains("IP4") && !bobSaw.contains("127.0.0.1"),
                        "bob is told only IPv6 addresses: \(bobSaw.suffix(1500))")
                #expect(aliceSaw.contains("c=IN IP4 127.0.0.1") && !aliceSaw.contains("IP6") && !aliceSaw.contains("::1"),
                        "alice is told only IPv4 addresses")
                let record = try #require(try TrunkWithPeersTests.records(data).first)
                let media = try #require(record["media"] as? [[String: Any]])
                let fromAlice = try #require(media.first { $0["sender"] as? String == "caller" })
                let fromBob = try #require(media.first { $0["sender"] as? String == "callee" })
                #expect(fromAlice["packets"] as? Int == 236 && fromAlice["lost"] as? Int == 0, "\(fromAlice)")
                #expect(fromBob["packets"] as? Int == 236, "bob's echo, IPv6 to IPv4: \(fromBob)")
                #expect(server.stop() == 0)
            }
        }
    }

    // MARK: Helpers

    /// alice (sipp, IPv4) calls bob and plays `recording` once the call is up, then hangs up (7.1 s of audio).
    static func alicePlays(_ recording: String, edgePort: Int, media: Int, directory: String) throws {
        let caller = directory + "/call-plain.xml"
        try Self.plain(Peers.directory.appendingPathComponent("sipp/call-with-proxy-auth.xml").path)
            .replacingOccurrences(of: "<pause milliseconds=\"500\"/>", with: """
                <nop><action><exec play_pcap_audio="\(recording)"/></action></nop>
                  <pause milliseconds="8000"/>
                """)
            .write(toFile: caller, atomically: true, encoding: .utf8)
        let alice = try Peers.run(try Peers.tool("sipp"), [
            "127.0.0.1:\(edgePort)", "-sf", caller, "-t", "u1", "-s", "alice", "-au", "alice", "-ap", "pw-alice",
            "-auth_uri", "bob@localhost", "-key", "domain", "localhost", "-key", "callee", "bob",
            "-i", "127.0.0.1", "-p", "0", "-mp", String(media), "-m", "1", "-nostdin", "-timeout", "30",
            "-trace_msg", "-message_file", directory + "/alice.msg", "-trace_err",
        ], seconds: 45, directory: directory)
        let errors = (try? FileManager.default.contentsOfDirectory(atPath: directory))?
            .filter { $0.hasSuffix("_errors.log") }
            .compactMap { try? String(contentsOfFile: directory + "/" + $0, encoding: .utf8) } ?? []
        #expect(alice.status == 0, "alice: \(errors.joined()) \(alice.output.suffix(800))")
    }

    static func withServer(_ directory: String, alsoListen: [String] = [],
                           _ body: (_ data: String, _ server: ServeProcess) throws -> Void) throws {
        let data = directory + "/data"
        try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
        try ServeWithPeersTests.addUser("bob", password: "pw-bob", dataDir: data)
        let server = try ServeProcess(dataDir: data, config: ServeWithPeersTests.sippConfig + "\n" + config,
                                      listeners: ["udp"], alsoListen: alsoListen)
        defer { server.stop() }
        try body(data, server)
    }

    /// A scenario of Tests/Peers/sipp with its SRTP media line made plain G.711 A-law.
    static func plain(_ path: String) throws -> String {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var lines: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.contains("m=audio [media_port] RTP/SAVP 0") {
                lines.append("      m=audio [media_port] RTP/AVP 8")
                lines.append("      a=rtpmap:8 PCMA/8000")
            } else if !line.contains("a=crypto:") {
                lines.append(String(line))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The m=audio ports in a sipp message trace.
    static func mediaPorts(in trace: String) -> [Int] {
        trace.split(whereSeparator: \.isNewline).compactMap { line in
            guard line.hasPrefix("m=audio ") else { return nil }
            return Int(line.split(separator: " ")[1])
        }
    }

    /// An even UDP port on loopback with the next three free too (sipp binds RTP and RTCP, audio and video), from
    /// 20000-29999 (outside the relay's range).
    static func evenFreePort() throws -> Int {
        for _ in 0..<200 {
            let port = 20_000 + 4 * Int.random(in: 0..<2_500)
            if (port..<port + 4).allSatisfy(udpPortIsFree) { return port }
        }
        throw PortError()
    }

    struct PortError: Error {}

    static func udpPortIsFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        return Peers.withLoopback(port: port) { bind(fd, $0, $1) == 0 }
    }
}
