import SecurityPolicy
import Testing

/// An address from text (test vectors are all valid).
func ip(_ text: String) -> IPAddress { IPAddress(text)! }

/// A deterministic generator (SplitMix64), so property checks see the same cases on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct CIDRBlockTests {
    @Test func prefixLengthsAtTheEdges() throws {
        let allIPv4 = try #require(CIDRBlock("0.0.0.0/0"))
        #expect(allIPv4.contains(ip("0.0.0.0")) && allIPv4.contains(ip("255.255.255.255")))
        #expect(!allIPv4.contains(ip("::1")) && !allIPv4.contains(ip("2001:db8::")))
        let everything = try #require(CIDRBlock("::/0"))
        #expect(
            everything.contains(ip("192.0.2.1")) && everything.contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")))
        let host = try #require(CIDRBlock("192.0.2.1/32"))
        #expect(host.contains(ip("192.0.2.1")) && !host.contains(ip("192.0.2.0")) && !host.contains(ip("192.0.2.2")))
        #expect(CIDRBlock("192.0.2.1") == host)
        let host6 = try #require(CIDRBlock("2001:db8::1/128"))
        #expect(host6.contains(ip("2001:db8::1")) && !host6.contains(ip("2001:db8::2")))
        #expect(CIDRBlock("2001:db8::/32")?.contains(ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")) == true)
        #expect(CIDRBlock("2001:db8::/32")?.contains(ip("2001:db9::")) == false)
    }

    @Test func theSpellingDecidesTheFamilyOfTheLength() throws {
        // An IPv4-mapped block written in IPv6 notation takes an IPv6 length.
        #expect(CIDRBlock("::ffff:0:0/96") == CIDRBlock("0.0.0.0/0"))
        #expect(CIDRBlock("::ffff:192.0.2.0/120") == CIDRBlock("192.0.2.0/24"))
        #expect(CIDRBlock("::ffff:0.0.0.0/8") == nil)  // host bits set over a /8 of the IPv6 space
    }

    @Test(arguments: [
        "192.0.2.1/24", "192.0.2.0/33", "2001:db8::/129", "2001:db8::1/64", "192.0.2.0/", "192.0.2.0/-1",
        "192.0.2.0/+8", "192.0.2.0/24/1", "/24", "192.0.2.0/ 24", "192.0.2.0/1000", "bogus/8", "", "10.0.0.0/8x",
    ])
    func malformedBlocksAreRefused(text: String) {
        #expect(CIDRBlock(text) == nil)
    }

    @Test(arguments: ["192.0.2.0/24", "0.0.0.0/0", "10.1.2.3/32", "2001:db8::/32", "::/0", "::1/128"])
    func descriptionRoundTrips(text: String) throws {
        #expect(try #require(CIDRBlock(text)).description == text)
    }
}

@Suite struct NetworkListTests {
    @Test func adjacentAndNestedBlocksMerge() throws {
        let halves = try NetworkList(parsing: ["192.0.2.128/25", "192.0.2.0/25", "192.0.2.7/32", "192.0.2.0/26"])
        #expect(halves == (try NetworkList(parsing: ["192.0.2.0/24"])))
        #expect(halves.rangeCount == 1)
        #expect(halves.contains(ip("192.0.2.0")) && halves.contains(ip("192.0.2.255")))
        #expect(!halves.contains(ip("192.0.1.255")) && !halves.contains(ip("192.0.3.0")))
        let separate = try NetworkList(parsing: ["198.51.100.0/24", "192.0.2.0/24", "2001:db8::/32"])
        #expect(separate.rangeCount == 3)
        #expect(separate.contains(ip("198.51.100.9")) && separate.contains(ip("2001:db8::9")))
        #expect(!separate.contains(ip("198.51.101.0")) && !separate.contains(ip("2001:db7:ffff::")))
    }

    @Test func theWholeSpaceAndTheEmptyList() throws {
        let all = try NetworkList(parsing: ["::/0", "192.0.2.0/24", "ffff::/16"])
        #expect(all.rangeCount == 1)
        #expect(all.contains(ip("::")) && all.contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")))
        #expect(NetworkList.empty.isEmpty && !NetworkList.empty.contains(ip("192.0.2.1")))
        #expect(try NetworkList(parsing: []) == .empty)
        #expect(!all.isEmpty)
    }

