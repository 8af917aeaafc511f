import Logging
import MediaRelayNIO
import NIOCore
import Proxy
import Registrar
import SDP
import SIPAuth
import SIPDialog
import SIPMessage
import SIPTransportNIO
import SecurityPolicy
import Storage
import Synchronization

/// Calls between registered users through the edge (issue 4): authenticates a new INVITE (407 with the digest of
/// the registrar), checks that the caller claims its own identity (403), finds the callee's bindings and runs a
/// ``CallSession`` per call, routing responses, ACK, CANCEL and BYE to it and sending its messages down the
/// parties' flows. Sessions are bounded; a call that ends writes its CDR to the store.
public final class CallRouter: Sendable {
    /// Sends bytes down a flow (the server's ``SIPServer/send(_:over:)``); false when the flow is gone.
    public typealias Sender = @Sendable ([UInt8], SIPFlow) -> Bool
    /// The edge's own address on a flow (its listener of that transport, of the peer's address family when it has
    /// one), for Via and Contact.
    public typealias LocalAddresses = @Sendable (SIPFlow) -> SIPLocalAddress?
    /// Runs a closure after some milliseconds (an event loop's `scheduleTask`), for retransmissions over UDP.
    public typealias Scheduler = @Sendable (Int, @escaping @Sendable () -> Void) -> Void

    struct Entry: Sendable {
        var session: CallSession
        var callerFlow: SIPFlow
        /// The call's media at the relay, when media is anchored.
        var anchor: RelayAnchor?
        /// The trunk the call came from or goes to, while it holds one of the trunk's calls (``trunkCalls``).
        var trunk: String?
        /// The account that placed it, its kind, and the relay sections it holds until answered (``AccountLimits``).
        var account: String?
        var isSubscription = false
        var ringingSections = 0
    }

    struct RelayEntry: Sendable {
        var relay: RequestRelay
        var origin: SIPFlow
    }

    struct Table: Sendable {
        /// Sessions by the caller's Call-ID and From tag.
        var byCaller: [String: Entry] = [:]
        /// The caller key and branch of each callee leg, by the leg's Call-ID.
        var byCallee: [String: (caller: String, branch: Int)] = [:]
        /// Relayed requests outside dialogs, by the sender's Call-ID, From tag and CSeq number.
        var relays: [String: RelayEntry] = [:]
        /// The relay key and target of each of the edge's relayed requests, by its Call-ID.
        var relayTargets: [String: (relay: String, target: Int)] = [:]
        /// Long timers of calls, by caller key: fired by ``CallRouter/fireDueTimers(edge:)``.
        var deadlines: [String: [(timer: CallSession.Timer, due: Int64)]] = [:]
    }

    /// Timers at least this long (milliseconds) are kept with the call and checked twice a second.
    static let longTimer = 1_000

    /// One lock per shard of the tables, by key hash: with one lock for every call, the event loops queued for it
    /// (futex waits were a sixth of a call's CPU at 1,200 calls/s). A call's entry and its long timers live in the
    /// shard of its caller key; each callee leg's index entry in the shard of that leg's Call-ID.
    private final class Shard: Sendable {
        let table = Mutex(Table())
    }

    private let shards: [Shard] = (0..<16).map { _ in Shard() }

    private func shard(_ key: String) -> Shard { shards[key.hashValue & (shards.count - 1)] }
    /// The transport hooks, in a class: a function value read through `Mutex.withLock`'s generic `inout` comes back
    /// wrapped in a reabstraction thunk and is written back that way, so closures stored directly in the mutex grew
    /// one layer deeper at every access (seconds of CPU per call after a few thousand calls).
    final class Wiring: Sendable {
        let sender: Sender
        let connector: Sender
        let isOpen: @Sendable (SIPFlow) -> Bool
        let addresses: LocalAddresses
        let scheduler: Scheduler?
        init(sender: @escaping Sender, connector: @escaping Sender, isOpen: @escaping @Sendable (SIPFlow) -> Bool,
             addresses: @escaping LocalAddresses, scheduler: Scheduler?) {
            self.sender = sender
            self.connector = connector
            self.isOpen = isOpen
            self.addresses = addresses
            self.scheduler = scheduler
        }
    }

    /// When the edge opens a connection to a callee's Contact itself: only when the connection the binding was
    /// registered over has closed (a phone behind NAT is reached down its own flow, RFC 5626), and only as the
    /// policy allows.
    public enum ContactConnections: String, Sendable, CaseIterable {
        /// Only over TLS, to a Contact that names TLS (`transport=tls` or `sips:`), its certificate verified: SDES
        /// keys travel in the SDP and must not cross plain TCP. The default.
        case tls
        /// Over TLS or TCP, as the Contact says (what Kamailio does; for closed lab networks).
        case any
        /// Never: a callee whose connection has closed is unreachable until it registers again.
        case never
    }

    private let wiring = Mutex<Wiring?>(nil)
    /// The media relay, once attached (``anchorMedia(_:)``): from then on every call's media goes through it.
    private let mediaRelay = Mutex<MediaRelayWiring?>(nil)
    /// Most calls at once; beyond it new INVITEs get 503.
    public let maxCalls: Int
    /// Longest an answered call may last, in seconds.
    public let maxCallSeconds: Int
    /// The media policy of calls between accounts.
    public let mediaPolicy: MediaPolicy
    /// What each side may see of the other's headers.
    public let headerPolicy: HeaderPolicy
    /// What callers may see of the callees' headers (answers, and requests from the callee's side).
    public let callerHeaderPolicy: HeaderPolicy
    /// When the edge connects to a Contact itself.
    public let contactConnections: ContactConnections
    /// Longest a call may ring unanswered, in seconds.
    public let ringTimeoutSeconds: Int
    /// How CDRs name the parties and the account.
    let partyRecording: PartyRecording
    /// The configured trunks, first match wins.
    public let trunks: [Trunk]
    /// Accounts allowed plain RTP (legacy phones); a call between two of them may go unencrypted.
    public let plainRTPAccounts: Set<String>
    /// Identities (From users) an account may assert besides its own name.
    public let assertableIdentities: [String: Set<String>]
    /// Where a peer's SDP may make the edge send media: the configured policy with the trunks' signalling addresses,
    /// and the listeners and relay once bound (``listening(on:)``, ``anchorMedia(_:)``).
    private let addressPolicy: Mutex<AddressPolicy>

    /// What one account may hold of the edge's shared resources at once, so that it cannot starve the others (a
    /// stolen account ringing hundreds of eight-section calls would otherwise take every relay port). Beyond a
    /// limit, 503 with Retry-After and a `rate-limited` event.
    public struct AccountLimits: Sendable, Hashable {
        /// Calls in progress (ringing or answered).
        public var calls: Int
        /// Subscriptions in progress (BLF, presence), counted apart from calls.
        public var subscriptions: Int
        /// Media sections of its calls not yet answered, each holding two relay port pairs.
        public var ringingSections: Int
        /// Longest a subscription may last before it must be refreshed (RFC 6665 §4.1.2.1 lets the notifier grant
        /// less, never more): the Expires the edge asks for and the longest it keeps one.
        public var subscriptionSeconds: Int

        public init(calls: Int = 16, subscriptions: Int = 64, ringingSections: Int = 16, subscriptionSeconds: Int = 3_600) {
            (self.calls, self.subscriptions, self.ringingSections) = (calls, subscriptions, ringingSections)
            self.subscriptionSeconds = subscriptionSeconds
        }
    }

