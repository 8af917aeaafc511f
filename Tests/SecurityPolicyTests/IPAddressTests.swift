import SecurityPolicy
import Testing

@Suite struct IPAddressTests {
    /// RFC 5952 §4: lowercase, no leading zeros, the longest run of two or more zero groups compressed (the first
    /// on a tie), a single zero group left alone; IPv4 and IPv4-mapped addresses as dotted quads.
    @Test(arguments: [
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("2001:db8::", "2001:db8::"),
        ("::", "::"),
        ("::1", "::1"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("FE80::A:b", "fe80::a:b"),
        ("192.0.2.1", "192.0.2.1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("::ffff:c000:201", "192.0.2.1"),
        ("::192.0.2.1", "::c000:201"),
        ("[2001:db8::7]", "2001:db8::7"),
    ])
    func descriptionIsCanonical(text: String, canonical: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.description == canonical)
        #expect(IPAddress(canonical) == address)
    }

    @Test(arguments: [
        "", "127.1", "01.2.3.4", "1.2.3.256", "1.2.3.4.5", "1.2.3.", " 1.2.3.4", "1.2.3.4 ", "+1.2.3.4",
        "1:2:3:4:5:6:7:8:9", "1::2::3", ":::", "::1:2:3:4:5:6:7:8", "12345::", "fe80::1%eth0", ":1::", "1:",
        "+1::", "-0::", "::+ff", "g::", "::1.2.3", "1.2.3.4::", "１::", "::１",
    ])
    func oddSpellingsAreRefused(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func ipv4IsHeldAsIPv4Mapped() throws {
        let plain = try #require(IPAddress("192.0.2.1"))
        #expect(plain == IPAddress("::ffff:192.0.2.1"))
        #expect(plain == IPAddress(ipv4: 0xC000_0201))
        #expect(plain.isIPv4 && plain.ipv4 == 0xC000_0201)
        #expect(IPAddress("2001:db8::1")?.isIPv4 == false)
        #expect(IPAddress("::192.0.2.1")?.ipv4 == nil)  // IPv4-compatible (deprecated), not mapped
        #expect(IPAddress("192.0.2.1")! < IPAddress("192.0.2.2")!)
        #expect(IPAddress("192.0.2.255")! < IPAddress("2001:db8::")!)
    }

    @Test func maskingKeepsThePrefix() throws {
        let address = try #require(IPAddress("2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff"))
        #expect(address.masked(to: 128) == address)
        #expect(address.masked(to: 64) == IPAddress("2001:db8:aaaa:bbbb::"))
        #expect(address.masked(to: 72) == IPAddress("2001:db8:aaaa:bbbb:cc00::"))
        #expect(address.masked(to: 32) == IPAddress("2001:db8::"))
        #expect(address.masked(to: 0) == IPAddress("::"))
        #expect(IPAddress("192.0.2.77")!.masked(to: 96 + 24) == IPAddress("192.0.2.0"))
    }
}
