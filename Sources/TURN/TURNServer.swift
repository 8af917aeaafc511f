import Crypto
import SecurityPolicy
import STUN

/// The TURN server's settings that the protocol core needs.
public struct TURNConfiguration: Sendable {
    public var realm: String
    /// The addresses relayed transport addresses are on; a family without one is not offered (440).
    public var relayAddressV4: IPAddress?
    public var relayAddressV6: IPAddress?
    /// Where peers may be: every XOR-PEER-ADDRESS is judged by it, as if told by nobody (a client on loopback may not
    /// name loopback either), so only its allowed networks open private, loopback and link-local space.
    public var peerPolicy: AddressPolicy
    public var limits = TURNLimits()
    /// The password algorithms offered, in the server's order of preference (RFC 8489 §9.2.4).
    public var passwordAlgorithms: [STUNPasswordAlgorithm] = [.sha256, .md5]
    /// SOFTWARE in responses: none by default (it tells scanners what to try).
    public var software: String?
    /// Bytes sent to a source that has not authenticated never exceed the bytes received from it (over UDP, where a
    /// source address can be forged): the first challenge may wait for the client's retransmission.
    public var limitAmplification = true

    public init(realm: String, relayAddressV4: IPAddress?, relayAddressV6: IPAddress? = nil, peerPolicy: AddressPolicy) {
        (self.realm, self.relayAddressV4, self.relayAddressV6, self.peerPolicy) = (realm, relayAddressV4, relayAddressV6,
                                                                                   peerPolicy)
    }
}

/// Something worth a security event.
public enum TURNEvent: Sendable, Hashable {
    public enum AuthenticationFailure: String, Sendable, Hashable {
        case unknownUser = "unknown-user"
        case badIntegrity = "bad-integrity"
        case wrongRealm = "wrong-realm"
        case algorithmBidDown = "algorithm-bid-down"
        case wrongCredentials = "wrong-credentials"
    }

    public enum Quota: String, Sendable, Hashable {
        case allocations, allocationsPerUser = "allocations-per-user", allocationsPerSource = "allocations-per-source"
        case permissions, channels, bandwidth
    }

    case authenticationFailed(source: STUNTransportAddress, username: String?, AuthenticationFailure)
    case peerDenied(source: STUNTransportAddress, username: String, peer: STUNTransportAddress, AddressPolicy.Refusal)
    case quotaReached(source: STUNTransportAddress, username: String, Quota)
    /// An answer to an unauthenticated source held back because it would have been larger than what that source sent.
    case amplificationWithheld(source: STUNTransportAddress)
}

/// What the I/O layer must bind for an Allocate: one relayed transport address per entry, on the ports given.
public struct TURNAllocationPlan: Sendable, Hashable {
    public let tuple: TURNFiveTuple
    public let relayed: [STUNTransportAddress]
    public let dontFragment: Bool
    /// EVEN-PORT asked for even ports.
    public var even = false
}

/// What to do with what a client sent.
public enum TURNOutcome: Sendable {
    case none
    /// Send these bytes to the client.
    case respond([UInt8])
    /// Bind the plan's relay sockets, then call ``TURNServerCore/allocationBound(_:now:epochSeconds:)`` (or
    /// ``TURNServerCore/allocationFailed(_:)``), which answers.
    case allocate(TURNAllocationPlan)
    /// Send `payload` of the request's bytes to `peer` from the allocation's relay socket of the peer's family.
    case relay(allocation: UInt32, peer: STUNTransportAddress, payload: Range<Int>)
    /// The allocation ended (Refresh with LIFETIME 0): close its sockets, store the record, send the response.
    case ended(TURNSessionRecord, allocation: UInt32, response: [UInt8])
}

/// The core's answer: the outcome and the security events it raised.
public struct TURNReply: Sendable {
    public var outcome: TURNOutcome
    public var events: [TURNEvent] = []
}

/// Where data from a peer goes.
public enum TURNDelivery: Sendable, Hashable {
    /// As ChannelData on this channel.
    case channel(TURNChannelNumber, client: TURNFiveTuple)
    /// As a Data indication (its bytes made by ``TURNServerCore/dataIndication(from:payload:)``).
    case indication(client: TURNFiveTuple)
}

/// The TURN server without I/O (RFC 8656 over RFC 8489): authentication, allocations, permissions, channels,
/// lifetimes and limits, driven by messages in and a monotonic `now`. The I/O layer owns sockets: it binds what an
/// Allocate plans, relays what the core says may cross, and calls ``expire(now:)`` about once a second.
public struct TURNServerCore: Sendable {
    public private(set) var configuration: TURNConfiguration
    private let credentials: any TURNCredentialSource
    private let nonces: STUNNonceIssuer
    private var allocations: [TURNFiveTuple: TURNAllocation] = [:]
    private var tupleOfID: [UInt32: TURNFiveTuple] = [:]
    private var pending: [TURNFiveTuple: PendingAllocate] = [:]
    private var nextID: UInt32 = 1
    private var perUser: [String: Int] = [:]
    private var perSource: [IPAddress: Int] = [:]
    private var portsInUse: [TURNAddressFamily: Set<UInt16>] = [:]
    private var nextPort: UInt16
    private var credit = AmplificationCredit()
    /// Ports held by EVEN-PORT's R bit (IPv4, the port above an even one) until their token is used or expires, and
    /// whose they are (reservations count against their user's allocations, and a quarter of the range at most).
    private var reservations: [UInt64: (port: UInt16, expires: Duration, username: String)] = [:]
    public let relayPorts: ClosedRange<UInt16>

