import AuditTrail
import Foundation
import GRDB
import Storage

/// The embedded default ``Store``: one SQLite file in WAL mode through GRDB, with versioned migrations.
///
/// Writes are transactions (a REGISTER replaces an AOR's contacts atomically); reads run concurrently with
/// writes (WAL). HA1 values are stored, never passwords.
public final class SQLiteStore: Store, ImmediateDirectoryLookup {
    let pool: DatabasePool

    /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
    /// - Throws: ``StorageError/Code/unavailable`` if it cannot be opened or migrated.
    public init(path: String) throws(StorageError) {
        do {
            var configuration = Configuration()
            configuration.foreignKeysEnabled = true
            configuration.busyMode = .timeout(5)
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
        } catch {
            throw StorageError(.unavailable, "cannot open the SQLite store: \(Self.describe(error))")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: accounts, devices, registrations") { db in
            try db.create(table: "account") { table in
                table.column("username", .text).notNull()
                table.column("domain", .text).notNull()
                table.primaryKey(["username", "domain"])
            }
            try db.create(table: "accountHA1") { table in
                table.column("username", .text).notNull()
                table.column("domain", .text).notNull()
                table.column("algorithm", .text).notNull()
                table.column("ha1", .text).notNull()
                table.primaryKey(["username", "domain", "algorithm"])
                table.foreignKey(["username", "domain"], references: "account", onDelete: .cascade)
            }
            try db.create(table: "deviceBinding") { table in
                table.column("fingerprint", .text).primaryKey()
                table.column("username", .text).notNull()
                table.column("domain", .text).notNull()
                table.foreignKey(["username", "domain"], references: "account", onDelete: .cascade)
            }
            try db.create(table: "registration") { table in
                table.column("aor", .text).notNull().indexed()
                table.column("contact", .text).notNull()
                table.column("expiresAt", .integer).notNull().indexed()
                table.column("q", .integer).notNull()
                table.column("callID", .text).notNull()
                table.column("cseq", .integer).notNull()
                table.column("instanceID", .text)
                table.column("regID", .integer)
            }
        }
        migrator.registerMigration("v2: downgrade pinning") { db in
            try db.alter(table: "account") { table in
                table.add(column: "strongDigestOnly", .boolean).notNull().defaults(to: false)
            }
        }
        migrator.registerMigration("v3: directory version for caches") { db in
            try db.execute(sql: """
                CREATE TABLE directoryVersion (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
                INSERT INTO directoryVersion (id, version) VALUES (1, 0);
                """)
            // Every change of credentials or bindings, but not a downgrade pin: the edge records its own pins in
            // its cache, and a pin per first SHA-256 login must not empty every cache.
            for table in ["account", "accountHA1", "deviceBinding"] {
                for event in ["INSERT", "UPDATE", "DELETE"] {
                    let what = table == "account" && event == "UPDATE" ? "UPDATE OF username, domain" : event
                    try db.execute(sql: """
                        CREATE TRIGGER \(table)_\(event.lowercased())_bumps_version AFTER \(what) ON \(table)
                        BEGIN UPDATE directoryVersion SET version = version + 1 WHERE id = 1; END
                        """)
                }
            }
        }
        migrator.registerMigration("v4: call detail records") { db in
            try db.create(table: "callRecord") { table in
                table.column("id", .text).primaryKey()
                table.column("startedAt", .integer).notNull().indexed()
                table.column("answeredAt", .integer)
                table.column("endedAt", .integer)
                table.column("caller", .text).notNull().indexed()
                table.column("callee", .text).notNull().indexed()
                table.column("account", .text).indexed()
                table.column("trunk", .text)
                table.column("disposition", .text).notNull()
                table.column("finalStatus", .integer).notNull()
                table.column("hangupSide", .text)
                table.column("hangupReason", .text)
                table.column("mediaEncryption", .text).notNull()
                table.column("srtpSuite", .text)
                table.column("securityEvents", .text).notNull()  // JSON array of event names
            }
        }
        migrator.registerMigration("v5: registration flows") { db in
            try db.alter(table: "registration") { table in table.add(column: "flow", .text) }
        }
        migrator.registerMigration("v6: bans and security events") { db in
            try db.create(table: "ban") { table in
                table.column("subject", .text).primaryKey()
                table.column("reason", .text).notNull()
                table.column("evidenceCount", .integer).notNull()
                table.column("createdAt", .integer).notNull()
                table.column("expiresAt", .integer)
                table.column("offence", .integer).notNull()
            }
            try db.execute(sql: """
                CREATE TABLE banVersion (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
                INSERT INTO banVersion (id, version) VALUES (1, 0);
                """)
            for event in ["INSERT", "UPDATE", "DELETE"] {
                try db.execute(sql: """
                    CREATE TRIGGER ban_\(event.lowercased())_bumps_version AFTER \(event) ON ban
                    BEGIN UPDATE banVersion SET version = version + 1 WHERE id = 1; END
                    """)
            }
            try db.create(table: "securityEvent") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("time", .integer).notNull().indexed()
                table.column("kind", .text).notNull().indexed()
                table.column("source", .text)
                table.column("account", .text)
                table.column("reason", .text).notNull()
            }
        }
        migrator.registerMigration("v7: relayed media in call records") { db in
            try db.alter(table: "callRecord") { table in
                table.add(column: "media", .text).notNull().defaults(to: "[]")  // JSON array of CallMediaStream
            }
        }
        migrator.registerMigration("v8: audit trail") { db in
            try db.create(table: "auditRecord") { table in
                table.primaryKey("sequence", .integer)
                table.column("contentDigest", .blob).notNull()
                table.column("link", .blob).notNull()
                table.column("content", .blob)  // NULL once erased
            }
            try db.create(table: "auditCheckpoint") { table in
                table.primaryKey("sequence", .integer)
                table.column("link", .blob).notNull()
                table.column("time", .integer).notNull()
                table.column("signature", .blob).notNull()
            }
        }
        migrator.registerMigration("v9: pseudonym key of call records") { db in
            try db.alter(table: "callRecord") { table in table.add(column: "pseudonymKey", .text) }
        }
        migrator.registerMigration("v10: admin API tokens") { db in
            try db.create(table: "adminToken") { table in
                table.column("name", .text).primaryKey()
                table.column("role", .text).notNull()
                table.column("digest", .text).notNull().unique()
                table.column("createdAt", .integer).notNull()
            }
        }
        migrator.registerMigration("v11: user agent of registrations") { db in
            try db.alter(table: "registration") { table in table.add(column: "userAgent", .text) }
        }
        migrator.registerMigration("v12: STIR/SHAKEN verdict of call records") { db in
            try db.alter(table: "callRecord") { table in table.add(column: "identity", .text) }
        }
        migrator.registerMigration("v13: STIR/SHAKEN certificate chains") { db in
            try db.create(table: "certificateChain") { table in
                table.column("url", .text).primaryKey()
                table.column("chain", .blob).notNull()
                table.column("expiresAt", .integer).notNull().indexed()
            }
        }
        migrator.registerMigration("v14: TURN users and sessions") { db in
            try db.create(table: "turnUser") { table in
                table.column("realm", .text).notNull()
                table.column("username", .text).notNull()
                table.column("md5Key", .text).notNull()
                table.column("sha256Key", .text).notNull()
                table.primaryKey(["realm", "username"])
            }
            try db.create(table: "turnSession") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("endedAt", .integer).notNull()
                table.column("username", .text).notNull()
                table.column("client", .text).notNull()
                table.column("peers", .integer).notNull()
                table.column("bytesToPeers", .integer).notNull()
                table.column("bytesToClient", .integer).notNull()
                table.column("packetsDropped", .integer).notNull()
                table.column("seconds", .integer).notNull()
                table.column("ending", .text).notNull()
            }
        }
        return migrator
    }

    public func directoryVersion() async throws(StorageError) -> Int64 {
        try await read { db in try Int64.fetchOne(db, sql: "SELECT version FROM directoryVersion WHERE id = 1") ?? 0 }
    }

    /// Error text without values (SQL errors can quote statement arguments).
    static func describe(_ error: any Error) -> String {
        if let database = error as? DatabaseError { return "SQLite result code \(database.resultCode.rawValue)" }
        return "\(type(of: error))"
    }

    func read<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws(StorageError) -> T {
        do { return try await pool.read(body) } catch { throw StorageError(.unavailable, Self.describe(error)) }
    }

    func write<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws(StorageError) -> T {
        do {
            return try await pool.write(body)
        } catch let error as StorageError {
            throw error  // thrown by the body: the transaction is rolled back
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw StorageError(.constraint, Self.describe(error))
        } catch {
            throw StorageError(.unavailable, Self.describe(error))
        }
    }

    public func account(username: String, domain: String) async throws(StorageError) -> Account? {
        let domain = domain.lowercased()
        return try await read { db in try Self.fetchAccount(db, username: username, domain: domain) }
    }

    public func accountNow(username: String, domain: String) throws(StorageError) -> Account? {
        let domain = domain.lowercased()
        do { return try pool.read { db in try Self.fetchAccount(db, username: username, domain: domain) } } catch {
            throw StorageError(.unavailable, Self.describe(error))
        }
    }

    public func boundAccountNow(fingerprint: String) throws(StorageError) -> (username: String, domain: String)? {
        do {
            let pair = try pool.read { db in try Self.fetchBinding(db, fingerprint: fingerprint) }
            return pair.map { (username: $0[0], domain: $0[1]) }
        } catch {
            throw StorageError(.unavailable, Self.describe(error))
        }
    }

    private static func fetchAccount(_ db: Database, username: String, domain: String) throws -> Account? {
        guard let pin = try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT strongDigestOnly FROM account WHERE username = ? AND domain = ?"),
            arguments: [username, domain])
        else { return nil }
        var ha1: [String: String] = [:]
        for row in try Row.fetchAll(
            db.cachedStatement(sql: "SELECT algorithm, ha1 FROM accountHA1 WHERE username = ? AND domain = ?"),
            arguments: [username, domain]) {
            ha1[row["algorithm"]] = row["ha1"]
        }
        return Account(username: username, domain: domain, ha1ByAlgorithm: ha1, strongDigestOnly: pin)
    }

    public func pinStrongDigest(username: String, domain: String) async throws(StorageError) -> Bool {
        try await write { db in
            try db.execute(sql: "UPDATE account SET strongDigestOnly = 1 WHERE username = ? AND domain = ?",
                           arguments: [username, domain.lowercased()])
            return db.changesCount > 0
        }
    }

    public func saveAccount(_ account: Account) async throws(StorageError) {
        try await saveAccounts([account])
    }

    /// Adds or replaces accounts in one transaction.
    public func saveAccounts(_ accounts: [Account]) async throws(StorageError) {
        for account in accounts { try StoreValidation.check(account) }
        try await write { db in try Self.saveAccounts(accounts, in: db) }
    }

    private static func saveAccounts(_ accounts: [Account], in db: Database) throws {
            for account in accounts {
                let domain = account.domain.lowercased()
                try db.execute(sql: "INSERT OR IGNORE INTO account (username, domain) VALUES (?, ?)",
                               arguments: [account.username, domain])
                if account.strongDigestOnly {
                    try db.execute(sql: "UPDATE account SET strongDigestOnly = 1 WHERE username = ? AND domain = ?",
                                   arguments: [account.username, domain])
                }
                try db.execute(sql: "DELETE FROM accountHA1 WHERE username = ? AND domain = ?",
                               arguments: [account.username, domain])
                for (algorithm, ha1) in account.ha1ByAlgorithm {
                    try db.execute(sql: "INSERT INTO accountHA1 (username, domain, algorithm, ha1) VALUES (?, ?, ?, ?)",
                                   arguments: [account.username, domain, algorithm, ha1])
                }
            }
    }

    public func removeAccount(username: String, domain: String) async throws(StorageError) -> Bool {
        try await write { db in try Self.apply(.removeAccount(username: username, domain: domain), in: db) }
    }

    public func allAccounts() async throws(StorageError) -> [Account] {
        try await read { db in
            var accounts: [Account] = []
            for row in try Row.fetchAll(db, sql: "SELECT username, domain, strongDigestOnly FROM account ORDER BY domain, username") {
                accounts.append(Account(username: row["username"], domain: row["domain"], ha1ByAlgorithm: [:],
                                        strongDigestOnly: row["strongDigestOnly"]))
            }
            for row in try Row.fetchAll(db, sql: "SELECT username, domain, algorithm, ha1 FROM accountHA1") {
                let username: String = row["username"]
                let domain: String = row["domain"]
                if let index = accounts.firstIndex(where: { $0.username == username && $0.domain == domain }) {
                    accounts[index].ha1ByAlgorithm[row["algorithm"]] = row["ha1"]
                }
            }
            return accounts
        }
    }

    public func bindDevice(fingerprint: String, username: String, domain: String) async throws(StorageError) {
        try StoreValidation.checkFingerprint(fingerprint)
        _ = try await write { db in
            try Self.apply(.bindDevice(fingerprint: fingerprint, username: username, domain: domain), in: db)
        }
    }

    public func unbindDevice(fingerprint: String) async throws(StorageError) -> Bool {
        try await write { db in try Self.apply(.unbindDevice(fingerprint: fingerprint), in: db) }
    }

    public func boundAccount(fingerprint: String) async throws(StorageError) -> (username: String, domain: String)? {
        let pair = try await read { db in try Self.fetchBinding(db, fingerprint: fingerprint) }
        return pair.map { (username: $0[0], domain: $0[1]) }
    }

    /// The bound account as `[username, domain]` (a Sendable shape for the async read).
    private static func fetchBinding(_ db: Database, fingerprint: String) throws -> [String]? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT username, domain FROM deviceBinding WHERE fingerprint = ?"),
                         arguments: [fingerprint.lowercased()]).map { [$0["username"], $0["domain"]] }
    }

    static func record(_ row: Row) -> RegistrationRecord {
        RegistrationRecord(
            addressOfRecord: row["aor"], contact: row["contact"], expiresAtEpochSeconds: row["expiresAt"],
            qValueThousandths: row["q"], callID: row["callID"], cseq: row["cseq"], instanceID: row["instanceID"],
            regID: row["regID"], flow: row["flow"], userAgent: row["userAgent"])
    }

    public func registrations(addressOfRecord: String) async throws(StorageError) -> [RegistrationRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM registration WHERE aor = ? ORDER BY rowid", arguments: [addressOfRecord])
                .map(Self.record)
        }
    }

    public func allRegistrations(validAt epochSeconds: Int64) async throws(StorageError) -> [RegistrationRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM registration WHERE expiresAt > ? ORDER BY aor, rowid",
                             arguments: [epochSeconds]).map(Self.record)
        }
    }

    public func replaceRegistrations(addressOfRecord: String, with records: [RegistrationRecord])
        async throws(StorageError)
    {
        try await replaceRegistrations([addressOfRecord: records])
    }

    public func replaceRegistrations(_ batch: [String: [RegistrationRecord]]) async throws(StorageError) {
        try await write { db in
            let delete = try db.cachedStatement(sql: "DELETE FROM registration WHERE aor = ?")
            let insert = try db.cachedStatement(sql: """
                INSERT INTO registration (aor, contact, expiresAt, q, callID, cseq, instanceID, regID, flow, userAgent)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for (aor, records) in batch {
                try delete.execute(arguments: [aor])
                for record in records {
                    try insert.execute(arguments: [
                        aor, record.contact, record.expiresAtEpochSeconds, record.qValueThousandths, record.callID,
                        Int64(record.cseq), record.instanceID, record.regID.map { Int64($0) }, record.flow,
                        record.userAgent,
                    ])
                }
            }
        }
    }

    public func removeExpiredRegistrations(before epochSeconds: Int64) async throws(StorageError) -> Int {
        try await write { db in
            try db.execute(sql: "DELETE FROM registration WHERE expiresAt < ?", arguments: [epochSeconds])
            return db.changesCount
        }
    }

    // MARK: Call detail records

    public func saveCallRecords(_ records: [CallDetailRecord]) async throws(StorageError) {
        let rows = try records.map { (record) throws(StorageError) -> [(any DatabaseValueConvertible)?] in
            [record.id, record.startedAtMilliseconds, record.answeredAtMilliseconds, record.endedAtMilliseconds,
             record.caller, record.callee, record.account, record.trunk, record.disposition.rawValue,
             record.finalStatus, record.hangupSide?.rawValue, record.hangupReason, record.mediaEncryption,
             record.srtpSuite, try Self.encodeJSON(record.securityEvents, "security events"),
             try Self.encodeJSON(record.media, "media streams"), record.pseudonymKeyID, record.identity]
        }
        let arguments = rows.map { StatementArguments($0) }
        try await write { db in
            let upsert = try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO callRecord (id, startedAt, answeredAt, endedAt, caller, callee, account, trunk,
                    disposition, finalStatus, hangupSide, hangupReason, mediaEncryption, srtpSuite, securityEvents,
                    media, pseudonymKey, identity)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for row in arguments { try upsert.execute(arguments: row) }
        }
    }

    public func callRecords(matching filter: CallRecordFilter) async throws(StorageError) -> [CallDetailRecord] {
        var conditions: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        if let from = filter.startedFrom { conditions.append("startedAt >= ?"); arguments.append(from) }
        if let before = filter.startedBefore { conditions.append("startedAt < ?"); arguments.append(before) }
        if let party = filter.party { conditions.append("(caller = ? OR callee = ?)"); arguments += [party, party] }
        if let account = filter.account { conditions.append("account = ?"); arguments.append(account) }
        if let disposition = filter.disposition { conditions.append("disposition = ?"); arguments.append(disposition.rawValue) }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT * FROM callRecord \(whereClause) ORDER BY startedAt, id LIMIT \(filter.limit)"
        let statementArguments = StatementArguments(arguments)
        let decoded = try await read { db in
            try Row.fetchAll(db, sql: sql, arguments: statementArguments).map { row in
                Result { () throws(StorageError) in try Self.callRecord(row) }
            }
        }
        return try decoded.map { (result) throws(StorageError) in try result.get() }
    }

    static func callRecord(_ row: Row) throws(StorageError) -> CallDetailRecord {
        guard let disposition = CallDetailRecord.Disposition(rawValue: row["disposition"]) else {
            throw StorageError(.corrupt, "unknown call disposition")
        }
        let side: String? = row["hangupSide"]
        return CallDetailRecord(
            id: row["id"], startedAtMilliseconds: row["startedAt"], answeredAtMilliseconds: row["answeredAt"],
            endedAtMilliseconds: row["endedAt"], caller: row["caller"], callee: row["callee"], account: row["account"],
            trunk: row["trunk"], disposition: disposition, finalStatus: row["finalStatus"],
            hangupSide: side.flatMap(CallDetailRecord.Party.init(rawValue:)), hangupReason: row["hangupReason"],
            mediaEncryption: row["mediaEncryption"], srtpSuite: row["srtpSuite"],
            securityEvents: try decodeJSON(row["securityEvents"], "security events"),
            media: try decodeJSON(row["media"], "media streams"), pseudonymKeyID: row["pseudonymKey"],
            identity: row["identity"])
    }

    /// A JSON column's text; `what` names the value in the error.
    private static func encodeJSON(_ value: some Encodable, _ what: String) throws(StorageError) -> String {
        do { return String(decoding: try JSONEncoder().encode(value), as: UTF8.self) } catch {
            throw StorageError(.invalidInput, "\(what) cannot be encoded")
        }
    }

    private static func decodeJSON<Value: Decodable>(_ text: String, _ what: String) throws(StorageError) -> Value {
        do { return try JSONDecoder().decode(Value.self, from: Data(text.utf8)) } catch {
            throw StorageError(.corrupt, "\(what) of a call record do not decode")
        }
    }

    // MARK: Bans and security events

    public func saveBans(_ bans: [StoredBan]) async throws(StorageError) {
        _ = try await write { db in try Self.apply(.saveBans(bans), in: db) }
    }

    public func removeBan(subject: String) async throws(StorageError) -> Bool {
        try await write { db in try Self.apply(.removeBan(subject: subject), in: db) }
    }

    public func allBans() async throws(StorageError) -> [StoredBan] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM ban ORDER BY subject").map(Self.ban)
        }
    }

    static func ban(_ row: Row) -> StoredBan {
        StoredBan(subject: row["subject"], reason: row["reason"], evidenceCount: row["evidenceCount"],
                  createdAtEpochSeconds: row["createdAt"], expiresAtEpochSeconds: row["expiresAt"], offence: row["offence"])
    }

    static func securityEvent(_ row: Row) -> StoredSecurityEvent {
        StoredSecurityEvent(epochSeconds: row["time"], kind: row["kind"], source: row["source"], account: row["account"],
                            reason: row["reason"])
    }

    public func removeExpiredBans(before epochSeconds: Int64) async throws(StorageError) -> Int {
        try await write { db in
            try db.execute(sql: "DELETE FROM ban WHERE expiresAt IS NOT NULL AND expiresAt < ?", arguments: [epochSeconds])
            return db.changesCount
        }
    }

    public func banVersion() async throws(StorageError) -> Int64 {
        try await read { db in try Int64.fetchOne(db, sql: "SELECT version FROM banVersion WHERE id = 1") ?? 0 }
    }

    public func appendSecurityEvents(_ events: [StoredSecurityEvent], keeping: Int) async throws(StorageError) {
        let arguments = events.map { event in
            StatementArguments([event.epochSeconds, event.kind, event.source, event.account, event.reason]
                as [(any DatabaseValueConvertible)?])
        }
        let keeping = max(0, keeping)
        try await write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO securityEvent (time, kind, source, account, reason) VALUES (?, ?, ?, ?, ?)
                """)
            for row in arguments { try insert.execute(arguments: row) }
            // Retention by count: the log of a long attack cannot fill the disk.
            try db.execute(sql: """
                DELETE FROM securityEvent WHERE id <= (SELECT MAX(id) FROM securityEvent) - ?
                """, arguments: [keeping])
        }
    }

    public func securityEvents(matching filter: SecurityEventFilter) async throws(StorageError) -> [StoredSecurityEvent] {
        var conditions: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        if let since = filter.since { conditions.append("time >= ?"); arguments.append(since) }
        if let kind = filter.kind { conditions.append("kind = ?"); arguments.append(kind) }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT * FROM (SELECT * FROM securityEvent \(whereClause) ORDER BY id DESC LIMIT \(filter.limit)) "
            + "ORDER BY id"
        let statementArguments = StatementArguments(arguments)
        return try await read { db in
            try Row.fetchAll(db, sql: sql, arguments: statementArguments).map(Self.securityEvent)
        }
    }
}

