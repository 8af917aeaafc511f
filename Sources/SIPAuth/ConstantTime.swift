/// Whether `lhs` and `rhs` hold the same bytes, in time that depends only on their
/// lengths, never on where they differ (RFC 7616 §3.4.1: the server recomputes `response` and compares; RFC 3261
/// §26.3.2.3). Lengths are not secret: a length mismatch returns `false` at once, without
/// looking at the contents.
@inline(never)
public func constantTimeEquals(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for (left, right) in zip(lhs, rhs) {
        difference |= left ^ right
    }
    return difference == 0
}
