import Foundation
import Testing

/// One account cannot exhaust what all accounts share (issue 17), against a running `rampart serve`
/// (Tests/Peers/ringing_hold.py, independent of Rampart's code): the relay has 32 port pairs, carol only ever rings,
/// and alice places three calls of eight media sections each to her (each would hold 16 pairs until answered). Past
/// her share of ringing sections she gets 503, and bob's ordinary call still finds relay ports and rings. Without the
/// share, alice's two ringing calls took every pair and bob got 503. Loopback only, bounded.
@Suite(.serialized, .timeLimit(.minutes(2))) struct AccountShareWithPeersTests {
    static let config = """
        [calls]
        plain_rtp_accounts = ["alice", "bob", "carol"]
        max_ringing_media_sections_per_account = 8

        [media]
        port_min = 31400
        port_max = 31463
        warm_pairs = 32
        """

    @Test func anAccountRingingEightSectionCallsLeavesRelayPortsForOthers() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            for user in ["alice", "bob", "carol"] { try ServeWithPeersTests.addUser(user, password: "pw-\(user)", dataDir: data) }
            let server = try ServeProcess(dataDir: data, config: Self.config, listeners: ["udp"])
            defer { server.stop() }
            let verdict = try Peers.python("ringing_hold.py", ["--port", String(server.ports["udp"]!), "--hogs", "3"])
            #expect(verdict["alice"] as? [Int] == [180, 503, 503], "\(verdict)")
            #expect(verdict["bob"] as? Int == 180, "bob's call found relay ports: \(verdict)")
            let limited = try AttackersWithPeersTests.events(data, type: "rate-limited") { $0.count >= 2 }
            #expect(limited.count == 2 && limited.allSatisfy { $0.contains("ringing media sections per account") },
                    "\(limited)")
            #expect(server.stop() == 0)
        }
    }
}
