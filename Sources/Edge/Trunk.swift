import Proxy
import SDP
import SIPAuth
import SIPTransportNIO
import SecurityPolicy

/// A SIP trunk: a static peer (a carrier, or a PBX behind the edge) that calls the edge's users and that the edge
/// sends calls to numbers nobody here has registered. It does not authenticate to the edge: its calls are known by
/// their source address and transport (and, when set, its TLS certificate), as Kamailio's permissions module does.
/// Over UDP a source address can be forged, so TLS (with a pinned certificate) is the trustworthy kind.
public struct Trunk: Sendable {
    /// A name for logs and CDRs (`trunk:NAME` as the account).
    public var name: String
    /// Where it is and how the edge reaches it (TCP and TLS connections are opened as needed).
    public var flow: SIPFlow
    /// host[:port] the edge writes in Request-URIs and To towards it.
    public var host: String
    /// Dialed numbers (Request-URI users) that go to it, e.g. `+` or `00`.
    public var prefixes: [String]
    /// Its media policy (a legacy trunk may be allowed plain RTP; calls through it then may be unencrypted).
    public var mediaPolicy: MediaPolicy
    /// Whether it belongs to the edge's trust domain (RFC 3325): its P-Asserted-Identity is believed, and the
    /// edge's is sent to it.
    public var trustsIdentity: Bool
    /// The edge's account at the trunk, for its digest challenges.
    public var credentials: CallSession.Credentials?
    /// The SHA-256 fingerprint its TLS client certificate must have, if set.
    public var certificateFingerprint: String?
    /// Whether SRTP ends at the edge for its calls: the account's leg carries SDES-SRTP with the edge, under keys
    /// the edge makes and holds only in memory, and the trunk's leg plain RTP (a legacy trunk that cannot encrypt)
    /// or, with ``bridgedSuites``, SDES-SRTP of its own suites under other keys. Needs the media relay.
    public var bridgesSRTP: Bool
    /// With ``bridgesSRTP``: the SDES suites the trunk's leg uses (empty: plain RTP).
    public var bridgedSuites: [SRTPCryptoSuite]
    /// New calls a second it may place (a burst of as many): its own budget, since the rate limits and scanner
    /// rules for unknown sources do not apply to it. Beyond it, 503 with Retry-After.
    public var maxCallsPerSecond: Int = 100
    /// Most calls through it at once (in and out together; nil: only the edge's own limit).
    public var maxCalls: Int?
    /// How CDRs name this trunk's parties (the numbers of the far network); nil: as the edge's default.
    public var cdrParties: PartyRecording?
    /// Whether calls from it have their STIR/SHAKEN identity verified (when the edge has STI-CA roots).
    public var verifiesIdentity = true
    /// Whether accounts' calls to it are signed (when the edge has a signing key).
    public var signsIdentity = true

    /// What the trunk's leg carries when its SRTP is bridged.
    var bridgedLeg: RelayAnchor.Bridging.Leg { bridgedSuites.isEmpty ? .plain : .sdes(bridgedSuites) }

    public init(name: String, flow: SIPFlow, host: String? = nil, prefixes: [String] = [],
                mediaPolicy: MediaPolicy = .srtpOnly, trustsIdentity: Bool = false,
                credentials: CallSession.Credentials? = nil, certificateFingerprint: String? = nil,
                bridgesSRTP: Bool = false, bridgedSuites: [SRTPCryptoSuite] = []) {
        self.bridgesSRTP = bridgesSRTP
        self.bridgedSuites = bridgedSuites
        self.name = name
        self.flow = flow
        let ip = flow.remote.ipAddress ?? "invalid"
        self.host = host ?? (flow.remote.protocol == .inet6 ? "[\(ip)]" : ip) + ":\(flow.remote.port ?? 5060)"
        self.prefixes = prefixes
        self.mediaPolicy = mediaPolicy
        self.trustsIdentity = trustsIdentity
        self.credentials = credentials
        self.certificateFingerprint = certificateFingerprint?.lowercased()
    }

    /// Its signalling address as a network of one, for the rules that must never ban it.
    var addressBlock: CIDRBlock? {
        flow.remote.policyAddress.map { CIDRBlock(network: $0, prefixLength: 128) }
    }

    /// Whether a request came from this trunk: its address and transport, and its certificate when one is pinned.
    func sends(_ inbound: SIPInbound) -> Bool {
        guard inbound.transport == flow.transport, inbound.source.ipAddress == flow.remote.ipAddress else { return false }
        guard let certificateFingerprint else { return true }
        return inbound.clientCertificateFingerprint.map { constantTimeEquals(Array($0.lowercased().utf8), Array(certificateFingerprint.utf8)) } ?? false
    }

    /// Whether a dialed user goes to this trunk.
    func routes(_ user: String) -> Bool { prefixes.contains { !$0.isEmpty && user.hasPrefix($0) } }

    /// The URI of a dialed user at the trunk.
    func uri(for user: String) -> String {
        "sip:\(user)@\(host)" + (flow.transport == .udp ? "" : ";transport=\(flow.transport.rawValue)")
    }
}


extension CallRouter {
    /// Whether a trunk may place one more call this second.
    func trunkMayPlaceCall(_ trunk: Trunk, now: Int64) -> Bool {
        let rate = Double(trunk.maxCallsPerSecond)
        let budget = RateLimiter.Budget(perSecond: rate, burst: rate)
        return trunkBuckets.withLock { buckets in
            var bucket = buckets[trunk.name] ?? RateLimiter.Bucket(full: budget, now: now)
            defer { buckets[trunk.name] = bucket }
            return bucket.take(budget, now: now)
        }
    }

    /// Counts one more call through `trunk`, unless it holds ``Trunk/maxCalls`` already.
    func takeTrunkCall(_ trunk: Trunk) -> Bool {
        trunkCalls.withLock { calls in
            let current = calls[trunk.name, default: 0]
            if let limit = trunk.maxCalls, current >= limit { return false }
            calls[trunk.name] = current + 1
            return true
        }
    }

    /// Gives back a call counted by ``takeTrunkCall(_:)``.
    func releaseTrunkCall(_ name: String) {
        trunkCalls.withLock { calls in
            let remaining = calls[name, default: 1] - 1
            calls[name] = remaining > 0 ? remaining : nil
        }
    }
}
