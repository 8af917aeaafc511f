/// One HEPv3 packet (the Homer Encapsulation Protocol, version 3): a captured message with where it went, when, and
/// which call it belongs to, as chunks after a `HEP3` header. Sans I/O: `encoded()` writes it,
/// `init(decoding:)` reads one back (strictly: every chunk inside the packet, the lengths consistent).
public struct HEPPacket: Hashable, Sendable {
    /// What the payload is (chunk 0x000b).
    public struct PayloadType: RawRepresentable, Hashable, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let sip = PayloadType(rawValue: 1)
        public static let rtcp = PayloadType(rawValue: 5)
    }

    /// The transport protocol (chunk 0x0002): 17 UDP, 6 TCP (TLS is carried as its decrypted SIP over TCP).
    public var ipProtocol: UInt8
    /// 4 or 16 bytes each; both of one family.
    public var sourceAddress: [UInt8]
    public var destinationAddress: [UInt8]
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    /// Wall-clock time of the capture: seconds and microseconds since 1970.
    public var seconds: UInt32
    public var microseconds: UInt32
    public var payloadType: PayloadType
    /// The capturing node's id (Homer groups by it).
    public var captureID: UInt32
    /// The collector's shared password, if it wants one (chunk 0x000e).
    public var authenticationKey: String?
    /// The captured bytes.
    public var payload: [UInt8]
    /// What ties packets together: the SIP Call-ID (chunk 0x0011).
    public var correlationID: String?

    public init(ipProtocol: UInt8, sourceAddress: [UInt8], destinationAddress: [UInt8], sourcePort: UInt16,
                destinationPort: UInt16, seconds: UInt32, microseconds: UInt32, payloadType: PayloadType,
                captureID: UInt32, authenticationKey: String? = nil, payload: [UInt8], correlationID: String? = nil) {
        self.ipProtocol = ipProtocol
        self.sourceAddress = sourceAddress
        self.destinationAddress = destinationAddress
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.seconds = seconds
        self.microseconds = microseconds
        self.payloadType = payloadType
        self.captureID = captureID
        self.authenticationKey = authenticationKey
        self.payload = payload
        self.correlationID = correlationID
    }

    /// Why bytes are not a HEPv3 packet.
    public struct DecodingError: Error, Hashable, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The largest packet: its length field is 16 bits.
    public static let maximumLength = 65_535

    /// Whether the addresses are IPv6 (else IPv4).
    public var isIPv6: Bool { sourceAddress.count == 16 }

    /// The packet's bytes; nil when it cannot be one (addresses not both IPv4 or both IPv6, or over 65,535 bytes).
    public func encoded() -> [UInt8]? {
        guard [4, 16].contains(sourceAddress.count), sourceAddress.count == destinationAddress.count else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(110 + payload.count + (correlationID?.utf8.count ?? 0) + (authenticationKey?.utf8.count ?? 0))
        bytes.append(contentsOf: "HEP3".utf8)
        bytes.append(0)
        bytes.append(0)
        // Each chunk: vendor 0 (generic), type, length with its 6-byte header, value; written in place (this runs
        // for every message the edge copies).
        func header(_ type: UInt16, _ count: Int) {
            let length = UInt16(truncatingIfNeeded: 6 + count)
            bytes.append(0)
            bytes.append(0)
            bytes.append(UInt8(type >> 8))
            bytes.append(UInt8(type & 0xFF))
            bytes.append(UInt8(length >> 8))
            bytes.append(UInt8(length & 0xFF))
        }
        func chunk(_ type: UInt16, _ value: UInt8) {
            header(type, 1)
            bytes.append(value)
        }
        func chunk(_ type: UInt16, _ value: UInt16) {
            header(type, 2)
            bytes.append(UInt8(value >> 8))
            bytes.append(UInt8(value & 0xFF))
        }
        func chunk(_ type: UInt16, _ value: UInt32) {
            header(type, 4)
            for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
        }
        func chunk(_ type: UInt16, bytes value: some Collection<UInt8>) {
            header(type, value.count)
            bytes.append(contentsOf: value)
        }
        chunk(0x0001, UInt8(isIPv6 ? 10 : 2))
        chunk(0x0002, ipProtocol)
        chunk(isIPv6 ? 0x0005 : 0x0003, bytes: sourceAddress)
        chunk(isIPv6 ? 0x0006 : 0x0004, bytes: destinationAddress)
        chunk(0x0007, sourcePort)
        chunk(0x0008, destinationPort)
        chunk(0x0009, seconds)
        chunk(0x000A, microseconds)
        chunk(0x000B, payloadType.rawValue)
        chunk(0x000C, captureID)
        if let authenticationKey { chunk(0x000E, bytes: authenticationKey.utf8) }
        if let correlationID { chunk(0x0011, bytes: correlationID.utf8) }
        chunk(0x000F, bytes: payload)
        guard bytes.count <= Self.maximumLength else { return nil }
        bytes[4] = UInt8(bytes.count >> 8)
        bytes[5] = UInt8(bytes.count & 0xFF)
        return bytes
    }

    /// Reads a packet; unknown chunks (and other vendors') are skipped.
    /// - Throws: ``DecodingError`` for anything but one whole HEPv3 packet with the chunks a capture needs.
    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        guard bytes.count >= 6, bytes.starts(with: Array("HEP3".utf8)) else { throw DecodingError(description: "not HEP3") }
        let total = Int(bytes[4]) << 8 | Int(bytes[5])
        guard total == bytes.count else { throw DecodingError(description: "length \(total) for \(bytes.count) bytes") }
        var chunks: [UInt16: [UInt8]] = [:]
        var offset = 6
        while offset < total {
            guard total - offset >= 6 else { throw DecodingError(description: "truncated chunk header") }
            let vendor = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
            let type = UInt16(bytes[offset + 2]) << 8 | UInt16(bytes[offset + 3])
            let length = Int(bytes[offset + 4]) << 8 | Int(bytes[offset + 5])
            guard length >= 6, length <= total - offset else { throw DecodingError(description: "bad chunk length") }
            if vendor == 0 { chunks[type] = Array(bytes[offset + 6..<offset + length]) }
            offset += length
        }
        func required(_ type: UInt16, count: Int? = nil) throws(DecodingError) -> [UInt8] {
            guard let value = chunks[type], count.map({ value.count == $0 }) ?? true else {
                throw DecodingError(description: "chunk \(type) missing or of the wrong size")
            }
            return value
        }
        let family = try required(0x0001, count: 1)[0]
        guard family == 2 || family == 10 else { throw DecodingError(description: "unknown address family") }
        let width = family == 10 ? 16 : 4
        ipProtocol = try required(0x0002, count: 1)[0]
        sourceAddress = try required(family == 10 ? 0x0005 : 0x0003, count: width)
        destinationAddress = try required(family == 10 ? 0x0006 : 0x0004, count: width)
        sourcePort = Self.value16(try required(0x0007, count: 2))
        destinationPort = Self.value16(try required(0x0008, count: 2))
        seconds = Self.value32(try required(0x0009, count: 4))
        microseconds = Self.value32(try required(0x000A, count: 4))
        payloadType = PayloadType(rawValue: try required(0x000B, count: 1)[0])
        captureID = Self.value32(try required(0x000C, count: 4))
        payload = try required(0x000F)
        authenticationKey = chunks[0x000E].map { String(decoding: $0, as: UTF8.self) }
        correlationID = chunks[0x0011].map { String(decoding: $0, as: UTF8.self) }
    }

    static func value16(_ bytes: [UInt8]) -> UInt16 { UInt16(bytes[0]) << 8 | UInt16(bytes[1]) }
    static func value32(_ bytes: [UInt8]) -> UInt32 { bytes.reduce(0) { $0 << 8 | UInt32($1) } }
}
