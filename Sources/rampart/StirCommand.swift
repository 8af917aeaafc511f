import ArgumentParser
import Crypto
import Foundation
import SIPMessage
import SecurityPolicy
import StirShaken
import StirShakenNIO
import X509

/// `rampart stir`: STIR/SHAKEN for operators without a real STI-CA: a test CA, SP certificates, signing and
/// verifying Identity headers.
struct StirCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stir", abstract: "STIR/SHAKEN: a test STI-CA, SP certificates, and signing and verifying Identity headers.",
        subcommands: [CA.self, Cert.self, Sign.self, Verify.self])

    /// The STI-CA roots in `caFiles` (PEM, one or more certificates each) with the revocation lists in `crlFiles`,
    /// or a usage error naming the setting (`caSetting`, `crlSetting`) and the file.
    static func trust(caFiles: [String], crlFiles: [String], caSetting: String, crlSetting: String) throws -> STITrust {
        var pem = ""
        for file in caFiles {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw UsageError(message: "\(caSetting): cannot read \(file)")
            }
            pem += text + "\n"
        }
        var trust: STITrust
        do { trust = try STITrust(pem: pem) } catch {
            throw UsageError(message: "\(caSetting): no certificate could be read")
        }
        trust.revocationLists = try crlFiles.map { try revocationList($0, setting: crlSetting) }
        return trust
    }

    /// A revocation list from a file, or a usage error naming the setting.
    static func revocationList(_ path: String, setting: String) throws -> RevocationList {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 16 * 1_024 * 1_024 else {
            throw UsageError(message: "\(setting): cannot read \(path)")
        }
        do { return try RevocationList(Array(data)) } catch {
            throw UsageError(message: "\(setting): \(path): \(error.description)")
        }
    }

    struct CA: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ca", abstract: "A test STI-CA.", subcommands: [Init.self])

        struct Init: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create a test STI-CA: DIR/root.crt (the trust anchor), DIR/ca.crt and DIR/ca.key (the intermediate that issues SP certificates).")
            @Option(name: .long, help: "The directory to write to.") var out: String

            func run() throws {
                let keyPath = out + "/ca.key"
                guard !FileManager.default.fileExists(atPath: keyPath) else {
                    throw UsageError(message: "\(keyPath) exists: a CA is not overwritten")
                }
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                let ca = try TestSTICA.create()
                try writeSecret(pemFile(ca.intermediateKeyPEM), to: keyPath)
                try pemFile(ca.intermediate.serializeAsPEM().pemString).write(toFile: out + "/ca.crt", atomically: true, encoding: .utf8)
                try pemFile(ca.root.serializeAsPEM().pemString).write(toFile: out + "/root.crt", atomically: true, encoding: .utf8)
                print("wrote \(out)/root.crt, \(out)/ca.crt and \(out)/ca.key (owner-only)")
            }
        }
    }

    struct Cert: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "cert", abstract: "SP certificates.", subcommands: [Issue.self])

        struct Issue: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Issue an SP certificate with a TNAuthList: DIR/sp.crt (the certificate, then the intermediate: what an x5u URL serves) and DIR/sp.key.")
            @Option(name: .long, help: "The test STI-CA's directory (from `stir ca init`).") var ca: String
            @Option(name: .long, help: "The service provider code.") var spc: String
            @Option(name: .customLong("tn-range"), help: "Numbers the certificate speaks for, FROM-TO (same length); repeatable.")
            var tnRanges: [String] = []
            @Option(name: .long, help: "Days of validity.") var days = 365
            @Option(name: .long, help: "The directory to write to.") var out: String

            func validate() throws {
                guard (1...32).contains(spc.utf8.count), spc.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                    throw ValidationError("--spc must be 1 to 32 printable ASCII characters")
                }
                guard (1...3_650).contains(days) else { throw ValidationError("--days must be 1 to 3650") }
                for range in tnRanges { _ = try Self.range(range) }
            }

            static func range(_ text: String) throws -> TNAuthList.Entry {
                let parts = text.split(separator: "-", maxSplits: 1).map(String.init)
                guard parts.count == 2, let from = TelephoneNumber.normalize(parts[0]), let to = TelephoneNumber.normalize(parts[1]),
                    from.count == to.count, let first = UInt64(from), let last = UInt64(to), last >= first
                else { throw ValidationError("--tn-range \(text): expected FROM-TO, two numbers of the same length") }
                return last == first ? .one(from) : .range(start: from, count: Int(last - first + 1))
            }

            func run() throws {
                let read = { (name: String) in try String(contentsOfFile: ca + "/" + name, encoding: .utf8) }
                let authority = try TestSTICA(rootPEM: read("root.crt"), intermediatePEM: read("ca.crt"),
                                              intermediateKeyPEM: read("ca.key"))
                let list = TNAuthList([.spc(spc)] + (try tnRanges.map(Self.range)))
                let issued = try authority.issue(authority: list, commonName: "SHAKEN \(spc)", days: days)
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                try writeSecret(pemFile(issued.keyPEM), to: out + "/sp.key")
                try issued.chainPEM.write(toFile: out + "/sp.crt", atomically: true, encoding: .utf8)
                print("wrote \(out)/sp.crt and \(out)/sp.key (owner-only)")
            }
        }
    }

    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print an Identity header value (SHAKEN PASSporT, ES256).")
        @Option(name: .long, help: "The SP's private key (PEM).") var key: String
        @Option(name: .long, help: "The URL verifiers fetch the SP certificate chain from.") var x5u: String
        @Option(name: .long, help: "The calling number.") var orig: String
        @Option(name: .long, help: "The called number; repeatable.") var dest: [String]
        @Option(name: .long, help: "Attestation: A, B or C.") var attest = "A"
        @Option(name: .long, help: "The origination identifier (a UUID; a new one by default).") var origid: String?
        @Option(name: .long, help: "Issued at, seconds since 1970 (now by default).") var iat: Int64?

        func validate() throws {
            guard TelephoneNumber.normalize(orig) != nil else { throw ValidationError("--orig is not a telephone number") }
            guard !dest.isEmpty, dest.allSatisfy({ TelephoneNumber.normalize($0) != nil }) else {
                throw ValidationError("--dest is not a telephone number")
            }
            guard PASSporT.Attestation(rawValue: attest) != nil else { throw ValidationError("--attest must be A, B or C") }
            if let origid, UUID(uuidString: origid) == nil { throw ValidationError("--origid must be a UUID") }
            guard CertificateFetcher.Target.isUsable(x5u) else { throw ValidationError("--x5u must be an https URL") }
        }

        func run() throws {
            let signer = try StirSigner(keyPEM: String(contentsOfFile: key, encoding: .utf8), certificateURL: x5u)
            print(try signer.identity(
                orig: TelephoneNumber.normalize(orig)!, dest: dest.compactMap { TelephoneNumber.normalize($0) },
                attest: PASSporT.Attestation(rawValue: attest)!, origid: (origid ?? UUID().uuidString).lowercased(),
                iat: iat ?? Int64(Date().timeIntervalSince1970)))
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify an Identity header value: prints the verstat and the reason; exit 0 passed, 1 not, 2 usage.",
            discussion: """
                Without --cert-file the chain is fetched from the x5u URL: https only, the host's address checked \
                before any connection (loopback, private, link-local, CGNAT, ULA and metadata addresses refused \
                unless --allow-x5u-network covers them), no redirects, at most 64 KiB in 2 seconds.
                """)
        @Option(name: .long, help: "The Identity header value.") var identity: String?
        @Option(name: .customLong("identity-file"), help: "A file holding the Identity header value.") var identityFile: String?
        @Option(name: .long, help: "The calling number the request carries.") var orig: String
        @Option(name: .long, help: "The called number the request carries.") var dest: String
        @Option(name: .customLong("ca-file"), help: "STI-CA root certificates (PEM); repeatable.") var caFiles: [String] = []
        @Option(name: .customLong("crl-file"), help: "An STI-CA's revocation list (PEM or DER); repeatable.")
        var crlFiles: [String] = []
        @Option(name: .customLong("cert-file"), help: "The SP certificate chain (PEM) instead of fetching x5u.") var certFile: String?
        @Option(name: .long, help: "The time to verify at, seconds since 1970 (now by default).") var now: Int64?
        @Option(name: .customLong("max-age"), help: "How old iat may be, in seconds.") var maxAge: Int64 = 60
        @Option(name: .customLong("allow-x5u-network"), help: "A network (CIDR) x5u hosts may be in although private or loopback; repeatable.")
        var allowedNetworks: [String] = []
        @Option(name: .customLong("x5u-ca-file"), help: "CA certificates (PEM) the x5u HTTPS server must chain to (the system's by default).")
        var x5uCAFile: String?
        @Flag(name: .long, help: "Print JSON.") var json = false

        func validate() throws {
            guard (identity == nil) != (identityFile == nil) else { throw ValidationError("give --identity or --identity-file") }
            guard !caFiles.isEmpty else { throw ValidationError("give the STI-CA roots with --ca-file") }
            guard (1...86_400).contains(maxAge) else { throw ValidationError("--max-age must be 1 to 86400") }
            guard TelephoneNumber.normalize(orig) != nil, TelephoneNumber.normalize(dest) != nil else {
                throw ValidationError("--orig and --dest must be telephone numbers")
            }
            do { _ = try NetworkList(parsing: allowedNetworks) } catch { throw ValidationError("--allow-x5u-network: \(error)") }
        }

        func run() async throws {
            let value = try identity ?? String(contentsOfFile: identityFile!, encoding: .utf8)
            let trust = try StirCommand.trust(caFiles: caFiles, crlFiles: crlFiles, caSetting: "--ca-file",
                                              crlSetting: "--crl-file")
            let at = now ?? Int64(Date().timeIntervalSince1970)
            let request = StirVerifier.Request(
                identities: [SIPIdentity(parsing: value.trimmingCharacters(in: .whitespacesAndNewlines))],
                origTN: TelephoneNumber.normalize(orig), destTNs: [TelephoneNumber.normalize(dest)!])
            let verifier = StirVerifier(maxAgeSeconds: maxAge)
            var detail: String?
            let verdict: Verstat
            switch verifier.examine(request, now: at) {
            case .verdict(let settled):
                verdict = settled
            case .needsCertificate(let candidate):
                do {
                    let bytes: [UInt8]
                    if let certFile {
                        bytes = Array(try Data(contentsOf: URL(fileURLWithPath: certFile)))
                    } else {
                        let fetcher = try CertificateFetcher(rules: .init(
                            addressPolicy: AddressPolicy(allowedNetworks: try NetworkList(parsing: allowedNetworks)),
                            httpsCAFile: x5uCAFile))
                        do {
                            bytes = try await fetcher.fetch(candidate.certificateURL).body
                        } catch {
                            detail = error.description
                            throw error.reason
                        }
                    }
                    let chain = try STICertificateChain(served: bytes)
                    verdict = await verifier.complete(candidate, chain: chain, trust: trust,
                                                      now: Date(timeIntervalSince1970: TimeInterval(at)))
                } catch let reason as Verstat.Reason {
                    verdict = .failed(reason)
                }
            }
            if json {
                var object: [String: String] = ["verstat": verdict.parameterValue]
                if let reason = verdict.reason { object["reason"] = reason.rawValue }
                if let detail { object["detail"] = detail }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(verdict.parameterValue + (verdict.reason.map { ": \($0.rawValue)" } ?? "") + (detail.map { " (\($0))" } ?? ""))
            }
            if verdict != .passed { throw CheckFailed(exitCode: 1) }
        }
    }
}
