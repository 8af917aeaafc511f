import SecurityPolicy

/// A STUN method (RFC 8489 §5: 12 bits), with TURN's (RFC 8656 §17, RFC 6062 §6.1).
public struct STUNMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue & 0x0FFF }

    public static let binding = STUNMethod(rawValue: 0x001)
    public static let allocate = STUNMethod(rawValue: 0x003)
    public static let refresh = STUNMethod(rawValue: 0x004)
    public static let send = STUNMethod(rawValue: 0x006)
    public static let data = STUNMethod(rawValue: 0x007)
    public static let createPermission = STUNMethod(rawValue: 0x008)
    public static let channelBind = STUNMethod(rawValue: 0x009)
    public static let connect = STUNMethod(rawValue: 0x00A)
    public static let connectionBind = STUNMethod(rawValue: 0x00B)
    public static let connectionAttempt = STUNMethod(rawValue: 0x00C)

    public var description: String {
        switch self {
        case .binding: "Binding"
        case .allocate: "Allocate"
        case .refresh: "Refresh"
        case .send: "Send"
        case .data: "Data"
        case .createPermission: "CreatePermission"
        case .channelBind: "ChannelBind"
        case .connect: "Connect"
        case .connectionBind: "ConnectionBind"
        case .connectionAttempt: "ConnectionAttempt"
        default: "method 0x" + String(rawValue, radix: 16)
        }
    }
}

/// A STUN message class (RFC 8489 §5).
public enum STUNClass: UInt8, Sendable {
    case request = 0, indication = 1, successResponse = 2, errorResponse = 3
}

/// A message type: method and class, interleaved in the header's 14 bits (RFC 8489 §5, figure 3).
public struct STUNMessageType: Hashable, Sendable {
    public var method: STUNMethod
    public var messageClass: STUNClass

    public init(_ method: STUNMethod, _ messageClass: STUNClass) {
        (self.method, self.messageClass) = (method, messageClass)
    }

    public init(rawValue: UInt16) {
        let m = rawValue & 0x000F | (rawValue & 0x00E0) >> 1 | (rawValue & 0x3E00) >> 2
        let c = UInt8(truncatingIfNeeded: (rawValue & 0x0010) >> 4 | (rawValue & 0x0100) >> 7)
        self.init(STUNMethod(rawValue: m), STUNClass(rawValue: c)!)
    }

    public var rawValue: UInt16 {
        let m = method.rawValue, c = UInt16(messageClass.rawValue)
        return m & 0x000F | (m & 0x0070) << 1 | (m & 0x0F80) << 2 | (c & 1) << 4 | (c & 2) << 7
    }

    /// The success and error responses to a request of this method.
    public var successResponse: STUNMessageType { STUNMessageType(method, .successResponse) }
    public var errorResponse: STUNMessageType { STUNMessageType(method, .errorResponse) }
}

/// The 96-bit transaction ID.
public struct STUNTransactionID: Hashable, Sendable, CustomStringConvertible {
    public let high: UInt32
    public let low: UInt64

    public init(high: UInt32, low: UInt64) { (self.high, self.low) = (high, low) }

    /// Twelve bytes, network order; nil unless exactly twelve.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 12 else { return nil }
        var reader = ByteReader(Array(bytes))
        self.init(high: reader.uint32(), low: reader.uint64())
    }

    /// A fresh ID from the system's CSPRNG (RFC 8489 §6: uniformly and randomly chosen).
    public static func random() -> STUNTransactionID {
        var generator = SystemRandomNumberGenerator()
        return STUNTransactionID(high: generator.next(), low: generator.next())
    }

    public var bytes: [UInt8] {
        var writer = ByteWriter()
        writer.uint32(high)
        writer.uint64(low)
        return writer.bytes
    }

    public var description: String { bytes.map { String($0 >> 4, radix: 16) + String($0 & 0xF, radix: 16) }.joined() }
}

/// Why bytes are not a STUN message this module accepts. A server answers a request that fails here with 400 when it
/// can read the header, and drops anything else.
public enum STUNParseError: Error, Hashable, Sendable {
    /// Fewer than 20 bytes, the top two bits set, or a length that is not the rest of the bytes.
    case notSTUN
    /// No magic cookie: an RFC 3489 message, which this module does not serve.
    case noMagicCookie
    /// The length is not a multiple of 4, or an attribute runs past the end.
    case badLength
    /// More attributes than ``STUNMessage/maxAttributes``.
    case tooManyAttributes
    /// MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 or FINGERPRINT of the wrong size.
    case badIntegrityLength
    /// An attribute after FINGERPRINT (which must be last), or MESSAGE-INTEGRITY after MESSAGE-INTEGRITY-SHA256.
    case misplacedAttribute
    /// More than ``STUNMessage/maxBytes``.
    case tooLarge
}

/// A STUN message as read (RFC 8489 §5, §14): header, the attributes in order, and the bytes themselves (integrity
/// and fingerprint are checked against them). Attributes after MESSAGE-INTEGRITY other than
/// MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are dropped, as §14.5 says they must be ignored.
public struct STUNMessage: Sendable {
    /// The magic cookie (RFC 8489 §5).
    public static let magicCookie: UInt32 = 0x2112_A442
    /// The largest message read: a TCP frame's 16-bit length plus the header.
    public static let maxBytes = 20 + 65_532
    /// The most attributes read; a flood of them is refused, not walked.
    public static let maxAttributes = 64

