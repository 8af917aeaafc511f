/// Receive statistics of one RTP stream as RFC 3550 Appendix A computes them: extended highest sequence number and
/// cycles (A.1), expected and lost packets (A.3), interarrival jitter (A.8); plus duplicates and out-of-order
/// arrivals, which the relay reports separately. Sans-I/O: arrival times are given in nanoseconds by the caller.
///
/// Two departures from the appendix's code, both for a relay that has already latched the stream: counting starts
/// at the first packet (no probation), and duplicates are counted apart instead of in `received`, so `lost` never
/// goes negative because of them.
public struct RTPStreamStatistics: Hashable, Sendable {
    /// RFC 3550 A.1: a jump beyond this many packets ahead is a restart, not loss (unless confirmed).
    static let maxDropout: UInt16 = 3_000
    /// RFC 3550 A.1: how far behind a packet may arrive and still count as reordered.
    static let maxMisorder: UInt16 = 100

    /// The RTP clock rate (8,000 for G.711, 48,000 for Opus), for jitter in milliseconds.
    public let clockRate: Int
    /// Packets counted (not duplicates).
    public private(set) var received = 0
    /// Payload octets of the packets counted since the first (restarts included).
    public private(set) var payloadOctets = 0
    /// Packets whose sequence number had arrived already.
    public private(set) var duplicates = 0
    /// Packets that arrived after a later one.
    public private(set) var outOfOrder = 0
    /// Times the sender's sequence numbers jumped and the count started again (RFC 3550 A.1).
    public private(set) var restarts = 0

    private var started = false
    private var baseSequence: UInt32 = 0
    private var maxSequence: UInt16 = 0
    private var cycles: UInt32 = 0
    private var badSequence: UInt32 = 1 << 16 + 1
    /// Bit i: extended sequence number (highest - i) has arrived; 128 packets back.
    private var seen: (UInt64, UInt64) = (0, 0)
    /// The previous counted packet's arrival (ns) and RTP timestamp, for the jitter.
    private var previous: (arrival: Int64, timestamp: UInt32)?
    /// RFC 3550 A.8's jitter estimate in timestamp units.
    public private(set) var jitter: Double = 0

    public init(clockRate: Int) { self.clockRate = max(1, clockRate) }

    /// The extended highest sequence number received (cycles × 2^16 + highest).
    public var extendedHighestSequence: UInt32 { cycles + UInt32(maxSequence) }

    /// Packets expected from the first sequence number to the highest (RFC 3550 A.3).
    public var expected: Int { started ? Int(extendedHighestSequence) - Int(baseSequence) + 1 : 0 }

    /// Packets expected but not received.
    public var lost: Int { max(0, expected - received) }

    /// `lost / expected`, 0 before any packet.
    public var lossFraction: Double { expected > 0 ? Double(lost) / Double(expected) : 0 }

    /// The jitter in milliseconds.
    public var jitterMilliseconds: Double { jitter * 1_000 / Double(clockRate) }

    /// Records one packet's arrival.
    public mutating func record(sequence: UInt16, timestamp: UInt32, arrivalNanoseconds: Int64, payloadOctets octets: Int) {
        guard started else {
            restart(at: sequence)
            started = true
            count(octets, timestamp: timestamp, arrival: arrivalNanoseconds)
            return
        }
        let delta = sequence &- maxSequence
        if delta == 0 {
            duplicates += 1
            return
        }
        if delta < Self.maxDropout {
            // In order, with or without a gap; a wrap adds a cycle.
            if sequence < maxSequence { cycles &+= 1 << 16 }
            advance(by: delta)
            maxSequence = sequence
        } else if delta <= UInt16.max - Self.maxMisorder {
            // A large jump: the sender restarted, if the next packet confirms it (RFC 3550 A.1).
            guard UInt32(sequence) == badSequence else {
                badSequence = (UInt32(sequence) + 1) & 0xFFFF
                return
            }
            restarts += 1
            restart(at: sequence)
        } else {
            // Behind the highest: reordered, or a duplicate of a packet already counted.
            let behind = UInt16.max - delta + 1
            guard behind < 128 else {
                outOfOrder += 1
                count(octets, timestamp: timestamp, arrival: arrivalNanoseconds)
                return
            }
            if isSeen(behind) {
                duplicates += 1
                return
            }
            mark(behind)
            outOfOrder += 1
        }
        count(octets, timestamp: timestamp, arrival: arrivalNanoseconds)
    }

    private mutating func restart(at sequence: UInt16) {
        baseSequence = UInt32(sequence)
        maxSequence = sequence
        cycles = 0
        badSequence = 1 << 16 + 1
        received = 0
        seen = (1, 0)
        previous = nil
    }

    private mutating func count(_ octets: Int, timestamp: UInt32, arrival: Int64) {
        received += 1
        payloadOctets += octets
        // RFC 3550 A.8: J += (|D| - J) / 16, D the change in transit time in timestamp units: the arrival spacing
        // less the timestamp spacing (which wraps at 2^32).
        if let previous {
            let spacing = Double(arrival - previous.arrival) * Double(clockRate) / 1e9
            let stamped = Double(Int32(bitPattern: timestamp &- previous.timestamp))
            jitter += (abs(spacing - stamped) - jitter) / 16
        }
        previous = (arrival, timestamp)
    }

    private mutating func advance(by distance: UInt16) {
        if distance >= 128 {
            seen = (1, 0)
        } else if distance >= 64 {
            seen = (1, seen.0 << (distance - 64))
        } else {
            seen = (seen.0 << distance | 1, seen.1 << distance | seen.0 >> (64 - distance))
        }
    }

    private func isSeen(_ behind: UInt16) -> Bool {
        behind < 64 ? seen.0 >> behind & 1 == 1 : seen.1 >> (behind - 64) & 1 == 1
    }

    private mutating func mark(_ behind: UInt16) {
        if behind < 64 { seen.0 |= 1 << behind } else { seen.1 |= 1 << (behind - 64) }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.clockRate == rhs.clockRate && lhs.received == rhs.received && lhs.duplicates == rhs.duplicates
            && lhs.outOfOrder == rhs.outOfOrder && lhs.expected == rhs.expected && lhs.jitter == rhs.jitter
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(clockRate)
        hasher.combine(received)
        hasher.combine(expected)
    }
}
