import Foundation
import Storage
import StorageSQLite
import Testing

@Suite struct CDRCommandTests {
    @Test func recordsAreListedFilteredAndExportedSafely() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-cdr-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let dataDir = directory.appendingPathComponent("data").path
        let data = ["--data-dir", dataDir]
        #expect(try RampartProcess.run(["user", "add", "alice", "--password", "pw"] + data).status == 0)
        let answered = CallDetailRecord(
            id: "call-1", startedAtMilliseconds: 1_795_000_000_000, answeredAtMilliseconds: 1_795_000_003_000,
            endedAtMilliseconds: 1_795_000_063_500, caller: "sip:alice@localhost", callee: "sip:bob@localhost",
            account: "alice@localhost", disposition: .answered, finalStatus: 200, hangupSide: .callee,
            hangupReason: "bye", mediaEncryption: "sdes-srtp/AEAD_AES_256_GCM", srtpSuite: "AEAD_AES_256_GCM")
        // A caller name an attacker chose: a spreadsheet formula, with a comma and a quote.
        let hostile = CallDetailRecord(
            id: "call-2", startedAtMilliseconds: 1_795_000_100_000, endedAtMilliseconds: 1_795_000_100_200,
            caller: "=HYPERLINK(\"http://evil\",\"x\")", callee: "sip:bob@localhost", disposition: .rejected,
            finalStatus: 488, mediaEncryption: "plain-rtp", securityEvents: ["media-downgrade-attempt"])
        try await SQLiteStore(path: dataDir + "/rampart.sqlite").saveCallRecords([answered, hostile])

        let list = try RampartProcess.run(["cdr", "list"] + data)
        #expect(list.status == 0)
        #expect(list.stdout.contains("60.5s answered    200    sdes-srtp/AEAD_AES_256_GCM"))
        #expect(list.stdout.hasSuffix("2 records\n"))
        let since = try RampartProcess.run(["cdr", "list", "--since", "2026-11-18T11:08:00Z"] + data)
        #expect(since.stdout.contains("rejected") && !since.stdout.contains("answered ") && since.stdout.hasSuffix("1 record\n"))

        let csv = try RampartProcess.run(["cdr", "export", "--format", "csv", "--disposition", "rejected"] + data)
        let lines = csv.stdout.components(separatedBy: "\r\n")
        #expect(lines[0].hasPrefix("id,started,answered,ended,duration_s,caller,callee,"))
        #expect(lines[1].hasPrefix("call-2,2026-11-18T11:08:20.000Z,,2026-11-18T11:08:20.200Z,,\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\","))
        #expect(lines[1].hasSuffix(",media-downgrade-attempt,,"), "no pseudonym key (parties in clear), no identity")

        let out = directory.appendingPathComponent("cdr.json").path
        #expect(try RampartProcess.run(["cdr", "export", "--format", "json", "--account", "alice@localhost", "--out", out]
            + data).status == 0)
        let json = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out)))
            as? [[String: Any]])
        #expect(json.count == 1)
        #expect(json[0]["id"] as? String == "call-1")
        #expect(json[0]["durationSeconds"] as? Double == 60.5)
        #expect(json[0]["answered"] as? String == "2026-11-18T11:06:43.000Z")
        #expect(json[0]["srtpSuite"] as? String == "AEAD_AES_256_GCM")
        // Each export is in the audit trail: who took how many records, filtered how, to where (issue 19).
        let exports = try AuditCommandTests.contents(dataDir).filter { $0.contains("cdr.export") }
        #expect(exports.count == 2 && exports[1].contains(out) && exports[1].contains("alice@localhost"))
        #expect(exports[0].contains("(standard output)") && exports[0].contains("rejected"))

        #expect(try RampartProcess.run(["cdr", "list", "--since", "yesterday"] + data).status == 2)
        #expect(try RampartProcess.run(["cdr", "export", "--format", "xml"] + data).status == 2)
        #expect(try RampartProcess.run(["cdr", "list", "--limit", "0"] + data).status == 2)
    }
}
