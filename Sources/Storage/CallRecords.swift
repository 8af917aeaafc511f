/// One call attempt as the edge saw it: the CDR (issue 4). Parties are stored as configured, in clear or
/// pseudonymised with a keyed hash before they reach this type; nothing here is a secret.
public struct CallDetailRecord: Hashable, Sendable, Codable {
    /// How the attempt ended.
    public enum Disposition: String, Hashable, Sendable, Codable, CaseIterable {
        case answered, busy, cancelled, rejected, failed
        case noAnswer = "no-answer"
    }

    /// Which side ended the call.
    public enum Party: String, Hashable, Sendable, Codable, CaseIterable {
        case caller, callee, edge
    }

    /// A unique identifier of the attempt (not the Call-ID of either leg).
    public var id: String
    /// When the INVITE arrived, in milliseconds since the Unix epoch.
    public var startedAtMilliseconds: Int64
    /// When a 2xx answered it, if one did.
    public var answeredAtMilliseconds: Int64?
    /// When the call or attempt ended.
    public var endedAtMilliseconds: Int64?
    /// The caller, as configured (clear or pseudonym).
    public var caller: String
    /// The callee, as configured (clear or pseudonym).
    public var callee: String
    /// The authenticated account that placed the call, if any.
    public var account: String?
    /// The trunk the call came from or went to, if any.
    public var trunk: String?
    /// How the attempt ended.
    public var disposition: Disposition
    /// The final SIP status of the INVITE (200 for answered calls).
    public var finalStatus: Int
    /// Which side hung up, for answered calls; the edge for timeouts and policy.
    public var hangupSide: Party?
    /// Why it ended (`bye`, `cancel`, `media-timeout`, `max-duration`, `session-timer`, a Reason header...).
    public var hangupReason: String?
    /// The media protection the call used (`sdes-srtp/AEAD_AES_256_GCM`, `dtls-srtp`, `zrtp`, `plain-rtp`, `none`).
    public var mediaEncryption: String
    /// The SRTP suite, for SDES-keyed media.
    public var srtpSuite: String?
    /// The security events raised for this call, in order.
    public var securityEvents: [String]
    /// The media streams the edge's relay carried, as it measured them (empty when media was not relayed).
    public var media: [CallMediaStream]
    /// The identifier of the key that made the record's pseudonyms (`anon:...` parties), so that they can still
    /// be looked up after the key is rotated; nil when every party is in clear.
    public var pseudonymKeyID: String?
    /// STIR/SHAKEN: for a trunk's call, the verification's verstat and reason (`TN-Validation-Failed:bad-signature`);
    /// for an account's call the edge signed towards a trunk, `signed:A` (the attestation). Nil otherwise.
    public var identity: String?

    /// Creates a record.
    public init(id: String, startedAtMilliseconds: Int64, answeredAtMilliseconds: Int64? = nil,
                endedAtMilliseconds: Int64? = nil, caller: String, callee: String, account: String? = nil,
                trunk: String? = nil, disposition: Disposition, finalStatus: Int, hangupSide: Party? = nil,
                hangupReason: String? = nil, mediaEncryption: String = "none", srtpSuite: String? = nil,
                securityEvents: [String] = [], media: [CallMediaStream] = [], pseudonymKeyID: String? = nil,
                identity: String? = nil) {
        self.identity = identity
        self.media = media
        self.pseudonymKeyID = pseudonymKeyID
        self.id = id
        self.startedAtMilliseconds = startedAtMilliseconds
        self.answeredAtMilliseconds = answeredAtMilliseconds
        self.endedAtMilliseconds = endedAtMilliseconds
        self.caller = caller
        self.callee = callee
        self.account = account
        self.trunk = trunk
        self.disposition = disposition
        self.finalStatus = finalStatus
        self.hangupSide = hangupSide
        self.hangupReason = hangupReason
        self.mediaEncryption = mediaEncryption
        self.srtpSuite = srtpSuite
        self.securityEvents = securityEvents
    }

    /// Seconds from answer to end, for answered calls that ended.
    public var durationSeconds: Double? {
        guard let answered = answeredAtMilliseconds, let ended = endedAtMilliseconds else { return nil }
        return Double(max(0, ended - answered)) / 1000
    }
}

