import ArgumentParser
import Edge
import Foundation
import Logging
import MediaRelayNIO
import NIOCore
import NIOPosix
import NIOSSL
import Registrar
import SIPDialog
import SIPMessage
import SIPTransaction
import SIPTransportNIO
import ServiceLifecycle
import Synchronization
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

    func run() async throws {
        let file = try config.map(ServeConfiguration.load) ?? ServeConfiguration()
        var settings = try ServeSettings(file: file, dataDir: dataDir, listen: listen, domain: domain,
                                         logLevel: logLevel)
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
            if let relay = settings.mediaRelay {
                let addresses = relay.interfaces.map { "\($0.address) (advertised as \($0.advertisedAddress))" }
                print("media relay on \(addresses.joined(separator: " and ")) ports "
                    + "\(relay.ports.lowerBound)-\(relay.ports.upperBound), calls without media ended after "
                    + "\(relay.timeoutSeconds) s")
            } else {
                print("media relay off: SDP carries the endpoints' own addresses")
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
        if settings.pseudonymiseCDRParties {
            settings.edge.cdrParties = .pseudonymised(try directory.pseudonymizer())
        }

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

        let edge = EdgeService(configuration: settings.edge, store: store, logger: Logger(label: "rampart.edge"))
        try await edge.location.load(now: EdgeClock.system.epochSeconds())
        edge.defense.load(try await store.allBans())

        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let transportLogger = Logger(label: "rampart.transport")
        var transport = SIPServer.Configuration(
            listeners: settings.listeners, tls: tls, parseLimits: settings.parseLimits,
            streamLimits: settings.streamLimits, connectionLimiter: settings.connectionLimiter(),
            outboundTLS: outboundTLS, acceptFilter: { edge.admitsConnection(from: $0) })
        // A trunk's pinned certificate is checked on the connections the edge opens to it too, not only on its own.
        for trunk in settings.edge.trunks where trunk.flow.transport == .tls {
            if let pin = trunk.certificateFingerprint { transport.pinnedServerCertificates[trunk.flow] = pin }
        }
        let server = try SIPServer(
            configuration: transport,
            handler: edge, group: group,
            onEvent: { event, peer in Self.log(event, peer: peer, logger: transportLogger, defense: edge.defense) })
        let listeners: [SIPServer.Bound]
        do { listeners = try await server.start() } catch {
            try? await group.shutdownGracefully()
            throw UsageError(message: "\(error)")
        }
        var relays: [RelayServer] = []
        if let media = settings.mediaRelay {
            var interfaces: [MediaRelayWiring.Interface] = []
            for interface in media.interfaces {
                do {
                    let server = try RelayServer(group: group, host: interface.address, ports: media.ports)
                    try await server.start(warmPairs: media.warmPairs)
                    relays.append(server)
                    interfaces.append(.init(relay: server, advertisedAddress: interface.advertisedAddress))
                } catch {
                    for relay in relays { await relay.stop() }
                    await SIPServer.stop(listeners)
                    try? await group.shutdownGracefully()
                    throw UsageError(message: "cannot start the media relay on \(interface.address): \(error)")
                }
            }
            edge.calls.anchorMedia(MediaRelayWiring(interfaces: interfaces, timeoutSeconds: media.timeoutSeconds))
        }
        // Calls leave from the listener of the callee's transport, down its registered flow.
        let boundAddresses = listeners.map(\.address)
        edge.calls.listening(on: boundAddresses.compactMap { listener in
            IPAddress(listener.host).flatMap { ip in UInt16(exactly: listener.port).map { .init(address: ip, port: $0) } }
        })
        let advertisedHost = settings.advertisedHost
        edge.calls.attach(
            sender: { bytes, flow in server.send(bytes, over: flow) },
            connector: { bytes, flow in server.send(bytes, connecting: flow) },
            isOpen: { flow in server.isOpen(flow) }, addresses: { flow in
            // The listener of the flow's transport and of the peer's family (an IPv6 peer is told an IPv6 address).
            let peerIPv6 = flow.remote.protocol == .inet6
            let candidates = boundAddresses.filter { $0.transport == flow.transport }
            guard let listener = candidates.first(where: { $0.host.contains(":") == peerIPv6 }) ?? candidates.first,
                let host = advertisedHost ?? SIPHost.parseAddress(listener.host),
                let port = UInt16(exactly: listener.port)
            else { return nil }
            return SIPLocalAddress(host: host, port: port, transport: flow.transport.rawValue)
        }, scheduler: { milliseconds, body in
            group.next().scheduleTask(in: .milliseconds(Int64(milliseconds))) { body() }
        })

        var lines = ["rampart: serving domain \(settings.edge.domain), data in \(settings.dataDir)"]
        lines += listeners.map { "rampart: listening on \($0.address)" }
        if let media = settings.mediaRelay {
            for interface in media.interfaces {
                lines.append("rampart: relaying media on \(interface.address) ports "
                    + "\(media.ports.lowerBound)-\(media.ports.upperBound)")
            }
        }
        lines.append("rampart: add a user with: rampart user add NAME --domain \(settings.edge.domain) "
            + "--password-stdin --data-dir \(settings.dataDir)")
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))

        let runner = EdgeRunner(edge: edge, store: store, listeners: listeners, relays: relays, group: group, tls: tls,
                                logger: logger)
        let services = ServiceGroup(configuration: .init(
            services: [.init(service: runner)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await services.run()
    }

    static func log(_ event: SIPTransportEvent, peer: SocketAddress?, logger: Logger, defense: EdgeDefense) {
        let source: Logger.MetadataValue = "\(peer?.ipAddress ?? "?")"
        func record(_ kind: SecurityEvent.Kind, _ reason: String) {
            defense.recordThrottled(SecurityEvent(kind: kind, source: peer?.ipAddress, reason: reason,
                                                  epochSeconds: EdgeClock.system.epochSeconds()))
        }
        switch event {
        case .tlsHandshakeFailed(let reason):
            record(.tlsHandshakeFailure, reason)
        case .connectionRefused(let perSource):
            record(.rateLimited, perSource ? "connection limit per source" : "connection limit in all")
        case .malformedRequestAnswered(let status):
            record(.malformedMessage, "malformed request answered with \(status)")
        case .malformedDropped:
            logger.debug("malformed message dropped", metadata: ["source": source])
        case .framingErrorClosed(let status):
            logger.notice("stream framing error, connection closed", metadata: ["source": source, "status": "\(status)"])
        case .outboundConnectFailed(let reason):
            logger.warning("could not connect", metadata: ["peer": "\(peer.map { "\($0)" } ?? "?")",
                                                          "reason": "\(reason)"])
        case .idleTimeout:
            logger.debug("idle connection closed", metadata: ["source": source])
        case .handshakeTimeout:
            record(.tlsHandshakeFailure, "handshake not completed in time: connection closed")
        case .firstMessageTimeout:
            record(.rateLimited, "no complete first message in time: connection closed")
        case .requestBacklogFull:
            record(.overload, "connection request backlog full")
        case .overloadDropped:
            logger.debug("overload: datagram dropped", metadata: ["source": source])
        }
    }
}

/// Measures how late tasks run on the event loops: each measurement submits a task to every loop and reports the
/// worst delay the previous round saw (the overload signal of a busy edge).
final class LoopLagProbe: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let worst = Atomic<Int>(0)

    init(group: MultiThreadedEventLoopGroup) { self.group = group }

    /// The worst lag (ms) since the last call; starts the next round.
    func measure() -> Int {
        let result = worst.exchange(0, ordering: .relaxed)
        for loop in group.makeIterator() {
            let submitted = ContinuousClock.now
            loop.execute {
                let late = (ContinuousClock.now - submitted) / .milliseconds(1)
                let milliseconds = Int(late)
                var current = self.worst.load(ordering: .relaxed)
                while milliseconds > current {
                    let (exchanged, original) = self.worst.compareExchange(
                        expected: current, desired: milliseconds, ordering: .relaxed)
                    if exchanged { break }
                    current = original
                }
            }
        }
        return result
    }
}

