// Audit appends per second, release build, one task:
//   swift run -c release AuditBenchmark [records] [batch]
// Appends `records` security-event records (as the edge's flush writes them) to a fresh SQLite store in batches of
// `batch`, signing a checkpoint after every 1,000 records, then verifies the whole trail; prints records per second
// for the appends (chain, encoding, SHA-256 and the SQLite transaction) and for the verification. The anchor, in
// the same run, is the same batches stored without the audit trail (`appendSecurityEvents`), so the trail's own
// cost reads as a ratio.
import AuditTrail
import Foundation
import Storage
import StorageSQLite

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let total = arguments.first ?? 200_000
let batchSize = arguments.dropFirst().first ?? 1_000

func temporaryStore() throws -> (SQLiteStore, String) {
    let path = NSTemporaryDirectory() + "rampart-audit-bench-\(UUID().uuidString).sqlite"
    return (try SQLiteStore(path: path), path)
}

func events(_ batch: Int) -> [StoredSecurityEvent] {
    (0..<batchSize).map { index in
        StoredSecurityEvent(epochSeconds: 1_800_000_000 + Int64(batch), kind: "auth-failure",
                            source: "198.51.100.\(index % 250)", account: "user\(index)@example.com",
                            reason: "wrong password for user\(index)@example.com from 198.51.100.\(index % 250)")
    }
}

func seconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

let batches = total / batchSize
let (anchorStore, anchorPath) = try temporaryStore()
let anchor = try await seconds {
    for batch in 0..<batches { try await anchorStore.appendSecurityEvents(events(batch), keeping: .max) }
}

let (store, path) = try temporaryStore()
let signer = AuditSigner()
let appended = try await seconds {
    for batch in 0..<batches {
        let contents = events(batch).map { event in
            AuditContent(time: event.epochSeconds * 1_000, actor: .edge, action: .securityEvent(event.kind),
                         subject: event.account ?? "", details: ["reason": event.reason, "source": event.source ?? ""])
        }
        try await store.audit(contents, with: .none)
        if (batch + 1) * batchSize % 1_000 == 0 {
            try await store.checkpointAudit(signer: signer, time: Int64(batch))
        }
    }
}
var result: AuditVerification?
let verified = try await seconds {
    result = AuditVerifier.verify(records: try await store.auditRecords(from: 1, limit: .max),
                                  checkpoints: try await store.auditCheckpoints(), publicKey: signer.publicKey)
}
for file in [anchorPath, path] {
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: file + suffix) }
}
let records = Double(batches * batchSize)
print("records=\(batches * batchSize) batch=\(batchSize) intact=\(result?.isIntact == true)")
print(String(format: "anchor (events table only): %.0f records/s", records / anchor))
print(String(format: "audit appends with checkpoints: %.0f records/s  ratio to anchor %.2f", records / appended,
             anchor / appended))
print(String(format: "verification: %.0f records/s", records / verified))
