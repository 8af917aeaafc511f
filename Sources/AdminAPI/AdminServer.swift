import AuditTrail
import Crypto
import Edge
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import SecurityPolicy
import Storage
import Synchronization

/// Where the admin API listens, and how.
public struct AdminSettings: Sendable {
    public var host: String
    public var port: Int
    /// The server's TLS; nil: plain HTTP (the CLI allows that on loopback only).
    public var tls: TLSConfiguration?
    /// Failed authentications one address may make in a minute before it gets 429 for the rest of it.
    public var authFailuresPerMinute: Int
    /// Changes (every method but GET) one token may make in a minute before it gets 429 for the rest of it.
    public var writesPerMinute: Int
    /// Checks a configuration's text (`POST /api/config/check`; absent without it).
    public var configurationCheck: (@Sendable (String) -> ConfigurationCheck)?

    public init(host: String, port: Int, tls: TLSConfiguration?, authFailuresPerMinute: Int = 10,
                writesPerMinute: Int = 60, configurationCheck: (@Sendable (String) -> ConfigurationCheck)? = nil) {
        (self.host, self.port, self.tls) = (host, port, tls)
        self.authFailuresPerMinute = max(1, authFailuresPerMinute)
        self.writesPerMinute = max(1, writesPerMinute)
        self.configurationCheck = configurationCheck
    }
}

/// What each request carries through the router: who sent it, and the token it proved, once it did.
public struct AdminRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    public var token: AdminToken?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// Every request body the API takes is small: beyond this, 413.
    public var maxUploadSize: Int { 64 * 1_024 }
}

/// The admin API (issue 20): `/api/...` for people and scripts, `/metrics` for Prometheus, on a listener of its own.
/// Every request but `/api/health` needs a bearer token (``AdminToken``); writes need a role that may make them and
/// are audit records with the token's name as the actor, in the transaction that makes them.
public struct AdminServer: Sendable {
    let edge: EdgeService
    let store: any Store
    let metrics: AdminMetrics
    let settings: AdminSettings
    let version: String
    let logger: Logger
    let failures: MinuteBudget
    let writes: MinuteBudget
    let streams = TokenStreams()
    let started = ContinuousClock.now

    public init(edge: EdgeService, store: any Store, metrics: AdminMetrics, settings: AdminSettings, version: String,
                logger: Logger) {
        (self.edge, self.store, self.metrics, self.settings) = (edge, store, metrics, settings)
        (self.version, self.logger) = (version, logger)
        failures = MinuteBudget(limit: settings.authFailuresPerMinute)
        writes = MinuteBudget(limit: settings.writesPerMinute)
    }

    /// The application to run (a swift-service-lifecycle `Service`); `onBound` hears the port it listens on.
    public func application(onBound: @escaping @Sendable (Int) -> Void) throws -> some ApplicationProtocol {
        let router = Router(context: AdminRequestContext.self)
        router.add(middleware: SecurityHeaders())
        router.get("/api/health") { _, _ in JSONBody(["status": "ok"]) }
        // Readiness (for a load balancer or an orchestrator): the edge serves and its store answers.
        router.get("/api/ready") { _, _ in
            guard (try? await store.banVersion()) != nil else {
                throw HTTPError(.serviceUnavailable, message: "the store does not answer")
            }
            return JSONBody(["status": "ready"])
        }
        addDashboardRoutes(to: router)
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        let secured = router.group().add(middleware: TokenAuthentication(server: self))
        secured.get("/api/version") { _, _ in
            let uptime = ContinuousClock.now - started
            return JSONBody(["version": version, "uptimeSeconds": "\(uptime.components.seconds)"])
        }
        secured.get("/metrics") { _, _ in
            recordGauges()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: metrics.registry.emitToBuffer())))
        }
        addIdentityRoute(to: secured)
        addBanRoutes(to: secured)
        addCallRoutes(to: secured)
        addRecordRoutes(to: secured)
        addUserRoutes(to: secured)
        addTokenRoutes(to: secured)
        addConfigurationCheck(to: secured)
        addEventStream(to: secured)
        let server: HTTPServerBuilder = try settings.tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1()
        return Application(
            router: router, server: server,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: nil),
            onServerRunning: { channel in onBound(channel.localAddress?.port ?? 0) }, logger: logger)
    }

    /// What the store keeps of a token's secret: its SHA-256 in hex. The CLI that makes a token and the API that
    /// checks one both call this, so the two cannot drift apart.
    public static func tokenDigest(_ secret: some StringProtocol) -> String {
        AuditHex.encode(SHA256.hash(data: Array(secret.utf8)))
    }

    /// Now on the edge's wall clock, in milliseconds: the time of the audit records the API writes.
    var nowMilliseconds: Int64 { edge.clock.epochMilliseconds() }

    /// The audit actor of a request's token.
    static func actor(_ context: AdminRequestContext) -> AuditActor {
        AuditActor(kind: .api, name: context.token?.name ?? "unknown")
    }

    /// Refuses a request whose token lacks `role` (403; the token proved who it is, so this is no 401).
    static func require(_ role: AdminToken.Role, _ context: AdminRequestContext) throws {
        guard let token = context.token, token.role >= role else {
            throw HTTPError(.forbidden, message: "this token's role may not do that")
        }
    }
}

