import SIPMessage

/// The message half of the edge's back-to-back user agent: what the callee receives is built afresh, not
/// forwarded, so none of the caller's addresses, ports, Via chain, Record-Route set, Contact or Call-ID reaches
/// it (topology hiding), and the same holds the other way for responses. Policies (media, headers, identity)
/// are the caller's to apply first; this type copies only the end-to-end headers it is given.
public enum B2BUA {
    /// Headers the B2BUA writes itself on each leg, never copied from the other: routing and dialog identity,
    /// the credentials meant for the edge, and the framing.
    public static let ownedHeaders: Set<SIPHeaderKind> = [
        .via, .route, .recordRoute, .from, .to, .callID, .cseq, .contact, .maxForwards, .contentLength,
        .authorization, .proxyAuthorization, .proxyRequire, .wwwAuthenticate, .proxyAuthenticate,
        .authenticationInfo, .path, .serviceRoute,
    ]

    /// The end-to-end headers of a message: those not in ``ownedHeaders``, in order.
    public static func endToEndHeaders(of message: SIPMessage) -> [SIPHeaderField] {
        message.headers.filter { !ownedHeaders.contains($0.kind) }
    }

    /// The INVITE towards one callee branch, for an INVITE from the caller (RFC 3261 §8.1.1, §12.1.2); with `method`
    /// SUBSCRIBE, the SUBSCRIBE towards the notifier for one from the subscriber (RFC 6665).
    ///
    /// - Parameters:
    ///   - invite: the caller's INVITE, after the edge's policies.
    ///   - target: the callee's Request-URI (a registered Contact, or a trunk URI).
    ///   - from: the caller as the callee may see it (a name-addr without tag: the authenticated identity, or the
    ///     anonymous URI), never the caller's own From (whose host may be its IP).
    ///   - to: the callee's address of record (name-addr without tag).
    ///   - address: the edge's Via and Contact address on the callee's side.
    ///   - body: the offer to send (the caller's after the media policy), with its Content-Type in `headers`.
    ///   - headers: the end-to-end headers to carry (``endToEndHeaders(of:)`` of the caller's INVITE after the header
    ///     policy).
    /// - Returns: the request, the new leg, and the branch of its client transaction.
    /// - Throws: ``SIPParseError`` if the caller's Max-Forwards does not parse, or a header would break the message.
    public static func invite(
        bridging invite: SIPMessage, method: SIPMethod = .invite, target: String, from: String, to: String,
        address: SIPLocalAddress, headers: [SIPHeaderField], body: [UInt8]
    ) throws(SIPParseError) -> (bytes: [UInt8], leg: CallLeg, branch: String) {
        var leg = CallLeg.calling(target: target, from: from, to: to)
        let maxForwards = max(0, (try invite.maxForwards() ?? 70) - 1)
        let (bytes, branch) = try leg.request(
            method, via: address, maxForwards: maxForwards, headers: headers.map { ($0.name, $0.value) }, body: body)
        return (bytes, leg, branch)
    }

    /// The caller's response for a callee's response (RFC 3261 §8.2.6): status, reason, end-to-end headers and body
    /// from the callee, dialog identity from the caller's INVITE, the caller-side To tag of this branch, and the
    /// edge's Contact for responses that establish a dialog.
    /// - Parameters:
    ///   - response: the callee's response, after the edge's policies.
    ///   - invite: the caller's INVITE it answers.
    ///   - toTag: the edge's tag on the caller's leg for this branch (one per callee dialog).
    ///   - address: the edge's Contact address on the caller's side.
    ///   - headers: the end-to-end headers to carry.
    ///   - body: the answer to send (after the media policy).
    /// - Throws: ``SIPParseError`` if the caller's INVITE cannot be answered, or a header would break the message.
    public static func response(
        relaying response: SIPMessage, to invite: SIPMessage, toTag: String, address: SIPLocalAddress,
        headers: [SIPHeaderField], body: [UInt8]
    ) throws(SIPParseError) -> [UInt8] {
        guard let status = response.statusCode else {
            throw SIPParseError(.malformedStartLine, "not a response")
        }
        var extra = headers.map { ($0.name, $0.value) }
        if status > 100 && status < 300 { extra.insert(("Contact", address.contact), at: 0) }
        return try invite.makeResponse(
            status: status, reason: response.statusLine?.reasonPhrase, toTag: status > 100 ? toTag : nil,
            extraHeaders: extra, body: body)
    }
}