    /// Who may subscribe to whose state (BLF, presence: who is on the phone, and from when). Every watched party
    /// is an account of the served domain, so the default is "the same domain"; an operator may narrow it.
    public struct WatchPolicy: Sendable, Hashable {
        public enum Mode: String, Sendable, Hashable, CaseIterable {
            /// Any account of the served domain may watch any other (the default).
            case domain
            /// An account may be watched only by the accounts ``watchers`` lists for it (none if absent).
            case listed
            /// No subscriptions: every SUBSCRIBE gets 403.
            case off
        }

        public var mode: Mode
        /// For ``Mode/listed``: watched account → the accounts that may watch it.
        public var watchers: [String: Set<String>]

        public init(mode: Mode = .domain, watchers: [String: Set<String>] = [:]) {
            (self.mode, self.watchers) = (mode, watchers)
        }

        /// Whether `watcher` (an account, or nil for a trunk) may subscribe to `watched`.
        public func permits(watcher: String?, watched: String) -> Bool {
            guard let watcher else { return false }  // carriers watch nobody here
            switch mode {
            case .domain: return true
            case .listed: return watchers[watched]?.contains(watcher) ?? false
            case .off: return false
            }
        }
    }

    /// Per account, what it holds now (against ``accountLimits``).
    struct AccountUsage: Sendable {
        var calls = 0
        var subscriptions = 0
        var ringingSections = 0
        var isEmpty: Bool { calls == 0 && subscriptions == 0 && ringingSections == 0 }
    }

    public let accountLimits: AccountLimits
    /// Who may subscribe to whom.
    public let watchPolicy: WatchPolicy
    private let usage = Mutex<[String: AccountUsage]>([:])

    /// Takes one call (or subscription) and `sections` ringing sections for `account`, or says which limit it is over.
    private func reserve(account: String, subscription: Bool, sections: Int) -> String? {
        usage.withLock { usage in
            var held = usage[account] ?? AccountUsage()
            if subscription {
                guard held.subscriptions < accountLimits.subscriptions else { return "subscriptions per account" }
                held.subscriptions += 1
            } else {
                guard held.calls < accountLimits.calls else { return "calls per account" }
                guard held.ringingSections + sections <= accountLimits.ringingSections else {
                    return "ringing media sections per account"
                }
                held.calls += 1
                held.ringingSections += sections
            }
            usage[account] = held
            return nil
        }
    }

    /// Gives back what ``reserve(account:subscription:sections:)`` took (a call that ended, or never started), or only
    /// the ringing sections of a call that was answered (`calls` 0).
    private func release(account: String, calls: Int, subscriptions: Int, sections: Int) {
        usage.withLock { usage in
            guard var held = usage[account] else { return }
            held.calls = max(0, held.calls - calls)
            held.subscriptions = max(0, held.subscriptions - subscriptions)
            held.ringingSections = max(0, held.ringingSections - sections)
            usage[account] = held.isEmpty ? nil : held
        }
    }

    /// Who places a call.
    enum Caller {
        /// An account, and the identity (From user) it asserts: its name, or one it may assert.
        case account(String, asserting: String)
        case trunk(Trunk)

        var trunk: Trunk? {
            if case .trunk(let trunk) = self { return trunk }
            return nil
        }

        var account: String? {
            if case .account(let username, _) = self { return username }
            return nil
        }
    }
    /// T1 and T2, in milliseconds.
    let t1: Int
    let t2: Int

    init(maxCalls: Int = 10_000, maxCallSeconds: Int = 14_400, mediaPolicy: MediaPolicy = .srtpOnly,
         headerPolicy: HeaderPolicy = .minimizing, callerHeaderPolicy: HeaderPolicy? = nil,
         contactConnections: ContactConnections = .tls,
         ringTimeoutSeconds: Int = 120, t1: Int = 500, t2: Int = 4_000, partyRecording: PartyRecording = .clear,
         trunks: [Trunk] = [], plainRTPAccounts: Set<String> = [], assertableIdentities: [String: Set<String>] = [:],
         addressPolicy: AddressPolicy = .classesOnly, accountLimits: AccountLimits = AccountLimits(),
         watchPolicy: WatchPolicy = WatchPolicy()) {
        self.accountLimits = accountLimits
        self.watchPolicy = watchPolicy
        self.assertableIdentities = assertableIdentities
        var addresses = addressPolicy
        addresses.trunks += trunks.compactMap { $0.flow.remote.endpoint }
        self.addressPolicy = Mutex(addresses)
        self.partyRecording = partyRecording
        self.trunks = trunks
        self.plainRTPAccounts = plainRTPAccounts
        self.contactConnections = contactConnections
        self.ringTimeoutSeconds = ringTimeoutSeconds
        self.t1 = t1
        self.t2 = t2
        self.maxCalls = maxCalls
        self.maxCallSeconds = maxCallSeconds
        self.mediaPolicy = mediaPolicy
        self.headerPolicy = headerPolicy
        self.callerHeaderPolicy = callerHeaderPolicy ?? headerPolicy
    }

    /// Connects the router to the transport once the listeners are bound. Until then INVITEs get 503. Without a
    /// scheduler nothing is retransmitted (enough for reliable transports and tests).
    /// - Parameters:
    ///   - sender: sends down a flow as it is (``SIPServer/send(_:over:)``).
    ///   - connector: sends to a callee, opening a connection when the flow has none
    ///     (``SIPServer/send(_:connecting:serverName:)``); by default the plain sender.
    ///   - isOpen: whether a flow can be used as it is (``SIPServer/isOpen(_:)``); by default every flow is.
    public func attach(sender: @escaping Sender, connector: Sender? = nil,
                       isOpen: (@Sendable (SIPFlow) -> Bool)? = nil, addresses: @escaping LocalAddresses,
                       scheduler: Scheduler? = nil) {
        let hooks = Wiring(sender: sender, connector: connector ?? sender, isOpen: isOpen ?? { _ in true },
                           addresses: addresses, scheduler: scheduler)
        wiring.withLock { $0 = hooks }
    }

    /// Anchors the media of calls started from now on at a relay (issue 7); nil stops anchoring new calls.
    public func anchorMedia(_ relay: MediaRelayWiring?) {
        mediaRelay.withLock { $0 = relay }
        guard let relay else { return }
        addressPolicy.withLock { policy in
            for interface in relay.interfaces {
                if let address = IPAddress(interface.relay.host) { policy.relayAddresses.append(address) }
                if let advertised = IPAddress(interface.advertisedAddress) { policy.relayAddresses.append(advertised) }
                let ports = interface.relay.ports
                policy.relayPorts = policy.relayPorts.map {
                    min($0.lowerBound, ports.lowerBound)...max($0.upperBound, ports.upperBound)
                } ?? ports
            }
        }
    }

    /// The edge's listeners as bound: no SDP may name them as a media destination.
    public func listening(on listeners: [AddressPolicy.Endpoint]) {
        addressPolicy.withLock { $0.listeners += listeners }
    }

    /// Disconnects the router from the transport at shutdown: nothing more is sent or scheduled, and new INVITEs
    /// get 503.
    public func detach() {
        wiring.withLock { $0 = nil }
    }

