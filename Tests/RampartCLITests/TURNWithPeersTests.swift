import Foundation
import Testing

/// `rampart serve` with `[turn]`, driven by coturn's own clients (turnutils_stunclient, turnutils_uclient,
/// turnutils_peer) and attacked over the wire: relaying over UDP, TCP and TLS with long-term and REST credentials,
/// peers it must never reach, unauthenticated and hostile messages.
@Suite(.serialized) struct TURNWithPeersTests {
    static let realm = "rampart.test"
    static let secret = "rest-secret-0123456789abcdef"

    /// A running edge with TURN on three listeners (UDP and TCP on one port, TLS on another) and its ports.
    struct TURNEdge {
        let serve: ServeProcess
        let port: Int
        let tlsPort: Int
        let relayPorts: ClosedRange<Int>
        let directory: String
    }

    static func start(in directory: String, allowedPeers: [String], extraConfig: String = "") throws -> TURNEdge {
        let (port, tlsPort) = (try Peers.freePort(), try Peers.freePort())
        let relayLow = 61_000 + Int.random(in: 0..<44) * 100
        let secretFile = directory + "/rest-secret"
        try (secret + "\n").write(toFile: secretFile, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: secretFile)
        let peers = allowedPeers.map { "\"\($0)\"" }.joined(separator: ", ")
        let config = """
            [turn]
            listen = ["udp:127.0.0.1:\(port)", "tcp:127.0.0.1:\(port)", "tls:127.0.0.1:\(tlsPort)"]
            realm = "\(realm)"
            relay_address = "127.0.0.1"
            relay_ports = [\(relayLow), \(relayLow + 99)]
            allowed_peers = [\(peers)]
            rest_secret_file = "\(secretFile)"
            max_allocations_per_source = 100
            max_allocations_per_user = 100
            \(extraConfig)
            """
        let serve = try ServeProcess(dataDir: directory + "/data", config: config, listeners: ["udp"])
        for _ in 0..<100 where !serve.stdout.contains("rampart: TURN on tls:") { Thread.sleep(forTimeInterval: 0.1) }
        try #require(serve.stdout.contains("rampart: TURN on udp:127.0.0.1:\(port)"), "TURN did not start: \(serve.stderr)")
        return TURNEdge(serve: serve, port: port, tlsPort: tlsPort, relayPorts: relayLow...(relayLow + 99), directory: directory)
    }

    static func rampart(_ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String) {
        let result = try RampartProcess.run(arguments, stdin: input.map { $0 + "\n" })
        return (result.status, result.stdout + result.stderr)
    }

    /// turnutils_uclient's figures: messages sent and received, and the lost ones.
    static func uclient(_ arguments: [String], edge: TURNEdge, peerPort: Int, port: Int? = nil) throws
        -> (sent: Int, received: Int, output: String)
    {
        let result = try Peers.run(try Peers.tool("turnutils_uclient"),
                                   arguments + ["-e", "127.0.0.1", "-r", String(peerPort), "-p", String(port ?? edge.port),
                                                "-n", "10", "-m", "2", "-l", "172", "127.0.0.1"], seconds: 40)
        let totals = result.output.split(separator: "\n").last { $0.contains("start_mclient: tot_send_msgs=") && !$0.contains("msz=") }
        func figure(_ name: String) -> Int {
            guard let totals, let range = totals.range(of: name + "=") else { return -1 }
            return Int(totals[range.upperBound...].prefix { $0.isNumber }) ?? -1
        }
        return (figure("tot_send_msgs"), figure("tot_recv_msgs"), result.output)
    }

    /// alice asks the edge to relay three packets to `peer`:`port` (all she may do there is be refused): the output.
    static func aliceSends(to peer: String, port: Int, edge: TURNEdge) throws -> String {
        try Peers.run(try Peers.tool("turnutils_uclient"),
                      ["-u", "alice", "-w", "wonderland", "-e", peer, "-r", String(port), "-p", String(edge.port), "-n", "3",
                       "-m", "1", "-l", "100", "127.0.0.1"], seconds: 30).output
    }

