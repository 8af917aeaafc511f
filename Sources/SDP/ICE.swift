/// Validation of `a=ice-ufrag` / `a=ice-pwd` (RFC 8839 §5.4).
enum ICECredentials {
    /// `ufrag = 4*256ice-char`.
    static func isValidUfrag(_ value: String) -> Bool {
        (4...256).contains(value.utf8.count) && Syntax.all(value, Syntax.isICEChar)
    }

    /// `password = 22*256ice-char`.
    static func isValidPassword(_ value: String) -> Bool {
        (22...256).contains(value.utf8.count) && Syntax.all(value, Syntax.isICEChar)
    }
}

/// An ICE candidate type (RFC 8445 §5.1.1, `cand-type` of RFC 8839 §5.1).
public enum ICECandidateType: Hashable, Sendable, CustomStringConvertible {
    /// A host candidate.
    case host
    /// A server-reflexive candidate.
    case serverReflexive
    /// A peer-reflexive candidate.
    case peerReflexive
    /// A relayed (TURN) candidate.
    case relayed
    /// An extension token, as written.
    case other(String)

    /// Maps a token (`host`, `srflx`, `prflx`, `relay`, ...) to its case.
    public init(token: String) {
        switch token {
        case "host": self = .host
        case "srflx": self = .serverReflexive
        case "prflx": self = .peerReflexive
        case "relay": self = .relayed
        default: self = .other(token)
        }
    }

    /// The token.
    public var token: String {
        switch self {
        case .host: return "host"
        case .serverReflexive: return "srflx"
        case .peerReflexive: return "prflx"
        case .relayed: return "relay"
        case .other(let token): return token
        }
    }

    /// The token.
    public var description: String { token }
}

/// One `<name> <value>` extension pair at the end of a candidate line (RFC 8839 §5.1), for
/// example `generation 0` or `tcptype active` (RFC 6544).
public struct ICECandidateExtension: Hashable, Sendable {
    /// The extension name (a token).
    public var name: String
    /// The extension value (visible characters).
    public var value: String

    /// Creates an extension pair.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// `a=candidate` (RFC 8839 §5.1; RFC 5245 §15.1 used the same grammar):
/// `<foundation> <component-id> <transport> <priority> <connection-address> <port> typ <cand-type>
/// [raddr <address>] [rport <port>] *(<extension-name> <extension-value>)`.
public struct ICECandidate: Hashable, Sendable, CustomStringConvertible {
    /// The foundation, 1-32 ice-chars.
    public var foundation: String
    /// The component: 1 for RTP, 2 for RTCP (1...256).
    public var componentID: UInt16
    /// The transport as written (`UDP`, `udp`, `TCP`, ...).
    public var transport: String
    /// The priority, 1...2^31-1 (RFC 8445 §5.1.2).
    public var priority: UInt32
    /// The candidate address (IP literal, or FQDN such as an mDNS `.local` name).
    public var address: String
    /// The candidate port.
    public var port: UInt16
    /// The candidate type.
    public var type: ICECandidateType
    /// `raddr`: the related address, for reflexive and relayed candidates.
    public var relatedAddress: String?
    /// `rport`: the related port.
    public var relatedPort: UInt16?
    /// The extension pairs, in order.
    public var extensions: [ICECandidateExtension]

    /// Creates a candidate.
    public init(
        foundation: String, componentID: UInt16, transport: String, priority: UInt32,
        address: String, port: UInt16, type: ICECandidateType,
        relatedAddress: String? = nil, relatedPort: UInt16? = nil, extensions: [ICECandidateExtension] = []
    ) {
        self.foundation = foundation
        self.componentID = componentID
        self.transport = transport
        self.priority = priority
        self.address = address
        self.port = port
        self.type = type
        self.relatedAddress = relatedAddress
        self.relatedPort = relatedPort
        self.extensions = extensions
    }

    /// Whether the transport is UDP (case-insensitively).
    public var isUDP: Bool { Syntax.equalsIgnoringCase(transport, "udp") }

    /// The value of the named extension (for example `tcptype`), if present.
    public func extensionValue(named name: String) -> String? {
        extensions.first { $0.name == name }?.value
    }

