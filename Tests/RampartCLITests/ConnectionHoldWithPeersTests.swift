import Foundation
import Testing

/// Connection slots held open against a running `rampart serve` (issue 17; Tests/Peers/connection_hold.py,
/// independent of Rampart's code): eight connections to the TLS port that never start a handshake, one to the TCP
/// port that trickles half a request, one that sends only keep-alives, and one from a banned address. The source
/// keeps no more than its cap, the stalled handshakes are closed at the handshake deadline, the trickle and the
/// keep-alives at the first-message deadline, and the banned address at accept. Loopback only, bounded, every process
/// stopped by PID.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ConnectionHoldWithPeersTests {
    static let config = """
        [transport]
        max_connections_per_source = 5
        tls_handshake_timeout_seconds = 2
        first_message_timeout_seconds = 3
        """

    @Test func stalledHandshakesTricklesAndBannedSourcesHoldNoSlot() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            let ban = try RampartProcess.run(["ban", "add", "127.0.0.5", "--data-dir", data])
            try #require(ban.status == 0, "\(ban.stderr)")
            let server = try ServeProcess(dataDir: data, config: Self.config)
            defer { server.stop() }
            let held = try Peers.python("connection_hold.py", [
                "--tls-port", String(server.ports["tls"]!), "--tcp-port", String(server.ports["tcp"]!),
                "--stalls", "8", "--wait", "6", "--banned", "127.0.0.5",
            ], seconds: 30)
            let stalled = try #require(held["stalled_tls"] as? [Double], "every stalled connection was closed: \(held)")
            let trickle = try #require(held["trickle_tcp"] as? Double)
            let keepAlive = try #require(held["keepalive_tcp"] as? Double, "keep-alives alone held a slot: \(held)")
            let banned = try #require(held["banned"] as? Double)
            // Five slots for the source (the stalls and the trickle together); the rest closed at accept.
            let kept = stalled.filter { $0 > 0.5 } + [trickle, keepAlive].filter { $0 > 0.5 }
            #expect(kept.count == 5, "\(held)")
            #expect(stalled.filter { $0 > 0.5 }.allSatisfy { $0 >= 1.8 && $0 < 3.5 }, "handshake deadline 2 s: \(stalled)")
            #expect(trickle >= 2.8 && trickle < 4.5, "first-message deadline 3 s: \(trickle)")
            #expect(keepAlive >= 2.8 && keepAlive < 4.5, "keep-alives are no first message: \(keepAlive)")
            #expect(banned < 0.5, "a banned source is closed at accept: \(banned)")
            // The slots came back: a real TLS client registers.
            let client = try Peers.sipClient(["--transport", "tls", "--host", "127.0.0.1", "--port",
                                              String(server.ports["tls"]!), "--user", "alice", "--password", "pw-alice",
                                              "--ca", data + "/ca.crt"])
            #expect(client["status"] as? Int == 200, "\(client)")
            #expect(server.stop() == 0)
        }
    }
}
