import Foundation
import Testing

/// Calls through `rampart serve` with real peers. The caller is sipp, authenticating with Proxy-Authorization (MD5,
/// as Debian's sipp speaks) and offering SRTP. Over UDP the callee is sipp too: it registers, then answers as a
/// server on the port it registered from. Over TLS (sipp behind stunnel) the callee is the independent Python
/// client, answering on the connection it registered over. Loopback only, bounded, every process stopped by PID.
@Suite(.serialized, .timeLimit(.minutes(3))) struct CallsWithPeersTests {
    @Test func sippCallsSippThroughTheEdgeWhichHidesEachSideFromTheOther() throws {
        try Self.withAliceAndBob(listening: "udp") { directory, data, server in
            let edgePort = server.ports["udp"]!
            // Bob answers on the port he registered from: the edge reaches him down that flow.
            let (callee, bobPort) = try Peers.bobAnswering("answer-call", edgePort: edgePort,
                                                           messageFile: directory + "/callee.msg", directory: directory)
            defer { Peers.stop(callee) }

            let callerPort = try Peers.freePort()
            let caller = try Self.sippCaller(port: edgePort, transport: "u1", localPort: callerPort, directory: directory)
            #expect(caller.status == 0, "the caller's call: \(caller.output.suffix(800))")
            for _ in 0..<100 where callee.isRunning { Thread.sleep(forTimeInterval: 0.1) }
            #expect(!callee.isRunning && callee.terminationStatus == 0, "the callee did not complete its scenario")

            // What each side saw of the other: nothing but the edge.
            let calleeSaw = try String(contentsOfFile: directory + "/callee.msg", encoding: .utf8)
            #expect(calleeSaw.contains("INVITE sip:bob@127.0.0.1:\(bobPort)"))
            for trace in ["caller.invalid", "callertag", ":\(callerPort)", "caller-softphone"] {
                #expect(!calleeSaw.contains(trace), "the callee saw \(trace)")
            }
            #expect(calleeSaw.contains("P-Asserted-Identity: <sip:alice@localhost>"))
            let callerSaw = try String(contentsOfFile: directory + "/caller-u1.msg", encoding: .utf8)
            #expect(callerSaw.contains("SIP/2.0 200 OK"))
            for trace in [":\(bobPort)", "callee-pbx", "callee1"] {
                #expect(!callerSaw.contains(trace), "the caller saw \(trace)")
            }

            // The call left its record.
            var records: [[String: Any]] = []
            for _ in 0..<50 where records.isEmpty {
                let export = try RampartProcess.run(["cdr", "export", "--format", "json", "--data-dir", data])
                records = (try? JSONSerialization.jsonObject(with: Data(export.stdout.utf8)) as? [[String: Any]]) ?? []
                if records.isEmpty { Thread.sleep(forTimeInterval: 0.1) }
            }
            #expect(records.first?["disposition"] as? String == "answered")
            #expect(records.first?["srtpSuite"] as? String == "AES_CM_128_HMAC_SHA1_80")
            #expect(records.first?["hangupSide"] as? String == "caller")
            #expect(server.stop() == 0)
        }
    }

    @Test func sippCallsAPhoneOverTLSDownTheConnectionItRegisteredOn() throws {
        try Self.withAliceAndBob(listening: "tls") { directory, data, server in
            let tlsPort = server.ports["tls"]!
            // Bob: an independent client that registers over TLS and then answers on that same connection (the
            // edge cannot open one to a phone behind NAT).
            let ready = directory + "/bob-ready"
            let callee = try Peers.background(try Peers.tool("python3"), [
                Peers.directory.appendingPathComponent("sip_client.py").path, "register", "--transport", "tls",
                "--host", "127.0.0.1", "--port", String(tlsPort), "--user", "bob", "--password", "pw-bob",
                "--ca", data + "/ca.crt", "--algorithm", "MD5", "--answer-call", "--ready-file", ready,
            ], seconds: 40, directory: directory, output: directory + "/bob.json")
            defer { Peers.stop(callee) }
            for _ in 0..<100 where !FileManager.default.fileExists(atPath: ready) { Thread.sleep(forTimeInterval: 0.1) }
            try #require(FileManager.default.fileExists(atPath: ready), "bob did not register")

            // Alice: sipp over TCP into a stunnel client that speaks TLS to the edge.
            let stunnelPort = try Peers.freePort()
            let stunnel = try Peers.stunnelClient(accept: stunnelPort, connect: tlsPort, caFile: data + "/ca.crt",
                                                  directory: directory)
            defer { Peers.stop(stunnel) }
            let caller = try Self.sippCaller(port: stunnelPort, transport: "t1", localPort: 0, directory: directory)
            #expect(caller.status == 0, "the caller's call: \(caller.output.suffix(800))")
            for _ in 0..<100 where callee.isRunning { Thread.sleep(forTimeInterval: 0.1) }
            let verdict = try #require(try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: directory + "/bob.json"))) as? [String: Any])
            let call = try #require(verdict["call"] as? [String: Any], "bob got no call: \(verdict)")
            let invite = try #require(call["invite"] as? String)
            #expect(invite.hasPrefix("INVITE sip:bob@127.0.0.1:"))
            #expect(invite.contains("Via: SIP/2.0/TLS 127.0.0.1:\(tlsPort);"))
            for trace in ["caller.invalid", "callertag", "caller-softphone", "Proxy-Authorization"] {
                #expect(!invite.contains(trace), "bob saw \(trace)")
            }
            #expect((call["ack"] as? String)?.hasPrefix("ACK ") == true)
            #expect((call["bye"] as? String)?.hasPrefix("BYE ") == true)
            #expect(server.stop() == 0)
        }
    }

    @Test func anInstantMessageReachesThePhoneWithoutTheSendersTopology() throws {
        try Self.withAliceAndBob(listening: "udp") { directory, data, server in
            let edgePort = server.ports["udp"]!
            let (bob, bobPort) = try Peers.bobAnswering("answer-message", edgePort: edgePort,
                                                        messageFile: directory + "/bob.msg", directory: directory)
            defer { Peers.stop(bob) }
            let sender = try Self.aliceToBob("message-with-proxy-auth", port: edgePort, callIDHost: "sender.invalid",
                                             messageFile: directory + "/alice.msg", directory: directory)
            #expect(sender.status == 0, "alice: \(sender.output.suffix(800))")
            for _ in 0..<50 where bob.isRunning { Thread.sleep(forTimeInterval: 0.1) }
            let bobSaw = try String(contentsOfFile: directory + "/bob.msg", encoding: .utf8)
            #expect(bobSaw.contains("MESSAGE sip:bob@127.0.0.1:\(bobPort)"))
            #expect(bobSaw.contains("Meet at the usual place at 5."))
            #expect(bobSaw.contains("From: <sip:alice@localhost>;tag="))
            for trace in ["sender.invalid", "sender-softphone", "Proxy-Authorization"] {
                #expect(!bobSaw.contains(trace), "bob saw \(trace)")
            }
            let aliceSaw = try String(contentsOfFile: directory + "/alice.msg", encoding: .utf8)
            #expect(!aliceSaw.contains("recipient-phone") && !aliceSaw.contains(":\(bobPort)"))
            #expect(server.stop() == 0)
        }
    }

    /// A transfer is only to the edge's own users (issue 17): alice's REFER to a number at another domain gets 403
    /// and never reaches bob (whose scenario expects only ACK and BYE).
    @Test func aTransferOutsideTheServedDomainIsRefused() throws {
        try Self.aliceMeetsBob("call-with-forged-history-and-refer", bob: "answer-call",
                               keys: ["referto": "sip:+19005550100@premium.example"]) { _, bobSaw, _, _ in
            #expect(!bobSaw.contains("REFER ") && !bobSaw.contains("premium.example"))
        }
    }

    /// A relayed OPTIONS tells its sender that the phone answered, not where it is (issue 17): bob's answer carries
    /// SDP naming his address and port; alice's 200 has no body.
    @Test func anOptionsAnswerCrossesWithoutItsSDP() throws {
        try Self.aliceMeetsBob("options-with-proxy-auth", bob: "answer-options") { aliceSaw, _, bobPort, _ in
            #expect(aliceSaw.contains("SIP/2.0 200 OK"))
            for trace in ["v=0", "m=audio", ":\(bobPort)", "Content-Type: application/sdp"] {
                #expect(!aliceSaw.contains(trace), "alice saw \(trace)")
            }
        }
    }

    @Test func aSubscriptionCrossesTheEdgeAndItsNotifiesComeBackUntilTerminated() throws {
        try Self.aliceMeetsBob("subscribe-with-proxy-auth", bob: "notify-subscriber") { aliceSaw, bobSaw, bobPort, data in
            #expect(aliceSaw.contains("<state>confirmed</state>"))
            // The dialog-info names bob's device by address; alice sees it at the served domain (issue 17).
            #expect(aliceSaw.contains("<target uri=\"sip:bob@localhost\"/>"))
            #expect(aliceSaw.contains("Subscription-State: terminated;reason=noresource"))
            for trace in [":\(bobPort)", "notifier-pbx"] { #expect(!aliceSaw.contains(trace), "alice saw \(trace)") }
            #expect(bobSaw.contains("SUBSCRIBE sip:bob@127.0.0.1:\(bobPort)") && !bobSaw.contains("watcher-phone"))
            // alice asked for a day; bob is asked for no more than the edge keeps a subscription (an hour).
            #expect(bobSaw.contains("Expires: 3600") && !bobSaw.contains("Expires: 86400"))
            // A subscription is not a call: no CDR.
            let export = try RampartProcess.run(["cdr", "export", "--format", "json", "--data-dir", data])
            let records = try JSONSerialization.jsonObject(with: Data(export.stdout.utf8)) as? [[String: Any]]
            #expect(records?.isEmpty == true)
        }
    }

    /// A subscription's dialog carries no call (issue 17): an INVITE alice sends inside it (its tags, its remote
    /// target) gets 403 and never reaches bob, whose scenario expects only the subscription's messages.
    @Test func anInviteInsideASubscriptionsDialogIsRefused() throws {
        try Self.aliceMeetsBob("subscribe-then-invite", bob: "notify-subscriber") { _, bobSaw, _, _ in
            #expect(!bobSaw.contains("INVITE "))
        }
    }

    /// alice (sipp, `scenario`) meets bob (sipp answering with `bobScenario` on the port he registered from) through
    /// a UDP edge; both scenarios must run to their end (bob's fails on any message it does not expect). `check`
    /// gets what each saw, bob's port and the data directory.
    static func aliceMeetsBob(_ scenario: String, bob bobScenario: String, keys: [String: String] = [:],
                              _ check: (_ aliceSaw: String, _ bobSaw: String, _ bobPort: Int, _ data: String) throws -> Void)
        throws
    {
        try withAliceAndBob(listening: "udp") { directory, data, server in
            let edgePort = server.ports["udp"]!
            let (bob, bobPort) = try Peers.bobAnswering(bobScenario, edgePort: edgePort,
                                                        messageFile: directory + "/bob.msg", directory: directory)
            defer { Peers.stop(bob) }
            let alice = try aliceToBob(scenario, port: edgePort, callIDHost: "alice.invalid",
                                       messageFile: directory + "/alice.msg", directory: directory, keys: keys)
            #expect(alice.status == 0, "alice: \(alice.output.suffix(800))")
            for _ in 0..<50 where bob.isRunning { Thread.sleep(forTimeInterval: 0.1) }
            #expect(!bob.isRunning && bob.terminationStatus == 0, "bob did not complete \(bobScenario)")
            try check(try String(contentsOfFile: directory + "/alice.msg", encoding: .utf8),
                      try String(contentsOfFile: directory + "/bob.msg", encoding: .utf8), bobPort, data)
            #expect(server.stop() == 0)
        }
    }

    @Test func aCleanShutdownEndsCallsWithByeOnBothSidesAndKeepsTheirRecords() throws {
        try Self.withAliceAndBob(listening: "udp") { directory, data, server in
            let edgePort = server.ports["udp"]!
            let (bob, _) = try Peers.bobAnswering("answer-call", edgePort: edgePort, messageFile: directory + "/bob.msg",
                                                  directory: directory)
            defer { Peers.stop(bob) }
            // alice answers the edge's BYE instead of hanging up herself.
            let scenario = directory + "/held-call.xml"
            try CallOutcomesWithPeersTests.callerScenario(
                ending: CallOutcomesWithPeersTests.answered + CallOutcomesWithPeersTests.answerBye, to: scenario)
            let alice = try Peers.background(try Peers.tool("sipp"), [
                "127.0.0.1:\(edgePort)", "-sf", scenario, "-t", "u1", "-s", "alice", "-au", "alice", "-ap", "pw-alice",
                "-auth_uri", "bob@localhost", "-key", "domain", "localhost", "-key", "callee", "bob", "-i", "127.0.0.1",
                "-p", "0", "-m", "1", "-nostdin", "-timeout", "30", "-trace_msg", "-message_file", directory + "/alice.msg",
            ], seconds: 40, directory: directory)
            defer { Peers.stop(alice) }
            // Once bob has the ACK the call is up: stop the edge.
            for _ in 0..<100 where !((try? String(contentsOfFile: directory + "/bob.msg", encoding: .utf8)) ?? "")
                .contains("ACK sip:") { Thread.sleep(forTimeInterval: 0.1) }
            #expect(server.stop() == 0)
            for _ in 0..<50 where alice.isRunning || bob.isRunning { Thread.sleep(forTimeInterval: 0.1) }
            #expect(!alice.isRunning && alice.terminationStatus == 0, "alice got no BYE")
            #expect(!bob.isRunning && bob.terminationStatus == 0, "bob got no BYE")
            let export = try RampartProcess.run(["cdr", "export", "--format", "json", "--data-dir", data])
            let records = (try? JSONSerialization.jsonObject(with: Data(export.stdout.utf8)) as? [[String: Any]]) ?? []
            #expect(records.count == 1)
            #expect(records.first?["disposition"] as? String == "answered")
            #expect(records.first?["hangupReason"] as? String == "shutdown")
            #expect(records.first?["hangupSide"] as? String == "edge")
        }
    }

    /// `rampart serve` on one listener with alice and bob provisioned, in a temporary directory.
    static func withAliceAndBob(listening transport: String,
                                _ body: (_ directory: String, _ data: String, _ server: ServeProcess) throws -> Void)
        throws
    {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            try ServeWithPeersTests.addUser("bob", password: "pw-bob", dataDir: data)
            let server = try ServeProcess(dataDir: data, config: ServeWithPeersTests.sippConfig, listeners: [transport])
            defer { server.stop() }
            try body(directory, data, server)
        }
    }

    /// sipp as the caller (Tests/Peers/sipp/call-with-proxy-auth.xml): alice calls bob with an SRTP offer.
    static func sippCaller(port: Int, transport: String, localPort: Int, directory: String) throws
        -> (status: Int32, output: String)
    {
        try aliceToBob("call-with-proxy-auth", port: port, transport: transport, localPort: localPort,
                       callIDHost: "caller.invalid", messageFile: directory + "/caller-\(transport).msg",
                       directory: directory)
    }

    /// alice, authenticating as herself (MD5), runs one of Tests/Peers/sipp's scenarios towards bob through the
    /// edge once; her Call-IDs end in `callIDHost`, so tests can check that it never reaches bob.
    static func aliceToBob(_ scenario: String, port: Int, transport: String = "u1", localPort: Int = 0,
                           callIDHost: String, messageFile: String, directory: String, keys: [String: String] = [:])
        throws -> (status: Int32, output: String)
    {
        try Peers.run(try Peers.tool("sipp"), [
            "127.0.0.1:\(port)", "-sf", Peers.directory.appendingPathComponent("sipp/\(scenario).xml").path,
            "-t", transport, "-s", "alice", "-au", "alice", "-ap", "pw-alice", "-auth_uri", "bob@localhost",
            "-key", "domain", "localhost", "-key", "callee", "bob", "-i", "127.0.0.1", "-p", String(localPort),
            "-cid_str", "secret-%u-%p@\(callIDHost)", "-m", "1", "-nostdin", "-timeout", "30", "-trace_msg",
            "-message_file", messageFile, "-trace_err",
        ] + keys.sorted { $0.key < $1.key }.flatMap { ["-key", $0.key, $0.value] }, seconds: 45, directory: directory)
    }
}
