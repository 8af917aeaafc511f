import NIOCore
import Proxy
import SIPMessage
import SIPTransportNIO

// Everything of a call after its first request: responses, requests in its dialogs, timers, and the actions its
// session asks for, run on the transport.
extension CallRouter {
    /// Everything of a call after its INVITE: responses from either side, and requests in its dialogs.
    func route(_ inbound: SIPInbound, edge: EdgeService) -> SIPReply? {
        let message = inbound.message
        guard let callID = try? message.callID() else { return nil }
        let now = edge.clock.epochMilliseconds()
        if !message.isRequest {
            // From a callee (its leg's Call-ID is the edge's), or from the caller answering the edge's request on the
            // caller's dialog (its Call-ID and tag, the tag now in To).
            let legs = shard(callID).table.withLock { ($0.byCallee[callID], $0.relayTargets[callID]) }
            if let (key, branch) = legs.0 {
                update(key, edge: edge, inbound: inbound) { $0.calleeResponded(message, branch: branch, now: now) }
            } else if let (key, target) = legs.1 {
                updateRelay(key, edge: edge) { $0.targetResponded(message, target: target) }
            } else if let toTag = (try? message.toTag()) ?? nil {
                update(callID + "\u{1}" + toTag, edge: edge, inbound: inbound) { $0.callerResponded(message, now: now) }
            }
            return nil
        }
        let method = message.method
        if let key = Self.callerKey(message) {
            if method == .cancel {
                // CANCEL has no To tag: it matches the INVITE, and is answered here (RFC 3261 §9.2), before the
                // INVITE's 487 goes out.
                guard shard(key).table.withLock({ $0.byCaller[key] != nil }) else {
                    return edge.reply(to: inbound, status: 481)
                }
                if let ok = try? message.makeResponse(status: 200, source: inbound.sourceHostPort),
                    let sender = wiring.withLock({ $0?.sender })
                {
                    let reply = EdgeService.reply(ok, to: inbound)
                    _ = sender(reply.bytes, SIPFlow(transport: inbound.transport,
                                                    remote: reply.destination ?? inbound.source))
                }
                update(key, edge: edge, inbound: inbound) { $0.callerCancelled(now: now) }
                return nil
            }
            if let handled = update(key, edge: edge, inbound: inbound, { $0.callerRequest(message, now: now) }) {
                return handled
            }
        }
        if let (key, branch) = shard(callID).table.withLock({ $0.byCallee[callID] }),
            let handled = update(key, edge: edge, inbound: inbound, { $0.calleeRequest(message, branch: branch, now: now) })
        {
            return handled
        }
        // No such call or transaction (RFC 3261 §12.2.2, §9.2); an ACK is never answered.
        return method == .ack ? nil : edge.reply(to: inbound, status: 481)
    }

    /// Runs `body` on a session, performs its actions, and forgets the session once it has ended. Nil when there is
    /// no such session; else the session's own answer to the message, if it gave one.
    @discardableResult
    func update(_ key: String, edge: EdgeService, inbound: SIPInbound?,
                        _ body: (inout CallSession) -> [CallSession.Action]) -> SIPReply?? {
        let hooks = wiring.withLock { $0 }
        let outcome = shard(key).table.withLock {
            table -> ([CallSession.Action], SIPFlow, [String], RelayAnchor?, AnchoredMedia?)? in
            guard var entry = table.byCaller[key] else { return nil }
            var actions = body(&entry.session)
            let released = Self.releaseMedia(in: &actions, anchor: entry.anchor)
            // Messages leave in the order the session produced them: sent under the call's lock, so that a 180 a
            // losing branch sent just before the winner's 200 cannot overtake that 200 on another event loop.
            if let hooks {
                actions.removeAll { action in
                    switch action {
                    case .toCaller(let bytes):
                        _ = hooks.sender(bytes, entry.callerFlow)
                    case .toCallee(_, let bytes, let flow):
                        if let flow = SIPFlow(flow) { _ = hooks.connector(bytes, flow) }
                    default:
                        return false
                    }
                    return true
                }
            }
            // A trunk's call stops counting once it has ended (it may linger for the finals of cancelled branches).
            if let trunk = entry.trunk, entry.session.isEnded || entry.session.isFinished {
                releaseTrunkCall(trunk)
                entry.trunk = nil
            }
            if let account = entry.account {
                if entry.session.isFinished {
                    release(account: account, calls: entry.isSubscription ? 0 : 1, subscriptions: entry.isSubscription ? 1 : 0,
                            sections: entry.ringingSections)
                } else if entry.ringingSections > 0, entry.session.answeredAtMilliseconds != nil || entry.session.isEnded {
                    release(account: account, calls: 0, subscriptions: 0, sections: entry.ringingSections)
                    entry.ringingSections = 0
                }
            }
            if entry.session.isFinished {
                table.byCaller[key] = nil
                callTimers.forget(key)
                return (actions, entry.callerFlow, entry.session.calleeCallIDs, entry.anchor, released)
            }
            table.byCaller[key] = entry
            return (actions, entry.callerFlow, [], entry.anchor, released)
        }
        guard let (actions, callerFlow, forgotten, anchor, released) = outcome else { return nil }
        for callID in forgotten { shard(callID).table.withLock { $0.byCallee[callID] = nil } }
        return .some(perform(actions, key: key, callerFlow: callerFlow, anchor: anchor, released: released, edge: edge,
                             inbound: inbound))
    }

