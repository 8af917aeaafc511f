import Foundation
@testable import RTP
import Testing
import TestVectors

func hexBytes(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8)
    return stride(from: 0, to: digits.count - 1, by: 2).map {
        UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)!
    }
}

@Suite struct RTPPacketViewTests {
    /// The header decodes of `Tests/Vectors/rfc3550/rtp-header-decodes.json`, RTCP told apart (RFC 5761).
    @Test func headersDecodeAsTheVectorsSay() throws {
        let vector = try RFCVectors.json("rfc3550/rtp-header-decodes.json")
        var checked = 0
        for decode in try #require(vector["decodes"] as? [[String: Any]]) {
            var bytes = hexBytes(try #require(decode["hex"] as? String))
            if let words = decode["extension_length_words"] as? Int { bytes += [UInt8](repeating: 0, count: 4 * words) }
            let view = try #require(RTPPacketView(bytes))
            guard let payloadType = decode["PT"] as? Int else {
                #expect(view.kind == .rtcp, "PT 200 is RTCP, never RTP")
                #expect(view.ssrc == 0x4D61_7273)
                checked += 1
                continue
            }
            #expect(view.kind == .rtp)
            #expect(Int(view.payloadType) == payloadType)
            #expect(Int(view.sequence) == decode["seq"] as? Int)
            #expect(Int(view.timestamp) == decode["timestamp"] as? Int)
            #expect(String(format: "%08x", view.ssrc) == decode["ssrc"] as? String)
            #expect(view.marker == ((decode["M"] as? Int) == 1))
            #expect(view.payloadOffset == 12 + ((decode["X"] as? Int) == 1 ? 4 + 4 * (decode["extension_length_words"] as? Int ?? 0) : 0))
            checked += 1
        }
        #expect(checked == 4)
        #expect(RTPPacketView([0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]) == nil, "shorter than a header")
        #expect(RTPPacketView([0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]) == nil, "version 1")
        #expect(RTPPacketView([0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xBE, 0xDE, 0, 9]) == nil, "extension past the end")
    }
}
