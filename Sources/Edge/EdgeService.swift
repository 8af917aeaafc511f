import Logging
import NIOCore
import Registrar
import SIPAuth
import SIPMessage
import SIPTransaction
import SIPTransportNIO
import SecurityPolicy
import Storage
import Synchronization

/// The edge's transaction user for this release: an authenticated registrar (RFC 3261 §10) and an OPTIONS
/// responder; every other method is refused correctly (405 with Allow for methods the proxy will handle, 501 for
/// unknown ones, 481 for CANCEL) until the proxy lands.
///
/// Retransmitted requests are answered from the ``ServerTransactionCache`` and never processed twice.
public final class EdgeService: SIPInboundHandler {
    /// What the edge serves and how.
    public struct Configuration: Sendable {
        /// The served domain (the digest realm); default `localhost`.
        public var domain: String
        /// Hosts that count as the domain in Request-URIs and To URIs: the listen IPs, `localhost`, loopback.
        public var domainAliases: Set<String>
        /// Digest algorithms offered, most preferred first (default SHA-256 then MD5, RFC 8760 §2.4: most
        /// deployed phones and sipp speak only MD5, and TLS is what protects them).
        public var digestAlgorithms: [DigestAlgorithm]
        /// Registration bounds.
        public var registerPolicy: RegisterProcessor.Policy
        /// T1/T2/T4.
        public var timers: TransactionTimers
        /// Nonce lifetime (after it, `stale=true`).
        public var nonceLifetime: Duration
        /// Most server transactions kept at once.
        public var maxTransactions: Int
        /// The media policy of calls (SRTP only unless an operator allows plain RTP for legacy peers).
        public var callMediaPolicy: MediaPolicy
        /// Most calls at once.
        public var maxCalls: Int
        /// What one account may hold at once: calls, subscriptions, ringing media sections, subscription length.
        public var accountLimits = CallRouter.AccountLimits()
        /// Who may subscribe to whom (same domain by default).
        public var watchPolicy = CallRouter.WatchPolicy()
        /// Longest an answered call may last before the edge ends it, in seconds: a dialog whose BYE was lost
        /// would otherwise hold its slot (and later its relay ports) forever.
        public var maxCallSeconds: Int
        /// When the edge opens a connection to a callee's Contact itself.
        public var contactConnections: CallRouter.ContactConnections
        /// Longest a call may ring unanswered before the edge gives up with 408 (Kamailio's fr_inv_timer).
        public var ringTimeoutSeconds: Int
        /// How CDRs name the parties and the account: as they are, or by keyed pseudonyms; by default, and for
        /// the accounts (user names) listed in ``cdrPartiesByAccount`` (a trunk's parties: its own setting).
        public var cdrParties: PartyRecording
        public var cdrPartiesByAccount: [String: PartyRecording] = [:]
        /// How security events and their audit records write IP addresses.
        public var securityEventAddresses: AddressRecording = .clear
        /// SIP trunks: static peers that call in and take calls to numbers.
        public var trunks: [Trunk]
        /// Accounts allowed plain RTP (legacy phones): a call between two of them may go unencrypted.
        public var plainRTPAccounts: Set<String>
        /// Identities (From users) an account may assert besides its own name, such as its numbers.
        public var assertableIdentities: [String: Set<String>]
        /// What callees may see of callers' headers (requests towards them).
        public var headerPolicy: HeaderPolicy
        /// What callers may see of callees' headers (answers, and the callee side's requests); nil: the same.
        public var callerHeaderPolicy: HeaderPolicy?
        /// Attack detection and response: address rules, rate budgets, scanner and failure rules, bans.
        public var security: AttackGuard.Configuration
        /// When the edge counts as over capacity.
        public var overload: OverloadGuard.Thresholds
        /// Toll-fraud rules of calls through trunks.
        public var fraud: FraudMonitor.Configuration
        /// CIDR ACLs per listener.
        public var listenerNetworks: [ListenerNetworks]
        /// Most security events kept in the store (the oldest go first).
        public var retainedSecurityEvents: Int
        /// Where a peer may make the edge send (SDP media addresses): the address classes, the operator's allowed
        /// and denied networks. The trunks, the listeners and the relay are added as the edge learns them.
        public var addressPolicy: AddressPolicy = .classesOnly
        /// STIR/SHAKEN: signing of accounts' calls to trunks, verification of trunks' calls; nil: neither.
        public var identity: IdentityService?

