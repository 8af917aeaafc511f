import ArgumentParser
import CertificateAuthority
import Foundation

extension DataDirectoryOption {
    /// The development CA in the data directory, created on first use (key owner-only).
    func developmentCA() throws -> DevelopmentCA { try DataDirectory(path: dataDir).developmentCA() }
}

extension DataDirectory {
    /// The development CA in the data directory, created on first use (key owner-only).
    func developmentCA() throws -> DevelopmentCA {
        try create()  // owner-only, even when the CA is only read: the directory holds its key
        let certificatePath = file("ca.crt")
        let keyPath = file("ca.key")
        let manager = FileManager.default
        if manager.fileExists(atPath: certificatePath), manager.fileExists(atPath: keyPath) {
            return try DevelopmentCA(certificatePEM: String(contentsOfFile: certificatePath, encoding: .utf8),
                                     privateKeyPEM: String(contentsOfFile: keyPath, encoding: .utf8))
        }
        let ca = try DevelopmentCA.create()
        try writeSecret(pemFile(ca.privateKeyPEM), to: keyPath)
        try pemFile(ca.certificatePEM()).write(toFile: certificatePath, atomically: true, encoding: .utf8)
        return ca
    }

    /// The server certificate and key in the data directory (`server.crt`, `server.key`), issued by the
    /// development CA on first use for `localhost`, the domain, loopback and the given IPs.
    func serverCertificate(domain: String, ipAddresses: [String]) throws -> (certificate: String, key: String) {
        let certificatePath = file("server.crt")
        let keyPath = file("server.key")
        let manager = FileManager.default
        if manager.fileExists(atPath: certificatePath), manager.fileExists(atPath: keyPath) {
            return (certificatePath, keyPath)
        }
        let ca = try developmentCA()
        var addresses: [[UInt8]] = [[127, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]]
        for ip in ipAddresses {
            if let bytes = Self.addressBytes(ip), !addresses.contains(bytes), !bytes.allSatisfy({ $0 == 0 }) {
                addresses.append(bytes)
            }
        }
        let names = Array(Set(["localhost", domain])).sorted { $0 == domain ? true : $1 == domain ? false : $0 < $1 }
        let issued = try ca.issueServerCertificate(dnsNames: names, ipAddresses: addresses)
        try writeSecret(pemFile(issued.privateKeyPEM), to: keyPath)
        try (pemFile(issued.certificatePEM) + pemFile(ca.certificatePEM())).write(
            toFile: certificatePath, atomically: true, encoding: .utf8)
        return (certificatePath, keyPath)
    }

    static func addressBytes(_ ip: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, ip, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, ip, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}

/// PEM text as a file holds it: ending in a newline, so that files concatenate into valid bundles.
func pemFile(_ pem: String) -> String { pem.hasSuffix("\n") ? pem : pem + "\n" }

/// Writes a key file readable by its owner only (created 0600 before any byte is written).
func writeSecret(_ text: String, to path: String) throws {
    // Written beside it, then renamed over it: a crash leaves the old file or the new one, never neither (a
    // pseudonym or trail key lost is history that can no longer be linked or signed).
    let manager = FileManager.default
    let temporary = path + ".new"
    try? manager.removeItem(atPath: temporary)
    guard manager.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: 0o600]),
        let handle = FileHandle(forWritingAtPath: temporary)
    else { throw UsageError(message: "cannot write \(path)") }
    do {
        try handle.write(contentsOf: Data(text.utf8))
        try handle.synchronize()
        try handle.close()
    } catch {
        try? handle.close()
        throw UsageError(message: "cannot write \(path)")
    }
    guard rename(temporary, path) == 0 else { throw UsageError(message: "cannot write \(path)") }
}

struct CertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert", abstract: "Development certificates for TLS and mutual TLS testing.",
        subcommands: [Issue.self])

    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a client certificate from the development CA (writes NAME.crt, NAME.key, ca.crt).")
        @Argument(help: "The account name the certificate is for.") var name: String
        @Option(name: .long, help: "The account's domain.") var domain = "localhost"
        @Option(name: .long, help: "Directory to write the files to.") var out: String
        @OptionGroup var data: DataDirectoryOption

        func run() throws {
            let ca = try data.developmentCA()
            let issued = try ca.issueClientCertificate(username: name, domain: domain.lowercased())
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try pemFile(issued.certificatePEM).write(
                toFile: (out as NSString).appendingPathComponent("\(name).crt"), atomically: true, encoding: .utf8)
            try writeSecret(pemFile(issued.privateKeyPEM), to: (out as NSString).appendingPathComponent("\(name).key"))
            try pemFile(ca.certificatePEM()).write(toFile: (out as NSString).appendingPathComponent("ca.crt"),
                                                   atomically: true, encoding: .utf8)
            print("issued \(name).crt for sip:\(name)@\(domain.lowercased()), SHA-256 fingerprint \(issued.fingerprint)")
        }
    }
}

struct DeviceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device", abstract: "Bind client certificates to accounts (mutual TLS).",
        subcommands: [Bind.self, Unbind.self])

    /// `--cert FILE` or `--fingerprint HEX`.
    struct CertificateOptions: ParsableArguments {
        @Option(name: .long, help: "A PEM certificate file.") var cert: String?
        @Option(name: .long, help: "A SHA-256 fingerprint in hex (colons allowed).") var fingerprint: String?

        func validate() throws {
            guard (cert != nil) != (fingerprint != nil) else {
                throw ValidationError("give exactly one of --cert and --fingerprint")
            }
        }

        func resolve() throws -> String {
            if let fingerprint { return fingerprint.replacingOccurrences(of: ":", with: "").lowercased() }
            guard let cert, let pem = try? String(contentsOfFile: cert, encoding: .utf8),
                let fingerprint = try? DevelopmentCA.fingerprint(ofPEM: pem)
            else { throw UsageError(message: "cannot read a PEM certificate from \(cert ?? "")") }
            return fingerprint
        }
    }

    struct Bind: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Bind a certificate to an account.")
        @OptionGroup var target: AccountArguments
        @OptionGroup var certificate: CertificateOptions
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            let fingerprint = try certificate.resolve()
            do {
                try await data.audited(.deviceBound, subject: target.address, details: ["fingerprint": fingerprint],
                                       change: .bindDevice(fingerprint: fingerprint, username: target.name,
                                                           domain: target.realm),
                                       in: data.openStore())
            } catch {
                throw UsageError(message: "cannot bind: \(error)")
            }
            print("bound \(fingerprint) to \(target.address)")
        }
    }

    struct Unbind: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a certificate binding.")
        @OptionGroup var certificate: CertificateOptions
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            let fingerprint = try certificate.resolve()
            let store = try data.openStore()
            guard let bound = try await store.boundAccount(fingerprint: fingerprint) else {
                throw UsageError(message: "no binding for \(fingerprint)")
            }
            try await data.audited(.deviceUnbound, subject: "\(bound.username)@\(bound.domain)",
                                   details: ["fingerprint": fingerprint], change: .unbindDevice(fingerprint: fingerprint),
                                   in: store)
            print("unbound \(fingerprint)")
        }
    }
}
