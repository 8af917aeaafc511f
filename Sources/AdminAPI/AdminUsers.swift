import AuditTrail
import Edge
import Foundation
import Hummingbird
import SIPAuth
import Storage

/// An account as the API shows it: its digest algorithms, never its HA1 values.
struct UserEntry: Codable, Sendable {
    var username: String
    var domain: String
    var digestAlgorithms: [String]
    var strongDigestOnly: Bool

    init(_ account: Account) {
        (username, domain, strongDigestOnly) = (account.username, account.domain, account.strongDigestOnly)
        digestAlgorithms = account.ha1ByAlgorithm.keys.sorted()
    }
}

struct NewUser: Decodable, Sendable {
    var username: String
    var password: String
}

struct NewDevice: Decodable, Sendable {
    var fingerprint: String
    var username: String
}

extension AdminServer {
    /// Accounts and device bindings in the edge's domain; changes need the admin role and are audited.
    func addUserRoutes(to group: RouterGroup<AdminRequestContext>) {
        let domain = edge.configuration.domain
        group.get("/api/users") { request, _ in
            let accounts = try await store.allAccounts().filter { $0.domain == domain.lowercased() }
            return JSONBody(try Self.page(request) { _ in accounts }.map(UserEntry.init))
        }
        group.post("/api/users") { request, context in
            try Self.require(.admin, context)
            let asked: NewUser = try await Self.decodeStrictly(request, context: context, fields: ["username", "password"])
            guard (1...256).contains(asked.password.utf8.count) else {
                throw HTTPError(.badRequest, message: "a password is 1-256 bytes")
            }
            guard try await store.account(username: asked.username, domain: domain) == nil else {
                throw HTTPError(.conflict, message: "the account exists")
            }
            let account = Account(username: asked.username, domain: domain.lowercased(), ha1ByAlgorithm:
                DigestHA1.storedValues(username: asked.username, realm: domain.lowercased(), password: asked.password))
            do {
                try await store.audit([AuditContent(
                    time: nowMilliseconds, actor: Self.actor(context), action: .userAdded,
                    subject: "\(account.username)@\(account.domain)")], with: .saveAccounts([account]))
            } catch let error as StorageError where error.code == .invalidInput {
                throw HTTPError(.badRequest, message: "username: 1-256 visible characters")
            }
            return JSONBody(UserEntry(account), status: .created)
        }
        group.delete("/api/users/:username") { _, context in
            try Self.require(.admin, context)
            let username = (context.parameters.get("username") ?? "").removingPercentEncoding ?? ""
            guard (1...256).contains(username.utf8.count) else { throw HTTPError(.badRequest, message: "not a user name") }
            let removed = try await store.audit([AuditContent(
                time: nowMilliseconds, actor: Self.actor(context), action: .userRemoved,
                subject: "\(username)@\(domain.lowercased())")], with: .removeAccount(username: username, domain: domain))
            guard removed.changed else { throw HTTPError(.notFound, message: "no such account") }
            return Response(status: .noContent)
        }
        group.post("/api/devices") { request, context in
            try Self.require(.admin, context)
            let asked: NewDevice = try await Self.decodeStrictly(request, context: context,
                                                                  fields: ["fingerprint", "username"])
            let fingerprint = asked.fingerprint.replacingOccurrences(of: ":", with: "").lowercased()
            do {
                try await store.audit([AuditContent(
                    time: nowMilliseconds, actor: Self.actor(context), action: .deviceBound,
                    subject: "\(asked.username)@\(domain.lowercased())", details: ["fingerprint": fingerprint])],
                    with: .bindDevice(fingerprint: fingerprint, username: asked.username, domain: domain))
            } catch let error as StorageError where error.code == .invalidInput {
                throw HTTPError(.badRequest, message: "a fingerprint is SHA-256 in hex")
            } catch let error as StorageError where error.code == .constraint {
                throw HTTPError(.notFound, message: "no such account")
            }
            return Response(status: .created)
        }
        group.delete("/api/devices/:fingerprint") { _, context in
            try Self.require(.admin, context)
            let fingerprint = (context.parameters.get("fingerprint") ?? "").replacingOccurrences(of: ":", with: "")
                .lowercased()
            guard fingerprint.utf8.count == 64 else { throw HTTPError(.badRequest, message: "a fingerprint is SHA-256 in hex") }
            let removed = try await store.audit([AuditContent(
                time: nowMilliseconds, actor: Self.actor(context), action: .deviceUnbound,
                subject: fingerprint)], with: .unbindDevice(fingerprint: fingerprint))
            guard removed.changed else { throw HTTPError(.notFound, message: "no such binding") }
            return Response(status: .noContent)
        }
    }
}
