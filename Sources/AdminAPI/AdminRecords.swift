import Edge
import Foundation
import Hummingbird
import ServiceLifecycle
import Storage
import Synchronization

/// A security event as the API shows it.
struct EventEntry: Codable, Sendable {
    /// Seconds since 1970.
    var time: Int64
    var kind: String
    var source: String?
    var account: String?
    var reason: String

    init(_ event: StoredSecurityEvent) {
        (time, kind, source, account, reason) = (event.epochSeconds, event.kind, event.source, event.account, event.reason)
    }
}

extension AdminServer {
    /// An integer query parameter within `range`, or nil when absent; 400 when it is not one.
    static func integer(_ name: String, in range: ClosedRange<Int64>, _ request: Request) throws -> Int64? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        guard let value = Int64(text), range.contains(value) else {
            throw HTTPError(.badRequest, message: "\(name) must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// A text query parameter of at most 256 bytes, or nil.
    static func text(_ name: String, _ request: Request) throws -> String? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        guard text.utf8.count <= 256 else { throw HTTPError(.badRequest, message: "\(name) is too long") }
        return text
    }

    func addRecordRoutes(to group: RouterGroup<AdminRequestContext>) {
        // The `rampart cdr` filters: since/until in seconds since 1970, party, account, disposition, limit.
        group.get("/api/cdrs") { request, _ in
            let seconds: ClosedRange<Int64> = 0...(1 << 40)
            var filter = CallRecordFilter(limit: try Self.limit(request))
            filter.startedFrom = try Self.integer("since", in: seconds, request).map { $0 * 1_000 }
            filter.startedBefore = try Self.integer("until", in: seconds, request).map { $0 * 1_000 }
            filter.party = try Self.text("party", request)
            filter.account = try Self.text("account", request)
            if let text = try Self.text("disposition", request) {
                guard let disposition = CallDetailRecord.Disposition(rawValue: text) else {
                    throw HTTPError(.badRequest, message: "unknown disposition")
                }
                filter.disposition = disposition
            }
            return JSONBody(try await store.callRecords(matching: filter))
        }
        // The newest events (since, type, limit), oldest first, as `rampart events` lists them.
        group.get("/api/events") { request, _ in
            let filter = SecurityEventFilter(since: try Self.integer("since", in: 0...(1 << 40), request),
                                             kind: try Self.text("type", request), limit: try Self.limit(request))
            return JSONBody(try await store.securityEvents(matching: filter).map(EventEntry.init))
        }
    }
}

extension AdminServer {
    /// `GET /api/events/stream`: Server-Sent Events, one `security-event` per event as the edge records it, a
    /// comment every 15 s to keep proxies from closing the connection; it ends at the edge's shutdown, after an
    /// hour (the client reconnects), or at the first keep-alive after its token is revoked. At most
    /// ``EdgeDefense/maximumWatchers`` at once, and ``TokenStreams/perToken`` per token (503 beyond), so that one
    /// token cannot take every stream.
    func addEventStream(to group: RouterGroup<AdminRequestContext>) {
        group.get("/api/events/stream") { _, context in
            let token = context.token
            let name = token?.name ?? ""
            guard streams.open(name) else {
                throw HTTPError(.serviceUnavailable, message: "this token has too many event streams open")
            }
            guard let feed = edge.defense.watch() else {
                streams.close(name)
                throw HTTPError(.serviceUnavailable, message: "too many event streams open")
            }
            // Bounded like the feed: a reader that does not read loses the oldest, never grows this.
            let (ticks, tick) = AsyncStream<StoredSecurityEvent?>.makeStream(bufferingPolicy: .bufferingNewest(256))
            let keepAlive = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(15))
                    tick.yield(nil)
                }
            }
            let relay = Task {
                for await event in feed { tick.yield(event) }
                tick.finish()
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
                body: ResponseBody { writer in
                    defer { keepAlive.cancel(); relay.cancel(); streams.close(name) }
                    let deadline = ContinuousClock.now + .seconds(3_600)
                    try await writer.write(ByteBuffer(string: ": rampart security events\n\n"))
                    for await item in ticks.cancelOnGracefulShutdown() {
                        guard ContinuousClock.now < deadline else { break }
                        if item == nil, let token, (try? await store.adminToken(digest: token.digest)) == nil { break }
                        // JSON on one line: no newline of a hostile field can end the event early.
                        let text = item.flatMap { try? encoder.encode(EventEntry($0)) }
                            .map { "event: security-event\ndata: " + String(decoding: $0, as: UTF8.self) + "\n\n" }
                        try await writer.write(ByteBuffer(string: text ?? ": keep-alive\n\n"))
                    }
                    try await writer.finish(nil)
                })
        }
    }
}

/// How many event streams each token has open (at most ``perToken``).
final class TokenStreams: Sendable {
    static let perToken = 4
    private let open = Mutex<[String: Int]>([:])

    func open(_ name: String) -> Bool {
        open.withLock { open in
            guard open[name, default: 0] < Self.perToken else { return false }
            open[name, default: 0] += 1
            return true
        }
    }

    func close(_ name: String) {
        open.withLock { open in
            open[name, default: 1] -= 1
            if open[name] == 0 { open[name] = nil }
        }
    }
}
