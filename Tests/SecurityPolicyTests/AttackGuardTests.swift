import SecurityPolicy
import Testing

/// A guard and a hand-stepped clock: monotonic time for budgets, epoch seconds for windows and bans.
final class GuardFixture {
    var attackGuard: AttackGuard
    var seconds: Int64 = 1_800_000_000

    convenience init() { self.init { _ in } }

    init(_ configure: (inout AttackGuard.Configuration) throws -> Void) rethrows {
        var configuration = AttackGuard.Configuration()
        try configure(&configuration)
        attackGuard = AttackGuard(configuration: configuration)
    }

    var now: Duration { .seconds(seconds) }

    func advance(_ delta: Int64) { seconds += delta }

    func screen(_ address: String, _ method: RateLimiter.MethodClass? = .register) -> AttackGuard.Outcome {
        attackGuard.screen(source: IPAddress(address)!, method: method, now: now, epochSeconds: seconds)
    }

    func screen(account: String, from address: String, certified: Bool = false) -> AttackGuard.Outcome {
        attackGuard.screen(account: account, source: IPAddress(address)!, method: .register, certified: certified,
                           now: now, epochSeconds: seconds)
    }

    func fail(_ account: String?, from address: String) -> AttackGuard.Outcome {
        attackGuard.authenticationFailed(account: account, source: IPAddress(address)!, reason: "wrong password",
                                         epochSeconds: seconds)
    }

    func succeed(_ account: String, from address: String) {
        attackGuard.authenticationSucceeded(account: account, source: IPAddress(address)!, epochSeconds: seconds)
    }

    func probe(_ address: String, user: String?, atAddress: Bool = false,
                        fields: [ScannerSignatures.Field: String] = [:]) -> AttackGuard.Outcome {
        let probe = AttackGuard.Probe(targetUser: user.map { Substring($0) }, targetsAddressOrForeignDomain: atAddress) {
            fields[$0].map { Substring($0) }
        }
        return attackGuard.inspect(probe, source: IPAddress(address)!, epochSeconds: seconds)
    }

    func banned(_ subject: String) -> Ban? { attackGuard.bans.ban(Ban.Subject(subject)!, at: seconds) }
}

extension AttackGuard.Outcome {
    var kinds: [String] { events.map(\.kind.name) }
}

