import ArgumentParser
import CertificateAuthority
import Foundation
import SIPAuth
import SIPTransportNIO

/// `rampart lint`: what in a configuration and its data directory weakens the edge, each finding with its severity,
/// the setting, why it matters and the fix. Reads only: it creates nothing (no key, no database, no directory).
struct LintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lint", abstract: "Find weak settings in a configuration and its data directory.",
        discussion: "Exit 0 when nothing is at or above --fail-on, 1 when something is, 2 on a usage error.")

    @Option(name: .long, help: "A TOML configuration file (see rampart.example.toml); default: the defaults.")
    var config: String?
    @Option(name: .long, help: "The data directory to check (default: the configuration's data_dir).")
    var dataDir: String?
    @Flag(name: .long, help: "Print the findings as one JSON object.") var json = false
    @Option(name: .long, help: "The least severity that fails: info, low, medium, high or critical.")
    var failOn: LintFinding.Severity = .high

    func run() throws {
        let file = try config.map(ServeConfiguration.load) ?? ServeConfiguration()
        let directory = dataDir ?? file.dataDir ?? "rampart-data"
        let findings = try ConfigurationLint(file: file, dataDirectory: directory, now: Date()).sortedFindings()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            struct Report: Encodable {
                var findings: [LintFinding]
                var failOn: LintFinding.Severity
                var failed: Bool
            }
            let failed = findings.contains { $0.severity >= failOn }
            FileHandle.standardOutput.write(try encoder.encode(Report(findings: findings, failOn: failOn, failed: failed))
                + Data([0x0A]))
        } else {
            for finding in findings {
                print("\(finding.severity.rawValue.uppercased()) \(finding.id) [\(finding.setting)]: \(finding.why)")
                print("    fix: \(finding.fix)")
            }
            print(findings.isEmpty ? "no findings" : "\(findings.count) finding\(findings.count == 1 ? "" : "s")")
        }
        if findings.contains(where: { $0.severity >= failOn }) { throw CheckFailed(exitCode: 1) }
    }
}

/// One thing `rampart lint` found.
struct LintFinding: Encodable, Hashable {
    enum Severity: String, Encodable, Comparable, CaseIterable, ExpressibleByArgument {
        case info, low, medium, high, critical

        static func < (lhs: Severity, rhs: Severity) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    /// A stable name (`plain-rtp-allowed`), for scripts that accept a finding on purpose.
    var id: String
    var severity: Severity
    /// The setting or file it is about (`calls.allow_plain_rtp`, `DIR/audit.key`).
    var setting: String
    var why: String
    var fix: String
}

/// The rules. Each looks at the configuration as written (defaults included) or at a file; none changes anything.
struct ConfigurationLint {
    let file: ServeConfiguration
    let dataDirectory: String
    let now: Date

    /// The findings, the most severe first.
    func sortedFindings() throws -> [LintFinding] {
        try findings().sorted { ($0.severity, $0.id) > ($1.severity, $1.id) }
    }

