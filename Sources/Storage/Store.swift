/// What Rampart keeps, and the protocols its services reach it through (Kamailio's DB API idea): SQLite is the
/// embedded default (`StorageSQLite`), PostgreSQL the cluster store, an in-memory store serves tests.

/// A SIP account. Passwords are never stored: only digest HA1 values, one per algorithm (RFC 7616 §3.4.2).
public struct Account: Hashable, Sendable {
    /// The user part (`alice`).
    public var username: String
    /// The domain / digest realm (`example.com`).
    public var domain: String
    /// HA1 hex digests keyed by algorithm token (`SHA-256`, `MD5`, `SHA-512-256`).
    public var ha1ByAlgorithm: [String: String]
    /// Set once the account has authenticated with a digest stronger than MD5: from then on MD5 is refused
    /// for it (downgrade pinning). Saving an existing account keeps the pin.
    public var strongDigestOnly: Bool

    /// Creates an account.
    public init(username: String, domain: String, ha1ByAlgorithm: [String: String], strongDigestOnly: Bool = false) {
        self.username = username
        self.domain = domain
        self.ha1ByAlgorithm = ha1ByAlgorithm
        self.strongDigestOnly = strongDigestOnly
    }
}

/// One registered contact, as stored (wall-clock expiry, so registrations survive a restart).
public struct RegistrationRecord: Hashable, Sendable {
    public var addressOfRecord: String
    public var contact: String
    /// Expiry as seconds since 1970 (UTC).
    public var expiresAtEpochSeconds: Int64
    public var qValueThousandths: Int
    public var callID: String
    public var cseq: UInt32
    public var instanceID: String?
    public var regID: UInt32?
    /// The flow the binding was registered over (`tls:192.0.2.7:40123`): requests to the contact go down it, since
    /// a client behind NAT accepts nothing else (RFC 5626 §5.3). nil for bindings made before flows were kept.
    public var flow: String?
    /// The User-Agent the device registered with (at most ``maximumUserAgentBytes``; what an operator recognises a
    /// phone by, and a scanner by): shown as text, never trusted.
    public var userAgent: String?

    /// The longest User-Agent a binding keeps; a longer one is cut.
    public static let maximumUserAgentBytes = 128

    /// Creates a record.
    public init(
        addressOfRecord: String, contact: String, expiresAtEpochSeconds: Int64, qValueThousandths: Int = 1000,
        callID: String, cseq: UInt32, instanceID: String? = nil, regID: UInt32? = nil, flow: String? = nil,
        userAgent: String? = nil
    ) {
        self.userAgent = userAgent.map { String(decoding: $0.utf8.prefix(Self.maximumUserAgentBytes), as: UTF8.self) }
        self.addressOfRecord = addressOfRecord
        self.contact = contact
        self.expiresAtEpochSeconds = expiresAtEpochSeconds
        self.qValueThousandths = qValueThousandths
        self.callID = callID
        self.cseq = cseq
        self.instanceID = instanceID
        self.regID = regID
        self.flow = flow
    }
}

/// Accounts and their HA1s.
public protocol AccountStore: Sendable {
    /// The account, or nil. Usernames compare exactly; domains case-insensitively (stored lowercased).
    func account(username: String, domain: String) async throws(StorageError) -> Account?
    /// Adds or replaces an account.
    func saveAccount(_ account: Account) async throws(StorageError)
    /// Adds or replaces several accounts (bulk provisioning).
    func saveAccounts(_ accounts: [Account]) async throws(StorageError)
    /// A number that changes whenever accounts' credentials or device bindings change, by this process or another
    /// (the CLI): caches compare it to know when to drop what they hold. A downgrade pin does not change it.
    func directoryVersion() async throws(StorageError) -> Int64
    /// Removes an account and its device bindings; false if there was none.
    func removeAccount(username: String, domain: String) async throws(StorageError) -> Bool
    /// Every account, ordered by domain then username.
    func allAccounts() async throws(StorageError) -> [Account]
    /// Pins an account to digests stronger than MD5 (see ``Account/strongDigestOnly``); false if there is no
    /// such account.
    func pinStrongDigest(username: String, domain: String) async throws(StorageError) -> Bool
}

