import Foundation
import Testing

/// STIR/SHAKEN in `rampart serve`: a carrier trunk (sipp on 127.0.0.2) calls a user (sipp) with an Identity that
/// secsipidx signed, the signer's chain served over HTTPS by secsipidx; the callee sees the verdict as `verstat`, the
/// CDR and the security events say it; with `reject`, forgeries get RFC 8224's codes. An account's call out by the
/// trunk carries an Identity the edge signed, which secsipidx verifies.
@Suite(.serialized, .timeLimit(.minutes(4))) struct StirEdgeWithPeersTests {
    static let callee = "12155550131"

    /// The trunk's INVITE to the callee, with `identity` (or none), expecting `status` (200: the call goes through).
    static func trunkScenario(identity: Bool, expecting status: Int, fromUser: String? = nil, to path: String) throws {
        var text = try String(contentsOf: Peers.directory.appendingPathComponent("sipp/trunk-call.xml"), encoding: .utf8)
        if let fromUser {
            text = text.replacingOccurrences(of: "From: <sip:+15550001@carrier.example>", with: "From: <sip:\(fromUser)@carrier.example>")
        }
        if identity {
            let pai = "      P-Asserted-Identity: <sip:+15550001@carrier.example>\n"
            let at = try #require(text.range(of: pai))
            text.replaceSubrange(at, with: pai + "      Identity: [identity]\n")
        }
        if status != 200 {
            let cut = try #require(text.range(of: "  <recv response=\"100\" optional=\"true\">"))
            text = String(text[..<cut.lowerBound]) + """
                  <recv response="100" optional="true">
                  </recv>
                  <recv response="\(status)">
                  </recv>
                  <send>
                    <![CDATA[

                      ACK sip:[callee]@[domain] SIP/2.0
                      [last_Via:]
                      Max-Forwards: 70
                      From: <sip:+15550001@carrier.example>;tag=carrier[call_number]
                      [last_To:]
                      Call-ID: [call_id]
                      CSeq: 1 ACK
                      Content-Length: 0

                    ]]>
                  </send>
                </scenario>

                """
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The edge with the carrier trunk and `[stir]` verification against the test STI-CA of `world`.
    static func config(trunkPort: Int, world: StirCommandWithPeersTests.World, extra: String = "") -> String {
        TrunkWithPeersTests.config(trunkPort: trunkPort) + """

            [stir]
            ca_files = ["\(world.root)"]
            x5u_allowed_networks = ["127.0.0.0/8"]
            x5u_ca_file = "\(world.web)"
            \(extra)
            """
    }

    /// secsipidx's Identity for +15550001 calling the callee, its chain at `x5u`.
    static func signed(_ world: StirCommandWithPeersTests.World, x5u: String? = nil, iat: Int? = nil) throws -> String {
        let made = try Peers.run(try Peers.tool("secsipidx"), [
            iat == nil ? "-sign-full" : "-sign", "-orig-tn", "15550001", "-dest-tn", callee, "-attest", "A",
            "-x5u", x5u ?? world.url, "-orig-id", UUID().uuidString.lowercased(), "-k", world.key,
        ] + (iat.map { ["-iat", String($0)] } ?? []), seconds: 20)
        try #require(made.status == 0, "\(made.output)")
        let value = made.output.trimmingCharacters(in: .whitespacesAndNewlines)
        return iat == nil ? value : value + ";info=<\(x5u ?? world.url)>;alg=ES256;ppt=shaken"
    }

    /// The trunk calls; with an answering callee when `status` is 200. Returns what the callee received.
    static func trunkCalls(identity: String?, expecting status: Int, fromUser: String? = nil, edgePort: Int,
                           calleePort: Int, directory: String, name: String) throws -> String {
        let scenario = directory + "/\(name).xml"
        try trunkScenario(identity: identity != nil, expecting: status, fromUser: fromUser, to: scenario)
        var answering: Process?
        if status == 200 {
            answering = try Peers.sippServer("answer-call", port: calleePort, messageFile: directory + "/\(name)-callee.msg",
                                          directory: directory)
        }
        defer { answering.map(Peers.stop) }
        let trunk = try Peers.run(try Peers.tool("sipp"), [
            "127.0.0.1:\(edgePort)", "-sf", scenario, "-t", "u1", "-i", "127.0.0.2", "-p", "0", "-key", "callee", Self.callee,
            "-key", "domain", "localhost", "-m", "1", "-nostdin", "-timeout", "20", "-trace_err", "-trace_msg",
            "-message_file", directory + "/\(name)-trunk.msg",
        ] + (identity.map { ["-key", "identity", $0] } ?? []), seconds: 30, directory: directory)
        let trunkSaw = (try? String(contentsOfFile: directory + "/\(name)-trunk.msg", encoding: .utf8)) ?? ""
        #expect(trunk.status == 0, "\(name): the trunk expected \(status): \(trunk.output.suffix(600)) \(trunkSaw.suffix(1500))")
        guard let answering else { return "" }
        for _ in 0..<50 where answering.isRunning { Thread.sleep(forTimeInterval: 0.1) }
        return (try? String(contentsOfFile: directory + "/\(name)-callee.msg", encoding: .utf8)) ?? ""
    }

    static func withEdge(_ world: StirCommandWithPeersTests.World, extra: String = "",
                         _ body: (_ data: String, _ server: ServeProcess, _ calleePort: Int) throws -> Void) throws {
        let data = world.directory + "/data-\(UInt32.random(in: 0 ... .max))"
        try ServeWithPeersTests.addUser(callee, password: "pw-callee", dataDir: data)
        let trunkPort = try Peers.freePort()
        let server = try ServeProcess(dataDir: data, config: config(trunkPort: trunkPort, world: world, extra: extra),
                                      listeners: ["udp"])
        defer { server.stop() }
        let calleePort = try Peers.freePort()
        let register = try Peers.sipp("register", port: server.ports["udp"]!, user: callee, password: "pw-callee",
                                      localPort: calleePort, workDirectory: world.directory)
        try #require(register.status == 0, "the callee's registration: \(register.output.suffix(600))")
        try body(data, server, calleePort)
    }

    @Test func theCalleeSeesTheVerdictAndTheRecordsKeepIt() throws {
        try StirCommandWithPeersTests.withWorld { world in
            try Self.withEdge(world) { data, server, calleePort in
                let edgePort = server.ports["udp"]!
                let good = try Self.signed(world)
                let passed = try Self.trunkCalls(identity: good, expecting: 200, edgePort: edgePort, calleePort: calleePort,
                                                 directory: world.directory, name: "good")
                let headers = passed.components(separatedBy: "v=0").first ?? passed
                #expect(headers.contains("From: <sip:+15550001@localhost;verstat=TN-Validation-Passed>"), "\(headers)")
                #expect(headers.contains("P-Asserted-Identity: <sip:+15550001@localhost;verstat=TN-Validation-Passed>"))
                #expect(!headers.contains("\nIdentity:"), "the edge was the verifier: no Identity goes on")

                // The same PASSporT again (a replay), a tampered one, one whose x5u is the metadata endpoint, none.
                let replayed = try Self.trunkCalls(identity: good, expecting: 200, edgePort: edgePort, calleePort: calleePort,
                                                   directory: world.directory, name: "replayed")
                #expect(replayed.contains("verstat=TN-Validation-Passed"))
                var bytes = Array(good.prefix { $0 != ";" }.utf8)
                bytes[bytes.count - 3] = bytes[bytes.count - 3] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
                let tampered = String(decoding: bytes, as: UTF8.self) + good.drop { $0 != ";" }
                let failed = try Self.trunkCalls(identity: tampered, expecting: 200, edgePort: edgePort,
                                                 calleePort: calleePort, directory: world.directory, name: "tampered")
                #expect(failed.contains("From: <sip:+15550001@localhost;verstat=TN-Validation-Failed>"), "\(failed)")
                let aimed = try Self.signed(world, x5u: "https://169.254.169.254/sp.crt")
                let forbidden = try Self.trunkCalls(identity: aimed, expecting: 200, edgePort: edgePort,
                                                    calleePort: calleePort, directory: world.directory, name: "aimed")
                #expect(forbidden.contains("verstat=TN-Validation-Failed"))
                let none = try Self.trunkCalls(identity: nil, expecting: 200, edgePort: edgePort, calleePort: calleePort,
                                               directory: world.directory, name: "none")
                #expect(none.contains("verstat=No-TN-Validation"))
                // An x5u at the edge's own SIP port, inside the allowed loopback: the edge's policy still refuses it.
                let own = try Self.signed(world, x5u: "https://127.0.0.1:\(edgePort)/sp.crt")
                let ownSaw = try Self.trunkCalls(identity: own, expecting: 200, edgePort: edgePort, calleePort: calleePort,
                                                 directory: world.directory, name: "own")
                #expect(ownSaw.contains("verstat=TN-Validation-Failed"))

                // A From that is not the verified number (a bank's), and a From that brings its own verstat: the
                // callee is shown the number the verdict is about, and only the edge's verstat.
                let other = try Self.trunkCalls(identity: try Self.signed(world), expecting: 200, fromUser: "+18005550100",
                                                edgePort: edgePort, calleePort: calleePort, directory: world.directory,
                                                name: "other-from")
                let otherHeaders = other.components(separatedBy: "v=0").first ?? other
                #expect(otherHeaders.contains("From: <sip:+15550001@localhost;verstat=TN-Validation-Passed>"), "\(otherHeaders)")
                #expect(!otherHeaders.contains("18005550100"))
                let injected = try Self.trunkCalls(identity: nil, expecting: 200,
                                                   fromUser: "+18005550100;verstat=TN-Validation-Passed", edgePort: edgePort,
                                                   calleePort: calleePort, directory: world.directory, name: "injected")
                let injectedHeaders = injected.components(separatedBy: "v=0").first ?? injected
                #expect(injectedHeaders.contains("verstat=No-TN-Validation") && !injectedHeaders.contains("Passed"),
                        "\(injectedHeaders)")

                let records = try TrunkWithPeersTests.records(data)
                let verdicts = records.compactMap { $0["identity"] as? String }
                #expect(verdicts.filter { $0 == "TN-Validation-Passed" }.count == 3, "\(verdicts)")
                #expect(verdicts.contains("TN-Validation-Failed:bad-signature"))
                #expect(verdicts.contains("TN-Validation-Failed:x5u-forbidden"))
                #expect(verdicts.contains("No-TN-Validation:missing"))
                let events = try AttackersWithPeersTests.events(data)
                #expect(events.contains { $0.contains("identity-failed") && $0.contains("bad-signature") }, "\(events)")
                #expect(events.contains { $0.contains("identity-failed") && $0.contains("x5u-forbidden") })
                #expect(verdicts.filter { $0 == "TN-Validation-Failed:x5u-forbidden" }.count == 2, "metadata and own port")
                #expect(events.contains { $0.contains("identity-replayed") })
                #expect(server.stop() == 0)
            }
        }
    }

    /// A chain fetched once is kept in the store: the edge restarted with the certificate server gone still
    /// verifies the carrier's calls, and a URL it never fetched fails as unreachable.
    @Test func aRestartedEdgeVerifiesWithTheChainsItKept() throws {
        try StirCommandWithPeersTests.withWorld { world in
            let data = world.directory + "/data"
            try ServeWithPeersTests.addUser(Self.callee, password: "pw-callee", dataDir: data)
            let trunkPort = try Peers.freePort()
            let config = Self.config(trunkPort: trunkPort, world: world)
            for run in 0..<2 {
                let server = try ServeProcess(dataDir: data, config: config, listeners: ["udp"])
                defer { server.stop() }
                let calleePort = try Peers.freePort()
                let register = try Peers.sipp("register", port: server.ports["udp"]!, user: Self.callee, password: "pw-callee",
                                              localPort: calleePort, workDirectory: world.directory)
                try #require(register.status == 0, "\(register.output.suffix(600))")
                let saw = try Self.trunkCalls(identity: try Self.signed(world), expecting: 200, edgePort: server.ports["udp"]!,
                                              calleePort: calleePort, directory: world.directory, name: "run\(run)")
                #expect(saw.contains("verstat=TN-Validation-Passed"), "run \(run): \(saw.prefix(600))")
                if run == 0 {
                    #expect(server.stop() == 0)
                    Peers.stop(world.server)  // the certificate server is gone from now on
                    #expect(!world.server.isRunning)
                } else {
                    let other = "https://127.0.0.1:\(world.port)/v1/pub/other.crt"
                    let unreachable = try Self.trunkCalls(identity: try Self.signed(world, x5u: other), expecting: 200,
                                                          edgePort: server.ports["udp"]!, calleePort: calleePort,
                                                          directory: world.directory, name: "other")
                    #expect(unreachable.contains("verstat=TN-Validation-Failed"))
                    let verdicts = try TrunkWithPeersTests.records(data).compactMap { $0["identity"] as? String }
                    #expect(verdicts.contains("TN-Validation-Failed:x5u-fetch-failed"), "\(verdicts)")
                }
            }
        }
    }

    @Test func rejectModeAnswersWithRFC8224Codes() throws {
        try StirCommandWithPeersTests.withWorld { world in
            try Self.withEdge(world, extra: "on_failure = \"reject\"\non_missing = \"reject\"") { data, server, calleePort in
                let edgePort = server.ports["udp"]!
                let good = try Self.signed(world)
                var bytes = Array(good.prefix { $0 != ";" }.utf8)
                bytes[bytes.count - 3] = bytes[bytes.count - 3] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
                let tampered = String(decoding: bytes, as: UTF8.self) + good.drop { $0 != ";" }
                let cases: [(String, String?, Int)] = [
                    ("tampered", tampered, 438), ("missing", nil, 428),
                    ("aimed", try Self.signed(world, x5u: "https://169.254.169.254/sp.crt"), 436),
                    ("stale", try Self.signed(world, iat: Int(Date().timeIntervalSince1970) - 3_600), 403),
                ]
                for (name, identity, status) in cases {
                    _ = try Self.trunkCalls(identity: identity, expecting: status, edgePort: edgePort, calleePort: calleePort,
                                            directory: world.directory, name: name)
                    let trunkSaw = (try? String(contentsOfFile: world.directory + "/\(name)-trunk.msg", encoding: .utf8)) ?? ""
                    #expect(trunkSaw.contains("Reason: SIP ;cause=\(status)"), "\(name): \(trunkSaw.suffix(800))")
                }
                // A good one still goes through.
                let passed = try Self.trunkCalls(identity: good, expecting: 200, edgePort: edgePort, calleePort: calleePort,
                                                 directory: world.directory, name: "good")
                #expect(passed.contains("verstat=TN-Validation-Passed"))
                #expect(server.stop() == 0)
            }
        }
    }

    @Test func anAccountsCallOutByTheTrunkCarriesAnIdentitySecsipidxVerifies() throws {
        try StirCommandWithPeersTests.withWorld { world in
            let trunkPort = try Peers.freePort()
            let data = world.directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            _ = chmod(world.key, 0o600)
            let config = TrunkWithPeersTests.config(trunkPort: trunkPort) + """

                [stir]
                key_file = "\(world.key)"
                certificate_url = "\(world.url)"
                attestation_by_account = { alice = "B" }
                """
            let server = try ServeProcess(dataDir: data, config: config + "\n[calls]\nidentities = { alice = [\"+12155550121\"] }\n",
                                          listeners: ["udp"])
            defer { server.stop() }
            let trunk = try TrunkWithPeersTests.carrierAnswering(port: trunkPort, directory: world.directory)
            defer { Peers.stop(trunk) }
            let caller = try Peers.run(try Peers.tool("sipp"), [
                "127.0.0.1:\(server.ports["udp"]!)", "-sf", Peers.directory.appendingPathComponent("sipp/call-with-proxy-auth.xml").path,
                "-t", "u1", "-s", "+12155550121", "-au", "alice", "-ap", "pw-alice", "-auth_uri", "+15551234@localhost",
                "-key", "domain", "localhost", "-key", "callee", "+15551234", "-i", "127.0.0.1", "-p", "0",
                "-m", "1", "-nostdin", "-timeout", "30", "-trace_err", "-trace_msg", "-message_file", world.directory + "/caller.msg",
            ], seconds: 45, directory: world.directory)
            #expect(caller.status == 0, "\((try? String(contentsOfFile: world.directory + "/caller.msg", encoding: .utf8))?.suffix(1500) ?? "")")
            for _ in 0..<100 where trunk.isRunning { Thread.sleep(forTimeInterval: 0.1) }
            let trunkSaw = try String(contentsOfFile: world.directory + "/trunk.msg", encoding: .utf8)
            let identities = trunkSaw.components(separatedBy: .newlines).filter { $0.hasPrefix("Identity: ") }
            let identity = try #require(identities.last, "the INVITE to the trunk carries an Identity: \(trunkSaw.prefix(3000))")
                .dropFirst("Identity: ".count).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(identity.hasSuffix(";info=<\(world.url)>;alg=ES256;ppt=shaken"))
            let checked = try StirCommandWithPeersTests.secsipidxChecks(identity, url: world.url, root: world.root,
                                                                         intermediate: world.directory + "/ca/ca.crt", world)
            #expect(checked.status == 0 && checked.output.contains("ok"), "secsipidx: \(checked.output)")
            // Its claims: alice's number, the dialled one, attestation B as configured for her.
            let claims = try #require(Data(base64Encoded: Self.padded(String(identity.split(separator: ".")[1]))))
            let json = try #require(try JSONSerialization.jsonObject(with: claims) as? [String: Any])
            #expect(json["attest"] as? String == "B")
            #expect((json["orig"] as? [String: Any])?["tn"] as? String == "12155550121")
            #expect((json["dest"] as? [String: Any])?["tn"] as? [String] == ["15551234"])
            let records = try TrunkWithPeersTests.records(data)
            #expect(records.first?["identity"] as? String == "signed:B")
            #expect(server.stop() == 0)
        }
    }

    /// `[stir]` mistakes stop `serve` before it starts, each with its setting named.
    @Test func stirSettingsAreCheckedBeforeTheEdgeStarts() throws {
        try StirCommandWithPeersTests.withWorld { world in
            let key = world.directory + "/readable.key"
            try FileManager.default.copyItem(atPath: world.key, toPath: key)
            chmod(key, 0o644)
            let cases: [(String, String)] = [
                ("key_file = \"\(key)\"\ncertificate_url = \"\(world.url)\"", "readable by others"),
                ("key_file = \"\(world.key)\"", "go together"),
                ("key_file = \"\(world.key)\"\ncertificate_url = \"http://x.example/sp.crt\"", "must be an https URL"),
                ("ca_files = [\"\(world.root)\"]\nattestation = \"D\"", "stir.attestation"),
                ("ca_files = [\"\(world.root)\"]\non_failure = \"drop\"", "stir.on_failure"),
                ("ca_files = [\"\(world.directory)/none.crt\"]", "stir.ca_files"),
                ("ca_files = [\"\(world.root)\"]\nx5u_allowed_networks = [\"bad\"]", "stir.x5u_allowed_networks"),
                ("max_age_seconds = 60", "needs key_file"),
                ("ca_files = [\"\(world.root)\"]\nsigning = true", "unknown setting 'stir.signing'"),
            ]
            for (section, message) in cases {
                let config = world.directory + "/stir.toml"
                try "[stir]\n\(section)\n".write(toFile: config, atomically: true, encoding: .utf8)
                let run = try RampartProcess.run(["serve", "--config", config, "--data-dir", world.directory + "/d",
                                                  "--check-config"])
                #expect(run.status == 2 && run.stderr.contains(message), "\(section): \(run.stderr)")
            }
        }
    }

    static func padded(_ base64url: String) -> String {
        var text = base64url.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        return text
    }
}