        /// Creates a configuration; defaults are the secure ones.
        public init(domain: String = "localhost", domainAliases: Set<String> = ["localhost", "127.0.0.1", "::1"],
                    digestAlgorithms: [DigestAlgorithm] = [.sha256, DigestAlgorithm.Insecure.md5],
                    registerPolicy: RegisterProcessor.Policy = .init(),
                    timers: TransactionTimers = .init(), nonceLifetime: Duration = .seconds(300),
                    maxTransactions: Int = 200_000, callMediaPolicy: MediaPolicy = .srtpOnly, maxCalls: Int = 10_000,
                    maxCallSeconds: Int = 14_400, contactConnections: CallRouter.ContactConnections = .tls,
                    ringTimeoutSeconds: Int = 120, cdrParties: PartyRecording = .clear, trunks: [Trunk] = [],
                    plainRTPAccounts: Set<String> = [], assertableIdentities: [String: Set<String>] = [:],
                    headerPolicy: HeaderPolicy = .minimizing, callerHeaderPolicy: HeaderPolicy? = nil,
                    security: AttackGuard.Configuration = .init(), overload: OverloadGuard.Thresholds = .init(),
                    fraud: FraudMonitor.Configuration = .init(), listenerNetworks: [ListenerNetworks] = [],
                    retainedSecurityEvents: Int = 1_000_000) {
            self.security = security
            self.listenerNetworks = listenerNetworks
            self.fraud = fraud
            self.overload = overload
            self.retainedSecurityEvents = retainedSecurityEvents
            self.callerHeaderPolicy = callerHeaderPolicy
            self.assertableIdentities = assertableIdentities
            self.headerPolicy = headerPolicy
            self.cdrParties = cdrParties
            self.trunks = trunks
            self.plainRTPAccounts = plainRTPAccounts
            self.ringTimeoutSeconds = ringTimeoutSeconds
            self.contactConnections = contactConnections
            self.domain = domain.lowercased()
            self.domainAliases = Set(domainAliases.map { $0.lowercased() })
            self.digestAlgorithms = digestAlgorithms.isEmpty ? [.sha256] : digestAlgorithms
            self.registerPolicy = registerPolicy
            self.timers = timers
            self.nonceLifetime = nonceLifetime
            self.maxTransactions = maxTransactions
            self.callMediaPolicy = callMediaPolicy
            self.maxCalls = maxCalls
            self.maxCallSeconds = maxCallSeconds
        }
    }

    /// Methods the edge answers itself.
    /// (NOTIFY and REFER only inside dialogs: out of dialog they get 405.)
    public static let allowedMethods = "INVITE, ACK, CANCEL, BYE, REGISTER, OPTIONS, MESSAGE, PRACK, UPDATE, INFO, "
        + "SUBSCRIBE"

    public let configuration: Configuration
    let store: any Store
    /// The registrar's bindings.
    public let location: LocationService
    /// Calls between the edge's users.
    public let calls: CallRouter
    /// Accounts and device bindings as last read from the store.
    let directory: DirectoryCache
    /// CDRs on their way to the store.
    let callRecords: CallRecordWriter
    public let clock: EdgeClock
    let logger: Logger
    /// The registrar: REGISTER in, its answer out (bindings in ``location``).
    let registrar: RegistrarService
    /// Attack detection and response, and the security event stream.
    public let defense: EdgeDefense
    /// Toll-fraud rules of calls through trunks.
    let fraud: FraudMonitor
    /// The two screening stages (RequestScreens.swift).
    let sourceScreen: SourceScreen
    let requestScreen: RequestScreen
    /// Requests waiting for the store (the backlog overload protection watches).
    private let deferredRequests = Atomic<Int>(0)

    /// Two locks, so that digest work and transaction bookkeeping on different loops do not wait for each other.
    private let authenticator: Mutex<RegistrarAuthenticator>
    private let transactions: Mutex<ServerTransactionCache>

