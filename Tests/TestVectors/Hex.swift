extension Array where Element == UInt8 {
    /// Bytes from hexadecimal text as RFCs print them (pairs of digits, no separators); traps on anything else,
    /// which in a test is a broken vector.
    public init(hex: String) {
        let digits = Array(hex.utf8)
        precondition(digits.count % 2 == 0, "odd number of hex digits")
        self = stride(from: 0, to: digits.count, by: 2).map { index in
            UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16)!
        }
    }

    /// Lowercase hexadecimal.
    public var hex: String { map { String($0 >> 4, radix: 16) + String($0 & 0xF, radix: 16) }.joined() }
}
