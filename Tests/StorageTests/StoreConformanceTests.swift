import Foundation
import Storage
import StorageSQLite
import Testing

/// The same behaviour is required of every Store implementation.
enum StoreKind: String, CaseIterable, Sendable {
    case memory, sqlite

    func make(path: String? = nil) throws -> any Store {
        switch self {
        case .memory: return InMemoryStore()
        case .sqlite: return try SQLiteStore(path: path ?? temporaryDatabasePath())
        }
    }
}

func temporaryDatabasePath() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("rampart-test-\(UUID().uuidString).sqlite").path
}

let md5 = String(repeating: "a", count: 32)
let sha256 = String(repeating: "b", count: 64)

@Suite struct StoreConformanceTests {
    @Test(arguments: StoreKind.allCases)
    func accountsRoundTripWithoutPasswords(_ kind: StoreKind) async throws {
        let store = try kind.make()
        try await store.saveAccount(Account(username: "alice", domain: "Example.COM",
                                            ha1ByAlgorithm: ["MD5": md5, "SHA-256": sha256]))
        let alice = try #require(try await store.account(username: "alice", domain: "example.com"))
        #expect(alice.domain == "example.com")
        #expect(alice.ha1ByAlgorithm == ["MD5": md5, "SHA-256": sha256])
        #expect(try await store.account(username: "Alice", domain: "example.com") == nil)  // usernames are exact
        // Replacing drops algorithms no longer given (MD5 switched off).
        try await store.saveAccount(Account(username: "alice", domain: "example.com", ha1ByAlgorithm: ["SHA-256": sha256]))
        #expect(try await store.account(username: "alice", domain: "example.com")?.ha1ByAlgorithm == ["SHA-256": sha256])
        try await store.saveAccount(Account(username: "bob", domain: "example.com", ha1ByAlgorithm: [:]))
        #expect(try await store.allAccounts().map(\.username) == ["alice", "bob"])
        #expect(try await store.removeAccount(username: "bob", domain: "example.com"))
        #expect(try await !store.removeAccount(username: "bob", domain: "example.com"))
    }

