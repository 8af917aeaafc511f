import MediaRelayNIO
import NIOCore
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// Media relay throughput and added latency (issue 7), release build: N concurrent calls, each side sending a
// 160-byte G.711 payload every 20 ms (50 pps per direction), through Rampart's relay (in this process, on its own
// event loops) or through rtpengine (another process, userspace forwarding, driven over its ng control protocol),
// or directly between the phones (the baseline the added latency is measured against). Every packet carries its
// send time; the receiver keeps a latency histogram.
//
//   RelayBenchmark --relay rampart|rampart-process|rtpengine|direct --calls N [--seconds S] [--ng 127.0.0.1:22222]
//   RelayBenchmark --serve-relay PORT      (Rampart's relay alone in its own process, as rtpengine runs: calls are
//                                           asked for over UDP on 127.0.0.1:PORT; `rampart-process` drives it)
//
// Prints one line of `key=value` fields: offered and delivered packets per second, loss, median and p99 latency.

var relayKind = "rampart", calls = 100, seconds = 5, ngAddress = "127.0.0.1:22222", servePort: UInt16?
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
    guard let value = arguments.next() else { fatalError("usage: RelayBenchmark --relay KIND --calls N [--seconds S]") }
    switch flag {
    case "--relay": relayKind = value
    case "--calls": calls = Int(value) ?? calls
    case "--seconds": seconds = Int(value) ?? seconds
    case "--ng": ngAddress = value
    case "--serve-relay": servePort = UInt16(value)
    default: fatalError("unknown option \(flag)")
    }
}

/// Monotonic nanoseconds.
func now() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// What the phones received: counts and a latency histogram in microseconds (the last bucket holds the rest).
final class Tally: Sendable {
    struct State {
        var received = 0
        var histogram = [Int](repeating: 0, count: 100_001)
    }
    let state = Mutex(State())
    let measuring = Atomic<Bool>(false)

    func record(sentAt: UInt64) {
        guard measuring.load(ordering: .relaxed) else { return }
        let micros = Int(min((now() &- sentAt) / 1_000, 100_000))
        state.withLock {
            $0.received += 1
            $0.histogram[micros] += 1
        }
    }

    func percentile(_ fraction: Double) -> Double {
        state.withLock { state in
            let target = Int((Double(state.received) * fraction).rounded(.up))
            var seen = 0
            for (micros, count) in state.histogram.enumerated() {
                seen += count
                if seen >= max(1, target) { return Double(micros) / 1_000 }
            }
            return .nan
        }
    }
}

final class PhoneHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let tally: Tally
    init(tally: Tally) { self.tally = tally }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let sentAt = envelope.data.getInteger(at: envelope.data.readerIndex + 12, as: UInt64.self) else { return }
        tally.record(sentAt: sentAt)
    }
}

/// The relay-process mode: Rampart's relay in this process and nothing else; each control datagram
/// "call PORT_A PORT_B" makes a call between those loopback ports and is answered "RELAY_A RELAY_B". Runs until
/// killed.
func serveRelay(on port: UInt16) async throws -> Never {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
    let server = try RelayServer(group: group, host: "127.0.0.1", ports: 10_000...29_999)
    try await server.start(warmPairs: 64)
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = in_port_t(port.bigEndian)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    precondition(bound == 0, "cannot bind the control port")
    var calls: [RelayCall] = []
    while true {
        var buffer = [UInt8](repeating: 0, count: 256)
        var from = sockaddr_storage(), fromLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let count = withUnsafeMutablePointer(to: &from) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, 0, $0, &fromLength) }
        }
        let words = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self).split(separator: " ")
        guard words.count == 3, words[0] == "call", let portA = Int(words[1]), let portB = Int(words[2]) else { continue }
        var made = server.makeCall()
        for _ in 0..<1_000 where made == nil {
            try await Task.sleep(for: .milliseconds(2))
            made = server.makeCall()
        }
        guard let call = made else { fatalError("the relay ran out of ports") }
        call.signal(.a, rtp: try SocketAddress(ipAddress: "127.0.0.1", port: portA), rtcp: nil)
        call.signal(.b, rtp: try SocketAddress(ipAddress: "127.0.0.1", port: portB), rtcp: nil)
        calls.append(call)
        let reply = Array("\(call.port(for: .a)) \(call.port(for: .b))".utf8)
        _ = withUnsafePointer(to: &from) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, reply, reply.count, 0, $0, fromLength) }
        }
    }
}

