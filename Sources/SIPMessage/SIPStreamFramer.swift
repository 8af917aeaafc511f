/// Cuts SIP messages out of a TCP or TLS byte stream (RFC 3261 §18.3): the header section ends at the
/// first empty line and Content-Length, which is mandatory on streams, gives the body. Handles messages
/// split across reads, several messages in one read, and RFC 5626 §3.5.1 keep-alives (a CRLFCRLF "ping"
/// that must be answered with a CRLF "pong", and stray CRLF "pongs").
///
/// Memory is bounded: the framer never holds more than ``SIPParseLimits/maxMessageSize`` bytes of an
/// unfinished message. A framing error (no or bad Content-Length, oversize) leaves the stream unusable: the
/// connection must be closed, since the next message boundary is unknown.
public struct SIPStreamFramer: Sendable {
    /// What the framer found next in the stream.
    public enum Frame: Sendable, Equatable {
        /// One complete message's bytes, ready for ``SIPMessage/parse(_:limits:framing:)`` with `.stream`.
        case message([UInt8])
        /// A CRLFCRLF keep-alive ping; answer with a single CRLF.
        case keepAlivePing
        /// A single CRLF keep-alive pong.
        case keepAlivePong
    }

    /// The limits in force.
    public let limits: SIPParseLimits
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Where the search for the end of the header section resumes.
    private var scanIndex = 0
    /// Header length and Content-Length of the message being assembled, once its head is complete.
    private var pendingLength: Int? = nil

    /// Creates a framer.
    public init(limits: SIPParseLimits = .default) {
        self.limits = limits
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Adds bytes read from the connection.
    public mutating func append<Bytes: Sequence<UInt8>>(_ bytes: Bytes) {
        if readIndex > 0, readIndex >= buffer.count / 2 {
            buffer.removeSubrange(0..<readIndex)
            scanIndex -= readIndex
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Returns the next complete frame, or nil if more bytes are needed.
    /// - Throws: ``SIPParseError`` for a stream that cannot be framed (the connection must be closed):
    ///   ``SIPParseError/Code/messageTooLarge``, ``SIPParseError/Code/bodyTooLarge``,
    ///   ``SIPParseError/Code/missingHeader`` (no Content-Length), ``SIPParseError/Code/invalidContentLength``,
    ///   ``SIPParseError/Code/duplicateHeader``, or a start-line / header-line grammar error.
    public mutating func nextFrame() throws(SIPParseError) -> Frame? {
        if pendingLength == nil {
            // Keep-alives between messages (RFC 5626 §3.5.1).
            if bufferedByteCount >= 2, buffer[readIndex] == 0x0D, buffer[readIndex + 1] == 0x0A {
                if bufferedByteCount >= 4, buffer[readIndex + 2] == 0x0D, buffer[readIndex + 3] == 0x0A {
                    consume(4)
                    return .keepAlivePing
                }
                if bufferedByteCount >= 3, buffer[readIndex + 2] != 0x0D {
                    consume(2)
                    return .keepAlivePong
                }
                if bufferedByteCount >= 4 {  // CRLF CR x: a pong followed by garbage; let the parser judge x
                    consume(2)
                    return .keepAlivePong
                }
                return nil
            }
            guard let headEnd = findHeadEnd() else {
                if bufferedByteCount > limits.maxMessageSize {
                    throw SIPParseError(.messageTooLarge, "header section exceeds \(limits.maxMessageSize) bytes")
                }
                return nil
            }
            let head = Array(buffer[readIndex..<headEnd])
            let contentLength = try head.withUnsafeBufferPointer { (bytes) throws(SIPParseError) -> Int in
                var parser = HeadParser(buffer: bytes, storage: head, limits: limits)
                let parsed = try parser.parseHead()
                guard let length = parsed.contentLength else {
                    throw SIPParseError(.missingHeader, "Content-Length is mandatory on stream transports (RFC 3261 §18.3)",
                                        headerName: "Content-Length")
                }
                return length
            }
            guard contentLength <= limits.maxBodySize else {
                throw SIPParseError(.bodyTooLarge, "body of \(contentLength) bytes exceeds \(limits.maxBodySize)")
            }
            let total = head.count + contentLength
            guard total <= limits.maxMessageSize else {
                throw SIPParseError(.messageTooLarge, "message of \(total) bytes exceeds \(limits.maxMessageSize)")
            }
            pendingLength = total
        }
        guard let total = pendingLength, bufferedByteCount >= total else { return nil }
        let message = Array(buffer[readIndex..<readIndex + total])
        consume(total)
        pendingLength = nil
        return .message(message)
    }

    private mutating func consume(_ count: Int) {
        readIndex += count
        scanIndex = max(scanIndex, readIndex)
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
            scanIndex = 0
        }
    }

    /// Finds the index just past the CRLFCRLF that ends the header section, resuming where it stopped.
    private mutating func findHeadEnd() -> Int? {
        var index = max(scanIndex, readIndex)
        let end = buffer.count
        while index + 3 < end {
            if buffer[index + 3] != 0x0A {
                index += buffer[index + 3] == 0x0D ? 1 : 4
                continue
            }
            if buffer[index] == 0x0D, buffer[index + 1] == 0x0A, buffer[index + 2] == 0x0D {
                scanIndex = index
                return index + 4
            }
            index += 1
        }
        scanIndex = max(readIndex, end - 3)
        return nil
    }
}
