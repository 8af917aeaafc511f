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
    func openStore() throws -> SQLiteStore { try DataDirectory(path: dataDir).openStore() }
}

/// The data directory: the SQLite database, the development CA and the server certificate.
struct DataDirectory {
    let path: String

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Creates the directory (owner-only) if it does not exist; one that exists is made owner-only, it and every
    /// file in it, with a warning when anything was open to the group or others: it holds HA1s, keys, CDRs.
    func create() throws {
        let manager = FileManager.default
        // Whatever this process creates from here on (SQLite's -wal and -shm, keys, exports) is owner-only.
        umask(0o077)
        guard manager.fileExists(atPath: path) else {
            do {
                try manager.createDirectory(atPath: path, withIntermediateDirectories: true,
                                            attributes: [.posixPermissions: 0o700])
            } catch {
                throw UsageError(message: "cannot create \(path): \(error.localizedDescription)")
            }
            return
        }
        try restrict()
    }

    /// Makes the directory 0700 and every regular file in it 0600; says on standard error what it had to change.
    func restrict() throws {
        let manager = FileManager.default
        var opened: [String] = []
        func tighten(_ item: String, to mode: Int) throws {
            guard let current = (try? manager.attributesOfItem(atPath: item))?[.posixPermissions] as? Int else { return }
            guard current & 0o777 & ~mode != 0 else { return }  // nothing beyond the owner's bits
            do { try manager.setAttributes([.posixPermissions: mode], ofItemAtPath: item) } catch {
                throw UsageError(message: "\(item) is readable by others and cannot be made owner-only: \(error)")
            }
            opened.append((item as NSString).lastPathComponent)
        }
        try tighten(path, to: 0o700)
        for name in (try? manager.contentsOfDirectory(atPath: path)) ?? [] {
            var isDirectory: ObjCBool = false
            let item = file(name)
            guard manager.fileExists(atPath: item, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            try tighten(item, to: 0o600)
        }
        if !opened.isEmpty {
            FileHandle.standardError.write(Data(("rampart: warning: \(path) was open to the group or others; made "
                + "owner-only: \(opened.joined(separator: ", "))\n").utf8))
        }
    }

    /// Opens (creating the directory if needed) the embedded SQLite store, owner-only with its -wal and -shm.
    func openStore() throws -> SQLiteStore {
        try create()
        let databasePath = file("rampart.sqlite")
        do {
            let store = try SQLiteStore(path: databasePath)
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: databasePath + suffix) {
                try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: databasePath + suffix)
            }
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

/// `NAME [--domain DOMAIN]`: the account a command acts on.
struct AccountArguments: ParsableArguments {
    @Argument(help: "The account (user) name.") var name: String
    @Option(name: .long, help: "The domain (digest realm).") var domain = "localhost"

    /// The domain as stored: lowercased.
    var realm: String { domain.lowercased() }
    /// `name@realm`, for messages.
    var address: String { "\(name)@\(realm)" }

    /// The account with the HA1 values of `password` (the password itself is not kept).
    func account(password: String) -> Account {
        Account(username: name, domain: realm,
                ha1ByAlgorithm: DigestHA1.storedValues(username: name, realm: realm, password: password))
    }
}

struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage SIP accounts (stored as digest HA1 values, never as passwords).",
        subcommands: [Add.self, Import.self, List.self, Remove.self, Passwd.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an account.")
        @OptionGroup var target: AccountArguments
        @OptionGroup var passwordOptions: PasswordOptions
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            let store = try data.openStore()
            guard try await store.account(username: target.name, domain: target.realm) == nil else {
                throw UsageError(message: "\(target.address) exists; use `rampart user passwd`")
            }
            try await data.audited(.userAdded, subject: target.address,
                                   change: .saveAccounts([target.account(password: try passwordOptions.read())]),
                                   in: store)
            print("added \(target.address)")
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add or replace accounts from a `user;password;` file (sipp's injection format).",
            discussion: "Lines SEQUENTIAL, RANDOM and USER and empty lines are skipped. Passwords are hashed and dropped.")
        @Argument(help: "The file (- for standard input).") var file: String
        @Option(name: .long, help: "The domain (digest realm) of every account.") var domain = "localhost"
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            let text: String
            if file == "-" {
                text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            } else {
                guard let contents = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw UsageError(message: "cannot read \(file)")
                }
                text = contents
            }
            let realm = domain.lowercased()
            var accounts: [Account] = []
            for (index, line) in text.split(whereSeparator: \.isNewline).enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty || ["SEQUENTIAL", "RANDOM", "USER"].contains(trimmed) { continue }
                let fields = trimmed.split(separator: ";", omittingEmptySubsequences: false)
                guard fields.count >= 2, !fields[0].isEmpty, !fields[1].isEmpty else {
                    throw UsageError(message: "\(file):\(index + 1): expected user;password;")
                }
                let name = String(fields[0])
                accounts.append(Account(username: name, domain: realm, ha1ByAlgorithm: DigestHA1.storedValues(
                    username: name, realm: realm, password: String(fields[1]))))
            }
            do {
                try await data.audited(accounts.map { (.userAdded, "\($0.username)@\(realm)", ["import": file]) },
                                       change: .saveAccounts(accounts), in: data.openStore())
            } catch {
                throw UsageError(message: "cannot import: \(error)")
            }
            print("imported \(accounts.count) accounts into \(realm)")
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change an account's password.")
        @OptionGroup var target: AccountArguments
        @OptionGroup var passwordOptions: PasswordOptions
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            let store = try data.openStore()
            guard try await store.account(username: target.name, domain: target.realm) != nil else {
                throw UsageError(message: "no account \(target.address)")
            }
            try await data.audited(.passwordChanged, subject: target.address,
                                   change: .saveAccounts([target.account(password: try passwordOptions.read())]),
                                   in: store)
            print("password changed for \(target.address)")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an account and its device bindings.")
        @OptionGroup var target: AccountArguments
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            let store = try data.openStore()
            guard try await store.account(username: target.name, domain: target.realm) != nil else {
                throw UsageError(message: "no account \(target.address)")
            }
            try await data.audited(.userRemoved, subject: target.address,
                                   change: .removeAccount(username: target.name, domain: target.realm), in: store)
            print("removed \(target.address)")
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
