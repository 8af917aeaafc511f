/// Whether a stream's payloads look encrypted: the byte entropy of the payloads and how often their first octet
/// repeats. Ciphertext is uniform: close to 8 bits per octet, and the first octet as varied as the rest. Codecs
/// are not: G.711 speech stays well below 7.5 bits, silence far lower, and codecs with a header octet (Opus's TOC,
/// AMR's CMR, telephone events) repeat it packet after packet. Sans-I/O and bounded: it samples at most
/// ``maximumSampledOctets`` octets of payload per stream.
public struct EncryptionCheck: Hashable, Sendable {
    /// What the payloads look like.
    public enum Verdict: String, Hashable, Sendable {
        case encrypted, plaintext
        /// Too little payload to tell (fewer than ``minimumOctets`` octets or ``minimumPackets`` packets).
        case undetermined
    }

    /// Octets sampled per stream at most.
    public static let maximumSampledOctets = 1 << 20
    /// The entropy (bits per octet, bias-corrected) from which payloads count as ciphertext.
    public static let encryptedEntropy = 7.5
    /// The least payload a verdict needs.
    public static let minimumOctets = 1_024
    public static let minimumPackets = 10

    private var histogram = [UInt32](repeating: 0, count: 256)
    private var firstOctets = [UInt32](repeating: 0, count: 256)
    public private(set) var packets = 0
    public private(set) var sampledOctets = 0

    public init() {}

    /// Adds one packet's payload.
    public mutating func add(payload: some Collection<UInt8>) {
        // One loop, over memory, compiled once: a generic loop is not specialised across modules and cost the relay
        // a quarter of its CPU. A payload not in contiguous memory (rare) is copied into it first.
        if let done: Void = payload.withContiguousStorageIfAvailable({ add(contiguous: UnsafeRawBufferPointer($0)) }) {
            return done
        }
        Array(payload).withUnsafeBytes { add(contiguous: $0) }
    }

    /// Adds one packet's payload, in memory.
    public mutating func add(contiguous payload: UnsafeRawBufferPointer) {
        packets += 1
        guard let first = payload.first else { return }
        firstOctets[Int(first)] += 1
        let sampled = min(payload.count, Self.maximumSampledOctets - sampledOctets)
        histogram.withUnsafeMutableBufferPointer { counts in
            for index in 0..<sampled { counts[Int(payload[index])] += 1 }
        }
        sampledOctets = min(Self.maximumSampledOctets, sampledOctets + payload.count)
    }

    /// The Shannon entropy of the sampled octets in bits per octet, with the Miller-Madow correction for the
    /// small-sample bias ((K - 1) / 2N nats, K the octet values seen).
    public var entropy: Double {
        let total = Double(histogram.reduce(0) { $0 + Int($1) })
        guard total > 0 else { return 0 }
        var bits = 0.0, seen = 0
        for count in histogram where count > 0 {
            let p = Double(count) / total
            bits -= p * log2(p)
            seen += 1
        }
        return min(8, bits + Double(seen - 1) / (2 * total * 0.693_147_180_559_945_3))
    }

    /// The share of packets whose first payload octet is the most common one.
    public var repeatedFirstOctet: Double {
        let total = firstOctets.reduce(0) { $0 + Int($1) }
        guard total > 0 else { return 0 }
        return Double(firstOctets.max() ?? 0) / Double(total)
    }

    /// The verdict on what was added so far.
    public var verdict: Verdict {
        guard packets >= Self.minimumPackets, sampledOctets >= Self.minimumOctets else { return .undetermined }
        // Ciphertext's first octets are uniform: with n packets the commonest repeats in about n/256 + a few
        // standard deviations; a share above max(0.2, 8/n) means a visible codec header.
        let headerVisible = repeatedFirstOctet > max(0.2, 8 / Double(packets))
        return entropy >= Self.encryptedEntropy && !headerVisible ? .encrypted : .plaintext
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
