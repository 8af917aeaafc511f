import Foundation
import Testing

/// Real attackers against `rampart serve` over UDP: sipvicious (svmap, svwar, svcrack) and sipp floods and
/// sweeps, each from its own loopback address (127.0.0.2 and up) so that bans of the attacker leave the phones on
/// 127.0.0.1 alone. Loopback only, bounded in count and time, every process stopped by PID.
@Suite(.serialized, .timeLimit(.minutes(3))) struct AttackersWithPeersTests {
    static let signaturesOff = """
        [security]
        scanner_signatures = ""
        """

    /// An edge over UDP with `users` provisioned (password `pw-NAME`).
    static func withEdge(_ config: String = "", users: [String],
                         _ body: (_ directory: String, _ data: String, _ server: ServeProcess) throws -> Void) throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            for user in users { try ServeWithPeersTests.addUser(user, password: "pw-\(user)", dataDir: data) }
            let server = try ServeProcess(dataDir: data, config: ServeWithPeersTests.sippConfig + "\n" + config,
                                          listeners: ["udp"])
            defer { server.stop() }
            try body(directory, data, server)
        }
    }

    /// `rampart ban list` output, read again (the edge flushes every quarter second) until `settled` holds, for
    /// 5 s at most: the caller's expectation then says whether it did. Without `settled` (for what must be absent),
    /// until two reads across a flush agree.
    static func bans(_ data: String, until settled: ((String) -> Bool)? = nil) throws -> String {
        try poll({ try RampartProcess.run(["ban", "list", "--data-dir", data]).stdout }, until: settled)
    }

    /// `rampart events` lines, read again until `settled` holds (5 s at most), or until they stop changing.
    static func events(_ data: String, type: String? = nil, until settled: (([String]) -> Bool)? = nil) throws
        -> [String]
    {
        try poll({
            let result = try RampartProcess.run(["events", "--data-dir", data] + (type.map { ["--type", $0] } ?? []))
            return result.stdout.split(separator: "\n").map(String.init).filter { $0.hasPrefix("20") }
        }, until: settled)
    }

    static func poll<Value: Equatable>(_ read: () throws -> Value, until settled: ((Value) -> Bool)?) throws -> Value {
        let deadline = Date().addingTimeInterval(5)
        var value = try read()
        while Date() < deadline {
            if let settled, settled(value) { break }
            // Longer than the edge's flush interval: two equal reads this far apart saw everything written before.
            Thread.sleep(forTimeInterval: settled == nil ? 0.3 : 0.1)
            let next = try read()
            if settled == nil, next == value { break }
            value = next
        }
        return value
    }

    /// A sipvicious tool against the edge, bound to `ip` (svcrack ignores its -b: it comes from 127.0.0.1).
    static func sipvicious(_ tool: String, port: Int, ip: String, _ arguments: [String], directory: String) throws
        -> String
    {
        try Peers.run(try Peers.tool(tool), ["127.0.0.1", "-p", String(port), "-b", ip, "-P", String(try Peers.freePort())]
            + arguments, seconds: 60, directory: directory).output
    }

    /// One registration of `user` (password `pw-USER`) by sipp from `ip`.
    static func register(_ user: String, from ip: String, port: Int, timeout: Int = 20, directory: String) throws
        -> (status: Int32, output: String)
    {
        try Peers.sipp("register", port: port, user: user, password: "pw-\(user)", ip: ip, timeout: timeout,
                       workDirectory: directory)
    }

    /// sipp's cumulative count of successful calls.
    static func successfulCalls(_ output: String) -> Int? {
        let line = output.split(separator: "\n").last { $0.contains("Successful call") }
        return line?.split(separator: "|").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    @Test func svmapIsDetectedBannedListedAndStillBannedAfterARestart() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            var server = try ServeProcess(dataDir: data, config: ServeWithPeersTests.sippConfig, listeners: ["udp"])
            let scan = try Self.sipvicious("svmap", port: server.ports["udp"]!, ip: "127.0.0.3", [], directory: directory)
            #expect(scan.contains("found nothing"), "svmap saw the edge: \(scan.suffix(600))")
            let listed = try Self.bans(data) { $0.contains("127.0.0.3") }
            #expect(listed.contains("127.0.0.3"))
            #expect(listed.contains("scanner signature: user-agent contains friendly-scanner"))
            let detected = { (lines: [String]) in lines.contains { $0.contains("source=127.0.0.3") } }
            #expect(detected(try Self.events(data, type: "scanner-detected", until: detected)))
            // The phones are not touched.
            let alice = try Peers.sipp("register", port: server.ports["udp"]!, user: "alice", password: "pw-alice",
                                       workDirectory: directory)
            #expect(alice.status == 0, "\(alice.output.suffix(600))")
            server.stop()

            // The ban is stored: after a restart svmap is dropped before any rule looks at it again.
            server = try ServeProcess(dataDir: data, config: ServeWithPeersTests.sippConfig, listeners: ["udp"])
            defer { server.stop() }
            let again = try Self.sipvicious("svmap", port: server.ports["udp"]!, ip: "127.0.0.3", [], directory: directory)
            #expect(again.contains("found nothing"))
            // Dropped by the stored ban (its cause, listed), so still the one detection.
            #expect(try Self.bans(data) { $0.contains("127.0.0.3") }.contains("127.0.0.3"))
            #expect(try Self.events(data, type: "scanner-detected") { _ in true }.count == 1)

            // Operators lift and add bans; the running edge follows.
            let removed = try RampartProcess.run(["ban", "remove", "127.0.0.3", "--data-dir", data])
            #expect(removed.status == 0, "\(removed.stderr)")
            #expect(try !Self.bans(data) { !$0.contains("127.0.0.3") }.contains("127.0.0.3"))
            let added = try RampartProcess.run(["ban", "add", "127.0.0.1", "--reason", "maintenance", "--seconds", "60",
                                                "--data-dir", data])
            #expect(added.status == 0, "\(added.stderr)")
            #expect(try Self.bans(data) { $0.contains("maintenance") }.contains("maintenance"))
            // The running edge loads the stored ban within a second: until then the phone is still answered.
            var refused = try Self.register("alice", from: "127.0.0.1", port: server.ports["udp"]!, timeout: 3,
                                            directory: directory)
            for _ in 0..<10 where refused.status == 0 {
                Thread.sleep(forTimeInterval: 0.2)
                refused = try Self.register("alice", from: "127.0.0.1", port: server.ports["udp"]!, timeout: 3,
                                            directory: directory)
            }
            #expect(refused.status != 0, "a banned source must get no answer")
            #expect(try RampartProcess.run(["ban", "remove", "127.0.0.1", "--data-dir", data]).status == 0)
            // The running edge picks the removal up from the store within a second: the phone's registration,
            // tried again a few times, is the evidence that it did.
            var back = try Self.register("alice", from: "127.0.0.1", port: server.ports["udp"]!, timeout: 2,
                                         directory: directory)
            for _ in 0..<3 where back.status != 0 {
                back = try Self.register("alice", from: "127.0.0.1", port: server.ports["udp"]!, timeout: 2,
                                         directory: directory)
            }
            #expect(back.status == 0, "\(back.output.suffix(600))")
            let kind = { (line: String) in line.split(separator: " ", omittingEmptySubsequences: true)[1] }
            let kinds = try Self.events(data) { $0.map(kind).filter { $0 == "unban" }.count >= 2 }.map(kind)
            #expect(kinds.filter { $0 == "ban" }.count == 2 && kinds.filter { $0 == "unban" }.count == 2)
        }
    }

    @Test func svwarFindsNoExtensionThoughAccountsExist() throws {
        // Without signatures the edge answers every extension alike (401 or 407), so there is nothing to find.
        try Self.withEdge(Self.signaturesOff, users: ["101", "105", "alice"]) { directory, data, server in
            for method in ["REGISTER", "INVITE", "OPTIONS"] {
                let scan = try Self.sipvicious("svwar", port: server.ports["udp"]!, ip: "127.0.0.4",
                                               ["-e", "100-110", "--force", "-m", method], directory: directory)
                #expect(scan.contains("found nothing"), "\(method): \(scan.suffix(800))")
            }
        }
        // With the built-in signatures it is banned at its first request.
        try Self.withEdge(users: ["101"]) { directory, data, server in
            let scan = try Self.sipvicious("svwar", port: server.ports["udp"]!, ip: "127.0.0.4",
                                           ["-e", "100-110", "--force"], directory: directory)
            #expect(scan.contains("found nothing"), "\(scan.suffix(800))")
            let signature = "scanner signature: user-agent contains friendly-scanner"
            #expect(try Self.bans(data) { $0.contains(signature) }.contains(signature))
        }
    }

    @Test func svcrackIsStoppedByThePairBanBeforeItsEleventhGuessAndTheOwnerAndTheOfficeGoOn() throws {
        try Self.withEdge(Self.signaturesOff, users: ["alice", "bob"]) { directory, data, server in
            // The password is the 15th word: beyond the 10 guesses the edge evaluates.
            let words = (1...14).map { "guess\($0)" } + ["pw-alice"] + (16...18).map { "guess\($0)" }
            let wordlist = directory + "/words.txt"
            try (words.joined(separator: "\n") + "\n").write(toFile: wordlist, atomically: true, encoding: .utf8)
            let crack = try Self.sipvicious("svcrack", port: server.ports["udp"]!, ip: "127.0.0.1",
                                            ["-u", "alice", "-d", wordlist], directory: directory)
            #expect(!crack.contains("pw-alice"), "svcrack found the password: \(crack.suffix(800))")
            #expect(crack.contains("found nothing"), "\(crack.suffix(800))")
            // The pair's ban follows its tenth failure: once it is listed, every failure has been flushed.
            let listed = try Self.bans(data) { $0.contains("alice@127.0.0.1") }
            let failures = try Self.events(data, type: "auth-failure") { _ in true }.filter { $0.contains("account=alice") }
            #expect(failures.count == 10, "\(failures)")
            #expect(listed.contains("alice@127.0.0.1"))
            #expect(listed.contains("password guessing"))
            // Alice's phone elsewhere, and bob behind the same address as the attacker, go on.
            let aliceElsewhere = try Self.register("alice", from: "127.0.0.2", port: server.ports["udp"]!,
                                                   directory: directory)
            #expect(aliceElsewhere.status == 0, "\(aliceElsewhere.output.suffix(600))")
            let bob = try Peers.sipp("register", port: server.ports["udp"]!, user: "bob", password: "pw-bob",
                                     workDirectory: directory)
            #expect(bob.status == 0, "\(bob.output.suffix(600))")
        }
    }

    @Test func floodsFromOneSourceAreLimitedWhileALegitimatePhoneKeepsRegistering() throws {
        let config = """
            [security.rate_limits]
            source_register = [50, 100]
            source_invite = [50, 100]
            account_register = [50, 100]
            pair_register = [50, 100]
            """
        try Self.withEdge(config, users: ["alice"]) { directory, data, server in
            let port = server.ports["udp"]!
            for (scenario, ip) in [("flood-register", "127.0.0.2"), ("flood-invite", "127.0.0.3")] {
                let floodOutput = directory + "/\(scenario).out"
                let flood = try Peers.background(try Peers.tool("sipp"), [
                    "127.0.0.1:\(port)", "-sf", Peers.directory.appendingPathComponent("sipp/\(scenario).xml").path,
                    "-s", "alice", "-key", "domain", "localhost", "-i", ip, "-p", "0",
                    "-m", "3000", "-r", "1000", "-l", "500", "-nostdin", "-timeout", "30",
                ], seconds: 40, directory: directory, output: floodOutput)
                defer { Peers.stop(flood) }
                let legit = try Peers.run(try Peers.tool("sipp"), [
                    "127.0.0.1:\(port)", "-sf", Peers.directory.appendingPathComponent("sipp/register.xml").path,
                    "-s", "alice", "-au", "alice", "-ap", "pw-alice", "-auth_uri", "localhost", "-key", "domain",
                    "localhost", "-key", "expires", "600", "-i", "127.0.0.1", "-p", "0", "-m", "100", "-r", "20",
                    "-nostdin", "-timeout", "30",
                ], seconds: 40, directory: directory)
                let succeeded = Self.successfulCalls(legit.output) ?? 0
                #expect(succeeded >= 99, "\(scenario): the phone got \(succeeded) of 100: \(legit.output.suffix(800))")
                for _ in 0..<200 where flood.isRunning { Thread.sleep(forTimeInterval: 0.1) }
                let floodText = (try? String(contentsOfFile: floodOutput, encoding: .utf8)) ?? ""
                let answered = try #require(Self.successfulCalls(floodText), "\(floodText.suffix(800))")
                // A burst of 100 and 50 a second over the flood's 3 s: at most a few hundred of 3,000 answered.
                #expect(answered <= 400, "\(scenario): \(answered) of 3000 flood requests answered")
                let limited = { (events: [String]) in
                    events.contains { $0.contains("source=\(ip)") && ($0.contains(" ban ") || $0.contains("rate-limited")) }
                }
                #expect(limited(try Self.events(data, until: limited)))
            }
        }
    }

    @Test func anOptionsSweepWithoutToolSignaturesIsDetectedByBehaviour() throws {
        try Self.withEdge(users: ["alice"]) { directory, data, server in
            let extensions = directory + "/extensions.csv"
            try (["SEQUENTIAL"] + (200..<230).map(String.init)).joined(separator: "\n")
                .write(toFile: extensions, atomically: true, encoding: .utf8)
            let sweep = try Peers.run(try Peers.tool("sipp"), [
                "127.0.0.1:\(server.ports["udp"]!)", "-sf",
                Peers.directory.appendingPathComponent("sipp/options-sweep.xml").path, "-inf", extensions,
                "-key", "domain", "localhost", "-i", "127.0.0.4", "-p", "0", "-m", "30", "-r", "20", "-nostdin",
                "-timeout", "30",
            ], seconds: 40, directory: directory)
            let answered = try #require(Self.successfulCalls(sweep.output), "\(sweep.output.suffix(800))")
            #expect(answered == 9, "the sweep is stopped at its 10th extension, got \(answered) answers")
            let sweepBan = "extension sweep over 10 users"
            #expect(try Self.bans(data) { $0.contains(sweepBan) }.contains(sweepBan))
        }
    }
}