    /// Fires the long timers that are due (`serve` calls this twice a second).
    public func fireDueTimers(edge: EdgeService) {
        // Deadlines on the monotonic clock (a wall-clock step must not fire or hold them); the calls' own times,
        // which go into their records, on the wall clock.
        let (now, deadline) = (edge.clock.epochMilliseconds(), edge.clock.monotonicMilliseconds())
        let due = shards.flatMap { shard in
            shard.table.withLock { table -> [(String, CallSession.Timer)] in
                var due: [(String, CallSession.Timer)] = []
                for (key, timers) in table.deadlines where timers.contains(where: { $0.due <= deadline }) {
                    due += timers.filter { $0.due <= deadline }.map { (key, $0.timer) }
                    let waiting = timers.filter { $0.due > deadline }
                    table.deadlines[key] = waiting.isEmpty ? nil : waiting
                }
                return due
            }
        }
        for (key, timer) in due { update(key, edge: edge, inbound: nil) { $0.timerFired(timer, now: now) } }
        endCallsWithoutMedia(edge: edge, now: now)
    }

    /// Ends answered calls whose relay has carried no packet either way for the media timeout (and that have been
    /// answered at least that long: a call may ring a while before media starts).
    private func endCallsWithoutMedia(edge: EdgeService, now: Int64) {
        guard let timeout = mediaRelay.withLock({ $0?.timeoutSeconds }) else { return }
        let limit = Int64(timeout) * 1_000
        let silent = shards.flatMap { shard in
            shard.table.withLock { table in
                table.byCaller.compactMap { key, entry -> String? in
                    guard let anchor = entry.anchor, let answered = entry.session.answeredAtMilliseconds,
                        !entry.session.isEnded, now - answered >= limit, anchor.call.idle >= .seconds(timeout)
                    else { return nil }
                    return key
                }
            }
        }
        for key in silent { update(key, edge: edge, inbound: nil) { $0.mediaTimedOut(now: now) } }
    }

    /// A clean shutdown, while the transport still works: every call is ended (BYE on both legs of an answered one;
    /// a ringing one cancelled, its caller answered 503) and every CDR, these included, is in the store on return.
    public func shutdown(edge: EdgeService) async {
        let now = edge.clock.epochMilliseconds()
        let ended = shards.flatMap { shard in
            shard.table.withLock { table -> [(key: String, actions: [CallSession.Action], callerFlow: SIPFlow)] in
                var ended: [(key: String, actions: [CallSession.Action], callerFlow: SIPFlow)] = []
                for (key, var entry) in table.byCaller {
                    ended.append((key, entry.session.terminate(now: now), entry.callerFlow))
                }
                table.byCaller = [:]
                self.usage.withLock { $0 = [:] }
                self.trunkCalls.withLock { $0 = [:] }
                table.byCallee = [:]
                table.deadlines = [:]
                return ended
            }
        }
        for call in ended {
            // Nothing is retransmitted any more: the loops are about to stop.
            let actions = call.actions.filter { if case .startTimer = $0 { false } else { true } }
            perform(actions, key: call.key, callerFlow: call.callerFlow, edge: edge, inbound: nil)
        }
        if !ended.isEmpty { edge.logger.notice("calls ended at shutdown", metadata: ["count": "\(ended.count)"]) }
        await edge.callRecords.drain()
    }

    /// Per trunk, the token bucket of the calls it places (``Trunk/maxCallsPerSecond``, a burst of as many).
    private let trunkBuckets = Mutex<[String: RateLimiter.Bucket]>([:])
    /// Per trunk, its calls in progress (in and out) until each ends: counted as they start and end, not by walking
    /// every call for each new one.
    private let trunkCalls = Mutex<[String: Int]>([:])

    /// Whether a trunk may place one more call this second.
    private func trunkMayPlaceCall(_ trunk: Trunk, now: Int64) -> Bool {
        let rate = Double(trunk.maxCallsPerSecond)
        let budget = RateLimiter.Budget(perSecond: rate, burst: rate)
        return trunkBuckets.withLock { buckets in
            var bucket = buckets[trunk.name] ?? RateLimiter.Bucket(full: budget, now: now)
            defer { buckets[trunk.name] = bucket }
            return bucket.take(budget, now: now)
        }
    }

    /// Counts one more call through `trunk`, unless it holds ``Trunk/maxCalls`` already.
    private func takeTrunkCall(_ trunk: Trunk) -> Bool {
        trunkCalls.withLock { calls in
            let current = calls[trunk.name, default: 0]
            if let limit = trunk.maxCalls, current >= limit { return false }
            calls[trunk.name] = current + 1
            return true
        }
    }

    /// Gives back a call counted by ``takeTrunkCall(_:)``.
    private func releaseTrunkCall(_ name: String) {
        trunkCalls.withLock { calls in
            let remaining = calls[name, default: 1] - 1
            calls[name] = remaining > 0 ? remaining : nil
        }
    }

    /// How many calls are in progress.
    public var activeCalls: Int { shards.reduce(0) { $0 + $1.table.withLock { $0.byCaller.count } } }

    // MARK: New calls

