import SIPMessage
import SecurityPolicy
import Storage

/// The domain the edge serves and its aliases (a host name or an address of the edge's own).
public struct ServedDomain: Sendable, Hashable {
    /// The domain, lowercased: the realm of every credential and the host of every address of record.
    public let domain: String
    public let aliases: Set<String>

    public init(_ domain: String, aliases: Set<String> = []) {
        self.domain = domain.lowercased()
        self.aliases = Set(aliases.map { $0.lowercased() })
    }

    /// The served domain when `host` names it or one of its aliases.
    public func matching(_ host: SIPHost) -> String? {
        let text: String
        if case .hostname(let name) = host { text = name.lowercased() } else { text = host.addressText.lowercased() }
        return text == domain || aliases.contains(text) ? domain : nil
    }
}

/// The registrar as a transaction user (RFC 3261 §10.3), without I/O: a REGISTER in, its answer and the security
/// findings it raised out. Bindings live in ``LocationService``; the account and the client certificate's binding
/// come in resolved (from ``DirectoryCache``, or from the store, which the edge awaits before it calls here), and the
/// digest check is the caller's (under its lock, feeding its defense).
public struct RegistrarService: Sendable {
    /// The answer to a REGISTER: a status, a reason phrase when not the usual one, headers.
    public struct Answer: Sendable {
        public var status: Int
        public var reason: String?
        public var headers: [(String, String)]

        init(_ status: Int, reason: String? = nil, headers: [(String, String)] = []) {
            (self.status, self.reason, self.headers) = (status, reason, headers)
        }
    }

    /// A finding for the security rules: a failed authentication feeds the failure rules (bans). `reason` nil: the
    /// kind's usual wording.
    public struct Finding: Sendable, Equatable {
        public var kind: SecurityEvent.Kind
        public var reason: String?
        /// The account the request claimed, by user name.
        public var claimedUser: String?
        /// For a failed authentication: why, when the kind does not tell.
        public var cause: AuthFailureCause?
    }

    /// What mutual TLS says of the REGISTER's sender.
    public enum ClientCertificate: Sendable, Equatable {
        /// No client certificate (UDP, TCP, TLS without one).
        case absent
        /// Verified and bound to this account.
        case bound(username: String, domain: String)
        /// Verified but bound to no account.
        case unbound
    }

    public let served: ServedDomain
    public let location: LocationService
    let processor: RegisterProcessor

    public init(served: ServedDomain, location: LocationService, policy: RegisterProcessor.Policy) {
        self.served = served
        self.location = location
        self.processor = RegisterProcessor(policy: policy)
    }

    /// 416 for a Request-URI that is not SIP, 404 for one at a domain the edge does not serve; nil when it may go on.
    public func requestURIStatus(_ request: SIPMessage) -> Int? {
        guard case .sip(let uri)? = try? request.requestLine?.requestURI() else { return 416 }
        return served.matching(uri.host) == nil ? 404 : nil
    }

    /// Handles a REGISTER: its Request-URI and Require, the address of record it names, the client certificate's
    /// binding, the credentials (`authenticate`), then the bindings (``RegisterProcessor``).
    /// - Parameters:
    ///   - flow: the transport flow it came over, where the bindings are reached.
    ///   - claimedUser: the user name its credentials claim (for the findings of a rejected digest).
    ///   - now: seconds since the epoch (bindings expire on the wall clock, as they are stored).
    public func register(_ request: SIPMessage, flow: String, certificate: ClientCertificate, claimedUser: String?,
                         now: Int64, authenticate: () -> RegistrarAuthenticator.Decision) -> (Answer, [Finding]) {
        if let status = requestURIStatus(request) { return (Answer(status), []) }
        guard let required = try? request.require() else { return (Answer(400), []) }
        if !required.isEmpty {
            // No option tag is supported yet (RFC 3261 §8.2.2.3).
            return (Answer(420, headers: [("Unsupported", required.joined(separator: ", "))]), [])
        }
        guard case .sip(let toURI)? = try? request.to().uri, let user = toURI.user, !user.isEmpty,
            let domain = served.matching(toURI.host)
        else { return (Answer(404), []) }
        let addressOfRecord = "sip:\(user)@\(domain)"

        // Mutual TLS: a verified client certificate must be bound to the account it registers.
        if certificate != .absent, certificate != .bound(username: user, domain: domain) {
            return (Answer(403, reason: "Certificate not bound to this account"),
                    [Finding(kind: .authFailure, reason: "certificate not bound to the account", claimedUser: user,
                             cause: .certificate)])
        }

        switch authenticate() {
        case .challenge(let values):
            return (Answer(401, headers: values.map { ("WWW-Authenticate", $0) }), [])
        case .reject(let status, let event):
            return (Answer(status), event.map { [Finding(kind: $0, reason: nil, claimedUser: claimedUser)] } ?? [])
        case .authenticated(let username, _):
            // Credentials of one account do not register another's address (RFC 3261 §10.3 step 3).
            guard username == user else {
                return (Answer(403), [Finding(kind: .authFailure, reason: "credentials of \(username) for another address",
                                              claimedUser: username, cause: .otherAccount)])
            }
        }

        let outcome = location.update(addressOfRecord) { current in
            let outcome = processor.process(register: request, current: current, now: now,
                                            addressOfRecord: addressOfRecord, flow: flow)
            if case .accepted(let bindings) = outcome { return (bindings, outcome) }
            return (nil, outcome)
        }
        switch outcome {
        case .accepted(let bindings):
            var headers = RegisterProcessor.contactValues(for: bindings, now: now).map { ("Contact", $0) }
            headers.append(("Date", HTTPDate.format(epochSeconds: now)))
            return (Answer(200, headers: headers), [])
        case .rejected(let status, let reason, let minExpires):
            return (Answer(status, reason: reason, headers: minExpires.map { [("Min-Expires", String($0))] } ?? []), [])
        }
    }
}
