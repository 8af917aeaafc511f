extension SIPMessage {
    /// Parses one SIP message.
    ///
    /// This is the cheap path a router uses: framing, limits, the start line and the header line grammar
    /// are checked (NUL and bare CR/LF refused, duplicate Content-Length refused), header values are indexed
    /// but parsed only when asked for.
    ///
    /// - Parameters:
    ///   - bytes: exactly one UDP datagram, or one message cut from a stream by ``SIPStreamFramer``.
    ///   - limits: bounds on sizes and counts.
    ///   - framing: how the body is delimited.
    /// - Throws: ``SIPParseError`` with the status an edge would answer (400, 413, 414, 483, 505, 513).
    public static func parse(
        _ bytes: [UInt8], limits: SIPParseLimits = .default, framing: Framing = .datagram
    ) throws(SIPParseError) -> SIPMessage {
        guard bytes.count <= limits.maxMessageSize, bytes.count <= Int(Int32.max) else {
            throw SIPParseError(.messageTooLarge, "message of \(bytes.count) bytes exceeds \(limits.maxMessageSize)")
        }
        return try bytes.withUnsafeBufferPointer { (buffer) throws(SIPParseError) -> SIPMessage in
            var parser = HeadParser(buffer: buffer, storage: bytes, limits: limits)
            let head = try parser.parseHead()
            let available = bytes.count - head.bodyStart
            let bodyLength: Int
            switch framing {
            case .datagram:
                if let declared = head.contentLength {
                    guard declared <= available else {
                        throw SIPParseError(
                            .contentLengthMismatch, "Content-Length \(declared) exceeds the \(available) bytes received",
                            headerName: "Content-Length")
                    }
                    bodyLength = declared  // RFC 3261 §18.3: octets past Content-Length are discarded
                } else {
                    bodyLength = available
                }
            case .stream:
                guard let declared = head.contentLength else {
                    throw SIPParseError(
                        .missingHeader, "Content-Length is mandatory on stream transports (RFC 3261 §18.3)",
                        headerName: "Content-Length")
                }
                guard declared == available else {
                    throw SIPParseError(.contentLengthMismatch, "Content-Length does not match the framed body",
                                        headerName: "Content-Length")
                }
                bodyLength = declared
            }
            guard bodyLength <= limits.maxBodySize else {
                throw SIPParseError(.bodyTooLarge, "body of \(bodyLength) bytes exceeds \(limits.maxBodySize)")
            }
            return SIPMessage(
                startLine: head.startLine, rawStartLine: bytes[head.startLineRange], storage: bytes,
                entries: head.entries, body: bytes[head.bodyStart..<head.bodyStart + bodyLength], limits: limits)
        }
    }

    /// Parses a message held in a string (tests, tools); the string's UTF-8 bytes are the message.
    public static func parse(_ text: String, limits: SIPParseLimits = .default) throws(SIPParseError) -> SIPMessage {
        try parse(Array(text.utf8), limits: limits)
    }
}

/// The result of reading a start line and header section.
struct SIPMessageHead {
    var startLine: SIPMessage.StartLine
    var startLineRange: Range<Int>
    var entries: [HeaderEntry]
    var contentLength: Int?
    /// Offset of the first body byte (just past the blank line).
    var bodyStart: Int
}

/// One pass over the start line and header lines. Every byte is classified once.
struct HeadParser {
    let buffer: UnsafeBufferPointer<UInt8>
    /// The same bytes as an array, for the start line's slices.
    let storage: [UInt8]
    let limits: SIPParseLimits
    var position = 0

    init(buffer: UnsafeBufferPointer<UInt8>, storage: [UInt8], limits: SIPParseLimits) {
        self.buffer = buffer
        self.storage = storage
        self.limits = limits
    }

    func slice(_ range: Range<Int>) -> ArraySlice<UInt8> { storage[range] }


