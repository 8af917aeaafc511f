import RTP
import Testing

/// RTCP compound packets as RFC 3550 §6.4 lays them out, built octet by octet.
enum RTCPPackets {
    static func word(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
         UInt8(truncatingIfNeeded: value)]
    }

    static func block(ssrc: UInt32, fraction: UInt8, lost: Int32, jitter: UInt32, lsr: UInt32, dlsr: UInt32) -> [UInt8] {
        let lost24 = UInt32(bitPattern: lost) & 0x00FF_FFFF
        return word(ssrc) + [fraction] + Array(word(lost24).dropFirst()) + word(70_000) + word(jitter) + word(lsr)
            + word(dlsr)
    }

    /// A sender report (NTP time `ntp`) with `blocks`.
    static func senderReport(ssrc: UInt32, ntp: UInt64, blocks: [[UInt8]] = []) -> [UInt8] {
        let body = word(ssrc) + word(UInt32(ntp >> 32)) + word(UInt32(truncatingIfNeeded: ntp)) + word(160)
            + word(50) + word(8_000) + blocks.flatMap { $0 }
        return [0x80 | UInt8(blocks.count), 200] + length(body) + body
    }

    static func receiverReport(ssrc: UInt32, blocks: [[UInt8]]) -> [UInt8] {
        let body = word(ssrc) + blocks.flatMap { $0 }
        return [0x80 | UInt8(blocks.count), 201] + length(body) + body
    }

    /// An SDES packet with one CNAME chunk, padded to a word.
    static func sdes(ssrc: UInt32) -> [UInt8] {
        let body = word(ssrc) + [1, 4] + Array("abcd".utf8) + [0, 0]
        return [0x81, 202] + length(body) + body
    }

    static func length(_ body: [UInt8]) -> [UInt8] {
        let words = body.count / 4  // (header + body) / 4 - 1
        return [UInt8(words >> 8), UInt8(truncatingIfNeeded: words)]
    }
}

@Suite struct RTCPReportTests {
    @Test func aSenderReportWithABlockAndSDESIsRead() throws {
        let ntp: UInt64 = 0xE8A1_B2C3_D4E5_F607
        let block = RTCPPackets.block(ssrc: 0x1111, fraction: 64, lost: 12, jitter: 80, lsr: 0xAABB_CCDD, dlsr: 65_536)
        let packet = RTCPPackets.senderReport(ssrc: 0x2222, ntp: ntp, blocks: [block]) + RTCPPackets.sdes(ssrc: 0x2222)
        let report = try #require(RTCPReport(packet))
        #expect(report.senderSSRC == 0x2222)
        #expect(report.senderReportTime == 0xB2C3_D4E5, "the middle 32 bits of the NTP time")
        let read = try #require(report.blocks.first)
        #expect(report.blocks.count == 1 && read.ssrc == 0x1111 && read.fractionLost == 64 && read.cumulativeLost == 12)
        #expect(read.highestSequence == 70_000 && read.jitter == 80)
        #expect(read.lastSenderReport == 0xAABB_CCDD && read.delaySinceLastSenderReport == 65_536)
    }

    @Test func aReceiverReportsNegativeLossAndSeveralBlocks() throws {
        let blocks = [RTCPPackets.block(ssrc: 1, fraction: 0, lost: -3, jitter: 0, lsr: 0, dlsr: 0),
                      RTCPPackets.block(ssrc: 2, fraction: 255, lost: 0x7F_FFFF, jitter: 9, lsr: 0, dlsr: 0)]
        let report = try #require(RTCPReport(RTCPPackets.receiverReport(ssrc: 7, blocks: blocks)))
        #expect(report.senderReportTime == nil)
        #expect(report.blocks.map(\.cumulativeLost) == [-3, 0x7F_FFFF])
        #expect(report.blocks.map(\.fractionLost) == [0, 255])
    }

    @Test func malformedCompoundPacketsAreRefused() {
        let block = RTCPPackets.block(ssrc: 1, fraction: 0, lost: 0, jitter: 0, lsr: 0, dlsr: 0)
        let good = RTCPPackets.receiverReport(ssrc: 7, blocks: [block])
        #expect(RTCPReport(good) != nil)
        #expect(RTCPReport(Array(good.dropLast())) == nil, "shorter than its length field")
        #expect(RTCPReport([0x40] + good.dropFirst()) == nil, "version 1")
        #expect(RTCPReport(RTCPPackets.sdes(ssrc: 7)) == nil, "a compound packet starts with SR or RR")
        var overcounted = good
        overcounted[0] = 0x82  // two blocks claimed, one present
        #expect(RTCPReport(overcounted) == nil)
        #expect(RTCPReport(good + [0x80, 202, 0xFF, 0xFF]) == nil, "a second packet longer than what is left")
        #expect(RTCPReport(good + [0x80]) == nil, "a trailing fragment")
        #expect(RTCPReport([UInt8]()) == nil && RTCPReport([0x80, 201, 0, 0]) == nil)
        // Many packets: only the first few are read, never more blocks than the limit.
        let long = RTCPReport(Array((0..<40).map { _ in good }.joined()))
        #expect(long.map { $0.blocks.count <= RTCPReport.maximumBlocks } == true)
    }
}
