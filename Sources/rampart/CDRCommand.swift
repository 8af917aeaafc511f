import ArgumentParser
import AuditTrail
import Crypto
import Foundation
import SecurityPolicy
import Storage

/// `rampart cdr list|export`: the call detail records in the store.
struct CDRCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cdr", abstract: "Read call detail records.", subcommands: [List.self, Export.self, Erase.self, Pseudonym.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List call records, oldest first.")
        @OptionGroup var dataDirectory: DataDirectoryOption
        @OptionGroup var filter: CDRFilterOptions

        func run() async throws {
            let records = try await dataDirectory.openStore().callRecords(matching: filter.make())
            print("start                 duration  disposition  status  media                          caller -> callee")
            for record in records {
                let duration = record.durationSeconds.map { String(format: "%7.1fs", $0) } ?? "       -"
                print([
                    CDRFormat.timestamp(record.startedAtMilliseconds).padding(toLength: 21, withPad: " ", startingAt: 0),
                    duration, record.disposition.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0),
                    String(record.finalStatus).padding(toLength: 6, withPad: " ", startingAt: 0),
                    record.mediaEncryption.padding(toLength: 30, withPad: " ", startingAt: 0),
                    "\(record.caller) -> \(record.callee)",
                ].joined(separator: " "))
            }
            print("\(records.count) record\(records.count == 1 ? "" : "s")")
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Export call records as CSV or JSON.")
        @OptionGroup var dataDirectory: DataDirectoryOption
        @OptionGroup var filter: CDRFilterOptions
        @Option(name: .long, help: "csv or json.") var format: CDRFormat.Kind
        @Option(name: .long, help: "Write to this file instead of standard output.") var out: String?

        func run() async throws {
            let store = try dataDirectory.openStore()
            let records = try await store.callRecords(matching: filter.make())
            // Who took which records where is itself evidence (personal data leaving the store): recorded first.
            var details = ["count": "\(records.count)", "format": "\(format)"]
            for (name, value) in [("since", filter.since), ("until", filter.until), ("party", filter.party),
                                  ("account", filter.account), ("disposition", filter.disposition?.rawValue)] {
                if let value { details[name] = value }
            }
            try await dataDirectory.audited(.recordsExported, subject: out ?? "(standard output)", details: details,
                                            change: .none, in: store)
            let bytes = try format == .csv ? Array(CDRFormat.csv(records).utf8) : CDRFormat.json(records)
            guard let out else {
                FileHandle.standardOutput.write(Data(bytes))
                return
            }
            guard FileManager.default.createFile(atPath: out, contents: Data(bytes),
                                                 attributes: [.posixPermissions: 0o600]) else {
                throw UsageError(message: "cannot write \(out)")
            }
        }
    }
}

extension CDRCommand {
    /// Deletes the records of calls started before a time, as the retention job would, recorded as `cdr.erase`.
    struct Erase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erase the records of calls started before a time (audited as cdr.erase, with the count).")
        @OptionGroup var dataDirectory: DataDirectoryOption
        @Option(name: .long, help: "Erase calls started before this time (ISO 8601, or seconds since the epoch).")
        var before: String
        @Flag(name: .long, help: "Count what would be erased; change nothing.") var dryRun = false

        func run() async throws {
            guard let cutoff = CDRFormat.milliseconds(before) else {
                throw UsageError(message: "--before must be ISO 8601 or seconds since the epoch, not \(before)")
            }
            let store = try dataDirectory.openStore()
            let before = CDRFormat.timestamp(cutoff)
            let counts = try await dataDirectory.lifecycle(in: store, dryRun: dryRun) { actor, signer, time in
                try await store.applyLifecycle(
                    .retention(RetentionPlan(callRecordsStartedBefore: cutoff, callRecordExpiry: .erase)),
                    dryRun: dryRun, erasedBy: actor, signer: signer, time: time
                ) { counts in
                    [AuditContent(time: time, actor: actor, action: .recordsErased,
                                  subject: "calls started before \(before)",
                                  details: ["count": "\(counts.callRecordsErased)"])]
                }
            }
            let count = counts.callRecordsErased
            print("\(dryRun ? "would erase" : "erased") \(count) record\(count == 1 ? "" : "s")")
        }
    }
}