    /// A new INVITE. `certificateAccount` is the account the TLS client certificate is bound to, if any.
    func invite(_ inbound: SIPInbound, credentials: PresentedCredentials, account: Account?,
                certificateAccount: (username: String, domain: String)? = nil, edge: EdgeService) -> SIPReply?
    {
        let request = inbound.message
        guard let key = Self.callerKey(request) else { return edge.reply(to: inbound, status: 400) }
        if shard(key).table.withLock({ $0.byCaller[key] != nil }) {
            // A retransmission: the session answers it (again, if it has already given its final answer).
            update(key, edge: edge, inbound: inbound) { $0.initialRequestRetransmitted(request) }
            return nil
        }
        let admitted: Admission
        switch admit(inbound, credentials: credentials, account: account, certificateAccount: certificateAccount,
                     edge: edge) {
        case .refused(let reply): return reply
        case .admitted(let admission): admitted = admission
        }
        guard activeCalls < maxCalls else { return edge.reply(to: inbound, status: 503, extraHeaders: [("Retry-After", "5")]) }
        let domain = edge.configuration.domain
        let callee = admitted.calleeUser

        // Where to: the callee's registered phones; for an account's call to a number nobody here has registered,
        // the trunk whose prefix it matches (never from a trunk to a trunk: no transit for toll fraud). A
        // subscription goes to one phone only (the most recent binding): one notifier, one dialog.
        let subscribing = request.method == .subscribe
        if subscribing, !watchPolicy.permits(watcher: admitted.caller.account, watched: callee) {
            return edge.reply(to: inbound, status: 403)
        }
        var targets = bindingTargets(of: "sip:\(callee)@\(domain)", edge: edge, wiring: admitted.wiring)
        if subscribing { targets = Array(targets.suffix(1)) }
        var calleeAOR = "sip:\(callee)@\(domain)"
        var outboundTrunk: Trunk?
        if targets.isEmpty, !subscribing, case .account = admitted.caller,
            let trunk = trunks.first(where: { $0.routes(callee) }),
            let address = admitted.wiring.addresses(trunk.flow), let trunkPeer = trunk.flow.peer
        {
            outboundTrunk = trunk
            calleeAOR = trunk.uri(for: callee)
            targets = [CallSession.Target(contact: calleeAOR, flow: trunkPeer, address: address,
                                          credentials: trunk.credentials,
                                          party: MediaParty(signalsFrom: trunk.flow.remote.endpoint?.address,
                                                            isTrunk: true))]
        }
        guard let presented = present(admitted, towards: outboundTrunk, edge: edge) else {
            return edge.reply(to: inbound, status: 400)
        }
        // The media policy: a trunk's own when one takes part; between accounts, plain RTP only where both may.
        let callMediaPolicy: MediaPolicy
        if case .trunk(let trunk) = admitted.caller {
            callMediaPolicy = trunk.mediaPolicy
        } else if let outboundTrunk {
            callMediaPolicy = outboundTrunk.mediaPolicy
        } else if case .account(let username, _) = admitted.caller, plainRTPAccounts.contains(username),
            plainRTPAccounts.contains(callee)
        {
            callMediaPolicy = MediaPolicy(allowsPlainRTP: true, allowedSuites: mediaPolicy.allowedSuites)
        } else {
            callMediaPolicy = mediaPolicy
        }
        // A trunk whose SRTP ends at the relay (the caller's, or the one the call goes out by): the call's SDP
        // carries both legs' suites, the account's (held to the edge's policy on its own leg) and the trunk's.
        let bridgedTrunk = [admitted.caller.trunk, outboundTrunk].compactMap { $0 }.first(where: \.bridgesSRTP)
        var callPolicy = callMediaPolicy
        if let bridgedTrunk {
            callPolicy.allowedSuites = bridgedTrunk.mediaPolicy.allowedSuites
                + mediaPolicy.allowedSuites.filter { !bridgedTrunk.mediaPolicy.allowedSuites.contains($0) }
        }
        var setup = CallSession.Setup(
            invite: request, forwardedHeaders: presented.headers, presentedCaller: presented.from,
            callee: "<\(calleeAOR)>", callerAddress: admitted.address, targets: targets, mediaPolicy: callPolicy,
            headerPolicy: callerHeaderPolicy, callerUsesUDP: inbound.transport == .udp,
            recordID: SIPTag.make() + SIPTag.make(), recordedCaller: partyRecording.recorded(presented.recordedCaller),
            recordedCallee: partyRecording.recorded("sip:\(callee)@\(domain)"),
            account: partyRecording.recorded(presented.recordedAccount),
            maxDurationSeconds: subscribing ? nil : maxCallSeconds, ringTimeoutSeconds: subscribing ? nil : ringTimeoutSeconds)
        setup.t1 = t1
        setup.t2 = t2
        setup.calleeHeaderPolicy = headerPolicy
        if subscribing {
            // The notifier is asked for no more than the edge keeps a subscription (RFC 6665 §4.1.2.1: it may grant
            // less, never more), so the subscriber refreshes in time.
            let cap = accountLimits.subscriptionSeconds
            setup.maxSubscriptionSeconds = cap
            setup.forwardedHeaders = setup.forwardedHeaders.map { field in
                guard field.kind == .expires, let asked = Int(field.value.trimmingCharacters(in: .whitespaces)),
                    asked > cap, let capped = try? SIPHeaderField(.expires, value: String(cap))
                else { return field }
                return capped
            }
        }
        // Transfers only between the edge's own users, and never in a call with a carrier (which would place the
        // transferred call wherever the Refer-To says, at the edge's expense).
        setup.referDomain = admitted.caller.trunk == nil && outboundTrunk == nil ? domain : nil
        setup.caller = MediaParty(signalsFrom: admitted.inbound.source.policyAddress,
                                  isTrunk: admitted.caller.trunk != nil)
        setup.addressPolicy = addressPolicy.withLock { $0 }
        if case .trunk(let trunk) = admitted.caller { setup.trunk = trunk.name } else { setup.trunk = outboundTrunk?.name }
        var inboundTrunk: String?
        var account: String?
        switch admitted.caller {
        case .trunk(let trunk): inboundTrunk = trunk.name
        case .account(let username, _): account = username
        }
        // One account's share of what all share: its calls, its subscriptions, the relay ports of its ringing calls.
        let relay = subscribing ? nil : mediaRelay.withLock { $0 }
        let offer = relay == nil ? nil : try? SessionDescription(parsing: request.body)
        let sections = min(max(1, offer?.media.count ?? 1), RelayCall.maximumSections)
        let reservedSections = relay == nil ? 0 : sections
        if let account, let limit = reserve(account: account, subscription: subscribing, sections: reservedSections) {
            edge.defense.record(SecurityEvent(kind: .rateLimited, source: admitted.inbound.source.ipAddress,
                                              account: "sip:\(account)@\(domain)", reason: "over the \(limit)",
                                              epochSeconds: edge.clock.epochSeconds()))
            return edge.reply(to: inbound, status: 503, extraHeaders: [("Retry-After", "5")])
        }
        var heldTrunk: Trunk?
        /// Gives the reservations back when the call does not go ahead.
        func unreserve() {
            if let account {
                release(account: account, calls: subscribing ? 0 : 1, subscriptions: subscribing ? 1 : 0,
                        sections: reservedSections)
            }
            if let heldTrunk { releaseTrunkCall(heldTrunk.name) }
        }
        // A trunk's calls at once, in and out (``Trunk/maxCalls``).
        if let callTrunk = admitted.caller.trunk ?? outboundTrunk {
            guard takeTrunkCall(callTrunk) else {
                unreserve()
                return edge.reply(to: inbound, status: 503, extraHeaders: [("Retry-After", "5")])
            }
            heldTrunk = callTrunk
        }
        // Subscriptions cost nothing (and never reach a trunk): only calls meet the toll-fraud rules.
        let fraud = subscribing ? FraudMonitor.Verdict() : edge.fraud.check(
            account: account, inboundTrunk: inboundTrunk, outboundTrunk: outboundTrunk?.name, dialled: callee,
            callID: setup.recordID, source: admitted.inbound.source.ipAddress ?? "?",
            epochSeconds: edge.clock.epochSeconds(), now: edge.clock.monotonic())
        for event in fraud.events { edge.defense.record(event) }
        if let suspended = fraud.suspendedAccount {
            edge.defense.suspend(account: suspended, reason: "fraud rules", epochSeconds: edge.clock.epochSeconds())
        }
        if let status = fraud.refusal {
            unreserve()
            return edge.reply(to: inbound, status: status)
        }
        var anchor: RelayAnchor?
        if let relay {
            // Ports for every section of the offer (or one, for a late offer), taken now: the INVITE goes out with
            // the relay's address. No ports: no call, rather than media that bypasses the relay.
            // Each side on the relay's address of its own family: the caller's offer's (or, for a late offer, the
            // family it signals from), the callee's that of the edge's address towards it.
            let source = admitted.inbound.source.ipAddress
            let offerHost = offer.flatMap { ($0.media.first?.connections.first ?? $0.connection)?.address }
            let callerIPv6 = (offerHost ?? source).map { $0.contains(":") }
            let calleeIPv6: Bool? = targets.first.flatMap { target in
                switch target.address.host {
                case .ipv4: false
                case .ipv6: true
                case .hostname: nil
                }
            } ?? callerIPv6
            let party = account.map { "sip:\($0)@\(domain)" } ?? inboundTrunk.map { "trunk:\($0)" }
            // Bridged, the account's leg carries SRTP of the edge's suites; the trunk's, what the trunk is set to.
            var bridging: RelayAnchor.Bridging?
            if let bridgedTrunk {
                let accountLeg = RelayAnchor.Bridging.Leg.sdes(mediaPolicy.allowedSuites)
                if admitted.caller.trunk != nil {
                    bridging = .init(caller: bridgedTrunk.bridgedLeg, callee: accountLeg)
                } else {
                    bridging = .init(caller: accountLeg, callee: bridgedTrunk.bridgedLeg)
                    setup.callerLegPolicy = callerLegPolicy(admitted)
                }
            }
            anchor = RelayAnchor(wiring: relay, sections: sections, callerIPv6: callerIPv6,
                                 calleeIPv6: calleeIPv6, bridging: bridging) { [weak edge] finding in
                guard let edge else { return }
                edge.defense.record(SecurityEvent(kind: finding.eventKind, source: source, account: party,
                                                  reason: finding.description, epochSeconds: edge.clock.epochSeconds()))
            }
            guard anchor != nil else {
                unreserve()
                edge.logger.warning("media relay has no ports left; call refused")
                edge.fraud.ended(callID: setup.recordID, answeredAtMilliseconds: nil,
                                 endedAtMilliseconds: edge.clock.epochMilliseconds(), now: edge.clock.monotonic())
                return edge.reply(to: inbound, status: 503, extraHeaders: [("Retry-After", "5")])
            }
            setup.mediaAnchor = anchor
        }
        let (session, actions) = CallSession.start(setup, now: edge.clock.epochMilliseconds())
        let callerFlow = SIPFlow(transport: inbound.transport, remote: inbound.source)
        if session.isFinished {  // refused at once (488, 480): it leaves nothing behind, and copies get its answer
            unreserve()
            if case .toCaller(let bytes)? = actions.last(where: { if case .toCaller = $0 { true } else { false } }) {
                edge.rememberFinal(bytes, for: inbound)
            }
        } else {
            // Checked and taken under one lock: a copy of the INVITE handled at the same time on another loop is a
            // retransmission, and its session (not yet sent anything) is dropped.
            let taken = shard(key).table.withLock { table -> Bool in
                guard table.byCaller[key] == nil else { return false }
                table.byCaller[key] = Entry(session: session, callerFlow: callerFlow, anchor: anchor, trunk: setup.trunk,
                                            account: account, isSubscription: subscribing,
                                            ringingSections: reservedSections)
                return true
            }
            guard taken else {
                unreserve()
                _ = anchor?.finish()
                edge.fraud.ended(callID: setup.recordID, answeredAtMilliseconds: nil,
                                 endedAtMilliseconds: edge.clock.epochMilliseconds(), now: edge.clock.monotonic())
                return nil
            }
            for (index, callID) in session.calleeCallIDs.enumerated() {
                shard(callID).table.withLock { $0.byCallee[callID] = (key, index) }
            }
        }
        perform(actions, key: key, callerFlow: callerFlow, edge: edge, inbound: inbound)
        return nil
    }

