import AuditTrail
@testable import Edge
import NIOCore
import SIPAuth
import SIPMessage
import SIPTransportNIO
import SecurityPolicy
import Storage
import Synchronization
import Testing

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    let monotonic = Mutex<Duration>(.seconds(100))
    let epoch = Mutex<Int64>(1_800_000_000)
    func advance(seconds: Int64) {
        monotonic.withLock { $0 += .seconds(seconds) }
        epoch.withLock { $0 += seconds }
    }
    /// Moves the monotonic clock only (budgets and deadlines), by less than a second.
    func advance(milliseconds: Int64) {
        monotonic.withLock { $0 += .milliseconds(milliseconds) }
    }
    var edgeClock: EdgeClock {
        EdgeClock(monotonic: { self.monotonic.withLock { $0 } }, epochSeconds: { self.epoch.withLock { $0 } })
    }
}

final class SecurityEvents: Sendable {
    private let events = Mutex<[SecurityEvent]>([])
    func append(_ event: SecurityEvent) { events.withLock { $0.append(event) } }
    var kinds: [String] { events.withLock { $0.map(\.kind.name) } }
    var all: [SecurityEvent] { events.withLock { $0 } }
}

/// One edge over an in-memory store with alice (password "secret") provisioned.
struct EdgeFixture {
    let store: InMemoryStore
    let clock = ManualClock()
    let events = SecurityEvents()
    let edge: EdgeService

    init(store: InMemoryStore? = nil, configuration: EdgeService.Configuration = .init()) async throws {
        let resolved: InMemoryStore
        if let store { resolved = store } else { resolved = try await Self.provisionedStore() }
        let store = resolved
        self.store = store
        let events = self.events
        edge = EdgeService(configuration: configuration, store: store, clock: clock.edgeClock,
                           onSecurityEvent: { events.append($0) })
    }

    static func provisionedStore(answersImmediately: Bool = true) async throws -> InMemoryStore {
        let store = InMemoryStore(answersImmediately: answersImmediately)
        for name in ["alice", "bob"] {
            try await store.saveAccount(Account(
                username: name, domain: "localhost",
                ha1ByAlgorithm: DigestHA1.storedValues(username: name, realm: "localhost", password: "secret")))
        }
        return store
    }

    /// Sends a request as if it arrived over `transport` from `ip`:`port` (default 127.0.0.1:40000); returns the
    /// parsed response.
    func send(_ text: String, transport: SIPTransportKind = .udp, fingerprint: String? = nil, port: Int = 40_000,
              ip: String = "127.0.0.1") async throws -> SIPMessage?
    {
        let message = try SIPMessage.parse(Array(text.utf8))
        let inbound = SIPInbound(message: message, transport: transport,
                                 source: try SocketAddress(ipAddress: ip, port: port), local: nil,
                                 clientCertificateFingerprint: fingerprint)
        guard let reply = await edge.handle(inbound) else { return nil }
        return try SIPMessage.parse(reply.bytes)
    }
}

/// A REGISTER for `user`'s AOR at localhost.
func register(user: String = "alice", branch: String, cseq: Int, callID: String = "reg-1", expires: Int? = 3600,
              contact: String? = "<sip:alice@127.0.0.1:40000>", authorization: String? = nil,
              requestURI: String = "sip:localhost", toHost: String = "localhost", extra: [String] = []) -> String {
    var lines = [
        "REGISTER \(requestURI) SIP/2.0", "Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK\(branch);rport",
        "Max-Forwards: 70", "From: <sip:\(user)@\(toHost)>;tag=f\(branch)", "To: <sip:\(user)@\(toHost)>",
        "Call-ID: \(callID)", "CSeq: \(cseq) REGISTER",
    ]
    if let contact { lines.append("Contact: \(contact)") }
    if let expires { lines.append("Expires: \(expires)") }
    if let authorization { lines.append("Authorization: \(authorization)") }
    lines += extra
    lines.append("Content-Length: 0")
    return lines.joined(separator: "\r\n") + "\r\n\r\n"
}

func request(_ method: String, uri: String = "sip:localhost", branch: String) -> String {
    """
    \(method) \(uri) SIP/2.0\r
    Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK\(branch);rport\r
    Max-Forwards: 70\r
    From: <sip:probe@example.net>;tag=p\(branch)\r
    To: <sip:edge@localhost>\r
    Call-ID: \(method)-\(branch)\r
    CSeq: 1 \(method)\r
    Content-Length: 0\r
    \r

    """
}

