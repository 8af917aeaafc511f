import ArgumentParser
import AuditTrail
import Edge
import Foundation
import SecurityPolicy
import Storage
import StorageSQLite

/// `rampart privacy`: a data subject's access and erasure requests, the retention job by hand, the pseudonym keys.
struct PrivacyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "privacy", abstract: "Data subjects' requests, retention, and the pseudonym keys.",
        subcommands: [Export.self, Erase.self, Retain.self, Key.self])

    /// The subject as given: `alice@example.com`, `sip:+15551234567@example.com`, or a bare user with `--domain`.
    struct SubjectOptions: ParsableArguments {
        @Argument(help: "The account or number: user@domain, sip:user@domain, or user with --domain.")
        var subject: String
        @Option(name: .long, help: "The edge's domain, for a subject given without one.")
        var domain: String?

        /// The subject, with its pseudonyms under every key kept; lifecycle records name it by the current key's.
        func resolve(in directory: DataDirectory) throws -> DataSubject {
            var text = subject
            if text.lowercased().hasPrefix("sip:") { text.removeFirst(4) }
            let username: String
            let domain: String
            if let at = text.lastIndex(of: "@") {
                (username, domain) = (String(text[..<at]), String(text[text.index(after: at)...]))
            } else if let given = self.domain {
                (username, domain) = (text, given)
            } else {
                throw UsageError(message: "give the subject as user@domain, or its domain with --domain")
            }
            guard !username.isEmpty, !domain.isEmpty, username.utf8.count <= 256, domain.utf8.count <= 256,
                !(username + domain).utf8.contains(where: { $0 < 0x21 || $0 == 0x7F }), !domain.contains("@")
            else { throw UsageError(message: "not an account or number: \(subject)") }
            var resolved = DataSubject(username: username, domain: domain)
            let keys = try directory.pseudonymizers()
            for key in keys {
                resolved.pseudonyms.insert(key.pseudonym(for: resolved.addressOfRecord))
                resolved.pseudonyms.insert(key.pseudonym(for: resolved.accountName))
            }
            // Named in the trail by pseudonym only: the record of an erasure must not undo it.
            resolved.auditName = try directory.pseudonymizer().pseudonym(for: resolved.accountName)
            return resolved
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Everything stored about an account or number, for a data subject's access request.")
        @OptionGroup var subjectOptions: SubjectOptions
        @OptionGroup var data: DataDirectoryOption
        @Option(name: .long, help: "json (the only format).") var format = "json"
        @Option(name: .long, help: "Write to this file (owner-only) instead of standard output.") var out: String?

        func run() async throws {
            guard format == "json" else { throw UsageError(message: "--format must be json") }
            let directory = DataDirectory(path: data.dataDir)
            let store = try data.openStore()
            let subject = try subjectOptions.resolve(in: directory)
            let found = try await store.subjectData(subject)
            let report = SubjectReport(subject: subject, data: found)
            // Personal data leaving the store is itself evidence: recorded (by pseudonym) before it leaves.
            try await data.audited(.privacyExported, subject: subject.auditName,
                                   details: report.counts.merging(["to": out ?? "(standard output)"]) { $1 },
                                   change: .none, in: store)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let bytes = try encoder.encode(report) + Data([0x0A])
            guard let out else {
                FileHandle.standardOutput.write(bytes)
                return
            }
            try writeSecret(String(decoding: bytes, as: UTF8.self), to: out)
        }
    }

    struct Erase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erase an account or number everywhere (its CDR fields become 'erased'), audited, with counts.")
        @OptionGroup var subjectOptions: SubjectOptions
        @OptionGroup var data: DataDirectoryOption
        @Flag(name: .long, help: "Count what would be erased; change nothing.") var dryRun = false

        func run() async throws {
            let directory = DataDirectory(path: data.dataDir)
            let store = try data.openStore()
            let subject = try subjectOptions.resolve(in: directory)
            let counts = try await data.lifecycle(in: store, dryRun: dryRun) { actor, signer, time in
                try await store.applyLifecycle(.erasure(subject), dryRun: dryRun, erasedBy: actor, signer: signer,
                                               time: time) { counts in
                    [AuditContent(time: time, actor: actor, action: .privacyErased, subject: subject.auditName,
                                  details: counts.auditDetails)]
                }
            }
            print((dryRun ? "would erase: " : "erased: ") + PrivacyCommand.describe(counts))
        }
    }

    struct Retain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the retention job now, as `rampart serve` does every privacy.retention_every_seconds.")
        @Option(name: .long, help: "A TOML configuration file (its [privacy] table).") var config: String?
        @OptionGroup var data: DataDirectoryOption
        @Flag(name: .long, help: "Count what would be erased or pseudonymised; change nothing.") var dryRun = false

        func run() async throws {
            let file = try config.map(ServeConfiguration.load) ?? ServeConfiguration()
            let settings = try PrivacySettings(calls: file.calls, trunks: file.trunks, privacy: file.privacy)
            let directory = DataDirectory(path: data.dataDir)
            let store = try data.openStore()
            let key = settings.needsKey ? try directory.pseudonymizer() : nil
            guard let retention = settings.retention(key: key) else {
                print("nothing to do: every kind of record is kept for ever")
                return
            }
            let counts = try await data.lifecycle(in: store, dryRun: dryRun) { actor, signer, time in
                try await retention.run(on: store, by: actor, signer: signer, at: time, dryRun: dryRun)
            }
            print((dryRun ? "would expire: " : "expired: ") + PrivacyCommand.describe(counts))
        }
    }

    struct Key: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the pseudonym keys (current first), rotate to a new one, or drop an old one.")
        @OptionGroup var data: DataDirectoryOption
        @Flag(name: .long, help: "Make a new key current; the others are kept for lookups.") var rotate = false
        @Option(name: .long, help: "Remove this old key: its pseudonyms can no longer be linked to anyone.")
        var drop: String?

        func run() async throws {
            let directory = DataDirectory(path: data.dataDir)
            guard rotate || drop != nil else {
                let keys = try directory.pseudonymizers()
                guard !keys.isEmpty else {
                    throw UsageError(message: "no pseudonym key in \(data.dataDir): nothing is pseudonymised yet")
                }
                for (index, key) in keys.enumerated() { print(key.keyID + (index == 0 ? " (current)" : "")) }
                return
            }
            guard !(rotate && drop != nil) else { throw UsageError(message: "--rotate or --drop, not both") }
            let store = try data.openStore()
            if rotate {
                let before = try directory.pseudonymizers().first?.keyID ?? "none"
                let (current, kept) = try directory.rotatePseudonymKey()
                try await data.audited(.pseudonymKeyRotated, subject: current.keyID,
                                       details: ["previous": before, "kept": "\(kept)"], change: .none, in: store)
                print("\(current.keyID) (current); \(kept) older key\(kept == 1 ? "" : "s") kept")
            } else if let drop {
                try directory.dropPseudonymKey(id: drop)
                try await data.audited(.pseudonymKeyDropped, subject: drop, change: .none,
                                       in: store)
                print("\(drop) dropped")
            }
        }
    }

    static func describe(_ counts: LifecycleCounts) -> String {
        counts.auditDetails.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }
}

