/// A SIP request method (RFC 3261 §7.1). Methods are case-sensitive tokens; unknown ones are kept.
public struct SIPMethod: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The method token.
    public let rawValue: String

    /// Creates a method from its token (validation happens when a message is parsed).
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public static let invite: SIPMethod = "INVITE"
    public static let ack: SIPMethod = "ACK"
    public static let bye: SIPMethod = "BYE"
    public static let cancel: SIPMethod = "CANCEL"
    public static let register: SIPMethod = "REGISTER"
    public static let options: SIPMethod = "OPTIONS"
    public static let prack: SIPMethod = "PRACK"
    public static let update: SIPMethod = "UPDATE"
    public static let info: SIPMethod = "INFO"
    public static let message: SIPMethod = "MESSAGE"
    public static let subscribe: SIPMethod = "SUBSCRIBE"
    public static let notify: SIPMethod = "NOTIFY"
    public static let refer: SIPMethod = "REFER"
    public static let publish: SIPMethod = "PUBLISH"

    /// The methods this stack knows (RFC 3261 and its common extensions).
    public static let known: Set<SIPMethod> = [
        .invite, .ack, .bye, .cancel, .register, .options, .prack, .update, .info, .message, .subscribe, .notify,
        .refer, .publish,
    ]

    public var description: String { rawValue }
}

/// The request line of a request (RFC 3261 §7.1): method, Request-URI and version.
public struct SIPRequestLine: Sendable {
    /// The method.
    public let method: SIPMethod
    /// The Request-URI bytes as written.
    public let requestURIBytes: ArraySlice<UInt8>

    /// The Request-URI as written.
    public var requestURIText: String { String(decoding: requestURIBytes, as: UTF8.self) }

    /// The parsed Request-URI; any scheme parses, `sip`, `sips` and `tel` strictly.
    /// - Throws: ``SIPParseError/Code/malformedURI``, ``SIPParseError/Code/invalidHost``.
    public func requestURI() throws(SIPParseError) -> SIPAnyURI {
        try requestURIBytes.withUnsafeBufferPointer { (bytes) throws(SIPParseError) -> SIPAnyURI in
            try SIPAnyURI.parse(bytes, 0..<bytes.count)
        }
    }
}

/// The status line of a response (RFC 3261 §7.2).
public struct SIPStatusLine: Sendable {
    /// The status code, 100-699.
    public let statusCode: Int
    /// The reason phrase bytes as written (may be empty, may be UTF-8).
    public let reasonPhraseBytes: ArraySlice<UInt8>

    /// The reason phrase.
    public var reasonPhrase: String { String(decoding: reasonPhraseBytes, as: UTF8.self) }
}

/// A parsed SIP request or response (RFC 3261 §7).
///
/// Parsing is lazy where it pays: ``parse(_:limits:framing:)`` frames the message, checks every limit and
/// the line grammar, and indexes the header lines, but parses a header's value only when it is asked for
/// (``topVia()``, ``callID()``, ``cseq()``...). That is all a router needs. ``validate(options:)`` parses
/// everything, as an edge must before it acts on a message.
public struct SIPMessage: Sendable {
    /// How the bytes reached us, which decides how the body is framed (RFC 3261 §18.3).
    public enum Framing: Sendable {
        /// One UDP datagram: Content-Length may be absent (the body is the rest), extra bytes are discarded,
        /// and a Content-Length larger than the datagram is an error.
        case datagram
        /// One message cut from a TCP or TLS stream by ``SIPStreamFramer``: Content-Length is mandatory and exact.
        case stream
    }

    /// A request line or a status line.
    public enum StartLine: Sendable {
        case request(SIPRequestLine)
        case response(SIPStatusLine)
    }

    /// The start line.
    public let startLine: StartLine
    /// The start line as written.
    let rawStartLine: ArraySlice<UInt8>
    /// The bytes the message was parsed from; header entries point into them.
    let storage: [UInt8]

    /// The bytes the message was parsed from, as they arrived (edits are not in them): what a capture records.
    public var parsedBytes: [UInt8] { storage }
    /// Header lines added by editing; entries with `source` n point into `extraLines[n - 1]`.
    var extraLines: [[UInt8]] = []
    /// The header lines, in order, as plain offsets (no reference counting on the parsing path).
    var entries: [HeaderEntry]
    /// The body (framed by Content-Length).
    public internal(set) var body: ArraySlice<UInt8>
    /// The limits the message was parsed with; the typed accessors honour them too.
    public let limits: SIPParseLimits

    /// The header fields, in order.
    public var headers: [SIPHeaderField] { entries.map(field) }

    /// Whether this is a request.
    public var isRequest: Bool {
        if case .request = startLine { return true }
        return false
    }

    /// The request line, for requests.
    public var requestLine: SIPRequestLine? {
        if case .request(let line) = startLine { return line }
        return nil
    }

    /// The status line, for responses.
    public var statusLine: SIPStatusLine? {
        if case .response(let line) = startLine { return line }
        return nil
    }

    /// The method of a request, or nil for a response (use ``cseq()`` for a response's method).
    public var method: SIPMethod? { requestLine?.method }

    /// The status code of a response.
    public var statusCode: Int? { statusLine?.statusCode }

