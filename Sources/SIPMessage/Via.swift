/// One Via value (RFC 3261 §20.42): `SIP/2.0/UDP host:port;branch=...;received=...;rport`.
public struct Via: Hashable, Sendable, CustomStringConvertible {
    /// The `rport` parameter (RFC 3581): absent, requested (empty), or filled in by a server.
    public enum RPort: Hashable, Sendable {
        case absent
        case requested
        case value(UInt16)
    }

    /// Protocol name, normally `SIP`.
    public var protocolName: String
    /// Protocol version, normally `2.0`.
    public var protocolVersion: String
    /// Transport, uppercased (`UDP`, `TCP`, `TLS`, `SCTP`, `WS`, `WSS`, or unknown tokens).
    public var transport: String
    /// The sent-by host.
    public var host: SIPHost
    /// The sent-by port, if given.
    public var port: UInt16?
    /// The parameters, as written.
    public var parameters: [SIPParameter]

    /// Creates a Via value.
    public init(transport: String, host: SIPHost, port: UInt16?, parameters: [SIPParameter]) {
        self.protocolName = "SIP"
        self.protocolVersion = "2.0"
        // ASCII only: transport is a token, so no Unicode case mapping is needed (or wanted).
        switch transport {
        case "UDP", "TCP", "TLS", "SCTP", "WS", "WSS": self.transport = transport
        default:
            self.transport = String(decoding: transport.utf8.map { $0 &- 0x61 < 26 ? $0 - 0x20 : $0 }, as: UTF8.self)
        }
        self.host = host
        self.port = port
        self.parameters = parameters
    }

    /// The `branch` parameter (RFC 3261 §8.1.1.7).
    public var branch: String? { parameters.value(named: "branch") }
    /// Whether the branch carries the RFC 3261 magic cookie `z9hG4bK`.
    public var hasRFC3261Branch: Bool { branch?.hasPrefix("z9hG4bK") ?? false }
    /// The `received` parameter (RFC 3261 §18.2.1).
    public var received: SIPHost? { parameters.value(named: "received").flatMap(SIPHost.parseAddress) }
    /// The `maddr` parameter.
    public var maddr: String? { parameters.value(named: "maddr") }
    /// The `ttl` parameter, 0-255.
    public var ttl: UInt8? { parameters.value(named: "ttl").flatMap { UInt8($0) } }
    /// The `rport` parameter (RFC 3581 §4).
    public var rport: RPort {
        guard let value = parameters.value(named: "rport") else { return .absent }
        if value.isEmpty { return .requested }
        return UInt16(value).map(RPort.value) ?? .absent
    }

    /// Parses a single Via value.
    /// - Throws: ``SIPParseError/Code/malformedVia``.
    public init(_ text: String) throws(SIPParseError) {
        self = try withScanner(text) { (scanner) throws(SIPParseError) -> Via in
            let via = try Via.parse(&scanner)
            try scanner.expectEnd(error: .malformedVia)
            return via
        }
    }

