/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]` (RFC 8866 §6.6).
public struct SDPRTPMap: Hashable, Sendable, CustomStringConvertible {
    /// The RTP payload type, 0...127.
    public var payloadType: UInt8
    /// The encoding name as written, for example `PCMU`, `opus`, `telephone-event`. Compare it
    /// case-insensitively (media subtype names are case-insensitive, RFC 6838 §4.2).
    public var encodingName: String
    /// The RTP clock rate in Hz (positive).
    public var clockRate: UInt32
    /// The encoding parameters: the channel count for audio (RFC 8866 §6.6).
    public var encodingParameters: UInt32?

    /// Creates an rtpmap.
    public init(payloadType: UInt8, encodingName: String, clockRate: UInt32, encodingParameters: UInt32? = nil) {
        self.payloadType = payloadType
        self.encodingName = encodingName
        self.clockRate = clockRate
        self.encodingParameters = encodingParameters
    }

    /// The audio channel count: ``encodingParameters``, or 1 when absent (RFC 8866 §6.6).
    public var channels: UInt32 { encodingParameters ?? 1 }

    /// Parses an rtpmap value (the text after `a=rtpmap:`).
    ///
    /// - Throws: ``SDPParseError/Code/invalidRTPMap`` unless the payload type is 0...127, the
    ///   encoding name a token, and the clock rate and encoding parameters positive 32-bit decimals.
    public init(parsing value: String) throws(SDPParseError) {
        guard let fields = Syntax.fields(value, maxFields: 2), fields.count == 2,
              let payloadType = Syntax.decimal(fields[0], maximum: 127)
        else {
            throw SDPParseError(.invalidRTPMap, reason: "rtpmap must be <payload type 0-127> <encoding>/<clock rate>")
        }
        let parts = Syntax.split(fields[1], on: UInt8(ascii: "/"))
        guard parts.count == 2 || parts.count == 3, Syntax.isToken(parts[0]),
              let clockRate = Syntax.decimal(parts[1], maximum: UInt64(UInt32.max)), clockRate > 0
        else {
            throw SDPParseError(.invalidRTPMap, reason: "rtpmap encoding must be <name>/<positive clock rate>[/<parameters>]")
        }
        var parameters: UInt32?
        if parts.count == 3 {
            guard let value = Syntax.decimal(parts[2], maximum: UInt64(UInt32.max)), value > 0 else {
                throw SDPParseError(.invalidRTPMap, reason: "rtpmap encoding parameters must be a positive number")
            }
            parameters = UInt32(value)
        }
        self.init(payloadType: UInt8(payloadType), encodingName: String(parts[0]), clockRate: UInt32(clockRate),
                  encodingParameters: parameters)
    }

    /// The attribute value.
    public var description: String {
        var text = "\(payloadType) \(encodingName)/\(clockRate)"
        if let encodingParameters { text += "/\(encodingParameters)" }
        return text
    }
}

/// One `name[=value]` entry of a `;`-separated fmtp parameter list.
public struct SDPFormatParameter: Hashable, Sendable {
    /// The parameter name, for example `profile-level-id`.
    public var name: String
    /// The value after `=`, if any.
    public var value: String?

    /// Creates a parameter.
    public init(name: String, value: String? = nil) {
        self.name = name
        self.value = value
    }
}

/// `a=fmtp:<format> <format specific parameters>` (RFC 8866 §6.15).
public struct SDPFormatParameters: Hashable, Sendable, CustomStringConvertible {
    /// The format the parameters apply to (an RTP payload type number for RTP media).
    public var format: String
    /// The parameters verbatim; their syntax belongs to the format.
    public var parameters: String

    /// Creates fmtp parameters.
    public init(format: String, parameters: String) {
        self.format = format
        self.parameters = parameters
    }

    /// Parses an fmtp value (the text after `a=fmtp:`).
    ///
    /// - Throws: ``SDPParseError/Code/invalidFormatParameters`` unless it is a format token, one
    ///   space and non-empty parameters.
    public init(parsing value: String) throws(SDPParseError) {
        guard let (format, parameters) = Syntax.splitOnce(value[...], at: 0x20), Syntax.isToken(format),
              !parameters.isEmpty
        else {
            throw SDPParseError(.invalidFormatParameters, reason: "fmtp must be <format> <parameters>")
        }
        self.init(format: String(format), parameters: String(parameters))
    }

    /// The payload type when ``format`` is a number 0...127.
    public var payloadType: UInt8? {
        Syntax.decimal(format, maximum: 127).map { UInt8($0) }
    }

    /// The parameters split by the `name=value;name=value` convention most codecs use, with
    /// spaces around entries trimmed. Formats that do not use
    /// this convention (telephone-event, for one) yield one entry with the whole text as its name.
    public var parameterList: [SDPFormatParameter] {
        Syntax.split(parameters[...], on: UInt8(ascii: ";")).compactMap { entry in
            let trimmed = entry.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()
            let text = String(trimmed)
            guard !text.isEmpty else { return nil }
            if let (name, value) = Syntax.splitOnce(text[...], at: UInt8(ascii: "=")) {
                return SDPFormatParameter(name: String(name), value: String(value))
            }
            return SDPFormatParameter(name: text)
        }
    }

    /// The value of the named parameter in ``parameterList`` (names compared case-insensitively).
    public func parameter(named name: String) -> String? {
        let wanted = Syntax.asciiLowercased(name)
        return parameterList.first { Syntax.asciiLowercased($0.name) == wanted }?.value
    }

    /// The attribute value.
    public var description: String { "\(format) \(parameters)" }
}

/// The media direction attributes (RFC 8866 §6.7; offer/answer rules in RFC 3264 §6.1).
public enum SDPDirection: String, Hashable, Sendable, CaseIterable {
    /// `a=sendrecv`, the default when no direction attribute is present (RFC 8866 §6.7.2).
    case sendrecv
    /// `a=sendonly` (RFC 8866 §6.7.3).
    case sendonly
    /// `a=recvonly` (RFC 8866 §6.7.1).
    case recvonly
    /// `a=inactive` (RFC 8866 §6.7.4).
    case inactive

    /// Whether this side sends media.
    public var sends: Bool { self == .sendrecv || self == .sendonly }
    /// Whether this side receives media.
    public var receives: Bool { self == .sendrecv || self == .recvonly }
}

/// `a=rtcp:<port> [<nettype> <addrtype> <connection-address>]` (RFC 3605 §2.1).
public struct SDPRTCPAttribute: Hashable, Sendable, CustomStringConvertible {
    /// The RTCP port.
    public var port: UInt16
    /// The RTCP address, when it differs from the media's.
    public var connection: ConnectionData?

    /// Creates an rtcp attribute.
    public init(port: UInt16, connection: ConnectionData? = nil) {
        self.port = port
        self.connection = connection
    }

    /// Parses an rtcp value (the text after `a=rtcp:`).
    ///
    /// - Throws: ``SDPParseError/Code/invalidRTCP`` unless it is a port 0...65535 optionally
    ///   followed by a unicast network address.
    public init(parsing value: String) throws(SDPParseError) {
        guard let fields = Syntax.fields(value, maxFields: 4), fields.count == 1 || fields.count == 4,
              let port = Syntax.decimal(fields[0], maximum: UInt64(UInt16.max))
        else {
            throw SDPParseError(.invalidRTCP, reason: "rtcp must be <port> [<nettype> <addrtype> <address>]")
        }
        var connection: ConnectionData?
        if fields.count == 4 {
            do {
                connection = try ConnectionData(networkType: fields[1], addressType: fields[2], address: fields[3],
                                                allowMulticastSuffix: false)
            } catch {
                throw SDPParseError(.invalidRTCP, reason: "rtcp address is malformed")
            }
        }
        self.init(port: UInt16(port), connection: connection)
    }

    /// The attribute value.
    public var description: String {
        guard let connection else { return "\(port)" }
        return "\(port) \(connection)"
    }
}

/// Packet time values (`a=ptime`, `a=maxptime`, RFC 8866 §6.4, §6.5).
enum PacketTime {
    /// Parses a positive `1*DIGIT ["." 1*DIGIT]` millisecond value (at most 6 digits on each side,
    /// so no absurd values and no `inf`/`nan`/exponent spellings).
    static func parse(_ value: String) throws(SDPParseError) -> Double {
        let parts = Syntax.split(value[...], on: UInt8(ascii: "."))
        guard parts.count <= 2,
              parts.allSatisfy({ Syntax.all($0, Syntax.isDigit) && $0.utf8.count <= 6 }),
              let milliseconds = Double(value), milliseconds > 0
        else {
            throw SDPParseError(.invalidPacketTime, reason: "packet time must be a positive number of milliseconds")
        }
        return milliseconds
    }
}

/// An RFC 4733 telephone-event payload format: an `a=rtpmap:<pt> telephone-event/<rate>` and the
/// event list from its `a=fmtp` (for example `0-15`, the DTMF events of RFC 4733 §3.2).
public struct SDPTelephoneEvent: Hashable, Sendable {
    /// The payload type.
    public var payloadType: UInt8
    /// The RTP clock rate (8000 for narrowband audio).
    public var clockRate: UInt32
    /// The advertised event ranges, or `nil` when there is no `a=fmtp` for the payload type.
    public var events: [ClosedRange<UInt8>]?

    /// Creates a telephone-event description.
    public init(payloadType: UInt8, clockRate: UInt32, events: [ClosedRange<UInt8>]? = nil) {
        self.payloadType = payloadType
        self.clockRate = clockRate
        self.events = events
    }

    /// ``events``, or `0-15` (the DTMF events, RFC 4733 §3.2) when none are listed, which is what
    /// deployed stacks assume.
    public var supportedEvents: [ClosedRange<UInt8>] { events ?? [0...15] }

    /// Whether `event` is in ``supportedEvents``.
    public func supports(_ event: UInt8) -> Bool {
        supportedEvents.contains { $0.contains(event) }
    }

    /// Parses an event list such as `0-15,66,70-71` (numbers 0...255, ranges ascending).
    ///
    /// - Throws: ``SDPParseError/Code/invalidFormatParameters`` for anything else.
    public static func parseEventList(_ text: String) throws(SDPParseError) -> [ClosedRange<UInt8>] {
        var ranges: [ClosedRange<UInt8>] = []
        for entry in Syntax.split(text[...], on: UInt8(ascii: ",")) {
            let bounds = Syntax.split(entry, on: UInt8(ascii: "-"))
            guard bounds.count <= 2, let low = Syntax.decimal(bounds[0], maximum: 255),
                  let high = bounds.count == 2 ? Syntax.decimal(bounds[1], maximum: 255) : low,
                  low <= high
            else {
                throw SDPParseError(.invalidFormatParameters, reason: "telephone-event list must be numbers or ranges 0-255 separated by commas")
            }
            ranges.append(UInt8(low)...UInt8(high))
        }
        return ranges
    }

    /// The event list rendered for an fmtp (`0-15,66`).
    public var eventListDescription: String {
        supportedEvents.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
            .joined(separator: ",")
    }
}

extension MediaDescription {
    /// The `a=rtpmap` values, in order (RFC 8866 §6.6).
    public var rtpMaps: [SDPRTPMap] {
        attributes.compactMap { attribute in
            guard attribute.name == SDPAttributeName.rtpmap, let value = attribute.value else { return nil }
            return try? SDPRTPMap(parsing: value)
        }
    }

    /// The `a=rtpmap` for a payload type.
    public func rtpMap(for payloadType: UInt8) -> SDPRTPMap? {
        rtpMaps.first { $0.payloadType == payloadType }
    }

    /// The `a=fmtp` values, in order (RFC 8866 §6.15).
    public var formatParameters: [SDPFormatParameters] {
        attributes.compactMap { attribute in
            guard attribute.name == SDPAttributeName.fmtp, let value = attribute.value else { return nil }
            return try? SDPFormatParameters(parsing: value)
        }
    }

    /// The `a=fmtp` for a payload type.
    public func fmtp(for payloadType: UInt8) -> SDPFormatParameters? {
        fmtp(forFormat: String(payloadType))
    }

    /// The `a=fmtp` for a format token (for non-RTP media such as `t38`).
    public func fmtp(forFormat format: String) -> SDPFormatParameters? {
        formatParameters.first { $0.format == format }
    }

    /// The `a=rtcp` value (RFC 3605 §2.1).
    public var rtcp: SDPRTCPAttribute? {
        guard let value = firstAttribute(named: SDPAttributeName.rtcp)?.value else { return nil }
        return try? SDPRTCPAttribute(parsing: value)
    }

    /// Whether `a=rtcp-mux` is present (RFC 5761 §5.1.1).
    public var rtcpMux: Bool {
        attributes.contains { $0.name == SDPAttributeName.rtcpMux && $0.value == nil }
    }

    /// `a=ptime` in milliseconds (RFC 8866 §6.4).
    public var ptime: Double? {
        guard let value = firstAttribute(named: SDPAttributeName.ptime)?.value else { return nil }
        return try? PacketTime.parse(value)
    }

    /// `a=maxptime` in milliseconds (RFC 8866 §6.5).
    public var maxptime: Double? {
        guard let value = firstAttribute(named: SDPAttributeName.maxptime)?.value else { return nil }
        return try? PacketTime.parse(value)
    }

    /// Whether `a=bundle-only` is present (RFC 8843): a port of 0 then means "bundled", not
    /// "disabled".
    public var isBundleOnly: Bool {
        attributes.contains { $0.name == SDPAttributeName.bundleOnly && $0.value == nil }
    }

    /// Every telephone-event payload format (RFC 4733): rtpmaps whose encoding name is
    /// `telephone-event` (case-insensitively), with their fmtp event lists. The misspelling
    /// `telephone-events` printed in RFC 3264 §10.1 is not the registered name and is not matched.
    public var telephoneEvents: [SDPTelephoneEvent] {
        rtpMaps.compactMap { map in
            guard Syntax.equalsIgnoringCase(map.encodingName, "telephone-event") else { return nil }
            var events: [ClosedRange<UInt8>]?
            if let fmtp = fmtp(for: map.payloadType) {
                events = try? SDPTelephoneEvent.parseEventList(fmtp.parameters)
            }
            return SDPTelephoneEvent(payloadType: map.payloadType, clockRate: map.clockRate, events: events)
        }
    }

    /// The first telephone-event payload format, if any.
    public var telephoneEvent: SDPTelephoneEvent? { telephoneEvents.first }
}
