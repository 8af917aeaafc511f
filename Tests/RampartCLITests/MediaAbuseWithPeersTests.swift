import Foundation
import Testing

/// The media relay of a running `rampart serve` attacked as an account would (issue 17), by an independent Python
/// peer (Tests/Peers/media_abuse.py): it cannot be used as an open proxy, and an SDP cannot aim the edge at its own
/// sockets or at a trunk. Every address is on loopback; every process is bounded and stopped by PID.
@Suite(.serialized, .timeLimit(.minutes(2))) struct MediaAbuseWithPeersTests {
    static let trunkPort = 25_999
    static let config = """
        [calls]
        plain_rtp_accounts = ["alice", "bob"]

        [media]
        port_min = 31200
        port_max = 31399

        [[trunks]]
        name = "carrier"
        address = "udp:127.0.0.3:\(trunkPort)"
        prefixes = ["+"]
        allow_plain_rtp = true

        [fraud]
        country_code = "1"
        """

    static func abuse(_ arguments: [String]) throws -> [String: Any] {
        try Peers.python("media_abuse.py", arguments, seconds: 40)
    }

    static func withEdge(_ body: (_ data: String, _ edgePort: Int) throws -> Void) throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            try ServeWithPeersTests.addUser("bob", password: "pw-bob", dataDir: data)
            let server = try ServeProcess(dataDir: data, config: Self.config, listeners: ["udp"])
            defer { server.stop() }
            try body(data, server.ports["udp"]!)
            #expect(server.stop() == 0)
        }
    }

    /// The scenario of the issue: in an answered call, alice writes SIP INVITEs (and RTP) into her relay port while
    /// bob's SDP names a socket that has never sent anything (on 127.0.0.2, not where bob signals from). That socket
    /// receives nothing at all; once it speaks it latches and hears alice's RTP, still never her SIP. The relay counts
    /// what it dropped and raises one event.
    @Test func theRelayIsNoOpenProxy() throws {
        try Self.withEdge { data, edgePort in
            let result = try Self.abuse(["relay", "--port", String(edgePort), "--bob-media-host", "127.0.0.2"])
            try #require(result["answered"] as? Bool == true, "\(result)")
            // Topology hiding of the body: bob's SDP names none of alice's origin, session name, tool or CNAME.
            #expect((result["leaked"] as? [String])?.isEmpty == true && (result["bob_sdp_lines"] as? Int ?? 0) >= 6,
                    "\(result)")
            let before = try #require(result["before_latch"] as? [[String: Any]])
            let heard = try #require(result["alice_heard"] as? [[String: Any]])
            let after = try #require(result["after_latch"] as? [[String: Any]])
            #expect(before.isEmpty, "an address that never sent got \(before)")
            #expect(heard.count == 1 && heard[0]["rtp"] as? Bool == true, "the silent socket's packet reached alice")
            #expect(after.count == 1 && after[0]["rtp"] as? Bool == true && after[0]["sip"] as? Bool == false,
                    "once latched only alice's RTP arrives, never her SIP: \(after)")
            #expect(result["bye"] as? Int == 200)

            let record = try #require(try TrunkWithPeersTests.records(data).first)
            let media = try #require(record["media"] as? [[String: Any]])
            let fromAlice = try #require(media.first { $0["sender"] as? String == "caller" })
            #expect(fromAlice["droppedNotMedia"] as? Int == 12, "eleven INVITEs before, one after: \(fromAlice)")
            #expect(fromAlice["packets"] as? Int == 6)
            let anomalies = try AttackersWithPeersTests.events(data, type: "media-anomaly") { !$0.isEmpty }
            #expect(anomalies.count == 1 && anomalies[0].contains("not media"), "\(anomalies)")
        }
    }

    /// SDP naming the edge's own SIP port, one of its relay ports, or the trunk's signalling address is refused
    /// with 488 and an event, and the call never reaches bob; the same offer at an ordinary port does.
    @Test func anSDPCannotAimTheEdgeAtItselfOrAtATrunk() throws {
        try Self.withEdge { data, edgePort in
            // alice signals from 127.0.0.2: the relay's address is not her own (a phone on the relay's host may name
            // its own socket in the relay's range; nobody else may).
            for (host, port) in [("127.0.0.1", edgePort), ("127.0.0.1", 31_250), ("127.0.0.3", Self.trunkPort)] {
                let result = try Self.abuse(["offer", "--port", String(edgePort), "--media-host", host,
                                             "--media-port", String(port), "--alice-host", "127.0.0.2"])
                #expect(result["status"] as? Int == 488 && result["bob_reached"] as? Bool == false,
                        "\(host):\(port): \(result)")
            }
            let control = try Self.abuse(["offer", "--port", String(edgePort), "--media-host", "127.0.0.1",
                                          "--media-port", "24000"])
            #expect(control["bob_reached"] as? Bool == true, "an ordinary address reaches bob: \(control)")
            #expect(try AttackersWithPeersTests.events(data, type: "media-address-refused") { $0.count >= 3 }.count == 3)
        }
    }

    /// Bodies and framings that would slip past the policy (issue 17): an offer inside a multipart body gets 415 and
    /// never reaches bob; a Transfer-Encoding gets 400 and a backslash before a control octet outside quotes is dropped; 34
    /// Vias (RFC 4475 §3.1.1.7) and a 6 KB datagram are valid (before, anything over NIO's 2 KiB read was dropped).
    @Test func multipartOffersAndHostileFramingsAreRefused() throws {
        try Self.withEdge { _, edgePort in
            let multipart = try Self.abuse(["offer", "--port", String(edgePort), "--media-host", "127.0.0.1",
                                            "--media-port", "24000", "--multipart"])
            #expect(multipart["status"] as? Int == 415 && multipart["bob_reached"] as? Bool == false, "\(multipart)")
            // Two hundred levels of multipart inside multipart (RFC 4475's torture idea): not read, not recursed
            // into, refused the same way.
            let nested = try Self.abuse(["offer", "--port", String(edgePort), "--media-host", "127.0.0.1",
                                         "--media-port", "24000", "--multipart", "--multipart-depth", "200"])
            #expect(nested["status"] as? Int == 415 && nested["bob_reached"] as? Bool == false, "\(nested)")
            let raw = try Peers.python("raw_requests.py", ["--port", String(edgePort)], seconds: 20)
            #expect(raw["thirty_four_vias"] as? Int == 200, "\(raw)")
            #expect(raw["transfer_encoding"] as? Int == 400, "\(raw)")
            #expect(raw["six_kilobytes"] as? Int == 200, "a datagram over 2 KiB is read whole: \(raw)")
            // A control octet breaks the line itself: no Via can be trusted to answer to, so it is dropped (the
            // parser's verdict is checked in SIPMessageTests); what matters here is that it is not taken.
            #expect(raw["bare_backslash_control"] as? Int == nil, "\(raw)")
        }
    }
}
