import Foundation
import Testing

/// `rampart lint` (issue 20): the example configuration lints clean; a configuration and data directory with every
/// weakness the rules know are each found, with the setting and the fix; nothing is created by looking.
@Suite struct LintCommandTests {
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("rampart.example.toml").path

    static func findings(_ run: (status: Int32, stdout: String, stderr: String)) throws -> [[String: Any]] {
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any],
                                  "\(run.stdout)\(run.stderr)")
        return try #require(report["findings"] as? [[String: Any]])
    }

    @Test func theExampleConfigurationLintsCleanAndLookingCreatesNothing() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/never-made"
            let run = try RampartProcess.run(["lint", "--config", Self.example, "--data-dir", data, "--json"])
            #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
            let findings = try Self.findings(run)
            // MD5 stays offered in the example for phones that need it: a low finding, below the default failure.
            #expect(findings.allSatisfy { ["info", "low"].contains($0["severity"] as? String) }, "\(findings)")
            #expect(!FileManager.default.fileExists(atPath: data), "lint made nothing")
            let strict = try RampartProcess.run(["lint", "--config", Self.example, "--data-dir", data, "--fail-on", "low"])
            #expect(strict.status == 1 && strict.stdout.contains("LOW md5-digest [registrar.digest_algorithms]"))
            #expect(try RampartProcess.run(["lint", "--fail-on", "severe", "--data-dir", data]).status == 2)
            // A sound certificate (P-256, ECDSA-SHA256, a year) gives no certificate finding.
            let sound = directory + "/sound"
            try FileManager.default.createDirectory(atPath: sound, withIntermediateDirectories: true)
            let openssl = try Peers.run(try Peers.tool("openssl"), [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-sha256", "-days", "365",
                "-nodes", "-subj", "/CN=sound", "-keyout", sound + "/server.key", "-out", sound + "/server.crt",
            ], seconds: 30, directory: directory)
            #expect(openssl.status == 0, "\(openssl.output)")
            chmod(sound + "/server.key", 0o600)
            let checked = try Self.findings(try RampartProcess.run(["lint", "--data-dir", sound, "--json"]))
            #expect(!checked.contains { ($0["id"] as? String ?? "").hasPrefix("certificate") }, "\(checked)")
        }
    }

    /// Shapes on which TOMLKit's parser assumes what it has not checked (found by scripts/fuzz-config; they abort
    /// a debug build and are undefined in a release one): refused by the reader with the line, never a crash, for
    /// `lint` and `serve --check-config` alike; the same characters inside strings and comments still read.
    @Test func malformedConfigurationsAreRefusedNotCrashedOn() throws {
        try withTemporaryDirectory { directory in
            let hostile = ["[{\"a\": 1}]\n", "[ {\n", "[[ =\n", "[\r\n", "domain = \"x\"\n[\n", "a = [}\n",
                           "a = [1, }\n", "a = [\n}\n]\n", "a = [ [ } ] ]\n", "a = [1, #c\n }\n", "\u{FEFF}[\n",
                           "a = [\u{2028}]\n", "a = [1,\u{2029}]\n", "a = [\u{0085}]\n"]
            for (index, text) in hostile.enumerated() {
                let path = directory + "/hostile-\(index).toml"
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                for command in [["lint", "--config", path, "--data-dir", directory + "/none"],
                                ["serve", "--check-config", "--config", path, "--data-dir", directory + "/none"]] {
                    let run = try RampartProcess.run(command)
                    #expect(run.status == 2 && run.stderr.contains("line "), "\(command[0]) \(text.debugDescription): \(run.status) \(run.stderr)")
                }
            }
            let benign = directory + "/benign.toml"
            try "domain = \"example.com\" # [{ a = [}\n[calls]\nplain_rtp_accounts = [\"[}\", '[{'] # ]\n"
                .write(toFile: benign, atomically: true, encoding: .utf8)
            let read = try RampartProcess.run(["lint", "--config", benign, "--data-dir", directory + "/none"])
            #expect(read.status == 0 && read.stdout.contains("plain-rtp-accounts"), "\(read.stdout)\(read.stderr)")
        }
    }

    @Test func everyWeaknessIsFoundWithItsSettingAndFix() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            // A key others can read, and an RSA-1024 SHA-1 certificate that expires tomorrow.
            try "secret".write(toFile: data + "/audit.key", atomically: true, encoding: .utf8)
            chmod(data + "/audit.key", 0o644)
            let openssl = try Peers.run(try Peers.tool("openssl"), [
                "req", "-x509", "-newkey", "rsa:1024", "-sha1", "-days", "1", "-nodes", "-subj", "/CN=weak",
                "-keyout", data + "/server.key", "-out", data + "/server.crt",
            ], seconds: 30, directory: directory)
            #expect(openssl.status == 0, "\(openssl.output)")
            chmod(data + "/server.key", 0o600)
            let config = directory + "/weak.toml"
            try """
                listen = ["udp:127.0.0.1:5060"]
                [calls]
                allow_plain_rtp = true
                plain_rtp_accounts = ["fax"]
                [[trunks]]
                name = "carrier"
                address = "udp:192.0.2.10:5060"
                trust_identity = true
                username = "edge"
                password = "in-the-file"
                allow_plain_rtp = true
                [[trunks]]
                name = "backup"
                address = "tls:192.0.2.11:5061"
                prefixes = ["00"]
                username = "edge"
                password_file = "\(directory)/backup.password"
                verify_identity = false
                [stir]
                key_file = "\(directory)/stir.key"
                certificate_url = "https://certs.example.net/sp.crt"
                ca_files = ["\(directory)/root.crt"]
                x5u_allowed_networks = ["10.0.0.0/8"]
                [fraud]
                country_code = "1"
                [media]
                relay = false
                [privacy]
                cdr_retention_days = 0
                [admin]
                listen = "0.0.0.0:8443"
                [hep]
                target = "udp:127.0.0.1:9060"
                [[siem]]
                target = "udp:127.0.0.1:514"
                [turn]
                listen = ["udp:127.0.0.1:3478"]
                allowed_peers = ["10.0.0.0/8"]
                limit_amplification = false
                rest_secret_file = "\(directory)/turn.secret"
                """.write(toFile: config, atomically: true, encoding: .utf8)
            try "a-turn-secret-of-some-length\n".write(toFile: directory + "/turn.secret", atomically: true, encoding: .utf8)
            chmod(directory + "/turn.secret", 0o644)
            try "from-a-file\n".write(toFile: directory + "/backup.password", atomically: true, encoding: .utf8)
            chmod(directory + "/backup.password", 0o644)
            let stir = try RampartProcess.run(["stir", "ca", "init", "--out", directory + "/sti"])
            #expect(stir.status == 0, "\(stir.stderr)")
            try FileManager.default.copyItem(atPath: directory + "/sti/root.crt", toPath: directory + "/root.crt")
            try FileManager.default.copyItem(atPath: directory + "/sti/ca.key", toPath: directory + "/stir.key")
            chmod(directory + "/stir.key", 0o644)
            let run = try RampartProcess.run(["lint", "--config", config, "--data-dir", data, "--json"])
            #expect(run.status == 1)
            let findings = try Self.findings(run)
            let ids = Dictionary(findings.map { ($0["id"] as? String ?? "", $0) }, uniquingKeysWith: { first, _ in first })
            for (id, severity) in [("plain-rtp-allowed", "high"), ("plain-rtp-accounts", "medium"),
                                   ("no-tls-listener", "medium"), ("trunk-trusted-over-udp", "high"),
                                   ("trunk-password-in-configuration", "medium"), ("trunk-plain-rtp", "medium"),
                                   ("media-relay-off", "medium"), ("retention-unset", "low"), ("hep-without-key", "low"),
                                   ("siem-unencrypted", "low"), ("secret-readable-by-others", "critical"),
                                   ("certificate-expiring", "high"), ("certificate-weak-key", "high"),
                                   ("certificate-sha1", "high"), ("md5-digest", "low"), ("admin-off-loopback", "low"),
                                   ("trunk-identity-unverified", "medium"), ("stir-x5u-private-networks", "low"),
                                   ("turn-amplification", "medium"), ("turn-private-peers", "low"), ("turn-no-tls", "low")] {
                #expect(ids[id]?["severity"] as? String == severity, "\(id): \(ids[id] ?? [:])")
                #expect(!(ids[id]?["fix"] as? String ?? "").isEmpty && !(ids[id]?["setting"] as? String ?? "").isEmpty)
            }
            let readable = findings.filter { $0["id"] as? String == "secret-readable-by-others" }.compactMap { $0["setting"] as? String }
            #expect(Set(readable) == [data + "/audit.key", "trunks.backup.password_file", "stir.key_file",
                                      "turn.rest_secret_file"], "\(readable)")
            #expect(!findings.contains { $0["setting"] as? String == "trunks.backup.password" }, "a file is the fix")
            // Worst first in the text form, and the failure threshold moves with --fail-on.
            let text = try RampartProcess.run(["lint", "--config", config, "--data-dir", data])
            #expect(text.stdout.hasPrefix("CRITICAL secret-readable-by-others"), "\(text.stdout)")
            chmod(data + "/audit.key", 0o600)
            chmod(directory + "/backup.password", 0o600)
            chmod(directory + "/stir.key", 0o600)
            chmod(directory + "/turn.secret", 0o600)
            #expect(try RampartProcess.run(["lint", "--config", config, "--data-dir", data, "--fail-on", "critical"])
                .status == 0, "the key and the password file owner-only: nothing critical left")
            // The edge reads the password file; a trunk cannot have both, nor a file that is not there.
            #expect(try RampartProcess.run(["serve", "--config", config, "--data-dir", data, "--check-config"]).status == 0)
            let both = config.replacingOccurrences(of: "weak.toml", with: "both.toml")
            try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(
                of: "password_file =", with: "password = \"x\"\npassword_file =").write(toFile: both, atomically: true, encoding: .utf8)
            #expect(try RampartProcess.run(["serve", "--config", both, "--data-dir", data, "--check-config"]).status == 2)
            try FileManager.default.removeItem(atPath: directory + "/backup.password")
            #expect(try RampartProcess.run(["serve", "--config", config, "--data-dir", data, "--check-config"]).status == 2)
        }
    }
}