    /// Creates the service; call ``loadState()`` before serving.
    public init(configuration: Configuration, store: any Store, clock: EdgeClock = .system,
                logger: Logger = Logger(label: "rampart.edge"),
                onSecurityEvent: @escaping @Sendable (SecurityEvent) -> Void = { _ in }) {
        self.configuration = configuration
        self.store = store
        let location = LocationService(store: store)
        self.location = location
        self.calls = CallRouter(maxCalls: configuration.maxCalls, maxCallSeconds: configuration.maxCallSeconds,
                                mediaPolicy: configuration.callMediaPolicy, headerPolicy: configuration.headerPolicy,
                                callerHeaderPolicy: configuration.callerHeaderPolicy,
                                contactConnections: configuration.contactConnections,
                                ringTimeoutSeconds: configuration.ringTimeoutSeconds,
                                timers: configuration.timers,
                                partyRecording: configuration.cdrParties,
                                accountPartyRecording: configuration.cdrPartiesByAccount, trunks: configuration.trunks,
                                plainRTPAccounts: configuration.plainRTPAccounts,
                                assertableIdentities: configuration.assertableIdentities,
                                addressPolicy: configuration.addressPolicy,
                                accountLimits: configuration.accountLimits, watchPolicy: configuration.watchPolicy)
        self.directory = DirectoryCache()
        self.callRecords = CallRecordWriter(store: store, logger: logger)
        self.clock = clock
        self.logger = logger
        let served = ServedDomain(configuration.domain, aliases: configuration.domainAliases)
        self.registrar = RegistrarService(served: served, location: location, policy: configuration.registerPolicy)
        self.fraud = FraudMonitor(configuration: configuration.fraud, maxCalls: configuration.maxCalls * 2)
        // Configured trunks are never banned automatically: their own traffic or UDP forged from their address
        // must not cut a carrier off (an event says what would have happened).
        var security = configuration.security
        security.protectedSources = NetworkList(configuration.trunks.compactMap(\.addressBlock))
        let defense = EdgeDefense(configuration: security, overload: configuration.overload,
                                  retainedEvents: configuration.retainedSecurityEvents,
                                  addresses: configuration.securityEventAddresses,
                                  logger: Logger(label: logger.label + ".security"), sink: onSecurityEvent)
        self.defense = defense
        self.sourceScreen = SourceScreen(listenerNetworks: configuration.listenerNetworks, trunks: configuration.trunks,
                                         defense: defense, clock: clock)
        self.requestScreen = RequestScreen(served: served, defense: defense)
        self.authenticator = Mutex(RegistrarAuthenticator(
            realm: configuration.domain, algorithms: configuration.digestAlgorithms,
            nonces: DigestNonceIssuer(lifetime: configuration.nonceLifetime)))
        self.transactions = Mutex(ServerTransactionCache(capacity: configuration.maxTransactions,
                                                         timers: configuration.timers))
    }

    /// What a REGISTER needs from the store, as the directory cache holds it.
    enum DirectoryLookups {
        /// Everything needed is cached (nil where the request needs nothing).
        case ready(account: Account??, binding: DirectoryCache.Binding?)
        /// Not cached yet: read these from the store.
        case missing(username: String?, fingerprint: String?)
    }

    /// The account the credentials claim and the client certificate's binding, from the cache.
    func lookups(_ inbound: SIPInbound, credentials: PresentedCredentials) -> DirectoryLookups {
        let claimed = credentials.claimedUsername(realm: configuration.domain)
        let account = claimed.map { directory.account(username: $0, domain: configuration.domain) }
        let binding = inbound.clientCertificateFingerprint.map { directory.binding(fingerprint: $0) }
        let accountMissing = claimed != nil && account! == nil
        let bindingMissing = inbound.clientCertificateFingerprint != nil && binding! == nil
        if accountMissing || bindingMissing {
            return .missing(username: accountMissing ? claimed : nil,
                            fingerprint: bindingMissing ? inbound.clientCertificateFingerprint : nil)
        }
        return .ready(account: account ?? nil, binding: binding ?? nil)
    }

    /// Reads what the edge keeps across restarts from the store: the registrar's bindings still valid now, and the
    /// bans.
    public func loadState() async throws {
        try await location.load(now: clock.epochSeconds())
        defense.load(try await store.allBans())
        if let identity = configuration.identity {
            identity.keep(in: store)
            await identity.restore(from: store, epochSeconds: clock.epochSeconds(), monotonic: clock.monotonic())
        }
    }

    /// The first stage (``SourceScreen``), before the message is fully validated: what passes goes on to
    /// validation and then ``handleNow(_:)`` with what the screen found.
    public func screen(_ inbound: SIPInbound) -> SIPScreenVerdict {
        switch sourceScreen.screen(inbound) {
        case .success(let passed): return .pass(passed)
        case .failure(let stopped): return .reply(stopped.reply)
        }
    }

    public func handleNow(_ inbound: SIPInbound) -> SIPImmediateOutcome {
        // Screened by the transport before validation; a message handed in directly is screened here.
        let source: SourceScreen.Passed
        if let kept = inbound.screening as? SourceScreen.Passed {
            source = kept
        } else {
            switch sourceScreen.screen(inbound) {
            case .success(let passed): source = passed
            case .failure(let stopped): return .reply(stopped.reply)
            }
        }
        guard let method = inbound.message.method, !source.inDialog else {
            return .reply(calls.route(inbound, edge: self))
        }
        // New work from sources that have not authenticated: refused while overloaded, looked at for scanning.
        if !source.trusted, defense.isOverloaded {
            return .reply(Self.refusal(inbound, status: 503, retryAfter: defense.retryAfterSeconds))
        }
        let outcome = handleInitial(inbound, method: method, source: source)
        guard case .reply(let reply) = outcome else { return outcome }
        return .reply(counted(reply, source: source, epochSeconds: source.epochSeconds))
    }