    public let type: STUNMessageType
    public let transactionID: STUNTransactionID
    /// The attributes in message order (those §14.5 says to ignore left out).
    public let attributes: [STUNAttribute]
    /// The message's bytes as received.
    public let bytes: [UInt8]
    /// Where MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT start in `bytes`, when present.
    let integrityOffset: Int?
    let integritySHA256Offset: Int?
    let fingerprintOffset: Int?

    /// The message's length in bytes as its header says it (20 + the length field), from the first bytes of a stream;
    /// nil when fewer than 4 bytes are there or the first two bits say it is not STUN (RFC 8489 §6.2.2 framing).
    public static func frameLength(_ prefix: some Collection<UInt8>) -> Int? {
        guard prefix.count >= 4 else { return nil }
        var index = prefix.startIndex
        let first = prefix[index]
        guard first & 0xC0 == 0 else { return nil }
        index = prefix.index(index, offsetBy: 2)
        let high = Int(prefix[index])
        let low = Int(prefix[prefix.index(after: index)])
        return 20 + (high << 8 | low)
    }

    public init(parsing bytes: [UInt8]) throws(STUNParseError) {
        guard bytes.count <= Self.maxBytes else { throw .tooLarge }
        guard bytes.count >= 20, bytes[0] & 0xC0 == 0 else { throw .notSTUN }
        var reader = ByteReader(bytes)
        let rawType = reader.uint16()
        let length = Int(reader.uint16())
        guard reader.uint32() == Self.magicCookie else { throw .noMagicCookie }
        guard 20 + length == bytes.count else { throw .notSTUN }
        guard length % 4 == 0 else { throw .badLength }
        let transactionID = STUNTransactionID(high: reader.uint32(), low: reader.uint64())

        var attributes: [STUNAttribute] = []
        var integrity: Int?, integritySHA256: Int?, fingerprint: Int?
        var seen = 0
        while reader.remaining > 0 {
            let offset = reader.offset
            guard reader.remaining >= 4 else { throw .badLength }
            let type = STUNAttributeType(rawValue: reader.uint16())
            let valueLength = Int(reader.uint16())
            let padded = (valueLength + 3) & ~3
            guard padded <= reader.remaining else { throw .badLength }
            seen += 1
            guard seen <= Self.maxAttributes else { throw .tooManyAttributes }
            guard fingerprint == nil else { throw .misplacedAttribute }
            let value = offset + 4..<offset + 4 + valueLength
            reader.skip(padded)
            switch type {
            case .messageIntegrity:
                guard valueLength == 20 else { throw .badIntegrityLength }
                guard integritySHA256 == nil else { throw .misplacedAttribute }
                if integrity == nil { integrity = offset } else { continue }
            case .messageIntegritySHA256:
                guard valueLength >= 16, valueLength <= 32, valueLength % 4 == 0 else { throw .badIntegrityLength }
                if integritySHA256 == nil { integritySHA256 = offset } else { continue }
            case .fingerprint:
                guard valueLength == 4 else { throw .badIntegrityLength }
                fingerprint = offset
            default:
                // §14.5: after MESSAGE-INTEGRITY(-SHA256), only the integrity attributes and FINGERPRINT count.
                if integrity != nil || integritySHA256 != nil { continue }
            }
            attributes.append(STUNAttribute(type: type, value: value))
        }
        (self.type, self.transactionID, self.attributes, self.bytes) = (STUNMessageType(rawValue: rawType), transactionID,
                                                                          attributes, bytes)
        (integrityOffset, integritySHA256Offset, fingerprintOffset) = (integrity, integritySHA256, fingerprint)
    }

    /// The value of the first attribute of `type`.
    public func value(_ type: STUNAttributeType) -> ArraySlice<UInt8>? {
        attributes.first { $0.type == type }.map { bytes[$0.value] }
    }

    /// Whether the message carries an attribute of `type`.
    public func has(_ type: STUNAttributeType) -> Bool { attributes.contains { $0.type == type } }

    /// The comprehension-required attributes (0x0000–0x7FFF) not in `understood`: a request with any gets 420 and
    /// UNKNOWN-ATTRIBUTES listing them (RFC 8489 §6.3.1).
    public func unknownComprehensionRequired(understood: Set<STUNAttributeType>) -> [STUNAttributeType] {
        var unknown: [STUNAttributeType] = []
        for attribute in attributes where attribute.type.isComprehensionRequired && !understood.contains(attribute.type)
            && !unknown.contains(attribute.type)
        {
            unknown.append(attribute.type)
        }
        return unknown
    }

    /// Whether the message carries MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256.
    public var hasIntegrity: Bool { integrityOffset != nil || integritySHA256Offset != nil }

    /// Whether the message carries FINGERPRINT and it is the CRC-32 of what precedes it, XORed with 0x5354554E.
    public var fingerprintHolds: Bool {
        guard let offset = fingerprintOffset else { return false }
        var reader = ByteReader(bytes)
        reader.skip(offset + 4)
        return reader.uint32() == STUNFingerprint.value(bytes[0..<offset])
    }
}

/// One attribute as read: its type and where its value lies in the message's bytes (padding excluded).
public struct STUNAttribute: Hashable, Sendable {
    public let type: STUNAttributeType
    public let value: Range<Int>
}

/// An IP address and port as STUN carries them (MAPPED-ADDRESS and the XOR forms, RFC 8489 §14.1–14.2).
public struct STUNTransportAddress: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16) { (self.address, self.port) = (address, port) }

    public var description: String {
        address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)"
    }
}