    private struct PendingAllocate: Sendable {
        let plan: TURNAllocationPlan
        let request: STUNMessage
        let username: String
        let key: STUNKey
        let sha256: Bool
        let lifetime: Int
        let additionalFamilyRefused: Bool
        let reservation: UInt64?
        var attempts = 1
    }

    /// Ports another process held when the I/O layer tried them: left alone for a minute.
    private var blockedPorts: [(family: TURNAddressFamily, port: UInt16, until: Duration)] = []

    /// The peer policy is given the relay's own addresses and `relayPorts`: no peer may be one of its sockets.
    public init(configuration: TURNConfiguration, credentials: any TURNCredentialSource, nonceSecret: SymmetricKey,
                relayPorts: ClosedRange<UInt16>) {
        var configuration = configuration
        configuration.peerPolicy.relayAddresses = [configuration.relayAddressV4, configuration.relayAddressV6].compactMap { $0 }
        configuration.peerPolicy.relayPorts = relayPorts
        self.configuration = configuration
        self.credentials = credentials
        nonces = STUNNonceIssuer(secret: nonceSecret, features: .passwordAlgorithms)
        self.relayPorts = relayPorts
        nextPort = relayPorts.lowerBound
    }

    /// The allocations alive now.
    public var allocationCount: Int { allocations.count }

    /// Adds listeners of the server's own (as bound, with the ports the system chose) to those no peer may be.
    public mutating func addOwnListeners(_ endpoints: [AddressPolicy.Endpoint]) {
        configuration.peerPolicy.listeners += endpoints.filter { !configuration.peerPolicy.listeners.contains($0) }
    }

    public func allocation(_ tuple: TURNFiveTuple) -> TURNAllocation? { allocations[tuple] }

    /// The 5-tuples of the allocations alive now.
    public var allocationTuples: [TURNFiveTuple] { Array(allocations.keys) }

    public func allocation(id: UInt32) -> TURNAllocation? { tupleOfID[id].flatMap { allocations[$0] } }

    /// The attributes this server understands in requests (others that are comprehension-required get 420).
    static let understood: Set<STUNAttributeType> = [
        .username, .messageIntegrity, .messageIntegritySHA256, .realm, .nonce, .passwordAlgorithm, .fingerprint,
        .requestedTransport, .lifetime, .xorPeerAddress, .channelNumber, .data, .requestedAddressFamily,
        .evenPort, .dontFragment, .reservationToken, .priority, .useCandidate,
    ]

    // MARK: - Requests and indications from clients

    /// Counts bytes a client sent to the listener (every datagram, STUN or ChannelData): the credit an
    /// unauthenticated answer to that source may spend.
    public mutating func received(_ count: Int, from source: STUNTransportAddress, now: Duration) {
        credit.add(count, for: source, now: now)
    }

    /// Handles a STUN message a client sent on `tuple`.
    public mutating func handle(_ request: STUNMessage, on tuple: TURNFiveTuple, now: Duration,
                                epochSeconds: Int64) -> TURNReply {
        switch (request.type.messageClass, request.type.method) {
        case (.request, .binding):
            let unknown = request.unknownComprehensionRequired(understood: Self.understood)
            guard unknown.isEmpty else {
                return unauthenticated(unknownAttributesResponse(request, unknown, key: nil), to: tuple, now: now)
            }
            var builder = STUNMessageBuilder.response(to: request)
            builder.append(.xorMappedAddress, xorAddress: tuple.client)
            return unauthenticated(finish(builder, request, key: nil), to: tuple, now: now)
        case (.indication, .send):
            return TURNReply(outcome: send(request, on: tuple, now: now))
        case (.indication, _), (.successResponse, _), (.errorResponse, _):
            return TURNReply(outcome: .none)
        case (.request, .allocate), (.request, .refresh), (.request, .createPermission), (.request, .channelBind):
            break
        case (.request, _):
            return unauthenticated(errorResponse(request, .badRequest, key: nil), to: tuple, now: now)
        }
        let authenticated: (username: String, key: STUNKey, sha256: Bool)
        switch authenticate(request, on: tuple, now: now, epochSeconds: epochSeconds) {
        case .failure(let refusal):
            var reply = unauthenticated(refusal.response, to: tuple, now: now)
            if let event = refusal.event { reply.events.append(event) }
            return reply
        case .success(let who):
            authenticated = who
        }
        let signed = (authenticated.key, authenticated.sha256)
        let unknown = request.unknownComprehensionRequired(understood: Self.understood)
        if !unknown.isEmpty {
            return TURNReply(outcome: .respond(unknownAttributesResponse(request, unknown, key: signed)))
        }
        switch request.type.method {
        case .allocate:
            return allocate(request, on: tuple, who: authenticated, now: now, epochSeconds: epochSeconds)
        default:
            guard let allocation = allocations[tuple] else {
                return TURNReply(outcome: .respond(errorResponse(request, .allocationMismatch, key: signed)))
            }
            guard allocation.username == authenticated.username else {
                return TURNReply(outcome: .respond(errorResponse(request, .wrongCredentials, key: signed)),
                                 events: [.authenticationFailed(source: tuple.client, username: authenticated.username,
                                                                .wrongCredentials)])
            }
            switch request.type.method {
            case .refresh: return refresh(request, on: tuple, key: signed, now: now, epochSeconds: epochSeconds)
            case .createPermission: return createPermission(request, on: tuple, key: signed, now: now)
            default: return channelBind(request, on: tuple, key: signed, now: now)
            }
        }
    }

