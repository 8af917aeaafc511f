import SecurityPolicy

/// A STUN attribute type (RFC 8489 §18.3, TURN's from RFC 8656 §18 and RFC 6062 §6.2, ICE's from RFC 8445).
public struct STUNAttributeType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    // Comprehension-required (0x0000–0x7FFF).
    public static let mappedAddress = STUNAttributeType(rawValue: 0x0001)
    public static let username = STUNAttributeType(rawValue: 0x0006)
    public static let messageIntegrity = STUNAttributeType(rawValue: 0x0008)
    public static let errorCode = STUNAttributeType(rawValue: 0x0009)
    public static let unknownAttributes = STUNAttributeType(rawValue: 0x000A)
    public static let channelNumber = STUNAttributeType(rawValue: 0x000C)
    public static let lifetime = STUNAttributeType(rawValue: 0x000D)
    public static let xorPeerAddress = STUNAttributeType(rawValue: 0x0012)
    public static let data = STUNAttributeType(rawValue: 0x0013)
    public static let realm = STUNAttributeType(rawValue: 0x0014)
    public static let nonce = STUNAttributeType(rawValue: 0x0015)
    public static let xorRelayedAddress = STUNAttributeType(rawValue: 0x0016)
    public static let requestedAddressFamily = STUNAttributeType(rawValue: 0x0017)
    public static let evenPort = STUNAttributeType(rawValue: 0x0018)
    public static let requestedTransport = STUNAttributeType(rawValue: 0x0019)
    public static let dontFragment = STUNAttributeType(rawValue: 0x001A)
    public static let messageIntegritySHA256 = STUNAttributeType(rawValue: 0x001C)
    public static let passwordAlgorithm = STUNAttributeType(rawValue: 0x001D)
    public static let userhash = STUNAttributeType(rawValue: 0x001E)
    public static let xorMappedAddress = STUNAttributeType(rawValue: 0x0020)
    public static let reservationToken = STUNAttributeType(rawValue: 0x0022)
    public static let priority = STUNAttributeType(rawValue: 0x0024)
    public static let useCandidate = STUNAttributeType(rawValue: 0x0025)
    public static let connectionID = STUNAttributeType(rawValue: 0x002A)
    // Comprehension-optional (0x8000–0xFFFF).
    public static let additionalAddressFamily = STUNAttributeType(rawValue: 0x8000)
    public static let addressErrorCode = STUNAttributeType(rawValue: 0x8001)
    public static let passwordAlgorithms = STUNAttributeType(rawValue: 0x8002)
    public static let alternateDomain = STUNAttributeType(rawValue: 0x8003)
    public static let icmp = STUNAttributeType(rawValue: 0x8004)
    public static let software = STUNAttributeType(rawValue: 0x8022)
    public static let alternateServer = STUNAttributeType(rawValue: 0x8023)
    public static let fingerprint = STUNAttributeType(rawValue: 0x8028)
    public static let iceControlled = STUNAttributeType(rawValue: 0x8029)
    public static let iceControlling = STUNAttributeType(rawValue: 0x802A)

    /// Whether an agent that does not know the attribute must refuse the request (RFC 8489 §14).
    public var isComprehensionRequired: Bool { rawValue < 0x8000 }

    public var description: String { "0x" + String(rawValue, radix: 16, uppercase: true) }
}

/// ERROR-CODE (RFC 8489 §14.8): a code from 300 to 699 and a reason phrase.
public struct STUNErrorCode: Error, Hashable, Sendable {
    public var code: Int
    public var reason: String

    public init(_ code: Int, _ reason: String) { (self.code, self.reason) = (code, reason) }

    /// The reason phrase's limit: 763 bytes (128 characters, RFC 8489 §14.8).
    public static let maxReasonBytes = 763

    public static let tryAlternate = STUNErrorCode(300, "Try Alternate")
    public static let badRequest = STUNErrorCode(400, "Bad Request")
    public static let unauthenticated = STUNErrorCode(401, "Unauthenticated")
    public static let forbidden = STUNErrorCode(403, "Forbidden")
    public static let unknownAttribute = STUNErrorCode(420, "Unknown Attribute")
    public static let allocationMismatch = STUNErrorCode(437, "Allocation Mismatch")
    public static let staleNonce = STUNErrorCode(438, "Stale Nonce")
    public static let addressFamilyNotSupported = STUNErrorCode(440, "Address Family not Supported")
    public static let wrongCredentials = STUNErrorCode(441, "Wrong Credentials")
    public static let unsupportedTransportProtocol = STUNErrorCode(442, "Unsupported Transport Protocol")
    public static let peerAddressFamilyMismatch = STUNErrorCode(443, "Peer Address Family Mismatch")
    public static let allocationQuotaReached = STUNErrorCode(486, "Allocation Quota Reached")
    public static let serverError = STUNErrorCode(500, "Server Error")
    public static let insufficientCapacity = STUNErrorCode(508, "Insufficient Capacity")

