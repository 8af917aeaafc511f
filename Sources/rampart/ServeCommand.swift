import ArgumentParser
import AdminAPI
import AuditTrail
import Crypto
import Edge
import Foundation
import Logging
import NIOSSL
import SIPMessage
import SIPTransportNIO
import ServiceLifecycle
import Storage
import SecurityPolicy

/// `rampart serve`: the SIP edge. With no arguments it keeps its state in `./rampart-data` (created with a
/// development CA and a localhost server certificate), listens on loopback (UDP and TCP 5060, TLS 5061), and
/// serves the domain `localhost`.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the SIP edge (registrar, OPTIONS responder) on UDP, TCP and TLS.")

    @Option(name: .long, help: "A TOML configuration file (see rampart.example.toml).")
    var config: String?

    @Option(name: .long, help: "Directory holding the database and certificates (default rampart-data).")
    var dataDir: String?

    @Option(name: .long, help: ArgumentHelp(
        "Listen on udp|tcp|tls:HOST:PORT (repeatable; replaces the configured listeners).",
        valueName: "transport:host:port"))
    var listen: [String] = []

    @Option(name: .long, help: "The served domain (digest realm); default localhost.")
    var domain: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    @Flag(name: .long, help: "Check the configuration, print what would be served, and exit.")
    var checkConfig = false

    @Option(name: .long, help: ArgumentHelp(
        "The admin API's HOST:PORT, or off (replaces admin.listen; default 127.0.0.1:8443).", valueName: "host:port"))
    var adminListen: String?

    func run() async throws {
        let file = try config.map(ServeConfiguration.load) ?? ServeConfiguration()
        var settings = try ServeSettings(file: file, dataDir: dataDir, listen: listen, domain: domain,
                                         logLevel: logLevel)
        settings.admin = try AdminListenSettings.make(file: file.admin, commandLine: adminListen)
        if checkConfig {
            let algorithms = settings.edge.digestAlgorithms.map(\.token).joined(separator: ", ")
            print("configuration OK: domain \(settings.edge.domain), data in \(settings.dataDir), digest \(algorithms)")
            let media = settings.edge.callMediaPolicy.allowsPlainRTP ? "plain RTP allowed (insecure)" : "SRTP only"
            print("calls: \(media), at most \(settings.edge.maxCalls) at once")
            let rules = settings.edge.security.rules
            print("security: \(settings.edge.security.signatures.rules.count) scanner signatures; bans after "
                + "\(rules.pairFailures) failed logins per account and source, \(rules.sourceFailures) per source, "
                + "\(rules.sweepTargets) probed extensions; first ban \(rules.firstBanSeconds) s, at most "
                + "\(rules.maxBanSeconds) s; banned sources \(rules.rejectsBanned ? "refused with 403" : "dropped")")
            print("rate limits: \(settings.edge.security.rateLimits.summary)")
            let fraud = settings.edge.fraud
            print("fraud: " + (fraud.destinations.map { rules in
                "country code \(rules.homeCountryCode), \(rules.highRiskPrefixes.count) high-risk prefixes, "
                    + (rules.internationalByDefault ? "international for all" : "international for \(rules.internationalAccounts.count) accounts")
            } ?? "no destination rules (calls out by trunks refused)")
                + ", account limits \(fraud.detector.accountThresholds.summary), trunk limits \(fraud.detector.trunkThresholds.summary)")
            for listener in settings.listeners { print("would listen on \(listener)") }
            if let admin = settings.admin {
                print("admin API on \(admin.url(port: admin.port))")
            } else {
                print("admin API off")
            }
            if let relay = settings.mediaRelay {
                let addresses = relay.interfaces.map { "\($0.address) (advertised as \($0.advertisedAddress))" }
                print("media relay on \(addresses.joined(separator: " and ")) ports "
                    + "\(relay.ports.lowerBound)-\(relay.ports.upperBound), calls without media ended after "
                    + "\(relay.timeoutSeconds) s")
            } else {
                print("media relay off: SDP carries the endpoints' own addresses")
            }
            if let turn = settings.turn {
                print("TURN on \(turn.listeners.map(\.description).joined(separator: " ")), realm \(turn.core.realm), relay "
                    + [turn.core.relayAddressV4, turn.core.relayAddressV6].compactMap { $0.map { "\($0)" } }.joined(separator: " and ")
                    + " ports \(turn.relayPorts.lowerBound)-\(turn.relayPorts.upperBound), "
                    + "\(turn.restSecrets.count) REST secret(s), peers allowed beyond public addresses: "
                    + (turn.allowedPeers.isEmpty ? "none" : turn.allowedPeers.joined(separator: " ")))
            } else {
                print("TURN off")
            }
            return
        }
        let logLevel = settings.logLevel
        LoggingSystem.bootstrap { label in
            var handler = RedactingLogHandler(wrapping: StreamLogHandler.standardError(label: label))
            handler.logLevel = logLevel
            return handler
        }
        let logger = Logger(label: "rampart.serve")
        let directory = DataDirectory(path: settings.dataDir)
        let store = try directory.openStore()
        // The trail's key, or no start: an edge does not run unsigned. Then the configuration it runs with, by digest.
        let signer = try await AuditKeyFile(directory: directory).loadOrCreate(store: store, actor: .edge)
        let trailBefore = try await store.auditTail().last?.sequence ?? 0
        let configuration = config.flatMap { FileManager.default.contents(atPath: $0) } ?? Data()
        try await store.audit(AuditContent(
            time: Int64(Date().timeIntervalSince1970 * 1000), actor: .edge, action: .configurationLoaded,
            subject: config ?? "(defaults)",
            details: ["sha256": AuditHex.encode(SHA256.hash(data: configuration)),
                      "domain": settings.edge.domain, "listeners": settings.listeners.map(\.description).joined(separator: " ")]))
        let pseudonymKey = settings.privacy.needsKey ? try directory.pseudonymizer() : nil
        settings.privacy.apply(to: &settings.edge, key: pseudonymKey)

        var tls: ReloadableTLSContext? = nil
        var outboundTLS: TLSConfiguration? = nil
        if settings.listeners.contains(where: { $0.transport == .tls }) {
            let files = try settings.tlsFiles(directory: directory)
            do {
                tls = try ReloadableTLSContext(settings: files)
                outboundTLS = try files.clientConfiguration(verifyPeers: settings.tls.verifyServers ?? true)
            } catch {
                throw UsageError(message: "cannot load the TLS certificate or key: \(error)")
            }
        }

        // The metrics backend first: the edge makes its counters as it starts.
        let metrics = AdminMetrics.bootstrap()
        let edge = EdgeService(configuration: settings.edge, store: store, logger: Logger(label: "rampart.edge"))
        try await edge.loadState()

        var transport = SIPServer.Configuration(
            listeners: settings.listeners, tls: tls, parseLimits: settings.parseLimits,
            streamLimits: settings.streamLimits, connectionLimiter: settings.connectionLimiter(),
            outboundTLS: outboundTLS)
        // A trunk's pinned certificate is checked on the connections the edge opens to it too, not only on its own.
        for trunk in settings.edge.trunks where trunk.flow.transport == .tls {
            if let pin = trunk.certificateFingerprint { transport.pinnedServerCertificates[trunk.flow] = pin }
        }
        let relay = settings.mediaRelay.map { media in
            EdgeServer.MediaRelay(
                interfaces: media.interfaces.map { .init(address: $0.address, advertisedAddress: $0.advertisedAddress) },
                ports: media.ports, timeoutSeconds: media.timeoutSeconds, warmPairs: media.warmPairs)
        }
        let siemPosition = directory.file("siem.position")
        var serverConfiguration = EdgeServer.Configuration(
            transport: transport, mediaRelay: relay, advertisedHost: settings.advertisedHost, reloadableTLS: tls,
            audit: .init(signer: signer, policy: settings.auditPolicy), siem: settings.siem,
            siemStartsAfter: EdgeServer.siemStart(positionFile: siemPosition, trailEnd: trailBefore), hep: settings.hep,
            retention: settings.privacy.retention(key: pseudonymKey))
        serverConfiguration.siemPositionFile = settings.siem.isEmpty ? nil : siemPosition
        serverConfiguration.controlSocket = RunningEdge(dataDirectory: settings.dataDir).socketPath
        var turn: TURNService?
        if let turnSettings = settings.turn {
            var context: NIOSSLContext?
            if turnSettings.needsTLS {
                let files = try settings.tlsFiles(directory: directory)
                do { context = try NIOSSLContext(configuration: try Self.serverTLS(files)) } catch {
                    throw UsageError(message: "cannot load the TURN listener's certificate or key: \(error)")
                }
            }
            let service = TURNService(settings: turnSettings, tls: context, store: store, defense: edge.defense,
                                      logger: Logger(label: "rampart.turn")) { bound in
                let lines = bound.map { "rampart: TURN on \($0)\n" }.joined()
                FileHandle.standardOutput.write(Data(lines.utf8))
            }
            serverConfiguration.onStoreChanged = { await service.reloadUsers() }
            turn = service
        }
        let server = EdgeServer(edge: edge, store: store, configuration: serverConfiguration, logger: logger)
        let bound: EdgeServer.Bound
        do { bound = try await server.start() } catch {
            throw UsageError(message: "\(error)")
        }

        // The SIP listeners as bound (a port 0 is known only now) are never TURN peers either.
        await turn?.server.addOwnListeners(bound.listeners.compactMap { listener in
            IPAddress(listener.host).flatMap { address in
                UInt16(exactly: listener.port).map { AddressPolicy.Endpoint(address: address, port: $0) }
            }
        })
        var lines = ["rampart: serving domain \(settings.edge.domain), data in \(settings.dataDir)"]
        lines += bound.listeners.map { "rampart: listening on \($0)" }
        if let media = settings.mediaRelay {
            for interface in media.interfaces {
                lines.append("rampart: relaying media on \(interface.address) ports "
                    + "\(media.ports.lowerBound)-\(media.ports.upperBound)")
            }
        }
        lines.append("rampart: add a user with: rampart user add NAME --domain \(settings.edge.domain) "
            + "--password-stdin --data-dir \(settings.dataDir)")
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: server)]
        if let turn { services.append(.init(service: turn)) }
        if let admin = settings.admin {
            var tls: TLSConfiguration?
            if admin.tls {
                let files = try settings.tlsFiles(directory: directory)
                do {
                    var configuration = try Self.serverTLS(files)
                    if let clientCA = admin.clientCA {
                        // Mutual TLS: no handshake without a certificate from this CA (the token is still needed).
                        configuration.certificateVerification = .noHostnameVerification
                        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(clientCA))
                    }
                    tls = configuration
                } catch {
                    throw UsageError(message: "cannot load the admin API's certificate or key: \(error)")
                }
            }
            let api = AdminServer(edge: edge, store: store, metrics: metrics,
                                  settings: AdminSettings(host: admin.host, port: admin.port, tls: tls,
                                                          authFailuresPerMinute: admin.authFailuresPerMinute,
                                                          writesPerMinute: admin.writesPerMinute,
                                                          configurationCheck: Self.configurationCheck(
                                                            running: file, dataDirectory: settings.dataDir)),
                                  version: Rampart.version, logger: Logger(label: "rampart.admin"))
            services.append(.init(service: try api.application { port in
                FileHandle.standardOutput.write(Data("rampart: admin API on \(admin.url(port: port))\n".utf8))
            }))
        }
        let group = ServiceGroup(configuration: .init(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do { try await group.run() } catch is EdgeServer.ListenerClosed { throw ExitCode(1) }
    }
}

