import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SecurityPolicy
import StirShaken

/// Fetches a signer's certificate chain from its x5u URL under the rules that keep a verifier from becoming an SSRF
/// pivot: HTTPS only (unless told otherwise), the host's address checked by the one ``AddressPolicy`` before any
/// connection is opened (and connected to as checked, so a second DNS answer cannot swap it), no redirects, a size
/// cap and a time cap for the whole exchange.
public struct CertificateFetcher: Sendable {
    /// The rules.
    public struct Rules: Sendable {
        /// Where the URL's host may be: public addresses, and private or loopback ones only inside its
        /// `allowedNetworks` (the metadata endpoint never).
        public var addressPolicy: AddressPolicy
        /// The CA certificates (PEM file) the HTTPS server's certificate must chain to; nil for the system's.
        public var httpsCAFile: String?
        /// Plain `http:` URLs too (off: a verifier should not trust a chain any on-path party could swap).
        public var allowPlainHTTP: Bool
        /// The largest chain accepted.
        public var maxBytes: Int
        /// The whole fetch, name lookup to last byte.
        public var timeout: Duration

        public init(addressPolicy: AddressPolicy = .classesOnly, httpsCAFile: String? = nil, allowPlainHTTP: Bool = false,
                    maxBytes: Int = STICertificateChain.maxBytes, timeout: Duration = .seconds(2)) {
            (self.addressPolicy, self.httpsCAFile, self.allowPlainHTTP) = (addressPolicy, httpsCAFile, allowPlainHTTP)
            (self.maxBytes, self.timeout) = (maxBytes, timeout)
        }
    }

    /// Why a fetch did not happen or did not succeed.
    public enum Failure: Error, Hashable, Sendable, CustomStringConvertible {
        /// Not an absolute `https:` URL with a host (user information, other schemes refused).
        case unusableURL
        /// The host's address is one the policy forbids; nothing was sent to it.
        case forbidden(String)
        /// Refused, unreachable, too slow, too large, not 200, a redirect.
        case failed(String)

        public var description: String {
            switch self {
            case .unusableURL: "not an https URL this verifier fetches"
            case .forbidden(let why): "the x5u host is \(why): not fetched"
            case .failed(let why): "the fetch failed: \(why)"
            }
        }

        /// The verdict's reason.
        public var reason: Verstat.Reason {
            switch self {
            case .unusableURL: .x5uMismatch
            case .forbidden: .x5uForbidden
            case .failed: .x5uFetchFailed
            }
        }
    }

    /// What a fetch brought back.
    public struct Fetched: Sendable {
        public let body: [UInt8]
        /// `Cache-Control: max-age`, when the server gave one.
        public let maxAgeSeconds: Int?
    }

    public let rules: Rules
    private let tlsContext: NIOSSLContext

    public init(rules: Rules) throws {
        self.rules = rules
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let file = rules.httpsCAFile { configuration.trustRoots = .file(file) }
        self.tlsContext = try NIOSSLContext(configuration: configuration)
    }

    /// The parts of an x5u URL a fetch uses.
    public struct Target: Hashable, Sendable {
        let isHTTPS: Bool
        let host: String
        let port: Int
        let path: String

        /// Whether `url` is an https URL a fetch would use.
        public static func isUsable(_ url: String) -> Bool { CertificateFetcher.target(url, allowPlainHTTP: false) != nil }
    }