    /// Sends an answer to a source that has not authenticated, within its credit (UDP only): the bytes that address
    /// sent. Beyond it, a few answers a second per address: a Binding success cannot be as small as a bare 20-byte
    /// request (XOR-MAPPED-ADDRESS alone is 12 bytes), and a browser's first Allocate (about 30 bytes) should not wait
    /// for three retransmissions for its challenge. What a forged address can draw is then a few hundred bytes a
    /// second, which makes no flood.
    private mutating func unauthenticated(_ response: [UInt8], to tuple: TURNFiveTuple, now: Duration) -> TURNReply {
        guard configuration.limitAmplification, tuple.transport == .udp else { return TURNReply(outcome: .respond(response)) }
        guard credit.spend(response.count, for: tuple.client, now: now) || credit.allowance(for: tuple.client, now: now)
        else {
            return TURNReply(outcome: .none, events: [.amplificationWithheld(source: tuple.client)])
        }
        return TURNReply(outcome: .respond(response))
    }

    private struct Refusal: Error {
        let response: [UInt8]
        let event: TURNEvent?
    }

    /// The key an unknown user's integrity is checked against, for the time it takes.
    static let stranger = STUNKey(bytes: [UInt8](repeating: 0x5A, count: 32))

    /// RFC 8489 §9.2.4 for the server: a challenge without MESSAGE-INTEGRITY, 400 when the credential attributes are
    /// missing, 438 for a nonce not ours or no longer fresh, the password algorithm held to the server's list, then
    /// the key: unknown users and wrong integrity both get the same 401.
    private func authenticate(_ request: STUNMessage, on tuple: TURNFiveTuple, now: Duration, epochSeconds: Int64)
        -> Result<(username: String, key: STUNKey, sha256: Bool), Refusal>
    {
        let source = tuple.client.description
        guard request.hasIntegrity else {
            return .failure(Refusal(response: challenge(request, .unauthenticated, source: source, epochSeconds: epochSeconds),
                                    event: nil))
        }
        guard let username = request.username, let realm = request.realm, let nonce = request.nonce else {
            return .failure(Refusal(response: errorResponse(request, .badRequest, key: nil), event: nil))
        }
        guard nonces.isFresh(nonce, for: source, now: epochSeconds) else {
            return .failure(Refusal(response: challenge(request, .staleNonce, source: source, epochSeconds: epochSeconds),
                                    event: nil))
        }
        guard realm == configuration.realm else {
            return .failure(Refusal(response: challenge(request, .unauthenticated, source: source, epochSeconds: epochSeconds),
                                    event: .authenticationFailed(source: tuple.client, username: username, .wrongRealm)))
        }
        let algorithm: STUNPasswordAlgorithm
        switch STUNPasswordAlgorithm.negotiated(by: request, offered: configuration.passwordAlgorithms) {
        case .success(let chosen): algorithm = chosen
        case .failure(let error):
            return .failure(Refusal(response: errorResponse(request, error, key: nil),
                                    event: .authenticationFailed(source: tuple.client, username: username, .algorithmBidDown)))
        }
        let keys = credentials.keys(username: username, realm: realm, algorithm: algorithm, epochSeconds: epochSeconds)
        // An unknown user costs the same HMAC as a known one: the answer's timing does not tell them apart.
        if keys.isEmpty { _ = request.checkIntegrity(key: Self.stranger) }
        for key in keys {
            if case .holds(let sha256) = request.checkIntegrity(key: key) { return .success((username, key, sha256)) }
        }
        return .failure(Refusal(response: challenge(request, .unauthenticated, source: source, epochSeconds: epochSeconds),
                                event: .authenticationFailed(source: tuple.client, username: username,
                                                             keys.isEmpty ? .unknownUser : .badIntegrity)))
    }

    /// 401 or 438 with REALM, a fresh NONCE and PASSWORD-ALGORITHMS; no integrity (there is no key yet).
    private func challenge(_ request: STUNMessage, _ error: STUNErrorCode, source: String, epochSeconds: Int64) -> [UInt8] {
        var builder = STUNMessageBuilder.response(to: request, error: true)
        builder.append(error)
        builder.append(.realm, text: configuration.realm)
        builder.append(.nonce, text: nonces.nonce(for: source, now: epochSeconds))
        builder.append(.passwordAlgorithms, STUNPasswordAlgorithm.listValue(configuration.passwordAlgorithms))
        return finish(builder, request, key: nil)
    }

    /// 420 with UNKNOWN-ATTRIBUTES (RFC 8489 §6.3.1).
    private func unknownAttributesResponse(_ request: STUNMessage, _ unknown: [STUNAttributeType],
                                           key: (STUNKey, Bool)?) -> [UInt8] {
        var builder = STUNMessageBuilder.response(to: request, error: true)
        builder.append(.unknownAttribute)
        builder.append(.unknownAttributes, unknown.flatMap { [UInt8($0.rawValue >> 8), UInt8($0.rawValue & 0xFF)] })
        return finish(builder, request, key: key)
    }

