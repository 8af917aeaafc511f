import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A TCP or TLS test peer: sends bytes, collects what comes back, notices when the server closes.
final class StreamTestClient: Sendable {
    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received = Mutex<[UInt8]>([])
        let closed = Mutex(false)
        let errors = Mutex<[String]>([])
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            received.withLock { $0 += Array(buffer.readableBytesView) }
        }
        func channelInactive(context: ChannelHandlerContext) { closed.withLock { $0 = true } }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            errors.withLock { $0.append("\(error)") }
            context.close(promise: nil)
        }
    }

    let channel: any Channel
    private let collector: Collector

    private init(channel: any Channel, collector: Collector) {
        self.channel = channel
        self.collector = collector
    }

    /// Connects; with `tls`, runs a TLS client (trusting `trustRootPath`, presenting the given certificate).
    static func connect(to address: SocketAddress, group: any EventLoopGroup, tls: TLSConfiguration? = nil)
        async throws -> StreamTestClient
    {
        let collector = Collector()
        let sslContext = try tls.map { try NIOSSLContext(configuration: $0) }
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: sslContext, serverHostname: "localhost"))
                    }
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(to: address).get()
        return StreamTestClient(channel: channel, collector: collector)
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(channel.allocator.buffer(string: text)).get()
    }

    var received: String { String(decoding: collector.received.withLock { $0 }, as: UTF8.self) }
    var isClosed: Bool { collector.closed.withLock { $0 } }
    var errors: [String] { collector.errors.withLock { $0 } }

    /// Waits (polling, bounded) until `condition` holds; returns whether it did.
    func wait(upTo seconds: Int = 5, until condition: (StreamTestClient) -> Bool) async -> Bool {
        for _ in 0..<(seconds * 50) {
            if condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition(self)
    }

    func close() async { try? await channel.close() }
}