    /// Takes the media release (``CallSession/Action/releaseMedia``) out of a session's actions and carries it out
    /// at once, before anything in them is sent: the relay's account of the call stops where the session ended it,
    /// and what the parties send as they hang up is no part of the call. Synchronous and without I/O (the relay
    /// closes the sockets in the background), so it may run under the call's lock. The relay's figures, or nil.
    static func releaseMedia(in actions: inout [CallSession.Action], anchor: RelayAnchor?) -> AnchoredMedia? {
        guard actions.contains(.releaseMedia) else { return nil }
        actions.removeAll { $0 == .releaseMedia }
        return anchor?.finish()
    }

    /// Sends, schedules and stores what a session asked for; returns its answer to the message being handled.
    /// Runs outside the call's lock. `released`: the relay's figures when ``releaseMedia(in:anchor:)`` already
    /// ran on these actions; otherwise a release among them finishes `anchor` first.
    @discardableResult
    func perform(_ actions: [CallSession.Action], key: String, callerFlow: SIPFlow, anchor: RelayAnchor?,
                 released: AnchoredMedia? = nil, edge: EdgeService, inbound: SIPInbound?) -> SIPReply? {
        var actions = actions
        let released = released ?? Self.releaseMedia(in: &actions, anchor: anchor)
        guard let hooks = wiring.withLock({ $0 }) else { return nil }
        var reply: SIPReply?
        let sender = hooks.sender
        for action in actions {
            switch action {
            case .startTimer(let timer, let delay):
                let start = { [callTimers, scheduler = hooks.scheduler] in
                    callTimers.start(timer, for: key, after: delay, now: edge.clock.monotonic(), scheduler: scheduler) {
                        [weak self] in
                        _ = self?.update(key, edge: edge, inbound: inbound) {
                            $0.timerFired(timer, now: edge.clock.epochMilliseconds())
                        }
                    }
                }
                // A long timer waits by key: started under the call's lock and only while the call is there, so that
                // one of a call that has just finished cannot wait for, and fire on, a later call with the same key.
                // (A short one fires and finds nothing, or at worst a retransmission timer of a transaction the
                // new call does not have.)
                if delay >= callTimers.longFrom {
                    shard(key).table.withLock { table in if table.byCaller[key] != nil { start() } }
                } else {
                    start()
                }
            case .cancelTimer(let timer):
                callTimers.cancel([timer], for: key)
            case .toCaller(let bytes):
                _ = sender(bytes, callerFlow)
            case .toCallee(_, let bytes, let flow):
                if let flow = SIPFlow(flow) { _ = hooks.connector(bytes, flow) }
            case .reply(let bytes):
                if let inbound { reply = EdgeService.reply(bytes, to: inbound) }
            case .securityEvent(let kind):
                if let inbound {
                    let reason = switch kind {
                    case .malformedMessage: "malformed SDP"
                    case .mediaAddressRefused: "SDP names a media address the edge may not send to"
                    default: "SDP against the media policy"
                    }
                    edge.report(kind, reason: reason, inbound, claimedUser: nil)
                }
            case .releaseMedia:
                break  // carried out before anything was sent
            case .finished(var record):
                if let released { record.add(released) }
                edge.fraud.ended(callID: record.id, answeredAtMilliseconds: record.answeredAtMilliseconds,
                                 endedAtMilliseconds: record.endedAtMilliseconds ?? edge.clock.epochMilliseconds(),
                                 now: edge.clock.monotonic())
                edge.callRecords.write(record)
            }
        }
        return reply
    }

    /// Where to connect to reach a Contact, as the policy allows: its IP literal (the edge resolves no names for
    /// Contacts: a registering client could otherwise point it anywhere), port (default 5060, 5061 for TLS) and
    /// transport. Nil for UDP Contacts (reached down the registered flow) and for what the policy refuses.
    static func contactFlow(_ contact: String, policy: ContactConnections) -> SIPFlow? {
        guard policy != .never, let uri = try? SIPURI(contact) else { return nil }
        let transport: SIPTransportKind
        switch (uri.scheme == .sips, uri.transport) {
        case (true, _), (false, "tls"): transport = .tls
        case (false, "tcp") where policy == .any: transport = .tcp
        default: return nil
        }
        let host: String
        switch uri.host {
        case .ipv4, .ipv6: host = uri.host.addressText
        default: return nil
        }
        guard let address = try? SocketAddress(ipAddress: host, port: Int(uri.port ?? (transport == .tls ? 5061 : 5060)))
        else { return nil }
        return SIPFlow(transport: transport, remote: address)
    }

    /// A caller-side call: its Call-ID and From tag.
    static func callerKey(_ message: SIPMessage) -> String? {
        guard let callID = try? message.callID(), let tag = try? message.fromTag() else { return nil }
        return callID + "\u{1}" + tag
    }
}
