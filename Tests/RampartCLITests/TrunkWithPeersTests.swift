import Foundation
import Testing

/// A carrier trunk on 127.0.0.2 (loopback, but another address than the phones' 127.0.0.1, since a trunk is known
/// by its address), played by sipp: an account's call to a number goes to it and the edge answers its digest
/// challenge with the configured account; its own call to a user is taken without credentials, its caller number
/// shown under the edge's domain. Loopback only, bounded, every process stopped by PID.
@Suite(.serialized, .timeLimit(.minutes(2))) struct TrunkWithPeersTests {
    static func config(trunkPort: Int) -> String {
        ServeWithPeersTests.sippConfig + """

            [[trunks]]
            name = "carrier"
            address = "udp:127.0.0.2:\(trunkPort)"
            prefixes = ["+"]
            allow_plain_rtp = true
            trust_identity = true
            username = "rampart"
            password = "trunk-secret"

            [fraud]
            country_code = "1"
            """
    }

    /// `rampart serve` over UDP with the carrier trunk on `trunkPort` and `user` provisioned.
    static func withEdge(trunkPort: Int, user: String,
                         _ body: (_ directory: String, _ data: String, _ server: ServeProcess) throws -> Void) throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser(user, password: "pw-\(user)", dataDir: data)
            let server = try ServeProcess(dataDir: data, config: Self.config(trunkPort: trunkPort), listeners: ["udp"])
            defer { server.stop() }
            try body(directory, data, server)
        }
    }

    /// The carrier on 127.0.0.2 taking one call (Tests/Peers/sipp/trunk-challenge-answer.xml), its side in trunk.msg.
    static func carrierAnswering(port: Int, directory: String) throws -> Process {
        try Peers.sippServer("trunk-challenge-answer", ip: "127.0.0.2", port: port,
                             messageFile: directory + "/trunk.msg", directory: directory)
    }

    /// alice (sipp on 127.0.0.1, MD5) calls +15551234, which goes out by the trunk; her side of it in caller.msg.
    static func aliceCallsTheNumber(_ scenario: String, edgePort: Int, directory: String, keys: [String] = [])
        throws -> (status: Int32, output: String)
    {
        try Peers.run(try Peers.tool("sipp"), [
            "127.0.0.1:\(edgePort)", "-sf", Peers.directory.appendingPathComponent("sipp/\(scenario).xml").path,
            "-t", "u1", "-s", "alice", "-au", "alice", "-ap", "pw-alice", "-auth_uri", "+15551234@localhost",
            "-key", "domain", "localhost", "-key", "callee", "+15551234", "-i", "127.0.0.1", "-p", "0",
            "-m", "1", "-nostdin", "-timeout", "30", "-trace_err", "-trace_msg", "-message_file", directory + "/caller.msg",
        ] + (keys.isEmpty ? [] : ["-key"] + keys), seconds: 45, directory: directory)
    }

    /// The carrier's call to bob (Tests/Peers/sipp/trunk-call.xml) sent from `ip`.
    static func trunkCall(from ip: String, edgePort: Int, messageFile: String, directory: String) throws
        -> (status: Int32, output: String)
    {
        try Peers.run(try Peers.tool("sipp"), [
            "127.0.0.1:\(edgePort)", "-sf", Peers.directory.appendingPathComponent("sipp/trunk-call.xml").path,
            "-t", "u1", "-i", ip, "-p", "0", "-key", "callee", "bob", "-key", "domain", "localhost",
            "-m", "1", "-nostdin", "-timeout", "20", "-trace_err", "-trace_msg", "-message_file", messageFile,
        ], seconds: 30, directory: directory)
    }

    /// A carrier's ordinary traffic is no attack (issue 17): the trunk (sipp on 127.0.0.2) calls 50 different
    /// numbers in five seconds. Every call gets its answer (480: nobody registered them), and the trunk is neither
    /// rate limited nor taken for an extension sweep nor banned (before: banned at the tenth number).
    @Test func aTrunkCallingFiftyNumbersIsNoSweepAndIsNeverBanned() throws {
        try Self.withEdge(trunkPort: try Peers.freePort(), user: "alice") { directory, data, server in
            let sweep = try Peers.run(try Peers.tool("sipp"), [
                "127.0.0.1:\(server.ports["udp"]!)", "-sf",
                Peers.directory.appendingPathComponent("sipp/trunk-number-sweep.xml").path, "-t", "u1",
                "-i", "127.0.0.2", "-p", "0", "-key", "domain", "localhost", "-m", "50", "-r", "10", "-nostdin",
                "-timeout", "30", "-trace_err",
            ], seconds: 45, directory: directory)
            #expect(sweep.status == 0, "every call answered 480: \(sweep.output.suffix(600))")
            #expect(try AttackersWithPeersTests.events(data).filter {
                $0.contains("scanner-detected") || $0.contains("rate-limited") || $0.contains("  ban  ")
            }.isEmpty)
            #expect(!(try AttackersWithPeersTests.bans(data).contains("127.0.0.2")))
            #expect(server.stop() == 0)
        }
    }

    @Test func anAccountsCallToANumberGoesToTheTrunkWhichTheEdgeAuthenticatesTo() throws {
        let trunkPort = try Peers.freePort()
        try Self.withEdge(trunkPort: trunkPort, user: "alice") { directory, data, server in
            let trunk = try Self.carrierAnswering(port: trunkPort, directory: directory)
            defer { Peers.stop(trunk) }

            let caller = try Self.aliceCallsTheNumber("call-with-proxy-auth", edgePort: server.ports["udp"]!,
                                                      directory: directory)
            #expect(caller.status == 0, "caller: \((try? String(contentsOfFile: directory + "/caller.msg", encoding: .utf8)) ?? "")")
            for _ in 0..<100 where trunk.isRunning { Thread.sleep(forTimeInterval: 0.1) }
            #expect(!trunk.isRunning && trunk.terminationStatus == 0, "the trunk did not accept the call")
            let trunkSaw = try String(contentsOfFile: directory + "/trunk.msg", encoding: .utf8)
            #expect(trunkSaw.contains("INVITE sip:+15551234@127.0.0.2:\(trunkPort) SIP/2.0"))
            #expect(trunkSaw.contains("\nAuthorization: Digest username=\"rampart\""))
            #expect(trunkSaw.contains("P-Asserted-Identity: <sip:alice@localhost>"))  // a trusted trunk gets it
            #expect(!trunkSaw.contains("pw-alice") && !trunkSaw.contains("trunk-secret"))

            let records = try Self.records(data)
            #expect(records.first?["disposition"] as? String == "answered")
            #expect(records.first?["callee"] as? String == "sip:+15551234@localhost")
            #expect(records.first?["account"] as? String == "alice@localhost")
            #expect(records.first?["trunk"] as? String == "carrier")
            #expect(server.stop() == 0)
        }
    }

    /// An account cannot bill a carrier for history it made up, nor make it place a call (issue 17): the forged
    /// Diversion, History-Info, Call-Info and Identity of alice's INVITE do not reach the trunk, and her REFER in the
    /// call gets 403 (the trunk, which expects only ACK and BYE, would fail on a REFER).
    @Test func forgedHistoryNeverReachesTheTrunkAndATransferInATrunkCallIsRefused() throws {
        let trunkPort = try Peers.freePort()
        try Self.withEdge(trunkPort: trunkPort, user: "alice") { directory, data, server in
            let trunk = try Self.carrierAnswering(port: trunkPort, directory: directory)
            defer { Peers.stop(trunk) }
            let caller = try Self.aliceCallsTheNumber(
                "call-with-forged-history-and-refer", edgePort: server.ports["udp"]!, directory: directory,
                keys: ["referto", "sip:+19005550100@localhost"])
            let callerSaw = (try? String(contentsOfFile: directory + "/caller.msg", encoding: .utf8)) ?? ""
            #expect(caller.status == 0, "caller: \(callerSaw.suffix(1500))")
            for _ in 0..<100 where trunk.isRunning { Thread.sleep(forTimeInterval: 0.1) }
            #expect(!trunk.isRunning && trunk.terminationStatus == 0, "the trunk saw more than the call")
            let trunkSaw = try String(contentsOfFile: directory + "/trunk.msg", encoding: .utf8)
            #expect(trunkSaw.contains("INVITE sip:+15551234@127.0.0.2:\(trunkPort) SIP/2.0"))
            for forged in ["Diversion:", "History-Info:", "Call-Info:", "\nIdentity:", "forged.example", "REFER "] {
                #expect(!trunkSaw.contains(forged), "the trunk saw \(forged)")
            }
            #expect(server.stop() == 0)
        }
    }

    /// UDP forged from a carrier's address cannot get the carrier banned (issue 17): wrong passwords for six
    /// accounts from 127.0.0.2 would ban any other source ("failures across 5 accounts"); the trunk's address is
    /// protected, the ban is recorded as `ban-withheld`, and the carrier's next call is still taken.
    @Test func failuresForgedFromTheTrunksAddressNeverBanIt() throws {
        try Self.withEdge(trunkPort: try Peers.freePort(), user: "bob") { directory, data, server in
            let edgePort = server.ports["udp"]!
            for index in 1...6 {
                try ServeWithPeersTests.addUser("user\(index)", password: "pw-user\(index)", dataDir: data)
            }
            for index in 1...6 {
                let guess = try Peers.sipClient(["--transport", "udp", "--host", "127.0.0.1", "--port", String(edgePort),
                                                 "--bind", "127.0.0.2", "--user", "user\(index)",
                                                 "--password", "guess", "--algorithm", "MD5"])
                #expect(guess["status"] as? Int == 403, "\(guess)")
            }
            #expect(!(try AttackersWithPeersTests.events(data, type: "ban-withheld") { !$0.isEmpty }).isEmpty)
            #expect(!(try AttackersWithPeersTests.bans(data).contains("127.0.0.2")))
            let (bob, _) = try Peers.bobAnswering("answer-call", edgePort: edgePort, messageFile: directory + "/bob.msg",
                                                  directory: directory)
            defer { Peers.stop(bob) }
            let call = try Self.trunkCall(from: "127.0.0.2", edgePort: edgePort, messageFile: directory + "/trunk.msg",
                                          directory: directory)
            #expect(call.status == 0, "the carrier's call after the forged failures: \(call.output.suffix(600))")
            #expect(server.stop() == 0)
        }
    }

    @Test func theTrunksCallReachesAUserWithoutCredentialsAndWithoutTheTrunksAddress() throws {
        let trunkPort = try Peers.freePort()
        try Self.withEdge(trunkPort: trunkPort, user: "bob") { directory, data, server in
            let edgePort = server.ports["udp"]!
            let (bob, _) = try Peers.bobAnswering("answer-call", edgePort: edgePort, messageFile: directory + "/bob.msg",
                                                  directory: directory)
            defer { Peers.stop(bob) }

            let trunk = try Self.trunkCall(from: "127.0.0.2", edgePort: edgePort, messageFile: directory + "/trunk.msg",
                                           directory: directory)
            #expect(trunk.status == 0, "trunk: \(trunk.output.suffix(800))")
            for _ in 0..<100 where bob.isRunning { Thread.sleep(forTimeInterval: 0.1) }
            let bobSaw = try String(contentsOfFile: directory + "/bob.msg", encoding: .utf8)
            #expect(bobSaw.contains("From: <sip:+15550001@localhost>"))
            // Its headers name only the edge (the SDP still carries the trunk's media address until the relay); the
            // identity the trusted trunk asserted passes as it was asserted (RFC 3325).
            let headers = bobSaw.components(separatedBy: "v=0").first ?? bobSaw
            #expect(!headers.contains("127.0.0.2"))
            #expect(headers.contains("P-Asserted-Identity: <sip:+15550001@carrier.example>"))
            let records = try Self.records(data)
            #expect(records.first?["disposition"] as? String == "answered")
            #expect(records.first?["account"] as? String == "trunk:carrier")
            #expect(records.first?["trunk"] as? String == "carrier")

            // The same INVITE from anywhere but the trunk's address must authenticate.
            let stranger = try Self.trunkCall(from: "127.0.0.1", edgePort: edgePort,
                                              messageFile: directory + "/stranger.msg", directory: directory)
            #expect(stranger.status != 0)
            let strangerSaw = try String(contentsOfFile: directory + "/stranger.msg", encoding: .utf8)
            #expect(strangerSaw.contains("SIP/2.0 407 Proxy Authentication Required"))
            #expect(server.stop() == 0)
        }
    }

    static func records(_ data: String) throws -> [[String: Any]] {
        var records: [[String: Any]] = []
        for _ in 0..<50 where records.isEmpty {
            let export = try RampartProcess.run(["cdr", "export", "--format", "json", "--data-dir", data])
            records = (try? JSONSerialization.jsonObject(with: Data(export.stdout.utf8)) as? [[String: Any]]) ?? []
            if records.isEmpty { Thread.sleep(forTimeInterval: 0.1) }
        }
        return records
    }
}
