import MediaSecurity
import Pcap
import RTP

/// Decrypts the SRTP and SRTCP in a capture (`rampart srtp decrypt`): each packet goes through ``process(_:)`` and
/// comes back with its payload decrypted (IP/UDP lengths and checksums fixed), unchanged (traffic that is not
/// RTP, such as SIP, when ``Options/keepOtherTraffic``), or not at all. A packet that fails authentication is
/// counted and left out, never passed through: the output holds only media that the key proves genuine.
public final class SRTPCaptureDecryptor {
    public struct Options {
        /// The key the operator gave (`--suite`, `--key`); nil to rely on the capture's SIP.
        public var policy: SRTPPolicy?
        /// Whether SDES keys from the capture's own SIP may be used (the operator must allow it).
        public var keysFromSIP = false
        /// Only these SSRCs (empty: all).
        public var ssrcs: Set<UInt32> = []
        /// Only datagrams from or to these UDP ports (empty: all).
        public var ports: Set<UInt16> = []
        /// Keep packets that are not RTP/RTCP (SIP, DNS...) so that Wireshark can show the calls.
        public var keepOtherTraffic = true
        /// The most streams tracked.
        public var maximumStreams = 4_096

        public init(policy: SRTPPolicy? = nil, keysFromSIP: Bool = false) {
            self.policy = policy
            self.keysFromSIP = keysFromSIP
        }
    }

    /// What the run did.
    public struct Report: Hashable, Sendable, Codable {
        public var packetsRead = 0
        public var rtpDecrypted = 0
        public var rtcpDecrypted = 0
        /// SRTP/SRTCP packets whose tag did not verify under any key tried: left out.
        public var authenticationFailures = 0
        /// Replayed or too old for the replay window: left out.
        public var replayedOrLate = 0
        /// RTP/RTCP with no key to try (no SIP keys for it and none given): left out.
        public var withoutKey = 0
        /// RTP/RTCP outside the SSRC/port filters: left out.
        public var filteredOut = 0
        /// Captured shorter than sent, so not verifiable: left out.
        public var truncated = 0
        /// Not RTP/RTCP: passed through or left out per the options.
        public var otherTraffic = 0
        /// Frames of a link type other than the output's, or not IP/UDP readable: left out.
        public var unreadableFrames = 0
        /// Streams beyond ``Options/maximumStreams``: left out.
        public var overStreamLimit = 0
        /// Keys found in the capture's SIP.
        public var keysFromSIP = 0
        /// Per stream: endpoints, SSRC, packets decrypted and which key.
        public var streams: [Stream] = []

        public struct Stream: Hashable, Sendable, Codable {
            public var source: String
            public var destination: String
            public var ssrc: UInt32
            public var rtcp: Bool
            public var decrypted: Int
            public var key: String
        }
    }

    private struct StreamID: Hashable {
        var source: UDPDatagram.Endpoint
        var destination: UDPDatagram.Endpoint
        var ssrc: UInt32
        var rtcp: Bool
    }

    private enum Receiver {
        case rtp(SRTPReceiver)
        case rtcp(SRTCPReceiver)

        func unprotect(_ packet: inout [UInt8]) throws(MediaSecurityError) {
            switch self {
            case .rtp(let receiver): try receiver.unprotect(&packet)
            case .rtcp(let receiver): try receiver.unprotect(&packet)
            }
        }
    }

    private struct StreamState {
        var receiver: Receiver?
        /// Which candidate the receiver holds (-1: the key given; else the offer's position in the harvest).
        var keyID: Int?
        var keyLabel = ""
        var decrypted = 0
        /// Packets no candidate key opened since the last success or the last new key from SIP: after
        /// ``maximumFailedTrials`` the stream stops being tried until SIP brings another key.
        var failedTrials = 0
        var offersTried = 0
    }

    /// Packets of an unresolved stream tried against every candidate before giving up on it.
    static let maximumFailedTrials = 32
    /// Candidate keys tried per packet at most.
    static let maximumCandidates = 64

    public let options: Options
    /// The link type of the output (the first packet's).
    public private(set) var outputLinkType: UInt32?
    public private(set) var report = Report()
    private var harvest = SDESKeyHarvest()
    private var streams: [StreamID: StreamState] = [:]
    private var streamOrder: [StreamID] = []

    public init(options: Options) {
        self.options = options
    }

