extension Duration {
    /// The duration in whole milliseconds, truncated toward zero: the unit SIP timers, token buckets and the
    /// scheduler speak (RFC 3261's T1 of 500 ms is 500).
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }
}