    /// A copy of a call's initial request (or of a relayed one) that the edge has taken already: the session
    /// answers it (its final answer again, if it gave one), or the relayed request's answer goes again. Never
    /// admitted a second time.
    func initialRequestAgain(_ inbound: SIPInbound, edge: EdgeService) -> SIPReply? {
        let request = inbound.message
        guard let callerKey = Self.callerKey(request) else { return nil }
        if request.method == .invite || request.method == .subscribe {
            if shard(callerKey).table.withLock({ $0.byCaller[callerKey] != nil }) {
                update(callerKey, edge: edge, inbound: inbound) { $0.initialRequestRetransmitted(request) }
            }
            return nil
        }
        guard let cseq = try? request.cseq() else { return nil }
        let key = callerKey + "\u{1}\(cseq.sequenceNumber)"
        return shard(key).table.withLock { $0.relays[key] }?.relay.answer.map { EdgeService.reply($0, to: inbound) }
    }

    // MARK: Requests outside dialogs

    /// A MESSAGE (RFC 3428) or an OPTIONS to a user, outside any dialog: authenticated like a call, then relayed to
    /// every phone of the user; the first 2xx or the best failure goes back.
    func relay(_ inbound: SIPInbound, credentials: PresentedCredentials, account: Account?,
               certificateAccount: (username: String, domain: String)? = nil, edge: EdgeService) -> SIPReply?
    {
        let request = inbound.message
        guard let callerKey = Self.callerKey(request), let cseq = try? request.cseq() else {
            return edge.reply(to: inbound, status: 400)
        }
        let key = callerKey + "\u{1}\(cseq.sequenceNumber)"
        if let known = shard(key).table.withLock({ $0.relays[key] }) {
            return known.relay.answer.map { EdgeService.reply($0, to: inbound) }  // a retransmission
        }
        let admitted: Admission
        switch admit(inbound, credentials: credentials, account: account, certificateAccount: certificateAccount,
                     edge: edge) {
        case .refused(let reply): return reply
        case .admitted(let admission): admitted = admission
        }
        guard shards.reduce(0, { $0 + $1.table.withLock { $0.relays.count } }) < maxCalls else {
            return edge.reply(to: inbound, status: 503, extraHeaders: [("Retry-After", "5")])
        }
        let aor = "sip:\(admitted.calleeUser)@\(edge.configuration.domain)"
        let targets = bindingTargets(of: aor, edge: edge, wiring: admitted.wiring)
        guard let presented = present(admitted, towards: nil, edge: edge) else { return edge.reply(to: inbound, status: 400) }
        let (relay, actions) = RequestRelay.start(
            request, forwardedHeaders: presented.headers, from: presented.from, to: "<\(aor)>", targets: targets,
            headerPolicy: callerHeaderPolicy, t1: t1, t2: t2)
        let originFlow = SIPFlow(transport: inbound.transport,
                                 remote: EdgeService.udpDestination(inbound) ?? inbound.source)
        if !relay.isFinished {
            for (index, callID) in relay.targetCallIDs.enumerated() {
                shard(callID).table.withLock { $0.relayTargets[callID] = (key, index) }
            }
            shard(key).table.withLock { $0.relays[key] = RelayEntry(relay: relay, origin: originFlow) }
        }
        return performRelay(actions, key: key, origin: originFlow)
    }

    private func updateRelay(_ key: String, _ body: (inout RequestRelay) -> [RequestRelay.Action], expire: Bool = false) {
        let outcome = shard(key).table.withLock { table -> ([RequestRelay.Action], SIPFlow, [String])? in
            guard var entry = table.relays[key] else { return nil }
            let actions = body(&entry.relay)
            if expire {
                table.relays[key] = nil
                return (actions, entry.origin, entry.relay.targetCallIDs)
            }
            table.relays[key] = entry
            return (actions, entry.origin, [])
        }
        for callID in outcome?.2 ?? [] { shard(callID).table.withLock { $0.relayTargets[callID] = nil } }
        guard let (actions, origin, _) = outcome, let reply = performRelay(actions, key: key, origin: origin) else { return }
        _ = wiring.withLock({ $0?.sender })?(reply.bytes, origin)
    }

    /// Sends and schedules what a relay asked for; returns its answer for the original request.
    private func performRelay(_ actions: [RequestRelay.Action], key: String, origin: SIPFlow) -> SIPReply? {
        guard let hooks = wiring.withLock({ $0 }) else { return nil }
        var reply: SIPReply?
        for action in actions {
            switch action {
            case .reply(let bytes):
                reply = SIPReply(bytes: bytes, destination: origin.transport == .udp ? origin.remote : nil)
            case .toTarget(_, let bytes, let flow):
                if let flow = SIPFlow(flow) { _ = hooks.connector(bytes, flow) }
            case .startTimer(let timer, let milliseconds):
                hooks.scheduler?(milliseconds) { [weak self] in
                    // Timer F also ends the entry's life: retransmissions of the request are answered until then.
                    self?.updateRelay(key, { $0.timerFired(timer) }, expire: timer == .timeout)
                }
            }
        }
        return reply
    }

