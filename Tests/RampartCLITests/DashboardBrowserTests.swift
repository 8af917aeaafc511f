import Foundation
import Testing

/// The dashboard in a real browser (issue 20): headless Chromium, driven by Selenium (Tests/Peers/dashboard_browser.py),
/// signs in with a token, sees bob's registration and alice's ringing call (both sipp) appear and ends the call with
/// its button; a claimed username and a User-Agent of markup show as text; a sipvicious scan's ban appears beside its events and is
/// lifted with its button, after which `rampart ban list` no longer has it. The screenshot it takes is
/// docs/dashboard.png's source.
@Suite(.serialized, .timeLimit(.minutes(3))) struct DashboardBrowserTests {
    @Test func aPersonSeesTheEdgeLiveAndActsOnIt() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            try ServeWithPeersTests.addUser("bob", password: "pw-bob", dataDir: data)
            let token = try AdminAPITests.token("noc", role: "operator", data: data)
            let server = try ServeProcess(dataDir: data, config: ServeWithPeersTests.sippConfig, listeners: ["udp"])
            defer { server.stop() }
            let sip = try #require(server.ports["udp"])
            let admin = try #require(server.ports["admin"])
            var processes: [Process] = []
            defer { processes.forEach(Peers.stop) }

            // bob registers and rings when called; alice calls him and waits for the edge's final answer.
            let bobPort = try Peers.freePort()
            let registered = try Peers.run(try Peers.tool("sipp"), [
                "127.0.0.1:\(sip)", "-sf", Peers.directory.appendingPathComponent("sipp/register.xml").path, "-t", "u1",
                "-s", "bob", "-au", "bob", "-ap", "pw-bob", "-auth_uri", "localhost", "-key", "domain", "localhost",
                "-key", "expires", "600", "-i", "127.0.0.1", "-p", String(bobPort), "-m", "1", "-nostdin",
                "-timeout", "20", "-trace_err",
            ], seconds: 30, directory: directory)
            try #require(registered.status == 0, "bob's registration: \(registered.output.suffix(600))")
            processes.append(try Peers.sippServer("ring", port: bobPort, messageFile: directory + "/bob.msg",
                                                  directory: directory))
            // carol's phone says its User-Agent is markup.
            try ServeWithPeersTests.addUser("carol", password: "pw-carol", dataDir: data)
            let hostileAgent = "Phone (<img src=x onerror=\"document.title='pwned'\">)"
            let carol = try Peers.run(try Peers.tool("python3"), [
                Peers.directory.appendingPathComponent("sip_client.py").path, "register", "--transport", "udp",
                "--host", "127.0.0.1", "--port", String(sip), "--user", "carol", "--password", "pw-carol",
                "--expires", "600", "--user-agent", hostileAgent,
            ], seconds: 20, directory: directory)
            try #require(carol.output.contains("\"status\": 200"), "carol's registration: \(carol.output)")

            let screenshot = directory + "/dashboard.png"
            let browser = try Peers.background(try Peers.tool("python3"), [
                Peers.directory.appendingPathComponent("dashboard_browser.py").path,
                "--url", "https://127.0.0.1:\(admin)/", "--certificate", data + "/server.crt", "--token", token,
                "--sip-port", String(sip), "--screenshot", screenshot, "--hostile-agent", hostileAgent,
                "--scan", try Peers.tool("svmap"), "127.0.0.1", "-p", String(sip), "-b", "127.0.0.3",
                "-P", String(try Peers.freePort()),
            ], seconds: 150, directory: directory, output: directory + "/browser.json")
            processes.append(browser)
            let scenario = directory + "/caller.xml"
            try CallOutcomesWithPeersTests.callerScenario(ending: CallOutcomesWithPeersTests.refused(503), to: scenario)
            let caller = try Peers.run(try Peers.tool("sipp"), [
                "127.0.0.1:\(sip)", "-sf", scenario, "-t", "u1", "-s", "alice", "-au", "alice", "-ap", "pw-alice",
                "-auth_uri", "bob@localhost", "-key", "domain", "localhost", "-key", "callee", "bob",
                "-i", "127.0.0.1", "-p", "0", "-m", "1", "-nostdin", "-timeout", "60", "-trace_err",
            ], seconds: 70, directory: directory)
            for _ in 0..<1_500 where browser.isRunning { Thread.sleep(forTimeInterval: 0.1) }

            let output = (try? String(contentsOfFile: directory + "/browser.json", encoding: .utf8)) ?? ""
            let line = output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? "{}"
            let seen = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                                    "the browser's report: \(output.suffix(3000))")
            #expect(seen["step"] as? String == "done", "\(output.suffix(3000))")
            #expect(browser.terminationStatus == 0)
            #expect((seen["wrongTokenMessage"] as? String)?.contains("refused") == true)
            #expect(seen["who"] as? String == "noc (operator)")
            #expect(seen["tokenInURL"] as? Bool == false && seen["tokenInCookies"] as? Bool == false)
            #expect(seen["tokenInStorage"] as? Bool == true && seen["tokenAfterSignOut"] is NSNull)
            #expect((seen["calls"] as? [String])?.contains { $0.contains("ringing") } == true, "\(seen["calls"] ?? "")")
            #expect(caller.status == 0, "alice was answered 503 when the call was ended: \(caller.output.suffix(600))")
            // Markup an attacker chose reaches the page as text: no element made of it, no script of it run.
            #expect(seen["hostileShownAsText"] as? Bool == true && seen["injectedImages"] as? Int == 0)
            #expect(seen["hostileAgentShownAsText"] as? Bool == true)
            #expect(seen["title"] as? String == "Rampart")
            #expect((seen["bannedEvents"] as? Int ?? 0) >= 1)
            #expect((seen["liftedBans"] as? [String])?.contains { $0.contains("127.0.0.3") } == false)
            // The only errors the page logged are the API's refusals of the wrong token: no policy violation.
            let errors = seen["consoleErrors"] as? [String] ?? []
            #expect(errors.allSatisfy { $0.contains("401") }, "\(errors)")

            // What the buttons did is what the store says, and the trail says who did it.
            let bans = try AttackersWithPeersTests.bans(data) { !$0.contains("127.0.0.3") }
            #expect(!bans.contains("127.0.0.3"), "\(bans)")
            let contents = try AuditCommandTests.contents(data)
            #expect(contents.contains { $0.contains("ban.remove") && $0.contains("noc") }, "\(contents.suffix(5))")
            #expect(contents.contains { $0.contains("call.end") && $0.contains("noc") })
            let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
            #expect(png.count > 10_000 && png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]), "a PNG screenshot")
            // Kept for docs/dashboard.png when asked (scripts/dashboard-screenshot).
            if let keep = ProcessInfo.processInfo.environment["RAMPART_DASHBOARD_SCREENSHOT"] {
                try? FileManager.default.removeItem(atPath: keep)
                try FileManager.default.copyItem(atPath: screenshot, toPath: keep)
            }
        }
    }
}
