import AuditTrail
import Dispatch
import Logging
import MediaRelayNIO
import NIOCore
import NIOPosix
import SIPDialog
import SIPMessage
import SIPTransportNIO
import SecurityPolicy
import ServiceLifecycle
import Storage
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The running edge as a service (swift-service-lifecycle): binds the SIP listeners and the media relay, wires the
/// call router to them, then keeps house until a graceful shutdown (registrations written behind every second,
/// bans and directory changes of other processes picked up, expired state swept, the TLS certificate reloaded on
/// SIGHUP) and stops in order (calls ended with BYE, listeners and relay closed, everything flushed). The CLI only
/// builds its configuration and runs it in a `ServiceGroup`.
public final class EdgeServer: Service, Sendable {
    /// The media relay: where it binds, the ports it takes, how long a silent call lives.
    public struct MediaRelay: Sendable {
        /// An address the relay binds, and the one written into SDP for parties of its family.
        public struct Interface: Sendable, Equatable {
            public var address: String
            public var advertisedAddress: String

            public init(address: String, advertisedAddress: String) {
                (self.address, self.advertisedAddress) = (address, advertisedAddress)
            }
        }

        public var interfaces: [Interface]
        public var ports: ClosedRange<UInt16>
        public var timeoutSeconds: Int
        public var warmPairs: Int

        public init(interfaces: [Interface], ports: ClosedRange<UInt16>, timeoutSeconds: Int, warmPairs: Int) {
            (self.interfaces, self.ports, self.timeoutSeconds, self.warmPairs) = (interfaces, ports, timeoutSeconds,
                                                                                  warmPairs)
        }
    }

    /// What the edge listens on, and what it needs to do so.
    public struct Configuration: Sendable {
        /// The SIP listeners and their limits (its handler and accept filter are the edge's).
        public var transport: SIPServer.Configuration
        /// The media relay; nil: SDP keeps the parties' own addresses.
        public var mediaRelay: MediaRelay?
        /// The host put in Via and Contact instead of a listener's address (behind NAT).
        public var advertisedHost: SIPHost?
        /// The listeners' TLS context, reloaded on SIGHUP.
        public var reloadableTLS: ReloadableTLSContext?
        /// Event-loop threads (default: one per core).
        public var threads: Int
        /// The key that signs the audit trail's checkpoints, and when; nil: the edge signs none (tests).
        public var audit: Audit?
        /// Where the audit trail's records go as SIEM events (`[[siem]]`), from the record after `siemStartsAfter`.
        public var siem: [SIEMSinkSettings]
        public var siemStartsAfter: Int64
        /// Where the last record handed to the sinks is kept across restarts (see ``siemStart(positionFile:trailEnd:)``).
        public var siemPositionFile: String?
        /// Where copies of every SIP message go as HEPv3 (`[hep]`); nil: none.
        public var hep: HEPSettings?
        /// How long records are kept (`[privacy]`); nil: the edge erases nothing by age.
        public var retention: RetentionPolicy?
        /// Where commands in other processes tell the edge that they changed the store (``ControlSocket``); nil:
        /// none (the quarter-second poll alone).
        public var controlSocket: String?
        /// Called after the edge has read a change another command made to the store (other services read theirs).
        public var onStoreChanged: (@Sendable () async -> Void)?

        public init(transport: SIPServer.Configuration, mediaRelay: MediaRelay? = nil, advertisedHost: SIPHost? = nil,
                    reloadableTLS: ReloadableTLSContext? = nil, threads: Int = System.coreCount, audit: Audit? = nil,
                    siem: [SIEMSinkSettings] = [], siemStartsAfter: Int64 = 0, hep: HEPSettings? = nil,
                    retention: RetentionPolicy? = nil) {
            (self.transport, self.mediaRelay, self.advertisedHost) = (transport, mediaRelay, advertisedHost)
            (self.reloadableTLS, self.threads, self.audit) = (reloadableTLS, threads, audit)
            (self.siem, self.siemStartsAfter, self.hep, self.retention) = (siem, siemStartsAfter, hep, retention)
        }
    }

    /// How the edge signs the audit trail: its key, and the checkpoint policy (``AuditChain/CheckpointPolicy``).
    /// A checkpoint is also signed at every clean shutdown.
    public struct Audit: Sendable {
        public var signer: AuditSigner
        public var policy: AuditChain.CheckpointPolicy

        public init(signer: AuditSigner, policy: AuditChain.CheckpointPolicy = .init()) {
            (self.signer, self.policy) = (signer, policy)
        }
    }

    /// A listener closed by itself: the edge stopped instead of running deaf.
    public struct ListenerClosed: Error, CustomStringConvertible {
        public let description = "a listener closed unexpectedly"
    }

    /// What ``start()`` bound.
    public struct Bound: Sendable {
        public let listeners: [SIPListenAddress]
    }