    func findings() throws -> [LintFinding] {
        var found: [LintFinding] = []
        func add(_ id: String, _ severity: LintFinding.Severity, _ setting: String, _ why: String, _ fix: String) {
            found.append(LintFinding(id: id, severity: severity, setting: setting, why: why, fix: fix))
        }
        let calls = file.calls ?? .init()
        if calls.allowPlainRTP == true {
            add("plain-rtp-allowed", .high, "calls.allow_plain_rtp",
                "every call may carry unencrypted media: anyone on the path hears it",
                "set calls.allow_plain_rtp = false; list legacy phones in calls.plain_rtp_accounts instead")
        }
        if let accounts = calls.plainRTPAccounts, !accounts.isEmpty {
            add("plain-rtp-accounts", .medium, "calls.plain_rtp_accounts",
                "calls between \(accounts.count) listed account(s) may be unencrypted",
                "replace those phones with SRTP-capable ones, then empty the list")
        }
        if try ServeSettings.digestAlgorithms(file.registrar?.digestAlgorithms).contains(DigestAlgorithm.Insecure.md5) {
            add("md5-digest", .low, "registrar.digest_algorithms",
                "MD5 digests are offered: a captured exchange can be cracked offline far faster than SHA-256 "
                    + "(accounts that used SHA-256 once are pinned to it)",
                "set registrar.digest_algorithms = [\"SHA-256\"] once no phone needs MD5")
        }
        let listeners = file.listen ?? ServeSettings.defaultListeners
        if !listeners.contains(where: { $0.lowercased().hasPrefix("tls:") }) {
            add("no-tls-listener", .medium, "listen",
                "no TLS listener: signalling, SDES media keys and digest exchanges cross the network readable",
                "add a tls:HOST:5061 listener and point phones at it")
        }
        for trunk in file.trunks ?? [] {
            let setting = "trunks.\(trunk.name)"
            let udp = trunk.address.lowercased().hasPrefix("udp:")
            if udp, trunk.trustIdentity == true {
                add("trunk-trusted-over-udp", .high, setting + ".trust_identity",
                    "its P-Asserted-Identity is believed on the word of a UDP source address, which anyone can forge",
                    "reach the trunk over TLS with certificate_fingerprint, or set trust_identity = false")
            } else if udp {
                add("trunk-by-address-over-udp", .medium, setting + ".address",
                    "its calls are accepted on a UDP source address alone, which can be forged",
                    "prefer tls: with certificate_fingerprint; otherwise restrict the trunk's network with "
                        + "security.listener_networks")
            }
            if trunk.password != nil {
                add("trunk-password-in-configuration", .medium, setting + ".password",
                    "the trunk's password sits in the configuration, which is shared, versioned and printed",
                    "move it to an owner-only file named by password_file")
            }
            if trunk.allowPlainRTP == true, trunk.bridgeSRTP != true {
                add("trunk-plain-rtp", .medium, setting + ".allow_plain_rtp",
                    "calls with this trunk may be unencrypted on every leg",
                    "set bridge_srtp = true so the accounts' leg stays SRTP, or ask the carrier for SRTP")
            }
            if let path = trunk.passwordFile { checkSecret(path, setting + ".password_file", add) }
            if file.stir?.caFiles?.isEmpty == false, trunk.verifyIdentity == false {
                add("trunk-identity-unverified", .medium, setting + ".verify_identity",
                    "its calls' STIR/SHAKEN identity is not checked: callees see whatever caller number it sends",
                    "set verify_identity = true (the default)")
            }
        }
        if let stir = file.stir {
            if let key = stir.keyFile { checkSecret(key, "stir.key_file", add) }
            if stir.caFiles?.isEmpty != false, !(file.trunks ?? []).isEmpty {
                add("stir-no-verification", .low, "stir.ca_files",
                    "trunks' calls are not verified: a spoofed caller number reaches the callee unmarked",
                    "give the STI-CA roots in stir.ca_files")
            }
            if let networks = stir.x5uAllowedNetworks, !networks.isEmpty {
                add("stir-x5u-private-networks", .low, "stir.x5u_allowed_networks",
                    "a trunk's Identity can make the edge fetch from \(networks.joined(separator: ", ")): keep it to the "
                        + "certificate servers that live there",
                    "list only the hosts (a /32 or /128) that serve certificates, or empty it")
            }
        }
        if let turn = file.turn, turn.listen?.isEmpty == false {
            if let secret = turn.restSecretFile { checkSecret(secret, "turn.rest_secret_file", add) }
            if turn.limitAmplification == false {
                add("turn-amplification", .medium, "turn.limit_amplification",
                    "unauthenticated STUN and TURN answers over UDP may be larger than what forged sources send: the "
                        + "server can be used to reflect floods",
                    "remove limit_amplification = false")
            }
            if let peers = turn.allowedPeers, !peers.isEmpty {
                add("turn-private-peers", .low, "turn.allowed_peers",
                    "TURN clients can reach \(peers.joined(separator: ", ")) through the relay: any hosts there are exposed "
                        + "to everyone with TURN credentials",
                    "list only the media servers (a /32 or /128) that clients must reach, or empty it")
            }
            if !(turn.listen ?? []).contains(where: { $0.lowercased().hasPrefix("tls:") }) {
                add("turn-no-tls", .low, "turn.listen",
                    "TURN runs over UDP and TCP only: networks that allow only HTTPS-like traffic leave clients without "
                        + "a relay, and usernames cross in clear",
                    "add a tls:ADDRESS:5349 (or :443) listener")
            }
        }
        if let admin = try? AdminListenSettings.make(file: file.admin, commandLine: nil) {
            if !admin.tls {
                add("admin-plain-http", .low, "admin.tls",
                    "admin tokens cross the loopback interface in clear: any local process that can sniff it sees them",
                    "set admin.tls = true")
            } else if !admin.isLoopback {
                add("admin-off-loopback", .low, "admin.listen",
                    "the admin API is reachable from the network: a stolen token works from anywhere",
                    "listen on loopback behind an SSH tunnel or a reverse proxy, or restrict the port by firewall")
            }
        }
        if file.media?.relay == false {
            add("media-relay-off", .medium, "media.relay",
                "without the relay the parties see each other's addresses and nothing latches or watches media "
                    + "(injection, plaintext on SRTP calls)",
                "set media.relay = true")
        }
        let privacy = file.privacy ?? .init()
        if privacy.cdrRetentionDays?.value == 0 || privacy.securityEventRetentionDays?.value == 0 {
            add("retention-unset", .low, "privacy",
                "CDRs or security events are kept for ever: personal data beyond any purpose",
                "set privacy.cdr_retention_days and privacy.security_event_retention_days")
        }
        for sink in file.siem ?? [] {
            if let target = sink.target, target.hasPrefix("udp:") || target.hasPrefix("tcp:") {
                add("siem-unencrypted", .low, "siem.target", "\(target): security events and audit records cross "
                    + "the network readable and unauthenticated", "use a tls: target with ca")
            }
        }
        if let hep = file.hep, hep.target != nil, hep.authKey == nil {
            add("hep-without-key", .low, "hep.auth_key",
                "the HEP copies (every SIP message) go to the collector without its password",
                "set hep.auth_key to the collector's")
        }
        // The files: secrets owner-only, the certificate neither weak nor expiring.
        for name in ["audit.key", "cdr-pseudonym.key", "ca.key", "server.key", "rampart.sqlite"] {
            checkSecret((dataDirectory as NSString).appendingPathComponent(name), "\(dataDirectory)/\(name)", add)
        }
        if let key = file.tls?.privateKey { checkSecret(key, "tls.private_key", add) }
        let certificate = file.tls?.certificate ?? (dataDirectory as NSString).appendingPathComponent("server.crt")
        if let text = try? String(contentsOfFile: certificate, encoding: .utf8) {
            let setting = file.tls?.certificate == nil ? certificate : "tls.certificate"
            if let facts = CertificateFacts(pem: text) {
                let days = facts.notValidAfter.timeIntervalSince(now) / 86_400
                if days < 0 {
                    add("certificate-expired", .critical, setting, "the TLS certificate expired: phones refuse the edge",
                        "renew it (the development certificate is made again when server.crt is removed)")
                } else if days < 30 {
                    add("certificate-expiring", .high, setting,
                        "the TLS certificate expires in \(Int(days)) day(s)", "renew it before it does")
                }
                if let bits = facts.rsaBits, bits < 2_048 {
                    add("certificate-weak-key", .high, setting, "an RSA key of \(bits) bits can be factored",
                        "issue a certificate with a P-256 or RSA-2048+ key")
                }
                if facts.signedWithSHA1 {
                    add("certificate-sha1", .high, setting, "signed with SHA-1, which admits forged certificates",
                        "issue one signed with SHA-256 or better")
                }
            } else {
                add("certificate-unreadable", .high, setting, "no certificate could be read from \(certificate)",
                    "point tls.certificate at a PEM certificate")
            }
        }
        return found
    }

    /// A secret file that exists and that others than its owner can read or write.
    private func checkSecret(_ path: String, _ setting: String,
                             _ add: (String, LintFinding.Severity, String, String, String) -> Void) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue, mode & 0o077 != 0
        else { return }
        add("secret-readable-by-others", .critical, setting,
            "mode \(String(mode, radix: 8)): other users of the host can read a key, password or the database",
            "chmod 600 \(path) (rampart serve does this for the data directory at start)")
    }
}
