import Crypto
import SecurityPolicy
import STUN
import Testing
import TURN

/// The TURN core (RFC 8656) driven as a client would drive it, with a simulated clock: authentication, allocations,
/// permissions, channels, lifetimes, limits, and the peers it must never reach.
@Suite struct TURNServerCoreTests {
    static let realm = "rampart.test"
    static let relay = IPAddress("192.0.2.10")!
    static let server = STUNTransportAddress(address: IPAddress("192.0.2.1")!, port: 3478)
    static let epoch: Int64 = 1_800_000_000

    static func core(limits: TURNLimits = TURNLimits(), allowed: [String] = [], amplification: Bool = false,
                     v6: Bool = false, credentials: (any TURNCredentialSource)? = nil) -> TURNServerCore {
        var policy = AddressPolicy()
        policy.allowedNetworks = NetworkList(allowed.compactMap { CIDRBlock($0) })
        var configuration = TURNConfiguration(realm: realm, relayAddressV4: relay,
                                              relayAddressV6: v6 ? IPAddress("2001:db8::10") : nil, peerPolicy: policy)
        configuration.limits = limits
        configuration.limitAmplification = amplification
        let accounts = TURNAccounts(realm: realm, users: ["alice": .init(username: "alice", realm: realm, password: "wonderland"),
                                                          "bob": .init(username: "bob", realm: realm, password: "builder")])
        return TURNServerCore(configuration: configuration, credentials: credentials ?? accounts,
                              nonceSecret: SymmetricKey(size: .bits256), relayPorts: 49_152...49_200)
    }

    /// A client on one 5-tuple that answers challenges as RFC 8489 says.
    struct Client {
        var tuple: TURNFiveTuple
        var username = "alice"
        var password = "wonderland"
        var nonce: String?
        var algorithms: [UInt8]?
        var sha256 = true
        var now: Duration = .seconds(100)
        var epochSeconds = TURNServerCoreTests.epoch

        init(port: UInt16 = 40_000, address: String = "198.51.100.7") {
            tuple = TURNFiveTuple(client: STUNTransportAddress(address: IPAddress(address)!, port: port),
                                  server: TURNServerCoreTests.server, transport: .udp)
        }

        var key: STUNKey {
            .longTerm(username: username, realm: TURNServerCoreTests.realm, password: password,
                      algorithm: sha256 && algorithms != nil ? .sha256 : .md5)
        }

        func message(_ method: STUNMethod, _ messageClass: STUNClass = .request, signed: Bool = true,
                     attributes: (inout STUNMessageBuilder) -> Void = { _ in }) -> STUNMessage {
            var builder = STUNMessageBuilder(STUNMessageType(method, messageClass), transactionID: .random())
            attributes(&builder)
            if signed, let nonce {
                builder.append(.username, text: username)
                builder.append(.realm, text: TURNServerCoreTests.realm)
                builder.append(.nonce, text: nonce)
                if let algorithms, sha256 {
                    builder.append(.passwordAlgorithms, algorithms)
                    builder.append(.passwordAlgorithm, STUNPasswordAlgorithm.sha256.value)
                }
                builder.appendIntegrity(key: key, sha256: sha256 && algorithms != nil)
            }
            return try! STUNMessage(parsing: builder.bytes)
        }

        /// Sends and returns the response read back (nil when the core sends nothing or plans an allocation).
        @discardableResult
        mutating func send(_ message: STUNMessage, to core: inout TURNServerCore) -> (TURNReply, STUNMessage?) {
            core.received(message.bytes.count, from: tuple.client, now: now)
            let reply = core.handle(message, on: tuple, now: now, epochSeconds: epochSeconds)
            guard case .respond(let bytes) = reply.outcome else { return (reply, nil) }
            let response = try! STUNMessage(parsing: bytes)
            if let error = response.errorCode, [401, 438].contains(error.code) {
                nonce = response.nonce
                algorithms = response.value(.passwordAlgorithms).map(Array.init)
            }
            return (reply, response)
        }

