/// A TURN channel number: 0x4000 through 0x7FFF, as RFC 5766 §11 allowed them. RFC 8656 §12 narrows new numbers to
/// 0x4FFF (the rest kept for RFC 7983 demultiplexing at the client), but RFC 5766 clients still pick from the whole
/// range (coturn's turnutils_uclient does), and the server tells them apart from STUN either way.
public struct TURNChannelNumber: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16

    public init?(rawValue: UInt16) {
        guard (0x4000...0x7FFF).contains(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    /// CHANNEL-NUMBER's value: the number and two reserved zero bytes.
    public init?(attribute value: some Collection<UInt8>) {
        let bytes = Array(value)
        guard bytes.count == 4 else { return nil }
        self.init(rawValue: UInt16(bytes[0]) << 8 | UInt16(bytes[1]))
    }

    public var attributeValue: [UInt8] { [UInt8(rawValue >> 8), UInt8(rawValue & 0xFF), 0, 0] }

    public var description: String { "0x" + String(rawValue, radix: 16, uppercase: true) }
}

/// ChannelData framing (RFC 8656 §12.4): a 4-byte header (channel number, payload length) and the payload; over
/// TCP and TLS padded to a multiple of 4, over UDP not (padding a UDP sender adds is ignored).
public enum ChannelData {
    /// The largest payload one message carries.
    public static let maxPayload = 65_535

    /// Whether the first byte says ChannelData (0x40–0x7F, see ``TURNChannelNumber``) rather than STUN (0–3).
    public static func isChannelData(firstByte: UInt8) -> Bool { (0x40...0x7F).contains(firstByte) }

    /// The channel and payload length of a ChannelData message whose first bytes are `header`; nil when fewer than
    /// 4 bytes or the number is not a channel's.
    public static func header(_ header: some Collection<UInt8>) -> (channel: TURNChannelNumber, length: Int)? {
        guard header.count >= 4 else { return nil }
        var index = header.startIndex
        var fields = [UInt8](repeating: 0, count: 4)
        for position in 0..<4 {
            fields[position] = header[index]
            index = header.index(after: index)
        }
        guard let channel = TURNChannelNumber(rawValue: UInt16(fields[0]) << 8 | UInt16(fields[1])) else { return nil }
        return (channel, Int(fields[2]) << 8 | Int(fields[3]))
    }

    /// A datagram's channel and the range of its payload; nil when the header's length runs past the datagram.
    public static func datagram(_ bytes: [UInt8]) -> (channel: TURNChannelNumber, payload: Range<Int>)? {
        guard let (channel, length) = header(bytes), 4 + length <= bytes.count else { return nil }
        return (channel, 4..<4 + length)
    }

    /// On a stream, the whole frame's length (header, payload and padding to 4).
    public static func streamFrameLength(payloadLength: Int) -> Int { 4 + (payloadLength + 3) & ~3 }

    /// The header for `length` bytes of payload on `channel`.
    public static func headerBytes(channel: TURNChannelNumber, length: Int) -> [UInt8] {
        [UInt8(channel.rawValue >> 8), UInt8(channel.rawValue & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
    }
}
