import ArgumentParser
import AuditTrail
import Foundation
import Storage
import StorageSQLite

/// The checkpoint signing key in the data directory (`audit.key`, owner-only): made at first use by `serve` or
/// any command that records an administrative action, its public key printed then and by `rampart audit key`.
struct AuditKeyFile {
    static let name = "audit.key"
    let directory: DataDirectory

    var path: String { directory.file(Self.name) }

    /// The key; made (its public half printed on standard error, and named by the trail's first record,
    /// `audit.key`, so that the verifier knows the key of every later checkpoint across rotations) only while the
    /// trail is empty. A key file that exists but does not read, or a trail whose key is gone, is an error: nothing
    /// is recorded unsigned, and a new key is made only on purpose (`rampart audit key --new`).
    func loadOrCreate(store: some AuditStore, actor: AuditActor = CommandActor.current) async throws -> AuditSigner {
        if FileManager.default.fileExists(atPath: path) { return try load() }
        guard try await store.auditTail().last == nil else {
            throw UsageError(message: "the audit trail has records but \(path) is missing: restore the key from a "
                + "backup (or make a new one with `rampart audit key --new`: earlier checkpoints then verify only "
                + "under the old public key)")
        }
        let signer = try create()
        try await store.audit(AuditContent(time: Int64(Date().timeIntervalSince1970 * 1000), actor: actor,
                                           action: .auditKeyCreated, subject: path,
                                           details: ["publicKey": signer.publicKey.text]))
        return signer
    }

    /// A new key pair in place of any other.
    func create() throws -> AuditSigner {
        let signer = AuditSigner()
        try writeSecret(Data(signer.rawRepresentation).base64EncodedString() + "\n", to: path)
        FileHandle.standardError.write(Data(
            "rampart: made the audit checkpoint key \(path); its public key (keep a copy elsewhere): \(signer.publicKey.text)\n".utf8))
        return signer
    }

    func load() throws -> AuditSigner {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let raw = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { throw UsageError(message: "cannot read the audit key \(path)") }
        do { return try AuditSigner(rawRepresentation: Array(raw)) } catch {
            throw UsageError(message: "\(path) is not an audit key: \(error)")
        }
    }
}

/// Who runs this command, for the audit trail: `user@host`.
enum CommandActor {
    static var current: AuditActor {
        let user = ProcessInfo.processInfo.environment["SUDO_USER"].map { "\($0) (sudo)" }
            ?? ProcessInfo.processInfo.environment["USER"] ?? "uid \(getuid())"
        return AuditActor(kind: .cli, name: "\(user)@\(ProcessInfo.processInfo.hostName)")
    }
}

extension DataDirectoryOption {
    /// Makes `change` and records it in the audit trail in one transaction, then signs a checkpoint over it (an
    /// administrative action is rare and worth signing at once). Whether the change changed anything.
    @discardableResult
    func audited(_ action: AuditAction, subject: String, details: [String: String] = [:],
                 change: AuditedChange, in store: SQLiteStore) async throws -> Bool {
        try await audited([(action, subject, details)], change: change, in: store)
    }

    /// A lifecycle change by this command (an erasure, a retention run): `apply` makes it as `actor` at `time`,
    /// its `audit.erase` records signed by the trail's key, and a checkpoint is signed over it after (not after a
    /// dry run, which records nothing). The counts `apply` returns.
    func lifecycle(in store: SQLiteStore, dryRun: Bool,
                   _ apply: (_ actor: AuditActor, _ signer: AuditSigner, _ time: Int64) async throws -> LifecycleCounts)
        async throws -> LifecycleCounts
    {
        let signer = try await AuditKeyFile(directory: DataDirectory(path: dataDir)).loadOrCreate(store: store)
        let time = Int64(Date().timeIntervalSince1970 * 1000)
        let counts = try await apply(CommandActor.current, signer, time)
        if !dryRun {
            try await store.checkpointAudit(signer: signer, time: time)
            RunningEdge(dataDirectory: dataDir).storeChanged()  // an erased account or ban ends at once
        }
        return counts
    }