    public let edge: EdgeService
    private let store: any Store
    private let configuration: Configuration
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let running = Mutex<(listeners: [SIPServer.Bound], relays: [RelayServer])>(([], []))
    /// The SIEM sinks' delivery tasks, and what feeds them.
    private let siemTasks = Mutex<[Task<Void, Never>]>([])
    private let siem: SIEMForwarder
    private let hep: HEPExporter?

    public init(edge: EdgeService, store: any Store, configuration: Configuration, logger: Logger) {
        self.edge = edge
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        let host = SIEMSink.hostName
        siem = SIEMForwarder(sinks: configuration.siem.map { SIEMSink(settings: $0, host: host, logger: logger) },
                             startingAfter: configuration.siemStartsAfter, positionFile: configuration.siemPositionFile)
        hep = configuration.hep.map { HEPExporter(settings: $0, logger: logger) }
    }

    /// Where SIEM forwarding resumes: after the position kept in `positionFile` by the last run, so that nothing
    /// recorded while the edge was down is skipped; at the trail's end on a first start (or when the kept position
    /// is past it: a restored database), so that history already elsewhere is not sent again.
    public static func siemStart(positionFile: String, trailEnd: Int64) -> Int64 {
        guard let kept = SIEMForwarder.position(in: positionFile), kept <= trailEnd else { return trailEnd }
        return kept
    }

    /// The resource of the open-descriptor limit, as each C library spells it.
    #if canImport(Glibc)
    static let descriptorLimit = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    static let descriptorLimit = RLIMIT_NOFILE
    #endif

