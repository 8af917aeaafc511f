import Pcap
import Testing

/// Little-endian helpers for building captures by hand.
func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> UInt32(8 * $0)) } }
func be32(_ value: UInt32) -> [UInt8] { le32(value).reversed() }
func le16(_ value: UInt16) -> [UInt8] { [UInt8(truncatingIfNeeded: value), UInt8(value >> 8)] }

/// A pcapng block: type, total length, body padded to 4, total length again.
func block(_ type: UInt32, _ body: [UInt8]) -> [UInt8] {
    let padded = body + [UInt8](repeating: 0, count: (4 - body.count % 4) % 4)
    let length = UInt32(12 + padded.count)
    return le32(type) + le32(length) + padded + le32(length)
}

func readAll(_ bytes: [UInt8], chunk: Int = .max) throws -> (PcapReader, [PcapPacket]) {
    var reader = PcapReader()
    var packets: [PcapPacket] = []
    var index = 0
    while index < bytes.count {
        let end = min(bytes.count, index + chunk)
        reader.append(bytes[index..<end])
        index = end
        while let packet = try reader.next() { packets.append(packet) }
    }
    return (reader, packets)
}

@Suite struct PcapReaderTests {
    static let udp: [UInt8] = Array(0..<60)

    @Test func whatTheWriterWritesTheReaderReadsWholeAndByteByByte() throws {
        let writer = PcapWriter(linkType: 101)
        let packets = [
            PcapPacket(timestampNanoseconds: 1_700_000_000_123_456_789, linkType: 101, data: Self.udp),
            PcapPacket(timestampNanoseconds: 1_700_000_001_000_000_001, linkType: 101, data: [1, 2, 3], originalLength: 1500),
        ]
        let file = writer.fileHeader() + packets.flatMap(writer.record)
        for chunk in [Int.max, 1, 7] {
            let (reader, read) = try readAll(file, chunk: chunk)
            #expect(read == packets)
            #expect(reader.format == .pcap)
            try reader.finish()
        }
    }

    @Test func bigEndianMicrosecondPcapIsRead() throws {
        let header = [0xA1, 0xB2, 0xC3, 0xD4] + [0, 2, 0, 4] + [UInt8](repeating: 0, count: 8) + be32(65_535) + be32(1)
        let record = be32(10) + be32(500_000) + be32(4) + be32(4) + [9, 8, 7, 6]
        let (_, packets) = try readAll(header + record)
        #expect(packets == [PcapPacket(timestampNanoseconds: 10_500_000_000, linkType: 1, data: [9, 8, 7, 6])])
    }

    @Test func pcapngWithTwoInterfacesResolutionsAndSkippedBlocks() throws {
        let section = block(0x0A0D_0D0A, [0x4D, 0x3C, 0x2B, 0x1A] + le16(1) + le16(0) + [UInt8](repeating: 0xFF, count: 8))
        let ethernet = block(1, le16(1) + le16(0) + le32(0))  // default microseconds
        let rawIP = block(1, le16(101) + le16(0) + le32(0) + le16(9) + le16(1) + [9, 0, 0, 0] + le16(0) + le16(0))  // ns
        let stats = block(5, [UInt8](repeating: 0, count: 20))
        func enhanced(_ interface: UInt32, _ ticks: UInt64, _ data: [UInt8]) -> [UInt8] {
            block(6, le32(interface) + le32(UInt32(ticks >> 32)) + le32(UInt32(truncatingIfNeeded: ticks))
                + le32(UInt32(data.count)) + le32(UInt32(data.count)) + data)
        }
        let file = section + ethernet + rawIP + enhanced(0, 1_700_000_000_000_001, [1, 2, 3, 4, 5]) + stats
            + enhanced(1, 1_700_000_000_000_000_007, Self.udp)
        for chunk in [Int.max, 3] {
            let (reader, packets) = try readAll(file, chunk: chunk)
            #expect(reader.format == .pcapng)
            #expect(packets.map(\.linkType) == [1, 101])
            #expect(packets.map(\.timestampNanoseconds) == [1_700_000_000_000_001_000, 1_700_000_000_000_000_007])
            #expect(packets.map(\.data) == [[1, 2, 3, 4, 5], Self.udp])
            try reader.finish()
        }
    }

    @Test func brokenCapturesGiveTypedErrors() throws {
        func failure(_ bytes: [UInt8]) -> PcapError.Code? {
            do {
                let (reader, _) = try readAll(bytes)
                try reader.finish()
                return nil
            } catch let error as PcapError { return error.code } catch { return nil }
        }
        let writer = PcapWriter(linkType: 1)
        let good = writer.fileHeader() + writer.record(PcapPacket(timestampNanoseconds: 0, linkType: 1, data: Self.udp))
        #expect(failure(good) == nil)
        #expect(failure(Array(good.dropLast(3))) == .truncated)
        #expect(failure(Array(good.prefix(10))) == .truncated)
        #expect(failure([]) == .truncated)
        #expect(failure([0x7F, 0x45, 0x4C, 0x46, 0, 0, 0, 0]) == .unknownFormat)
        var huge = writer.fileHeader() + le32(0) + le32(0) + le32(10_000_000) + le32(10_000_000)
        huge += [0]
        #expect(failure(huge) == .tooLarge)
        let section = block(0x0A0D_0D0A, [0x4D, 0x3C, 0x2B, 0x1A] + le16(1) + le16(0) + [UInt8](repeating: 0xFF, count: 8))
        let orphan = block(6, le32(3) + le32(0) + le32(0) + le32(1) + le32(1) + [7])
        #expect(failure(section + orphan) == .malformed, "a packet of an interface never described")
        var badLength = section
        badLength[4] = 13
        #expect(failure(badLength) == .malformed)
    }
}
