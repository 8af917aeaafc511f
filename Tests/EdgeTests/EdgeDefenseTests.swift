import AuditTrail
@testable import Edge
import NIOCore
import SIPAuth
import SIPMessage
import SIPTransportNIO
import SecurityPolicy
import Storage
import Testing

/// The attack rules as the edge applies them: before the store and the digest, with events and stored bans.
@Suite struct EdgeDefenseTests {
    /// Registers alice from `ip` (challenge, then credentials); returns the final status.
    static func registerAlice(_ fixture: EdgeFixture, from ip: String = "127.0.0.1", password: String = "secret",
                              branch: String) async throws -> Int? {
        let challenge = try await fixture.send(register(branch: branch + "a", cseq: 1, callID: branch), ip: ip)
        guard challenge?.statusCode == 401 else { return challenge?.statusCode }
        let answer = try await fixture.send(register(
            branch: branch + "b", cseq: 2, callID: branch, authorization: credentials(for: challenge, password: password)),
            ip: ip)
        return answer?.statusCode
    }

    @Test func aBruteForceBansItsPairBeforeTheDigestWhileTheOwnerAndOthersGoOn() async throws {
        let fixture = try await EdgeFixture()
        var statuses: [Int?] = []
        for attempt in 0..<12 {
            statuses.append(try await Self.registerAlice(fixture, from: "198.51.100.7", password: "guess\(attempt)",
                                                         branch: "g\(attempt)"))
        }
        #expect(statuses.prefix(10).allSatisfy { $0 == 403 })
        #expect(statuses.suffix(2) == [nil, nil], "after 10 failures the pair gets silence")
        // Even the right password is not checked any more from there.
        #expect(try await Self.registerAlice(fixture, from: "198.51.100.7", branch: "right") == nil)
        #expect(try await Self.registerAlice(fixture, from: "127.0.0.1", branch: "owner") == 200)
        #expect(fixture.events.kinds.filter { $0 == "auth-failure" }.count == 10)
        #expect(fixture.events.kinds.contains("ban"))
        #expect(fixture.edge.defense.bans.map(\.subject.description) == ["alice@198.51.100.7"])
        await fixture.edge.defense.flush(to: fixture.store)
        let stored = try await fixture.store.allBans()
        #expect(stored.map(\.subject) == ["alice@198.51.100.7"])
        #expect(stored.first?.evidenceCount == 10)
        let events = try await fixture.store.securityEvents(matching: .init(kind: "auth-failure"))
        #expect(events.count == 10)
        #expect(events.allSatisfy { $0.source == "198.51.100.7" && $0.account == "alice" })
    }

    @Test func overloadRefusesNewWorkFromUnknownSourcesOnly() async throws {
        let fixture = try await EdgeFixture(configuration: .init(overload: .init(loopLagMilliseconds: 100)))
        #expect(try await Self.registerAlice(fixture, branch: "before") == 200)
        fixture.edge.defense.sampleLoad(loopLagMilliseconds: 500, backlog: 0, now: .seconds(1), epochSeconds: 1)
        #expect(fixture.edge.defense.isOverloaded)
        #expect(fixture.events.kinds.last == "overload")
        // An unknown source (a REGISTER flood from elsewhere) gets 503 with Retry-After.
        let refused = try await fixture.send(register(branch: "x1", cseq: 1), ip: "203.0.113.9")
        #expect(refused?.statusCode == 503)
        #expect(refused?.firstField(.retryAfter)?.value == "10")
        // The phone that registered before is still served.
        #expect(try await Self.registerAlice(fixture, branch: "during") == 200)
        fixture.edge.defense.sampleLoad(loopLagMilliseconds: 10, backlog: 0, now: .seconds(2), epochSeconds: 2)
        fixture.edge.defense.sampleLoad(loopLagMilliseconds: 10, backlog: 0, now: .seconds(8), epochSeconds: 8)
        #expect(!fixture.edge.defense.isOverloaded)
        #expect(try await fixture.send(register(branch: "x2", cseq: 1), ip: "203.0.113.9")?.statusCode == 401)
    }

