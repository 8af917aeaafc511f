import Foundation
import GRDB
import Testing

/// The admin API of a running edge (issue 20), from curl over TLS: health without a token; everything else only
/// with one, each role only what it may; bans made and lifted through it are stored, audited with the token's name
/// and enforced; hostile bodies get 4xx, never 5xx; a revoked token is refused at once; a source that keeps
/// guessing is throttled, without locking out a valid token from the same address; `/metrics` shows what the edge
/// counted.
@Suite(.serialized, .timeLimit(.minutes(2))) struct AdminAPITests {
    struct Client {
        let port: Int
        let data: String

        /// One request: its status and body.
        func call(_ method: String, _ path: String, token: String? = nil, body: String? = nil,
                  bodyFile: String? = nil, contentType: String = "application/json") throws -> (status: Int, body: String) {
            var arguments = ["-s", "--max-time", "10", "--cacert", data + "/ca.crt", "-X", method, "-w", "\n%{http_code}",
                             "https://127.0.0.1:\(port)\(path)"]
            if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
            if let body { arguments += ["-H", "Content-Type: \(contentType)", "--data-raw", body] }
            if let bodyFile { arguments += ["-H", "Content-Type: \(contentType)", "--data-binary", "@" + bodyFile] }
            let run = try Peers.run(try Peers.tool("curl"), arguments, seconds: 20)
            let lines = run.output.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
        }
    }

    static func token(_ name: String, role: String, data: String) throws -> String {
        let made = try RampartProcess.run(["admin", "token", "create", name, "--role", role, "--data-dir", data])
        try #require(made.status == 0, "\(made.stderr)")
        return String(made.stdout.split(separator: "\n").last ?? "")
    }

    @Test func tokensRolesBansAndHostileRequests() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            let viewer = try Self.token("dashboard", role: "viewer", data: data)
            let operatorToken = try Self.token("noc", role: "operator", data: data)
            #expect(viewer.hasPrefix("rmp_") && viewer.count > 40)
            #expect(!(try String(contentsOfFile: data + "/rampart.sqlite", encoding: .isoLatin1)).contains(viewer),
                    "only the token's digest is stored")
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            let server = try ServeProcess(dataDir: data, config: ServeWithPeersTests.sippConfig, listeners: ["udp"])
            defer { server.stop() }
            let api = Client(port: try #require(server.ports["admin"]), data: data)
            let served = try AttackersWithPeersTests.register("alice", from: "127.0.0.9", port: server.ports["udp"]!,
                                                              timeout: 5, directory: directory)
            #expect(served.status == 0, "before the ban: \(served.output.suffix(400))")

            #expect(try api.call("GET", "/api/health") == (200, "{\"status\":\"ok\"}"))
            #expect(try api.call("GET", "/api/ready") == (200, "{\"status\":\"ready\"}"))
            #expect(try api.call("GET", "/api/bans").status == 401)
            #expect(try api.call("GET", "/api/bans", token: "rmp_guessed").status == 401)
            #expect(try api.call("GET", "/api/bans", token: viewer) == (200, "[]"))
            #expect(try api.call("POST", "/api/bans", token: viewer, body: "{\"subject\":\"127.0.0.9\"}").status == 403)

            // Hostile bodies: each a 4xx, nothing stored.
            let oversized = directory + "/big.json"
            try ("{\"subject\":\"127.0.0.9\",\"reason\":\"" + String(repeating: "x", count: 70_000) + "\"}")
                .write(toFile: oversized, atomically: true, encoding: .utf8)
            #expect(try api.call("POST", "/api/bans", token: operatorToken, bodyFile: oversized).status == 413)
            for body in ["{\"subject\":\"127.0.0.9\",\"expires\":1}", "not json", "[]", "{\"subject\":\"nobody at all\"}",
                         "{\"subject\":\"127.0.0.9\",\"seconds\":-5}", "{\"subject\":\"127.0.0.9\",\"reason\":\"a\\nb\"}",
                         "{\"subject\":42}"] {
                #expect(try api.call("POST", "/api/bans", token: operatorToken, body: body).status == 400, "\(body)")
            }
            #expect(try api.call("GET", "/api/bans", token: viewer).body == "[]")

            let made = try api.call("POST", "/api/bans", token: operatorToken,
                                    body: "{\"subject\":\"127.0.0.9\",\"reason\":\"<script>alert(1)</script>\",\"seconds\":600}")
            #expect(made.status == 201 && made.body.contains("\"subject\":\"127.0.0.9\""), "\(made)")
            #expect(try RampartProcess.run(["ban", "list", "--data-dir", data]).stdout.contains("127.0.0.9"))
            // Enforced at once: a REGISTER from the banned address gets nothing back.
            let refused = try AttackersWithPeersTests.register("alice", from: "127.0.0.9", port: server.ports["udp"]!,
                                                               timeout: 3, directory: directory)
            #expect(refused.status != 0, "a banned source is not served")
            #expect(try api.call("DELETE", "/api/bans/127.0.0.9", token: viewer).status == 403)
            #expect(try api.call("DELETE", "/api/bans/127.0.0.9", token: operatorToken).status == 204)
            #expect(try api.call("DELETE", "/api/bans/127.0.0.9", token: operatorToken).status == 404)
            #expect(try api.call("DELETE", "/api/bans/not%20a%20subject", token: operatorToken).status == 400)

            // Accounts and devices: read by a viewer, changed by an admin only, never showing an HA1.
            let admin = try Self.token("root", role: "admin", data: data)
            let users = try api.call("GET", "/api/users", token: viewer)
            #expect(users.status == 200 && users.body.contains("\"username\":\"alice\"") && !users.body.contains("ha1"))
            let carol = "{\"username\":\"carol\",\"password\":\"pw-carol\"}"
            #expect(try api.call("POST", "/api/users", token: operatorToken, body: carol).status == 403)
            #expect(try api.call("POST", "/api/users", token: admin, body: carol).status == 201)
            #expect(try api.call("POST", "/api/users", token: admin, body: carol).status == 409)
            #expect(try api.call("POST", "/api/users", token: admin, body: "{\"username\":\"dave\"}").status == 400)
            #expect(try RampartProcess.run(["user", "list", "--data-dir", data]).stdout.contains("carol@localhost"))
            let device = "{\"fingerprint\":\"\(String(repeating: "ab", count: 32))\",\"username\":\"carol\"}"
            #expect(try api.call("POST", "/api/devices", token: admin, body: device).status == 201)
            #expect(try api.call("POST", "/api/devices", token: admin,
                                 body: "{\"fingerprint\":\"zz\",\"username\":\"carol\"}").status == 400)
            #expect(try api.call("POST", "/api/devices", token: admin, body: device.replacingOccurrences(
                of: "carol", with: "nobody")).status == 404)
            #expect(try api.call("DELETE", "/api/devices/\(String(repeating: "ab", count: 32))", token: admin).status == 204)
            #expect(try api.call("DELETE", "/api/users/carol", token: operatorToken).status == 403)
            #expect(try api.call("DELETE", "/api/users/carol", token: admin).status == 204)
            #expect(try api.call("DELETE", "/api/users/carol", token: admin).status == 404)
            let metrics = try api.call("GET", "/metrics", token: viewer)
            #expect(metrics.status == 200 && metrics.body.contains("rampart_security_events_total{type=\"auth-failure\"}"))
            #expect(try api.call("GET", "/api/version", token: viewer).body.contains("\"version\""))

            // Revoked: refused at once. Then guessing from one source is throttled.
            #expect(try RampartProcess.run(["admin", "token", "revoke", "dashboard", "--data-dir", data]).status == 0)
            #expect(try api.call("GET", "/api/bans", token: viewer).status == 401)
            var statuses: [Int] = []
            for attempt in 0..<10 { statuses.append(try api.call("GET", "/api/bans", token: "rmp_\(attempt)").status) }
            #expect(statuses.last == 429, "\(statuses)")
            #expect(try api.call("GET", "/api/bans", token: "rmp_more").status == 429, "the guesser waits a minute")
            // A valid token from the same address (a proxy, a NAT) is not locked out by others' failures.
            #expect(try api.call("GET", "/api/bans", token: operatorToken).status == 200)
            #expect(server.stop() == 0)

            // The trail names the token of every change, never a secret.
            let contents = try AuditCommandTests.contents(data)
            #expect(contents.contains { $0.contains("ban.add") && $0.contains("noc") && $0.contains("127.0.0.9") })
            #expect(contents.contains { $0.contains("ban.remove") && $0.contains("noc") })
            #expect(contents.contains { $0.contains("admin.token.create") && $0.contains("dashboard") })
            #expect(!contents.contains { $0.contains(operatorToken) || $0.contains(viewer) })
            #expect(try RampartProcess.run(["audit", "verify", "--data-dir", data]).status == 0)
            let events = try AttackersWithPeersTests.events(data) { $0.contains { $0.contains("admin API") } }
            #expect(events.contains { $0.contains("admin API: token refused") })
        }
    }

    /// An admin's token makes, lists and revokes tokens through the API (the secret in the answer that made it,
    /// and never again); a posted configuration is checked as `serve` would read it, with lint's findings, and
    /// may name no file the running edge does not already use.
    @Test func tokensOverTheAPIAndAPostedConfigurationChecked() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            let admin = try Self.token("root", role: "admin", data: data)
            let viewer = try Self.token("screen", role: "viewer", data: data)
            let server = try ServeProcess(dataDir: data, config: ServeWithPeersTests.sippConfig, listeners: ["udp"])
            defer { server.stop() }
            let api = Client(port: try #require(server.ports["admin"]), data: data)

            #expect(try api.call("GET", "/api/tokens", token: viewer).status == 403)
            #expect(try api.call("POST", "/api/tokens", token: viewer, body: #"{"name":"x","role":"admin"}"#).status == 403)
            let made = try api.call("POST", "/api/tokens", token: admin, body: #"{"name":"grafana","role":"viewer"}"#)
            #expect(made.status == 201, "\(made)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(made.body.utf8)) as? [String: Any])
            let grafana = try #require(json["token"] as? String)
            #expect(grafana.hasPrefix("rmp_") && json["role"] as? String == "viewer")
            #expect(try api.call("GET", "/api/whoami", token: grafana) == (200, #"{"name":"grafana","role":"viewer"}"#))
            #expect(try api.call("POST", "/api/tokens", token: admin, body: #"{"name":"grafana","role":"admin"}"#).status == 409)
            for body in [#"{"name":"a b","role":"viewer"}"#, #"{"name":"ok","role":"root"}"#,
                         #"{"name":"ok","role":"viewer","secret":"mine"}"#, #"{"name":"ok"}"#] {
                #expect(try api.call("POST", "/api/tokens", token: admin, body: body).status == 400, "\(body)")
            }
            let listed = try api.call("GET", "/api/tokens", token: admin)
            #expect(listed.status == 200 && listed.body.contains("\"grafana\"") && !listed.body.contains("rmp_"),
                    "a listing never shows a secret: \(listed.body)")
            #expect(try api.call("DELETE", "/api/tokens/grafana", token: admin).status == 204)
            #expect(try api.call("GET", "/api/version", token: grafana).status == 401, "revoked at once")
            #expect(try api.call("DELETE", "/api/tokens/grafana", token: admin).status == 404)
            let cli = try RampartProcess.run(["admin", "token", "list", "--data-dir", data])
            #expect(!cli.stdout.contains("grafana") && cli.stdout.contains("screen"), "\(cli.stdout)")
            let contents = try AuditCommandTests.contents(data)
            #expect(contents.contains { $0.contains("admin.token.create") && $0.contains("grafana") && $0.contains("root") })
            #expect(contents.contains { $0.contains("admin.token.revoke") && $0.contains("grafana") && $0.contains("root") })

            // The configuration check: lint's findings on a file that reads, the reason for one that does not.
            func check(_ text: String, token: String = admin) throws -> (status: Int, body: String) {
                try api.call("POST", "/api/config/check", token: token, body: text, contentType: "text/plain")
            }
            #expect(try check("[calls]\nallow_plain_rtp = true\n", token: viewer).status == 403)
            let weak = try check("[calls]\nallow_plain_rtp = true\n")
            #expect(weak.status == 200 && weak.body.contains(#""valid":true"#) && weak.body.contains("plain-rtp-allowed"),
                    "\(weak)")
            let example = try String(contentsOfFile: Peers.directory.deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("rampart.example.toml").path, encoding: .utf8)
            let clean = try check(example)
            #expect(clean.status == 200 && clean.body.contains(#""valid":true"#), "\(clean.body.prefix(600))")
            let misspelt = try check("[calls]\nallow_plain_rpt = true\n")
            #expect(misspelt.body.contains(#""valid":false"#) && misspelt.body.contains("allow_plain_rpt"), "\(misspelt)")
            #expect(try check("[media]\nport_min = -4\n").body.contains(#""valid":false"#))
            // A file outside the edge's own: refused unread, whatever it holds.
            for setting in ["[tls]\ncertificate = \"/etc/passwd\"", "[security]\nscanner_signatures = \"/etc/shadow\"",
                            "[tls]\ncertificate = \"\(data)/../../../etc/passwd\"",
                            "[security]\nscanner_signatures = \"\(data)/audit.key\""] {
                let probe = try check(setting + "\n")
                #expect(probe.status == 200 && probe.body.contains(#""valid":false"#) && !probe.body.contains("root:")
                        && probe.body.contains("neither the running configuration nor the data directory"), "\(probe)")
            }
            // Shapes the C++ parser must not see (found by the review and the fuzzer): refused, and the edge lives.
            for hostile in ["\u{FEFF}[\n", "a = [\u{2028}]\n", "a = [}\n", "[{\n"] {
                let refused = try check(hostile)
                #expect(refused.status == 200 && refused.body.contains(#""valid":false"#), "\(hostile.debugDescription): \(refused)")
            }
            #expect(try api.call("GET", "/api/health").status == 200, "the edge outlived the hostile configurations")
            let binary = directory + "/binary.toml"
            try Data([0xFF, 0xFE, 0x00, 0x41]).write(to: URL(fileURLWithPath: binary))
            #expect(try api.call("POST", "/api/config/check", token: admin, bodyFile: binary,
                                 contentType: "text/plain").status == 400)
        }
    }

    /// `[admin] client_ca`: no TLS handshake without a client certificate from that CA, and a token still needed
    /// with one; `writes_per_minute`: a token that keeps changing things gets 429, while it still reads and
    /// another token still writes.
    @Test func mutualTLSAndEachTokensWriteBudget() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            let issued = try RampartProcess.run(["cert", "issue", "noc-laptop", "--out", directory, "--data-dir", data])
            try #require(issued.status == 0, "\(issued.stderr)")
            let first = try Self.token("noc", role: "operator", data: data)
            let second = try Self.token("oncall", role: "operator", data: data)
            let server = try ServeProcess(dataDir: data, config: ServeWithPeersTests.sippConfig
                + "\n[admin]\nwrites_per_minute = 3\nclient_ca = \"\(data)/ca.crt\"\n", listeners: ["udp"])
            defer { server.stop() }
            let port = try #require(server.ports["admin"])
            func call(_ method: String, _ path: String, token: String?, body: String? = nil, certificate: Bool = true)
                throws -> Int
            {
                var arguments = ["-s", "--max-time", "10", "--cacert", data + "/ca.crt", "-X", method, "-o", "/dev/null",
                                 "-w", "%{http_code}", "https://127.0.0.1:\(port)\(path)"]
                if certificate {
                    arguments += ["--cert", directory + "/noc-laptop.crt", "--key", directory + "/noc-laptop.key"]
                }
                if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
                if let body { arguments += ["-H", "Content-Type: application/json", "--data-raw", body] }
                return Int(try Peers.run(try Peers.tool("curl"), arguments, seconds: 20).output) ?? 0
            }
            #expect(try call("GET", "/api/health", token: nil, certificate: false) == 0, "no handshake without one")
            #expect(try call("GET", "/api/bans", token: first, certificate: false) == 0)
            #expect(try call("GET", "/api/health", token: nil) == 200)
            #expect(try call("GET", "/api/bans", token: nil) == 401, "a certificate is no token")
            for index in 1...3 {
                #expect(try call("POST", "/api/bans", token: first, body: #"{"subject":"192.0.2.\#(index)"}"#) == 201)
            }
            #expect(try call("POST", "/api/bans", token: first, body: #"{"subject":"192.0.2.4"}"#) == 429)
            #expect(try call("DELETE", "/api/bans/192.0.2.1", token: first) == 429)
            #expect(try call("GET", "/api/bans", token: first) == 200, "reading is not limited")
            #expect(try call("GET", "/api/bans?offset=-1", token: first) == 400)
            #expect(try call("GET", "/api/bans?limit=1&offset=2", token: first) == 200)
            #expect(try call("DELETE", "/api/bans/192.0.2.1", token: second) == 204, "another token's budget")
            let bans = try AttackersWithPeersTests.bans(data)
            #expect(!bans.contains("192.0.2.4") && bans.contains("192.0.2.2") && !bans.contains("192.0.2.1"), "\(bans)")
        }
    }

    @Test func plainHTTPOnlyOnLoopbackAndTheListenerCanBeOff() throws {
        try withTemporaryDirectory { directory in
            let config = directory + "/admin.toml"
            try "[admin]\ntls = false\nlisten = \"192.0.2.1:8080\"\n".write(toFile: config, atomically: true, encoding: .utf8)
            let refused = try RampartProcess.run(["serve", "--config", config, "--check-config", "--data-dir", directory])
            #expect(refused.status == 2 && refused.stderr.contains("loopback"), "\(refused.stderr)")
            try "[admin]\ntls = false\nlisten = \"[::1]:8080\"\n".write(toFile: config, atomically: true, encoding: .utf8)
            let local = try RampartProcess.run(["serve", "--config", config, "--check-config", "--data-dir", directory])
            #expect(local.stdout.contains("admin API on http://[::1]:8080"), "\(local.stdout)\(local.stderr)")
            let off = try RampartProcess.run(["serve", "--admin-listen", "off", "--check-config", "--data-dir", directory])
            #expect(off.stdout.contains("admin API off"))
            #expect(try RampartProcess.run(["admin", "token", "create", "bad name", "--role", "viewer",
                                            "--data-dir", directory + "/data"]).status == 2)
        }
    }
}