    /// Reads the attribute's value; nil when it is shorter than 4 bytes, the code is out of range, or the phrase is
    /// not UTF-8 or too long.
    public init?(value: some Collection<UInt8>) {
        let bytes = Array(value)
        guard bytes.count >= 4, bytes.count - 4 <= Self.maxReasonBytes else { return nil }
        let code = Int(bytes[2] & 0x07) * 100 + Int(bytes[3])
        guard (300...699).contains(code), bytes[3] < 100,
            let reason = String(validating: bytes[4...], as: UTF8.self)
        else { return nil }
        self.init(code, reason)
    }

    public var value: [UInt8] {
        var writer = ByteWriter()
        writer.uint16(0)
        writer.byte(UInt8(code / 100))
        writer.byte(UInt8(code % 100))
        writer.bytes += Array(reason.utf8.prefix(Self.maxReasonBytes))
        return writer.bytes
    }
}

/// The password algorithms of the long-term credential mechanism (RFC 8489 §14.11–14.12, §18.5).
public enum STUNPasswordAlgorithm: UInt16, Hashable, Sendable, CaseIterable {
    case md5 = 0x0001
    case sha256 = 0x0002

    /// PASSWORD-ALGORITHM's value: the algorithm and no parameters.
    public var value: [UInt8] { [UInt8(rawValue >> 8), UInt8(rawValue & 0xFF), 0, 0] }

    /// PASSWORD-ALGORITHMS' value for `algorithms`, in order.
    public static func listValue(_ algorithms: [STUNPasswordAlgorithm]) -> [UInt8] { algorithms.flatMap(\.value) }

    /// Reads PASSWORD-ALGORITHM: nil when malformed; `.failure` with the number when it is not one of these.
    public static func read(_ value: some Collection<UInt8>) -> Result<STUNPasswordAlgorithm, UnknownAlgorithm>? {
        var reader = ByteReader(Array(value))
        guard reader.remaining >= 4 else { return nil }
        let number = reader.uint16()
        let parameters = Int(reader.uint16())
        guard (parameters + 3) & ~3 == reader.remaining else { return nil }
        return Self(rawValue: number).map { .success($0) } ?? .failure(UnknownAlgorithm(number: number))
    }

    public struct UnknownAlgorithm: Error, Hashable { public let number: UInt16 }
}

extension STUNTransportAddress {
    /// Reads MAPPED-ADDRESS (`xor` false) or one of the XOR forms (RFC 8489 §14.1–14.2): family 1 with 4 bytes of
    /// address, or family 2 with 16; the XOR forms undone with the cookie and, for IPv6, the transaction ID.
    public init?(value: some Collection<UInt8>, xor: Bool, transactionID: STUNTransactionID) {
        var reader = ByteReader(Array(value))
        guard reader.remaining >= 4 else { return nil }
        reader.skip(1)
        let family = reader.byte()
        var port = reader.uint16()
        if xor { port ^= UInt16(STUNMessage.magicCookie >> 16) }
        switch (family, reader.remaining) {
        case (1, 4):
            var v4 = reader.uint32()
            if xor { v4 ^= STUNMessage.magicCookie }
            self.init(address: IPAddress(ipv4: v4), port: port)
        case (2, 16):
            var high = reader.uint64(), low = reader.uint64()
            if xor {
                high ^= UInt64(STUNMessage.magicCookie) << 32 | UInt64(transactionID.high)
                low ^= transactionID.low
            }
            self.init(address: IPAddress(high: high, low: low), port: port)
        default:
            return nil
        }
    }

    /// The attribute value, XORed when `xor` (the transaction ID matters for IPv6 only).
    public func value(xor: Bool, transactionID: STUNTransactionID) -> [UInt8] {
        var writer = ByteWriter()
        writer.byte(0)
        let portMask = xor ? UInt16(STUNMessage.magicCookie >> 16) : 0
        if let v4 = address.ipv4 {
            writer.byte(1)
            writer.uint16(port ^ portMask)
            writer.uint32(v4 ^ (xor ? STUNMessage.magicCookie : 0))
        } else {
            writer.byte(2)
            writer.uint16(port ^ portMask)
            writer.uint64(address.high ^ (xor ? UInt64(STUNMessage.magicCookie) << 32 | UInt64(transactionID.high) : 0))
            writer.uint64(address.low ^ (xor ? transactionID.low : 0))
        }
        return writer.bytes
    }
}

