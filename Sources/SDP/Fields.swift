/// The `<addrtype>` of `o=` and `c=` lines (RFC 8866 §5.2, §5.7). `IP4` and `IP6` are the
/// registered values; any other token is kept as written.
public struct SDPAddressType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The token as written, for example `IP4`.
    public let rawValue: String

    /// Wraps a token. It is not validated here; parsing validates what it reads, and
    /// ``SessionDescription/serialized(limits:)`` rejects a description that would not parse back.
    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    /// `IP4`.
    public static let ip4 = SDPAddressType(rawValue: "IP4")
    /// `IP6`.
    public static let ip6 = SDPAddressType(rawValue: "IP6")

    /// The token.
    public var description: String { rawValue }
}

/// Checks a unicast address (IP literal or FQDN for IP4/IP6, any visible non-`/` characters for
/// other address types).
func isValidUnicastAddress<S: StringProtocol>(_ address: S, addressType: SDPAddressType) -> Bool {
    if addressType == .ip4 || addressType == .ip6 {
        return Syntax.all(address, Syntax.isAddressChar)
    }
    return Syntax.all(address) { Syntax.isVisible($0) && $0 != UInt8(ascii: "/") }
}

/// The `o=` line: who created the session and its version (RFC 8866 §5.2).
///
/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`
public struct SDPOrigin: Hashable, Sendable, CustomStringConvertible {
    /// The originator's login, or `-` when there is none. Must not contain spaces.
    public var username: String
    /// The session identifier (numeric, RFC 8866 §5.2).
    public var sessionID: UInt64
    /// The session version; an offerer increments it for each new offer (RFC 3264 §8).
    public var sessionVersion: UInt64
    /// The network type; `IN` (Internet) is the only registered value.
    public var networkType: String
    /// The address type of ``address``.
    public var addressType: SDPAddressType
    /// The originating host's address or FQDN.
    public var address: String

    /// Creates an origin from its fields.
    public init(
        username: String = "-",
        sessionID: UInt64,
        sessionVersion: UInt64,
        networkType: String = "IN",
        addressType: SDPAddressType = .ip4,
        address: String
    ) {
        self.username = username
        self.sessionID = sessionID
        self.sessionVersion = sessionVersion
        self.networkType = networkType
        self.addressType = addressType
        self.address = address
    }

    /// Parses the value of an `o=` line (without `o=`).
    ///
    /// - Throws: ``SDPParseError/Code/invalidOrigin`` when a field is missing, a number is not a
    ///   decimal that fits 64 bits, or a token contains characters the grammar forbids.
    public init(parsing value: String) throws(SDPParseError) {
        try self.init(parsing: value[...])
    }

    init(parsing value: Substring) throws(SDPParseError) {
        guard let fields = Syntax.fields(value, maxFields: 6), fields.count == 6 else {
            throw SDPParseError(.invalidOrigin, reason: "o= needs six space-separated fields")
        }
        guard Syntax.all(fields[0], Syntax.isVisible) else {
            throw SDPParseError(.invalidOrigin, reason: "o= username must be visible characters")
        }
        guard let sessionID = Syntax.decimal(fields[1]) else {
            throw SDPParseError(.invalidOrigin, reason: "o= sess-id must be a decimal number below 2^64")
        }
        guard let sessionVersion = Syntax.decimal(fields[2]) else {
            throw SDPParseError(.invalidOrigin, reason: "o= sess-version must be a decimal number below 2^64")
        }
        guard Syntax.isToken(fields[3]), Syntax.isToken(fields[4]) else {
            throw SDPParseError(.invalidOrigin, reason: "o= nettype and addrtype must be tokens")
        }
        let addressType = SDPAddressType(rawValue: String(fields[4]))
        guard isValidUnicastAddress(fields[5], addressType: addressType) else {
            throw SDPParseError(.invalidOrigin, reason: "o= unicast-address is malformed")
        }
        self.init(
            username: String(fields[0]), sessionID: sessionID, sessionVersion: sessionVersion,
            networkType: String(fields[3]), addressType: addressType, address: String(fields[5]))
    }

    /// The value as it appears after `o=`.
    public var description: String {
        "\(username) \(sessionID) \(sessionVersion) \(networkType) \(addressType.rawValue) \(address)"
    }
}

/// Connection data: a `c=` line (RFC 8866 §5.7), also used for the optional address of `a=rtcp`.
///
/// `c=<nettype> <addrtype> <connection-address>` where an IPv4 multicast address may carry
/// `/<ttl>[/<number of addresses>]` and an IPv6 multicast address `/<number of addresses>`.
public struct ConnectionData: Hashable, Sendable, CustomStringConvertible {
    /// The network type; `IN` is the only registered value.
    public var networkType: String
    /// `IP4`, `IP6` or another registered token.
    public var addressType: SDPAddressType
    /// The address (IP literal or FQDN) without any `/ttl` or `/count` suffix.
    public var address: String
    /// The multicast TTL (IPv4 only, 0...255).
    public var ttl: UInt8?
    /// The number of consecutive multicast addresses (at least 1). A consumer that expands the
    /// range must still bound it.
    public var addressCount: UInt16?

    /// Creates connection data from its fields.
    public init(
        networkType: String = "IN",
        addressType: SDPAddressType = .ip4,
        address: String,
        ttl: UInt8? = nil,
        addressCount: UInt16? = nil
    ) {
        self.networkType = networkType
        self.addressType = addressType
        self.address = address
        self.ttl = ttl
        self.addressCount = addressCount
    }

    /// Parses the value of a `c=` line (without `c=`).
    ///
    /// - Throws: ``SDPParseError/Code/invalidConnection`` for a wrong field count, a malformed
    ///   address, a TTL above 255, a zero or oversized address count, or a suffix the address type
    ///   does not allow.
    public init(parsing value: String) throws(SDPParseError) {
        try self.init(parsing: value[...], allowMulticastSuffix: true)
    }

    init(parsing value: Substring, allowMulticastSuffix: Bool) throws(SDPParseError) {
        guard let fields = Syntax.fields(value, maxFields: 3), fields.count == 3 else {
            throw SDPParseError(.invalidConnection, reason: "connection data needs three space-separated fields")
        }
        try self.init(networkType: fields[0], addressType: fields[1], address: fields[2],
                      allowMulticastSuffix: allowMulticastSuffix)
    }

    init(networkType: Substring, addressType: Substring, address connectionAddress: Substring,
         allowMulticastSuffix: Bool) throws(SDPParseError) {
        guard Syntax.isToken(networkType), Syntax.isToken(addressType) else {
            throw SDPParseError(.invalidConnection, reason: "nettype and addrtype must be tokens")
        }
        let type = SDPAddressType(rawValue: String(addressType))
        var parts = [connectionAddress]
        if type == .ip4 || type == .ip6 {
            parts = Syntax.split(connectionAddress, on: UInt8(ascii: "/"))
        }
        guard isValidUnicastAddress(parts[0], addressType: type) else {
            throw SDPParseError(.invalidConnection, reason: "connection address is malformed")
        }
        var ttl: UInt8?
        var count: UInt16?
        if parts.count > 1 {
            guard allowMulticastSuffix else {
                throw SDPParseError(.invalidConnection, reason: "a unicast address cannot have a /suffix here")
            }
            if type == .ip4 {
                guard parts.count <= 3 else {
                    throw SDPParseError(.invalidConnection, reason: "IP4 address allows at most /ttl/count")
                }
                guard let value = Syntax.decimal(parts[1], maximum: 255) else {
                    throw SDPParseError(.invalidConnection, reason: "TTL must be 0...255")
                }
                ttl = UInt8(value)
                if parts.count == 3 {
                    guard let value = Syntax.decimal(parts[2], maximum: UInt64(UInt16.max)), value > 0 else {
                        throw SDPParseError(.invalidConnection, reason: "address count must be 1...65535")
                    }
                    count = UInt16(value)
                }
            } else {
                guard parts.count == 2 else {
                    throw SDPParseError(.invalidConnection, reason: "IP6 address allows only /count")
                }
                guard let value = Syntax.decimal(parts[1], maximum: UInt64(UInt16.max)), value > 0 else {
                    throw SDPParseError(.invalidConnection, reason: "address count must be 1...65535")
                }
                count = UInt16(value)
            }
        }
        self.init(networkType: String(networkType), addressType: type, address: String(parts[0]),
                  ttl: ttl, addressCount: count)
    }

    /// The value as it appears after `c=`.
    public var description: String {
        var text = "\(networkType) \(addressType.rawValue) \(address)"
        if let ttl { text += "/\(ttl)" }
        if let addressCount { text += "/\(addressCount)" }
        return text
    }
}

/// A `b=` line: proposed bandwidth (RFC 8866 §5.8).
public struct SDPBandwidth: Hashable, Sendable, CustomStringConvertible {
    /// The bandwidth type token, for example `AS`, `CT`, `TIAS` (RFC 3890), `RS`/`RR` (RFC 3556).
    public var type: String
    /// The bandwidth value (kilobits per second for `AS`/`CT`, bits per second for `TIAS`).
    public var value: UInt64

    /// Creates a bandwidth line.
    public init(type: String, value: UInt64) {
        self.type = type
        self.value = value
    }

    /// Parses the value of a `b=` line (without `b=`).
    ///
    /// - Throws: ``SDPParseError/Code/invalidBandwidth`` unless it is `<token>:<decimal>`.
    public init(parsing value: String) throws(SDPParseError) {
        try self.init(parsing: value[...])
    }

    init(parsing value: Substring) throws(SDPParseError) {
        guard let (type, number) = Syntax.splitOnce(value, at: UInt8(ascii: ":")), Syntax.isToken(type),
              let amount = Syntax.decimal(number)
        else {
            throw SDPParseError(.invalidBandwidth, reason: "b= must be <bwtype>:<decimal bandwidth>")
        }
        self.init(type: String(type), value: amount)
    }

    /// The value as it appears after `b=`.
    public var description: String { "\(type):\(value)" }
}

/// A time value with an optional unit letter, as used by `r=` and `z=` (RFC 8866 §5.10).
public struct SDPTypedTime: Hashable, Sendable, CustomStringConvertible {
    /// A unit suffix.
    public enum Unit: String, Hashable, Sendable {
        /// Days (`d`, 86400 s).
        case days = "d"
        /// Hours (`h`, 3600 s).
        case hours = "h"
        /// Minutes (`m`, 60 s).
        case minutes = "m"
        /// Seconds (`s`).
        case seconds = "s"

        var multiplier: UInt64 {
            switch self {
            case .days: return 86_400
            case .hours: return 3_600
            case .minutes: return 60
            case .seconds: return 1
            }
        }
    }

    /// The number as written.
    public var value: UInt64
    /// The unit letter, or `nil` for plain seconds.
    public var unit: Unit?

    /// Creates a typed time.
    public init(_ value: UInt64, unit: Unit? = nil) {
        self.value = value
        self.unit = unit
    }

    /// The duration in seconds, or `nil` on overflow.
    public var seconds: UInt64? {
        let (result, overflow) = value.multipliedReportingOverflow(by: unit?.multiplier ?? 1)
        return overflow ? nil : result
    }

    init?(parsing text: Substring) {
        var digits = text
        var unit: Unit?
        if let last = text.utf8.last, !Syntax.isDigit(last) {
            guard let parsed = Unit(rawValue: String(UnicodeScalar(last))) else { return nil }
            unit = parsed
            digits = text.dropLast()
        }
        guard let value = Syntax.decimal(digits) else { return nil }
        self.init(value, unit: unit)
    }

    /// The value as written: digits followed by the unit letter, if any.
    public var description: String { "\(value)\(unit?.rawValue ?? "")" }
}

/// An `r=` line: repeat times for the preceding `t=` line (RFC 8866 §5.10).
public struct SDPRepeatTime: Hashable, Sendable, CustomStringConvertible {
    /// How often the session repeats (non-zero).
    public var interval: SDPTypedTime
    /// How long each repetition lasts.
    public var activeDuration: SDPTypedTime
    /// Offsets of each repetition from the start time (at least one).
    public var offsets: [SDPTypedTime]

    /// Creates a repeat time.
    public init(interval: SDPTypedTime, activeDuration: SDPTypedTime, offsets: [SDPTypedTime]) {
        self.interval = interval
        self.activeDuration = activeDuration
        self.offsets = offsets
    }

    init(parsing value: Substring, limits: SDPParseLimits) throws(SDPParseError) {
        guard let fields = Syntax.fields(value, maxFields: limits.maxRepeatedFields + 2) else {
            throw SDPParseError(.invalidRepeat, reason: "r= fields must be separated by single spaces and within limits")
        }
        guard fields.count >= 3 else {
            throw SDPParseError(.invalidRepeat, reason: "r= needs an interval, a duration and at least one offset")
        }
        var times: [SDPTypedTime] = []
        for field in fields {
            guard let time = SDPTypedTime(parsing: field) else {
                throw SDPParseError(.invalidRepeat, reason: "r= values must be decimal numbers with an optional d/h/m/s unit")
            }
            times.append(time)
        }
        guard times[0].value > 0 else {
            throw SDPParseError(.invalidRepeat, reason: "r= repeat interval must be non-zero")
        }
        self.init(interval: times[0], activeDuration: times[1], offsets: Array(times[2...]))
    }

    /// The value as it appears after `r=`.
    public var description: String {
        ([interval, activeDuration] + offsets).map(\.description).joined(separator: " ")
    }
}

/// One adjustment of a `z=` line: from `time` on, shift repeat times by `offset` (RFC 8866 §5.11).
public struct SDPZoneAdjustment: Hashable, Sendable, CustomStringConvertible {
    /// When the adjustment takes effect (NTP seconds).
    public var time: UInt64
    /// The magnitude of the shift.
    public var offset: SDPTypedTime
    /// Whether the shift is negative (written with a leading `-`).
    public var isNegative: Bool

    /// Creates an adjustment.
    public init(time: UInt64, offset: SDPTypedTime, isNegative: Bool = false) {
        self.time = time
        self.offset = offset
        self.isNegative = isNegative
    }

    /// `<time> [-]<offset>`.
    public var description: String { "\(time) \(isNegative ? "-" : "")\(offset)" }

    static func parseList(_ value: Substring, limits: SDPParseLimits) throws(SDPParseError) -> [SDPZoneAdjustment] {
        guard let fields = Syntax.fields(value, maxFields: 2 * limits.maxRepeatedFields) else {
            throw SDPParseError(.invalidZoneAdjustment, reason: "z= fields must be separated by single spaces and within limits")
        }
        guard fields.count % 2 == 0 else {
            throw SDPParseError(.invalidZoneAdjustment, reason: "z= needs <time> <offset> pairs")
        }
        var result: [SDPZoneAdjustment] = []
        var index = 0
        while index < fields.count {
            guard let time = Syntax.decimal(fields[index]) else {
                throw SDPParseError(.invalidZoneAdjustment, reason: "z= adjustment time must be a decimal number")
            }
            var offsetText = fields[index + 1]
            var negative = false
            if offsetText.utf8.first == UInt8(ascii: "-") {
                negative = true
                offsetText = offsetText.dropFirst()
            }
            guard let offset = SDPTypedTime(parsing: offsetText) else {
                throw SDPParseError(.invalidZoneAdjustment, reason: "z= offset must be a typed time")
            }
            result.append(SDPZoneAdjustment(time: time, offset: offset, isNegative: negative))
            index += 2
        }
        return result
    }
}

/// A time description: one `t=` line with its `r=` lines and optional `z=` line (RFC 8866 §5.9).
///
/// RFC 4566 placed `z=` after the last time description; RFC 8866 places it inside the time
/// description. Both spellings parse; a `z=` attaches to the `t=` it follows.
public struct SDPTiming: Hashable, Sendable {
    /// Start time in NTP seconds; 0 means unbounded/permanent.
    public var start: UInt64
    /// Stop time in NTP seconds; 0 means unbounded.
    public var stop: UInt64
    /// The `r=` lines.
    public var repeats: [SDPRepeatTime]
    /// The `z=` adjustments, empty when there is no `z=` line.
    public var zoneAdjustments: [SDPZoneAdjustment]

    /// Creates a time description; `SDPTiming()` is the usual `t=0 0`.
    public init(start: UInt64 = 0, stop: UInt64 = 0, repeats: [SDPRepeatTime] = [],
                zoneAdjustments: [SDPZoneAdjustment] = []) {
        self.start = start
        self.stop = stop
        self.repeats = repeats
        self.zoneAdjustments = zoneAdjustments
    }

    init(parsing value: Substring) throws(SDPParseError) {
        guard let fields = Syntax.fields(value, maxFields: 2), fields.count == 2,
              let start = Syntax.decimal(fields[0]), let stop = Syntax.decimal(fields[1])
        else {
            throw SDPParseError(.invalidTiming, reason: "t= must be <start-time> <stop-time> in decimal")
        }
        self.init(start: start, stop: stop)
    }
}

/// A `k=` line (RFC 8866 §5.12). Obsolete and insecure (it carries keys in clear text); it is
/// parsed so it can be detected and refused, and it plays no part in media classification.
public struct SDPEncryptionKey: Hashable, Sendable, CustomStringConvertible {
    /// The method token: `prompt`, `clear`, `base64`, `uri` or an extension.
    public var method: String
    /// Everything after the first `:`, if present.
    public var value: String?

    /// Creates a key line.
    public init(method: String, value: String? = nil) {
        self.method = method
        self.value = value
    }

    init(parsing text: Substring) throws(SDPParseError) {
        if let (method, rest) = Syntax.splitOnce(text, at: UInt8(ascii: ":")) {
            guard Syntax.isToken(method), !rest.isEmpty else {
                throw SDPParseError(.invalidKey, reason: "k= must be <method> or <method>:<value>")
            }
            self.init(method: String(method), value: String(rest))
        } else {
            guard Syntax.isToken(text) else {
                throw SDPParseError(.invalidKey, reason: "k= method must be a token")
            }
            self.init(method: String(text))
        }
    }

    /// The value as it appears after `k=`. It can contain a clear-text key, so do not log it.
    public func serialized() -> String {
        if let value { return "\(method):\(value)" }
        return method
    }

    /// The method with any value redacted, safe for logs.
    public var description: String {
        value == nil ? method : "\(method):<redacted>"
    }
}
