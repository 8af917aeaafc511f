/// A UDP datagram found in a captured frame: its endpoints and where its payload sits in the frame, so that a
/// tool can read the payload and write the frame back with a different one.
public struct UDPDatagram: Hashable, Sendable {
    /// An IPv4 (4 octets) or IPv6 (16 octets) address and a port.
    public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
        public var address: [UInt8]
        public var port: UInt16

        public init(address: [UInt8], port: UInt16) {
            self.address = address
            self.port = port
        }

        /// `192.0.2.1:5004` or `[2001:db8::1]:5004`.
        public var description: String {
            guard address.count == 16 else { return address.map(String.init).joined(separator: ".") + ":\(port)" }
            let groups = stride(from: 0, to: 16, by: 2).map { String(UInt16(address[$0]) << 8 | UInt16(address[$0 + 1]), radix: 16) }
            return "[" + Self.compress(groups) + "]:\(port)"
        }

        /// RFC 5952: the longest run of two or more zero groups becomes `::`.
        private static func compress(_ groups: [String]) -> String {
            var best = (start: -1, length: 0), run = (start: -1, length: 0)
            for (index, group) in groups.enumerated() {
                if group == "0" {
                    run = run.start < 0 ? (index, 1) : (run.start, run.length + 1)
                    if run.length > best.length { best = run }
                } else {
                    run = (-1, 0)
                }
            }
            guard best.length >= 2 else { return groups.joined(separator: ":") }
            let head = groups[..<best.start].joined(separator: ":")
            let tail = groups[(best.start + best.length)...].joined(separator: ":")
            return head + "::" + tail
        }
    }

    public var source: Endpoint
    public var destination: Endpoint
    /// Where the IP header starts in the frame.
    public var ipOffset: Int
    /// 4 or 6.
    public var ipVersion: Int
    /// Where the UDP header starts in the frame.
    public var udpOffset: Int
    /// The payload's bytes in the frame (bounded by the UDP length and by what was captured).
    public var payload: Range<Int>
    /// Whether the capture holds less of the datagram than its UDP length says (a short snap length).
    public var isTruncated: Bool

    /// The link types whose frames this decoder reads: 0 BSD loopback, 1 Ethernet (with 802.1Q tags), 101 raw IP,
    /// 113 Linux cooked, 228 raw IPv4, 229 raw IPv6, 276 Linux cooked v2.
    public static let supportedLinkTypes: Set<UInt32> = [0, 1, 101, 113, 228, 229, 276]

    /// The UDP datagram in `frame`, or nil for anything else: other protocols, IP fragments (their payload is
    /// not a whole datagram), truncated or malformed headers, unsupported link types.
    public init?(frame: [UInt8], linkType: UInt32) {
        guard let (ipOffset, _) = Self.ipStart(frame, linkType: linkType), frame.count > ipOffset else { return nil }
        self.ipOffset = ipOffset
        ipVersion = Int(frame[ipOffset] >> 4)
        let udpOffset: Int, ipEnd: Int
        switch ipVersion {
        case 4:
            let headerLength = Int(frame[ipOffset] & 0x0F) * 4
            guard headerLength >= 20, frame.count >= ipOffset + headerLength, frame[ipOffset + 9] == 17 else { return nil }
            let flagsAndOffset = UInt16(frame[ipOffset + 6]) << 8 | UInt16(frame[ipOffset + 7])
            guard flagsAndOffset & 0x3FFF == 0 else { return nil }  // MF set or a non-zero offset: a fragment
            let totalLength = Int(frame[ipOffset + 2]) << 8 | Int(frame[ipOffset + 3])
            guard totalLength >= headerLength + 8 else { return nil }
            source = Endpoint(address: Array(frame[(ipOffset + 12)..<(ipOffset + 16)]), port: 0)
            destination = Endpoint(address: Array(frame[(ipOffset + 16)..<(ipOffset + 20)]), port: 0)
            udpOffset = ipOffset + headerLength
            ipEnd = ipOffset + totalLength
        case 6:
            guard frame.count >= ipOffset + 40 else { return nil }
            var next = frame[ipOffset + 6], cursor = ipOffset + 40
            // Hop-by-hop, routing and destination options are skipped; a fragment header means a fragment.
            var hops = 0
            while [0, 43, 60].contains(next), hops < 8 {
                guard frame.count >= cursor + 8 else { return nil }
                next = frame[cursor]
                cursor += 8 + Int(frame[cursor + 1]) * 8
                hops += 1
            }
            guard next == 17 else { return nil }
            source = Endpoint(address: Array(frame[(ipOffset + 8)..<(ipOffset + 24)]), port: 0)
            destination = Endpoint(address: Array(frame[(ipOffset + 24)..<(ipOffset + 40)]), port: 0)
            udpOffset = cursor
            ipEnd = ipOffset + 40 + (Int(frame[ipOffset + 4]) << 8 | Int(frame[ipOffset + 5]))
        default:
            return nil
        }
        guard frame.count >= udpOffset + 8 else { return nil }
        self.udpOffset = udpOffset
        source.port = UInt16(frame[udpOffset]) << 8 | UInt16(frame[udpOffset + 1])
        destination.port = UInt16(frame[udpOffset + 2]) << 8 | UInt16(frame[udpOffset + 3])
        let udpLength = Int(frame[udpOffset + 4]) << 8 | Int(frame[udpOffset + 5])
        guard udpLength >= 8, udpOffset + udpLength <= ipEnd else { return nil }
        let end = min(frame.count, udpOffset + udpLength)
        isTruncated = end < udpOffset + udpLength
        payload = (udpOffset + 8)..<max(udpOffset + 8, end)
    }

    /// Where the IP header starts for `linkType`, and the EtherType-style protocol when the link says it.
    private static func ipStart(_ frame: [UInt8], linkType: UInt32) -> (Int, UInt16?)? {
        switch linkType {
        case 0:  // BSD loopback: a 4-octet address family in host order
            return frame.count > 4 ? (4, nil) : nil
        case 1:
            var offset = 12
            while frame.count >= offset + 2 {
                let type = UInt16(frame[offset]) << 8 | UInt16(frame[offset + 1])
                if type == 0x8100 || type == 0x88A8 {  // VLAN tags
                    offset += 4
                    continue
                }
                return type == 0x0800 || type == 0x86DD ? (offset + 2, type) : nil
            }
            return nil
        case 101, 228, 229:
            return (0, nil)
        case 113:
            guard frame.count >= 16 else { return nil }
            let type = UInt16(frame[14]) << 8 | UInt16(frame[15])
            return type == 0x0800 || type == 0x86DD ? (16, type) : nil
        case 276:
            guard frame.count >= 20 else { return nil }
            let type = UInt16(frame[0]) << 8 | UInt16(frame[1])
            return type == 0x0800 || type == 0x86DD ? (20, type) : nil
        default:
            return nil
        }
    }

    /// `frame` with this datagram's payload replaced by `newPayload`: IP and UDP lengths and the IPv4 header
    /// checksum are fixed, the UDP checksum recomputed (IPv6 requires one); link-layer trailers are dropped. Nil
    /// when the payload would not fit a UDP datagram (more than 65,535 octets of IP packet).
    public func replacingPayload(in frame: [UInt8], with newPayload: [UInt8]) -> [UInt8]? {
        guard payload.lowerBound - ipOffset + newPayload.count <= 65_535 else { return nil }
        var output = Array(frame[..<payload.lowerBound])
        output += newPayload
        let udpLength = 8 + newPayload.count
        Self.store16(UInt16(truncatingIfNeeded: udpLength), into: &output, at: udpOffset + 4)
        if ipVersion == 4 {
            let headerLength = Int(output[ipOffset] & 0x0F) * 4
            Self.store16(UInt16(truncatingIfNeeded: output.count - ipOffset), into: &output, at: ipOffset + 2)
            Self.store16(0, into: &output, at: ipOffset + 10)
            let checksum = Self.checksum(output[ipOffset..<(ipOffset + headerLength)], initial: 0)
            Self.store16(checksum, into: &output, at: ipOffset + 10)
        } else {
            Self.store16(UInt16(truncatingIfNeeded: output.count - ipOffset - 40), into: &output, at: ipOffset + 4)
        }
        // The UDP checksum over the pseudo-header (RFC 768, RFC 8200 §8.1).
        Self.store16(0, into: &output, at: udpOffset + 6)
        var pseudo = source.address + destination.address
        pseudo += ipVersion == 4 ? [0, 17, UInt8(udpLength >> 8), UInt8(truncatingIfNeeded: udpLength)]
                                 : [0, 0, UInt8(udpLength >> 8), UInt8(truncatingIfNeeded: udpLength), 0, 0, 0, 17]
        let partial = Self.sum(pseudo[...], initial: 0)
        var checksum = Self.checksum(output[udpOffset...], initial: partial)
        if checksum == 0 { checksum = 0xFFFF }
        Self.store16(checksum, into: &output, at: udpOffset + 6)
        return output
    }

    private static func store16(_ value: UInt16, into bytes: inout [UInt8], at offset: Int) {
        bytes[offset] = UInt8(value >> 8)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: value)
    }

    /// The ones' complement sum of 16-bit words (RFC 1071), folded to 32 bits.
    private static func sum(_ bytes: ArraySlice<UInt8>, initial: UInt32) -> UInt32 {
        var total = initial, index = bytes.startIndex
        while index + 1 < bytes.endIndex {
            total &+= UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.endIndex { total &+= UInt32(bytes[index]) << 8 }
        while total >> 16 != 0 { total = (total & 0xFFFF) + (total >> 16) }
        return total
    }

    private static func checksum(_ bytes: ArraySlice<UInt8>, initial: UInt32) -> UInt16 {
        ~UInt16(truncatingIfNeeded: sum(bytes, initial: initial))
    }
}
