import Foundation
import GRDB
import Testing

/// rsyslog on loopback, receiving what the edge's SIEM sinks send, writing each message as it arrived.
final class Rsyslog {
    let process = Process()
    let received: String
    let udpPort: Int, tcpPort: Int

    /// `tls`: the CA, certificate and key files that make the TCP input TLS (RFC 5425, rsyslog's gtls driver).
    init(directory: String, udpPort: Int? = nil, tcpPort: Int? = nil,
         tls: (ca: String, certificate: String, key: String)? = nil) throws {
        (self.udpPort, self.tcpPort) = (try udpPort ?? Peers.freePort(), try tcpPort ?? Peers.freePort())
        received = directory + "/received.log"
        let driver = tls.map {
            " DefaultNetstreamDriver=\"gtls\" DefaultNetstreamDriverCAFile=\"\($0.ca)\""
                + " DefaultNetstreamDriverCertFile=\"\($0.certificate)\" DefaultNetstreamDriverKeyFile=\"\($0.key)\""
        } ?? ""
        let tcpModule = tls == nil ? "" : " StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\""
        let configuration = """
            global(workDirectory="\(directory)"\(driver))
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(self.udpPort)" ruleset="siem")
            module(load="imtcp"\(tcpModule))
            input(type="imtcp" address="127.0.0.1" port="\(self.tcpPort)" ruleset="siem")
            template(name="raw" type="string" string="%rawmsg%\\n")
            ruleset(name="siem") { action(type="omfile" file="\(received)" template="raw") }
            """
        try configuration.write(toFile: directory + "/rsyslog.conf", atomically: true, encoding: .utf8)
        (process.executableURL, process.arguments) = try Peers.withDefaultSignals(
            Peers.tool("rsyslogd"), ["-n", "-f", directory + "/rsyslog.conf", "-i", directory + "/rsyslog.pid"])
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Listening once a TCP connection to its port is accepted (within 10 s).
        for _ in 0..<100 {
            if Self.accepts(port: self.tcpPort) { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw PeerFailure(description: "rsyslogd did not start listening")
    }

    static func accepts(port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        return Peers.withLoopback(port: port) { connect(descriptor, $0, $1) == 0 }
    }

    /// The messages received so far, read again until `settled` holds (10 s at most).
    func lines(until settled: ([String]) -> Bool) -> [String] {
        var lines: [String] = []
        for _ in 0..<100 {
            lines = ((try? String(contentsOfFile: received, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            if settled(lines) { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return lines
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        for _ in 0..<50 where process.isRunning { Thread.sleep(forTimeInterval: 0.1) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

/// The edge's SIEM sinks against a real receiver (issue 19): rsyslog over UDP (RFC 5424) and TCP with octet
/// counting (CEF, filtered), and a JSON-lines file; then a receiver that is down, with a bounded backlog whose losses
/// are reported once it is back, and phones served all the while.
@Suite(.serialized, .timeLimit(.minutes(3))) struct SIEMWithPeersTests {
    @Test func securityEventsAndAdministrationReachRsyslogAndAFile() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)  // before: not forwarded
            let rsyslog = try Rsyslog(directory: directory)
            defer { rsyslog.stop() }
            let config = ServeWithPeersTests.sippConfig + """

                [[siem]]
                target = "udp:127.0.0.1:\(rsyslog.udpPort)"
                format = "rfc5424"

                [[siem]]
                target = "tcp:127.0.0.1:\(rsyslog.tcpPort)"
                format = "cef"
                types = ["security."]
                min_severity = 6

                [[siem]]
                target = "file:\(directory)/siem.jsonl"
                format = "json"
                """
            let server = try ServeProcess(dataDir: data, config: config, listeners: ["udp"])
            _ = try AttackersWithPeersTests.sipvicious("svmap", port: server.ports["udp"]!, ip: "127.0.0.3", [],
                                                       directory: directory)
            try ServeWithPeersTests.addUser("bob", password: "pw-bob", dataDir: data)  // the CLI's record, forwarded
            let lines = rsyslog.lines { lines in
                lines.contains { $0.contains("user.add") } && lines.contains { $0.hasPrefix("CEF:0") && $0.contains("security.ban") }
            }
            #expect(server.stop() == 0)

            let syslog = lines.filter { $0.hasPrefix("<") }
            #expect(syslog.contains { $0.contains(" config.load ") }, "\(syslog)")
            #expect(syslog.contains { $0.contains(" security.ban ") && $0.contains("source=\"127.0.0.3\"") })
            #expect(syslog.contains { $0.contains(" user.add ") && $0.contains("subject=\"bob@localhost\"") })
            #expect(!syslog.contains { $0.contains("alice@localhost") }, "records from before the start are not sent")
            for line in syslog { #expect(line.hasPrefix("<") && line.contains(">1 20") && line.contains("[rampart@32473 ")) }

            let cef = lines.filter { $0.hasPrefix("CEF:0|") }
            #expect(cef.contains { $0.contains("|security.ban|security.ban|7|") && $0.contains("src=127.0.0.3") })
            for line in cef {
                let header = line.split(separator: "|", omittingEmptySubsequences: false)
                #expect(header.count >= 8 && Int(header[6]).map { $0 >= 6 } == true, "filtered: \(line)")
                #expect(header[4].hasPrefix("security."))
            }

            // The file: one JSON object per line, every one a record of the trail, in order.
            let file = try String(contentsOfFile: directory + "/siem.jsonl", encoding: .utf8)
            let objects = try file.split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
            let sequences = objects.compactMap { $0["sequence"] as? Int }
            #expect(sequences.count == objects.count && sequences == sequences.sorted() && !sequences.isEmpty)
            let stored = try DatabaseQueue(path: data + "/rampart.sqlite").read { db in
                try Int.fetchOne(db, sql: "SELECT MAX(sequence) FROM auditRecord") ?? 0
            }
            #expect(sequences.last == stored, "everything up to the shutdown went out")

            // Down, the edge misses nothing: carol's record, made while it was stopped, goes out after the restart,
            // and no record goes out twice or is skipped.
            try ServeWithPeersTests.addUser("carol", password: "pw-carol", dataDir: data)
            let restarted = try ServeProcess(dataDir: data, config: config, listeners: ["udp"])
            for _ in 0..<50 where !((try? String(contentsOfFile: directory + "/siem.jsonl", encoding: .utf8)) ?? "")
                .contains("carol@localhost") {
                Thread.sleep(forTimeInterval: 0.1)
            }
            #expect(restarted.stop() == 0)
            let resumed = try String(contentsOfFile: directory + "/siem.jsonl", encoding: .utf8).split(separator: "\n")
                .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(resumed.contains { "\($0)".contains("carol@localhost") }, "recorded while the edge was down")
            let all = resumed.compactMap { $0["sequence"] as? Int }
            let last = try DatabaseQueue(path: data + "/rampart.sqlite").read { db in
                try Int.fetchOne(db, sql: "SELECT MAX(sequence) FROM auditRecord") ?? 0
            }
            #expect(all == Array((all.first ?? 0)...last), "each record once, none skipped: \(all)")
            let mode = (try FileManager.default.attributesOfItem(atPath: directory + "/siem.jsonl")[.posixPermissions]
                as? NSNumber)?.intValue
            #expect(mode == 0o600)
        }
    }

    /// The TCP receiver is down: events wait in a queue of two, the rest are counted; the phone is served all the
    /// while; once rsyslog listens, the waiting events arrive and a `siem.dropped` event says how many were lost.
    @Test func aReceiverThatIsDownCostsBoundedMemoryAndItsLossesAreReported() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            let tcpPort = try Peers.freePort()
            let config = ServeWithPeersTests.sippConfig + """

                [[siem]]
                target = "tcp:127.0.0.1:\(tcpPort)"
                format = "rfc5424"
                queue_capacity = 2
                """
            let server = try ServeProcess(dataDir: data, config: config, listeners: ["udp"])
            defer { server.stop() }
            for index in 0..<6 { try ServeWithPeersTests.addUser("user\(index)", password: "pw", dataDir: data) }
            let registered = try AttackersWithPeersTests.register("alice", from: "127.0.0.1", port: server.ports["udp"]!,
                                                                  directory: directory)
            #expect(registered.status == 0, "the edge serves while its SIEM is down")
            let rsyslog = try Rsyslog(directory: directory, tcpPort: tcpPort)
            defer { rsyslog.stop() }
            let lines = rsyslog.lines { $0.contains { $0.contains("siem.dropped") } }
            let dropped = try #require(lines.first { $0.contains(" siem.dropped ") }, "\(lines)")
            #expect(dropped.contains("events dropped while the sink could not keep up"))
            // config.load and six user.add were queued behind a queue of two: at least five were dropped.
            let count = dropped.split(separator: " ").compactMap { Int($0) }.last ?? 0
            #expect(count >= 5, "\(dropped)")
            #expect(lines.filter { $0.contains(" user.add ") || $0.contains(" config.load ") }.count <= 2)
        }
    }

    /// Over TLS (RFC 5425) to rsyslog's gtls input: a sink that trusts the receiver's CA delivers; one that trusts
    /// another CA delivers nothing and says so in the log (the receiver's certificate is checked for its address).
    @Test func overTLSOnlyAVerifiedReceiverGetsEvents() throws {
        try withTemporaryDirectory { directory in
            let openssl = try Peers.tool("openssl")
            func run(_ arguments: [String]) throws {
                let result = try Peers.run(openssl, arguments, seconds: 30, directory: directory)
                try #require(result.status == 0, "openssl \(arguments): \(result.output)")
            }
            try "subjectAltName=IP:127.0.0.1\n".write(toFile: directory + "/san.ext", atomically: true, encoding: .utf8)
            for ca in ["ca", "other"] {
                try run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                         "\(directory)/\(ca).key", "-out", "\(directory)/\(ca).pem", "-days", "2", "-subj", "/CN=\(ca)"])
            }
            try run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                     directory + "/server.key", "-out", directory + "/server.csr", "-subj", "/CN=rsyslog"])
            try run(["x509", "-req", "-in", directory + "/server.csr", "-CA", directory + "/ca.pem", "-CAkey",
                     directory + "/ca.key", "-CAcreateserial", "-out", directory + "/server.pem", "-days", "2",
                     "-extfile", directory + "/san.ext"])
            let rsyslog = try Rsyslog(directory: directory, tls: (directory + "/ca.pem", directory + "/server.pem",
                                                                  directory + "/server.key"))
            defer { rsyslog.stop() }
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            let config = ServeWithPeersTests.sippConfig + """

                [[siem]]
                target = "tls:127.0.0.1:\(rsyslog.tcpPort)"
                format = "json"
                ca = "\(directory)/ca.pem"

                [[siem]]
                target = "tls:127.0.0.1:\(rsyslog.tcpPort)"
                format = "cef"
                ca = "\(directory)/other.pem"
                """
            let server = try ServeProcess(dataDir: data, config: config, listeners: ["udp"])
            try ServeWithPeersTests.addUser("bob", password: "pw-bob", dataDir: data)
            let lines = rsyslog.lines { $0.contains { $0.contains("bob@localhost") } }
            for _ in 0..<50 where !server.stderr.contains("SIEM sink not reachable") { Thread.sleep(forTimeInterval: 0.1) }
            server.stop()
            #expect(lines.contains { $0.hasPrefix("{") && $0.contains("\"user.add\"") && $0.contains("bob@localhost") },
                    "\(lines)")
            #expect(!lines.contains { $0.hasPrefix("CEF:") }, "the sink that does not trust the receiver sends nothing")
            #expect(server.stderr.contains("SIEM sink not reachable") && server.stderr.contains("tls:127.0.0.1"),
                    "\(server.stderr.suffix(800))")
        }
    }
}