    static func parse(_ scanner: inout SIPValueScanner) throws(SIPParseError) -> Via {
        func fail(_ reason: String) -> SIPParseError { SIPParseError(.malformedVia, reason, offset: scanner.position) }
        scanner.skipLWS()
        let name: Range<Int>
        let version: Range<Int>
        if scanner.end - scanner.position > 8, SIPGrammar.equalsLowercase(
            scanner.bytes, scanner.position..<scanner.position + 8, "sip/2.0/")
        {
            // The usual spelling, without the LWS the grammar allows around the slashes.
            name = scanner.position..<scanner.position + 3
            version = scanner.position + 4..<scanner.position + 7
            scanner.position += 8
        } else {
            guard let parsedName = scanner.token(), scanner.consumeSeparator(UInt8(ascii: "/")),
                let parsedVersion = scanner.token(), scanner.consumeSeparator(UInt8(ascii: "/"))
            else { throw fail("malformed sent-protocol") }
            name = parsedName
            version = parsedVersion
        }
        guard let transport = scanner.token() else { throw fail("malformed sent-protocol") }
        guard scanner.skipLWS() else { throw fail("no whitespace before sent-by") }
        let hostStart = scanner.position
        if scanner.peek == UInt8(ascii: "[") {
            while let byte = scanner.peek, byte != UInt8(ascii: "]") { scanner.position += 1 }
            guard scanner.consume(UInt8(ascii: "]")) else { throw fail("unterminated IPv6 reference") }
        } else {
            var index = scanner.position
            while index < scanner.end, SIPGrammar.isAlphanum(scanner.bytes[index]) || scanner.bytes[index] == UInt8(ascii: "-")
                || scanner.bytes[index] == UInt8(ascii: ".")
            {
                index += 1
            }
            scanner.position = index
        }
        let host = try SIPHost.parse(scanner.bytes, hostStart..<scanner.position)
        var port: UInt16? = nil
        if scanner.consumeSeparator(UInt8(ascii: ":")) {
            guard case .some(.some(let value)) = scanner.number(maxValue: 65535) else { throw fail("invalid port") }
            port = UInt16(value)
        }
        let parameters = try scanner.genericParameters(error: .malformedVia)
        var via = Via(transport: scanner.string(transport), host: host, port: port, parameters: parameters)
        via.protocolName = scanner.string(name)
        via.protocolVersion = scanner.string(version)
        guard via.protocolName.caseInsensitiveEquals("SIP") else { throw fail("protocol is not SIP") }
        // Known parameters must be well-formed (RFC 3261 §20.42, RFC 3581); one pass over them.
        for parameter in parameters {
            switch parameter.name.utf8.count {
            case 3 where parameter.name.caseInsensitiveEquals("ttl"):
                guard let ttl = parameter.value, UInt8(ttl) != nil else { throw fail("ttl out of range") }
            case 5 where parameter.name.caseInsensitiveEquals("rport"):
                if let rport = parameter.value, !rport.isEmpty, UInt16(rport) == nil { throw fail("invalid rport") }
            case 6 where parameter.name.caseInsensitiveEquals("branch"):
                guard let branch = parameter.value, !branch.isEmpty else { throw fail("empty branch") }
            case 8 where parameter.name.caseInsensitiveEquals("received"):
                guard let received = parameter.value, SIPHost.parseAddress(received) != nil else {
                    throw fail("received is not an IP address")
                }
            default:
                break
            }
        }
        return via
    }

    public var description: String {
        var text = "\(protocolName)/\(protocolVersion)/\(transport) \(host)"
        if let port { text += ":\(port)" }
        return text + parameters.serialized
    }
}

/// The CSeq header (RFC 3261 §20.16): a sequence number below 2^31 and a method.
public struct CSeq: Hashable, Sendable, CustomStringConvertible {
    /// The sequence number, below 2^31 (RFC 3261 §8.1.1.5).
    public var sequenceNumber: UInt32
    /// The method.
    public var method: SIPMethod

    /// Creates a CSeq.
    public init(sequenceNumber: UInt32, method: SIPMethod) {
        self.sequenceNumber = sequenceNumber
        self.method = method
    }

    static func parse(_ scanner: inout SIPValueScanner) throws(SIPParseError) -> CSeq {
        scanner.skipLWS()
        guard case .some(let parsed) = scanner.number(maxValue: UInt64(Int32.max)) else {
            throw SIPParseError(.malformedCSeq, "CSeq does not start with a number")
        }
        guard let number = parsed else {
            throw SIPParseError(.malformedCSeq, "CSeq number is not below 2^31 (RFC 3261 §8.1.1.5)")
        }
        guard scanner.skipLWS(), let method = scanner.token() else {
            throw SIPParseError(.malformedCSeq, "CSeq method missing")
        }
        try scanner.expectEnd(error: .malformedCSeq)
        return CSeq(sequenceNumber: UInt32(number), method: SIPMethod(scanner.string(method)))
    }

    public var description: String { "\(sequenceNumber) \(method)" }
}