    /// Finds the end of the line starting at `position`: returns the index of its CR (the LF follows).
    @inline(__always)
    mutating func lineEnd() throws(SIPParseError) -> Int? {
        var index = position
        let end = buffer.count
        // Eight bytes at a time while none is a control character (< 0x20 or 0x7F): SWAR tests on a word.
        if let base = buffer.baseAddress {
            let raw = UnsafeRawPointer(base)
            while index + 8 <= end {
                let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                let below0x20 = (word &- 0x2020_2020_2020_2020) & ~word & 0x8080_8080_8080_8080
                let del = word ^ 0x7F7F_7F7F_7F7F_7F7F
                let isDEL = (del &- 0x0101_0101_0101_0101) & ~del & 0x8080_8080_8080_8080
                let flagged = below0x20 | isDEL
                if flagged != 0 {
                    // The lowest flagged bit is exact (borrows only spill upwards): jump to that byte.
                    index += flagged.trailingZeroBitCount >> 3
                    break
                }
                index += 8
            }
        }
        while index < end {
            let byte = buffer[index]
            if byte >= 0x20 && byte != 0x7F {  // the common case: printable ASCII or UTF-8
                index += 1
                continue
            }
            switch SIPGrammar.lineClass[Int(byte)] {
            case 0:
                index += 1
            case 1:
                guard index + 1 < end else { return nil }
                guard buffer[index + 1] == 0x0A else {
                    throw SIPParseError(.bareLineBreak, "CR not followed by LF", offset: index)
                }
                return index
            case 2:
                throw SIPParseError(.bareLineBreak, "LF not preceded by CR", offset: index)
            default:
                // RFC 3261 §25.1 quoted-pair may escape control characters (even NUL) inside quoted strings
                // (RFC 4475 §3.1.1.2); anywhere else they are refused, a backslash outside quotes included.
                guard index > position, buffer[index - 1] == UInt8(ascii: "\\"),
                    Self.isQuotedPairEscape(in: buffer, from: position, at: index - 1)
                else {
                    throw SIPParseError(.illegalCharacter, "control character 0x\(String(buffer[index], radix: 16))",
                                        offset: index)
                }
                index += 1
            }
        }
        return nil
    }

    /// Whether the backslash at `backslash` opens a quoted-pair: it stands inside a quoted string of the line that
    /// starts at `start` and is not itself escaped. Walked only when a control octet follows a backslash (rare).
    static func isQuotedPairEscape(in buffer: some RandomAccessCollection<UInt8>, from start: Int, at backslash: Int) -> Bool
    {
        var quoted = false
        var index = start
        while index < backslash {
            let byte = buffer[buffer.index(buffer.startIndex, offsetBy: index)]
            if quoted, byte == UInt8(ascii: "\\") {
                index += 2  // a quoted-pair: the next octet is taken as it is
                continue
            }
            if byte == UInt8(ascii: "\"") { quoted.toggle() }
            index += 1
        }
        return quoted && index == backslash
    }