    @Test func aScannerSignatureBansTheSourceAndBansLoadedFromTheStoreApply() async throws {
        var configuration = EdgeService.Configuration()
        configuration.security.signatures = .builtIn
        let fixture = try await EdgeFixture(configuration: configuration)
        let probe = [
            "OPTIONS sip:100@127.0.0.1 SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.66:5060;branch=z9hG4bK-1234;rport",
            "Max-Forwards: 70", "From: \"sipvicious\"<sip:100@1.1.1.1>;tag=6162630131", "To: \"sipvicious\"<sip:100@1.1.1.1>",
            "Call-ID: 6123456", "CSeq: 1 OPTIONS", "User-Agent: friendly-scanner", "Content-Length: 0", "", "",
        ].joined(separator: "\r\n")
        #expect(try await fixture.send(probe, ip: "192.0.2.66") == nil)
        #expect(fixture.events.kinds == ["scanner-detected", "ban"])
        #expect(try await fixture.send(register(branch: "after", cseq: 1), ip: "192.0.2.66") == nil)

        let restarted = try await EdgeFixture(store: fixture.store)
        await fixture.edge.defense.flush(to: fixture.store)
        restarted.edge.defense.load(try await fixture.store.allBans())
        #expect(try await restarted.send(register(branch: "again", cseq: 1), ip: "192.0.2.66") == nil)
        #expect(try await restarted.send(register(branch: "other", cseq: 1), ip: "192.0.2.67")?.statusCode == 401)
    }

    @Test func accountNetworksAndDenyListsApplyAtTheEdge() async throws {
        var configuration = EdgeService.Configuration()
        configuration.security.accountNetworks = AccountNetworks(["alice": try NetworkList(parsing: ["127.0.0.0/8"])])
        configuration.security.acl = AddressACL(deny: try NetworkList(parsing: ["203.0.113.0/24"]))
        let fixture = try await EdgeFixture(configuration: configuration)
        #expect(try await Self.registerAlice(fixture, branch: "home") == 200)
        #expect(try await Self.registerAlice(fixture, from: "198.51.100.1", branch: "away") == 403)
        #expect(fixture.events.kinds == ["acl-denied"])
        #expect(try await fixture.send(register(branch: "denied", cseq: 1), ip: "203.0.113.50") == nil)
        #expect(fixture.events.kinds == ["acl-denied", "acl-denied"])
    }

    @Test func aListenerTakesMessagesOnlyFromItsNetworksUnlessAllowListed() async throws {
        var configuration = EdgeService.Configuration()
        configuration.listenerNetworks = [
            ListenerNetworks(listener: SIPListenAddress(transport: .udp, host: "0.0.0.0", port: 0),
                             networks: try NetworkList(parsing: ["127.0.0.0/8"])),
        ]
        configuration.security.acl = AddressACL(allow: try NetworkList(parsing: ["192.0.2.1"]))
        let fixture = try await EdgeFixture(configuration: configuration)
        #expect(try await fixture.send(register(branch: "u1", cseq: 1), ip: "198.51.100.1") == nil)
        #expect(fixture.events.all.first?.reason == "not allowed on udp:0.0.0.0:0")
        #expect(try await fixture.send(register(branch: "t1", cseq: 1), transport: .tcp, ip: "198.51.100.1")?
            .statusCode == 401)
        #expect(try await fixture.send(register(branch: "u2", cseq: 1), ip: "127.0.0.1")?.statusCode == 401)
        #expect(try await fixture.send(register(branch: "u3", cseq: 1), ip: "192.0.2.1")?.statusCode == 401)
    }
}

/// A security event becomes an audit record whatever its fields hold: one character of 3,000 combining marks (6 KB
/// in one `Character`) is cut by bytes, so the record, and the bans stored with it, are never refused as too large.
@Suite struct SecurityEventAuditRecordTests {
    @Test func hostileFieldsAreCutByBytes() throws {
        let huge = "a" + String(repeating: "\u{0301}", count: 3_000)
        let event = StoredSecurityEvent(epochSeconds: 1, kind: "auth-failure", source: huge, account: huge, reason: huge)
        let content = EdgeDefense.auditContent(event)
        #expect(content.subject.utf8.count <= 1_000 && content.details.values.allSatisfy { $0.utf8.count <= 1_000 })
        _ = try content.canonicalEncoding()
    }
}