        /// Allocates (challenge first), binding what the core plans; the success response.
        mutating func allocate(on core: inout TURNServerCore, _ extra: (inout STUNMessageBuilder) -> Void = { _ in })
            -> STUNMessage?
        {
            let transport: (inout STUNMessageBuilder) -> Void = {
                $0.append(.requestedTransport, [17, 0, 0, 0])
                extra(&$0)
            }
            if nonce == nil { send(message(.allocate, signed: false, attributes: transport), to: &core) }
            let (reply, response) = send(message(.allocate, attributes: transport), to: &core)
            if let response { return response }
            guard case .allocate(let plan) = reply.outcome, let bound = core.allocationBound(plan, now: now) else { return nil }
            return try? STUNMessage(parsing: bound.response)
        }

        func peer(_ text: String, _ port: UInt16 = 5_000) -> STUNTransportAddress {
            STUNTransportAddress(address: IPAddress(text)!, port: port)
        }
    }

    @Test func anAllocationAfterTheChallengeWithEitherAlgorithm() throws {
        var core = Self.core()
        for sha256 in [true, false] {
            var client = Client(port: sha256 ? 40_000 : 40_001)
            client.sha256 = sha256
            let (_, challenge) = client.send(client.message(.allocate, signed: false) { $0.append(.requestedTransport, [17, 0, 0, 0]) },
                                             to: &core)
            #expect(challenge?.errorCode == .unauthenticated)
            #expect(challenge?.realm == Self.realm)
            #expect(challenge.flatMap { $0.nonce.flatMap(STUNSecurityFeatures.init(nonce:)) } == .passwordAlgorithms)
            #expect(challenge?.passwordAlgorithmNumbers == [2, 1])
            #expect(challenge?.hasIntegrity == false)
            let successResponse = client.allocate(on: &core)
        let success = try #require(successResponse)
            #expect(success.type == STUNMessageType(.allocate, .successResponse))
            #expect(success.checkIntegrity(key: client.key) == .holds(sha256: sha256))
            let relayed = try #require(success.xorAddress(.xorRelayedAddress))
            #expect(relayed.address == Self.relay && (49_152...49_200).contains(relayed.port))
            #expect(success.xorAddress() == client.tuple.client)
            #expect(success.uint32(.lifetime) == 600)
            #expect(success.software == nil)  // SOFTWARE omitted by default
        }
        #expect(core.allocationCount == 2)
    }

    @Test func wrongPasswordsUnknownUsersStaleNoncesAndBidDowns() throws {
        var core = Self.core()
        var client = Client()
        client.send(client.message(.allocate, signed: false), to: &core)
        client.password = "guess"
        var (reply, response) = client.send(client.message(.allocate) { $0.append(.requestedTransport, [17, 0, 0, 0]) }, to: &core)
        #expect(response?.errorCode == .unauthenticated)
        #expect(reply.events == [.authenticationFailed(source: client.tuple.client, username: "alice", .badIntegrity)])
        client.username = "mallory"
        (reply, response) = client.send(client.message(.allocate) { $0.append(.requestedTransport, [17, 0, 0, 0]) }, to: &core)
        #expect(response?.errorCode == .unauthenticated)
        #expect(reply.events == [.authenticationFailed(source: client.tuple.client, username: "mallory", .unknownUser)])
        // The algorithm list cut down to MD5 on the way: 400, and an event.
        (client.username, client.password) = ("alice", "wonderland")
        client.algorithms = STUNPasswordAlgorithm.listValue([.md5])
        (reply, response) = client.send(client.message(.allocate) { $0.append(.requestedTransport, [17, 0, 0, 0]) }, to: &core)
        #expect(response?.errorCode == .badRequest)
        #expect(reply.events == [.authenticationFailed(source: client.tuple.client, username: "alice", .algorithmBidDown)])
        // A nonce past its life, or taken to another source: 438 with a fresh one, no event.
        client.algorithms = STUNPasswordAlgorithm.listValue([.sha256, .md5])
        client.epochSeconds += 601
        (reply, response) = client.send(client.message(.allocate) { $0.append(.requestedTransport, [17, 0, 0, 0]) }, to: &core)
        #expect(response?.errorCode == .staleNonce && reply.events.isEmpty)
        var thief = Client(port: 40_002, address: "203.0.113.9")
        thief.epochSeconds = client.epochSeconds
        (thief.nonce, thief.algorithms) = (client.nonce, client.algorithms)
        (_, response) = thief.send(thief.message(.allocate) { $0.append(.requestedTransport, [17, 0, 0, 0]) }, to: &core)
        #expect(response?.errorCode == .staleNonce)
        // Integrity without the credential attributes: 400.
        var bare = STUNMessageBuilder(STUNMessageType(.allocate, .request), transactionID: .random())
        bare.appendIntegrity(key: client.key)
        (_, response) = client.send(try STUNMessage(parsing: bare.bytes), to: &core)
        #expect(response?.errorCode == .badRequest)
        #expect(client.allocate(on: &core)?.type.messageClass == .successResponse)
    }

