import CertificateAuthority
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import SIPMessage
import SIPTransportNIO
import Synchronization
import Testing

/// Answers every request with 200, echoing what the transport knew about the peer in a header.
struct EchoPeerHandler: SIPInboundHandler {
    func handle(_ inbound: SIPInbound) async -> SIPReply? {
        guard inbound.message.isRequest else { return nil }
        let fingerprint = inbound.clientCertificateFingerprint ?? "none"
        return (try? inbound.message.makeResponse(
            status: 200, toTag: "t", source: inbound.sourceHostPort,
            extraHeaders: [("X-Transport", inbound.transport.rawValue), ("X-Client-Cert", fingerprint)]))
            .map { SIPReply(bytes: $0) }
    }
}

func options(callID: String, transport: String = "TCP") -> String {
    """
    OPTIONS sip:edge@127.0.0.1 SIP/2.0\r
    Via: SIP/2.0/\(transport) 127.0.0.1:5099;branch=z9hG4bK\(callID);rport\r
    From: <sip:probe@example.net>;tag=7\r
    To: <sip:edge@127.0.0.1>\r
    Call-ID: \(callID)\r
    CSeq: 1 OPTIONS\r
    Max-Forwards: 70\r
    Content-Length: 0\r
    \r

    """
}

/// Transport events seen by a test server.
final class EventLog: Sendable {
    private let events = Mutex<[SIPTransportEvent]>([])
    func append(_ event: SIPTransportEvent) { events.withLock { $0.append(event) } }
    func contains(where predicate: (SIPTransportEvent) -> Bool) -> Bool { events.withLock { $0.contains(where: predicate) } }
    var all: [SIPTransportEvent] { events.withLock { $0 } }
}

/// A server on loopback with free ports, stopped at the end of `body`.
func withServer(
    _ listeners: [String], tls: ReloadableTLSContext? = nil, limiter: ConnectionLimiter = ConnectionLimiter(),
    streamLimits: SIPStreamHandler.StreamLimits = .init(),
    events: EventLog = EventLog(),
    _ body: ([SIPServer.Bound], any EventLoopGroup) async throws -> Void
) async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let server = try SIPServer(
        configuration: .init(listeners: try listeners.map { try SIPListenAddress(parsing: $0) }, tls: tls,
                             streamLimits: streamLimits, connectionLimiter: limiter),
        handler: EchoPeerHandler(), group: group, onEvent: { event, _ in events.append(event) })
    let bound = try await server.start()
    do {
        try await body(bound, group)
    } catch {
        await SIPServer.stop(bound)
        try await group.shutdownGracefully()
        throw error
    }
    await SIPServer.stop(bound)
    try await group.shutdownGracefully()
}

func address(_ bound: SIPServer.Bound) throws -> SocketAddress {
    try SocketAddress(ipAddress: bound.address.host, port: bound.address.port)
}

/// A development CA, a server certificate and two client certificates (one from another CA) in a temp directory.
struct TLSFixture {
    let directory: String
    let settings: TLSSettings
    let clientCertificate: String
    let clientKey: String
    let clientFingerprint: String
    let foreignCertificate: String
    let foreignKey: String