/// A JSON object answer with sorted keys.
struct JSONBody<Value: Encodable & Sendable>: ResponseGenerator {
    let value: Value
    var status: HTTPResponse.Status = .ok

    init(_ value: Value, status: HTTPResponse.Status = .ok) { (self.value, self.status) = (value, status) }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}

/// Headers every answer carries: nothing is cached, sniffed or framed, and no script runs but the page's own.
struct SecurityHeaders: RouterMiddleware {
    typealias Context = AdminRequestContext

    /// Only this origin's files; no inline script or style attribute, no plug-ins, no `<base>`, no framing.
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        + "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do { response = try await next(request, context) } catch let error as HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[.cacheControl] = "no-store"
        response.headers[.init("X-Content-Type-Options")!] = "nosniff"
        response.headers[.init("X-Frame-Options")!] = "DENY"
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.init("Referrer-Policy")!] = "no-referrer"
        return response
    }
}

/// Something counted per key (failed authentications per source, changes per token): beyond `limit` in a minute,
/// 429 until the minute is over. The check and the count are one step under one lock (concurrent requests cannot
/// all pass before any is counted). Bounded: when the table is full, keys whose minute is over make room; if none
/// is, a new key is refused (a flood of keys then costs the flooders, not the table).
final class MinuteBudget: Sendable {
    let limit: Int

    init(limit: Int, capacity: Int = 10_000) { (self.limit, self.capacity) = (limit, capacity) }
    static let window: Duration = .seconds(60)
    let capacity: Int
    private let table = Mutex<[String: (count: Int, since: ContinuousClock.Instant)]>([:])

    /// Counts one for `key` and says whether it was within the budget.
    func spend(_ key: String) -> Bool {
        table.withLock { table in
            let now = ContinuousClock.now
            if let entry = table[key], now - entry.since < Self.window {
                guard entry.count < limit else { return false }
                table[key] = (entry.count + 1, entry.since)
                return true
            }
            if table[key] == nil, table.count >= capacity {
                table = table.filter { now - $0.value.since < Self.window }
                guard table.count < capacity else { return false }
            }
            table[key] = (1, now)
            return true
        }
    }
}

/// `Authorization: Bearer TOKEN`, checked by the SHA-256 of the token against the stored digests. A missing or
/// unknown token is 401 (and a security event); a source that failed ten times in a minute gets 429.
struct TokenAuthentication: RouterMiddleware {
    typealias Context = AdminRequestContext
    let server: AdminServer

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        // Failures count per source (an IPv6 source by its /64, as SIP's limits do); a valid token is never held
        // up by them, so that others' failures from a shared address (a proxy, a NAT) cannot lock it out.
        let source = context.remoteAddress?.policyAddress.map { SourceKey($0).description }
            ?? "unknown"
        let header = request.headers[.authorization] ?? ""
        var token: AdminToken?
        if header.hasPrefix("Bearer "), header.utf8.count <= 200 {
            let secret = header.dropFirst("Bearer ".count)
            token = try? await server.store.adminToken(digest: AdminServer.tokenDigest(secret))
        }
        guard let token else {
            guard server.failures.spend(source) else {
                throw HTTPError(.tooManyRequests, headers: [.retryAfter: "60"], message: "too many failed attempts")
            }
            server.edge.defense.countAuthFailure(header.isEmpty ? .noToken : .refusedToken)
            server.edge.defense.record(SecurityEvent(
                kind: .authFailure, source: context.remoteAddress?.ipAddress, account: nil,
                reason: header.isEmpty ? "admin API: no token" : "admin API: token refused",
                epochSeconds: server.edge.clock.epochSeconds()))
            throw HTTPError(.unauthorized, headers: [.wwwAuthenticate: "Bearer realm=\"rampart\""],
                            message: "a valid bearer token is needed")
        }
        if request.method != .get, !server.writes.spend(token.name) {
            throw HTTPError(.tooManyRequests, headers: [.retryAfter: "60"], message: "too many changes by this token")
        }
        var context = context
        context.token = token
        return try await next(request, context)
    }
}
