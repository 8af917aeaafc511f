import SecurityPolicy
// The edge's transaction user without the network, single thread, release build:
//   swift run -c release EdgeBenchmark [seconds]
// Drives `EdgeService.handleNow` with what sipp's registrar scenario sends (REGISTER → 401 → REGISTER with MD5
// digest → 200) for 10,000 users, and prints the time per step, so that the registrar benchmark's CPU per
// registration can be split into the transaction user's share and the transport's. The client's own work (building
// the requests, answering the challenge) is timed separately and not counted.
import Edge
import Foundation
import NIOCore
import SIPAuth
import SIPMessage
import SIPTransportNIO
import Storage

let users = 10_000
let seconds = CommandLine.arguments.count > 1 ? Double(CommandLine.arguments[1]) ?? 5 : 5

func register(_ index: Int, cseq: Int, authorization: String?) -> [UInt8] {
    let user = String(format: "u%06d", index)
    var text = "REGISTER sip:localhost SIP/2.0\r\n"
        + "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-\(index)-\(cseq);rport\r\n"
        + "From: <sip:\(user)@localhost>;tag=\(index)\r\nTo: <sip:\(user)@localhost>\r\n"
        + "Call-ID: \(index)-bench@127.0.0.1\r\nCSeq: \(cseq) REGISTER\r\n"
        + "Contact: <sip:\(user)@127.0.0.1:5070>\r\nMax-Forwards: 70\r\nExpires: 3600\r\n"
    if let authorization { text += "Authorization: \(authorization)\r\n" }
    text += "Content-Length: 0\r\n\r\n"
    return Array(text.utf8)
}

let store = InMemoryStore()
var accounts: [Account] = []
for index in 0..<users {
    let user = String(format: "u%06d", index)
    accounts.append(Account(username: user, domain: "localhost",
                            ha1ByAlgorithm: DigestHA1.storedValues(username: user, realm: "localhost", password: "pw")))
}
try await store.saveAccounts(accounts)
// One client on one address registering as fast as it can: its budgets and the challenge-only rule (401s with no
// success, a scanner's mark) are raised out of the way; every request still goes through every check.
var configuration = EdgeService.Configuration()
let unlimited = RateLimiter.Budget(perSecond: 1e9, burst: 1e9)
let noLimit = RateLimiter.Budgets(register: unlimited, invite: unlimited, options: unlimited, other: unlimited)
configuration.security.rateLimits = RateLimiter.Limits(perSource: noLimit, perAccount: noLimit, perPair: noLimit)
configuration.security.rules.failureAnswers = .max
let edge = EdgeService(configuration: configuration, store: store)
let source = try SocketAddress(ipAddress: "127.0.0.1", port: 5070)

func inbound(_ bytes: [UInt8]) -> SIPInbound {
    SIPInbound(message: try! SIPMessage.parse(bytes), transport: .udp, source: source, local: nil)
}

func reply(_ inbound: SIPInbound) -> [UInt8] {
    guard case .reply(let reply?) = edge.handleNow(inbound) else { fatalError("no immediate reply") }
    return reply.bytes
}

// Warm the directory cache (the store is read once per user, as in the server).
var cseq = 1
for index in 0..<users { _ = reply(inbound(register(index, cseq: cseq, authorization: nil))) }

var parse = Duration.zero, challenge = Duration.zero, authenticate = Duration.zero, client = Duration.zero
var registrations = 0
let clock = ContinuousClock()

/// Runs `body`, adding its time to `total`.
func timed<T>(_ total: inout Duration, _ body: () throws -> T) rethrows -> T {
    let start = clock.now
    defer { total += clock.now - start }
    return try body()
}

let deadline = clock.now + .seconds(seconds)
while clock.now < deadline {
    cseq += 2
    for index in 0..<1_000 {
        let user = String(format: "u%06d", index)
        let first = timed(&client) { register(index, cseq: cseq, authorization: nil) }
        let firstInbound = timed(&parse) { inbound(first) }
        let unauthorized = timed(&challenge) { reply(firstInbound) }
        let second = try timed(&client) {
            let challenges = try SIPMessage.parse(unauthorized).digestChallenges()
            let md5 = challenges.first { $0.effectiveAlgorithm == DigestAlgorithm.Insecure.md5 }!
            let ha1 = DigestHA1(algorithm: DigestAlgorithm.Insecure.md5, username: user, realm: "localhost",
                                password: "pw")
            let credentials = try DigestCredentials(answering: md5, ha1: ha1, method: "REGISTER", uri: "sip:localhost",
                                                    cnonce: "c0ffee", nonceCount: DigestNonceCount(1)).serialized()
            return register(index, cseq: cseq + 1, authorization: credentials)
        }
        let secondInbound = timed(&parse) { inbound(second) }
        let ok = timed(&authenticate) { reply(secondInbound) }
        precondition(ok.starts(with: Array("SIP/2.0 200".utf8)), String(decoding: ok, as: UTF8.self))
        registrations += 1
    }
}

func microseconds(_ duration: Duration, per registrations: Int) -> String {
    let total = Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
    return String(format: "%.2f", total / Double(registrations))
}
print("EdgeService.handleNow, single thread, \(registrations) registrations; µs per registration:")
print("  parse both requests      \(microseconds(parse, per: registrations))")
print("  REGISTER → 401           \(microseconds(challenge, per: registrations))")
print("  REGISTER+digest → 200    \(microseconds(authenticate, per: registrations))")
print("  (client side, not Rampart: \(microseconds(client, per: registrations)))")
