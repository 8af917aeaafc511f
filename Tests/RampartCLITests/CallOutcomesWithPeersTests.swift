import Foundation
import Testing

/// The ways a call ends, with sipp on both sides, over UDP and over TLS: busy, cancelled by the caller, unanswered
/// until the ring timeout, forked to two registered phones of which one answers, and answered with a re-INVITE and
/// a BYE from the callee. The caller's scenario is the one of `CallsWithPeersTests` up to the authenticated INVITE,
/// then one of the endings below.
///
/// Over UDP each callee is a sipp server on the port it registered from. Over TLS (Debian's sipp has none) every
/// sipp speaks TCP through stunnel: the caller and the registrations through stunnel clients into the edge's TLS
/// listener, and each callee behind a stunnel server whose TLS port is the Contact it registered
/// (`transport=tls`). The registration connection closes with the registering sipp, so the edge must open a TLS
/// connection to that Contact itself and verify its certificate (the data directory's, from the development CA).
/// Loopback only, bounded, every process stopped by PID.
@Suite(.serialized, .timeLimit(.minutes(3))) struct CallOutcomesWithPeersTests {
    @Test(arguments: ["udp", "tls"]) func aBusyCalleesRefusalReachesTheCallerAndTheRecord(transport: String) throws {
        let config = "[calls]\ncdr_parties = \"pseudonymised\"\ncdr_parties_by_account = { bob = \"clear\" }\n"
        try Self.call(over: transport, callees: ["busy"], ending: Self.refused(486), config: config) {
            result, records, _, data in
            #expect(result.status == 0, "caller: \(result.output.suffix(800))")
            #expect(records.first?["disposition"] as? String == "busy")
            #expect(records.first?["finalStatus"] as? Int == 486)
            // Pseudonymised parties: the record names nobody, and the operator's key maps a party to its name there.
            // bob asked for his own to be in clear; the record says which key made the pseudonyms.
            let caller = try #require(records.first?["caller"] as? String)
            #expect(caller.hasPrefix("anon:") && !caller.contains("alice"))
            #expect(records.first?["callee"] as? String == "sip:bob@localhost")
            let pseudonym = try RampartProcess.run(["cdr", "pseudonym", "sip:alice@localhost", "--data-dir", data])
            #expect(pseudonym.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == caller)
            #expect(records.first?["account"] as? String != "alice@localhost")
            let keyID = try #require(records.first?["pseudonymKeyID"] as? String)
            #expect(try RampartProcess.run(["privacy", "key", "--data-dir", data]).stdout == "\(keyID) (current)\n")
            try Self.lifecycle(of: caller, madeBy: keyID, data: data)
        }
    }

    /// After a key rotation the call is still found by its old key's pseudonym, exported to its subject, and erased
    /// on request with the trail still verifying.
    static func lifecycle(of caller: String, madeBy keyID: String, data: String) throws {
        let rotated = try RampartProcess.run(["privacy", "key", "--rotate", "--data-dir", data])
        #expect(rotated.status == 0 && rotated.stdout.contains("1 older key kept"), "\(rotated.stderr)")
        let lookups = try RampartProcess.run(["cdr", "pseudonym", "--all-keys", "sip:alice@localhost", "--data-dir", data])
        let lines = lookups.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines[1] == "\(keyID) \(caller)" && !lines[0].hasPrefix(keyID), "\(lookups.stdout)")
        let export = try RampartProcess.run(["privacy", "export", "alice@localhost", "--data-dir", data])
        #expect(export.status == 0, "\(export.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(export.stdout.utf8)) as? [String: Any])
        let calls = try #require(report["callRecords"] as? [[String: Any]])
        #expect(calls.count == 1 && calls.first?["caller"] as? String == caller)
        #expect(((report["account"] as? [String: Any])?["digestAlgorithms"] as? [String])?.contains("SHA-256") == true)
        #expect(!export.stdout.lowercased().contains("ha1"), "no credentials in an access request's answer")
        let erased = try RampartProcess.run(["privacy", "erase", "alice@localhost", "--data-dir", data])
        #expect(erased.status == 0 && erased.stdout.contains("cdrs_redacted 1") && erased.stdout.contains("accounts 1"),
                "\(erased.stdout)\(erased.stderr)")
        let verify = try RampartProcess.run(["audit", "verify", "--data-dir", data])
        #expect(verify.status == 0 && verify.stdout.contains("erased"), "\(verify.stdout)")
        let after = try RampartProcess.run(["cdr", "export", "--format", "json", "--data-dir", data])
        let kept = try #require(try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [[String: Any]])
        #expect(kept.count == 1 && kept.first?["caller"] as? String == "erased", "\(after.stdout)")
        #expect(kept.first?["callee"] as? String == "sip:bob@localhost", "the other party's record of the call stays")
        // The operator's own erasure by age: counted first, then done, then in the trail.
        let later = String(Int(Date().timeIntervalSince1970) + 3_600)
        #expect(try RampartProcess.run(["cdr", "erase", "--before", "yesterday", "--data-dir", data]).status == 2)
        let count = try RampartProcess.run(["cdr", "erase", "--before", later, "--dry-run", "--data-dir", data])
        #expect(count.stdout == "would erase 1 record\n", "\(count.stdout)\(count.stderr)")
        #expect(try RampartProcess.run(["cdr", "erase", "--before", later, "--data-dir", data]).stdout == "erased 1 record\n")
        #expect(try RampartProcess.run(["cdr", "export", "--format", "json", "--data-dir", data]).stdout == "[\n\n]\n")
        #expect(try RampartProcess.run(["audit", "verify", "--data-dir", data]).status == 0)
        #expect(try AuditCommandTests.contents(data).contains { $0.contains("cdr.erase") })
    }

    @Test(arguments: ["udp", "tls"]) func aCallerThatGivesUpCancelsTheRingingCallee(transport: String) throws {
        try Self.call(over: transport, callees: ["ring"], ending: Self.cancelAfterRinging) {
            result, records, calleeLogs, _ in
            #expect(result.status == 0, "caller: \(result.output.suffix(800))")
            #expect(calleeLogs[0].contains("CANCEL sip:bob@127.0.0.1"))
            #expect(records.first?["disposition"] as? String == "cancelled")
            #expect(records.first?["hangupSide"] as? String == "caller")
        }
    }

    @Test(arguments: ["udp", "tls"]) func aCallNobodyAnswersEndsAtTheRingTimeoutWith408(transport: String) throws {
        try Self.call(over: transport, callees: ["ring"], ending: Self.refused(408), config: "[calls]\nring_timeout_seconds = 2\n") {
            result, records, calleeLogs, _ in
            #expect(result.status == 0, "caller: \(result.output.suffix(800))")
            #expect(calleeLogs[0].contains("CANCEL sip:bob@127.0.0.1"))
            #expect(records.first?["disposition"] as? String == "no-answer")
            #expect(records.first?["hangupReason"] as? String == "no-answer")
        }
    }

    @Test(arguments: ["udp", "tls"]) func aForkedCallIsAnsweredByOnePhoneAndTheOtherStopsRinging(transport: String) throws {
        try Self.call(over: transport, callees: ["answer-call", "ring"], ending: Self.answeredCallerHangsUp) {
            result, records, logs, _ in
            #expect(result.status == 0, "caller: \(result.output.suffix(5000))")
            #expect(logs.allSatisfy { $0.contains("INVITE sip:bob@127.0.0.1") }, "both phones rang")
            #expect(logs[1].contains("CANCEL sip:bob@127.0.0.1"), "the phone that lost was cancelled")
            #expect(records.count == 1 && records.first?["disposition"] as? String == "answered")
        }
    }

    @Test(arguments: ["udp", "tls"]) func aReInviteCrossesTheEdgeAndTheCalleeHangsUp(transport: String) throws {
        try Self.call(over: transport, callees: ["answer-reinvite-hang-up"], ending: Self.reInviteThenCalleeHangsUp) {
            result, records, logs, _ in
            #expect(result.status == 0, "caller: \(result.output.suffix(800))")
            // The callee's re-INVITE arrived on its own dialog (its own Call-ID), with the re-offer's key.
            let reInvites = logs[0].components(separatedBy: "INVITE sip:").count - 1
            #expect(reInvites == 2)
            #expect(logs[0].contains("inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0f"))
            #expect(!logs[0].contains("caller.invalid"))
            #expect(records.first?["disposition"] as? String == "answered")
            #expect(records.first?["hangupSide"] as? String == "callee")
        }
    }

    // MARK: Scenario endings (after the authenticated INVITE)

    static let provisional = """
          <recv response="100" optional="true">
          </recv>
          <recv response="180" optional="true">
          </recv>

        """

    static func ack(_ target: String, cseq: Int, branch: String) -> String {
        """
          <send>
            <![CDATA[

              ACK \(target) SIP/2.0
              Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=\(branch);rport
              Max-Forwards: 70
              From: "Caller" <sip:[service]@[domain]>;tag=callertag[call_number]
              To: <sip:[callee]@[domain]>[peer_tag_param]
              Call-ID: [call_id]
              CSeq: \(cseq) ACK
              Content-Length: 0

            ]]>
          </send>

        """
    }

    /// A final failure, acknowledged on the INVITE's branch (elements: INVITE 0, 407 1, ACK 2, INVITE 3, 100 4,
    /// 180 5, the failure 6, ACK 7).
    static func refused(_ status: Int) -> String {
        provisional + """
          <recv response="\(status)">
          </recv>

        """ + ack("sip:[callee]@[domain]", cseq: 2, branch: "[branch-4]")
    }

    /// 180, then CANCEL (on the INVITE's branch), its 200 and the INVITE's 487, acknowledged.
    static let cancelAfterRinging = """
          <recv response="100" optional="true">
          </recv>
          <recv response="180">
          </recv>
          <send>
            <![CDATA[

              CANCEL sip:[callee]@[domain] SIP/2.0
              Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-3];rport
              Max-Forwards: 70
              From: "Caller" <sip:[service]@[domain]>;tag=callertag[call_number]
              To: <sip:[callee]@[domain]>
              Call-ID: [call_id]
              CSeq: 2 CANCEL
              Content-Length: 0

            ]]>
          </send>
          <recv response="200">
          </recv>
          <recv response="487">
          </recv>

        """ + ack("sip:[callee]@[domain]", cseq: 2, branch: "[branch-6]")

    /// Provisional answers, the 200 and its ACK: the call is up.
    static let answered = provisional + """
          <recv response="200" rrs="true">
          </recv>

        """ + ack("[next_url]", cseq: 2, branch: "[branch]")

    /// 200, ACK, BYE from the caller.
    static let answeredCallerHangsUp = answered + """
          <pause milliseconds="300"/>
          <send retrans="500">
            <![CDATA[

              BYE [next_url] SIP/2.0
              Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
              Max-Forwards: 70
              From: "Caller" <sip:[service]@[domain]>;tag=callertag[call_number]
              To: <sip:[callee]@[domain]>[peer_tag_param]
              Call-ID: [call_id]
              CSeq: 3 BYE
              Content-Length: 0

            ]]>
          </send>
          <recv response="200" crlf="true">
          </recv>

        """

    /// 200, ACK, a re-INVITE with a new key, its 200 and ACK, then the callee's BYE, answered.
    static let reInviteThenCalleeHangsUp = answered + """
          <pause milliseconds="200"/>
          <send retrans="500">
            <![CDATA[

              INVITE [next_url] SIP/2.0
              Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
              Max-Forwards: 70
              From: "Caller" <sip:[service]@[domain]>;tag=callertag[call_number]
              To: <sip:[callee]@[domain]>[peer_tag_param]
              Call-ID: [call_id]
              CSeq: 3 INVITE
              Contact: <sip:[service]@[local_ip]:[local_port];transport=[transport]>
              Content-Type: application/sdp
              Content-Length: [len]

              v=0
              o=caller 1 2 IN IP[local_ip_type] [local_ip]
              s=-
              c=IN IP[media_ip_type] [media_ip]
              t=0 0
              m=audio [media_port] RTP/SAVP 0
              a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0f

            ]]>
          </send>
          <recv response="100" optional="true">
          </recv>
          <recv response="200">
          </recv>

        """ + ack("[next_url]", cseq: 3, branch: "[branch]") + answerBye

    /// The far side's BYE, answered 200.
    static let answerBye = """
          <recv request="BYE">
          </recv>
          <send>
            <![CDATA[

              SIP/2.0 200 OK
              [last_Via:]
              [last_From:]
              [last_To:]
              [last_Call-ID:]
              [last_CSeq:]
              Content-Length: 0

            ]]>
          </send>

        """

    // MARK: Running a call

    /// Writes alice's scenario (Tests/Peers/sipp/call-with-proxy-auth.xml up to its INVITE's answers) followed by
    /// `ending` to `path`.
    static func callerScenario(ending: String, to path: String) throws {
        let template = try String(contentsOf: Peers.directory.appendingPathComponent("sipp/call-with-proxy-auth.xml"),
                                  encoding: .utf8)
        let cut = try #require(template.range(of: "  <recv response=\"100\" optional=\"true\">"))
        try (String(template[..<cut.lowerBound]) + ending + "</scenario>\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Registers bob once per callee scenario (each from its own port, each a sipp server there afterwards), runs
    /// the caller with `ending`, and hands over the caller's result, the CDRs and what each callee received.
    /// `whileCalling` runs on a thread of its own from the moment the caller starts until it is done.
    static func call(over transport: String, callees: [String], ending: String, config: String = "",
                     beforeCalling: ((_ data: String) throws -> Void)? = nil,
                     whileCalling: (@Sendable (_ server: ServeProcess, _ data: String) -> Void)? = nil,
                     _ check: (_ caller: (status: Int32, output: String), _ records: [[String: Any]],
                               _ calleeLogs: [String], _ data: String) throws -> Void) throws
    {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            try ServeWithPeersTests.addUser("bob", password: "pw-bob", dataDir: data)
            let server = try ServeProcess(dataDir: data, config: ServeWithPeersTests.sippConfig + "\n" + config,
                                          listeners: [transport])
            defer { server.stop() }
            let tls = transport == "tls"
            var processes: [Process] = []  // callees first, then stunnels
            defer { processes.forEach(Peers.stop) }
            // The edge as sipp reaches it: directly over UDP, or through a stunnel client into its TLS listener.
            func edgeEntry() throws -> Int {
                guard tls else { return server.ports["udp"]! }
                let port = try Peers.freePort()
                processes.append(try Peers.stunnelClient(accept: port, connect: server.ports["tls"]!,
                                                         caFile: data + "/ca.crt", directory: directory))
                return port
            }
            for (index, scenario) in callees.enumerated() {
                let port = try Peers.freePort()
                var contactPort = port
                var registerScenario = Peers.directory.appendingPathComponent("sipp/register.xml").path
                if tls {
                    // bob's TLS Contact is a stunnel server in front of his sipp's TCP port.
                    contactPort = try Peers.freePort()
                    registerScenario = directory + "/register-\(index).xml"
                    try String(contentsOfFile: Peers.directory.appendingPathComponent("sipp/register.xml").path,
                               encoding: .utf8)
                        .replacingOccurrences(of: "[local_port];transport=[transport]", with: "\(contactPort);transport=tls")
                        .write(toFile: registerScenario, atomically: true, encoding: .utf8)
                }
                let register = try Peers.run(try Peers.tool("sipp"), [
                    "127.0.0.1:\(try edgeEntry())", "-sf", registerScenario, "-t", tls ? "t1" : "u1", "-s", "bob",
                    "-au", "bob", "-ap", "pw-bob", "-auth_uri", "localhost", "-key", "domain", "localhost",
                    "-key", "expires", "600", "-i", "127.0.0.1", "-p", String(tls ? 0 : port), "-m", "1", "-nostdin",
                    "-timeout", "30", "-trace_err",
                ], seconds: 45, directory: directory)
                try #require(register.status == 0, "bob's registration: \(register.output.suffix(600))")
                processes.insert(try Peers.sippServer(scenario, transport: tls ? "t1" : "u1", port: port,
                                                      messageFile: directory + "/callee-\(index).msg",
                                                      directory: directory), at: index)
                if tls {
                    processes.append(try Peers.stunnelServer(accept: contactPort, connect: port,
                                                             certificate: data + "/server.crt", key: data + "/server.key",
                                                             directory: directory))
                }
            }

            let scenario = directory + "/caller.xml"
            try callerScenario(ending: ending, to: scenario)
            try beforeCalling?(data)
            let beside = DispatchSemaphore(value: 0)
            if let whileCalling {
                Thread.detachNewThread { [server] in
                    whileCalling(server, data)
                    beside.signal()
                }
            } else {
                beside.signal()
            }
            defer { beside.wait() }
            var caller = try Peers.run(try Peers.tool("sipp"), [
                "127.0.0.1:\(try edgeEntry())", "-sf", scenario, "-t", tls ? "t1" : "u1", "-s", "alice", "-au", "alice", "-ap", "pw-alice",
                "-auth_uri", "bob@localhost", "-key", "domain", "localhost", "-key", "callee", "bob",
                "-i", "127.0.0.1", "-p", "0", "-cid_str", "secret-%u-%p@caller.invalid", "-m", "1", "-nostdin",
                "-timeout", "30", "-trace_msg", "-message_file", directory + "/caller.msg", "-trace_err",
            ], seconds: 45, directory: directory)
            if caller.status != 0 {
                // What the caller saw and why it gave up, for the failure message.
                let errors = (try? FileManager.default.contentsOfDirectory(atPath: directory))?
                    .filter { $0.hasSuffix("_errors.log") }
                    .compactMap { try? String(contentsOfFile: directory + "/" + $0, encoding: .utf8) } ?? []
                let messages = (try? String(contentsOfFile: directory + "/caller.msg", encoding: .utf8)) ?? ""
                caller.output = errors.joined() + "\n--- caller's messages ---\n" + String(messages.suffix(4000))
            }
            let calleeProcesses = processes.prefix(callees.count)
            for process in calleeProcesses { for _ in 0..<100 where process.isRunning { Thread.sleep(forTimeInterval: 0.1) } }
            let logs = callees.indices.map {
                (try? String(contentsOfFile: directory + "/callee-\($0).msg", encoding: .utf8)) ?? ""
            }
            for (index, process) in calleeProcesses.enumerated() {
                #expect(!process.isRunning && process.terminationStatus == 0,
                        "callee \(callees[index]) did not complete its scenario: \(logs[index].suffix(3000))")
            }
            var records: [[String: Any]] = []
            for _ in 0..<50 where records.isEmpty {
                let export = try RampartProcess.run(["cdr", "export", "--format", "json", "--data-dir", data])
                records = (try? JSONSerialization.jsonObject(with: Data(export.stdout.utf8)) as? [[String: Any]]) ?? []
                if records.isEmpty { Thread.sleep(forTimeInterval: 0.1) }
            }
            try check(caller, records, logs, data)
            #expect(server.stop() == 0)
        }
    }
}