    /// The answer to a source that has not authenticated counts towards its scanner rules (failure answers).
    private func counted(_ reply: SIPReply?, source: SourceScreen.Passed, epochSeconds: Int64) -> SIPReply? {
        if !source.trusted, let reply, let status = Self.status(of: reply.bytes) {
            defense.answered(status: status, source: source.address, epochSeconds: epochSeconds)
        }
        return reply
    }

    /// The status code of response bytes (`SIP/2.0 404 ...`).
    static func status(of bytes: [UInt8]) -> Int? {
        guard bytes.count >= 12, bytes[7] == UInt8(ascii: " ") else { return nil }
        var status = 0
        for byte in bytes[8..<11] {
            guard (0x30...0x39).contains(byte) else { return nil }
            status = status * 10 + Int(byte - 0x30)
        }
        return status
    }

    /// A refusal by the defense: 403, or 503 with Retry-After (nothing for a response or an ACK).
    static func refusal(_ inbound: SIPInbound, status: Int, retryAfter: Int?) -> SIPReply? {
        guard inbound.message.isRequest, inbound.message.method != .ack else { return nil }
        return response(to: inbound, status: status, extraHeaders: retryAfter.map { [("Retry-After", String($0))] } ?? [])
            .map { reply($0, to: inbound) }
    }

    /// A request outside any dialog (REGISTER, a new INVITE or SUBSCRIBE, MESSAGE, OPTIONS...), after the source
    /// screen and validation: copies absorbed by its server transaction, then the ``RequestScreen``, then routed.
    private func handleInitial(_ inbound: SIPInbound, method: SIPMethod, source: SourceScreen.Passed)
        -> SIPImmediateOutcome
    {
        // Parsed once: the claimed user name picks the account, then the authenticator checks them.
        let credentials = Self.credentials(of: inbound)
        // A copy of a call's request already taken (RFC 3261 Timer A over UDP) is absorbed here, before any budget,
        // scanner rule or digest check sees it again: its nonce count, used once already, must not count as a replay.
        let transaction = callTransaction(inbound, credentials: credentials)
        if let transaction,
            case .retransmission(let response)? = transactions.withLock({ $0.known(transaction, now: source.now) })
        {
            return .reply(retransmitted(inbound, response: response))
        }
        if case .failure(let stopped) = requestScreen.screen(inbound, method: method, source: source,
                                                             credentials: credentials) {
            return .reply(stopped.reply)
        }
        return route(inbound, Screened(method: method, source: source, credentials: credentials,
                                       transaction: transaction))
    }

    /// How far a request outside any dialog got before it may have to wait for the store: both screens passed and
    /// charged (the source's, the account's, the scanner rules), its credentials parsed, its transaction known.
    /// A deferred request resumes from here (``handle(_:resuming:)``), so nothing is charged twice.
    struct Screened: Sendable {
        let method: SIPMethod
        let source: SourceScreen.Passed
        let credentials: PresentedCredentials?
        let transaction: ServerTransactionKey?
        /// A trunk's call waiting for its signer's certificate chain (STIR/SHAKEN).
        var certificateURL: String?
    }

