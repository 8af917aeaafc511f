import Foundation
import Testing

/// Calls through `rampart serve` between two sipp instances: the callee registers, then answers as a server on the
/// port it registered from; the caller authenticates with Proxy-Authorization (MD5, as Debian's sipp speaks) and
/// offers SRTP. Loopback only, bounded, every process stopped by PID.
@Suite(.serialized, .timeLimit(.minutes(3))) struct CallsWithPeersTests {
    @Test func sippCallsSippThroughTheEdgeWhichHidesEachSideFromTheOther() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            try ServeWithPeersTests.addUser("alice", password: "pw-alice", dataDir: data)
            try ServeWithPeersTests.addUser("bob", password: "pw-bob", dataDir: data)
            let server = try ServeProcess(dataDir: data, config: ServeWithPeersTests.sippConfig, listeners: ["udp"])
            defer { server.stop() }
            let edgePort = server.ports["udp"]!
            let bobPort = try Peers.freePort()
            let register = try Peers.sipp("register", port: edgePort, user: "bob", password: "pw-bob",
                                          localPort: bobPort, workDirectory: directory)
            try #require(register.status == 0, "bob's registration: \(register.output.suffix(600))")

            // Bob answers on the port he registered from: the edge reaches him down that flow.
            let callee = Process()
            (callee.executableURL, callee.arguments) = try Peers.withDefaultSignals("/usr/bin/timeout", [
                "-k", "2", "40", try Peers.tool("sipp"), "-sf",
                Peers.directory.appendingPathComponent("sipp/answer-call.xml").path, "-t", "u1", "-i", "127.0.0.1",
                "-p", String(bobPort), "-m", "1", "-nostdin", "-timeout", "30", "-trace_msg", "-message_file",
                directory + "/callee.msg",
            ])
            callee.currentDirectoryURL = URL(fileURLWithPath: directory)
            callee.standardOutput = FileHandle.nullDevice
            callee.standardError = FileHandle.nullDevice
            try callee.run()
            defer {
                if callee.isRunning { kill(callee.processIdentifier, SIGTERM) }
                Peers.reap(callee)
            }
            Thread.sleep(forTimeInterval: 0.5)

            let callerPort = try Peers.freePort()
            let caller = try Peers.run(try Peers.tool("sipp"), [
                "127.0.0.1:\(edgePort)", "-sf", Peers.directory.appendingPathComponent("sipp/call-with-proxy-auth.xml").path,
                "-t", "u1", "-s", "alice", "-au", "alice", "-ap", "pw-alice", "-auth_uri", "bob@localhost",
                "-key", "domain", "localhost", "-key", "callee", "bob", "-i", "127.0.0.1", "-p", String(callerPort),
                "-cid_str", "secret-%u-%p@caller.invalid", "-m", "1", "-nostdin", "-timeout", "30", "-trace_msg",
                "-message_file", directory + "/caller.msg", "-trace_err",
            ], seconds: 45, directory: directory)
            #expect(caller.status == 0, "the caller's call: \(caller.output.suffix(800))")
            for _ in 0..<100 where callee.isRunning { Thread.sleep(forTimeInterval: 0.1) }
            #expect(!callee.isRunning && callee.terminationStatus == 0, "the callee did not complete its scenario")

            // What each side saw of the other: nothing but the edge.
            let calleeSaw = try String(contentsOfFile: directory + "/callee.msg", encoding: .utf8)
            #expect(calleeSaw.contains("INVITE sip:bob@127.0.0.1:\(bobPort)"))
            for trace in ["caller.invalid", "callertag", ":\(callerPort)", "caller-softphone"] {
                #expect(!calleeSaw.contains(trace), "the callee saw \(trace)")
            }
            #expect(calleeSaw.contains("P-Asserted-Identity: <sip:alice@localhost>"))
            let callerSaw = try String(contentsOfFile: directory + "/caller.msg", encoding: .utf8)
            #expect(callerSaw.contains("SIP/2.0 200 OK"))
            for trace in [":\(bobPort)", "callee-pbx", "callee1"] {
                #expect(!callerSaw.contains(trace), "the caller saw \(trace)")
            }

            // The call left its record.
            var records: [[String: Any]] = []
            for _ in 0..<50 where records.isEmpty {
                let export = try RampartProcess.run(["cdr", "export", "--format", "json", "--data-dir", data])
                records = (try? JSONSerialization.jsonObject(with: Data(export.stdout.utf8)) as? [[String: Any]]) ?? []
                if records.isEmpty { Thread.sleep(forTimeInterval: 0.1) }
            }
            #expect(records.first?["disposition"] as? String == "answered")
            #expect(records.first?["srtpSuite"] as? String == "AES_CM_128_HMAC_SHA1_80")
            #expect(records.first?["hangupSide"] as? String == "caller")
            #expect(server.stop() == 0)
        }
    }
}