    @Test func restCredentialsWithARotatingSecret() throws {
        let old = TURNRESTCredentials(secrets: [Array("old secret".utf8)])
        let rotating = TURNRESTCredentials(secrets: [Array("new secret".utf8), Array("old secret".utf8)])
        var core = Self.core(credentials: TURNCredentialChain([TURNAccounts(realm: Self.realm), rotating]))
        var client = Client()
        (client.username, client.password) = try #require(old.credentials(user: "carol", ttlSeconds: 3_600, epochSeconds: Self.epoch))
        #expect(client.username == "\(Self.epoch + 3_600):carol")
        #expect(client.allocate(on: &core)?.type.messageClass == .successResponse)
        // Made with the new secret: also good. Expired, or valid for longer than a day: unknown.
        var second = Client(port: 40_001)
        (second.username, second.password) = try #require(rotating.credentials(user: "carol", ttlSeconds: 60, epochSeconds: Self.epoch))
        #expect(second.allocate(on: &core)?.type.messageClass == .successResponse)
        for (ttl, port) in [(-10 as Int64, 40_002 as UInt16), (90_000, 40_003)] {
            var expired = Client(port: port)
            (expired.username, expired.password) = try #require(rotating.credentials(user: "carol", ttlSeconds: ttl, epochSeconds: Self.epoch))
            #expect(expired.allocate(on: &core)?.errorCode == .unauthenticated)
        }
    }

    @Test func peersTheRelayMustNeverReach() throws {
        var core = Self.core(allowed: ["127.0.0.0/8"])
        var client = Client(address: "127.0.0.1")
        let relayedResponse = client.allocate(on: &core)?.xorAddress(.xorRelayedAddress)
        let relayed = try #require(relayedResponse)
        var strict = Self.core()
        var local = Client(address: "127.0.0.1")
        _ = local.allocate(on: &strict)
        // Loopback without the allow-list (even for a client on loopback), private, metadata, link-local, unspecified.
        for peer in ["127.0.0.1", "10.0.0.1", "169.254.169.254", "169.254.1.1", "0.0.0.0", "100.64.0.1", "224.0.0.1"] {
            let (reply, response) = local.send(local.message(.createPermission) { $0.append(.xorPeerAddress, xorAddress: local.peer(peer)) },
                                               to: &strict)
            #expect(response?.errorCode == .forbidden, "\(peer)")
            guard case .peerDenied(_, "alice", let denied, _)? = reply.events.first else {
                Issue.record("no event for \(peer)")
                continue
            }
            #expect(denied.address == IPAddress(peer))
        }
        // With the allow-list: loopback is a peer, but the relay's own sockets and the server's listener never are.
        var (_, response) = client.send(client.message(.createPermission) { $0.append(.xorPeerAddress, xorAddress: client.peer("127.0.0.1")) },
                                        to: &core)
        #expect(response?.type.messageClass == .successResponse)
        var relayCore = Self.core(allowed: ["192.0.2.0/24"])
        var other = Client()
        let ownRelayResponse = other.allocate(on: &relayCore)?.xorAddress(.xorRelayedAddress)
        let ownRelay = try #require(ownRelayResponse)
        // Its address may be permitted (a permission has no port), but nothing reaches the relay socket itself.
        (_, response) = other.send(other.message(.createPermission) { $0.append(.xorPeerAddress, xorAddress: ownRelay) }, to: &relayCore)
        #expect(response?.type.messageClass == .successResponse)
        let loop = other.message(.send, .indication, signed: false) {
            $0.append(.xorPeerAddress, xorAddress: ownRelay)
            $0.append(.data, [1, 2, 3])
        }
        #expect(relayCore.handle(loop, on: other.tuple, now: other.now, epochSeconds: other.epochSeconds).outcome.isNone)
        (_, response) = other.send(other.message(.channelBind) {
            $0.append(.channelNumber, TURNChannelNumber(rawValue: 0x4001)!.attributeValue)
            $0.append(.xorPeerAddress, xorAddress: ownRelay)
        }, to: &relayCore)
        #expect(response?.errorCode == .forbidden)
        // A permission that names two peers, one denied: none is installed.
        (_, response) = local.send(local.message(.createPermission) {
            $0.append(.xorPeerAddress, xorAddress: local.peer("198.51.100.20"))
            $0.append(.xorPeerAddress, xorAddress: local.peer("10.1.1.1"))
        }, to: &strict)
        #expect(response?.errorCode == .forbidden)
        #expect(strict.allocation(local.tuple)?.permits(IPAddress("198.51.100.20")!, now: local.now) == false)
        _ = relayed
    }

