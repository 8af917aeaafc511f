import Logging
import NIOCore
import Proxy
import Registrar
import SIPAuth
import SIPDialog
import SIPMessage
import SIPTransportNIO
import SecurityPolicy
import Storage
import Synchronization

/// Calls between registered users through the edge (issue 4): authenticates a new INVITE (407 with the digest of
/// the registrar), checks that the caller claims its own identity (403), finds the callee's bindings and runs a
/// ``CallSession`` per call, routing responses, ACK, CANCEL and BYE to it and sending its messages down the
/// parties' flows. Sessions are bounded; a call that ends writes its CDR to the store.
public final class CallRouter: Sendable {
    /// Sends bytes down a flow (the server's ``SIPServer/send(_:over:)``); false when the flow is gone.
    public typealias Sender = @Sendable ([UInt8], SIPFlow) -> Bool
    /// The edge's own address for a transport (its listener), for Via and Contact.
    public typealias LocalAddresses = @Sendable (SIPTransportKind) -> SIPLocalAddress?
    /// Runs a closure after some milliseconds (an event loop's `scheduleTask`), for retransmissions over UDP.
    public typealias Scheduler = @Sendable (Int, @escaping @Sendable () -> Void) -> Void

    struct Entry: Sendable {
        var session: CallSession
        var callerFlow: SIPFlow
    }

    struct Table: Sendable {
        /// Sessions by the caller's Call-ID and From tag.
        var byCaller: [String: Entry] = [:]
        /// The caller key and branch of each callee leg, by the leg's Call-ID.
        var byCallee: [String: (caller: String, branch: Int)] = [:]
    }

    private let table = Mutex(Table())
    /// The transport hooks, in a class: a function value read through `Mutex.withLock`'s generic `inout` comes back
    /// wrapped in a reabstraction thunk and is written back that way, so closures stored directly in the mutex grew
    /// one layer deeper at every access (seconds of CPU per call after a few thousand calls).
    private final class Wiring: Sendable {
        let sender: Sender
        let addresses: LocalAddresses
        let scheduler: Scheduler?
        init(sender: @escaping Sender, addresses: @escaping LocalAddresses, scheduler: Scheduler?) {
            self.sender = sender
            self.addresses = addresses
            self.scheduler = scheduler
        }
    }

    private let wiring = Mutex<Wiring?>(nil)
    /// Most calls at once; beyond it new INVITEs get 503.
    public let maxCalls: Int
    /// The media policy of calls between accounts.
    public let mediaPolicy: MediaPolicy
    /// What each side may see of the other's headers.
    public let headerPolicy: HeaderPolicy

    init(maxCalls: Int = 10_000, mediaPolicy: MediaPolicy = .srtpOnly, headerPolicy: HeaderPolicy = .minimizing) {
        self.maxCalls = maxCalls
        self.mediaPolicy = mediaPolicy
        self.headerPolicy = headerPolicy
    }

    /// Connects the router to the transport once the listeners are bound. Until then INVITEs get 503. Without a
    /// scheduler nothing is retransmitted (enough for reliable transports and tests).
    public func attach(sender: @escaping Sender, addresses: @escaping LocalAddresses, scheduler: Scheduler? = nil) {
        let hooks = Wiring(sender: sender, addresses: addresses, scheduler: scheduler)
        wiring.withLock { $0 = hooks }
    }

    /// Disconnects the router from the transport at shutdown: nothing more is sent or scheduled, and new INVITEs
    /// get 503.
    public func detach() {
        wiring.withLock { $0 = nil }
    }

    /// How many calls are in progress.
    public var activeCalls: Int { table.withLock { $0.byCaller.count } }

    // MARK: New calls