extension ServeCommand {
    /// A TLS 1.2+ server configuration with the data directory's (or the configured) certificate and key.
    static func serverTLS(_ files: TLSSettings) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(files.certificatePath).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: files.privateKeyPath, format: .pem)))
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }

    /// The admin API's configuration check: a posted file read as `serve --check-config` reads one, and
    /// `rampart lint`'s findings on it with this edge's data directory. Deny by default for the files it names:
    /// only those the running configuration names, or inside the data directory, are read (a token must not turn
    /// the check into a way to read or probe the host's other files).
    static func configurationCheck(running: ServeConfiguration, dataDirectory: String)
        -> @Sendable (String) -> ConfigurationCheck
    {
        // Paths as the system would open them: `..` resolved and symbolic links followed.
        @Sendable func resolved(_ path: String) -> String { URL(fileURLWithPath: path).resolvingSymlinksInPath().path }
        let allowed = Set(running.namedFiles.map { resolved($0.path) })
        let directory = resolved(dataDirectory) + "/"
        // The data directory's secrets and database are never read as another kind of file (their errors would
        // tell something of them), unless the running configuration itself names one.
        let secrets = Set(["audit.key", "ca.key", "server.key", "cdr-pseudonym.key", "rampart.sqlite",
                           "rampart.sqlite-wal", "rampart.sqlite-shm"].map { resolved(directory + $0) })
        return { text in
            do {
                let file = try ServeConfiguration.parse(text, path: "the configuration")
                if let (setting, _) = file.namedFiles.first(where: { named in
                    let path = resolved(named.path)
                    return !allowed.contains(path) && (!path.hasPrefix(directory) || secrets.contains(path))
                }) {
                    return ConfigurationCheck(valid: false, error: "\(setting) names a file that neither the running "
                        + "configuration nor the data directory has: check it with rampart lint on the host")
                }
                _ = try ServeSettings(file: file, dataDir: dataDirectory, listen: [], domain: nil, logLevel: nil)
                _ = try AdminListenSettings.make(file: file.admin, commandLine: nil)
                let findings = try ConfigurationLint(file: file, dataDirectory: dataDirectory, now: Date()).sortedFindings()
                return ConfigurationCheck(valid: true, findings: findings.map {
                    .init(id: $0.id, severity: $0.severity.rawValue, setting: $0.setting, why: $0.why, fix: $0.fix)
                })
            } catch let error as UsageError {
                return ConfigurationCheck(valid: false, error: error.message)
            } catch {
                return ConfigurationCheck(valid: false, error: "\(error)")
            }
        }
    }
}

extension FraudDetector.Thresholds {
    /// `4 calls up, 10/min, 10 international/h, 600 min/day, alert`-style summary for --check-config.
    var summary: String {
        func text(_ value: Int?) -> String { value.map(String.init) ?? "off" }
        return "\(text(maxConcurrentCalls)) calls up, \(text(maxCallsPerMinute))/min, "
            + "\(text(maxInternationalPerHour)) international/h, \(text(maxMinutesPerDay)) min/day, "
            + "anomaly \(anomaly.map { "\($0.multiplier)x" } ?? "off")"
    }
}

extension RateLimiter.Limits {
    /// `source register 20/s burst 200, ...` for --check-config.
    var summary: String {
        var parts: [String] = []
        for (scope, budgets) in [("source", perSource), ("account", perAccount), ("pair", perPair)] {
            for methodClass in RateLimiter.MethodClass.allCases {
                let budget = budgets[methodClass]
                parts.append("\(scope) \(methodClass) " + (budget.map { "\($0.perSecond)/s burst \($0.burst)" } ?? "unlimited"))
            }
        }
        return parts.joined(separator: ", ")
    }
}
