import Foundation
import Testing

/// A trunk's pinned certificate holds on the connections the edge opens to it (issue 17), against a running
/// `rampart serve`: the carrier is sipp behind a stunnel TLS server. With a pin that does not match the certificate
/// stunnel presents, the edge's TLS handshake fails before its INVITE leaves, though that certificate is valid under
/// the CA the edge trusts; with the pin of the certificate presented (self-signed, so no CA vouches for it) the call
/// reaches the carrier. Loopback only, bounded, every process stopped by PID.
@Suite(.serialized, .timeLimit(.minutes(3))) struct TrunkPinWithPeersTests {
    static func fingerprint(_ certificate: String, directory: String) throws -> String {
        let der = directory + "/fingerprint.der"
        let convert = try Peers.run(try Peers.tool("openssl"), ["x509", "-in", certificate, "-outform", "DER", "-out", der],
                                    seconds: 20)
        try #require(convert.status == 0, "\(convert.output)")
        let digest = try Peers.run(try Peers.tool("openssl"), ["dgst", "-sha256", "-r", der], seconds: 20)
        return try #require(digest.output.split(separator: " ").first.map(String.init))
    }

    @Test(arguments: [false, true]) func aPinnedTrunkMustPresentThatCertificate(pinMatches: Bool) throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            // The development CA and a server certificate it signed (valid for the edge), made by a first start.
            let first = try ServeProcess(dataDir: data, listeners: ["udp", "tls"])
            first.stop()  // at once: only the files it made matter here
            var certificate = data + "/server.crt", key = data + "/server.key"
            if pinMatches {
                (certificate, key) = (directory + "/carrier.crt", directory + "/carrier.key")
                let made = try Peers.run(try Peers.tool("openssl"), [
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                    "-out", certificate, "-days", "1", "-subj", "/CN=carrier.example",
                ], seconds: 30)
                try #require(made.status == 0, "\(made.output)")
            }
            let pin = pinMatches ? try Self.fingerprint(certificate, directory: directory) : String(repeating: "0", count: 64)
            let trunkPort = try Peers.freePort(), tlsPort = try Peers.freePort()
            let config = ServeWithPeersTests.sippConfig + """

                [timers]
                t1_ms = 100

                [[trunks]]
                name = "carrier"
                address = "tls:127.0.0.1:\(tlsPort)"
                prefixes = ["+"]
                allow_plain_rtp = true
                certificate_fingerprint = "\(pin)"

                [fraud]
                country_code = "1"
                """
            // A TLS listener gives the edge its client side of TLS too.
            let server = try ServeProcess(dataDir: data, config: config, listeners: ["udp", "tls"])
            defer { server.stop() }
            let carrier = try Peers.sippServer("answer-call", transport: "t1", port: trunkPort,
                                               messageFile: directory + "/carrier.msg", directory: directory)
            defer { Peers.stop(carrier) }
            let stunnel = try Peers.stunnelServer(accept: tlsPort, connect: trunkPort, certificate: certificate, key: key,
                                                  directory: directory)
            defer { Peers.stop(stunnel) }
            let caller = try Peers.run(try Peers.tool("sipp"), [
                "127.0.0.1:\(server.ports["udp"]!)", "-sf",
                Peers.directory.appendingPathComponent("sipp/call-with-proxy-auth.xml").path, "-t", "u1",
                "-s", "alice", "-au", "alice", "-ap", "pw-alice", "-auth_uri", "+15551234@localhost",
                "-key", "domain", "localhost", "-key", "callee", "+15551234", "-i", "127.0.0.1", "-p", "0",
                "-m", "1", "-nostdin", "-timeout", "20", "-trace_err",
            ], seconds: 40, directory: directory)
            let carrierSaw = (try? String(contentsOfFile: directory + "/carrier.msg", encoding: .utf8)) ?? ""
            if pinMatches {
                #expect(caller.status == 0, "the call through the pinned trunk: \(caller.output.suffix(600))")
                #expect(carrierSaw.contains("INVITE sip:+15551234@"), "\(carrierSaw.suffix(600))")
            } else {
                #expect(caller.status != 0, "no call without the pinned certificate")
                #expect(!carrierSaw.contains("INVITE"), "nothing reached a carrier that did not present its pin")
            }
            #expect(server.stop() == 0)
        }
    }
}
