import AuditTrail
import Foundation
import GRDB
import Storage
import StorageSQLite
import Testing

/// The audit trail in the stores: one chain per store, changes and their records in one transaction, checkpoints,
/// erasure that keeps the chain verifiable, and a database edited by hand found out.
@Suite struct AuditStoreTests {
    let admin = AuditActor(kind: .cli, name: "root@host")

    func content(_ action: AuditAction, _ subject: String, time: Int64 = 1_000) -> AuditContent {
        AuditContent(time: time, actor: admin, action: action, subject: subject)
    }

    func verify(_ store: any Store, key: AuditPublicKey) async throws -> AuditVerification {
        AuditVerifier.verify(records: try await store.auditRecords(from: 1, limit: 100_000),
                             checkpoints: try await store.auditCheckpoints(), publicKey: key)
    }

    @Test(arguments: StoreKind.allCases)
    func aChangeAndItsRecordAreStoredTogetherAndTheChainVerifies(_ kind: StoreKind) async throws {
        let store = try kind.make()
        let signer = AuditSigner()
        let alice = Account(username: "alice", domain: "example.com", ha1ByAlgorithm: ["SHA-256": sha256])
        let added = try await store.audit([content(.userAdded, "alice@example.com")], with: .saveAccounts([alice]))
        #expect(added.changed && added.records.map(\.sequence) == [1])
        #expect(try await store.account(username: "alice", domain: "example.com") != nil)
        let ban = StoredBan(subject: "192.0.2.66", reason: "scanner", evidenceCount: 3, createdAtEpochSeconds: 1,
                            expiresAtEpochSeconds: nil, offence: 1)
        try await store.audit([content(.banAdded, "192.0.2.66")], with: .saveBans([ban]))
        #expect(try await store.allBans().map(\.subject) == ["192.0.2.66"])
        let checkpoint = try #require(try await store.checkpointAudit(signer: signer, time: 5))
        #expect(checkpoint.sequence == 2)
        #expect(try await store.checkpointAudit(signer: signer, time: 6) == nil, "nothing new to sign")
        let removed = try await store.audit([content(.userRemoved, "bob@example.com")],
                                            with: .removeAccount(username: "bob", domain: "example.com"))
        #expect(!removed.changed && removed.records.map(\.sequence) == [3])
        let tail = try await store.auditTail()
        #expect(tail.last?.sequence == 3 && tail.uncheckpointed == 1)

        let result = try await verify(store, key: signer.publicKey)
        #expect(result.isIntact && result.records == 3 && result.lastCheckpoint == 2 && result.unsignedRecords == 1)
        let decoded = try AuditContent(canonical: try #require(try await store.auditRecords(from: 1, limit: 1)[0].content))
        #expect(decoded == content(.userAdded, "alice@example.com"))
    }

    /// A record beyond the trail's limits refuses the change with it: nothing half-done.
    @Test(arguments: StoreKind.allCases)
    func anOversizedRecordRollsTheChangeBack(_ kind: StoreKind) async throws {
        let store = try kind.make()
        let alice = Account(username: "alice", domain: "example.com", ha1ByAlgorithm: ["SHA-256": sha256])
        let huge = String(repeating: "x", count: AuditContent.maximumFieldBytes + 1)
        await #expect(throws: StorageError(.invalidInput, "")) {
            try await store.audit([content(.userAdded, huge)], with: .saveAccounts([alice]))
        }
        #expect(try await store.account(username: "alice", domain: "example.com") == nil)
        #expect(try await store.auditTail().last == nil)
    }

    /// Erasure keeps each record's digest and link and appends the audit.erase record: the trail verifies and
    /// names who erased what; erasing again erases nothing.
    @Test(arguments: StoreKind.allCases)
    func erasedContentsKeepTheChainVerifiable(_ kind: StoreKind) async throws {
        let store = try kind.make()
        let signer = AuditSigner()
        for index in 1...10 { try await store.audit(content(.banAdded, "198.51.100.\(index)")) }
        try await store.checkpointAudit(signer: signer, time: 1)
        let dpo = AuditActor(kind: .cli, name: "dpo@host")
        #expect(try await store.eraseAuditContents([2, 3, 4, 9, 99], by: dpo, subject: "198.51.100.x", time: 7, signer: signer) == 4)
        #expect(try await store.eraseAuditContents([2], by: dpo, subject: "198.51.100.x", time: 8, signer: signer) == 0)
        let records = try await store.auditRecords(from: 1, limit: 100)
        #expect(records.count == 11 && records.filter { $0.content == nil }.map(\.sequence) == [2, 3, 4, 9])
        let erasure = try AuditContent(canonical: try #require(records.last?.content))
        #expect(erasure.action == .auditErased && erasure.details["sequences"] == "2-4,9" && erasure.actor == dpo)
        let result = try await verify(store, key: signer.publicKey)
        #expect(result.isIntact, "\(result.breaks)")
        #expect(result.erasures.map(\.sequence) == [2, 3, 4, 9] && result.erasures.allSatisfy { $0.time == 7 })
    }

    /// Two writers (the edge and a CLI command) append to one chain: each append is chained inside its transaction.
    @Test func concurrentWritersShareOneChain() async throws {
        let path = temporaryDatabasePath()
        let first = try SQLiteStore(path: path), second = try SQLiteStore(path: path)
        await withThrowingTaskGroup(of: Void.self) { group in
            for (index, store) in [first, second].enumerated() {
                group.addTask {
                    for step in 0..<50 {
                        try await store.audit(AuditContent(time: Int64(step), actor: .edge, action: .banAdded,
                                                           subject: "writer-\(index)-\(step)"))
                    }
                }
            }
        }
        let signer = AuditSigner()
        try await first.checkpointAudit(signer: signer, time: 0)
        let result = try await verify(second, key: signer.publicKey)
        #expect(result.isIntact && result.records == 100 && result.lastCheckpoint == 100)
    }

    /// Somebody with the database file edits it by hand: changes a subject, deletes a row, rewrites a checkpoint.
    @Test func aDatabaseEditedByHandIsFoundOut() async throws {
        let path = temporaryDatabasePath()
        let store = try SQLiteStore(path: path)
        let signer = AuditSigner()
        for index in 1...20 {
            try await store.audit(content(.userAdded, "user\(index)@example.com"))
            if index % 10 == 0 { try await store.checkpointAudit(signer: signer, time: Int64(index)) }
        }
        let database = try DatabaseQueue(path: path)
        try await database.write { db in
            // A subject changed in place (the content's bytes), then a row removed.
            let content = try Data.fetchOne(db, sql: "SELECT content FROM auditRecord WHERE sequence = 5")!
            let edited = Data(String(decoding: content, as: UTF8.self).replacingOccurrences(of: "user5", with: "user6").utf8)
            try db.execute(sql: "UPDATE auditRecord SET content = ? WHERE sequence = 5", arguments: [edited])
            try db.execute(sql: "DELETE FROM auditRecord WHERE sequence = 15")
            try db.execute(sql: "UPDATE auditCheckpoint SET time = time + 1 WHERE sequence = 20")
        }
        let result = try await verify(store, key: signer.publicKey)
        #expect(result.breaks == [.contentChanged(sequence: 5), .missing(from: 15, through: 15),
                                  .forgedCheckpoint(sequence: 20)])
    }
}
