import Foundation
import Testing

/// `rampart serve` as a child process on loopback with free ports, stopped by PID.
final class ServeProcess: @unchecked Sendable {
    let process = Process()
    let dataDir: String
    private let lock = NSLock()
    private var stdoutText = ""
    private var stderrText = ""
    private(set) var ports: [String: Int] = [:]

    /// Starts the server and waits (at most 30 s) until it prints its listeners.
    /// `alsoListen` adds whole listen addresses (`udp:[::1]:0`); an IPv6 one's port is under its transport + "6".
    init(dataDir: String, config: String? = nil, listeners: [String] = ["udp", "tcp", "tls"], host: String = "127.0.0.1",
         alsoListen: [String] = []) throws
    {
        self.dataDir = dataDir
        var arguments = ["serve", "--data-dir", dataDir]
        if let config {
            let path = dataDir + ".toml"
            try config.write(toFile: path, atomically: true, encoding: .utf8)
            arguments += ["--config", path]
        }
        let bracketed = host.contains(":") ? "[\(host)]" : host
        for transport in listeners { arguments += ["--listen", "\(transport):\(bracketed):0"] }
        for address in alsoListen { arguments += ["--listen", address] }
        // The admin API on a free loopback port (never the fixed default: edges of parallel tests would collide).
        arguments += ["--admin-listen", "127.0.0.1:0"]
        (process.executableURL, process.arguments) = try Peers.withDefaultSignals(RampartProcess.executable.path, arguments)
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        // At end of file the handler would fire forever with empty data: it removes itself then.
        out.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil }
            self?.lock.withLock { self?.stdoutText += String(decoding: data, as: UTF8.self) }
        }
        err.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil }
            self?.lock.withLock { self?.stderrText += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
        for _ in 0..<300 {
            if stdout.contains("add a user with") && stdout.contains("admin API on") || !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        try #require(process.isRunning, "rampart serve did not start: \(stderr)")
        for line in stdout.split(separator: "\n") where line.hasPrefix("rampart: listening on ") {
            let address = line.dropFirst("rampart: listening on ".count)
            let parts = address.split(separator: ":")
            let family = address.contains("[") && !host.contains(":") ? "6" : ""
            if let transport = parts.first, let port = parts.last.flatMap({ Int($0) }) {
                ports[String(transport) + family] = port
            }
        }
        try #require(ports.count == listeners.count + alsoListen.count, "listeners not printed: \(stdout)")
        if let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix("rampart: admin API on ") }),
            let port = line.split(separator: ":").last.flatMap({ Int($0) })
        {
            ports["admin"] = port
        }
    }

    var stdout: String { lock.withLock { stdoutText } }
    var stderr: String { lock.withLock { stderrText } }

    /// SIGTERM, then waits up to 15 s (SIGKILL after that); returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGTERM)
        for _ in 0..<150 where process.isRunning { Thread.sleep(forTimeInterval: 0.1) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return -9
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}

/// The real peers the suites drive (Debian packages installed by scripts/test). Missing ones fail the test.
/// A peer could not be set up (no free port, a server that did not start).
struct PeerFailure: Error, CustomStringConvertible {
    let description: String
}

enum Peers {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Peers")

    static func tool(_ name: String) throws -> String {
        for prefix in ["/usr/bin/", "/usr/sbin/", "/usr/local/bin/"] where FileManager.default.isExecutableFile(atPath: prefix + name) {
            return prefix + name
        }
        try #require(Bool(false), "\(name) is not installed: run scripts/test as root to install the test peers")
        return ""
    }

