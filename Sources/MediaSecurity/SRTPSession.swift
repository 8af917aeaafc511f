/// An SRTP session in one direction, like libsrtp's `srtp_t`: streams per SSRC, each with its own rollover
/// counter, replay windows and SRTCP index, made on demand from a template policy for SSRCs not announced in
/// advance. RTP and RTCP share it, so it serves rtcp-mux (RFC 5761) as well as separate ports.
///
/// An inbound stream is kept only once a packet of its SSRC authenticates, so forged SSRCs leave no state; streams
/// made from the template share its session keys (the SSRC keeps their IVs apart), so a new stream costs no key
/// derivation. The number of streams is bounded.
public final class SRTPSession {
    /// Which way the session's packets go.
    public enum Direction: Sendable { case inbound, outbound }

    /// What an unprotected packet of a multiplexed port was.
    public enum PacketKind: Sendable { case rtp, rtcp }

    public let direction: Direction
    /// The most streams the session holds (default 64).
    public let maximumStreams: Int
    private let template: Stream?
    private var streams: [UInt32: Stream] = [:]

    private struct Stream {
        var rtpSender: SRTPSender?
        var rtcpSender: SRTCPSender?
        var rtpReceiver: SRTPReceiver?
        var rtcpReceiver: SRTCPReceiver?

        init(policy: SRTPPolicy, direction: Direction) throws(MediaSecurityError) {
            switch direction {
            case .outbound:
                rtpSender = try SRTPSender(policy: policy)
                rtcpSender = try SRTCPSender(policy: policy)
            case .inbound:
                rtpReceiver = try SRTPReceiver(policy: policy)
                rtcpReceiver = try SRTCPReceiver(policy: policy)
            }
        }

        init(cloning template: Stream) throws(MediaSecurityError) {
            rtpSender = try template.rtpSender?.forNewStream()
            rtcpSender = try template.rtcpSender?.forNewStream()
            rtpReceiver = try template.rtpReceiver?.forNewStream()
            rtcpReceiver = try template.rtcpReceiver?.forNewStream()
        }
    }

    /// A session whose streams are made from `template` for any SSRC (nil: only streams added with
    /// ``add(ssrc:policy:)``).
    /// - Throws: ``MediaSecurityError/Code/invalidKey`` for an invalid template.
    public init(direction: Direction, template: SRTPPolicy?, maximumStreams: Int = 64) throws(MediaSecurityError) {
        self.direction = direction
        self.maximumStreams = max(1, maximumStreams)
        self.template = try template.map { policy throws(MediaSecurityError) in
            try Stream(policy: policy, direction: direction)
        }
    }

    /// Both directions of one endpoint's session, refusing a master key used both ways (RFC 3711 §9.1: the same
    /// keystream would protect two streams).
    /// - Throws: ``MediaSecurityError/Code/keyReuse``, ``MediaSecurityError/Code/invalidKey``.
    public static func pair(outbound: SRTPPolicy, inbound: SRTPPolicy, maximumStreams: Int = 64)
        throws(MediaSecurityError) -> (outbound: SRTPSession, inbound: SRTPSession)
    {
        for local in outbound.keys {
            for remote in inbound.keys where local.sameSecret(as: remote) {
                throw MediaSecurityError(.keyReuse, "the same master key protects both directions")
            }
        }
        return (try SRTPSession(direction: .outbound, template: outbound, maximumStreams: maximumStreams),
                try SRTPSession(direction: .inbound, template: inbound, maximumStreams: maximumStreams))
    }

    /// The SSRCs the session has streams for.
    public var ssrcs: [UInt32] { Array(streams.keys) }

    /// Adds a stream for `ssrc` with its own policy (libsrtp's `ssrc_specific`).
    ///
    /// Streams are never removed or replaced: a fresh stream under the same keys would start its indices and its
    /// replay window again (keystream reuse outbound, replays accepted inbound). They live as long as the session;
    /// new keys mean a new session.
    /// - Throws: ``MediaSecurityError/Code/invalidKey``, ``MediaSecurityError/Code/tooManyStreams``, and
    ///   ``MediaSecurityError/Code/keyReuse`` for an SSRC that has a stream already.
    public func add(ssrc: UInt32, policy: SRTPPolicy) throws(MediaSecurityError) {
        guard streams[ssrc] == nil else {
            throw MediaSecurityError(.keyReuse, "the SSRC has a stream already: streams are not replaced")
        }
        guard streams.count < maximumStreams else {
            throw MediaSecurityError(.tooManyStreams, "the session holds \(maximumStreams) streams")
        }
        streams[ssrc] = try Stream(policy: policy, direction: direction)
    }

