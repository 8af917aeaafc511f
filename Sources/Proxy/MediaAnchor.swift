import SDP
import SecurityPolicy
import Storage

/// Anchors a call's media at the edge's relay (issue 7): every SDP body that crosses the edge, once the media
/// policy has passed it, goes through ``rewrite(_:fromCaller:isOffer:)`` and the other side sees the relay's
/// addresses instead of the sender's. The session calls it in the order the SDP crosses, from its own lock, so an
/// implementation sees each offer before its answer. Resources are the edge's to take and give back: it reserves
/// the relay's ports for the offer before the call starts and calls ``finish()`` when the session asks for
/// ``CallSession/Action/releaseMedia``; a rewrite only uses ports already bound (a re-offer with more sections takes
/// more from the relay's pool of bound ports, or declines them), so nothing in the session waits on a socket.
public protocol MediaAnchor: AnyObject, Sendable {
    /// The SDP the caller (or a callee) sent, as the other side must see it. Never fails open: a section the relay
    /// cannot carry comes back disabled (port 0) rather than with the sender's address.
    /// `party` is who sent it: the relay sends to the addresses it names before their first packet only when it may.
    /// The session hands over the description the media policy parsed: the relay does not parse it again.
    func rewrite(_ sdp: SessionDescription, fromCaller: Bool, isOffer: Bool, from party: MediaParty) -> [UInt8]
    /// The call is over: the relay's ports go back and what it measured goes into the CDR. Called by the edge, once
    /// (a second call returns the same figures).
    func finish() -> AnchoredMedia
}

extension MediaAnchor {
    /// ``rewrite(_:fromCaller:isOffer:from:)`` of SDP bytes; an SDP that does not parse comes back empty (dropped,
    /// never passed on unrewritten).
    public func rewrite(_ sdp: [UInt8], fromCaller: Bool, isOffer: Bool, from party: MediaParty) -> [UInt8] {
        guard let description = try? SessionDescription(parsing: sdp) else { return [] }
        return rewrite(description, fromCaller: fromCaller, isOffer: isOffer, from: party)
    }
}

/// A party to a call as far as its SDP's addresses are concerned.
public struct MediaParty: Sendable, Hashable {
    /// The address it signals from (its SIP messages' source).
    public var signalsFrom: IPAddress?
    /// A configured trunk: its media gateways may sit at other addresses than its signalling, and the relay sends
    /// to what its SDP names before they send. Anyone else is sent to before its first packet only at the very
    /// address it signals from (the relay latches to where its packets come from after that).
    public var isTrunk: Bool

    public init(signalsFrom: IPAddress? = nil, isTrunk: Bool = false) {
        (self.signalsFrom, self.isTrunk) = (signalsFrom, isTrunk)
    }
}

extension CallDetailRecord {
    /// What the relay measured, added to the record of a call whose media it carried: its streams, its findings,
    /// and, when SRTP ended at the relay, each leg's encryption instead of the SDP's posture.
    public mutating func add(_ media: AnchoredMedia) {
        self.media = media.streams
        securityEvents += media.securityEvents.map(\.name)
        if let encryption = media.encryption {
            mediaEncryption = encryption
            srtpSuite = media.srtpSuite
        }
    }
}

/// What the relay measured of a call, for its CDR.
public struct AnchoredMedia: Sendable, Hashable {
    /// Each direction of each relayed stream.
    public var streams: [CallMediaStream]
    /// The security events the relay's watch raised (`media-not-encrypted`, `media-anomaly`), in order.
    public var securityEvents: [SecurityEvent.Kind]
    /// When SRTP ended at the relay, each leg's encryption (`bridged caller:sdes-srtp/… callee:plain`) and the SRTP
    /// suite of the first SRTP leg: the CDR takes these instead of the call's SDP posture, which tells one leg only.
    public var encryption: String?
    public var srtpSuite: String?

    public init(streams: [CallMediaStream] = [], securityEvents: [SecurityEvent.Kind] = []) {
        self.streams = streams
        self.securityEvents = securityEvents
    }
}