    @Test func coturnClientsRelayOverUDPTCPAndTLSWithLongTermAndRESTCredentials() throws {
        try withTemporaryDirectory { directory in
            let edge = try Self.start(in: directory, allowedPeers: ["127.0.0.0/8"])
            defer { edge.serve.stop() }
            // A user added while the edge runs is in force at once (the control socket).
            let added = try Self.rampart(["turn", "user", "add", "alice", "--realm", Self.realm, "--password-stdin",
                                          "--data-dir", edge.serve.dataDir], input: "wonderland")
            #expect(added.status == 0, "\(added.output)")
            let peerPort = try Peers.freePort()
            let peer = try Peers.background(try Peers.tool("turnutils_peer"), ["-L", "127.0.0.1", "-p", String(peerPort)],
                                            seconds: 120, directory: directory)
            defer { Peers.stop(peer) }
            #expect(Peers.waitForListener(port: peerPort, udp: true))

            // STUN: the reflexive address.
            let stun = try Peers.run(try Peers.tool("turnutils_stunclient"), ["-p", String(edge.port), "127.0.0.1"], seconds: 15)
            #expect(stun.output.contains("UDP reflexive addr: 127.0.0.1:"), "\(stun.output)")

            let longTerm = ["-u", "alice", "-w", "wonderland"]
            let runs: [(String, [String], Int?)] = [
                ("UDP, channels", longTerm, nil), ("UDP, Send and Data indications", longTerm + ["-c"], nil),
                ("TCP", longTerm + ["-t"], nil), ("TLS", longTerm + ["-t", "-S"], edge.tlsPort),
                ("REST credentials", ["-u", "carol", "-W", Self.secret], nil),
            ]
            for (name, arguments, port) in runs {
                let run = try Self.uclient(arguments, edge: edge, peerPort: peerPort, port: port)
                #expect(run.sent == 20 && run.received == 20, "\(name): sent \(run.sent), received \(run.received)\n\(run.output.suffix(1_500))")
                #expect(run.output.contains("Total lost packets 0 (0.000000%)"), "\(name)")
            }
            // A wrong password or a REST secret not ours: no allocation.
            for arguments in [["-u", "alice", "-w", "guess"], ["-u", "carol", "-W", "not-the-secret-at-all-0000"]] {
                let run = try Self.uclient(arguments, edge: edge, peerPort: peerPort)
                #expect(run.received <= 0 && run.output.contains("Cannot complete Allocation"), "\(arguments)")
            }
            // The ended allocations are recorded, with what they carried, and the failures are security events.
            let sessions = try Self.rampart(["turn", "sessions", "--json", "--data-dir", edge.serve.dataDir])
            let records = sessions.output.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            #expect(records.contains { ($0["client"] as? String)?.hasPrefix("tls:127.0.0.1:") == true && ($0["bytes_to_peers"] as? Int ?? 0) > 0 })
            #expect(records.contains { ($0["user"] as? String)?.hasSuffix(":carol") == true })
            var events = (status: Int32(0), output: "")
            for _ in 0..<20 where !events.output.contains("alice") {
                events = try Self.rampart(["events", "--type", "turn-auth-failure", "--data-dir", edge.serve.dataDir])
                Thread.sleep(forTimeInterval: 0.25)
            }
            #expect(events.output.contains("alice"), "\(events.output)")
            #expect(!events.output.contains("wonderland") && !edge.serve.stderr.contains("wonderland"))
        }
    }

