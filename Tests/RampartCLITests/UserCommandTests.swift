import Foundation
import Testing

@Suite struct UserCommandTests {
    @Test func accountsAreManagedAndPasswordsNeverStored() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = ["--data-dir", directory.appendingPathComponent("data").path]
        let add = try RampartProcess.run(["user", "add", "alice", "--password-stdin"] + data, stdin: "Tr0ub4dor&3\n")
        #expect(add.status == 0 && add.stdout.contains("added alice@localhost"))
        #expect(try RampartProcess.run(["user", "add", "bob", "--domain", "Example.COM", "--password", "pw"] + data).status == 0)
        let list = try RampartProcess.run(["user", "list"] + data)
        #expect(list.stdout.split(separator: "\n") == [
            "bob@example.com  digest: MD5, SHA-256, SHA-512-256", "alice@localhost  digest: MD5, SHA-256, SHA-512-256",
        ])
        // Only HA1s reach the disk; the database is readable by its owner only.
        let database = directory.appendingPathComponent("data/rampart.sqlite")
        for suffix in ["", "-wal"] {
            if let bytes = FileManager.default.contents(atPath: database.path + suffix) {
                #expect(bytes.range(of: Data("Tr0ub4dor&3".utf8)) == nil)
            }
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: database.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        // Usage errors exit 2: duplicate, both or neither password forms, unknown account.
        #expect(try RampartProcess.run(["user", "add", "alice", "--password", "x"] + data).status == 2)
        #expect(try RampartProcess.run(["user", "add", "carol"] + data).status == 2)
        #expect(try RampartProcess.run(["user", "add", "carol", "--password", "x", "--password-stdin"] + data).status == 2)
        #expect(try RampartProcess.run(["user", "passwd", "nobody", "--password", "x"] + data).status == 2)
        #expect(try RampartProcess.run(["user", "passwd", "alice", "--password", "new"] + data).status == 0)
        #expect(try RampartProcess.run(["user", "remove", "bob", "--domain", "example.com"] + data).status == 0)
        #expect(try RampartProcess.run(["user", "remove", "bob", "--domain", "example.com"] + data).status == 2)
        #expect(try RampartProcess.run(["user", "list"] + data).stdout == "alice@localhost  digest: MD5, SHA-256, SHA-512-256\n")
    }

    /// The data directory is owner-only, it and everything in it, even when it existed before with looser modes
    /// (issue 17): made so with a warning, and what `serve` creates there (SQLite's -wal and -shm, the development
    /// CA and certificate) is owner-only too.
    @Test func aDataDirectoryOpenToOthersIsMadeOwnerOnly() throws {
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            let manager = FileManager.default
            try manager.createDirectory(atPath: data, withIntermediateDirectories: false,
                                        attributes: [.posixPermissions: 0o755])
            #expect(manager.createFile(atPath: data + "/notes.txt", contents: Data("x".utf8),
                                       attributes: [.posixPermissions: 0o644]))
            let add = try RampartProcess.run(["user", "add", "alice", "--password-stdin", "--data-dir", data],
                                             stdin: "pw-alice\n")
            #expect(add.status == 0 && add.stderr.contains("made owner-only"), "\(add.stderr)")
            func mode(_ path: String) -> Int? {
                ((try? manager.attributesOfItem(atPath: path))?[.posixPermissions] as? NSNumber)?.intValue
            }
            #expect(mode(data) == 0o700 && mode(data + "/notes.txt") == 0o600)
            let server = try ServeProcess(dataDir: data, listeners: ["udp", "tls"])
            defer { server.stop() }
            let files = try manager.contentsOfDirectory(atPath: data)
            #expect(files.contains("rampart.sqlite-wal") && files.contains("ca.crt"), "\(files)")
            for file in files { #expect(mode(data + "/" + file) == 0o600, "\(file): \(String(mode(data + "/" + file) ?? 0, radix: 8))") }
            // Stopped at once, serve may not have its SIGTERM handler yet: its exit status is not this test's subject.
            server.stop()
        }
    }
}
