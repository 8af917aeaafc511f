/// One captured packet.
public struct PcapPacket: Hashable, Sendable {
    /// Capture time in nanoseconds since 1970.
    public var timestampNanoseconds: Int64
    /// The link type of its interface (1 Ethernet, 101 raw IP, 113 Linux cooked, 276 Linux cooked v2...).
    public var linkType: UInt32
    /// The bytes captured (possibly fewer than were on the wire).
    public var data: [UInt8]
    /// The packet's length on the wire.
    public var originalLength: Int

    /// Creates a packet.
    public init(timestampNanoseconds: Int64, linkType: UInt32, data: [UInt8], originalLength: Int? = nil) {
        self.timestampNanoseconds = timestampNanoseconds
        self.linkType = linkType
        self.data = data
        self.originalLength = originalLength ?? data.count
    }
}

/// A streaming reader of classic pcap (both byte orders, micro- and nanosecond) and pcapng (section headers,
/// interface descriptions with their resolution, enhanced and simple packet blocks; other blocks skipped):
/// bytes go in with ``append(_:)`` as they are read, packets come out of ``next()``. Sans-I/O, bounded: a record
/// longer than ``maxRecordLength`` is refused, and at most one record is buffered beyond what was consumed.
public struct PcapReader: Sendable {
    /// The capture formats.
    public enum Format: Hashable, Sendable { case pcap, pcapng }

    /// The longest record accepted (256 KiB: far beyond any link's MTU and jumbo frames).
    public static let maxRecordLength = 262_144

    private var buffer: [UInt8] = []
    private var position = 0
    /// Bytes consumed before `buffer` (for error offsets).
    private var consumed = 0
    private var bigEndian = false
    /// The detected format, once the first header is read.
    public private(set) var format: Format?
    /// Classic pcap: the file's link type and whether timestamps are in nanoseconds.
    private var linkType: UInt32 = 0
    private var nanosecond = false
    /// pcapng: per interface, its link type and ticks per second.
    private var interfaces: [(linkType: UInt32, ticksPerSecond: Int64)] = []

    /// A reader with nothing read yet.
    public init() {}