    /// Several records with one change (an import of many accounts).
    @discardableResult
    func audited(_ records: [(action: AuditAction, subject: String, details: [String: String])],
                 change: AuditedChange, in store: SQLiteStore) async throws -> Bool {
        let signer = try await AuditKeyFile(directory: DataDirectory(path: dataDir)).loadOrCreate(store: store)
        let actor = CommandActor.current
        let time = Int64(Date().timeIntervalSince1970 * 1000)
        let contents = records.map {
            AuditContent(time: time, actor: actor, action: $0.action, subject: $0.subject, details: $0.details)
        }
        let changed = try await store.audit(contents, with: change).changed
        try await store.checkpointAudit(signer: signer, time: time)
        if changed { RunningEdge(dataDirectory: dataDir).storeChanged() }
        return changed
    }
}

/// A trail written out with everything needed to check it elsewhere: the public key, the link before its first
/// record, its records and the checkpoints over them. Contents in base64, digests and links in hexadecimal.
struct AuditExportBundle: Codable {
    static let format = "rampart-audit-export-1"

    struct Record: Codable {
        var sequence: Int64
        var contentDigest: String
        var link: String
        /// Nil when erased, or (``withheld``) outside the exported window.
        var content: String?
    }

    struct Checkpoint: Codable {
        var sequence: Int64
        var link: String
        var time: Int64
        var signature: String
    }