    // MARK: Admission (calls and relayed requests)

    /// A request the edge accepted to route: who sends it, to which user, and the transport hooks.
    struct Admission {
        let inbound: SIPInbound
        let caller: Caller
        let calleeUser: String
        /// The request's From, as parsed once here.
        let from: SIPAddress?
        let address: SIPLocalAddress
        let wiring: Wiring
    }

    enum AdmissionOutcome {
        case admitted(Admission)
        case refused(SIPReply?)
    }

    /// Checks a new INVITE, MESSAGE or OPTIONS: Max-Forwards (483), a user of the served domain as target (404), and
    /// the sender: a trunk by its address, an account by the TLS client certificate bound to it (mutual TLS), or an
    /// account by digest (407). An account's From must be its own (403).
    func admit(_ inbound: SIPInbound, credentials: PresentedCredentials, account: Account?,
               certificateAccount: (username: String, domain: String)?, edge: EdgeService) -> AdmissionOutcome
    {
        let request = inbound.message
        func refuse(_ status: Int, _ headers: [(String, String)] = []) -> AdmissionOutcome {
            .refused(edge.reply(to: inbound, status: status, extraHeaders: headers))
        }
        guard let maxForwards = try? request.maxForwards() ?? 70, maxForwards > 0 else { return refuse(483) }
        guard let wiring = wiring.withLock({ $0 }) else { return refuse(503, [("Retry-After", "5")]) }
        let domain = edge.configuration.domain
        guard case .sip(let target)? = try? request.requestLine?.requestURI(), let callee = target.user,
            edge.servedDomain(target.host) != nil
        else { return refuse(404) }
        guard let address = wiring.addresses(SIPFlow(transport: inbound.transport, remote: inbound.source)) else {
            return refuse(500)
        }
        // Who sends: a trunk, known by its address (it does not authenticate), or an account that does (407).
        if let trunk = trunks.first(where: { $0.sends(inbound) }) {
            guard trunkMayPlaceCall(trunk, now: edge.clock.monotonicMilliseconds()) else {
                return refuse(503, [("Retry-After", "1")])
            }
            return .admitted(Admission(inbound: inbound, caller: .trunk(trunk), calleeUser: callee,
                                       from: try? request.from(), address: address, wiring: wiring))
        }
        let username: String
        if let bound = certificateAccount, bound.domain == domain, inbound.transport == .tls {
            username = bound.username  // the handshake verified the certificate; the device binding names the account
        } else {
            switch edge.authenticate(inbound, credentials: credentials, account: account) {
            case .challenge(let values):
                return refuse(407, values.map { ("Proxy-Authenticate", $0) })
            case .reject(let status, let event):
                if let event { edge.report(event, inbound, claimedUser: credentials.claimedUsername(realm: domain)) }
                return refuse(status)
            case .authenticated(let name, _):
                username = name
            }
        }
        // One may only call as oneself or as an identity the account may assert (RFC 3261 §22, issue 4): any
        // other From is a spoof.
        let from = try? request.from()
        guard case .sip(let fromURI)? = from?.uri, let fromUser = fromURI.user,
            fromUser == username || assertableIdentities[username]?.contains(fromUser) == true,
            edge.servedDomain(fromURI.host) != nil
        else {
            edge.report(.callerIDSpoofing, reason: "From not assertable by the account", inbound, claimedUser: username)
            return refuse(403)
        }
        return .admitted(Admission(inbound: inbound, caller: .account(username, asserting: fromUser),
                                   calleeUser: callee, from: from, address: address, wiring: wiring))
    }

    /// The phones registered for an AOR, each down its registration flow, or (when that has closed) a connection to
    /// its Contact as the policy allows.
    private func bindingTargets(of aor: String, edge: EdgeService, wiring: Wiring) -> [CallSession.Target] {
        edge.location.bindings(of: aor).compactMap { binding in
            // A binding made from a trunk's address (a REGISTER sent, or forged over UDP, from a carrier's host) would
            // send the account's calls to the carrier from the edge's trusted address: toll fraud with no
            // destination rule. No user is reached at a trunk's address.
            guard let registered = binding.flow.flatMap({ SIPFlow($0) }), !isTrunkAddress(registered.remote.policyAddress)
            else { return nil }
            var flow = registered
            if !wiring.isOpen(registered) {
                guard let contact = Self.contactFlow(binding.contact, policy: contactConnections),
                    mayConnect(to: contact, registeredOver: registered)
                else { return nil }
                flow = contact
            }
            guard let address = wiring.addresses(flow), let peer = flow.peer else { return nil }
            return CallSession.Target(contact: binding.contact, flow: peer, address: address,
                                      party: MediaParty(signalsFrom: registered.remote.policyAddress))
        }
    }

    /// Whether the edge may open a connection to a Contact itself: only to the address the registration came from
    /// (a Contact cannot aim the edge anywhere else), never to a trunk's address (nor share its connection) or one
    /// of the edge's own listeners, and only where the address policy lets that party send the edge.
    func mayConnect(to contact: SIPFlow, registeredOver registered: SIPFlow) -> Bool {
        guard let target = contact.remote.endpoint, let source = registered.remote.policyAddress,
            target.address == source, !isTrunkAddress(target.address)
        else { return false }
        return addressPolicy.withLock { $0.refusal(of: target.address, port: target.port, toldBy: source) } == nil
    }

    /// Whether an address is a trunk's (on any port and transport): the edge never reaches a user there.
    func isTrunkAddress(_ address: IPAddress?) -> Bool {
        guard let address else { return false }
        return trunks.contains { $0.flow.remote.policyAddress == address }
    }

    /// The policy an account's own leg is held to: the edge's (plain RTP only for accounts allowed it).
    private func callerLegPolicy(_ admitted: Admission) -> MediaPolicy {
        guard case .account(let username, _) = admitted.caller, plainRTPAccounts.contains(username) else {
            return mediaPolicy
        }
        return MediaPolicy(allowsPlainRTP: true, allowedSuites: mediaPolicy.allowedSuites)
    }

