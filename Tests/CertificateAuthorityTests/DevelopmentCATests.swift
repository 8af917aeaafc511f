import CertificateAuthority
import Foundation
import Testing

/// OpenSSL, a real peer, checks what the development CA issues.
func openssl(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Suite struct DevelopmentCATests {
    @Test func issuedCertificatesVerifyWithOpenSSL() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-ca-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func write(_ name: String, _ text: String) throws -> String {
            let path = directory.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let ca = try DevelopmentCA.create()
        // Reloading from PEM gives the same CA.
        let reloaded = try DevelopmentCA(certificatePEM: try ca.certificatePEM(), privateKeyPEM: ca.privateKeyPEM)
        let caPath = try write("ca.crt", try reloaded.certificatePEM())

        let server = try reloaded.issueServerCertificate(dnsNames: ["localhost"], ipAddresses: [[127, 0, 0, 1]])
        let serverPath = try write("server.crt", server.certificatePEM)
        let verifyServer = try openssl(["verify", "-CAfile", caPath, "-purpose", "sslserver", serverPath])
        #expect(verifyServer.status == 0, "\(verifyServer.output)")
        let serverText = try openssl(["x509", "-in", serverPath, "-noout", "-ext", "subjectAltName"]).output
        #expect(serverText.contains("DNS:localhost") && serverText.contains("IP Address:127.0.0.1"))

        let client = try reloaded.issueClientCertificate(username: "alice", domain: "localhost")
        let clientPath = try write("alice.crt", client.certificatePEM)
        #expect(try openssl(["verify", "-CAfile", caPath, "-purpose", "sslclient", clientPath]).status == 0)
        // A client certificate is not a server certificate.
        #expect(try openssl(["verify", "-CAfile", caPath, "-purpose", "sslserver", clientPath]).status != 0)
        #expect(try openssl(["x509", "-in", clientPath, "-noout", "-ext", "subjectAltName"]).output
            .contains("URI:sip:alice@localhost"))
        let fingerprint = try openssl(["x509", "-in", clientPath, "-noout", "-fingerprint", "-sha256"]).output
        #expect(fingerprint.lowercased().replacingOccurrences(of: ":", with: "").contains(client.fingerprint))
        // The key matches the certificate.
        let keyPath = try write("alice.key", client.privateKeyPEM)
        let fromKey = try openssl(["pkey", "-in", keyPath, "-pubout"]).output
        let fromCert = try openssl(["x509", "-in", clientPath, "-noout", "-pubkey"]).output
        #expect(fromKey == fromCert)

        // Another CA's certificate does not verify against ours.
        let stranger = try DevelopmentCA.create(commonName: "Someone Else")
        let foreign = try write("foreign.crt", try stranger.issueClientCertificate(username: "mallory", domain: "x")
            .certificatePEM)
        #expect(try openssl(["verify", "-CAfile", caPath, foreign]).status != 0)
    }
}
