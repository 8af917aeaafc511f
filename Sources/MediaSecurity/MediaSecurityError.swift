/// Why a packet could not be protected or unprotected, or a context could not be made. Opaque towards peers: the
/// detail is for the security event log. Never carries key material or packet bytes.
public struct MediaSecurityError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Backing: String, Hashable, Sendable {
            case authenticationFailed, replayed, tooOld, malformed, keyExhausted, invalidKey, backendFailure
            case unknownMKI, unknownStream, tooManyStreams, keyReuse
        }
        fileprivate let backing: Backing
        /// The authentication tag did not verify (tampering, a wrong key, or noise).
        public static let authenticationFailed = Code(backing: .authenticationFailed)
        /// The packet's index was seen before (RFC 3711 §3.3.2).
        public static let replayed = Code(backing: .replayed)
        /// The packet's index is behind the replay window.
        public static let tooOld = Code(backing: .tooOld)
        /// Not an RTP/RTCP packet this context can handle (too short, wrong version, bad lengths).
        public static let malformed = Code(backing: .malformed)
        /// The key's packet limit (2^48 SRTP, 2^31 SRTCP, RFC 3711 §9.2) is reached: re-key.
        public static let keyExhausted = Code(backing: .keyExhausted)
        /// A master key or salt of the wrong length for the suite.
        public static let invalidKey = Code(backing: .invalidKey)
        /// The crypto library failed (out of memory, an unavailable cipher).
        public static let backendFailure = Code(backing: .backendFailure)
        /// The packet's MKI names none of the stream's master keys.
        public static let unknownMKI = Code(backing: .unknownMKI)
        /// A packet of an SSRC the session has no stream for, and no template to make one.
        public static let unknownStream = Code(backing: .unknownStream)
        /// The session already holds its most streams.
        public static let tooManyStreams = Code(backing: .tooManyStreams)
        /// The same master key was given for both directions (a two-time pad).
        public static let keyReuse = Code(backing: .keyReuse)
        public var description: String { backing.rawValue }
    }

    public let code: Code
    public let reason: String
    public let fileID: String
    public let line: Int

    /// Creates an error.
    public init(_ code: Code, _ reason: String, fileID: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.fileID = fileID
        self.line = line
    }

    public var description: String { "\(code): \(reason)" }
    public static func == (lhs: MediaSecurityError, rhs: MediaSecurityError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
