// SIP parse throughput, single thread, release build:
//   swift run -c release SIPParseBenchmark [seconds-per-case]
// Each case runs in seven rounds interleaved with the anchor; the median rate is printed with the median
// ratio to the anchor measured in the same round (a plain scan that counts the CRLFs of the same bytes: the least work any parser
// must do), so figures from different machines and runs compare.
import Foundation
import SDP
import SIPMessage

let sdp = """
    v=0\r
    o=alice 2890844526 2890844526 IN IP4 198.51.100.7\r
    s=-\r
    c=IN IP4 198.51.100.7\r
    t=0 0\r
    m=audio 49170 RTP/SAVP 0 8 101\r
    a=rtpmap:0 PCMU/8000\r
    a=rtpmap:8 PCMA/8000\r
    a=rtpmap:101 telephone-event/8000\r
    a=fmtp:101 0-15\r
    a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32\r
    a=ptime:20\r
    a=sendrecv\r

    """

func message(_ lines: [String], body: String = "") -> [UInt8] {
    Array((lines.joined(separator: "\r\n") + "\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body).utf8)
}

let invite = message([
    "INVITE sip:bob@biloxi.example.com SIP/2.0",
    "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport",
    "Max-Forwards: 70",
    "To: Bob <sip:bob@biloxi.example.com>",
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774",
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
    "CSeq: 314159 INVITE",
    "Contact: <sip:alice@pc33.atlanta.example.com;transport=udp>",
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK, INFO",
    "Supported: timer, 100rel, replaces",
    "User-Agent: Rampart-Bench/1.0",
    "Content-Type: application/sdp",
], body: sdp)

let register = message([
    "REGISTER sip:example.com SIP/2.0",
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKnashds7;rport",
    "Max-Forwards: 70",
    "To: <sip:u000001@example.com>",
    "From: <sip:u000001@example.com>;tag=456248",
    "Call-ID: 843817637684230@998sdasdh09",
    "CSeq: 1826 REGISTER",
    "Contact: <sip:u000001@192.0.2.10:5060>;expires=3600",
    "Authorization: Digest username=\"u000001\", realm=\"example.com\", nonce=\"6e0a4c2b9f1d3e5a\", uri=\"sip:example.com\", response=\"9c8a7d6e5f4a3b2c1d0e9f8a7b6c5d4e\", algorithm=MD5, cnonce=\"0a4f113b\", qop=auth, nc=00000001",
    "User-Agent: Rampart-Bench/1.0",
])

let ok = message([
    "SIP/2.0 200 OK",
    "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport=5060;received=192.0.2.1",
    "To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf",
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774",
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
    "CSeq: 314159 INVITE",
    "Contact: <sip:bob@192.0.2.4>",
    "Content-Type: application/sdp",
], body: sdp)

nonisolated(unsafe) var sink = 0  // keeps results alive; single-threaded

/// What a router reads: framing, then the top Via, the From and To tags, Call-ID and CSeq.
@inline(never) func routeParse(_ bytes: [UInt8]) throws {
    let message = try SIPMessage.parse(bytes)
    let via = try message.topVia()
    let fromTag = try message.fromTag()
    let toTag = try message.toTag()
    let callID = try message.callID()
    let cseq = try message.cseq()
    sink &+= (via.branch?.utf8.count ?? 0) &+ (fromTag?.utf8.count ?? 0) &+ (toTag?.utf8.count ?? 0)
        &+ callID.utf8.count &+ Int(cseq.sequenceNumber)
}

/// Everything: every known header parsed, the message checked as an edge must before acting on it, and an
/// SDP body parsed and classified (the SRTP-only policy needs it).
@inline(never) func fullParse(_ bytes: [UInt8]) throws {
    let message = try SIPMessage.parse(bytes)
    sink &+= try message.validate().count &+ message.headers.count
    if try message.contentType()?.isSDP == true {
        let sdp = try SessionDescription(parsing: message.body)
        sink &+= sdp.mediaSecurity.count
    }
}

/// The anchor: count CRLFs in the same bytes.
@inline(never) func anchorScan(_ bytes: [UInt8]) throws {
    var lines = 0
    bytes.withUnsafeBufferPointer { buffer in
        for byte in buffer where byte == 0x0A { lines += 1 }
    }
    sink &+= lines
}

let seconds = Double(CommandLine.arguments.dropFirst().first ?? "") ?? 0.5
/// Optional second argument: run only the cases whose label contains it (for profilers).
let only = CommandLine.arguments.count > 2 ? CommandLine.arguments[2] : nil

/// Parses per second of one timed run of `body` over `bytes`.
func rate(_ body: ([UInt8]) throws -> Void, _ bytes: [UInt8]) -> Double {
    let clock = ContinuousClock()
    var iterations = 0
    let start = clock.now
    let budget = Duration.milliseconds(Int64(seconds * 1000))
    while clock.now - start < budget {
        for _ in 0..<256 { try! body(bytes) }
        iterations += 256
    }
    let elapsed = clock.now - start
    return Double(iterations) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}

/// Seven rounds, each timing the anchor and every case back to back, so that the machine's speed drift
/// (a shared VM) cancels in the per-round ratio. Returns the median rate and median ratio of each case.
func measure(_ cases: [([UInt8]) throws -> Void], _ bytes: [UInt8]) -> [(rate: Double, ratio: Double)] {
    var rates = [[Double]](repeating: [], count: cases.count)
    var ratios = [[Double]](repeating: [], count: cases.count)
    _ = rate(anchorScan, bytes)  // warm-up
    for _ in 0..<7 {
        let anchor = rate(anchorScan, bytes)
        for (index, body) in cases.enumerated() {
            let value = rate(body, bytes)
            rates[index].append(value)
            ratios[index].append(value / anchor)
        }
    }
    return (0..<cases.count).map { (rates[$0].sorted()[3], ratios[$0].sorted()[3]) }
}

func format(_ rate: Double) -> String {
    let value = Int(rate.rounded())
    var text = String(value)
    var index = text.count - 3
    while index > 0 {
        text.insert(",", at: text.index(text.startIndex, offsetBy: index))
        index -= 3
    }
    return text
}

print("SIP parse benchmark: single thread, \(seconds)s per timed run, 7 interleaved rounds, medians")
print("case                          bytes   parses/s       ratio to anchor (same round)")
for (name, bytes) in [("INVITE+SDP", invite), ("REGISTER+auth", register), ("200 OK+SDP", ok)] {
    if let only, !name.contains(only) { continue }
    let results = measure(only == nil ? [anchorScan, routeParse, fullParse] : [anchorScan, routeParse], bytes)
    let labels = ["anchor scan", "lazy (route)", "full (validate)"]
    for (index, result) in results.enumerated() {
        let label = "\(name) \(labels[index])".padding(toLength: 28, withPad: " ", startingAt: 0)
        let size = String(bytes.count).padding(toLength: 6, withPad: " ", startingAt: 0)
        print("\(label)  \(size)  \(format(result.rate).padding(toLength: 13, withPad: " ", startingAt: 0))  \(String(format: "%.3f", result.ratio))")
    }
}
if sink == 42 { print("") }
