import AuditTrail
import Foundation
import Hummingbird
import Storage

/// A token as the API lists it: never its secret, nor its digest.
struct TokenEntry: Codable, Sendable {
    var name: String
    var role: String
    /// Seconds since 1970.
    var created: Int64
    /// The secret, in the answer that made it only: shown once.
    var token: String?

    init(_ token: AdminToken, secret: String? = nil) {
        (name, role, created, self.token) = (token.name, token.role.rawValue, token.createdAtEpochSeconds, secret)
    }
}

struct NewToken: Decodable, Sendable {
    var name: String
    var role: String
}

extension AdminServer {
    /// A new token's secret: 256 random bits as URL-safe base64 after a prefix that secret scanners recognise
    /// (`rmp_`). The CLI and the API both make tokens with this.
    public static func newTokenSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        var secret = [UInt8](repeating: 0, count: 32)
        for index in secret.indices { secret[index] = generator.next() }
        defer { secret.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        return "rmp_" + Data(secret).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Most tokens the API makes (the CLI is not held to it).
    static let maximumTokens = 1_000

    /// The admin API's own tokens, for the admin role: listed, made (the secret in the answer, once) and revoked,
    /// each change an audit record naming the token that made it.
    func addTokenRoutes(to group: RouterGroup<AdminRequestContext>) {
        group.get("/api/tokens") { _, context in
            try Self.require(.admin, context)
            return JSONBody(try await store.allAdminTokens().map { TokenEntry($0) })
        }
        group.post("/api/tokens") { request, context in
            try Self.require(.admin, context)
            let asked: NewToken = try await Self.decodeStrictly(request, context: context, fields: ["name", "role"])
            guard let role = AdminToken.Role(rawValue: asked.role) else {
                throw HTTPError(.badRequest, message: "role: viewer, operator or admin")
            }
            let existing = try await store.allAdminTokens()
            guard !existing.contains(where: { $0.name == asked.name }) else {
                throw HTTPError(.conflict, message: "a token of that name exists")
            }
            guard existing.count < Self.maximumTokens else {
                throw HTTPError(.conflict, message: "at most \(Self.maximumTokens) tokens: revoke one first")
            }
            let secret = Self.newTokenSecret()
            let token = AdminToken(name: asked.name, role: role, digest: Self.tokenDigest(secret),
                                   createdAtEpochSeconds: edge.clock.epochSeconds())
            do {
                try await store.audit([AuditContent(
                    time: nowMilliseconds, actor: Self.actor(context), action: .adminTokenCreated, subject: asked.name,
                    details: ["role": role.rawValue])], with: .saveAdminToken(token))
            } catch let error as StorageError where error.code == .invalidInput {
                throw HTTPError(.badRequest, message: "a token name is 1-64 letters, digits, '-', '_' or '.'")
            } catch let error as StorageError where error.code == .constraint {
                throw HTTPError(.conflict, message: "a token of that name exists")
            }
            return JSONBody(TokenEntry(token, secret: secret), status: .created)
        }
        group.delete("/api/tokens/:name") { _, context in
            try Self.require(.admin, context)
            let name = (context.parameters.get("name") ?? "").removingPercentEncoding ?? ""
            guard (1...64).contains(name.utf8.count) else { throw HTTPError(.badRequest, message: "not a token name") }
            let removed = try await store.audit([AuditContent(
                time: nowMilliseconds, actor: Self.actor(context), action: .adminTokenRevoked, subject: name)],
                with: .removeAdminToken(name: name))
            guard removed.changed else { throw HTTPError(.notFound, message: "no such token") }
            return Response(status: .noContent)
        }
    }
}