    /// Parses a candidate value (the text after `a=candidate:`).
    ///
    /// - Throws: ``SDPParseError/Code/invalidCandidate`` for a short line, out-of-range component,
    ///   priority or port, a malformed address, a missing `typ`, or an unpaired extension.
    public init(parsing value: String) throws(SDPParseError) {
        guard let fields = Syntax.fields(value), fields.count >= 8 else {
            throw SDPParseError(.invalidCandidate, reason: "candidate needs at least eight single-space-separated fields")
        }
        guard fields[0].utf8.count <= 32, Syntax.all(fields[0], Syntax.isICEChar) else {
            throw SDPParseError(.invalidCandidate, reason: "candidate foundation must be 1-32 ice-chars")
        }
        guard fields[1].utf8.count <= 3, let component = Syntax.decimal(fields[1], maximum: 256), component > 0 else {
            throw SDPParseError(.invalidCandidate, reason: "candidate component-id must be 1...256")
        }
        guard Syntax.isToken(fields[2]) else {
            throw SDPParseError(.invalidCandidate, reason: "candidate transport must be a token")
        }
        guard fields[3].utf8.count <= 10, let priority = Syntax.decimal(fields[3], maximum: UInt64(Int32.max)),
              priority > 0
        else {
            throw SDPParseError(.invalidCandidate, reason: "candidate priority must be 1...2^31-1")
        }
        guard Syntax.all(fields[4], Syntax.isAddressChar) else {
            throw SDPParseError(.invalidCandidate, reason: "candidate address is malformed")
        }
        guard let port = Syntax.decimal(fields[5], maximum: UInt64(UInt16.max)) else {
            throw SDPParseError(.invalidCandidate, reason: "candidate port must be 0...65535")
        }
        guard fields[6] == "typ", Syntax.isToken(fields[7]) else {
            throw SDPParseError(.invalidCandidate, reason: "candidate needs 'typ <type>' after the port")
        }
        var index = 8
        var relatedAddress: String?
        var relatedPort: UInt16?
        if index + 1 < fields.count, fields[index] == "raddr" {
            guard Syntax.all(fields[index + 1], Syntax.isAddressChar) else {
                throw SDPParseError(.invalidCandidate, reason: "candidate raddr is malformed")
            }
            relatedAddress = String(fields[index + 1])
            index += 2
        }
        if index + 1 < fields.count, fields[index] == "rport" {
            guard let value = Syntax.decimal(fields[index + 1], maximum: UInt64(UInt16.max)) else {
                throw SDPParseError(.invalidCandidate, reason: "candidate rport must be 0...65535")
            }
            relatedPort = UInt16(value)
            index += 2
        }
        guard (fields.count - index) % 2 == 0 else {
            throw SDPParseError(.invalidCandidate, reason: "candidate extensions must be <name> <value> pairs")
        }
        var extensions: [ICECandidateExtension] = []
        while index < fields.count {
            guard Syntax.isToken(fields[index]), Syntax.all(fields[index + 1], Syntax.isVisible) else {
                throw SDPParseError(.invalidCandidate, reason: "candidate extension name must be a token")
            }
            extensions.append(ICECandidateExtension(name: String(fields[index]), value: String(fields[index + 1])))
            index += 2
        }
        self.init(
            foundation: String(fields[0]), componentID: UInt16(component), transport: String(fields[2]),
            priority: UInt32(priority), address: String(fields[4]), port: UInt16(port),
            type: ICECandidateType(token: String(fields[7])), relatedAddress: relatedAddress,
            relatedPort: relatedPort, extensions: extensions)
    }

    /// The attribute value.
    public var description: String {
        var text = "\(foundation) \(componentID) \(transport) \(priority) \(address) \(port) typ \(type.token)"
        if let relatedAddress { text += " raddr \(relatedAddress)" }
        if let relatedPort { text += " rport \(relatedPort)" }
        for pair in extensions {
            text += " \(pair.name) \(pair.value)"
        }
        return text
    }
}

extension MediaDescription {
    /// The `a=candidate` lines, in order (RFC 8839 §5.1).
    public var candidates: [ICECandidate] {
        attributes.compactMap { attribute in
            guard attribute.name == SDPAttributeName.candidate, let value = attribute.value else { return nil }
            return try? ICECandidate(parsing: value)
        }
    }
}