@Suite struct RateLimitTests {
    @Test func aSourceGetsItsBurstThenItsRateAndIPv6CountsPerSlash64() {
        let fixture = GuardFixture {
            $0.rateLimits.perSource.register = .init(perSecond: 2, burst: 5)
        }
        for _ in 0..<5 { #expect(fixture.screen("192.0.2.1").verdict == .pass(trusted: false)) }
        let refused = fixture.screen("192.0.2.1")
        #expect(refused.verdict == .drop)
        #expect(refused.kinds == ["rate-limited"])
        #expect(fixture.screen("192.0.2.1").kinds.isEmpty, "one event per burst, not one per packet")
        #expect(fixture.screen("192.0.2.2").verdict == .pass(trusted: false), "another source has its own budget")
        fixture.advance(1)
        #expect(fixture.screen("192.0.2.1").verdict == .pass(trusted: false))
        #expect(fixture.screen("192.0.2.1").verdict == .pass(trusted: false))
        #expect(fixture.screen("192.0.2.1").verdict == .drop, "two tokens a second")
        // Other classes and in-dialog traffic (no class) are not charged to the REGISTER budget.
        #expect(fixture.screen("192.0.2.1", .invite).verdict == .pass(trusted: false))
        #expect(fixture.screen("192.0.2.1", nil).verdict == .pass(trusted: false))

        for index in 0..<5 { #expect(fixture.screen("2001:db8:1:2::\(index + 1)").verdict == .pass(trusted: false)) }
        #expect(fixture.screen("2001:db8:1:2:ffff::9").verdict == .drop, "one /64 is one source")
        #expect(fixture.screen("2001:db8:1:3::1").verdict == .pass(trusted: false))
    }

    @Test func aFloodIsBannedAndTheBanEscalates() {
        let fixture = GuardFixture {
            $0.rateLimits.perSource.invite = .init(perSecond: 1, burst: 2)
            $0.rules.floodRefusals = 50
        }
        var bans: [Ban] = []
        for _ in 0..<60 { bans += fixture.screen("198.51.100.7", .invite).newBans }
        #expect(bans.count == 1)
        #expect(bans.first?.reason.hasPrefix("flood") == true)
        #expect(bans.first?.evidenceCount == 50)
        #expect(bans.first?.expiresAtEpochSeconds == fixture.seconds + 600)
        fixture.advance(601)
        #expect(fixture.attackGuard.expireBans(epochSeconds: fixture.seconds).map(\.kind.name) == ["unban"])
        fixture.advance(10)
        var second: [Ban] = []
        for _ in 0..<60 { second += fixture.screen("198.51.100.7", .invite).newBans }
        #expect(second.first?.offence == 2)
        #expect(second.first?.expiresAtEpochSeconds == fixture.seconds + 1200, "the second offence doubles the ban")
    }

    @Test func accountAndPairBudgetsAreSeparateFromTheSource() {
        let fixture = GuardFixture {
            $0.rateLimits.perPair.register = .init(perSecond: 0, burst: 3)
            $0.rateLimits.perAccount.register = .init(perSecond: 0, burst: 5)
        }
        for _ in 0..<3 { #expect(fixture.screen(account: "alice", from: "192.0.2.1").verdict == .pass(trusted: false)) }
        let refused = fixture.screen(account: "alice", from: "192.0.2.1")
        #expect(refused.verdict == .reject(status: 503, retryAfter: 60))
        #expect(refused.kinds == ["rate-limited"])
        // The same office NAT, another phone: its own pair budget.
        #expect(fixture.screen(account: "bob", from: "192.0.2.1").verdict == .pass(trusted: false))
        // Alice elsewhere: her own pair, but the account budget is shared.
        #expect(fixture.screen(account: "alice", from: "203.0.113.5").verdict == .pass(trusted: false))
        #expect(fixture.screen(account: "alice", from: "203.0.113.5").verdict == .pass(trusted: false))
        #expect(fixture.screen(account: "alice", from: "203.0.113.6").verdict == .reject(status: 503, retryAfter: 60))
    }

    @Test func memoryStaysBoundedWhenAnAttackerSpraysAddresses() {
        let fixture = GuardFixture { $0.capacity = 100 }
        for index in 0..<10_000 {
            let address = "10.\(index / 65_536).\((index / 256) % 256).\(index % 256)"
            _ = fixture.screen(address)
            _ = fixture.probe(address, user: "u\(index)")
            _ = fixture.fail("user\(index)", from: address)
        }
        var limiter = RateLimiter(capacity: 100)
        for index in 0..<10_000 {
            _ = limiter.admit(source: SourceKey(IPAddress(ipv4: UInt32(index))), .options, now: .seconds(1))
        }
        #expect(limiter.bucketCount <= 100)
        var table = BoundedTable<Int, Int>(capacity: 50)
        for index in 0..<1_000 { table.update(index, default: index) { _ in } }
        #expect(table.count <= 50)
        #expect(table[999] == 999 && table[0] == nil, "recent keys stay, old ones go")
    }
}

@Suite struct FailedAuthenticationTests {
    @Test func aStalePasswordBehindANATBansOnlyThatPhonesPair() {
        let fixture = GuardFixture()
        fixture.succeed("bob", from: "192.0.2.1")
        var bans: [Ban] = []
        for _ in 0..<9 { bans += fixture.fail("alice", from: "192.0.2.1").newBans }
        #expect(bans.isEmpty)
        let tenth = fixture.fail("alice", from: "192.0.2.1")
        #expect(tenth.newBans.map(\.subject) == [.pair(account: "alice", source: SourceKey("192.0.2.1")!)])
        #expect(tenth.kinds == ["auth-failure", "ban"])
        #expect(fixture.screen(account: "alice", from: "192.0.2.1").verdict == .drop)
        #expect(fixture.screen(account: "bob", from: "192.0.2.1").verdict == .pass(trusted: true), "the office goes on")
        #expect(fixture.screen("192.0.2.1").verdict == .pass(trusted: true))
        #expect(fixture.screen(account: "alice", from: "198.51.100.1").verdict == .pass(trusted: false),
                "alice's other devices go on")
    }

    @Test func credentialStuffingAcrossAccountsBansTheSource() {
        let fixture = GuardFixture()
        var bans: [Ban] = []
        for account in ["a", "b", "c", "d", "e"] { bans += fixture.fail(account, from: "203.0.113.9").newBans }
        #expect(bans.map(\.subject) == [.source(SourceKey("203.0.113.9")!)])
        #expect(bans.first?.reason == "failures across 5 accounts")
        #expect(fixture.screen("203.0.113.9").verdict == .drop)
    }

    /// A site whose phones authenticate all day (20 successes) is not banned as a whole for one kind of failure:
    /// replays of five accounts' nonce counts (what an overloaded edge makes of retransmissions) ban nothing, and
    /// its pairs are still judged one by one. Wrong passwords on top (two kinds of evidence) do ban it. A source
    /// without that record is banned on the replays alone, as before.
    @Test func anEstablishedSourceNeedsTwoKindsOfEvidenceForASourceBan() {
        let fixture = GuardFixture()
        for index in 0..<20 { fixture.succeed("phone\(index % 4)", from: "198.51.100.20") }
        func replay(_ account: String, from address: String) -> AttackGuard.Outcome {
            fixture.attackGuard.authenticationFailed(account: account, source: IPAddress(address)!, kind: .digestReplay,
                                                     reason: "nonce count reused", epochSeconds: fixture.seconds)
        }
        var bans: [Ban] = []
        for account in ["a", "b", "c", "d", "e", "f"] { bans += replay(account, from: "198.51.100.20").newBans }
        #expect(bans.isEmpty && fixture.screen("198.51.100.20").verdict == .pass(trusted: true))
        #expect(fixture.fail("g", from: "198.51.100.20").newBans.map(\.subject) == [.source(SourceKey("198.51.100.20")!)])

        for account in ["a", "b", "c", "d", "e"] { bans += replay(account, from: "203.0.113.30").newBans }
        #expect(bans.map(\.subject) == [.source(SourceKey("203.0.113.30")!)])

        // The record decays: one success an hour and more ago exempts a source from nothing.
        fixture.succeed("pbx", from: "192.0.2.21")
        #expect(fixture.screen("192.0.2.21").verdict == .pass(trusted: true))
        fixture.advance(3_600)
        #expect(fixture.screen("192.0.2.21").verdict == .pass(trusted: false))
        var verdicts: [AttackGuard.Verdict] = []
        for extensionNumber in 100..<110 { verdicts.append(fixture.probe("192.0.2.21", user: String(extensionNumber)).verdict) }
        #expect(verdicts.last == .drop, "a sweep from a source whose trust has lapsed is a sweep")
    }

    @Test func anAllowListedSourceIsNeverBannedButItsPairsAre() throws {
        let fixture = try GuardFixture {
            $0.acl = AddressACL(allow: try NetworkList(parsing: ["192.0.2.0/24"]))
        }
        var bans: [Ban] = []
        for index in 0..<40 { bans += fixture.fail(index < 20 ? "alice" : "user\(index)", from: "192.0.2.50").newBans }
        #expect(bans.map(\.subject) == [.pair(account: "alice", source: SourceKey("192.0.2.50")!)])
        #expect(fixture.screen("192.0.2.50").verdict == AttackGuard.Verdict.pass(trusted: true))
        #expect(fixture.screen(account: "alice", from: "192.0.2.50").verdict == AttackGuard.Verdict.drop,
                "a brute force from a trusted network is still stopped")
    }

    @Test func anAccountUnderAttackIsSteppedUpForUnknownDevicesOnly() {
        let fixture = GuardFixture()
        fixture.succeed("alice", from: "192.0.2.1")  // her phone
        for source in ["203.0.113.1", "203.0.113.2"] { _ = fixture.fail("alice", from: source) }
        #expect(!fixture.attackGuard.isSteppedUp("alice", epochSeconds: fixture.seconds))
        let third = fixture.fail("alice", from: "203.0.113.3")
        #expect(fixture.attackGuard.isSteppedUp("alice", epochSeconds: fixture.seconds))
        #expect(third.events.contains { $0.reason.contains("under attack") })
        // A new attacking source is banned after 3 failures instead of 10.
        var bans: [Ban] = []
        for _ in 0..<3 { bans += fixture.fail("alice", from: "198.51.100.4").newBans }
        #expect(bans.map(\.subject) == [.pair(account: "alice", source: SourceKey("198.51.100.4")!)])
        // Unknown devices get the step-up budget (3 a minute); her phone and certified devices do not.
        for _ in 0..<3 { #expect(fixture.screen(account: "alice", from: "198.51.100.5").verdict == .pass(trusted: false)) }
        #expect(fixture.screen(account: "alice", from: "198.51.100.5").verdict == .reject(status: 503, retryAfter: 60))
        for _ in 0..<10 { #expect(fixture.screen(account: "alice", from: "192.0.2.1").verdict == .pass(trusted: true)) }
        for _ in 0..<10 {
            #expect(fixture.screen(account: "alice", from: "198.51.100.6", certified: true).verdict == .pass(trusted: false))
        }
        // It ends.
        fixture.advance(901)
        #expect(!fixture.attackGuard.isSteppedUp("alice", epochSeconds: fixture.seconds))
    }

    @Test func failuresOutsideTheWindowDoNotAddUp() {
        let fixture = GuardFixture()
        for _ in 0..<9 { _ = fixture.fail("alice", from: "192.0.2.1") }
        fixture.advance(601)
        var bans: [Ban] = []
        for _ in 0..<9 { bans += fixture.fail("alice", from: "192.0.2.1").newBans }
        #expect(bans.isEmpty)
    }

    @Test func bansEscalateToTheCapAndOffencesAreForgottenAfterADay() {
        let fixture = GuardFixture {
            $0.rules.firstBanSeconds = 600
            $0.rules.maxBanSeconds = 2_000
            $0.rules.pairFailures = 1
        }
        var durations: [Int64] = []
        for _ in 0..<4 {
            let ban = fixture.fail("alice", from: "192.0.2.1").newBans[0]
            durations.append(ban.expiresAtEpochSeconds! - ban.createdAtEpochSeconds)
            fixture.advance(2_001)
            _ = fixture.attackGuard.expireBans(epochSeconds: fixture.seconds)
        }
        #expect(durations == [600, 1_200, 2_000, 2_000])
        fixture.advance(86_401)
        let fresh = fixture.fail("alice", from: "192.0.2.1").newBans[0]
        #expect(fresh.offence == 1)
    }
}

@Suite struct ScannerDetectionTests {
    @Test func theBuiltInSignaturesCatchSipviciousAndOtherToolsButNotPhones() throws {
        let fixture = GuardFixture { $0.signatures = .builtIn }
        let svmap = fixture.probe("198.51.100.1", user: "100", fields: [.userAgent: "friendly-scanner"])
        #expect(svmap.verdict == .drop)
        #expect(svmap.kinds == ["scanner-detected", "ban"])
        #expect(svmap.events[0].reason == "scanner signature: user-agent contains friendly-scanner")
        #expect(fixture.screen("198.51.100.1").verdict == .drop)
        // A renamed sipvicious still has its tag and branch shapes (two weak fingerprints).
        let tag = "3130300133343035313838393839"  // hex of "100\u{1}3405188989"
        let renamed = fixture.probe("198.51.100.2", user: "100",
                                    fields: [.userAgent: "Yealink", .fromTag: tag, .viaBranch: "z9hG4bK-3786533009"])
        #expect(renamed.verdict == .drop)
        // One weak fingerprint alone is not enough; ordinary phones pass.
        #expect(fixture.probe("198.51.100.3", user: "100", fields: [.viaBranch: "z9hG4bK-12345"]).verdict
            == .pass(trusted: false))
        #expect(fixture.probe("198.51.100.4", user: "100", fields: [
            .userAgent: "Linphone/5.2", .fromTag: "a8f3c01bd9", .viaBranch: "z9hG4bK.x8Yz",
        ]).verdict == .pass(trusted: false))
        for agent in ["VaxSIPUserAgent/3.1", "sipcli/v1.8", "SIPVicious"] {
            #expect(fixture.probe("198.51.100.9", user: nil, fields: [.userAgent: agent]).verdict == .drop)
            fixture.attackGuard.removeBan(.source(SourceKey("198.51.100.9")!))
        }
    }

    @Test func signatureFilesAreCheckedLineByLine() throws {
        let parsed = try ScannerSignatures(parsing: "# comment\n\nuser-agent contains evil  # trailing\nweak call-id prefix x\n")
        #expect(parsed.rules.map(\.description) == ["user-agent contains evil", "weak call-id prefix x"])
        func failure(_ text: String) -> String? {
            do { _ = try ScannerSignatures(parsing: text) } catch { return error.description }
            return nil
        }
        #expect(failure("user-agent contains a\nbody contains b\n") == "line 2: unknown field")
        #expect(failure("user-agent regex a") == "line 1: unknown operator")
        #expect(failure("user-agent contains") == "line 1: expected FIELD OPERATOR VALUE")
        #expect(failure("from-tag hex-with-byte zz") == "line 1: hex-with-byte takes one byte in hex")
        #expect(ScannerSignatures.builtIn.rules.count >= 15)
    }

    @Test func anExtensionSweepIsDetectedByBehaviourWhateverTheUserAgent() {
        let fixture = GuardFixture()
        var verdicts: [AttackGuard.Verdict] = []
        for extensionNumber in 100..<110 {
            verdicts.append(fixture.probe("203.0.113.7", user: String(extensionNumber)).verdict)
            _ = fixture.probe("203.0.113.7", user: String(extensionNumber))  // repeats do not count twice
        }
        #expect(verdicts.dropLast().allSatisfy { $0 == .pass(trusted: false) })
        #expect(verdicts.last == .drop)
        #expect(fixture.banned("203.0.113.7")?.reason == "extension sweep over 10 users")
        // A source that has authenticated is no scanner: a PBX calling many numbers.
        fixture.succeed("pbx", from: "192.0.2.20")
        for extensionNumber in 100..<150 {
            #expect(fixture.probe("192.0.2.20", user: String(extensionNumber)).verdict == .pass(trusted: false))
        }
    }

    @Test func probesAtTheEdgesAddressAndFailureRatiosAreDetected() {
        let fixture = GuardFixture()
        for index in 0..<19 { #expect(fixture.probe("203.0.113.8", user: nil, atAddress: true).verdict == .pass(trusted: false), "\(index)") }
        #expect(fixture.probe("203.0.113.8", user: nil, atAddress: true).verdict == .drop)
        #expect(fixture.banned("203.0.113.8")?.reason == "probe sweep at addresses or foreign domains")

        for _ in 0..<39 {
            _ = fixture.attackGuard.answered(status: 404, source: IPAddress("203.0.113.9")!, epochSeconds: fixture.seconds)
        }
        #expect(fixture.banned("203.0.113.9") == nil)
        _ = fixture.attackGuard.answered(status: 200, source: IPAddress("203.0.113.9")!, epochSeconds: fixture.seconds)
        let last = fixture.attackGuard.answered(status: 401, source: IPAddress("203.0.113.9")!,
                                                epochSeconds: fixture.seconds)
        #expect(last.kinds == ["scanner-detected", "ban"])
        #expect(last.events[0].reason == "40 failure answers and no success")
    }
}

