import Foundation
import SIPMessage
import SecurityPolicy
import StirShaken
import Storage
import StirShakenNIO
import Synchronization

/// STIR/SHAKEN at the edge: the STI-AS that signs what accounts send to trunks, and the STI-VS that verifies what
/// trunks deliver. Verification is two steps around the network (``check(_:epochSeconds:monotonic:)``, then, only
/// when the signer's chain is not cached, ``fetch(_:monotonic:edgePolicy:)`` and the check again): a call waits for its own
/// fetch only, fetches of one URL are shared, and no event loop ever waits.
///
/// The chain cache holds whole chains' verdicts by URL (kamailio#3246 lost intermediates), for the server's
/// `max-age` within a floor and a ceiling and never past the chain's own expiry; failures are remembered briefly
/// (apart from the good chains) so that a dead or hostile URL is not fetched again for every call. Bounded: a chain
/// no signature has verified under goes first, then the one used longest ago.
public final class IdentityService: Sendable {
    /// What to do with a call whose identity did not verify, or that has none.
    public enum Action: String, Sendable, CaseIterable {
        /// Deliver it with `verstat` saying so.
        case mark
        /// Refuse it with RFC 8224's code (428, 436, 437, 438; 403 Stale Date).
        case reject
    }

    public struct Configuration: Sendable {
        /// Signs accounts' calls to trunks; nil: no signing.
        public var signer: StirSigner?
        /// Attestation per account (user name); the rest get ``defaultAttestation``.
        public var attestationByAccount: [String: PASSporT.Attestation] = [:]
        /// Full attestation: the edge authenticated the account and the number is one it may present.
        public var defaultAttestation: PASSporT.Attestation = .full
        /// The STI-CA roots; nil: no verification.
        public var trust: STITrust?
        public var maxAgeSeconds: Int64 = 60
        public var onFailure: Action = .mark
        public var onMissing: Action = .mark
        public var fetchRules = CertificateFetcher.Rules()
        public var cacheEntries = 1_000
        public var cacheMinSeconds = 300
        public var cacheMaxSeconds = 86_400
        public var failureCacheSeconds = 30

        public init(signer: StirSigner? = nil, trust: STITrust? = nil) {
            (self.signer, self.trust) = (signer, trust)
        }
    }

    /// A verification's outcome for one request.
    public struct Verdict: Sendable, Hashable {
        public let verstat: Verstat
        /// The same PASSporT was seen again while still fresh.
        public let replayed: Bool
        /// The calling number the verdict is about (P-Asserted-Identity's, else From's, normalised): what the callee
        /// is shown with the verdict, nil when the request names no number.
        public var number: String?
    }

    public enum Check: Sendable {
        case verdict(Verdict)
        /// The signer's chain must be fetched first (``fetch(_:monotonic:edgePolicy:)``).
        case needsCertificate(String)
    }

    public let configuration: Configuration
    private let verifier: StirVerifier
    private let fetcher: CertificateFetcher?

    /// A chain that checked out, by URL: with what the server sent, to keep it in the store once a call has shown
    /// it is in use (a signature verified under it), and until when (wall clock) it may be kept.
    private struct CachedChain {
        var signer: STITrust.Signer
        var body: [UInt8]
        var keepUntilEpochSeconds: Int64
        var confirmed: Bool
        var expires: Duration
        var lastUsed: Duration
    }

    /// A URL whose chain could not be had or did not check out: remembered briefly, apart from the good chains, so
    /// that a flood of bad URLs pushes no good chain out.
    private struct CachedFailure {
        var reason: Verstat.Reason
        var expires: Duration
    }

    private let chains = Mutex<[String: CachedChain]>([:])
    private let failures = Mutex<[String: CachedFailure]>([:])
    private let inflight = Mutex<[String: Task<Void, Never>]>([:])
    /// Where good chains are kept between runs (``restore(from:epochSeconds:monotonic:)`` reads them back).
    private let keeper = Mutex<(any CertificateCacheStore)?>(nil)
    private let replays: Mutex<ReplayGuard>

    /// The most failures remembered (the soonest to expire go first).
    public static let maxFailures = 1_000
    /// The most distinct certificate URLs fetched at once.
    public static let maxFetches = 64

    public init(configuration: Configuration) throws {
        self.configuration = configuration
        self.verifier = StirVerifier(maxAgeSeconds: configuration.maxAgeSeconds)
        self.fetcher = configuration.trust == nil ? nil : try CertificateFetcher(rules: configuration.fetchRules)
        self.replays = Mutex(ReplayGuard(capacity: 100_000))
    }

    /// Whether the edge verifies identities at all.
    public var verifies: Bool { configuration.trust != nil }

