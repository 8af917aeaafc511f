import Foundation
import Testing

/// Commands that change the store while `serve` runs take effect in it before they return (issue 20), through the
/// edge's control socket: a ban added by `rampart ban add` refuses the very next REGISTER from its source (sipp),
/// a removed ban lets the next one in, an account added registers at once and a removed one is refused at once.
/// The socket is owner-only, and what else an attacker with access to it sends gets nothing.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ControlSocketWithPeersTests {
    @Test func theCLIsChangesAreInForceWhenItReturns() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            // Banned sources are answered 403 (not dropped), so that a refusal is an answer, not a timeout.
            let server = try ServeProcess(dataDir: data, config: ServeWithPeersTests.sippConfig
                + "\n[security]\nbanned_response = \"403\"\n", listeners: ["udp"])
            defer { server.stop() }
            let port = try #require(server.ports["udp"])
            let socket = data + "/control.sock"
            let mode = (try FileManager.default.attributesOfItem(atPath: socket)[.posixPermissions] as? Int) ?? 0o777
            #expect(mode & 0o077 == 0, "the control socket is owner-only: \(String(mode, radix: 8))")

            for _ in 0..<3 {
                let banned = try RampartProcess.run(["ban", "add", "127.0.0.9", "--data-dir", data])
                try #require(banned.status == 0, "\(banned.stderr)")
                let refused = try AttackersWithPeersTests.register("alice", from: "127.0.0.9", port: port, timeout: 2,
                                                                   directory: directory)
                #expect(refused.status != 0, "the REGISTER right after the ban: \(refused.output.suffix(300))")
                try #require(try RampartProcess.run(["ban", "remove", "127.0.0.9", "--data-dir", data]).status == 0)
                let served = try AttackersWithPeersTests.register("alice", from: "127.0.0.9", port: port, timeout: 5,
                                                                  directory: directory)
                #expect(served.status == 0, "the REGISTER right after the lift: \(served.output.suffix(300))")
            }

            try ServeWithPeersTests.addUser("carol", password: "pw-carol", dataDir: data)
            let added = try AttackersWithPeersTests.register("carol", from: "127.0.0.10", port: port, timeout: 5,
                                                             directory: directory)
            #expect(added.status == 0, "carol, right after `user add`: \(added.output.suffix(300))")
            try #require(try RampartProcess.run(["user", "remove", "carol", "--data-dir", data]).status == 0)
            let removed = try AttackersWithPeersTests.register("carol", from: "127.0.0.10", port: port, timeout: 2,
                                                               directory: directory)
            #expect(removed.status != 0, "carol, right after `user remove`: \(removed.output.suffix(300))")

            // Hostile lines on the socket: a `?` for anything but `changed`, a long line cut off, nothing read.
            let probe = try Peers.run(try Peers.tool("python3"), ["-c", """
                import socket, sys
                answers = []
                for line in [b"DROP TABLE bans\\n", b"x" * 5000, b"changed\\n"]:
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.settimeout(3)
                    s.connect(sys.argv[1])
                    try:
                        s.sendall(line)
                        answers.append(s.recv(64).decode().strip() or "closed")
                    except OSError:
                        answers.append("closed")
                    s.close()
                print(" ".join(answers))
                """, socket], seconds: 20)
            #expect(probe.output.contains("? closed ok"), "\(probe.output)")
            #expect(try AttackersWithPeersTests.register("alice", from: "127.0.0.1", port: port, timeout: 5,
                                                         directory: directory).status == 0, "the edge still serves")
            #expect(server.stop() == 0)
            #expect(!FileManager.default.fileExists(atPath: socket), "removed at shutdown")
        }
    }
}
