import AuditTrail

/// The data lifecycle (issue 19): what is kept about people, for how long, and how it is handed over or erased on
/// request. Retention and erasure change the store and append the audit records that say so in one transaction,
/// so a crash never leaves data erased without a record of it, nor a record of an erasure that did not happen.

/// A data subject: an account, or a number, as the edge names it under its domain (`alice@example.com`,
/// `+15551234567@example.com`). Parties in CDRs are `sip:USER@DOMAIN`, accounts `USER@DOMAIN`; bans and security
/// events name accounts by their user name.
public struct DataSubject: Hashable, Sendable {
    public let username: String
    public let domain: String
    /// What the subject's parties and account are called in pseudonymised CDRs, under every key still kept.
    public var pseudonyms: Set<String>
    /// How the lifecycle's own audit records name the subject: its pseudonym under the current key, never the
    /// subject in clear (those records are kept after the erasure, as its proof).
    public var auditName: String

    public init(username: String, domain: String, pseudonyms: Set<String> = [], auditName: String = "data subject") {
        self.username = username
        self.domain = domain.lowercased()
        self.pseudonyms = pseudonyms
        self.auditName = auditName
    }

    /// `sip:alice@example.com`: a CDR party, a registration's address-of-record.
    public var addressOfRecord: String { "sip:\(username)@\(domain)" }
    /// `alice@example.com`: a CDR's account, an audit record's subject.
    public var accountName: String { "\(username)@\(domain)" }

    /// Every exact value of a field that names the subject.
    public var names: Set<String> {
        pseudonyms.union([username, accountName, addressOfRecord, "account:\(username)"])
    }

    /// `alice@`: the start of a ban of the account from one address (`alice@192.0.2.7`).
    public var pairPrefix: String { username + "@" }

    /// Whether a field's value names the subject (exactly, or as a ban of the account from one address).
    public func isNamed(by value: String?) -> Bool {
        guard let value else { return false }
        return names.contains(value) || value.hasPrefix(pairPrefix)
    }

    /// Whether an audit record's content is about the subject: its subject or one of its details names it.
    /// Records of the lifecycle itself (erasures, retention runs, privacy requests) name nobody in clear and are
    /// kept: they are the proof that the data was handled as the law requires.
    public func isNamed(by content: AuditContent) -> Bool {
        guard !DataLifecycle.keepsContent(of: content.action) else { return false }
        return isNamed(by: content.subject) || content.details.values.contains { names.contains($0) }
    }
}

/// A keyed pseudonymisation: the current key's identifier and the function that names a party under it.
public struct Pseudonymisation: Sendable {
    /// Stored with each pseudonymised CDR, so that a lookup after a key rotation knows which key made it.
    public let keyID: String
    public let pseudonym: @Sendable (String) -> String

    public init(keyID: String, pseudonym: @escaping @Sendable (String) -> String) {
        self.keyID = keyID
        self.pseudonym = pseudonym
    }
}

/// What the retention job does to expired records. Each limit is a cutoff: records older are expired; nil keeps
/// that kind for ever.
public struct RetentionPlan: Sendable {
    /// What happens to an expired CDR.
    public enum CallRecordExpiry: Sendable {
        /// Deleted.
        case erase
        /// Its parties and account replaced by pseudonyms (kept for traffic statistics and billing disputes).
        case pseudonymise(Pseudonymisation)
    }

    /// CDRs of calls started before this time (milliseconds since 1970).
    public var callRecordsStartedBefore: Int64?
    public var callRecordExpiry: CallRecordExpiry
    /// Security events before this time (seconds since 1970).
    public var securityEventsBefore: Int64?
    /// The contents of audit records written before this time (milliseconds): their digests and links stay, so
    /// the chain still verifies ("erased on DATE by retention").
    public var auditContentsBefore: Int64?

    public init(callRecordsStartedBefore: Int64? = nil, callRecordExpiry: CallRecordExpiry = .erase,
                securityEventsBefore: Int64? = nil, auditContentsBefore: Int64? = nil) {
        self.callRecordsStartedBefore = callRecordsStartedBefore
        self.callRecordExpiry = callRecordExpiry
        self.securityEventsBefore = securityEventsBefore
        self.auditContentsBefore = auditContentsBefore
    }
}

/// A lifecycle change: the retention job's run, or a data subject's erasure.
public enum LifecycleChange: Sendable {
    case retention(RetentionPlan)
    /// Every trace of the subject: its CDR fields replaced by ``DataLifecycle/erasedParty``, its security
    /// events, bans, registrations, device bindings and account deleted, the audit contents naming it erased.
    case erasure(DataSubject)
}

extension LifecycleChange {
    /// The subject of the `audit.erase` records the change appends.
    public var auditName: String {
        switch self {
        case .retention: "retention"
        case .erasure(let subject): subject.auditName
        }
    }
}

/// How many records a lifecycle change touched, by kind.
public struct LifecycleCounts: Hashable, Sendable, Codable {
    public var callRecordsErased = 0
    public var callRecordsPseudonymised = 0
    /// CDRs whose fields naming an erased subject were replaced (the calls themselves stay, for the other party).
    public var callRecordsRedacted = 0
    public var securityEvents = 0
    public var auditContents = 0
    public var bans = 0
    public var registrations = 0
    public var deviceBindings = 0
    public var accounts = 0

    public init() {}

