import PropertyBased
import SIPMessage
import Testing

@Suite struct PropertyTests {
    static let token = Gen.letterOrNumber.string(of: 1...12)
    static let headerValue = Gen.letterOrNumber.string(of: 0...30)

    /// parse(serialize(parse(x))) == parse(x) for messages built from random names, values and bodies, and
    /// unknown headers keep their exact bytes.
    @Test func serializationRoundTrips() async {
        await propertyCheck(count: 200, input: Self.token, Self.headerValue, Gen.int(in: 0...200), Gen.int(in: 0...4)) {
            name, value, bodyLength, spaces in
            let padding = String(repeating: " ", count: spaces)
            let body = String(repeating: "b", count: bodyLength)
            let lines = [
                "OPTIONS sip:\(name)@example.com SIP/2.0", "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK\(name)",
                "From: <sip:\(name)@example.com>;tag=\(name)", "To: <sip:x@example.com>", "Call-ID: \(name)",
                "CSeq: 7 OPTIONS", "X-\(name)\(padding):\(padding)\(value)\(padding)", "Content-Type: text/plain",
                "Content-Length: \(bodyLength)",
            ]
            let bytes = datagram(lines, body: body)
            guard let message = try? SIPMessage.parse(bytes) else {
                Issue.record("generated message did not parse")
                return
            }
            #expect(message.serialized() == bytes)
            #expect(message.fields(named: "X-\(name)").first?.value == value)
            #expect((try? message.validate()) != nil)
            #expect((try? SIPMessage.parse(message.serialized()))?.serialized() == bytes)
        }
    }

    /// A URI built from components parses back to the same components.
    @Test func uriComponentsRoundTrip() async {
        await propertyCheck(count: 200, input: Self.token, Self.token, Gen.int(in: 1...65535), Self.token) {
            user, label, port, parameter in
            let host = "h" + label.lowercased() + ".example"
            guard let uri = try? SIPURI(
                user: user, host: .hostname(host), port: UInt16(port), parameters: [SIPParameter(name: parameter)])
            else {
                Issue.record("generated URI did not parse")
                return
            }
            let reparsed = try? SIPURI(uri.description)
            #expect(reparsed == uri)
            #expect(reparsed?.isEquivalent(to: uri) == true)
            #expect(uri.user == user && uri.port == UInt16(port) && uri.host == .hostname(host))
        }
    }

    /// Arbitrary bytes never crash the parser and every rejection carries a SIP status.
    @Test func arbitraryBytesGiveATypedAnswer() async {
        await propertyCheck(count: 300, input: Gen.uint8().array(of: 0...300)) { bytes in
            let result = SIPMessageCheck.check(bytes)
            if let error = result.error {
                #expect((400...599).contains(error.sipStatus))
            }
        }
    }
}