/// Answers the response's challenge for `algorithm` as `username` with `password`.
func credentials(for response: SIPMessage?, algorithm: DigestAlgorithm = DigestAlgorithm.Insecure.md5,
                 username: String = "alice", password: String = "secret", uri: String = "sip:localhost",
                 nonceCount: UInt32 = 1) throws -> String {
    let response = try #require(response)
    #expect(response.statusCode == 401)
    let challenges = try response.digestChallenges()
    let challenge = try #require(challenges.first { $0.effectiveAlgorithm == algorithm })
    let ha1 = DigestHA1(algorithm: algorithm, username: username, realm: "localhost", password: password)
    return try DigestCredentials(answering: challenge, ha1: ha1, method: "REGISTER", uri: uri, cnonce: "c0ffee",
                                 nonceCount: DigestNonceCount(nonceCount)).serialized()
}

@Suite struct EdgeServiceTests {
    /// A request that waits for the store resumes where it stopped (issue 18): its source budget is charged once,
    /// not again when the lookup is done. Three REGISTERs against a budget of three: before, the authenticated one,
    /// deferred, was charged twice and the third got nothing.
    @Test func aDeferredRequestIsScreenedAndChargedOnce() async throws {
        var configuration = EdgeService.Configuration()
        configuration.security.rateLimits.perSource.register = .init(perSecond: 0.001, burst: 3)
        let fixture = try await EdgeFixture(store: try await EdgeFixture.provisionedStore(answersImmediately: false),
                                            configuration: configuration)
        let challenge = try await fixture.send(register(branch: "d1", cseq: 1))
        let answer = try credentials(for: challenge, algorithm: .sha256)
        #expect(try await fixture.send(register(branch: "d2", cseq: 2, authorization: answer))?.statusCode == 200)
        #expect(try await fixture.send(register(branch: "d3", cseq: 3, callID: "reg-2"))?.statusCode == 401,
                "the third request within the budget")
        #expect(try await fixture.send(register(branch: "d4", cseq: 4, callID: "reg-3")) == nil, "a fourth is over it")
    }

    @Test func registersWithSHA256AfterAChallengeOfferingSHA256ThenMD5() async throws {
        let fixture = try await EdgeFixture()
        let challenge = try await fixture.send(register(branch: "a1", cseq: 1))
        #expect(try challenge?.digestChallenges().map(\.effectiveAlgorithm.token) == ["SHA-256", "MD5"])
        #expect(challenge?.firstField(.to).map { $0.value.contains(";tag=") } == true)
        let answer = try credentials(for: challenge, algorithm: .sha256)
        let ok = try #require(try await fixture.send(register(branch: "a2", cseq: 2, authorization: answer)))
        #expect(ok.statusCode == 200)
        let contacts = try #require(try ok.contacts())
        guard case .contacts(let list) = contacts else { Issue.record("no contacts"); return }
        #expect(list.map(\.address.uri.description) == ["sip:alice@127.0.0.1:40000"])
        #expect(list.first?.expires == 3600)
        #expect(ok.firstField(.date) != nil)
        #expect(fixture.edge.location.bindings(of: "sip:alice@localhost").count == 1)
        // The flow is kept, so that calls to alice go down the path she registered over (RFC 5626 §5.3).
        #expect(fixture.edge.location.bindings(of: "sip:alice@localhost").first?.flow == "udp:127.0.0.1:40000")
        // Downgrade pinning is persisted in the store, so a new edge over it refuses MD5 for alice.
        // (written behind the answer, off the event loop)
        for _ in 0..<100 where try await fixture.store.account(username: "alice", domain: "localhost")?.strongDigestOnly != true {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(try await fixture.store.account(username: "alice", domain: "localhost")?.strongDigestOnly == true)
        let restarted = try await EdgeFixture(store: fixture.store)
        let fresh = try await restarted.send(register(branch: "a3", cseq: 3))
        let md5 = try credentials(for: fresh, algorithm: DigestAlgorithm.Insecure.md5)
        #expect(try await restarted.send(register(branch: "a4", cseq: 4, authorization: md5))?.statusCode == 403)
        #expect(restarted.events.kinds == ["digest-downgrade-attempt"])
    }

    @Test func wrongPasswordAndUnknownUserGetTheSameAnswer() async throws {
        let fixture = try await EdgeFixture()
        let first = try await fixture.send(register(branch: "w1", cseq: 1))
        let wrong = try await fixture.send(register(branch: "w2", cseq: 2,
                                                    authorization: try credentials(for: first, password: "guess")))
        let second = try await fixture.send(register(user: "mallory", branch: "u1", cseq: 1, contact: "<sip:m@127.0.0.1>"))
        let unknown = try await fixture.send(register(
            user: "mallory", branch: "u2", cseq: 2, contact: "<sip:m@127.0.0.1>",
            authorization: try credentials(for: second, username: "mallory")))
        let wrongResponse = try #require(wrong)
        let unknownResponse = try #require(unknown)
        #expect(wrongResponse.statusCode == 403 && unknownResponse.statusCode == 403)
        #expect(wrongResponse.statusLine?.reasonPhrase == unknownResponse.statusLine?.reasonPhrase)
        // Same header names in the same order: nothing tells the two apart.
        #expect(wrongResponse.headers.map(\.name) == unknownResponse.headers.map(\.name))
        #expect(fixture.events.kinds == ["auth-failure", "auth-failure"])
    }

    @Test func credentialsOfOneAccountDoNotRegisterAnother() async throws {
        let fixture = try await EdgeFixture()
        // bob authenticates correctly but tries to bind alice's address.
        let challenge = try await fixture.send(register(branch: "x1", cseq: 1))
        let bobs = try credentials(for: challenge, username: "bob")
        #expect(try await fixture.send(register(branch: "x2", cseq: 2, authorization: bobs))?.statusCode == 403)
        #expect(fixture.events.kinds == ["auth-failure"])
        #expect(fixture.events.all.first?.reason.contains("another address") == true)
        #expect(fixture.edge.location.bindings(of: "sip:alice@localhost").isEmpty)
    }

    @Test func retransmissionsAreAnsweredFromTheTransactionWithoutReprocessing() async throws {
        let fixture = try await EdgeFixture()
        let challenge = try await fixture.send(register(branch: "r1", cseq: 1))
        let answer = try credentials(for: challenge)
        let authenticated = register(branch: "r2", cseq: 2, authorization: answer)
        let first = try #require(try await fixture.send(authenticated))
        // The same request again (a UDP retransmission): the same bytes, not a replay refusal.
        let again = try #require(try await fixture.send(authenticated))
        #expect(first.statusCode == 200)
        #expect(again.serialized() == first.serialized())
        #expect(fixture.events.kinds.isEmpty)
        // After Timer J (64·T1) the transaction is gone: the same request is now a replayed nonce count.
        fixture.clock.advance(seconds: 40)
        #expect(try await fixture.send(authenticated)?.statusCode == 403)
        #expect(fixture.events.kinds == ["digest-replay"])
    }

    @Test func expiredNoncesAreChallengedAsStale() async throws {
        let fixture = try await EdgeFixture(configuration: .init(nonceLifetime: .seconds(30)))
        let challenge = try await fixture.send(register(branch: "s1", cseq: 1))
        fixture.clock.advance(seconds: 31)
        let late = try #require(try await fixture.send(register(branch: "s2", cseq: 2,
                                                                authorization: try credentials(for: challenge))))
        #expect(late.statusCode == 401)
        #expect(try late.digestChallenges().allSatisfy { $0.stale })
    }

    @Test func refreshUnregisterAndWildcard() async throws {
        let fixture = try await EdgeFixture()
        var cseq = 1
        func authenticated(expires: Int?, contact: String?) async throws -> SIPMessage {
            let challenge = try await fixture.send(register(branch: "f\(cseq)", cseq: cseq, expires: expires,
                                                            contact: contact))
            cseq += 1
            let answer = try credentials(for: challenge)
            defer { cseq += 1 }
            return try #require(try await fixture.send(register(branch: "f\(cseq)", cseq: cseq, expires: expires,
                                                                contact: contact, authorization: answer)))
        }
        #expect(try await authenticated(expires: 600, contact: "<sip:alice@127.0.0.1:40000>").statusCode == 200)
        #expect(try await authenticated(expires: 600, contact: "<sip:alice@127.0.0.1:40001>").statusCode == 200)
        #expect(fixture.edge.location.bindings(of: "sip:alice@localhost").count == 2)
        let brief = try await authenticated(expires: 10, contact: "<sip:alice@127.0.0.1:40000>")
        let briefMinExpires = try brief.minExpires()
        #expect(brief.statusCode == 423 && briefMinExpires == 60)
        #expect(try await authenticated(expires: 0, contact: "<sip:alice@127.0.0.1:40000>").statusCode == 200)
        #expect(fixture.edge.location.bindings(of: "sip:alice@localhost").count == 1)
        #expect(try await authenticated(expires: 0, contact: "*").statusCode == 200)
        #expect(fixture.edge.location.bindings(of: "sip:alice@localhost").isEmpty)
    }

    @Test func mutualTLSCertificatesMustBeBoundToTheRegisteringAccount() async throws {
        let fixture = try await EdgeFixture()
        let alicesDevice = String(repeating: "a", count: 64)
        let bobsDevice = String(repeating: "b", count: 64)
        try await fixture.store.bindDevice(fingerprint: alicesDevice, username: "alice", domain: "localhost")
        try await fixture.store.bindDevice(fingerprint: bobsDevice, username: "bob", domain: "localhost")
        // bob's certificate, alice's correct password: refused before any digest work.
        let refused = try await fixture.send(register(branch: "t1", cseq: 1), transport: .tls, fingerprint: bobsDevice)
        #expect(refused?.statusCode == 403)
        #expect(fixture.events.kinds == ["auth-failure"])
        #expect(fixture.events.all.first?.reason == "certificate not bound to the account")
        let unbound = try await fixture.send(register(branch: "t2", cseq: 2), transport: .tls,
                                             fingerprint: String(repeating: "c", count: 64))
        #expect(unbound?.statusCode == 403)
        // alice's certificate: the digest exchange proceeds and succeeds.
        let challenge = try await fixture.send(register(branch: "t3", cseq: 3), transport: .tls, fingerprint: alicesDevice)
        let ok = try await fixture.send(register(branch: "t4", cseq: 4, authorization: try credentials(for: challenge)),
                                        transport: .tls, fingerprint: alicesDevice)
        #expect(ok?.statusCode == 200)
    }

    @Test func optionsAndOtherMethodsAreAnsweredCorrectly() async throws {
        let fixture = try await EdgeFixture()
        let options = try #require(try await fixture.send(request("OPTIONS", branch: "o1")))
        #expect(options.statusCode == 200)
        #expect(try options.allow() == [
            .invite, .ack, .cancel, .bye, .register, .options, .message, .prack, .update, .info, .subscribe,
        ])
        #expect(options.firstField(.server) == nil && options.firstField(.userAgent) == nil)  // no fingerprinting aid
        #expect(try await fixture.send(request("OPTIONS", uri: "sip:127.0.0.1", branch: "o2"))?.statusCode == 200)
        #expect(try await fixture.send(request("OPTIONS", uri: "sip:elsewhere.example", branch: "o3"))?.statusCode == 404)
        // Calls need the transport wired in (as `serve` does); until then an INVITE is asked to come back.
        let invite = try #require(try await fixture.send(request("INVITE", branch: "i1")))
        #expect(invite.statusCode == 503 && invite.fields(named: "Retry-After").first?.value == "5")
        // A MESSAGE or SUBSCRIBE goes on to a user, so it is refused like an INVITE until then; a NOTIFY outside a
        // dialog gets 405.
        #expect(try await fixture.send(request("MESSAGE", branch: "m1"))?.statusCode == 503)
        #expect(try await fixture.send(request("SUBSCRIBE", branch: "s1"))?.statusCode == 503)
        #expect(try await fixture.send(request("NOTIFY", branch: "n1"))?.statusCode == 405)
        #expect(try await fixture.send(request("CANCEL", branch: "c1"))?.statusCode == 481)
        #expect(try await fixture.send(request("FROBNICATE", branch: "u1"))?.statusCode == 501)
        #expect(try await fixture.send(request("ACK", branch: "i1")) == nil)
        let foreign = try await fixture.send(register(branch: "d1", cseq: 1, requestURI: "sip:elsewhere.example",
                                                      toHost: "elsewhere.example"))
        #expect(foreign?.statusCode == 404)
        let extension420 = try #require(try await fixture.send(register(branch: "e1", cseq: 1, extra: ["Require: foo"])))
        #expect(extension420.statusCode == 420 && extension420.fields(named: "Unsupported").first?.value == "foo")
    }

    @Test func requestsToAListenIPCountAsTheDefaultDomain() async throws {
        let fixture = try await EdgeFixture()
        let challenge = try await fixture.send(register(branch: "ip1", cseq: 1, requestURI: "sip:127.0.0.1",
                                                        toHost: "127.0.0.1"))
        let answer = try credentials(for: challenge, uri: "sip:127.0.0.1")
        let ok = try await fixture.send(register(branch: "ip2", cseq: 2, authorization: answer,
                                                 requestURI: "sip:127.0.0.1", toHost: "127.0.0.1"))
        #expect(ok?.statusCode == 200)
        #expect(fixture.edge.location.bindings(of: "sip:alice@localhost").count == 1)
    }

    @Test func registrationsAreWrittenBehindAndSurviveARestart() async throws {
        let fixture = try await EdgeFixture()
        let challenge = try await fixture.send(register(branch: "p1", cseq: 1))
        #expect(try await fixture.send(register(branch: "p2", cseq: 2,
                                                authorization: try credentials(for: challenge)))?.statusCode == 200)
        #expect(try await fixture.store.registrations(addressOfRecord: "sip:alice@localhost").isEmpty)  // not yet
        try await fixture.edge.location.flush()
        #expect(try await fixture.store.registrations(addressOfRecord: "sip:alice@localhost").count == 1)
        let restarted = try await EdgeFixture(store: fixture.store)
        try await restarted.edge.location.load(now: restarted.clock.edgeClock.epochSeconds())
        #expect(restarted.edge.location.bindings(of: "sip:alice@localhost").count == 1)
        // Expired bindings are swept from memory and, with the next flush, from the store.
        #expect(restarted.edge.location.sweep(now: restarted.clock.edgeClock.epochSeconds() + 3601) == 1)
        try await restarted.edge.location.flush()
        #expect(try await fixture.store.registrations(addressOfRecord: "sip:alice@localhost").isEmpty)
    }

    @Test func udpResponsesGoToTheSentByPortWithoutRport() async throws {
        let fixture = try await EdgeFixture()
        let text = request("OPTIONS", branch: "v1").replacingOccurrences(of: ";rport", with: "")
            .replacingOccurrences(of: "127.0.0.1:40000", with: "127.0.0.1:5070")
        let inbound = SIPInbound(message: try SIPMessage.parse(Array(text.utf8)), transport: .udp,
                                 source: try SocketAddress(ipAddress: "127.0.0.1", port: 40_000), local: nil)
        let reply = try #require(await fixture.edge.handle(inbound))
        #expect(reply.destination?.port == 5070)
        // A Via port of 0 is no destination: the packet source is used instead.
        let zero = request("OPTIONS", branch: "v0").replacingOccurrences(of: ";rport", with: "")
            .replacingOccurrences(of: "127.0.0.1:40000", with: "127.0.0.1:0")
        let zeroInbound = SIPInbound(message: try SIPMessage.parse(Array(zero.utf8)), transport: .udp,
                                     source: try SocketAddress(ipAddress: "127.0.0.1", port: 40_000), local: nil)
        #expect(try #require(await fixture.edge.handle(zeroInbound)).destination == nil)
        let withRport = SIPInbound(message: try SIPMessage.parse(Array(request("OPTIONS", branch: "v2").utf8)),
                                   transport: .udp, source: try SocketAddress(ipAddress: "127.0.0.1", port: 40_000),
                                   local: nil)
        #expect(try #require(await fixture.edge.handle(withRport)).destination == nil)
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

/// A store that can only answer asynchronously (as a network database would): the edge must defer REGISTERs
/// whose account is not cached and finish them in a task.
final class AsyncOnlyStore: Store {
    let inner: InMemoryStore
    init(_ inner: InMemoryStore) { self.inner = inner }
    func account(username: String, domain: String) async throws(StorageError) -> Account? {
        try await inner.account(username: username, domain: domain)
    }
    func saveAccount(_ account: Account) async throws(StorageError) { try await inner.saveAccount(account) }
    func saveAccounts(_ accounts: [Account]) async throws(StorageError) { try await inner.saveAccounts(accounts) }
    func removeAccount(username: String, domain: String) async throws(StorageError) -> Bool {
        try await inner.removeAccount(username: username, domain: domain)
    }
    func allAccounts() async throws(StorageError) -> [Account] { try await inner.allAccounts() }
    func pinStrongDigest(username: String, domain: String) async throws(StorageError) -> Bool {
        try await inner.pinStrongDigest(username: username, domain: domain)
    }
    func directoryVersion() async throws(StorageError) -> Int64 { try await inner.directoryVersion() }
    func bindDevice(fingerprint: String, username: String, domain: String) async throws(StorageError) {
        try await inner.bindDevice(fingerprint: fingerprint, username: username, domain: domain)
    }
    func unbindDevice(fingerprint: String) async throws(StorageError) -> Bool {
        try await inner.unbindDevice(fingerprint: fingerprint)
    }
    func boundAccount(fingerprint: String) async throws(StorageError) -> (username: String, domain: String)? {
        try await inner.boundAccount(fingerprint: fingerprint)
    }
    func registrations(addressOfRecord: String) async throws(StorageError) -> [RegistrationRecord] {
        try await inner.registrations(addressOfRecord: addressOfRecord)
    }
    func replaceRegistrations(addressOfRecord: String, with records: [RegistrationRecord]) async throws(StorageError) {
        try await inner.replaceRegistrations(addressOfRecord: addressOfRecord, with: records)
    }
    func replaceRegistrations(_ batch: [String: [RegistrationRecord]]) async throws(StorageError) {
        try await inner.replaceRegistrations(batch)
    }
    func allRegistrations(validAt epochSeconds: Int64) async throws(StorageError) -> [RegistrationRecord] {
        try await inner.allRegistrations(validAt: epochSeconds)
    }
    func removeExpiredRegistrations(before epochSeconds: Int64) async throws(StorageError) -> Int {
        try await inner.removeExpiredRegistrations(before: epochSeconds)
    }
    func saveCallRecords(_ records: [CallDetailRecord]) async throws(StorageError) {
        try await inner.saveCallRecords(records)
    }
    func callRecords(matching filter: CallRecordFilter) async throws(StorageError) -> [CallDetailRecord] {
        try await inner.callRecords(matching: filter)
    }
    func saveBans(_ bans: [StoredBan]) async throws(StorageError) { try await inner.saveBans(bans) }
    func removeBan(subject: String) async throws(StorageError) -> Bool { try await inner.removeBan(subject: subject) }
    func allBans() async throws(StorageError) -> [StoredBan] { try await inner.allBans() }
    func removeExpiredBans(before epochSeconds: Int64) async throws(StorageError) -> Int {
        try await inner.removeExpiredBans(before: epochSeconds)
    }
    func banVersion() async throws(StorageError) -> Int64 { try await inner.banVersion() }
    func appendSecurityEvents(_ events: [StoredSecurityEvent], keeping: Int) async throws(StorageError) {
        try await inner.appendSecurityEvents(events, keeping: keeping)
    }
    func securityEvents(matching filter: SecurityEventFilter) async throws(StorageError) -> [StoredSecurityEvent] {
        try await inner.securityEvents(matching: filter)
    }
    func audit(_ contents: [AuditContent], with change: AuditedChange) async throws(StorageError)
        -> (records: [AuditRecord], changed: Bool) {
        try await inner.audit(contents, with: change)
    }
    func checkpointAudit(signer: AuditSigner, time: Int64) async throws(StorageError) -> AuditCheckpoint? {
        try await inner.checkpointAudit(signer: signer, time: time)
    }
    func auditRecords(from sequence: Int64, limit: Int) async throws(StorageError) -> [AuditRecord] {
        try await inner.auditRecords(from: sequence, limit: limit)
    }
    func auditCheckpoints() async throws(StorageError) -> [AuditCheckpoint] { try await inner.auditCheckpoints() }
    func auditTail() async throws(StorageError) -> (last: AuditRecord?, uncheckpointed: Int) {
        try await inner.auditTail()
    }
    func eraseAuditContents(_ sequences: [Int64], by actor: AuditActor, subject: String, time: Int64,
                            signer: AuditSigner?)
        async throws(StorageError) -> Int {
        try await inner.eraseAuditContents(sequences, by: actor, subject: subject, time: time, signer: signer)
    }
    func applyLifecycle(_ change: LifecycleChange, dryRun: Bool, erasedBy actor: AuditActor, signer: AuditSigner?,
                        time: Int64,
                        audit: @escaping @Sendable (LifecycleCounts) -> [AuditContent]) async throws(StorageError)
        -> LifecycleCounts {
        try await inner.applyLifecycle(change, dryRun: dryRun, erasedBy: actor, signer: signer, time: time,
                                       audit: audit)
    }
    func subjectData(_ subject: DataSubject) async throws(StorageError) -> SubjectData {
        try await inner.subjectData(subject)
    }
    func adminToken(digest: String) async throws(StorageError) -> AdminToken? { try await inner.adminToken(digest: digest) }
    func allAdminTokens() async throws(StorageError) -> [AdminToken] { try await inner.allAdminTokens() }
    func saveCertificateChain(_ entry: CachedCertificateChain) async throws(StorageError) {
        try await inner.saveCertificateChain(entry)
    }
    func certificateChains(validAt epochSeconds: Int64, limit: Int) async throws(StorageError) -> [CachedCertificateChain] {
        try await inner.certificateChains(validAt: epochSeconds, limit: limit)
    }
    func saveTURNUser(_ user: TURNUser) async throws(StorageError) { try await inner.saveTURNUser(user) }
    func removeTURNUser(username: String, realm: String) async throws(StorageError) -> Bool {
        try await inner.removeTURNUser(username: username, realm: realm)
    }
    func turnUsers(realm: String) async throws(StorageError) -> [TURNUser] { try await inner.turnUsers(realm: realm) }
    func appendTURNSessions(_ sessions: [StoredTURNSession]) async throws(StorageError) {
        try await inner.appendTURNSessions(sessions)
    }
    func turnSessions(limit: Int) async throws(StorageError) -> [StoredTURNSession] { try await inner.turnSessions(limit: limit) }
}

@Suite struct EdgeDeferredPathTests {
    @Test func withAnAsyncOnlyStoreCredentialsAreDeferredThenAnsweredAndCached() async throws {
        let inner = try await EdgeFixture.provisionedStore()
        let store = AsyncOnlyStore(inner)
        let clock = ManualClock()
        let edge = EdgeService(configuration: .init(), store: store, clock: clock.edgeClock)
        try await edge.directory.refresh(from: store)  // as `serve` does from the start
        func inbound(_ text: String) throws -> SIPInbound {
            SIPInbound(message: try SIPMessage.parse(Array(text.utf8)), transport: .udp,
                       source: try SocketAddress(ipAddress: "127.0.0.1", port: 40_000), local: nil)
        }
        // A challenge needs no store: answered at once.
        let first = try inbound(register(branch: "d1", cseq: 1))
        guard case .reply(let challengeReply?) = edge.handleNow(first) else {
            Issue.record("the challenge was not immediate")
            return
        }
        let answer = try credentials(for: try SIPMessage.parse(challengeReply.bytes))
        // Credentials for an account that is not cached: deferred, then answered by the async path.
        let second = try inbound(register(branch: "d2", cseq: 2, authorization: answer))
        guard case .deferred = edge.handleNow(second) else {
            Issue.record("an uncached account was not deferred")
            return
        }
        let reply = try #require(await edge.handle(second))
        #expect(try SIPMessage.parse(reply.bytes).statusCode == 200)
        // The account is now cached: the next authenticated REGISTER is immediate.
        let again = try inbound(register(branch: "d3", cseq: 3))
        guard case .reply(let nextChallenge?) = edge.handleNow(again) else { Issue.record("no challenge"); return }
        let third = try inbound(register(branch: "d4", cseq: 4,
                                         authorization: try credentials(for: try SIPMessage.parse(nextChallenge.bytes))))
        guard case .reply(let immediate?) = edge.handleNow(third) else {
            Issue.record("a cached account was deferred")
            return
        }
        #expect(try SIPMessage.parse(immediate.bytes).statusCode == 200)
        // Refreshing without a change keeps the cache; a change in the store empties it.
        try await edge.directory.refresh(from: store)
        #expect(edge.directory.account(username: "alice", domain: "localhost") != nil)
        _ = try await inner.removeAccount(username: "alice", domain: "localhost")
        try await edge.directory.refresh(from: store)
        #expect(edge.directory.account(username: "alice", domain: "localhost") == nil)
    }
}
