/// A TURN user with long-term credentials (RFC 8489 §9.2): the keys for one realm, never the password.
public struct TURNUser: Hashable, Sendable {
    public var username: String
    public var realm: String
    /// MD5(username:realm:password) and SHA-256 of the same, hex.
    public var md5KeyHex: String
    public var sha256KeyHex: String

    public init(username: String, realm: String, md5KeyHex: String, sha256KeyHex: String) {
        (self.username, self.realm, self.md5KeyHex, self.sha256KeyHex) = (username, realm, md5KeyHex, sha256KeyHex)
    }
}

/// What one ended TURN allocation did.
public struct StoredTURNSession: Hashable, Sendable {
    /// When it ended, seconds since 1970.
    public var endedAtEpochSeconds: Int64
    public var username: String
    /// The client's transport address and transport (`udp:198.51.100.7:40000`).
    public var client: String
    public var peers: Int
    public var bytesToPeers: Int64
    public var bytesToClient: Int64
    public var packetsDropped: Int64
    public var seconds: Int64
    /// `refresh`, `expired` or `closed`.
    public var ending: String

    public init(endedAtEpochSeconds: Int64, username: String, client: String, peers: Int, bytesToPeers: Int64,
                bytesToClient: Int64, packetsDropped: Int64, seconds: Int64, ending: String) {
        self.endedAtEpochSeconds = endedAtEpochSeconds
        self.username = username
        self.client = client
        self.peers = peers
        self.bytesToPeers = bytesToPeers
        self.bytesToClient = bytesToClient
        self.packetsDropped = packetsDropped
        self.seconds = seconds
        self.ending = ending
    }

    /// The most sessions kept: the oldest go first beyond it.
    public static let maximumKept = 100_000
}

/// TURN users and session records.
public protocol TURNStore: Sendable {
    /// Adds or replaces the user of that name and realm.
    func saveTURNUser(_ user: TURNUser) async throws(StorageError)
    func removeTURNUser(username: String, realm: String) async throws(StorageError) -> Bool
    func turnUsers(realm: String) async throws(StorageError) -> [TURNUser]
    /// Appends ended sessions; beyond ``StoredTURNSession/maximumKept`` the oldest are dropped.
    func appendTURNSessions(_ sessions: [StoredTURNSession]) async throws(StorageError)
    /// The newest sessions first, at most `limit`.
    func turnSessions(limit: Int) async throws(StorageError) -> [StoredTURNSession]
}

extension StoreValidation {
    /// A TURN user: a name of 1-512 bytes (RFC 8489's USERNAME) without a colon-led expiry form, a realm of 1-763,
    /// keys of 32 and 64 hex digits.
    public static func check(_ user: TURNUser) throws(StorageError) {
        guard (1...512).contains(user.username.utf8.count) else { throw StorageError(.invalidInput, "a TURN username of 1-512 bytes") }
        guard (1...763).contains(user.realm.utf8.count) else { throw StorageError(.invalidInput, "a TURN realm of 1-763 bytes") }
        let hex = Set("0123456789abcdef")
        guard user.md5KeyHex.count == 32, user.sha256KeyHex.count == 64,
            (user.md5KeyHex + user.sha256KeyHex).allSatisfy(hex.contains)
        else { throw StorageError(.invalidInput, "TURN keys as lowercase hex") }
    }
}
