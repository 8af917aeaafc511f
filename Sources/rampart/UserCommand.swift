import ArgumentParser
import Foundation
import SIPAuth
import Storage
import StorageSQLite

/// Where Rampart keeps its state: `--data-dir`, default `./rampart-data`.
struct DataDirectoryOption: ParsableArguments {
    @Option(name: .long, help: "Directory holding the database and certificates.")
    var dataDir: String = "rampart-data"

    /// Opens (creating the directory, owner-only, if needed) the embedded SQLite store.
    func openStore() throws -> SQLiteStore {
        let manager = FileManager.default
        if !manager.fileExists(atPath: dataDir) {
            do {
                try manager.createDirectory(atPath: dataDir, withIntermediateDirectories: true,
                                            attributes: [.posixPermissions: 0o700])
            } catch {
                throw UsageError(message: "cannot create \(dataDir): \(error.localizedDescription)")
            }
        }
        let path = (dataDir as NSString).appendingPathComponent("rampart.sqlite")
        do {
            let store = try SQLiteStore(path: path)
            try? manager.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)  // HA1s are secrets
            return store
        } catch {
            throw UsageError(message: "\(error)")
        }
    }
}

/// `--password PW` or `--password-stdin` (the safer form: nothing in the process list or shell history).
struct PasswordOptions: ParsableArguments {
    @Option(name: .long, help: "The password (prefer --password-stdin).")
    var password: String?

    @Flag(name: .long, help: "Read the password from the first line of standard input.")
    var passwordStdin = false

    func validate() throws {
        guard (password != nil) != passwordStdin else {
            throw ValidationError("give exactly one of --password and --password-stdin")
        }
    }

    func read() throws -> String {
        if let password { return password }
        guard let line = Swift.readLine(strippingNewline: true), !line.isEmpty else {
            throw UsageError(message: "no password on standard input")
        }
        return line
    }
}

struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage SIP accounts (stored as digest HA1 values, never as passwords).",
        subcommands: [Add.self, List.self, Remove.self, Passwd.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an account.")
        @Argument(help: "The user name.") var name: String
        @Option(name: .long, help: "The domain (digest realm).") var domain = "localhost"
        @OptionGroup var passwordOptions: PasswordOptions
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            let store = try data.openStore()
            guard try await store.account(username: name, domain: domain) == nil else {
                throw UsageError(message: "\(name)@\(domain) exists; use `rampart user passwd`")
            }
            let password = try passwordOptions.read()
            try await store.saveAccount(Account(
                username: name, domain: domain,
                ha1ByAlgorithm: DigestHA1.storedValues(username: name, realm: domain.lowercased(), password: password)))
            print("added \(name)@\(domain.lowercased())")
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change an account's password.")
        @Argument(help: "The user name.") var name: String
        @Option(name: .long, help: "The domain (digest realm).") var domain = "localhost"
        @OptionGroup var passwordOptions: PasswordOptions
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            let store = try data.openStore()
            guard let account = try await store.account(username: name, domain: domain) else {
                throw UsageError(message: "no account \(name)@\(domain)")
            }
            let password = try passwordOptions.read()
            try await store.saveAccount(Account(
                username: account.username, domain: account.domain,
                ha1ByAlgorithm: DigestHA1.storedValues(username: name, realm: account.domain, password: password)))
            print("password changed for \(name)@\(account.domain)")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an account and its device bindings.")
        @Argument(help: "The user name.") var name: String
        @Option(name: .long, help: "The domain (digest realm).") var domain = "localhost"
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            guard try await data.openStore().removeAccount(username: name, domain: domain) else {
                throw UsageError(message: "no account \(name)@\(domain)")
            }
            print("removed \(name)@\(domain.lowercased())")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts and their digest algorithms.")
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            for account in try await data.openStore().allAccounts() {
                let algorithms = account.ha1ByAlgorithm.keys.sorted().joined(separator: ", ")
                print("\(account.username)@\(account.domain)  digest: \(algorithms.isEmpty ? "none" : algorithms)")
            }
        }
    }
}