    /// What the far side may see of the sender: its end-to-end headers after identity and header policy (RFC 3325:
    /// the edge asserts the identity it authenticated, or passes a trusted trunk's; RFC 3323 privacy), and its From.
    /// Nil if the request's headers cannot be policed (400).
    private func present(_ admitted: Admission, towards trunk: Trunk?, edge: EdgeService)
        -> (headers: [SIPHeaderField], from: String, recordedCaller: String, recordedAccount: String)?
    {
        let request = admitted.inbound.message
        let domain = edge.configuration.domain
        let identity: String
        let recordedAccount: String
        var hop = IdentityPolicy.Hop(sourceIsTrusted: false, authenticatedIdentity: nil,
                                     destinationIsTrusted: trunk?.trustsIdentity ?? false)
        switch admitted.caller {
        case .account(let username, let asserted):
            identity = "sip:\(asserted)@\(domain)"
            recordedAccount = "\(username)@\(domain)"
            hop.authenticatedIdentity = identity
        case .trunk(let source):
            // A trunk's caller is a number (or name) of the far network, shown under the edge's domain.
            var user = "anonymous"
            if case .sip(let uri)? = admitted.from?.uri, let number = uri.user { user = number }
            identity = "sip:\(user)@\(domain)"
            recordedAccount = "trunk:\(source.name)"
            hop.sourceIsTrusted = source.trustsIdentity
        }
        var policed = request
        do {
            try IdentityPolicy.apply(to: &policed, hop: hop)
            try headerPolicy.apply(to: &policed)
        } catch {
            return nil
        }
        if trunk != nil, case .account = admitted.caller {
            // Towards a carrier, only the edge speaks for an account: no redirection history a phone made up
            // (Diversion, History-Info: billing and fraud checks downstream trust them), no Call-Info pointing
            // anywhere, no Identity of the phone's own (STIR/SHAKEN is signed by the edge, if at all).
            policed.removeHeaders { field in
                let name = field.name.lowercased()
                return ["diversion", "history-info", "call-info", "identity", "y"].contains(name)
            }
        }
        let from: String
        if let policedFrom = try? policed.from(), policedFrom.uri.description == "sip:anonymous@anonymous.invalid" {
            from = "\"Anonymous\" <sip:anonymous@anonymous.invalid>"
        } else {
            // Written through SIPAddress, which quotes and escapes: a display name cannot smuggle in another URI.
            let display = admitted.from?.displayName
            if let uri = try? SIPURI(identity) {
                from = SIPAddress(displayName: display, uri: .sip(uri)).description
            } else {
                from = "<\(identity)>"
            }
        }
        return (B2BUA.endToEndHeaders(of: policed), from, identity, recordedAccount)
    }

    // MARK: Everything else of a call

    /// Everything of a call after its INVITE: responses from either side, and requests in its dialogs.
    func route(_ inbound: SIPInbound, edge: EdgeService) -> SIPReply? {
        let message = inbound.message
        guard let callID = try? message.callID() else { return nil }
        let now = edge.clock.epochMilliseconds()
        if !message.isRequest {
            // From a callee (its leg's Call-ID is the edge's), or from the caller answering the edge's request on the
            // caller's dialog (its Call-ID and tag, the tag now in To).
            let legs = shard(callID).table.withLock { ($0.byCallee[callID], $0.relayTargets[callID]) }
            if let (key, branch) = legs.0 {
                update(key, edge: edge, inbound: inbound) { $0.calleeResponded(message, branch: branch, now: now) }
            } else if let (key, target) = legs.1 {
                updateRelay(key) { $0.targetResponded(message, target: target) }
            } else if let toTag = (try? message.toTag()) ?? nil {
                update(callID + "\u{1}" + toTag, edge: edge, inbound: inbound) { $0.callerResponded(message, now: now) }
            }
            return nil
        }
        let method = message.method
        if let key = Self.callerKey(message) {
            if method == .cancel {
                // CANCEL has no To tag: it matches the INVITE, and is answered here (RFC 3261 §9.2), before the
                // INVITE's 487 goes out.
                guard shard(key).table.withLock({ $0.byCaller[key] != nil }) else {
                    return edge.reply(to: inbound, status: 481)
                }
                if let ok = try? message.makeResponse(status: 200, source: inbound.sourceHostPort),
                    let sender = wiring.withLock({ $0?.sender })
                {
                    let reply = EdgeService.reply(ok, to: inbound)
                    _ = sender(reply.bytes, SIPFlow(transport: inbound.transport,
                                                    remote: reply.destination ?? inbound.source))
                }
                update(key, edge: edge, inbound: inbound) { $0.callerCancelled(now: now) }
                return nil
            }
            if let handled = update(key, edge: edge, inbound: inbound, { $0.callerRequest(message, now: now) }) {
                return handled
            }
        }
        if let (key, branch) = shard(callID).table.withLock({ $0.byCallee[callID] }),
            let handled = update(key, edge: edge, inbound: inbound, { $0.calleeRequest(message, branch: branch, now: now) })
        {
            return handled
        }
        // No such call or transaction (RFC 3261 §12.2.2, §9.2); an ACK is never answered.
        return method == .ack ? nil : edge.reply(to: inbound, status: 481)
    }

    /// Runs `body` on a session, performs its actions, and forgets the session once it has ended. Nil when there is
    /// no such session; else the session's own answer to the message, if it gave one.
    @discardableResult
    private func update(_ key: String, edge: EdgeService, inbound: SIPInbound?,
                        _ body: (inout CallSession) -> [CallSession.Action]) -> SIPReply?? {
        let hooks = wiring.withLock { $0 }
        let outcome = shard(key).table.withLock { table -> ([CallSession.Action], SIPFlow, [String])? in
            guard var entry = table.byCaller[key] else { return nil }
            var actions = body(&entry.session)
            // Messages leave in the order the session produced them: sent under the call's lock, so that a 180 a
            // losing branch sent just before the winner's 200 cannot overtake that 200 on another event loop.
            if let hooks {
                actions.removeAll { action in
                    switch action {
                    case .toCaller(let bytes):
                        _ = hooks.sender(bytes, entry.callerFlow)
                    case .toCallee(_, let bytes, let flow):
                        if let flow = SIPFlow(flow) { _ = hooks.connector(bytes, flow) }
                    default:
                        return false
                    }
                    return true
                }
            }
            // A trunk's call stops counting once it has ended (it may linger for the finals of cancelled branches).
            if let trunk = entry.trunk, entry.session.isEnded || entry.session.isFinished {
                releaseTrunkCall(trunk)
                entry.trunk = nil
            }
            if let account = entry.account {
                if entry.session.isFinished {
                    release(account: account, calls: entry.isSubscription ? 0 : 1, subscriptions: entry.isSubscription ? 1 : 0,
                            sections: entry.ringingSections)
                } else if entry.ringingSections > 0, entry.session.answeredAtMilliseconds != nil || entry.session.isEnded {
                    release(account: account, calls: 0, subscriptions: 0, sections: entry.ringingSections)
                    entry.ringingSections = 0
                }
            }
            if entry.session.isFinished {
                table.byCaller[key] = nil
                table.deadlines[key] = nil
                return (actions, entry.callerFlow, entry.session.calleeCallIDs)
            }
            table.byCaller[key] = entry
            return (actions, entry.callerFlow, [])
        }
        guard let (actions, callerFlow, forgotten) = outcome else { return nil }
        for callID in forgotten { shard(callID).table.withLock { $0.byCallee[callID] = nil } }
        return .some(perform(actions, key: key, callerFlow: callerFlow, edge: edge, inbound: inbound))
    }

