import Foundation
import Pcap
import Testing

/// The Wireshark tools (Debian `tshark`, installed by scripts/test) as independent readers and writers: what
/// PcapWriter writes, tshark reads with the same lengths and times; what editcap turns into pcapng, PcapReader reads.
@Suite struct PcapWithWiresharkTests {
    static func run(_ tool: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let path = try #require(["/usr/bin/", "/usr/sbin/"].map { $0 + tool }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }, "\(tool) is not installed: run scripts/test as root to install the test peers")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["-k", "5", "60", path] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice  // tshark warns about running as root there
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func tsharkReadsWhatTheWriterWritesAndTheReaderReadsEditcapsPcapng() throws {
        let directory = NSTemporaryDirectory() + "rampart-pcap-\(UInt64.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Raw IPv4/UDP packets (link type 101), one of them cut short of its wire length.
        func udp(_ payload: [UInt8]) -> [UInt8] {
            let total = 28 + payload.count
            return [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
                    0x13, 0x88, 0x13, 0x89, UInt8((8 + payload.count) >> 8), UInt8((8 + payload.count) & 0xFF), 0, 0]
                + payload
        }
        let packets = [
            PcapPacket(timestampNanoseconds: 1_700_000_000_123_456_789, linkType: 101, data: udp(Array(repeating: 1, count: 172))),
            PcapPacket(timestampNanoseconds: 1_700_000_000_223_456_000, linkType: 101, data: udp([2, 3]), originalLength: 1_400),
        ]
        let writer = PcapWriter(linkType: 101)
        let path = directory + "/written.pcap"
        try Data(writer.fileHeader() + packets.flatMap(writer.record)).write(to: URL(fileURLWithPath: path))

        let fields = try Self.run("tshark", ["-r", path, "-T", "fields", "-e", "frame.cap_len", "-e", "frame.len",
                                             "-e", "frame.time_epoch", "-e", "udp.dstport"])
        #expect(fields.status == 0, "\(fields.output)")
        let rows = fields.output.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        #expect(rows.map { $0.first } == ["200", "30"])
        #expect(rows.map { $0.dropFirst().first } == ["200", "1400"])
        #expect(rows.first?[2].hasPrefix("1700000000.123456789") == true)
        #expect(rows.map { $0.last } == ["5001", "5001"])

        let converted = directory + "/converted.pcapng"
        let editcap = try Self.run("editcap", ["-F", "pcapng", path, converted])
        #expect(editcap.status == 0, "\(editcap.output)")
        var reader = PcapReader()
        reader.append(try Data(contentsOf: URL(fileURLWithPath: converted)))
        var read: [PcapPacket] = []
        while let packet = try reader.next() { read.append(packet) }
        try reader.finish()
        #expect(reader.format == .pcapng)
        #expect(read == packets)
    }
}
