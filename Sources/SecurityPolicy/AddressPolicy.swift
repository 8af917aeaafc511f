/// Where the edge may send to when it is *told* an address by a peer: an SDP media address, a registered Contact,
/// and (to come) a TURN peer or a STIR/SHAKEN `x5u` URL. One deny-by-default policy for every such path, so that no
/// peer can aim the edge at loopback services, the cloud metadata endpoint, internal networks, the edge's own
/// sockets or a trunk (SSRF through signalling; the media relay as an open proxy).
///
/// An address is first sorted into a class (``AddressClass``, RFC 6890's special-purpose registries), then:
/// - never reached: unspecified, multicast, broadcast, reserved and the metadata endpoint; the edge's own listeners
///   (IP and port, a wildcard listener's port on any address), the relay's ports on the relay's addresses (but for a
///   party on the edge's own host naming its own address), and a trunk's signalling IP and port; anything in
///   ``deniedNetworks``;
/// - loopback and link-local: only when the peer itself spoke from that class (a phone on the edge's own machine may
///   name loopback; one on the Internet may not), or inside ``allowedNetworks``;
/// - private (RFC 1918), shared (RFC 6598, CGNAT) and unique local (RFC 4193): only the peer's own address, or inside
///   ``allowedNetworks`` (the operator's LAN, a carrier's media gateways);
/// - public: allowed.
///
/// Addresses that embed IPv4 (IPv4-mapped, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by the IPv4
/// address too, so `64:ff9b::7f00:1` is loopback. Sans-I/O: no lookups, no sockets; one check is a few comparisons.
public struct AddressPolicy: Sendable, Hashable {
    /// What kind of address it is (RFC 6890 and the registries it names).
    public enum AddressClass: String, Sendable, Hashable, CaseIterable {
        case global = "public"
        case loopback
        case unspecified
        case multicast
        case broadcast
        case linkLocal = "link-local"
        case privateNetwork = "private"
        /// RFC 6598 shared address space (carrier-grade NAT).
        case sharedAddressSpace = "cgnat"
        /// RFC 4193 unique local IPv6.
        case uniqueLocal = "ula"
        /// A cloud instance metadata endpoint (169.254.169.254, fd00:ec2::254): never, whoever asks.
        case metadata
        /// "This network" (0/8), the IPv4 class E block, IPv4-compatible IPv6 and other blocks nobody sends to.
        case reserved
    }

    /// An IP address and port.
    public struct Endpoint: Sendable, Hashable {
        public var address: IPAddress
        public var port: UInt16

        public init(address: IPAddress, port: UInt16) {
            (self.address, self.port) = (address, port)
        }
    }

    /// Why an address was refused.
    public enum Refusal: Sendable, Hashable, CustomStringConvertible {
        /// Its class may not be reached from where the peer spoke.
        case addressClass(AddressClass)
        /// One of the edge's own SIP listeners.
        case ownListener
        /// One of the media relay's own ports.
        case ownRelay
        /// A trunk's signalling address: a peer may never make the edge send to a carrier on its behalf.
        case trunk
        /// Inside ``deniedNetworks``.
        case deniedNetwork

        public var description: String {
            switch self {
            case .addressClass(let kind): "\(kind.rawValue) address"
            case .ownListener: "the edge's own SIP listener"
            case .ownRelay: "the edge's own media relay"
            case .trunk: "a trunk's signalling address"
            case .deniedNetwork: "a denied network"
            }
        }
    }

    /// Networks the edge may be told to send to even though they are private, shared or unique local.
    public var allowedNetworks: NetworkList
    /// Networks the edge is never told to send to, whatever their class.
    public var deniedNetworks: NetworkList
    /// The edge's SIP listeners (an unspecified address stands for every address of the machine).
    public var listeners: [Endpoint]
    /// The media relay's addresses (unspecified: every address) and its port range.
    public var relayAddresses: [IPAddress]
    public var relayPorts: ClosedRange<UInt16>?
    /// The trunks' signalling addresses.
    public var trunks: [Endpoint]

    public init(allowedNetworks: NetworkList = .empty, deniedNetworks: NetworkList = .empty, listeners: [Endpoint] = [],
                relayAddresses: [IPAddress] = [], relayPorts: ClosedRange<UInt16>? = nil, trunks: [Endpoint] = []) {
        self.allowedNetworks = allowedNetworks
        self.deniedNetworks = deniedNetworks
        self.listeners = listeners
        self.relayAddresses = relayAddresses
        self.relayPorts = relayPorts
        self.trunks = trunks
    }

    /// The policy with nothing of the edge's own and no exceptions: the address classes alone.
    public static let classesOnly = AddressPolicy()

