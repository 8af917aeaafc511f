import SDP

extension AddressPolicy {
    /// A media destination an SDP names that the policy refuses: the section (0-based), the address and port, and
    /// why.
    public struct MediaRefusal: Sendable, Hashable, CustomStringConvertible {
        public var mediaIndex: Int
        public var address: IPAddress
        public var port: UInt16
        public var refusal: Refusal

        public var description: String { "m=\(mediaIndex) at \(address) port \(port): \(refusal)" }
    }

    /// The first media destination in `description` (RTP, and RTCP where it is not multiplexed) that a peer speaking
    /// from `peer` may not make the edge send to, or nil. Disabled sections (port 0) carry nothing; an unspecified
    /// address is the legacy way to put a stream on hold (RFC 3264 §8.4) and names no destination, so it passes
    /// here and is never sent to; a host name is never resolved, so never sent to either.
    public func mediaRefusal(in description: SessionDescription, toldBy peer: IPAddress?) -> MediaRefusal? {
        for (index, media) in description.media.enumerated() where media.port != 0 {
            var destinations: [(String?, UInt16)] = [((media.connections.first ?? description.connection)?.address,
                                                      media.port)]
            if !media.rtcpMux {
                let rtcp = media.rtcp
                destinations.append((rtcp?.connection?.address ?? destinations[0].0,
                                     rtcp?.port ?? media.port &+ 1))
            }
            for (host, port) in destinations {
                guard let host, let address = IPAddress(host), !address.isUnspecified else { continue }
                if let refusal = refusal(of: address, port: port, toldBy: peer) {
                    return MediaRefusal(mediaIndex: index, address: address, port: port, refusal: refusal)
                }
            }
        }
        return nil
    }
}

extension MediaPolicy {
    /// `description` checked against the address policy for a peer speaking from `peer`: a
    /// ``Violation/Kind/addressRefused`` violation when it names a destination the edge may not send to.
    public static func screenAddresses(_ description: SessionDescription, with addresses: AddressPolicy,
                                       toldBy peer: IPAddress?) -> Violation? {
        addresses.mediaRefusal(in: description, toldBy: peer).map {
            Violation(kind: .addressRefused, mediaIndex: $0.mediaIndex)
        }
    }
}