    mutating func parseHead() throws(SIPParseError) -> SIPMessageHead {
        // RFC 3261 §7.5: CRLFs before the start line are ignored.
        while position + 1 < buffer.count, buffer[position] == 0x0D, buffer[position + 1] == 0x0A { position += 2 }
        guard position < buffer.count else { throw SIPParseError(.emptyMessage, "no start line") }
        let startLineStart = position
        guard let startLineEnd = try lineEnd() else {
            throw SIPParseError(.truncated, "start line not terminated by CRLF", offset: position)
        }
        guard startLineEnd - startLineStart <= limits.maxLineLength + limits.maxRequestURILength else {
            throw SIPParseError(.lineTooLong, "start line too long", offset: startLineStart)
        }
        let startLine = try parseStartLine(startLineStart..<startLineEnd)
        position = startLineEnd + 2

        var headers: [HeaderEntry] = []
        headers.reserveCapacity(24)
        var contentLength: Int? = nil
        var viaCount = 0
        while true {
            guard position < buffer.count else {
                throw SIPParseError(.truncated, "header section not terminated by an empty line", offset: position)
            }
            let lineStart = position
            guard let firstLineEnd = try lineEnd() else {
                throw SIPParseError(.truncated, "header line not terminated by CRLF", offset: lineStart)
            }
            position = firstLineEnd + 2
            if firstLineEnd == lineStart { break }  // the empty line ends the header section
            // RFC 3261 §7.3.1: a line starting with whitespace continues the previous header; continuations are
            // absorbed below, so one here has no header to continue.
            guard !SIPGrammar.isWSP(buffer[lineStart]) else {
                throw SIPParseError(.malformedHeader, "continuation line without a header", offset: lineStart)
            }
            guard headers.count < limits.maxHeaderCount else {
                throw SIPParseError(.tooManyHeaders, "more than \(limits.maxHeaderCount) header lines", offset: lineStart)
            }
            var index = lineStart
            while index < firstLineEnd, SIPGrammar.isToken(buffer[index]) { index += 1 }
            let nameEnd = index
            while index < firstLineEnd, SIPGrammar.isWSP(buffer[index]) { index += 1 }
            guard nameEnd > lineStart, index < firstLineEnd, buffer[index] == UInt8(ascii: ":") else {
                throw SIPParseError(.malformedHeader, "header line without a token name and colon", offset: lineStart)
            }
            let kind = SIPHeaderKind.identify(UnsafeBufferPointer(rebasing: buffer[lineStart..<nameEnd]))
            var end = firstLineEnd
            var folded = false
            while position < buffer.count, SIPGrammar.isWSP(buffer[position]) {
                guard let continuationEnd = try lineEnd() else {
                    throw SIPParseError(.truncated, "header line not terminated by CRLF", offset: position)
                }
                end = continuationEnd
                position = continuationEnd + 2
                folded = true
                guard end - lineStart <= limits.maxLineLength else { break }
            }
            var name: String? { kind == .other ? nil : kind.canonicalName }  // for errors only
            guard end - lineStart <= limits.maxLineLength else {
                throw SIPParseError(.lineTooLong, "header line too long", offset: lineStart, headerName: name)
            }
            var valueStart = index + 1
            var valueEnd = end
            while valueStart < valueEnd, SIPGrammar.isLWS(buffer[valueStart]) { valueStart += 1 }
            while valueEnd > valueStart, SIPGrammar.isLWS(buffer[valueEnd - 1]) { valueEnd -= 1 }
            guard valueEnd - valueStart <= limits.maxHeaderValueLength else {
                throw SIPParseError(.headerValueTooLong, "header value too long", offset: lineStart, headerName: name)
            }
            switch kind {
            case .via:
                viaCount += countListElements(valueStart..<valueEnd)
                guard viaCount <= limits.maxViaCount else {
                    throw SIPParseError(.tooManyVias, "more than \(limits.maxViaCount) Via values", offset: lineStart,
                                        headerName: "Via")
                }
            case .contentLength:
                guard contentLength == nil else {
                    throw SIPParseError(.duplicateHeader, "several Content-Length headers (ambiguous framing)",
                                        offset: lineStart, headerName: "Content-Length")
                }
                contentLength = try parseContentLength(valueStart..<valueEnd, at: lineStart)
            default:
                break
            }
            headers.append(
                HeaderEntry(
                    kind: kind, isFolded: folded, source: 0, lineStart: Int32(lineStart), nameEnd: Int32(nameEnd),
                    valueStart: Int32(valueStart), valueEnd: Int32(valueEnd), lineEnd: Int32(end)))
        }
        return SIPMessageHead(
            startLine: startLine, startLineRange: startLineStart..<startLineEnd, entries: headers,
            contentLength: contentLength, bodyStart: position)
    }

