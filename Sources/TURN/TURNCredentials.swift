import Crypto
import Foundation
import STUN

/// Where a TURN server finds a user's keys (RFC 8489 §9.2 long-term credentials).
public protocol TURNCredentialSource: Sendable {
    /// The keys `username` may have signed with in `realm` under `algorithm` at wall-clock `epochSeconds` (several
    /// while a shared secret rotates); none for an unknown user or an expired ephemeral one.
    func keys(username: String, realm: String, algorithm: STUNPasswordAlgorithm, epochSeconds: Int64) -> [STUNKey]
}

/// Long-term accounts: each user's keys per algorithm for one realm, as stored (the password itself is not kept).
public struct TURNAccounts: TURNCredentialSource {
    public struct Keys: Sendable {
        public var md5: STUNKey
        public var sha256: STUNKey

        public init(username: String, realm: String, password: String) {
            md5 = .longTerm(username: username, realm: realm, password: password, algorithm: .md5)
            sha256 = .longTerm(username: username, realm: realm, password: password, algorithm: .sha256)
        }

        public init(md5: STUNKey, sha256: STUNKey) { (self.md5, self.sha256) = (md5, sha256) }
    }

    public var realm: String
    public var users: [String: Keys]

    public init(realm: String, users: [String: Keys] = [:]) { (self.realm, self.users) = (realm, users) }

    public func keys(username: String, realm: String, algorithm: STUNPasswordAlgorithm, epochSeconds: Int64) -> [STUNKey] {
        guard realm == self.realm, let keys = users[username] else { return [] }
        return [algorithm == .md5 ? keys.md5 : keys.sha256]
    }
}

/// The TURN REST API's ephemeral credentials, as coturn's `use-auth-secret` reads them
/// (draft-uberti-behave-turn-rest): the username is `expiry:user` (expiry in Unix seconds), the password
/// base64(HMAC-SHA1(secret, username)). Several secrets are accepted at once so that a secret can rotate: the new one
/// first, the old one until the credentials made with it have expired.
public struct TURNRESTCredentials: TURNCredentialSource {
    private let secrets: [SymmetricKey]
    /// The longest life an ephemeral username may claim from now (a username valid for years is refused).
    public let maxTTLSeconds: Int64

    public init(secrets: [[UInt8]], maxTTLSeconds: Int64 = 86_400) {
        self.secrets = secrets.map { SymmetricKey(data: $0) }
        self.maxTTLSeconds = maxTTLSeconds
    }

    /// The password for `username` under the first (current) secret.
    public func password(username: String) -> String? {
        secrets.first.map { Self.password(username: username, secret: $0) }
    }

    /// A username and password for `user` good for `ttl` seconds from `epochSeconds`.
    public func credentials(user: String, ttlSeconds: Int64, epochSeconds: Int64) -> (username: String, password: String)? {
        let username = "\(epochSeconds + ttlSeconds):\(user)"
        return password(username: username).map { (username, $0) }
    }

    static func password(username: String, secret: SymmetricKey) -> String {
        Data(HMAC<Insecure.SHA1>.authenticationCode(for: Array(username.utf8), using: secret)).base64EncodedString()
    }

    /// The expiry an ephemeral username carries; nil when it has none.
    public static func expiry(of username: String) -> Int64? {
        guard let colon = username.firstIndex(of: ":") else { return nil }
        return Int64(username[..<colon])
    }

    public func keys(username: String, realm: String, algorithm: STUNPasswordAlgorithm, epochSeconds: Int64) -> [STUNKey] {
        guard let expiry = Self.expiry(of: username), expiry >= epochSeconds, expiry - epochSeconds <= maxTTLSeconds
        else { return [] }
        return secrets.map { secret in
            .longTerm(username: username, realm: realm, password: Self.password(username: username, secret: secret),
                      algorithm: algorithm)
        }
    }
}

/// Accounts first, then ephemeral credentials.
public struct TURNCredentialChain: TURNCredentialSource {
    public var sources: [any TURNCredentialSource]

    public init(_ sources: [any TURNCredentialSource]) { self.sources = sources }

    public func keys(username: String, realm: String, algorithm: STUNPasswordAlgorithm, epochSeconds: Int64) -> [STUNKey] {
        for source in sources {
            let keys = source.keys(username: username, realm: realm, algorithm: algorithm, epochSeconds: epochSeconds)
            if !keys.isEmpty { return keys }
        }
        return []
    }
}

/// Long-term accounts that change while the server runs (a user added by `rampart turn user add` is in force at
/// once): the server reads them on each authentication, the command side replaces them.
public final class TURNAccountDirectory: TURNCredentialSource, @unchecked Sendable {
    private let lock = NSLock()
    private var accounts: TURNAccounts

    public init(_ accounts: TURNAccounts) { self.accounts = accounts }

    public func replace(_ accounts: TURNAccounts) { lock.withLock { self.accounts = accounts } }

    public var count: Int { lock.withLock { accounts.users.count } }

    public func keys(username: String, realm: String, algorithm: STUNPasswordAlgorithm, epochSeconds: Int64) -> [STUNKey] {
        lock.withLock { accounts }.keys(username: username, realm: realm, algorithm: algorithm, epochSeconds: epochSeconds)
    }
}