    /// STIR/SHAKEN chains kept between runs: by URL, replaced, expired ones gone, bounded, bad entries refused.
    @Test(arguments: StoreKind.allCases)
    func certificateChainsAreKeptUntilTheyExpire(_ kind: StoreKind) async throws {
        let store = try kind.make()
        let pem = Array("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".utf8)
        try await store.saveCertificateChain(.init(url: "https://a.example/sp.crt", chain: pem, expiresAtEpochSeconds: 1_000))
        try await store.saveCertificateChain(.init(url: "https://b.example/sp.crt", chain: pem, expiresAtEpochSeconds: 500))
        try await store.saveCertificateChain(.init(url: "https://a.example/sp.crt", chain: [1, 2, 3], expiresAtEpochSeconds: 2_000))
        let kept = try await store.certificateChains(validAt: 600, limit: 10)
        #expect(kept == [.init(url: "https://a.example/sp.crt", chain: [1, 2, 3], expiresAtEpochSeconds: 2_000)])
        #expect(try await store.certificateChains(validAt: 0, limit: 10).count == 1, "the expired one is gone for good")
        #expect(try await store.certificateChains(validAt: 600, limit: 0).isEmpty)
        await #expect(throws: StorageError.self) {
            try await store.saveCertificateChain(.init(url: "", chain: pem, expiresAtEpochSeconds: 1))
        }
        await #expect(throws: StorageError.self) {
            try await store.saveCertificateChain(.init(url: "https://c.example/", chain: [], expiresAtEpochSeconds: 1))
        }
        await #expect(throws: StorageError.self) {
            try await store.saveCertificateChain(.init(url: "https://c.example/",
                                                       chain: [UInt8](repeating: 0, count: CachedCertificateChain.maximumBytes + 1),
                                                       expiresAtEpochSeconds: 1))
        }
    }

    @Test(arguments: StoreKind.allCases)
    func badInputIsRefused(_ kind: StoreKind) async throws {
        let store = try kind.make()
        for account in [
            Account(username: "", domain: "example.com", ha1ByAlgorithm: [:]),
            Account(username: "a b", domain: "example.com", ha1ByAlgorithm: [:]),
            Account(username: "a", domain: "example.com", ha1ByAlgorithm: ["MD5": "not-hex"]),
            Account(username: "a", domain: "example.com", ha1ByAlgorithm: ["MD5": "ABCDEF" + String(repeating: "0", count: 26)]),
        ] {
            await #expect(throws: StorageError(.invalidInput, "")) { try await store.saveAccount(account) }
        }
        await #expect(throws: StorageError(.invalidInput, "")) {
            try await store.bindDevice(fingerprint: "xyz", username: "a", domain: "example.com")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func devicesBindOnlyToExistingAccountsAndGoWithThem(_ kind: StoreKind) async throws {
        let store = try kind.make()
        let fingerprint = String(repeating: "C", count: 64)
        await #expect(throws: StorageError(.constraint, "")) {
            try await store.bindDevice(fingerprint: fingerprint, username: "ghost", domain: "example.com")
        }
        try await store.saveAccount(Account(username: "alice", domain: "example.com", ha1ByAlgorithm: [:]))
        try await store.bindDevice(fingerprint: fingerprint, username: "alice", domain: "example.com")
        let bound = try await store.boundAccount(fingerprint: fingerprint.lowercased())
        #expect(bound?.username == "alice" && bound?.domain == "example.com")
        #expect(try await store.removeAccount(username: "alice", domain: "example.com"))
        #expect(try await store.boundAccount(fingerprint: fingerprint) == nil)  // removed with the account
    }

    @Test(arguments: StoreKind.allCases)
    func registrationsReplaceAtomicallyAndExpire(_ kind: StoreKind) async throws {
        let store = try kind.make()
        let aor = "sip:alice@example.com"
        let records = [
            RegistrationRecord(addressOfRecord: aor, contact: "sip:a@192.0.2.1", expiresAtEpochSeconds: 1_000,
                               callID: "c1", cseq: 1),
            RegistrationRecord(addressOfRecord: aor, contact: "sip:a@192.0.2.2", expiresAtEpochSeconds: 2_000,
                               qValueThousandths: 500, callID: "c2", cseq: 7, instanceID: "urn:uuid:1", regID: 1,
                               flow: "tls:192.0.2.2:40123", userAgent: "Phone (<b>markup</b>) " + String(repeating: "x", count: 200)),
        ]
        #expect(records[1].userAgent?.utf8.count == RegistrationRecord.maximumUserAgentBytes, "a long User-Agent is cut")
        try await store.replaceRegistrations(addressOfRecord: aor, with: records)
        #expect(try await store.registrations(addressOfRecord: aor) == records)
        #expect(try await store.removeExpiredRegistrations(before: 1_500) == 1)
        #expect(try await store.registrations(addressOfRecord: aor) == [records[1]])
        try await store.replaceRegistrations(addressOfRecord: aor, with: [])
        #expect(try await store.registrations(addressOfRecord: aor).isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func batchesReplaceSeveralAORsAndLoadSkipsExpiredOnes(_ kind: StoreKind) async throws {
        let store = try kind.make()
        func record(_ aor: String, _ expires: Int64) -> RegistrationRecord {
            RegistrationRecord(addressOfRecord: aor, contact: "sip:x@192.0.2.9", expiresAtEpochSeconds: expires,
                               callID: aor, cseq: 1)
        }
        try await store.replaceRegistrations(["sip:a@x": [record("sip:a@x", 100)], "sip:b@x": [record("sip:b@x", 300)]])
        #expect(try await store.allRegistrations(validAt: 200) == [record("sip:b@x", 300)])
        try await store.replaceRegistrations(["sip:a@x": [], "sip:b@x": [record("sip:b@x", 400)]])
        #expect(try await store.allRegistrations(validAt: 0) == [record("sip:b@x", 400)])
    }

    @Test(arguments: StoreKind.allCases)
    func downgradePinsPersistAndSurvivePasswordChanges(_ kind: StoreKind) async throws {
        let store = try kind.make()
        #expect(try await store.pinStrongDigest(username: "nobody", domain: "example.com") == false)
        try await store.saveAccount(Account(username: "carol", domain: "Example.com", ha1ByAlgorithm: ["MD5": md5]))
        #expect(try await store.account(username: "carol", domain: "example.com")?.strongDigestOnly == false)
        #expect(try await store.pinStrongDigest(username: "carol", domain: "EXAMPLE.com"))
        #expect(try await store.account(username: "carol", domain: "example.com")?.strongDigestOnly == true)
        // A password change rewrites the HA1s but keeps the pin.
        try await store.saveAccount(Account(username: "carol", domain: "example.com", ha1ByAlgorithm: ["MD5": md5]))
        #expect(try await store.account(username: "carol", domain: "example.com")?.strongDigestOnly == true)
        #expect(try await store.allAccounts().first?.strongDigestOnly == true)
    }

    @Test(arguments: StoreKind.allCases)
    func directoryVersionMovesWithAccountsAndDevicesOnly(_ kind: StoreKind) async throws {
        let store = try kind.make()
        var last = try await store.directoryVersion()
        func moved() async throws -> Bool {
            let now = try await store.directoryVersion()
            defer { last = now }
            return now != last
        }
        try await store.saveAccount(Account(username: "dan", domain: "example.com", ha1ByAlgorithm: ["MD5": md5]))
        #expect(try await moved())
        try await store.bindDevice(fingerprint: String(repeating: "d", count: 64), username: "dan", domain: "example.com")
        #expect(try await moved())
        // Registrations change all the time and do not concern the directory.
        try await store.replaceRegistrations(["sip:dan@example.com": [RegistrationRecord(
            addressOfRecord: "sip:dan@example.com", contact: "sip:d@192.0.2.4", expiresAtEpochSeconds: 9_999,
            callID: "c", cseq: 1)]])
        #expect(try await moved() == false)
        // Nor do downgrade pins (the edge that pins updates its own cache).
        #expect(try await store.pinStrongDigest(username: "dan", domain: "example.com"))
        #expect(try await moved() == false)
        try await store.saveAccount(Account(username: "dan", domain: "example.com", ha1ByAlgorithm: ["MD5": md5]))
        #expect(try await moved())
        #expect(try await store.removeAccount(username: "dan", domain: "example.com"))
        #expect(try await moved())
    }

    /// TURN users by realm (keys, never passwords) and session records, newest first.
    @Test(arguments: StoreKind.allCases)
    func turnUsersAndSessions(_ kind: StoreKind) async throws {
        let store = try kind.make()
        let carol = TURNUser(username: "carol", realm: "turn.example", md5KeyHex: md5, sha256KeyHex: sha256)
        try await store.saveTURNUser(carol)
        try await store.saveTURNUser(TURNUser(username: "carol", realm: "other.example", md5KeyHex: md5, sha256KeyHex: sha256))
        #expect(try await store.turnUsers(realm: "turn.example") == [carol])
        #expect(try await store.removeTURNUser(username: "carol", realm: "other.example"))
        #expect(try await !store.removeTURNUser(username: "carol", realm: "other.example"))
        await #expect(throws: StorageError.self) {
            try await store.saveTURNUser(TURNUser(username: "", realm: "r", md5KeyHex: md5, sha256KeyHex: sha256))
        }
        await #expect(throws: StorageError.self) {
            try await store.saveTURNUser(TURNUser(username: "x", realm: "r", md5KeyHex: "zz", sha256KeyHex: sha256))
        }
        let sessions = (1...3).map {
            StoredTURNSession(endedAtEpochSeconds: Int64($0), username: "carol", client: "udp:198.51.100.7:4000\($0)",
                              peers: $0, bytesToPeers: 100, bytesToClient: 200, packetsDropped: 0, seconds: 60,
                              ending: "expired")
        }
        try await store.appendTURNSessions(sessions)
        #expect(try await store.turnSessions(limit: 2) == [sessions[2], sessions[1]])
    }

    @Test func sqliteRegistrationsSurviveARestart() async throws {
        let path = temporaryDatabasePath()
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let record = RegistrationRecord(addressOfRecord: "sip:bob@example.com", contact: "sip:b@192.0.2.3",
                                        expiresAtEpochSeconds: 9_999, callID: "c", cseq: 3, flow: "tls:192.0.2.3:40404")
        do {
            let store = try SQLiteStore(path: path)
            try await store.saveAccount(Account(username: "bob", domain: "example.com", ha1ByAlgorithm: ["MD5": md5]))
            try await store.replaceRegistrations(addressOfRecord: record.addressOfRecord, with: [record])
        }
        let reopened = try SQLiteStore(path: path)  // migrations run again and are idempotent
        #expect(try await reopened.registrations(addressOfRecord: record.addressOfRecord) == [record])
        #expect(try await reopened.account(username: "bob", domain: "example.com")?.ha1ByAlgorithm["MD5"] == md5)
    }

    @Test func unopenableDatabaseIsATypedError() {
        #expect(throws: StorageError(.unavailable, "")) { try SQLiteStore(path: "/nonexistent-dir/x/db.sqlite") }
    }
}