if let servePort { try await serveRelay(on: servePort) }

/// A UDP socket for a control protocol at `text` (IP:port), with a receive timeout.
func controlSocket(to text: String, timeoutSeconds: Int) -> (Int32, sockaddr_in) {
    let parts = text.split(separator: ":")
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr(String(parts[0]))
    address.sin_port = in_port_t(UInt16(parts[1])!.bigEndian)
    var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    return (fd, address)
}

/// Asks a relay process (`--serve-relay`) for calls.
struct RelayProcessClient {
    let fd: Int32
    var address = sockaddr_in()

    init(_ text: String) { (fd, address) = controlSocket(to: text, timeoutSeconds: 5) }

    /// The relay's ports for a call between two phones: the one A sends to, the one B sends to.
    mutating func call(_ portA: Int, _ portB: Int) -> (Int, Int) {
        let message = Array("call \(portA) \(portB)".utf8)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, message, message.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var reply = [UInt8](repeating: 0, count: 64)
        let count = recv(fd, &reply, reply.count, 0)
        precondition(count > 0, "the relay process did not answer")
        let ports = String(decoding: reply.prefix(count), as: UTF8.self).split(separator: " ").compactMap { Int($0) }
        return (ports[0], ports[1])
    }
}

/// A minimal client of rtpengine's ng protocol (bencoded dictionaries over UDP, each prefixed with a cookie).
struct NGClient {
    let fd: Int32
    var address = sockaddr_in()
    var cookie = 0

    init(_ text: String) { (fd, address) = controlSocket(to: text, timeoutSeconds: 2) }

    static func bencode(_ dictionary: [(String, String)]) -> [UInt8] {
        var out = Array("d".utf8)
        for (key, value) in dictionary.sorted(by: { $0.0 < $1.0 }) {
            out += Array("\(key.utf8.count):\(key)\(value.utf8.count):\(value)".utf8)
        }
        return out + Array("e".utf8)
    }

    /// Sends a command and returns the media port of the SDP in the reply.
    mutating func command(_ fields: [(String, String)]) -> UInt16 {
        cookie += 1
        let message = Array("c\(cookie) ".utf8) + Self.bencode(fields)
        let sent = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, message, message.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        precondition(sent == message.count, "ng send failed")
        var reply = [UInt8](repeating: 0, count: 65_536)
        let count = recv(fd, &reply, reply.count, 0)
        precondition(count > 0, "rtpengine did not answer")
        let bytes = Array(reply.prefix(count)), marker = Array("m=audio ".utf8)
        guard let start = (0...max(0, bytes.count - marker.count)).first(where: { bytes[$0..<$0 + marker.count].elementsEqual(marker) })
        else { fatalError("no SDP in rtpengine's reply: \(String(decoding: bytes, as: UTF8.self))") }
        let digits = bytes[(start + marker.count)...].prefix { $0 >= 0x30 && $0 <= 0x39 }
        return UInt16(String(decoding: digits, as: UTF8.self))!
    }
}

func sdp(port: Int) -> String {
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio \(port) RTP/AVP 0\r\n"
}

let generatorGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let relayGroup = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
let tally = Tally()

