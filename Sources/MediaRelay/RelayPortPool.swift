/// The relay's UDP ports: even ports for RTP, each with the next odd one for RTCP (RFC 3550 §11), handed out in a
/// random order and taken back to the end of the queue, so that a port just released is the last to be reused
/// (packets still in flight for an ended call must not land in a new one: RTP bleed) and the next port cannot be
/// guessed from the last. Bounded by its range; sans-I/O.
public struct RelayPortPool: Sendable {
    /// Why a pool cannot be made.
    public struct RangeError: Error, Hashable, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The even ports of the range.
    public let range: ClosedRange<UInt16>
    private var queue: [UInt16]
    private var head = 0
    private var inUse: Set<UInt16> = []

    /// A pool over `range` (e.g. 16384...32767); at least one even/odd pair.
    /// - Throws: ``RangeError`` for a range without a pair or below 1024.
    public init(range: ClosedRange<UInt16>) throws(RangeError) {
        guard range.lowerBound >= 1_024, range.lowerBound < UInt16.max,
            case let first = range.lowerBound % 2 == 0 ? range.lowerBound : range.lowerBound + 1,
            first < range.upperBound
        else { throw RangeError(description: "a relay port range needs an even and an odd port at or above 1024") }
        self.range = first...range.upperBound
        var evens = Array(stride(from: first, to: range.upperBound, by: 2))
        var generator = SystemRandomNumberGenerator()
        evens.shuffle(using: &generator)
        queue = evens
    }

    /// Pairs free now.
    public var available: Int { queue.count - head }

    /// Pairs handed out.
    public var allocated: Int { inUse.count }

    /// An even port whose pair is free, or nil when the pool is exhausted.
    public mutating func allocate() -> UInt16? {
        guard head < queue.count else { return nil }
        let port = queue[head]
        head += 1
        if head > 4_096, head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        inUse.insert(port)
        return port
    }

    /// Takes a pair back (its even port); ports not handed out are ignored.
    public mutating func release(_ port: UInt16) {
        guard inUse.remove(port) != nil else { return }
        queue.append(port)
    }
}
