import Crypto

/// The writing end of the audit trail: numbers each record, links it to the one before, and says when a checkpoint
/// is due. Sans-I/O: the caller stores what it returns (records before the checkpoint that covers them).
public struct AuditChain: Sendable {
    /// The link before the first record.
    public static let genesis = [UInt8](repeating: 0, count: 32)

    /// When to sign a checkpoint: after so many records, or so long after the last one (if anything came since).
    public struct CheckpointPolicy: Hashable, Sendable {
        public var everyRecords: Int
        public var every: Duration

        public init(everyRecords: Int = 1_000, every: Duration = .seconds(60)) {
            self.everyRecords = max(1, everyRecords)
            self.every = max(.seconds(1), every)
        }

        /// Whether to sign now: enough records waiting, or records waiting and enough time since the last one.
        public func isDue(uncheckpointed: Int, sinceLast elapsed: Duration) -> Bool {
            uncheckpointed >= everyRecords || (uncheckpointed > 0 && elapsed >= every)
        }
    }

    public private(set) var lastSequence: Int64
    public private(set) var lastLink: [UInt8]
    /// Records appended since the last checkpoint.
    public private(set) var uncheckpointed: Int
    public let policy: CheckpointPolicy
    /// When the last checkpoint was signed (or the chain opened), on the monotonic clock.
    private var checkpointedAt: Duration

    /// A chain that goes on after `last` (nil: a new trail). `uncheckpointed`: records already stored after the
    /// last checkpoint (so that a restart does not postpone the next one).
    public init(after last: AuditRecord?, uncheckpointed: Int = 0, policy: CheckpointPolicy = CheckpointPolicy(),
                now: Duration) {
        lastSequence = last?.sequence ?? 0
        lastLink = last?.link ?? Self.genesis
        self.uncheckpointed = uncheckpointed
        self.policy = policy
        checkpointedAt = now
    }

    /// The next record, for `content`.
    /// - Throws: ``AuditError/Code/fieldTooLong`` (nothing is appended).
    public mutating func append(_ content: AuditContent) throws(AuditError) -> AuditRecord {
        let encoded = try content.canonicalEncoding()
        let digest = Array(SHA256.hash(data: encoded))
        let sequence = lastSequence + 1
        let link = Self.link(after: lastLink, sequence: sequence, contentDigest: digest)
        (lastSequence, lastLink) = (sequence, link)
        uncheckpointed += 1
        return AuditRecord(sequence: sequence, contentDigest: digest, link: link, content: encoded)
    }

    /// Whether a checkpoint should be signed now: enough records, or records and enough time.
    public func isCheckpointDue(now: Duration) -> Bool {
        policy.isDue(uncheckpointed: uncheckpointed, sinceLast: now - checkpointedAt)
    }

    /// A checkpoint over everything appended so far, signed; nil when nothing was appended since the last one.
    /// `time`: wall-clock milliseconds for the record; `now`: the monotonic clock.
    public mutating func checkpoint(signer: AuditSigner, time: Int64, now: Duration) -> AuditCheckpoint? {
        guard uncheckpointed > 0 else { return nil }
        uncheckpointed = 0
        checkpointedAt = now
        return signer.sign(sequence: lastSequence, link: lastLink, time: time)
    }

    /// The chain's link through a record: SHA-256 of a domain label, the previous link, the sequence (8 bytes,
    /// big-endian) and the content's digest. Committing to the digest (not the content) lets content be erased
    /// without breaking the chain.
    public static func link(after previous: [UInt8], sequence: Int64, contentDigest: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: Array("rampart-audit-link-1".utf8))
        hasher.update(data: previous)
        var number: [UInt8] = []
        number.appendBigEndian(sequence)
        hasher.update(data: number)
        hasher.update(data: contentDigest)
        return Array(hasher.finalize())
    }
}

/// The key that signs checkpoints (Ed25519). Its raw form is a secret: the edge keeps it owner-only in the data
/// directory.
public struct AuditSigner: Sendable {
    private let key: Curve25519.Signing.PrivateKey

    /// A new random key.
    public init() { key = Curve25519.Signing.PrivateKey() }

    /// A key read back from its raw 32 bytes.
    /// - Throws: ``AuditError/Code/badKey``.
    public init(rawRepresentation: [UInt8]) throws(AuditError) {
        do { key = try Curve25519.Signing.PrivateKey(rawRepresentation: rawRepresentation) } catch {
            throw AuditError(.badKey, "not an Ed25519 private key")
        }
    }

    /// The raw 32 bytes, to store owner-only.
    public var rawRepresentation: [UInt8] { Array(key.rawRepresentation) }

    public var publicKey: AuditPublicKey { AuditPublicKey(key.publicKey) }

    /// An Ed25519 signature over `bytes`.
    func sign(_ bytes: [UInt8]) -> [UInt8] {
        // Signing only fails on a broken key object, which init rules out.
        (try? key.signature(for: bytes)).map { Array($0) } ?? []
    }

    func sign(sequence: Int64, link: [UInt8], time: Int64) -> AuditCheckpoint {
        let message = AuditCheckpoint.signedBytes(sequence: sequence, time: time, link: link)
        // Signing only fails on a broken key object, which init rules out.
        let signature = (try? key.signature(for: message)).map { Array($0) } ?? []
        return AuditCheckpoint(sequence: sequence, link: link, time: time, signature: signature)
    }
}

/// The public half: what `rampart audit verify` checks checkpoints with, printed by `rampart audit key`.
public struct AuditPublicKey: Hashable, Sendable {
    private let key: Curve25519.Signing.PublicKey

    init(_ key: Curve25519.Signing.PublicKey) { self.key = key }

    /// - Throws: ``AuditError/Code/badKey``.
    public init(rawRepresentation: [UInt8]) throws(AuditError) {
        do { key = try Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation) } catch {
            throw AuditError(.badKey, "not an Ed25519 public key")
        }
    }

    /// Reads the text form (``text``): 64 hexadecimal digits, case-insensitive, surrounding whitespace ignored.
    /// - Throws: ``AuditError/Code/badKey``.
    public init(text: String) throws(AuditError) {
        guard let bytes = AuditHex.decode(text.trimmingWhitespace()), bytes.count == 32 else {
            throw AuditError(.badKey, "a public key is 64 hexadecimal digits")
        }
        try self.init(rawRepresentation: bytes)
    }

    public var rawRepresentation: [UInt8] { Array(key.rawRepresentation) }

    /// Lowercase hexadecimal.
    public var text: String { AuditHex.encode(rawRepresentation) }

    public static func == (lhs: AuditPublicKey, rhs: AuditPublicKey) -> Bool {
        lhs.rawRepresentation == rhs.rawRepresentation
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(rawRepresentation) }

    /// Whether a checkpoint's signature verifies under this key.
    public func isValid(_ checkpoint: AuditCheckpoint) -> Bool {
        key.isValidSignature(checkpoint.signature, for: checkpoint.signedBytes)
    }

    func isValid(signature: [UInt8], for bytes: [UInt8]) -> Bool {
        key.isValidSignature(signature, for: bytes)
    }
}

extension String {
    func trimmingWhitespace() -> Substring {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return text
    }
}
