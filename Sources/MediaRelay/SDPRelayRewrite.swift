import SDP

/// Points an SDP at the relay (topology hiding for media): the origin's address, every connection line, each
/// active media section's port, and `a=rtcp` become the relay's; ICE attributes are removed because the relay
/// terminates ICE towards each side (as rtpengine's `ICE=remove`). The endpoint's own addresses and candidates
/// never reach the other side.
///
/// With an ``Identity`` the body says nothing else about the sender either: the origin's username becomes `-`
/// and its session id the relay's (the version is kept, so RFC 3264 §8's rule that a changed SDP has a higher
/// version still holds), the session name `-`, `a=tool` goes, and every `a=ssrc` CNAME becomes the relay's.
public enum SDPRelayRewrite {
    /// What the other side is told instead of the sender's own names: a session id and a CNAME the relay made for
    /// this side of the call, the same in every SDP of it.
    public struct Identity: Sendable, Hashable {
        public var sessionID: UInt64
        public var canonicalName: String

        public init(sessionID: UInt64, canonicalName: String) {
            (self.sessionID, self.canonicalName) = (sessionID, canonicalName)
        }

        /// A fresh one, from the system's random numbers.
        public static func random() -> Identity {
            var generator = SystemRandomNumberGenerator()
            let id = UInt64.random(in: 1...UInt64(Int64.max), using: &generator)
            let name = (0..<12).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement(using: &generator)! }
            return Identity(sessionID: id, canonicalName: String(name))
        }
    }

    /// Attributes that name the sender's software.
    static let toolAttributes: Set<String> = ["tool"]

    /// ICE attributes (RFC 8839) removed at session and media level.
    static let iceAttributes: Set<String> = [
        "candidate", "remote-candidates", "end-of-candidates", "ice-ufrag", "ice-pwd", "ice-options", "ice-lite",
        "ice-mismatch", "ice-pacing",
    ]

    /// `sdp` with media section `i` on the relay's `address` and `ports[i]` (RTP; RTCP on the next port unless the
    /// section multiplexes); sections whose port is nil (disabled, or not relayed) keep port 0 or are left as
    /// they are.
    public static func rewrite(_ sdp: SessionDescription, address: String, addressType: SDPAddressType,
                               ports: [UInt16?], identity: Identity? = nil) -> SessionDescription {
        var rewritten = sdp
        if let identity {
            rewritten.origin.username = "-"
            rewritten.origin.sessionID = identity.sessionID
            rewritten.sessionName = "-"
            rewritten.attributes.removeAll { toolAttributes.contains($0.name) }
            for index in rewritten.media.indices {
                rewritten.media[index].attributes = rewritten.media[index].attributes.compactMap { attribute in
                    if toolAttributes.contains(attribute.name) { return nil }
                    return attribute.name == "ssrc" ? Self.renamed(attribute, canonicalName: identity.canonicalName) : attribute
                }
            }
        }
        // An active section that is not relayed keeps the session's original connection: it must not inherit the
        // relay's address with a port the relay never bound.
        if let original = sdp.connection {
            for index in rewritten.media.indices where rewritten.media[index].connections.isEmpty
                && rewritten.media[index].port != 0 && (index >= ports.count || ports[index] == nil) {
                rewritten.media[index].connections = [original]
            }
        }
        rewritten.origin.address = address
        rewritten.origin.addressType = addressType
        if rewritten.connection != nil {
            rewritten.connection = ConnectionData(addressType: addressType, address: address)
        }
        rewritten.attributes.removeAll { iceAttributes.contains($0.name) }
        for index in rewritten.media.indices {
            var media = rewritten.media[index]
            media.attributes.removeAll { iceAttributes.contains($0.name) }
            guard index < ports.count, let port = ports[index], media.port != 0 else {
                rewritten.media[index] = media
                continue
            }
            let multiplexed = media.rtcpMux
            media.port = port
            media.connections = [ConnectionData(addressType: addressType, address: address)]
            if let position = media.attributes.firstIndex(where: { $0.name == "rtcp" }) {
                let rtcpPort = multiplexed ? port : port &+ 1
                media.attributes[position] = SDPAttribute(
                    name: "rtcp", value: "\(rtcpPort) IN \(addressType.rawValue) \(address)")
            }
            rewritten.media[index] = media
        }
        return rewritten
    }

    /// `a=ssrc:<id> cname:<name>` (RFC 5576 §4.1) with the relay's CNAME; other source attributes (`msid`, `label`)
    /// name streams, not hosts, and pass.
    static func renamed(_ attribute: SDPAttribute, canonicalName: String) -> SDPAttribute {
        guard let value = attribute.value, let space = value.firstIndex(of: " ") else { return attribute }
        let source = value[..<space], rest = value[value.index(after: space)...]
        guard rest.lowercased().hasPrefix("cname:") else { return attribute }
        return SDPAttribute(name: "ssrc", value: "\(source) cname:\(canonicalName)")
    }
}
