import AuditTrail
import Foundation
import GRDB
import Storage

extension SQLiteStore: DataLifecycleStore {
    public func applyLifecycle(_ change: LifecycleChange, dryRun: Bool, erasedBy actor: AuditActor,
                               signer: AuditSigner?, time: Int64,
                               audit: @escaping @Sendable (LifecycleCounts) -> [AuditContent]) async throws(StorageError)
        -> LifecycleCounts
    {
        do {
            // One transaction; a dry run makes the same change to count it, then rolls it back.
            return try await pool.writeWithoutTransaction { db in
                var counts = LifecycleCounts()
                try db.inTransaction(.immediate) {
                    counts = try Self.applyToTables(change, in: db)
                    var scan = AuditErasureScan(change)
                    let stored = try Row.fetchCursor(
                        db, sql: "SELECT sequence, content FROM auditRecord WHERE content IS NOT NULL ORDER BY sequence")
                    while let row = try stored.next(), scan.consider(row["sequence"], Array(row["content"] as Data)) {}
                    let erased = scan.sequences
                    counts.auditContents = erased.count
                    guard !dryRun else { return .rollback }
                    let erase = try db.cachedStatement(sql: "UPDATE auditRecord SET content = NULL WHERE sequence = ?")
                    for sequence in erased { try erase.execute(arguments: [sequence]) }
                    let contents = AuditContent.erasures(of: erased, by: actor, subject: change.auditName, time: time,
                                                         signer: signer)
                        + audit(counts)
                    try Self.insert(try AuditAppending.records(contents, after: try Self.lastAuditRecord(db)), in: db)
                    return .commit
                }
                return counts
            }
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(.unavailable, Self.describe(error))
        }
    }

    /// Makes the change to the tables other than the audit trail's, and counts what it touched.
    private static func applyToTables(_ change: LifecycleChange, in db: Database) throws -> LifecycleCounts {
        var counts = LifecycleCounts()
        switch change {
        case .retention(let plan):
            if let cutoff = plan.callRecordsStartedBefore {
                switch plan.callRecordExpiry {
                case .erase:
                    try db.execute(sql: "DELETE FROM callRecord WHERE startedAt < ?", arguments: [cutoff])
                    counts.callRecordsErased = db.changesCount
                case .pseudonymise(let pseudonymisation):
                    let rows = try Row.fetchAll(db, sql: """
                        SELECT id, caller, callee, account FROM callRecord WHERE startedAt < ?
                            AND (caller NOT LIKE 'anon:%' OR callee NOT LIKE 'anon:%' OR account NOT LIKE 'anon:%')
                        """, arguments: [cutoff])
                    let update = try db.cachedStatement(sql: """
                        UPDATE callRecord SET caller = ?, callee = ?, account = ?, pseudonymKey = ? WHERE id = ?
                        """)
                    for row in rows {
                        let record = CallDetailRecord(id: row["id"], startedAtMilliseconds: 0, caller: row["caller"],
                                                      callee: row["callee"], account: row["account"],
                                                      disposition: .failed, finalStatus: 0)
                        guard let changed = DataLifecycle.pseudonymised(record, by: pseudonymisation) else { continue }
                        try update.execute(arguments: [changed.caller, changed.callee, changed.account,
                                                       changed.pseudonymKeyID, changed.id])
                        counts.callRecordsPseudonymised += 1
                    }
                }
            }
            if let cutoff = plan.securityEventsBefore {
                try db.execute(sql: "DELETE FROM securityEvent WHERE time < ?", arguments: [cutoff])
                counts.securityEvents = db.changesCount
            }
        case .erasure(let subject):
            let naming = SubjectConditions(subject)
            let rows = try Row.fetchAll(db, sql: "SELECT id, caller, callee, account FROM callRecord WHERE "
                + naming.callRecord.sql, arguments: naming.callRecord.arguments)
            let update = try db.cachedStatement(sql: "UPDATE callRecord SET caller = ?, callee = ?, account = ? WHERE id = ?")
            for row in rows {
                let record = CallDetailRecord(id: row["id"], startedAtMilliseconds: 0, caller: row["caller"],
                                              callee: row["callee"], account: row["account"], disposition: .failed,
                                              finalStatus: 0)
                guard let changed = DataLifecycle.redacted(record, of: subject) else { continue }
                try update.execute(arguments: [changed.caller, changed.callee, changed.account, changed.id])
                counts.callRecordsRedacted += 1
            }
            let events = naming.naming("account"), bans = naming.naming("subject")
            try db.execute(sql: "DELETE FROM securityEvent WHERE " + events.sql, arguments: events.arguments)
            counts.securityEvents = db.changesCount
            try db.execute(sql: "DELETE FROM ban WHERE " + bans.sql, arguments: bans.arguments)
            counts.bans = db.changesCount
            try db.execute(sql: "DELETE FROM registration WHERE aor = ?", arguments: [subject.addressOfRecord])
            counts.registrations = db.changesCount
            try db.execute(sql: "DELETE FROM deviceBinding WHERE username = ? AND domain = ?",
                           arguments: [subject.username, subject.domain])
            counts.deviceBindings = db.changesCount
            counts.accounts = try apply(.removeAccount(username: subject.username, domain: subject.domain), in: db) ? 1 : 0
        }
        return counts
    }

