import AuditTrail
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SIEM
import Storage
import Synchronization

/// One `[[siem]]` sink: where events go, in which format, and which of them.
public struct SIEMSinkSettings: Sendable, Hashable {
    public enum Target: Sendable, Hashable, CustomStringConvertible {
        /// One datagram per event.
        case udp(host: String, port: Int)
        /// RFC 6587 octet counting: `LENGTH SP EVENT`.
        case tcp(host: String, port: Int)
        /// The same framing over TLS 1.2 or later (RFC 5425), the receiver's certificate verified for its address.
        case tls(host: String, port: Int)
        /// Appended, one line per event, owner-only; rotated to `PATH.1` beyond ``SIEMSinkSettings/rotateBytes``.
        case file(path: String)

        public var description: String {
            switch self {
            case .udp(let host, let port): "udp:\(host):\(port)"
            case .tcp(let host, let port): "tcp:\(host):\(port)"
            case .tls(let host, let port): "tls:\(host):\(port)"
            case .file(let path): "file:\(path)"
            }
        }

        /// `udp:HOST:PORT`, `tcp:HOST:PORT` (HOST an IP literal, IPv6 in brackets) or `file:PATH`; nil otherwise.
        public init?(_ text: String) {
            if text.hasPrefix("file:") {
                let path = String(text.dropFirst(5))
                guard !path.isEmpty else { return nil }
                self = .file(path: path)
                return
            }
            let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, let colon = parts[1].lastIndex(of: ":"),
                let port = Int(parts[1][parts[1].index(after: colon)...]), (1...65_535).contains(port)
            else { return nil }
            var host = String(parts[1][..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard (try? SocketAddress(ipAddress: host, port: port)) != nil else { return nil }
            switch parts[0] {
            case "udp": self = .udp(host: host, port: port)
            case "tcp": self = .tcp(host: host, port: port)
            case "tls": self = .tls(host: host, port: port)
            default: return nil
            }
        }
    }

    public var target: Target
    public var format: SIEMFormat
    /// Action names or prefixes ending in `.` (`security.`); empty: every event.
    public var types: [String]
    public var minimumSeverity: Int
    /// Events waiting at most; beyond it (a receiver down for minutes) they are counted as dropped.
    public var queueCapacity: Int
    /// A file sink's size before it is rotated.
    public var rotateBytes: Int
    /// A TLS sink's trust: a PEM file of the CAs that may sign the receiver's certificate (nil: the system's).
    public var trustedCAFile: String?

    public init(target: Target, format: SIEMFormat, types: [String] = [], minimumSeverity: Int = 0,
                queueCapacity: Int = 10_000, rotateBytes: Int = 64 << 20, trustedCAFile: String? = nil) {
        (self.target, self.format, self.types, self.minimumSeverity) = (target, format, types, minimumSeverity)
        (self.queueCapacity, self.rotateBytes) = (max(1, queueCapacity), max(4_096, rotateBytes))
        self.trustedCAFile = trustedCAFile
    }
}

/// A sink at work: a bounded queue that the edge only ever appends to (never waiting), and a task that delivers
/// what waits. A receiver that is down keeps what fits in the queue; what does not is counted, and once delivery
/// works again a `siem.dropped` event says how many were lost.
final class SIEMSink: Sendable {
    struct Queue {
        var lines: [String] = []
        var dropped = 0
    }

    let settings: SIEMSinkSettings
    let host: String
    private let queue = Mutex(Queue())
    private let logger: Logger

    /// This machine's name, as events name their host.
    static var hostName: String { ProcessInfo.processInfo.hostName }

    init(settings: SIEMSinkSettings, host: String, logger: Logger) {
        (self.settings, self.host, self.logger) = (settings, host, logger)
    }

    /// Queues the event if the sink wants it; never waits.
    func offer(_ event: SIEMEvent) {
        guard event.passes(types: settings.types, minimumSeverity: settings.minimumSeverity) else { return }
        let line = settings.format.line(event, host: host)
        queue.withLock { queue in
            if queue.lines.count < settings.queueCapacity { queue.lines.append(line) } else { queue.dropped += 1 }
        }
    }

    /// Events waiting, and events dropped since the last report.
    var backlog: (waiting: Int, dropped: Int) { queue.withLock { ($0.lines.count, $0.dropped) } }

