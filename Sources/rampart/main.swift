import ArgumentParser
import Foundation

/// `rampart`: one thin CLI over the Rampart libraries.
struct Rampart: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rampart",
        abstract: "Rampart: a security-first SIP edge and VoIP security toolkit.",
        subcommands: [SIPCommand.self]
    )
}

// Exit codes: 0 success, 1 a checked input failed, 2 usage errors (operators' scripts rely on these).
do {
    var command = try Rampart.parseAsRoot()
    try command.run()
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
