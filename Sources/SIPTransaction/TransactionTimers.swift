import SIPMessage

/// The timer values of RFC 3261 §17 (Table 4). Every transaction timer derives from T1, T2 and T4.
public struct TransactionTimers: Hashable, Sendable {
    /// RTT estimate (default 500 ms, RFC 3261 §17.1.1.1).
    public var t1: Duration
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses (default 4 s).
    public var t2: Duration
    /// Maximum time a message remains in the network (default 5 s).
    public var t4: Duration

    /// Creates timers; defaults are RFC 3261's.
    public init(t1: Duration = .milliseconds(500), t2: Duration = .seconds(4), t4: Duration = .seconds(5)) {
        self.t1 = t1
        self.t2 = t2
        self.t4 = t4
    }

    /// Timers B, F, H and J: 64*T1, the transaction timeout.
    public var transactionTimeout: Duration { t1 * 64 }
    /// Timer D for unreliable transports: at least 32 s (RFC 3261 §17.1.1.2).
    public var timerD: Duration { max(.seconds(32), t1 * 64) }
}

/// The named timers of RFC 3261 §17 (and RFC 6026's L and M).
public enum TransactionTimer: String, Hashable, Sendable, CaseIterable {
    case a = "A", b = "B", d = "D", e = "E", f = "F", g = "G", h = "H", i = "I", j = "J", k = "K", l = "L", m = "M"
}

/// What a transaction asks its owner (the transport layer and the transaction user) to do. The state machines
/// own no socket and no clock: the owner sends, delivers, and calls back when a timer is due.
public enum TransactionAction: Sendable, Equatable {
    /// Send these bytes to the transaction's peer.
    case send([UInt8])
    /// Deliver this message to the transaction user (a response for a client transaction, a request for a server).
    case passToTransactionUser(SIPMessageBox)
    /// Arm a timer to fire at `deadline` (on the owner's clock); re-arming replaces the earlier deadline.
    case scheduleTimer(TransactionTimer, deadline: Duration)
    /// Disarm a timer.
    case cancelTimer(TransactionTimer)
    /// The transaction timed out (Timer B, F or H): tell the transaction user (RFC 3261 §17.1.1.2, §8.1.3.1).
    case timeout
    /// The transaction is over and may be forgotten.
    case terminated
}


/// A parsed message inside an action; equality compares the serialized bytes.
public struct SIPMessageBox: Sendable, Equatable {
    /// The message.
    public let message: SIPMessage

    public init(_ message: SIPMessage) { self.message = message }

    public static func == (lhs: SIPMessageBox, rhs: SIPMessageBox) -> Bool {
        lhs.message.serialized() == rhs.message.serialized()
    }
}
