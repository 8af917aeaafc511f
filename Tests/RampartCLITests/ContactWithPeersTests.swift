import Foundation
import Testing

/// A registered Contact used as a pivot, against a running `rampart serve` (issue 17; Tests/Peers/contact_pivot.py,
/// independent of Rampart's code): bob registers over TCP from 127.0.0.1 with a Contact at 127.0.0.9, closes the
/// connection, and alice calls him. The edge (told it may connect to Contacts over TCP) never connects there: 480,
/// and the listener at 127.0.0.9 sees nothing. A Contact at bob's own address is connected to and gets the INVITE.
/// Loopback only, bounded, every process stopped by PID.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ContactWithPeersTests {
    static let config = """
        [calls]
        plain_rtp_accounts = ["alice", "bob"]
        contact_connections = "any"

        [media]
        relay = false
        """

    static func pivot(_ server: ServeProcess, contactHost: String, udpFrom: String? = nil) throws -> [String: Any] {
        try Peers.python("contact_pivot.py", ["--port", String(server.ports["udp"]!), "--tcp-port",
                                              String(server.ports["tcp"]!), "--contact-host", contactHost]
                                              + (udpFrom.map { ["--udp-from", $0] } ?? []), seconds: 30)
    }

    @Test func aContactNamingAnotherHostIsNeverConnectedTo() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            try ServeWithPeersTests.addUser("bob", password: "pw-bob", dataDir: data)
            let server = try ServeProcess(dataDir: data, config: Self.config, listeners: ["udp", "tcp"])
            defer { server.stop() }
            let pivot = try Self.pivot(server, contactHost: "127.0.0.9")
            #expect(pivot["registered"] as? Int == 200)
            #expect(pivot["final"] as? Int == 480 && (pivot["reached"] as? [String])?.isEmpty == true, "\(pivot)")
            let own = try Self.pivot(server, contactHost: "127.0.0.1")
            let reached = own["reached"] as? [String] ?? []
            #expect(reached.count == 1 && reached[0].hasPrefix("INVITE sip:bob@127.0.0.1:"), "\(own)")
            #expect(server.stop() == 0)
        }
    }

    /// A registration made from a trunk's address (over UDP anyone can forge one once they have a password) would
    /// aim the account's calls at the carrier, sent from the edge's trusted address past every destination rule.
    /// The edge registers it but never sends a call there: alice's call to bob gets 480 and nothing reaches
    /// 127.0.0.2, while the same registration from bob's own address is called.
    @Test func aRegistrationFromATrunksAddressIsNeverCalled() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            try ServeWithPeersTests.addUser("bob", password: "pw-bob", dataDir: data)
            let server = try ServeProcess(dataDir: data, config: Self.config + """

                [[trunks]]
                name = "carrier"
                address = "udp:127.0.0.2:\(try Peers.freePort())"
                prefixes = ["+"]

                [fraud]
                country_code = "1"
                """, listeners: ["udp", "tcp"])
            defer { server.stop() }
            let forged = try Self.pivot(server, contactHost: "127.0.0.9", udpFrom: "127.0.0.2")
            #expect(forged["registered"] as? Int == 200)
            #expect(forged["final"] as? Int == 480 && (forged["reached"] as? [String])?.isEmpty == true, "\(forged)")
            let own = try Self.pivot(server, contactHost: "127.0.0.9", udpFrom: "127.0.0.3")
            let reached = own["reached"] as? [String] ?? []
            #expect(reached.first?.hasPrefix("INVITE sip:bob@") == true, "\(own)")
            #expect(server.stop() == 0)
        }
    }
}