    public func subjectData(_ subject: DataSubject) async throws(StorageError) -> SubjectData {
        let limit = DataLifecycle.maximumRecordsPerKind
        let naming = SubjectConditions(subject)
        let rows = try await read { db in
            var data = SubjectData()
            if let row = try Row.fetchOne(db, sql: "SELECT strongDigestOnly FROM account WHERE username = ? AND domain = ?",
                                          arguments: [subject.username, subject.domain]) {
                let algorithms = try String.fetchAll(db, sql: """
                    SELECT algorithm FROM accountHA1 WHERE username = ? AND domain = ? ORDER BY algorithm
                    """, arguments: [subject.username, subject.domain])
                data.account = Account(username: subject.username, domain: subject.domain,
                                       ha1ByAlgorithm: Dictionary(uniqueKeysWithValues: algorithms.map { ($0, "") }),
                                       strongDigestOnly: row["strongDigestOnly"])
            }
            data.deviceFingerprints = try String.fetchAll(db, sql: """
                SELECT fingerprint FROM deviceBinding WHERE username = ? AND domain = ? ORDER BY fingerprint
                """, arguments: [subject.username, subject.domain])
            data.registrations = try Row.fetchAll(db, sql: "SELECT * FROM registration WHERE aor = ? ORDER BY rowid",
                                                  arguments: [subject.addressOfRecord]).map(Self.record)
            let events = naming.naming("account"), bans = naming.naming("subject")
            data.securityEvents = try Row.fetchAll(
                db, sql: "SELECT * FROM securityEvent WHERE \(events.sql) ORDER BY id LIMIT \(limit)",
                arguments: events.arguments).map(Self.securityEvent)
            data.bans = try Row.fetchAll(db, sql: "SELECT * FROM ban WHERE \(bans.sql) ORDER BY subject",
                                         arguments: bans.arguments).map(Self.ban)
            let cursor = try Row.fetchCursor(
                db, sql: "SELECT sequence, content FROM auditRecord WHERE content IS NOT NULL ORDER BY sequence")
            while let row = try cursor.next(), data.auditRecords.count < limit {
                guard let content = try? AuditContent(canonical: Array(row["content"] as Data)),
                    subject.isNamed(by: content)
                else { continue }
                data.auditRecords.append((row["sequence"], content))
            }
            let records = try Row.fetchAll(
                db, sql: "SELECT * FROM callRecord WHERE \(naming.callRecord.sql) ORDER BY startedAt, id LIMIT \(limit)",
                arguments: naming.callRecord.arguments).map { row in
                Result { () throws(StorageError) in try Self.callRecord(row) }
            }
            return (data, records)
        }
        var data = rows.0
        data.callRecords = try rows.1.map { (result) throws(StorageError) in try result.get() }
        return data
    }
}

/// The SQL conditions that find a data subject's rows (``DataSubject/isNamed(by:)``), with their arguments, for
/// both the erasure and the access request.
private struct SubjectConditions {
    let names: [String]
    let list: String
    let pairPrefix: String

    init(_ subject: DataSubject) {
        names = Array(subject.names)
        list = Array(repeating: "?", count: names.count).joined(separator: ", ")
        pairPrefix = subject.pairPrefix
    }

    /// `column` names the subject, exactly or as a ban of the account from one address (`alice@192.0.2.7`).
    func naming(_ column: String) -> (sql: String, arguments: StatementArguments) {
        ("\(column) IN (\(list)) OR substr(\(column), 1, ?) = ?",
         StatementArguments(names + [pairPrefix.utf8.count, pairPrefix] as [any DatabaseValueConvertible]))
    }

    /// A call record whose caller, callee or account names the subject.
    var callRecord: (sql: String, arguments: StatementArguments) {
        ("caller IN (\(list)) OR callee IN (\(list)) OR account IN (\(list))", StatementArguments(names + names + names))
    }
}