    private func errorResponse(_ request: STUNMessage, _ error: STUNErrorCode, key: (STUNKey, Bool)?) -> [UInt8] {
        var builder = STUNMessageBuilder.response(to: request, error: true)
        builder.append(error)
        return finish(builder, request, key: key)
    }

    /// SOFTWARE when configured, integrity under the request's key, FINGERPRINT when the request had one.
    private func finish(_ builder: STUNMessageBuilder, _ request: STUNMessage, key: (STUNKey, Bool)?) -> [UInt8] {
        var builder = builder
        if let software = configuration.software { builder.append(.software, text: software) }
        if let (key, sha256) = key { builder.appendIntegrity(key: key, sha256: sha256) }
        if request.has(.fingerprint) { builder.appendFingerprint() }
        return builder.bytes
    }

    // MARK: Allocate (RFC 8656 §7.2)

    /// The lifetime to grant for `requested` seconds (RFC 8656 §7.2: between the default and the maximum), never past
    /// an ephemeral (REST) username's expiry.
    private func lifetime(requested: UInt32?, username: String, epochSeconds: Int64) -> Int {
        let limits = configuration.limits
        let asked = requested.map { Int(min($0, UInt32(Int32.max))) } ?? limits.defaultLifetime
        var granted = max(limits.defaultLifetime, min(asked, limits.maxLifetime))
        if let expiry = TURNRESTCredentials.expiry(of: username) {
            granted = min(granted, Int(max(1, min(expiry - epochSeconds, Int64(limits.maxLifetime)))))
        }
        return granted
    }

    private mutating func allocate(_ request: STUNMessage, on tuple: TURNFiveTuple,
                                   who: (username: String, key: STUNKey, sha256: Bool), now: Duration,
                                   epochSeconds: Int64) -> TURNReply {
        let signed = (who.key, who.sha256)
        func refuse(_ error: STUNErrorCode) -> TURNReply {
            TURNReply(outcome: .respond(errorResponse(request, error, key: signed)))
        }
        if let existing = allocations[tuple] {
            // A retransmitted Allocate gets its answer again; any other is a mismatch.
            return existing.allocateTransaction == request.transactionID
                ? TURNReply(outcome: .respond(existing.allocateResponse)) : refuse(.allocationMismatch)
        }
        if pending[tuple] != nil { return TURNReply(outcome: .none) }  // its sockets are being bound
        guard let transport = request.value(.requestedTransport), transport.count == 4 else { return refuse(.badRequest) }
        guard transport.first == 17 else { return refuse(.unsupportedTransportProtocol) }
        let requestedFamily = request.value(.requestedAddressFamily)
        let additionalFamily = request.value(.additionalAddressFamily)
        var reservedPort: UInt16?
        if let token = request.value(.reservationToken) {
            guard token.count == 8, !request.has(.evenPort), requestedFamily == nil, additionalFamily == nil else {
                return refuse(.badRequest)
            }
            guard let reserved = reservations.removeValue(forKey: token.reduce(0) { $0 << 8 | UInt64($1) }) else {
                return refuse(.insufficientCapacity)
            }
            guard now < reserved.expires else {
                portsInUse[.ipv4]?.remove(reserved.port)
                return refuse(.insufficientCapacity)
            }
            reservedPort = reserved.port
        }
        if requestedFamily != nil, additionalFamily != nil { return refuse(.badRequest) }
        var families: [TURNAddressFamily] = [.ipv4]
        if let requestedFamily {
            guard requestedFamily.count == 4, let family = TURNAddressFamily(rawValue: requestedFamily.first!) else {
                return refuse(.addressFamilyNotSupported)
            }
            families = [family]
        }
        var additionalFamilyRefused = false
        if let additionalFamily {
            guard additionalFamily.count == 4, additionalFamily.first == TURNAddressFamily.ipv6.rawValue else {
                return refuse(.badRequest)
            }
            if configuration.relayAddressV6 != nil { families.append(.ipv6) } else { additionalFamilyRefused = true }
        }
        let addresses = families.compactMap { family in
            family == .ipv4 ? configuration.relayAddressV4 : configuration.relayAddressV6
        }
        guard addresses.count == families.count else { return refuse(.addressFamilyNotSupported) }
        let evenPort = request.value(.evenPort)
        if let evenPort, evenPort.count != 1 { return refuse(.badRequest) }
        let reserveNext = evenPort.map { $0.first! & 0x80 != 0 } ?? false
        if reserveNext, families != [.ipv4] { return refuse(.badRequest) }
        if reserveNext {
            let span = Int(relayPorts.upperBound) - Int(relayPorts.lowerBound) + 1
            let held = reservations.values.filter { $0.username == who.username }.count
            guard reservations.count < max(1, span / 4), held + perUser[who.username, default: 0]
                < configuration.limits.allocationsPerUser
            else { return refuse(.insufficientCapacity) }
        }
        let limits = configuration.limits
        let quota: TURNEvent.Quota? =
            allocations.count + pending.count >= limits.allocations ? .allocations
            : perUser[who.username, default: 0] >= limits.allocationsPerUser ? .allocationsPerUser
            : perSource[tuple.client.address, default: 0] >= limits.allocationsPerSource ? .allocationsPerSource : nil
        if let quota {
            if let reservedPort { portsInUse[.ipv4]?.remove(reservedPort) }
            var reply = refuse(.allocationQuotaReached)
            reply.events.append(.quotaReached(source: tuple.client, username: who.username, quota))
            return reply
        }
        var relayed: [STUNTransportAddress] = []
        if let reservedPort, let address = configuration.relayAddressV4 {
            relayed = [STUNTransportAddress(address: address, port: reservedPort)]
        } else {
            for (family, address) in zip(families, addresses) {
                guard let port = takePort(family, even: evenPort != nil, alsoNext: reserveNext) else {
                    releasePorts(relayed)
                    return refuse(.insufficientCapacity)
                }
                relayed.append(STUNTransportAddress(address: address, port: port))
            }
        }
        var token: UInt64?
        if reserveNext, let even = relayed.first?.port {
            var generator = SystemRandomNumberGenerator()
            let fresh = generator.next() as UInt64
            reservations[fresh] = (even + 1, now + .seconds(configuration.limits.reservationLifetime), who.username)
            token = fresh
        }
        let lifetime = self.lifetime(requested: request.uint32(.lifetime), username: who.username, epochSeconds: epochSeconds)
        let plan = TURNAllocationPlan(tuple: tuple, relayed: relayed, dontFragment: request.has(.dontFragment),
                                      even: evenPort != nil)
        pending[tuple] = PendingAllocate(plan: plan, request: request, username: who.username, key: who.key,
                                         sha256: who.sha256, lifetime: lifetime,
                                         additionalFamilyRefused: additionalFamilyRefused, reservation: token)
        perUser[who.username, default: 0] += 1
        perSource[tuple.client.address, default: 0] += 1
        return TURNReply(outcome: .allocate(plan))
    }