/// An operator sees a ringing call in `GET /api/calls` and ends it with `DELETE`: the caller (sipp) is answered
/// 503, the callee's branch is cancelled, the CDR says the edge hung up for the operator, and the trail says who.
@Suite(.serialized, .timeLimit(.minutes(2))) struct AdminAPICallTests {
    final class Seen: @unchecked Sendable {
        let lock = NSLock()
        var calls = ""
        var deleted = 0
        var registrations = ""
        var metrics = ""
        var port = 0
        var token: String?
        var deletedAfter = Duration.zero
    }

    @Test func anOperatorEndsARingingCall() throws {
        let seen = Seen()
        // The token is made before the call starts: the peers give up after 30 s, and the operator must act within
        // them (a CI run once sent its DELETE after both sipps had gone).
        try CallOutcomesWithPeersTests.call(over: "udp", callees: ["ring"], ending: CallOutcomesWithPeersTests.refused(503),
                                            beforeCalling: { data in
            let made = try AdminAPITests.token("noc", role: "operator", data: data)
            seen.lock.withLock { seen.token = made }
        }, whileCalling: { server, data in
            let started = ContinuousClock.now
            guard let port = server.ports["admin"], let token = seen.lock.withLock({ seen.token }) else { return }
            let api = AdminAPITests.Client(port: port, data: data)
            seen.lock.withLock { seen.port = port }
            for _ in 0..<100 {
                if let listed = try? api.call("GET", "/api/calls", token: token), listed.body.contains("sip:bob@localhost"),
                    let json = try? JSONSerialization.jsonObject(with: Data(listed.body.utf8)) as? [[String: Any]],
                    let id = json.first?["id"] as? String
                {
                    Thread.sleep(forTimeInterval: 0.3)  // ringing at bob's
                    let registrations = (try? api.call("GET", "/api/registrations", token: token).body) ?? ""
                    let metrics = (try? api.call("GET", "/metrics", token: token).body) ?? ""
                    let deleted = (try? api.call("DELETE", "/api/calls/\(id)", token: token).status) ?? 0
                    let after = ContinuousClock.now - started
                    seen.lock.withLock {
                        (seen.calls, seen.deleted, seen.registrations, seen.metrics) = (listed.body, deleted, registrations, metrics)
                        seen.deletedAfter = after
                    }
                    return
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }) { result, records, calleeLogs, data in
            // The record, once stored, through the API with the cdr filters (the edge still runs).
            let api = AdminAPITests.Client(port: seen.lock.withLock { seen.port }, data: data)
            let viewer = try AdminAPITests.token("reader", role: "viewer", data: data)
            let cdrs = try api.call("GET", "/api/cdrs?account=alice@localhost&disposition=failed&limit=5", token: viewer)
            #expect(cdrs.status == 200 && cdrs.body.contains("\"hangupReason\":\"operator\""), "\(cdrs)")
            #expect(try api.call("GET", "/api/cdrs?disposition=odd", token: viewer).status == 400)
            #expect(try api.call("GET", "/api/cdrs?since=-1", token: viewer).status == 400)
            #expect(try api.call("GET", "/api/cdrs?since=4102444800", token: viewer).body == "[]", "none from 2100 on")
            let events = try api.call("GET", "/api/events?limit=10", token: viewer)
            #expect(events.status == 200 && events.body.hasPrefix("["), "\(events)")
            #expect(try api.call("GET", "/api/events?limit=0", token: viewer).status == 400)
            let (calls, deleted, registrations, metrics) = seen.lock.withLock {
                (seen.calls, seen.deleted, seen.registrations, seen.metrics)
            }
            #expect(calls.contains("\"caller\":\"sip:alice@localhost\"") && !calls.contains("secret-"), "\(calls)")
            #expect(deleted == 204)
            #expect(registrations.contains("sip:bob@localhost"), "\(registrations)")
            #expect(metrics.contains("rampart_calls_active 1") && metrics.contains("rampart_registration_bindings 1"),
                    "\(metrics.split(separator: "\n").filter { $0.hasPrefix("rampart_") && !$0.contains("{") })")
            let deletedAfter = seen.lock.withLock { seen.deletedAfter }
            #expect(deletedAfter < .seconds(20), "the DELETE came \(deletedAfter) after the call began")
            #expect(result.status == 0, "the caller was answered 503 (DELETE after \(deletedAfter)): \(result.output.suffix(600))")
            #expect(calleeLogs[0].contains("CANCEL sip:bob@127.0.0.1"))
            #expect(records.first?["hangupSide"] as? String == "edge" && records.first?["hangupReason"] as? String == "operator")
            let contents = try AuditCommandTests.contents(data)
            #expect(contents.contains { $0.contains("call.end") && $0.contains("noc") })
        }
    }
}

/// A real Prometheus (Debian's) scrapes the admin API over TLS with a viewer token from a file, and PromQL over its
/// HTTP API reads what the edge counted: the scrape is up, a registration, no call, a scanner's events and its ban,
/// failed authentications by cause (the relayed packets and MOS are read in MediaRelayWithPeersTests).
@Suite(.serialized, .timeLimit(.minutes(2))) struct PrometheusScrapeTests {
    @Test func prometheusScrapesTheEdgeAndPromQLReadsIt() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            let token = try AdminAPITests.token("prometheus", role: "viewer", data: data)
            try token.write(toFile: directory + "/token", atomically: true, encoding: .utf8)
            let server = try ServeProcess(dataDir: data, config: ServeWithPeersTests.sippConfig, listeners: ["udp"])
            defer { server.stop() }
            let registered = try AttackersWithPeersTests.register("alice", from: "127.0.0.1", port: server.ports["udp"]!,
                                                                  timeout: 5, directory: directory)
            #expect(registered.status == 0, "\(registered.output.suffix(400))")
            _ = try AttackersWithPeersTests.sipvicious("svmap", port: server.ports["udp"]!, ip: "127.0.0.3", [],
                                                       directory: directory)
            // Failed authentications: a wrong password over SIP, and the API asked without a token.
            _ = try Peers.sipp("register", port: server.ports["udp"]!, user: "alice", password: "not-alices",
                               ip: "127.0.0.5", timeout: 3, workDirectory: directory)
            #expect(try AdminAPITests.Client(port: server.ports["admin"]!, data: data).call("GET", "/api/bans").status == 401)

            let prometheus = try PrometheusServer(data: data, adminPort: server.ports["admin"]!, tokenFile: directory + "/token",
                                                  directory: directory)
            defer { prometheus.stop() }
            let query = prometheus.query
            #expect(try query("up{job=\"rampart\"}") == 1, "the scrape with the token succeeds")
            #expect(try query("rampart_registration_bindings") == 1)
            #expect((try query("sum(rampart_security_events_total{type=\"scanner-detected\"})") ?? 0) >= 1)
            #expect((try query("rampart_bans_active") ?? 0) >= 1)
            #expect(try query("rampart_calls_active") == 0)
            #expect((try query("rampart_auth_failures_total{interface=\"sip\",reason=\"credentials\"}") ?? 0) >= 1)
            #expect((try query("rampart_auth_failures_total{interface=\"admin\",reason=\"no-token\"}") ?? 0) >= 1)
            #expect(try query("rampart_auth_failures_total{reason=\"refused-token\"}") == 0)
            // Bounded cardinality: one series per event kind and per failure cause, none per source or account.
            #expect((try query("count(rampart_security_events_total)") ?? 1_000) <= 40)
            #expect(try query("count(rampart_auth_failures_total)") == 7)
        }
    }
}

