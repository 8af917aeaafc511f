import Edge
import Foundation
import SIPMessage
import SIPTransportNIO
import SecurityPolicy

/// `[security]` of the configuration file, as the edge's ``AttackGuard`` configuration.
extension ServeSettings {
    /// The signature file's name in the data directory; written with the built-in list on first start, then
    /// the operator's to update.
    static let signatureFile = "scanner-signatures.txt"

    /// `[address_policy]`: the networks the edge may be told to send to although they are private, and those it never
    /// is.
    static func addressPolicy(_ file: ServeConfiguration.AddressPolicy?) throws -> AddressPolicy {
        func networks(_ texts: [String]?, _ name: String) throws -> NetworkList {
            do { return try NetworkList(parsing: texts ?? []) } catch {
                throw UsageError(message: "address_policy.\(name): \(error)")
            }
        }
        return AddressPolicy(allowedNetworks: try networks(file?.allowedNetworks, "allowed_networks"),
                             deniedNetworks: try networks(file?.deniedNetworks, "denied_networks"))
    }

    /// `security.listener_networks`: CIDR lists keyed by a listener as `listen` names it.
    static func listenerNetworks(_ file: ServeConfiguration.Security?) throws -> [ListenerNetworks] {
        try (file?.listenerNetworks ?? [:]).sorted { $0.key < $1.key }.map { key, texts in
            let listener: SIPListenAddress
            do { listener = try SIPListenAddress(parsing: key) } catch {
                throw UsageError(message: "security.listener_networks: \(error)")
            }
            do { return ListenerNetworks(listener: listener, networks: try NetworkList(parsing: texts)) } catch {
                throw UsageError(message: "security.listener_networks.\(key): \(error)")
            }
        }
    }

    static func security(_ file: ServeConfiguration.Security?, dataDir: String) throws
        -> (AttackGuard.Configuration, OverloadGuard.Thresholds, retainedEvents: Int)
    {
        let file = file ?? .init()
        func bounded(_ value: Int?, _ name: String, default fallback: Int, in range: ClosedRange<Int>) throws -> Int {
            try Self.bounded(value, "security." + name, default: fallback, in: range)
        }
        func networks(_ texts: [String]?, _ name: String) throws -> NetworkList {
            do { return try NetworkList(parsing: texts ?? []) } catch {
                throw UsageError(message: "security.\(name): \(error)")
            }
        }
        var configuration = AttackGuard.Configuration()
        configuration.acl = AddressACL(allow: try networks(file.allow, "allow"), deny: try networks(file.deny, "deny"))
        var byAccount: [String: NetworkList] = [:]
        for (account, texts) in file.accountNetworks ?? [:] {
            byAccount[account] = try networks(texts, "account_networks.\(account)")
        }
        configuration.accountNetworks = AccountNetworks(byAccount)

        if let path = file.geoipCSV {
            let text: String
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw UsageError(message: "security.geoip_csv: cannot read \(path)")
            }
            let database: GeoIPDatabase
            do { database = try GeoIPDatabase(csv: text) } catch {
                throw UsageError(message: "security.geoip_csv: \(path): \(error)")
            }
            let unknownAllowed: Bool?
            switch file.geoUnknown {
            case nil: unknownAllowed = nil
            case "allow"?: unknownAllowed = true
            case "deny"?: unknownAllowed = false
            default: throw UsageError(message: "security.geo_unknown must be \"allow\" or \"deny\"")
            }
            let rule: GeoRule
            switch (file.geoBlock, file.geoAllowOnly) {
            case (let block?, nil): rule = GeoRule(.block(Set(block.map { $0.uppercased() })), unknownAllowed: unknownAllowed)
            case (nil, let allow?):
                rule = GeoRule(.allowOnly(Set(allow.map { $0.uppercased() })), unknownAllowed: unknownAllowed)
            case (nil, nil): throw UsageError(message: "security.geoip_csv needs geo_block or geo_allow_only")
            default: throw UsageError(message: "security.geo_block and security.geo_allow_only exclude each other")
            }
            configuration.geo = (rule, database)
        } else if file.geoBlock != nil || file.geoAllowOnly != nil {
            throw UsageError(message: "security.geo_block and geo_allow_only need security.geoip_csv")
        }

        configuration.signatures = try signatures(file.scannerSignatures, dataDir: dataDir)

