import AuditTrail
import Crypto
import Edge
import Foundation
import SecurityPolicy
import Logging
import NIOSSL
import ServiceLifecycle
import Storage
import STUN
import TURN
import TURNServerNIO

/// `[turn]` in `serve`: the TURN server, its long-term users read from the store (again whenever a command says the
/// store changed, and every ten seconds), its security events handed to the edge's, its session records stored.
final class TURNService: Service, @unchecked Sendable {
    let server: TURNRelayServer
    private let store: any Store
    private let realm: String
    private let accounts: TURNAccountDirectory
    /// Ended allocations' records, from the server's loop to the store.
    private let records: AsyncStream<StoredTURNSession>
    private let continuation: AsyncStream<StoredTURNSession>.Continuation
    private let logger: Logger
    private let onStart: @Sendable ([TURNRelayServer.Listener]) -> Void

    /// `defense` gets the security events: logged, counted, stored with their audit records, sent to the SIEM sinks
    /// (per kind and source at most once a minute: a flood of bad requests is one event).
    init(settings: TURNSettings, tls: NIOSSLContext?, store: any Store, defense: EdgeDefense, logger: Logger,
         onStart: @escaping @Sendable ([TURNRelayServer.Listener]) -> Void) {
        self.store = store
        self.realm = settings.core.realm
        self.logger = logger
        self.onStart = onStart
        accounts = TURNAccountDirectory(TURNAccounts(realm: settings.core.realm))
        (records, continuation) = AsyncStream.makeStream(of: StoredTURNSession.self, bufferingPolicy: .bufferingNewest(10_000))
        var sources: [any TURNCredentialSource] = [accounts]
        if !settings.restSecrets.isEmpty {
            sources.append(TURNRESTCredentials(secrets: settings.restSecrets, maxTTLSeconds: settings.restMaxTTLSeconds))
        }
        var configuration = TURNRelayServer.Configuration(listeners: settings.listeners, core: settings.core,
                                                          relayPorts: settings.relayPorts,
                                                          credentials: TURNCredentialChain(sources))
        configuration.tls = tls
        configuration.maxConnections = settings.maxConnections
        let continuation = continuation
        let throttle = EventThrottle()
        configuration.events = { events in
            let now = Int64(Date().timeIntervalSince1970)
            for event in events {
                let securityEvent = Self.securityEvent(event, at: now)
                // A denied peer or a quota names what was refused: one event per source and refusal a minute.
                if case .peerDenied = event, !throttle.allows(securityEvent) { continue }
                if case .quotaReached = event, !throttle.allows(securityEvent) { continue }
                switch event {
                case .peerDenied, .quotaReached: defense.record(securityEvent)
                case .authenticationFailed, .amplificationWithheld: defense.recordThrottled(securityEvent)
                }
            }
        }
        configuration.sessions = { record in
            continuation.yield(StoredTURNSession(
                endedAtEpochSeconds: Int64(Date().timeIntervalSince1970), username: record.username,
                client: "\(record.transport.rawValue):\(record.client)", peers: record.peers,
                bytesToPeers: Int64(record.bytesToPeers), bytesToClient: Int64(record.bytesToClient),
                packetsDropped: Int64(record.packetsDropped), seconds: Int64(record.seconds), ending: record.ending))
        }
        server = TURNRelayServer(configuration: configuration)
    }

    /// A TURN event as the edge's security event (kinds `turn-auth-failure`, `turn-peer-denied`, `turn-quota`,
    /// `turn-amplification`).
    static func securityEvent(_ event: TURNEvent, at epochSeconds: Int64) -> SecurityEvent {
        switch event {
        case .authenticationFailed(let source, let username, let failure):
            SecurityEvent(kind: .turnAuthFailure, source: "\(source.address)", account: username, reason: failure.rawValue,
                          epochSeconds: epochSeconds)
        case .peerDenied(let source, let username, let peer, let refusal):
            SecurityEvent(kind: .turnPeerDenied, source: "\(source.address)", account: username,
                          reason: "\(peer): \(refusal)", epochSeconds: epochSeconds)
        case .quotaReached(let source, let username, let quota):
            SecurityEvent(kind: .turnQuota, source: "\(source.address)", account: username, reason: quota.rawValue,
                          epochSeconds: epochSeconds)
        case .amplificationWithheld(let source):
            SecurityEvent(kind: .turnAmplification, source: "\(source.address)",
                          reason: "answer held back: larger than what the source sent", epochSeconds: epochSeconds)
        }
    }

    /// Reads the realm's users from the store into the server.
    func reloadUsers() async {
        do {
            let users = try await store.turnUsers(realm: realm)
            var directory = TURNAccounts(realm: realm)
            for user in users {
                guard let md5 = AuditHex.decode(user.md5KeyHex), let sha256 = AuditHex.decode(user.sha256KeyHex) else { continue }
                directory.users[user.username] = .init(md5: STUNKey(bytes: md5), sha256: STUNKey(bytes: sha256))
            }
            accounts.replace(directory)
        } catch {
            logger.error("cannot read TURN users", metadata: ["error": "\(error)"])
        }
    }

    func run() async throws {
        await reloadUsers()
        let bound = try await server.start()
        onStart(bound)
        let writer = Task { await self.write() }
        let poller = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(10))
                await self.reloadUsers()
            }
        }
        try? await gracefulShutdown()
        poller.cancel()
        await server.stop()
        continuation.finish()
        await writer.value
    }

    /// Writes the ended allocations' records.
    private func write() async {
        for await session in records {
            do { try await store.appendTURNSessions([session]) } catch {
                logger.error("cannot store a TURN session record", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// At most one event a minute per kind, source and reason; bounded.
final class EventThrottle: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [String: Int64] = [:]
    static let capacity = 10_000

    func allows(_ event: SecurityEvent) -> Bool {
        let key = "\(event.kind.name) \(event.source ?? "") \(event.reason)"
        return lock.withLock {
            if let last = seen[key], event.epochSeconds - last < 60 { return false }
            if seen.count >= Self.capacity { seen = seen.filter { event.epochSeconds - $0.value < 60 } }
            guard seen.count < Self.capacity else { return false }
            seen[key] = event.epochSeconds
            return true
        }
    }
}
