/// Who did something the audit trail records.
public struct AuditActor: Hashable, Sendable {
    /// Where the action came from.
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// A `rampart` command run by a user of the host (`name` is `user@host`).
        case cli
        /// A client of the admin API (`name` is the token's name).
        case api
        /// The edge itself (security events, bans it decided, configuration it loaded).
        case edge
    }

    public var kind: Kind
    public var name: String

    public init(kind: Kind, name: String) {
        (self.kind, self.name) = (kind, name)
    }

    /// The edge itself.
    public static let edge = AuditActor(kind: .edge, name: "edge")
}

/// What was done: a dotted name such as `user.add`, kept as written so that a trail written by a newer version
/// still reads (and verifies) here. The names Rampart writes are the static members.
public struct AuditAction: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }

    public static let userAdded = AuditAction(rawValue: "user.add")
    public static let userRemoved = AuditAction(rawValue: "user.remove")
    public static let passwordChanged = AuditAction(rawValue: "user.password")
    public static let deviceBound = AuditAction(rawValue: "device.bind")
    public static let deviceUnbound = AuditAction(rawValue: "device.unbind")
    public static let banAdded = AuditAction(rawValue: "ban.add")
    public static let banRemoved = AuditAction(rawValue: "ban.remove")
    public static let configurationLoaded = AuditAction(rawValue: "config.load")
    public static let configurationReloaded = AuditAction(rawValue: "config.reload")
    public static let certificatesReloaded = AuditAction(rawValue: "tls.reload")
    public static let recordsExported = AuditAction(rawValue: "cdr.export")
    public static let recordsErased = AuditAction(rawValue: "cdr.erase")
    public static let auditExported = AuditAction(rawValue: "audit.export")
    /// A new checkpoint key was made in place of the old one (its public key is in the details).
    public static let auditKeyReplaced = AuditAction(rawValue: "audit.rekey")
    /// The trail's first key pair made; like `audit.rekey`, names its public key (`publicKey`), so that the verifier
    /// knows which key each later checkpoint and erasure must verify under.
    public static let auditKeyCreated = AuditAction(rawValue: "audit.key")
    /// The content of earlier audit records was erased (their sequence numbers are in the details, `sequences`).
    public static let auditErased = AuditAction(rawValue: "audit.erase")
    /// A run of the retention job, with how many records of each kind it erased or pseudonymised.
    public static let retentionRun = AuditAction(rawValue: "retention.run")
    /// A data subject's access request answered, and its erasure (the subject named by pseudonym).
    public static let privacyExported = AuditAction(rawValue: "privacy.export")
    public static let privacyErased = AuditAction(rawValue: "privacy.erase")
    /// The CDR pseudonym key rotated (the new key's id), or an old one dropped.
    public static let pseudonymKeyRotated = AuditAction(rawValue: "privacy.rotate-key")
    public static let pseudonymKeyDropped = AuditAction(rawValue: "privacy.drop-key")
    /// An admin API token made (its name and role; never its secret) or revoked.
    public static let adminTokenCreated = AuditAction(rawValue: "admin.token.create")
    public static let adminTokenRevoked = AuditAction(rawValue: "admin.token.revoke")
    /// A call ended by an operator (its record id).
    public static let callEnded = AuditAction(rawValue: "call.end")

    /// A security event the edge saw, by the name of its kind (`SecurityEvent.Kind`'s raw value).
    public static func securityEvent(_ kind: String) -> AuditAction { AuditAction(rawValue: "security." + kind) }
}

/// How an action ended.
public enum AuditOutcome: Hashable, Sendable {
    case success
    /// It failed or was refused, and why (no secrets: the trail is exported).
    case failure(String)
}

/// What one audit record says: when, who, what, to whom, with which outcome, and details as key-value pairs. Its
/// ``canonicalEncoding`` is what the chain commits to.
public struct AuditContent: Hashable, Sendable {
    /// Wall-clock milliseconds since 1970 (the trail is read by people and courts; order is the sequence's).
    public var time: Int64
    public var actor: AuditActor
    public var action: AuditAction
    /// Whom or what the action concerned: an account (`alice@example.com`), an address, a file.
    public var subject: String
    public var outcome: AuditOutcome
    /// Further facts (a configuration's digest, a ban's reason and length); encoded sorted by key.
    public var details: [String: String]

    public init(time: Int64, actor: AuditActor, action: AuditAction, subject: String,
                outcome: AuditOutcome = .success, details: [String: String] = [:]) {
        self.time = time
        self.actor = actor
        self.action = action
        self.subject = subject
        self.outcome = outcome
        self.details = details
    }
}

/// One record of the chain as stored: its place, the digest of its content, the chain's link through it, and the
/// content itself unless it was erased. Erasure keeps the digest, so the chain still verifies.
public struct AuditRecord: Hashable, Sendable {
    /// 1 for the first record, one more for each next.
    public var sequence: Int64
    /// SHA-256 of the content's canonical encoding.
    public var contentDigest: [UInt8]
    /// SHA-256 over the previous link, this sequence and this content digest (``AuditChain/link(after:sequence:contentDigest:)``).
    public var link: [UInt8]
    /// The content's canonical encoding; nil once erased.
    public var content: [UInt8]?

    public init(sequence: Int64, contentDigest: [UInt8], link: [UInt8], content: [UInt8]?) {
        self.sequence = sequence
        self.contentDigest = contentDigest
        self.link = link
        self.content = content
    }

    /// The record with its content erased: its digest and link stay.
    public func erased() -> AuditRecord {
        AuditRecord(sequence: sequence, contentDigest: contentDigest, link: link, content: nil)
    }
}

/// A signed statement that the chain had this link at this sequence: anything before it that changes breaks it.
public struct AuditCheckpoint: Hashable, Sendable {
    public var sequence: Int64
    public var link: [UInt8]
    /// Wall-clock milliseconds when it was signed.
    public var time: Int64
    /// Ed25519 over ``signedBytes``.
    public var signature: [UInt8]

    public init(sequence: Int64, link: [UInt8], time: Int64, signature: [UInt8]) {
        self.sequence = sequence
        self.link = link
        self.time = time
        self.signature = signature
    }

    /// What the signature covers: a domain label, the sequence, the time and the link.
    public var signedBytes: [UInt8] { Self.signedBytes(sequence: sequence, time: time, link: link) }

    static func signedBytes(sequence: Int64, time: Int64, link: [UInt8]) -> [UInt8] {
        var bytes = Array("rampart-audit-checkpoint-1".utf8)
        bytes.appendBigEndian(sequence)
        bytes.appendBigEndian(time)
        return bytes + link
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ value: Int64) {
        let bits = UInt64(bitPattern: value)
        for shift in stride(from: 56, through: 0, by: -8) { append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
    }
}
