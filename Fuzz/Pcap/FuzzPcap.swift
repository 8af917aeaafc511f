import Pcap
import RTP

/// libFuzzer entry point: captures are hostile input (`rampart srtp`, `rampart analyze`). Arbitrary bytes, whole
/// and in two pieces, must give packets or a typed error, never a crash, and the same packets either way.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = RTCPReport(bytes)  // the relay reads every plain RTCP datagram with it
    func read(_ pieces: [ArraySlice<UInt8>]) -> [PcapPacket]? {
        var reader = PcapReader()
        var packets: [PcapPacket] = []
        do {
            for piece in pieces {
                reader.append(piece)
                while let packet = try reader.next(), packets.count < 10_000 { packets.append(packet) }
            }
        } catch { return nil }
        return packets
    }
    let whole = read([bytes[...]])
    let split = read([bytes[..<(size / 2)], bytes[(size / 2)...]])
    if let whole, let split { precondition(whole == split, "feeding in pieces changed the packets") }
    // What `rampart srtp` does with each packet: find the UDP datagram and read an RTP header; rewriting the
    // payload must give a frame that decodes to the same endpoints.
    for packet in whole ?? [] {
        guard let datagram = UDPDatagram(frame: packet.data, linkType: packet.linkType) else { continue }
        _ = RTPPacketView(packet.data[datagram.payload])
        _ = RTCPReport(packet.data[datagram.payload])
        if let rewritten = datagram.replacingPayload(in: packet.data, with: [1, 2, 3]),
            let again = UDPDatagram(frame: rewritten, linkType: packet.linkType) {
            precondition(again.source == datagram.source && again.destination == datagram.destination,
                         "a rewritten frame changed its endpoints")
        }
    }
    return 0
}
