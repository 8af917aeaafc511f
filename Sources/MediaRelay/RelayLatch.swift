/// Where one side of a call sends its media from, learnt from its packets (symmetric RTP, "latching"), and who
/// else may not: the rule set that keeps a third party from injecting media or stealing the stream (rtpengine's
/// ES2025-01 advisory: an anchor that latches to whatever arrives first hands calls to attackers).
///
/// - Before latching, a packet is accepted only if it authenticates under keys the relay holds, or comes from the
///   address the SDP signalled (any port: a NAT may change the port, not the public address). With
///   ``allowsPrivateSignalledAddress`` a side that signalled a private or unspecified address (it is behind a NAT,
///   so its real address is unknown) is latched to its first packet that does not fail authentication.
/// - Once latched, packets from any other source are dropped and counted (so are packets from the latched source
///   that fail authentication), except:
///   - a packet that authenticates under the relay's keys (the endpoint's NAT binding changed) re-latches at once;
///   - without keys, a source that matches the signalled address re-latches only after the latched source has been
///     silent for ``relatchSilenceNanoseconds``.
/// - A re-INVITE that signals a new address (``resignal(_:)``) unlatches, to latch anew by the same rules.
public struct RelayLatch: Sendable {
    /// A UDP source: an IPv4 (4 octets) or IPv6 (16 octets) address and a port. Stored inline (no array), so that
    /// the relay compares and copies one per packet without touching the heap.
    public struct Source: Hashable, Sendable {
        private var high: UInt64
        private var low: UInt64
        private var length: UInt8
        public var port: UInt16

        /// From the address's octets in network order (4 or 16; more are cut, fewer padded).
        public init(address: [UInt8], port: UInt16) {
            let octets = Array(address.prefix(16))
            var words: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &words) { buffer in
                for (index, octet) in octets.enumerated() { buffer[index] = octet }
            }
            (high, low, length) = (words.0, words.1, UInt8(octets.count))
            self.port = port
        }

        /// The address's octets in network order.
        public var address: [UInt8] {
            withUnsafeBytes(of: (high, low)) { Array($0.prefix(Int(length))) }
        }

        /// Whether both name the same address (any port).
        func sameAddress(as other: Source) -> Bool {
            high == other.high && low == other.low && length == other.length
        }
    }

    /// What to do with a packet.
    public enum Decision: Hashable, Sendable {
        /// Relay it; `latched` is true when this packet set (or moved) the latch.
        case relay(latched: Bool)
        /// From a source other than the latched one: dropped (an injection attempt, or a stale sender).
        case dropForeignSource
        /// From the latched source, but it failed SRTP authentication under the relay's keys: dropped (a forgery
        /// from a spoofed address, or the party's own cleartext, such as an RTCP BYE some phones send after
        /// tearing down SRTP).
        case dropUnauthenticated
        /// Not latched yet and the packet gives no reason to latch to its source.
        case dropUnlatched
    }

    public private(set) var signalled: Source?
    public private(set) var latched: Source?
    public let allowsPrivateSignalledAddress: Bool
    public let relatchSilenceNanoseconds: Int64
    private var lastFromLatched: Int64 = 0
    public private(set) var relayed = 0
    public private(set) var droppedForeign = 0
    public private(set) var droppedUnauthenticated = 0
    public private(set) var droppedUnlatched = 0
    public private(set) var relatches = 0

    public init(signalled: Source?, allowsPrivateSignalledAddress: Bool = false,
                relatchSilenceNanoseconds: Int64 = 2_000_000_000) {
        self.signalled = signalled
        self.allowsPrivateSignalledAddress = allowsPrivateSignalledAddress
        self.relatchSilenceNanoseconds = relatchSilenceNanoseconds
    }

    /// A new address from the signalling (a re-INVITE or UPDATE): the latch is released.
    public mutating func resignal(_ source: Source?) {
        signalled = source
        latched = nil
    }

    /// Decides on a packet from `source` at `now`; `authenticated` is nil when the relay holds no keys for the
    /// stream (SRTP passed through), else whether the packet verified.
    public mutating func packet(from source: Source, at now: Int64, authenticated: Bool?) -> Decision {
        if let latched {
            if source == latched {
                // A source address proves nothing: a forged packet from the latched address is dropped too.
                guard authenticated != false else {
                    droppedUnauthenticated += 1
                    return .dropUnauthenticated
                }
                lastFromLatched = now
                relayed += 1
                return .relay(latched: false)
            }
            let silent = now - lastFromLatched >= relatchSilenceNanoseconds
            guard authenticated == true || (authenticated == nil && silent && matchesSignalled(source)) else {
                droppedForeign += 1
                return .dropForeignSource
            }
            relatches += 1
            return latch(to: source, at: now)
        }
        let mayLatch = authenticated == true
            || (authenticated != false && matchesSignalled(source))
            || (authenticated != false && allowsPrivateSignalledAddress && signalledIsUnknowable)
        guard mayLatch else {
            droppedUnlatched += 1
            return .dropUnlatched
        }
        return latch(to: source, at: now)
    }

    private mutating func latch(to source: Source, at now: Int64) -> Decision {
        latched = source
        lastFromLatched = now
        relayed += 1
        return .relay(latched: true)
    }

    private func matchesSignalled(_ source: Source) -> Bool { signalled?.sameAddress(as: source) ?? false }

    /// Whether the signalled address cannot be where packets come from: none, unspecified, or private (RFC 1918,
    /// RFC 6598 shared, IPv6 unique local).
    private var signalledIsUnknowable: Bool {
        guard let address = signalled?.address else { return true }
        if address.allSatisfy({ $0 == 0 }) { return true }
        if address.count == 4 {
            return address[0] == 10 || (address[0] == 172 && address[1] & 0xF0 == 16)
                || (address[0] == 192 && address[1] == 168) || (address[0] == 100 && address[1] & 0xC0 == 64)
        }
        return address.count == 16 && address[0] & 0xFE == 0xFC
    }
}
