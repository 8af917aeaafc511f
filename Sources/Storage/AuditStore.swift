import AuditTrail

/// A change to what the edge stores, made in the same transaction as the audit record that says so: after a crash
/// (kill -9 at any moment) either both are stored or neither, so no change takes effect unrecorded.
public enum AuditedChange: Sendable {
    /// Nothing but the records (a security event, a configuration loaded, an export).
    case none
    case saveAccounts([Account])
    case removeAccount(username: String, domain: String)
    case bindDevice(fingerprint: String, username: String, domain: String)
    case unbindDevice(fingerprint: String)
    case saveBans([StoredBan])
    case removeBan(subject: String)
    /// Adds a token, or replaces the one of the same name.
    case saveAdminToken(AdminToken)
    case removeAdminToken(name: String)
}

/// The tamper-evident audit trail (``AuditTrail``): one chain per store, shared by every process that writes to it
/// (the edge and the CLI), each append chained after the last record inside the store's transaction.
public protocol AuditStore: Sendable {
    /// Makes `change` and appends a record for each of `contents`, in one transaction. Returns the records, and
    /// whether the change changed anything (false for a removal of something absent; the records are appended
    /// anyway, their outcome as the caller wrote it).
    /// - Throws: ``StorageError/Code/invalidInput`` for content beyond the trail's limits (nothing is stored).
    @discardableResult
    func audit(_ contents: [AuditContent], with change: AuditedChange) async throws(StorageError)
        -> (records: [AuditRecord], changed: Bool)
    /// Signs a checkpoint over the last record if it has none yet; the checkpoint, or nil when there was nothing
    /// new to sign. `time`: wall-clock milliseconds.
    @discardableResult
    func checkpointAudit(signer: AuditSigner, time: Int64) async throws(StorageError) -> AuditCheckpoint?
    /// Records from `sequence` on (at most `limit`), by sequence, as stored.
    func auditRecords(from sequence: Int64, limit: Int) async throws(StorageError) -> [AuditRecord]
    /// Every checkpoint, by sequence.
    func auditCheckpoints() async throws(StorageError) -> [AuditCheckpoint]
    /// The last record, and how many records follow the last checkpoint.
    func auditTail() async throws(StorageError) -> (last: AuditRecord?, uncheckpointed: Int)
    /// Erases the content of these records (their digests and links stay, so the chain still verifies) and
    /// appends the `audit.erase` record that lists them, in one transaction. Returns how many were erased.
    func eraseAuditContents(_ sequences: [Int64], by actor: AuditActor, subject: String, time: Int64,
                            signer: AuditSigner?) async throws(StorageError) -> Int
}

extension AuditStore {
    /// Appends records without any other change.
    @discardableResult
    public func audit(_ contents: AuditContent...) async throws(StorageError) -> [AuditRecord] {
        try await audit(contents, with: .none).records
    }
}

extension AuditContent {
    /// The `audit.erase` records for `sequences`, listed as ranges (`3,7-9`); as many records as the list needs
    /// to keep each within ``AuditContent/maximumFieldBytes``; each signed by `signer` (unsigned, `verify` does
    /// not count the erasure).
    public static func erasures(of sequences: [Int64], by actor: AuditActor, subject: String, time: Int64,
                                signer: AuditSigner?) -> [AuditContent]
    {
        var ranges: [(text: String, count: Int)] = []
        var sorted = Array(Set(sequences)).sorted()[...]
        while let first = sorted.popFirst() {
            var last = first
            while sorted.first == last + 1 { last = sorted.removeFirst() }
            ranges.append((first == last ? "\(first)" : "\(first)-\(last)", Int(last - first + 1)))
        }
        var records: [AuditContent] = []
        var list = "", count = 0
        func flush() {
            guard count > 0 else { return }
            let record = AuditContent(time: time, actor: actor, action: .auditErased, subject: subject,
                                      details: ["sequences": list, "count": "\(count)"])
            records.append(signer?.signed(record) ?? record)
            (list, count) = ("", 0)
        }
        for range in ranges {
            if list.utf8.count + range.text.utf8.count + 1 > maximumFieldBytes { flush() }
            list += list.isEmpty ? range.text : "," + range.text
            count += range.count
        }
        flush()
        return records
    }
}

/// Appends to a chain inside a store's transaction: the chain resumes after the stored last record.
public enum AuditAppending {
    public static func records(_ contents: [AuditContent], after last: AuditRecord?) throws(StorageError) -> [AuditRecord] {
        var chain = AuditChain(after: last, now: .zero)
        var records: [AuditRecord] = []
        for content in contents {
            do { records.append(try chain.append(content)) } catch {
                throw StorageError(.invalidInput, "an audit record beyond the trail's limits: \(error.code)")
            }
        }
        return records
    }
}
