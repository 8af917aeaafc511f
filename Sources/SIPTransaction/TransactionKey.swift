import SIPMessage

/// Identifies a server transaction for an incoming request (RFC 3261 §17.2.3).
///
/// With an RFC 3261 branch (magic cookie `z9hG4bK`) the key is the branch, the sent-by of the top Via and the
/// method, ACK and CANCEL counting as the INVITE they refer to only for the branch match of ACK (CANCEL forms
/// its own transaction, see ``cancelledInviteKey``). Without the cookie (RFC 2543 peers) the key falls back to
/// Request-URI, To tag, From tag, Call-ID, CSeq number and the top Via.
public enum ServerTransactionKey: Hashable, Sendable {
    case rfc3261(branch: String, sentBy: String, method: String)
    case rfc2543(requestURI: String, toTag: String, fromTag: String, callID: String, cseq: UInt32, via: String)

    /// The key of a request.
    /// - Throws: ``SIPParseError`` if the headers the key needs do not parse.
    public init(request: SIPMessage) throws(SIPParseError) {
        let via = try request.topVia()
        let method = request.method?.rawValue ?? ""
        let sentBy = via.host.description.lowercased() + ":" + String(via.port ?? 0)
        if let branch = via.branch, via.hasRFC3261Branch {
            // ACK for a non-2xx shares the INVITE's branch (RFC 3261 §17.2.3).
            self = .rfc3261(branch: branch, sentBy: sentBy, method: method == "ACK" ? "INVITE" : method)
        } else {
            let cseq = try request.cseq()
            self = .rfc2543(
                requestURI: request.requestLine?.requestURIText ?? "",
                toTag: method == "ACK" ? "" : (try request.toTag() ?? ""), fromTag: try request.fromTag() ?? "",
                callID: try request.callID(), cseq: cseq.sequenceNumber, via: via.description)
        }
    }

    /// For a CANCEL: the key of the INVITE server transaction it cancels (RFC 3261 §9.2).
    public static func cancelledInviteKey(of cancel: SIPMessage) throws(SIPParseError) -> ServerTransactionKey {
        switch try ServerTransactionKey(request: cancel) {
        case .rfc3261(let branch, let sentBy, _):
            return .rfc3261(branch: branch, sentBy: sentBy, method: "INVITE")
        case .rfc2543(let uri, let toTag, let fromTag, let callID, let cseq, let via):
            return .rfc2543(requestURI: uri, toTag: toTag, fromTag: fromTag, callID: callID, cseq: cseq, via: via)
        }
    }
}

/// Identifies the client transaction a response belongs to (RFC 3261 §17.1.3): the top Via branch and the CSeq
/// method.
public struct ClientTransactionKey: Hashable, Sendable {
    public let branch: String
    public let method: String

    /// Creates a key.
    public init(branch: String, method: String) {
        self.branch = branch
        self.method = method
    }

    /// The key of a response (or of the request that opened the transaction).
    /// - Throws: ``SIPParseError``; a message without a branch cannot match.
    public init(message: SIPMessage) throws(SIPParseError) {
        guard let branch = try message.topVia().branch else {
            throw SIPParseError(.malformedVia, "no branch to match a client transaction", headerName: "Via")
        }
        self.init(branch: branch, method: try message.cseq().method.rawValue)
    }
}