    static func target(_ url: String, allowPlainHTTP: Bool) -> Target? {
        guard url.utf8.count <= 2_048, let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "https" || (scheme == "http" && allowPlainHTTP), components.user == nil, components.password == nil,
            let host = components.host, !host.isEmpty, components.fragment == nil
        else { return nil }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65_535).contains(port) else { return nil }
        var path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        if let query = components.percentEncodedQuery { path += "?" + query }
        guard path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return Target(isHTTPS: scheme == "https", host: bare, port: port, path: path)
    }

    /// Fetches `url`; `policy` (the edge's, with its listeners, relay, trunks and denied networks) instead of the
    /// rules' own when given.
    public func fetch(_ url: String, policy: AddressPolicy? = nil) async throws(Failure) -> Fetched {
        guard let target = Self.target(url, allowPlainHTTP: rules.allowPlainHTTP) else { throw .unusableURL }
        let deadline = ContinuousClock.now + rules.timeout
        let address = try await resolve(target, policy: policy ?? rules.addressPolicy, until: deadline)
        do {
            return try await exchange(target, at: address, until: deadline)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .failed("\(error)")
        }
    }

    /// Name lookups block a thread (getaddrinfo cannot be cancelled): they run on threads of their own, never the
    /// event loops' or the concurrency pool's, at most ``maxLookups`` at once (more fail at once), and a caller
    /// stops waiting at its deadline while a slow lookup finishes in the background.
    static let lookupThreads: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 4)
        pool.start()
        return pool
    }()
    static let maxLookups = 16
    private static let lookupsInFlight = NIOLockedValueBox(0)

    /// The first of the host's addresses the policy allows (an IP literal is its own answer).
    private func resolve(_ target: Target, policy: AddressPolicy, until deadline: ContinuousClock.Instant) async
        throws(Failure) -> SocketAddress
    {
        var candidates: [SocketAddress] = []
        if let literal = try? SocketAddress(ipAddress: target.host, port: target.port) {
            candidates = [literal]
        } else {
            let admitted = Self.lookupsInFlight.withLockedValue { count -> Bool in
                guard count < Self.maxLookups else { return false }
                count += 1
                return true
            }
            guard admitted else { throw .failed("too many name lookups at once") }
            let (host, port) = (target.host, target.port)
            let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
            let promise = eventLoop.makePromise(of: [SocketAddress].self)
            Self.lookupThreads.submit { _ in
                let found = Self.lookUp(host, port: port)
                Self.lookupsInFlight.withLockedValue { $0 -= 1 }
                promise.succeed(found)
            }
            let remaining = deadline - ContinuousClock.now
            let expiry = eventLoop.scheduleTask(in: TimeAmount(remaining)) {
                promise.fail(Failure.failed("the name lookup took too long"))
            }
            do {
                candidates = try await promise.futureResult.get()
            } catch {
                throw .failed("the name lookup took too long")
            }
            expiry.cancel()
        }
        guard !candidates.isEmpty else { throw .failed("\(target.host) has no address") }
        var refusal: AddressPolicy.Refusal?
        for candidate in candidates {
            guard let text = candidate.ipAddress, let ip = IPAddress(text) else { continue }
            if let refused = policy.refusal(of: ip, port: UInt16(target.port), toldBy: nil) {
                refusal = refusal ?? refused
                continue
            }
            return candidate
        }
        throw .forbidden(refusal?.description ?? "not an IP address")
    }

    private static func lookUp(_ host: String, port: Int) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [SocketAddress] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry, addresses.count < 16 {
            if let socketAddress = current.pointee.ai_addr {
                switch current.pointee.ai_family {
                case AF_INET:
                    socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                        addresses.append(SocketAddress($0.pointee, host: host))
                    }
                case AF_INET6:
                    socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                        addresses.append(SocketAddress($0.pointee, host: host))
                    }
                default: break
                }
            }
            entry = current.pointee.ai_next
        }
        return addresses
    }

    private func exchange(_ target: Target, at address: SocketAddress, until deadline: ContinuousClock.Instant)
        async throws -> Fetched
    {
        let group = MultiThreadedEventLoopGroup.singleton
        let eventLoop = group.next()
        let remaining = deadline - ContinuousClock.now
        guard remaining > .zero else { throw Failure.failed("no time left") }
        let promise = eventLoop.makePromise(of: Fetched.self)
        let timeout = TimeAmount(remaining)
        let tlsContext = target.isHTTPS ? self.tlsContext : nil
        let serverName = (try? SocketAddress(ipAddress: target.host, port: 0)) == nil ? target.host : nil
        let channel: any Channel
        do {
            channel = try await connect(eventLoop, to: address, timeout: timeout, tlsContext: tlsContext,
                                        serverName: serverName, promise: promise)
        } catch {
            promise.fail(error)  // a promise is always completed, even when no connection was made
            throw Failure.failed("\(error)")
        }
        // One deadline for the whole fetch: what connecting took is not given again to the answer.
        let expiry = eventLoop.scheduleTask(in: TimeAmount(deadline - ContinuousClock.now)) {
            promise.fail(Failure.failed("no complete answer in time"))
            channel.close(promise: nil)
        }
        defer { expiry.cancel() }
        var headers = HTTPHeaders()
        let hostHeader = target.host.contains(":") ? "[\(target.host)]" : target.host
        headers.add(name: "Host", value: target.port == (target.isHTTPS ? 443 : 80) ? hostHeader : "\(hostHeader):\(target.port)")
        headers.add(name: "Accept", value: "application/pem-certificate-chain, application/pkix-cert, */*")
        headers.add(name: "User-Agent", value: "rampart")
        headers.add(name: "Connection", value: "close")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.path, headers: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        defer { channel.close(promise: nil) }
        return try await promise.futureResult.get()
    }

    private func connect(_ eventLoop: any EventLoop, to address: SocketAddress, timeout: TimeAmount,
                         tlsContext: NIOSSLContext?, serverName: String?, promise: EventLoopPromise<Fetched>)
        async throws -> any Channel
    {
        let maxBytes = rules.maxBytes
        return try await ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tlsContext, serverHostname: serverName))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise, maxBytes: maxBytes))
                }
            }
            .connect(to: address).get()
    }
}

/// Reads one response: 200 only, at most `maxBytes` of body, `Cache-Control: max-age` noted.
private final class ResponseCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<CertificateFetcher.Fetched>
    private let maxBytes: Int
    private var body: [UInt8] = []
    private var maxAge: Int?
    private var done = false

    init(promise: EventLoopPromise<CertificateFetcher.Fetched>, maxBytes: Int) {
        (self.promise, self.maxBytes) = (promise, maxBytes)
    }

    private func fail(_ context: ChannelHandlerContext, _ why: String) {
        guard !done else { return }
        done = true
        promise.fail(CertificateFetcher.Failure.failed(why))
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard head.status == .ok else {
                return fail(context, "HTTP \(head.status.code)" + ((300..<400).contains(head.status.code) ? " (redirects are not followed)" : ""))
            }
            if let length = head.headers.first(name: "Content-Length").flatMap(Int.init), length > maxBytes {
                return fail(context, "a body of \(length) bytes")
            }
            for directive in head.headers["Cache-Control"].flatMap({ $0.split(separator: ",") }) {
                let parts = directive.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == "max-age", let seconds = Int(parts[1]) { maxAge = seconds }
            }
        case .body(let buffer):
            guard body.count + buffer.readableBytes <= maxBytes else { return fail(context, "more than \(maxBytes) bytes") }
            body += buffer.readableBytesView
        case .end:
            done = true
            promise.succeed(.init(body: body, maxAgeSeconds: maxAge))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(context, "the connection closed early")
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, "\(error)")
    }
}