        var rules = AttackGuard.Rules()
        rules.windowSeconds = Int64(try bounded(file.windowSeconds, "window_seconds", default: 600, in: 10...86_400))
        rules.pairFailures = try bounded(file.banAfterFailures, "ban_after_failures", default: 10, in: 1...10_000)
        rules.sourceFailures = try bounded(file.banAfterSourceFailures, "ban_after_source_failures", default: 30,
                                           in: 1...100_000)
        rules.sourceFailedAccounts = try bounded(file.banAfterFailedAccounts, "ban_after_failed_accounts", default: 5,
                                                 in: 1...1_000)
        rules.accountAttackSources = try bounded(file.accountAttackSources, "account_attack_sources", default: 3,
                                                 in: 1...1_000)
        rules.sweepTargets = try bounded(file.sweepExtensions, "sweep_extensions", default: 10, in: 2...10_000)
        rules.probes = try bounded(file.probes, "probes", default: 20, in: 1...100_000)
        rules.failureAnswers = try bounded(file.failureAnswers, "failure_answers", default: 40, in: 1...100_000)
        rules.floodRefusals = try bounded(file.floodRefusals, "flood_refusals", default: 200, in: 1...1_000_000)
        rules.firstBanSeconds = Int64(try bounded(file.banSeconds, "ban_seconds", default: 600, in: 1...31_536_000))
        rules.maxBanSeconds = Int64(try bounded(file.maxBanSeconds, "max_ban_seconds", default: 86_400,
                                                in: Int(rules.firstBanSeconds)...31_536_000))
        switch file.bannedResponse {
        case nil, "drop"?: rules.rejectsBanned = false
        case "403"?: rules.rejectsBanned = true
        default: throw UsageError(message: "security.banned_response must be \"drop\" or \"403\"")
        }
        configuration.rules = rules
        configuration.rateLimits = try rateLimits(file.rateLimits)

        let overload = OverloadGuard.Thresholds(
            loopLagMilliseconds: try bounded(file.overloadLoopLagMilliseconds, "overload_loop_lag_ms", default: 250,
                                             in: 10...60_000),
            backlog: try bounded(file.overloadBacklog, "overload_backlog", default: 2_000, in: 1...1_000_000),
            retryAfterSeconds: try bounded(file.overloadRetryAfterSeconds, "overload_retry_after_seconds", default: 10,
                                           in: 1...3_600))
        let retained = try bounded(file.retainedEvents, "retained_events", default: 1_000_000, in: 1_000...100_000_000)
        return (configuration, overload, retained)
    }

    /// The scanner signatures: a configured file, none (`""`), or the data directory's file (created with the
    /// built-in list when missing).
    static func signatures(_ configured: String?, dataDir: String) throws -> ScannerSignatures {
        if configured == "" { return .none }
        let path = try dataFile(configured, name: signatureFile, builtIn: ScannerSignatures.builtInText,
                                dataDir: dataDir)
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw UsageError(message: "security.scanner_signatures: cannot read \(path)")
        }
        do { return try ScannerSignatures(parsing: text) } catch {
            throw UsageError(message: "\(path): \(error)")
        }
    }

    /// `[security.rate_limits]`: `SCOPE_CLASS = [per_second, burst]`, scopes source/account/pair, classes
    /// register/invite/options/other; `[0, 0]` removes a budget.
    static func rateLimits(_ table: [String: [ServeConfiguration.Number]]?) throws -> RateLimiter.Limits {
        var limits = RateLimiter.Limits()
        for (key, numbers) in table ?? [:] {
            let values = numbers.map(\.value)
            let parts = key.split(separator: "_", maxSplits: 1).map(String.init)
            guard parts.count == 2, ["source", "account", "pair"].contains(parts[0]),
                let methodClass = RateLimiter.MethodClass.allCases.first(where: { $0.description == parts[1] })
            else {
                throw UsageError(message: "security.rate_limits.\(key): expected source_, account_ or pair_ "
                    + "followed by register, invite, options or other")
            }
            guard values.count == 2, values.allSatisfy({ $0 >= 0 && $0 <= 1_000_000 }) else {
                throw UsageError(message: "security.rate_limits.\(key) must be [per_second, burst]")
            }
            let budget = values == [0, 0] ? nil : RateLimiter.Budget(perSecond: values[0], burst: values[1])
            func set(_ budgets: inout RateLimiter.Budgets) {
                switch methodClass {
                case .register: budgets.register = budget
                case .invite: budgets.invite = budget
                case .options: budgets.options = budget
                case .other: budgets.other = budget
                }
            }
            switch parts[0] {
            case "source": set(&limits.perSource)
            case "account": set(&limits.perAccount)
            default: set(&limits.perPair)
            }
        }
        return limits
    }
}

/// `[fraud]` of the configuration file.
extension ServeSettings {
    /// The high-risk prefix file's name in the data directory (written with the built-in list on first start).
    static let highRiskFile = "high-risk-prefixes.txt"