@Suite struct AddressRuleGuardTests {
    @Test func allowListsWinDenyListsDropAndCountriesAreChecked() throws {
        let database = try GeoIPDatabase(csv: "198.51.100.0,198.51.100.255,KP\n203.0.113.0,203.0.113.255,DE\n")
        let fixture = try GuardFixture {
            $0.acl = AddressACL(allow: try NetworkList(parsing: ["192.0.2.10"]),
                                deny: try NetworkList(parsing: ["192.0.2.0/24"]))
            $0.geo = (GeoRule.block(["KP"]), database)
            $0.accountNetworks = AccountNetworks(["alice": try NetworkList(parsing: ["10.1.0.0/16"])])
        }
        #expect(fixture.screen("192.0.2.10").verdict == .pass(trusted: true))
        let denied = fixture.screen("192.0.2.11")
        #expect(denied.verdict == .drop)
        #expect(denied.kinds == ["acl-denied"])
        let korea = fixture.screen("198.51.100.3")
        #expect(korea.verdict == .drop)
        #expect(korea.events.first?.reason == "country KP")
        #expect(fixture.screen("203.0.113.3").verdict == .pass(trusted: false))
        // A ban never holds back an allow-listed source.
        fixture.attackGuard.add(Ban(subject: .source(SourceKey("192.0.2.10")!), reason: "operator", evidenceCount: 0,
                                    createdAtEpochSeconds: fixture.seconds, expiresAtEpochSeconds: nil))
        #expect(fixture.screen("192.0.2.10").verdict == .pass(trusted: true))
        // Alice only from her office network.
        #expect(fixture.screen(account: "alice", from: "10.1.2.3").verdict == .pass(trusted: false))
        let elsewhere = fixture.screen(account: "alice", from: "203.0.113.3")
        #expect(elsewhere.verdict == .reject(status: 403, retryAfter: nil))
        #expect(elsewhere.kinds == ["acl-denied"])
        #expect(fixture.screen(account: "bob", from: "203.0.113.3").verdict == .pass(trusted: false))
    }

