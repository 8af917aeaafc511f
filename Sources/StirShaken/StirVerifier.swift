import Crypto
import Foundation
import SIPMessage

extension Verstat.Reason: Error {}

/// STI-VS (RFC 8224 §6.2, ATIS-1000074 §5.3): the verification of a request's Identity, sans I/O. It runs in two
/// steps around the one thing that needs the network: ``examine(_:now:)`` reads the headers and checks the claims
/// against the request, and says which certificate URL it needs; ``complete(_:chain:trust:now:)`` checks that
/// certificate and the signature.
public struct StirVerifier: Sendable {
    /// How old (or how far in the future) `iat` may be, in seconds (ATIS-1000074: 60).
    public var maxAgeSeconds: Int64

    public init(maxAgeSeconds: Int64 = 60) { self.maxAgeSeconds = maxAgeSeconds }

    /// The identities a request asserts and names, as a verifier compares them.
    public struct Request: Sendable {
        /// The Identity headers, in order.
        public var identities: [SIPIdentity]
        /// The calling number: P-Asserted-Identity's, else From's (normalised), nil when neither is a number.
        public var origTN: String?
        /// The called numbers: To's and the Request-URI's (normalised).
        public var destTNs: [String]

        public init(identities: [SIPIdentity], origTN: String?, destTNs: [String]) {
            (self.identities, self.origTN, self.destTNs) = (identities, origTN, destTNs)
        }

        /// Reads a SIP request: its Identity headers, P-Asserted-Identity (or From), To and the Request-URI.
        public init(_ message: SIPMessage) {
            let identities = (try? message.identities()) ?? []
            let asserted = (try? message.nameAddresses(.pAssertedIdentity))?.lazy
                .compactMap { TelephoneNumber.fromURI($0.uri) }.first
            let from = (try? message.from()).flatMap { TelephoneNumber.fromURI($0.uri) }
            var dest: [String] = []
            if let to = (try? message.to()).flatMap({ TelephoneNumber.fromURI($0.uri) }) { dest.append(to) }
            if let target = message.requestLine.flatMap({
                TelephoneNumber.fromURI(String(decoding: $0.requestURIBytes, as: UTF8.self))
            }),
                !dest.contains(target)
            {
                dest.append(target)
            }
            self.init(identities: identities, origTN: asserted ?? from, destTNs: dest)
        }
    }

    /// A PASSporT whose claims hold, waiting for its certificate.
    public struct Candidate: Sendable {
        public let passport: PASSporT
        /// The certificate URL (`info` and `x5u`, which agree).
        public let certificateURL: String
    }

    /// What the first step found.
    public enum Examination: Sendable {
        /// Settled without the certificate.
        case verdict(Verstat)
        /// The claims hold; the certificate at the URL decides.
        case needsCertificate(Candidate)
    }

    /// Reads the request's Identity headers and checks the first SHAKEN PASSporT's claims: ES256, `info` equal to
    /// `x5u`, `iat` fresh at `now` (seconds), `orig` the calling number and `dest` including a called number.
    /// Identities it cannot read, or with another extension, make No-TN-Validation only when no SHAKEN one is there.
    public func examine(_ request: Request, now: Int64) -> Examination {
        let each = examineEach(request, now: now)
        return each.outcomes.first ?? .verdict(each.withoutSHAKEN)
    }

    /// Every SHAKEN PASSporT of the request (at most ``maxSHAKENIdentities``, in header order), each with its claims
    /// checked as ``examine(_:now:)`` checks them (a candidate waiting for its certificate, or the failure it comes
    /// to); and the verdict when there
    /// is none (No-TN-Validation and why). A verifier that can settle several passes the call when one passes
    /// (a request may carry a PASSporT that no longer fits beside one that does).
    public func examineEach(_ request: Request, now: Int64)
        -> (outcomes: [Examination], withoutSHAKEN: Verstat)
    {
        guard !request.identities.isEmpty else { return ([], .noValidation(.missing)) }
        var fallback: Verstat = .noValidation(.unreadable)
        var outcomes: [Examination] = []
        for identity in request.identities where outcomes.count < Self.maxSHAKENIdentities {
            guard identity.unreadable == nil else { continue }
            if let ppt = identity.parameters.value(named: "ppt"), ppt != "shaken", ppt != "\"shaken\"" {
                fallback = .noValidation(.unsupportedPPT)
                continue
            }
            if let alg = identity.parameters.value(named: "alg"), alg != "ES256" {
                outcomes.append(.verdict(.failed(.unsupportedAlgorithm)))
                continue
            }
            let passport: PASSporT
            do {
                passport = try PASSporT(token: identity.token)
            } catch {
                if case .compactForm = error { fallback = .noValidation(.unsupportedPPT); continue }
                outcomes.append(.verdict(.failed(error.reason)))
                continue
            }
            guard passport.header.ppt == "shaken" else { fallback = .noValidation(.unsupportedPPT); continue }
            outcomes.append(claimsHold(passport, info: identity.info, request: request, now: now))
        }
        return (outcomes, fallback)
    }

