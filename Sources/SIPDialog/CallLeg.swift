import SIPMessage

/// Where the edge sends from on one leg: the host, port and transport its Via and Contact name.
public struct SIPLocalAddress: Hashable, Sendable {
    /// The edge's host on this leg (an IP or name the peer can reach).
    public var host: SIPHost
    /// The port.
    public var port: UInt16
    /// The Via transport token: `UDP`, `TCP` or `TLS`.
    public var transport: String

    /// Creates an address.
    public init(host: SIPHost, port: UInt16, transport: String) {
        self.host = host
        self.port = port
        self.transport = transport.uppercased()
    }

    /// A Via value with `branch` and `rport` (RFC 3261 §8.1.1.7, RFC 3581).
    public func via(branch: String) -> String { "SIP/2.0/\(transport) \(host):\(port);branch=\(branch);rport" }

    /// The Contact the edge puts in requests and responses on this leg (RFC 3261 §8.1.1.8).
    public var contact: String {
        transport == "UDP" ? "<sip:\(host):\(port)>" : "<sip:\(host):\(port);transport=\(transport.lowercased())>"
    }

    /// A fresh RFC 3261 branch: the magic cookie and 128 unpredictable bits.
    public static func newBranch() -> String { "z9hG4bK" + SIPTag.make() + SIPTag.make() }
}

/// One dialog of a call through the edge, seen from the edge (RFC 3261 §12): the B2BUA keeps one towards the
/// caller (the edge as UAS) and one towards each callee branch (the edge as UAC), each with its own Call-ID, tags and
/// CSeq space, so nothing of one leg's identifiers appears on the other.
public struct CallLeg: Hashable, Sendable {
    /// The leg's Call-ID.
    public let callID: String
    /// The edge's side: a name-addr without tag (From in requests the edge sends).
    public let local: String
    /// The edge's tag.
    public let localTag: String
    /// The peer's side: a name-addr without tag.
    public let remote: String
    /// The peer's tag, once known.
    public private(set) var remoteTag: String?
    /// Where in-dialog requests go (the peer's Contact, RFC 3261 §12.1).
    public private(set) var remoteTarget: String
    /// Route set for in-dialog requests, in the order they are written (RFC 3261 §12.1.1, §12.1.2).
    public private(set) var routeSet: [String]
    /// The last CSeq the edge used on this leg.
    public private(set) var localCSeq: UInt32
    /// The highest CSeq the peer used (requests below it are out of order, RFC 3261 §12.2.2).
    public private(set) var remoteCSeq: UInt32?

    /// The caller's leg, from the INVITE that opened it: the edge is the UAS (RFC 3261 §12.1.1).
    /// - Throws: ``SIPParseError`` if From, To, Call-ID, CSeq, Contact or Record-Route do not parse, or the INVITE
    ///   has no Contact.
    public static func answering(_ invite: SIPMessage, localTag: String) throws(SIPParseError) -> CallLeg {
        guard case .contacts(let contacts)? = try invite.contacts(), let target = contacts.first?.address else {
            throw SIPParseError(.missingHeader, "an INVITE needs a Contact", headerName: "Contact")
        }
        let from = try invite.from()
        return CallLeg(
            callID: try invite.callID(), local: try Self.withoutTag(invite.to()), localTag: localTag,
            remote: try Self.withoutTag(from), remoteTag: from.tag, remoteTarget: target.uri.description,
            routeSet: try invite.recordRoutes().map(\.description), localCSeq: 0,
            remoteCSeq: try invite.cseq().sequenceNumber)
    }

    /// A callee's leg, before its INVITE is sent: the edge is the UAC, with a fresh Call-ID and tag.
    public static func calling(target: String, from local: String, to remote: String) -> CallLeg {
        CallLeg(callID: SIPTag.make() + SIPTag.make(), local: local, localTag: SIPTag.make(), remote: remote,
                remoteTag: nil, remoteTarget: target, routeSet: [], localCSeq: 0, remoteCSeq: nil)
    }

    /// Learns the peer's tag, target and route set from a response to the edge's INVITE that creates or refreshes
    /// the dialog (1xx with a To tag, or 2xx; RFC 3261 §12.1.2: Record-Route in reverse order).
    /// - Throws: ``SIPParseError`` if To, Contact or Record-Route do not parse.
    public mutating func learn(from response: SIPMessage) throws(SIPParseError) {
        guard let status = response.statusCode, status > 100, status < 300, let tag = try response.toTag() else {
            return
        }
        remoteTag = tag
        if case .contacts(let contacts)? = try response.contacts(), let target = contacts.first?.address {
            remoteTarget = target.uri.description
        }
        routeSet = try response.recordRoutes().reversed().map(\.description)
    }

    /// Takes the peer's tag from a request that creates the dialog on the edge's side (a NOTIFY before the 2xx to a
    /// SUBSCRIBE, RFC 6665 §4.1.2.4).
    public mutating func establish(remoteTag tag: String) { remoteTag = tag }

    /// Takes the Contact of a target-refresh request or its 2xx as the new remote target (RFC 3261 §12.2).
    public mutating func refreshTarget(from message: SIPMessage) {
        if case .contacts(let contacts)? = try? message.contacts(), let target = contacts.first?.address {
            remoteTarget = target.uri.description
        }
    }

    /// Records an in-dialog request from the peer; false if its CSeq is lower than one seen (RFC 3261 §12.2.2:
    /// answer 500).
    public mutating func accept(remoteCSeq cseq: UInt32) -> Bool {
        if let remoteCSeq, cseq < remoteCSeq { return false }
        remoteCSeq = cseq
        return true
    }

    /// Builds a request on this leg (RFC 3261 §12.2.1.1): Request-URI the remote target, Route the route set, a
    /// new Via branch from `via`, From/To/Call-ID of the dialog, the next CSeq (or `cseq` for ACK and CANCEL),
    /// the edge's Contact for target-refreshing methods, then `headers` and `body`. `maxForwards` is the caller's
    /// less one when the request continues one (RFC 3261 §16.6 step 3), else 70.
    /// - Throws: ``SIPParseError`` if an extra header would break the message (header injection).
    public mutating func request(
        _ method: SIPMethod, via address: SIPLocalAddress, cseq: UInt32? = nil, maxForwards: Int = 70,
        headers: [(String, String)] = [], body: [UInt8] = []
    ) throws(SIPParseError) -> (bytes: [UInt8], branch: String) {
        let number: UInt32
        if let cseq {
            number = cseq
        } else {
            localCSeq += 1
            number = localCSeq
        }
        let branch = SIPLocalAddress.newBranch()
        var lines = ["\(method) \(remoteTarget) SIP/2.0", "Via: \(address.via(branch: branch))",
                     "Max-Forwards: \(maxForwards)"]
        lines += routeSet.map { "Route: \($0)" }
        lines.append("From: \(local);tag=\(localTag)")
        lines.append("To: \(remote)" + (remoteTag.map { ";tag=\($0)" } ?? ""))
        lines += ["Call-ID: \(callID)", "CSeq: \(number) \(method)"]
        if method == .invite || method == .update || method == .subscribe || method == .notify || method == .refer {
            lines.append("Contact: \(address.contact)")
        }
        for (name, value) in headers { lines.append(try SIPHeaderField(name: name, value: value).description) }
        lines.append("Content-Length: \(body.count)")
        return (Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8) + body, branch)
    }

    /// A name-addr without its tag, for re-use in From and To.
    static func withoutTag(_ address: SIPAddress) -> String {
        var copy = address
        copy.parameters.removeAll { $0.name.lowercased() == "tag" }
        return copy.description
    }
}
