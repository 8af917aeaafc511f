/// One entry of the edge's security event stream: what happened, from where, concerning which account, why,
/// and when. Never a secret: no passwords, HA1s, nonces, keys or tokens, only names and addresses.
public struct SecurityEvent: Hashable, Sendable {
    /// What kind of event; the names are stable (stored, exported to SIEMs, filtered on with `rampart events`).
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        /// The stable name (`auth-failure`).
        public let name: String
        private init(_ name: String) { self.name = name }

        /// A digest check failed (wrong password or unknown user), or credentials did not fit the request.
        public static let authFailure = Kind("auth-failure")
        /// A source, account or (account, source) pair was banned.
        public static let ban = Kind("ban")
        /// A ban was lifted (by an operator or on expiry).
        public static let unban = Kind("unban")
        /// A rule would have banned a source that is never banned automatically (a configured trunk).
        public static let banWithheld = Kind("ban-withheld")
        /// A source behaved like a scanner or carried a scanning tool's signature.
        public static let scannerDetected = Kind("scanner-detected")
        /// Requests went over a rate budget.
        public static let rateLimited = Kind("rate-limited")
        /// An address or account rule refused the source.
        public static let aclDenied = Kind("acl-denied")
        /// A country rule refused the source.
        public static let geoDenied = Kind("geo-denied")
        /// A destination or velocity rule fired on a call attempt.
        public static let fraudAlert = Kind("fraud-alert")
        /// SDP tried to get plain RTP or a weak crypto suite past the media policy.
        public static let mediaDowngradeAttempt = Kind("media-downgrade-attempt")
        /// A TLS handshake failed.
        public static let tlsHandshakeFailure = Kind("tls-handshake-failure")
        /// A message or body did not parse.
        public static let malformedMessage = Kind("malformed-message")
        /// Digest credentials were used a second time (RFC 7616 §5.12 nonce-count replay).
        public static let digestReplay = Kind("digest-replay")
        /// MD5 credentials for an account pinned to stronger digests.
        public static let digestDowngradeAttempt = Kind("digest-downgrade-attempt")
        /// A caller claimed a From identity it may not assert.
        public static let callerIDSpoofing = Kind("caller-id-spoofing")
        /// The edge was over capacity and refused new work.
        public static let overload = Kind("overload")
        /// A stream negotiated as SRTP carries payloads that look like plaintext.
        public static let mediaNotEncrypted = Kind("media-not-encrypted")
        /// Media that does not match what was negotiated: another keying in the media path than in the SDP, ZRTP
        /// whose hash never reached the signalling, a keying method changed between offer and answer, or SSRCs that
        /// keep changing.
        public static let mediaAnomaly = Kind("media-anomaly")
        /// SDP named a media address the edge may not send to (``AddressPolicy``): refused with 488.
        public static let mediaAddressRefused = Kind("media-address-refused")

        /// A call's STIR/SHAKEN identity did not verify (the reason names why: `bad-signature`, `x5u-forbidden`...).
        public static let identityFailed = Kind("identity-failed")
        /// A PASSporT (its header and claims) seen again while still fresh: a replayed identity.
        public static let identityReplayed = Kind("identity-replayed")

        /// TURN: long-term credentials that did not hold (unknown user, wrong integrity, a realm not ours, a password
        /// algorithm bid down, another user's allocation).
        public static let turnAuthFailure = Kind("turn-auth-failure")
        /// TURN: a client asked for a peer the relay may not reach (``AddressPolicy``): refused with 403.
        public static let turnPeerDenied = Kind("turn-peer-denied")
        /// TURN: an allocation, permission, channel or bandwidth limit was reached.
        public static let turnQuota = Kind("turn-quota")
        /// TURN: an answer to an unauthenticated source was held back, being larger than what that source sent.
        public static let turnAmplification = Kind("turn-amplification")

        /// Every kind, for parsing filters.
        public static let all: [Kind] = [
            .authFailure, .ban, .unban, .banWithheld, .scannerDetected, .rateLimited, .aclDenied, .geoDenied, .fraudAlert,
            .mediaDowngradeAttempt, .tlsHandshakeFailure, .malformedMessage, .digestReplay, .digestDowngradeAttempt,
            .callerIDSpoofing, .overload, .mediaNotEncrypted, .mediaAnomaly, .mediaAddressRefused, .identityFailed,
            .identityReplayed, .turnAuthFailure, .turnPeerDenied, .turnQuota, .turnAmplification,
        ]

        /// The kind with this name, or nil.
        public init?(name: String) {
            guard let kind = Self.all.first(where: { $0.name == name }) else { return nil }
            self = kind
        }

        public var description: String { name }
    }

    /// What kind of event.
    public var kind: Kind
    /// The peer's IP address, if the event concerns one.
    public var source: String?
    /// The account (`sip:alice@example.com`, or a trunk's name), if the event concerns one.
    public var account: String?
    /// A short reason in words or a detail token (`wrong password or unknown user`, `certificate-not-bound`).
    public var reason: String
    /// When, in seconds since 1970 (UTC).
    public var epochSeconds: Int64

    /// Creates an event.
    public init(kind: Kind, source: String? = nil, account: String? = nil, reason: String = "", epochSeconds: Int64) {
        self.kind = kind
        self.source = source
        self.account = account
        self.reason = reason
        self.epochSeconds = epochSeconds
    }
}

/// Why an authentication failed, as a metric's label: a closed set, so that the label's values stay bounded
/// whatever the requests say (the event's reason keeps the details).
public enum AuthFailureCause: String, Sendable, Hashable, CaseIterable {
    /// SIP digest: a wrong password or an unknown user (one answer for both).
    case credentials
    /// SIP digest: a nonce count used again.
    case replay
    /// SIP digest: MD5 for an account pinned to a stronger algorithm.
    case downgrade
    /// SIP mutual TLS: a certificate not bound to the account it registers.
    case certificate
    /// SIP: one account's credentials for another's address.
    case otherAccount = "other-account"
    /// Admin API: no bearer token.
    case noToken = "no-token"
    /// Admin API: a token that is not (or no longer) valid.
    case refusedToken = "refused-token"

    /// The interface the cause belongs to (the metric's other label).
    public var interface: String {
        switch self {
        case .noToken, .refusedToken: "admin"
        default: "sip"
        }
    }

    /// The cause of a SIP authentication event of `kind` when nothing more precise is known.
    public static func of(_ kind: SecurityEvent.Kind) -> AuthFailureCause {
        switch kind {
        case .digestReplay: .replay
        case .digestDowngradeAttempt: .downgrade
        default: .credentials
        }
    }
}