/// The filters `cdr list` and `cdr export` share.
struct CDRFilterOptions: ParsableArguments {
    @Option(name: .long, help: "Only calls started at or after this time (ISO 8601, or seconds since the epoch).")
    var since: String?
    @Option(name: .long, help: "Only calls started before this time (ISO 8601, or seconds since the epoch).")
    var until: String?
    @Option(name: .long, help: "Only calls with this caller or callee (as stored).") var party: String?
    @Option(name: .long, help: "Only calls placed by this account (user@domain).") var account: String?
    @Option(name: .long, help: "Only calls that ended this way: \(CallDetailRecord.Disposition.allCases.map(\.rawValue).joined(separator: ", ")).")
    var disposition: CallDetailRecord.Disposition?
    @Option(name: .long, help: "At most this many records (1-\(CallRecordFilter.maxLimit)).") var limit = 1_000

    func validate() throws {
        guard (1...CallRecordFilter.maxLimit).contains(limit) else {
            throw ValidationError("--limit must be between 1 and \(CallRecordFilter.maxLimit)")
        }
        for (name, value) in [("--since", since), ("--until", until)] {
            if let value, CDRFormat.milliseconds(value) == nil {
                throw ValidationError("\(name) takes an ISO 8601 time such as 2026-11-23T10:00:00Z or epoch seconds")
            }
        }
    }

    func make() -> CallRecordFilter {
        CallRecordFilter(startedFrom: since.flatMap(CDRFormat.milliseconds),
                         startedBefore: until.flatMap(CDRFormat.milliseconds), party: party, account: account,
                         disposition: disposition, limit: limit)
    }
}

extension CallDetailRecord.Disposition: ExpressibleByArgument {}

/// CDR times and export formats.
enum CDRFormat {
    enum Kind: String, ExpressibleByArgument, CaseIterable { case csv, json }

    /// Milliseconds since the epoch from ISO 8601 (with or without fractional seconds) or epoch seconds.
    static func milliseconds(_ text: String) -> Int64? {
        if let seconds = Int64(text), seconds >= 0, seconds < 1 << 40 { return seconds * 1000 }
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        formatter.formatOptions.insert(.withFractionalSeconds)
        return formatter.date(from: text).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
    }