    @Test func peersItMustNeverReachGet403AndNothingCrosses() throws {
        try withTemporaryDirectory { directory in
            // No allow-list: loopback, private, metadata and link-local peers are all refused.
            let edge = try Self.start(in: directory, allowedPeers: [])
            defer { edge.serve.stop() }
            _ = try Self.rampart(["turn", "user", "add", "alice", "--realm", Self.realm, "--password-stdin",
                                  "--data-dir", edge.serve.dataDir], input: "wonderland")
            let peerPort = try Peers.freePort()
            let peer = try Peers.background(try Peers.tool("turnutils_peer"), ["-L", "127.0.0.1", "-p", String(peerPort)],
                                            seconds: 120, directory: directory)
            defer { Peers.stop(peer) }
            for target in ["127.0.0.1", "10.0.0.1", "169.254.169.254", "192.168.1.1"] {
                let output = try Self.aliceSends(to: target, port: peerPort, edge: edge)
                #expect(output.contains("error 403"), "\(target): \(output.suffix(800))")
                #expect(!output.contains("tot_recv_msgs=3"), "\(target)")
            }
            var events = (status: Int32(0), output: "")
            for _ in 0..<20 {  // the edge stores its events every quarter second
                events = try Self.rampart(["events", "--type", "turn-peer-denied", "--data-dir", edge.serve.dataDir])
                if events.output.contains("169.254.169.254") { break }
                Thread.sleep(forTimeInterval: 0.25)
            }
            for target in ["127.0.0.1", "10.0.0.1", "169.254.169.254"] {
                #expect(events.output.contains(target), "\(target) not in: \(events.output)")
            }
        }
        try withTemporaryDirectory { directory in
            // Loopback allowed, yet the relay's own sockets, the server's own listeners and a trunk are not peers.
            let trunkPort = try Peers.freePort()
            let edge = try Self.start(in: directory, allowedPeers: ["127.0.0.0/8"], extraConfig: """

                [[trunks]]
                name = "carrier"
                address = "udp:127.0.0.3:\(trunkPort)"
                """)
            defer { edge.serve.stop() }
            _ = try Self.rampart(["turn", "user", "add", "alice", "--realm", Self.realm, "--password-stdin",
                                  "--data-dir", edge.serve.dataDir], input: "wonderland")
            for port in [edge.relayPorts.lowerBound, edge.relayPorts.upperBound, edge.port, edge.serve.ports["udp"] ?? 0] {
                let output = try Self.aliceSends(to: "127.0.0.1", port: port, edge: edge)
                #expect(output.contains("error 403"), "port \(port): \(output.suffix(800))")
            }
            // The carrier trusts the edge's address: no TURN client may send to it through the edge, on any port.
            for port in [trunkPort, 9] {
                let output = try Self.aliceSends(to: "127.0.0.3", port: port, edge: edge)
                #expect(output.contains("error 403"), "trunk port \(port): \(output.suffix(800))")
            }
        }
    }

