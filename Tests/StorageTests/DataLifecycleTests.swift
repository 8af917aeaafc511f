import AuditTrail
import Foundation
import Storage
import Testing

/// Retention and a data subject's access and erasure in both stores (issue 19): what expires goes, in clear or
/// as pseudonyms; a subject's records are found in every table and erased from every one, with the audit
/// contents naming it; the chain still verifies, and a dry run changes nothing.
@Suite struct DataLifecycleTests {
    let dpo = AuditActor(kind: .cli, name: "dpo@host")
    let signer = AuditSigner()
    let pseudonymisation = Pseudonymisation(keyID: "k0000beef") { "anon:" + String($0.reversed()) }
    let alice = DataSubject(username: "alice", domain: "example.com", pseudonyms: ["anon:old-alice"],
                            auditName: "anon:alice-now")

    func record(_ id: String, at start: Int64, caller: String, callee: String, account: String?) -> CallDetailRecord {
        CallDetailRecord(id: id, startedAtMilliseconds: start, caller: caller, callee: callee, account: account,
                         disposition: .answered, finalStatus: 200)
    }

    /// A store with two parties' data in every table, and audit records about each.
    func seeded(_ kind: StoreKind) async throws -> any Store {
        let store = try kind.make()
        for name in ["alice", "bob"] {
            let account = Account(username: name, domain: "example.com", ha1ByAlgorithm: ["SHA-256": sha256])
            try await store.audit([AuditContent(time: 1_000, actor: dpo, action: .userAdded, subject: "\(name)@example.com")],
                                  with: .saveAccounts([account]))
        }
        try await store.bindDevice(fingerprint: String(repeating: "ab", count: 32), username: "alice", domain: "example.com")
        try await store.replaceRegistrations(addressOfRecord: "sip:alice@example.com", with: [
            RegistrationRecord(addressOfRecord: "sip:alice@example.com", contact: "<sip:alice@192.0.2.7:5060>",
                               expiresAtEpochSeconds: 9_999_999_999, callID: "c", cseq: 1),
        ])
        try await store.saveCallRecords([
            record("old", at: 1_000, caller: "sip:alice@example.com", callee: "sip:bob@example.com",
                   account: "alice@example.com"),
            record("pseudonymous", at: 2_000, caller: "anon:old-alice", callee: "sip:+15550100@example.com",
                   account: "anon:old-alice"),
            record("new", at: 50_000, caller: "sip:bob@example.com", callee: "sip:carol@example.com",
                   account: "bob@example.com"),
            record("trunk", at: 1_500, caller: "sip:+15550100@example.com", callee: "sip:bob@example.com",
                   account: "trunk:carrier"),
        ])
        try await store.appendSecurityEvents([
            StoredSecurityEvent(epochSeconds: 1, kind: "auth-failure", source: "192.0.2.7", account: "alice", reason: "x"),
            StoredSecurityEvent(epochSeconds: 2, kind: "ban", source: "192.0.2.7", account: "alice@192.0.2.7", reason: "y"),
            StoredSecurityEvent(epochSeconds: 60, kind: "auth-failure", source: "192.0.2.8", account: "bob", reason: "z"),
        ], keeping: 100)
        try await store.saveBans([
            StoredBan(subject: "alice@192.0.2.7", reason: "brute force", evidenceCount: 5, createdAtEpochSeconds: 2,
                      expiresAtEpochSeconds: nil, offence: 1),
            StoredBan(subject: "192.0.2.9", reason: "scanner", evidenceCount: 5, createdAtEpochSeconds: 2,
                      expiresAtEpochSeconds: nil, offence: 1),
        ])
        try await store.audit(AuditContent(time: 2_000, actor: .edge, action: .securityEvent("ban"), subject: "alice",
                                           details: ["source": "192.0.2.7"]),
                              AuditContent(time: 60_000, actor: .edge, action: .securityEvent("auth-failure"),
                                           subject: "bob", details: ["source": "192.0.2.8"]))
        return store
    }