// MARK: Changes, alone or with their audit records

extension SQLiteStore {
    /// Makes a change inside a write transaction; whether it changed anything.
    static func apply(_ change: AuditedChange, in db: Database) throws -> Bool {
        switch change {
        case .none:
            return false
        case .saveAccounts(let accounts):
            try saveAccounts(accounts, in: db)
            return !accounts.isEmpty
        case .removeAccount(let username, let domain):
            try db.execute(sql: "DELETE FROM account WHERE username = ? AND domain = ?",
                           arguments: [username, domain.lowercased()])
            return db.changesCount > 0
        case .bindDevice(let fingerprint, let username, let domain):
            try db.execute(sql: "INSERT OR REPLACE INTO deviceBinding (fingerprint, username, domain) VALUES (?, ?, ?)",
                           arguments: [fingerprint.lowercased(), username, domain.lowercased()])
            return true
        case .unbindDevice(let fingerprint):
            try db.execute(sql: "DELETE FROM deviceBinding WHERE fingerprint = ?", arguments: [fingerprint.lowercased()])
            return db.changesCount > 0
        case .saveBans(let bans):
            let upsert = try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO ban (subject, reason, evidenceCount, createdAt, expiresAt, offence)
                VALUES (?, ?, ?, ?, ?, ?)
                """)
            for ban in bans {
                try upsert.execute(arguments: StatementArguments([
                    ban.subject, ban.reason, ban.evidenceCount, ban.createdAtEpochSeconds, ban.expiresAtEpochSeconds,
                    ban.offence,
                ] as [(any DatabaseValueConvertible)?]))
            }
            return true
        case .removeBan(let subject):
            try db.execute(sql: "DELETE FROM ban WHERE subject = ?", arguments: [subject])
            return db.changesCount > 0
        case .saveAdminToken(let token):
            try db.execute(sql: "INSERT OR REPLACE INTO adminToken (name, role, digest, createdAt) VALUES (?, ?, ?, ?)",
                           arguments: [token.name, token.role.rawValue, token.digest, token.createdAtEpochSeconds])
            return true
        case .removeAdminToken(let name):
            try db.execute(sql: "DELETE FROM adminToken WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
    }
}

extension SQLiteStore: AuditStore {
    public func audit(_ contents: [AuditContent], with change: AuditedChange) async throws(StorageError)
        -> (records: [AuditRecord], changed: Bool)
    {
        switch change {
        case .saveAccounts(let accounts): for account in accounts { try StoreValidation.check(account) }
        case .bindDevice(let fingerprint, _, _): try StoreValidation.checkFingerprint(fingerprint)
        case .saveAdminToken(let token): try StoreValidation.check(token)
        default: break
        }
        // The records are chained inside the transaction, after whatever another process appended last; a record
        // beyond the limits throws there, and the change is rolled back with it.
        return try await write { db in
            let changed = try Self.apply(change, in: db)
            let records = try AuditAppending.records(contents, after: try Self.lastAuditRecord(db))
            try Self.insert(records, in: db)
            return (records, changed)
        }
    }

    public func checkpointAudit(signer: AuditSigner, time: Int64) async throws(StorageError) -> AuditCheckpoint? {
        try await write { db in
            guard let last = try Self.lastAuditRecord(db),
                last.sequence > (try Int64.fetchOne(db, sql: "SELECT MAX(sequence) FROM auditCheckpoint") ?? 0)
            else { return nil }
            var chain = AuditChain(after: last, uncheckpointed: 1, now: .zero)
            guard let checkpoint = chain.checkpoint(signer: signer, time: time, now: .zero) else { return nil }
            try db.execute(sql: "INSERT INTO auditCheckpoint (sequence, link, time, signature) VALUES (?, ?, ?, ?)",
                           arguments: [checkpoint.sequence, Data(checkpoint.link), checkpoint.time,
                                       Data(checkpoint.signature)])
            return checkpoint
        }
    }

    public func auditRecords(from sequence: Int64, limit: Int) async throws(StorageError) -> [AuditRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM auditRecord WHERE sequence >= ? ORDER BY sequence LIMIT ?",
                             arguments: [sequence, max(0, limit)]).map(Self.auditRecord)
        }
    }

    public func auditCheckpoints() async throws(StorageError) -> [AuditCheckpoint] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM auditCheckpoint ORDER BY sequence").map { row in
                AuditCheckpoint(sequence: Self.integer(row, "sequence"), link: Self.blob(row, "link") ?? [],
                                time: Self.integer(row, "time"), signature: Self.blob(row, "signature") ?? [])
            }
        }
    }

    public func auditTail() async throws(StorageError) -> (last: AuditRecord?, uncheckpointed: Int) {
        let tail = try await read { db -> (AuditRecord?, Int) in
            let checkpointed = try Int64.fetchOne(db, sql: "SELECT MAX(sequence) FROM auditCheckpoint") ?? 0
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM auditRecord WHERE sequence > ?",
                                         arguments: [checkpointed]) ?? 0
            return (try Self.lastAuditRecord(db), count)
        }
        return (tail.0, tail.1)
    }

    public func eraseAuditContents(_ sequences: [Int64], by actor: AuditActor, subject: String, time: Int64,
                                   signer: AuditSigner?) async throws(StorageError) -> Int
    {
        try await write { db in
            var erased: [Int64] = []
            for sequence in Set(sequences).sorted() {
                try db.execute(sql: "UPDATE auditRecord SET content = NULL WHERE sequence = ? AND content IS NOT NULL",
                               arguments: [sequence])
                if db.changesCount > 0 { erased.append(sequence) }
            }
            guard !erased.isEmpty else { return 0 }
            let records = AuditContent.erasures(of: erased, by: actor, subject: subject, time: time, signer: signer)
            try Self.insert(try AuditAppending.records(records, after: try Self.lastAuditRecord(db)), in: db)
            return erased.count
        }
    }

    static func lastAuditRecord(_ db: Database) throws -> AuditRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM auditRecord ORDER BY sequence DESC LIMIT 1").map(auditRecord)
    }

    static func insert(_ records: [AuditRecord], in db: Database) throws {
        let statement = try db.cachedStatement(
            sql: "INSERT INTO auditRecord (sequence, contentDigest, link, content) VALUES (?, ?, ?, ?)")
        for record in records {
            try statement.execute(arguments: [record.sequence, Data(record.contentDigest), Data(record.link),
                                              record.content.map { Data($0) }])
        }
    }

    /// A stored record; a column edited into another type reads as empty, which the verifier reports as a break
    /// (instead of stopping the process).
    private static func auditRecord(_ row: Row) -> AuditRecord {
        AuditRecord(sequence: integer(row, "sequence"), contentDigest: blob(row, "contentDigest") ?? [],
                    link: blob(row, "link") ?? [], content: blob(row, "content"))
    }

    /// A column's bytes whatever it was edited into (a blob, or text); nil for NULL or a number.
    private static func blob(_ row: Row, _ column: String) -> [UInt8]? {
        switch (row[column] as DatabaseValue).storage {
        case .blob(let data): Array(data)
        case .string(let text): Array(text.utf8)
        default: nil
        }
    }

    /// A column's integer, or 0 when it was edited into something else.
    private static func integer(_ row: Row, _ column: String) -> Int64 {
        if case .int64(let value) = (row[column] as DatabaseValue).storage { value } else { 0 }
    }
}

extension SQLiteStore: AdminTokenStore {
    public func adminToken(digest: String) async throws(StorageError) -> AdminToken? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM adminToken WHERE digest = ?", arguments: [digest]).flatMap(Self.token)
        }
    }

    public func allAdminTokens() async throws(StorageError) -> [AdminToken] {
        try await read { db in try Row.fetchAll(db, sql: "SELECT * FROM adminToken ORDER BY name").compactMap(Self.token) }
    }

    /// A stored token; one whose role was edited into something unknown is no token at all.
    private static func token(_ row: Row) -> AdminToken? {
        guard let role = AdminToken.Role(rawValue: row["role"]) else { return nil }
        return AdminToken(name: row["name"], role: role, digest: row["digest"], createdAtEpochSeconds: row["createdAt"])
    }
}

extension SQLiteStore: CertificateCacheStore {
    public func saveCertificateChain(_ entry: CachedCertificateChain) async throws(StorageError) {
        try StoreValidation.check(entry)
        try await write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO certificateChain (url, chain, expiresAt) VALUES (?, ?, ?)",
                           arguments: [entry.url, Data(entry.chain), entry.expiresAtEpochSeconds])
            try db.execute(sql: """
                DELETE FROM certificateChain WHERE url IN (SELECT url FROM certificateChain ORDER BY expiresAt DESC
                    LIMIT -1 OFFSET ?)
                """, arguments: [CachedCertificateChain.maximumEntries])
        }
    }

    public func certificateChains(validAt epochSeconds: Int64, limit: Int) async throws(StorageError)
        -> [CachedCertificateChain]
    {
        try await write { db in
            try db.execute(sql: "DELETE FROM certificateChain WHERE expiresAt <= ?", arguments: [epochSeconds])
            return try Row.fetchAll(db, sql: "SELECT * FROM certificateChain ORDER BY expiresAt DESC, url LIMIT ?",
                                    arguments: [max(0, limit)])
                .compactMap { row -> CachedCertificateChain? in
                    guard let data = row["chain"] as Data?, data.count <= CachedCertificateChain.maximumBytes else { return nil }
                    return CachedCertificateChain(url: row["url"], chain: Array(data), expiresAtEpochSeconds: row["expiresAt"])
                }
        }
    }
}

extension SQLiteStore: TURNStore {
    public func saveTURNUser(_ user: TURNUser) async throws(StorageError) {
        try StoreValidation.check(user)
        try await write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO turnUser (realm, username, md5Key, sha256Key) VALUES (?, ?, ?, ?)",
                           arguments: [user.realm, user.username, user.md5KeyHex, user.sha256KeyHex])
        }
    }

    public func removeTURNUser(username: String, realm: String) async throws(StorageError) -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM turnUser WHERE realm = ? AND username = ?", arguments: [realm, username])
            return db.changesCount > 0
        }
    }

    public func turnUsers(realm: String) async throws(StorageError) -> [TURNUser] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM turnUser WHERE realm = ? ORDER BY username", arguments: [realm]).map {
                TURNUser(username: $0["username"], realm: $0["realm"], md5KeyHex: $0["md5Key"], sha256KeyHex: $0["sha256Key"])
            }
        }
    }

    public func appendTURNSessions(_ sessions: [StoredTURNSession]) async throws(StorageError) {
        guard !sessions.isEmpty else { return }
        try await write { db in
            for session in sessions {
                try db.execute(sql: """
                    INSERT INTO turnSession (endedAt, username, client, peers, bytesToPeers, bytesToClient, packetsDropped,
                        seconds, ending) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [session.endedAtEpochSeconds, session.username, session.client, session.peers,
                                     session.bytesToPeers, session.bytesToClient, session.packetsDropped, session.seconds,
                                     session.ending])
            }
            try db.execute(sql: "DELETE FROM turnSession WHERE id IN (SELECT id FROM turnSession ORDER BY id DESC LIMIT -1 OFFSET ?)",
                           arguments: [StoredTURNSession.maximumKept])
        }
    }

    public func turnSessions(limit: Int) async throws(StorageError) -> [StoredTURNSession] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM turnSession ORDER BY id DESC LIMIT ?", arguments: [max(0, limit)]).map {
                StoredTURNSession(endedAtEpochSeconds: $0["endedAt"], username: $0["username"], client: $0["client"],
                                  peers: $0["peers"], bytesToPeers: $0["bytesToPeers"], bytesToClient: $0["bytesToClient"],
                                  packetsDropped: $0["packetsDropped"], seconds: $0["seconds"], ending: $0["ending"])
            }
        }
    }
}