    /// Hands over more of the input.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if position > 65_536 {
            buffer.removeFirst(position)
            consumed += position
            position = 0
        }
        buffer.append(contentsOf: bytes)
    }

    private var available: Int { buffer.count - position }
    private var offset: Int { consumed + position }

    private func u16(_ at: Int) -> UInt16 {
        let a = UInt16(buffer[at]), b = UInt16(buffer[at + 1])
        return bigEndian ? a << 8 | b : b << 8 | a
    }

    private func u32(_ at: Int) -> UInt32 {
        let bytes = (0..<4).map { UInt32(buffer[at + $0]) }
        return bigEndian ? bytes[0] << 24 | bytes[1] << 16 | bytes[2] << 8 | bytes[3]
            : bytes[3] << 24 | bytes[2] << 16 | bytes[1] << 8 | bytes[0]
    }

    /// The next packet; nil when more input is needed (or at the end).
    /// - Throws: ``PcapError`` for an unknown format, malformed or oversized records. A capture cut off in the
    ///   middle of a record is reported by ``finish()``.
    public mutating func next() throws(PcapError) -> PcapPacket? {
        if format == nil {
            guard available >= 4 else { return nil }
            let magic = buffer[position..<position + 4]
            switch Array(magic) {
            case [0xD4, 0xC3, 0xB2, 0xA1], [0x4D, 0x3C, 0xB2, 0xA1]: bigEndian = false; format = .pcap
            case [0xA1, 0xB2, 0xC3, 0xD4], [0xA1, 0xB2, 0x3C, 0x4D]: bigEndian = true; format = .pcap
            case [0x0A, 0x0D, 0x0D, 0x0A]: format = .pcapng
            default: throw PcapError(.unknownFormat, "not a pcap or pcapng file", offset: offset)
            }
            if format == .pcap {
                nanosecond = magic.contains(0x3C)
                guard available >= 24 else { format = nil; return nil }
                guard u16(position + 4) == 2 else { throw PcapError(.unknownFormat, "pcap major version not 2", offset: offset) }
                linkType = u32(position + 20) & 0x0FFF_FFFF
                position += 24
            }
        }
        return format == .pcap ? try nextClassic() : try nextBlock()
    }

    /// Checks that the input ended at a record boundary.
    /// - Throws: ``PcapError/Code/truncated`` otherwise.
    public func finish() throws(PcapError) {
        if available > 0 || format == nil {
            throw PcapError(.truncated, format == nil ? "no capture header" : "the capture ends inside a record",
                            offset: offset)
        }
    }

    private mutating func nextClassic() throws(PcapError) -> PcapPacket? {
        guard available >= 16 else { return nil }
        let seconds = Int64(u32(position)), fraction = Int64(u32(position + 4))
        let captured = Int(u32(position + 8)), original = Int(u32(position + 12))
        guard captured <= Self.maxRecordLength else {
            throw PcapError(.tooLarge, "a record of \(captured) bytes", offset: offset)
        }
        guard available >= 16 + captured else { return nil }
        let data = Array(buffer[(position + 16)..<(position + 16 + captured)])
        position += 16 + captured
        let nanoseconds = seconds * 1_000_000_000 + (nanosecond ? fraction : fraction * 1_000)
        return PcapPacket(timestampNanoseconds: nanoseconds, linkType: linkType, data: data, originalLength: original)
    }

    private mutating func nextBlock() throws(PcapError) -> PcapPacket? {
        while true {
            guard available >= 12 else { return nil }
            let type = Array(buffer[position..<position + 4])
            if type == [0x0A, 0x0D, 0x0D, 0x0A] {
                // Section header: its byte-order magic sets the order for the section; interfaces start over.
                let order = Array(buffer[position + 8..<position + 12])
                switch order {
                case [0x4D, 0x3C, 0x2B, 0x1A]: bigEndian = false
                case [0x1A, 0x2B, 0x3C, 0x4D]: bigEndian = true
                default: throw PcapError(.malformed, "bad byte-order magic", offset: offset)
                }
                interfaces = []
            }
            let blockType = u32(position), length = Int(u32(position + 4))
            guard length >= 12, length % 4 == 0 else { throw PcapError(.malformed, "block length \(length)", offset: offset) }
            guard length <= Self.maxRecordLength + 64 else {
                throw PcapError(.tooLarge, "a block of \(length) bytes", offset: offset)
            }
            guard available >= length else { return nil }
            guard Int(u32(position + length - 4)) == length else {
                throw PcapError(.malformed, "trailing block length differs", offset: offset)
            }
            let body = position + 8, bodyEnd = position + length - 4
            defer { position += length }
            switch blockType {
            case 1:  // interface description
                guard bodyEnd - body >= 8 else { throw PcapError(.malformed, "short interface block", offset: offset) }
                var ticks: Int64 = 1_000_000
                var option = body + 8
                while option + 4 <= bodyEnd {
                    let code = u16(option), optionLength = Int(u16(option + 2))
                    if code == 0 { break }
                    if code == 9, optionLength >= 1, option + 4 < bodyEnd {  // if_tsresol
                        let value = buffer[option + 4]
                        let exponent = Int64(value & 0x7F)
                        guard exponent <= 18 else { break }
                        ticks = value & 0x80 == 0 ? (0..<exponent).reduce(1) { product, _ in product * 10 }
                            : Int64(1) << min(exponent, 62)
                    }
                    option += 4 + (optionLength + 3) / 4 * 4
                }
                guard interfaces.count < 4_096 else { throw PcapError(.tooLarge, "too many interfaces", offset: offset) }
                interfaces.append((UInt32(u16(body)), ticks))
            case 6:  // enhanced packet
                guard bodyEnd - body >= 20 else { throw PcapError(.malformed, "short packet block", offset: offset) }
                let interface = Int(u32(body))
                guard interface < interfaces.count else {
                    throw PcapError(.malformed, "packet of undeclared interface \(interface)", offset: offset)
                }
                let ticks = Int64(u32(body + 4)) << 32 | Int64(u32(body + 8))
                let captured = Int(u32(body + 12)), original = Int(u32(body + 16))
                guard captured <= bodyEnd - body - 20 else {
                    throw PcapError(.malformed, "captured length beyond the block", offset: offset)
                }
                let (linkType, perSecond) = interfaces[interface]
                let nanoseconds = perSecond >= 1_000_000_000 ? ticks / (perSecond / 1_000_000_000)
                    : ticks * (1_000_000_000 / max(1, perSecond))
                return PcapPacket(timestampNanoseconds: nanoseconds, linkType: linkType,
                                  data: Array(buffer[(body + 20)..<(body + 20 + captured)]), originalLength: original)
            case 3:  // simple packet: interface 0, no timestamp
                guard let first = interfaces.first, bodyEnd - body >= 4 else {
                    throw PcapError(.malformed, "simple packet without an interface", offset: offset)
                }
                let original = Int(u32(body))
                let captured = min(original, bodyEnd - body - 4)
                return PcapPacket(timestampNanoseconds: 0, linkType: first.linkType,
                                  data: Array(buffer[(body + 4)..<(body + 4 + captured)]), originalLength: original)
            default:
                continue  // statistics, name resolution, custom blocks
            }
        }
    }
}

/// Writes classic pcap (little-endian, nanosecond timestamps), the format every tool reads.
public struct PcapWriter: Sendable {
    /// The link type of every record.
    public let linkType: UInt32

    /// A writer for `linkType` (1 Ethernet, 101 raw IP...).
    public init(linkType: UInt32) { self.linkType = linkType }

    /// The 24-byte file header (magic 0xa1b23c4d: nanosecond resolution; snap length 262,144).
    public func fileHeader() -> [UInt8] {
        var bytes: [UInt8] = [0x4D, 0x3C, 0xB2, 0xA1]
        Self.append16(2, to: &bytes)
        Self.append16(4, to: &bytes)
        Self.append32(0, to: &bytes)
        Self.append32(0, to: &bytes)
        Self.append32(UInt32(PcapReader.maxRecordLength), to: &bytes)
        Self.append32(linkType, to: &bytes)
        return bytes
    }

    /// One record: its 16-byte header and data.
    public func record(_ packet: PcapPacket) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16 + packet.data.count)
        let seconds = packet.timestampNanoseconds / 1_000_000_000, fraction = packet.timestampNanoseconds % 1_000_000_000
        Self.append32(UInt32(truncatingIfNeeded: seconds), to: &bytes)
        Self.append32(UInt32(truncatingIfNeeded: fraction), to: &bytes)
        Self.append32(UInt32(packet.data.count), to: &bytes)
        Self.append32(UInt32(max(packet.originalLength, packet.data.count)), to: &bytes)
        bytes += packet.data
        return bytes
    }

    static func append16(_ value: UInt16, to bytes: inout [UInt8]) {
        bytes += [UInt8(truncatingIfNeeded: value), UInt8(truncatingIfNeeded: value >> 8)]
    }

    static func append32(_ value: UInt32, to bytes: inout [UInt8]) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }
}
