import AuditTrail
import Edge
import Foundation
import Logging
import NIOCore
import Proxy
import Registrar
import SDP
import SIEM
import SIPAuth
import SIPMessage
import SIPTransaction
import SIPTransportNIO
import SecurityPolicy

/// The settings `rampart serve` runs with: defaults, then the configuration file, then the command line.
struct ServeSettings {
    var dataDir: String
    var listeners: [SIPListenAddress]
    var edge: EdgeService.Configuration
    var tls: ServeConfiguration.TLS
    var parseLimits: SIPParseLimits
    var streamLimits: SIPStreamHandler.StreamLimits
    var maxConnectionsPerSource: Int
    var maxConnections: Int
    var logLevel: Logger.Level
    /// How records name people, and how long they are kept (pseudonyms under the data directory's
    /// `cdr-pseudonym.key`).
    var privacy: PrivacySettings
    /// The host the edge writes in Via and Contact instead of its listeners' addresses (needed behind a wildcard
    /// listener or NAT).
    var advertisedHost: SIPHost?
    /// The media relay, unless switched off (then SDP carries the endpoints' own addresses).
    var mediaRelay: MediaRelaySettings?
    /// When the edge signs audit checkpoints (`[audit]`).
    var auditPolicy: AuditChain.CheckpointPolicy
    /// Where the trail's records go as SIEM events (`[[siem]]`).
    var siem: [SIEMSinkSettings]
    /// Where copies of SIP messages go as HEPv3 (`[hep]`).
    var hep: HEPSettings?
    /// The admin API's listener (`[admin]`, `--admin-listen`); nil: off.
    var admin: AdminListenSettings?
    /// The STUN/TURN server (`[turn]`); nil: off.
    var turn: TURNSettings?

    struct MediaRelaySettings {
        /// An address the relay binds, and the one written into SDP for parties of its family.
        struct Interface: Equatable {
            var address: String
            var advertisedAddress: String
        }
        /// One per address family: `address`, then `address6` when set.
        var interfaces: [Interface]
        var ports: ClosedRange<UInt16>
        var timeoutSeconds: Int
        var warmPairs: Int
    }

    /// Loopback only until the operator says otherwise.
    static let defaultListeners = ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060", "tls:127.0.0.1:5061"]