    @Test func entriesAreTrimmedAndBadOnesNamed() throws {
        #expect(try NetworkList(parsing: ["  10.0.0.0/8\t"]).contains(ip("10.1.2.3")))
        do {
            _ = try NetworkList(parsing: ["10.0.0.0/8", "192.0.2.1/24"])
            Issue.record("a block with host bits set was accepted")
        } catch {
            #expect(error.code == .invalidNetwork)
            #expect(error.line == 2)
            #expect(error.description.contains("entry 2") && error.description.contains("192.0.2.1/24"))
        }
    }

    @Test func theSizeIsBounded() throws {
        let tooMany = Array(repeating: "192.0.2.1", count: NetworkList.maximumEntries + 1)
        #expect(throws: AddressRuleError(.tooLarge, "")) { try NetworkList(parsing: tooMany) }
    }

    @Test func lookupsAgreeWithALinearScan() throws {
        var random = SeededGenerator(seed: 0x5241_4D50)
        for _ in 0..<20 {
            // Blocks crowded into 10.0.0.0/20 and 2001:db8::/116 so that they nest, touch and overlap.
            let blocks = (0..<Int.random(in: 0...40, using: &random)).map { _ in
                if Bool.random(using: &random) {
                    let address = IPAddress(ipv4: 0x0A00_0000 | UInt32.random(in: 0..<4096, using: &random))
                    return CIDRBlock(network: address, prefixLength: 96 + Int.random(in: 20...32, using: &random))
                }
                let address = IPAddress(high: 0x2001_0DB8_0000_0000, low: UInt64.random(in: 0..<4096, using: &random))
                return CIDRBlock(network: address, prefixLength: Int.random(in: 116...128, using: &random))
            }
            let list = NetworkList(blocks)
            for _ in 0..<500 {
                let address =
                    Bool.random(using: &random)
                    ? IPAddress(ipv4: 0x0A00_0000 | UInt32.random(in: 0..<4200, using: &random))
                    : IPAddress(high: 0x2001_0DB8_0000_0000, low: UInt64.random(in: 0..<4200, using: &random))
                #expect(list.contains(address) == blocks.contains { $0.contains(address) }, "\(address)")
            }
        }
    }
}

@Suite struct AddressACLTests {
    let acl = AddressACL(
        allow: try! NetworkList(parsing: ["203.0.113.10", "2001:db8:1::/48"]),
        deny: try! NetworkList(parsing: ["203.0.113.0/24", "2001:db8::/32"]))

    @Test func allowBeatsDeny() {
        #expect(acl.verdict(for: ip("203.0.113.10")) == .allowListed)
        #expect(acl.verdict(for: ip("::ffff:203.0.113.10")) == .allowListed)
        #expect(acl.verdict(for: ip("2001:db8:1:2::3")) == .allowListed)
        #expect(acl.verdict(for: ip("203.0.113.11")) == .denied)
        #expect(acl.verdict(for: ip("2001:db8:2::")) == .denied)
        #expect(acl.verdict(for: ip("198.51.100.1")) == .neutral)
        #expect(AddressACL.open.verdict(for: ip("203.0.113.11")) == .neutral)
        #expect(AddressACL(allow: acl.allow).verdict(for: ip("203.0.113.10")) == .allowListed)
    }

    @Test func accountsAreHeldToTheirNetworks() throws {
        var networks = AccountNetworks(["alice": try NetworkList(parsing: ["192.0.2.0/24", "2001:db8::/32"])])
        networks[account: "mallory"] = .empty
        #expect(networks.permits(account: "alice", from: ip("192.0.2.44")))
        #expect(networks.permits(account: "alice", from: ip("2001:db8::44")))
        #expect(!networks.permits(account: "alice", from: ip("198.51.100.44")))
        #expect(networks.permits(account: "Alice", from: ip("198.51.100.44")))  // names compare exactly: no entry
        #expect(networks.permits(account: "bob", from: ip("198.51.100.44")))  // no entry: anywhere
        #expect(!networks.permits(account: "mallory", from: ip("192.0.2.44")))  // empty entry: nowhere
        #expect(AccountNetworks.unrestricted.permits(account: "alice", from: ip("198.51.100.44")))
        #expect(networks[account: "bob"] == nil)
    }
}
