import SDP
import SecurityPolicy
import Testing

/// The one deny-by-default policy for addresses a peer tells the edge to send to (issue 17).
@Suite struct AddressPolicyTests {
    static let classes: [(String, AddressPolicy.AddressClass)] = [
        ("198.51.100.7", .global), ("8.8.8.8", .global), ("2001:db8::1", .global), ("2606:4700::1111", .global),
        ("127.0.0.1", .loopback), ("127.255.0.9", .loopback), ("::1", .loopback), ("::ffff:127.0.0.1", .loopback),
        ("0.0.0.0", .unspecified), ("::", .unspecified), ("0.1.2.3", .reserved), ("240.0.0.1", .reserved),
        ("255.255.255.255", .broadcast), ("224.0.0.251", .multicast), ("239.1.1.1", .multicast), ("ff02::1", .multicast),
        ("169.254.10.1", .linkLocal), ("fe80::1", .linkLocal), ("169.254.169.254", .metadata),
        ("fd00:ec2::254", .metadata), ("10.1.2.3", .privateNetwork), ("172.16.0.1", .privateNetwork),
        ("172.31.255.255", .privateNetwork), ("172.32.0.1", .global), ("192.168.1.1", .privateNetwork),
        ("100.64.0.1", .sharedAddressSpace), ("100.127.255.254", .sharedAddressSpace), ("100.128.0.1", .global),
        ("fd12:3456::1", .uniqueLocal), ("fc00::1", .uniqueLocal),
        // IPv4 hidden in IPv6: judged as the IPv4 address reached.
        ("64:ff9b::7f00:1", .loopback), ("64:ff9b::a9fe:a9fe", .metadata), ("64:ff9b::c633:6407", .global),
        ("2002:7f00:1::1", .loopback), ("2002:c0a8:101::1", .privateNetwork), ("::7f00:1", .reserved),
    ]

    @Test(arguments: classes) func classifiesBySpecialPurposeRegistry(_ text: String, _ expected: AddressPolicy.AddressClass) throws {
        #expect(AddressPolicy.classify(try #require(IPAddress(text))) == expected, "\(text)")
    }

    static let phone = IPAddress("198.51.100.7")!
    static let loopbackPhone = IPAddress("127.0.0.1")!
    static let lanPhone = IPAddress("10.0.0.5")!