    /// A screened request: the directory entries it needs (from memory, or at once from a store that answers
    /// without suspending), then its handler; deferred with where it stands when the store must be awaited.
    private func route(_ inbound: SIPInbound, _ screened: Screened) -> SIPImmediateOutcome {
        let (request, method, credentials, transaction) = (inbound.message, screened.method, screened.credentials,
                                                           screened.transaction)
        var ready: (account: Account??, binding: DirectoryCache.Binding?) = (nil, nil)
        if let credentials {
            if case .missing(let username, let fingerprint) = lookups(inbound, credentials: credentials) {
                guard let immediate = store as? any ImmediateDirectoryLookup, immediate.answersImmediately else {
                    return .deferred(SIPDeferral(screened))
                }
                let epoch = directory.epoch
                do {
                    if let username {
                        let account = try immediate.accountNow(username: username, domain: configuration.domain)
                        directory.store(account: account, username: username, domain: configuration.domain,
                                        epoch: epoch)
                    }
                    if let fingerprint {
                        directory.store(binding: try immediate.boundAccountNow(fingerprint: fingerprint),
                                        fingerprint: fingerprint, epoch: epoch)
                    }
                } catch {
                    return .deferred(SIPDeferral(screened))  // the async path reports the failure
                }
            }
            guard case .ready(let account, let binding) = lookups(inbound, credentials: credentials) else {
                return .deferred(SIPDeferral(screened))
            }
            ready = (account, binding)
        }
        if method == .invite || method == .subscribe, let credentials {
            // A trunk's call has its identity verified before it goes anywhere; a chain not yet at hand is fetched
            // while the request waits (deferred), never on an event loop.
            var identity: IdentityService.Verdict?
            if method == .invite, let service = configuration.identity, service.verifies,
                calls.verifiesIdentity(of: inbound)
            {
                switch service.check(request, epochSeconds: clock.epochSeconds(), monotonic: clock.monotonic()) {
                case .verdict(let verdict): identity = verdict
                case .needsCertificate(let url):
                    var waiting = screened
                    waiting.certificateURL = url
                    return .deferred(SIPDeferral(waiting))
                }
            }
            return .reply(asServerTransaction(inbound, key: transaction) {
                calls.invite(inbound, credentials: credentials, account: ready.account ?? nil,
                             certificateAccount: ready.binding ?? nil, identity: identity, edge: self)
            })
        }
        if Self.isRelayed(request), let credentials {
            return .reply(asServerTransaction(inbound, key: transaction) {
                calls.relay(inbound, credentials: credentials, account: ready.account ?? nil,
                            certificateAccount: ready.binding ?? nil, edge: self)
            })
        }
        return .reply(process(inbound, method: method, credentials: credentials, account: ready.account,
                              binding: ready.binding))
    }

    /// The server transaction of a request with credentials that goes to the calls (a new INVITE or SUBSCRIBE, a
    /// relayed MESSAGE or OPTIONS) over UDP, where copies arrive; nil for the rest.
    private func callTransaction(_ inbound: SIPInbound, credentials: PresentedCredentials?) -> ServerTransactionKey? {
        guard credentials != nil, !inbound.transport.isReliable, let method = inbound.message.method,
            method == .invite || method == .subscribe || Self.isRelayed(inbound.message)
        else { return nil }
        return try? ServerTransactionKey(request: inbound.message)
    }

    /// Runs a call's request once per server transaction: a copy that arrives while it runs, or after, never reaches
    /// the digest check again (``retransmitted(_:response:)``). The final answer of a request refused at once is
    /// remembered for Timer J (``rememberFinal(_:for:)``); a request that became a call is the call's to answer.
    private func asServerTransaction(_ inbound: SIPInbound, key: ServerTransactionKey?,
                                     _ body: () -> SIPReply?) -> SIPReply? {
        guard let key else { return body() }
        switch transactions.withLock({ $0.arrive(key, now: clock.monotonic()) }) {
        case .retransmission(let response): return retransmitted(inbound, response: response)
        case .new: break
        }
        let reply = body()
        transactions.withLock { cache in
            if let reply { cache.complete(key, response: reply.bytes, reliable: false, now: clock.monotonic()) } else {
                cache.handOver(key, now: clock.monotonic())
            }
        }
        return reply
    }

    /// A copy of a call's request: the answer already given, else the call's own answer to it (or nothing while
    /// the first copy is still being handled).
    private func retransmitted(_ inbound: SIPInbound, response: [UInt8]?) -> SIPReply? {
        if let response, !response.isEmpty { return Self.reply(response, to: inbound) }
        return calls.initialRequestAgain(inbound, edge: self)
    }

    /// The final answer a call's session gave its request at once (a refusal sent down the caller's flow), kept so
    /// that copies of the request get it again instead of running it again.
    func rememberFinal(_ bytes: [UInt8], for inbound: SIPInbound) {
        guard let key = callTransaction(inbound, credentials: Self.credentials(of: inbound)) else { return }
        transactions.withLock { $0.complete(key, response: bytes, reliable: false, now: clock.monotonic()) }
    }

    /// Whether a stream connection from `peer` may be accepted: a banned or deny-listed source is closed at accept,
    /// before it costs a TLS handshake or a connection slot.
    public func admitsConnection(from peer: SocketAddress) -> Bool {
        guard let address = peer.policyAddress else { return false }
        if case .pass = defense.screen(source: address, method: nil, now: clock.monotonic(),
                                       epochSeconds: clock.epochSeconds())
        {
            return true
        }
        return false
    }

    /// Requests waiting for the store.
    public var backlog: Int { deferredRequests.load(ordering: .relaxed) }

