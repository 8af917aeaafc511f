/// What a plain RTCP compound packet says about reception (RFC 3550 §6.4): the sender report's NTP time, which a
/// later report block's LSR names, and every report block of its sender and receiver reports. Other packet types
/// (SDES, BYE, APP, XR) are stepped over. SRTCP cannot be read this way: its reports are encrypted.
public struct RTCPReport: Hashable, Sendable {
    /// One reception report block: how the reporter receives the stream `ssrc`.
    public struct Block: Hashable, Sendable {
        public var ssrc: UInt32
        /// Packets lost since the previous report, as a fraction of 256.
        public var fractionLost: UInt8
        /// Packets lost since reception began (negative when duplicates outnumber losses).
        public var cumulativeLost: Int32
        public var highestSequence: UInt32
        /// Interarrival jitter in RTP timestamp units.
        public var jitter: UInt32
        /// The middle 32 bits of the NTP time of the last sender report received from `ssrc` (0: none yet).
        public var lastSenderReport: UInt32
        /// Since that sender report, in units of 1/65536 s.
        public var delaySinceLastSenderReport: UInt32
    }

    /// What a sender report says of its sender's own stream (RFC 3550 §6.4.1).
    public struct SenderInfo: Hashable, Sendable {
        /// The NTP time: seconds since 1900, and the fraction of a second in units of 2^-32.
        public var ntpSeconds: UInt32
        public var ntpFraction: UInt32
        public var rtpTimestamp: UInt32
        public var packetCount: UInt32
        public var octetCount: UInt32
    }

    /// The first packet's type: 200 (sender report) or 201 (receiver report).
    public var packetType: UInt8
    /// The SSRC of the first packet's sender.
    public var senderSSRC: UInt32
    /// A sender report's NTP time, middle 32 bits: what the receivers' LSR will name.
    public var senderReportTime: UInt32?
    /// The first packet's sender information, when it is a sender report.
    public var senderInfo: SenderInfo?
    public var blocks: [Block]

    /// Packets read from one compound packet, and report blocks kept.
    public static let maximumPackets = 16
    public static let maximumBlocks = 32

    /// The reports in `bytes`, or nil unless it is an RTCP compound packet whose packets all have version 2 and fit
    /// their length fields, the first a sender or receiver report (RFC 3550 §6.1).
    public init?(_ bytes: some RandomAccessCollection<UInt8>) {
        let octets = Array(bytes)
        func word(_ offset: Int) -> UInt32 {
            UInt32(octets[offset]) << 24 | UInt32(octets[offset + 1]) << 16 | UInt32(octets[offset + 2]) << 8
                | UInt32(octets[offset + 3])
        }
        guard octets.count >= 8, octets[1] == 200 || octets[1] == 201 else { return nil }
        packetType = octets[1]
        senderSSRC = word(4)
        blocks = []
        var offset = 0
        var packets = 0
        while offset < octets.count, packets < Self.maximumPackets {
            guard octets.count - offset >= 4, octets[offset] >> 6 == 2 else { return nil }
            let length = 4 * (Int(octets[offset + 2]) << 8 | Int(octets[offset + 3])) + 4
            guard length <= octets.count - offset else { return nil }
            let count = Int(octets[offset] & 0x1F)
            let blocksStart: Int?
            switch octets[offset + 1] {
            case 200:  // SR: sender SSRC, NTP time (8), RTP time, packet and octet counts, then blocks
                guard length >= 28 + 24 * count else { return nil }
                if packets == 0 {
                    senderReportTime = word(offset + 10)
                    senderInfo = SenderInfo(ntpSeconds: word(offset + 8), ntpFraction: word(offset + 12),
                                            rtpTimestamp: word(offset + 16), packetCount: word(offset + 20),
                                            octetCount: word(offset + 24))
                }
                blocksStart = offset + 28
            case 201:  // RR: sender SSRC, then blocks
                guard length >= 8 + 24 * count else { return nil }
                blocksStart = offset + 8
            default:
                blocksStart = nil
            }
            if let blocksStart {
                for index in 0..<count where blocks.count < Self.maximumBlocks {
                    let at = blocksStart + 24 * index
                    let lost = word(at + 4) & 0x00FF_FFFF
                    blocks.append(Block(
                        ssrc: word(at), fractionLost: octets[at + 4],
                        // 24-bit two's complement
                        cumulativeLost: lost & 0x0080_0000 != 0 ? Int32(lost) - 0x0100_0000 : Int32(lost),
                        highestSequence: word(at + 8), jitter: word(at + 12), lastSenderReport: word(at + 16),
                        delaySinceLastSenderReport: word(at + 20)))
                }
            }
            offset += length
            packets += 1
        }
    }
}