    /// Whether the edge may send to `destination` (and `port`, when the path has one) because a peer speaking from
    /// `peer` told it to. Nil when allowed, else why not.
    public func refusal(of destination: IPAddress, port: UInt16? = nil, toldBy peer: IPAddress?) -> Refusal? {
        let destinationClass = Self.classify(destination)
        // An address that translates to IPv4 (NAT64, SIIT) reaches what that IPv4 address is: the edge's own
        // sockets and trunks are compared in that form too.
        let destination = destination.translatedIPv4 ?? destination
        if let port {
            let endpoint = Endpoint(address: destination, port: port)
            if trunks.contains(endpoint) { return .trunk }
            if listeners.contains(where: { $0.port == port && ($0.address == destination || $0.address.isUnspecified) }) {
                return .ownListener
            }
            // The relay's range on its own addresses, unless a party on the edge's own host names its own socket
            // (the relay binds only part of its range; a phone there may hold another port of it).
            if let relayPorts, relayPorts.contains(port), destination != peer,
                relayAddresses.contains(where: { $0 == destination || $0.isUnspecified })
            {
                return .ownRelay
            }
        }
        if deniedNetworks.contains(destination) { return .deniedNetwork }
        switch destinationClass {
        case .global:
            return nil
        case .unspecified, .multicast, .broadcast, .metadata, .reserved:
            return .addressClass(destinationClass)
        case .loopback, .linkLocal:
            // The peer's own kind of address: a phone on the same machine (or link) names what it can reach itself;
            // or the operator listed it (a certificate server on the edge's own host).
            return peer.map(Self.classify) == destinationClass || allowedNetworks.contains(destination)
                ? nil : .addressClass(destinationClass)
        case .privateNetwork, .sharedAddressSpace, .uniqueLocal:
            return destination == peer || allowedNetworks.contains(destination) ? nil : .addressClass(destinationClass)
        }
    }

    /// The class of an address; addresses that embed IPv4 take the embedded address's class when it is not public.
    public static func classify(_ address: IPAddress) -> AddressClass {
        if let v4 = address.ipv4 { return classify(ipv4: v4) }
        let high = address.high, low = address.low
        if high == 0, low == 0 { return .unspecified }
        if high == 0, low == 1 { return .loopback }
        // NAT64's well-known prefix (64:ff9b::/96, RFC 6052) and SIIT's IPv4-translated form (::ffff:0:a.b.c.d,
        // RFC 2765): judged as the IPv4 address they reach.
        if let translated = address.translatedIPv4 { return classify(translated) }
        // IPv4-compatible (::a.b.c.d, deprecated by RFC 4291 §2.5.5.1): no one sends to it.
        if high == 0, low >> 32 == 0 { return .reserved }
        // The local-use NAT64 prefix (64:ff9b:1::/48, RFC 8215) embeds IPv4 where the operator chose: nobody's
        // peer is there.
        if high >> 16 == 0x0064_FF9B_0001 { return .reserved }
        let first16 = UInt16(truncatingIfNeeded: high >> 48)
        // 6to4 (RFC 3056): 2002:a.b.c.d::/48.
        if first16 == 0x2002 {
            let embedded = classify(ipv4: UInt32(truncatingIfNeeded: high >> 16))
            if embedded != .global { return embedded }
        }
        if address == Self.ec2MetadataIPv6 { return .metadata }
        if first16 & 0xFF00 == 0xFF00 { return .multicast }
        if first16 & 0xFFC0 == 0xFE80 { return .linkLocal }
        if first16 & 0xFE00 == 0xFC00 { return .uniqueLocal }
        // Site-local (deprecated, RFC 3879) behaves like a private network where it is still routed.
        if first16 & 0xFFC0 == 0xFEC0 { return .privateNetwork }
        return .global
    }

    static func classify(ipv4 v4: UInt32) -> AddressClass {
        let first = v4 >> 24, second = (v4 >> 16) & 0xFF
        switch first {
        case 0: return v4 == 0 ? .unspecified : .reserved
        case 10: return .privateNetwork
        case 100 where second & 0xC0 == 64: return .sharedAddressSpace
        case 127: return .loopback
        case 169 where second == 254: return v4 == 0xA9FE_A9FE ? .metadata : .linkLocal
        case 172 where second & 0xF0 == 16: return .privateNetwork
        case 192 where second == 168: return .privateNetwork
        case 224...239: return .multicast
        case 240...255: return v4 == 0xFFFF_FFFF ? .broadcast : .reserved
        default: return .global
        }
    }

    /// AWS's IPv6 instance metadata endpoint.
    static let ec2MetadataIPv6 = IPAddress("fd00:ec2::254")!
}

extension IPAddress {
    /// `0.0.0.0` or `::`.
    public var isUnspecified: Bool { (high == 0 && low == 0) || (isIPv4 && ipv4 == 0) }

    /// The IPv4 address a NAT64 (64:ff9b::/96, RFC 6052) or SIIT (::ffff:0:a.b.c.d) address translates to.
    public var translatedIPv4: IPAddress? {
        if high == 0x0064_FF9B_0000_0000, low >> 32 == 0 { return IPAddress(ipv4: UInt32(truncatingIfNeeded: low)) }
        if high == 0, low >> 32 == 0xFFFF_0000 { return IPAddress(ipv4: UInt32(truncatingIfNeeded: low)) }
        return nil
    }
}