    /// Delivers until cancelled, then once more (bounded by the connection's timeouts): what waits at shutdown goes.
    func run(group: any EventLoopGroup) async {
        var connection: (any Channel)?
        var failures = 0
        while true {
            let cancelled = Task.isCancelled
            let (lines, dropped) = queue.withLock { queue in
                defer { queue = Queue() }
                return (queue.lines, queue.dropped)
            }
            var batch = lines
            if dropped > 0 {
                batch.append(settings.format.line(SIEMEvent(
                    sequence: 0, time: Int64(Date().timeIntervalSince1970 * 1_000), name: "siem.dropped", severity: 6,
                    actor: "edge", subject: settings.target.description, succeeded: false,
                    message: "\(dropped) events dropped while the sink could not keep up"), host: host))
            }
            if !batch.isEmpty {
                do {
                    connection = try await deliver(batch, over: connection, group: group)
                    failures = 0
                } catch {
                    try? await connection?.close()
                    connection = nil
                    failures += 1
                    if failures == 1 {
                        logger.error("SIEM sink not reachable; events wait", metadata: [
                            "sink": "\(settings.target)", "error": "\(error)"])
                    }
                    // Back in the queue, in front, as far as they fit; the rest counted as dropped.
                    queue.withLock { queue in
                        let room = max(0, settings.queueCapacity - queue.lines.count)
                        let kept = Array(lines.prefix(room))
                        queue.dropped += dropped + (lines.count - kept.count)
                        queue.lines = kept + queue.lines
                        if queue.lines.count > settings.queueCapacity {
                            queue.dropped += queue.lines.count - settings.queueCapacity
                            queue.lines.removeLast(queue.lines.count - settings.queueCapacity)
                        }
                    }
                }
            }
            if cancelled { break }
            let pause: Duration = failures == 0 ? .milliseconds(100) : .milliseconds(min(5_000, 250 << min(failures, 5)))
            try? await Task.sleep(for: pause)
        }
        try? await connection?.close()
    }

    /// Sends `lines`; returns the connection to keep (TCP), or throws.
    private func deliver(_ lines: [String], over connection: (any Channel)?, group: any EventLoopGroup) async throws
        -> (any Channel)?
    {
        switch settings.target {
        case .file(let path):
            try Self.append(lines, to: path, rotateBytes: settings.rotateBytes)
            return nil
        case .udp(let host, let port):
            // A datagram holds one event; an oversized one is cut (syslog receivers take 8 KiB by default).
            return try await ExportConnection.sendDatagrams(lines.map { $0.utf8.prefix(8_000) }, to: host, port: port,
                                                            reusing: connection, group: group)
        case .tcp(let host, let port), .tls(let host, let port):
            let capacity = lines.reduce(0) { $0 + $1.utf8.count + 8 }
            return try await ExportConnection.sendStream(capacity: capacity, to: host, port: port, tls: try tlsContext(),
                                                         reusing: connection, group: group) { buffer in
                // RFC 6587 octet counting.
                for line in lines {
                    buffer.writeString("\(line.utf8.count) ")
                    buffer.writeString(line)
                }
            }
        }
    }

    /// The TLS client context of a TLS sink (nil for the others): TLS 1.2 or later, the receiver verified against
    /// the configured CAs or the system's.
    private func tlsContext() throws -> NIOSSLContext? {
        guard case .tls = settings.target else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        if let file = settings.trustedCAFile { configuration.trustRoots = .file(file) }
        return try NIOSSLContext(configuration: configuration)
    }

    /// Appends lines to a file (owner-only), rotating it to `PATH.1` first when it has grown past `rotateBytes`.
    static func append(_ lines: [String], to path: String, rotateBytes: Int) throws {
        let manager = FileManager.default
        if let size = (try? manager.attributesOfItem(atPath: path))?[.size] as? NSNumber, size.intValue >= rotateBytes {
            try? manager.removeItem(atPath: path + ".1")
            try manager.moveItem(atPath: path, toPath: path + ".1")
        }
        if !manager.fileExists(atPath: path) {
            guard manager.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw CocoaError(.fileWriteUnknown)
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw CocoaError(.fileWriteNoPermission) }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}

/// Feeds the sinks from the audit trail: every record after the last one forwarded (security events, the edge's
/// own records and the CLI's administrative ones alike), read in order each housekeeping tick.
final class SIEMForwarder: Sendable {
    let sinks: [SIEMSink]
    /// The next sequence number to read.
    private let next: Mutex<Int64>
    /// Where the last sequence handed to the sinks is kept, so that a restarted edge goes on from there (records
    /// written by `rampart` commands while it was down included); nil: not kept.
    private let positionFile: String?

    init(sinks: [SIEMSink], startingAfter sequence: Int64, positionFile: String? = nil) {
        self.sinks = sinks
        self.positionFile = positionFile
        next = Mutex(sequence + 1)
    }

    /// The position kept in `path`: the last sequence handed to the sinks, or nil when there is none (or it does
    /// not read as one).
    static func position(in path: String) -> Int64? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return Int64(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
            .flatMap { $0 >= 0 ? $0 : nil }
    }

    /// Reads up to `limit` new records and offers each to every sink; how many were read.
    @discardableResult
    func forward(from store: any AuditStore, limit: Int = 5_000) async -> Int {
        guard !sinks.isEmpty else { return 0 }
        let from = next.withLock { $0 }
        guard let records = try? await store.auditRecords(from: from, limit: limit), let last = records.last else {
            return 0
        }
        for record in records {
            guard let content = record.content, let decoded = try? AuditContent(canonical: content) else { continue }
            let event = SIEMEvent(sequence: record.sequence, content: decoded)
            for sink in sinks { sink.offer(event) }
        }
        next.withLock { $0 = last.sequence + 1 }
        if let positionFile {
            // Written beside, then renamed over: a crash leaves the old position or the new one.
            try? Data("\(last.sequence)\n".utf8).write(to: URL(fileURLWithPath: positionFile), options: .atomic)
        }
        return records.count
    }
}