/// The OpenAPI document is true to the API: schemathesis (PyPI) generates requests for every operation from it
/// (examples, boundaries, then fuzzing) against a running edge with an operator's token, and finds no 5xx, no
/// undocumented status, no answer off its schema or content type.
@Suite(.serialized, .timeLimit(.minutes(3))) struct OpenAPIConformanceTests {
    /// A program on the PATH (pip puts schemathesis beside its Python, not in /usr/bin).
    static func onPath(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for directory in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
            return "\(directory)/\(name)"
        }
        try #require(Bool(false), "\(name) is not on the PATH: scripts/test installs it")
        return ""
    }

    @Test func schemathesisFindsTheAPIAsDocumented() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            let token = try AdminAPITests.token("fuzzer", role: "admin", data: data)
            // schemathesis also tries every operation without the token: enough budget for that to stay a 401.
            let server = try ServeProcess(dataDir: data, config: ServeWithPeersTests.sippConfig
                + "\n[admin]\nauth_failures_per_minute = 100000\nwrites_per_minute = 100000\n", listeners: ["udp"])
            defer { server.stop() }
            let port = try #require(server.ports["admin"])
            let document = try AdminAPITests.Client(port: port, data: data).call("GET", "/openapi.json")
            #expect(document.status == 200 && document.body.contains("\"openapi\": \"3.1.0\""))
            let run = try Peers.run(try Self.onPath("schemathesis"), [
                "run", "https://127.0.0.1:\(port)/openapi.json", "--tls-verify", data + "/ca.crt",
                "-H", "Authorization: Bearer \(token)", "--max-examples", "30", "--seed", "1",
                // A stream has no end for a fuzzer to wait for: its own test is the curl one below.
                "--exclude-path", "/api/events/stream",
                "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            ], seconds: 150, directory: directory)
            #expect(run.status == 0, "\(run.output.suffix(4000))")
            #expect(run.output.contains(" passed") && !run.output.contains("Rate limited"), "\(run.output.suffix(1500))")
            #expect(server.stop() == 0, "the edge outlived the fuzzing")
        }
    }
}