    /// Runs the digest check of a request under the authenticator's lock; a success makes the pair a known device.
    func authenticate(_ inbound: SIPInbound, credentials: PresentedCredentials, account: Account?)
        -> RegistrarAuthenticator.Decision
    {
        let decision = authenticator.withLock {
            $0.authenticate(inbound.message, credentials: credentials, now: clock.monotonic(), account: account)
        }
        if case .authenticated(let username, let algorithm) = decision {
            if let address = inbound.source.policyAddress {
                defense.authenticationSucceeded(account: username, source: address, epochSeconds: clock.epochSeconds())
            }
            // An account that proved itself with a strong digest (REGISTER, INVITE, SUBSCRIBE, MESSAGE alike) is
            // pinned to it for good, in the store too, so a restart does not reopen the downgrade.
            if algorithm != DigestAlgorithm.Insecure.md5.token, account?.strongDigestOnly == false {
                let domain = configuration.domain
                directory.pinStrongDigest(username: username, domain: domain)
                let store = self.store
                Task { _ = try? await store.pinStrongDigest(username: username, domain: domain) }
            }
        }
        return decision
    }

    /// The credentials a request brings for the edge to check: Authorization on REGISTER, Proxy-Authorization on a
    /// new INVITE (RFC 3261 §22.3).
    static func credentials(of inbound: SIPInbound) -> PresentedCredentials? {
        switch inbound.message.method {
        case .register?: return PresentedCredentials(inbound.message)
        case .invite? where isInitial(inbound.message), .subscribe? where isInitial(inbound.message):
            return PresentedCredentials(inbound.message, proxy: true)
        case _ where isRelayed(inbound.message): return PresentedCredentials(inbound.message, proxy: true)
        default: return nil
        }
    }

    /// A request outside any dialog that goes on to a user's phones: MESSAGE, and OPTIONS to a user (an OPTIONS
    /// without a user part asks the edge itself).
    static func isRelayed(_ request: SIPMessage) -> Bool {
        guard isInitial(request), let method = request.method else { return false }
        if method == .message { return true }
        guard method == .options, case .sip(let uri)? = try? request.requestLine?.requestURI() else { return false }
        return uri.user != nil
    }

    /// A request outside any dialog (no To tag, RFC 3261 §12).
    static func isInitial(_ request: SIPMessage) -> Bool { (try? request.toTag()) == nil }

    public func handle(_ inbound: SIPInbound) async -> SIPReply? {
        switch handleNow(inbound) {
        case .reply(let reply): return reply
        case .deferred(let deferral): return await handle(inbound, resuming: deferral)
        }
    }

    /// A request ``handleNow(_:)`` deferred for the store: its lookups awaited, then routed from where it stopped
    /// (its screens and budgets, already passed and charged, are not run again).
    public func handle(_ inbound: SIPInbound, resuming deferral: SIPDeferral?) async -> SIPReply? {
        guard let screened = deferral?.state as? Screened else {
            logger.error("a deferred request without its screening state")
            return reply(to: inbound, status: 500)
        }
        deferredRequests.add(1, ordering: .relaxed)
        defer { deferredRequests.subtract(1, ordering: .relaxed) }
        let credentials = screened.credentials ?? PresentedCredentials(inbound.message)
        for _ in 0..<3 {
            switch route(inbound, screened) {
            case .reply(let reply):
                return counted(reply, source: screened.source, epochSeconds: clock.epochSeconds())
            case .deferred(let again):
                if let url = (again?.state as? Screened)?.certificateURL, let service = configuration.identity {
                    await service.fetch(url, monotonic: clock.monotonic,
                                        edgePolicy: calls.addressPolicy.withLock { $0 })
                    continue
                }
            }
            guard case .missing(let username, let fingerprint) = lookups(inbound, credentials: credentials) else {
                continue
            }
            let epoch = directory.epoch
            do {
                if let username {
                    let account = try await store.account(username: username, domain: configuration.domain)
                    directory.store(account: account, username: username, domain: configuration.domain, epoch: epoch)
                }
                if let fingerprint {
                    let bound = try await store.boundAccount(fingerprint: fingerprint)
                    directory.store(binding: bound, fingerprint: fingerprint, epoch: epoch)
                }
            } catch {
                logger.error("store unavailable", metadata: ["error": "\(error.code)"])
                return reply(to: inbound, status: 500)
            }
        }
        // The cache was emptied under us three times in a row: ask the client to come back.
        return reply(to: inbound, status: 503, extraHeaders: [("Retry-After", "1")])
    }