    @Test func permissionsChannelsAndTheirLifetimes() throws {
        var core = Self.core()
        var client = Client()
        #expect(client.allocate(on: &core) { $0.append(.lifetime, uint32: 3_600) } != nil)
        let id = try #require(core.allocation(client.tuple)?.id)
        let peer = client.peer("198.51.100.50", 6_000)
        // Nothing crosses before a permission.
        let send = client.message(.send, .indication, signed: false) {
            $0.append(.xorPeerAddress, xorAddress: peer)
            $0.append(.data, Array("hello".utf8))
        }
        #expect(core.handle(send, on: client.tuple, now: client.now, epochSeconds: client.epochSeconds).outcome.isNone)
        #expect(core.fromPeer(peer, to: id, length: 100, now: client.now) == nil)
        var (_, response) = client.send(client.message(.createPermission) { $0.append(.xorPeerAddress, xorAddress: peer) }, to: &core)
        #expect(response?.type.messageClass == .successResponse)
        guard case .relay(id, peer, let payload) = core.handle(send, on: client.tuple, now: client.now,
                                                              epochSeconds: client.epochSeconds).outcome
        else { Issue.record("the Send indication was not relayed"); return }
        #expect(Array(send.bytes[payload]) == Array("hello".utf8))
        #expect(core.fromPeer(peer, to: id, length: 100, now: client.now) == .indication(client: client.tuple))
        // Another port of the same IP is permitted too (permissions are per address).
        #expect(core.fromPeer(client.peer("198.51.100.50", 6_001), to: id, length: 10, now: client.now) != nil)

        // A channel: ChannelData both ways.
        let channel = try #require(TURNChannelNumber(rawValue: 0x4000))
        (_, response) = client.send(client.message(.channelBind) {
            $0.append(.channelNumber, channel.attributeValue)
            $0.append(.xorPeerAddress, xorAddress: peer)
        }, to: &core)
        #expect(response?.type.messageClass == .successResponse)
        #expect(core.channelData(channel, length: 160, on: client.tuple, now: client.now).map { $0.peer } == peer)
        #expect(core.fromPeer(peer, to: id, length: 160, now: client.now) == .channel(channel, client: client.tuple))
        // The channel for another peer, another channel for the peer, numbers out of range: 400.
        for (number, target) in [(UInt16(0x4000), client.peer("198.51.100.51")), (0x4001, peer), (0x3FFF, peer), (0x8000, peer)] {
            (_, response) = client.send(client.message(.channelBind) {
                $0.append(.channelNumber, [UInt8(number >> 8), UInt8(number & 0xFF), 0, 0])
                $0.append(.xorPeerAddress, xorAddress: target)
            }, to: &core)
            #expect(response?.errorCode == .badRequest, "channel \(number)")
        }
        #expect(core.channelData(TURNChannelNumber(rawValue: 0x4001)!, length: 10, on: client.tuple, now: client.now) == nil)

        // After five minutes the permission is gone (the channel's 10 minutes also end its relaying to the client).
        let later = client.now + .seconds(301)
        _ = core.expire(now: later)
        #expect(core.fromPeer(client.peer("198.51.100.50", 6_001), to: id, length: 10, now: later) == nil)
        #expect(core.handle(send, on: client.tuple, now: later, epochSeconds: client.epochSeconds).outcome.isNone)
        // After ten, the channel too; its number stays tied to its peer for five more.
        let muchLater = client.now + .seconds(601)
        _ = core.expire(now: muchLater)
        #expect(core.channelData(channel, length: 10, on: client.tuple, now: muchLater) == nil)
        client.now = muchLater
        (_, response) = client.send(client.message(.channelBind) {
            $0.append(.channelNumber, channel.attributeValue)
            $0.append(.xorPeerAddress, xorAddress: client.peer("198.51.100.51"))
        }, to: &core)
        #expect(response?.errorCode == .badRequest)
    }

