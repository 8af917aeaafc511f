extension SIPMessage {
    /// Builds a response to this request (RFC 3261 §8.2.6.2): the Via values copied as written (the top one
    /// stamped with `received` and `rport` when a source address is given, RFC 3261 §18.2.1, RFC 3581 §4), From,
    /// To (with `toTag` added if To has none), Call-ID and CSeq copied, `extraHeaders` appended, then `body` (its
    /// Content-Type goes in `extraHeaders`). Written straight into bytes: edges answer every request with it.
    ///
    /// - Parameters:
    ///   - status: 100-699.
    ///   - reason: the reason phrase; the standard one by default.
    ///   - toTag: the tag to add to To for a final response that establishes or refuses a dialog.
    ///   - source: the address and port the request came from, for `received`/`rport`.
    /// - Throws: ``SIPParseError`` if the request's top Via, the parameters of From or To, Call-ID or CSeq cannot
    ///   be read, or one of them is missing or repeated (such a request cannot be answered and is dropped); if an
    ///   extra header's name is not a token or its value holds CR, LF or another control character.
    public func makeResponse(
        status: Int, reason: String? = nil, toTag: String? = nil, source: (host: SIPHost, port: UInt16)? = nil,
        extraHeaders: [(String, String)] = [], body: [UInt8] = []
    ) throws(SIPParseError) -> [UInt8] {
        precondition((100...699).contains(status), "SIP status codes are 100-699")
        // Read (and so check) what is copied; only the top Via is parsed into values, to be stamped.
        guard let topIndex = entries.firstIndex(where: { $0.kind == .via }) else {
            throw SIPParseError(.missingHeader, "no Via", headerName: "Via")
        }
        let topEntry = entries[topIndex]
        // The top value's length, and where the header line's next value starts (nil if it holds only one).
        var (top, topLength, nextValue) = try parse(topEntry) { (scanner) throws(SIPParseError) -> (Via, Int, Int?) in
            let via = try Via.parse(&scanner)
            let length = scanner.position
            scanner.skipLWS()
            if scanner.isAtEnd { return (via, length, nil) }
            guard scanner.consume(UInt8(ascii: ",")) else {
                throw SIPParseError(.malformedVia, "unexpected characters after Via value", offset: scanner.position)
            }
            scanner.skipLWS()
            return (via, length, scanner.position)
        }
        _ = try fromTag()
        let existingToTag = try self.toTag()
        _ = try callID()
        _ = try cseq()
        for (name, value) in extraHeaders { try SIPHeaderField.checkInjectionFree(name: name, value: value) }

        var out = [UInt8]()
        out.reserveCapacity(storage.count / 2 + 256)
        out.append(contentsOf: "SIP/2.0 \(status) ".utf8)
        out.append(contentsOf: (reason ?? SIPStatus.reasonPhrase(for: status)).utf8)
        out.append(contentsOf: [0x0D, 0x0A])
        for entry in entries where entry.kind == .via {
            out.append(contentsOf: "Via: ".utf8)
            guard entry.valueStart == topEntry.valueStart, entry.source == topEntry.source else {
                appendValue(of: entry, to: &out)
                out.append(contentsOf: [0x0D, 0x0A])
                continue
            }
            if let source {
                if top.host != source.host {
                    top.parameters.removeAll { $0.name.caseInsensitiveEquals("received") }
                    top.parameters.append(SIPParameter(name: "received", value: source.host.addressText))
                }
                if let index = top.parameters.firstIndex(where: { $0.name.caseInsensitiveEquals("rport") }) {
                    top.parameters[index].value = String(source.port)
                }
                out.append(contentsOf: top.description.utf8)
            } else {
                appendValue(of: entry, to: &out, prefix: topLength)
            }
            out.append(contentsOf: [0x0D, 0x0A])
            if let nextValue {  // the line's other values, as written
                out.append(contentsOf: "Via: ".utf8)
                appendValue(of: entry, to: &out, from: nextValue)
                out.append(contentsOf: [0x0D, 0x0A])
            }
        }
        for kind in [SIPHeaderKind.from, .to, .callID, .cseq] {
            // From, To, Call-ID and CSeq were read above, so each is present exactly once.
            guard let entry = entries.first(where: { $0.kind == kind }) else { continue }
            out.append(contentsOf: kind.canonicalName.utf8)
            out.append(contentsOf: ": ".utf8)
            appendValue(of: entry, to: &out)
            if kind == .to, let toTag, existingToTag == nil, status > 100 {
                out.append(contentsOf: ";tag=".utf8)
                out.append(contentsOf: toTag.utf8)
            }
            out.append(contentsOf: [0x0D, 0x0A])
        }
        for (name, value) in extraHeaders {
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: ": ".utf8)
            out.append(contentsOf: SIPHeaderField.trimmingWhitespace(value).utf8)
            out.append(contentsOf: [0x0D, 0x0A])
        }
        out.append(contentsOf: "Content-Length: \(body.count)\r\n\r\n".utf8)
        out.append(contentsOf: body)
        return out
    }

    /// Appends a header entry's value bytes as written: all of it, the first `prefix` bytes, or from `from` on.
    private func appendValue(of entry: HeaderEntry, to out: inout [UInt8], prefix: Int? = nil, from: Int = 0) {
        let bytes = entry.source == 0 ? storage : extraLines[Int(entry.source) - 1]
        let start = Int(entry.valueStart) + from
        let end = prefix.map { Int(entry.valueStart) + $0 } ?? Int(entry.valueEnd)
        out.append(contentsOf: bytes[start..<end])
    }
}
