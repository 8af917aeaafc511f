import AuditTrail
import SIPMessage
import Storage

/// How long the edge keeps each kind of record (`[privacy]`), and how often it enforces that. Every run is an
/// audit record (`retention.run`, with its counts), in the transaction that erases.
public struct RetentionPolicy: Sendable {
    /// CDRs, by the start of the call; nil: kept.
    public var callRecords: Duration?
    /// What happens to an expired CDR.
    public var callRecordExpiry: RetentionPlan.CallRecordExpiry
    /// Security events; nil: kept (up to the count limit).
    public var securityEvents: Duration?
    /// Audit records' contents (their digests stay: the chain still verifies); nil: kept.
    public var auditContents: Duration?
    /// How often the job runs (it also runs when the edge starts).
    public var every: Duration

    public init(callRecords: Duration?, callRecordExpiry: RetentionPlan.CallRecordExpiry, securityEvents: Duration?,
                auditContents: Duration?, every: Duration) {
        (self.callRecords, self.callRecordExpiry, self.securityEvents) = (callRecords, callRecordExpiry, securityEvents)
        (self.auditContents, self.every) = (auditContents, max(.seconds(1), every))
    }

    /// The cutoffs of a run at `epochMilliseconds`.
    public func plan(at epochMilliseconds: Int64) -> RetentionPlan {
        RetentionPlan(
            callRecordsStartedBefore: callRecords.map { epochMilliseconds - $0.wholeMilliseconds },
            callRecordExpiry: callRecordExpiry,
            securityEventsBefore: securityEvents.map { (epochMilliseconds - $0.wholeMilliseconds) / 1_000 },
            auditContentsBefore: auditContents.map { epochMilliseconds - $0.wholeMilliseconds })
    }

    /// Runs the job once: erases or pseudonymises what expired, with its audit record; the counts.
    @discardableResult
    public func run(on store: any Store, by actor: AuditActor, signer: AuditSigner?, at epochMilliseconds: Int64,
                    dryRun: Bool = false)
        async throws(StorageError) -> LifecycleCounts
    {
        let plan = plan(at: epochMilliseconds)
        var cutoffs: [String: String] = [:]
        if let cutoff = plan.callRecordsStartedBefore { cutoffs["cdrs_before_ms"] = "\(cutoff)" }
        if let cutoff = plan.securityEventsBefore { cutoffs["security_events_before_s"] = "\(cutoff)" }
        if let cutoff = plan.auditContentsBefore { cutoffs["audit_contents_before_ms"] = "\(cutoff)" }
        let cutoffDetails = cutoffs
        return try await store.applyLifecycle(.retention(plan), dryRun: dryRun, erasedBy: actor, signer: signer,
                                              time: epochMilliseconds) { counts in
            [AuditContent(time: epochMilliseconds, actor: actor, action: .retentionRun, subject: "retention",
                          details: counts.auditDetails.merging(cutoffDetails) { first, _ in first })]
        }
    }
}
