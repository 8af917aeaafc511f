/// What a higher layer would still answer to a request that is well-formed (RFC 3261 §21).
public struct SIPCheckNote: Hashable, Sendable, CustomStringConvertible {
    /// The status an edge would answer.
    public let status: Int
    /// Why.
    public let reason: String

    public var description: String { "\(status) \(reason)" }
}

/// Options for ``SIPMessage/validate(options:)``.
public struct SIPValidationOptions: Hashable, Sendable {
    /// Option tags the element supports; others in Require / Proxy-Require draw a 420 note (RFC 3261 §8.2.2.3).
    public var supportedExtensions: Set<String>

    /// Creates options; by default the extensions Rampart implements or passes through.
    public init(supportedExtensions: Set<String> = ["path", "outbound", "gruu", "timer", "100rel", "replaces",
                                                    "norefersub", "tdialog"]) {
        self.supportedExtensions = supportedExtensions
    }
}

extension SIPMessage {
    /// Parses every header the stack knows and checks the message as a whole (RFC 3261 §8.1.1, §8.2.2, §16.3):
    /// mandatory headers present and single, CSeq method equal to the request method, Request-URI without
    /// headers, a body only with a Content-Type.
    ///
    /// - Returns: notes for conditions that are well-formed but that a higher layer answers (416 for an unknown
    ///   URI scheme, 420 for an unsupported extension, 483 for Max-Forwards 0, 501 for an unknown method).
    /// - Throws: the first ``SIPParseError`` found.
    public func validate(options: SIPValidationOptions = SIPValidationOptions()) throws(SIPParseError) -> [SIPCheckNote] {
        var notes: [SIPCheckNote] = []
        if let requestLine {
            switch try requestLine.requestURI() {
            case .sip(let uri):
                // RFC 3261 §19.1.1 table: URI headers are not allowed in a Request-URI.
                guard uri.headers.isEmpty else {
                    throw SIPParseError(.malformedURI, "headers are not allowed in a Request-URI (RFC 3261 §19.1.1)")
                }
            case .tel:
                notes.append(SIPCheckNote(status: 416, reason: "Unsupported URI Scheme: tel Request-URI"))
            case .other(let uri):
                notes.append(SIPCheckNote(status: 416, reason: "Unsupported URI Scheme: \(uri.scheme)"))
            }
        }
        _ = try from()
        _ = try to()
        _ = try callID()
        let cseq = try cseq()
        let vias = try vias()
        guard !vias.isEmpty else { throw SIPParseError(.missingHeader, "no Via", headerName: "Via") }
        if let method, cseq.method != method {
            throw SIPParseError(.methodMismatch, "CSeq method differs from the request method", headerName: "CSeq")
        }
        let maxForwards = try maxForwards()
        _ = try contacts()
        for kind in [SIPHeaderKind.route, .recordRoute, .path, .serviceRoute, .pAssertedIdentity, .pPreferredIdentity] {
            _ = try nameAddresses(kind)
        }
        for kind in [SIPHeaderKind.replyTo, .referTo, .referredBy] {
            if let entry = try singleEntry(kind) {
                _ = try parse(entry) { (scanner) throws(SIPParseError) -> SIPAddress in try SIPAddress.parseSingle(&scanner) }
            }
        }
        _ = try expires()
        _ = try minExpires()
        let contentType = try contentType()
        for kind in [SIPHeaderKind.allow, .supported, .unsupported] { _ = try tokens(kind) }
        let required = try require() + proxyRequire()
        _ = try identities()
        _ = try sessionExpires()
        _ = try reasons()
        _ = try privacy()
        // SIP frames bodies by Content-Length alone: a Transfer-Encoding (chunked) would desynchronise HTTP-minded
        // middleboxes on a stream, which may read the bytes as other messages.
        if !fields(named: "Transfer-Encoding").isEmpty {
            throw SIPParseError(.malformedHeader, "Transfer-Encoding is not SIP: bodies are framed by Content-Length",
                                headerName: "Transfer-Encoding")
        }
        if !body.isEmpty, contentType == nil {
            throw SIPParseError(.missingHeader, "a body needs a Content-Type (RFC 3261 §20.15)",
                                headerName: "Content-Type")
        }
        if let method {
            let unsupported = required.filter { !options.supportedExtensions.contains($0.asciiLowercased) }
            if !unsupported.isEmpty, method != .ack, method != .cancel {
                notes.append(SIPCheckNote(status: 420, reason: "Bad Extension: \(unsupported.joined(separator: ", "))"))
            }
            if maxForwards == 0 {
                notes.append(SIPCheckNote(status: 483, reason: "Too Many Hops: Max-Forwards is 0, cannot be forwarded"))
            }
            if !SIPMethod.known.contains(method) {
                notes.append(SIPCheckNote(status: 501, reason: "Not Implemented: unknown method \(method)"))
            }
        }
        return notes
    }
}

/// The verdict of ``SIPMessageCheck`` on one datagram.
public struct SIPCheckResult: Sendable {
    /// Whether the bytes looked like a response (start line `SIP/...`); responses are never answered.
    public let isResponse: Bool
    /// The parsed message when framing succeeded.
    public let message: SIPMessage?
    /// The error, if the message is invalid.
    public let error: SIPParseError?
    /// Notes on a valid message.
    public let notes: [SIPCheckNote]

    /// Whether the message is well-formed and within limits.
    public var isValid: Bool { error == nil }

    /// The status an edge would answer: the error's for an invalid request, the first note's for a valid
    /// request a higher layer refuses, nil when it would be processed or (responses) dropped.
    public var sipStatus: Int? {
        if isResponse { return nil }
        if let error { return error.sipStatus }
        return notes.first?.status
    }
}

/// Classifies raw SIP messages as an edge would: the engine behind `rampart sip check`.
public enum SIPMessageCheck {
    /// Checks one message: a UDP datagram (RFC 3261 §18.3 framing, the default) or a message a
    /// ``SIPStreamFramer`` cut out of a stream.
    public static func check(
        _ bytes: [UInt8], limits: SIPParseLimits = .default, framing: SIPMessage.Framing = .datagram,
        options: SIPValidationOptions = SIPValidationOptions()
    ) -> SIPCheckResult {
        var start = 0
        while start + 1 < bytes.count, bytes[start] == 0x0D, bytes[start + 1] == 0x0A { start += 2 }
        let looksLikeResponse = bytes.count - start >= 4
            && bytes[start..<start + 4].map(SIPGrammar.lowercased) == Array("sip/".utf8)
        let message: SIPMessage
        do {
            message = try SIPMessage.parse(bytes, limits: limits, framing: framing)
        } catch {
            return SIPCheckResult(isResponse: looksLikeResponse, message: nil, error: error, notes: [])
        }
        do {
            let notes = try message.validate(options: options)
            return SIPCheckResult(isResponse: !message.isRequest, message: message, error: nil, notes: notes)
        } catch {
            return SIPCheckResult(isResponse: !message.isRequest, message: message, error: error, notes: [])
        }
    }
}
