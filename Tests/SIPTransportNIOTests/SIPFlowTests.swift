import NIOCore
import NIOPosix
import SIPMessage
import SIPTransportNIO
import Synchronization
import Testing

@Suite struct SIPFlowTests {
    @Test func flowsPrintAndParseInTheStoredForm() throws {
        let v4 = SIPFlow(transport: .tls, remote: try SocketAddress(ipAddress: "192.0.2.7", port: 40_123))
        #expect(v4.description == "tls:192.0.2.7:40123")
        #expect(SIPFlow(v4.description) == v4)
        let v6 = SIPFlow(transport: .udp, remote: try SocketAddress(ipAddress: "2001:db8::5", port: 5060))
        #expect(v6.description == "udp:[2001:db8::5]:5060")
        #expect(SIPFlow(v6.description) == v6)
        #expect(SIPFlow("tls:example.com:5061") == nil && SIPFlow("tcp:192.0.2.7:0") == nil && SIPFlow("x") == nil)
    }

    @Test func requestsGoDownTheConnectionAClientOpenedAndNowhereOnceItCloses() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let server = try SIPServer(
            configuration: .init(listeners: [try SIPListenAddress(parsing: "tcp:127.0.0.1:0"),
                                             try SIPListenAddress(parsing: "udp:127.0.0.1:0")]),
            handler: EchoPeerHandler(), group: group)
        let bound = try await server.start()
        let tcpPort = try #require(bound.first { $0.address.transport == .tcp }?.address.port)
        let client = try await StreamTestClient.connect(
            to: try SocketAddress(ipAddress: "127.0.0.1", port: tcpPort), group: group)
        try await client.send(options(callID: "flow-1"))
        #expect(await client.wait { $0.received.contains("SIP/2.0 200") })
        let flow = SIPFlow(transport: .tcp, remote: try #require(client.channel.localAddress))
        #expect(server.connections.channel(for: flow) != nil)

        let request = "NOTIFY sip:probe@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKn1\r\n"
            + "From: <sip:edge@127.0.0.1>;tag=e\r\nTo: <sip:probe@127.0.0.1>;tag=p\r\nCall-ID: n1\r\n"
            + "CSeq: 1 NOTIFY\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        #expect(server.send(Array(request.utf8), over: flow))
        #expect(await client.wait { $0.received.contains("NOTIFY sip:probe@127.0.0.1") })

        await client.close()
        var forgotten = false
        for _ in 0..<250 where !forgotten {
            forgotten = server.connections.channel(for: flow) == nil
            if !forgotten { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(forgotten)
        #expect(!server.send(Array(request.utf8), over: flow))
        #expect(server.connections.count == 0)

        // Over UDP the request leaves from the UDP listener towards the flow's address.
        let received = Mutex<[String]>([])
        let peer = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.pipeline.addHandler(DatagramSink { buffer in
                    received.withLock { $0.append(String(decoding: buffer.readableBytesView, as: UTF8.self)) }
                })
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let udpFlow = SIPFlow(transport: .udp, remote: try #require(peer.localAddress))
        #expect(server.send(Array(request.utf8), over: udpFlow))
        for _ in 0..<250 where received.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(20)) }
        #expect(received.withLock { $0.first?.hasPrefix("NOTIFY") } == true)
        try await peer.close()
        await SIPServer.stop(bound)
        try await group.shutdownGracefully()
    }
}

/// Connections are counted per IPv4 address or IPv6 /64 (issue 17): a peer cannot rotate through its prefix.
@Suite struct ConnectionSourceKeyTests {
    @Test func anIPv6Slash64IsOneSourceAndMappedIPv4IsIPv4() throws {
        let limiter = ConnectionLimiter(maxPerSource: 3, maxTotal: 100)
        let prefix = (1...5).map { try! SocketAddress(ipAddress: "2001:db8:1:2::\($0)", port: 5060) }
        let admissions = prefix.map { limiter.acquire(ConnectionLimiter.sourceKey($0)) }
        #expect(admissions == [.admitted, .admitted, .admitted, .sourceFull, .sourceFull])
        let other = try SocketAddress(ipAddress: "2001:db8:1:3::1", port: 5060)
        #expect(limiter.acquire(ConnectionLimiter.sourceKey(other)) == .admitted, "another /64")
        #expect(ConnectionLimiter.sourceKey(try SocketAddress(ipAddress: "::ffff:192.0.2.7", port: 1)) == "192.0.2.7")
        #expect(ConnectionLimiter.sourceKey(try SocketAddress(ipAddress: "192.0.2.7", port: 1)) == "192.0.2.7")
        #expect(ConnectionLimiter.sourceKey(prefix[0]) == "2001:db8:1:2::/64")
    }
}