    /// The next free port of `family` in the range (even when asked; with the port above it free and taken too when
    /// `alsoNext`), marked in use.
    private mutating func takePort(_ family: TURNAddressFamily, even: Bool, alsoNext: Bool) -> UInt16? {
        let span = Int(relayPorts.upperBound) - Int(relayPorts.lowerBound) + 1
        var used = portsInUse[family, default: []]
        for _ in 0..<span {
            let port = nextPort
            nextPort = port >= relayPorts.upperBound ? relayPorts.lowerBound : port + 1
            if even, port % 2 == 1 { continue }
            if alsoNext, port == relayPorts.upperBound || used.contains(port + 1) { continue }
            if used.insert(port).inserted {
                if alsoNext { used.insert(port + 1) }
                portsInUse[family] = used
                return port
            }
        }
        return nil
    }

    private mutating func releasePorts(_ addresses: [STUNTransportAddress]) {
        for address in addresses { portsInUse[TURNAddressFamily(of: address.address)]?.remove(address.port) }
    }

    /// The I/O layer bound every socket of `plan`: the allocation exists from now, and this is the answer.
    public mutating func allocationBound(_ plan: TURNAllocationPlan, now: Duration) -> (allocation: UInt32, response: [UInt8])? {
        guard let pending = pending.removeValue(forKey: plan.tuple) else { return nil }
        let id = nextID
        nextID = nextID == UInt32.max ? 1 : nextID + 1
        var builder = STUNMessageBuilder.response(to: pending.request)
        for address in plan.relayed { builder.append(.xorRelayedAddress, xorAddress: address) }
        builder.append(.lifetime, uint32: UInt32(pending.lifetime))
        builder.append(.xorMappedAddress, xorAddress: plan.tuple.client)
        if let token = pending.reservation {
            builder.append(.reservationToken, (0..<8).map { UInt8(truncatingIfNeeded: token >> (56 - 8 * $0)) })
        }
        if pending.additionalFamilyRefused {
            var error = STUNErrorCode.addressFamilyNotSupported.value
            error[0] = TURNAddressFamily.ipv6.rawValue  // ADDRESS-ERROR-CODE: the family in the first byte
            builder.append(.addressErrorCode, error)
        }
        let response = finish(builder, pending.request, key: (pending.key, pending.sha256))
        var allocation = TURNAllocation(id: id, tuple: plan.tuple, username: pending.username, realm: configuration.realm,
                                        key: pending.key, sha256: pending.sha256, relayed: plan.relayed,
                                        expires: now + .seconds(pending.lifetime), dontFragment: plan.dontFragment,
                                        allocateTransaction: pending.request.transactionID, allocateResponse: response,
                                        started: now)
        allocation.toPeers = ByteBucket(bytesPerSecond: configuration.limits.bytesPerSecond, now: now)
        allocation.toClient = ByteBucket(bytesPerSecond: configuration.limits.bytesPerSecond, now: now)
        allocations[plan.tuple] = allocation
        tupleOfID[id] = plan.tuple
        return (id, response)
    }