/// HEP export (issue 19): every SIP message of a registration, as the edge received and sent it, reaches a HEPv3
/// collector (an independent decoder in Tests/Peers/hep_collector.py), and tshark dissects the decapsulated SIP.
@Suite(.serialized, .timeLimit(.minutes(2))) struct HEPWithPeersTests {
    @Test func aRegistrationReachesTheCollectorAsTheWireCarriedIt() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            let port = try Peers.freePort()
            let pcap = directory + "/hep-inner.pcap"
            // The collector runs in the background; its output is read once the registration is done.
            let collector = Process()
            collector.executableURL = URL(fileURLWithPath: try Peers.tool("python3"))
            collector.arguments = [Peers.directory.appendingPathComponent("hep_collector.py").path, String(port), "20",
                                   "4", pcap]
            let output = Pipe()
            collector.standardOutput = output
            try collector.run()
            defer { if collector.isRunning { kill(collector.processIdentifier, SIGKILL) } }
            let ready = output.fileHandleForReading.availableData
            #expect(String(decoding: ready, as: UTF8.self).hasPrefix("listening"))
            let config = ServeWithPeersTests.sippConfig + """

                [hep]
                target = "udp:127.0.0.1:\(port)"
                capture_id = 2042
                auth_key = "homer-secret"
                """
            let server = try ServeProcess(dataDir: data, config: config, listeners: ["udp"])
            let registered = try AttackersWithPeersTests.register("alice", from: "127.0.0.1",
                                                                  port: server.ports["udp"]!, directory: directory)
            #expect(registered.status == 0, "\(registered.output.suffix(400))")
            collector.waitUntilExit()
            #expect(server.stop() == 0)
            #expect(!server.stderr.contains("homer-secret"), "the collector's key is never logged")
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let result = try #require(try JSONSerialization.jsonObject(
                with: Data((text.split(separator: "\n").last ?? "").utf8)) as? [String: Any])
            #expect((result["errors"] as? [String])?.isEmpty == true, "\(result["errors"] ?? "")")
            let packets = try #require(result["packets"] as? [[String: Any]])
            #expect(packets.count == 4, "REGISTER, 401, REGISTER, 200: \(packets.count)")
            let edgePort = server.ports["udp"]!
            for packet in packets {
                #expect(packet["captureID"] as? Int == 2042 && packet["authKey"] as? String == "homer-secret")
                #expect(packet["protocol"] as? Int == 17 && packet["payloadType"] as? Int == 1)
                let payload = packet["payload"] as? String ?? ""
                let callID = payload.split(separator: "\r\n").first { $0.hasPrefix("Call-ID:") }?.dropFirst(8)
                    .trimmingCharacters(in: .whitespaces)
                #expect(callID != nil && packet["correlationID"] as? String == callID)
                let fromEdge = packet["sourcePort"] as? Int == edgePort
                #expect(fromEdge == payload.hasPrefix("SIP/2.0"), "requests in, answers out")
                #expect((fromEdge ? packet["destinationPort"] : packet["sourcePort"]) as? Int != edgePort)
                #expect((fromEdge ? packet["sourcePort"] : packet["destinationPort"]) as? Int == edgePort,
                        "the edge's own address, as on the wire")
                #expect(packet["source"] as? String == "127.0.0.1" && packet["destination"] as? String == "127.0.0.1")
            }
            // tshark reads the decapsulated messages as SIP, in the order of the exchange.
            let dissected = try Peers.run(try Peers.tool("tshark"), [
                "-r", pcap, "-d", "udp.port==\(edgePort),sip", "-T", "fields", "-e", "sip.Method", "-e",
                "sip.Status-Code", "-e", "udp.srcport",
            ], seconds: 30)
            let rows = dissected.output.split(separator: "\n").filter { !$0.hasPrefix("Running as") }
                .map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
            #expect(rows.map { $0.prefix(2).joined(separator: "/") } == ["REGISTER/", "/401", "REGISTER/", "/200"],
                    "\(dissected.output)")
        }
    }

    /// RTCP over HEP: two baresips talk plain RTP through the edge's relay (both accounts allowed plain RTP), and
    /// the reports they send each other reach the collector as Homer's RTCP JSON (type 5), correlated with the SIP
    /// Call-ID, from each phone's address to the relay's port it sent to.
    @Test func relayedRTCPReportsReachTheCollectorAsHomersJSON() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            try ServeWithPeersTests.addUser("bob", password: "pw-bob", dataDir: data)
            let port = try Peers.freePort()
            let collector = Process()
            collector.executableURL = URL(fileURLWithPath: try Peers.tool("python3"))
            collector.arguments = [Peers.directory.appendingPathComponent("hep_collector.py").path, String(port), "30",
                                   "2", directory + "/hep.pcap", "5"]
            let output = Pipe()
            collector.standardOutput = output
            try collector.run()
            defer { if collector.isRunning { kill(collector.processIdentifier, SIGKILL) } }
            #expect(String(decoding: output.fileHandleForReading.availableData, as: UTF8.self).hasPrefix("listening"))
            let server = try ServeProcess(dataDir: data, config: ServeWithPeersTests.sippConfig + """

                [calls]
                plain_rtp_accounts = ["alice", "bob"]

                [hep]
                target = "udp:127.0.0.1:\(port)"
                """, listeners: ["tls"])
            defer { server.stop() }
            let tone = directory + "/tone.wav"
            try BaresipCallTests.writeTone(to: tone)
            let bobConfig = try BaresipCallTests.softphone("bob", password: "pw-bob", edgePort: server.ports["tls"]!,
                                                           data: data, tone: tone, directory: directory,
                                                           extra: ";answermode=auto", mediaEncryption: nil)
            let bob = try Peers.background(try Peers.tool("baresip"), ["-f", bobConfig, "-n", "127.0.0.1", "-s", "-t", "20"],
                                           seconds: 25, directory: directory, output: directory + "/bob.log")
            defer { Peers.stop(bob) }
            for _ in 0..<50 where !((try? BaresipCallTests.read(directory + "/bob.log")) ?? "").contains("200 OK") {
                Thread.sleep(forTimeInterval: 0.1)
            }
            let aliceConfig = try BaresipCallTests.softphone("alice", password: "pw-alice", edgePort: server.ports["tls"]!,
                                                             data: data, tone: tone, directory: directory,
                                                             mediaEncryption: nil)
            let alice = try Peers.background(try Peers.tool("baresip"), [
                "-f", aliceConfig, "-n", "127.0.0.1", "-s", "-t", "15", "-e", "/dial sip:bob@localhost",
            ], seconds: 20, directory: directory, output: directory + "/alice.log")
            defer { Peers.stop(alice) }
            collector.waitUntilExit()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let result = try #require(try JSONSerialization.jsonObject(
                with: Data((text.split(separator: "\n").last ?? "").utf8)) as? [String: Any])
            #expect((result["errors"] as? [String])?.isEmpty == true, "\(result["errors"] ?? "")")
            let packets = try #require(result["packets"] as? [[String: Any]])
            let rtcp = packets.filter { $0["payloadType"] as? Int == 5 }
            #expect(rtcp.count >= 2, "RTCP copies: \(rtcp.count) of \(packets.count) packets")
            let invite = packets.first { ($0["payload"] as? String ?? "").hasPrefix("INVITE sip:bob@localhost") }
            let callID = try #require(invite?["correlationID"] as? String)
            for packet in rtcp {
                #expect(packet["correlationID"] as? String == callID, "correlated with the caller's Call-ID")
                #expect(packet["protocol"] as? Int == 17 && packet["source"] as? String == "127.0.0.1")
                let report = try #require(try JSONSerialization.jsonObject(
                    with: Data((packet["payload"] as? String ?? "").utf8)) as? [String: Any])
                #expect([200, 201].contains(report["type"] as? Int) && report["ssrc"] is Int, "\(report)")
                #expect(report["report_blocks"] is [Any])
            }
        }
    }
}
