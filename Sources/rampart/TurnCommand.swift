import ArgumentParser
import AuditTrail
import Crypto
import Foundation
import Storage
import STUN
import TURN

/// `rampart turn`: TURN users (long-term credentials, stored as keys) and TURN REST API credentials.
struct TurnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "turn",
        abstract: "Manage TURN users and make TURN REST API credentials.",
        subcommands: [User.self, Credentials.self, Sessions.self]
    )

    struct Sessions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List ended TURN allocations, newest first: user, client, peers, bytes each way, duration, ending.")
        @Option(name: .long, help: "Most sessions shown.") var limit = 100
        @Flag(name: .long, help: "One JSON object per line.") var json = false
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            for session in try await data.openStore().turnSessions(limit: max(1, min(limit, 100_000))) {
                if json {
                    let object: [String: Any] = [
                        "ended": session.endedAtEpochSeconds, "user": session.username, "client": session.client,
                        "peers": session.peers, "bytes_to_peers": session.bytesToPeers,
                        "bytes_to_client": session.bytesToClient, "packets_dropped": session.packetsDropped,
                        "seconds": session.seconds, "ending": session.ending,
                    ]
                    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                    print(String(decoding: data, as: UTF8.self))
                } else {
                    print("\(session.username) \(session.client) peers=\(session.peers) to-peers=\(session.bytesToPeers) "
                        + "to-client=\(session.bytesToClient) dropped=\(session.packetsDropped) \(session.seconds)s \(session.ending)")
                }
            }
        }
    }

    struct User: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "TURN users with long-term credentials (stored as MD5 and SHA-256 keys, never as passwords).",
            subcommands: [Add.self, List.self, Remove.self])
    }

    /// The realm a user's keys are made for: it must be `[turn] realm` of the server that reads them.
    struct RealmOption: ParsableArguments {
        @Option(name: .long, help: "The TURN realm (turn.realm of the server; default localhost).")
        var realm = "localhost"
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add or replace a TURN user.")
        @Argument(help: "The user name.") var name: String
        @OptionGroup var realm: RealmOption
        @OptionGroup var passwordOptions: PasswordOptions
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            guard !name.isEmpty, name.utf8.count <= 512, !name.contains(":") || TURNRESTCredentials.expiry(of: name) == nil
            else { throw UsageError(message: "a TURN user name is 1-512 bytes and not of the REST form EXPIRY:USER") }
            let password = try passwordOptions.read()
            let keys = TURNAccounts.Keys(username: name, realm: realm.realm, password: password)
            let user = TURNUser(username: name, realm: realm.realm, md5KeyHex: keys.md5.withBytes { AuditHex.encode($0) },
                                sha256KeyHex: keys.sha256.withBytes { AuditHex.encode($0) })
            let store = try data.openStore()
            do { try await store.saveTURNUser(user) } catch { throw UsageError(message: "\(error)") }
            RunningEdge(dataDirectory: data.dataDir).storeChanged()
            print("added TURN user \(name) in realm \(realm.realm)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a realm's TURN users.")
        @OptionGroup var realm: RealmOption
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            for user in try await data.openStore().turnUsers(realm: realm.realm) { print(user.username) }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a TURN user.")
        @Argument(help: "The user name.") var name: String
        @OptionGroup var realm: RealmOption
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            guard try await data.openStore().removeTURNUser(username: name, realm: realm.realm) else {
                throw UsageError(message: "no TURN user \(name) in realm \(realm.realm)")
            }
            RunningEdge(dataDirectory: data.dataDir).storeChanged()
            print("removed TURN user \(name)")
        }
    }

    struct Credentials: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a TURN REST API username and password (coturn's use-auth-secret form).",
            discussion: "The username is EXPIRY:USER, the password base64(HMAC-SHA1(secret, username)) under the first "
                + "secret of the file (turn.rest_secret_file of --config, or --secret-file).")
        @Argument(help: "The user the credentials are for.") var user: String
        @Option(name: .long, help: "How long they are good for, in seconds (default 86400).") var ttl: Int64 = 86_400
        @Option(name: .long, help: "A serve configuration whose turn.rest_secret_file holds the secret.") var config: String?
        @Option(name: .long, help: "The file holding the secret (one per line, current first).") var secretFile: String?

        func run() throws {
            guard (1...604_800).contains(ttl) else { throw UsageError(message: "--ttl must be in 1...604800") }
            guard !user.isEmpty, !user.contains(":") else { throw UsageError(message: "the user must not be empty or contain ':'") }
            let file: String
            switch (config, secretFile) {
            case (nil, let path?): file = path
            case (let path?, nil):
                guard let named = try ServeConfiguration.load(path: path).turn?.restSecretFile else {
                    throw UsageError(message: "\(path) has no turn.rest_secret_file")
                }
                file = named
            default: throw UsageError(message: "give exactly one of --config and --secret-file")
            }
            let secrets = try ServeSettings.restSecrets(file: file, setting: secretFile == nil ? "turn.rest_secret_file" : "--secret-file")
            let rest = TURNRESTCredentials(secrets: secrets, maxTTLSeconds: 604_800)
            guard let (username, password) = rest.credentials(user: user, ttlSeconds: ttl,
                                                              epochSeconds: Int64(Date().timeIntervalSince1970))
            else { throw UsageError(message: "no secret") }
            print("username: \(username)")
            print("password: \(password)")
        }
    }
}
