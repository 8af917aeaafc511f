import SIPAuth
import SIPMessage
import SecurityPolicy
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
        case reject(status: Int, event: SecurityEvent.Kind?)
    }

    /// Security events this check raises.

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
        let credentials = PresentedCredentials(request)
        let account: Account?
        if let username = credentials.claimedUsername(realm: realm) {
            account = try? await lookup(username)
        } else {
            account = nil
        }
        return authenticate(request, credentials: credentials, now: now, account: account)
    }

    /// The user name the request's credentials for this realm claim, so the caller can fetch the account before
    /// calling ``authenticate(_:credentials:now:account:)``.
    public func claimedUsername(in request: SIPMessage) -> String? {
        PresentedCredentials(request).claimedUsername(realm: realm)
    }

    /// Decides on a request, given the account its credentials claim (nil if there is none).
    public mutating func authenticate(_ request: SIPMessage, now: Duration, account: Account?) -> Decision {
        authenticate(request, credentials: PresentedCredentials(request), now: now, account: account)
    }

    /// Decides on a request whose credentials the caller has already parsed (once, for the account lookup too).
    public mutating func authenticate(_ request: SIPMessage, credentials presented: PresentedCredentials,
                                      now: Duration, account: Account?) -> Decision {
        let credentials: [DigestCredentials]
        switch presented.parsed {
        case .success(let parsed):
            credentials = parsed
        case .failure(let error):
            // A non-Digest scheme is answered with a Digest challenge (RFC 4475 §3.3.7); garbage is a 400.
            if error.code == .unsupportedScheme { return challenge(now: now, stale: false) }
            return .reject(status: 400, event: .malformedMessage)
        }
        guard let offered = PresentedCredentials.forRealm(realm, in: credentials) else {
            return challenge(now: now, stale: false)
        }
        let algorithm = offered.effectiveAlgorithm
        guard offeredAlgorithms.contains(algorithm) else { return challenge(now: now, stale: false) }
        // The digest-uri must be this request's Request-URI (RFC 7616 §3.4.6), else the response proves nothing.
        guard let requestURI = request.requestLine?.requestURIBytes, offered.uri.utf8.elementsEqual(requestURI) else {
            return .reject(status: 400, event: nil)
        }
        switch nonces.verify(nonce: offered.nonce, nonceCount: offered.nonceCount?.value, realm: realm, now: now) {
        case .invalid: return challenge(now: now, stale: false)
        case .stale: return challenge(now: now, stale: true)
        case .replayed: return .reject(status: 403, event: .digestReplay)
        case .valid: break
        }
        let account = account?.username == offered.username ? account : nil
        let key = offered.username + "@" + realm
        // Every weaker algorithm is refused once the account used a strong one: MD5 and MD5-sess alike.
        if algorithm.isInsecure, pinnedToStrongDigest.contains(key) || account?.strongDigestOnly == true
        {
            return .reject(status: 403, event: .digestDowngradeAttempt)
        }
        guard let account, let stored = account.ha1ByAlgorithm[algorithm.withoutSession.token],
            let ha1 = try? DigestHA1(algorithm: algorithm, username: account.username, realm: realm, hexValue: stored),
            (try? offered.verify(expectedHA1: ha1, method: request.method?.rawValue ?? "", body: Array(request.body)))
                == true
        else {
            // Unknown user and wrong password: the same answer, and the same work (a response computed against a
            // stand-in HA1), so accounts cannot be enumerated by their answers or by the time they take.
            PresentedCredentials.spendStandInWork(offered, realm: realm, request: request)
            return .reject(status: 403, event: .authFailure)
        }
        if !algorithm.isInsecure { pinnedToStrongDigest.insert(key) }
        return .authenticated(username: account.username, algorithm: algorithm.token)
    }

    /// The 401's WWW-Authenticate values, strongest algorithm first, sharing one fresh nonce as in RFC 7616
    /// §3.9.1's example (the client answers one of them, so one nonce-count sequence is all it needs).
    private mutating func challenge(now: Duration, stale: Bool) -> Decision {
        var values: [String] = []
        let nonce = nonces.issue(realm: realm, now: now)
        for algorithm in offeredAlgorithms {
            let challenge = DigestChallenge(realm: realm, nonce: nonce, algorithm: algorithm, qopOptions: [.auth],
                                            stale: stale)
            if let text = try? challenge.serialized() { values.append(text) }
        }
        return .challenge(wwwAuthenticate: values)
    }
}

/// A request's Authorization credentials, parsed once: the edge reads the claimed user name from them to fetch the
/// account, then the authenticator checks them.
public struct PresentedCredentials: Sendable {
    /// The Digest credentials, or why they could not be read.
    public let parsed: Result<[DigestCredentials], DigestError>

    /// Parses the request's Authorization headers, or its Proxy-Authorization headers with `proxy`.
    public init(_ request: SIPMessage, proxy: Bool = false) {
        do {
            parsed = .success(try request.digestCredentials(proxy: proxy))
        } catch {
            parsed = .failure(error)
        }
    }

    /// The user name the credentials for `realm` (lowercase) claim.
    public func claimedUsername(realm: String) -> String? {
        guard case .success(let credentials) = parsed else { return nil }
        return Self.forRealm(realm, in: credentials)?.username
    }

    /// Does the work of checking these credentials, against a stand-in HA1, and forgets the result. Refusals
    /// decided before the digest check (an account's networks, its bans) spend it too, so the time an answer
    /// takes does not tell an account that exists from one that does not.
    public func spendStandInWork(realm: String, request: SIPMessage) {
        guard case .success(let credentials) = parsed, let offered = Self.forRealm(realm, in: credentials) else { return }
        Self.spendStandInWork(offered, realm: realm, request: request)
    }

    static func spendStandInWork(_ offered: DigestCredentials, realm: String, request: SIPMessage) {
        let algorithm = offered.effectiveAlgorithm
        guard let standIn = try? DigestHA1(algorithm: algorithm, username: offered.username, realm: realm,
                                           hexValue: String(repeating: "0", count: algorithm.hexLength))
        else { return }
        _ = try? offered.verify(expectedHA1: standIn, method: request.method?.rawValue ?? "", body: Array(request.body))
    }

    /// The credentials answering `realm` (lowercase; realms compare case-insensitively).
    static func forRealm(_ realm: String, in credentials: [DigestCredentials]) -> DigestCredentials? {
        credentials.first { $0.realm.utf8.elementsEqual(realm.utf8) || $0.realm.lowercased() == realm }
    }
}
