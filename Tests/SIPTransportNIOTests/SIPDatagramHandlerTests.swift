import NIOCore
import NIOEmbedded
import NIOPosix
import SIPMessage
import SIPTransportNIO
import Synchronization
import Testing

let options = """
    OPTIONS sip:edge@127.0.0.1 SIP/2.0\r
    Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKopt1;rport\r
    From: <sip:probe@example.net>;tag=7\r
    To: <sip:edge@127.0.0.1>\r
    Call-ID: udp-1\r
    CSeq: 1 OPTIONS\r
    Max-Forwards: 70\r
    Content-Length: 0\r
    \r

    """

/// Answers OPTIONS with 200 and Allow, as the edge does before the proxy exists.
struct OptionsAnswerer: SIPInboundHandler {
    func handle(_ inbound: SIPInbound) async -> SIPReply? {
        guard inbound.message.method == .options else { return nil }
        return (try? inbound.message.makeResponse(
            status: 200, toTag: "edge", source: inbound.sourceHostPort,
            extraHeaders: [("Allow", "REGISTER, OPTIONS")])).map { SIPReply(bytes: $0) }
    }
}

/// Fails the test if anything reaches it.
struct UnreachableHandler: SIPInboundHandler {
    func handle(_ inbound: SIPInbound) async -> SIPReply? {
        Issue.record("a malformed message reached the TU")
        return nil
    }
}

func envelope(_ text: String, from address: SocketAddress, allocator: ByteBufferAllocator) -> AddressedEnvelope<ByteBuffer> {
    AddressedEnvelope(remoteAddress: address, data: allocator.buffer(string: text))
}

/// Answers OPTIONS after a pause, to hold work in flight.
struct SlowOptionsAnswerer: SIPInboundHandler {
    func handle(_ inbound: SIPInbound) async -> SIPReply? {
        try? await Task.sleep(for: .milliseconds(300))
        return await OptionsAnswerer().handle(inbound)
    }
}

/// Answers every OPTIONS to port 0 first (a hostile Via), then normally.
final class PortZeroThenNormal: SIPInboundHandler, @unchecked Sendable {
    let calls = Mutex(0)
    func handle(_ inbound: SIPInbound) async -> SIPReply? { nil }
    func handleNow(_ inbound: SIPInbound) -> SIPImmediateOutcome {
        let first = calls.withLock { count in defer { count += 1 }; return count == 0 }
        guard let bytes = try? inbound.message.makeResponse(status: 200, toTag: "z", source: inbound.sourceHostPort)
        else { return .reply(nil) }
        let destination = first ? try? SocketAddress(ipAddress: "127.0.0.1", port: 0) : nil
        return .reply(SIPReply(bytes: bytes, destination: destination))
    }
}

/// A test client's handler: hands every datagram it receives to `sink`.
final class DatagramSink: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let sink: @Sendable (ByteBuffer) -> Void
    init(_ sink: @escaping @Sendable (ByteBuffer) -> Void) { self.sink = sink }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) { sink(unwrapInboundIn(data).data) }
}

