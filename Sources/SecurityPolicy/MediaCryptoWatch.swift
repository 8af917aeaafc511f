import RTP
import SDP

/// Watches one media stream's crypto posture (issue 7): what the offer and the answer said, against the packets
/// actually seen. The media policy checks the SDP; this checks that the media does what the SDP said, which no
/// anchor does (rtpengine bridges RTP and SRTP silently). Each finding is reported once, as a security event.
///
/// - The answer keyed the stream another way than the offer asked (DTLS-SRTP answered with SDES, say): something
///   on the path rewrote the SDP.
/// - DTLS seen on a stream keyed by SDES or plain, or ZRTP seen while no `a=zrtp-hash` reached the signalling (a
///   middlebox removed it, and with it ZRTP's protection against a man in the middle).
/// - Plain-looking payloads on a stream negotiated as SRTP (SDES or DTLS): ``EncryptionCheck``'s verdict.
/// - More SSRCs than a stream should carry.
public struct MediaCryptoWatch: Sendable {
    /// What was found.
    public enum Finding: Hashable, Sendable, CustomStringConvertible {
        /// The answer keyed the stream another way than the offer.
        case keyingChangedInAnswer(offered: String, answered: String)
        /// A keying protocol in the media path that the SDP did not negotiate (`dtls`, `zrtp`).
        case unexpectedKeyingInMedia(observed: String, negotiated: String)
        /// SRTP negotiated, plaintext seen.
        case plaintextOnSecureStream(entropy: Double)
        /// More distinct SSRCs than ``maximumSSRCs``.
        case tooManySSRCs(Int)
        /// Packets from a source other than the stream's sender reached its relay port and were dropped (an
        /// injection attempt or a flood; reported once, when the count first reaches the relay's threshold).
        case foreignSource(dropped: Int)
        /// Datagrams that are not media (a SIP request, anything but RTP/RTCP or the keying the SDP named) reached a
        /// relay port and were dropped (reported once, when the count first reaches the relay's threshold).
        case notMedia(dropped: Int)

        /// The security event kind it is reported as.
        public var eventKind: SecurityEvent.Kind {
            switch self {
            case .plaintextOnSecureStream: .mediaNotEncrypted
            default: .mediaAnomaly
            }
        }

        public var description: String {
            switch self {
            case .keyingChangedInAnswer(let offered, let answered): "offer keyed by \(offered), answer by \(answered)"
            case .unexpectedKeyingInMedia(let observed, let negotiated):
                "\(observed) in the media path of a stream negotiated as \(negotiated)"
            case .plaintextOnSecureStream(let entropy):
                "payloads look like plaintext on an SRTP stream (entropy \((entropy * 100).rounded() / 100) bits/octet)"
            case .tooManySSRCs(let count): "\(count) SSRCs on one stream"
            case .foreignSource(let dropped): "\(dropped) packets from a third party dropped at the relay"
            case .notMedia(let dropped): "\(dropped) datagrams that are not media dropped at the relay"
            }
        }
    }

    /// How a stream's keys are agreed, as far as this watch cares.
    enum Keying: String, Sendable { case plain, sdes, dtls, zrtp, none }

    /// The most SSRCs a stream may carry before it is an anomaly (a phone uses one, re-INVITEs and forks add few).
    public static let maximumSSRCs = 4

    /// The section's class in the offer and in the answer.
    public let offered: MediaSecurityClass
    public let answered: MediaSecurityClass
    private let negotiated: Keying
    private let zrtpSignalled: Bool
    private var check = EncryptionCheck()
    private var ssrcs: [UInt32] = []
    /// RTP packets seen, for sampling.
    private var rtpPackets = 0
    /// Packets every one of which is sampled; after them, one in ``samplingInterval``. A verdict needs far fewer,
    /// and the payload histogram was a noticeable share of the relay's time per packet.
    static let fullySampledPackets = 256
    static let samplingInterval = 8
    public private(set) var findings: [Finding] = []

    /// A watch for the stream of one media section, from its class in the offer and in the answer.
    public init(offered: MediaSecurityClass, answered: MediaSecurityClass) {
        (self.offered, self.answered) = (offered, answered)
        let offer = Self.keying(offered), answer = Self.keying(answered)
        negotiated = answer
        zrtpSignalled = offer == .zrtp || answer == .zrtp
        // An answer may decline encryption (the media policy judges that); choosing another keying than offered
        // means the SDP was rewritten on the way.
        if offer != answer, [Keying.sdes, .dtls].contains(offer), [Keying.sdes, .dtls].contains(answer) {
            findings.append(.keyingChangedInAnswer(offered: offer.rawValue, answered: answer.rawValue))
        }
    }

    /// How the stream's RTP payloads look so far (encrypted, plaintext, or undetermined), whatever was negotiated.
    public var payloads: EncryptionCheck.Verdict { check.verdict }

    /// ``observe(_:)`` for a datagram in memory, compiled here for raw buffers (the relay calls it per packet).
    public mutating func observe(raw datagram: UnsafeRawBufferPointer) -> Finding? { observe(datagram) }

    /// Looks at one datagram of the stream; returns a finding the first time it is made.
    public mutating func observe(_ datagram: some RandomAccessCollection<UInt8>) -> Finding? {
        switch MediaPacketKind(datagram) {
        case .dtls where negotiated != .dtls:
            return report(.unexpectedKeyingInMedia(observed: "dtls", negotiated: negotiated.rawValue))
        case .zrtp where !zrtpSignalled:
            return report(.unexpectedKeyingInMedia(observed: "zrtp", negotiated: negotiated.rawValue))
        case .rtp:
            guard let header = RTPPacketView(datagram) else { return nil }
            if !ssrcs.contains(header.ssrc) {
                guard ssrcs.count < Self.maximumSSRCs else { return report(.tooManySSRCs(ssrcs.count + 1)) }
                ssrcs.append(header.ssrc)
            }
            rtpPackets += 1
            guard rtpPackets <= Self.fullySampledPackets || rtpPackets % Self.samplingInterval == 0 else { return nil }
            check.add(payload: datagram.dropFirst(header.payloadOffset))
            // The verdict (an entropy over 256 counts) is judged every sampling interval, not per packet.
            guard negotiated == .sdes || negotiated == .dtls, check.packets % Self.samplingInterval == 0,
                check.verdict == .plaintext
            else { return nil }
            return report(.plaintextOnSecureStream(entropy: check.entropy))
        default:
            return nil
        }
    }

    private mutating func report(_ finding: Finding) -> Finding? {
        // One finding of each kind: the first tells the operator; repeats would flood the event log.
        guard !findings.contains(where: { Self.sameKind($0, finding) }) else { return nil }
        findings.append(finding)
        return finding
    }

    private static func sameKind(_ lhs: Finding, _ rhs: Finding) -> Bool {
        switch (lhs, rhs) {
        case (.keyingChangedInAnswer, .keyingChangedInAnswer), (.plaintextOnSecureStream, .plaintextOnSecureStream),
            (.tooManySSRCs, .tooManySSRCs):
            true
        case (.unexpectedKeyingInMedia(let one, _), .unexpectedKeyingInMedia(let other, _)): one == other
        default: false
        }
    }

    static func keying(_ security: MediaSecurityClass) -> Keying {
        switch security {
        case .plainRTP, .bestEffortSDES: .plain
        case .sdesSRTP: .sdes
        case .dtlsSRTP: .dtls
        case .zrtp: .zrtp
        case .disabled, .notRTP, .srtpWithoutKeying: .none
        }
    }
}
