import AuditTrail
import Edge
import Foundation
import Hummingbird
import Metrics
import SIPTransportNIO
import Storage

/// A binding as the API shows it.
struct BindingEntry: Codable, Sendable {
    var addressOfRecord: String
    var contact: String
    /// Seconds since 1970.
    var expires: Int64
    var flow: String?
    /// The transport of the flow (`udp`, `tcp`, `tls`), when the flow is known.
    var transport: String?
    var instance: String?
    var userAgent: String?

    init(_ record: RegistrationRecord) {
        (addressOfRecord, contact, expires) = (record.addressOfRecord, record.contact, record.expiresAtEpochSeconds)
        (flow, instance, userAgent) = (record.flow, record.instanceID, record.userAgent)
        transport = record.flow.flatMap(SIPFlow.init)?.transport.rawValue
    }
}

extension AdminServer {
    /// Most entries one listing returns (`?limit=`, 1-10,000; 1,000 by default).
    static func limit(_ request: Request) throws -> Int {
        guard let text = request.uri.queryParameters.get("limit") else { return 1_000 }
        guard let limit = Int(text), (1...10_000).contains(limit) else {
            throw HTTPError(.badRequest, message: "limit must be 1-10000")
        }
        return limit
    }

    /// A page of a listing in a stable order: `?offset=` entries skipped (0-1,000,000), then at most `?limit=`.
    static func page<Entries: Collection>(_ request: Request, of entries: (_ needed: Int) throws -> Entries) throws
        -> [Entries.Element]
    {
        let limit = try limit(request)
        let offset = Int(try integer("offset", in: 0...1_000_000, request) ?? 0)
        return Array(try entries(offset + limit).dropFirst(offset).prefix(limit))
    }

    func addCallRoutes(to group: RouterGroup<AdminRequestContext>) {
        group.get("/api/registrations") { request, _ in
            JSONBody(try Self.page(request) { edge.location.allBindings(limit: $0) }.map(BindingEntry.init))
        }
        group.get("/api/calls") { request, _ in
            JSONBody(try Self.page(request) { edge.calls.liveCalls(limit: $0) })
        }
        group.delete("/api/calls/:id") { _, context in
            try Self.require(.operator, context)
            let id = context.parameters.get("id") ?? ""
            guard (1...128).contains(id.utf8.count), id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw HTTPError(.badRequest, message: "not a call id")
            }
            guard edge.calls.end(recordID: id, reason: "operator", edge: edge) else {
                throw HTTPError(.notFound, message: "no such call")
            }
            try await store.audit(AuditContent(time: nowMilliseconds, actor: Self.actor(context), action: .callEnded,
                                               subject: id))
            return Response(status: .noContent)
        }
    }

    /// The gauges a scrape reads as they are now (counters count as things happen).
    func recordGauges() {
        Gauge(label: "rampart_registration_bindings").record(edge.location.bindingCount)
        Gauge(label: "rampart_calls_active").record(edge.calls.activeCalls)
        Gauge(label: "rampart_bans_active").record(edge.defense.bans.count)
    }
}