    /// ISO 8601 in UTC with milliseconds.
    static func timestamp(_ milliseconds: Int64?) -> String {
        guard let milliseconds else { return "" }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions.insert(.withFractionalSeconds)
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    static let csvColumns = [
        "id", "started", "answered", "ended", "duration_s", "caller", "callee", "account", "trunk", "disposition",
        "final_status", "hangup_side", "hangup_reason", "media_encryption", "srtp_suite", "security_events",
        "pseudonym_key", "identity",
    ]

    /// RFC 4180 CSV with a header line. A field that a spreadsheet would run as a formula (starting with `=`, `+`,
    /// `-`, `@`, tab or CR: parties and reasons come from the wire) is prefixed with `'`.
    static func csv(_ records: [CallDetailRecord]) -> String {
        var lines = [csvColumns.joined(separator: ",")]
        for record in records {
            let fields: [String] = [
                record.id, timestamp(record.startedAtMilliseconds), timestamp(record.answeredAtMilliseconds),
                timestamp(record.endedAtMilliseconds), record.durationSeconds.map { String(format: "%.3f", $0) } ?? "",
                record.caller, record.callee, record.account ?? "", record.trunk ?? "", record.disposition.rawValue,
                String(record.finalStatus), record.hangupSide?.rawValue ?? "", record.hangupReason ?? "",
                record.mediaEncryption, record.srtpSuite ?? "", record.securityEvents.joined(separator: " "),
                record.pseudonymKeyID ?? "", record.identity ?? "",
            ]
            lines.append(fields.map(csvField).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func csvField(_ value: String) -> String {
        var value = value
        if let first = value.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { value = "'" + value }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// One JSON object per record, times in ISO 8601 and milliseconds, sorted keys.
    static func json(_ records: [CallDetailRecord]) throws -> [UInt8] {
        struct Row: Encodable {
            let record: CallDetailRecord
            let started: String
            let answered: String?
            let ended: String?
            let durationSeconds: Double?

            func encode(to encoder: any Encoder) throws {
                try record.encode(to: encoder)
                var container = encoder.container(keyedBy: Key.self)
                try container.encode(started, forKey: Key("started"))
                try container.encodeIfPresent(answered, forKey: Key("answered"))
                try container.encodeIfPresent(ended, forKey: Key("ended"))
                try container.encodeIfPresent(durationSeconds, forKey: Key("durationSeconds"))
            }

            struct Key: CodingKey {
                let stringValue: String
                init(_ string: String) { stringValue = string }
                init?(stringValue: String) { self.stringValue = stringValue }
                var intValue: Int? { nil }
                init?(intValue: Int) { nil }
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let rows = records.map {
            Row(record: $0, started: timestamp($0.startedAtMilliseconds),
                answered: $0.answeredAtMilliseconds.map { timestamp($0) }, ended: $0.endedAtMilliseconds.map { timestamp($0) },
                durationSeconds: $0.durationSeconds)
        }
        return Array(try encoder.encode(rows)) + [0x0A]
    }
}

extension CDRCommand {
    /// What a party is called in CDRs written with `calls.cdr_parties = "pseudonymised"`, for `--party` searches.
    struct Pseudonym: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the pseudonym CDRs give a party or account (with calls.cdr_parties = \"pseudonymised\").")
        @Argument(help: "The party as the edge names it: sip:user@domain, or user@domain for the account.")
        var party: String
        @Flag(help: "Print its pseudonym under every key kept (current first), each after the key's id.")
        var allKeys = false
        @OptionGroup var data: DataDirectoryOption

        func run() throws {
            let directory = DataDirectory(path: data.dataDir)
            guard FileManager.default.fileExists(atPath: directory.file(DataDirectory.pseudonymKeyFile)) else {
                throw UsageError(message: "no pseudonym key in \(data.dataDir): CDR parties are stored in clear")
            }
            try directory.create()  // owner-only: the key is a secret
            let keys = try directory.pseudonymizers()
            if allKeys {
                for key in keys { print("\(key.keyID) \(key.pseudonym(for: party))") }
            } else if let current = keys.first {
                print(current.pseudonym(for: party))
            }
        }
    }
}

extension DataDirectory {
    static let pseudonymKeyFile = "cdr-pseudonym.key"

    /// The current pseudonymizer, its 256-bit key in the data directory (owner-only), created on first use. Keep
    /// the key: pseudonyms only correlate across restarts with the same one.
    func pseudonymizer() throws -> PartyPseudonymizer {
        if !FileManager.default.fileExists(atPath: file(Self.pseudonymKeyFile)) {
            try writePseudonymKeys([Self.newPseudonymKey()])
        }
        guard let current = try pseudonymizers().first else {
            throw UsageError(message: "\(file(Self.pseudonymKeyFile)) holds no key")
        }
        return current
    }

    /// Every pseudonym key kept, the current one first, then those rotated out (still kept so that records made
    /// with them can be found for an access or erasure request); none when the file does not exist.
    func pseudonymizers() throws -> [PartyPseudonymizer] {
        let path = file(Self.pseudonymKeyFile)
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(whereSeparator: \.isNewline).map { line in
            guard var bytes = Data(base64Encoded: line.trimmingCharacters(in: .whitespaces)), bytes.count >= 32 else {
                throw UsageError(message: "\(path) does not hold base64 keys of at least 256 bits, one a line")
            }
            defer { bytes.resetBytes(in: 0..<bytes.count) }
            do { return try PartyPseudonymizer(key: SymmetricKey(data: bytes)) } catch {
                throw UsageError(message: "\(path): \(error)")
            }
        }
    }

    /// Puts a new key first: records from now on are pseudonymised with it; the others stay for lookups.
    func rotatePseudonymKey() throws -> (current: PartyPseudonymizer, kept: Int) {
        let lines = try pseudonymKeyLines()
        try writePseudonymKeys([Self.newPseudonymKey()] + lines)
        return (try pseudonymizer(), lines.count)
    }

    /// Removes a key that is no longer current: the pseudonyms it made can no longer be linked to anyone.
    func dropPseudonymKey(id: String) throws {
        let lines = try pseudonymKeyLines()
        let keys = try pseudonymizers()
        guard let index = keys.firstIndex(where: { $0.keyID == id }) else {
            throw UsageError(message: "no pseudonym key \(id) in \(path)")
        }
        guard index > 0 else { throw UsageError(message: "\(id) is the current key: rotate first") }
        try writePseudonymKeys(lines.enumerated().filter { $0.offset != index }.map(\.element))
    }

    private func pseudonymKeyLines() throws -> [String] {
        let path = file(Self.pseudonymKeyFile)
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        return try String(contentsOfFile: path, encoding: .utf8).split(whereSeparator: \.isNewline).map(String.init)
    }

    private func writePseudonymKeys(_ lines: [String]) throws {
        try create()
        try writeSecret(lines.joined(separator: "\n") + "\n", to: file(Self.pseudonymKeyFile))
    }

    private static func newPseudonymKey() -> String {
        var generator = SystemRandomNumberGenerator()
        var key = [UInt8](repeating: 0, count: 32)
        for index in key.indices { key[index] = generator.next() }
        defer { key.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        return Data(key).base64EncodedString()
    }
}