    /// Checks a request's identity with what is at hand: settled, or waiting for its signer's chain.
    public func check(_ request: SIPMessage, epochSeconds: Int64, monotonic: Duration) -> Check {
        let parsed = StirVerifier.Request(request)
        let number = parsed.origTN
        guard configuration.trust != nil else {
            return .verdict(Verdict(verstat: .noValidation(.missing), replayed: false, number: number))
        }
        // Each SHAKEN PASSporT in turn: the first that passes settles it; otherwise the first failure, in order.
        let examined = verifier.examineEach(parsed, now: epochSeconds)
        var firstFailure: Verstat?
        let now = Date(timeIntervalSince1970: TimeInterval(epochSeconds))
        for outcome in examined.outcomes {
            let candidate: StirVerifier.Candidate
            switch outcome {
            case .verdict(let verdict):
                firstFailure = firstFailure ?? verdict
                continue
            case .needsCertificate(let found):
                candidate = found
            }
            let url = candidate.certificateURL
            if let failure = failures.withLock({ $0[url] }), failure.expires > monotonic {
                firstFailure = firstFailure ?? .failed(failure.reason)
                continue
            }
            let cached: CachedChain? = chains.withLock { chains in
                guard var entry = chains[url], entry.expires > monotonic, entry.signer.notValidAfter > now else {
                    return nil
                }
                entry.lastUsed = monotonic
                chains[url] = entry
                return entry
            }
            guard let cached else { return .needsCertificate(url) }
            let verstat = verifier.complete(candidate, signer: cached.signer)
            guard verstat == .passed else {
                firstFailure = firstFailure ?? verstat
                continue
            }
            let replayed = replays.withLock {
                $0.isReplay(candidate.passport, now: epochSeconds, window: configuration.maxAgeSeconds)
            }
            if !cached.confirmed { confirm(url) }
            return .verdict(Verdict(verstat: .passed, replayed: replayed, number: number))
        }
        return .verdict(Verdict(verstat: firstFailure ?? examined.withoutSHAKEN, replayed: false, number: number))
    }

    /// A chain under which a signature verified: kept in the store from now on (a chain an attacker merely named
    /// never is, nor does it outlive good ones when the cache is full).
    private func confirm(_ url: String) {
        guard let entry = chains.withLock({ chains -> CachedChain? in
            guard var entry = chains[url], !entry.confirmed else { return nil }
            entry.confirmed = true
            chains[url] = entry
            return entry
        }), let store = keeper.withLock({ $0 }) else { return }
        let kept = CachedCertificateChain(url: url, chain: entry.body, expiresAtEpochSeconds: entry.keepUntilEpochSeconds)
        Task { try? await store.saveCertificateChain(kept) }
    }

    /// Fetches and checks the chain at `url` (shared with every call waiting for it), leaving its verdict in the
    /// cache: on return, ``check(_:epochSeconds:monotonic:)`` settles.
    /// `edgePolicy` is the edge's own address policy (its listeners, relay, trunks, denied networks): the fetch is
    /// held to it, with ``Configuration/fetchRules``' allowed networks in place of the SDP's.
    public func fetch(_ url: String, monotonic: @escaping @Sendable () -> Duration, edgePolicy: AddressPolicy? = nil) async {
        var policy = configuration.fetchRules.addressPolicy
        if let edgePolicy {
            policy = edgePolicy
            policy.allowedNetworks = configuration.fetchRules.addressPolicy.allowedNetworks
        }
        let task = inflight.withLock { tasks -> Task<Void, Never>? in
            if let running = tasks[url] { return running }
            // A bound on fetches at once: a flood of distinct URLs fails fast instead of queueing without end.
            guard tasks.count < Self.maxFetches else { return nil }
            let started = Task { [policy] in await self.load(url, policy: policy, monotonic: monotonic) }
            tasks[url] = started
            return started
        }
        guard let task else { return fail(url, .x5uFetchFailed, for: 1, now: monotonic()) }
        await task.value
    }

    private func fail(_ url: String, _ reason: Verstat.Reason, for seconds: Int, now: Duration) {
        failures.withLock { failures in
            failures = failures.filter { $0.value.expires > now }
            if failures[url] == nil, failures.count >= Self.maxFailures,
                let soonest = failures.min(by: { $0.value.expires < $1.value.expires })?.key
            {
                failures[soonest] = nil
            }
            failures[url] = CachedFailure(reason: reason, expires: now + .seconds(seconds))
        }
    }