    var format = Self.format
    var publicKey: String
    var previousLink: String
    var records: [Record]
    /// Records after the window, up to the checkpoint that signs it, carried without content so the window's last
    /// records can be checked against that checkpoint.
    var withheld: [Int64]
    var checkpoints: [Checkpoint]
}

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "The tamper-evident audit trail: its key, offline verification, and verifiable exports.",
        subcommands: [Key.self, Verify.self, Export.self])

    struct Key: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the public key that checkpoints verify under (making the key pair for an empty trail).")
        @OptionGroup var data: DataDirectoryOption
        @Flag(name: .long, help: "Make a new key pair in place of a lost or compromised one (recorded in the trail).")
        var new = false

        func run() async throws {
            let store = try data.openStore()
            let keyFile = AuditKeyFile(directory: DataDirectory(path: data.dataDir))
            guard new else { return print(try await keyFile.loadOrCreate(store: store).publicKey.text) }
            let signer = try keyFile.create()
            let time = Int64(Date().timeIntervalSince1970 * 1000)
            try await store.audit(AuditContent(time: time, actor: CommandActor.current, action: .auditKeyReplaced,
                                               subject: keyFile.path, details: ["publicKey": signer.publicKey.text]))
            try await store.checkpointAudit(signer: signer, time: time)
            print(signer.publicKey.text)
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the whole trail offline; exit 0 intact, 1 broken, 2 usage.",
            discussion: """
                Reads the data directory's store (or an export) and reports each place the trail breaks: a record \
                changed, deleted, inserted or reordered, a checkpoint forged or no longer matching, a tail cut off \
                past a checkpoint, content removed without an audited erasure. Records after the last checkpoint \
                are counted as unsigned. The public key is the data directory's unless --public-key names a file \
                holding one (as printed by `rampart audit key`): give it when the data directory itself is in doubt.
                """)
        @OptionGroup var data: DataDirectoryOption
        @Option(name: .long, help: "An export bundle to verify instead of the data directory.") var export: String?
        @Option(name: .long, help: "A file with the public key (hexadecimal).") var publicKey: String?

        func run() async throws {
            let records: [AuditRecord], checkpoints: [AuditCheckpoint], key: AuditPublicKey
            var previous = AuditChain.genesis
            var withheld: Set<Int64> = []
            if let export {
                let bundle = try Self.read(export)
                records = try bundle.records.map(Self.record)
                checkpoints = try bundle.checkpoints.map(Self.checkpoint)
                previous = try Self.bytes(bundle.previousLink, "previousLink")
                // Withheld records are only ever the run after the window's last record shown: a gap in the middle
                // named "withheld" is content removed, and stays a break.
                let lastShown = records.filter { $0.content != nil }.map(\.sequence).max() ?? .min
                withheld = Set(bundle.withheld.filter { $0 > lastShown })
                if let publicKey { key = try Self.readKey(publicKey) } else {
                    key = try AuditPublicKey(text: bundle.publicKey)
                    // A bundle vouches for itself only as far as its key is the one the operator published.
                    print("public key: \(key.text) (the bundle's own: compare it with the published one, or give "
                        + "--public-key)")
                }
            } else {
                let directory = DataDirectory(path: data.dataDir)
                guard FileManager.default.fileExists(atPath: directory.file("rampart.sqlite")) else {
                    throw UsageError(message: "no store in \(data.dataDir)")
                }
                let store = try data.openStore()
                records = try await store.auditRecords(from: 1, limit: .max)
                checkpoints = try await store.auditCheckpoints()
                key = try publicKey.map(Self.readKey) ?? AuditKeyFile(directory: directory).load().publicKey
            }
            var result = AuditVerifier.verify(records: records, checkpoints: checkpoints, publicKey: key,
                                              previousLink: previous)
            // A record the export withheld is not erased: only its digest came along, to reach the checkpoint.
            result.breaks.removeAll {
                if case .unauditedErasure(let sequence) = $0 { withheld.contains(sequence) } else { false }
            }
            Self.report(result, withheld: withheld.count)
            if !result.isIntact { throw CheckFailed(exitCode: 1) }
        }

        /// An export that does not read is a broken trail (exit 1), said on standard error.
        static func unreadable(_ reason: String) -> CheckFailed {
            FileHandle.standardError.write(Data("rampart: \(reason)\n".utf8))
            return CheckFailed(exitCode: 1)
        }

        static func report(_ result: AuditVerification, withheld: Int) {
            let range = result.firstSequence.map { "\($0)...\(result.lastSequence ?? $0)" } ?? "none"
            print("records: \(result.records) (\(range))\(withheld > 0 ? ", \(withheld) withheld by the export" : "")")
            print("checkpoints: \(result.validCheckpoints) valid, last at record \(result.lastCheckpoint.map(String.init) ?? "none")")
            if result.unsignedRecords > 0 {
                print("unsigned: \(result.unsignedRecords) records after the last checkpoint")
            }
            for erasure in result.erasures {
                print("record \(erasure.sequence): erased on \(CDRFormat.timestamp(erasure.time)) by \(erasure.actor.name)")
            }
            for failure in result.breaks { print("BROKEN: \(failure)") }
            print(result.isIntact ? "intact" : "broken: \(result.breaks.count) place\(result.breaks.count == 1 ? "" : "s")")
        }

        static func read(_ path: String) throws -> AuditExportBundle {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw UsageError(message: "cannot read \(path)")
            }
            guard let bundle = try? JSONDecoder().decode(AuditExportBundle.self, from: data),
                bundle.format == AuditExportBundle.format
            else { throw Self.unreadable("\(path) is not a rampart audit export") }
            return bundle
        }

        static func readKey(_ path: String) throws -> AuditPublicKey {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw UsageError(message: "cannot read \(path)")
            }
            do { return try AuditPublicKey(text: text) } catch { throw UsageError(message: "\(path): \(error)") }
        }

        static func bytes(_ hex: String, _ field: String) throws -> [UInt8] {
            guard hex.utf8.count <= 256, let bytes = AuditHex.decode(hex) else {
                throw Self.unreadable("the export's \(field) is not hexadecimal")
            }
            return bytes
        }

        static func record(_ record: AuditExportBundle.Record) throws -> AuditRecord {
            var content: [UInt8]?
            if let encoded = record.content {
                guard let data = Data(base64Encoded: encoded) else {
                    throw Self.unreadable("record \(record.sequence): content is not base64")
                }
                content = Array(data)
            }
            return AuditRecord(sequence: record.sequence, contentDigest: try bytes(record.contentDigest, "contentDigest"),
                               link: try bytes(record.link, "link"), content: content)
        }

        static func checkpoint(_ checkpoint: AuditExportBundle.Checkpoint) throws -> AuditCheckpoint {
            AuditCheckpoint(sequence: checkpoint.sequence, link: try bytes(checkpoint.link, "link"), time: checkpoint.time,
                            signature: try bytes(checkpoint.signature, "signature"))
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a self-contained, verifiable bundle of the trail (or of a time window of it).")
        @OptionGroup var data: DataDirectoryOption
        @Option(name: .long, help: "First moment (ISO 8601, e.g. 2026-12-01T00:00:00Z).") var since: String?
        @Option(name: .long, help: "Last moment (ISO 8601).") var until: String?
        @Option(name: .long, help: "The file to write (owner-only).") var out: String

        func run() async throws {
            let bounds = try [since, until].map { text -> Int64? in
                guard let text else { return nil }
                guard let date = ISO8601DateFormatter().date(from: text) else {
                    throw ValidationError("'\(text)' is not an ISO 8601 time such as 2026-12-01T00:00:00Z")
                }
                return Int64(date.timeIntervalSince1970 * 1000)
            }
            let store = try data.openStore()
            let signer = try await AuditKeyFile(directory: DataDirectory(path: data.dataDir)).loadOrCreate(store: store)
            // The export is itself an audited action, and is signed before it is written, so it verifies whole.
            try await data.audited(.auditExported, subject: out,
                                   details: ["since": since ?? "", "until": until ?? ""], change: .none, in: store)
            let all = try await store.auditRecords(from: 1, limit: .max)
            let checkpoints = try await store.auditCheckpoints()
            func inWindow(_ record: AuditRecord) -> Bool {
                guard let content = record.content, let time = try? AuditContent(canonical: content).time else {
                    return true  // erased: its place in the window is unknown, so it is carried
                }
                return (bounds[0].map { time >= $0 } ?? true) && (bounds[1].map { time <= $0 } ?? true)
            }
            guard let first = all.firstIndex(where: inWindow), let last = all.lastIndex(where: inWindow) else {
                throw UsageError(message: "no audit records in that window")
            }
            // Up to the first checkpoint at or after the window's end, the rest withheld but for their digests.
            let signedThrough = checkpoints.map(\.sequence).filter { $0 >= all[last].sequence }.min()
            let end = signedThrough.flatMap { bound in all.lastIndex { $0.sequence <= bound } } ?? last
            let window = all[first...end]
            let withheld = window.filter { !inWindow($0) || $0.sequence > all[last].sequence }.map(\.sequence)
            let bundle = AuditExportBundle(
                publicKey: signer.publicKey.text,
                previousLink: AuditHex.encode(first > 0 ? all[first - 1].link : AuditChain.genesis),
                records: window.map { record in
                    AuditExportBundle.Record(
                        sequence: record.sequence, contentDigest: AuditHex.encode(record.contentDigest),
                        link: AuditHex.encode(record.link),
                        content: withheld.contains(record.sequence) ? nil : record.content.map { Data($0).base64EncodedString() })
                },
                withheld: withheld,
                checkpoints: checkpoints.filter { $0.sequence >= window.first!.sequence && $0.sequence <= window.last!.sequence }
                    .map { .init(sequence: $0.sequence, link: AuditHex.encode($0.link), time: $0.time,
                                 signature: AuditHex.encode($0.signature)) })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try writeSecret(String(decoding: try encoder.encode(bundle), as: UTF8.self) + "\n", to: out)
            print("exported \(window.count - withheld.count) records (\(withheld.count) withheld) to \(out)")
        }
    }
}
