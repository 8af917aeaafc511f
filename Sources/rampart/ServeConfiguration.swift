import Foundation
import SIPTransportNIO
import TOMLKit

/// `rampart.toml`: everything `rampart serve` can be told (see `rampart.example.toml`). Every key is optional;
/// unknown keys are refused, so a misspelt security setting cannot silently fall back to a default.
struct ServeConfiguration: Codable, Equatable {
    struct TLS: Codable, Equatable {
        var certificate: String?
        var privateKey: String?
        var clientCA: String?
        var serverCA: String?
        var requireClientCertificate: Bool?
        var verifyServers: Bool?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case certificate, privateKey = "private_key", clientCA = "client_ca", serverCA = "server_ca"
            case requireClientCertificate = "require_client_certificate", verifyServers = "verify_servers"
        }
    }

    /// `[[trunks]]`: a static SIP peer.
    struct Trunk: Codable, Equatable {
        var name: String
        var address: String
        var host: String?
        var prefixes: [String]?
        var allowPlainRTP: Bool?
        var trustIdentity: Bool?
        var username: String?
        var password: String?
        var passwordFile: String?
        var certificateFingerprint: String?
        var bridgeSRTP: Bool?
        var bridgeSRTPSuites: [String]?
        var maxCPS: Int?
        var maxCalls: Int?
        var cdrParties: String?
        var verifyIdentity: Bool?
        var signIdentity: Bool?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, address, host, prefixes, allowPlainRTP = "allow_plain_rtp", trustIdentity = "trust_identity"
            case username, password, passwordFile = "password_file"
            case certificateFingerprint = "certificate_fingerprint", bridgeSRTP = "bridge_srtp"
            case bridgeSRTPSuites = "bridge_srtp_suites", maxCPS = "max_cps", maxCalls = "max_calls"
            case cdrParties = "cdr_parties", verifyIdentity = "verify_identity", signIdentity = "sign_identity"
        }
    }

    struct Registrar: Codable, Equatable {
        var minExpires: Int?
        var maxExpires: Int?
        var defaultExpires: Int?
        var maxContactsPerAOR: Int?
        var digestAlgorithms: [String]?
        var nonceLifetimeSeconds: Int?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case minExpires = "min_expires", maxExpires = "max_expires", defaultExpires = "default_expires"
            case maxContactsPerAOR = "max_contacts_per_aor", digestAlgorithms = "digest_algorithms"
            case nonceLifetimeSeconds = "nonce_lifetime_seconds"
        }
    }

    struct Transport: Codable, Equatable {
        var maxConnectionsPerSource: Int?
        var maxConnections: Int?
        var idleTimeoutSeconds: Int?
        var tlsHandshakeTimeoutSeconds: Int?
        var firstMessageTimeoutSeconds: Int?
        var maxPendingRequestsPerConnection: Int?
        var maxMessageBytes: Int?
        var advertisedHost: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case advertisedHost = "advertised_host"
            case maxConnectionsPerSource = "max_connections_per_source", maxConnections = "max_connections"
            case idleTimeoutSeconds = "idle_timeout_seconds"
            case tlsHandshakeTimeoutSeconds = "tls_handshake_timeout_seconds"
            case firstMessageTimeoutSeconds = "first_message_timeout_seconds"
            case maxPendingRequestsPerConnection = "max_pending_requests_per_connection"
            case maxMessageBytes = "max_message_bytes"
        }
    }

    struct Timers: Codable, Equatable {
        var t1Milliseconds: Int?
        var t2Milliseconds: Int?
        var t4Milliseconds: Int?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case t1Milliseconds = "t1_ms", t2Milliseconds = "t2_ms", t4Milliseconds = "t4_ms"
        }
    }

    struct Calls: Codable, Equatable {
        var allowPlainRTP: Bool?
        var maxCalls: Int?
        var maxCallsPerAccount: Int?
        var maxSubscriptionsPerAccount: Int?
        var maxSubscriptionSeconds: Int?
        var maxRingingSectionsPerAccount: Int?
        var maxDurationSeconds: Int?
        var contactConnections: String?
        var ringTimeoutSeconds: Int?
        var cdrParties: String?
        var cdrPartiesByAccount: [String: String]?
        var plainRTPAccounts: [String]?
        var srtpSuites: [String]?
        var identities: [String: [String]]?
        var stripHeaders: [String]?
        var allowHeaders: [String]?
        var stripHeadersTowardsCallees: [String]?
        var stripHeadersTowardsCallers: [String]?
        var replaceHeaders: [String: String]?
        var subscriptions: String?
        var watchers: [String: [String]]?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case allowPlainRTP = "allow_plain_rtp", maxCalls = "max_calls", maxDurationSeconds = "max_duration_seconds"
            case maxCallsPerAccount = "max_calls_per_account", maxSubscriptionsPerAccount = "max_subscriptions_per_account"
            case maxSubscriptionSeconds = "max_subscription_seconds"
            case maxRingingSectionsPerAccount = "max_ringing_media_sections_per_account"
            case contactConnections = "contact_connections", ringTimeoutSeconds = "ring_timeout_seconds"
            case cdrParties = "cdr_parties", cdrPartiesByAccount = "cdr_parties_by_account"
            case plainRTPAccounts = "plain_rtp_accounts", srtpSuites = "srtp_suites"
            case identities, stripHeaders = "strip_headers", allowHeaders = "allow_headers"
            case stripHeadersTowardsCallees = "strip_headers_towards_callees"
            case stripHeadersTowardsCallers = "strip_headers_towards_callers", replaceHeaders = "replace_headers"
            case subscriptions, watchers
        }
    }

    /// A TOML number: an integer or a float (TOMLKit decodes neither as the other).
    struct Number: Codable, Equatable {
        var value: Double

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let integer = try? container.decode(Int.self) { value = Double(integer) } else {
                value = try container.decode(Double.self)
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(value)
        }
    }

    /// `[security]`: attack detection and response.
    struct Security: Codable, Equatable {
        var allow: [String]?
        var deny: [String]?
        var accountNetworks: [String: [String]]?
        var listenerNetworks: [String: [String]]?
        var geoipCSV: String?
        var geoBlock: [String]?
        var geoAllowOnly: [String]?
        var geoUnknown: String?
        var scannerSignatures: String?
        var windowSeconds: Int?
        var banAfterFailures: Int?
        var banAfterSourceFailures: Int?
        var banAfterFailedAccounts: Int?
        var accountAttackSources: Int?
        var sweepExtensions: Int?
        var probes: Int?
        var failureAnswers: Int?
        var floodRefusals: Int?
        var banSeconds: Int?
        var maxBanSeconds: Int?
        var bannedResponse: String?
        var retainedEvents: Int?
        var rateLimits: [String: [Number]]?
        var overloadLoopLagMilliseconds: Int?
        var overloadBacklog: Int?
        var overloadRetryAfterSeconds: Int?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case allow, deny, accountNetworks = "account_networks", listenerNetworks = "listener_networks", geoipCSV = "geoip_csv", geoBlock = "geo_block"
            case geoAllowOnly = "geo_allow_only", geoUnknown = "geo_unknown", scannerSignatures = "scanner_signatures"
            case windowSeconds = "window_seconds", banAfterFailures = "ban_after_failures"
            case banAfterSourceFailures = "ban_after_source_failures"
            case banAfterFailedAccounts = "ban_after_failed_accounts", accountAttackSources = "account_attack_sources"
            case sweepExtensions = "sweep_extensions", probes, failureAnswers = "failure_answers"
            case floodRefusals = "flood_refusals", banSeconds = "ban_seconds", maxBanSeconds = "max_ban_seconds"
            case bannedResponse = "banned_response", retainedEvents = "retained_events", rateLimits = "rate_limits"
            case overloadLoopLagMilliseconds = "overload_loop_lag_ms", overloadBacklog = "overload_backlog"
            case overloadRetryAfterSeconds = "overload_retry_after_seconds"
        }
    }

    /// `[fraud]`: toll-fraud rules of calls through trunks.
    struct Fraud: Codable, Equatable {
        var countryCode: String?
        var internationalPrefixes: [String]?
        var trunkPrefix: String?
        var allowPrefixes: [String]?
        var denyPrefixes: [String]?
        var highRiskPrefixes: String?
        var internationalAccounts: [String]?
        var internationalByDefault: Bool?
        var highRiskAccounts: [String]?
        var accountLimits: [String: Int]?
        var trunkLimits: [String: Int]?
        var limitAction: String?
        var anomalyAction: String?
        var anomalyMultiplier: Number?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case countryCode = "country_code", internationalPrefixes = "international_prefixes"
            case trunkPrefix = "trunk_prefix", allowPrefixes = "allow_prefixes", denyPrefixes = "deny_prefixes"
            case highRiskPrefixes = "high_risk_prefixes", internationalAccounts = "international_accounts"
            case internationalByDefault = "international_by_default", highRiskAccounts = "high_risk_accounts"
            case accountLimits = "account_limits", trunkLimits = "trunk_limits", limitAction = "limit_action"
            case anomalyAction = "anomaly_action", anomalyMultiplier = "anomaly_multiplier"
        }
    }

    /// `[media]`: the media relay (issue 7).
    struct Media: Codable, Equatable {
        var relay: Bool?
        var address: String?
        var advertisedAddress: String?
        var address6: String?
        var advertisedAddress6: String?
        var portMin: Int?
        var portMax: Int?
        var timeoutSeconds: Int?
        var warmPairs: Int?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case relay, address, advertisedAddress = "advertised_address", address6
            case advertisedAddress6 = "advertised_address6", portMin = "port_min", portMax = "port_max"
            case timeoutSeconds = "timeout_seconds", warmPairs = "warm_pairs"
        }
    }

    /// `[address_policy]`: where a peer may make the edge send (SDP media addresses and, as they come, other told
    /// addresses); deny by default.
    struct AddressPolicy: Codable, Equatable {
        var allowedNetworks: [String]?
        var deniedNetworks: [String]?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case allowedNetworks = "allowed_networks", deniedNetworks = "denied_networks"
        }
    }

    struct Log: Codable, Equatable {
        var level: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case level }
    }

    /// `[[siem]]`: one SIEM sink each.
    struct SIEM: Codable, Equatable {
        var target: String?
        var format: String?
        var types: [String]?
        var minSeverity: Int?
        var queueCapacity: Int?
        var ca: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case target, format, types, minSeverity = "min_severity", queueCapacity = "queue_capacity", ca
        }
    }

    /// `[hep]`: copies of every SIP message to a Homer collector.
    struct HEP: Codable, Equatable {
        var target: String?
        var captureID: Int?
        var authKey: String?
        var queueCapacity: Int?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case target, captureID = "capture_id", authKey = "auth_key", queueCapacity = "queue_capacity"
        }
    }

    /// `[stir]`: STIR/SHAKEN signing (a key and its certificate URL) and verification (STI-CA roots).
    struct Stir: Codable, Equatable {
        var keyFile: String?
        var certificateURL: String?
        var attestation: String?
        var attestationByAccount: [String: String]?
        var caFiles: [String]?
        var crlFiles: [String]?
        var onFailure: String?
        var onMissing: String?
        var maxAgeSeconds: Int?
        var x5uAllowedNetworks: [String]?
        var x5uCAFile: String?
        var fetchTimeoutSeconds: Int?
        var cacheEntries: Int?
        var cacheMinSeconds: Int?
        var cacheMaxSeconds: Int?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case keyFile = "key_file", certificateURL = "certificate_url", attestation
            case attestationByAccount = "attestation_by_account", caFiles = "ca_files", crlFiles = "crl_files"
            case onFailure = "on_failure"
            case onMissing = "on_missing", maxAgeSeconds = "max_age_seconds", x5uAllowedNetworks = "x5u_allowed_networks"
            case x5uCAFile = "x5u_ca_file", fetchTimeoutSeconds = "fetch_timeout_seconds", cacheEntries = "cache_entries"
            case cacheMinSeconds = "cache_min_seconds", cacheMaxSeconds = "cache_max_seconds"
        }
    }

    /// `[turn]`: the STUN/TURN server (off unless it has listeners).
    struct Turn: Codable, Equatable {
        var listen: [String]?
        var realm: String?
        var relayAddress: String?
        var relayAddress6: String?
        var relayPorts: [Int]?
        var allowedPeers: [String]?
        var restSecretFile: String?
        var restMaxTTLSeconds: Int?
        var maxAllocations: Int?
        var maxAllocationsPerUser: Int?
        var maxAllocationsPerSource: Int?
        var maxPermissions: Int?
        var maxChannels: Int?
        var bandwidthBytesPerSecond: Int?
        var defaultLifetimeSeconds: Int?
        var maxLifetimeSeconds: Int?
        var maxConnections: Int?
        var limitAmplification: Bool?
        var software: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case listen, realm, relayAddress = "relay_address", relayAddress6 = "relay_address6"
            case relayPorts = "relay_ports", allowedPeers = "allowed_peers", restSecretFile = "rest_secret_file"
            case restMaxTTLSeconds = "rest_max_ttl_seconds", maxAllocations = "max_allocations"
            case maxAllocationsPerUser = "max_allocations_per_user", maxAllocationsPerSource = "max_allocations_per_source"
            case maxPermissions = "max_permissions", maxChannels = "max_channels"
            case bandwidthBytesPerSecond = "bandwidth_bytes_per_second", defaultLifetimeSeconds = "default_lifetime_seconds"
            case maxLifetimeSeconds = "max_lifetime_seconds", maxConnections = "max_connections"
            case limitAmplification = "limit_amplification", software
        }
    }

    /// `[privacy]`: how stored records write IP addresses, and how long each kind is kept.
    struct Privacy: Codable, Equatable {
        var ipAddresses: String?
        var cdrRetentionDays: Number?
        var expiredCDRs: String?
        var securityEventRetentionDays: Number?
        var auditContentRetentionDays: Number?
        var retentionEverySeconds: Int?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case ipAddresses = "ip_addresses", cdrRetentionDays = "cdr_retention_days", expiredCDRs = "expired_cdrs"
            case securityEventRetentionDays = "security_event_retention_days"
            case auditContentRetentionDays = "audit_content_retention_days"
            case retentionEverySeconds = "retention_every_seconds"
        }
    }

    /// `[admin]`: the admin API's listener.
    struct Admin: Codable, Equatable {
        var listen: String?
        var tls: Bool?
        var authFailuresPerMinute: Int?
        var writesPerMinute: Int?
        var clientCA: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case listen, tls, authFailuresPerMinute = "auth_failures_per_minute", writesPerMinute = "writes_per_minute"
            case clientCA = "client_ca"
        }
    }

    /// `[audit]`: when the edge signs the audit trail's checkpoints.
    struct Audit: Codable, Equatable {
        var checkpointEveryRecords: Int?
        var checkpointEverySeconds: Int?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case checkpointEveryRecords = "checkpoint_every_records", checkpointEverySeconds = "checkpoint_every_seconds"
        }
    }

    var dataDir: String?
    var domain: String?
    var listen: [String]?
    var tls: TLS?
    var registrar: Registrar?
    var transport: Transport?
    var timers: Timers?
    var calls: Calls?
    var trunks: [Trunk]?
    var security: Security?
    var fraud: Fraud?
    var media: Media?
    var addressPolicy: AddressPolicy?
    var log: Log?
    var audit: Audit?
    var siem: [SIEM]?
    var hep: HEP?
    var privacy: Privacy?
    var admin: Admin?
    var stir: Stir?
    var turn: Turn?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case dataDir = "data_dir", domain, listen, tls, registrar, transport, timers, calls, trunks, security, fraud, media
        case addressPolicy = "address_policy", log, audit, siem, hep, privacy, admin, stir, turn
    }

    /// Reads and checks a TOML file. (Integers are read as `Int` and range-checked here: TOMLKit traps when a
    /// negative value is decoded into an unsigned type.)
    static func load(path: String) throws -> ServeConfiguration {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw UsageError(message: "cannot read \(path)")
        }
        return try parse(text, path: path)
    }

    /// Every file the configuration names, by setting (`tls.certificate`, `trunks.NAME.password_file`, ...), the
    /// data directory aside.
    var namedFiles: [(setting: String, path: String)] {
        var files: [(String, String?)] = [
            ("tls.certificate", tls?.certificate), ("tls.private_key", tls?.privateKey),
            ("tls.client_ca", tls?.clientCA), ("tls.server_ca", tls?.serverCA), ("admin.client_ca", admin?.clientCA),
            ("security.geoip_csv", security?.geoipCSV), ("security.scanner_signatures", security?.scannerSignatures),
            ("fraud.high_risk_prefixes", fraud?.highRiskPrefixes), ("stir.key_file", stir?.keyFile),
            ("stir.x5u_ca_file", stir?.x5uCAFile), ("turn.rest_secret_file", turn?.restSecretFile),
        ]
        for (index, file) in (stir?.caFiles ?? []).enumerated() { files.append(("stir.ca_files[\(index)]", file)) }
        for (index, file) in (stir?.crlFiles ?? []).enumerated() { files.append(("stir.crl_files[\(index)]", file)) }
        for trunk in trunks ?? [] { files.append(("trunks.\(trunk.name).password_file", trunk.passwordFile)) }
        for (index, sink) in (siem ?? []).enumerated() {
            files.append(("siem[\(index)].ca", sink.ca))
            if let target = sink.target, target.lowercased().hasPrefix("file:") {
                files.append(("siem[\(index)].target", String(target.dropFirst(5))))
            }
        }
        return files.compactMap { setting, path in path.flatMap { $0.isEmpty ? nil : (setting, $0) } }
    }

    /// Reads and checks a configuration's text; `path` names it in errors.
    static func parse(_ text: String, path: String) throws -> ServeConfiguration {
        let text = TOMLScreen.withoutByteOrderMark(text)
        do { try TOMLScreen.check(text) } catch {
            throw UsageError(message: "\(path): line \(error.line): \(error.reason)")
        }
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let error as TOMLParseError {
            throw UsageError(message: "\(path): \(error.description) at \(error.source.begin)")
        }
        try checkKeys(table, allowed: Set(CodingKeys.allCases.map(\.rawValue)), path: path, prefix: "")
        let sections: [(String, Set<String>)] = [
            ("tls", Set(TLS.CodingKeys.allCases.map(\.rawValue))),
            ("registrar", Set(Registrar.CodingKeys.allCases.map(\.rawValue))),
            ("transport", Set(Transport.CodingKeys.allCases.map(\.rawValue))),
            ("timers", Set(Timers.CodingKeys.allCases.map(\.rawValue))),
            ("calls", Set(Calls.CodingKeys.allCases.map(\.rawValue))),
            ("security", Set(Security.CodingKeys.allCases.map(\.rawValue))),
            ("fraud", Set(Fraud.CodingKeys.allCases.map(\.rawValue))),
            ("media", Set(Media.CodingKeys.allCases.map(\.rawValue))),
            ("address_policy", Set(AddressPolicy.CodingKeys.allCases.map(\.rawValue))),
            ("log", Set(Log.CodingKeys.allCases.map(\.rawValue))),
            ("audit", Set(Audit.CodingKeys.allCases.map(\.rawValue))),
            ("hep", Set(HEP.CodingKeys.allCases.map(\.rawValue))),
            ("privacy", Set(Privacy.CodingKeys.allCases.map(\.rawValue))),
            ("admin", Set(Admin.CodingKeys.allCases.map(\.rawValue))),
            ("stir", Set(Stir.CodingKeys.allCases.map(\.rawValue))),
            ("turn", Set(Turn.CodingKeys.allCases.map(\.rawValue))),
        ]
        for (name, keys) in sections {
            if let section = table[name]?.table { try checkKeys(section, allowed: keys, path: path, prefix: name + ".") }
        }
        if let trunks = table["trunks"]?.array {
            let keys = Set(Trunk.CodingKeys.allCases.map(\.rawValue))
            for case let trunk? in trunks.map({ $0.table }) {
                try checkKeys(trunk, allowed: keys, path: path, prefix: "trunks.")
            }
        }
        if let sinks = table["siem"]?.array {
            let keys = Set(SIEM.CodingKeys.allCases.map(\.rawValue))
            for case let sink? in sinks.map({ $0.table }) { try checkKeys(sink, allowed: keys, path: path, prefix: "siem.") }
        }
        do {
            return try TOMLDecoder().decode(ServeConfiguration.self, from: table)
        } catch {
            throw UsageError(message: "\(path): \(error)")
        }
    }

    private static func checkKeys(_ table: TOMLTable, allowed: Set<String>, path: String, prefix: String) throws {
        for key in table.keys where !allowed.contains(key) {
            throw UsageError(message: "\(path): unknown setting '\(prefix)\(key)'")
        }
    }
}
