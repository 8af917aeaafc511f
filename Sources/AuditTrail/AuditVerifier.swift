import Crypto

/// What `rampart audit verify` found: how much of the trail it read, what the checkpoints vouch for, which contents
/// were erased (and by whom), and every place the trail breaks.
public struct AuditVerification: Sendable {
    /// A place where the trail is not what was written.
    public enum Break: Hashable, Sendable, CustomStringConvertible {
        /// The record's content does not hash to the digest the chain committed to: it was changed.
        case contentChanged(sequence: Int64)
        /// The record's content does not read as a canonical encoding.
        case malformedContent(sequence: Int64)
        /// The record's link does not follow from the one before and its own digest: a record here (or the one
        /// before) was changed, inserted or moved.
        case linkBroken(sequence: Int64)
        /// Records with these sequence numbers are missing: deleted.
        case missing(from: Int64, through: Int64)
        /// A record whose sequence is not past the one before it: inserted or reordered.
        case outOfOrder(sequence: Int64, after: Int64)
        /// A checkpoint whose signature does not verify under the public key: forged (or another trail's).
        case forgedCheckpoint(sequence: Int64)
        /// A checkpoint signed for a link the trail no longer has at its sequence: history before it was rewritten.
        case checkpointMismatch(sequence: Int64)
        /// A checkpoint vouches for records past the last one present: the trail's tail was cut off.
        case truncated(lastRecord: Int64, checkpoint: Int64)
        /// A record's content is gone, and no `audit.erase` record after it says who erased it.
        case unauditedErasure(sequence: Int64)
        /// An `audit.erase` record without a valid signature of the key in force when it was written: its erasures
        /// do not count.
        case unsignedErasure(sequence: Int64)
        /// A checkpoint signed by a key the trail names (`audit.rekey`) that no checkpoint of the trusted key vouches
        /// for: a key pair someone added after the last trusted checkpoint.
        case untrustedKey(sequence: Int64)

        public var description: String {
            switch self {
            case .contentChanged(let sequence): "record \(sequence): content changed (its digest does not match)"
            case .malformedContent(let sequence): "record \(sequence): content does not read"
            case .linkBroken(let sequence):
                "record \(sequence): does not follow from the record before (changed, inserted or moved)"
            case .missing(let from, let through):
                from == through ? "record \(from): deleted" : "records \(from) to \(through): deleted"
            case .outOfOrder(let sequence, let after): "record \(sequence): out of order after record \(after)"
            case .forgedCheckpoint(let sequence): "checkpoint at record \(sequence): signature does not verify"
            case .checkpointMismatch(let sequence):
                "checkpoint at record \(sequence): the trail before it was rewritten"
            case .truncated(let last, let checkpoint):
                "truncated: a checkpoint vouches for record \(checkpoint), the trail ends at \(last)"
            case .unauditedErasure(let sequence): "record \(sequence): content removed without an audited erasure"
            case .unsignedErasure(let sequence): "record \(sequence): an erasure not signed by the trail's key"
            case .untrustedKey(let sequence):
                "checkpoint at record \(sequence): signed by a key no checkpoint of the trusted key vouches for"
            }
        }
    }

    /// A record whose content was erased, as the `audit.erase` record that did it says.
    public struct Erasure: Hashable, Sendable {
        public var sequence: Int64
        /// Wall-clock milliseconds of the erasure.
        public var time: Int64
        public var actor: AuditActor
    }

    /// Records read.
    public var records = 0
    public var firstSequence: Int64?
    public var lastSequence: Int64?
    /// Checkpoints whose signature verified.
    public var validCheckpoints = 0
    /// The last record a valid checkpoint vouches for.
    public var lastCheckpoint: Int64?
    /// Records after the last valid checkpoint: consistent as far as the chain shows, but signed by nothing yet.
    public var unsignedRecords = 0
    public var erasures: [Erasure] = []
    public var breaks: [Break] = []

    /// No break: every record is as written (or erased with an audit record saying so), up to the last checkpoint.
    public var isIntact: Bool { breaks.isEmpty }
}

