import MediaSecurity
import Pcap
import SDP
import SIPMessage

/// SDES keys offered in a capture's own SIP (RFC 4568): every `a=crypto` line of every SDP body seen in plain
/// SIP over UDP, with the media address it belongs to. A line in one party's SDP is the key that party sends
/// with, so it is tried first on packets coming from that party's media address. Bounded.
public struct SDESKeyHarvest {
    /// One offered key: whose media it protects and the keys.
    public struct Offer {
        /// The SDP's media address and RTP port (where the party receives, and with symmetric RTP sends from).
        public var endpoint: UDPDatagram.Endpoint
        /// The RTCP port (a=rtcp, rtcp-mux or RTP + 1).
        public var rtcpPort: UInt16
        public var keying: SDESKeying
        /// `AES_CM_128_HMAC_SHA1_80 tag 1 in INVITE from 192.0.2.1:5004`: for reports, never the key.
        public var label: String
    }

    /// The most offers kept; later ones are counted in ``dropped``.
    public static let maximumOffers = 1_024

    public private(set) var offers: [Offer] = []
    /// SIP messages whose SDP carried usable keys.
    public private(set) var messages = 0
    /// Crypto lines that could not be used (unimplemented suites, refused parameters) or were over the limit.
    public private(set) var dropped = 0

    public init() {}

    /// Looks at one UDP payload; SIP with an SDP body adds its keys.
    public mutating func inspect(_ payload: ArraySlice<UInt8>) {
        // SIP starts with a method or "SIP/2.0": ASCII letters. RTP, STUN and DTLS never do.
        guard let first = payload.first, (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first),
            let message = try? SIPMessage.parse(Array(payload)), !message.body.isEmpty,
            let sdp = try? SessionDescription(parsing: String(decoding: message.body, as: UTF8.self))
        else { return }
        let kind = message.isRequest ? (message.method.map { "\($0)" } ?? "request") : "response"
        var found = false
        for media in sdp.media where media.port != 0 {
            guard let connection = media.connections.first ?? sdp.connection,
                let address = Self.address(connection.address)
            else { continue }
            let endpoint = UDPDatagram.Endpoint(address: address, port: media.port)
            let rtcpPort = media.rtcpMux ? media.port : (media.rtcp?.port ?? media.port &+ 1)
            for attribute in media.cryptos {
                guard offers.count < Self.maximumOffers, let keying = try? SDESKeying(attribute) else {
                    dropped += 1
                    continue
                }
                offers.append(Offer(endpoint: endpoint, rtcpPort: rtcpPort, keying: keying,
                                    label: "\(attribute.suite.name) tag \(attribute.tag) in \(kind) for \(endpoint)"))
                found = true
            }
        }
        if found { messages += 1 }
    }

    /// Offers to try on a packet from `source`, with their positions in ``offers``: the latest ones for that media
    /// address first (a re-INVITE's new key before the old one), then the others.
    func candidates(for source: UDPDatagram.Endpoint) -> [(position: Int, offer: Offer)] {
        func fromSource(_ offer: Offer) -> Bool {
            offer.endpoint.address == source.address && (offer.endpoint.port == source.port || offer.rtcpPort == source.port)
        }
        let numbered = offers.enumerated().map { (position: $0.offset, offer: $0.element) }
        return numbered.filter { fromSource($0.offer) }.reversed() + numbered.filter { !fromSource($0.offer) }
    }

    /// The octets of an IPv4 or IPv6 address in text form, parsed as strictly as SIP hosts are (``SIPHost``).
    static func address(_ text: String) -> [UInt8]? {
        func octets<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
        switch SIPHost.parseAddress(text) {
        case .ipv4(let value)?: return octets(value)
        case .ipv6(let high, let low)?: return octets(high) + octets(low)
        default: return nil
        }
    }
}
