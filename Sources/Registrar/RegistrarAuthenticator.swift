import SIPAuth
import SIPMessage
import Storage

/// Digest authentication of REGISTER requests (RFC 3261 §22, RFC 7616, RFC 8760), as the registrar applies it:
///
/// - challenges offer SHA-256 first and MD5 second (RFC 8760 §2.4); MD5 can be switched off per realm;
/// - nonces are stateless and expire with `stale=true` (``DigestNonceIssuer``); a replayed nonce-count is refused;
/// - an unknown user and a wrong password get byte-identical answers, so accounts cannot be enumerated;
/// - once an account has authenticated with SHA-256 (or SHA-512-256), MD5 is refused for it: a
///   `digest-downgrade-attempt` security event.
public struct RegistrarAuthenticator: Sendable {
    /// The outcome for one request.
    public enum Decision: Equatable, Sendable {
        /// The request is authenticated as this account.
        case authenticated(username: String, algorithm: String)
        /// Answer 401 with these WWW-Authenticate values (one per offered algorithm).
        case challenge(wwwAuthenticate: [String])
        /// Answer with this status; `event` names the security event to record, if any.
        case reject(status: Int, event: SecurityEventKind?)
    }

    /// Security events this check raises.
    public enum SecurityEventKind: String, Sendable {
        case authFailure = "auth-failure"
        case digestReplay = "digest-replay"
        case digestDowngradeAttempt = "digest-downgrade-attempt"
        case malformedCredentials = "malformed-message"
    }

    /// The realm (the registrar's domain).
    public let realm: String
    /// Algorithms offered, strongest first.
    public let offeredAlgorithms: [DigestAlgorithm]
    private var nonces: DigestNonceIssuer
    /// Accounts that have used a stronger algorithm than MD5 and may no longer use MD5.
    private var pinnedToStrongDigest: Set<String> = []

    /// Creates an authenticator; `allowMD5` keeps MD5 in the challenges for phones that speak nothing else.
    public init(realm: String, allowMD5: Bool = true, nonces: DigestNonceIssuer = DigestNonceIssuer()) {
        self.init(realm: realm, algorithms: allowMD5 ? [.sha256, DigestAlgorithm.Insecure.md5] : [.sha256],
                  nonces: nonces)
    }

    /// Creates an authenticator offering exactly `algorithms`, in that order (RFC 8760 §2.4: the most preferred
    /// first). Clients that read only the first challenge, such as sipp 3.6 which speaks only MD5, need an
    /// MD5-only list.
    public init(realm: String, algorithms: [DigestAlgorithm], nonces: DigestNonceIssuer = DigestNonceIssuer()) {
        precondition(!algorithms.isEmpty, "a realm must offer at least one digest algorithm")
        self.realm = realm.lowercased()
        self.offeredAlgorithms = algorithms
        self.nonces = nonces
    }

    /// Accounts already pinned to strong digests (to persist them across restarts).
    public var pinnedAccounts: Set<String> { pinnedToStrongDigest }

    /// Decides on a request; `lookup` finds the account of a user name in this realm.
    public mutating func authenticate(
        _ request: SIPMessage, now: Duration, lookup: (String) async throws -> Account?
    ) async -> Decision {
        let account: Account?
        if let username = claimedUsername(in: request) { account = try? await lookup(username) } else { account = nil }
        return authenticate(request, now: now, account: account)
    }

    /// The user name the request's credentials for this realm claim, so the caller can fetch the account before
    /// calling ``authenticate(_:now:account:)``.
    public func claimedUsername(in request: SIPMessage) -> String? { Self.claimedUsername(in: request, realm: realm) }

    /// The user name the request's credentials for `realm` (lowercase) claim.
    public static func claimedUsername(in request: SIPMessage, realm: String) -> String? {
        (try? request.digestCredentials())?.first(where: { $0.realm.lowercased() == realm })?.username
    }

    /// Decides on a request, given the account its credentials claim (nil if there is none).
    public mutating func authenticate(_ request: SIPMessage, now: Duration, account: Account?) -> Decision {
        let credentials: [DigestCredentials]
        do {
            credentials = try request.digestCredentials()
        } catch {
            // A non-Digest scheme is answered with a Digest challenge (RFC 4475 §3.3.7); garbage is a 400.
            if error.code == .unsupportedScheme { return challenge(now: now, stale: false) }
            return .reject(status: 400, event: .malformedCredentials)
        }
        guard let offered = credentials.first(where: { $0.realm.lowercased() == realm }) else {
            return challenge(now: now, stale: false)
        }
        let algorithm = offered.effectiveAlgorithm
        guard offeredAlgorithms.contains(algorithm) else { return challenge(now: now, stale: false) }
        // The digest-uri must be this request's Request-URI (RFC 7616 §3.4.6), else the response proves nothing.
        guard offered.uri == request.requestLine?.requestURIText else { return .reject(status: 400, event: nil) }
        switch nonces.verify(nonce: offered.nonce, nonceCount: offered.nonceCount?.value, realm: realm, now: now) {
        case .invalid: return challenge(now: now, stale: false)
        case .stale: return challenge(now: now, stale: true)
        case .replayed: return .reject(status: 403, event: .digestReplay)
        case .valid: break
        }
        let account = account?.username == offered.username ? account : nil
        let key = offered.username + "@" + realm
        if algorithm == DigestAlgorithm.Insecure.md5,
            pinnedToStrongDigest.contains(key) || account?.strongDigestOnly == true
        {
            return .reject(status: 403, event: .digestDowngradeAttempt)
        }
        guard let account, let stored = account.ha1ByAlgorithm[algorithm.withoutSession.token],
            let ha1 = try? DigestHA1(algorithm: algorithm, username: account.username, realm: realm, hexValue: stored),
            (try? offered.verify(expectedHA1: ha1, method: request.method?.rawValue ?? "", body: Array(request.body)))
                == true
        else {
            // Unknown user and wrong password: the same answer, so accounts cannot be enumerated.
            return .reject(status: 403, event: .authFailure)
        }
        if algorithm != DigestAlgorithm.Insecure.md5 { pinnedToStrongDigest.insert(key) }
        return .authenticated(username: account.username, algorithm: algorithm.token)
    }

    /// The 401's WWW-Authenticate values: one fresh nonce per offered algorithm, strongest first.
    private mutating func challenge(now: Duration, stale: Bool) -> Decision {
        var values: [String] = []
        for algorithm in offeredAlgorithms {
            let nonce = nonces.issue(realm: realm, now: now)
            let challenge = DigestChallenge(realm: realm, nonce: nonce, algorithm: algorithm, qopOptions: [.auth],
                                            stale: stale)
            if let text = try? challenge.serialized() { values.append(text) }
        }
        return .challenge(wwwAuthenticate: values)
    }
}
