import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// The running edge's control socket (`DATA_DIR/control.sock`, owner-only, like the directory it is in): a command
/// that changed the store from another process (`rampart ban`, `user`, `device`, `admin token`, `privacy erase`)
/// says `changed` here, and the edge reads the change before it answers `ok`, so that the change is in force when
/// the command returns. Nothing of the store crosses the socket: a line of at most 16 bytes in, one line out, two
/// seconds at most per connection, eight connections at most. Without it (no edge running, or a path too long for
/// a socket) the edge's quarter-second poll of the store applies the change.
public final class ControlSocket: Sendable {
    /// The line a command sends.
    public static let changed = "changed"
    static let maximumConnections = 8

    let channel: any Channel
    let path: String

    private init(channel: any Channel, path: String) { (self.channel, self.path) = (channel, path) }

    /// Binds `path` (replacing what a stopped edge left there); `onChange` reads the store's changes. On NIO's
    /// shared group, not the edge's: the control plane takes no place among the SIP and media channels' loops
    /// (binding there moved which loop each relay socket lands on, which the bridged-SRTP test noticed).
    static func bind(path: String, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                     onChange: @escaping @Sendable () async -> Void) async throws -> ControlSocket {
        try? FileManager.default.removeItem(atPath: path)
        let open = Atomic<Int>(0)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 8)
            .childChannelInitializer { channel in
                guard open.add(1, ordering: .relaxed).newValue <= maximumConnections else {
                    open.subtract(1, ordering: .relaxed)
                    return channel.close()
                }
                channel.closeFuture.whenComplete { _ in open.subtract(1, ordering: .relaxed) }
                channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ControlLineHandler(onChange: onChange))
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        chmod(path, 0o600)
        return ControlSocket(channel: channel, path: path)
    }

    func close() async {
        try? await channel.close()
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// One connection: reads a line; `changed` runs the change callback and answers `ok`, anything else `?`.
final class ControlLineHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let onChange: @Sendable () async -> Void
    /// The longest line taken, its line feed aside.
    static let maximumLine = 16
    // Touched on the channel's event loop only.
    private var line: [UInt8] = []
    private var answered = false

    init(onChange: @escaping @Sendable () async -> Void) { self.onChange = onChange }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }  // one line per connection
        var buffer = unwrapInboundIn(data)
        line += buffer.readBytes(length: min(buffer.readableBytes, Self.maximumLine + 1 - line.count)) ?? []
        guard let end = line.firstIndex(of: 0x0A) else {
            if line.count > Self.maximumLine { context.close(promise: nil) }
            return
        }
        answered = true
        let channel = context.channel
        let asked = String(decoding: line[..<end], as: UTF8.self)
        guard asked == ControlSocket.changed else {
            channel.writeAndFlush(ByteBuffer(string: "?\n")).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        let onChange = onChange
        Task {
            await onChange()
            try? await channel.writeAndFlush(ByteBuffer(string: "ok\n"))
            try? await channel.close()
        }
    }
}
