import ArgumentParser
import Foundation

/// `rampart`: one thin CLI over the Rampart libraries.
struct Rampart: ParsableCommand {
    /// What `rampart --version` and the admin API's `/api/version` say.
    static let version = "0.19.0"

    static let configuration = CommandConfiguration(
        commandName: "rampart",
        abstract: "Rampart: a security-first SIP edge and VoIP security toolkit.", version: version,
        subcommands: [
            ServeCommand.self, SIPCommand.self, UserCommand.self, CertCommand.self, DeviceCommand.self, CDRCommand.self,
            BanCommand.self, EventsCommand.self, SRTPCommand.self, AuditCommand.self, PrivacyCommand.self,
            LintCommand.self, AdminCommand.self, StirCommand.self, TurnCommand.self,
        ]
    )
}

/// Opens the existential so the async `run()` requirement is the one called.
func runAsync<Command: AsyncParsableCommand>(_ command: inout Command) async throws {
    try await command.run()
}

// Exit codes: 0 success, 1 a checked input failed, 2 usage errors (operators' scripts rely on these).
do {
    var command = try Rampart.parseAsRoot()
    if var asyncCommand = command as? any AsyncParsableCommand {
        try await runAsync(&asyncCommand)
    } else {
        try command.run()
    }
} catch let failure as CheckFailed {
    Rampart.exit(withError: ExitCode(failure.exitCode))
} catch let usage as UsageError {
    FileHandle.standardError.write(Data("rampart: \(usage.message)\n".utf8))
    Rampart.exit(withError: ExitCode(2))
} catch {
    let code = Rampart.exitCode(for: error)
    if code == .success {
        Rampart.exit(withError: error)  // --help, --version
    }
    FileHandle.standardError.write(Data((Rampart.fullMessage(for: error) + "\n").utf8))
    Rampart.exit(withError: ExitCode(code == .validationFailure ? 2 : code.rawValue))
}
