import Foundation
import SIPMessage
import Testing

/// Every message file under Vectors/messages has an expected outcome in Vectors/manifest.json, and every
/// manifest entry has a file: nothing is skipped silently.
struct MessageVector: Sendable, CustomTestStringConvertible {
    let file: String
    let valid: Bool
    let status: Int?
    let code: String?
    var testDescription: String { file }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Vectors")

    static func load() throws -> [MessageVector] {
        let data = try Data(contentsOf: directory.appendingPathComponent("manifest.json"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
        return manifest.keys.sorted().map { file in
            let entry = manifest[file]!
            return MessageVector(
                file: file, valid: entry["valid"] as? Bool ?? false, status: entry["status"] as? Int,
                code: entry["code"] as? String)
        }
    }

    var bytes: [UInt8] {
        get throws { [UInt8](try Data(contentsOf: MessageVector.directory.appendingPathComponent("messages/\(file)"))) }
    }
}

@Suite struct VectorTests {
    @Test func manifestCoversEveryFile() throws {
        let files = try FileManager.default.contentsOfDirectory(
            atPath: MessageVector.directory.appendingPathComponent("messages").path)
        let listed = Set(try MessageVector.load().map(\.file))
        #expect(Set(files) == listed)
        #expect(listed.count >= 50)
    }

    @Test(arguments: try MessageVector.load())
    func classification(_ vector: MessageVector) throws {
        let result = SIPMessageCheck.check(try vector.bytes)
        #expect(result.isValid == vector.valid, "\(result.error.map(String.init(describing:)) ?? "valid")")
        #expect(result.sipStatus == vector.status)
        if let code = vector.code {
            #expect(result.error?.code.description == code)
        }
    }

    @Test(arguments: try MessageVector.load().filter(\.valid))
    func validMessagesRoundTripByteExact(_ vector: MessageVector) throws {
        let bytes = try vector.bytes
        let message = try SIPMessage.parse(bytes)
        let serialized = message.serialized()
        // Octets past Content-Length are dropped (RFC 3261 §18.3); everything else is kept as received.
        #expect(serialized == Array(bytes.prefix(serialized.count)))
        let again = try SIPMessage.parse(serialized)
        #expect(again.serialized() == serialized)
    }

    @Test(arguments: try MessageVector.load().filter(\.valid))
    func validMessagesParseByteByByteOverAStream(_ vector: MessageVector) throws {
        let message = try SIPMessage.parse(try vector.bytes)
        guard message.contentLength != nil else { return }  // streams require Content-Length
        let bytes = message.serialized()
        var framer = SIPStreamFramer()
        var frames: [SIPStreamFramer.Frame] = []
        for byte in bytes {
            framer.append([byte])
            while let frame = try framer.nextFrame() { frames.append(frame) }
        }
        #expect(frames == [.message(bytes)])
        #expect(framer.bufferedByteCount == 0)
    }
}
