/// A bearer token of the admin API (issue 20). Only the SHA-256 of its secret is stored: a copy of the database
/// does not give access, and the token itself is shown once, when it is made.
public struct AdminToken: Hashable, Sendable {
    /// What a token may do: a viewer reads; an operator also bans, unbans and ends calls; an admin also manages
    /// users, devices and tokens.
    public enum Role: String, Hashable, Sendable, CaseIterable, Comparable {
        case viewer, `operator`, admin

        public static func < (lhs: Role, rhs: Role) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    /// Its name: what the audit trail records as the actor (`api:NAME`).
    public var name: String
    public var role: Role
    /// SHA-256 of the secret, lowercase hex.
    public var digest: String
    public var createdAtEpochSeconds: Int64

    public init(name: String, role: Role, digest: String, createdAtEpochSeconds: Int64) {
        (self.name, self.role, self.digest, self.createdAtEpochSeconds) = (name, role, digest, createdAtEpochSeconds)
    }
}

/// The admin API's tokens. Made and revoked through ``AuditStore/audit(_:with:)`` (`.saveAdminToken`,
/// `.removeAdminToken`), so that each change has its record.
public protocol AdminTokenStore: Sendable {
    /// The token whose secret hashes to `digest`, if any.
    func adminToken(digest: String) async throws(StorageError) -> AdminToken?
    /// Every token, by name.
    func allAdminTokens() async throws(StorageError) -> [AdminToken]
}

extension StoreValidation {
    /// A token's name: 1-64 letters, digits, `-`, `_` or `.`; its digest 64 lowercase hex digits.
    public static func check(_ token: AdminToken) throws(StorageError) {
        guard (1...64).contains(token.name.utf8.count),
            token.name.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A)
                || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E })
        else { throw StorageError(.invalidInput, "a token name is 1-64 letters, digits, '-', '_' or '.'") }
        guard token.digest.utf8.count == 64, token.digest.utf8.allSatisfy({ SIPHex.isHex($0) && !($0 >= 0x41 && $0 <= 0x46) })
        else { throw StorageError(.invalidInput, "a token digest is SHA-256 in lowercase hex") }
    }
}
