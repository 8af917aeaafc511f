import Foundation
import Testing

/// Retransmissions are not replays, and never ban a source (issue 17): six accounts on one source address (phones
/// behind one NAT, or sipp against an edge that fell behind) each send their authenticated INVITE over UDP four times
/// before the edge could answer and twice more across its answer, through a running `rampart serve`
/// (Tests/Peers/retransmissions.py, independent of Rampart's code). Before the fix the copies were judged
/// `digest-replay` and the source was banned for "failures across 5 accounts". Loopback only, bounded.
@Suite(.serialized, .timeLimit(.minutes(2))) struct RetransmissionsWithPeersTests {
    @Test func copiesOfAuthenticatedInvitesFromOneSourceBanNothing() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            let accounts = (1...6).map { "a\($0)" }
            for account in accounts { try ServeWithPeersTests.addUser(account, password: "pw-\(account)", dataDir: data) }
            let server = try ServeProcess(dataDir: data, config: "", listeners: ["udp"])
            defer { server.stop() }
            let verdict = try Peers.python("retransmissions.py", [
                "--port", String(server.ports["udp"]!), "--accounts", accounts.map { "\($0):pw-\($0)" }.joined(separator: ","),
                "--callee", "nobody",
            ])
            let calls = try #require(verdict["calls"] as? [String: [String: Any]])
            for account in accounts {
                let call = try #require(calls[account])
                #expect(call["challenged"] as? Bool == true, "\(account) was still answered: \(call)")
                let answers = (call["early"] as? [Int] ?? []) + (call["late"] as? [Int] ?? [])
                // nobody is registered: every copy gets the call's one answer (480), never a 403 for a replay.
                #expect(!answers.isEmpty && answers.allSatisfy { $0 == 100 || $0 == 480 }, "\(account): \(answers)")
            }
            #expect(verdict["register_after"] as? Int == 200, "the source is still served")
            #expect(try AttackersWithPeersTests.events(data, type: "digest-replay").isEmpty)
            #expect(try AttackersWithPeersTests.bans(data).contains("127.0.0.1") == false)
            // The records are written in batches: wait (bounded) for all six, then check none came twice.
            var records = try TrunkWithPeersTests.records(data)
            for _ in 0..<30 where records.count < accounts.count {
                Thread.sleep(forTimeInterval: 0.1)
                records = try TrunkWithPeersTests.records(data)
            }
            #expect(records.count == accounts.count, "one call attempt per account, not one per copy")
            #expect(server.stop() == 0)
        }
    }
}
