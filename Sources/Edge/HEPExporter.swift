import Foundation
import HEP
import Logging
import NIOCore
import NIOPosix
import RTP
import SIPMessage
import SIPTransportNIO
import Synchronization

/// `[hep]`: where the edge sends a copy of every SIP message it receives and sends (each leg), as HEPv3 for a
/// Homer collector.
public struct HEPSettings: Sendable, Hashable {
    public enum Target: Sendable, Hashable, CustomStringConvertible {
        case udp(host: String, port: Int)
        /// Packets back to back on one connection (each carries its length).
        case tcp(host: String, port: Int)

        public var description: String {
            switch self {
            case .udp(let host, let port): "udp:\(host):\(port)"
            case .tcp(let host, let port): "tcp:\(host):\(port)"
            }
        }

        /// `udp:HOST:PORT` or `tcp:HOST:PORT`, HOST an IP literal (IPv6 in brackets); nil otherwise.
        public init?(_ text: String) {
            switch SIEMSinkSettings.Target(text) {
            case .udp(let host, let port): self = .udp(host: host, port: port)
            case .tcp(let host, let port): self = .tcp(host: host, port: port)
            default: return nil
            }
        }
    }

    public var target: Target
    /// This node's capture id (Homer's `capture_id`).
    public var captureID: UInt32
    /// The collector's password (a secret: never logged).
    public var authenticationKey: String?
    /// Packets waiting at most; beyond it they are counted as dropped (a collector down must cost bounded memory).
    public var queueCapacity: Int

    public init(target: Target, captureID: UInt32 = 2_001, authenticationKey: String? = nil, queueCapacity: Int = 20_000) {
        (self.target, self.captureID, self.authenticationKey) = (target, captureID, authenticationKey)
        self.queueCapacity = max(1, queueCapacity)
    }
}

/// Copies SIP messages to a HEP collector: a bounded queue the transport only appends to, and a task that delivers
/// it. Never holds a message up; a collector that is down costs the queue, and the drops are logged with their count.
final class HEPExporter: Sendable {
    struct Queue {
        var packets: [[UInt8]] = []
        var bytes = 0
        var dropped = 0
    }

    /// Bytes waiting at most, whatever the packet count: 20,000 copies of 64 KiB messages would be over a gigabyte.
    static let maximumQueuedBytes = 32 << 20

    let settings: HEPSettings
    private let queue = Mutex(Queue())
    private let logger: Logger

    init(settings: HEPSettings, logger: Logger) {
        (self.settings, self.logger) = (settings, logger)
    }

    /// Queues a copy of `bytes` that went from `source` to `destination` over `transport`.
    func capture(_ bytes: [UInt8], transport: SIPTransportKind, from source: SocketAddress?, to destination: SocketAddress?,
                 correlationID: String?) {
        enqueue(Self.maskingSDESKeys(bytes), type: .sip, ipProtocol: transport == .udp ? 17 : 6, from: source,
                to: destination, correlationID: correlationID)
    }

    /// Queues an RTCP report the relay passed on, as Homer's RTCP JSON (HEP type 5), correlated with its call.
    func capture(rtcp report: RTCPReport, from source: SocketAddress?, to destination: SocketAddress?,
                 correlationID: String) {
        enqueue(Array(HEPRTCPReport.json(report).utf8), type: .rtcp, ipProtocol: 17, from: source, to: destination,
                correlationID: correlationID)
    }

    private func enqueue(_ payload: [UInt8], type: HEPPacket.PayloadType, ipProtocol: UInt8, from source: SocketAddress?,
                         to destination: SocketAddress?, correlationID: String?) {
        let (from, to) = (Self.endpoint(source), Self.endpoint(destination))
        // Both ends of one family (an unknown end takes the other's family's unspecified address).
        let width = max(from.address.count, to.address.count)
        func widened(_ address: [UInt8]) -> [UInt8] { address.count == width ? address : [UInt8](repeating: 0, count: width) }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let packet = HEPPacket(
            ipProtocol: ipProtocol, sourceAddress: widened(from.address),
            destinationAddress: widened(to.address), sourcePort: from.port, destinationPort: to.port,
            seconds: UInt32(truncatingIfNeeded: now.tv_sec), microseconds: UInt32(now.tv_nsec / 1_000), payloadType: type,
            captureID: settings.captureID, authenticationKey: settings.authenticationKey,
            payload: payload, correlationID: correlationID)
        guard let encoded = packet.encoded() else { return }
        queue.withLock { queue in
            if queue.packets.count < settings.queueCapacity, queue.bytes + encoded.count <= Self.maximumQueuedBytes {
                queue.packets.append(encoded)
                queue.bytes += encoded.count
            } else {
                queue.dropped += 1
            }
        }
    }

    /// The message with every SDES key (`inline:` up to `|`, a space or the line's end) overwritten with `*`, the
    /// length kept (Content-Length stays true): a capture is kept and shipped like a log, and media keys never go
    /// into one.
    static func maskingSDESKeys(_ bytes: [UInt8]) -> [UInt8] {
        let marker = Array("inline:".utf8)
        guard bytes.count > marker.count else { return bytes }
        var masked = bytes
        var index = 0
        // Case-insensitive, as the SDES parser reads the key method.
        while index <= masked.count - marker.count {
            guard masked[index] | 0x20 == marker[0],
                masked[index..<index + marker.count].elementsEqual(marker, by: { $0 | 0x20 == $1 })
            else {
                index += 1
                continue
            }
            index += marker.count
            while index < masked.count, ![UInt8(ascii: "|"), UInt8(ascii: " "), 13, 10].contains(masked[index]) {
                masked[index] = UInt8(ascii: "*")
                index += 1
            }
        }
        return masked
    }