/// One direction of one relayed media stream, as the relay received it: the sender's packets before they went on
/// to the other party. Loss comes from sequence numbers (RFC 3550 A.3), jitter from RFC 3550 A.8, and the MOS is
/// the ITU-T G.107 E-model's estimate from them (simplified; see `EModel`).
public struct CallMediaStream: Hashable, Sendable, Codable {
    /// The SDP media section (0 for the first).
    public var section: Int
    /// Who sent it: `caller` or `callee`.
    public var sender: CallDetailRecord.Party
    /// RTP and RTCP packets relayed.
    public var packets: Int
    /// RTP payload octets received.
    public var payloadOctets: Int
    /// RTP packets lost (expected minus received, never negative).
    public var lost: Int
    public var duplicates: Int
    public var outOfOrder: Int
    /// Interarrival jitter, in milliseconds.
    public var jitterMilliseconds: Double
    /// The estimated mean opinion score (1-4.5), when RTP of a known clock rate was received.
    public var meanOpinionScore: Double?
    /// Packets from a source other than the sender's latched one (injection or a stale sender), dropped.
    public var droppedForeign: Int
    /// Packets that arrived before the sender could be latched, dropped.
    public var droppedUnlatched: Int
    /// Packets from the sender's latched source that failed SRTP authentication under the relay's keys (bridged
    /// SRTP only: a forgery from a spoofed address, or the sender's own cleartext at teardown), dropped (nil in
    /// records written before the relay counted them apart from ``droppedForeign``).
    public var droppedUnauthenticated: Int?
    /// Datagrams that were not media (not RTP/RTCP, nor the keying the SDP named) sent to the sender's relay port,
    /// dropped (nil in records written before the relay counted them).
    public var droppedNotMedia: Int?
    /// How the RTP payloads looked to the relay: `encrypted`, `plaintext` or `undetermined` (too few to judge).
    public var payloads: String?
    /// What the stream's receiver said in its last RTCP report about it (plain RTCP only; SRTCP is encrypted):
    /// the fraction lost in the last interval (0-1), lost since the start, and its jitter in milliseconds.
    public var reportedFractionLost: Double?
    public var reportedLost: Int?
    public var reportedJitterMilliseconds: Double?
    /// The round trip between the relay and the receiver, from the RTCP reports' LSR/DLSR, in milliseconds.
    public var roundTripMilliseconds: Double?

    public init(section: Int, sender: CallDetailRecord.Party, packets: Int, payloadOctets: Int, lost: Int,
                duplicates: Int, outOfOrder: Int, jitterMilliseconds: Double, meanOpinionScore: Double?,
                droppedForeign: Int, droppedUnlatched: Int, payloads: String? = nil, reportedFractionLost: Double? = nil,
                reportedLost: Int? = nil, reportedJitterMilliseconds: Double? = nil,
                roundTripMilliseconds: Double? = nil) {
        self.payloads = payloads
        self.reportedFractionLost = reportedFractionLost
        self.reportedLost = reportedLost
        self.reportedJitterMilliseconds = reportedJitterMilliseconds
        self.roundTripMilliseconds = roundTripMilliseconds
        self.section = section
        self.sender = sender
        self.packets = packets
        self.payloadOctets = payloadOctets
        self.lost = lost
        self.duplicates = duplicates
        self.outOfOrder = outOfOrder
        self.jitterMilliseconds = jitterMilliseconds
        self.meanOpinionScore = meanOpinionScore
        self.droppedForeign = droppedForeign
        self.droppedUnlatched = droppedUnlatched
    }
}

/// Which call records to read: all the given conditions hold. Reads are bounded by ``limit``.
public struct CallRecordFilter: Hashable, Sendable {
    /// Started at or after this time (milliseconds since the epoch).
    public var startedFrom: Int64?
    /// Started before this time.
    public var startedBefore: Int64?
    /// The caller or the callee is this party (as stored).
    public var party: String?
    /// Placed by this account.
    public var account: String?
    /// Ended this way.
    public var disposition: CallDetailRecord.Disposition?
    /// At most this many records, oldest first (1-100,000).
    public var limit: Int

    /// Creates a filter; by default the 1,000 oldest records.
    public init(startedFrom: Int64? = nil, startedBefore: Int64? = nil, party: String? = nil, account: String? = nil,
                disposition: CallDetailRecord.Disposition? = nil, limit: Int = 1_000) {
        self.startedFrom = startedFrom
        self.startedBefore = startedBefore
        self.party = party
        self.account = account
        self.disposition = disposition
        self.limit = min(max(limit, 1), Self.maxLimit)
    }

    /// The most records one read returns.
    public static let maxLimit = 100_000

    /// Whether a record matches (the in-memory store's query; SQL stores translate the same conditions).
    public func matches(_ record: CallDetailRecord) -> Bool {
        if let startedFrom, record.startedAtMilliseconds < startedFrom { return false }
        if let startedBefore, record.startedAtMilliseconds >= startedBefore { return false }
        if let party, record.caller != party, record.callee != party { return false }
        if let account, record.account != account { return false }
        if let disposition, record.disposition != disposition { return false }
        return true
    }
}

/// Where CDRs go. A record is saved when its call ends (and again if a later save carries the same id: the last
/// one wins), so a clean shutdown that ends every call loses none.
public protocol CallRecordStore: Sendable {
    /// Saves records (inserting, or replacing those with the same id), atomically.
    func saveCallRecords(_ records: [CallDetailRecord]) async throws(StorageError)
    /// The records matching `filter`, oldest first.
    func callRecords(matching filter: CallRecordFilter) async throws(StorageError) -> [CallDetailRecord]
}