    /// Runs a request through its server transaction, synchronously, with the directory entries it needs.
    private func process(_ inbound: SIPInbound, method: SIPMethod, credentials: PresentedCredentials?,
                         account: Account??, binding: DirectoryCache.Binding?) -> SIPReply? {
        // Only answers to credentials over UDP must be replayed as they were (running a retransmission again would
        // refuse its nonce-count as a replay); challenges, OPTIONS and refusals of other methods are simply
        // computed again, and streams do not retransmit. Those skip the transaction cache altogether.
        let remember = method == .register && !inbound.transport.isReliable
            && inbound.message.firstField(.authorization) != nil
        guard remember else {
            return answer(inbound, method: method, credentials: credentials, account: account, binding: binding).map {
                Self.reply($0, to: inbound)
            }
        }
        guard let key = try? ServerTransactionKey(request: inbound.message) else { return nil }
        let arrival = transactions.withLock { $0.arrive(key, now: clock.monotonic()) }
        switch arrival {
        case .retransmission(let response):
            return response.map { Self.reply($0, to: inbound) }
        case .new:
            break
        }
        guard let bytes = answer(inbound, method: method, credentials: credentials, account: account, binding: binding)
        else {
            transactions.withLock { $0.complete(key, response: [], reliable: true, now: clock.monotonic()) }
            return nil
        }
        transactions.withLock {
            $0.complete(key, response: bytes, reliable: false, now: clock.monotonic())
        }
        return Self.reply(bytes, to: inbound)
    }

    private func answer(_ inbound: SIPInbound, method: SIPMethod, credentials: PresentedCredentials?,
                        account: Account??, binding: DirectoryCache.Binding?) -> [UInt8]? {
        switch method {
        case .register:
            return register(inbound, credentials: credentials ?? PresentedCredentials(inbound.message),
                            account: account, binding: binding)
        case .options:
            guard let status = requestURIStatus(inbound.message) else {
                return respond(inbound, status: 200, extraHeaders: [
                    ("Allow", Self.allowedMethods), ("Accept", "application/sdp"), ("Supported", ""),
                ])
            }
            return respond(inbound, status: status)
        case .cancel:
            return respond(inbound, status: 481)  // no INVITE transaction is ever open to cancel
        default:
            if SIPMethod.known.contains(method) {
                return respond(inbound, status: 405, extraHeaders: [("Allow", Self.allowedMethods)])
            }
            return respond(inbound, status: 501)
        }
    }

    /// nil when the Request-URI is a SIP URI of the served domain; otherwise the status to answer (416 for other
    /// schemes, 404 for other domains: this edge does not relay yet).
    private func requestURIStatus(_ request: SIPMessage) -> Int? { registrar.requestURIStatus(request) }

    /// The served domain if `host` names it or one of its aliases.
    func servedDomain(_ host: SIPHost) -> String? { registrar.served.matching(host) }

    /// A REGISTER, by the registrar (``RegistrarService``): what the client certificate says, the digest check
    /// under the edge's lock, and the findings reported to the defense.
    private func register(_ inbound: SIPInbound, credentials: PresentedCredentials, account cachedAccount: Account??,
                          binding: DirectoryCache.Binding?) -> [UInt8]? {
        let certificate: RegistrarService.ClientCertificate
        if inbound.clientCertificateFingerprint == nil {
            certificate = .absent
        } else if case .some(.some(let bound)) = binding {
            certificate = .bound(username: bound.username, domain: bound.domain)
        } else {
            certificate = .unbound
        }
        let (answer, findings) = registrar.register(
            inbound.message, flow: inbound.flow.description, certificate: certificate,
            claimedUser: credentials.claimedUsername(realm: configuration.domain), now: clock.epochSeconds()
        ) {
            authenticate(inbound, credentials: credentials, account: cachedAccount ?? nil)
        }
        for finding in findings {
            if let reason = finding.reason {
                report(finding.kind, reason: reason, inbound, claimedUser: finding.claimedUser, cause: finding.cause)
            } else {
                report(finding.kind, inbound, claimedUser: finding.claimedUser)
            }
        }
        return respond(inbound, status: answer.status, reason: answer.reason, extraHeaders: answer.headers)
    }

