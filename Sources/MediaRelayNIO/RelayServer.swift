import MediaRelay
import NIOCore
import NIOPosix
import RTP
import SDP
import SecurityPolicy
import Synchronization

/// The media relay's sockets (issue 7): a port pool on one address and the calls relayed through it. Each call
/// gets a pair of ports (RTP, RTCP) per side; what arrives on one side's port goes out of the other side's port of
/// the same component, so each side only ever sees the relay. Sockets are bound on demand and closed with the call;
/// ports return to the pool.
public final class RelayServer: Sendable {
    /// Why a call could not be set up.
    public struct SetupError: Error, Hashable, Sendable, CustomStringConvertible {
        public let description: String
    }

    let group: any EventLoopGroup
    /// The address the relay binds and advertises.
    public let host: String
    private let pool: Mutex<RelayPortPool>

    public init(group: any EventLoopGroup, host: String, ports: ClosedRange<UInt16>) throws(RelayPortPool.RangeError) {
        self.group = group
        self.host = host
        pool = Mutex(try RelayPortPool(range: ports))
    }

    /// Ports free for new calls (pairs).
    public var availablePairs: Int { pool.withLock { $0.available } }

    /// A new call with both sides' sockets bound; `onFinding` hears the crypto watch's findings.
    public func makeCall(onFinding: @escaping @Sendable (RelayCall.Side, MediaCryptoWatch.Finding) -> Void = { _, _ in })
        async throws -> RelayCall
    {
        let call = RelayCall(onFinding: onFinding)
        var bound: [(port: UInt16, rtp: any Channel, rtcp: any Channel)] = []
        do {
            for side in RelayCall.Side.allCases {
                bound.append(try await bindPair(for: call, side: side))
            }
        } catch {
            for pair in bound { await close(pair) }
            throw error
        }
        call.attach(server: self, sides: bound)
        return call
    }

    /// Binds an even/odd pair, trying a few pairs if the first ones are taken by other programs.
    private func bindPair(for call: RelayCall, side: RelayCall.Side) async throws
        -> (port: UInt16, rtp: any Channel, rtcp: any Channel)
    {
        for _ in 0..<8 {
            guard let port = pool.withLock({ $0.allocate() }) else {
                throw SetupError(description: "the relay's port range is exhausted")
            }
            do {
                let rtp = try await bind(port, call: call, side: side, component: .rtp)
                do {
                    let rtcp = try await bind(port + 1, call: call, side: side, component: .rtcp)
                    return (port, rtp, rtcp)
                } catch {
                    try? await rtp.close()
                    throw error
                }
            } catch {
                pool.withLock { $0.release(port) }  // taken by another program: try the next pair
            }
        }
        throw SetupError(description: "no relay port pair could be bound")
    }

    private func bind(_ port: UInt16, call: RelayCall, side: RelayCall.Side, component: RelayCall.Component)
        async throws -> any Channel
    {
        try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        RelayHandler(call: call, side: side, component: component))
                }
            }
            .bind(host: host, port: Int(port)).get()
    }

    func close(_ pair: (port: UInt16, rtp: any Channel, rtcp: any Channel)) async {
        try? await pair.rtp.close()
        try? await pair.rtcp.close()
        pool.withLock { $0.release(pair.port) }
    }
}

/// Hands each datagram to its call.
final class RelayHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let call: RelayCall
    let side: RelayCall.Side
    let component: RelayCall.Component

    init(call: RelayCall, side: RelayCall.Side, component: RelayCall.Component) {
        (self.call, self.side, self.component) = (call, side, component)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        call.forward(unwrapInboundIn(data), from: side, component: component)
    }
}