    static func fraud(_ file: ServeConfiguration.Fraud?, dataDir: String, routesNumbers: Bool) throws
        -> FraudMonitor.Configuration
    {
        let file = file ?? .init()
        var configuration = FraudMonitor.Configuration()
        configuration.normalizer = E164Normalizer(countryCode: file.countryCode ?? "",
                                                  internationalPrefixes: file.internationalPrefixes ?? ["00", "011"],
                                                  trunkPrefix: file.trunkPrefix)
        if let countryCode = file.countryCode {
            let highRisk = try highRiskPrefixes(file.highRiskPrefixes, dataDir: dataDir)
            do {
                configuration.destinations = try DestinationRules(
                    homeCountryCode: countryCode, allowPrefixes: file.allowPrefixes ?? [],
                    denyPrefixes: file.denyPrefixes ?? [], highRiskPrefixes: highRisk,
                    internationalAccounts: Set(file.internationalAccounts ?? []),
                    internationalByDefault: file.internationalByDefault ?? false,
                    highRiskAccounts: Set(file.highRiskAccounts ?? []))
            } catch {
                throw UsageError(message: "fraud: \(error)")
            }
        } else if routesNumbers {
            throw UsageError(message: "trunks with prefixes need fraud.country_code (the home country, for E.164 "
                + "numbers and the destination rules against toll fraud)")
        }
        let limitAction = try action(file.limitAction, "limit_action", default: .blockNewCalls)
        let anomalyAction = try action(file.anomalyAction, "anomaly_action", default: .alert)
        func thresholds(_ base: FraudDetector.Thresholds, _ limits: [String: Int]?, _ name: String) throws
            -> FraudDetector.Thresholds
        {
            var result = base
            for (key, value) in limits ?? [:] {
                let limit: Int? = value == 0 ? nil : value  // 0 switches a rule off
                switch key {
                case "concurrent_calls": result.maxConcurrentCalls = limit
                case "calls_per_minute": result.maxCallsPerMinute = limit
                case "international_per_hour": result.maxInternationalPerHour = limit
                case "minutes_per_day": result.maxMinutesPerDay = limit
                default:
                    throw UsageError(message: "fraud.\(name).\(key): expected concurrent_calls, calls_per_minute, "
                        + "international_per_hour or minutes_per_day")
                }
            }
            if let multiplier = file.anomalyMultiplier { result.anomaly?.multiplier = multiplier.value }
            result.actions = FraudDetector.Actions(
                concurrentCalls: limitAction, callsPerMinute: limitAction, internationalPerHour: limitAction,
                minutesPerDay: limitAction, anomaly: anomalyAction)
            do { try result.validate() } catch { throw UsageError(message: "fraud.\(name): \(error)") }
            return result
        }
        do {
            configuration.detector = try FraudDetector(
                account: try thresholds(.account, file.accountLimits, "account_limits"),
                trunk: try thresholds(.trunk, file.trunkLimits, "trunk_limits"))
        } catch let error as UsageError {
            throw error
        } catch {
            throw UsageError(message: "fraud: \(error)")
        }
        return configuration
    }

    static func action(_ text: String?, _ name: String, default fallback: FraudAction) throws -> FraudAction {
        switch text {
        case nil: return fallback
        case "alert"?: return .alert
        case "block"?: return .blockNewCalls
        case "suspend"?: return .suspend
        default: throw UsageError(message: "fraud.\(name) must be \"alert\", \"block\" or \"suspend\"")
        }
    }

    /// The high-risk prefixes: a configured file, none (`""`), or the data directory's file (created with the
    /// built-in list when missing).
    static func highRiskPrefixes(_ configured: String?, dataDir: String) throws -> [(prefix: String, label: String)] {
        if configured == "" { return [] }
        let path = try dataFile(configured, name: highRiskFile, builtIn: DestinationRules.builtInHighRiskText,
                                dataDir: dataDir)
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw UsageError(message: "fraud.high_risk_prefixes: cannot read \(path)")
        }
        do { return try DestinationRules.parsePrefixList(text) } catch { throw UsageError(message: "\(path): \(error)") }
    }

    /// A data file's path: the configured one, or the data directory's, written from `builtIn` when missing.
    static func dataFile(_ configured: String?, name: String, builtIn: String, dataDir: String) throws -> String {
        if let configured { return configured }
        let directory = DataDirectory(path: dataDir)
        let path = directory.file(name)
        if !FileManager.default.fileExists(atPath: path) {
            try directory.create()
            do { try builtIn.write(toFile: path, atomically: true, encoding: .utf8) } catch {
                throw UsageError(message: "cannot write \(path)")
            }
        }
        return path
    }
}