    @Test func unauthenticatedAndHostileMessagesRelayNothingAndAmplifyNothing() throws {
        try withTemporaryDirectory { directory in
            let edge = try Self.start(in: directory, allowedPeers: ["127.0.0.0/8"])
            defer { edge.serve.stop() }
            let report = try Peers.python("turn_attacker.py", ["127.0.0.1", String(edge.port)], seconds: 60)
            let allocate = try #require(report["allocate"] as? [String: Any])
            let sent = try #require(allocate["sent"] as? Int), received = try #require(allocate["received"] as? Int)
            let challenges = try #require(allocate["challenges"] as? [[String: Any]])
            // Beyond the bytes the address sent, 8 answers at once: not 40 challenges to 40 small requests.
            let largest = challenges.compactMap { $0["size"] as? Int }.max() ?? 0
            #expect(!challenges.isEmpty && challenges.count < 40, "\(challenges.count) answers")
            #expect(received <= sent + 8 * largest, "answered \(received) bytes to \(sent)")
            for challenge in challenges {
                #expect(challenge["code"] as? Int == 401 && challenge["realm"] as? Bool == true
                    && challenge["nonce"] as? Bool == true && challenge["integrity"] as? Bool == false, "\(challenge)")
            }
            #expect(report["relayed_without_allocation"] as? Int == 0)
            // Of the hostile messages only the well-formed Binding with an unknown comprehension-required attribute
            // is answered: 420 naming it.
            let answers = try #require(report["hostile_answers"] as? [[String: Any]])
            #expect(answers.allSatisfy { $0["code"] as? Int == 420 && $0["unknown"] as? String == "7ff0" }, "\(answers)")
            #expect(report["binding_mapped_port"] as? Int == report["probe_port"] as? Int)
            #expect(edge.serve.process.isRunning)
        }
    }

    /// A softphone behind TURN: alice's baresip (`turn` module, long-term credentials) relays her call's media through
    /// the edge's TURN server to the edge's media relay and on to bob (SDES-SRTP over TLS); both hear each other,
    /// and the allocation's record shows the media it carried both ways.
    @Test(.timeLimit(.minutes(2))) func baresipRelaysACallsMediaThroughTheTURNServer() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            try ServeWithPeersTests.addUser("bob", password: "pw-bob", dataDir: data)
            let turnPort = try Peers.freePort()
            let relayLow = 61_000 + Int.random(in: 0..<200) * 20
            let server = try ServeProcess(dataDir: data, config: ServeWithPeersTests.sippConfig + """

                [turn]
                listen = ["udp:127.0.0.1:\(turnPort)"]
                realm = "\(Self.realm)"
                relay_address = "127.0.0.1"
                relay_ports = [\(relayLow), \(relayLow + 19)]
                allowed_peers = ["127.0.0.0/8"]
                """, listeners: ["tls"])
            defer { server.stop() }
            for _ in 0..<100 where !server.stdout.contains("rampart: TURN on udp:") { Thread.sleep(forTimeInterval: 0.1) }
            let added = try Self.rampart(["turn", "user", "add", "alice-phone", "--realm", Self.realm, "--password-stdin",
                                          "--data-dir", data], input: "turn-pw-alice")
            #expect(added.status == 0, "\(added.output)")
            let tlsPort = try #require(server.ports["tls"])
            let tone = directory + "/tone.wav"
            try BaresipCallTests.writeTone(to: tone)
            let bobConfig = try BaresipCallTests.softphone("bob", password: "pw-bob", edgePort: tlsPort, data: data,
                                                           tone: tone, directory: directory, extra: ";answermode=auto")
            let bob = try Peers.background(try Peers.tool("baresip"), ["-f", bobConfig, "-n", "127.0.0.1", "-s", "-t", "9"],
                                           seconds: 15, directory: directory, output: directory + "/bob.log")
            defer { Peers.stop(bob) }
            for _ in 0..<50 where !((try? BaresipCallTests.read(directory + "/bob.log")) ?? "").contains("200 OK") {
                Thread.sleep(forTimeInterval: 0.1)
            }
            let aliceConfig = try BaresipCallTests.softphone(
                "alice", password: "pw-alice", edgePort: tlsPort, data: data, tone: tone, directory: directory,
                extra: ";medianat=turn;stunserver=turn:127.0.0.1:\(turnPort);stunuser=alice-phone;stunpass=turn-pw-alice")
            let configFile = aliceConfig + "/config"
            try (try BaresipCallTests.read(configFile) + "module turn.so\n").write(toFile: configFile, atomically: true,
                                                                                 encoding: .utf8)
            let alice = try Peers.run(try Peers.tool("baresip"), [
                "-f", aliceConfig, "-n", "127.0.0.1", "-s", "-t", "5", "-e", "/dial sip:bob@localhost",
            ], seconds: 20, directory: directory)
            #expect(alice.output.contains("Call established: sip:bob@localhost"), "alice: \(alice.output.suffix(2_000))")
            #expect(alice.output.contains("incoming rtp for 'audio' established"), "alice heard nothing")
            #expect(alice.output.contains("TURN") || alice.output.contains("turn"), "alice did not use TURN")
            for _ in 0..<100 where bob.isRunning { Thread.sleep(forTimeInterval: 0.1) }
            #expect(try BaresipCallTests.read(directory + "/bob.log").contains("incoming rtp for 'audio' established"),
                    "bob heard nothing")
            // Stopping the edge ends the allocations left; each is on record with what it carried.
            #expect(server.stop() == 0)
            let sessions = try Self.rampart(["turn", "sessions", "--json", "--data-dir", data])
            let records = sessions.output.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }.filter { $0["user"] as? String == "alice-phone" }
            #expect(records.contains { ($0["bytes_to_peers"] as? Int ?? 0) > 5_000 && ($0["bytes_to_client"] as? Int ?? 0) > 5_000 },
                    "\(sessions.output)")
        }
    }
}
