@testable import HEP
import Testing

/// HEPv3 packets: the chunk layout byte by byte, round trips for both families, and strict reading.
@Suite struct HEPPacketTests {
    static let register = Array("REGISTER sip:localhost SIP/2.0\r\nCall-ID: c1@h\r\n\r\n".utf8)

    static func packet(ipv6: Bool = false) -> HEPPacket {
        HEPPacket(ipProtocol: 17, sourceAddress: ipv6 ? Array(repeating: 0, count: 15) + [1] : [192, 0, 2, 1],
                  destinationAddress: ipv6 ? Array(repeating: 0, count: 15) + [2] : [192, 0, 2, 2], sourcePort: 5_070,
                  destinationPort: 5_060, seconds: 0x6574_0000, microseconds: 123_456, payloadType: .sip,
                  captureID: 2_001, authenticationKey: "secret", payload: register, correlationID: "c1@h")
    }

    /// The layout as the HEPv3 description gives it: `HEP3`, the total length, then chunks of (vendor 0, type,
    /// length including the six header bytes, value), all big-endian.
    @Test func theLayoutIsHEP3Chunks() throws {
        let bytes = try #require(Self.packet().encoded())
        #expect(Array(bytes.prefix(4)) == Array("HEP3".utf8))
        #expect(Int(bytes[4]) << 8 | Int(bytes[5]) == bytes.count)
        // The first chunks: family IPv4 (2), then protocol UDP (17), then the IPv4 source.
        #expect(Array(bytes[6..<13]) == [0, 0, 0, 1, 0, 7, 2])
        #expect(Array(bytes[13..<20]) == [0, 0, 0, 2, 0, 7, 17])
        #expect(Array(bytes[20..<30]) == [0, 0, 0, 3, 0, 10, 192, 0, 2, 1])
        // The payload is the last chunk, whole.
        #expect(Array(bytes.suffix(Self.register.count)) == Self.register)
        let payloadHeader = bytes.count - Self.register.count - 6
        #expect(Array(bytes[payloadHeader..<payloadHeader + 4]) == [0, 0, 0, 0x0F])
    }

    @Test(arguments: [false, true])
    func packetsRoundTrip(ipv6: Bool) throws {
        let packet = Self.packet(ipv6: ipv6)
        #expect(try HEPPacket(decoding: try #require(packet.encoded())) == packet)
    }

    @Test func onlyWholePacketsRead() throws {
        let bytes = try #require(Self.packet().encoded())
        for length in 0..<bytes.count {
            #expect(throws: HEPPacket.DecodingError.self) { try HEPPacket(decoding: Array(bytes.prefix(length))) }
        }
        #expect(throws: HEPPacket.DecodingError.self) { try HEPPacket(decoding: bytes + [0]) }
        var lying = bytes
        lying[11] = 0xFF  // the first chunk claims more than the packet holds
        #expect(throws: HEPPacket.DecodingError.self) { try HEPPacket(decoding: lying) }
        var tiny = bytes
        tiny[11] = 3  // a chunk shorter than its own header
        #expect(throws: HEPPacket.DecodingError.self) { try HEPPacket(decoding: tiny) }
    }

    @Test func whatCannotBeAPacketIsNotEncoded() {
        var mixed = Self.packet()
        mixed.destinationAddress = Array(repeating: 0, count: 16)
        #expect(mixed.encoded() == nil, "one family per packet")
        var huge = Self.packet()
        huge.payload = [UInt8](repeating: 0x41, count: 70_000)
        #expect(huge.encoded() == nil, "the length field is 16 bits")
    }
}