extension STUNMessage {
    /// XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS or XOR-RELAYED-ADDRESS of `type` (the first).
    public func xorAddress(_ type: STUNAttributeType = .xorMappedAddress) -> STUNTransportAddress? {
        value(type).flatMap { STUNTransportAddress(value: $0, xor: true, transactionID: transactionID) }
    }

    /// Every XOR-PEER-ADDRESS in order (CreatePermission may carry several; RFC 8656 §9); nil if one is malformed.
    public var peerAddresses: [STUNTransportAddress]? {
        var addresses: [STUNTransportAddress] = []
        for attribute in attributes where attribute.type == .xorPeerAddress {
            guard let address = STUNTransportAddress(value: bytes[attribute.value], xor: true, transactionID: transactionID)
            else { return nil }
            addresses.append(address)
        }
        return addresses
    }

    /// MAPPED-ADDRESS (RFC 5389 clients' servers may send it; read for completeness).
    public var mappedAddress: STUNTransportAddress? {
        value(.mappedAddress).flatMap { STUNTransportAddress(value: $0, xor: false, transactionID: transactionID) }
    }

    /// A text attribute (USERNAME, REALM, NONCE, SOFTWARE) as UTF-8; nil when absent, not UTF-8, or longer than
    /// `limit` bytes (RFC 8489: USERNAME < 513, REALM and NONCE < 763, SOFTWARE < 763).
    public func text(_ type: STUNAttributeType, limit: Int = 763) -> String? {
        guard let value = value(type), value.count <= limit else { return nil }
        return String(validating: value, as: UTF8.self)
    }

    public var username: String? { text(.username, limit: 512) }
    public var realm: String? { text(.realm) }
    public var nonce: String? { text(.nonce) }
    public var software: String? { text(.software) }
    public var errorCode: STUNErrorCode? { value(.errorCode).flatMap(STUNErrorCode.init(value:)) }

    /// UNKNOWN-ATTRIBUTES' list (RFC 8489 §14.9).
    public var unknownAttributes: [STUNAttributeType]? {
        guard let value = value(.unknownAttributes), value.count % 2 == 0 else { return nil }
        var reader = ByteReader(Array(value))
        return (0..<value.count / 2).map { _ in STUNAttributeType(rawValue: reader.uint16()) }
    }

    /// A 32-bit attribute's value (LIFETIME, PRIORITY), nil unless exactly 4 bytes.
    public func uint32(_ type: STUNAttributeType) -> UInt32? {
        guard let value = value(type), value.count == 4 else { return nil }
        var reader = ByteReader(Array(value))
        return reader.uint32()
    }

    /// PASSWORD-ALGORITHMS' list, in order; nil when absent or malformed (an unknown algorithm is kept as its number).
    public var passwordAlgorithmNumbers: [UInt16]? {
        guard let value = value(.passwordAlgorithms) else { return nil }
        var reader = ByteReader(Array(value))
        var numbers: [UInt16] = []
        while reader.remaining > 0 {
            guard reader.remaining >= 4 else { return nil }
            numbers.append(reader.uint16())
            let parameters = (Int(reader.uint16()) + 3) & ~3
            guard parameters <= reader.remaining else { return nil }
            reader.skip(parameters)
        }
        return numbers
    }
}

extension STUNPasswordAlgorithm {
    /// The algorithm a long-term request is authenticated under, with the bid-down protection of RFC 8489 §9.2.4:
    /// when the server's nonce announced password algorithms, a request that names one must carry PASSWORD-ALGORITHMS
    /// equal to the server's list (`offered`, in the server's order) and a PASSWORD-ALGORITHM from it, or it gets
    /// 400; a request that carries neither is an RFC 5389 client's and uses MD5, if the server offers MD5 at all.
    public static func negotiated(by request: STUNMessage, offered: [STUNPasswordAlgorithm])
        -> Result<STUNPasswordAlgorithm, STUNErrorCode>
    {
        let list = request.value(.passwordAlgorithms), chosen = request.value(.passwordAlgorithm)
        switch (list, chosen) {
        case (nil, nil):
            return offered.contains(.md5) ? .success(.md5) : .failure(.badRequest)
        case (let list?, let chosen?):
            guard Array(list) == listValue(offered), case .success(let algorithm)? = read(chosen),
                offered.contains(algorithm)
            else { return .failure(.badRequest) }
            return .success(algorithm)
        default:
            return .failure(.badRequest)  // one without the other: a list stripped or an algorithm made up
        }
    }
}