// Two phones per call, and where each sends.
var phones: [(channel: any Channel, destination: SocketAddress)] = []
var relayCalls: [RelayCall] = []
var relay: RelayServer?
if relayKind == "rampart" {
    let server = try RelayServer(group: relayGroup, host: "127.0.0.1", ports: 10_000...29_999)
    // A pool as serve keeps it; calls below wait for refills (a pool of every call's pairs would be refilled to
    // twice that many sockets).
    try await server.start(warmPairs: 64)
    relay = server
}
var ng = relayKind == "rtpengine" ? NGClient(ngAddress) : nil
var relayProcess = relayKind == "rampart-process" ? RelayProcessClient(ngAddress) : nil
let runID = getpid()
for index in 0..<calls {
    var pair: [any Channel] = []
    for _ in 0..<2 {
        pair.append(try await DatagramBootstrap(group: generatorGroup)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(PhoneHandler(tally: tally)) }
            }
            .bind(host: "127.0.0.1", port: 0).get())
    }
    let portA = pair[0].localAddress!.port!, portB = pair[1].localAddress!.port!
    let targetOfA: Int, targetOfB: Int
    switch relayKind {
    case "rampart":
        var made = relay!.makeCall()
        for _ in 0..<1_000 where made == nil {
            try await Task.sleep(for: .milliseconds(2))
            made = relay!.makeCall()
        }
        guard let call = made else { fatalError("the relay ran out of ports") }
        call.signal(.a, rtp: pair[0].localAddress, rtcp: nil)
        call.signal(.b, rtp: pair[1].localAddress, rtcp: nil)
        relayCalls.append(call)
        (targetOfA, targetOfB) = (Int(call.port(for: .a)), Int(call.port(for: .b)))
    case "rampart-process":
        (targetOfA, targetOfB) = relayProcess!.call(portA, portB)
    case "rtpengine":
        let callID = "bench-\(runID)-\(index)"
        // The offer's SDP (A's) comes back with the port B sends to; the answer's (B's) with the one A sends to.
        let forB = ng!.command([("command", "offer"), ("call-id", callID), ("from-tag", "a"), ("sdp", sdp(port: portA))])
        let forA = ng!.command([("command", "answer"), ("call-id", callID), ("from-tag", "a"), ("to-tag", "b"),
                                ("sdp", sdp(port: portB))])
        (targetOfA, targetOfB) = (Int(forA), Int(forB))
    default:
        (targetOfA, targetOfB) = (portB, portA)
    }
    phones.append((pair[0], try SocketAddress(ipAddress: "127.0.0.1", port: targetOfA)))
    phones.append((pair[1], try SocketAddress(ipAddress: "127.0.0.1", port: targetOfB)))
}

// Every millisecond a twentieth of the phones send, so each sends every 20 ms and the load is even.
let sent = Atomic<Int>(0)
let sequence = Atomic<Int>(0)
let allPhones = phones
let ticker = generatorGroup.next().scheduleRepeatedTask(initialDelay: .milliseconds(1), delay: .milliseconds(1)) { _ in
    let tick = sequence.wrappingAdd(1, ordering: .relaxed).oldValue
    let slot = tick % 20
    let measuring = tally.measuring.load(ordering: .relaxed)
    var index = slot
    while index < allPhones.count {
        let (channel, destination) = allPhones[index]
        var buffer = channel.allocator.buffer(capacity: 172)
        buffer.writeInteger(UInt16(0x8000))
        buffer.writeInteger(UInt16(truncatingIfNeeded: tick / 20))
        buffer.writeInteger(UInt32(truncatingIfNeeded: tick * 8))
        buffer.writeInteger(UInt32(index))
        buffer.writeInteger(now())
        buffer.writeRepeatingByte(0xD5, count: 152)
        channel.write(AddressedEnvelope(remoteAddress: destination, data: buffer), promise: nil)
        channel.flush()
        if measuring { sent.wrappingAdd(1, ordering: .relaxed) }
        index += 20
    }
}

try await Task.sleep(for: .seconds(2))  // warm-up: latches set, queues steady
tally.measuring.store(true, ordering: .relaxed)
let started = now()
try await Task.sleep(for: .seconds(seconds))
tally.measuring.store(false, ordering: .relaxed)
let elapsed = Double(now() - started) / 1e9
try await Task.sleep(for: .milliseconds(200))  // packets in flight arrive (and are not counted as sent twice)
ticker.cancel()

let offered = sent.load(ordering: .relaxed), delivered = tally.state.withLock { $0.received }
let loss = offered > 0 ? max(0, Double(offered - delivered) / Double(offered)) : 0
func format(_ value: Double, _ digits: Int = 3) -> String {
    let scale = pow(10, Double(digits))
    return String((value * scale).rounded() / scale)
}
print("relay=\(relayKind) calls=\(calls) offered_pps=\(Int(Double(offered) / elapsed)) "
    + "delivered_pps=\(Int(Double(delivered) / elapsed)) loss_pct=\(format(loss * 100)) "
    + "median_ms=\(format(tally.percentile(0.5))) p99_ms=\(format(tally.percentile(0.99)))")

for (channel, _) in phones { try? await channel.close() }
for call in relayCalls { await call.close() }
await relay?.stop()
try await generatorGroup.shutdownGracefully()
try await relayGroup.shutdownGracefully()