    /// Raises the soft limit on open descriptors to the hard one, as far as the process may, and returns the limit
    /// in force (nil if it cannot be read). The relay holds two sockets per warm pair and four per call, and every
    /// stream connection one: the usual soft limit of 1,024 would cap the edge near a hundred calls.
    static func raiseDescriptorLimit() -> UInt64? {
        var limit = rlimit()
        let resource = descriptorLimit
        guard getrlimit(resource, &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resource, &raised) == 0 { return UInt64(raised.rlim_cur) }
        }
        return UInt64(limit.rlim_cur)
    }

    /// Binds the listeners and the relay and wires the call router to them; nothing is served before this returns.
    /// On failure everything bound so far is closed again and the event loops stop.
    public func start() async throws -> Bound {
        let edge = self.edge
        let descriptors = Self.raiseDescriptorLimit()
        if let descriptors, descriptors < 4_096 {
            edge.logger.warning("few file descriptors allowed: each call holds four relay sockets",
                                metadata: ["limit": "\(descriptors)"])
        }
        var transport = configuration.transport
        transport.acceptFilter = { edge.admitsConnection(from: $0) }
        let transportLogger = Logger(label: "rampart.transport")
        let handler: any SIPInboundHandler = hep.map { HEPCapturingHandler(inner: edge, exporter: $0) } ?? edge
        let server = try SIPServer(configuration: transport, handler: handler, group: group, onEvent: { event, peer in
            Self.log(event, peer: peer, logger: transportLogger, edge: edge)
        })
        let listeners: [SIPServer.Bound]
        do { listeners = try await server.start() } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        var relays: [RelayServer] = []
        if let media = configuration.mediaRelay {
            var interfaces: [MediaRelayWiring.Interface] = []
            for interface in media.interfaces {
                do {
                    let relay = try RelayServer(group: group, host: interface.address, ports: media.ports)
                    try await relay.start(warmPairs: media.warmPairs)
                    relays.append(relay)
                    interfaces.append(.init(relay: relay, advertisedAddress: interface.advertisedAddress))
                } catch {
                    for relay in relays { await relay.stop() }
                    await SIPServer.stop(listeners)
                    try? await group.shutdownGracefully()
                    throw RelayUnavailable(address: interface.address, reason: "\(error)")
                }
            }
            var wiring = MediaRelayWiring(interfaces: interfaces, timeoutSeconds: media.timeoutSeconds)
            if let hep {
                wiring.rtcpCopies = { copy, callID in
                    hep.capture(rtcp: copy.report, from: copy.source, to: copy.destination, correlationID: callID)
                }
            }
            edge.calls.anchorMedia(wiring)
        }
        running.withLock { $0 = (listeners, relays) }
        let loops = self.group
        let hep = self.hep
        siemTasks.withLock { tasks in
            tasks = siem.sinks.map { sink in Task { await sink.run(group: loops) } }
            if let hep { tasks.append(Task { await hep.run(group: loops) }) }
        }
        // Calls leave from the listener of the callee's transport, down its registered flow.
        let boundAddresses = listeners.map(\.address)
        edge.calls.listening(on: boundAddresses.compactMap { listener in
            IPAddress(listener.host).flatMap { ip in UInt16(exactly: listener.port).map { .init(address: ip, port: $0) } }
        })
        let advertisedHost = configuration.advertisedHost
        let group = self.group
        // What the edge sends of its own (requests on each leg, answers relayed) is copied to HEP as it leaves,
        // from the listener of its transport and family.
        let capture: @Sendable ([UInt8], SIPFlow) -> Void = { [hep] bytes, flow in
            guard let hep else { return }
            let ipv6 = flow.remote.protocol == .inet6
            let listener = boundAddresses.first { $0.transport == flow.transport && $0.host.contains(":") == ipv6 }
            let local = listener.flatMap { try? SocketAddress(ipAddress: $0.host, port: $0.port) }
            hep.capture(bytes, transport: flow.transport, from: local, to: flow.remote,
                        correlationID: HEPExporter.callID(of: bytes))
        }
        edge.calls.attach(
            sender: { bytes, flow in capture(bytes, flow); return server.send(bytes, over: flow) },
            connector: { bytes, flow in capture(bytes, flow); return server.send(bytes, connecting: flow) },
            isOpen: { flow in server.isOpen(flow) }, addresses: { flow in
                // The listener of the flow's transport and of the peer's family (an IPv6 peer is told an IPv6 address).
                let peerIPv6 = flow.remote.protocol == .inet6
                let candidates = boundAddresses.filter { $0.transport == flow.transport }
                guard let listener = candidates.first(where: { $0.host.contains(":") == peerIPv6 }) ?? candidates.first,
                    let host = advertisedHost ?? SIPHost.parseAddress(listener.host),
                    let port = UInt16(exactly: listener.port)
                else { return nil }
                return SIPLocalAddress(host: host, port: port, transport: flow.transport.rawValue)
            }, scheduler: { delay, body in
                group.next().scheduleTask(in: TimeAmount(delay)) { body() }
            })
        return Bound(listeners: boundAddresses)
    }

    /// The relay could not bind an address.
    public struct RelayUnavailable: Error, CustomStringConvertible {
        public let address: String
        public let reason: String
        public var description: String { "cannot start the media relay on \(address): \(reason)" }
    }

    /// Keeps house until a graceful shutdown (or a listener that closed by itself: ``ListenerClosed``), then stops
    /// in order. ``start()`` must have run.
    public func run() async throws {
        let (listeners, relays) = running.withLock { $0 }
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
        let banVersion = LoadedBanVersion((try? await store.banVersion()) ?? 0)
        var control: ControlSocket?
        if let path = configuration.controlSocket {
            do {
                let others = configuration.onStoreChanged
                control = try await ControlSocket.bind(path: path) { [self] in
                    await applyStoreChanges(banVersion: banVersion)
                    await others?()
                }
            } catch {
                logger.warning("no control socket: changes by other commands apply within a quarter second",
                               metadata: ["path": "\(path)", "error": "\(error)"])
            }
        }
        let lag = LoopLagProbe(group: group)
        var checkpoints = CheckpointSchedule(uncheckpointed: (try? await store.auditTail().uncheckpointed) ?? 0,
                                             now: edge.clock.monotonic())
        var retainedAt: Duration?
        while !Task.isShuttingDownGracefully, !Task.isCancelled, !listenerDied.isSet {
            try? await Task.sleep(for: .milliseconds(250))
            tick += 1
            if tick % 2 == 0 { edge.calls.fireDueTimers(edge: edge) }
            edge.defense.sampleLoad(loopLagMilliseconds: lag.measure(), backlog: edge.backlog,
                                    now: edge.clock.monotonic(), epochSeconds: edge.clock.epochSeconds())
            // Bans added or removed with `rampart ban` reach the edge here, after its own new bans are stored.
            checkpoints.uncheckpointed += await edge.defense.flush(to: store)
            checkpoints.uncheckpointed += await retainIfDue(since: &retainedAt)
            await signCheckpointIfDue(&checkpoints)
            await siem.forward(from: store)
            await applyStoreChanges(banVersion: banVersion)
            guard tick % 4 == 0 else { continue }
            await flushRegistrations()
            if tick % 120 == 0 {
                let now = edge.clock.epochSeconds()
                edge.defense.expireBans(epochSeconds: now)
                _ = try? await store.removeExpiredBans(before: now)
                _ = edge.location.sweep(now: now)
                _ = try? await store.removeExpiredRegistrations(before: now)
            }
        }
        let unexpected = !listenerDied.set()
        logger.info("shutting down")
        await control?.close()
        await edge.calls.shutdown(edge: edge)  // calls ended with BYE, every CDR stored
        edge.calls.detach()  // no retransmission timers on loops that are about to stop
        await SIPServer.stop(listeners)
        for relay in relays { await relay.stop() }
        await flushRegistrations()
        await edge.defense.flush(to: store)
        checkpoints.uncheckpointed = Int.max  // every clean shutdown signs what is there
        await signCheckpointIfDue(&checkpoints)
        // The SIEM sinks get what is left, then deliver once more and stop.
        while await siem.forward(from: store) > 0 {}
        let tasks = siemTasks.withLock { $0 }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        try? await group.shutdownGracefully()
        if unexpected { throw ListenerClosed() }
    }

    /// What other processes changed in the store (`rampart ban`, `user`, `device`): bans, when their version
    /// moved, and the accounts and device bindings the directory cache holds.
    private func applyStoreChanges(banVersion: LoadedBanVersion) async {
        if let version = try? await store.banVersion(), version != banVersion.loaded.withLock({ $0 }),
            let stored = try? await store.allBans()
        {
            // The poll and the control socket may both be reading: only a newer version than the one loaded is
            // loaded, so a slower reader never puts back what a faster one replaced.
            banVersion.loaded.withLock { loaded in
                guard version > loaded else { return }
                loaded = version
                edge.defense.load(stored)
            }
        }
        do { try await edge.directory.refresh(from: store) } catch {
            logger.error("cannot read the store", metadata: ["error": "\(error.code)"])
        }
    }

    private func flushRegistrations() async {
        do { try await edge.location.flush() } catch {
            logger.error("cannot write registrations", metadata: ["error": "\(error.code)"])
        }
    }

    /// Runs the retention job at start and then as often as configured; the audit records it appended (a store
    /// that fails is logged and tried again on the next tick).
    private func retainIfDue(since last: inout Duration?) async -> Int {
        guard let retention = configuration.retention else { return 0 }
        let now = edge.clock.monotonic()
        if let last, now - last < retention.every { return 0 }
        do {
            let counts = try await retention.run(on: store, by: .edge, signer: configuration.audit?.signer,
                                                 at: edge.clock.epochMilliseconds())
            last = now
            if counts.total > 0 {
                logger.info("retention run", metadata: counts.auditDetails.mapValues { .string($0) })
            }
            return counts.auditContents > 0 ? 2 : 1
        } catch {
            logger.error("retention run failed", metadata: ["error": "\(error.code)"])
            return 0
        }
    }

    /// The edge's count of audit records not yet signed, and when it last signed.
    struct CheckpointSchedule {
        var uncheckpointed: Int
        var signedAt: Duration

        init(uncheckpointed: Int, now: Duration) { (self.uncheckpointed, signedAt) = (uncheckpointed, now) }
    }

    /// Signs a checkpoint over the trail when the policy says so (by count or time); a store that fails is logged
    /// and tried again on the next tick.
    private func signCheckpointIfDue(_ schedule: inout CheckpointSchedule) async {
        guard let audit = configuration.audit else { return }
        let now = edge.clock.monotonic()
        guard audit.policy.isDue(uncheckpointed: schedule.uncheckpointed, sinceLast: now - schedule.signedAt) else {
            return
        }
        do {
            try await store.checkpointAudit(signer: audit.signer, time: edge.clock.epochMilliseconds())
            schedule = CheckpointSchedule(uncheckpointed: 0, now: now)
        } catch {
            logger.error("audit checkpoint not stored", metadata: ["error": "\(error.code)"])
        }
    }

    private func installReloadSignal() -> (any DispatchSourceSignal)? {
        guard let tls = configuration.reloadableTLS else { return nil }
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        let logger = self.logger
        let (store, clock) = (self.store, edge.clock)
        source.setEventHandler {
            let outcome: AuditOutcome
            do {
                try tls.reload()
                logger.notice("TLS certificate and key reloaded")
                outcome = .success
            } catch {
                logger.error("TLS reload failed; the previous certificate stays in use", metadata: ["error": "\(error)"])
                outcome = .failure("the new certificate or key did not load")
            }
            let record = AuditContent(time: clock.epochMilliseconds(), actor: .edge, action: .certificatesReloaded,
                                      subject: "tls", outcome: outcome)
            Task { _ = try? await store.audit(record) }
        }
        source.resume()
        return source
    }

    /// The transports' events as security events, counters and log lines.
    static func log(_ event: SIPTransportEvent, peer: SocketAddress?, logger: Logger, edge: EdgeService) {
        let source: Logger.MetadataValue = "\(peer?.ipAddress ?? "?")"
        func record(_ kind: SecurityEvent.Kind, _ reason: String) {
            edge.defense.recordThrottled(SecurityEvent(kind: kind, source: peer?.ipAddress, reason: reason,
                                                       epochSeconds: edge.clock.epochSeconds()))
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

/// The version of the stored bans the edge has loaded, shared by the poll and the control socket.
final class LoadedBanVersion: Sendable {
    let loaded: Mutex<Int64>

    init(_ version: Int64) { loaded = Mutex(version) }
}
