@testable import Edge
import Foundation
import Logging
import SIPMessage
import SIPTransportNIO
import SecurityPolicy
import ServiceLifecycle
import Storage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The whole edge in process (issue 18): what `rampart serve` runs, started on a loopback port with an in-memory
/// store, spoken to over a real UDP socket, and shut down through its service group; no child process.
@Suite(.timeLimit(.minutes(1))) struct EdgeServerTests {
    /// A UDP socket on 127.0.0.1 that sends one request and waits (bounded) for one answer.
    final class Phone {
        let fd: Int32
        let port: Int

        init(host: String = "127.0.0.1", timeoutSeconds: Int = 5) throws {
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            self.fd = fd
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr(host)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
                }
            }
            try #require(bound)
            port = Int(UInt16(bigEndian: address.sin_port))
            var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit { close(fd) }

        func ask(_ text: String, port edgePort: Int) throws -> SIPMessage {
            try #require(try send(text, port: edgePort), "no answer in time")
        }

        /// Sends `text` to the edge; its answer, or nil if none came in time.
        func send(_ text: String, port edgePort: Int) throws -> SIPMessage? {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(edgePort).bigEndian
            let bytes = Array(text.utf8)
            let sent = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            try #require(sent == bytes.count)
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let received = recv(fd, &buffer, buffer.count, 0)
            guard received > 0 else { return nil }
            return try SIPMessage.parse(Array(buffer[..<received]))
        }
    }

    /// The screen comes before validation (issue 18): a denied source's malformed request is dropped unanswered
    /// and unvalidated, while the same bytes from an allowed source get the 400 validation gives them.
    @Test func theDescriptorLimitIsRaisedToWhatTheProcessMayHave() throws {
        var before = rlimit()
        let resource = EdgeServer.descriptorLimit
        #expect(getrlimit(resource, &before) == 0)
        // Lowered first (as a service manager's default of 1,024 would be), so that raising it is seen to happen.
        var lowered = before
        lowered.rlim_cur = min(before.rlim_max, 1_024)
        #expect(setrlimit(resource, &lowered) == 0)
        let inForce = try #require(EdgeServer.raiseDescriptorLimit())
        var after = rlimit()
        #expect(getrlimit(resource, &after) == 0)
        #expect(inForce == UInt64(after.rlim_cur) && after.rlim_cur == before.rlim_max)
    }

    @Test func aDeniedSourceIsScreenedOutBeforeItsMessageIsValidated() async throws {
        let store = try await EdgeFixture.provisionedStore()
        var configuration = EdgeService.Configuration()
        configuration.security.acl = AddressACL(deny: try NetworkList(parsing: ["127.0.0.2"]))
        let edge = EdgeService(configuration: configuration, store: store)
        let transport = SIPServer.Configuration(listeners: [try SIPListenAddress(parsing: "udp:127.0.0.1:0")])
        let server = EdgeServer(edge: edge, store: store, configuration: .init(transport: transport, threads: 1),
                                logger: Logger(label: "test"))
        let port = try #require(try await server.start().listeners.first?.port)
        let group = ServiceGroup(configuration: .init(services: [.init(service: server)], logger: Logger(label: "test")))
        async let running: Void = group.run()

        // Transfer-Encoding is a validation error (400), found only by a full check of the headers.
        let malformed = request("OPTIONS", branch: "te").replacingOccurrences(
            of: "Content-Length: 0", with: "Transfer-Encoding: chunked\r\nContent-Length: 0")
        #expect(try Phone().send(malformed, port: port)?.statusCode == 400, "allowed source: validated and answered")
        #expect(try Phone(host: "127.0.0.2", timeoutSeconds: 1).send(malformed, port: port) == nil,
                "denied source: screened out first")
        await group.triggerGracefulShutdown()
        try await running
    }

    @Test func theEdgeServesOverRealSocketsAndStopsInOrderWithItsStateWritten() async throws {
        let store = try await EdgeFixture.provisionedStore()
        let edge = EdgeService(configuration: .init(), store: store)
        let transport = SIPServer.Configuration(listeners: [try SIPListenAddress(parsing: "udp:127.0.0.1:0")])
        let server = EdgeServer(edge: edge, store: store, configuration: .init(transport: transport, threads: 1),
                                logger: Logger(label: "test"))
        let bound = try await server.start()
        let port = try #require(bound.listeners.first?.port)
        #expect(port > 0)
        let group = ServiceGroup(configuration: .init(services: [.init(service: server)], logger: Logger(label: "test")))
        async let running: Void = group.run()

        let phone = try Phone()
        let contact = "<sip:alice@127.0.0.1:\(phone.port)>"
        let challenge = try phone.ask(register(branch: "s1", cseq: 1, contact: contact), port: port)
        #expect(challenge.statusCode == 401)
        let answer = try credentials(for: challenge, algorithm: .sha256)
        let ok = try phone.ask(register(branch: "s2", cseq: 2, contact: contact, authorization: answer), port: port)
        #expect(ok.statusCode == 200)
        #expect(try phone.ask(request("OPTIONS", branch: "s3"), port: port).statusCode == 200)

        // A graceful shutdown writes the registration behind, as SIGTERM does for `serve`.
        await group.triggerGracefulShutdown()
        try await running
        let stored = try await store.allRegistrations(validAt: 0)
        #expect(stored.map(\.addressOfRecord) == ["sip:alice@localhost"])
    }
}