/// The live event stream: curl follows `/api/events/stream` while sipvicious scans the edge, and the scan's events
/// arrive as Server-Sent Events, one JSON object a line; an edge stopped with a stream open still stops at once.
@Suite(.serialized, .timeLimit(.minutes(2))) struct AdminEventStreamTests {
    @Test func aScanArrivesOnTheStreamAndAnOpenStreamDoesNotHoldTheShutdown() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            let token = try AdminAPITests.token("screen", role: "viewer", data: data)
            let server = try ServeProcess(dataDir: data, config: ServeWithPeersTests.sippConfig
                + "\n[privacy]\nip_addresses = \"truncated\"\n", listeners: ["udp"])
            defer { server.stop() }
            let port = try #require(server.ports["admin"])
            let stream = try Peers.background(try Peers.tool("curl"), [
                "-s", "-N", "--max-time", "60", "--cacert", data + "/ca.crt", "-H", "Authorization: Bearer \(token)",
                "https://127.0.0.1:\(port)/api/events/stream",
            ], seconds: 70, directory: directory, output: directory + "/stream.txt")
            defer { Peers.stop(stream) }
            for _ in 0..<50 where !((try? String(contentsOfFile: directory + "/stream.txt", encoding: .utf8)) ?? "")
                .contains("rampart security events") {
                Thread.sleep(forTimeInterval: 0.1)
            }
            _ = try AttackersWithPeersTests.sipvicious("svmap", port: server.ports["udp"]!, ip: "127.0.0.3", [],
                                                       directory: directory)
            var text = ""
            for _ in 0..<50 {
                text = (try? String(contentsOfFile: directory + "/stream.txt", encoding: .utf8)) ?? ""
                if text.contains("scanner-detected") { break }
                Thread.sleep(forTimeInterval: 0.1)
            }
            let events = text.split(separator: "\n").filter { $0.hasPrefix("data: ") }
                .compactMap { try? JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8)) as? [String: Any] }
            #expect(events.contains { $0["kind"] as? String == "scanner-detected" }, "\(text.prefix(2000))")
            #expect(events.allSatisfy { ($0["source"] as? String).map { $0 == "127.0.0.0/24" } ?? true },
                    "the stream keeps the privacy policy: \(events)")
            // One token holds at most four streams: three more open, the fifth is refused (others' stay free).
            var more: [Process] = []
            defer { more.forEach(Peers.stop) }
            for index in 0..<3 {
                more.append(try Peers.background(try Peers.tool("curl"), [
                    "-s", "-N", "--max-time", "30", "--cacert", data + "/ca.crt", "-H", "Authorization: Bearer \(token)",
                    "https://127.0.0.1:\(port)/api/events/stream",
                ], seconds: 40, directory: directory, output: directory + "/more-\(index).txt"))
            }
            for _ in 0..<50 where !(0..<3).allSatisfy({ index in
                ((try? String(contentsOfFile: directory + "/more-\(index).txt", encoding: .utf8)) ?? "")
                    .contains("rampart security events")
            }) {
                Thread.sleep(forTimeInterval: 0.1)
            }
            let fifth = try AdminAPITests.Client(port: port, data: data).call("GET", "/api/events/stream", token: token)
            #expect(fifth.status == 503, "\(fifth)")
            let clock = ContinuousClock(), asked = clock.now
            #expect(server.stop() == 0)
            #expect(clock.now - asked < .seconds(10), "an open stream does not hold the shutdown")
        }
    }
}

