/// A source-address access list for a listener: an allow-list that always wins (trusted trunks, monitoring probes)
/// and a deny-list.
///
/// The verdict is a value the caller composes with its other policies: ``Verdict/allowListed`` skips the rest
/// (rate limits, geo rules, ban lists), ``Verdict/denied`` drops, ``Verdict/neutral`` leaves the decision to them.
/// Allow beats deny so that a broad deny (a country's blocks, a hosting provider) can never cut off a trunk.
public struct AddressACL: Hashable, Sendable {
    /// What the list says about one source address.
    public enum Verdict: Hashable, Sendable {
        /// On the allow-list: admit, whatever the deny-list and the other policies say.
        case allowListed
        /// On the deny-list and not on the allow-list.
        case denied
        /// On neither list.
        case neutral
    }

    /// The addresses that are always admitted.
    public var allow: NetworkList
    /// The addresses that are refused unless also allow-listed.
    public var deny: NetworkList

    /// An ACL with no entries: every address is ``Verdict/neutral``.
    public static let open = AddressACL()

    /// Creates an ACL.
    public init(allow: NetworkList = .empty, deny: NetworkList = .empty) {
        self.allow = allow
        self.deny = deny
    }

    /// The verdict for a source address; two binary searches, no allocation.
    public func verdict(for address: IPAddress) -> Verdict {
        if allow.contains(address) { return .allowListed }
        return deny.contains(address) ? .denied : .neutral
    }
}

/// The networks each account may register and send from ("alice may only register from the office").
///
/// An account with no entry may come from anywhere; an account with an entry only from its networks, so an entry
/// with an empty list locks the account out (which is what an empty list written in the configuration says).
/// Account names compare exactly, as the account store compares usernames.
public struct AccountNetworks: Hashable, Sendable {
    /// The networks by account name.
    public var networksByAccount: [String: NetworkList]

    /// No restrictions.
    public static let unrestricted = AccountNetworks()

    /// Creates the mapping.
    public init(_ networksByAccount: [String: NetworkList] = [:]) {
        self.networksByAccount = networksByAccount
    }

    /// The networks of an account, or nil if it is unrestricted.
    public subscript(account account: String) -> NetworkList? {
        get { networksByAccount[account] }
        set { networksByAccount[account] = newValue }
    }

    /// Whether `account` may use `address` as its source.
    public func permits(account: String, from address: IPAddress) -> Bool {
        networksByAccount[account]?.contains(address) ?? true
    }
}