    private func keep(_ url: String, _ entry: CachedChain) {
        chains.withLock { chains in
            // Full: a chain no call has used yet goes first, then the one used longest ago.
            if chains[url] == nil, chains.count >= configuration.cacheEntries,
                let evicted = chains.min(by: { ($0.value.confirmed ? 1 : 0, $0.value.lastUsed) < ($1.value.confirmed ? 1 : 0, $1.value.lastUsed) })?.key
            {
                chains[evicted] = nil
            }
            chains[url] = entry
        }
        failures.withLock { $0[url] = nil }
    }

    private func load(_ url: String, policy: AddressPolicy, monotonic: @Sendable () -> Duration) async {
        defer { _ = inflight.withLock { $0.removeValue(forKey: url) } }
        guard let fetcher, let trust = configuration.trust else {
            return fail(url, .certUntrusted, for: configuration.failureCacheSeconds, now: monotonic())
        }
        let reason: Verstat.Reason
        do {
            let fetched = try await fetcher.fetch(url, policy: policy)
            let chain = try STICertificateChain(served: fetched.body)
            switch await trust.evaluate(chain, at: Date()) {
            case .success(let signer):
                let lifetime = min(max(fetched.maxAgeSeconds ?? configuration.cacheMinSeconds, configuration.cacheMinSeconds),
                                   configuration.cacheMaxSeconds)
                let keepUntil = min(Int64(Date().timeIntervalSince1970) + Int64(lifetime),
                                    Int64(signer.notValidAfter.timeIntervalSince1970))
                let now = monotonic()
                return keep(url, CachedChain(signer: signer, body: fetched.body, keepUntilEpochSeconds: keepUntil,
                                             confirmed: false, expires: now + .seconds(lifetime), lastUsed: now))
            case .failure(let found):
                reason = found
            }
        } catch let failure as CertificateFetcher.Failure {
            reason = failure.reason
        } catch let found as Verstat.Reason {
            reason = found
        } catch {
            reason = .x5uFetchFailed
        }
        fail(url, reason, for: configuration.failureCacheSeconds, now: monotonic())
    }

    /// Keeps good chains in `store` from now on.
    public func keep(in store: any CertificateCacheStore) {
        keeper.withLock { $0 = store }
    }

    /// Reads back the chains a previous run kept (each checked again under today's roots and time), so that a
    /// restart does not fetch every chain again.
    public func restore(from store: any CertificateCacheStore, epochSeconds: Int64, monotonic: Duration) async {
        guard let trust = configuration.trust,
            let kept = try? await store.certificateChains(validAt: epochSeconds, limit: configuration.cacheEntries)
        else { return }
        let now = Date(timeIntervalSince1970: TimeInterval(epochSeconds))
        for entry in kept {
            guard let chain = try? STICertificateChain(served: entry.chain),
                case .success(let signer) = await trust.evaluate(chain, at: now)
            else { continue }
            let remaining = min(entry.expiresAtEpochSeconds - epochSeconds, Int64(configuration.cacheMaxSeconds))
            guard remaining > 0 else { continue }
            let cached = CachedChain(signer: signer, body: entry.chain, keepUntilEpochSeconds: entry.expiresAtEpochSeconds,
                                     confirmed: true, expires: monotonic + .seconds(remaining), lastUsed: monotonic)
            chains.withLock { chains in
                if chains[entry.url] == nil, chains.count < configuration.cacheEntries { chains[entry.url] = cached }
            }
        }
    }

    /// How many good chains are cached.
    public var cachedChains: Int { chains.withLock { $0.count } }

    /// The Identity header value for an account's call from `orig` to `dest` (user parts as dialled or presented),
    /// nil when the edge does not sign or either is not a telephone number (SHAKEN signs numbers only).
    public func identity(account: String, orig: String, dest: String, epochSeconds: Int64) -> String? {
        guard let signer = configuration.signer, let origTN = TelephoneNumber.normalize(orig),
            let destTN = TelephoneNumber.normalize(dest)
        else { return nil }
        return try? signer.identity(orig: origTN, dest: [destTN], attest: attestation(of: account), iat: epochSeconds)
    }

    /// The attestation the edge gives an account's calls.
    public func attestation(of account: String) -> PASSporT.Attestation {
        configuration.attestationByAccount[account] ?? configuration.defaultAttestation
    }

    /// The refusal a verdict calls for under the configuration, nil when the call goes on (marked).
    public func rejection(of verdict: Verdict) -> (status: Int, reason: String)? {
        switch verdict.verstat {
        case .passed: return nil
        case .noValidation: return configuration.onMissing == .reject ? verdict.verstat.rejection : nil
        case .failed: return configuration.onFailure == .reject ? verdict.verstat.rejection : nil
        }
    }
}