    func invite(_ inbound: SIPInbound, credentials: PresentedCredentials, account: Account?, edge: EdgeService)
        -> SIPReply?
    {
        let request = inbound.message
        func answer(_ status: Int, _ headers: [(String, String)] = []) -> SIPReply? {
            edge.reply(to: inbound, status: status, extraHeaders: headers)
        }
        guard let key = Self.callerKey(request) else { return answer(400) }
        if table.withLock({ $0.byCaller[key] != nil }) { return nil }  // a retransmission: the session answers
        guard let maxForwards = try? request.maxForwards() ?? 70, maxForwards > 0 else { return answer(483) }
        guard let wiring = wiring.withLock({ $0 }) else { return answer(503, [("Retry-After", "5")]) }

        let decision = edge.authenticate(request, credentials: credentials, account: account)
        let username: String
        switch decision {
        case .challenge(let values):
            return answer(407, values.map { ("Proxy-Authenticate", $0) })
        case .reject(let status, let event):
            if let event {
                edge.report(event.rawValue, inbound,
                            account: credentials.claimedUsername(realm: edge.configuration.domain))
            }
            return answer(status)
        case .authenticated(let name, _):
            username = name
        }
        let domain = edge.configuration.domain
        // The caller may only call as itself (RFC 3261 §22, issue 4): a From of another account is a spoof.
        guard case .sip(let fromURI)? = try? request.from().uri, fromURI.user == username,
            edge.servedDomain(fromURI.host) != nil
        else {
            edge.report("caller-id-spoofing", inbound, account: "sip:\(username)@\(domain)")
            return answer(403)
        }
        guard case .sip(let target)? = try? request.requestLine?.requestURI(), let callee = target.user,
            edge.servedDomain(target.host) != nil
        else { return answer(404) }
        guard activeCalls < maxCalls else { return answer(503, [("Retry-After", "5")]) }

        let bindings = edge.location.bindings(of: "sip:\(callee)@\(domain)")
        let targets = bindings.compactMap { binding -> CallSession.Target? in
            guard let flowText = binding.flow, let flow = SIPFlow(flowText), let address = wiring.addresses(flow.transport)
            else { return nil }
            return CallSession.Target(contact: binding.contact, flow: flowText, address: address)
        }
        guard let callerAddress = wiring.addresses(inbound.transport) else { return answer(500) }
        // What the callee may see: the caller's end-to-end headers after identity and header policy (RFC 3325:
        // the edge asserts the identity it authenticated; RFC 3323 privacy), and the caller as it authenticated.
        let identity = "sip:\(username)@\(domain)"
        var policed = request
        do {
            try IdentityPolicy.apply(to: &policed, hop: .init(sourceIsTrusted: false, authenticatedIdentity: identity,
                                                              destinationIsTrusted: false))
            try headerPolicy.apply(to: &policed)
        } catch {
            return answer(400)
        }
        let presented: String
        if let from = try? policed.from(), from.uri.description == "sip:anonymous@anonymous.invalid" {
            presented = "\"Anonymous\" <sip:anonymous@anonymous.invalid>"
        } else {
            let display = (try? request.from().displayName).flatMap { $0 }.map { "\"\($0)\" " } ?? ""
            presented = "\(display)<\(identity)>"
        }
        let setup = CallSession.Setup(
            invite: request, forwardedHeaders: B2BUA.endToEndHeaders(of: policed), presentedCaller: presented,
            callee: "<sip:\(callee)@\(domain)>", callerAddress: callerAddress, targets: targets, mediaPolicy: mediaPolicy,
            headerPolicy: headerPolicy, callerUsesUDP: inbound.transport == .udp,
            recordID: SIPTag.make() + SIPTag.make(), recordedCaller: "sip:\(username)@\(domain)",
            recordedCallee: "sip:\(callee)@\(domain)", account: "\(username)@\(domain)")
        let (session, actions) = CallSession.start(setup, now: Self.nowMilliseconds())
        let callerFlow = SIPFlow(transport: inbound.transport, remote: inbound.source)
        if !session.isEnded {  // a call refused at once (488, 480) leaves nothing behind
            table.withLock { table in
                table.byCaller[key] = Entry(session: session, callerFlow: callerFlow)
                for (index, callID) in session.calleeCallIDs.enumerated() { table.byCallee[callID] = (key, index) }
            }
        }
        perform(actions, key: key, callerFlow: callerFlow, edge: edge, inbound: inbound)
        return nil
    }

    // MARK: Everything else of a call