    /// Some of `plan`'s ports could not be bound (another process holds them): those stay out of use for a minute,
    /// the others go back, and the Allocate gets other ports (three tries in all; then 508).
    public mutating func rebind(_ plan: TURNAllocationPlan, unavailable: [STUNTransportAddress], now: Duration) -> TURNOutcome {
        guard var waiting = pending[plan.tuple], waiting.plan == plan, waiting.reservation == nil, waiting.attempts < 3 else {
            return allocationFailed(plan).map { .respond($0) } ?? .none
        }
        for address in unavailable where blockedPorts.count < 4_096 {
            blockedPorts.append((TURNAddressFamily(of: address.address), address.port, now + .seconds(60)))
        }
        releasePorts(plan.relayed.filter { !unavailable.contains($0) })
        var relayed: [STUNTransportAddress] = []
        for address in plan.relayed {
            guard let port = takePort(TURNAddressFamily(of: address.address), even: plan.even, alsoNext: false) else {
                releasePorts(relayed)
                pending[plan.tuple] = waiting
                return allocationFailed(plan).map { .respond($0) } ?? .none
            }
            relayed.append(STUNTransportAddress(address: address.address, port: port))
        }
        let next = TURNAllocationPlan(tuple: plan.tuple, relayed: relayed, dontFragment: plan.dontFragment, even: plan.even)
        waiting.attempts += 1
        waiting = PendingAllocate(plan: next, request: waiting.request, username: waiting.username, key: waiting.key,
                                  sha256: waiting.sha256, lifetime: waiting.lifetime,
                                  additionalFamilyRefused: waiting.additionalFamilyRefused, reservation: nil,
                                  attempts: waiting.attempts)
        pending[plan.tuple] = waiting
        return .allocate(next)
    }

    /// The I/O layer could not bind `plan`'s sockets: the client gets 508 and the ports go back.
    public mutating func allocationFailed(_ plan: TURNAllocationPlan) -> [UInt8]? {
        guard let pending = pending.removeValue(forKey: plan.tuple) else { return nil }
        releasePorts(plan.relayed.filter { address in
            !blockedPorts.contains { $0.port == address.port && $0.family == TURNAddressFamily(of: address.address) }
        })
        if let token = pending.reservation, let reserved = reservations.removeValue(forKey: token) {
            portsInUse[.ipv4]?.remove(reserved.port)
        }
        release(user: pending.username, source: plan.tuple.client.address)
        return errorResponse(pending.request, .insufficientCapacity, key: (pending.key, pending.sha256))
    }

    private mutating func release(user: String, source: IPAddress) {
        perUser[user, default: 1] -= 1
        if perUser[user] == 0 { perUser[user] = nil }
        perSource[source, default: 1] -= 1
        if perSource[source] == 0 { perSource[source] = nil }
    }

    // MARK: Refresh (§7.3), CreatePermission (§9), ChannelBind (§11), Send (§10.2)

    private mutating func refresh(_ request: STUNMessage, on tuple: TURNFiveTuple, key: (STUNKey, Bool),
                                  now: Duration, epochSeconds: Int64) -> TURNReply {
        if let family = request.value(.requestedAddressFamily),
            !(allocations[tuple]?.relayed.contains { TURNAddressFamily(of: $0.address).rawValue == family.first } ?? false)
        {
            return TURNReply(outcome: .respond(errorResponse(request, .peerAddressFamilyMismatch, key: key)))
        }
        var builder = STUNMessageBuilder.response(to: request)
        if request.uint32(.lifetime) == 0 {
            builder.append(.lifetime, uint32: 0)
            let response = finish(builder, request, key: key)
            guard let (id, record) = end(tuple, now: now, ending: "refresh") else { return TURNReply(outcome: .none) }
            return TURNReply(outcome: .ended(record, allocation: id, response: response))
        }
        let lifetime = self.lifetime(requested: request.uint32(.lifetime), username: allocations[tuple]?.username ?? "",
                                     epochSeconds: epochSeconds)
        allocations[tuple]?.expires = now + .seconds(lifetime)
        builder.append(.lifetime, uint32: UInt32(lifetime))
        return TURNReply(outcome: .respond(finish(builder, request, key: key)))
    }

    /// Checks a peer for `allocation`: its family among the relayed ones (443), and the address policy (403); with
    /// its port only where the port matters (a channel, not a permission, which is for the address alone).
    private func judge(_ peer: STUNTransportAddress, for allocation: TURNAllocation, withPort: Bool = true)
        -> (STUNErrorCode, AddressPolicy.Refusal?)?
    {
        guard allocation.relayed.contains(where: { $0.address.isIPv4 == peer.address.isIPv4 }) else {
            return (.peerAddressFamilyMismatch, nil)
        }
        // The policy holds the relay's own sockets too (see init): never a peer, whatever the allow-list says.
        return configuration.peerPolicy.refusal(of: peer.address, port: withPort ? peer.port : nil, toldBy: nil)
            .map { (.forbidden, $0) }
    }

    private mutating func createPermission(_ request: STUNMessage, on tuple: TURNFiveTuple, key: (STUNKey, Bool),
                                           now: Duration) -> TURNReply {
        guard var allocation = allocations[tuple], let peers = request.peerAddresses, !peers.isEmpty else {
            return TURNReply(outcome: .respond(errorResponse(request, .badRequest, key: key)))
        }
        for peer in peers {
            if let (error, refusal) = judge(peer, for: allocation, withPort: false) {
                return TURNReply(outcome: .respond(errorResponse(request, error, key: key)),
                                 events: refusal.map { [.peerDenied(source: tuple.client, username: allocation.username,
                                                                    peer: peer, $0)] } ?? [])
            }
        }
        allocation.sweep(now: now, quarantine: .seconds(configuration.limits.channelQuarantine))
        let added = Set(peers.map(\.address)).subtracting(allocation.permissions.keys).count
        guard allocation.permissions.count + added <= configuration.limits.permissionsPerAllocation else {
            allocations[tuple] = allocation
            return TURNReply(outcome: .respond(errorResponse(request, .insufficientCapacity, key: key)),
                             events: [.quotaReached(source: tuple.client, username: allocation.username, .permissions)])
        }
        for peer in peers {
            allocation.permissions[peer.address] = now + .seconds(configuration.limits.permissionLifetime)
            allocation.notePeer(peer.address)
        }
        allocations[tuple] = allocation
        return TURNReply(outcome: .respond(finish(STUNMessageBuilder.response(to: request), request, key: key)))
    }

