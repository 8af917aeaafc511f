import Foundation
import Testing

/// `rampart stir` against secsipidx (Debian's, the library behind Kamailio's secsipid module), both ways, with A, B
/// and C attestation, the SP chain served over HTTPS by secsipidx's own server; and `stir verify` attacked as a
/// verifier is: hostile Identity values and x5u URLs aimed where a verifier must never connect.
@Suite(.serialized, .timeLimit(.minutes(3))) struct StirCommandWithPeersTests {
    /// A test STI-CA, an SP certificate for SPC 1234 and 12155550100-199, and secsipidx serving its chain over HTTPS
    /// on loopback (its certificate made by openssl).
    struct World {
        let directory: String
        let port: Int
        /// secsipidx's HTTPS server, serving the chain.
        let server: Process
        var url: String { "https://127.0.0.1:\(port)/v1/pub/sp.crt" }
        var root: String { directory + "/ca/root.crt" }
        var key: String { directory + "/sp/sp.key" }
        var web: String { directory + "/web.crt" }
    }

    static func withWorld(_ body: (World) throws -> Void) throws {
        try withTemporaryDirectory { directory in
            for arguments in [["stir", "ca", "init", "--out", directory + "/ca"],
                              ["stir", "cert", "issue", "--ca", directory + "/ca", "--spc", "1234",
                               "--tn-range", "12155550100-12155550199", "--out", directory + "/sp"]] {
                let made = try RampartProcess.run(arguments)
                try #require(made.status == 0, "\(arguments): \(made.stderr)")
            }
            let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/ca/ca.key")
            #expect((attributes[.posixPermissions] as? Int) == 0o600, "the CA's key is its owner's only")
            #expect(try RampartProcess.run(["stir", "ca", "init", "--out", directory + "/ca"]).status == 2, "no CA overwritten")
            let openssl = try Peers.run(try Peers.tool("openssl"), [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", directory + "/web.key",
                "-out", directory + "/web.crt", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            ])
            try #require(openssl.status == 0, "\(openssl.output)")
            try FileManager.default.createDirectory(atPath: directory + "/www", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: directory + "/sp/sp.crt", toPath: directory + "/www/sp.crt")
            let port = try Peers.freePort()
            let server = try Peers.background(try Peers.tool("secsipidx"), [
                "-https-srv", "127.0.0.1:\(port)", "-https-pubkey", directory + "/web.crt", "-https-prvkey", directory + "/web.key",
                "-http-dir", directory + "/www",
            ], seconds: 170, directory: directory)
            defer { Peers.stop(server) }
            try #require(Peers.waitForListener(port: port, udp: false), "secsipidx's HTTPS server did not start")
            try body(World(directory: directory, port: port, server: server))
        }
    }

    static func verify(_ identity: String, orig: String = "12155550121", dest: String = "12155550131", _ world: World,
                       extra: [String] = ["--allow-x5u-network", "127.0.0.0/8"]) throws -> (status: Int32, stdout: String, stderr: String) {
        try RampartProcess.run(["stir", "verify", "--identity", identity, "--orig", orig, "--dest", dest, "--ca-file", world.root,
                                "--x5u-ca-file", world.web, "--json"] + extra)
    }

    /// secsipidx checks an identity, fetching its certificate from `url` over HTTPS and checking the chain to `root`.
    static func secsipidxChecks(_ identity: String, url: String, root: String, intermediate: String, _ world: World) throws
        -> (status: Int32, output: String)
    {
        let file = world.directory + "/identity.txt"
        try identity.write(toFile: file, atomically: true, encoding: .utf8)
        return try Peers.run("/usr/bin/env", [
            "SSL_CERT_FILE=" + world.web, try Peers.tool("secsipidx"), "-check", "-fidentity", file, "-p", url,
            "-ca-file", root, "-ca-inter", intermediate, "-cert-verify", "7", "-expire", "600",
        ], seconds: 20)
    }

    @Test func rampartAndSecsipidxVerifyEachOthersIdentities() throws {
        try Self.withWorld { world in
            let secsipidx = try Peers.tool("secsipidx")
            for attest in ["A", "B", "C"] {
                // Rampart signs; secsipidx fetches the chain and verifies.
                let signed = try RampartProcess.run(["stir", "sign", "--key", world.key, "--x5u", world.url,
                                                     "--orig", "+1 (215) 555-0121", "--dest", "12155550131", "--attest", attest])
                try #require(signed.status == 0, "\(signed.stderr)")
                let identity = signed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                let checked = try Self.secsipidxChecks(identity, url: world.url, root: world.root,
                                                       intermediate: world.directory + "/ca/ca.crt", world)
                #expect(checked.status == 0 && checked.output.contains("ok"), "secsipidx on Rampart's \(attest): \(checked.output)")
                #expect(try Self.verify(identity, world).stdout.contains("TN-Validation-Passed"))

                // secsipidx signs; Rampart fetches the chain from secsipidx's server and verifies.
                let made = try Peers.run(secsipidx, [
                    "-sign-full", "-orig-tn", "12155550121", "-dest-tn", "12155550131", "-attest", attest, "-x5u", world.url,
                    "-orig-id", UUID().uuidString.lowercased(), "-k", world.key,
                ], seconds: 20)
                try #require(made.status == 0, "\(made.output)")
                let theirs = made.output.trimmingCharacters(in: .whitespacesAndNewlines)
                let verified = try Self.verify(theirs, world)
                #expect(verified.status == 0 && verified.stdout.contains("\"verstat\":\"TN-Validation-Passed\""),
                        "Rampart on secsipidx's \(attest): \(verified.stdout) \(verified.stderr)")
            }
            // Neither passes a chain to a root it was not given.
            let other = world.directory + "/other"
            _ = try RampartProcess.run(["stir", "ca", "init", "--out", other])
            let signed = try RampartProcess.run(["stir", "sign", "--key", world.key, "--x5u", world.url,
                                                 "--orig", "12155550121", "--dest", "12155550131"]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let refused = try Self.secsipidxChecks(signed, url: world.url, root: other + "/root.crt",
                                                   intermediate: other + "/ca.crt", world)
            #expect(refused.status != 0, "\(refused.output)")
            let ours = try RampartProcess.run(["stir", "verify", "--identity", signed, "--orig", "12155550121", "--dest",
                                               "12155550131", "--ca-file", other + "/root.crt", "--x5u-ca-file", world.web,
                                               "--allow-x5u-network", "127.0.0.0/8"])
            #expect(ours.status == 1 && ours.stdout.contains("TN-Validation-Failed: cert-untrusted"), "\(ours.stdout)")
        }
    }

    /// OpenSSL (`openssl ca -gencrl`) revokes the SP certificate: `stir verify --crl-file` refuses it; a list the
    /// issuer did not sign (another CA of the same name) and an empty one change nothing; junk is a usage error.
    @Test func aRevokedCertificateIsRefusedUnderItsIssuersList() throws {
        try Self.withWorld { world in
            let openssl = try Peers.tool("openssl")
            let serial = try Peers.run(openssl, ["x509", "-in", world.directory + "/sp/sp.crt", "-noout", "-serial"])
                .output.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "serial=", with: "")
            func crl(_ name: String, ca: String, revoking: Bool) throws -> String {
                let directory = world.directory + "/" + name
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                let entry = "R\t301231235959Z\t\(Self.utcTime(Date()))\t\(serial)\tunknown\t/CN=SHAKEN 1234\n"
                try (revoking ? entry : "").write(toFile: directory + "/index.txt", atomically: true, encoding: .utf8)
                try "01\n".write(toFile: directory + "/crlnumber", atomically: true, encoding: .utf8)
                try """
                    [ca]
                    default_ca = sti
                    [sti]
                    database = \(directory)/index.txt
                    crlnumber = \(directory)/crlnumber
                    default_md = sha256
                    default_crl_days = 7
                    """.write(toFile: directory + "/ca.cnf", atomically: true, encoding: .utf8)
                let made = try Peers.run(openssl, ["ca", "-gencrl", "-batch", "-config", directory + "/ca.cnf",
                                                   "-keyfile", ca + "/ca.key", "-cert", ca + "/ca.crt",
                                                   "-out", directory + "/crl.pem"])
                try #require(made.status == 0, "\(made.output)")
                return directory + "/crl.pem"
            }
            let identity = try RampartProcess.run(["stir", "sign", "--key", world.key, "--x5u", world.url, "--orig",
                                                   "12155550121", "--dest", "12155550131"]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            func verify(_ crls: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
                try RampartProcess.run(["stir", "verify", "--identity", identity, "--orig", "12155550121", "--dest",
                                        "12155550131", "--ca-file", world.root, "--cert-file", world.directory + "/sp/sp.crt"]
                                       + crls.flatMap { ["--crl-file", $0] })
            }
            let revoked = try verify([try crl("revoked", ca: world.directory + "/ca", revoking: true)])
            #expect(revoked.status == 1 && revoked.stdout.contains("TN-Validation-Failed: cert-revoked"), "\(revoked)")
            #expect(try verify([try crl("empty", ca: world.directory + "/ca", revoking: false)]).status == 0)
            _ = try RampartProcess.run(["stir", "ca", "init", "--out", world.directory + "/impostor"])
            let forged = try verify([try crl("forged", ca: world.directory + "/impostor", revoking: true)])
            #expect(forged.status == 0, "a list its issuer did not sign revokes nothing: \(forged)")
            try "junk".write(toFile: world.directory + "/junk.crl", atomically: true, encoding: .utf8)
            let junk = try verify([world.directory + "/junk.crl"])
            #expect(junk.status == 2 && junk.stderr.contains("--crl-file"), "\(junk)")
        }
    }

    static func utcTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyMMddHHmmss'Z'"
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.locale = Locale(identifier: "en_US_POSIX")
        return formatter.string(from: date)
    }

    @Test func aVerifierCannotBeAimedOrFooled() throws {
        try Self.withWorld { world in
            let secsipidx = try Peers.tool("secsipidx")
            // secsipidx's -sign-full stamps the time itself; -sign takes -iat and prints the bare token.
            func theirs(x5u: String, orig: String = "12155550121", iat: Int? = nil) throws -> String {
                let made = try Peers.run(secsipidx, [
                    iat == nil ? "-sign-full" : "-sign", "-orig-tn", orig, "-dest-tn", "12155550131", "-attest", "A",
                    "-x5u", x5u, "-orig-id", UUID().uuidString.lowercased(), "-k", world.key,
                ] + (iat.map { ["-iat", String($0)] } ?? []), seconds: 20)
                try #require(made.status == 0, "\(made.output)")
                let value = made.output.trimmingCharacters(in: .whitespacesAndNewlines)
                return iat == nil ? value : value + ";info=<\(x5u)>;alg=ES256;ppt=shaken"
            }
            func reason(_ result: (status: Int32, stdout: String, stderr: String)) -> String? {
                #expect(result.status == 1, "a verdict, not a crash or a usage error: \(result.status) \(result.stderr)")
                let json = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: String]
                return json?["reason"]
            }

            // A listener on loopback that counts who connects: without --allow-x5u-network nothing may.
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(listener) }
            let port = try Peers.freePort()
            try #require(Peers.withLoopback(port: port) { bind(listener, $0, $1) } == 0 && listen(listener, 8) == 0)
            _ = fcntl(listener, F_SETFL, O_NONBLOCK)
            let aimed = try theirs(x5u: "https://127.0.0.1:\(port)/sp.crt")
            #expect(reason(try Self.verify(aimed, world, extra: [])) == "x5u-forbidden")
            #expect(accept(listener, nil, nil) == -1, "nothing connected to the loopback x5u")
            // Allowed, it connects, gets no answer, and gives up within its time cap.
            let started = Date()
            #expect(reason(try Self.verify(aimed, world)) == "x5u-fetch-failed")
            #expect(Date().timeIntervalSince(started) < 10)
            let connected = accept(listener, nil, nil)
            #expect(connected >= 0, "the listener counts connections")
            if connected >= 0 { close(connected) }

            // The metadata endpoint, even inside an allowed network; other schemes; a redirect-free 404.
            #expect(reason(try Self.verify(try theirs(x5u: "https://169.254.169.254/sp.crt"), world,
                                           extra: ["--allow-x5u-network", "0.0.0.0/0"])) == "x5u-forbidden")
            #expect(reason(try Self.verify(try theirs(x5u: "http://127.0.0.1:\(world.port)/v1/pub/sp.crt"), world))
                    == "x5u-mismatch")
            #expect(reason(try Self.verify(try theirs(x5u: "file:///etc/passwd"), world)) == "x5u-mismatch")
            #expect(reason(try Self.verify(try theirs(x5u: "https://127.0.0.1:\(world.port)/v1/pub/none.crt"), world))
                    == "x5u-fetch-failed")

            // Claims and signatures that do not hold.
            let good = try theirs(x5u: world.url)
            var bytes = Array(good.prefix { $0 != ";" }.utf8)
            bytes[bytes.count - 3] = bytes[bytes.count - 3] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            let tampered = String(decoding: bytes, as: UTF8.self) + good.drop { $0 != ";" }
            #expect(reason(try Self.verify(tampered, world)) == "bad-signature")
            #expect(reason(try Self.verify(good, orig: "12155550122", world)) == "orig-mismatch")
            #expect(reason(try Self.verify(good, dest: "12155550132", world)) == "dest-mismatch")
            let old = try theirs(x5u: world.url, iat: Int(Date().timeIntervalSince1970) - 3_600)
            #expect(reason(try Self.verify(old, world)) == "stale-iat")
            let outside = try theirs(x5u: world.url, orig: "12155550200")
            #expect(try Self.verify(outside, orig: "12155550200", world).status == 0,
                    "an SPC certificate speaks for its provider's numbers, its TN ranges aside")

            // Hostile values: alg none and HS256, a huge value, bad base64, a JSON bomb.
            func forged(header: String, claims: String) -> String {
                func b64(_ text: String) -> String {
                    Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                        .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
                }
                return "\(b64(header)).\(b64(claims)).\(b64(String(repeating: "s", count: 64)));info=<\(world.url)>;ppt=shaken"
            }
            let claims = "{\"attest\":\"A\",\"dest\":{\"tn\":[\"12155550131\"]},\"iat\":\(Int(Date().timeIntervalSince1970)),"
                + "\"orig\":{\"tn\":\"12155550121\"},\"origid\":\"x\"}"
            for alg in ["none", "HS256"] {
                #expect(reason(try Self.verify(forged(header: "{\"alg\":\"\(alg)\",\"ppt\":\"shaken\",\"typ\":\"passport\",\"x5u\":\"\(world.url)\"}",
                                                      claims: claims), world)) == "unsupported-alg")
            }
            let bomb = String(repeating: "{\"a\":", count: 2_000) + "1" + String(repeating: "}", count: 2_000)
            #expect(reason(try Self.verify(forged(header: "{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"x5u\":\"\(world.url)\"}",
                                                  claims: bomb), world)) == "malformed")
            #expect(reason(try Self.verify(String(repeating: "A", count: 100_000) + ".e30.e30;ppt=shaken", world)) == "malformed")
            #expect(reason(try Self.verify("!!!.???.***;info=<\(world.url)>", world)) != nil)
        }
    }
}