@Suite struct SIPDatagramHandlerTests {
    @Test(.timeLimit(.minutes(1)))
    func aReplyAddressedToPortZeroIsDroppedAndTheListenerSurvives() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await DatagramBootstrap(group: group)
            .channelInitializer { $0.pipeline.addHandler(SIPDatagramHandler(handler: PortZeroThenNormal())) }
            .bind(host: "127.0.0.1", port: 0).get()
        let received = Mutex<Int>(0)
        let client = try await DatagramBootstrap(group: group)
            .channelInitializer { $0.pipeline.addHandler(DatagramSink { _ in received.withLock { $0 += 1 } }) }
            .bind(host: "127.0.0.1", port: 0).get()
        let target = try #require(server.localAddress)
        for _ in 0..<2 {
            try await client.writeAndFlush(AddressedEnvelope(remoteAddress: target,
                                                             data: client.allocator.buffer(string: options))).get()
            try await Task.sleep(for: .milliseconds(100))
        }
        for _ in 0..<100 where received.withLock({ $0 }) < 1 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(server.isActive)  // a send to port 0 would have closed it (EINVAL)
        #expect(received.withLock { $0 } == 1)  // the first reply was dropped, the second arrived
        try await client.close()
        try await server.close()
        try await group.shutdownGracefully()
    }

    @Test(.timeLimit(.minutes(1)))
    func datagramsBeyondTheInFlightBoundAreDropped() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let events = EventLog()
        let server = try await DatagramBootstrap(group: group)
            .channelInitializer {
                $0.pipeline.addHandler(SIPDatagramHandler(handler: SlowOptionsAnswerer(), maxInFlight: 1,
                                                          onEvent: { event, _ in events.append(event) }))
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let client = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let target = try #require(server.localAddress)
        for _ in 0..<3 {
            try await client.writeAndFlush(AddressedEnvelope(remoteAddress: target,
                                                             data: client.allocator.buffer(string: options))).get()
        }
        for _ in 0..<100 where !events.contains(where: { $0 == .overloadDropped }) {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(events.contains { $0 == .overloadDropped })
        try await client.close()
        try await server.close()
        try await group.shutdownGracefully()
    }

    @Test func malformedRequestGetsItsStatusAndGarbageIsDropped() throws {
        let events = Mutex<[SIPTransportEvent]>([])
        let channel = EmbeddedChannel(handler: SIPDatagramHandler(
            handler: UnreachableHandler(), onEvent: { event, _ in events.withLock { $0.append(event) } }))
        let source = try SocketAddress(ipAddress: "198.51.100.7", port: 5060)
        let mismatch = options.replacingOccurrences(of: "CSeq: 1 OPTIONS", with: "CSeq: 1 INVITE")
        try channel.writeInbound(envelope(mismatch, from: source, allocator: channel.allocator))
        let reply = try #require(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self))
        let answer = try SIPMessage.parse(Array(reply.data.readableBytesView))
        #expect(answer.statusCode == 400)
        #expect(try answer.toTag()?.isEmpty == false)  // RFC 3261 §8.2.6.2: a final response adds a To tag
        try channel.writeInbound(envelope("\u{0}\u{1}garbage", from: source, allocator: channel.allocator))
        try channel.writeInbound(envelope("SIP/2.0 999 nope\r\n\r\n", from: source, allocator: channel.allocator))
        #expect(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) == nil)
        #expect(events.withLock { $0 } == [.malformedRequestAnswered(status: 400), .malformedDropped, .malformedDropped])
        _ = try channel.finish()
    }

    @Test(.timeLimit(.minutes(1)))
    func optionsOverRealLoopbackUDP() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await DatagramBootstrap(group: group)
            .channelInitializer { $0.pipeline.addHandler(SIPDatagramHandler(handler: OptionsAnswerer())) }
            .bind(host: "127.0.0.1", port: 0).get()
        let received = Mutex<[ByteBuffer]>([])
        let done = group.next().makePromise(of: Void.self)
        let client = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.pipeline.addHandler(DatagramSink { buffer in
                    received.withLock { $0.append(buffer) }
                    done.succeed(())
                })
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let serverAddress = try #require(server.localAddress)
        try await client.writeAndFlush(AddressedEnvelope(remoteAddress: serverAddress,
                                                         data: client.allocator.buffer(string: options))).get()
        let timeout = group.next().scheduleTask(in: .seconds(5)) { done.fail(ChannelError.connectTimeout(.seconds(5))) }
        try await done.futureResult.get()
        timeout.cancel()
        let reply = try #require(received.withLock { $0.first })
        let response = try SIPMessage.parse(Array(reply.readableBytesView))
        #expect(response.statusCode == 200)
        #expect(try response.allow() == [.register, .options])
        let via = try response.topVia()
        // The client's port is its source port: rport is stamped with it (RFC 3581); received only if the host differs.
        #expect(via.received == SIPHost.parseAddress("127.0.0.1") || via.received == nil)
        #expect(via.rport == .value(UInt16(try #require(client.localAddress?.port))))
        try await client.close()
        try await server.close()
        try await group.shutdownGracefully()
    }
}

extension String {
    /// Replaces the first occurrence (tests only; no Foundation in this target).
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        var index = startIndex
        while index < endIndex {
            if self[index...].hasPrefix(target) {
                return String(self[..<index]) + replacement + String(self[self.index(index, offsetBy: target.count)...])
            }
            index = self.index(after: index)
        }
        return self
    }
}