/// Debian's Prometheus scraping a running edge's `/metrics` every second over TLS (the data directory's CA) with a
/// bearer token from a file, and PromQL over its HTTP API.
struct PrometheusServer {
    let process: Process
    let web: Int

    init(data: String, adminPort: Int, tokenFile: String, directory: String) throws {
        web = try Peers.freePort()
        try """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: rampart
                scheme: https
                tls_config:
                  ca_file: \(data)/ca.crt
                authorization:
                  type: Bearer
                  credentials_file: \(tokenFile)
                static_configs:
                  - targets: ["127.0.0.1:\(adminPort)"]
            """.write(toFile: directory + "/prometheus.yml", atomically: true, encoding: .utf8)
        process = try Peers.background(try Peers.tool("prometheus"), [
            "--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/tsdb",
            "--web.listen-address=127.0.0.1:\(web)",
        ], seconds: 90, directory: directory, output: directory + "/prometheus.log")
    }

    func stop() { Peers.stop(process) }

    /// The first sample of an instant query's answer, once there is one (20 s at most).
    func query(_ promQL: String) throws -> Double? {
        for _ in 0..<80 {
            let answer = try Peers.run(try Peers.tool("curl"), [
                "-s", "--max-time", "5", "-G", "http://127.0.0.1:\(web)/api/v1/query", "--data-urlencode",
                "query=\(promQL)",
            ], seconds: 10)
            if let json = try? JSONSerialization.jsonObject(with: Data(answer.output.utf8)) as? [String: Any],
                let result = (json["data"] as? [String: Any])?["result"] as? [[String: Any]],
                let value = result.first?["value"] as? [Any], let text = value.last as? String
            {
                return Double(text)
            }
            Thread.sleep(forTimeInterval: 0.25)
        }
        return nil
    }
}
