/// A capture that cannot be read: what is wrong and where (the byte offset), never the captured bytes.
public struct PcapError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Backing: String, Hashable, Sendable { case unknownFormat, truncated, malformed, tooLarge }
        fileprivate let backing: Backing
        /// Neither pcap nor pcapng (or a variant this reader does not know).
        public static let unknownFormat = Code(backing: .unknownFormat)
        /// The input ended inside a header or record.
        public static let truncated = Code(backing: .truncated)
        /// A length or field that cannot be right.
        public static let malformed = Code(backing: .malformed)
        /// A record beyond the reader's limit.
        public static let tooLarge = Code(backing: .tooLarge)
        public var description: String { backing.rawValue }
    }

    public let code: Code
    public let reason: String
    /// Where in the input, in bytes.
    public let offset: Int
    public let fileID: String
    public let line: Int

    /// Creates an error.
    public init(_ code: Code, _ reason: String, offset: Int, fileID: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.offset = offset
        self.fileID = fileID
        self.line = line
    }

    public var description: String { "\(code) at byte \(offset): \(reason)" }
    public static func == (lhs: PcapError, rhs: PcapError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
