import Proxy
import Registrar
import SIPDialog
import SIPMessage
import SIPTransportNIO
import SecurityPolicy
import Storage

// Who may start a call or a relayed request, to whom, presented how; where the callee's bindings lead.
extension CallRouter {
    /// A request the edge accepted to route: who sends it, to which user, and the transport hooks.
    struct Admission {
        let inbound: SIPInbound
        let caller: Caller
        let calleeUser: String
        /// The request's From, as parsed once here.
        let from: SIPAddress?
        let address: SIPLocalAddress
        let wiring: Wiring
    }

    enum AdmissionOutcome {
        case admitted(Admission)
        case refused(SIPReply?)
    }

    /// Checks a new INVITE, MESSAGE or OPTIONS: Max-Forwards (483), a user of the served domain as target (404), and
    /// the sender: a trunk by its address, an account by the TLS client certificate bound to it (mutual TLS), or an
    /// account by digest (407). An account's From must be its own (403).
    func admit(_ inbound: SIPInbound, credentials: PresentedCredentials, account: Account?,
               certificateAccount: (username: String, domain: String)?, edge: EdgeService) -> AdmissionOutcome
    {
        let request = inbound.message
        func refuse(_ status: Int, _ headers: [(String, String)] = []) -> AdmissionOutcome {
            .refused(edge.reply(to: inbound, status: status, extraHeaders: headers))
        }
        guard let maxForwards = try? request.maxForwards() ?? 70, maxForwards > 0 else { return refuse(483) }
        guard let wiring = wiring.withLock({ $0 }) else { return refuse(503, [("Retry-After", "5")]) }
        let domain = edge.configuration.domain
        guard case .sip(let target)? = try? request.requestLine?.requestURI(), let callee = target.user,
            edge.servedDomain(target.host) != nil
        else { return refuse(404) }
        guard let address = wiring.addresses(SIPFlow(transport: inbound.transport, remote: inbound.source)) else {
            return refuse(500)
        }
        // Who sends: a trunk, known by its address (it does not authenticate), or an account that does (407).
        if let trunk = trunks.first(where: { $0.sends(inbound) }) {
            guard trunkMayPlaceCall(trunk, now: edge.clock.monotonicMilliseconds()) else {
                return refuse(503, [("Retry-After", "1")])
            }
            return .admitted(Admission(inbound: inbound, caller: .trunk(trunk), calleeUser: callee,
                                       from: try? request.from(), address: address, wiring: wiring))
        }
        let username: String
        if let bound = certificateAccount, bound.domain == domain, inbound.transport == .tls {
            username = bound.username  // the handshake verified the certificate; the device binding names the account
        } else {
            switch edge.authenticate(inbound, credentials: credentials, account: account) {
            case .challenge(let values):
                return refuse(407, values.map { ("Proxy-Authenticate", $0) })
            case .reject(let status, let event):
                if let event { edge.report(event, inbound, claimedUser: credentials.claimedUsername(realm: domain)) }
                return refuse(status)
            case .authenticated(let name, _):
                username = name
            }
        }
        // One may only call as oneself or as an identity the account may assert (RFC 3261 §22, issue 4): any
        // other From is a spoof.
        let from = try? request.from()
        guard case .sip(let fromURI)? = from?.uri, let fromUser = fromURI.user,
            fromUser == username || assertableIdentities[username]?.contains(fromUser) == true,
            edge.servedDomain(fromURI.host) != nil
        else {
            edge.report(.callerIDSpoofing, reason: "From not assertable by the account", inbound, claimedUser: username)
            return refuse(403)
        }
        return .admitted(Admission(inbound: inbound, caller: .account(username, asserting: fromUser),
                                   calleeUser: callee, from: from, address: address, wiring: wiring))
    }

    /// The phones registered for an AOR, each down its registration flow, or (when that has closed) a connection to
    /// its Contact as the policy allows.
    func bindingTargets(of aor: String, edge: EdgeService, wiring: Wiring) -> [CallSession.Target] {
        edge.location.bindings(of: aor).compactMap { binding in
            // A binding made from a trunk's address (a REGISTER sent, or forged over UDP, from a carrier's host) would
            // send the account's calls to the carrier from the edge's trusted address: toll fraud with no
            // destination rule. No user is reached at a trunk's address.
            guard let registered = binding.flow.flatMap({ SIPFlow($0) }), !isTrunkAddress(registered.remote.policyAddress)
            else { return nil }
            var flow = registered
            if !wiring.isOpen(registered) {
                guard let contact = Self.contactFlow(binding.contact, policy: contactConnections),
                    mayConnect(to: contact, registeredOver: registered)
                else { return nil }
                flow = contact
            }
            guard let address = wiring.addresses(flow), let peer = flow.peer else { return nil }
            return CallSession.Target(contact: binding.contact, flow: peer, address: address,
                                      party: MediaParty(signalsFrom: registered.remote.policyAddress))
        }
    }

    /// Whether the edge may open a connection to a Contact itself: only to the address the registration came from
    /// (a Contact cannot aim the edge anywhere else), never to a trunk's address (nor share its connection) or one
    /// of the edge's own listeners, and only where the address policy lets that party send the edge.
    func mayConnect(to contact: SIPFlow, registeredOver registered: SIPFlow) -> Bool {
        guard let target = contact.remote.endpoint, let source = registered.remote.policyAddress,
            target.address == source, !isTrunkAddress(target.address)
        else { return false }
        return addressPolicy.withLock { $0.refusal(of: target.address, port: target.port, toldBy: source) } == nil
    }

