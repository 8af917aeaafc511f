import MediaRelayNIO
import Proxy
import Registrar
import SDP
import SIPMessage
import SIPTransportNIO
import SecurityPolicy
import Storage

// The router's new calls: an INVITE or SUBSCRIBE admitted, targeted, policed and started as a CallSession.
extension CallRouter {
    /// A new INVITE. `certificateAccount` is the account the TLS client certificate is bound to, if any.
    /// `identity` is the STIR/SHAKEN verdict on a trunk's call (``IdentityService``), when the edge verified it.
    func invite(_ inbound: SIPInbound, credentials: PresentedCredentials, account: Account?,
                certificateAccount: (username: String, domain: String)? = nil, identity: IdentityService.Verdict? = nil,
                edge: EdgeService) -> SIPReply?
    {
        let request = inbound.message
        guard let key = Self.callerKey(request) else { return edge.reply(to: inbound, status: 400) }
        if shard(key).table.withLock({ $0.byCaller[key] != nil }) {
            // A retransmission: the session answers it (again, if it has already given its final answer).
            update(key, edge: edge, inbound: inbound) { $0.initialRequestRetransmitted(request) }
            return nil
        }
        let admitted: Admission
        switch admit(inbound, credentials: credentials, account: account, certificateAccount: certificateAccount,
                     edge: edge) {
        case .refused(let reply): return reply
        case .admitted(let admission): admitted = admission
        }
        guard activeCalls < maxCalls else { return edge.reply(to: inbound, status: 503, extraHeaders: [("Retry-After", "5")]) }
        let domain = edge.configuration.domain
        let callee = admitted.calleeUser

        // Where to: the callee's registered phones; for an account's call to a number nobody here has registered,
        // the trunk whose prefix it matches (never from a trunk to a trunk: no transit for toll fraud). A
        // subscription goes to one phone only (the most recent binding): one notifier, one dialog.
        let subscribing = request.method == .subscribe
        if subscribing, !watchPolicy.permits(watcher: admitted.caller.account, watched: callee) {
            return edge.reply(to: inbound, status: 403)
        }
        var targets = bindingTargets(of: "sip:\(callee)@\(domain)", edge: edge, wiring: admitted.wiring)
        if subscribing { targets = Array(targets.suffix(1)) }
        var calleeAOR = "sip:\(callee)@\(domain)"
        var outboundTrunk: Trunk?
        if targets.isEmpty, !subscribing, case .account = admitted.caller,
            let trunk = trunks.first(where: { $0.routes(callee) }),
            let address = admitted.wiring.addresses(trunk.flow), let trunkPeer = trunk.flow.peer
        {
            outboundTrunk = trunk
            calleeAOR = trunk.uri(for: callee)
            targets = [CallSession.Target(contact: calleeAOR, flow: trunkPeer, address: address,
                                          credentials: trunk.credentials,
                                          party: MediaParty(signalsFrom: trunk.flow.remote.endpoint?.address,
                                                            isTrunk: true))]
        }
        // STIR/SHAKEN: a trunk's call verified (refused, or marked for the callee); an account's call to a trunk
        // signed.
        var verified: IdentityService.Verdict?
        if case .trunk(let trunk) = admitted.caller, trunk.verifiesIdentity, let identity,
            let service = edge.configuration.identity
        {
            verified = identity
            let source = inbound.source.ipAddress
            let epochSeconds = edge.clock.epochSeconds()
            if case .failed(let reason) = identity.verstat {
                edge.defense.record(SecurityEvent(kind: .identityFailed, source: source, account: trunk.name,
                                                  reason: reason.rawValue, epochSeconds: epochSeconds))
            }
            if identity.replayed {
                edge.defense.record(SecurityEvent(kind: .identityReplayed, source: source, account: trunk.name,
                                                  reason: "the same PASSporT again while still fresh",
                                                  epochSeconds: epochSeconds))
            }
            if let refusal = service.rejection(of: identity) {
                let text = refusal.reason.replacingOccurrences(of: "\"", with: "")
                return edge.reply(to: inbound, status: refusal.status, reason: refusal.reason,
                                  extraHeaders: [("Reason", "SIP ;cause=\(refusal.status) ;text=\"\(text)\"")])
            }
        }
        guard var presented = present(admitted, towards: outboundTrunk, verstat: verified?.verstat.parameterValue,
                                      verifiedNumber: verified?.number, edge: edge) else {
            return edge.reply(to: inbound, status: 400)
        }
        var recordedIdentity = verified.map { verdict in
            verdict.verstat.parameterValue + (verdict.verstat.reason.map { ":" + $0.rawValue } ?? "")
        }
        if let outboundTrunk, outboundTrunk.signsIdentity, case .account(let username, let asserted) = admitted.caller,
            let service = edge.configuration.identity,
            let value = service.identity(account: username, orig: asserted, dest: callee,
                                         epochSeconds: edge.clock.epochSeconds()),
            let field = try? SIPHeaderField(.identity, value: value)
        {
            presented.headers.append(field)
            recordedIdentity = "signed:" + service.attestation(of: username).rawValue
        }
        // The media policy: a trunk's own when one takes part; between accounts, plain RTP only where both may.
        let callMediaPolicy: MediaPolicy
        if case .trunk(let trunk) = admitted.caller {
            callMediaPolicy = trunk.mediaPolicy
        } else if let outboundTrunk {
            callMediaPolicy = outboundTrunk.mediaPolicy
        } else if case .account(let username, _) = admitted.caller, plainRTPAccounts.contains(username),
            plainRTPAccounts.contains(callee)
        {
            callMediaPolicy = MediaPolicy(allowsPlainRTP: true, allowedSuites: mediaPolicy.allowedSuites)
        } else {
            callMediaPolicy = mediaPolicy
        }
        // A trunk whose SRTP ends at the relay (the caller's, or the one the call goes out by): the call's SDP
        // carries both legs' suites, the account's (held to the edge's policy on its own leg) and the trunk's.
        let bridgedTrunk = [admitted.caller.trunk, outboundTrunk].compactMap { $0 }.first(where: \.bridgesSRTP)
        var callPolicy = callMediaPolicy
        if let bridgedTrunk {
            callPolicy.allowedSuites = bridgedTrunk.mediaPolicy.allowedSuites
                + mediaPolicy.allowedSuites.filter { !bridgedTrunk.mediaPolicy.allowedSuites.contains($0) }
        }
        // Each party as its own account's or trunk's setting says (the account field as the caller's).
        let callerRecording: PartyRecording
        switch admitted.caller {
        case .account(let username, _): callerRecording = accountPartyRecording[username] ?? partyRecording
        case .trunk(let trunk): callerRecording = trunk.cdrParties ?? partyRecording
        }
        let calleeRecording = outboundTrunk.map { $0.cdrParties ?? partyRecording }
            ?? accountPartyRecording[callee] ?? partyRecording
        var setup = CallSession.Setup(
            invite: request, forwardedHeaders: presented.headers, presentedCaller: presented.from,
            callee: "<\(calleeAOR)>", callerAddress: admitted.address, targets: targets, mediaPolicy: callPolicy,
            headerPolicy: callerHeaderPolicy, callerUsesUDP: inbound.transport == .udp,
            recordID: SIPTag.make() + SIPTag.make(), recordedCaller: callerRecording.recorded(presented.recordedCaller),
            recordedCallee: calleeRecording.recorded("sip:\(callee)@\(domain)"),
            account: callerRecording.recorded(presented.recordedAccount),
            maxDurationSeconds: subscribing ? nil : maxCallSeconds, ringTimeoutSeconds: subscribing ? nil : ringTimeoutSeconds)
        setup.timers = timers
        setup.pseudonymKeyID = callerRecording.keyID ?? calleeRecording.keyID
        setup.identity = recordedIdentity
        setup.calleeHeaderPolicy = headerPolicy
        if subscribing {
            // The notifier is asked for no more than the edge keeps a subscription (RFC 6665 §4.1.2.1: it may grant
            // less, never more), so the subscriber refreshes in time.
            let cap = accountLimits.subscriptionSeconds
            setup.maxSubscriptionSeconds = cap
            setup.forwardedHeaders = setup.forwardedHeaders.map { field in
                guard field.kind == .expires, let asked = Int(field.value.trimmingCharacters(in: .whitespaces)),
                    asked > cap, let capped = try? SIPHeaderField(.expires, value: String(cap))
                else { return field }
                return capped
            }
        }
        // Transfers only between the edge's own users, and never in a call with a carrier (which would place the
        // transferred call wherever the Refer-To says, at the edge's expense).
        setup.referDomain = admitted.caller.trunk == nil && outboundTrunk == nil ? domain : nil
        setup.caller = MediaParty(signalsFrom: admitted.inbound.source.policyAddress,
                                  isTrunk: admitted.caller.trunk != nil)
        setup.addressPolicy = addressPolicy.withLock { $0 }
        if case .trunk(let trunk) = admitted.caller { setup.trunk = trunk.name } else { setup.trunk = outboundTrunk?.name }
        var inboundTrunk: String?
        var account: String?
        switch admitted.caller {
        case .trunk(let trunk): inboundTrunk = trunk.name
        case .account(let username, _): account = username
        }
        // One account's share of what all share: its calls, its subscriptions, the relay ports of its ringing calls.
        let relay = subscribing ? nil : mediaRelay.withLock { $0 }
        let offer = relay == nil ? nil : try? SessionDescription(parsing: request.body)
        let sections = min(max(1, offer?.media.count ?? 1), RelayCall.maximumSections)
        let reservedSections = relay == nil ? 0 : sections
        if let account, let limit = reserve(account: account, subscription: subscribing, sections: reservedSections) {
            edge.defense.record(SecurityEvent(kind: .rateLimited, source: admitted.inbound.source.ipAddress,
                                              account: "sip:\(account)@\(domain)", reason: "over the \(limit)",
                                              epochSeconds: edge.clock.epochSeconds()))
            return edge.reply(to: inbound, status: 503, extraHeaders: [("Retry-After", "5")])
        }
        var heldTrunk: Trunk?
        /// Gives the reservations back when the call does not go ahead.
        func unreserve() {
            if let account {
                release(account: account, calls: subscribing ? 0 : 1, subscriptions: subscribing ? 1 : 0,
                        sections: reservedSections)
            }
            if let heldTrunk { releaseTrunkCall(heldTrunk.name) }
        }
        // A trunk's calls at once, in and out (``Trunk/maxCalls``).
        if let callTrunk = admitted.caller.trunk ?? outboundTrunk {
            guard takeTrunkCall(callTrunk) else {
                unreserve()
                return edge.reply(to: inbound, status: 503, extraHeaders: [("Retry-After", "5")])
            }
            heldTrunk = callTrunk
        }
        // Subscriptions cost nothing (and never reach a trunk): only calls meet the toll-fraud rules.
        let fraud = subscribing ? FraudMonitor.Verdict() : edge.fraud.check(
            account: account, inboundTrunk: inboundTrunk, outboundTrunk: outboundTrunk?.name, dialled: callee,
            callID: setup.recordID, source: admitted.inbound.source.ipAddress ?? "?",
            epochSeconds: edge.clock.epochSeconds(), now: edge.clock.monotonic())
        for event in fraud.events { edge.defense.record(event) }
        if let suspended = fraud.suspendedAccount {
            edge.defense.suspend(account: suspended, reason: "fraud rules", epochSeconds: edge.clock.epochSeconds())
        }
        if let status = fraud.refusal {
            unreserve()
            return edge.reply(to: inbound, status: status)
        }
        var anchor: RelayAnchor?
        if let relay {
            // Ports for every section of the offer (or one, for a late offer), taken now: the INVITE goes out with
            // the relay's address. No ports: no call, rather than media that bypasses the relay.
            // Each side on the relay's address of its own family: the caller's offer's (or, for a late offer, the
            // family it signals from), the callee's that of the edge's address towards it.
            let source = admitted.inbound.source.ipAddress
            let offerHost = offer.flatMap { ($0.media.first?.connections.first ?? $0.connection)?.address }
            let callerIPv6 = (offerHost ?? source).map { $0.contains(":") }
            let calleeIPv6: Bool? = targets.first.flatMap { target in
                switch target.address.host {
                case .ipv4: false
                case .ipv6: true
                case .hostname: nil
                }
            } ?? callerIPv6
            let party = account.map { "sip:\($0)@\(domain)" } ?? inboundTrunk.map { "trunk:\($0)" }
            // Bridged, the account's leg carries SRTP of the edge's suites; the trunk's, what the trunk is set to.
            var bridging: RelayAnchor.Bridging?
            if let bridgedTrunk {
                let accountLeg = RelayAnchor.Bridging.Leg.sdes(mediaPolicy.allowedSuites)
                if admitted.caller.trunk != nil {
                    bridging = .init(caller: bridgedTrunk.bridgedLeg, callee: accountLeg)
                } else {
                    bridging = .init(caller: accountLeg, callee: bridgedTrunk.bridgedLeg)
                    setup.callerLegPolicy = callerLegPolicy(admitted)
                }
            }
            anchor = RelayAnchor(wiring: relay, sections: sections, callerIPv6: callerIPv6,
                                 calleeIPv6: calleeIPv6, bridging: bridging,
                                 callID: (try? request.callID()) ?? "") { [weak edge] finding in
                guard let edge else { return }
                edge.defense.record(SecurityEvent(kind: finding.eventKind, source: source, account: party,
                                                  reason: finding.description, epochSeconds: edge.clock.epochSeconds()))
            }
            guard anchor != nil else {
                unreserve()
                edge.logger.warning("media relay has no ports left; call refused")
                edge.fraud.ended(callID: setup.recordID, answeredAtMilliseconds: nil,
                                 endedAtMilliseconds: edge.clock.epochMilliseconds(), now: edge.clock.monotonic())
                return edge.reply(to: inbound, status: 503, extraHeaders: [("Retry-After", "5")])
            }
            setup.mediaAnchor = anchor
        }
        let (session, actions) = CallSession.start(setup, now: edge.clock.epochMilliseconds())
        let callerFlow = SIPFlow(transport: inbound.transport, remote: inbound.source)
        if session.isFinished {  // refused at once (488, 480): it leaves nothing behind, and copies get its answer
            unreserve()
            if case .toCaller(let bytes)? = actions.last(where: { if case .toCaller = $0 { true } else { false } }) {
                edge.rememberFinal(bytes, for: inbound)
            }
        } else {
            // Checked and taken under one lock: a copy of the INVITE handled at the same time on another loop is a
            // retransmission, and its session (not yet sent anything) is dropped.
            let taken = shard(key).table.withLock { table -> Bool in
                guard table.byCaller[key] == nil else { return false }
                table.byCaller[key] = Entry(session: session, callerFlow: callerFlow, anchor: anchor, trunk: setup.trunk,
                                            account: account, isSubscription: subscribing,
                                            ringingSections: reservedSections)
                return true
            }
            guard taken else {
                unreserve()
                _ = anchor?.finish()
                edge.fraud.ended(callID: setup.recordID, answeredAtMilliseconds: nil,
                                 endedAtMilliseconds: edge.clock.epochMilliseconds(), now: edge.clock.monotonic())
                return nil
            }
            for (index, callID) in session.calleeCallIDs.enumerated() {
                shard(callID).table.withLock { $0.byCallee[callID] = (key, index) }
            }
        }
        perform(actions, key: key, callerFlow: callerFlow, anchor: anchor, edge: edge, inbound: inbound)
        return nil
    }

    /// A copy of a call's initial request (or of a relayed one) that the edge has taken already: the session
    /// answers it (its final answer again, if it gave one), or the relayed request's answer goes again. Never
    /// admitted a second time.
    func initialRequestAgain(_ inbound: SIPInbound, edge: EdgeService) -> SIPReply? {
        let request = inbound.message
        guard let callerKey = Self.callerKey(request) else { return nil }
        if request.method == .invite || request.method == .subscribe {
            if shard(callerKey).table.withLock({ $0.byCaller[callerKey] != nil }) {
                update(callerKey, edge: edge, inbound: inbound) { $0.initialRequestRetransmitted(request) }
            }
            return nil
        }
        guard let cseq = try? request.cseq() else { return nil }
        let key = callerKey + "\u{1}\(cseq.sequenceNumber)"
        return shard(key).table.withLock { $0.relays[key] }?.relay.answer.map { EdgeService.reply($0, to: inbound) }
    }
}
