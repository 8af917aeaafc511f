/// A set of networks (CIDR blocks, RFC 4632 §3.1 / RFC 4291 §2.3) with a per-packet membership test.
///
/// The blocks are merged into sorted, disjoint address ranges when the list is built, so ``contains(_:)`` is one
/// binary search over a flat array: O(log n), no allocation. Two lists that cover the same addresses are equal,
/// however their blocks were written.
public struct NetworkList: Hashable, Sendable {
    /// The most entries ``init(parsing:)`` accepts. Far above any hand-written ACL; it bounds the memory and the
    /// build time of a list read from operator-supplied text (a country-sized block list is a few thousand).
    public static let maximumEntries = 100_000

    /// The list that holds nothing.
    public static let empty = NetworkList([])

    /// First address of each merged range, ascending.
    private let starts: [IPAddress]
    /// Last address of each merged range (inclusive).
    private let ends: [IPAddress]

    /// A list of the given blocks (in any order; overlapping and adjacent blocks are merged).
    public init(_ blocks: [CIDRBlock]) {
        var starts: [IPAddress] = []
        var ends: [IPAddress] = []
        for block in blocks.sorted(by: { $0.network < $1.network }) {
            let last = block.lastAddress
            // Merge when the block starts inside or right after the previous range.
            if let end = ends.last, end.successor.map({ block.network <= $0 }) ?? true {
                if end < last { ends[ends.count - 1] = last }
            } else {
                starts.append(block.network)
                ends.append(last)
            }
        }
        self.starts = starts
        self.ends = ends
    }

    /// The addresses of both lists.
    public func union(_ other: NetworkList) -> NetworkList {
        var merged: [(IPAddress, IPAddress)] = []
        for (start, end) in (Array(zip(starts, ends)) + Array(zip(other.starts, other.ends))).sorted(by: { $0.0 < $1.0 }) {
            if let last = merged.last, last.1.successor.map({ start <= $0 }) ?? true {
                if last.1 < end { merged[merged.count - 1].1 = end }
            } else {
                merged.append((start, end))
            }
        }
        return NetworkList(starts: merged.map(\.0), ends: merged.map(\.1))
    }

    private init(starts: [IPAddress], ends: [IPAddress]) { (self.starts, self.ends) = (starts, ends) }

    /// Parses addresses and CIDR blocks (`192.0.2.0/24`, `2001:db8::/32`, `198.51.100.7`); surrounding whitespace is
    /// ignored.
    ///
    /// - Throws: ``AddressRuleError/Code-swift.struct/invalidNetwork`` naming the first bad entry (1-based, in
    ///   ``AddressRuleError/line``), ``AddressRuleError/Code-swift.struct/tooLarge`` beyond ``maximumEntries``.
    public init(parsing texts: [String]) throws(AddressRuleError) {
        guard texts.count <= Self.maximumEntries else {
            throw AddressRuleError(.tooLarge, "\(texts.count) networks, at most \(Self.maximumEntries) are allowed")
        }
        var blocks: [CIDRBlock] = []
        blocks.reserveCapacity(texts.count)
        for (index, text) in texts.enumerated() {
            let trimmed = text.trimmingASCIIWhitespace
            guard let block = CIDRBlock(trimmed) else {
                let shown = trimmed.count > 60 ? trimmed.prefix(60) + "…" : trimmed
                throw AddressRuleError(
                    .invalidNetwork,
                    "entry \(index + 1) (\(String(shown).debugDescription)) is not an address or CIDR block",
                    line: index + 1)
            }
            blocks.append(block)
        }
        self.init(blocks)
    }

    /// Whether the list holds no address.
    public var isEmpty: Bool { starts.isEmpty }

    /// The number of disjoint ranges the blocks merged into.
    public var rangeCount: Int { starts.count }

    /// Whether `address` is in one of the blocks. Binary search, no allocation: safe to call per packet.
    public func contains(_ address: IPAddress) -> Bool {
        let index = starts.lastIndex(notAbove: address)
        return index >= 0 && address <= ends[index]
    }
}

extension Array where Element == IPAddress {
    /// The index of the last element `<= address` in this ascending array, or -1 if there is none.
    func lastIndex(notAbove address: IPAddress) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if address < self[middle] { high = middle } else { low = middle + 1 }
        }
        return low - 1
    }
}

extension IPAddress {
    /// The next address, or nil after `ffff:…:ffff`.
    var successor: IPAddress? {
        if low != .max { return IPAddress(high: high, low: low + 1) }
        return high == .max ? nil : IPAddress(high: high + 1, low: 0)
    }
}

extension CIDRBlock {
    /// The last address of the block (all host bits set).
    var lastAddress: IPAddress {
        switch prefixLength {
        case 128: return network
        case 64...: return IPAddress(high: network.high, low: network.low | ~UInt64(0) >> UInt64(prefixLength - 64))
        case 0: return IPAddress(high: .max, low: .max)
        default: return IPAddress(high: network.high | ~UInt64(0) >> UInt64(prefixLength), low: .max)
        }
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs, CR and LF.
    var trimmingASCIIWhitespace: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
