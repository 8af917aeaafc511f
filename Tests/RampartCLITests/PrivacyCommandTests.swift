import Foundation
import GRDB
import Testing

/// The data lifecycle through the real `rampart` (issue 19): a running edge stores attackers' networks instead of
/// their addresses and forgets its events when their time is up, recording each retention run; `rampart privacy`
/// answers and erases for one subject, and hostile subjects name nobody else.
@Suite(.serialized, .timeLimit(.minutes(2))) struct PrivacyCommandTests {
    /// The edge under a scan by sipvicious: the ban keeps the exact address (it must be enforced), the stored events
    /// and their audit records only the /24; a few seconds later the retention job has erased the events, and its
    /// runs are in the trail, which still verifies.
    @Test func anEdgeStoresNetworksNotAddressesAndForgetsEventsOnTime() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            let config = ServeWithPeersTests.sippConfig + """

                [privacy]
                ip_addresses = "truncated"
                security_event_retention_days = 0.0001
                retention_every_seconds = 1
                """
            let server = try ServeProcess(dataDir: data, config: config, listeners: ["udp"])
            defer { server.stop() }
            _ = try AttackersWithPeersTests.sipvicious("svmap", port: server.ports["udp"]!, ip: "127.0.0.3", [],
                                                       directory: directory)
            #expect(try AttackersWithPeersTests.bans(data) { $0.contains("127.0.0.3") }.contains("127.0.0.3"))
            let events = try AttackersWithPeersTests.events(data) { $0.contains { $0.contains("127.0.0.0/24") } }
            #expect(events.contains { $0.contains("127.0.0.0/24") } && !events.contains { $0.contains("127.0.0.3") },
                    "\(events)")
            #expect(!(try AuditCommandTests.contents(data)).contains { $0.contains("127.0.0.3") })
            // 0.0001 days is 8.64 s: the job, running every second, erases them soon after.
            let deadline = Date().addingTimeInterval(30)
            var remaining = events.count
            while Date() < deadline, remaining > 0 {
                Thread.sleep(forTimeInterval: 0.5)
                remaining = try DatabaseQueue(path: data + "/rampart.sqlite").read { db in
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM securityEvent") ?? 0
                }
            }
            #expect(remaining == 0, "security events erased by retention")
            let runs = try AuditCommandTests.contents(data).filter { $0.contains("retention.run") }
            #expect(runs.count >= 2 && runs.allSatisfy { $0.contains("security_events") })
            #expect(server.stop() == 0)
            let verify = try RampartProcess.run(["audit", "verify", "--data-dir", data])
            #expect(verify.status == 0, "\(verify.stdout)")
        }
    }

    /// Wildcards, quotes and control characters in a subject: nothing of anyone else is exported or erased, and a
    /// malformed subject is a usage error. Then a real erasure removes one account and leaves the other.
    @Test func hostileSubjectsNameNobodyElseAndAnErasureTakesOnlyItsSubject() throws {
        try withTemporaryDirectory { directory in
            let data = try AuditCommandTests.administer(directory)
            #expect(try RampartProcess.run(["user", "add", "bob", "--password", "pw-bob"] + data).status == 0)
            #expect(try RampartProcess.run(["ban", "add", "account:alice", "--reason", "fraud"] + data).status == 0)
            for subject in ["%@localhost", "_lice@localhost", "alice'OR'1'='1@localhost", "*@localhost"] {
                let export = try RampartProcess.run(["privacy", "export", subject] + data)
                let report = try #require(try JSONSerialization.jsonObject(with: Data(export.stdout.utf8)) as? [String: Any],
                                          "\(export.stderr)")
                #expect(report["account"] == nil || report["account"] is NSNull, "\(subject)")
                for kind in ["callRecords", "securityEvents", "bans", "auditRecords", "deviceCertificates"] {
                    #expect((report[kind] as? [Any])?.isEmpty == true, "\(subject): \(kind)")
                }
                let erase = try RampartProcess.run(["privacy", "erase", subject] + data)
                #expect(erase.status == 0 && !erase.stdout.contains(where: { "123456789".contains($0) }),
                        "\(subject): \(erase.stdout)")
            }
            for subject in ["alice", "alice\r\n@localhost", "@localhost", "alice@", "al ice@localhost"] {
                #expect(try RampartProcess.run(["privacy", "erase", subject] + data).status == 2, "\(subject)")
            }
            #expect(try RampartProcess.run(["user", "list"] + data).stdout.contains("alice@localhost"))

            let dry = try RampartProcess.run(["privacy", "erase", "alice@localhost", "--dry-run"] + data)
            #expect(dry.stdout.hasPrefix("would erase:") && dry.stdout.contains("accounts 1") && dry.stdout.contains("bans 1"),
                    "\(dry.stdout)")
            #expect(try RampartProcess.run(["user", "list"] + data).stdout.contains("alice@localhost"))
            let erased = try RampartProcess.run(["privacy", "erase", "sip:alice@localhost"] + data)
            #expect(erased.status == 0 && erased.stdout.contains("accounts 1"), "\(erased.stdout + erased.stderr)")
            let users = try RampartProcess.run(["user", "list"] + data).stdout
            #expect(!users.contains("alice@localhost") && users.contains("bob@localhost"))
            #expect(!(try RampartProcess.run(["ban", "list"] + data).stdout.contains("account:alice")))
            let verify = try RampartProcess.run(["audit", "verify"] + data)
            #expect(verify.status == 0 && verify.stdout.contains("erased"), "\(verify.stdout)")
            let contents = try AuditCommandTests.contents(directory + "/data")
            #expect(!contents.contains { $0.contains("alice@localhost") || $0.contains("account:alice") })
            #expect(contents.contains { $0.contains("bob@localhost") })
            #expect(contents.contains { $0.contains("privacy.erase") && $0.contains("anon:") })
        }
    }
}
