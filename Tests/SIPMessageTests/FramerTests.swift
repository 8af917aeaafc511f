import SIPMessage
import Testing

@Suite struct FramerTests {
    static let register = datagram([
        "REGISTER sip:example.com SIP/2.0", "Via: SIP/2.0/TCP h.example.com;branch=z9hG4bK1",
        "From: <sip:a@example.com>;tag=1", "To: <sip:a@example.com>", "Call-ID: f1", "CSeq: 1 REGISTER",
        "Content-Length: 0",
    ])
    static let message = datagram([
        "MESSAGE sip:b@example.com SIP/2.0", "Via: SIP/2.0/TCP h.example.com;branch=z9hG4bK2",
        "From: <sip:a@example.com>;tag=1", "To: <sip:b@example.com>", "Call-ID: f2", "CSeq: 1 MESSAGE",
        "Content-Type: text/plain", "Content-Length: 11",
    ], body: "hello\r\n\r\nyo")

    @Test func pipelinedMessagesAndKeepAlives() throws {
        var framer = SIPStreamFramer()
        framer.append(Array("\r\n\r\n".utf8) + Self.register + Self.message + Array("\r\n".utf8) + Self.register)
        var frames: [SIPStreamFramer.Frame] = []
        while let frame = try framer.nextFrame() { frames.append(frame) }
        // The trailing message is complete, but the CRLF before it is a pong.
        #expect(frames == [.keepAlivePing, .message(Self.register), .message(Self.message), .keepAlivePong,
                           .message(Self.register)])
        #expect(framer.bufferedByteCount == 0)
        let parsed = try SIPMessage.parse(Self.message, framing: .stream)
        #expect(String(decoding: parsed.body, as: UTF8.self) == "hello\r\n\r\nyo")
    }

    @Test(arguments: [1, 2, 3, 7, 64, 1000])
    func anySplitGivesTheSameFrames(_ chunk: Int) throws {
        let stream = Self.register + Self.message + Array("\r\n\r\n".utf8) + Self.message
        var framer = SIPStreamFramer()
        var frames: [SIPStreamFramer.Frame] = []
        var offset = 0
        while offset < stream.count {
            framer.append(stream[offset..<min(offset + chunk, stream.count)])
            offset += chunk
            while let frame = try framer.nextFrame() { frames.append(frame) }
        }
        #expect(frames == [.message(Self.register), .message(Self.message), .keepAlivePing, .message(Self.message)])
    }

    @Test func missingContentLengthIsAFramingError() throws {
        var framer = SIPStreamFramer()
        framer.append(datagram(["OPTIONS sip:x@example.com SIP/2.0", "Via: SIP/2.0/TCP h;branch=z9hG4bK1"]))
        #expect(throws: SIPParseError(.missingHeader, "")) { try framer.nextFrame() }
    }

    @Test func hugeContentLengthIsRefusedBeforeBuffering() throws {
        var framer = SIPStreamFramer()
        framer.append(datagram(["OPTIONS sip:x@example.com SIP/2.0", "Content-Length: 2000000000"]))
        let error = #expect(throws: SIPParseError.self) { try framer.nextFrame() }
        #expect(error?.sipStatus == 413)
    }

    @Test func endlessHeaderSectionIsBounded() throws {
        var framer = SIPStreamFramer(limits: SIPParseLimits(maxMessageSize: 4096))
        framer.append(Array("OPTIONS sip:x@example.com SIP/2.0\r\n".utf8))
        var thrown: SIPParseError? = nil
        for _ in 0..<1000 {
            framer.append(Array("X-Filler: aaaaaaaaaaaaaaaaaaaaaaaa\r\n".utf8))
            do { _ = try framer.nextFrame() } catch {
                thrown = error
                break
            }
        }
        #expect(thrown?.code == .messageTooLarge)
        #expect(framer.bufferedByteCount < 4096 + 64)
    }

    @Test func ambiguousContentLengthIsAFramingError() throws {
        var framer = SIPStreamFramer()
        framer.append(datagram(["OPTIONS sip:x@example.com SIP/2.0", "Content-Length: 0", "l: 4"]))
        #expect(throws: SIPParseError(.duplicateHeader, "")) { try framer.nextFrame() }
    }
}