    @Test func refreshRetransmissionsMismatchesAndExpiry() throws {
        var core = Self.core()
        var client = Client()
        let allocate = client.message(.allocate, signed: false) { $0.append(.requestedTransport, [17, 0, 0, 0]) }
        client.send(allocate, to: &core)
        let signed = client.message(.allocate) { $0.append(.requestedTransport, [17, 0, 0, 0]) }
        let (reply, _) = client.send(signed, to: &core)
        guard case .allocate(let plan) = reply.outcome, let bound = core.allocationBound(plan, now: client.now) else {
            Issue.record("no plan"); return
        }
        // The same Allocate again: the same answer. Another Allocate on the 5-tuple: 437.
        #expect(core.handle(signed, on: client.tuple, now: client.now, epochSeconds: client.epochSeconds).outcome.bytes == bound.response)
        var (_, response) = client.send(client.message(.allocate) { $0.append(.requestedTransport, [17, 0, 0, 0]) }, to: &core)
        #expect(response?.errorCode == .allocationMismatch)
        // Refresh to 2 hours gets the maximum, an hour; another user on this 5-tuple gets 441.
        (_, response) = client.send(client.message(.refresh) { $0.append(.lifetime, uint32: 7_200) }, to: &core)
        #expect(response?.uint32(.lifetime) == 3_600)
        var bob = client
        (bob.username, bob.password) = ("bob", "builder")
        let (wrong, wrongResponse) = bob.send(bob.message(.refresh), to: &core)
        #expect(wrongResponse?.errorCode == .wrongCredentials)
        #expect(wrong.events.count == 1)
        // Refresh with lifetime 0 ends it with its record; what follows is 437.
        let (ended, _) = client.send(client.message(.refresh) { $0.append(.lifetime, uint32: 0) }, to: &core)
        guard case .ended(let record, bound.allocation, let bytes) = ended.outcome else { Issue.record("not ended"); return }
        #expect(record.username == "alice" && record.ending == "refresh")
        #expect(try STUNMessage(parsing: bytes).uint32(.lifetime) == 0)
        (_, response) = client.send(client.message(.createPermission) { $0.append(.xorPeerAddress, xorAddress: client.peer("198.51.100.9")) },
                                    to: &core)
        #expect(response?.errorCode == .allocationMismatch)
        // An allocation left alone expires after its lifetime, with its record.
        var idle = Client(port: 40_001)
        _ = idle.allocate(on: &core)
        #expect(core.expire(now: idle.now + .seconds(599)).isEmpty)
        let expired = core.expire(now: idle.now + .seconds(600))
        #expect(expired.map(\.record.ending) == ["expired"])
        #expect(core.allocationCount == 0)
    }