    @Test func whoSpeaksDecidesWhatLoopbackAndPrivateAddressesMayBeNamed() throws {
        let policy = AddressPolicy.classesOnly
        func refusal(_ destination: String, _ peer: IPAddress?) -> AddressPolicy.Refusal? {
            policy.refusal(of: IPAddress(destination)!, port: 4000, toldBy: peer)
        }
        #expect(refusal("203.0.113.9", Self.phone) == nil, "public: anyone may name it")
        #expect(refusal("127.0.0.1", Self.phone) == .addressClass(.loopback), "loopback from afar")
        #expect(refusal("127.0.0.1", nil) == .addressClass(.loopback), "an unknown peer is no loopback phone")
        #expect(refusal("127.0.0.1", Self.loopbackPhone) == nil, "a phone on the edge's machine")
        #expect(refusal("::1", IPAddress("127.0.0.2")) == nil, "either loopback family")
        #expect(refusal("10.0.0.5", Self.lanPhone) == nil, "a private phone naming itself")
        #expect(refusal("10.0.0.6", Self.lanPhone) == .addressClass(.privateNetwork), "another host on its LAN")
        #expect(refusal("10.0.0.5", Self.phone) == .addressClass(.privateNetwork), "an internal host from outside")
        #expect(refusal("100.64.1.1", Self.phone) == .addressClass(.sharedAddressSpace))
        #expect(refusal("fd12::1", Self.phone) == .addressClass(.uniqueLocal))
        #expect(refusal("fe80::1", Self.phone) == .addressClass(.linkLocal))
        for never in ["169.254.169.254", "0.0.0.0", "224.0.0.1", "255.255.255.255", "240.1.1.1", "64:ff9b::a9fe:a9fe"] {
            #expect(refusal(never, Self.loopbackPhone) != nil && refusal(never, IPAddress(never)) != nil,
                    "\(never) is never a destination, whoever names it")
        }
    }

    @Test func operatorNetworksWidenAndNarrowTheClasses() throws {
        let policy = AddressPolicy(allowedNetworks: try NetworkList(parsing: ["10.20.0.0/16", "fd00:1::/32"]),
                                   deniedNetworks: try NetworkList(parsing: ["203.0.113.0/24"]))
        #expect(policy.refusal(of: IPAddress("10.20.3.4")!, toldBy: Self.phone) == nil, "a carrier's media network")
        #expect(policy.refusal(of: IPAddress("fd00:1::9")!, toldBy: Self.phone) == nil)
        #expect(policy.refusal(of: IPAddress("10.21.0.1")!, toldBy: Self.phone) == .addressClass(.privateNetwork))
        #expect(policy.refusal(of: IPAddress("203.0.113.9")!, toldBy: Self.phone) == .deniedNetwork)
        #expect(AddressPolicy(allowedNetworks: try NetworkList(parsing: ["169.254.0.0/16"]))
            .refusal(of: IPAddress("169.254.169.254")!, toldBy: Self.phone) == .addressClass(.metadata),
                "the metadata endpoint stays refused inside an allowed network")
    }

    @Test func theEdgesOwnSocketsAndTrunksAreNeverDestinations() throws {
        let loopback = Self.loopbackPhone
        let policy = AddressPolicy(
            listeners: [.init(address: loopback, port: 5060), .init(address: IPAddress("::")!, port: 5061)],
            relayAddresses: [IPAddress("198.51.100.1")!], relayPorts: 30_000...39_999,
            trunks: [.init(address: IPAddress("203.0.113.50")!, port: 5060)])
        #expect(policy.refusal(of: loopback, port: 5060, toldBy: loopback) == .ownListener)
        #expect(policy.refusal(of: loopback, port: 5062, toldBy: loopback) == nil, "another loopback port")
        #expect(policy.refusal(of: IPAddress("198.51.100.1")!, port: 5061, toldBy: Self.phone) == .ownListener,
                "a wildcard listener's port on any address")
        #expect(policy.refusal(of: IPAddress("198.51.100.1")!, port: 31_000, toldBy: Self.phone) == .ownRelay)
        #expect(policy.refusal(of: IPAddress("198.51.100.1")!, port: 40_000, toldBy: Self.phone) == nil)
        #expect(policy.refusal(of: IPAddress("198.51.100.1")!, port: 31_000, toldBy: IPAddress("198.51.100.1")) == nil,
                "a phone on the relay's host naming its own socket in the range")
        #expect(policy.refusal(of: IPAddress("203.0.113.50")!, port: 5060, toldBy: Self.phone) == .trunk)
        #expect(policy.refusal(of: IPAddress("203.0.113.50")!, port: 5060, toldBy: IPAddress("203.0.113.50")!) == .trunk,
                "not even the trunk itself")
        #expect(policy.refusal(of: IPAddress("203.0.113.50")!, port: 20_000, toldBy: Self.phone) == nil,
                "a trunk's media gateway on the same host")
    }

    /// An SDP whose first line (a session c= line) goes before t=, the rest after it.
    static func sdp(_ lines: [String]) -> SessionDescription {
        try! SessionDescription(parsing: (["v=0", "o=- 1 1 IN IP4 198.51.100.7", "s=-", lines[0], "t=0 0"]
            + lines.dropFirst() + [""]).joined(separator: "\r\n"))
    }

    @Test func everyMediaDestinationOfAnSDPIsScreened() throws {
        let policy = AddressPolicy(listeners: [.init(address: Self.loopbackPhone, port: 5060)])
        let plain = Self.sdp(["c=IN IP4 198.51.100.7", "m=audio 4000 RTP/AVP 0"])
        #expect(policy.mediaRefusal(in: plain, toldBy: Self.phone) == nil)
        let loopback = Self.sdp(["c=IN IP4 127.0.0.1", "m=audio 4000 RTP/AVP 0"])
        #expect(policy.mediaRefusal(in: loopback, toldBy: Self.phone)?.refusal == .addressClass(.loopback))
        #expect(policy.mediaRefusal(in: loopback, toldBy: Self.loopbackPhone) == nil)
        // The second section's own c= line, and an RTCP address of its own (RFC 3605), are destinations too.
        let second = Self.sdp(["c=IN IP4 198.51.100.7", "m=audio 4000 RTP/AVP 0", "m=video 4002 RTP/AVP 96",
                               "c=IN IP4 10.0.0.1"])
        #expect(policy.mediaRefusal(in: second, toldBy: Self.phone)?.mediaIndex == 1)
        let rtcp = Self.sdp(["c=IN IP4 198.51.100.7", "m=audio 4000 RTP/AVP 0", "a=rtcp:53 IN IP4 169.254.169.254"])
        #expect(policy.mediaRefusal(in: rtcp, toldBy: Self.phone)?.refusal == .addressClass(.metadata))
        // The implied RTCP port is the next one: an SDP may not aim it at the listener (RTP at 5059).
        let implied = Self.sdp(["c=IN IP4 127.0.0.1", "m=audio 5059 RTP/AVP 0"])
        #expect(policy.mediaRefusal(in: implied, toldBy: Self.loopbackPhone)?.refusal == .ownListener)
        let muxed = Self.sdp(["c=IN IP4 127.0.0.1", "m=audio 5059 RTP/AVP 0", "a=rtcp-mux"])
        #expect(policy.mediaRefusal(in: muxed, toldBy: Self.loopbackPhone) == nil)
        // Disabled sections and the legacy hold address name no destination.
        let disabled = Self.sdp(["c=IN IP4 127.0.0.1", "m=audio 0 RTP/AVP 0"])
        #expect(policy.mediaRefusal(in: disabled, toldBy: Self.phone) == nil)
        let hold = Self.sdp(["c=IN IP4 0.0.0.0", "m=audio 4000 RTP/AVP 0"])
        #expect(policy.mediaRefusal(in: hold, toldBy: Self.phone) == nil)
        let violation = MediaPolicy.screenAddresses(loopback, with: policy, toldBy: Self.phone)
        #expect(violation?.kind == .addressRefused && violation?.sipStatus == 488
            && violation?.securityEvent == .mediaAddressRefused)
        #expect(SecurityEvent.Kind(name: "media-address-refused") == .mediaAddressRefused)
    }
}