    func route(_ inbound: SIPInbound, edge: EdgeService) -> SIPReply? {
        let message = inbound.message
        guard let callID = try? message.callID() else { return nil }
        let now = Self.nowMilliseconds()
        if !message.isRequest {
            guard let (key, branch) = table.withLock({ $0.byCallee[callID] }),
                (try? message.cseq().method) == .invite
            else { return nil }  // answers to the edge's BYE, CANCEL and ACK need nothing more
            return update(key, edge: edge, inbound: inbound) { $0.calleeResponded(message, branch: branch, now: now) }
        }
        let method = message.method
        if let key = Self.callerKey(message), table.withLock({ $0.byCaller[key] != nil }) {
            // In-dialog requests must carry the caller-side tag the edge gave (CANCEL has none: it matches the INVITE).
            let toTag = (try? message.toTag()) ?? nil
            if method != .cancel, !table.withLock({ $0.byCaller[key]?.session.isCallerDialog(toTag: toTag) ?? false }) {
                return method == .ack ? nil : edge.reply(to: inbound, status: 481)
            }
            switch method {
            case .ack?: return update(key, edge: edge, inbound: inbound) { $0.callerAcknowledged() }
            case .cancel?:
                let ok = try? message.makeResponse(status: 200, source: inbound.sourceHostPort)
                _ = update(key, edge: edge, inbound: inbound) { $0.callerCancelled(now: now) }
                return ok.map { EdgeService.reply($0, to: inbound) }
            case .bye?: return update(key, edge: edge, inbound: inbound) { $0.byeReceived(message, fromCaller: true, now: now) }
            default: break
            }
        } else if method == .bye, let (key, branch) = table.withLock({ $0.byCallee[callID] }),
            table.withLock({ $0.byCaller[key]?.session.isCalleeDialog(branch: branch, fromTag: try? message.fromTag(),
                                                                      toTag: try? message.toTag()) ?? false })
        {
            return update(key, edge: edge, inbound: inbound) { $0.byeReceived(message, fromCaller: false, now: now) }
        }
        switch method {
        case .ack?: return nil  // for a final answer the edge gave itself
        case .invite?: return edge.reply(to: inbound, status: 501)  // re-INVITE is not relayed yet
        default: return edge.reply(to: inbound, status: 481)  // no such call or transaction (RFC 3261 §12.2.2, §9.2)
        }
    }

    /// Runs `body` on a session, performs its actions, and forgets the session once it has ended.
    private func update(_ key: String, edge: EdgeService, inbound: SIPInbound,
                        _ body: (inout CallSession) -> [CallSession.Action]) -> SIPReply? {
        let outcome = table.withLock { table -> ([CallSession.Action], SIPFlow)? in
            guard var entry = table.byCaller[key] else { return nil }
            let actions = body(&entry.session)
            if entry.session.isEnded {
                table.byCaller[key] = nil
                for callID in entry.session.calleeCallIDs { table.byCallee[callID] = nil }
            } else {
                table.byCaller[key] = entry
            }
            return (actions, entry.callerFlow)
        }
        guard let (actions, callerFlow) = outcome else { return nil }
        perform(actions, key: key, callerFlow: callerFlow, edge: edge, inbound: inbound)
        return nil
    }

    private func perform(_ actions: [CallSession.Action], key: String, callerFlow: SIPFlow, edge: EdgeService,
                         inbound: SIPInbound) {
        guard let hooks = wiring.withLock({ $0 }) else { return }
        let sender = hooks.sender
        let scheduler = hooks.scheduler
        for action in actions {
            switch action {
            case .startTimer(let timer, let milliseconds):
                scheduler?(milliseconds) { [weak self] in
                    _ = self?.update(key, edge: edge, inbound: inbound) {
                        $0.timerFired(timer, now: Self.nowMilliseconds())
                    }
                }
            case .toCaller(let bytes):
                _ = sender(bytes, callerFlow)
            case .toCallee(_, let bytes, let flow):
                if let flow = SIPFlow(flow) { _ = sender(bytes, flow) }
            case .securityEvent(let kind):
                edge.report(kind, inbound, account: nil)
            case .finished(let record):
                let store = edge.store
                let logger = edge.logger
                Task {
                    do throws(StorageError) { try await store.saveCallRecords([record]) } catch {
                        logger.error("call record not stored", metadata: ["error": "\(error.code)"])
                    }
                }
            }
        }
    }

    /// A caller-side call: its Call-ID and From tag.
    static func callerKey(_ message: SIPMessage) -> String? {
        guard let callID = try? message.callID(), let tag = try? message.fromTag() else { return nil }
        return callID + "\u{1}" + tag
    }

    static func nowMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
