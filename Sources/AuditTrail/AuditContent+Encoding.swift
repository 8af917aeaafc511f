/// Why audit bytes could not be read, or a trail not written.
public struct AuditError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable { case malformedContent, fieldTooLong, badKey, badExport }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// Canonical content bytes that do not decode (truncated, trailing bytes, an unknown version or tag).
        public static let malformedContent = Code(.malformedContent)
        /// A field beyond ``AuditContent/maximumFieldBytes``, or more details than ``AuditContent/maximumDetails``.
        public static let fieldTooLong = Code(.fieldTooLong)
        /// A signing or public key that does not read as Ed25519.
        public static let badKey = Code(.badKey)
        /// An export bundle that does not read.
        public static let badExport = Code(.badExport)

        public var description: String {
            switch value {
            case .malformedContent: "malformed content"
            case .fieldTooLong: "field too long"
            case .badKey: "bad key"
            case .badExport: "bad export"
            }
        }
    }

    public let code: Code
    /// What went wrong, never quoting content.
    public let reason: String

    public init(_ code: Code, _ reason: String) { (self.code, self.reason) = (code, reason) }

    public var description: String { "\(code): \(reason)" }

    public static func == (lhs: AuditError, rhs: AuditError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}

extension AuditContent {
    /// Longest field (a subject, a detail's value) in bytes: a record is evidence, not a place for payloads.
    public static let maximumFieldBytes = 4_096
    /// Most details per record.
    public static let maximumDetails = 64
    static let version: UInt8 = 1

    /// The bytes the chain commits to: a version byte, the time (8 bytes, big-endian), then each field as a 4-byte
    /// big-endian length and its UTF-8 (actor kind, actor name, action, subject, outcome, failure reason), the
    /// number of details and each key and value, sorted by key. One content has exactly one encoding.
    /// - Throws: ``AuditError/Code/fieldTooLong`` for a field or a detail count beyond the limits.
    public func canonicalEncoding() throws(AuditError) -> [UInt8] {
        var bytes: [UInt8] = [Self.version]
        bytes.reserveCapacity(64 + subject.utf8.count + actor.name.utf8.count)
        bytes.appendBigEndian(time)
        let (tag, reason): (String, String) = switch outcome {
        case .success: ("ok", "")
        case .failure(let reason): ("failed", reason)
        }
        for field in [actor.kind.rawValue, actor.name, action.rawValue, subject, tag, reason] {
            try Self.append(field, to: &bytes)
        }
        guard details.count <= Self.maximumDetails else {
            throw AuditError(.fieldTooLong, "more than \(Self.maximumDetails) details")
        }
        Self.appendLength(details.count, to: &bytes)
        for key in details.keys.sorted() {
            try Self.append(key, to: &bytes)
            try Self.append(details[key] ?? "", to: &bytes)
        }
        return bytes
    }

    /// Reads a canonical encoding back, strictly: the bytes must be exactly what ``canonicalEncoding()`` writes.
    /// - Throws: ``AuditError/Code/malformedContent``.
    public init(canonical bytes: [UInt8]) throws(AuditError) {
        var reader = Reader(bytes: bytes)
        guard try reader.byte() == Self.version else { throw AuditError(.malformedContent, "unknown version") }
        let time = try reader.int64()
        guard let kind = AuditActor.Kind(rawValue: try reader.string()) else {
            throw AuditError(.malformedContent, "unknown actor kind")
        }
        let actorName = try reader.string()
        let action = AuditAction(rawValue: try reader.string())
        let subject = try reader.string()
        let tag = try reader.string(), reason = try reader.string()
        let outcome: AuditOutcome
        switch tag {
        case "ok" where reason.isEmpty: outcome = .success
        case "failed": outcome = .failure(reason)
        default: throw AuditError(.malformedContent, "unknown outcome")
        }
        let count = try reader.length()
        guard count <= Self.maximumDetails else { throw AuditError(.malformedContent, "too many details") }
        var details: [String: String] = [:]
        var previous: String?
        for _ in 0..<count {
            let key = try reader.string(), value = try reader.string()
            // Sorted and unique, as the encoder writes them: anything else is a second encoding of one content.
            if let previous, !(previous < key) { throw AuditError(.malformedContent, "details out of order") }
            previous = key
            details[key] = value
        }
        guard reader.isAtEnd else { throw AuditError(.malformedContent, "trailing bytes") }
        self.init(time: time, actor: AuditActor(kind: kind, name: actorName), action: action, subject: subject,
                  outcome: outcome, details: details)
    }

    private static func append(_ field: String, to bytes: inout [UInt8]) throws(AuditError) {
        let utf8 = field.utf8
        guard utf8.count <= maximumFieldBytes else {
            throw AuditError(.fieldTooLong, "a field of more than \(maximumFieldBytes) bytes")
        }
        appendLength(utf8.count, to: &bytes)
        bytes.append(contentsOf: utf8)
    }

    private static func appendLength(_ length: Int, to bytes: inout [UInt8]) {
        let value = UInt32(length)
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        var isAtEnd: Bool { offset == bytes.count }

        mutating func take(_ count: Int) throws(AuditError) -> ArraySlice<UInt8> {
            guard count <= bytes.count - offset else { throw AuditError(.malformedContent, "truncated") }
            defer { offset += count }
            return bytes[offset..<offset + count]
        }

        mutating func byte() throws(AuditError) -> UInt8 { try take(1).first! }

        mutating func int64() throws(AuditError) -> Int64 {
            Int64(bitPattern: try take(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        }

        mutating func length() throws(AuditError) -> Int {
            Int(try take(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        }

        mutating func string() throws(AuditError) -> String {
            let count = try length()
            guard count <= AuditContent.maximumFieldBytes else { throw AuditError(.malformedContent, "field too long") }
            guard let text = String(validating: try take(count), as: UTF8.self) else {
                throw AuditError(.malformedContent, "not UTF-8")
            }
            return text
        }
    }
}
