import AuditTrail
import Edge
import Foundation
import Hummingbird
import SecurityPolicy
import Storage

/// A ban as the API shows it.
struct BanEntry: Codable, Sendable {
    var subject: String
    var reason: String
    var evidenceCount: Int
    /// Seconds since 1970.
    var since: Int64
    var until: Int64?

    init(_ ban: StoredBan) {
        (subject, reason, evidenceCount) = (ban.subject, ban.reason, ban.evidenceCount)
        (since, until) = (ban.createdAtEpochSeconds, ban.expiresAtEpochSeconds)
    }
}

/// What `POST /api/bans` takes: the subject (`192.0.2.7`, `2001:db8:1:2::/64`, `account:alice`,
/// `alice@192.0.2.7`), why, and for how long (default: until lifted).
struct NewBan: Decodable, Sendable {
    var subject: String
    var reason: String?
    var seconds: Int64?
}

extension AdminServer {
    func addBanRoutes(to group: RouterGroup<AdminRequestContext>) {
        group.get("/api/bans") { request, _ in
            let bans = try await store.allBans()
            return JSONBody(try Self.page(request) { _ in bans }.map(BanEntry.init))
        }
        group.post("/api/bans") { request, context in
            try Self.require(.operator, context)
            let asked: NewBan = try await Self.decodeStrictly(request, context: context,
                                                               fields: ["subject", "reason", "seconds"])
            guard let subject = Ban.Subject(asked.subject) else {
                throw HTTPError(.badRequest, message: "not a ban subject")
            }
            let reason = asked.reason ?? "operator"
            guard reason.utf8.count <= 200, !reason.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
                throw HTTPError(.badRequest, message: "a reason is at most 200 bytes of text")
            }
            if let seconds = asked.seconds, !(1...315_360_000).contains(seconds) {
                throw HTTPError(.badRequest, message: "seconds must be 1-315360000")
            }
            let now = edge.clock.epochSeconds()
            let ban = Ban(subject: subject, reason: reason, evidenceCount: 0, createdAtEpochSeconds: now,
                          expiresAtEpochSeconds: asked.seconds.map { now + $0 })
            let stored = EdgeDefense.stored(ban)
            try await store.audit([AuditContent(
                time: now * 1_000, actor: Self.actor(context), action: .banAdded, subject: subject.description,
                details: ["reason": reason, "seconds": asked.seconds.map(String.init) ?? "until removed"])],
                with: .saveBans([stored]))
            try await applyBans()
            return JSONBody(BanEntry(stored), status: .created)
        }
        group.delete("/api/bans/:subject") { _, context in
            try Self.require(.operator, context)
            let raw = context.parameters.get("subject") ?? ""
            guard let text = raw.removingPercentEncoding, let subject = Ban.Subject(text) else {
                throw HTTPError(.badRequest, message: "not a ban subject")
            }
            let removed = try await store.audit([AuditContent(
                time: nowMilliseconds, actor: Self.actor(context), action: .banRemoved,
                subject: subject.description, outcome: .success)], with: .removeBan(subject: subject.description))
            guard removed.changed else { throw HTTPError(.notFound, message: "no such ban") }
            try await applyBans()
            return Response(status: .noContent)
        }
    }

    /// The edge enforces the stored bans at once (its housekeeping would within a second anyway).
    func applyBans() async throws {
        edge.defense.load(try await store.allBans())
    }

    /// A JSON object with no field but `fields`: a misspelt or unexpected field is refused (400), not ignored.
    static func decodeStrictly<Value: Decodable>(_ request: Request, context: AdminRequestContext,
                                                 fields: Set<String>) async throws -> Value {
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        let bytes = Data(buffer.readableBytesView)
        guard let object = try? JSONSerialization.jsonObject(with: bytes) as? [String: Any] else {
            throw HTTPError(.badRequest, message: "the body must be a JSON object")
        }
        if let unknown = object.keys.first(where: { !fields.contains($0) }) {
            throw HTTPError(.badRequest, message: "unknown field \(unknown.prefix(64))")
        }
        do { return try JSONDecoder().decode(Value.self, from: bytes) } catch {
            throw HTTPError(.badRequest, message: "a field has the wrong type or is missing")
        }
    }
}
