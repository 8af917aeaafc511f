@testable import Edge
import Logging
import SIPMessage
import SIPTransaction
import Synchronization
import Testing

/// A log handler that keeps what reaches it.
final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    let lines = Mutex<[String]>([])
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        lines.withLock { $0.append("\(event.message) \(merged.sorted { $0.key < $1.key })") }
    }
}

@Suite struct SupportTests {
    @Test func secretsNeverReachTheWrappedLogHandler() {
        let capture = CapturingLogHandler()
        var logger = Logger(label: "test") { _ in RedactingLogHandler(wrapping: capture) }
        logger[metadataKey: "ha1"] = "5f4dcc3b5aa765d61d8327deb882cf99"
        logger.warning("event", metadata: [
            "password": "hunter2", "nonce": "AAAAdeadbeef", "account": "sip:alice@localhost",
            "header": "Digest username=\"alice\", nonce=\"abc\", response=\"0123\"",
            "nested": ["privateKey": "-----BEGIN PRIVATE KEY-----"],
            "headers": ["Via: SIP/2.0/UDP x", "Authorization: Digest username=\"a\", nonce=\"n\", response=\"f00d\""],
        ])
        logger.info("Authorization: Digest username=\"alice\", nonce=\"abc\", response=\"0123\"")
        let text = capture.lines.withLock { $0.joined(separator: "\n") }
        for secret in ["hunter2", "AAAAdeadbeef", "5f4dcc3b", "response=\"0123\"", "BEGIN PRIVATE KEY", "f00d"] {
            #expect(!text.contains(secret), "\(secret) leaked")
        }
        #expect(text.contains("sip:alice@localhost"))  // ordinary metadata passes
    }

    @Test func serverTransactionCacheAbsorbsRetransmissionsAndStaysBounded() throws {
        var cache = ServerTransactionCache(capacity: 2, timers: TransactionTimers(t1: .milliseconds(500)))
        let key = ServerTransactionKey.rfc3261(branch: "z9hG4bK1", sentBy: "a:1", method: "REGISTER")
        #expect(cache.arrive(key, now: .zero) == .new)
        #expect(cache.arrive(key, now: .milliseconds(10)) == .retransmission(response: nil))  // still processing
        cache.complete(key, response: [1, 2, 3], reliable: false, now: .seconds(1))
        #expect(cache.arrive(key, now: .seconds(2)) == .retransmission(response: [1, 2, 3]))
        let other = ServerTransactionKey.rfc3261(branch: "z9hG4bK2", sentBy: "a:1", method: "REGISTER")
        let third = ServerTransactionKey.rfc3261(branch: "z9hG4bK3", sentBy: "a:1", method: "REGISTER")
        #expect(cache.arrive(other, now: .seconds(2)) == .new)
        #expect(cache.count == 2)
        // Bounded: a third transaction makes room by forgetting the oldest.
        #expect(cache.arrive(third, now: .seconds(3)) == .new)
        #expect(cache.count == 2)
        #expect(cache.arrive(other, now: .seconds(3)) == .retransmission(response: nil))
        // Timer J (64·T1 = 32 s) after the response, a transaction is forgotten.
        cache.complete(other, response: [4], reliable: false, now: .seconds(4))
        #expect(cache.arrive(other, now: .seconds(20)) == .retransmission(response: [4]))
        #expect(cache.arrive(other, now: .seconds(37)) == .new)
        // Answers the caller chooses not to remember are forgotten at once.
        cache.complete(other, response: [5], reliable: false, now: .seconds(37), remember: false)
        #expect(cache.arrive(other, now: .seconds(37)) == .new)
        // Over reliable transports nothing is kept once answered.
        cache.complete(third, response: [9], reliable: true, now: .seconds(38))
        #expect(cache.arrive(third, now: .seconds(38)) == .new)
    }
}
