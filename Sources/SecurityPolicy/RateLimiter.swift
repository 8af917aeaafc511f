import SIPMessage

/// Token buckets per source (IPv4 address or IPv6 /64), per account and per (account, source) pair, each per
/// method class (pike and ratelimit in one place, Kamailio-wise). Separate budgets keep one phone with a stale
/// password behind a shared NAT from exhausting its office's source budget, while a brute force from an
/// allow-listed address still meets its pair's budget. Memory is bounded by ``BoundedTable``.
public struct RateLimiter: Sendable {
    /// The classes of requests budgets are kept for.
    public enum MethodClass: Int, Hashable, Sendable, CaseIterable, CustomStringConvertible {
        case register, invite, options, other

        /// The class of a method (SUBSCRIBE counts as INVITE: both create dialogs and state).
        public init(_ method: SIPMethod) {
            switch method {
            case .register: self = .register
            case .invite, .subscribe: self = .invite
            case .options: self = .options
            default: self = .other
            }
        }

        public var description: String { ["register", "invite", "options", "other"][rawValue] }
    }

    /// A token bucket's shape: a steady rate and a burst.
    public struct Budget: Hashable, Sendable {
        /// Tokens added per second.
        public var perSecond: Double
        /// Most tokens held (the largest burst).
        public var burst: Double

        /// Creates a budget; rates below zero count as zero and a burst below one as one.
        public init(perSecond: Double, burst: Double) {
            self.perSecond = max(0, perSecond)
            self.burst = max(1, burst)
        }
    }

    /// Budgets per class for one scope; nil means unlimited.
    public struct Budgets: Hashable, Sendable {
        public var register: Budget?
        public var invite: Budget?
        public var options: Budget?
        public var other: Budget?

        /// Creates budgets.
        public init(register: Budget? = nil, invite: Budget? = nil, options: Budget? = nil, other: Budget? = nil) {
            self.register = register
            self.invite = invite
            self.options = options
            self.other = other
        }

        /// The budget of a class.
        public subscript(methodClass: MethodClass) -> Budget? {
            switch methodClass {
            case .register: register
            case .invite: invite
            case .options: options
            case .other: other
            }
        }
    }

    /// Every scope's budgets.
    public struct Limits: Hashable, Sendable {
        /// Per source address (/64 for IPv6). Generous: a NAT may hide a whole office.
        public var perSource: Budgets
        /// Per account, whatever the source.
        public var perAccount: Budgets
        /// Per (account, source) pair: what stops a brute force even from an allow-listed address.
        public var perPair: Budgets

        /// Creates limits; the defaults suit an office of a few hundred phones behind one NAT.
        public init(
            perSource: Budgets = Budgets(register: .init(perSecond: 20, burst: 200), invite: .init(perSecond: 20, burst: 100),
                                         options: .init(perSecond: 20, burst: 100), other: .init(perSecond: 50, burst: 200)),
            perAccount: Budgets = Budgets(register: .init(perSecond: 2, burst: 40), invite: .init(perSecond: 5, burst: 50),
                                          options: .init(perSecond: 5, burst: 50), other: .init(perSecond: 10, burst: 100)),
            perPair: Budgets = Budgets(register: .init(perSecond: 1, burst: 20), invite: .init(perSecond: 3, burst: 30),
                                       options: .init(perSecond: 3, burst: 30), other: .init(perSecond: 5, burst: 50))
        ) {
            self.perSource = perSource
            self.perAccount = perAccount
            self.perPair = perPair
        }
    }

    /// Which budget refused a request.
    public enum Scope: String, Hashable, Sendable { case source, account, pair }

    /// A bucket: tokens and when they were last topped up, plus how many requests it refused in a row.
    public struct Bucket: Sendable {
        var tokens: Double
        var updatedMilliseconds: Int64
        var refusedInARow: Int

        /// A full bucket for `budget` at `now` (milliseconds).
        public init(full budget: Budget, now: Int64) {
            (tokens, updatedMilliseconds, refusedInARow) = (budget.burst, now, 0)
        }

        init(tokens: Double, updatedMilliseconds: Int64, refusedInARow: Int) {
            (self.tokens, self.updatedMilliseconds, self.refusedInARow) = (tokens, updatedMilliseconds, refusedInARow)
        }

        /// Tops the bucket up for the time since it was last used and takes a token if there is one.
        public mutating func take(_ budget: Budget, now: Int64) -> Bool {
            let elapsed = Double(max(0, now - updatedMilliseconds)) / 1000
            tokens = min(budget.burst, tokens + elapsed * budget.perSecond)
            updatedMilliseconds = now
            guard tokens >= 1 else {
                refusedInARow += 1
                return false
            }
            tokens -= 1
            refusedInARow = 0
            return true
        }
    }

    struct SourceBucketKey: Hashable, Sendable {
        let source: SourceKey
        let methodClass: MethodClass
    }

    struct AccountBucketKey: Hashable, Sendable {
        let account: String
        let source: SourceKey?
        let methodClass: MethodClass
    }

    /// The budgets.
    public var limits: Limits
    private var sources: BoundedTable<SourceBucketKey, Bucket>
    private var accounts: BoundedTable<AccountBucketKey, Bucket>

    /// Creates a limiter keeping at most `capacity` buckets per table (default 200,000: some 10 MB).
    public init(limits: Limits = .init(), capacity: Int = 200_000) {
        self.limits = limits
        sources = BoundedTable(capacity: capacity)
        accounts = BoundedTable(capacity: capacity)
    }

    /// The outcome of a check.
    public enum Decision: Hashable, Sendable {
        case admitted
        /// Over budget; `refusedInARow` counts this scope's refusals since its last admitted request.
        case refused(Scope, refusedInARow: Int)
    }

    /// Takes a token from the source's bucket.
    public mutating func admit(source: SourceKey, _ methodClass: MethodClass, now: Duration) -> Decision {
        guard let budget = limits.perSource[methodClass] else { return .admitted }
        let now = now.wholeMilliseconds
        return sources.update(SourceBucketKey(source: source, methodClass: methodClass),
                              default: Bucket(tokens: budget.burst, updatedMilliseconds: now, refusedInARow: 0)) {
            $0.take(budget, now: now) ? .admitted : .refused(.source, refusedInARow: $0.refusedInARow)
        }
    }

    /// Takes a token from the account's bucket and the (account, source) pair's; `pairBudget` overrides the
    /// pair's budget (the stricter one of an account under attack).
    public mutating func admit(account: String, source: SourceKey, _ methodClass: MethodClass, now: Duration,
                               pairBudget: Budget? = nil) -> Decision {
        let now = now.wholeMilliseconds
        if let budget = pairBudget ?? limits.perPair[methodClass] {
            let decision = accounts.update(
                AccountBucketKey(account: account, source: source, methodClass: methodClass),
                default: Bucket(tokens: budget.burst, updatedMilliseconds: now, refusedInARow: 0)) {
                $0.take(budget, now: now) ? Decision.admitted : .refused(.pair, refusedInARow: $0.refusedInARow)
            }
            guard decision == .admitted else { return decision }
        }
        guard let budget = limits.perAccount[methodClass] else { return .admitted }
        return accounts.update(AccountBucketKey(account: account, source: nil, methodClass: methodClass),
                               default: Bucket(tokens: budget.burst, updatedMilliseconds: now, refusedInARow: 0)) {
            $0.take(budget, now: now) ? .admitted : .refused(.account, refusedInARow: $0.refusedInARow)
        }
    }

    /// Buckets held (for tests and metrics).
    public var bucketCount: Int { sources.count + accounts.count }
}