/// A flag set once, from any thread.
final class OnceFlag: Sendable {
    private let value = Mutex(false)
    /// Sets the flag; true if this call set it.
    func set() -> Bool { value.withLock { was in defer { was = true }; return !was } }
    var isSet: Bool { value.withLock { $0 } }
}

/// Runs until a graceful shutdown: writes registrations behind every second, sweeps expired ones, reloads the
/// TLS certificate on SIGHUP; at shutdown closes the listeners, flushes and stops the event loops.
struct EdgeRunner: Service {
    let edge: EdgeService
    let store: any Store
    let listeners: [SIPServer.Bound]
    let relays: [RelayServer]
    let group: MultiThreadedEventLoopGroup
    let tls: ReloadableTLSContext?
    let logger: Logger

    func run() async throws {
        let reload = installReloadSignal()
        defer { reload?.cancel() }
        let listenerDied = OnceFlag()
        for listener in listeners {
            let address = listener.address
            let logger = self.logger
            listener.closed.whenComplete { _ in
                guard listenerDied.set() else { return }
                logger.critical("listener closed unexpectedly; stopping", metadata: ["listener": "\(address)"])
            }
        }
        var tick = 0
        var banVersion = (try? await store.banVersion()) ?? 0
        let lag = LoopLagProbe(group: group)
        while !Task.isShuttingDownGracefully, !Task.isCancelled, !listenerDied.isSet {
            try? await Task.sleep(for: .milliseconds(250))
            tick += 1
            if tick % 2 == 0 { edge.calls.fireDueTimers(edge: edge) }
            edge.defense.sampleLoad(loopLagMilliseconds: lag.measure(), backlog: edge.backlog,
                                    now: EdgeClock.system.monotonic(), epochSeconds: EdgeClock.system.epochSeconds())
            // Bans added or removed with `rampart ban` reach the edge here, after its own new bans are stored.
            await edge.defense.flush(to: store)
            if let version = try? await store.banVersion(), version != banVersion, let stored = try? await store.allBans() {
                banVersion = version
                edge.defense.load(stored)
            }
            // Account and device changes (by `rampart user`/`device` in another process) reach the cache here.
            do { try await edge.directory.refresh(from: store) } catch {
                logger.error("cannot read the store", metadata: ["error": "\(error.code)"])
            }
            guard tick % 4 == 0 else { continue }
            await flush()
            if tick % 120 == 0 {
                let now = EdgeClock.system.epochSeconds()
                edge.defense.expireBans(epochSeconds: now)
                _ = try? await store.removeExpiredBans(before: now)
                _ = edge.location.sweep(now: now)
                _ = try? await store.removeExpiredRegistrations(before: now)
            }
        }
        let unexpected = !listenerDied.set()
        logger.info("shutting down")
        await edge.calls.shutdown(edge: edge)  // calls ended with BYE, every CDR stored
        edge.calls.detach()  // no retransmission timers on loops that are about to stop
        await SIPServer.stop(listeners)
        for relay in relays { await relay.stop() }
        await flush()
        await edge.defense.flush(to: store)
        try? await group.shutdownGracefully()
        if unexpected { throw ExitCode(1) }
    }

    private func flush() async {
        do { try await edge.location.flush() } catch {
            logger.error("cannot write registrations", metadata: ["error": "\(error.code)"])
        }
    }

    private func installReloadSignal() -> (any DispatchSourceSignal)? {
        guard let tls else { return nil }
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        let logger = self.logger
        source.setEventHandler {
            do {
                try tls.reload()
                logger.notice("TLS certificate and key reloaded")
            } catch {
                logger.error("TLS reload failed; the previous certificate stays in use", metadata: ["error": "\(error)"])
            }
        }
        source.resume()
        return source
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
