import Registrar
import SIPAuth
import SIPMessage
import SIPTransportNIO
import SecurityPolicy

// The two screening stages of the request path (docs/architecture.md, "How serve handles a request"), each a small
// type with one job. `EdgeService` runs them in order: SourceScreen before full validation, RequestScreen after the
// server transactions have absorbed copies.

/// A message a screen stopped: dropped in silence (nil), or refused with this answer.
struct Stopped: Error {
    let reply: SIPReply?
}

/// The first screen, on what the lazy parse gives (source, method, To tag), before the message is fully validated:
/// the listener's networks, trunk identification, then the source's bans, ACLs and rate budget
/// (``EdgeDefense/screen(source:method:now:epochSeconds:)``). A flood that is refused here costs a lazy parse.
struct SourceScreen: Sendable {
    let listenerNetworks: [ListenerNetworks]
    let trunks: [Trunk]
    let defense: EdgeDefense
    let clock: EdgeClock

    /// What the screen found of a message it let pass, for the stages after validation.
    struct Passed: Sendable {
        let address: IPAddress
        /// A source that authenticated recently, is allow-listed, or is a configured trunk.
        let trusted: Bool
        /// A response, ACK, CANCEL, BYE or a request with a To tag: it belongs to a call.
        let inDialog: Bool
        let now: Duration
        let epochSeconds: Int64
    }

    func screen(_ inbound: SIPInbound) -> Result<Passed, Stopped> {
        let request = inbound.message
        guard let address = inbound.source.policyAddress else { return .failure(Stopped(reply: nil)) }
        let method = request.method
        // Responses belong to the calls, and so do ACK, CANCEL, BYE and every request inside a dialog (a To tag):
        // they meet bans and address rules, not rate budgets, so calls in progress keep working.
        let inDialog = method == nil || method == .ack || method == .cancel || method == .bye
            || (method != .register && !EdgeService.isInitial(request))
        let now = clock.monotonic()
        let epochSeconds = clock.epochSeconds()
        if !listenerNetworks.isEmpty, !defense.isAllowListed(address),
            let rule = listenerNetworks.first(where: { $0.matches(inbound) }), !rule.networks.contains(address)
        {
            defense.recordThrottled(SecurityEvent(kind: .aclDenied, source: address.description,
                                                  reason: "not allowed on \(rule.listener)", epochSeconds: epochSeconds))
            return .failure(Stopped(reply: nil))
        }
        // A configured trunk is identified before the rules meant for unknown sources: a carrier's normal traffic
        // (many calls to many numbers) is no flood and no extension sweep. Bans and address rules still apply; its
        // own budgets are the call router's.
        let fromTrunk = !trunks.isEmpty && trunks.contains { $0.sends(inbound) }
        switch defense.screen(source: address, method: inDialog || fromTrunk ? nil : method.map(RateLimiter.MethodClass.init),
                              now: now, epochSeconds: epochSeconds) {
        case .drop: return .failure(Stopped(reply: nil))
        case .reject(let status, let retryAfter):
            return .failure(Stopped(reply: EdgeService.refusal(inbound, status: status, retryAfter: retryAfter)))
        case .pass(let known):
            return .success(Passed(address: address, trusted: known || fromTrunk, inDialog: inDialog, now: now,
                                   epochSeconds: epochSeconds))
        }
    }
}

/// The second screen, on a fully parsed request outside any dialog that is no copy of one already taken: the
/// claimed account's and the pair's bans, networks and budgets (before any store or digest work), then, for a
/// source that has not authenticated, the scanner rules (``AttackGuard/inspect(_:source:epochSeconds:)``).
struct RequestScreen: Sendable {
    /// The served domain (the realm of the credentials) and its aliases: a request for anything else is foreign.
    let served: ServedDomain
    let defense: EdgeDefense

    func screen(_ inbound: SIPInbound, method: SIPMethod, source: SourceScreen.Passed,
                credentials: PresentedCredentials?) -> Result<Void, Stopped> {
        let claimed = credentials?.claimedUsername(realm: served.domain)
        if let claimed {
            switch defense.screen(account: claimed, source: source.address, method: RateLimiter.MethodClass(method),
                                  certified: inbound.clientCertificateFingerprint != nil, now: source.now,
                                  epochSeconds: source.epochSeconds) {
            case .drop: return .failure(Stopped(reply: nil))
            case .reject(let status, let retryAfter):
                // A refusal of the account (its networks, a ban) costs what a wrong password costs, and reads the same.
                if status == 403 { credentials?.spendStandInWork(realm: served.domain, request: inbound.message) }
                return .failure(Stopped(reply: EdgeService.refusal(inbound, status: status, retryAfter: retryAfter)))
            case .pass: break
            }
        }
        if !source.trusted, case .drop = defense.inspect(probe(inbound.message, claimed: claimed),
                                                         source: source.address, epochSeconds: source.epochSeconds) {
            return .failure(Stopped(reply: nil))
        }
        return .success(())
    }

    /// An out-of-dialog request as the scanner rules see it.
    func probe(_ request: SIPMessage, claimed: String?) -> AttackGuard.Probe {
        var targetUser: Substring?
        var foreign = false
        let register = request.method == .register
        if !register, case .sip(let uri)? = try? request.requestLine?.requestURI() {
            targetUser = uri.user.map { Substring($0) }
            if claimed == nil {
                switch uri.host {
                case .ipv4, .ipv6: foreign = true
                case .hostname: foreign = served.matching(uri.host) == nil
                }
            }
        }
        return AttackGuard.Probe(targetUser: targetUser, targetsAddressOrForeignDomain: foreign) { field in
            switch field {
            case .userAgent: return request.firstField(.userAgent).map { Substring($0.value) }
            case .fromDisplay: return (try? request.from()).flatMap { $0.displayName.map { Substring($0) } }
            case .fromURI: return (try? request.from()).map { Substring($0.uri.description) }
            case .fromTag: return (try? request.fromTag()).map { Substring($0) }
            case .toURI: return (try? request.to()).map { Substring($0.uri.description) }
            case .contact: return request.firstField(.contact).map { Substring($0.value) }
            case .callID: return request.firstField(.callID).map { Substring($0.value) }
            case .viaBranch: return (try? request.topVia())?.branch.map { Substring($0) }
            }
        }
    }
}