    private mutating func channelBind(_ request: STUNMessage, on tuple: TURNFiveTuple, key: (STUNKey, Bool),
                                      now: Duration) -> TURNReply {
        guard var allocation = allocations[tuple], let value = request.value(.channelNumber),
            let channel = TURNChannelNumber(attribute: value), let peers = request.peerAddresses, peers.count == 1
        else { return TURNReply(outcome: .respond(errorResponse(request, .badRequest, key: key))) }
        let peer = peers[0]
        if let (error, refusal) = judge(peer, for: allocation) {
            return TURNReply(outcome: .respond(errorResponse(request, error, key: key)),
                             events: refusal.map { [.peerDenied(source: tuple.client, username: allocation.username,
                                                                peer: peer, $0)] } ?? [])
        }
        allocation.sweep(now: now, quarantine: .seconds(configuration.limits.channelQuarantine))
        // A channel bound (or recently bound) to another peer, or the peer bound to another channel: 400.
        let channelTaken = (allocation.channels[channel]?.peer ?? allocation.quarantined[channel]?.peer).map { $0 != peer } ?? false
        let peerTaken = allocation.channelOfPeer[peer].map { $0 != channel } ?? false
        if channelTaken || peerTaken {
            allocations[tuple] = allocation
            return TURNReply(outcome: .respond(errorResponse(request, .badRequest, key: key)))
        }
        let limits = configuration.limits
        let isNewPermission = allocation.permissions[peer.address] == nil
        if allocation.channels[channel] == nil && allocation.channels.count >= limits.channelsPerAllocation
            || isNewPermission && allocation.permissions.count >= limits.permissionsPerAllocation
        {
            allocations[tuple] = allocation
            return TURNReply(outcome: .respond(errorResponse(request, .insufficientCapacity, key: key)),
                             events: [.quotaReached(source: tuple.client, username: allocation.username, .channels)])
        }
        allocation.channels[channel] = (peer, now + .seconds(limits.channelLifetime))
        allocation.channelOfPeer[peer] = channel
        allocation.quarantined[channel] = nil
        allocation.permissions[peer.address] = now + .seconds(limits.permissionLifetime)
        allocation.notePeer(peer.address)
        allocations[tuple] = allocation
        return TURNReply(outcome: .respond(finish(STUNMessageBuilder.response(to: request), request, key: key)))
    }

    private mutating func send(_ indication: STUNMessage, on tuple: TURNFiveTuple, now: Duration) -> TURNOutcome {
        guard let allocation = allocations[tuple], let peer = indication.xorAddress(.xorPeerAddress),
            let data = indication.attributes.first(where: { $0.type == .data }),
            allocation.permits(peer.address, now: now),
            // A permission is for an address; the port is judged here (the server's own listeners and relay
            // sockets on a permitted address are still no peers).
            configuration.peerPolicy.refusal(of: peer.address, port: peer.port, toldBy: nil) == nil
        else { return .none }
        guard take(data.value.count, toPeers: true, tuple: tuple, now: now) else { return .none }
        return .relay(allocation: allocation.id, peer: peer, payload: data.value)
    }

    /// ChannelData from a client: the allocation and peer its payload goes to, or nil (no allocation, no live
    /// binding, or over the allocation's bandwidth): dropped.
    public mutating func channelData(_ channel: TURNChannelNumber, length: Int, on tuple: TURNFiveTuple,
                                     now: Duration) -> (allocation: UInt32, peer: STUNTransportAddress)? {
        // One in-place access (no copy of the allocation): the hot path of every relayed packet.
        allocations[tuple]?.forward(on: channel, length: length, now: now)
    }

    /// Data a peer sent to an allocation's relayed address: where it goes, or nil (no permission for the peer's
    /// address, or over the allocation's bandwidth): dropped.
    public mutating func fromPeer(_ peer: STUNTransportAddress, to allocationID: UInt32, length: Int,
                                  now: Duration) -> TURNDelivery? {
        guard let tuple = tupleOfID[allocationID], let channel = allocations[tuple]?.receive(from: peer, length: length, now: now)
        else { return nil }
        return channel.map { .channel($0, client: tuple) } ?? .indication(client: tuple)
    }

    /// Counts `bytes` against the allocation's bandwidth in place (a packet's hot path: no copy of the allocation).
    private mutating func take(_ bytes: Int, toPeers: Bool, tuple: TURNFiveTuple, now: Duration) -> Bool {
        allocations[tuple]?.consume(bytes, toPeers: toPeers, now: now) ?? false
    }

    /// The largest payload a Data indication carries (its header, an IPv6 XOR-PEER-ADDRESS and DATA's header and
    /// padding within a 16-bit length); a larger datagram from a peer goes by channel or not at all.
    public static let maxIndicationPayload = 65_535 - 24 - 4 - 3

    /// A Data indication carrying `payload` from `peer` (RFC 8656 §10.3); nil when the payload is too large for one.
    public static func dataIndication(from peer: STUNTransportAddress, payload: some Collection<UInt8>) -> [UInt8]? {
        guard payload.count <= maxIndicationPayload else { return nil }
        var builder = STUNMessageBuilder(STUNMessageType(.data, .indication), transactionID: .random())
        builder.append(.xorPeerAddress, xorAddress: peer)
        builder.append(.data, payload)
        return builder.bytes
    }

