/// What an RTP/RTCP header says (RFC 3550 §5.1, §6.4), read without copying. RTCP is told from RTP as RFC 5761
/// §4 does for multiplexed ports: a second octet in 192...223.
public struct RTPPacketView: Hashable, Sendable {
    public enum Kind: Hashable, Sendable { case rtp, rtcp }

    public var kind: Kind
    /// RTP: the payload type (0-127); RTCP: the packet type of the first packet (192-223).
    public var payloadType: UInt8
    public var marker: Bool
    public var sequence: UInt16
    public var timestamp: UInt32
    /// RTP: the stream's SSRC; RTCP: the sender's SSRC.
    public var ssrc: UInt32
    /// Where the payload starts (after CSRCs and any header extension); RTCP: 8.
    public var payloadOffset: Int

    /// The header of `bytes`, or nil if they are not RTP/RTCP version 2 or too short for what the header says.
    @inlinable
    public init?(_ bytes: some RandomAccessCollection<UInt8>) {
        guard bytes.count >= 8 else { return nil }
        let start = bytes.startIndex
        func octet(_ offset: Int) -> UInt8 { bytes[bytes.index(start, offsetBy: offset)] }
        func word(_ offset: Int) -> UInt32 {
            UInt32(octet(offset)) << 24 | UInt32(octet(offset + 1)) << 16 | UInt32(octet(offset + 2)) << 8
                | UInt32(octet(offset + 3))
        }
        guard octet(0) >> 6 == 2 else { return nil }
        if (192...223).contains(octet(1)) {
            kind = .rtcp
            payloadType = octet(1)
            marker = false
            sequence = 0
            timestamp = 0
            ssrc = word(4)
            payloadOffset = 8
            return
        }
        guard bytes.count >= 12 else { return nil }
        var length = 12 + 4 * Int(octet(0) & 0x0F)
        if octet(0) & 0x10 != 0 {
            guard bytes.count >= length + 4 else { return nil }
            length += 4 + 4 * (Int(octet(length + 2)) << 8 | Int(octet(length + 3)))
        }
        guard bytes.count >= length else { return nil }
        kind = .rtp
        payloadType = octet(1) & 0x7F
        marker = octet(1) & 0x80 != 0
        sequence = UInt16(octet(2)) << 8 | UInt16(octet(3))
        timestamp = word(4)
        ssrc = word(8)
        payloadOffset = length
    }

    /// The static payload types' encodings (RFC 3551 §6) that matter for telling speech from noise.
    public static func staticEncoding(_ payloadType: UInt8) -> String? {
        switch payloadType {
        case 0: "PCMU"
        case 3: "GSM"
        case 4: "G723"
        case 8: "PCMA"
        case 9: "G722"
        case 13: "CN"
        case 18: "G729"
        case 26: "JPEG"
        case 31: "H261"
        case 34: "H263"
        default: nil
        }
    }
}

extension RTPPacketView {
    /// The header of a datagram in memory: the initializer compiled for raw buffers here, so that callers in other
    /// modules (the relay, per packet) do not run it through generic witness tables.
    public init?(raw bytes: UnsafeRawBufferPointer) { self.init(bytes) }
}