    /// The counts as audit record details (every kind, zeros included: an auditor reads what was not touched).
    public var auditDetails: [String: String] {
        ["cdrs_erased": "\(callRecordsErased)", "cdrs_pseudonymised": "\(callRecordsPseudonymised)",
         "cdrs_redacted": "\(callRecordsRedacted)", "security_events": "\(securityEvents)",
         "audit_contents": "\(auditContents)", "bans": "\(bans)", "registrations": "\(registrations)",
         "device_bindings": "\(deviceBindings)", "accounts": "\(accounts)"]
    }

    /// Records touched in all.
    public var total: Int {
        callRecordsErased + callRecordsPseudonymised + callRecordsRedacted + securityEvents + auditContents + bans
            + registrations + deviceBindings + accounts
    }
}

/// Everything stored about a data subject, for an access request (GDPR art. 15).
public struct SubjectData: Sendable {
    /// The account, if there is one; its HA1 values are not part of an export (only the algorithms).
    public var account: Account?
    public var deviceFingerprints: [String] = []
    public var registrations: [RegistrationRecord] = []
    public var callRecords: [CallDetailRecord] = []
    public var securityEvents: [StoredSecurityEvent] = []
    public var bans: [StoredBan] = []
    /// The audit records about the subject whose contents are still stored.
    public var auditRecords: [(sequence: Int64, content: AuditContent)] = []

    public init() {}
}

/// Retention, erasure and access for data subjects. Implemented by each store, in its own transactions.
public protocol DataLifecycleStore: Sendable {
    /// Makes `change` (unless `dryRun`) and appends the `audit.erase` records for audit contents it erased (signed by
    /// `signer`), then the records `audit` writes from the counts, in one transaction. Returns the counts: with
    /// `dryRun`, what the change would touch (nothing is changed or appended).
    func applyLifecycle(_ change: LifecycleChange, dryRun: Bool, erasedBy actor: AuditActor, signer: AuditSigner?,
                        time: Int64,
                        audit: @escaping @Sendable (LifecycleCounts) -> [AuditContent]) async throws(StorageError)
        -> LifecycleCounts
    /// Everything stored about the subject (at most ``DataLifecycle/maximumRecordsPerKind`` of each kind).
    func subjectData(_ subject: DataSubject) async throws(StorageError) -> SubjectData
}

/// The rules both stores apply.
public enum DataLifecycle {
    /// What an erased subject's CDR fields become.
    public static let erasedParty = "erased"
    /// Most records of one kind an access request returns.
    public static let maximumRecordsPerKind = 100_000

    /// Whether the audit contents of this action are kept by retention and erasure: the records of the
    /// lifecycle itself, which name subjects only by pseudonym.
    public static func keepsContent(of action: AuditAction) -> Bool {
        action == .auditErased || action.rawValue.hasPrefix("retention.") || action.rawValue.hasPrefix("privacy.")
    }

    /// Whether a CDR field still names someone in clear: not a pseudonym, not erased, not a trunk.
    public static func namesSomeone(_ field: String?) -> Bool {
        guard let field else { return false }
        return !field.hasPrefix("anon:") && field != erasedParty && !field.hasPrefix("trunk:")
    }

    /// A CDR with its clear fields replaced by pseudonyms; nil if nothing in it is in clear.
    public static func pseudonymised(_ record: CallDetailRecord, by pseudonymisation: Pseudonymisation)
        -> CallDetailRecord?
    {
        guard namesSomeone(record.caller) || namesSomeone(record.callee) || namesSomeone(record.account) else {
            return nil
        }
        var changed = record
        if namesSomeone(record.caller) { changed.caller = pseudonymisation.pseudonym(record.caller) }
        if namesSomeone(record.callee) { changed.callee = pseudonymisation.pseudonym(record.callee) }
        if let account = record.account, namesSomeone(account) { changed.account = pseudonymisation.pseudonym(account) }
        changed.pseudonymKeyID = pseudonymisation.keyID
        return changed
    }

    /// A CDR with the fields naming `subject` replaced by ``erasedParty``; nil if none does.
    public static func redacted(_ record: CallDetailRecord, of subject: DataSubject) -> CallDetailRecord? {
        let names = subject.names
        var changed = record
        if names.contains(record.caller) { changed.caller = erasedParty }
        if names.contains(record.callee) { changed.callee = erasedParty }
        if let account = record.account, names.contains(account) { changed.account = erasedParty }
        return changed == record ? nil : changed
    }

}

/// Finds the audit records whose contents a lifecycle change erases, among the stored contents from the oldest:
/// for retention, those written before the cutoff (up to the first written after it); for an erasure, those
/// naming the subject. Contents that do not decode are left for verify to report.
public struct AuditErasureScan {
    private let change: LifecycleChange
    /// The records found so far, by sequence.
    public private(set) var sequences: [Int64] = []

    public init(_ change: LifecycleChange) { self.change = change }

    /// Considers the next record; false once no later one can be erased.
    public mutating func consider(_ sequence: Int64, _ bytes: [UInt8]) -> Bool {
        guard let content = try? AuditContent(canonical: bytes) else { return true }
        switch change {
        case .retention(let plan):
            guard let cutoff = plan.auditContentsBefore, content.time < cutoff else { return false }
            if !DataLifecycle.keepsContent(of: content.action) { sequences.append(sequence) }
        case .erasure(let subject):
            if subject.isNamed(by: content) { sequences.append(sequence) }
        }
        return true
    }
}
