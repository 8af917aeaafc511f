import ArgumentParser
import Foundation
import SIPMessage

/// A failure the user caused by how the command was called (exit 2).
struct UsageError: Error {
    let message: String
}

/// A command whose inputs were read but did not all pass (exit 1).
struct CheckFailed: Error {
    let exitCode: Int32
}

struct SIPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sip",
        abstract: "Inspect raw SIP messages.",
        subcommands: [Check.self, Format.self]
    )

    /// Reads one file as raw bytes, refusing anything larger than a message could be.
    static func read(_ path: String, limit: Int) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw UsageError(message: "cannot read \(path)")
        }
        defer { try? handle.close() }
        // Read one byte past the limit so an oversize file is classified, not truncated silently.
        do {
            return [UInt8](try handle.read(upToCount: limit + 1) ?? Data())
        } catch {
            throw UsageError(message: "cannot read \(path): \(error.localizedDescription)")
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Classify raw SIP messages (one UDP datagram per file, RFC 3261 §18.3).",
            discussion: """
                For each FILE prints `valid` or `invalid: <reason>` and the SIP status an edge would answer.
                `valid` means well-formed and within limits; a note gives the status a higher layer would still
                answer (416 unknown URI scheme, 420 unsupported extension). Exit status: 0 if all are valid,
                1 if any is invalid, 2 on usage errors.
                """
        )

        @Flag(name: .long, help: "Print one JSON document (an array, one object per file).")
        var json = false

        @Argument(help: "Files holding one raw SIP message each.")
        var files: [String]

        func validate() throws {
            guard !files.isEmpty else { throw ValidationError("at least one FILE is required") }
        }

        func run() throws {
            let limits = SIPParseLimits.default
            var reports: [CheckReport] = []
            for path in files {
                let bytes = try SIPCommand.read(path, limit: limits.maxMessageSize)
                reports.append(CheckReport(file: path, result: SIPMessageCheck.check(bytes, limits: limits)))
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(reports), as: UTF8.self))
            } else {
                for report in reports { print(report.text) }
            }
            if reports.contains(where: { !$0.valid }) { throw CheckFailed(exitCode: 1) }
        }
    }

    struct Format: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pretty-print a raw SIP message with its parsed structure."
        )

        @Argument(help: "A file holding one raw SIP message.")
        var file: String

        func run() throws {
            let limits = SIPParseLimits.default
            let bytes = try SIPCommand.read(file, limit: limits.maxMessageSize)
            let result = SIPMessageCheck.check(bytes, limits: limits)
            guard let message = result.message else {
                print("invalid: \(result.error.map(String.init(describing:)) ?? "unparseable")")
                throw CheckFailed(exitCode: 1)
            }
            print(message.formattedDescription())
            if let error = result.error {
                print("Verdict   invalid: \(error)")
                throw CheckFailed(exitCode: 1)
            }
            print("Verdict   valid" + result.notes.map { " (note: \($0))" }.joined())
        }
    }
}

/// One line (or JSON object) of `rampart sip check`.
struct CheckReport: Encodable {
    struct Note: Encodable {
        let status: Int
        let reason: String
    }

    let file: String
    let valid: Bool
    let kind: String
    let reason: String?
    let code: String?
    let header: String?
    let offset: Int?
    let sipStatus: Int?
    let action: String
    let notes: [Note]

    init(file: String, result: SIPCheckResult) {
        self.file = file
        valid = result.isValid
        kind = result.isResponse ? "response" : "request"
        reason = result.error?.reason
        code = result.error?.code.description
        header = result.error?.headerName
        offset = result.error?.offset
        sipStatus = result.sipStatus
        notes = result.notes.map { Note(status: $0.status, reason: $0.reason) }
        if result.isResponse {
            action = result.isValid ? "process" : "drop"
        } else if let status = result.sipStatus {
            action = "answer \(status) \(SIPStatus.reasonPhrase(for: status))"
        } else {
            action = "process"
        }
    }

    var text: String {
        var line = "\(file): "
        if valid {
            line += "valid"
            for note in notes { line += " (note: \(note.status) \(note.reason))" }
        } else {
            line += "invalid: \(reason ?? "")"
            if let header { line += " [\(header)]" }
            if let offset { line += " at offset \(offset)" }
            if let sipStatus {
                line += " -> \(sipStatus) \(SIPStatus.reasonPhrase(for: sipStatus))"
            } else {
                line += " -> dropped (a malformed response is never answered)"
            }
        }
        return line
    }
}