    func verify(_ store: any Store) async throws -> AuditVerification {
        try await store.checkpointAudit(signer: signer, time: 99_999)
        return AuditVerifier.verify(records: try await store.auditRecords(from: 1, limit: 100_000),
                                    checkpoints: try await store.auditCheckpoints(), publicKey: signer.publicKey)
    }

    func lastContent(_ store: any Store) async throws -> AuditContent {
        let last = try #require(try await store.auditTail().last)
        return try AuditContent(canonical: try #require(last.content))
    }

    @Test(arguments: StoreKind.allCases)
    func retentionPseudonymisesOrErasesWhatExpiredAndRecordsTheRun(_ kind: StoreKind) async throws {
        let store = try await seeded(kind)
        let plan = RetentionPlan(callRecordsStartedBefore: 10_000, callRecordExpiry: .pseudonymise(pseudonymisation),
                                 securityEventsBefore: 10, auditContentsBefore: 10_000)
        let audit: @Sendable (LifecycleCounts) -> [AuditContent] = { counts in
            [AuditContent(time: 70_000, actor: .edge, action: .retentionRun, subject: "retention",
                          details: counts.auditDetails)]
        }
        let dry = try await store.applyLifecycle(.retention(plan), dryRun: true, erasedBy: .edge, signer: signer, time: 70_000,
                                                 audit: audit)
        #expect(dry.callRecordsPseudonymised == 3 && dry.securityEvents == 2 && dry.auditContents == 3)
        #expect(try await store.callRecords(matching: .init()).first { $0.id == "old" }?.caller == "sip:alice@example.com",
                "a dry run changes nothing")
        #expect(try await store.auditTail().last?.sequence == 4, "and records nothing")

        let counts = try await store.applyLifecycle(.retention(plan), dryRun: false, erasedBy: .edge, signer: signer, time: 70_000,
                                                    audit: audit)
        #expect(counts == dry)
        let records = Dictionary(uniqueKeysWithValues: try await store.callRecords(matching: .init()).map { ($0.id, $0) })
        #expect(records["old"]?.caller == "anon:moc.elpmaxe@ecila:pis" && records["old"]?.pseudonymKeyID == "k0000beef")
        #expect(records["pseudonymous"]?.caller == "anon:old-alice", "a pseudonym is not pseudonymised again")
        #expect(records["pseudonymous"]?.callee.hasPrefix("anon:") == true)
        #expect(records["trunk"]?.account == "trunk:carrier", "a trunk is nobody's personal data")
        #expect(records["new"]?.caller == "sip:bob@example.com" && records["new"]?.pseudonymKeyID == nil)
        #expect(try await store.securityEvents(matching: .init()).map(\.account) == ["bob"])
        let run = try await lastContent(store)
        #expect(run.action == .retentionRun && run.details["cdrs_pseudonymised"] == "3"
            && run.details["security_events"] == "2" && run.details["audit_contents"] == "3")
        let verification = try await verify(store)
        #expect(verification.isIntact && verification.erasures.count == 3, "\(verification.breaks)")