    /// A trunk caller's user part as the edge shows it: up to its parameters (a `;verstat=` is the edge's to add,
    /// never the far network's), and only of characters a number or a plain name has; nil for anything else.
    static func presentable(_ user: String) -> String? {
        let name = user.prefix { $0 != ";" }
        guard (1...64).contains(name.utf8.count), name.utf8.allSatisfy({ byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || [UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "*")]
                    .contains(byte)
        }) else { return nil }
        return String(name)
    }

    /// Whether a new request comes from a trunk whose calls have their identity verified.
    func verifiesIdentity(of inbound: SIPInbound) -> Bool {
        trunks.first(where: { $0.sends(inbound) })?.verifiesIdentity == true
    }

    /// Whether an address is a trunk's (on any port and transport): the edge never reaches a user there.
    func isTrunkAddress(_ address: IPAddress?) -> Bool {
        guard let address else { return false }
        return trunks.contains { $0.flow.remote.policyAddress == address }
    }

    /// The policy an account's own leg is held to: the edge's (plain RTP only for accounts allowed it).
    func callerLegPolicy(_ admitted: Admission) -> MediaPolicy {
        guard case .account(let username, _) = admitted.caller, plainRTPAccounts.contains(username) else {
            return mediaPolicy
        }
        return MediaPolicy(allowsPlainRTP: true, allowedSuites: mediaPolicy.allowedSuites)
    }

    /// What the far side may see of the sender: its end-to-end headers after identity and header policy (RFC 3325:
    /// the edge asserts the identity it authenticated, or passes a trusted trunk's; RFC 3323 privacy), and its From.
    /// Nil if the request's headers cannot be policed (400).
    /// With `verstat` (a trunk's call whose identity the edge verified), the callee sees the verdict on the From and
    /// P-Asserted-Identity URIs (`;verstat=TN-Validation-Passed`, the 3GPP/ATIS form) instead of anything the trunk
    /// asserted, and no Identity header (the edge was the verifier).
    /// The number shown is then the one the verdict is about (`verifiedNumber`, P-Asserted-Identity's or From's),
    /// never another From the trunk put beside it.
    func present(_ admitted: Admission, towards trunk: Trunk?, verstat: String? = nil, verifiedNumber: String? = nil,
                 edge: EdgeService)
        -> (headers: [SIPHeaderField], from: String, recordedCaller: String, recordedAccount: String)?
    {
        let request = admitted.inbound.message
        let domain = edge.configuration.domain
        let identity: String
        let recordedAccount: String
        var hop = IdentityPolicy.Hop(sourceIsTrusted: false, authenticatedIdentity: nil,
                                     destinationIsTrusted: trunk?.trustsIdentity ?? false)
        switch admitted.caller {
        case .account(let username, let asserted):
            identity = "sip:\(asserted)@\(domain)"
            recordedAccount = "\(username)@\(domain)"
            hop.authenticatedIdentity = identity
        case .trunk(let source):
            // A trunk's caller is a number (or name) of the far network, shown under the edge's domain.
            var user = "anonymous"
            if case .sip(let uri)? = admitted.from?.uri, let number = uri.user, let name = Self.presentable(number) {
                user = name
            }
            if verstat != nil, let verifiedNumber { user = "+" + verifiedNumber }
            identity = "sip:\(user)@\(domain)"
            recordedAccount = "trunk:\(source.name)"
            hop.sourceIsTrusted = source.trustsIdentity
        }
        var policed = request
        do {
            try IdentityPolicy.apply(to: &policed, hop: hop)
            try headerPolicy.apply(to: &policed)
        } catch {
            return nil
        }
        if trunk != nil, case .account = admitted.caller {
            // Towards a carrier, only the edge speaks for an account: no redirection history a phone made up
            // (Diversion, History-Info: billing and fraud checks downstream trust them), no Call-Info pointing
            // anywhere, no Identity of the phone's own (STIR/SHAKEN is signed by the edge, if at all).
            policed.removeHeaders { field in
                let name = field.name.lowercased()
                return ["diversion", "history-info", "call-info", "identity", "y"].contains(name)
            }
        }
        var presentedIdentity = identity
        if let verstat {
            presentedIdentity += ";verstat=\(verstat)"
            policed.removeHeaders { ["identity", "y", "p-asserted-identity"].contains($0.name.lowercased()) }
            if let asserted = try? SIPHeaderField(.pAssertedIdentity, value: "<\(presentedIdentity)>") {
                policed.prependHeader(asserted)
            }
        }
        let from: String
        if let policedFrom = try? policed.from(), policedFrom.uri.description == "sip:anonymous@anonymous.invalid" {
            from = "\"Anonymous\" <sip:anonymous@anonymous.invalid>"
        } else {
            // Written through SIPAddress, which quotes and escapes: a display name cannot smuggle in another URI.
            let display = admitted.from?.displayName
            if let uri = try? SIPURI(presentedIdentity) {
                from = SIPAddress(displayName: display, uri: .sip(uri)).description
            } else {
                from = "<\(presentedIdentity)>"
            }
        }
        return (B2BUA.endToEndHeaders(of: policed), from, identity, recordedAccount)
    }
}