    /// Sends, schedules and stores what a session asked for; returns its answer to the message being handled.
    @discardableResult
    private func perform(_ actions: [CallSession.Action], key: String, callerFlow: SIPFlow, edge: EdgeService,
                         inbound: SIPInbound?) -> SIPReply? {
        guard let hooks = wiring.withLock({ $0 }) else { return nil }
        var reply: SIPReply?
        let sender = hooks.sender
        let scheduler = hooks.scheduler
        for action in actions {
            switch action {
            case .startTimer(let timer, let milliseconds) where milliseconds >= Self.longTimer:
                // Long timers (ring timeout, session expiry, maximum duration, Timer B over streams) wait in the
                // call's entry and go with it, instead of lingering in the event loop's queue for hours.
                guard scheduler != nil else { break }
                let due = edge.clock.monotonicMilliseconds() + Int64(milliseconds)
                shard(key).table.withLock { table in
                    guard table.byCaller[key] != nil else { return }
                    var timers = table.deadlines[key] ?? []
                    // A refreshed session or subscription keeps only its latest expiry.
                    if case .sessionExpiry = timer {
                        timers.removeAll { if case .sessionExpiry = $0.timer { true } else { false } }
                    }
                    timers.append((timer, due))
                    table.deadlines[key] = timers
                }
            case .startTimer(let timer, let milliseconds):
                scheduler?(milliseconds) { [weak self] in
                    _ = self?.update(key, edge: edge, inbound: inbound) {
                        $0.timerFired(timer, now: edge.clock.epochMilliseconds())
                    }
                }
            case .toCaller(let bytes):
                _ = sender(bytes, callerFlow)
            case .toCallee(_, let bytes, let flow):
                if let flow = SIPFlow(flow) { _ = hooks.connector(bytes, flow) }
            case .reply(let bytes):
                if let inbound { reply = EdgeService.reply(bytes, to: inbound) }
            case .securityEvent(let kind):
                if let inbound {
                    let reason = switch kind {
                    case .malformedMessage: "malformed SDP"
                    case .mediaAddressRefused: "SDP names a media address the edge may not send to"
                    default: "SDP against the media policy"
                    }
                    edge.report(kind, reason: reason, inbound, claimedUser: nil)
                }
            case .finished(let record):
                edge.fraud.ended(callID: record.id, answeredAtMilliseconds: record.answeredAtMilliseconds,
                                 endedAtMilliseconds: record.endedAtMilliseconds ?? edge.clock.epochMilliseconds(),
                                 now: edge.clock.monotonic())
                edge.callRecords.write(record)
            }
        }
        return reply
    }

    /// Where to connect to reach a Contact, as the policy allows: its IP literal (the edge resolves no names for
    /// Contacts: a registering client could otherwise point it anywhere), port (default 5060, 5061 for TLS) and
    /// transport. Nil for UDP Contacts (reached down the registered flow) and for what the policy refuses.
    static func contactFlow(_ contact: String, policy: ContactConnections) -> SIPFlow? {
        guard policy != .never, let uri = try? SIPURI(contact) else { return nil }
        let transport: SIPTransportKind
        switch (uri.scheme == .sips, uri.transport) {
        case (true, _), (false, "tls"): transport = .tls
        case (false, "tcp") where policy == .any: transport = .tcp
        default: return nil
        }
        let host: String
        switch uri.host {
        case .ipv4, .ipv6: host = uri.host.addressText
        default: return nil
        }
        guard let address = try? SocketAddress(ipAddress: host, port: Int(uri.port ?? (transport == .tls ? 5061 : 5060)))
        else { return nil }
        return SIPFlow(transport: transport, remote: address)
    }

    /// A caller-side call: its Call-ID and From tag.
    static func callerKey(_ message: SIPMessage) -> String? {
        guard let callID = try? message.callID(), let tag = try? message.fromTag() else { return nil }
        return callID + "\u{1}" + tag
    }

}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A SIP trunk: a static peer (a carrier, or a PBX behind the edge) that calls the edge's users and that the edge
/// sends calls to numbers nobody here has registered. It does not authenticate to the edge: its calls are known by
/// their source address and transport (and, when set, its TLS certificate), as Kamailio's permissions module does.
/// Over UDP a source address can be forged, so TLS (with a pinned certificate) is the trustworthy kind.
public struct Trunk: Sendable {
    /// A name for logs and CDRs (`trunk:NAME` as the account).
    public var name: String
    /// Where it is and how the edge reaches it (TCP and TLS connections are opened as needed).
    public var flow: SIPFlow
    /// host[:port] the edge writes in Request-URIs and To towards it.
    public var host: String
    /// Dialed numbers (Request-URI users) that go to it, e.g. `+` or `00`.
    public var prefixes: [String]
    /// Its media policy (a legacy trunk may be allowed plain RTP; calls through it then may be unencrypted).
    public var mediaPolicy: MediaPolicy
    /// Whether it belongs to the edge's trust domain (RFC 3325): its P-Asserted-Identity is believed, and the
    /// edge's is sent to it.
    public var trustsIdentity: Bool
    /// The edge's account at the trunk, for its digest challenges.
    public var credentials: CallSession.Credentials?
    /// The SHA-256 fingerprint its TLS client certificate must have, if set.
    public var certificateFingerprint: String?
    /// Whether SRTP ends at the edge for its calls: the account's leg carries SDES-SRTP with the edge, under keys
    /// the edge makes and holds only in memory, and the trunk's leg plain RTP (a legacy trunk that cannot encrypt)
    /// or, with ``bridgedSuites``, SDES-SRTP of its own suites under other keys. Needs the media relay.
    public var bridgesSRTP: Bool
    /// With ``bridgesSRTP``: the SDES suites the trunk's leg uses (empty: plain RTP).
    public var bridgedSuites: [SRTPCryptoSuite]
    /// New calls a second it may place (a burst of as many): its own budget, since the rate limits and scanner
    /// rules for unknown sources do not apply to it. Beyond it, 503 with Retry-After.
    public var maxCallsPerSecond: Int = 100
    /// Most calls through it at once (in and out together; nil: only the edge's own limit).
    public var maxCalls: Int?

    /// What the trunk's leg carries when its SRTP is bridged.
    var bridgedLeg: RelayAnchor.Bridging.Leg { bridgedSuites.isEmpty ? .plain : .sdes(bridgedSuites) }

    public init(name: String, flow: SIPFlow, host: String? = nil, prefixes: [String] = [],
                mediaPolicy: MediaPolicy = .srtpOnly, trustsIdentity: Bool = false,
                credentials: CallSession.Credentials? = nil, certificateFingerprint: String? = nil,
                bridgesSRTP: Bool = false, bridgedSuites: [SRTPCryptoSuite] = []) {
        self.bridgesSRTP = bridgesSRTP
        self.bridgedSuites = bridgedSuites
        self.name = name
        self.flow = flow
        let ip = flow.remote.ipAddress ?? "invalid"
        self.host = host ?? (flow.remote.protocol == .inet6 ? "[\(ip)]" : ip) + ":\(flow.remote.port ?? 5060)"
        self.prefixes = prefixes
        self.mediaPolicy = mediaPolicy
        self.trustsIdentity = trustsIdentity
        self.credentials = credentials
        self.certificateFingerprint = certificateFingerprint?.lowercased()
    }

    /// Its signalling address as a network of one, for the rules that must never ban it.
    var addressBlock: CIDRBlock? {
        flow.remote.policyAddress.map { CIDRBlock(network: $0, prefixLength: 128) }
    }

    /// Whether a request came from this trunk: its address and transport, and its certificate when one is pinned.
    func sends(_ inbound: SIPInbound) -> Bool {
        guard inbound.transport == flow.transport, inbound.source.ipAddress == flow.remote.ipAddress else { return false }
        guard let certificateFingerprint else { return true }
        return inbound.clientCertificateFingerprint.map { constantTimeEquals(Array($0.lowercased().utf8), Array(certificateFingerprint.utf8)) } ?? false
    }

    /// Whether a dialed user goes to this trunk.
    func routes(_ user: String) -> Bool { prefixes.contains { !$0.isEmpty && user.hasPrefix($0) } }

    /// The URI of a dialed user at the trunk.
    func uri(for user: String) -> String {
        "sip:\(user)@\(host)" + (flow.transport == .udp ? "" : ";transport=\(flow.transport.rawValue)")
    }
}