    /// Counts comma-separated elements outside quoted strings and angle brackets.
    func countListElements(_ range: Range<Int>) -> Int {
        // Most values hold no comma at all: check that first, eight bytes at a time.
        var hasComma = false
        var probe = range.lowerBound
        if let base = buffer.baseAddress {
            let raw = UnsafeRawPointer(base)
            while probe + 8 <= range.upperBound {
                let word = raw.loadUnaligned(fromByteOffset: probe, as: UInt64.self) ^ 0x2C2C_2C2C_2C2C_2C2C
                if (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080 != 0 {
                    hasComma = true
                    break
                }
                probe += 8
            }
        }
        if !hasComma {
            while probe < range.upperBound {
                if buffer[probe] == UInt8(ascii: ",") {
                    hasComma = true
                    break
                }
                probe += 1
            }
        }
        if !hasComma { return 1 }
        var count = 1
        var inQuotes = false
        var index = range.lowerBound
        while index < range.upperBound {
            let byte = buffer[index]
            if inQuotes {
                if byte == UInt8(ascii: "\\") { index += 1 } else if byte == UInt8(ascii: "\"") { inQuotes = false }
            } else if byte == UInt8(ascii: "\"") {
                inQuotes = true
            } else if byte == UInt8(ascii: ",") {
                count += 1
            }
            index += 1
        }
        return count
    }

    func parseContentLength(_ range: Range<Int>, at offset: Int) throws(SIPParseError) -> Int {
        var value = 0
        guard !range.isEmpty else {
            throw SIPParseError(.invalidContentLength, "empty Content-Length", offset: offset, headerName: "Content-Length")
        }
        for index in range {
            let byte = buffer[index]
            guard SIPGrammar.isDigit(byte) else {
                throw SIPParseError(.invalidContentLength, "Content-Length is not a non-negative decimal number",
                                    offset: offset, headerName: "Content-Length")
            }
            value = value * 10 + Int(byte - 0x30)
            guard value <= Int(Int32.max) else {
                throw SIPParseError(.invalidContentLength, "Content-Length out of range", offset: offset,
                                    headerName: "Content-Length")
            }
        }
        return value
    }

    func parseStartLine(_ range: Range<Int>) throws(SIPParseError) -> SIPMessage.StartLine {
        func malformed(_ reason: String) -> SIPParseError {
            SIPParseError(.malformedStartLine, reason, offset: range.lowerBound)
        }
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (RFC 3261 §7.2)
        if range.count >= 4, SIPGrammar.equalsLowercase(buffer, range.lowerBound..<range.lowerBound + 4, "sip/") {
            let versionEnd = try versionEnd(from: range.lowerBound, in: range)
            var index = versionEnd
            guard index < range.upperBound, buffer[index] == 0x20 else { throw malformed("no space after version") }
            index += 1
            guard index + 3 <= range.upperBound else { throw malformed("status code missing") }
            var code = 0
            for offset in 0..<3 {
                let byte = buffer[index + offset]
                guard SIPGrammar.isDigit(byte) else { throw malformed("status code is not three digits") }
                code = code * 10 + Int(byte - 0x30)
            }
            index += 3
            guard code >= 100, code <= 699 else { throw malformed("status code out of range") }
            guard index < range.upperBound, buffer[index] == 0x20 else {
                throw malformed("status code not followed by a space and reason phrase")
            }
            try checkVersion(range.lowerBound..<versionEnd)
            return .response(SIPStatusLine(statusCode: code, reasonPhraseBytes: slice(index + 1..<range.upperBound)))
        }
        // Request-Line = Method SP Request-URI SP SIP-Version (RFC 3261 §7.1): exactly one SP between elements.
        var index = range.lowerBound
        while index < range.upperBound, SIPGrammar.isToken(buffer[index]) { index += 1 }
        guard index > range.lowerBound, index < range.upperBound, buffer[index] == 0x20 else {
            throw malformed("method is not a token followed by one space")
        }
        let method = SIPMethod(SIPGrammar.string(buffer, range.lowerBound..<index))
        index += 1
        let uriStart = index
        while index < range.upperBound, buffer[index] != 0x20, buffer[index] != 0x09 { index += 1 }
        let uriEnd = index
        guard uriEnd > uriStart else { throw malformed("empty Request-URI or several spaces") }
        guard uriEnd - uriStart <= limits.maxRequestURILength else {
            throw SIPParseError(.requestURITooLong, "Request-URI longer than \(limits.maxRequestURILength)",
                                offset: uriStart)
        }
        guard index < range.upperBound, buffer[index] == 0x20, index + 1 < range.upperBound else {
            throw malformed("Request-URI not followed by one space and a version")
        }
        index += 1
        // The common case, exactly "SIP/2.0" to the end of the line, needs no general version scan.
        if !(range.upperBound - index == 7 && SIPGrammar.equalsLowercase(buffer, index..<range.upperBound, "sip/2.0")) {
            let versionEnd = try versionEnd(from: index, in: range)
            guard versionEnd == range.upperBound else { throw malformed("characters after the SIP version") }
            try checkVersion(index..<versionEnd)
        }
        return .request(SIPRequestLine(method: method, requestURIBytes: slice(uriStart..<uriEnd)))
    }

    /// Scans `"SIP" "/" 1*DIGIT "." 1*DIGIT` and returns its end.
    func versionEnd(from start: Int, in range: Range<Int>) throws(SIPParseError) -> Int {
        let malformed = SIPParseError(.malformedStartLine, "malformed SIP version", offset: start)
        guard start + 4 <= range.upperBound, SIPGrammar.equalsLowercase(buffer, start..<start + 4, "sip/") else {
            throw malformed
        }
        var index = start + 4
        let major = index
        while index < range.upperBound, SIPGrammar.isDigit(buffer[index]), index - major < 4 { index += 1 }
        guard index > major, index < range.upperBound, buffer[index] == UInt8(ascii: ".") else { throw malformed }
        index += 1
        let minor = index
        while index < range.upperBound, SIPGrammar.isDigit(buffer[index]), index - minor < 4 { index += 1 }
        guard index > minor else { throw malformed }
        return index
    }

    func checkVersion(_ range: Range<Int>) throws(SIPParseError) {
        guard SIPGrammar.equalsLowercase(buffer, range, "sip/2.0") else {
            throw SIPParseError(.unsupportedVersion, "SIP version other than 2.0", offset: range.lowerBound)
        }
    }
}
