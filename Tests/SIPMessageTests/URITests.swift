import SIPMessage
import Testing

@Suite struct URITests {
    @Test func sipURIComponents() throws {
        let uri = try SIPURI("sips:alice%40home:secret@[2001:db8::7]:5061;transport=tls;lr?subject=hi&priority=urgent")
        #expect(uri.scheme == .sips)
        #expect(uri.user == "alice%40home")
        #expect(uri.decodedUser == "alice@home")
        #expect(uri.password == "secret")
        #expect(uri.host == .ipv6(high: 0x2001_0db8_0000_0000, low: 7))
        #expect(uri.port == 5061)
        #expect(uri.transport == "tls")
        #expect(uri.isLooseRouter)
        #expect(uri.headers.map(\.name) == ["subject", "priority"])
        #expect(uri.description == "sips:alice%40home:secret@[2001:db8::7]:5061;transport=tls;lr?subject=hi&priority=urgent")
    }

    /// RFC 3261 §19.1.4: pairs that are equivalent.
    @Test(arguments: [
        ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
        ("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
         "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"),
        ("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
         "sip:alice@atlanta.com?priority=urgent&subject=project%20x"),
    ])
    func equivalentURIs(_ pair: (String, String)) throws {
        #expect(try SIPURI(pair.0).isEquivalent(to: SIPURI(pair.1)))
        #expect(try SIPURI(pair.1).isEquivalent(to: SIPURI(pair.0)))
    }

    /// RFC 3261 §19.1.4: pairs that are not equivalent.
    @Test(arguments: [
        ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
        ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
        ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"),
        ("sip:a%3Bb@example.com", "sip:a;b@example.com"),
        ("sip:alice@example.com", "sips:alice@example.com"),
    ])
    func nonEquivalentURIs(_ pair: (String, String)) throws {
        #expect(try !SIPURI(pair.0).isEquivalent(to: SIPURI(pair.1)))
    }

    @Test(arguments: [
        "sip:", "sip:@example.com", "sip:a@", "sip:a@exa mple.com", "sip:a@example.com:99999", "sip:a@example.com:",
        "sip:a@example.com;", "sip:a@example.com;=x", "sip:a@example.com;p=", "sip:a@[2001:db8::1", "sip:a@%65xample.com",
        "sip:a@127.1", "sip:a@0x7f.0.0.1", "sip:a@0177.0.0.1", "sip:a@256.1.1.1", "sip:a@1.2.3.4.5", "sip:a@-bad.example.com",
        "sip:a@bad-.example.com", "sip:a@ex_ample.com", "sip:a@[fe80::1%25eth0]", "sip:a@[::1::2]", "sip:a b@example.com",
        "sip:a%zz@example.com", "sip:a@example.com?x", "sip:a@example.com;a=b=c", "http://example.com",
        "sip:a@" + String(repeating: "a", count: 64) + ".com",
    ])
    func malformedSIPURIsAreRejected(_ text: String) {
        #expect(throws: SIPParseError.self) { try SIPURI(text) }
    }

    @Test(arguments: [
        ("127.0.0.1", SIPHost.ipv4(0x7F00_0001)),
        ("[::1]", SIPHost.ipv6(high: 0, low: 1)),
        ("[::]", SIPHost.ipv6(high: 0, low: 0)),
        ("[::ffff:192.0.2.1]", SIPHost.ipv6(high: 0, low: 0x0000_FFFF_C000_0201)),
        ("[2001:DB8:0:0:1:0:0:1]", SIPHost.ipv6(high: 0x2001_0db8_0000_0000, low: 0x0001_0000_0000_0001)),
        ("Example.COM.", SIPHost.hostname("example.com.")),
        ("a-1.b2.example", SIPHost.hostname("a-1.b2.example")),
    ])
    func hosts(_ pair: (String, SIPHost)) throws {
        #expect(try SIPHost.parse(pair.0) == pair.1)
    }

    @Test func hostTextIsCanonical() throws {
        #expect(try SIPHost.parse("[2001:DB8:0:0:1:0:0:1]").description == "[2001:db8::1:0:0:1]")
        #expect(try SIPHost.parse("[::ffff:192.0.2.1]").addressText == "::ffff:c000:201")
        #expect(try SIPHost.parse("192.0.2.1").description == "192.0.2.1")
    }

    @Test func telURIs() throws {
        let global = try TelURI("tel:+1-201-555-0123;ext=1234")
        #expect(global.isGlobal)
        #expect(global.digits == "+12015550123")
        #expect(global.parameters.value(named: "ext") == "1234")
        let local = try TelURI("tel:7042;phone-context=example.com")
        #expect(!local.isGlobal)
        #expect(throws: SIPParseError.self) { try TelURI("tel:7042") }  // RFC 3966 §5.1.5
        #expect(throws: SIPParseError.self) { try TelURI("tel:+") }
        #expect(throws: SIPParseError.self) { try TelURI("tel:+1 201") }
        #expect(throws: SIPParseError.self) { try TelURI("tel:+1201;=x") }
        #expect(try SIPAnyURI("tel:+12015550123").scheme == "tel")
        #expect(try SIPAnyURI("urn:service:sos").scheme == "urn")
        #expect(throws: SIPParseError.self) { try SIPAnyURI("no scheme") }
    }

    @Test func e164Normalisation() throws {
        let us = E164Normalizer(countryCode: "1", trunkPrefix: "1")
        #expect(us.normalize("+1 (201) 555-0123") == "+12015550123")
        #expect(us.normalize("011 44 20 7946 0958") == "+442079460958")
        #expect(us.normalize("2015550123") == "+12015550123")
        let de = E164Normalizer(countryCode: "49", trunkPrefix: "0")
        #expect(de.normalize("030 1234567") == "+49301234567")
        #expect(de.normalize("0049 30 1234567") == "+49301234567")
        #expect(de.normalize("+49 30 1234567") == de.normalize("00493012-34567"))
        #expect(E164Normalizer().normalize("2015550123") == nil)  // national number, no country configured
        #expect(us.normalize("+1234567890123456") == nil)  // 16 digits
        #expect(us.normalize("+1 201 555 01x3") == nil)
        #expect(us.normalize("12+34") == nil)
        #expect(us.normalize(try SIPAnyURI("sip:+12015550123;npdi@carrier.example.com;user=phone")) == "+12015550123")
        #expect(us.normalize(try SIPAnyURI("tel:+1-201-555-0123")) == "+12015550123")
        #expect(us.normalize(try SIPAnyURI("sip:alice@example.com")) == nil)
    }

    @Test func addresses() throws {
        let quoted = try SIPAddress("\"A \\\"quoted\\\" name\" <sip:a@example.com>;tag=xyz")
        #expect(quoted.displayName == "A \"quoted\" name")
        #expect(quoted.tag == "xyz")
        #expect(quoted.description == "\"A \\\"quoted\\\" name\" <sip:a@example.com>;tag=xyz")
        let tokens = try SIPAddress("Alice   Smith <sip:a@example.com>")
        #expect(tokens.displayName == "Alice Smith")
        let bare = try SIPAddress("sip:a@example.com;tag=1")
        #expect(bare.tag == "1")
        #expect(bare.uri.sipURI?.parameters.isEmpty == true)  // ;tag belongs to the header, not the URI
        #expect(throws: SIPParseError.self) { try SIPAddress("<sip:a@example.com") }
        #expect(throws: SIPParseError.self) { try SIPAddress("Alice sip:a@example.com") }
    }
}