    init(requireClientCertificate: Bool = false) throws {
        let directory = NSTemporaryDirectory() + "rampart-tls-\(UInt64.random(in: 0 ... .max))"
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func write(_ text: String, _ name: String) throws -> String {
            let path = directory + "/" + name
            try (text.hasSuffix("\n") ? text : text + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let ca = try DevelopmentCA.create()
        let server = try ca.issueServerCertificate(dnsNames: ["localhost"], ipAddresses: [[127, 0, 0, 1]])
        let client = try ca.issueClientCertificate(username: "alice", domain: "localhost")
        let foreign = try DevelopmentCA.create(commonName: "Somebody Else's CA")
            .issueClientCertificate(username: "alice", domain: "localhost")
        let caPath = try write(try ca.certificatePEM(), "ca.crt")
        settings = TLSSettings(certificatePath: try write(server.certificatePEM, "server.crt"),
                               privateKeyPath: try write(server.privateKeyPEM, "server.key"), clientCAPath: caPath,
                               requireClientCertificate: requireClientCertificate, serverCAPath: caPath)
        clientCertificate = try write(client.certificatePEM, "client.crt")
        clientKey = try write(client.privateKeyPEM, "client.key")
        clientFingerprint = client.fingerprint
        foreignCertificate = try write(foreign.certificatePEM, "foreign.crt")
        foreignKey = try write(foreign.privateKeyPEM, "foreign.key")
    }

    func clientConfiguration(certificate: String? = nil, key: String? = nil,
                             maximumVersion: TLSVersion? = nil) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(settings.clientCAPath!)
        if let certificate, let key {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        }
        if let maximumVersion {
            configuration.maximumTLSVersion = maximumVersion
            configuration.minimumTLSVersion = .tlsv1
        }
        return configuration
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

@Suite(.timeLimit(.minutes(1))) struct SIPStreamTransportTests {
    @Test func keepAlivesAndPipelinedAndSplitMessagesOverTCPAreAllAnsweredOnTheConnection() async throws {
        try await withServer(["tcp:127.0.0.1:0"]) { bound, group in
            let client = try await StreamTestClient.connect(to: try address(bound[0]), group: group)
            // An RFC 5626 §3.5.1 keep-alive ping (CRLFCRLF) is answered with a pong (CRLF).
            try await client.send("\r\n\r\n")
            #expect(await client.wait { $0.received == "\r\n" })
            // Two messages in one write, then a third split in two writes.
            try await client.send(options(callID: "one") + options(callID: "two"))
            let third = options(callID: "three")
            try await client.send(String(third.prefix(40)))
            try await client.send(String(third.dropFirst(40)))
            #expect(await client.wait { $0.received.components(separatedBy: "SIP/2.0 200 OK").count == 4 })
            for callID in ["one", "two", "three"] { #expect(client.received.contains("Call-ID: \(callID)")) }
            #expect(client.received.contains("X-Transport: tcp"))
            await client.close()
        }
    }

    @Test func aStreamThatCannotBeFramedIsAnsweredAndClosed() async throws {
        let events = EventLog()
        try await withServer(["tcp:127.0.0.1:0"], events: events) { bound, group in
            let client = try await StreamTestClient.connect(to: try address(bound[0]), group: group)
            // No Content-Length: mandatory on streams (RFC 3261 §18.3, §20.14).
            try await client.send(options(callID: "nolength").replacingOccurrences(of: "Content-Length: 0\r\n", with: ""))
            #expect(await client.wait { $0.isClosed })
            #expect(events.contains { if case .framingErrorClosed = $0 { true } else { false } })
        }
    }

    @Test func connectionsPerSourceAreCappedAndClosedOnesAreForgotten() async throws {
        let events = EventLog()
        // A long idle timeout: under a loaded test run the cap, not the idle timer, must be what closes the third.
        try await withServer(["tcp:127.0.0.1:0"], limiter: ConnectionLimiter(maxPerSource: 2, maxTotal: 100),
                             streamLimits: SIPStreamHandler.StreamLimits(idleTimeout: .seconds(60)), events: events) { bound, group in
            let first = try await StreamTestClient.connect(to: try address(bound[0]), group: group)
            let second = try await StreamTestClient.connect(to: try address(bound[0]), group: group)
            try await first.send(options(callID: "one"))
            try await second.send(options(callID: "two"))
            #expect(await first.wait { $0.received.contains("200 OK") })
            #expect(await second.wait { $0.received.contains("200 OK") })
            let third = try await StreamTestClient.connect(to: try address(bound[0]), group: group)
            #expect(await third.wait { $0.isClosed })
            #expect(events.contains { $0 == .connectionRefused(perSource: true) })
            await first.close()
            // Closed connections are forgotten: a new one is admitted (the server releases a slot when its side of the
            // connection has closed, a moment after the client's close: a refused attempt is retried).
            var admitted = false
            for _ in 0..<20 where !admitted {
                let fourth = try await StreamTestClient.connect(to: try address(bound[0]), group: group)
                try? await fourth.send(options(callID: "after"))
                _ = await fourth.wait { $0.received.contains("200 OK") || $0.isClosed }
                admitted = fourth.received.contains("200 OK")
                await fourth.close()
                if !admitted { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(admitted)
            await second.close()
        }
    }

    @Test func idleConnectionsAreClosed() async throws {
        let events = EventLog()
        try await withServer(["tcp:127.0.0.1:0"], streamLimits: SIPStreamHandler.StreamLimits(idleTimeout: .milliseconds(300)),
                             events: events) { bound, group in
            let idle = try await StreamTestClient.connect(to: try address(bound[0]), group: group)
            #expect(await idle.wait { $0.isClosed })
            #expect(events.contains { $0 == .idleTimeout })
        }
    }

    @Test func tlsDeliversTheVerifiedClientCertificateAndRefusesOtherCAs() async throws {
        let fixture = try TLSFixture()
        defer { fixture.remove() }
        let events = EventLog()
        let tls = try ReloadableTLSContext(settings: fixture.settings)
        try await withServer(["tls:127.0.0.1:0"], tls: tls, events: events) { bound, group in
            let target = try address(bound[0])
            // With a certificate from the configured CA: its fingerprint reaches the transaction user.
            let bound = try await StreamTestClient.connect(
                to: target, group: group,
                tls: fixture.clientConfiguration(certificate: fixture.clientCertificate, key: fixture.clientKey))
            try await bound.send(options(callID: "mtls", transport: "TLS"))
            #expect(await bound.wait { $0.received.contains("200 OK") })
            #expect(bound.received.contains("X-Client-Cert: \(fixture.clientFingerprint)"))
            #expect(bound.received.contains("X-Transport: tls"))
            await bound.close()

            // Without one (allowed unless required): delivered with no fingerprint.
            let anonymous = try await StreamTestClient.connect(to: target, group: group,
                                                               tls: fixture.clientConfiguration())
            try await anonymous.send(options(callID: "anon", transport: "TLS"))
            #expect(await anonymous.wait { $0.received.contains("200 OK") })
            #expect(anonymous.received.contains("X-Client-Cert: none"))
            await anonymous.close()

            // A certificate from another CA fails the handshake, and that is reported.
            let foreign = try await StreamTestClient.connect(
                to: target, group: group,
                tls: fixture.clientConfiguration(certificate: fixture.foreignCertificate, key: fixture.foreignKey))
            try? await foreign.send(options(callID: "foreign", transport: "TLS"))
            #expect(await foreign.wait { $0.isClosed })
            #expect(!foreign.received.contains("200 OK"))
            #expect(await foreign.wait { _ in
                events.contains { if case .tlsHandshakeFailed = $0 { true } else { false } }
            })

            // TLS 1.1 is refused (TLS 1.2 minimum).
            let old = try await StreamTestClient.connect(to: target, group: group,
                                                         tls: fixture.clientConfiguration(maximumVersion: .tlsv11))
            try? await old.send(options(callID: "old", transport: "TLS"))
            #expect(await old.wait { $0.isClosed })
            #expect(!old.received.contains("200 OK"))
        }
    }

    @Test func requiredClientCertificatesRefuseAnonymousHandshakes() async throws {
        let fixture = try TLSFixture(requireClientCertificate: true)
        defer { fixture.remove() }
        let tls = try ReloadableTLSContext(settings: fixture.settings)
        try await withServer(["tls:127.0.0.1:0"], tls: tls) { bound, group in
            let anonymous = try await StreamTestClient.connect(to: try address(bound[0]), group: group,
                                                               tls: fixture.clientConfiguration())
            try? await anonymous.send(options(callID: "anon", transport: "TLS"))
            #expect(await anonymous.wait { $0.isClosed })
            #expect(!anonymous.received.contains("200 OK"))
        }
    }

    @Test func reloadServesTheNewCertificateToNewConnections() async throws {
        let fixture = try TLSFixture()
        defer { fixture.remove() }
        let tls = try ReloadableTLSContext(settings: fixture.settings)
        let before = try tls.context
        // Replace the server certificate and key files, then reload.
        let renewedCA = try DevelopmentCA.create(commonName: "Renewed CA")
        let renewed = try renewedCA.issueServerCertificate(dnsNames: ["localhost"], ipAddresses: [[127, 0, 0, 1]])
        try (renewed.certificatePEM + "\n").write(toFile: fixture.settings.certificatePath, atomically: true, encoding: .utf8)
        try (renewed.privateKeyPEM + "\n").write(toFile: fixture.settings.privateKeyPath, atomically: true, encoding: .utf8)
        try tls.reload()
        #expect(tls.context !== before)
        try await withServer(["tls:127.0.0.1:0"], tls: tls) { bound, group in
            // A client trusting only the old CA now fails; one trusting the renewed CA succeeds.
            let stale = try await StreamTestClient.connect(to: try address(bound[0]), group: group,
                                                           tls: fixture.clientConfiguration())
            try? await stale.send(options(callID: "stale", transport: "TLS"))
            #expect(await stale.wait { $0.isClosed })
            let renewedRoot = fixture.directory + "/renewed-ca.crt"
            try (try renewedCA.certificatePEM() + "\n").write(toFile: renewedRoot, atomically: true, encoding: .utf8)
            var trusting = TLSConfiguration.makeClientConfiguration()
            trusting.trustRoots = .file(renewedRoot)
            let fresh = try await StreamTestClient.connect(to: try address(bound[0]), group: group, tls: trusting)
            try await fresh.send(options(callID: "fresh", transport: "TLS"))
            #expect(await fresh.wait { $0.received.contains("200 OK") })
            await fresh.close()
        }
        // A broken file keeps the previous context in force.
        try "not a certificate\n".write(toFile: fixture.settings.certificatePath, atomically: true, encoding: .utf8)
        let current = tls.context
        #expect(throws: (any Error).self) { try tls.reload() }
        #expect(tls.context === current)
    }

    @Test func listenAddressesParseStrictly() throws {
        #expect(try SIPListenAddress(parsing: "udp:127.0.0.1:5060").description == "udp:127.0.0.1:5060")
        #expect(try SIPListenAddress(parsing: "tls:[::1]:5061").host == "::1")
        #expect(try SIPListenAddress(parsing: "tls:127.0.0.1").port == 5061)
        #expect(try SIPListenAddress(parsing: "TCP:0.0.0.0:0").transport == .tcp)
        for bad in ["sctp:127.0.0.1:5060", "udp:localhost:5060", "udp:127.0.0.1:70000", "udp:[::1:5060", "127.0.0.1:5060",
                    "udp:127.0.0.1:x"] {
            #expect(throws: SIPListenAddress.ParseError.self) { try SIPListenAddress(parsing: bad) }
        }
    }
}
