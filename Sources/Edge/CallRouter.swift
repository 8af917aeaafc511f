import Proxy
import SIPDialog
import SIPTransaction
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
    /// Runs a closure once a delay has passed (an event loop's `scheduleTask`): the short timers of ``timers``.
    public typealias Scheduler = @Sendable (Duration, @escaping @Sendable () -> Void) -> Void

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
    }

    /// The calls' timers, by caller key, and the relayed requests', by relay key: one service, whose long timers
    /// ``fireDueTimers(edge:)`` fires.
    let callTimers = TimerService<String, CallSession.Timer>()
    let relayTimers = TimerService<String, RequestRelay.Timer>()

    /// One lock per shard of the tables, by key hash: with one lock for every call, the event loops queued for it
    /// (futex waits were a sixth of a call's CPU at 1,200 calls/s). A call's entry and its long timers live in the
    /// shard of its caller key; each callee leg's index entry in the shard of that leg's Call-ID.
    final class Shard: Sendable {
        let table = Mutex(Table())
    }

    let shards: [Shard] = (0..<16).map { _ in Shard() }

    func shard(_ key: String) -> Shard { shards[key.hashValue & (shards.count - 1)] }
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

    let wiring = Mutex<Wiring?>(nil)
    /// The media relay, once attached (``anchorMedia(_:)``): from then on every call's media goes through it.
    let mediaRelay = Mutex<MediaRelayWiring?>(nil)
    /// Most calls at once; beyond it new INVITEs get 503.
    let maxCalls: Int
    /// Longest an answered call may last, in seconds.
    let maxCallSeconds: Int
    /// The media policy of calls between accounts.
    let mediaPolicy: MediaPolicy
    /// What each side may see of the other's headers.
    let headerPolicy: HeaderPolicy
    /// What callers may see of the callees' headers (answers, and requests from the callee's side).
    let callerHeaderPolicy: HeaderPolicy
    /// When the edge connects to a Contact itself.
    let contactConnections: ContactConnections
    /// Longest a call may ring unanswered, in seconds.
    let ringTimeoutSeconds: Int
    /// How CDRs name the parties and the account.
    let partyRecording: PartyRecording
    /// Accounts (user names) whose parties CDRs name otherwise than ``partyRecording`` says.
    let accountPartyRecording: [String: PartyRecording]
    /// The configured trunks, first match wins.
    let trunks: [Trunk]
    /// Accounts allowed plain RTP (legacy phones); a call between two of them may go unencrypted.
    let plainRTPAccounts: Set<String>
    /// Identities (From users) an account may assert besides its own name.
    let assertableIdentities: [String: Set<String>]
    /// Where a peer's SDP may make the edge send media: the configured policy with the trunks' signalling addresses,
    /// and the listeners and relay once bound (``listening(on:)``, ``anchorMedia(_:)``).
    let addressPolicy: Mutex<AddressPolicy>

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

    let accountLimits: AccountLimits
    /// Who may subscribe to whom.
    let watchPolicy: WatchPolicy
    let usage = Mutex<[String: AccountUsage]>([:])

    /// Takes one call (or subscription) and `sections` ringing sections for `account`, or says which limit it is over.
    func reserve(account: String, subscription: Bool, sections: Int) -> String? {
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
    func release(account: String, calls: Int, subscriptions: Int, sections: Int) {
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
    /// T1, T2 and T4 for every transaction of the calls and relays.
    let timers: TransactionTimers

    init(maxCalls: Int = 10_000, maxCallSeconds: Int = 14_400, mediaPolicy: MediaPolicy = .srtpOnly,
         headerPolicy: HeaderPolicy = .minimizing, callerHeaderPolicy: HeaderPolicy? = nil,
         contactConnections: ContactConnections = .tls,
         ringTimeoutSeconds: Int = 120, timers: TransactionTimers = TransactionTimers(),
         partyRecording: PartyRecording = .clear, accountPartyRecording: [String: PartyRecording] = [:],
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
        self.accountPartyRecording = accountPartyRecording
        self.trunks = trunks
        self.plainRTPAccounts = plainRTPAccounts
        self.contactConnections = contactConnections
        self.ringTimeoutSeconds = ringTimeoutSeconds
        self.timers = timers
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
    func attach(sender: @escaping Sender, connector: Sender? = nil,
                       isOpen: (@Sendable (SIPFlow) -> Bool)? = nil, addresses: @escaping LocalAddresses,
                       scheduler: Scheduler? = nil) {
        let hooks = Wiring(sender: sender, connector: connector ?? sender, isOpen: isOpen ?? { _ in true },
                           addresses: addresses, scheduler: scheduler)
        wiring.withLock { $0 = hooks }
    }

    /// Anchors the media of calls started from now on at a relay (issue 7); nil stops anchoring new calls.
    func anchorMedia(_ relay: MediaRelayWiring?) {
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
    func listening(on listeners: [AddressPolicy.Endpoint]) {
        addressPolicy.withLock { $0.listeners += listeners }
    }

    /// Disconnects the router from the transport at shutdown: nothing more is sent or scheduled, and new INVITEs
    /// get 503.
    func detach() {
        wiring.withLock { $0 = nil }
    }

    /// Fires the long timers that are due (`serve` calls this twice a second).
    func fireDueTimers(edge: EdgeService) {
        // Deadlines on the monotonic clock (a wall-clock step must not fire or hold them); the calls' own times,
        // which go into their records, on the wall clock.
        let (now, monotonic) = (edge.clock.epochMilliseconds(), edge.clock.monotonic())
        callTimers.fireDue(now: monotonic) { key, timer in
            update(key, edge: edge, inbound: nil) { $0.timerFired(timer, now: now) }
        }
        relayTimers.fireDue(now: monotonic) { key, timer in
            updateRelay(key, edge: edge, { $0.timerFired(timer) }, expire: timer == .expiry)
        }
        endCallsWithoutMedia(edge: edge, now: now)
    }

    /// The calls in progress (subscriptions aside) as their records stand, with their media as the relay has
    /// measured it so far, oldest first, at most `limit`.
    public func liveCalls(limit: Int) -> [CallDetailRecord] {
        let calls = shards.flatMap { shard in
            shard.table.withLock { table in
                table.byCaller.values.filter { !$0.isSubscription && !$0.session.isEnded }
                    .map { (record: $0.session.currentRecord, anchor: $0.anchor) }
            }
        }
        // The relay's measurements so far, read after the shard's lock is let go (the relay has a lock of its own).
        return calls.sorted { ($0.record.startedAtMilliseconds, $0.record.id) < ($1.record.startedAtMilliseconds, $1.record.id) }
            .prefix(max(0, limit)).map { call in
                var record = call.record
                if record.media.isEmpty, let anchor = call.anchor { record.media = anchor.measuredStreams() }
                return record
            }
    }

    /// Ends the call whose record has `id` (an operator's decision): false when there is no such call.
    public func end(recordID id: String, reason: String, edge: EdgeService) -> Bool {
        let key = shards.lazy.compactMap { shard in
            shard.table.withLock { table in
                table.byCaller.first { !$0.value.isSubscription && $0.value.session.currentRecord.id == id }?.key
            }
        }.first
        guard let key else { return false }
        let now = edge.clock.epochMilliseconds()
        update(key, edge: edge, inbound: nil) { $0.terminate(now: now, reason: reason) }
        return true
    }

    /// Ends answered calls whose relay has carried no packet either way for the media timeout (and that have been
    /// answered at least that long: a call may ring a while before media starts).
    func endCallsWithoutMedia(edge: EdgeService, now: Int64) {
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
    func shutdown(edge: EdgeService) async {
        let now = edge.clock.epochMilliseconds()
        let ended = shards.flatMap { shard in
            shard.table.withLock { table -> [(key: String, actions: [CallSession.Action], callerFlow: SIPFlow,
                                              anchor: RelayAnchor?)] in
                var ended: [(key: String, actions: [CallSession.Action], callerFlow: SIPFlow, anchor: RelayAnchor?)] = []
                for (key, var entry) in table.byCaller {
                    ended.append((key, entry.session.terminate(now: now), entry.callerFlow, entry.anchor))
                }
                table.byCaller = [:]
                self.usage.withLock { $0 = [:] }
                self.trunkCalls.withLock { $0 = [:] }
                table.byCallee = [:]
                return ended
            }
        }
        callTimers.forgetAll()
        for call in ended {
            // Nothing is retransmitted any more: the loops are about to stop.
            let actions = call.actions.filter { if case .startTimer = $0 { false } else { true } }
            perform(actions, key: call.key, callerFlow: call.callerFlow, anchor: call.anchor, edge: edge, inbound: nil)
        }
        if !ended.isEmpty { edge.logger.notice("calls ended at shutdown", metadata: ["count": "\(ended.count)"]) }
        await edge.callRecords.drain()
    }

    /// Per trunk, the token bucket of the calls it places (``Trunk/maxCallsPerSecond``, a burst of as many).
    let trunkBuckets = Mutex<[String: RateLimiter.Bucket]>([:])
    /// Per trunk, its calls in progress (in and out) until each ends: counted as they start and end, not by walking
    /// every call for each new one.
    let trunkCalls = Mutex<[String: Int]>([:])

    /// How many calls are in progress.
    public var activeCalls: Int { shards.reduce(0) { $0 + $1.table.withLock { $0.byCaller.count } } }
}