    @Test func bannedSourcesAreDroppedOrRefusedAsConfigured() {
        let fixture = GuardFixture { $0.rules.rejectsBanned = true }
        fixture.attackGuard.add(Ban(subject: Ban.Subject("192.0.2.5")!, reason: "operator", evidenceCount: 0,
                                    createdAtEpochSeconds: fixture.seconds, expiresAtEpochSeconds: nil))
        #expect(fixture.screen("192.0.2.5").verdict == .reject(status: 403, retryAfter: nil))
        #expect(fixture.screen("192.0.2.5", nil).verdict == .drop, "responses and in-dialog requests get nothing")
        fixture.attackGuard.removeBan(Ban.Subject("192.0.2.5")!)
        #expect(fixture.screen("192.0.2.5").verdict == .pass(trusted: false))
    }
}

@Suite struct BanListTests {
    @Test func subjectsPrintAndParse() {
        for text in ["192.0.2.7", "2001:db8:1:2::/64", "account:alice", "alice@192.0.2.7", "bob@2001:db8::/64"] {
            #expect(Ban.Subject(text)?.description == text)
        }
        #expect(Ban.Subject("2001:db8:1:2:3:4:5:6")?.description == "2001:db8:1:2::/64")
        for bad in ["", "account:", "@192.0.2.1", "alice@", "alice@nowhere", "192.0.2.256", "127.1"] {
            #expect(Ban.Subject(bad) == nil, "\(bad)")
        }
    }

