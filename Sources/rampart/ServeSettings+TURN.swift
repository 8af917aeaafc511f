import Foundation
import SecurityPolicy
import SIPTransportNIO
import STUN
import TURN
import TURNServerNIO

/// `[turn]` as the server runs it.
struct TURNSettings {
    var listeners: [TURNRelayServer.Listener]
    var core: TURNConfiguration
    var relayPorts: ClosedRange<UInt16>
    /// The REST API's shared secrets, current first (one per line of `rest_secret_file`).
    var restSecrets: [[UInt8]]
    var restMaxTTLSeconds: Int64
    var maxConnections: Int
    /// `allowed_peers` as written.
    var allowedPeers: [String]

    var needsTLS: Bool { listeners.contains { $0.transport == .tls } }
}

extension ServeSettings {
    /// The TURN relay's ports by default: above the kernel's ephemeral range (32768-60999), so no client socket of
    /// the machine can hold one, and apart from the media relay's (16384-32767).
    static let defaultTURNPorts: ClosedRange<UInt16> = 61_000...65_535

    /// `[turn]`; nil when the section is absent or lists no listener.
    static func turn(_ section: ServeConfiguration.Turn?, sipListeners: [SIPListenAddress],
                     mediaRelay: MediaRelaySettings?, edgePolicy: AddressPolicy = .classesOnly,
                     trunkAddresses: [IPAddress] = []) throws -> TURNSettings? {
        guard let section, let texts = section.listen, !texts.isEmpty else { return nil }
        let listeners = try texts.map { text -> TURNRelayServer.Listener in
            guard let listener = TURNRelayServer.Listener(text) else {
                throw UsageError(message: "turn.listen: \(text) is not udp:|tcp:|tls:ADDRESS:PORT with an IP address")
            }
            // A UDP answer must leave from the address the client sent to: a wildcard socket would pick any.
            guard listener.transport != .udp || !listener.address.isUnspecified else {
                throw UsageError(message: "turn.listen: \(text): a UDP listener needs a specific address")
            }
            return listener
        }
        guard let realm = section.realm ?? "localhost" as String?, (1...127).contains(realm.utf8.count),
            realm.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") })
        else { throw UsageError(message: "turn.realm must be 1-127 printable ASCII characters without quotes") }
        func address(_ text: String?, _ name: String, ipv4: Bool) throws -> IPAddress? {
            guard let text else { return nil }
            guard let address = IPAddress(text), address.isIPv4 == ipv4, !address.isUnspecified else {
                throw UsageError(message: "turn.\(name) must be a specific \(ipv4 ? "IPv4" : "IPv6") address, not \(text)")
            }
            return address
        }
        // The relay address defaults to the first IPv4 listener's (a wildcard listener needs it said).
        let relay4 = try address(section.relayAddress ?? listeners.first { $0.address.isIPv4 && !$0.address.isUnspecified }
            .map { "\($0.address)" }, "relay_address", ipv4: true)
        let relay6 = try address(section.relayAddress6, "relay_address6", ipv4: false)
        guard relay4 != nil || relay6 != nil else { throw UsageError(message: "turn.relay_address is needed") }
        var ports = defaultTURNPorts
        if let range = section.relayPorts {
            guard range.count == 2, let low = UInt16(exactly: range[0]), let high = UInt16(exactly: range[1]),
                1_024 <= low, low < high
            else { throw UsageError(message: "turn.relay_ports must be [LOW, HIGH] with 1024 <= LOW < HIGH <= 65535") }
            ports = low...high
        }
        if let media = mediaRelay, media.ports.overlaps(ports) {
            throw UsageError(message: "turn.relay_ports overlap media.ports")
        }
        let allowed: NetworkList
        do { allowed = try NetworkList(parsing: section.allowedPeers ?? []) } catch {
            throw UsageError(message: "turn.allowed_peers: \(error)")
        }
        // Peers may never be the server's own listeners, SIP's or TURN's.
        let own = sipListeners.compactMap { listener in
            IPAddress(listener.host).flatMap { address in UInt16(exactly: listener.port).map { AddressPolicy.Endpoint(address: address, port: $0) } }
        } + listeners.map { AddressPolicy.Endpoint(address: $0.address, port: $0.port) }
        // The edge's denied networks hold for TURN peers too, and a trunk is never one on any port: a carrier that
        // trusts the edge by its address must not receive what a TURN client sends from it.
        let trunks = NetworkList(trunkAddresses.map { CIDRBlock(network: $0, prefixLength: 128) })
        let denied = edgePolicy.deniedNetworks.union(trunks)
        var core = TURNConfiguration(realm: realm, relayAddressV4: relay4, relayAddressV6: relay6,
                                     peerPolicy: AddressPolicy(allowedNetworks: allowed, deniedNetworks: denied,
                                                               listeners: own))
        var limits = TURNLimits()
        limits.allocations = try bounded(section.maxAllocations, "turn.max_allocations", default: 10_000, in: 1...1_000_000)
        limits.allocationsPerUser = try bounded(section.maxAllocationsPerUser, "turn.max_allocations_per_user",
                                                default: 10, in: 1...100_000)
        limits.allocationsPerSource = try bounded(section.maxAllocationsPerSource, "turn.max_allocations_per_source",
                                                  default: 10, in: 1...100_000)
        limits.permissionsPerAllocation = try bounded(section.maxPermissions, "turn.max_permissions", default: 64, in: 1...4_096)
        limits.channelsPerAllocation = try bounded(section.maxChannels, "turn.max_channels", default: 64, in: 1...4_096)
        limits.bytesPerSecond = try bounded(section.bandwidthBytesPerSecond, "turn.bandwidth_bytes_per_second",
                                            default: 1_250_000, in: 1_000...1_250_000_000)
        limits.defaultLifetime = try bounded(section.defaultLifetimeSeconds, "turn.default_lifetime_seconds", default: 600,
                                             in: 60...3_600)
        limits.maxLifetime = try bounded(section.maxLifetimeSeconds, "turn.max_lifetime_seconds", default: 3_600,
                                         in: limits.defaultLifetime...86_400)
        core.limits = limits
        core.limitAmplification = section.limitAmplification ?? true
        core.software = section.software.flatMap { $0.isEmpty ? nil : String($0.prefix(127)) }
        var secrets: [[UInt8]] = []
        if let file = section.restSecretFile {
            secrets = try restSecrets(file: file, setting: "turn.rest_secret_file")
        }
        return TURNSettings(
            listeners: listeners, core: core, relayPorts: ports, restSecrets: secrets,
            restMaxTTLSeconds: Int64(try bounded(section.restMaxTTLSeconds, "turn.rest_max_ttl_seconds", default: 86_400,
                                                 in: 60...604_800)),
            maxConnections: try bounded(section.maxConnections, "turn.max_connections", default: 1_024, in: 1...100_000),
            allowedPeers: section.allowedPeers ?? [])
    }

    /// The REST API's secrets: one per non-empty line, current first; the file owner-only, as every secret file is.
    static func restSecrets(file: String, setting: String) throws -> [[UInt8]] {
        let attributes = try? FileManager.default.attributesOfItem(atPath: file)
        guard let mode = attributes?[.posixPermissions] as? Int, let text = try? String(contentsOfFile: file, encoding: .utf8)
        else { throw UsageError(message: "\(setting): cannot read \(file)") }
        guard mode & 0o077 == 0 else { throw UsageError(message: "\(setting): \(file) is readable by others (chmod 600 it)") }
        let secrets = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.map { Array($0.utf8) }
        guard !secrets.isEmpty, secrets.allSatisfy({ $0.count >= 16 }) else {
            throw UsageError(message: "\(setting): each secret (one per line) must be at least 16 characters")
        }
        return secrets
    }
}
