extension SIPMessage {
    /// Builds a response to this request (RFC 3261 §8.2.6.2): the Via values (the top one stamped with
    /// `received` and `rport` when a source address is given, RFC 3261 §18.2.1, RFC 3581 §4), From, To (with
    /// `toTag` added if To has none), Call-ID and CSeq copied, `extraHeaders` appended, no body.
    ///
    /// - Parameters:
    ///   - status: 100-699.
    ///   - reason: the reason phrase; the standard one by default.
    ///   - toTag: the tag to add to To for a final response that establishes or refuses a dialog.
    ///   - source: the address and port the request came from, for `received`/`rport`.
    /// - Throws: ``SIPParseError`` if the request's Via, From, To, Call-ID or CSeq cannot be read (such a
    ///   request cannot be answered and is dropped).
    public func makeResponse(
        status: Int, reason: String? = nil, toTag: String? = nil, source: (host: SIPHost, port: UInt16)? = nil,
        extraHeaders: [(String, String)] = []
    ) throws(SIPParseError) -> [UInt8] {
        precondition((100...699).contains(status), "SIP status codes are 100-699")
        var vias = try vias()
        guard !vias.isEmpty else { throw SIPParseError(.missingHeader, "no Via", headerName: "Via") }
        if let source {
            var top = vias[0]
            if top.host != source.host {
                top.parameters.removeAll { $0.name.caseInsensitiveEquals("received") }
                top.parameters.append(SIPParameter(name: "received", value: source.host.addressText))
            }
            if let index = top.parameters.firstIndex(where: { $0.name.caseInsensitiveEquals("rport") }) {
                top.parameters[index].value = String(source.port)
            }
            vias[0] = top
        }
        _ = try from()
        let to = try self.to()
        _ = try callID()
        _ = try cseq()
        var lines = ["SIP/2.0 \(status) \(reason ?? SIPStatus.reasonPhrase(for: status))"]
        for via in vias { lines.append("Via: \(via)") }
        // From, To, Call-ID and CSeq parsed above, so each is present exactly once.
        func value(_ kind: SIPHeaderKind) -> String { firstField(kind)?.value ?? "" }
        var toValue = value(.to)
        if let toTag, to.tag == nil, status > 100 { toValue += ";tag=\(toTag)" }
        lines += ["From: \(value(.from))", "To: \(toValue)", "Call-ID: \(value(.callID))", "CSeq: \(value(.cseq))"]
        for (name, value) in extraHeaders {
            let field = try SIPHeaderField(name: name, value: value)  // refuses CR/LF injection
            lines.append(field.description)
        }
        lines.append("Content-Length: 0")
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }
}