    /// Runs a program with a time bound (timeout(1) kills it); returns status and combined output.
    static func run(_ executable: String, _ arguments: [String], seconds: Int = 60, directory: String? = nil) throws
        -> (status: Int32, output: String)
    {
        let process = Process()
        (process.executableURL, process.arguments) = try withDefaultSignals(
            "/usr/bin/timeout", ["-k", "5", String(seconds), executable] + arguments)
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Foundation's Process starts children with the test runner's signal mask, in which nearly every signal is
    /// blocked: timeout(1) would never fire and SIGTERM would never arrive. This runs `executable` through a
    /// Python shim that restores the default mask first.
    static func withDefaultSignals(_ executable: String, _ arguments: [String]) throws -> (URL, [String]) {
        let shim = "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])"
        return (URL(fileURLWithPath: try tool("python3")), ["-c", shim, executable] + arguments)
    }

    /// Waits (bounded, without Foundation's busy run-loop wait) for a killed process to be gone.
    static func reap(_ process: Process) {
        for _ in 0..<100 where process.isRunning { Thread.sleep(forTimeInterval: 0.05) }
    }

    /// One sipp scenario from Tests/Peers/sipp, one call, as `user` with `password`.
    /// `ip` is the local address sipp sends from; `timeout` bounds its run (seconds).
    static func sipp(_ scenario: String, port: Int, transport: String = "u1", user: String, password: String,
                     expires: Int = 600, ip: String = "127.0.0.1", localPort: Int = 0, timeout: Int = 30,
                     workDirectory: String) throws -> (status: Int32, output: String)
    {
        try run(try tool("sipp"), [
            "127.0.0.1:\(port)", "-sf", directory.appendingPathComponent("sipp/\(scenario).xml").path,
            "-t", transport, "-s", user, "-au", user, "-ap", password, "-auth_uri", "localhost",
            "-key", "domain", "localhost", "-key", "expires", String(expires), "-i", ip, "-p", String(localPort),
            "-m", "1", "-nostdin", "-timeout", String(timeout), "-trace_err", "-trace_msg",
        ], seconds: timeout + 15, directory: workDirectory)
    }

    /// Starts a program in the background, bounded by timeout(1) (which forwards SIGTERM and KILLs 2 s later).
    static func background(_ executable: String, _ arguments: [String], seconds: Int, directory: String,
                           output: String? = nil) throws -> Process {
        let process = Process()
        (process.executableURL, process.arguments) = try withDefaultSignals(
            "/usr/bin/timeout", ["-k", "2", String(seconds), executable] + arguments)
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        if let output {
            FileManager.default.createFile(atPath: output, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        } else {
            process.standardOutput = FileHandle.nullDevice
        }
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Stops a background process by PID and waits (bounded) for it.
    static func stop(_ process: Process) {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        reap(process)
    }

    /// A stunnel client on `accept` that speaks TLS 1.2+ to `connect`, verifying the server against `caFile`
    /// (Debian's sipp has no TLS: sipp runs over TCP into it).
    static func stunnelClient(accept: Int, connect: Int, caFile: String, directory: String) throws -> Process {
        let config = directory + "/stunnel-\(accept).conf"
        try """
            foreground = yes
            pid =
            [sip]
            client = yes
            accept = 127.0.0.1:\(accept)
            connect = 127.0.0.1:\(connect)
            CAfile = \(caFile)
            verifyChain = yes
            checkHost = localhost
            sslVersionMin = TLSv1.2
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let stunnel = try background(try tool("stunnel4"), [config], seconds: 120, directory: directory)
        try #require(waitForListener(port: accept, udp: false), "stunnel did not listen on \(accept)")
        return stunnel
    }

    /// sipp as a server (a callee or a trunk) running one scenario of Tests/Peers/sipp once, in the background,
    /// tracing what it exchanged to `messageFile`.
    /// `scenario` is a name in Tests/Peers/sipp, or a path to a scenario file; `extra` are more sipp arguments.
    static func sippServer(_ scenario: String, transport: String = "u1", ip: String = "127.0.0.1", port: Int,
                           messageFile: String, directory: String, extra: [String] = []) throws -> Process {
        let file = scenario.hasPrefix("/") ? scenario : Self.directory.appendingPathComponent("sipp/\(scenario).xml").path
        let server = try background(try tool("sipp"), [
            "-sf", file, "-t", transport, "-i", ip,
            "-p", String(port), "-m", "1", "-nostdin", "-timeout", "30", "-trace_msg", "-message_file", messageFile,
        ] + extra, seconds: 40, directory: directory)
        try #require(waitForListener(port: port, udp: transport.hasPrefix("u")), "sipp did not take port \(port)")
        return server
    }

    /// bob over UDP: registers from a free port with sipp, then answers there as a sipp server running `scenario`
    /// (the edge reaches him down the flow he registered over). Returns the server and the port.
    static func bobAnswering(_ scenario: String, edgePort: Int, messageFile: String, directory: String,
                             extra: [String] = []) throws -> (process: Process, port: Int)
    {
        let port = try freePort()
        let register = try sipp("register", port: edgePort, user: "bob", password: "pw-bob", localPort: port,
                                workDirectory: directory)
        try #require(register.status == 0, "bob's registration: \(register.output.suffix(600))")
        let process = try sippServer(scenario, port: port, messageFile: messageFile, directory: directory, extra: extra)
        return (process, port)
    }

    /// A stunnel server: TLS on `accept` (with this certificate), plain TCP to `connect`.
    static func stunnelServer(accept: Int, connect: Int, certificate: String, key: String, directory: String) throws
        -> Process
    {
        let config = directory + "/stunnel-server-\(accept).conf"
        try """
            foreground = yes
            pid =
            [sip]
            accept = 127.0.0.1:\(accept)
            connect = 127.0.0.1:\(connect)
            cert = \(certificate)
            key = \(key)
            sslVersionMin = TLSv1.2
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let stunnel = try background(try tool("stunnel4"), [config], seconds: 120, directory: directory)
        try #require(waitForListener(port: accept, udp: false), "stunnel did not listen on \(accept)")
        return stunnel
    }

    /// Tests/Peers/sip_client.py: returns its JSON verdict.
    static func sipClient(_ arguments: [String]) throws -> [String: Any] {
        let result = try run(try tool("python3"), [directory.appendingPathComponent("sip_client.py").path, "register"]
            + arguments, seconds: 30)
        try #require(result.status == 0, "sip_client.py failed: \(result.output)")
        let line = try #require(result.output.split(separator: "\n").last.map(String.init))
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    /// One of the Python peers in Tests/Peers: runs it (bounded) and returns the JSON object its last line prints.
    static func python(_ script: String, _ arguments: [String], seconds: Int = 60) throws -> [String: Any] {
        let result = try run(try tool("python3"), [directory.appendingPathComponent(script).path] + arguments,
                             seconds: seconds)
        try #require(result.status == 0, "\(script): \(result.output)")
        let line = try #require(result.output.split(separator: "\n").last.map(String.init))
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
    }

    /// Calls `body` with 127.0.0.1:`port` as a `sockaddr` and its length (for bind and connect).
    static func withLoopback<Result>(port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// A free loopback TCP port (bound then released; the caller binds it right away).
    /// A loopback port free for UDP and for TCP at once (sipp, the edge and stunnel take either), probed by binding
    /// both.
    static func freePort() throws -> Int {
        for _ in 0..<50 {
            let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(udp); close(tcp) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                    Glibc.bind(udp, pointer, length) == 0 && getsockname(udp, pointer, &length) == 0
                        && Glibc.bind(tcp, pointer, length) == 0
                }
            }
            if bound { return Int(UInt16(bigEndian: address.sin_port)) }
        }
        throw PeerFailure(description: "no loopback port free for both UDP and TCP")
    }

    /// Waits, at most `seconds`, until some socket here is bound to `port`: a UDP one, or a listening TCP one (read
    /// from /proc/net, so nothing is sent to the server to find out).
    static func waitForListener(port: Int, udp: Bool, seconds: Double = 10) -> Bool {
        let files = udp ? ["/proc/net/udp", "/proc/net/udp6"] : ["/proc/net/tcp", "/proc/net/tcp6"]
        let suffix = String(format: ":%04X", port)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            for file in files {
                // /proc files report no size: read to the end (a relay's warm ports make them long).
                guard let handle = FileHandle(forReadingAtPath: file), let data = try? handle.readToEnd() else { continue }
                try? handle.close()
                let table = String(decoding: data, as: UTF8.self)
                for line in table.split(separator: "\n").dropFirst() {
                    let fields = line.split(separator: " ")
                    guard fields.count > 3, fields[1].hasSuffix(suffix) else { continue }
                    if udp || fields[3] == "0A" { return true }  // 0A: TCP_LISTEN
                }
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }
}

/// A temporary directory removed at the end.
func withTemporaryDirectory(_ body: (String) throws -> Void) throws {
    let path = NSTemporaryDirectory() + "rampart-it-\(UInt64.random(in: 0 ... .max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    try body(path)
}