    /// The most SHAKEN PASSporTs of one request looked at.
    public static let maxSHAKENIdentities = 4

    private func claimsHold(_ passport: PASSporT, info: String?, request: Request, now: Int64) -> Examination {
        guard passport.header.typ == nil || passport.header.typ == "passport" else { return .verdict(.failed(.malformed)) }
        guard passport.claims.attest != nil, passport.claims.origid != nil else { return .verdict(.failed(.malformed)) }
        guard let info, info == passport.header.x5u else { return .verdict(.failed(.x5uMismatch)) }
        let (age, overflow) = now.subtractingReportingOverflow(passport.claims.iat)
        guard !overflow, age.magnitude <= UInt64(max(0, maxAgeSeconds)) else { return .verdict(.failed(.staleIat)) }
        guard case .tn(let orig) = passport.claims.orig, let requestOrig = request.origTN,
            TelephoneNumber.normalize(orig) == requestOrig
        else { return .verdict(.failed(.origMismatch)) }
        guard passport.claims.destTNs.contains(where: { claimed in
            TelephoneNumber.normalize(claimed).map(request.destTNs.contains) ?? false
        }) else { return .verdict(.failed(.destMismatch)) }
        return .needsCertificate(Candidate(passport: passport, certificateURL: info))
    }

    /// Checks the candidate's certificate chain (trusted at `now`, covering the calling number or naming an SPC)
    /// and its signature.
    public func complete(_ candidate: Candidate, chain: STICertificateChain, trust: STITrust, now: Date) async -> Verstat {
        switch await trust.evaluate(chain, at: now) {
        case .failure(let reason): return .failed(reason)
        case .success(let signer): return complete(candidate, signer: signer)
        }
    }

    /// Checks the candidate against a signer whose chain was found good (and is still within its validity): the
    /// signature, and that the certificate speaks for the calling number. No suspension: a cached chain's calls
    /// are verified on the spot.
    public func complete(_ candidate: Candidate, signer: STITrust.Signer) -> Verstat {
        guard candidate.passport.isSigned(by: signer.verifyingKey) else { return .failed(.badSignature) }
        guard case .tn(let orig) = candidate.passport.claims.orig else { return .failed(.origMismatch) }
        guard !signer.authority.serviceProviderCodes.isEmpty
            || signer.authority.covers(number: TelephoneNumber.normalize(orig) ?? orig)
        else { return .failed(.notCovered) }
        if candidate.passport.rcdIntegrityHolds == false { return .failed(.malformed) }
        return .passed
    }
}

/// Replayed PASSporTs: the same header and claims (whatever the form of the signature: ECDSA's s and n−s both
/// verify) seen again while they are still fresh, that is until `iat` + the window. A bounded table (the oldest
/// entries go first when it is full). Two genuine calls never share header and claims: `iat`, `origid` and the
/// numbers together differ.
public struct ReplayGuard: Sendable {
    public let capacity: Int
    private var expiries: [String: Int64] = [:]
    private var order: [(key: String, expiry: Int64)] = []
    private var head = 0

    public init(capacity: Int = 100_000) { self.capacity = max(1, capacity) }

    /// Records the PASSporT and says whether it was seen within `window` seconds before `now`.
    public mutating func isReplay(_ passport: PASSporT, now: Int64, window: Int64) -> Bool {
        // Entries leave in the order they came (the table is a queue); an entry whose key was renewed is skipped.
        while head < order.count, order[head].expiry <= now || expiries.count > capacity - 1 {
            if expiries[order[head].key] == order[head].expiry { expiries[order[head].key] = nil }
            head += 1
        }
        if head > 1_024, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        let key = SHA256.hash(data: passport.signingInput).prefix(16).map { String($0, radix: 16) }.joined(separator: ".")
        if let expiry = expiries[key], expiry > now { return true }
        let expiry = max(now, passport.claims.iat) + window
        expiries[key] = expiry
        order.append((key, expiry))
        return false
    }

    /// How many PASSporTs are remembered.
    public var count: Int { expiries.count }
}
