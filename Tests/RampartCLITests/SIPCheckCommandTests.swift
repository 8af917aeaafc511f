import Foundation
import Testing

/// Runs the real `rampart` executable, as an operator's script would.
struct RampartProcess {
    static var executable: URL {
        // The test bundle sits beside the package's products in the build directory.
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("rampart")
    }

    static let vectors = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("SIPMessageTests/Vectors")

    static func vector(_ name: String) -> String { vectors.appendingPathComponent("messages/\(name)").path }

    static func run(_ arguments: [String], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let executable = executable
        try #require(FileManager.default.isExecutableFile(atPath: executable.path), "rampart not built at \(executable.path)")
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}

@Suite struct SIPCheckCommandTests {
    @Test func validMessagesExitZero() throws {
        let result = try RampartProcess.run(["sip", "check", RampartProcess.vector("wsinv.sip"), RampartProcess.vector("esc01.sip")])
        #expect(result.status == 0)
        #expect(result.stdout.contains("wsinv.sip: valid"))
        #expect(result.stdout.contains("esc01.sip: valid"))
    }

    @Test func anInvalidMessageExitsOneAndNamesTheStatus() throws {
        let result = try RampartProcess.run(["sip", "check", RampartProcess.vector("wsinv.sip"), RampartProcess.vector("clerr.sip")])
        #expect(result.status == 1)
        #expect(result.stdout.contains("clerr.sip: invalid: Content-Length 9999 exceeds"))
        #expect(result.stdout.contains("400 Bad Request"))
    }

    @Test func notesCarryTheHigherLayerStatus() throws {
        let result = try RampartProcess.run(["sip", "check", RampartProcess.vector("unkscm.sip")])
        #expect(result.status == 0)
        #expect(result.stdout.contains("valid (note: 416 Unsupported URI Scheme"))
    }

    @Test func usageErrorsExitTwo() throws {
        #expect(try RampartProcess.run(["sip", "check"]).status == 2)
        #expect(try RampartProcess.run(["sip", "check", "/nonexistent/message.sip"]).status == 2)
        #expect(try RampartProcess.run(["sip", "check", "--no-such-flag", RampartProcess.vector("wsinv.sip")]).status == 2)
        #expect(try RampartProcess.run(["sip", "nonsense"]).status == 2)
        #expect(try RampartProcess.run(["sip", "check", "--help"]).status == 0)
    }

    @Test func jsonOutputAgreesWithTheManifest() throws {
        let manifestData = try Data(contentsOf: RampartProcess.vectors.appendingPathComponent("manifest.json"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: manifestData) as? [String: [String: Any]])
        let files = manifest.keys.sorted()
        let result = try RampartProcess.run(["sip", "check", "--json"] + files.map(RampartProcess.vector))
        #expect(result.status == 1)  // the set holds invalid messages
        let reports = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(reports.count == files.count)
        for (file, report) in zip(files, reports) {
            let expected = manifest[file]!
            #expect((report["file"] as? String)?.hasSuffix(file) == true)
            #expect(report["valid"] as? Bool == expected["valid"] as? Bool, "\(file)")
            #expect(report["sipStatus"] as? Int == expected["status"] as? Int, "\(file)")
            if let code = expected["code"] as? String { #expect(report["code"] as? String == code, "\(file)") }
        }
    }

    @Test func formatShowsTheParsedStructure() throws {
        let result = try RampartProcess.run(["sip", "format", RampartProcess.vector("wsinv.sip")])
        #expect(result.status == 0)
        #expect(result.stdout.contains("Request   INVITE sip:vivekg@chair-dnrc.example.com;unknownparam"))
        #expect(result.stdout.contains("transport=TCP sent-by=spindle.example.com branch=z9hG4bK9ikj8"))
        #expect(result.stdout.contains("display-name=\"J Rosenberg \\\"\""))
        #expect(result.stdout.contains("Verdict   valid"))
        let invalid = try RampartProcess.run(["sip", "format", RampartProcess.vector("mismatch01.sip")])
        #expect(invalid.status == 1)
        #expect(invalid.stdout.contains("Verdict   invalid: CSeq method differs"))
    }
}