    @Test func attributesAndFamiliesTheServerDoesNotServe() throws {
        var core = Self.core()
        var client = Client()
        client.send(client.message(.allocate, signed: false), to: &core)
        func allocate(_ attributes: @escaping (inout STUNMessageBuilder) -> Void) -> STUNMessage? {
            client.send(client.message(.allocate, attributes: attributes), to: &core).1
        }
        #expect(allocate { _ in }?.errorCode == .badRequest)  // no REQUESTED-TRANSPORT
        #expect(allocate { $0.append(.requestedTransport, [6, 0, 0, 0]) }?.errorCode == .unsupportedTransportProtocol)
        #expect(allocate {
            $0.append(.requestedTransport, [17, 0, 0, 0])
            $0.append(.requestedAddressFamily, TURNAddressFamily.ipv6.attributeValue)
        }?.errorCode == .addressFamilyNotSupported)
        #expect(allocate {
            $0.append(.requestedTransport, [17, 0, 0, 0])
            $0.append(.requestedAddressFamily, [0x01, 0, 0, 0])
            $0.append(.additionalAddressFamily, [0x02, 0, 0, 0])
        }?.errorCode == .badRequest)
        let unknown = try #require(allocate {
            $0.append(.requestedTransport, [17, 0, 0, 0])
            $0.append(STUNAttributeType(rawValue: 0x7FFE), [1, 2, 3, 4])
        })
        #expect(unknown.errorCode == .unknownAttribute)
        #expect(unknown.unknownAttributes == [STUNAttributeType(rawValue: 0x7FFE)])
        #expect(unknown.checkIntegrity(key: client.key) == .holds(sha256: true))
        #expect(allocate {
            $0.append(.requestedTransport, [17, 0, 0, 0])
            $0.append(.reservationToken, [1, 2, 3, 4, 5, 6, 7, 8])
        }?.errorCode == .insufficientCapacity)
        // Both families asked, only IPv4 served: success with ADDRESS-ERROR-CODE for IPv6.
        let dualResponse = client.allocate(on: &core) { $0.append(.additionalAddressFamily, [0x02, 0, 0, 0]) }
        let dual = try #require(dualResponse)
        #expect(dual.type.messageClass == .successResponse)
        #expect(dual.value(.addressErrorCode).map { Array($0.prefix(4)) } == [0x02, 0, 4, 40])
    }

    @Test func dualStackEvenPortsAndReservations() throws {
        var core = Self.core(v6: true)
        var client = Client()
        let dualResponse = client.allocate(on: &core) { $0.append(.additionalAddressFamily, [0x02, 0, 0, 0]) }
        let dual = try #require(dualResponse)
        let relayed = dual.attributes.filter { $0.type == .xorRelayedAddress }.compactMap {
            STUNTransportAddress(value: dual.bytes[$0.value], xor: true, transactionID: dual.transactionID)
        }
        #expect(relayed.map(\.address.isIPv4) == [true, false])
        // EVEN-PORT with R: an even port, and a token for the one above it.
        var first = Client(port: 40_001)
        let evenResponse = first.allocate(on: &core) { $0.append(.evenPort, [0x80]) }
        let even = try #require(evenResponse)
        let port = try #require(even.xorAddress(.xorRelayedAddress)?.port)
        #expect(port % 2 == 0)
        let token = try #require(even.value(.reservationToken).map(Array.init))
        var second = Client(port: 40_002)
        let reservedResponse = second.allocate(on: &core) { $0.append(.reservationToken, token) }
        let reserved = try #require(reservedResponse)
        #expect(reserved.xorAddress(.xorRelayedAddress)?.port == port + 1)
        // A token works once.
        var third = Client(port: 40_003)
        #expect(third.allocate(on: &core) { $0.append(.reservationToken, token) }?.errorCode == .insufficientCapacity)
    }

    @Test func portsAnotherProcessHoldsAreAvoidedThenRefused() throws {
        var core = Self.core()
        var client = Client()
        client.send(client.message(.allocate, signed: false), to: &core)
        let (reply, _) = client.send(client.message(.allocate) { $0.append(.requestedTransport, [17, 0, 0, 0]) }, to: &core)
        guard case .allocate(var plan) = reply.outcome else { Issue.record("no plan"); return }
        var tried: Set<UInt16> = [plan.relayed[0].port]
        // Twice the port is taken elsewhere: other ports are planned.
        for _ in 0..<2 {
            guard case .allocate(let next) = core.rebind(plan, unavailable: plan.relayed, now: client.now) else {
                Issue.record("no new plan"); return
            }
            #expect(!tried.contains(next.relayed[0].port))
            tried.insert(next.relayed[0].port)
            plan = next
        }
        // The third time the client gets 508, signed.
        guard case .respond(let bytes) = core.rebind(plan, unavailable: plan.relayed, now: client.now) else {
            Issue.record("no answer"); return
        }
        let refused = try STUNMessage(parsing: bytes)
        #expect(refused.errorCode == .insufficientCapacity && refused.checkIntegrity(key: client.key) == .holds(sha256: true))
        // A port held elsewhere is left alone for a minute, then planned again.
        #expect(core.allocationCount == 0)
        _ = core.expire(now: client.now + .seconds(61))
    }

    @Test func quotasAndBandwidth() throws {
        var limits = TURNLimits()
        limits.allocationsPerSource = 2
        limits.permissionsPerAllocation = 2
        limits.bytesPerSecond = 1_000
        var core = Self.core(limits: limits)
        var clients = (0..<3).map { Client(port: 40_000 + UInt16($0)) }
        #expect(clients[0].allocate(on: &core)?.type.messageClass == .successResponse)
        #expect(clients[1].allocate(on: &core)?.type.messageClass == .successResponse)
        clients[2].send(clients[2].message(.allocate, signed: false), to: &core)
        let (reply, response) = clients[2].send(clients[2].message(.allocate) { $0.append(.requestedTransport, [17, 0, 0, 0]) },
                                                to: &core)
        #expect(response?.errorCode == .allocationQuotaReached)
        #expect(reply.events == [.quotaReached(source: clients[2].tuple.client, username: "alice", .allocationsPerSource)])
        var client = clients[0]
        let (permissionReply, tooMany) = client.send(client.message(.createPermission) {
            for last in 1...3 { $0.append(.xorPeerAddress, xorAddress: client.peer("198.51.100.\(last)")) }
        }, to: &core)
        #expect(tooMany?.errorCode == .insufficientCapacity && permissionReply.events.count == 1)
        let channel = TURNChannelNumber(rawValue: 0x4000)!
        client.send(client.message(.channelBind) {
            $0.append(.channelNumber, channel.attributeValue)
            $0.append(.xorPeerAddress, xorAddress: client.peer("198.51.100.1"))
        }, to: &core)
        // 1,000 bytes a second: the sixth 200-byte packet in the same instant is dropped, and counted.
        let passed = (0..<6).filter { _ in core.channelData(channel, length: 200, on: client.tuple, now: client.now) != nil }
        #expect(passed.count == 5)
        #expect(core.allocation(client.tuple)?.packetsDropped == 1)
        #expect(core.channelData(channel, length: 200, on: client.tuple, now: client.now + .seconds(1)) != nil)
    }

    @Test func unauthenticatedAnswersStayWithinWhatTheSourceSentAndAFewASecond() throws {
        var core = Self.core(amplification: true)
        var client = Client()
        // A browser-sized first Allocate (28 bytes) is challenged at once (112 bytes), from the allowance.
        let allocate = client.message(.allocate, signed: false) { $0.append(.requestedTransport, [17, 0, 0, 0]) }
        let (_, first) = client.send(allocate, to: &core)
        let challenge = try #require(first)
        #expect(challenge.errorCode == .unauthenticated && challenge.bytes.count <= 4 * allocate.bytes.count)
        // A flood of them from one (forged) address in one instant: beyond the bytes it sent, 8 answers at most.
        var received = allocate.bytes.count, sent = challenge.bytes.count, withheld = 0
        for _ in 0..<60 {
            let (reply, response) = client.send(allocate, to: &core)
            received += allocate.bytes.count
            if let response { sent += response.bytes.count } else {
                withheld += 1
                #expect(reply.events == [.amplificationWithheld(source: client.tuple.client)])
            }
        }
        #expect(withheld > 0 && sent <= received + 8 * challenge.bytes.count)
        // A bare Binding request (20 bytes) from another address gets its 32-byte answer; a second later the
        // allowance has refilled.
        var pinger = Client(port: 40_001, address: "203.0.113.30")
        let binding = pinger.message(.binding, signed: false)
        let answer = try #require(pinger.send(binding, to: &core).1)
        #expect(answer.xorAddress() == pinger.tuple.client)
        let flood = (0..<40).compactMap { _ in pinger.send(binding, to: &core).1 }
        #expect(flood.count < 40 && (flood.count + 1) * answer.bytes.count <= 41 * binding.bytes.count + 8 * answer.bytes.count)
        pinger.now += .seconds(1)
        #expect(pinger.send(binding, to: &core).1 != nil)
        // Over TCP a source address is proven by the handshake: no limit.
        var tcp = Client(port: 40_002, address: "203.0.113.31")
        tcp.tuple.transport = .tcp
        #expect((0..<20).allSatisfy { _ in tcp.send(binding, to: &core).1 != nil })
    }

    @Test func theServersOwnSocketsAreNoPeersWhateverTheFormOrThePermission() throws {
        var core = Self.core()
        core.addOwnListeners([AddressPolicy.Endpoint(address: Self.server.address, port: Self.server.port)])
        var client = Client()
        _ = client.allocate(on: &core) { $0.append(.lifetime, uint32: 3_600) }
        let id = try #require(core.allocation(client.tuple)?.id)
        // A permission is for an address (its port is not judged): the server's public address may have one.
        let elsewhere = STUNTransportAddress(address: Self.server.address, port: 1)
        var (_, response) = client.send(client.message(.createPermission) { $0.append(.xorPeerAddress, xorAddress: elsewhere) },
                                        to: &core)
        #expect(response?.type.messageClass == .successResponse)
        // But nothing is sent to its listener through it, by indication or channel, in any spelling of the address.
        let nat64 = STUNTransportAddress(address: IPAddress("64:ff9b::c000:201")!, port: Self.server.port)
        for target in [Self.server, nat64] {
            let send = client.message(.send, .indication, signed: false) {
                $0.append(.xorPeerAddress, xorAddress: target)
                $0.append(.data, Array("INVITE".utf8))
            }
            #expect(core.handle(send, on: client.tuple, now: client.now, epochSeconds: client.epochSeconds).outcome.isNone,
                    "\(target)")
        }
        (_, response) = client.send(client.message(.channelBind) {
            $0.append(.channelNumber, TURNChannelNumber(rawValue: 0x4000)!.attributeValue)
            $0.append(.xorPeerAddress, xorAddress: Self.server)
        }, to: &core)
        #expect(response?.errorCode == .forbidden)
        // IPv4 translated forms of loopback and the local-use NAT64 prefix are refused as peers.
        for text in ["::ffff:0:7f00:1", "64:ff9b:1::7f00:1", "64:ff9b::a9fe:a9fe"] {
            (_, response) = client.send(client.message(.createPermission) {
                $0.append(.xorPeerAddress, xorAddress: STUNTransportAddress(address: IPAddress(text)!, port: 80))
            }, to: &core)
            #expect(response?.errorCode != nil, "\(text)")
        }
        _ = id
    }

    @Test func restUsernamesBoundTheAllocationsLifetimeAndAClosedClientLeavesNothingPending() throws {
        let rest = TURNRESTCredentials(secrets: [Array("a secret of enough length".utf8)])
        var core = Self.core(credentials: rest)
        var client = Client()
        (client.username, client.password) = try #require(rest.credentials(user: "carol", ttlSeconds: 100, epochSeconds: Self.epoch))
        let granted = client.allocate(on: &core) { $0.append(.lifetime, uint32: 3_600) }
        #expect(granted?.uint32(.lifetime) == 100)
        // An Allocate whose client goes while its sockets are bound: nothing stays, not even its quota.
        var leaving = Client(port: 40_001)
        (leaving.username, leaving.password) = (client.username, client.password)
        leaving.send(leaving.message(.allocate, signed: false), to: &core)
        let (reply, _) = leaving.send(leaving.message(.allocate) { $0.append(.requestedTransport, [17, 0, 0, 0]) }, to: &core)
        guard case .allocate(let plan) = reply.outcome else { Issue.record("no plan"); return }
        #expect(core.close(leaving.tuple, now: leaving.now) == nil)
        #expect(core.allocationBound(plan, now: leaving.now) == nil && core.allocationCount == 1)
        // A Data indication too large for STUN's 16-bit length is not made.
        let v6 = STUNTransportAddress(address: IPAddress("2001:db8::9")!, port: 9)
        #expect(TURNServerCore.dataIndication(from: v6, payload: [UInt8](repeating: 0, count: 65_510)) == nil)
        #expect(TURNServerCore.dataIndication(from: v6, payload: [UInt8](repeating: 0, count: TURNServerCore.maxIndicationPayload)) != nil)
    }
}

extension TURNOutcome {
    var isNone: Bool {
        if case .none = self { return true }
        return false
    }

    var bytes: [UInt8]? {
        if case .respond(let bytes) = self { return bytes }
        return nil
    }
}
