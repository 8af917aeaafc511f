import Proxy
import Registrar
import SIPTransportNIO
import Storage

// The router's requests outside dialogs (MESSAGE, OPTIONS to a user): relayed to every binding as a RequestRelay.
extension CallRouter {
    /// A MESSAGE (RFC 3428) or an OPTIONS to a user, outside any dialog: authenticated like a call, then relayed to
    /// every phone of the user; the first 2xx or the best failure goes back.
    func relay(_ inbound: SIPInbound, credentials: PresentedCredentials, account: Account?,
               certificateAccount: (username: String, domain: String)? = nil, edge: EdgeService) -> SIPReply?
    {
        let request = inbound.message
        guard let callerKey = Self.callerKey(request), let cseq = try? request.cseq() else {
            return edge.reply(to: inbound, status: 400)
        }
        let key = callerKey + "\u{1}\(cseq.sequenceNumber)"
        if let known = shard(key).table.withLock({ $0.relays[key] }) {
            return known.relay.answer.map { EdgeService.reply($0, to: inbound) }  // a retransmission
        }
        let admitted: Admission
        switch admit(inbound, credentials: credentials, account: account, certificateAccount: certificateAccount,
                     edge: edge) {
        case .refused(let reply): return reply
        case .admitted(let admission): admitted = admission
        }
        guard shards.reduce(0, { $0 + $1.table.withLock { $0.relays.count } }) < maxCalls else {
            return edge.reply(to: inbound, status: 503, extraHeaders: [("Retry-After", "5")])
        }
        let aor = "sip:\(admitted.calleeUser)@\(edge.configuration.domain)"
        let targets = bindingTargets(of: aor, edge: edge, wiring: admitted.wiring)
        guard let presented = present(admitted, towards: nil, edge: edge) else { return edge.reply(to: inbound, status: 400) }
        let (relay, actions) = RequestRelay.start(
            request, forwardedHeaders: presented.headers, from: presented.from, to: "<\(aor)>", targets: targets,
            headerPolicy: callerHeaderPolicy, timers: timers)
        let originFlow = SIPFlow(transport: inbound.transport,
                                 remote: EdgeService.udpDestination(inbound) ?? inbound.source)
        if !relay.isFinished {
            for (index, callID) in relay.targetCallIDs.enumerated() {
                shard(callID).table.withLock { $0.relayTargets[callID] = (key, index) }
            }
            shard(key).table.withLock { $0.relays[key] = RelayEntry(relay: relay, origin: originFlow) }
        }
        return performRelay(actions, key: key, origin: originFlow, edge: edge)
    }

    func updateRelay(_ key: String, edge: EdgeService, _ body: (inout RequestRelay) -> [RequestRelay.Action],
                     expire: Bool = false) {
        let outcome = shard(key).table.withLock { table -> ([RequestRelay.Action], SIPFlow, [String])? in
            guard var entry = table.relays[key] else { return nil }
            let actions = body(&entry.relay)
            if expire {
                table.relays[key] = nil
                relayTimers.forget(key)
                return (actions, entry.origin, entry.relay.targetCallIDs)
            }
            table.relays[key] = entry
            return (actions, entry.origin, [])
        }
        for callID in outcome?.2 ?? [] { shard(callID).table.withLock { $0.relayTargets[callID] = nil } }
        guard let (actions, origin, _) = outcome, let reply = performRelay(actions, key: key, origin: origin, edge: edge)
        else { return }
        _ = wiring.withLock({ $0?.sender })?(reply.bytes, origin)
    }

    /// Sends and schedules what a relay asked for; returns its answer for the original request.
    func performRelay(_ actions: [RequestRelay.Action], key: String, origin: SIPFlow, edge: EdgeService) -> SIPReply? {
        guard let hooks = wiring.withLock({ $0 }) else { return nil }
        var reply: SIPReply?
        for action in actions {
            switch action {
            case .reply(let bytes):
                reply = SIPReply(bytes: bytes, destination: origin.transport == .udp ? origin.remote : nil)
            case .toTarget(_, let bytes, let flow):
                if let flow = SIPFlow(flow) { _ = hooks.connector(bytes, flow) }
            case .startTimer(let timer, let delay):
                // The relay's expiry (64·T1) ends the entry's life: retransmissions of the request are answered
                // until then.
                relayTimers.start(timer, for: key, after: delay, now: edge.clock.monotonic(), scheduler: hooks.scheduler) {
                    [weak self] in
                    self?.updateRelay(key, edge: edge, { $0.timerFired(timer) }, expire: timer == .expiry)
                }
            }
        }
        return reply
    }
}
