import NIOCore
import NIOPosix
import NIOSSL

/// The way out of the edge's exports (SIEM sinks, HEP): to one receiver, a datagram per payload over UDP, or one
/// stream over TCP (TLS with a context), the channel kept for the next batch while it stays up.
enum ExportConnection {
    /// Sends each payload as one datagram, from `connection` if it is still open, else from a new socket.
    static func sendDatagrams<Payload: Collection<UInt8>>(
        _ payloads: [Payload], to host: String, port: Int, reusing connection: (any Channel)?,
        group: any EventLoopGroup
    ) async throws -> any Channel {
        let channel: any Channel
        if let connection, connection.isActive { channel = connection } else {
            channel = try await DatagramBootstrap(group: group).bind(host: host.contains(":") ? "::" : "0.0.0.0", port: 0)
                .get()
        }
        let destination = try SocketAddress(ipAddress: host, port: port)
        for (index, payload) in payloads.enumerated() {
            var buffer = channel.allocator.buffer(capacity: payload.count)
            buffer.writeBytes(payload)
            let envelope = AddressedEnvelope(remoteAddress: destination, data: buffer)
            if index < payloads.count - 1 { channel.write(envelope, promise: nil) } else {
                try await channel.writeAndFlush(envelope).get()
            }
        }
        return channel
    }

    /// Writes what `fill` puts in one buffer down a stream, over `connection` if it is still up, else over a new one
    /// (TLS with `tls`: no server name, so the certificate is checked against the address, an IP SAN). A receiver
    /// that accepts and never reads (or never finishes the handshake) must not hold the export, and with it a clean
    /// shutdown, for ever: the connection is closed if the write has not gone within five seconds.
    static func sendStream(capacity: Int, to host: String, port: Int, tls: NIOSSLContext?,
                           reusing connection: (any Channel)?, group: any EventLoopGroup,
                           _ fill: (inout ByteBuffer) -> Void) async throws -> any Channel {
        let channel: any Channel
        if let connection, connection.isActive { channel = connection } else {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(.seconds(3))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls,
                                                                                               serverHostname: nil))
                        }
                    }
                }
                .connect(host: host, port: port).get()
        }
        var buffer = channel.allocator.buffer(capacity: capacity)
        fill(&buffer)
        let deadline = channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
        defer { deadline.cancel() }
        try await channel.writeAndFlush(buffer).get()
        return channel
    }
}
