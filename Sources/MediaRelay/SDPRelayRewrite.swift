import SDP

/// Points an SDP at the relay (topology hiding for media): the origin's address, every connection line, each
/// active media section's port, and `a=rtcp` become the relay's; ICE attributes are removed because the relay
/// terminates ICE towards each side (as rtpengine's `ICE=remove`). The endpoint's own addresses and candidates
/// never reach the other side.
public enum SDPRelayRewrite {
    /// ICE attributes (RFC 8839) removed at session and media level.
    static let iceAttributes: Set<String> = [
        "candidate", "remote-candidates", "end-of-candidates", "ice-ufrag", "ice-pwd", "ice-options", "ice-lite",
        "ice-mismatch", "ice-pacing",
    ]

    /// `sdp` with media section `i` on the relay's `address` and `ports[i]` (RTP; RTCP on the next port unless the
    /// section multiplexes); sections whose port is nil (disabled, or not relayed) keep port 0 or are left as
    /// they are.
    public static func rewrite(_ sdp: SessionDescription, address: String, addressType: SDPAddressType,
                               ports: [UInt16?]) -> SessionDescription {
        var rewritten = sdp
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
}
