import Edge
import Foundation
import SecurityPolicy
import Storage

/// How stored records name people (`calls.cdr_parties`, `calls.cdr_parties_by_account`, a trunk's `cdr_parties`,
/// `privacy.ip_addresses`) and how long they are kept (`[privacy]`); made concrete once the data directory's
/// pseudonym key is at hand.
struct PrivacySettings: Equatable {
    enum Naming: String, Equatable { case clear, pseudonymised }
    enum AddressNaming: String, Equatable { case clear, truncated, pseudonymised }
    enum Expiry: String, Equatable { case erase, pseudonymise }

    var cdrParties = Naming.clear
    var cdrPartiesByAccount: [String: Naming] = [:]
    var cdrPartiesByTrunk: [String: Naming] = [:]
    var ipAddresses = AddressNaming.clear
    /// nil: kept for ever.
    var cdrRetention: Duration? = .seconds(365 * 86_400)
    var expiredCDRs = Expiry.pseudonymise
    var securityEventRetention: Duration? = .seconds(90 * 86_400)
    var auditContentRetention: Duration?
    var retentionEvery: Duration = .seconds(3_600)

    init() {}

    init(calls: ServeConfiguration.Calls?, trunks: [ServeConfiguration.Trunk]?, privacy: ServeConfiguration.Privacy?)
        throws
    {
        func naming(_ text: String?, _ name: String) throws -> Naming? {
            guard let text else { return nil }
            guard let naming = Naming(rawValue: text) else {
                throw UsageError(message: "\(name) must be \"clear\" or \"pseudonymised\"")
            }
            return naming
        }
        cdrParties = try naming(calls?.cdrParties, "calls.cdr_parties") ?? .clear
        for (account, text) in calls?.cdrPartiesByAccount ?? [:] {
            cdrPartiesByAccount[account] = try naming(text, "calls.cdr_parties_by_account.\(account)")
        }
        for trunk in trunks ?? [] {
            cdrPartiesByTrunk[trunk.name] = try naming(trunk.cdrParties, "trunks.\(trunk.name).cdr_parties")
        }
        let privacy = privacy ?? .init()
        if let text = privacy.ipAddresses {
            guard let naming = AddressNaming(rawValue: text) else {
                throw UsageError(message: "privacy.ip_addresses must be \"clear\", \"truncated\" or \"pseudonymised\"")
            }
            ipAddresses = naming
        }
        if let text = privacy.expiredCDRs {
            guard let expiry = Expiry(rawValue: text) else {
                throw UsageError(message: "privacy.expired_cdrs must be \"erase\" or \"pseudonymise\"")
            }
            expiredCDRs = expiry
        }
        /// Days as a duration (fractions allowed; 0 keeps for ever).
        func days(_ number: ServeConfiguration.Number?, _ name: String, default fallback: Duration?) throws -> Duration? {
            guard let days = number?.value else { return fallback }
            guard days.isFinite, days >= 0, days <= 36_500 else {
                throw UsageError(message: "\(name) must be 0 (keep) to 36500 days")
            }
            return days == 0 ? nil : .milliseconds(Int64((days * 86_400_000).rounded()))
        }
        cdrRetention = try days(privacy.cdrRetentionDays, "privacy.cdr_retention_days", default: cdrRetention)
        securityEventRetention = try days(privacy.securityEventRetentionDays, "privacy.security_event_retention_days",
                                          default: securityEventRetention)
        auditContentRetention = try days(privacy.auditContentRetentionDays, "privacy.audit_content_retention_days",
                                         default: nil)
        retentionEvery = .seconds(try ServeSettings.bounded(privacy.retentionEverySeconds,
                                                            "privacy.retention_every_seconds", default: 3_600,
                                                            in: 1...86_400))
    }

    /// Whether anything is pseudonymised (then the data directory's key is needed).
    var needsKey: Bool {
        cdrParties == .pseudonymised || cdrPartiesByAccount.values.contains(.pseudonymised)
            || cdrPartiesByTrunk.values.contains(.pseudonymised) || ipAddresses == .pseudonymised
            || (cdrRetention != nil && expiredCDRs == .pseudonymise)
    }

    /// The edge's naming of CDR parties and event addresses, with `key` for pseudonyms.
    func apply(to edge: inout EdgeService.Configuration, key: PartyPseudonymizer?) {
        func recording(_ naming: Naming) -> PartyRecording {
            guard naming == .pseudonymised, let key else { return .clear }
            return .pseudonymised(key)
        }
        edge.cdrParties = recording(cdrParties)
        edge.cdrPartiesByAccount = cdrPartiesByAccount.mapValues(recording)
        for index in edge.trunks.indices {
            edge.trunks[index].cdrParties = cdrPartiesByTrunk[edge.trunks[index].name].map(recording)
        }
        switch ipAddresses {
        case .clear: edge.securityEventAddresses = .clear
        case .truncated: edge.securityEventAddresses = .truncated
        case .pseudonymised: edge.securityEventAddresses = key.map { .pseudonymised($0) } ?? .truncated
        }
    }

    /// The retention job; nil when every kind is kept for ever.
    func retention(key: PartyPseudonymizer?) -> RetentionPolicy? {
        guard cdrRetention != nil || securityEventRetention != nil || auditContentRetention != nil else { return nil }
        var expiry = RetentionPlan.CallRecordExpiry.erase
        if expiredCDRs == .pseudonymise, let key {
            expiry = .pseudonymise(Pseudonymisation(keyID: key.keyID, pseudonym: { key.pseudonym(for: $0) }))
        }
        return RetentionPolicy(callRecords: cdrRetention, callRecordExpiry: expiry,
                               securityEvents: securityEventRetention, auditContents: auditContentRetention,
                               every: retentionEvery)
    }
}
