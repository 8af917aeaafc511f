import Foundation
import Testing

@Suite struct CertAndDeviceCommandTests {
    @Test func issuedCertificateBindsToItsAccount() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-cert-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = ["--data-dir", directory.appendingPathComponent("data").path]
        let out = directory.appendingPathComponent("out").path
        #expect(try RampartProcess.run(["user", "add", "alice", "--password", "pw"] + data).status == 0)
        let issue = try RampartProcess.run(["cert", "issue", "alice", "--out", out] + data)
        #expect(issue.status == 0, "\(issue.stderr)")
        for file in ["alice.crt", "alice.key", "ca.crt"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + file))
        }
        let keyMode = try FileManager.default.attributesOfItem(atPath: out + "/alice.key")[.posixPermissions] as? NSNumber
        #expect(keyMode?.intValue == 0o600)
        let caKeyMode = try FileManager.default.attributesOfItem(
            atPath: directory.appendingPathComponent("data/ca.key").path)[.posixPermissions] as? NSNumber
        #expect(caKeyMode?.intValue == 0o600)
        // A second certificate comes from the same CA (the CA is created once).
        #expect(try RampartProcess.run(["cert", "issue", "bob", "--out", out + "/bob"] + data).status == 0)
        #expect(FileManager.default.contents(atPath: out + "/ca.crt") == FileManager.default.contents(atPath: out + "/bob/ca.crt"))

        let bind = try RampartProcess.run(["device", "bind", "alice", "--cert", out + "/alice.crt"] + data)
        #expect(bind.status == 0, "\(bind.stderr)")
        let fingerprint = try #require(issue.stdout.split(separator: " ").last).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(bind.stdout.contains(fingerprint))
        // Unknown accounts cannot get bindings; unbinding twice is an error the second time.
        #expect(try RampartProcess.run(["device", "bind", "ghost", "--cert", out + "/alice.crt"] + data).status == 2)
        #expect(try RampartProcess.run(["device", "unbind", "--fingerprint", fingerprint] + data).status == 0)
        #expect(try RampartProcess.run(["device", "unbind", "--fingerprint", fingerprint] + data).status == 2)
        #expect(try RampartProcess.run(["device", "bind", "alice"] + data).status == 2)
    }
}