    init(file: ServeConfiguration, dataDir: String?, listen: [String], domain: String?, logLevel: String?) throws {
        self.dataDir = dataDir ?? file.dataDir ?? "rampart-data"
        let listenTexts = !listen.isEmpty ? listen : file.listen ?? Self.defaultListeners
        guard !listenTexts.isEmpty else { throw UsageError(message: "no listener configured") }
        listeners = try listenTexts.map { text in
            do { return try SIPListenAddress(parsing: text) } catch { throw UsageError(message: "\(error)") }
        }

        let served = (domain ?? file.domain ?? "localhost").lowercased()
        guard (try? SIPHost.parse(served)) != nil else { throw UsageError(message: "'\(served)' is not a domain") }
        let registrar = file.registrar ?? .init()
        func bounded(_ value: Int?, _ name: String, default fallback: Int, in range: ClosedRange<Int>) throws -> Int {
            try Self.bounded(value, name, default: fallback, in: range)
        }
        let minExpires = try bounded(registrar.minExpires, "registrar.min_expires", default: 60, in: 1...86_400)
        let maxExpires = try bounded(registrar.maxExpires, "registrar.max_expires", default: 3600,
                                     in: minExpires...604_800)
        let defaultExpires = try bounded(registrar.defaultExpires, "registrar.default_expires", default: min(3600, maxExpires),
                                         in: minExpires...maxExpires)
        let maxContacts = try bounded(registrar.maxContactsPerAOR, "registrar.max_contacts_per_aor", default: 10,
                                      in: 1...1000)
        let nonceLifetime = try bounded(registrar.nonceLifetimeSeconds, "registrar.nonce_lifetime_seconds",
                                        default: 300, in: 1...3600)
        let timers = file.timers ?? .init()
        let t1 = try bounded(timers.t1Milliseconds, "timers.t1_ms", default: 500, in: 50...10_000)
        let t2 = try bounded(timers.t2Milliseconds, "timers.t2_ms", default: 4000, in: t1...60_000)
        let t4 = try bounded(timers.t4Milliseconds, "timers.t4_ms", default: 5000, in: 100...60_000)

        let calls = file.calls ?? .init()
        var aliases: Set<String> = ["localhost", "127.0.0.1", "::1"]
        for listener in listeners where !Self.isWildcard(listener.host) {
            aliases.insert(listener.host.lowercased())
        }
        if let text = file.transport?.advertisedHost {
            guard let host = try? SIPHost.parse(text) else {
                throw UsageError(message: "transport.advertised_host must be an IP address or a host name, not \(text)")
            }
            advertisedHost = host
            aliases.insert(text.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]")))
        } else {
            advertisedHost = nil
            // Via and Contact must name an address peers can reach: a wildcard is none.
            if let wildcard = listeners.first(where: { Self.isWildcard($0.host) }) {
                throw UsageError(message: "listening on \(wildcard) needs transport.advertised_host: the address "
                    + "peers reach the edge at, for Via and Contact")
            }
        }
        edge = EdgeService.Configuration(
            domain: served, domainAliases: aliases, digestAlgorithms: try Self.digestAlgorithms(registrar.digestAlgorithms),
            registerPolicy: RegisterProcessor.Policy(
                minExpires: UInt32(minExpires), maxExpires: UInt32(maxExpires), defaultExpires: UInt32(defaultExpires),
                maxContactsPerAOR: maxContacts),
            timers: TransactionTimers(t1: .milliseconds(t1), t2: .milliseconds(t2), t4: .milliseconds(t4)),
            nonceLifetime: .seconds(nonceLifetime),
            callMediaPolicy: MediaPolicy(allowsPlainRTP: calls.allowPlainRTP ?? false,
                                         allowedSuites: try Self.srtpSuites(calls.srtpSuites)),
            maxCalls: try bounded(calls.maxCalls, "calls.max_calls", default: 10_000, in: 1...1_000_000),
            maxCallSeconds: try bounded(calls.maxDurationSeconds, "calls.max_duration_seconds", default: 14_400,
                                        in: 60...604_800),
            contactConnections: try Self.contactConnections(calls.contactConnections),
            ringTimeoutSeconds: try bounded(calls.ringTimeoutSeconds, "calls.ring_timeout_seconds", default: 120,
                                            in: 1...3_600),
            trunks: try (file.trunks ?? []).map(Self.trunk),
            plainRTPAccounts: Set(calls.plainRTPAccounts ?? []),
            assertableIdentities: (calls.identities ?? [:]).mapValues { Set($0) },
            headerPolicy: try Self.headerPolicy(strip: (calls.stripHeaders ?? []) + (calls.stripHeadersTowardsCallees ?? []),
                                                allow: calls.allowHeaders, replace: calls.replaceHeaders),
            callerHeaderPolicy: try Self.headerPolicy(
                strip: (calls.stripHeaders ?? []) + (calls.stripHeadersTowardsCallers ?? []), allow: calls.allowHeaders,
                replace: calls.replaceHeaders))
        (edge.security, edge.overload, edge.retainedSecurityEvents) = try Self.security(file.security,
                                                                                       dataDir: self.dataDir)
        edge.listenerNetworks = try Self.listenerNetworks(file.security)
        edge.addressPolicy = try Self.addressPolicy(file.addressPolicy)
        edge.accountLimits = CallRouter.AccountLimits(
            calls: try bounded(calls.maxCallsPerAccount, "calls.max_calls_per_account", default: 16, in: 1...100_000),
            subscriptions: try bounded(calls.maxSubscriptionsPerAccount, "calls.max_subscriptions_per_account",
                                       default: 64, in: 1...100_000),
            ringingSections: try bounded(calls.maxRingingSectionsPerAccount, "calls.max_ringing_media_sections_per_account",
                                         default: 16, in: 1...100_000),
            subscriptionSeconds: try bounded(calls.maxSubscriptionSeconds, "calls.max_subscription_seconds",
                                             default: 3_600, in: 60...86_400))
        guard let watchMode = CallRouter.WatchPolicy.Mode(rawValue: calls.subscriptions ?? "domain") else {
            throw UsageError(message: "calls.subscriptions must be \"domain\", \"listed\" or \"off\"")
        }
        edge.watchPolicy = CallRouter.WatchPolicy(mode: watchMode,
                                                  watchers: (calls.watchers ?? [:]).mapValues { Set($0) })
        edge.fraud = try Self.fraud(file.fraud, dataDir: self.dataDir,
                                    routesNumbers: edge.trunks.contains { !$0.prefixes.isEmpty })
        edge.identity = try Self.identity(file.stir)

        privacy = try PrivacySettings(calls: file.calls, trunks: file.trunks, privacy: file.privacy)
        tls = file.tls ?? .init()
        let transport = file.transport ?? .init()
        var limits = SIPParseLimits.default
        limits.maxMessageSize = try bounded(transport.maxMessageBytes, "transport.max_message_bytes",
                                            default: limits.maxMessageSize, in: 1500...65_535)
        parseLimits = limits
        streamLimits = SIPStreamHandler.StreamLimits(
            maxPendingRequests: try bounded(transport.maxPendingRequestsPerConnection,
                                            "transport.max_pending_requests_per_connection", default: 32, in: 1...1024),
            idleTimeout: .seconds(Int64(try bounded(transport.idleTimeoutSeconds, "transport.idle_timeout_seconds",
                                                    default: 300, in: 5...86_400))),
            handshakeTimeout: .seconds(Int64(try bounded(transport.tlsHandshakeTimeoutSeconds,
                                                         "transport.tls_handshake_timeout_seconds", default: 10,
                                                         in: 1...120))),
            firstMessageTimeout: .seconds(Int64(try bounded(transport.firstMessageTimeoutSeconds,
                                                            "transport.first_message_timeout_seconds", default: 30,
                                                            in: 1...600))))
        maxConnectionsPerSource = try bounded(transport.maxConnectionsPerSource, "transport.max_connections_per_source",
                                              default: 64, in: 1...100_000)
        maxConnections = try bounded(transport.maxConnections, "transport.max_connections", default: 10_000,
                                     in: 1...1_000_000)

        mediaRelay = try Self.mediaRelay(file.media ?? .init(), listeners: listeners, advertisedHost: advertisedHost)
        turn = try Self.turn(file.turn, sipListeners: listeners, mediaRelay: mediaRelay, edgePolicy: edge.addressPolicy,
                             trunkAddresses: edge.trunks.compactMap { $0.flow.remote.ipAddress.flatMap(IPAddress.init) })
        let audit = file.audit ?? .init()
        auditPolicy = AuditChain.CheckpointPolicy(
            everyRecords: try Self.bounded(audit.checkpointEveryRecords, "audit.checkpoint_every_records", default: 1_000,
                                           in: 1...1_000_000),
            every: .seconds(try Self.bounded(audit.checkpointEverySeconds, "audit.checkpoint_every_seconds", default: 60,
                                             in: 1...86_400)))
        siem = try (file.siem ?? []).enumerated().map { index, sink in
            let name = "siem[\(index)]"
            guard let text = sink.target, let target = SIEMSinkSettings.Target(text) else {
                throw UsageError(message: "\(name).target must be udp:HOST:PORT, tcp:HOST:PORT, tls:HOST:PORT or file:PATH "
                    + "(HOST an IP address)")
            }
            if let ca = sink.ca, !FileManager.default.isReadableFile(atPath: ca) {
                throw UsageError(message: "\(name).ca: cannot read \(ca)")
            }
            guard let format = SIEMFormat(rawValue: sink.format ?? "rfc5424") else {
                throw UsageError(message: "\(name).format must be one of \(SIEMFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return SIEMSinkSettings(
                target: target, format: format, types: sink.types ?? [],
                minimumSeverity: try Self.bounded(sink.minSeverity, "\(name).min_severity", default: 0, in: 0...10),
                queueCapacity: try Self.bounded(sink.queueCapacity, "\(name).queue_capacity", default: 10_000,
                                                in: 1...1_000_000),
                trustedCAFile: sink.ca)
        }
        hep = try file.hep.map { hep in
            guard let text = hep.target, let target = HEPSettings.Target(text) else {
                throw UsageError(message: "hep.target must be udp:HOST:PORT or tcp:HOST:PORT (HOST an IP address)")
            }
            return HEPSettings(
                target: target,
                captureID: UInt32(try Self.bounded(hep.captureID, "hep.capture_id", default: 2_001, in: 0...Int(Int32.max))),
                authenticationKey: hep.authKey,
                queueCapacity: try Self.bounded(hep.queueCapacity, "hep.queue_capacity", default: 20_000, in: 1...1_000_000))
        }
        if mediaRelay == nil, let bridged = edge.trunks.first(where: \.bridgesSRTP) {
            throw UsageError(message: "trunks.\(bridged.name).bridge_srtp needs the media relay ([media] relay = true)")
        }

        let levelText = logLevel ?? file.log?.level ?? "info"
        guard let level = Logger.Level(rawValue: levelText.lowercased()) else {
            throw UsageError(message: "unknown log level '\(levelText)'")
        }
        self.logLevel = level
    }

    /// `[media]`: on by default, on the first listener's address (or `advertised_address` behind a wildcard or NAT),
    /// and also on `address6` for IPv6 parties when set (by default the first IPv6 listener's, when `address` is
    /// IPv4); ports 16384-32767, below the kernel's ephemeral range (32768-60999) so that no client socket can hold a
    /// port the relay binds ahead, calls without media for 60 s ended.
    static func mediaRelay(_ media: ServeConfiguration.Media, listeners: [SIPListenAddress],
                           advertisedHost: SIPHost?) throws -> MediaRelaySettings? {
        guard media.relay ?? true else { return nil }
        let address = media.address ?? listeners.first?.host ?? "127.0.0.1"
        var interfaces = [try relayInterface(address, advertised: media.advertisedAddress, setting: "media.address",
                                             advertisedHost: advertisedHost)]
        // A wildcard IPv6 listener gives the relay an IPv6 address only when it is told what to advertise.
        let firstIPv6Listener = listeners.first {
            $0.host.contains(":") && (!Self.isWildcard($0.host) || media.advertisedAddress6 != nil)
        }?.host
        if let address6 = media.address6 ?? (address.contains(":") ? nil : firstIPv6Listener) {
            guard address6.contains(":"), !address.contains(":") else {
                throw UsageError(message: "media.address6 must be an IPv6 address, with media.address an IPv4 one")
            }
            interfaces.append(try relayInterface(address6, advertised: media.advertisedAddress6,
                                                 setting: "media.address6", advertisedHost: advertisedHost))
        }
        let low = try bounded(media.portMin, "media.port_min", default: 16_384, in: 1024...65_532)
        let high = try bounded(media.portMax, "media.port_max", default: 32_767, in: low + 3...65_535)
        return MediaRelaySettings(
            interfaces: interfaces, ports: UInt16(low)...UInt16(high),
            timeoutSeconds: try bounded(media.timeoutSeconds, "media.timeout_seconds", default: 60, in: 1...3_600),
            warmPairs: try bounded(media.warmPairs, "media.warm_pairs", default: 256, in: 2...4_096))
    }

    /// One relay address and what the SDP says instead: itself, or behind a wildcard the advertised one (the
    /// setting's, else the transport's advertised host when it is an address of the same family).
    static func relayInterface(_ address: String, advertised: String?, setting: String,
                               advertisedHost: SIPHost?) throws -> MediaRelaySettings.Interface {
        guard SIPHost.parseAddress(address) != nil else {
            throw UsageError(message: "\(setting) must be an IP address, not \(address)")
        }
        var advertised = advertised
        if advertised == nil, !isWildcard(address) { advertised = address }
        if advertised == nil, let host = advertisedHost, SIPHost.parseAddress(host.addressText) != nil,
            host.addressText.contains(":") == address.contains(":")
        {
            advertised = host.addressText
        }
        guard let advertised, SIPHost.parseAddress(advertised) != nil, !isWildcard(advertised),
            advertised.contains(":") == address.contains(":")
        else {
            let name = setting.replacingOccurrences(of: "media.address", with: "media.advertised_address")
            throw UsageError(message: "\(name) must be the IP address (of the same family) parties reach the relay "
                + "at (the relay binds \(address))")
        }
        return MediaRelaySettings.Interface(address: address, advertisedAddress: advertised)
    }

    /// Whether a listen or relay address is the wildcard of its family (any interface: no address peers can reach).
    static func isWildcard(_ host: String) -> Bool { host == "0.0.0.0" || host == "::" }

    /// A setting's value, or its default, checked against its range.
    /// - Throws: ``UsageError`` naming the setting and the range.
    static func bounded(_ value: Int?, _ name: String, default fallback: Int, in range: ClosedRange<Int>) throws -> Int {
        let value = value ?? fallback
        guard range.contains(value) else {
            throw UsageError(message: "\(name) must be in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// `registrar.digest_algorithms`: tokens from SHA-256, SHA-512-256 and MD5, most preferred first.
    static func digestAlgorithms(_ tokens: [String]?) throws -> [DigestAlgorithm] {
        guard let tokens else { return [.sha256, DigestAlgorithm.Insecure.md5] }
        let offered: [DigestAlgorithm] = [.sha256, .sha512_256, DigestAlgorithm.Insecure.md5]
        var result: [DigestAlgorithm] = []
        for token in tokens {
            guard let algorithm = offered.first(where: { $0.token.caseInsensitiveCompare(token) == .orderedSame }) else {
                throw UsageError(message: "registrar.digest_algorithms: '\(token)' is not one of SHA-256, SHA-512-256, MD5")
            }
            if !result.contains(algorithm) { result.append(algorithm) }
        }
        guard !result.isEmpty else { throw UsageError(message: "registrar.digest_algorithms must not be empty") }
        return result
    }

    static func trunk(_ entry: ServeConfiguration.Trunk) throws -> Trunk {
        guard let flow = SIPFlow(entry.address) else {
            throw UsageError(message: "trunks.\(entry.name).address must be transport:IP:port, not \(entry.address)")
        }
        var credentials: CallSession.Credentials?
        var password = entry.password
        if let file = entry.passwordFile {
            // Kept apart from the configuration (which is shared, versioned, printed): the file's first line.
            guard entry.password == nil else {
                throw UsageError(message: "trunks.\(entry.name): password or password_file, not both")
            }
            guard let text = try? String(contentsOfFile: file, encoding: .utf8),
                let line = text.split(whereSeparator: \.isNewline).first, !line.isEmpty
            else { throw UsageError(message: "trunks.\(entry.name).password_file: cannot read a password from \(file)") }
            password = String(line)
        }
        switch (entry.username, password) {
        case (let username?, let password?): credentials = .init(username: username, password: password)
        case (nil, nil): credentials = nil
        default: throw UsageError(message: "trunks.\(entry.name): username and password go together")
        }
        // Bridged, the trunk's own leg is plain RTP by design, unless it names SDES suites of its own.
        let bridges = entry.bridgeSRTP ?? false
        var bridgedSuites: [SRTPCryptoSuite] = []
        if let names = entry.bridgeSRTPSuites {
            guard bridges else {
                throw UsageError(message: "trunks.\(entry.name).bridge_srtp_suites needs bridge_srtp = true")
            }
            do { bridgedSuites = try srtpSuites(names) } catch {
                throw UsageError(message: "trunks.\(entry.name).bridge_srtp_suites: \(error)")
            }
        }
        let plainLeg = bridges && bridgedSuites.isEmpty
        var trunk = Trunk(name: entry.name, flow: flow, host: entry.host, prefixes: entry.prefixes ?? [],
                     mediaPolicy: MediaPolicy(allowsPlainRTP: plainLeg || (entry.allowPlainRTP ?? false),
                                              allowedSuites: bridgedSuites.isEmpty ? MediaPolicy.srtpOnly.allowedSuites
                                                  : bridgedSuites),
                     trustsIdentity: entry.trustIdentity ?? false, credentials: credentials,
                     certificateFingerprint: entry.certificateFingerprint.map {
                         $0.replacingOccurrences(of: ":", with: "").lowercased()
                     }, bridgesSRTP: bridges, bridgedSuites: bridgedSuites)
        trunk.maxCallsPerSecond = try bounded(entry.maxCPS, "trunks.\(entry.name).max_cps", default: 100, in: 1...100_000)
        trunk.verifiesIdentity = entry.verifyIdentity ?? true
        trunk.signsIdentity = entry.signIdentity ?? true
        if entry.maxCalls != nil {
            trunk.maxCalls = try bounded(entry.maxCalls, "trunks.\(entry.name).max_calls", default: 0, in: 1...1_000_000)
        }
        return trunk
    }

    /// The SDES suites calls may use, by their RFC 4568/6188/7714 names (default: MediaPolicy's).
    static func srtpSuites(_ names: [String]?) throws -> [SRTPCryptoSuite] {
        guard let names else { return MediaPolicy.srtpOnly.allowedSuites }
        let suites = names.map(SRTPCryptoSuite.init(name:))
        if let unknown = suites.first(where: { if case .unknown = $0 { true } else { false } }) {
            throw UsageError(message: "calls.srtp_suites: unknown suite \(unknown.name)")
        }
        guard !suites.isEmpty else { throw UsageError(message: "calls.srtp_suites must name at least one suite") }
        return suites
    }

    /// A header policy of calls: the minimizing deny list plus `strip`, or only the essential headers and `allow`;
    /// `replace` gives headers a fixed value where present (a fixed User-Agent, say).
    static func headerPolicy(strip: [String], allow: [String]?, replace: [String: String]?) throws -> HeaderPolicy {
        for (name, value) in replace ?? [:] {
            guard (try? SIPHeaderField(name: name, value: value)) != nil else {
                throw UsageError(message: "calls.replace_headers: \(name) is not a header name with a valid value")
            }
        }
        if let allow {
            guard strip.isEmpty else {
                throw UsageError(message: "calls.strip_headers and calls.allow_headers exclude each other")
            }
            return HeaderPolicy(mode: .allowList(Set(allow.map { $0.lowercased() })), replacements: replace ?? [:])
        }
        return HeaderPolicy(denied: HeaderPolicy.minimizing.denied.union(strip.map { $0.lowercased() }),
                            replacements: replace ?? [:])
    }

    static func contactConnections(_ text: String?) throws -> CallRouter.ContactConnections {
        guard let text else { return .tls }
        guard let value = CallRouter.ContactConnections(rawValue: text) else {
            let allowed = CallRouter.ContactConnections.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw UsageError(message: "calls.contact_connections must be one of \(allowed)")
        }
        return value
    }

    func connectionLimiter() -> ConnectionLimiter {
        ConnectionLimiter(maxPerSource: maxConnectionsPerSource, maxTotal: maxConnections)
    }

    /// The TLS files: configured ones, or the data directory's development CA and server certificate. By default
    /// client certificates are verified against the development CA when offered (one from another CA fails the
    /// handshake) and not required.
    func tlsFiles(directory: DataDirectory) throws -> TLSSettings {
        let certificate: String
        let key: String
        switch (tls.certificate, tls.privateKey) {
        case (let configuredCertificate?, let configuredKey?):
            certificate = configuredCertificate
            key = configuredKey
        case (nil, nil):
            (certificate, key) = try directory.serverCertificate(domain: edge.domain, ipAddresses: listeners.map(\.host))
        default:
            throw UsageError(message: "tls.certificate and tls.private_key go together")
        }
        let clientCA: String
        if let configured = tls.clientCA {
            clientCA = configured
        } else {
            _ = try directory.developmentCA()
            clientCA = directory.file("ca.crt")
        }
        // Servers are trusted by the system roots and server_ca; the client CA only when it is the development CA
        // this edge made itself (a configured client CA vouches for phones, not for servers).
        let serverCA = tls.serverCA ?? (tls.clientCA == nil ? clientCA : nil)
        return TLSSettings(certificatePath: certificate, privateKeyPath: key, clientCAPath: clientCA,
                           requireClientCertificate: tls.requireClientCertificate ?? false, serverCAPath: serverCA)
    }
}
