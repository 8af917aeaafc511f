import MediaSecurity
#if canImport(Glibc)
import Glibc
#endif

// SRTP protect/unprotect throughput, single thread, release build, speaking the CLI and output of
// ../shared/bench/srtp/srtp_bench (libsrtp2) so that `run-srtp.sh .build/release/SRTPBenchmark` measures both the
// same way: `SRTPBenchmark [-n packets] [-s payload] [-p profile] [-b batch]`. `SRTP_BACKEND=swiftCrypto` in the
// environment measures the portable backend instead of OpenSSL.

var packets = 1_000_000, payload = 160, profileName = "aes128cm-sha1-80", batch = 1_000
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
    guard let value = arguments.next() else { fatalError("usage: SRTPBenchmark [-n packets] [-s payload] [-p profile] [-b batch]") }
    switch flag {
    case "-n": packets = Int(value) ?? packets
    case "-s": payload = Int(value) ?? payload
    case "-p": profileName = value
    case "-b": batch = Int(value) ?? batch
    default: fatalError("unknown option \(flag)")
    }
}
let profiles: [String: SRTPProfile] = [
    "aes128cm-sha1-80": .aes128CMHMACSHA1_80, "aes128cm-sha1-32": .aes128CMHMACSHA1_32,
    "aes256cm-sha1-80": .aes256CMHMACSHA1_80, "aes256cm-sha1-32": .aes256CMHMACSHA1_32,
    "aes192cm-sha1-80": .aes192CMHMACSHA1_80, "aes192cm-sha1-32": .aes192CMHMACSHA1_32,
    "aes128gcm": .aeadAES128GCM, "aes256gcm": .aeadAES256GCM,
]
guard let profile = profiles[profileName] else {
    print("profile=\(profileName) supported=no reason=not-in-rampart-yet")
    exit(0)
}
let key = (0..<64).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) }
let masterKey = Array(key.prefix(profile.keyLength))
let masterSalt = Array(key[profile.keyLength..<profile.keyLength + profile.saltLength])
let backend = getenv("SRTP_BACKEND").flatMap { SRTPCryptoBackend(rawValue: String(cString: $0)) } ?? .preferred
let sender = try SRTPSender(profile: profile, masterKey: masterKey, masterSalt: masterSalt, backend: backend)
let receiver = try SRTPReceiver(profile: profile, masterKey: masterKey, masterSalt: masterSalt, backend: backend)
let ssrc: UInt32 = 0x5CA1_AB1E
var template = [UInt8](repeating: 0, count: 12 + payload)
template[0] = 0x80
for (offset, shift) in [(8, 24), (9, 16), (10, 8), (11, 0)] { template[offset] = UInt8(truncatingIfNeeded: ssrc >> UInt32(shift)) }
for index in 0..<payload { template[12 + index] = UInt8(truncatingIfNeeded: 0xD5 ^ index) }
// Buffers with room for the tag, made once: the loop itself allocates nothing.
var buffers = (0..<batch).map { _ -> [UInt8] in
    var buffer = template
    buffer.reserveCapacity(template.count + 32)
    return buffer
}
let clock = ContinuousClock()
var protectTime = Duration.zero, unprotectTime = Duration.zero
var done = 0, sequence: UInt16 = 1_000, timestamp: UInt32 = 123_456
while done < packets {
    let count = min(batch, packets - done)
    for index in 0..<count {
        buffers[index].withUnsafeMutableBufferPointer { buffer in
            for position in 0..<template.count { buffer[position] = template[position] }
            buffer[2] = UInt8(sequence >> 8)
            buffer[3] = UInt8(truncatingIfNeeded: sequence)
            buffer[4] = UInt8(timestamp >> 24)
            buffer[5] = UInt8(truncatingIfNeeded: timestamp >> 16)
            buffer[6] = UInt8(truncatingIfNeeded: timestamp >> 8)
            buffer[7] = UInt8(truncatingIfNeeded: timestamp)
        }
        sequence &+= 1
        timestamp &+= 160
    }
    let start = clock.now
    for index in 0..<count { try sender.protect(&buffers[index]) }
    let middle = clock.now
    for index in 0..<count { try receiver.unprotect(&buffers[index]) }
    let end = clock.now
    protectTime += middle - start
    unprotectTime += end - middle
    precondition(buffers[0] .count == template.count && buffers[0][12...] == template[12...], "round trip mismatch")
    done += count
}
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
let megabytes = Double(packets) * Double(payload) / 1e6
let protect = seconds(protectTime), unprotect = seconds(unprotectTime)
func format(_ value: Double, _ decimals: Int) -> String {
    let scale = decimals == 0 ? 1.0 : 10.0
    return decimals == 0 ? String(Int(value.rounded())) : String((value * scale).rounded() / scale)
}
print("profile=\(profileName) supported=yes payload=\(payload) packets=\(packets) "
    + "protect_pps=\(format(Double(packets) / protect, 0)) protect_MBps=\(format(megabytes / protect, 1)) "
    + "protect_ns_per_pkt=\(format(1e9 * protect / Double(packets), 0)) "
    + "unprotect_pps=\(format(Double(packets) / unprotect, 0)) unprotect_MBps=\(format(megabytes / unprotect, 1)) "
    + "unprotect_ns_per_pkt=\(format(1e9 * unprotect / Double(packets), 0)) libsrtp=\"rampart\"")