    /// Protects an outgoing RTP packet in place.
    /// - Throws: the stream's errors, and ``MediaSecurityError/Code/unknownStream`` or
    ///   ``MediaSecurityError/Code/tooManyStreams`` for an SSRC the session cannot take.
    public func protectRTP(_ packet: inout [UInt8]) throws(MediaSecurityError) {
        try requireDirection(.outbound)
        let ssrc = try Self.ssrc(of: packet, at: 8)
        try stream(for: ssrc, keepNew: true).rtpSender!.protect(&packet)
    }

    /// Protects an outgoing RTCP packet (compound included) in place; its first SSRC picks the stream.
    public func protectRTCP(_ packet: inout [UInt8]) throws(MediaSecurityError) {
        try requireDirection(.outbound)
        let ssrc = try Self.ssrc(of: packet, at: 4)
        try stream(for: ssrc, keepNew: true).rtcpSender!.protect(&packet)
    }

    /// Unprotects an incoming SRTP packet in place; on failure it is left as it was.
    public func unprotectRTP(_ packet: inout [UInt8]) throws(MediaSecurityError) {
        try requireDirection(.inbound)
        let ssrc = try Self.ssrc(of: packet, at: 8)
        let (stream, isNew) = try stream(for: ssrc)
        try stream.rtpReceiver!.unprotect(&packet)
        if isNew { try keep(stream, for: ssrc) }
    }

    /// Unprotects an incoming SRTCP packet in place; on failure it is left as it was.
    public func unprotectRTCP(_ packet: inout [UInt8]) throws(MediaSecurityError) {
        try requireDirection(.inbound)
        let ssrc = try Self.ssrc(of: packet, at: 4)
        let (stream, isNew) = try stream(for: ssrc)
        try stream.rtcpReceiver!.unprotect(&packet)
        if isNew { try keep(stream, for: ssrc) }
    }

    /// Unprotects a packet from an rtcp-mux port, telling SRTP from SRTCP by RFC 5761 §4 (the second octet in
    /// 192...223 is an RTCP packet type).
    @discardableResult
    public func unprotect(_ packet: inout [UInt8]) throws(MediaSecurityError) -> PacketKind {
        if Self.isRTCP(packet) {
            try unprotectRTCP(&packet)
            return .rtcp
        }
        try unprotectRTP(&packet)
        return .rtp
    }

    /// Whether a packet on a multiplexed port is RTCP (RFC 5761 §4).
    public static func isRTCP(_ packet: [UInt8]) -> Bool { packet.count >= 2 && (192...223).contains(packet[1]) }

    private func requireDirection(_ wanted: Direction) throws(MediaSecurityError) {
        guard direction == wanted else {
            throw MediaSecurityError(.keyReuse, wanted == .outbound ? "an inbound session does not protect"
                                                                    : "an outbound session does not unprotect")
        }
    }

    private static func ssrc(of packet: [UInt8], at offset: Int) throws(MediaSecurityError) -> UInt32 {
        guard packet.count >= offset + 4, packet[0] >> 6 == 2 else {
            throw MediaSecurityError(.malformed, "not an RTP or RTCP packet")
        }
        return packet.withUnsafeBytes { BigEndian.uint32($0, at: offset) }
    }

    /// The stream of `ssrc`, or a new one from the template (kept at once when `keepNew`).
    private func stream(for ssrc: UInt32, keepNew: Bool) throws(MediaSecurityError) -> Stream {
        let (stream, isNew) = try stream(for: ssrc)
        if isNew, keepNew { try keep(stream, for: ssrc) }
        return stream
    }

    private func stream(for ssrc: UInt32) throws(MediaSecurityError) -> (Stream, isNew: Bool) {
        if let known = streams[ssrc] { return (known, false) }
        guard let template else { throw MediaSecurityError(.unknownStream, "no stream for the packet's SSRC") }
        guard streams.count < maximumStreams else {
            throw MediaSecurityError(.tooManyStreams, "the session holds \(maximumStreams) streams")
        }
        return (try Stream(cloning: template), true)
    }

    private func keep(_ stream: Stream, for ssrc: UInt32) throws(MediaSecurityError) {
        guard streams.count < maximumStreams else {
            throw MediaSecurityError(.tooManyStreams, "the session holds \(maximumStreams) streams")
        }
        streams[ssrc] = stream
    }
}
