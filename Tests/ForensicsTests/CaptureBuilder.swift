import Foundation
import Pcap

/// Frames for test captures: Ethernet + IPv4/IPv6 + UDP, built by hand so the decoder is checked against an
/// independent encoder.
enum CaptureBuilder {
    static let alice: [UInt8] = [192, 0, 2, 10], bob: [UInt8] = [198, 51, 100, 20]

    static func ipv4UDP(from source: [UInt8], _ sourcePort: UInt16, to destination: [UInt8], _ destinationPort: UInt16,
                        payload: [UInt8], fragmentOffset: UInt16 = 0, protocolNumber: UInt8 = 17) -> [UInt8] {
        let total = 20 + 8 + payload.count
        var header: [UInt8] = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0x12, 0x34,
                               UInt8(fragmentOffset >> 8), UInt8(fragmentOffset & 0xFF), 64, protocolNumber, 0, 0]
        header += source + destination
        let sum = onesComplement(header)
        header[10] = UInt8(sum >> 8)
        header[11] = UInt8(sum & 0xFF)
        let length = 8 + payload.count
        return header + [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF), UInt8(destinationPort >> 8),
                         UInt8(destinationPort & 0xFF), UInt8(length >> 8), UInt8(length & 0xFF), 0, 0] + payload
    }

    static func ipv6UDP(sourcePort: UInt16, destinationPort: UInt16, payload: [UInt8], hopByHop: Bool = false) -> [UInt8] {
        let length = 8 + payload.count
        let extensionHeader: [UInt8] = hopByHop ? [17, 0, 1, 4, 0, 0, 0, 0] : []
        var header: [UInt8] = [0x60, 0, 0, 0]
        let payloadLength = length + extensionHeader.count
        header += [UInt8(payloadLength >> 8), UInt8(payloadLength & 0xFF), hopByHop ? 0 : 17, 64]
        header += [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [1]
        header += [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [2]
        return header + extensionHeader + [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF), UInt8(destinationPort >> 8),
                                           UInt8(destinationPort & 0xFF), UInt8(length >> 8), UInt8(length & 0xFF), 0, 0]
            + payload
    }

    static func ethernet(_ ip: [UInt8], vlan: Bool = false) -> [UInt8] {
        let type: [UInt8] = ip.first.map { $0 >> 4 == 6 ? [0x86, 0xDD] : [0x08, 0x00] } ?? [0x08, 0x00]
        return [UInt8](repeating: 0x02, count: 12) + (vlan ? [0x81, 0x00, 0x00, 0x64] : []) + type + ip
    }

    static func onesComplement(_ bytes: [UInt8]) -> UInt16 {
        var total: UInt32 = 0
        for index in stride(from: 0, to: bytes.count, by: 2) {
            total += UInt32(bytes[index]) << 8 | UInt32(index + 1 < bytes.count ? bytes[index + 1] : 0)
        }
        while total >> 16 != 0 { total = (total & 0xFFFF) + (total >> 16) }
        return ~UInt16(total)
    }

    /// An RTP packet with a G.711 A-law tone as its payload (plaintext speech-like octets).
    static func pcmaPacket(ssrc: UInt32, sequence: UInt16) -> [UInt8] {
        let header: [UInt8] = [0x80, 0x08, UInt8(sequence >> 8), UInt8(sequence & 0xFF),
                               0, 0, UInt8(truncatingIfNeeded: Int(sequence) * 160 >> 8), UInt8(truncatingIfNeeded: Int(sequence) * 160),
                               UInt8(ssrc >> 24), UInt8(truncatingIfNeeded: ssrc >> 16), UInt8(truncatingIfNeeded: ssrc >> 8),
                               UInt8(truncatingIfNeeded: ssrc)]
        let samples = (0..<160).map { index -> UInt8 in
            let amplitude = sin(Double(Int(sequence) * 160 + index) * 2 * .pi * 440 / 8_000) * 0.3
            return alaw(Int16(amplitude * 32_767))
        }
        return header + samples
    }

    /// ITU-T G.711 A-law encoding of one sample.
    static func alaw(_ sample: Int16) -> UInt8 {
        var value = Int(sample) >> 3
        let sign: UInt8 = value >= 0 ? 0x80 : 0
        if value < 0 { value = -value - 1 }
        var exponent = 0
        while value > 31 && exponent < 7 {
            value >>= 1
            exponent += 1
        }
        let mantissa = exponent == 0 ? (value >> 1) & 0x0F : value & 0x0F
        return (sign | UInt8(exponent << 4) | UInt8(mantissa)) ^ 0x55
    }

    static func packet(_ frame: [UInt8], at index: Int, linkType: UInt32 = 1) -> PcapPacket {
        PcapPacket(timestampNanoseconds: 1_700_000_000_000_000_000 + Int64(index) * 20_000_000, linkType: linkType,
                   data: frame)
    }
}
