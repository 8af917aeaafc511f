import SwiftASN1
import X509

/// The TNAuthList certificate extension (RFC 8226 §9, OID 1.3.6.1.5.5.7.1.26): which telephone numbers, or which
/// service provider (SPC), a STIR certificate speaks for.
///
/// ```
/// TNAuthorizationList ::= SEQUENCE SIZE (1..MAX) OF TNEntry
/// TNEntry ::= CHOICE { spc [0] ServiceProviderCode, range [1] TelephoneNumberRange, one [2] TelephoneNumber }
/// TelephoneNumberRange ::= SEQUENCE { start TelephoneNumber, count INTEGER (2..MAX), ... }
/// ```
/// (explicit tags, IA5String numbers and codes).
public struct TNAuthList: Hashable, Sendable, DERImplicitlyTaggable {
    /// The extension's OID.
    public static let oid: ASN1ObjectIdentifier = [1, 3, 6, 1, 5, 5, 7, 1, 26]
    /// The most entries read from one certificate.
    public static let maxEntries = 256

    /// One entry.
    public enum Entry: Hashable, Sendable {
        /// A service provider code (SHAKEN certificates carry one).
        case spc(String)
        /// `count` consecutive numbers from `start` (of the same length).
        case range(start: String, count: Int)
        /// One number.
        case one(String)
    }

    public var entries: [Entry]

    public init(_ entries: [Entry]) { self.entries = entries }

    public static var defaultIdentifier: ASN1Identifier { .sequence }

    public init(derEncoded node: ASN1Node, withIdentifier identifier: ASN1Identifier) throws {
        guard node.identifier == identifier, case .constructed(let nodes) = node.content else {
            throw ASN1Error.unexpectedFieldType(node.identifier)
        }
        var entries: [Entry] = []
        for child in nodes {
            guard entries.count < Self.maxEntries else {
                throw ASN1Error.invalidASN1Object(reason: "more than \(Self.maxEntries) TNAuthList entries")
            }
            switch child.identifier {
            case ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific):
                entries.append(.spc(try DER.explicitlyTagged(child, tagNumber: 0, tagClass: .contextSpecific) {
                    String(try ASN1IA5String(derEncoded: $0))
                }))
            case ASN1Identifier(tagWithNumber: 1, tagClass: .contextSpecific):
                entries.append(try DER.explicitlyTagged(child, tagNumber: 1, tagClass: .contextSpecific) { range in
                    try DER.sequence(range, identifier: .sequence) { nodes in
                        guard let startNode = nodes.next(), let countNode = nodes.next() else {
                            throw ASN1Error.invalidASN1Object(reason: "a range without start and count")
                        }
                        while nodes.next() != nil {}  // the extension marker: later fields are ignored
                        let start = String(try ASN1IA5String(derEncoded: startNode))
                        let count = try Int(derEncoded: countNode)
                        guard count >= 2, Self.isNumber(start) else {
                            throw ASN1Error.invalidASN1Object(reason: "a bad TN range")
                        }
                        return .range(start: start, count: count)
                    }
                })
            case ASN1Identifier(tagWithNumber: 2, tagClass: .contextSpecific):
                let number = try DER.explicitlyTagged(child, tagNumber: 2, tagClass: .contextSpecific) {
                    String(try ASN1IA5String(derEncoded: $0))
                }
                guard Self.isNumber(number) else { throw ASN1Error.invalidASN1Object(reason: "a bad TN") }
                entries.append(.one(number))
            default:
                throw ASN1Error.unexpectedFieldType(child.identifier)
            }
        }
        guard !entries.isEmpty else { throw ASN1Error.invalidASN1Object(reason: "an empty TNAuthList") }
        self.entries = entries
    }

    public func serialize(into coder: inout DER.Serializer, withIdentifier identifier: ASN1Identifier) throws {
        try coder.appendConstructedNode(identifier: identifier) { coder in
            for entry in entries {
                switch entry {
                case .spc(let code):
                    try coder.serialize(try ASN1IA5String(code), explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific)
                case .range(let start, let count):
                    try coder.serialize(explicitlyTaggedWithTagNumber: 1, tagClass: .contextSpecific) { coder in
                        try coder.appendConstructedNode(identifier: .sequence) { coder in
                            try coder.serialize(try ASN1IA5String(start))
                            try coder.serialize(count)
                        }
                    }
                case .one(let number):
                    try coder.serialize(try ASN1IA5String(number), explicitlyTaggedWithTagNumber: 2, tagClass: .contextSpecific)
                }
            }
        }
    }

    /// The extension, for a certificate (not critical: ATIS-1000080 leaves it so).
    public func certificateExtension() throws -> Certificate.Extension {
        var serializer = DER.Serializer()
        try serializer.serialize(self)
        return Certificate.Extension(oid: Self.oid, critical: false, value: ArraySlice(serializer.serializedBytes))
    }

    /// The list a certificate carries, nil when it carries none.
    public init?(certificate: Certificate) throws {
        guard let found = certificate.extensions.first(where: { $0.oid == Self.oid }) else { return nil }
        self = try TNAuthList(derEncoded: found.value)
    }

    /// The service provider codes listed.
    public var serviceProviderCodes: [String] {
        entries.compactMap { if case .spc(let code) = $0 { code } else { nil } }
    }

    /// Whether the list speaks for `number` (normalised digits): it lists it, or a range holds it.
    public func covers(number: String) -> Bool {
        entries.contains { entry in
            switch entry {
            case .spc: return false
            case .one(let listed): return listed == number
            case .range(let start, let count):
                guard start.count == number.count, let first = UInt64(start), let value = UInt64(number) else { return false }
                return value >= first && value - first < UInt64(count)
            }
        }
    }

    private static func isNumber(_ text: String) -> Bool {
        (1...15).contains(text.utf8.count)
            && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "#") || $0 == UInt8(ascii: "*") }
    }
}
