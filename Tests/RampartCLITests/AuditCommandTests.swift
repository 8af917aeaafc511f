import Foundation
import GRDB
import Testing

/// The audit trail through the real `rampart` executable (issue 19): administrative commands leave signed records,
/// `rampart audit verify` finds a database edited by hand, an export verifies on its own elsewhere, and a command
/// killed with SIGKILL leaves its change and its records together or neither.
@Suite struct AuditCommandTests {
    static let fingerprint = String(repeating: "ab", count: 32)

    /// Runs the administrative commands an operator would; returns the data directory's arguments.
    static func administer(_ directory: String) throws -> [String] {
        let data = ["--data-dir", directory + "/data"]
        for arguments in [
            ["user", "add", "alice", "--password", "pw-alice"], ["user", "add", "bob", "--password", "pw-bob"],
            ["device", "bind", "alice", "--fingerprint", fingerprint], ["ban", "add", "192.0.2.66", "--reason", "scan|ner\r\nCEF:0"],
            ["ban", "remove", "192.0.2.66"], ["user", "passwd", "bob", "--password", "new"],
            ["device", "unbind", "--fingerprint", fingerprint], ["user", "remove", "bob"],
        ] {
            let run = try RampartProcess.run(arguments + data)
            #expect(run.status == 0, "\(arguments): \(run.stderr)")
        }
        return data
    }

    @Test func administrativeCommandsLeaveASignedTrailThatVerifies() throws {
        try withTemporaryDirectory { directory in
            let data = try Self.administer(directory)
            let key = try RampartProcess.run(["audit", "key"] + data)
            #expect(key.status == 0 && key.stdout.trimmingCharacters(in: .newlines).count == 64)
            let keyFile = directory + "/data/audit.key"
            let mode = (try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? NSNumber)?.intValue
            #expect(mode == 0o600, "the signing key is owner-only")
            let verify = try RampartProcess.run(["audit", "verify"] + data)
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            // The first record names the key pair made for the trail; then the eight commands.
            #expect(verify.stdout.contains("records: 9 (1...9)") && verify.stdout.contains("last at record 9"))
            #expect(verify.stdout.hasSuffix("intact\n"))
            // A failed command (no such account) changes nothing and records nothing.
            #expect(try RampartProcess.run(["user", "remove", "nobody"] + data).status == 2)
            #expect(try RampartProcess.run(["audit", "verify"] + data).stdout.contains("records: 9 (1...9)"))
        }
    }