    /// A message's Call-ID, for the correlation chunk: the value of its first `Call-ID` (or compact `i`) header
    /// line, found by a scan of the header section (a copy is no place for a full parse). Nil if there is none.
    static func callID(of bytes: [UInt8]) -> String? {
        var lineStart = 0
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count, bytes[lineEnd] != 10 { lineEnd += 1 }
            var line = bytes[lineStart..<lineEnd]
            if line.last == 13 { line = line.dropLast() }
            if line.isEmpty { return nil }  // the end of the headers
            if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
                let name = line[..<colon].filter { $0 != 32 && $0 != 9 }.map { $0 | 0x20 }
                if name == Array("call-id".utf8) || name == [UInt8(ascii: "i")] {
                    let value = line[(colon + 1)...].drop { $0 == 32 || $0 == 9 }
                    return String(decoding: value.reversed().drop { $0 == 32 || $0 == 9 }.reversed(), as: UTF8.self)
                }
            }
            lineStart = lineEnd + 1
        }
        return nil
    }

    /// An address's raw bytes (4 or 16) and port, read from the socket address itself (no text in between).
    static func endpoint(_ address: SocketAddress?) -> (address: [UInt8], port: UInt16) {
        switch address {
        case .v4(let v4)?:
            var raw = v4.address.sin_addr
            return (withUnsafeBytes(of: &raw) { Array($0) }, UInt16(bigEndian: v4.address.sin_port))
        case .v6(let v6)?:
            var raw = v6.address.sin6_addr
            return (withUnsafeBytes(of: &raw) { Array($0) }, UInt16(bigEndian: v6.address.sin6_port))
        default:
            return ([0, 0, 0, 0], 0)
        }
    }

    /// Delivers until cancelled, then once more.
    func run(group: any EventLoopGroup) async {
        var channel: (any Channel)?
        var reported = false
        while true {
            let cancelled = Task.isCancelled
            let (packets, dropped) = queue.withLock { queue in
                defer { queue = Queue() }
                return (queue.packets, queue.dropped)
            }
            if dropped > 0 {
                logger.error("HEP copies dropped: the collector cannot keep up", metadata: [
                    "collector": "\(settings.target)", "count": "\(dropped)"])
            }
            if !packets.isEmpty {
                do {
                    channel = try await deliver(packets, over: channel, group: group)
                    reported = false
                } catch {
                    try? await channel?.close()
                    channel = nil
                    if !reported {
                        logger.error("HEP collector not reachable; copies dropped", metadata: [
                            "collector": "\(settings.target)", "count": "\(packets.count)"])
                        reported = true
                    }
                }
            }
            if cancelled { break }
            try? await Task.sleep(for: .milliseconds(reported ? 1_000 : 50))
        }
        try? await channel?.close()
    }

    private func deliver(_ packets: [[UInt8]], over connection: (any Channel)?, group: any EventLoopGroup) async throws
        -> any Channel
    {
        switch settings.target {
        case .udp(let host, let port):
            return try await ExportConnection.sendDatagrams(packets, to: host, port: port, reusing: connection,
                                                            group: group)
        case .tcp(let host, let port):
            // Packets back to back: each carries its own length.
            return try await ExportConnection.sendStream(capacity: packets.reduce(0) { $0 + $1.count }, to: host,
                                                         port: port, tls: nil, reusing: connection, group: group) {
                for packet in packets { $0.writeBytes(packet) }
            }
        }
    }
}

/// The edge's inbound handler with every message it is given, and every reply it makes, copied to a HEP collector.
/// Messages are copied at their first look (``SIPInboundHandler/screen(_:)``), so those that screening drops (an
/// attack) are in the capture too.
struct HEPCapturingHandler: SIPInboundHandler {
    let inner: any SIPInboundHandler
    let exporter: HEPExporter

    func screen(_ inbound: SIPInbound) -> SIPScreenVerdict {
        exporter.capture(inbound.message.parsedBytes, transport: inbound.transport, from: inbound.source,
                         to: inbound.local, correlationID: try? inbound.message.callID())
        let verdict = inner.screen(inbound)
        if case .reply(let reply) = verdict { captureReply(reply, to: inbound) }
        return verdict
    }

    func handleNow(_ inbound: SIPInbound) -> SIPImmediateOutcome {
        let outcome = inner.handleNow(inbound)
        if case .reply(let reply) = outcome { captureReply(reply, to: inbound) }
        return outcome
    }

    func handle(_ inbound: SIPInbound) async -> SIPReply? {
        let reply = await inner.handle(inbound)
        captureReply(reply, to: inbound)
        return reply
    }

    func handle(_ inbound: SIPInbound, resuming deferral: SIPDeferral?) async -> SIPReply? {
        let reply = await inner.handle(inbound, resuming: deferral)
        captureReply(reply, to: inbound)
        return reply
    }

    private func captureReply(_ reply: SIPReply?, to inbound: SIPInbound) {
        guard let reply else { return }
        exporter.capture(reply.bytes, transport: inbound.transport, from: inbound.local,
                         to: reply.destination ?? inbound.source, correlationID: try? inbound.message.callID())
    }
}
