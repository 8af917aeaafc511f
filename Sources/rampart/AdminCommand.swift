import AdminAPI
import ArgumentParser
import AuditTrail
import Foundation
import Storage

/// `rampart admin token create|list|revoke`: the admin API's bearer tokens, kept hashed in the store.
struct AdminCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin", abstract: "The admin API's tokens.", subcommands: [Token.self])

    struct Token: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create, list and revoke admin API tokens.", subcommands: [Create.self, List.self, Revoke.self])
    }
}

extension AdminToken.Role: ExpressibleByArgument {}

extension AdminCommand.Token {
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a token; it is printed once, on the last line (only its SHA-256 is stored).")
        @Argument(help: "Its name (1-64 letters, digits, '-', '_', '.'): the actor the audit trail records.")
        var name: String
        @Option(name: .long, help: "viewer (reads), operator (also bans and ends calls) or admin (also manages).")
        var role: AdminToken.Role
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            let store = try data.openStore()
            guard try await !store.allAdminTokens().contains(where: { $0.name == name }) else {
                throw UsageError(message: "a token named \(name) exists: revoke it first")
            }
            let token = AdminServer.newTokenSecret()
            let stored = AdminToken(name: name, role: role, digest: AdminServer.tokenDigest(token),
                                    createdAtEpochSeconds: Int64(Date().timeIntervalSince1970))
            do {
                try await data.audited(.adminTokenCreated, subject: name, details: ["role": role.rawValue],
                                       change: .saveAdminToken(stored), in: store)
            } catch let error as StorageError where error.code == .invalidInput {
                throw UsageError(message: error.reason)
            }
            print("token \(name) (\(role.rawValue)); shown once, keep it secret:")
            print(token)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens: name, role, when made.")
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            let tokens = try await data.openStore().allAdminTokens()
            for token in tokens {
                print("\(token.name)  \(token.role.rawValue)  \(CDRFormat.timestamp(token.createdAtEpochSeconds * 1_000))")
            }
            print("\(tokens.count) token\(tokens.count == 1 ? "" : "s")")
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token: the API refuses it at once.")
        @Argument(help: "Its name.") var name: String
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            let store = try data.openStore()
            guard try await store.allAdminTokens().contains(where: { $0.name == name }) else {
                throw UsageError(message: "no token named \(name)")
            }
            try await data.audited(.adminTokenRevoked, subject: name, change: .removeAdminToken(name: name), in: store)
            print("revoked \(name)")
        }
    }
}