    /// Someone with the database edits it: the subject of a record, then a deleted row, then a forged checkpoint
    /// time. Each is named where it is, and verify exits 1.
    @Test func aDatabaseEditedByHandFailsVerification() throws {
        try withTemporaryDirectory { directory in
            let data = try Self.administer(directory)
            let database = try DatabaseQueue(path: directory + "/data/rampart.sqlite")
            try database.write { db in
                let content = try #require(try Data.fetchOne(db, sql: "SELECT content FROM auditRecord WHERE sequence = 3"))
                let edited = Data(String(decoding: content, as: UTF8.self).replacingOccurrences(of: "bob", with: "eve").utf8)
                try db.execute(sql: "UPDATE auditRecord SET content = ? WHERE sequence = 3", arguments: [edited])
            }
            var verify = try RampartProcess.run(["audit", "verify"] + data)
            #expect(verify.status == 1 && verify.stdout.contains("BROKEN: record 3: content changed"), "\(verify.stdout)")
            try database.write { db in try db.execute(sql: "DELETE FROM auditRecord WHERE sequence = 5") }
            verify = try RampartProcess.run(["audit", "verify"] + data)
            #expect(verify.status == 1 && verify.stdout.contains("BROKEN: record 5: deleted"), "\(verify.stdout)")
            // The key itself replaced (an attacker who signs anew): checked against the public key kept elsewhere.
            let published = directory + "/published.key"
            try RampartProcess.run(["audit", "key"] + data).stdout.write(toFile: published, atomically: true, encoding: .utf8)
            try FileManager.default.removeItem(atPath: directory + "/data/audit.key")
            // A trail without its key: nothing is recorded unsigned, and no key is made behind the operator's back.
            let refused = try RampartProcess.run(["ban", "add", "192.0.2.99"] + data)
            #expect(refused.status == 2 && refused.stderr.contains("audit.key is missing"), "\(refused.stderr)")
            #expect(try RampartProcess.run(["audit", "key"] + data).status == 2)
            #expect(try RampartProcess.run(["audit", "key", "--new"] + data).status == 0)  // a new key pair, recorded
            verify = try RampartProcess.run(["audit", "verify", "--public-key", published] + data)
            #expect(verify.status == 1 && !verify.stdout.contains("forged") && verify.stdout.contains("no checkpoint of "
                + "the trusted key vouches for"), "old checkpoints verify under the old key; the new one is not trusted")
            // Trusting the new key, the old checkpoints verify under the key the trail's first record names.
            verify = try RampartProcess.run(["audit", "verify"] + data)
            #expect(verify.status == 1 && !verify.stdout.contains("signature does not verify"), "\(verify.stdout)")
            // An unreadable key is a usage error, not a pass.
            try "not a key".write(toFile: directory + "/data/audit.key", atomically: true, encoding: .utf8)
            #expect(try RampartProcess.run(["audit", "verify"] + data).status == 2)
        }
    }

    /// An export is a self-contained bundle: it verifies in a directory that has nothing else, and an edit to it
    /// is found.
    @Test func anExportVerifiesElsewhereAndAnEditedOneDoesNot() throws {
        try withTemporaryDirectory { directory in
            let data = try Self.administer(directory)
            let bundle = directory + "/trail.json"
            let export = try RampartProcess.run(["audit", "export", "--out", bundle] + data)
            #expect(export.status == 0 && export.stdout.contains("exported 10 records"), "\(export.stdout)\(export.stderr)")
            let elsewhere = ["--data-dir", directory + "/elsewhere"]
            var verify = try RampartProcess.run(["audit", "verify", "--export", bundle] + elsewhere)
            #expect(verify.status == 0 && verify.stdout.hasSuffix("intact\n"), "\(verify.stdout)\(verify.stderr)")
            // A window: the records of the future hold nothing.
            let empty = try RampartProcess.run(["audit", "export", "--since", "2999-01-01T00:00:00Z", "--out",
                                                directory + "/none.json"] + data)
            #expect(empty.status == 2)

            let exported = try #require(FileManager.default.contents(atPath: bundle))
            var json = try #require(try JSONSerialization.jsonObject(with: exported) as? [String: Any])
            var records = try #require(json["records"] as? [[String: Any]])
            let second = try #require(records[2]["content"] as? String)
            let decoded = try #require(Data(base64Encoded: second))
            records[2]["content"] = Data(String(decoding: decoded, as: UTF8.self)
                .replacingOccurrences(of: "bob", with: "eve").utf8).base64EncodedString()
            json["records"] = records
            let edited = json
            // Content removed from the middle and called "withheld": still a break (withheld is only ever the tail).
            var hidden = records
            hidden[3]["content"] = NSNull()
            json["records"] = hidden
            json["withheld"] = [hidden[3]["sequence"] ?? 0]
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: bundle))
            let hiding = try RampartProcess.run(["audit", "verify", "--export", bundle] + elsewhere)
            #expect(hiding.status == 1 && hiding.stdout.contains("content removed without an audited erasure"),
                    "\(hiding.stdout)")
            json = edited
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: bundle))
            verify = try RampartProcess.run(["audit", "verify", "--export", bundle] + elsewhere)
            #expect(verify.status == 1 && verify.stdout.contains("record 3: content changed"), "\(verify.stdout)")
            try "{\"format\": \"something else\"}".write(toFile: bundle, atomically: true, encoding: .utf8)
            #expect(try RampartProcess.run(["audit", "verify", "--export", bundle] + elsewhere).status == 1)
        }
    }

    /// kill -9 while importing 20,000 accounts (before it writes, and while its transaction reaches the write-ahead
    /// log), and once not at all: the accounts and their audit records are stored together or not at all, and the
    /// trail verifies each time.
    @Test func aKilledImportLeavesTheChangeAndItsRecordsTogether() throws {
        try withTemporaryDirectory { directory in
            let data = ["--data-dir", directory + "/data"]
            #expect(try RampartProcess.run(["audit", "key"] + data).status == 0)
            let users = (0..<20_000).map { "u\($0);pw\($0);" }.joined(separator: "\n")
            try users.write(toFile: directory + "/users.txt", atomically: true, encoding: .utf8)
            let wal = directory + "/data/rampart.sqlite-wal"
            func walBytes() -> Int { ((try? FileManager.default.attributesOfItem(atPath: wal))?[.size] as? NSNumber)?.intValue ?? 0 }
            enum Crash { case whileHashing, whileCommitting, never }
            var outcomes: [Crash: Int] = [:]
            for crash in [Crash.whileHashing, .whileCommitting, .never] {
                let process = Process()
                process.executableURL = RampartProcess.executable
                process.arguments = ["user", "import", directory + "/users.txt"] + data
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                let started = Date()
                switch crash {
                case .whileHashing:
                    // Hashing 60,000 digests takes seconds: a moment into it, the store is not even open.
                    usleep(300_000)
                    kill(process.processIdentifier, SIGKILL)
                    #expect(walBytes() == 0, "killed before anything was written")
                case .whileCommitting:
                    // The transaction's pages reach the log: killed with part of it written.
                    while walBytes() < 256 * 1024, process.isRunning, Date().timeIntervalSince(started) < 60 {
                        usleep(200)
                    }
                    kill(process.processIdentifier, SIGKILL)
                case .never:
                    break
                }
                process.waitUntilExit()
                let database = try DatabaseQueue(path: directory + "/data/rampart.sqlite")
                let (accounts, records) = try database.read { db in
                    // Killed before the schema was committed, the store has no tables: nothing was stored.
                    func count(_ table: String) throws -> Int {
                        try db.tableExists(table) ? Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? -1 : 0
                    }
                    // The record that names the trail's key pair is not one of the import's.
                    let keyRecords = try db.tableExists("auditRecord") ? Int.fetchOne(db, sql: """
                        SELECT COUNT(*) FROM auditRecord WHERE instr(content, CAST('audit.key' AS BLOB)) > 0
                        """) ?? 0 : 0
                    return (try count("account"), try count("auditRecord") - keyRecords)
                }
                outcomes[crash] = accounts
                #expect(accounts == records, "killed \(crash): \(accounts) accounts, \(records) records")
                let verify = try RampartProcess.run(["audit", "verify"] + data)
                #expect(verify.status == 0, "\(verify.stdout)")
                try? FileManager.default.removeItem(atPath: directory + "/data/rampart.sqlite")
                for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: directory + "/data/rampart.sqlite" + suffix) }
            }
            #expect(outcomes[.whileHashing] == 0 && outcomes[.never] == 20_000, "\(outcomes)")
        }
    }

    /// The running edge records itself (issue 19): the configuration it started with, a scanner it detected and
    /// banned, and a checkpoint at its clean shutdown; killed with SIGKILL instead, every ban it stored has its record
    /// and the trail still verifies.
    @Test func theEdgeRecordsWhatItSawAndDidAndSignsAtShutdown() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            var server = try ServeProcess(dataDir: data, config: ServeWithPeersTests.sippConfig, listeners: ["udp"])
            _ = try AttackersWithPeersTests.sipvicious("svmap", port: server.ports["udp"]!, ip: "127.0.0.3", [],
                                                       directory: directory)
            #expect(try AttackersWithPeersTests.bans(data) { $0.contains("127.0.0.3") }.contains("127.0.0.3"))
            #expect(server.stop() == 0)
            var verify = try RampartProcess.run(["audit", "verify", "--data-dir", data])
            #expect(verify.status == 0 && !verify.stdout.contains("unsigned"), "signed at shutdown: \(verify.stdout)")
            let contents = try Self.contents(data)
            #expect(contents.contains { $0.contains("config.load") && $0.contains("edge") })
            #expect(contents.contains { $0.contains("security.ban") && $0.contains("127.0.0.3") })
            #expect(contents.contains { $0.contains("security.scanner-detected") })

            server = try ServeProcess(dataDir: data, config: ServeWithPeersTests.sippConfig, listeners: ["udp"])
            _ = try AttackersWithPeersTests.sipvicious("svmap", port: server.ports["udp"]!, ip: "127.0.0.4", [],
                                                       directory: directory)
            #expect(try AttackersWithPeersTests.bans(data) { $0.contains("127.0.0.4") }.contains("127.0.0.4"))
            kill(server.process.processIdentifier, SIGKILL)
            server.process.waitUntilExit()
            verify = try RampartProcess.run(["audit", "verify", "--data-dir", data])
            #expect(verify.status == 0, "\(verify.stdout)")
            let database = try DatabaseQueue(path: data + "/rampart.sqlite")
            let banned = try database.read { db in try String.fetchAll(db, sql: "SELECT subject FROM ban") }
            let recorded = try Self.contents(data)
            for subject in banned {
                #expect(recorded.contains { $0.contains("security.ban") && $0.contains(subject) }, "\(subject) has its record")
            }
        }
    }

    /// The audit records' contents as text (their canonical encoding, length prefixes and all).
    static func contents(_ data: String) throws -> [String] {
        try DatabaseQueue(path: data + "/rampart.sqlite").read { db in
            try Data.fetchAll(db, sql: "SELECT content FROM auditRecord WHERE content IS NOT NULL ORDER BY sequence")
                .map { String(decoding: $0, as: UTF8.self) }
        }
    }
}
