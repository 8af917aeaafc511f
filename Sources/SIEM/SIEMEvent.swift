import AuditTrail

/// One event for a SIEM, made from an audit record: what happened (the record's action), how severe it is, who and
/// what it concerned, and the record's place in the trail (so that a SIEM's copy can be checked against it).
public struct SIEMEvent: Hashable, Sendable {
    /// The audit record's sequence number.
    public var sequence: Int64
    /// Wall-clock milliseconds since 1970.
    public var time: Int64
    /// The action: `security.auth-failure`, `ban.add`, `user.add`, ...
    public var name: String
    /// 0 (informational) to 10 (critical), the CEF scale.
    public var severity: Int
    /// Who: `edge`, or the CLI's `user@host`.
    public var actor: String
    public var subject: String
    public var succeeded: Bool
    /// Why, or what happened, in words (from the record's `reason` detail or its failure).
    public var message: String?
    /// The source address of a security event.
    public var source: String?
    /// The account of a security event.
    public var account: String?

    public init(sequence: Int64, time: Int64, name: String, severity: Int, actor: String, subject: String,
                succeeded: Bool = true, message: String? = nil, source: String? = nil, account: String? = nil) {
        self.sequence = sequence
        self.time = time
        self.name = name
        self.severity = min(10, max(0, severity))
        self.actor = actor
        self.subject = subject
        self.succeeded = succeeded
        self.message = message
        self.source = source
        self.account = account
    }

    /// The event for an audit record's content.
    public init(sequence: Int64, content: AuditContent) {
        let failure: String? = if case .failure(let reason) = content.outcome { reason } else { nil }
        self.init(sequence: sequence, time: content.time, name: content.action.rawValue,
                  severity: Self.severity(of: content.action) + (failure == nil ? 0 : 2), actor: content.actor.name,
                  subject: content.subject, succeeded: failure == nil, message: content.details["reason"] ?? failure,
                  source: content.details["source"], account: content.details["account"])
    }

    /// How severe an action is (CEF's 0 to 10): attacks that were stopped in the middle, what changes access or
    /// evidence in the middle-high, routine administration low.
    public static func severity(of action: AuditAction) -> Int {
        switch action.rawValue {
        case "security.fraud-alert", "security.caller-id-spoofing", "security.media-not-encrypted": 9
        case "security.ban", "security.digest-replay", "security.digest-downgrade-attempt", "security.overload",
             "security.media-downgrade-attempt", "security.media-address-refused", "security.identity-replayed": 7
        case "security.scanner-detected", "security.acl-denied", "security.geo-denied", "security.media-anomaly",
             "security.tls-handshake-failure", "security.identity-failed", "security.turn-peer-denied": 6
        case "audit.erase", "audit.rekey", "tls.reload", "config.load", "config.reload": 5
        case "security.auth-failure", "security.rate-limited", "security.malformed-message", "security.ban-withheld",
             "security.turn-auth-failure", "security.turn-quota", "security.turn-amplification",
             "ban.add", "ban.remove", "device.bind", "device.unbind", "user.remove", "user.password": 4
        default: action.rawValue.hasPrefix("security.") ? 5 : 3
        }
    }

    /// Whether the event passes a sink's filter: one of `types` (an action name, or a prefix ending in `.` such
    /// as `security.`; empty: all) and at least `minimumSeverity`.
    public func passes(types: [String], minimumSeverity: Int) -> Bool {
        guard severity >= minimumSeverity else { return false }
        return types.isEmpty || types.contains { $0.hasSuffix(".") ? name.hasPrefix($0) : name == $0 }
    }
}
