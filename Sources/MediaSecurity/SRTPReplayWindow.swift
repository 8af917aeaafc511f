/// The replay list of RFC 3711 §3.3.2: a sliding bitmap of the indices received behind the highest one.
public struct SRTPReplayWindow: Hashable, Sendable {
    /// How far behind the highest index packets are still accepted (at least 64, RFC 3711 §3.3.2).
    public let size: Int
    /// The highest index accepted, nil before the first packet.
    public private(set) var highest: UInt64?
    /// Bit i: index `highest - i` was accepted.
    private var bits: [UInt64]

    /// The widest window (2^15 packets).
    public static let maximumSize = 32_768

    /// A window of `size` packets, rounded up to a multiple of 64, from 64 to ``maximumSize``.
    public init(size: Int = 128) {
        self.size = (min(max(64, size), Self.maximumSize) + 63) / 64 * 64
        bits = [UInt64](repeating: 0, count: self.size / 64)
    }

    /// Whether `index` may be accepted (not seen, not too old); nil, or the error to refuse it with.
    public func check(_ index: UInt64) -> MediaSecurityError.Code? {
        guard let highest, index <= highest else { return nil }
        let behind = highest - index
        guard behind < UInt64(size) else { return .tooOld }
        return bits[Int(behind / 64)] & (1 << (behind % 64)) != 0 ? .replayed : nil
    }

    /// Records `index` (after its packet authenticated).
    public mutating func accept(_ index: UInt64) {
        guard let current = highest else {
            highest = index
            bits[0] = 1
            return
        }
        if index == current + 1, bits.count == 2 {
            // The usual case, the next packet of a 128-packet window: a two-word shift.
            bits[1] = bits[1] << 1 | bits[0] >> 63
            bits[0] = bits[0] << 1 | 1
            highest = index
        } else if index > current {
            shift(by: index - current)
            highest = index
            bits[0] |= 1
        } else {
            let behind = current - index
            guard behind < UInt64(size) else { return }  // behind the window: nothing to remember
            bits[Int(behind / 64)] |= 1 << (behind % 64)
        }
    }

    private mutating func shift(by distance: UInt64) {
        guard distance < UInt64(size) else {
            for word in bits.indices { bits[word] = 0 }
            return
        }
        let words = Int(distance / 64), offset = distance % 64
        for word in stride(from: bits.count - 1, through: 0, by: -1) {
            var value: UInt64 = 0
            if word - words >= 0 { value = bits[word - words] << offset }
            if offset > 0, word - words - 1 >= 0 { value |= bits[word - words - 1] >> (64 - offset) }
            bits[word] = value
        }
    }
}
