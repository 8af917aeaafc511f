import NIOCore
import NIOPosix
import NIOSSL
import SIPMessage
import SIPTransportNIO
import Synchronization
import Testing

/// Answers like ``EchoPeerHandler`` and keeps what arrived.
final class RecordingHandler: SIPInboundHandler, Sendable {
    let received = Mutex<[SIPInbound]>([])
    func handle(_ inbound: SIPInbound) async -> SIPReply? {
        received.withLock { $0.append(inbound) }
        return await EchoPeerHandler().handle(inbound)
    }
    var count: Int { received.withLock { $0.count } }
}

func notify(_ callID: String) -> [UInt8] {
    Array(("NOTIFY sip:peer@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK\(callID)\r\n"
        + "From: <sip:edge@127.0.0.1>;tag=e\r\nTo: <sip:peer@127.0.0.1>;tag=p\r\nCall-ID: \(callID)\r\n"
        + "CSeq: 1 NOTIFY\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").utf8)
}

@Suite(.timeLimit(.minutes(1))) struct OutboundConnectionTests {
    @Test func theEdgeOpensAVerifiedTLSConnectionOnceAndReusesIt() async throws {
        let fixture = try TLSFixture()
        defer { fixture.remove() }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let peerHandler = RecordingHandler()
        let peer = try SIPServer(
            configuration: .init(listeners: [try SIPListenAddress(parsing: "tls:127.0.0.1:0")],
                                 tls: try ReloadableTLSContext(settings: fixture.settings)),
            handler: peerHandler, group: group)
        let peerBound = try await peer.start()
        let events = EventLog()
        let edgeHandler = RecordingHandler()
        let edge = try SIPServer(
            configuration: .init(listeners: [], outboundTLS: try fixture.settings.clientConfiguration()),
            handler: edgeHandler, group: group, onEvent: { event, _ in events.append(event) })
        let flow = SIPFlow(transport: .tls, remote: try address(peerBound[0]))
        #expect(!edge.isOpen(flow))
        // Three messages before the connection is up: all wait for it, in order.
        for index in 1...3 { #expect(edge.send(notify("out-\(index)"), connecting: flow)) }
        for _ in 0..<250 where peerHandler.count < 3 { try await Task.sleep(for: .milliseconds(20)) }
        let arrived = peerHandler.received.withLock { $0 }
        #expect(try arrived.map { try $0.message.callID() } == ["out-1", "out-2", "out-3"])
        #expect(arrived.allSatisfy { $0.transport == .tls })
        // The edge presented its own certificate (mutual TLS towards peers that ask for one).
        #expect(arrived.first?.clientCertificateFingerprint != nil)
        #expect(Set(arrived.map(\.source)).count == 1)  // one connection
        #expect(edge.isOpen(flow))
        // The peer's answers came back on the same connection.
        for _ in 0..<250 where edgeHandler.count < 3 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(edgeHandler.received.withLock { $0.allSatisfy { $0.message.statusCode == 200 } })
        #expect(events.all.isEmpty)

        // A peer whose certificate does not verify (another CA) gets nothing: the handshake fails.
        let stranger = try TLSFixture()
        defer { stranger.remove() }
        let strangerHandler = RecordingHandler()
        let impostor = try SIPServer(
            configuration: .init(listeners: [try SIPListenAddress(parsing: "tls:127.0.0.1:0")],
                                 tls: try ReloadableTLSContext(settings: stranger.settings)),
            handler: strangerHandler, group: group)
        let impostorBound = try await impostor.start()
        #expect(edge.send(notify("stolen"), connecting: SIPFlow(transport: .tls, remote: try address(impostorBound[0]))))
        for _ in 0..<250 where !events.contains(where: { if case .tlsHandshakeFailed = $0 { true } else { false } }) {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(events.contains { if case .tlsHandshakeFailed = $0 { true } else { false } })
        #expect(strangerHandler.count == 0)

        // The CA that vouches for clients does not vouch for servers unless it is named for them (issue 17).
        var clientCAOnly = fixture.settings
        clientCAOnly.serverCAPath = nil
        let clientCAEvents = EventLog()
        let wary = try SIPServer(
            configuration: .init(listeners: [], outboundTLS: try clientCAOnly.clientConfiguration()),
            handler: RecordingHandler(), group: group, onEvent: { event, _ in clientCAEvents.append(event) })
        let before = peerHandler.count
        #expect(wary.send(notify("unvouched"), connecting: flow))
        for _ in 0..<250 where !clientCAEvents.contains(where: { if case .tlsHandshakeFailed = $0 { true } else { false } }) {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(clientCAEvents.contains { if case .tlsHandshakeFailed = $0 { true } else { false } })
        #expect(peerHandler.count == before, "nothing reached a server only the client CA vouches for")

        // Over UDP nothing is ever "connected": a UDP flow needs a UDP listener.
        #expect(!edge.send(notify("udp"), connecting: SIPFlow(transport: .udp, remote: try address(peerBound[0]))))
        await SIPServer.stop(peerBound + impostorBound)
        try await group.shutdownGracefully()
    }

    @Test func aRefusedConnectionIsReportedAndDropsWhatWaited() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let events = EventLog()
        let edge = try SIPServer(configuration: .init(listeners: []), handler: RecordingHandler(), group: group,
                                 onEvent: { event, _ in events.append(event) })
        // A port nobody listens on: bind one, note it, close it.
        let probe = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let closed = try #require(probe.localAddress)
        try await probe.close()
        #expect(edge.send(notify("nobody"), connecting: SIPFlow(transport: .tcp, remote: closed)))
        for _ in 0..<250 where events.all.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        #expect(events.all.contains { if case .outboundConnectFailed = $0 { true } else { false } })
        // Without a client TLS configuration the edge opens no TLS connection at all.
        #expect(!edge.send(notify("tls"), connecting: SIPFlow(transport: .tls, remote: closed)))
        try await group.shutdownGracefully()
    }
}