/// Checks a trail offline: each record's digest, each link, the sequence, each checkpoint's signature and link,
/// and that every erased content has its `audit.erase` record. Reports each break once, where it is, and reads on
/// (after a broken link it takes the stored link as the new start, so one change is one break, not a cascade).
public enum AuditVerifier {
    /// - Parameters:
    ///   - records: in the order stored (by sequence, or as an export lists them).
    ///   - previousLink: the link before the first record (genesis for a whole trail; an export of a part says it).
    public static func verify(records: some Sequence<AuditRecord>, checkpoints: [AuditCheckpoint],
                              publicKey: AuditPublicKey,
                              previousLink: [UInt8] = AuditChain.genesis) -> AuditVerification {
        var result = AuditVerification()
        let vouched = Set(checkpoints.map(\.sequence))
        var linksAtCheckpoints: [Int64: [UInt8]] = [:]
        var erased: [Int64] = []
        // audit.erase records: which sequences each erased, when and by whom.
        var erasedBy: [Int64: (time: Int64, actor: AuditActor, at: Int64)] = [:]
        var previous = previousLink
        var last: Int64?
        // The key in force from each record on, as `audit.key` and `audit.rekey` records name them; before the first,
        // the trusted key (a trail older than key records, or an export that starts after them).
        var keyChanges: [(sequence: Int64, key: AuditPublicKey)] = []
        for record in records {
            result.records += 1
            if result.firstSequence == nil { result.firstSequence = record.sequence }
            if let last, record.sequence <= last {
                result.breaks.append(.outOfOrder(sequence: record.sequence, after: last))
                continue
            }
            var followsGap = false
            if let last, last < .max, record.sequence > last + 1 {
                result.breaks.append(.missing(from: last + 1, through: record.sequence - 1))
                followsGap = true
            }
            last = record.sequence
            if let content = record.content {
                if Array(SHA256.hash(data: content)) != record.contentDigest {
                    result.breaks.append(.contentChanged(sequence: record.sequence))
                } else if let decoded = try? AuditContent(canonical: content) {
                    if decoded.action == .auditErased {
                        let key = keyChanges.last?.key ?? publicKey
                        if key.isValidSignature(of: decoded) || publicKey.isValidSignature(of: decoded) {
                            for sequence in Self.sequences(decoded.details["sequences"] ?? "") {
                                erasedBy[sequence] = (decoded.time, decoded.actor, record.sequence)
                            }
                        } else {
                            result.breaks.append(.unsignedErasure(sequence: record.sequence))
                        }
                    } else if decoded.action == .auditKeyReplaced || decoded.action == .auditKeyCreated,
                        let text = decoded.details["publicKey"], let key = try? AuditPublicKey(text: text)
                    {
                        keyChanges.append((record.sequence, key))
                    }
                } else {
                    result.breaks.append(.malformedContent(sequence: record.sequence))
                }
            } else {
                erased.append(record.sequence)
            }
            // After a gap the link cannot be recomputed (its predecessor is gone): the gap is the break.
            let expected = AuditChain.link(after: previous, sequence: record.sequence, contentDigest: record.contentDigest)
            if expected != record.link, !followsGap {
                result.breaks.append(.linkBroken(sequence: record.sequence))
            }
            previous = record.link
            if vouched.contains(record.sequence) { linksAtCheckpoints[record.sequence] = record.link }
        }
        result.lastSequence = last
        for sequence in erased {
            if let erasure = erasedBy[sequence], erasure.at > sequence {
                result.erasures.append(.init(sequence: sequence, time: erasure.time, actor: erasure.actor))
            } else {
                result.breaks.append(.unauditedErasure(sequence: sequence))
            }
        }
        // Each checkpoint under the key in force at its record; one signed by another key than the trusted one counts
        // only when a later checkpoint of the trusted key vouches for the record that named that key.
        func keyInForce(at sequence: Int64) -> AuditPublicKey {
            keyChanges.last(where: { $0.sequence <= sequence })?.key ?? publicKey
        }
        let sortedCheckpoints = checkpoints.sorted(by: { $0.sequence < $1.sequence })
        let lastTrusted = sortedCheckpoints.last(where: { publicKey.isValid($0) })?.sequence
        for checkpoint in sortedCheckpoints {
            let trusted = publicKey.isValid(checkpoint)
            guard trusted || keyInForce(at: checkpoint.sequence).isValid(checkpoint) else {
                result.breaks.append(.forgedCheckpoint(sequence: checkpoint.sequence))
                continue
            }
            if !trusted, lastTrusted.map({ $0 < checkpoint.sequence }) ?? true {
                result.breaks.append(.untrustedKey(sequence: checkpoint.sequence))
                continue
            }
            if let last, checkpoint.sequence > last {
                result.breaks.append(.truncated(lastRecord: last, checkpoint: checkpoint.sequence))
                continue
            }
            if let first = result.firstSequence, checkpoint.sequence < first { continue }  // before this export
            if let link = linksAtCheckpoints[checkpoint.sequence] {
                if link != checkpoint.link {
                    result.breaks.append(.checkpointMismatch(sequence: checkpoint.sequence))
                    continue
                }
            } else if last == nil {
                result.breaks.append(.truncated(lastRecord: 0, checkpoint: checkpoint.sequence))
                continue
            } else {
                continue  // its record is missing: reported as deleted
            }
            result.validCheckpoints += 1
            result.lastCheckpoint = max(result.lastCheckpoint ?? 0, checkpoint.sequence)
        }
        if let last {
            // Checked: an export may carry any numbers, and a count must not trap on them.
            let (after, overflow) = last.subtractingReportingOverflow(result.lastCheckpoint ?? result.firstSequence ?? last)
            let (unsigned, beyond) = after.addingReportingOverflow(result.lastCheckpoint == nil ? 1 : 0)
            result.unsignedRecords = overflow || beyond ? Int.max : Int(clamping: max(0, unsigned))
        }
        return result
    }

    /// Most sequence numbers one `audit.erase` record may list, all ranges together (a hostile list must not
    /// expand into billions).
    static let maximumErasedPerRecord = 1_000_000

    /// The sequence numbers an `audit.erase` record lists: comma-separated numbers and ranges (`3,7-9`); nothing
    /// beyond ``maximumErasedPerRecord`` in all.
    static func sequences(_ text: String) -> [Int64] {
        var listed: [Int64] = []
        for part in text.split(separator: ",") {
            let pieces = part.split(separator: "-", omittingEmptySubsequences: false)
            let bounds = pieces.compactMap { Int64($0) }
            guard bounds.count == pieces.count, bounds.count == 1 || bounds.count == 2, bounds[0] <= bounds[bounds.count - 1]
            else { continue }
            let (span, overflow) = bounds[bounds.count - 1].subtractingReportingOverflow(bounds[0])
            guard !overflow, listed.count + Int(span) < maximumErasedPerRecord else { break }
            listed += Array(bounds[0]...bounds[bounds.count - 1])
        }
        return listed
    }
}