/// What `privacy export` writes: the subject and every record about it, times in ISO 8601 (UTC).
struct SubjectReport: Encodable {
    struct AccountEntry: Encodable {
        var username: String
        var domain: String
        /// The digest algorithms it has credentials for (the credentials themselves are not personal data of use
        /// to the subject, and are secrets).
        var digestAlgorithms: [String]
        var strongDigestOnly: Bool
    }
    struct Registration: Encodable {
        var contact: String
        var expires: String
        var userAgentInstance: String?
        var flow: String?
    }
    struct Event: Encodable {
        var time: String
        var kind: String
        var source: String?
        var account: String?
        var reason: String
    }
    struct Ban: Encodable {
        var subject: String
        var reason: String
        var since: String
        var until: String?
    }
    struct AuditEntry: Encodable {
        var sequence: Int64
        var time: String
        var actor: String
        var action: String
        var subject: String
        var details: [String: String]
    }

    var subject: String
    var generated: String
    var account: AccountEntry?
    var deviceCertificates: [String]
    var registrations: [Registration]
    var callRecords: [CallDetailRecord]
    var securityEvents: [Event]
    var bans: [Ban]
    var auditRecords: [AuditEntry]

    init(subject: DataSubject, data: SubjectData) {
        func time(seconds: Int64) -> String { CDRFormat.timestamp(seconds * 1000) }
        self.subject = subject.accountName
        generated = CDRFormat.timestamp(Int64(Date().timeIntervalSince1970 * 1000))
        account = data.account.map {
            AccountEntry(username: $0.username, domain: $0.domain, digestAlgorithms: $0.ha1ByAlgorithm.keys.sorted(),
                         strongDigestOnly: $0.strongDigestOnly)
        }
        deviceCertificates = data.deviceFingerprints
        registrations = data.registrations.map {
            Registration(contact: $0.contact, expires: time(seconds: $0.expiresAtEpochSeconds),
                         userAgentInstance: $0.instanceID, flow: $0.flow)
        }
        callRecords = data.callRecords
        securityEvents = data.securityEvents.map {
            Event(time: time(seconds: $0.epochSeconds), kind: $0.kind, source: $0.source, account: $0.account,
                  reason: $0.reason)
        }
        bans = data.bans.map {
            Ban(subject: $0.subject, reason: $0.reason, since: time(seconds: $0.createdAtEpochSeconds),
                until: $0.expiresAtEpochSeconds.map { time(seconds: $0) })
        }
        auditRecords = data.auditRecords.map {
            AuditEntry(sequence: $0.sequence, time: CDRFormat.timestamp($0.content.time),
                       actor: "\($0.content.actor.kind.rawValue):\($0.content.actor.name)", action: $0.content.action.rawValue,
                       subject: $0.content.subject, details: $0.content.details)
        }
    }

    /// How many records of each kind, for the audit record of the export.
    var counts: [String: String] {
        ["account": account == nil ? "0" : "1", "device_certificates": "\(deviceCertificates.count)",
         "registrations": "\(registrations.count)", "cdrs": "\(callRecords.count)",
         "security_events": "\(securityEvents.count)", "bans": "\(bans.count)", "audit_records": "\(auditRecords.count)"]
    }
}