    /// The packet to write for `packet`, or nil to leave it out.
    public func process(_ packet: PcapPacket) -> PcapPacket? {
        report.packetsRead += 1
        if outputLinkType == nil { outputLinkType = packet.linkType }
        guard packet.linkType == outputLinkType, let datagram = UDPDatagram(frame: packet.data, linkType: packet.linkType)
        else {
            if packet.linkType == outputLinkType, options.keepOtherTraffic {
                report.otherTraffic += 1
                return packet
            }
            report.unreadableFrames += 1
            return nil
        }
        let payload = packet.data[datagram.payload]
        guard let header = RTPPacketView(payload) else {
            if options.keysFromSIP {
                harvest.inspect(payload)
                report.keysFromSIP = harvest.offers.count
            }
            report.otherTraffic += 1
            return options.keepOtherTraffic ? packet : nil
        }
        guard options.ssrcs.isEmpty || options.ssrcs.contains(header.ssrc),
            options.ports.isEmpty || options.ports.contains(datagram.source.port)
                || options.ports.contains(datagram.destination.port)
        else {
            report.filteredOut += 1
            return nil
        }
        guard !datagram.isTruncated else {
            report.truncated += 1
            return nil
        }
        let id = StreamID(source: datagram.source, destination: datagram.destination, ssrc: header.ssrc,
                          rtcp: header.kind == .rtcp)
        if streams[id] == nil {
            guard streams.count < options.maximumStreams else {
                report.overStreamLimit += 1
                return nil
            }
            streams[id] = StreamState()
            streamOrder.append(id)
        }
        var bytes = Array(payload)
        guard unprotect(&bytes, stream: id) else { return nil }
        if id.rtcp { report.rtcpDecrypted += 1 } else { report.rtpDecrypted += 1 }
        // Decrypting only shrinks a payload, so the frame always fits; never write the ciphertext as if decrypted.
        guard let frame = datagram.replacingPayload(in: packet.data, with: bytes) else { return nil }
        var output = packet
        output.data = frame
        output.originalLength = output.data.count
        return output
    }

    /// The report with the per-stream lines filled in.
    public func finish() -> Report {
        var final = report
        final.keysFromSIP = harvest.offers.count
        final.streams = streamOrder.compactMap { id in
            guard let state = streams[id] else { return nil }
            return Report.Stream(source: "\(id.source)", destination: "\(id.destination)", ssrc: id.ssrc, rtcp: id.rtcp,
                                 decrypted: state.decrypted, key: state.receiver == nil ? "none opened it" : state.keyLabel)
        }
        return final
    }

    /// Unprotects with the stream's key, or finds one among the candidates; counts what happened.
    private func unprotect(_ bytes: inout [UInt8], stream id: StreamID) -> Bool {
        var state = streams[id]!
        defer { streams[id] = state }
        var failure: MediaSecurityError.Code?
        if let receiver = state.receiver {
            do {
                try receiver.unprotect(&bytes)
                state.decrypted += 1
                state.failedTrials = 0
                return true
            } catch {
                failure = error.code
                guard error.code == .authenticationFailed else {
                    count(failure)
                    return false
                }
            }
        }
        // No key yet, or the bound key failed (a re-key): try the other candidates, a bounded number of times,
        // and again whenever the capture's SIP has brought new keys.
        if harvest.offers.count > state.offersTried {
            (state.failedTrials, state.offersTried) = (0, harvest.offers.count)
        }
        let candidates = self.candidates(for: id)
        guard !candidates.isEmpty else {
            count(failure ?? .unknownStream)
            return false
        }
        guard state.failedTrials < Self.maximumFailedTrials else {
            count(.authenticationFailed)
            return false
        }
        for candidate in candidates.prefix(Self.maximumCandidates) where candidate.id != state.keyID {
            guard let receiver = Self.receiver(candidate.policy, rtcp: id.rtcp) else { continue }
            var attempt = bytes
            do {
                try receiver.unprotect(&attempt)
            } catch {
                continue
            }
            bytes = attempt
            (state.receiver, state.keyID, state.keyLabel, state.failedTrials) = (receiver, candidate.id, candidate.label, 0)
            state.decrypted += 1
            return true
        }
        state.failedTrials += 1
        count(.authenticationFailed)
        return false
    }

    private func count(_ code: MediaSecurityError.Code?) {
        switch code {
        case .replayed?, .tooOld?: report.replayedOrLate += 1
        case .unknownStream?: report.withoutKey += 1
        default: report.authenticationFailures += 1
        }
    }

    private func candidates(for id: StreamID) -> [(id: Int, label: String, policy: SRTPPolicy)] {
        var list: [(id: Int, label: String, policy: SRTPPolicy)] = []
        if let policy = options.policy { list.append((-1, "the key given", policy)) }
        if options.keysFromSIP {
            list += harvest.candidates(for: id.source).map { ($0.position, $0.offer.label, $0.offer.keying.policy()) }
        }
        return list
    }

    private static func receiver(_ policy: SRTPPolicy, rtcp: Bool) -> Receiver? {
        // A capture may start mid-call: a wide window accepts the first packets in any order.
        var wide = policy
        wide.replayWindow = max(policy.replayWindow, 1_024)
        if rtcp { return (try? SRTCPReceiver(policy: wide)).map(Receiver.rtcp) }
        return (try? SRTPReceiver(policy: wide)).map(Receiver.rtp)
    }
}
