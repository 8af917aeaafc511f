import Foundation
import SDP
import Testing

@Suite("Fuzz seed corpus")
struct FuzzCorpusTests {
    static let corpusDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/SDP/corpus")

    /// Every seed must be a valid description, so the fuzzer starts from accepted inputs.
    @Test func everySeedParsesAndRoundTrips() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpusDirectory.path).sorted()
        #expect(files.count >= 5)
        for file in files {
            let data = try Data(contentsOf: Self.corpusDirectory.appendingPathComponent(file))
            let sdp = try SessionDescription(parsing: Array(data))
            #expect(!sdp.mediaSecurity.isEmpty, "\(file)")
            #expect(try SessionDescription(parsing: try sdp.serialized()) == sdp, "\(file)")
        }
    }
}
