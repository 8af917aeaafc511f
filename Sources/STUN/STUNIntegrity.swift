import Crypto
import SIPAuth

/// The key MESSAGE-INTEGRITY and MESSAGE-INTEGRITY-SHA256 are computed with (RFC 8489 §9.1.1, §9.2.2): the
/// short-term password itself, or for long-term credentials the hash of `username:realm:password` under the
/// password algorithm (MD5, 16 bytes; SHA-256, 32 bytes). Strings are taken as UTF-8 as given: this module does not
/// apply the OpaqueString profile (RFC 8265), as coturn does not; passwords outside ASCII may differ from a client
/// that does.
public struct STUNKey: Sendable {
    /// The key's bytes. Secret: never logged.
    let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// The key's bytes to `body` (to store a long-term key, or compare one), never kept by the caller.
    public func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try bytes.withUnsafeBytes(body)
    }

    /// A short-term credential's key: the password.
    public static func shortTerm(password: String) -> STUNKey { STUNKey(bytes: Array(password.utf8)) }

    /// A long-term credential's key under `algorithm`.
    public static func longTerm(username: String, realm: String, password: String,
                                algorithm: STUNPasswordAlgorithm = .md5) -> STUNKey {
        let input = Array("\(username):\(realm):\(password)".utf8)
        switch algorithm {
        case .md5: return STUNKey(bytes: Array(Insecure.MD5.hash(data: input)))
        case .sha256: return STUNKey(bytes: Array(SHA256.hash(data: input)))
        }
    }

    /// USERHASH (RFC 8489 §14.4): SHA-256 of `username:realm`.
    public static func userhash(username: String, realm: String) -> [UInt8] {
        Array(SHA256.hash(data: Array("\(username):\(realm)".utf8)))
    }
}

/// What a message's integrity check came to.
public enum STUNIntegrityCheck: Hashable, Sendable {
    /// MESSAGE-INTEGRITY-SHA256 (or, without it, MESSAGE-INTEGRITY) matches the key.
    case holds(sha256: Bool)
    /// The message carries neither attribute.
    case absent
    /// The attribute does not match: the wrong key, or a changed message.
    case fails
}

extension STUNMessage {
    /// Checks the message under `key` (RFC 8489 §9.1.3, §9.2.4): MESSAGE-INTEGRITY-SHA256 when present (then
    /// MESSAGE-INTEGRITY is not looked at), else MESSAGE-INTEGRITY; the HMAC covers the message up to the attribute
    /// with the header's length as if the message ended after it. Compared in constant time.
    public func checkIntegrity(key: STUNKey) -> STUNIntegrityCheck {
        if let offset = integritySHA256Offset {
            let length = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            var mac = HMAC<SHA256>(key: SymmetricKey(data: key.bytes))
            Self.authenticate(&mac, bytes, upTo: offset, attributeLength: length)
            let computed = Array(mac.finalize()).prefix(length)
            return constantTimeEquals(computed, bytes[(offset + 4)..<(offset + 4 + length)]) ? .holds(sha256: true) : .fails
        }
        if let offset = integrityOffset {
            var mac = HMAC<Insecure.SHA1>(key: SymmetricKey(data: key.bytes))
            Self.authenticate(&mac, bytes, upTo: offset, attributeLength: 20)
            return constantTimeEquals(Array(mac.finalize()), bytes[(offset + 4)..<(offset + 24)])
                ? .holds(sha256: false) : .fails
        }
        return .absent
    }

    /// Feeds the header (its length set to end after the integrity attribute) and the attributes before it.
    static func authenticate<H: HashFunction>(_ mac: inout HMAC<H>, _ bytes: [UInt8], upTo offset: Int,
                                              attributeLength: Int) {
        let length = offset - 20 + 4 + attributeLength
        var header = Array(bytes[0..<20])
        header[2] = UInt8(length >> 8)
        header[3] = UInt8(length & 0xFF)
        mac.update(data: header)
        mac.update(data: bytes[20..<offset])
    }

}

/// Writes a STUN message: header, attributes (padded with zeros), then optionally MESSAGE-INTEGRITY,
/// MESSAGE-INTEGRITY-SHA256 and FINGERPRINT, in that order, each over what precedes it (RFC 8489 §14.5–14.7).
public struct STUNMessageBuilder: Sendable {
    private var writer: ByteWriter
    public let type: STUNMessageType
    public let transactionID: STUNTransactionID

    public init(_ type: STUNMessageType, transactionID: STUNTransactionID) {
        (self.type, self.transactionID) = (type, transactionID)
        writer = ByteWriter(capacity: 128)
        writer.uint16(type.rawValue)
        writer.uint16(0)
        writer.uint32(STUNMessage.magicCookie)
        writer.uint32(transactionID.high)
        writer.uint64(transactionID.low)
    }

    /// The response (success or error) to `request`, with its transaction ID.
    public static func response(to request: STUNMessage, error: Bool = false) -> STUNMessageBuilder {
        STUNMessageBuilder(error ? request.type.errorResponse : request.type.successResponse,
                           transactionID: request.transactionID)
    }

    public mutating func append(_ type: STUNAttributeType, _ value: some Collection<UInt8>) {
        precondition(value.count <= 0xFFFF, "a STUN attribute holds at most 65,535 bytes")
        writer.uint16(type.rawValue)
        writer.uint16(UInt16(value.count))
        writer.bytes += value
        let padding = (4 - value.count % 4) % 4
        writer.bytes += repeatElement(0, count: padding)
        setLength()
    }

    public mutating func append(_ type: STUNAttributeType, text: String) { append(type, Array(text.utf8)) }

    public mutating func append(_ type: STUNAttributeType, uint32 value: UInt32) {
        var bytes = ByteWriter()
        bytes.uint32(value)
        append(type, bytes.bytes)
    }

    /// XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS or XOR-RELAYED-ADDRESS.
    public mutating func append(_ type: STUNAttributeType, xorAddress: STUNTransportAddress) {
        append(type, xorAddress.value(xor: true, transactionID: transactionID))
    }

    public mutating func append(_ error: STUNErrorCode) { append(.errorCode, error.value) }

    /// MESSAGE-INTEGRITY (HMAC-SHA1, `sha256` false) or MESSAGE-INTEGRITY-SHA256 (the full 32 bytes).
    public mutating func appendIntegrity(key: STUNKey, sha256: Bool = false) {
        let offset = writer.bytes.count
        if sha256 {
            var mac = HMAC<SHA256>(key: SymmetricKey(data: key.bytes))
            STUNMessage.authenticate(&mac, writer.bytes, upTo: offset, attributeLength: 32)
            append(.messageIntegritySHA256, Array(mac.finalize()))
        } else {
            var mac = HMAC<Insecure.SHA1>(key: SymmetricKey(data: key.bytes))
            STUNMessage.authenticate(&mac, writer.bytes, upTo: offset, attributeLength: 20)
            append(.messageIntegrity, Array(mac.finalize()))
        }
    }

    /// FINGERPRINT, last.
    public mutating func appendFingerprint() {
        let offset = writer.bytes.count
        writer.uint16(STUNAttributeType.fingerprint.rawValue)
        writer.uint16(4)
        writer.uint32(0)
        setLength()
        let value = STUNFingerprint.value(writer.bytes[0..<offset])
        writer.bytes.removeLast(4)
        writer.uint32(value)
    }

    /// The message so far.
    public var bytes: [UInt8] { writer.bytes }

    private mutating func setLength() {
        let length = writer.bytes.count - 20
        writer.bytes[2] = UInt8(length >> 8)
        writer.bytes[3] = UInt8(length & 0xFF)
    }
}