    @Test func aFullListMakesRoomByTheSoonestEndingBanNeverByALongerOne() {
        var list = BanList(capacity: 2)
        func ban(_ subject: String, until: Int64?) -> Ban {
            Ban(subject: Ban.Subject(subject)!, reason: "r", evidenceCount: 1, createdAtEpochSeconds: 0,
                expiresAtEpochSeconds: until)
        }
        list.add(ban("192.0.2.1", until: nil))
        list.add(ban("192.0.2.2", until: 100))
        #expect(list.add(ban("192.0.2.3", until: 200))?.subject == Ban.Subject("192.0.2.2"))
        #expect(list.add(ban("192.0.2.4", until: 50))?.subject == Ban.Subject("192.0.2.4"), "shorter: not kept")
        #expect(list.all.map(\.subject.description) == ["192.0.2.3", "192.0.2.1"])
        #expect(list.removeExpired(at: 200).map(\.subject.description) == ["192.0.2.3"])
    }
}

@Suite struct OverloadGuardTests {
    @Test func itEntersAtTheThresholdsAndLeavesAfterACalmPeriod() {
        var overload = OverloadGuard(thresholds: .init(loopLagMilliseconds: 100, backlog: 50, calmSeconds: 5))
        let samples: [(lag: Int, backlog: Int, second: Int64)] = [
            (20, 10, 0), (150, 0, 1), (60, 0, 2), (10, 0, 3), (10, 60, 4), (10, 0, 5), (10, 0, 9), (10, 0, 10),
        ]
        var changes: [Bool] = []
        var states: [Bool] = []
        for sample in samples {
            changes.append(overload.sample(loopLagMilliseconds: sample.lag, backlog: sample.backlog,
                                           now: .seconds(sample.second)))
            states.append(overload.isOverloaded)
        }
        // In at 150 ms of lag; 60 ms is not under half; the backlog of 60 restarts the calm; out 5 s after.
        #expect(changes == [false, true, false, false, false, false, false, true])
        #expect(states == [false, true, true, true, true, true, true, false])
        #expect(!overload.isOverloaded)
    }
}