    /// Records a security event about `inbound`; failed authentications also feed the failure rules (bans) and
    /// are counted by `cause` (by default, the one the event's kind implies).
    /// `claimedUser` is the account the request claimed, by user name.
    func report(_ kind: SecurityEvent.Kind, reason: String, _ inbound: SIPInbound, claimedUser: String?,
                cause: AuthFailureCause? = nil) {
        guard let address = inbound.source.policyAddress else { return }
        let epochSeconds = clock.epochSeconds()
        if [.authFailure, .digestReplay, .digestDowngradeAttempt].contains(kind) {
            defense.authenticationFailed(account: claimedUser, source: address, kind: kind, reason: reason,
                                         cause: cause ?? .of(kind), epochSeconds: epochSeconds)
        } else {
            defense.record(SecurityEvent(kind: kind, source: address.description,
                                         account: claimedUser.map { "sip:\($0)@\(configuration.domain)" },
                                         reason: reason, epochSeconds: epochSeconds))
        }
    }

    /// Records an event of the digest check.
    func report(_ event: SecurityEvent.Kind, _ inbound: SIPInbound, claimedUser: String?) {
        let reason = switch event {
        case .digestReplay: "nonce count reused"
        case .digestDowngradeAttempt: "MD5 for an account pinned to stronger digests"
        case .malformedMessage: "malformed credentials"
        default: "wrong password or unknown user"
        }
        report(event, reason: reason, inbound, claimedUser: claimedUser)
    }

    private func respond(_ inbound: SIPInbound, status: Int, reason: String? = nil,
                         extraHeaders: [(String, String)] = []) -> [UInt8]? {
        Self.response(to: inbound, status: status, reason: reason, extraHeaders: extraHeaders)
    }

    /// The edge's own response to `inbound`, with a fresh To tag.
    static func response(to inbound: SIPInbound, status: Int, reason: String? = nil,
                         extraHeaders: [(String, String)] = []) -> [UInt8]? {
        try? inbound.message.makeResponse(status: status, reason: reason, toTag: SIPTag.make(),
                                          source: inbound.sourceHostPort, extraHeaders: extraHeaders)
    }

    /// A response to `inbound` (with a fresh To tag), addressed as its transport requires.
    func reply(to inbound: SIPInbound, status: Int, reason: String? = nil, extraHeaders: [(String, String)] = [])
        -> SIPReply?
    {
        respond(inbound, status: status, reason: reason, extraHeaders: extraHeaders).map { Self.reply($0, to: inbound) }
    }

    /// Response bytes addressed as `inbound`'s transport requires (RFC 3261 §18.2.2).
    static func reply(_ bytes: [UInt8], to inbound: SIPInbound) -> SIPReply {
        SIPReply(bytes: bytes, destination: udpDestination(inbound))
    }

    /// Where a UDP response goes (RFC 3261 §18.2.2, RFC 3581 §4): the source address, and the source port when
    /// the client asked with `rport`, else the sent-by port (default 5060). nil means the packet source.
    static func udpDestination(_ inbound: SIPInbound) -> SocketAddress? {
        guard inbound.transport == .udp, let via = try? inbound.message.topVia() else { return nil }
        // Port 0 is no destination (sending there fails with EINVAL, which would close the socket): the
        // packet source it is.
        if case .absent = via.rport, let ip = inbound.source.ipAddress, via.port != 0 {
            return try? SocketAddress(ipAddress: ip, port: Int(via.port ?? 5060))
        }
        return nil
    }
}

/// The edge's clocks: monotonic for timers and nonces, wall-clock seconds for stored expiries.
public struct EdgeClock: Sendable {
    /// Time since an arbitrary origin that never jumps: every deadline, budget and rate is measured on it.
    public let monotonic: @Sendable () -> Duration
    /// Wall-clock seconds: only for what is stored or shown (expiries, events, bans).
    public let epochSeconds: @Sendable () -> Int64
    /// Wall-clock milliseconds: only for what is stored or shown (CDR times).
    public let epochMilliseconds: @Sendable () -> Int64

    /// Creates a clock (tests inject their own); without `epochMilliseconds`, the seconds' start.
    public init(monotonic: @escaping @Sendable () -> Duration, epochSeconds: @escaping @Sendable () -> Int64,
                epochMilliseconds: (@Sendable () -> Int64)? = nil) {
        self.monotonic = monotonic
        self.epochSeconds = epochSeconds
        self.epochMilliseconds = epochMilliseconds ?? { epochSeconds() * 1000 }
    }

    /// The monotonic clock in whole milliseconds.
    public func monotonicMilliseconds() -> Int64 { monotonic().wholeMilliseconds }

    /// The system clocks.
    public static let system = EdgeClock(
        monotonic: { ContinuousClock.now - EdgeClock.origin },
        epochSeconds: { Int64(realtime().tv_sec) },
        epochMilliseconds: {
            let now = realtime()
            return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
        })

    private static func realtime() -> timespec {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return spec
    }

    static let origin = ContinuousClock.now
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
