import ArgumentParser
import Edge
import Foundation
import SecurityPolicy
import Storage

/// `rampart ban list|add|remove`: the bans in the store. A running edge picks changes up within a second.
struct BanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ban", abstract: "List, add and remove bans of sources, accounts and (account, source) pairs.",
        subcommands: [List.self, Add.self, Remove.self])

    static let subjectHelp = ArgumentHelp(
        "An IPv4 address, an IPv6 address or /64 prefix, account:NAME, or NAME@ADDRESS for one account from one source.",
        valueName: "subject")

    static func subject(_ text: String) throws -> Ban.Subject {
        guard let subject = Ban.Subject(text) else {
            throw UsageError(message: "'\(text)' is not an address, account:NAME or NAME@ADDRESS")
        }
        return subject
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List bans with reason, evidence and expiry.")
        @OptionGroup var dataDirectory: DataDirectoryOption
        @Flag(name: .long, help: "Include bans that have ended but were not yet removed.") var all = false

        func run() async throws {
            let now = Int64(Date().timeIntervalSince1970)
            let bans = try await dataDirectory.openStore().allBans().filter {
                all || ($0.expiresAtEpochSeconds ?? .max) > now
            }
            print("subject                                  expires                   evidence  reason")
            for ban in bans {
                let expiry = ban.expiresAtEpochSeconds.map { CDRFormat.timestamp($0 * 1000) } ?? "never"
                print([ban.subject.padding(toLength: 40, withPad: " ", startingAt: 0),
                       expiry.padding(toLength: 25, withPad: " ", startingAt: 0),
                       String(ban.evidenceCount).padding(toLength: 9, withPad: " ", startingAt: 0), ban.reason]
                    .joined(separator: " "))
            }
            print("\(bans.count) ban\(bans.count == 1 ? "" : "s")")
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ban a subject (until removed, or for a time).")
        @Argument(help: BanCommand.subjectHelp) var subject: String
        @Option(name: .long, help: "Why (stored and listed).") var reason = "operator"
        @Option(name: .long, help: "How long, in seconds (default: until removed).") var seconds: Int64?
        @OptionGroup var dataDirectory: DataDirectoryOption

        func validate() throws {
            if let seconds, !(1...315_360_000).contains(seconds) {
                throw ValidationError("--seconds must be between 1 and 315360000")
            }
            guard reason.utf8.count <= 200 else { throw ValidationError("--reason is limited to 200 bytes") }
        }

        func run() async throws {
            let subject = try BanCommand.subject(subject)
            let now = Int64(Date().timeIntervalSince1970)
            let ban = Ban(subject: subject, reason: reason, evidenceCount: 0, createdAtEpochSeconds: now,
                          expiresAtEpochSeconds: seconds.map { now + $0 })
            let store = try dataDirectory.openStore()
            try await dataDirectory.audited(
                .banAdded, subject: subject.description,
                details: ["reason": reason, "seconds": seconds.map(String.init) ?? "until removed"],
                change: .saveBans([EdgeDefense.stored(ban)]), in: store)
            try await store.appendSecurityEvents([StoredSecurityEvent(
                epochSeconds: now, kind: SecurityEvent.Kind.ban.name, source: nil, account: nil,
                reason: "\(subject) banned by an operator: \(reason)")], keeping: 1_000_000)
            print("banned \(subject)" + (seconds.map { " for \($0) s" } ?? " until removed"))
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift a ban.")
        @Argument(help: BanCommand.subjectHelp) var subject: String
        @OptionGroup var dataDirectory: DataDirectoryOption

        func run() async throws {
            let subject = try BanCommand.subject(subject)
            let store = try dataDirectory.openStore()
            guard try await store.allBans().contains(where: { $0.subject == subject.description }) else {
                throw UsageError(message: "no ban of \(subject)")
            }
            try await dataDirectory.audited(.banRemoved, subject: subject.description,
                                            change: .removeBan(subject: subject.description), in: store)
            try await store.appendSecurityEvents([StoredSecurityEvent(
                epochSeconds: Int64(Date().timeIntervalSince1970), kind: SecurityEvent.Kind.unban.name, source: nil,
                account: nil, reason: "\(subject) unbanned by an operator")], keeping: 1_000_000)
            print("removed the ban of \(subject)")
        }
    }
}

/// `rampart events`: the security event log.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "List security events (auth failures, bans, scanners, rate limits...).")
    @OptionGroup var dataDirectory: DataDirectoryOption
    @Option(name: .long, help: "Only events at or after this time (ISO 8601, or seconds since the epoch).")
    var since: String?
    @Option(name: .long, help: ArgumentHelp("Only events of this type.", valueName: "type")) var type: String?
    @Option(name: .long, help: "Most events shown (the newest).") var limit = 1_000

    func validate() throws {
        if let since, CDRFormat.milliseconds(since) == nil {
            throw ValidationError("--since takes an ISO 8601 time such as 2026-11-23T10:00:00Z or epoch seconds")
        }
        if let type, SecurityEvent.Kind(name: type) == nil {
            throw ValidationError("--type must be one of " + SecurityEvent.Kind.all.map(\.name).joined(separator: ", "))
        }
        guard (1...100_000).contains(limit) else { throw ValidationError("--limit must be in 1...100000") }
    }

    func run() async throws {
        let filter = SecurityEventFilter(since: since.flatMap(CDRFormat.milliseconds).map { $0 / 1000 }, kind: type,
                                         limit: limit)
        let events = try await dataDirectory.openStore().securityEvents(matching: filter)
        for event in events {
            var line = CDRFormat.timestamp(event.epochSeconds * 1000) + "  " + event.kind
            if let source = event.source { line += "  source=\(source)" }
            if let account = event.account { line += "  account=\(account)" }
            line += "  \(event.reason)"
            print(line)
        }
        print("\(events.count) event\(events.count == 1 ? "" : "s")")
    }
}
