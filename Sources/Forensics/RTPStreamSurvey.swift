import Pcap
import RTP

/// `rampart srtp check`: per RTP stream in a capture (source, destination, SSRC), whether its payloads look
/// encrypted, from their entropy and from how often their first octet repeats (``EncryptionCheck``).
public struct RTPStreamSurvey {
    public struct Stream: Hashable, Sendable, Codable {
        public var source: String
        public var destination: String
        public var ssrc: UInt32
        public var packets: Int
        public var payloadTypes: [UInt8]
        /// Bits per octet, bias-corrected.
        public var entropy: Double
        /// Share of packets whose first payload octet is the commonest.
        public var repeatedFirstOctet: Double
        public var verdict: String

        /// `PT 8 (PCMA)` and the like.
        public var payloadTypeNames: String {
            payloadTypes.map { type in RTPPacketView.staticEncoding(type).map { "\(type) (\($0))" } ?? "\(type)" }
                .joined(separator: ", ")
        }
    }

    private struct StreamID: Hashable {
        var source: UDPDatagram.Endpoint
        var destination: UDPDatagram.Endpoint
        var ssrc: UInt32
    }

    private struct State {
        var check = EncryptionCheck()
        var payloadTypes: Set<UInt8> = []
    }

    /// The most streams tracked; the rest are counted in ``untrackedPackets``.
    public static let maximumStreams = 4_096

    public private(set) var packetsRead = 0
    public private(set) var rtcpPackets = 0
    public private(set) var otherPackets = 0
    public private(set) var untrackedPackets = 0
    private var states: [StreamID: State] = [:]
    private var order: [StreamID] = []

    public init() {}

    public mutating func add(_ packet: PcapPacket) {
        packetsRead += 1
        guard let datagram = UDPDatagram(frame: packet.data, linkType: packet.linkType),
            let header = RTPPacketView(packet.data[datagram.payload])
        else {
            otherPackets += 1
            return
        }
        guard header.kind == .rtp else {
            rtcpPackets += 1
            return
        }
        let id = StreamID(source: datagram.source, destination: datagram.destination, ssrc: header.ssrc)
        if states[id] == nil {
            guard states.count < Self.maximumStreams else {
                untrackedPackets += 1
                return
            }
            states[id] = State()
            order.append(id)
        }
        // Payload types 72-76 collide with RTCP and are not RTP; anything past the header is payload (with an
        // SRTP tag at its end, itself random).
        let payload = packet.data[(datagram.payload.lowerBound + header.payloadOffset)..<datagram.payload.upperBound]
        states[id]!.check.add(payload: payload)
        if states[id]!.payloadTypes.count < 16 { states[id]!.payloadTypes.insert(header.payloadType) }
    }

    /// The streams in order of first appearance. Streams of fewer than ``EncryptionCheck/minimumPackets``
    /// packets (stray datagrams that happen to look like RTP) are left out.
    public var streams: [Stream] {
        order.compactMap { id in
            guard let state = states[id], state.check.packets >= EncryptionCheck.minimumPackets else { return nil }
            return Stream(source: "\(id.source)", destination: "\(id.destination)", ssrc: id.ssrc,
                          packets: state.check.packets, payloadTypes: state.payloadTypes.sorted(),
                          entropy: (state.check.entropy * 1_000).rounded() / 1_000,
                          repeatedFirstOctet: (state.check.repeatedFirstOctet * 1_000).rounded() / 1_000,
                          verdict: state.check.verdict.rawValue)
        }
    }
}
