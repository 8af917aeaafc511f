import Foundation
import HEP
import RTP
import Testing

/// RTCP reports as Homer's RTCP JSON (HEP type 5): the fields captagent and rtpengine write, numbers as the packet
/// carries them.
@Suite struct HEPRTCPReportTests {
    @Test func aSenderReportWithABlockBecomesHomersJSON() throws {
        // SR from 0x0A11CE, NTP E8A10001.80000000, RTP time 160, 50 packets, 8,000 octets, one block about 0xB0B:
        // fraction 64/256, 3 lost, highest 1000, jitter 12, LSR 0x00010002, DLSR 0x147.
        let packet: [UInt8] = [0x81, 200, 0, 12, 0, 0x0A, 0x11, 0xCE, 0xE8, 0xA1, 0, 1, 0x80, 0, 0, 0, 0, 0, 0, 160,
                               0, 0, 0, 50, 0, 0, 0x1F, 0x40, 0, 0, 0x0B, 0x0B, 64, 0, 0, 3, 0, 0, 0x03, 0xE8,
                               0, 0, 0, 12, 0, 1, 0, 2, 0, 0, 0x01, 0x47]
        let report = try #require(RTCPReport(packet))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(HEPRTCPReport.json(report).utf8)) as? [String: Any])
        #expect(json["type"] as? Int == 200 && json["ssrc"] as? Int == 0x0A11CE && json["report_count"] as? Int == 1)
        let sender = try #require(json["sender_information"] as? [String: Any])
        #expect(sender["ntp_timestamp_sec"] as? Int == 0xE8A1_0001 && sender["ntp_timestamp_usec"] as? Int == 500_000)
        #expect(sender["rtp_timestamp"] as? Int == 160 && sender["packets"] as? Int == 50 && sender["octets"] as? Int == 8_000)
        let block = try #require((json["report_blocks"] as? [[String: Any]])?.first)
        #expect(block["source_ssrc"] as? Int == 0xB0B && block["fraction_lost"] as? Int == 64
            && block["packets_lost"] as? Int == 3 && block["highest_seq_no"] as? Int == 1_000
            && block["ia_jitter"] as? Int == 12 && block["lsr"] as? Int == 0x10002 && block["dlsr"] as? Int == 0x147)
    }

    @Test func aReceiverReportHasNoSenderInformationAndNegativeLossStaysNegative() throws {
        // RR from 0xB0B, one block: cumulative lost 0xFFFFFE (-2: duplicates).
        let packet: [UInt8] = [0x81, 201, 0, 7, 0, 0, 0x0B, 0x0B, 0, 0x0A, 0x11, 0xCE, 0, 0xFF, 0xFF, 0xFE,
                               0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        let report = try #require(RTCPReport(packet))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(HEPRTCPReport.json(report).utf8)) as? [String: Any])
        #expect(json["type"] as? Int == 201 && json["sender_information"] == nil)
        #expect((json["report_blocks"] as? [[String: Any]])?.first?["packets_lost"] as? Int == -2)
    }
}
