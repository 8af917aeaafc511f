/// What a datagram on a media port is, by its first octet as RFC 7983 demultiplexes them (STUN, ZRTP, DTLS,
/// TURN channels, RTP/RTCP), with ZRTP's magic cookie checked (RFC 6189 §5).
public enum MediaPacketKind: Hashable, Sendable {
    case stun, zrtp, dtls, turnChannel, rtp, rtcp, unknown

    @inlinable
    public init(_ bytes: some RandomAccessCollection<UInt8>) {
        guard let first = bytes.first else {
            self = .unknown
            return
        }
        switch first {
        case 0...3: self = .stun
        case 16...19:
            // ZRTP: 0x10 then the magic cookie "ZRTP" at octets 4-7.
            let start = bytes.startIndex
            let cookie: [UInt8] = [0x5A, 0x52, 0x54, 0x50]
            self = bytes.count >= 12 && (0..<4).allSatisfy { bytes[bytes.index(start, offsetBy: 4 + $0)] == cookie[$0] }
                ? .zrtp : .unknown
        case 20...63: self = .dtls
        case 64...79: self = .turnChannel
        case 128...191:
            guard let view = RTPPacketView(bytes) else {
                self = .unknown
                return
            }
            self = view.kind == .rtcp ? .rtcp : .rtp
        default: self = .unknown
        }
    }
}