    /// Every field of a kind, in order.
    public func fields(_ kind: SIPHeaderKind) -> [SIPHeaderField] {
        entries.lazy.filter { $0.kind == kind }.map(field)
    }

    /// The first field of a kind.
    public func firstField(_ kind: SIPHeaderKind) -> SIPHeaderField? {
        for entry in entries where entry.kind == kind { return field(entry) }
        return nil
    }

    /// Every field with this name (case-insensitive; compact forms match their long names).
    public func fields(named name: String) -> [SIPHeaderField] {
        let kind = SIPHeaderKind.identify(name)
        if kind != .other { return fields(kind) }
        return headers.filter { $0.kind == .other && $0.name.caseInsensitiveEquals(name) }
    }

    /// The serialized message: the start line and header lines as written (or as replaced), then the body.
    public func serialized() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(rawStartLine.count + body.count + entries.count * 48 + 4)
        out.append(contentsOf: rawStartLine)
        out.append(contentsOf: [0x0D, 0x0A])
        for entry in entries {
            if entry.source == 0 {
                out.append(contentsOf: storage[Int(entry.lineStart)..<Int(entry.lineEnd)])
            } else {
                out.append(contentsOf: extraLines[Int(entry.source) - 1][Int(entry.lineStart)..<Int(entry.lineEnd)])
            }
            out.append(contentsOf: [0x0D, 0x0A])
        }
        out.append(contentsOf: [0x0D, 0x0A])
        out.append(contentsOf: body)
        return out
    }

    // MARK: Editing (used by the edge when it rewrites messages)

    private mutating func entry(for field: SIPHeaderField) -> HeaderEntry {
        let line = Array(field.rawLine)
        extraLines.append(line)
        let base = field.rawLine.startIndex
        return HeaderEntry(
            kind: field.kind, isFolded: field.isFolded, source: UInt16(truncatingIfNeeded: extraLines.count),
            lineStart: 0, nameEnd: Int32(field.nameEnd - base), valueStart: Int32(field.valueRange.lowerBound - base),
            valueEnd: Int32(field.valueRange.upperBound - base), lineEnd: Int32(line.count))
    }

    /// Appends a header field after the existing ones.
    public mutating func appendHeader(_ field: SIPHeaderField) {
        let entry = entry(for: field)
        entries.append(entry)
    }

    /// Inserts a header field before the first one of its kind (for Via and Record-Route), or at the top.
    public mutating func prependHeader(_ field: SIPHeaderField) {
        let index = entries.firstIndex { $0.kind == field.kind && field.kind != .other } ?? 0
        let entry = entry(for: field)
        entries.insert(entry, at: index)
    }

    /// Removes every field of a kind.
    public mutating func removeHeaders(_ kind: SIPHeaderKind) { entries.removeAll { $0.kind == kind } }

    /// Removes every field `shouldRemove` picks (for headers without a kind of their own, or policies by name).
    public mutating func removeHeaders(where shouldRemove: (SIPHeaderField) -> Bool) {
        let kept = entries.filter { !shouldRemove(field($0)) }
        entries = kept
    }

    /// Replaces the body and its Content-Length.
    public mutating func setBody(_ newBody: [UInt8]) {
        removeHeaders(.contentLength)
        // A decimal count never needs validation.
        appendHeader(try! SIPHeaderField(.contentLength, value: String(newBody.count)))
        body = newBody[...]
    }

    /// The public view of one header entry.
    func field(_ entry: HeaderEntry) -> SIPHeaderField {
        let bytes = entry.source == 0 ? storage : extraLines[Int(entry.source) - 1]
        return SIPHeaderField(
            kind: entry.kind, rawLine: bytes[Int(entry.lineStart)..<Int(entry.lineEnd)], nameEnd: Int(entry.nameEnd),
            valueRange: Int(entry.valueStart)..<Int(entry.valueEnd), isFolded: entry.isFolded)
    }

    /// Runs a typed parser over one header value without materialising a field (the routing fast path).
    func parse<T>(_ entry: HeaderEntry, _ body: (inout SIPValueScanner) throws(SIPParseError) -> T)
        throws(SIPParseError) -> T
    {
        func run(_ bytes: UnsafeBufferPointer<UInt8>) throws(SIPParseError) -> T {
            var scanner = SIPValueScanner(
                UnsafeBufferPointer(rebasing: bytes[Int(entry.valueStart)..<Int(entry.valueEnd)]))
            return try body(&scanner)
        }
        do {
            if entry.source == 0 {
                return try storage.withUnsafeBufferPointer { (bytes) throws(SIPParseError) -> T in try run(bytes) }
            }
            return try extraLines[Int(entry.source) - 1].withUnsafeBufferPointer { (bytes) throws(SIPParseError) -> T in
                try run(bytes)
            }
        } catch {
            throw error.located(header: entry.kind == .other ? field(entry).name : entry.kind.canonicalName, offset: nil)
        }
    }
}

/// One header line as offsets into the message's bytes: plain values, so parsing retains nothing per header.
struct HeaderEntry: Sendable {
    var kind: SIPHeaderKind
    var isFolded: Bool
    /// 0 for the parsed bytes, n for `extraLines[n - 1]`.
    var source: UInt16
    var lineStart: Int32
    var nameEnd: Int32
    var valueStart: Int32
    var valueEnd: Int32
    var lineEnd: Int32
}