extension AccountStore {
    /// One ``saveAccount(_:)`` after another; the SQLite store uses one transaction instead.
    public func saveAccounts(_ accounts: [Account]) async throws(StorageError) {
        for account in accounts { try await saveAccount(account) }
    }
}

/// Client-certificate fingerprints bound to accounts (mutual TLS device binding).
public protocol DeviceBindingStore: Sendable {
    /// Binds a certificate fingerprint (lowercase hex SHA-256) to an account; replaces an earlier binding.
    func bindDevice(fingerprint: String, username: String, domain: String) async throws(StorageError)
    /// Removes a binding; false if there was none.
    func unbindDevice(fingerprint: String) async throws(StorageError) -> Bool
    /// The account a fingerprint is bound to.
    func boundAccount(fingerprint: String) async throws(StorageError) -> (username: String, domain: String)?
}

/// Registrations (the location service).
public protocol RegistrationStore: Sendable {
    /// The stored contacts of an address-of-record.
    func registrations(addressOfRecord: String) async throws(StorageError) -> [RegistrationRecord]
    /// Replaces all contacts of an address-of-record in one transaction.
    func replaceRegistrations(addressOfRecord: String, with records: [RegistrationRecord]) async throws(StorageError)
    /// Replaces the contacts of several addresses-of-record in one transaction (write-behind flushes).
    func replaceRegistrations(_ batch: [String: [RegistrationRecord]]) async throws(StorageError)
    /// Every contact that has not expired at `epochSeconds` (to load the location service at startup).
    func allRegistrations(validAt epochSeconds: Int64) async throws(StorageError) -> [RegistrationRecord]
    /// Deletes contacts that expired before the given time; returns how many.
    func removeExpiredRegistrations(before epochSeconds: Int64) async throws(StorageError) -> Int
}

/// Stores that can answer the edge's two hot lookups without suspending: a local database read (an embedded
/// SQLite file in WAL mode never waits for writers) costs less than the thread hops of an async call, so the
/// edge does it on the event loop, as Kamailio's workers do.
public protocol ImmediateDirectoryLookup: Sendable {
    /// The account, or nil (as ``AccountStore/account(username:domain:)``).
    func accountNow(username: String, domain: String) throws(StorageError) -> Account?
    /// The binding of a fingerprint (as ``DeviceBindingStore/boundAccount(fingerprint:)``).
    func boundAccountNow(fingerprint: String) throws(StorageError) -> (username: String, domain: String)?
    /// Whether to use these lookups now; false makes the edge await the store as it would a remote one.
    var answersImmediately: Bool { get }
}

extension ImmediateDirectoryLookup {
    public var answersImmediately: Bool { true }
}

/// Everything the edge stores.
public protocol Store: AccountStore, DeviceBindingStore, RegistrationStore, CallRecordStore, BanStore, SecurityEventStore,
    AuditStore, DataLifecycleStore, AdminTokenStore, CertificateCacheStore, TURNStore {}

/// A storage failure. The reason never contains stored secrets.
public struct StorageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Backing: String, Hashable, Sendable { case unavailable, corrupt, constraint, invalidInput }
        fileprivate let backing: Backing
        /// The database could not be opened or reached.
        public static let unavailable = Code(backing: .unavailable)
        /// Stored data does not decode.
        public static let corrupt = Code(backing: .corrupt)
        /// A uniqueness or foreign-key rule refused the change.
        public static let constraint = Code(backing: .constraint)
        /// The caller passed a value the store refuses (empty names, oversize values).
        public static let invalidInput = Code(backing: .invalidInput)
        public var description: String { backing.rawValue }
    }

    public let code: Code
    public let reason: String
    public let fileID: String
    public let line: Int

    public init(_ code: Code, _ reason: String, fileID: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.fileID = fileID
        self.line = line
    }

    public var description: String { "\(code): \(reason)" }
    public static func == (lhs: StorageError, rhs: StorageError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