        // Run again: nothing left to do, and the erase record itself is kept.
        let again = try await store.applyLifecycle(.retention(plan), dryRun: false, erasedBy: .edge, signer: signer, time: 80_000,
                                                   audit: audit)
        #expect(again.total == 0)
        let erase = RetentionPlan(callRecordsStartedBefore: 10_000, callRecordExpiry: .erase)
        #expect(try await store.applyLifecycle(.retention(erase), dryRun: false, erasedBy: .edge, signer: signer, time: 90_000,
                                               audit: audit).callRecordsErased == 3)
        #expect(try await store.callRecords(matching: .init()).map(\.id) == ["new"])
    }

    @Test(arguments: StoreKind.allCases)
    func aSubjectsDataIsFoundEverywhereAndErasedEverywhere(_ kind: StoreKind) async throws {
        let store = try await seeded(kind)
        let found = try await store.subjectData(alice)
        #expect(found.account?.username == "alice" && found.account?.ha1ByAlgorithm.values.allSatisfy(\.isEmpty) == true,
                "the algorithms, never the HA1s")
        #expect(found.deviceFingerprints.count == 1 && found.registrations.count == 1)
        #expect(found.callRecords.map(\.id) == ["old", "pseudonymous"], "in clear and by an old key's pseudonym")
        #expect(found.securityEvents.map(\.kind) == ["auth-failure", "ban"])
        #expect(found.bans.map(\.subject) == ["alice@192.0.2.7"])
        #expect(found.auditRecords.map(\.content.subject) == ["alice@example.com", "alice"])

        let audit: @Sendable (LifecycleCounts) -> [AuditContent] = { [dpo, alice] counts in
            [AuditContent(time: 70_000, actor: dpo, action: .privacyErased, subject: alice.auditName,
                          details: counts.auditDetails)]
        }
        let dry = try await store.applyLifecycle(.erasure(alice), dryRun: true, erasedBy: dpo, signer: signer, time: 70_000, audit: audit)
        #expect(dry.callRecordsRedacted == 2 && dry.securityEvents == 2 && dry.bans == 1 && dry.registrations == 1
            && dry.deviceBindings == 1 && dry.accounts == 1 && dry.auditContents == 2)
        #expect(try await store.subjectData(alice).callRecords.count == 2, "a dry run changes nothing")

        let counts = try await store.applyLifecycle(.erasure(alice), dryRun: false, erasedBy: dpo, signer: signer, time: 70_000,
                                                    audit: audit)
        #expect(counts == dry)
        let after = try await store.subjectData(alice)
        #expect(after.account == nil && after.deviceFingerprints.isEmpty && after.registrations.isEmpty
            && after.callRecords.isEmpty && after.securityEvents.isEmpty && after.bans.isEmpty && after.auditRecords.isEmpty)
        let records = Dictionary(uniqueKeysWithValues: try await store.callRecords(matching: .init()).map { ($0.id, $0) })
        #expect(records["old"]?.caller == "erased" && records["old"]?.callee == "sip:bob@example.com",
                "the other party's record of the call stays")
        #expect(records["pseudonymous"]?.account == "erased")
        #expect(try await store.account(username: "bob", domain: "example.com") != nil)
        #expect(try await store.allBans().map(\.subject) == ["192.0.2.9"])
        #expect(try await store.securityEvents(matching: .init()).map(\.account) == ["bob"])
        let record = try await lastContent(store)
        #expect(record.action == .privacyErased && record.subject == "anon:alice-now", "named by pseudonym only")
        let verification = try await verify(store)
        #expect(verification.isIntact && verification.erasures.count == 2, "\(verification.breaks)")
        #expect(try await store.applyLifecycle(.erasure(alice), dryRun: false, erasedBy: dpo, signer: signer, time: 80_000,
                                               audit: audit).total == 0, "the lifecycle's own records are kept")
    }

    /// A hostile subject (SQL LIKE wildcards, quotes) names nobody but itself.
    @Test(arguments: StoreKind.allCases)
    func wildcardsInASubjectMatchNothingElse(_ kind: StoreKind) async throws {
        let store = try await seeded(kind)
        for username in ["%", "_lice", "alice' OR '1'='1", "*"] {
            let subject = DataSubject(username: username, domain: "example.com")
            let found = try await store.subjectData(subject)
            #expect(found.callRecords.isEmpty && found.securityEvents.isEmpty && found.bans.isEmpty
                && found.auditRecords.isEmpty, "\(username)")
            let counts = try await store.applyLifecycle(.erasure(subject), dryRun: true, erasedBy: dpo, signer: signer, time: 1) { _ in [] }
            #expect(counts.total == 0, "\(username)")
        }
    }
}