    // MARK: Lifetimes

    /// Ends allocations whose lifetime has run out and sweeps expired permissions and channels; the records of those
    /// ended (with their ids: close their sockets).
    public mutating func expire(now: Duration) -> [(allocation: UInt32, record: TURNSessionRecord)] {
        var ended: [(UInt32, TURNSessionRecord)] = []
        let quarantine = Duration.seconds(configuration.limits.channelQuarantine)
        for (tuple, allocation) in allocations {
            if allocation.expires <= now {
                if let result = end(tuple, now: now, ending: "expired") { ended.append(result) }
            } else {
                allocations[tuple]?.sweep(now: now, quarantine: quarantine)
            }
        }
        credit.forget(before: now)
        for (token, reserved) in reservations where reserved.expires <= now {
            reservations[token] = nil
            portsInUse[.ipv4]?.remove(reserved.port)
        }
        for blocked in blockedPorts where blocked.until <= now { portsInUse[blocked.family]?.remove(blocked.port) }
        blockedPorts.removeAll { $0.until <= now }
        return ended
    }

    /// Ends the allocation on `tuple` (its client's connection closed, or the server stops); an Allocate still
    /// waiting for its sockets is dropped with its ports and quota (``allocationBound(_:now:)`` then finds nothing).
    public mutating func close(_ tuple: TURNFiveTuple, now: Duration) -> (allocation: UInt32, record: TURNSessionRecord)? {
        if let waiting = pending.removeValue(forKey: tuple) {
            releasePorts(waiting.plan.relayed)
            if let token = waiting.reservation, let reserved = reservations.removeValue(forKey: token) {
                portsInUse[.ipv4]?.remove(reserved.port)
            }
            release(user: waiting.username, source: tuple.client.address)
        }
        return end(tuple, now: now, ending: "closed")
    }

    private mutating func end(_ tuple: TURNFiveTuple, now: Duration, ending: String) -> (UInt32, TURNSessionRecord)? {
        guard let allocation = allocations.removeValue(forKey: tuple) else { return nil }
        tupleOfID[allocation.id] = nil
        releasePorts(allocation.relayed)
        release(user: allocation.username, source: tuple.client.address)
        let record = TURNSessionRecord(username: allocation.username, client: tuple.client, transport: tuple.transport,
                                       peers: allocation.peersSeen.count, bytesToPeers: allocation.bytesToPeers,
                                       bytesToClient: allocation.bytesToClient, packetsDropped: allocation.packetsDropped,
                                       seconds: Int((now - allocation.started).components.seconds), ending: ending)
        return (allocation.id, record)
    }
}

/// Per source IP address, the bytes received less the bytes sent in unauthenticated answers, over a short memory;
/// bounded. Whoever funds the credit claims the address, so a forged source never gets back more than was sent.
struct AmplificationCredit: Sendable {
    static let maxSources = 16_384
    static let memory = Duration.seconds(30)
    static let ceiling = 65_536

    private var balances: [IPAddress: (bytes: Int, seen: Duration)] = [:]
    /// Answers beyond the credit: a token bucket per source address (4 a second, 8 at once).
    private var allowances: [IPAddress: (tokens: Double, last: Duration)] = [:]
    static let allowancePerSecond = 4.0
    static let allowanceBurst = 8.0

    mutating func allowance(for source: STUNTransportAddress, now: Duration) -> Bool {
        let key = source.address
        if allowances[key] == nil, allowances.count >= Self.maxSources { forget(before: now) }
        // Still full of live entries (forged sources): start over rather than refuse every new client.
        if allowances[key] == nil, allowances.count >= Self.maxSources { allowances.removeAll(keepingCapacity: true) }
        let (tokens, last) = allowances[key] ?? (Self.allowanceBurst, now)
        let elapsed = Double((now - last).components.seconds) + Double((now - last).components.attoseconds) / 1e18
        let available = min(Self.allowanceBurst, tokens + max(0, elapsed) * Self.allowancePerSecond)
        guard available >= 1 else {
            allowances[key] = (available, now)
            return false
        }
        allowances[key] = (available - 1, now)
        return true
    }

    mutating func add(_ count: Int, for source: STUNTransportAddress, now: Duration) {
        let key = source.address
        if balances[key] == nil, balances.count >= Self.maxSources { forget(before: now) }
        // Still full of live entries (forged sources): start over rather than lock every new client out.
        if balances[key] == nil, balances.count >= Self.maxSources { balances.removeAll(keepingCapacity: true) }
        let current = balances[key].map { now - $0.seen < Self.memory ? $0.bytes : 0 } ?? 0
        balances[key] = (min(Self.ceiling, current + count), now)
    }

    mutating func spend(_ count: Int, for source: STUNTransportAddress, now: Duration) -> Bool {
        guard let balance = balances[source.address], now - balance.seen < Self.memory, balance.bytes >= count else {
            return false
        }
        balances[source.address] = (balance.bytes - count, balance.seen)
        return true
    }

    mutating func forget(before now: Duration) {
        balances = balances.filter { now - $0.value.seen < Self.memory }
        allowances = allowances.filter { now - $0.value.last < Self.memory }
    }
}
