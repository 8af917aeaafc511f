import SIPMessage
import SecurityPolicy
import Testing

func invite(_ extra: [String], from: String = "\"Alice\" <sip:alice@example.com>;tag=a1") -> SIPMessage {
    let lines = [
        "INVITE sip:bob@example.com SIP/2.0", "Via: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKx", "Max-Forwards: 70",
        "From: \(from)", "To: <sip:bob@example.com>", "Call-ID: c1", "CSeq: 1 INVITE",
        "Contact: <sip:alice@10.0.0.5>",
    ] + extra + ["Content-Length: 0"]
    return try! SIPMessage.parse(lines.joined(separator: "\r\n") + "\r\n\r\n")
}

func names(_ message: SIPMessage) -> [String] { message.headers.map(\.name) }

@Suite struct HeaderPolicyTests {
    @Test func theDefaultRemovesProductAndInsideNetworkDetailsButNothingSIPNeeds() throws {
        var message = invite([
            "User-Agent: Yealink SIP-T46S 66.86.0.15", "Organization: Example Corp", "Warning: 399 pbx1 \"internal\"",
            "P-Charging-Vector: icid-value=1234", "P-Access-Network-Info: 3GPP-UTRAN-TDD", "Supported: timer",
            "X-Custom: kept", "P-Asserted-Identity: <sip:alice@example.com>",
        ])
        try HeaderPolicy.minimizing.apply(to: &message)
        #expect(names(message) == [
            "Via", "Max-Forwards", "From", "To", "Call-ID", "CSeq", "Contact", "Supported", "X-Custom",
            "P-Asserted-Identity", "Content-Length",
        ])
        #expect(try message.validate().isEmpty)
    }

    @Test func compactFormsAreMatchedByTheirLongNames() throws {
        var message = invite(["Server: Asterisk PBX 18.0"])
        try HeaderPolicy(denied: ["server", "max-forwards"]).apply(to: &message)
        #expect(!names(message).contains("Server"))
        #expect(!names(message).contains("Max-Forwards"))
        var compact = try SIPMessage.parse(
            "OPTIONS sip:x@example.com SIP/2.0\r\nv: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKy\r\nf: <sip:a@example.com>;tag=1\r\n"
                + "t: <sip:x@example.com>\r\ni: c2\r\nCSeq: 1 OPTIONS\r\nk: timer\r\nl: 0\r\n\r\n")
        try HeaderPolicy(denied: ["supported"]).apply(to: &compact)
        #expect(names(compact) == ["v", "f", "t", "i", "CSeq", "l"])
    }

    @Test func allowListModeKeepsOnlyEssentialAndListedHeaders() throws {
        var message = invite(["User-Agent: X", "X-Trace: 1", "X-Tenant: blue", "Supported: 100rel"])
        try HeaderPolicy(mode: .allowList(["x-tenant"])).apply(to: &message)
        #expect(names(message) == [
            "Via", "Max-Forwards", "From", "To", "Call-ID", "CSeq", "Contact", "X-Tenant", "Supported", "Content-Length",
        ])
    }

    @Test func replacementsOverwriteOnlyHeadersThatArePresent() throws {
        var message = invite(["User-Agent: Zoiper rv2.10.20.1"])
        try HeaderPolicy(replacements: ["User-Agent": "Rampart"]).apply(to: &message)
        #expect(message.fields(.userAgent).map(\.value) == ["Rampart"])
        var without = invite([])
        try HeaderPolicy(replacements: ["Server": "Rampart"]).apply(to: &without)
        #expect(without.fields(.server).isEmpty)
        #expect(throws: SIPParseError.self) {
            var injected = invite(["User-Agent: x"])
            try HeaderPolicy(replacements: ["user-agent": "x\r\nVia: SIP/2.0/UDP evil"]).apply(to: &injected)
        }
    }
}

@Suite struct IdentityPolicyTests {
    let fromUser = IdentityPolicy.Hop(sourceIsTrusted: false, authenticatedIdentity: "sip:alice@example.com",
                                      destinationIsTrusted: false)

    @Test func untrustedAssertionsAreReplacedByTheAuthenticatedIdentity() throws {
        var message = invite([
            "P-Asserted-Identity: <sip:ceo@example.com>", "P-Asserted-Identity: <tel:+15551234567>",
            "P-Preferred-Identity: <sip:ceo@example.com>",
        ])
        try IdentityPolicy.apply(to: &message, hop: fromUser)
        #expect(message.fields(.pAssertedIdentity).map(\.value) == ["<sip:alice@example.com>"])
        #expect(message.fields(.pPreferredIdentity).isEmpty)
    }

    @Test func aTrustedPeersAssertionIsKeptAndPreferredIdentityNeverLeaves() throws {
        var message = invite(["P-Asserted-Identity: <tel:+15551234567>", "P-Preferred-Identity: <sip:x@example.com>"])
        try IdentityPolicy.apply(to: &message, hop: .init(sourceIsTrusted: true, authenticatedIdentity: nil,
                                                          destinationIsTrusted: true))
        #expect(message.fields(.pAssertedIdentity).map(\.value) == ["<tel:+15551234567>"])
        #expect(message.fields(.pPreferredIdentity).isEmpty)
    }

    @Test func privacyIdHidesTheAssertionOutsideTheTrustDomainOnly() throws {
        var outside = invite(["Privacy: id"])
        try IdentityPolicy.apply(to: &outside, hop: fromUser)
        #expect(outside.fields(.pAssertedIdentity).isEmpty)
        var inside = invite(["Privacy: id"])
        try IdentityPolicy.apply(to: &inside, hop: .init(sourceIsTrusted: false,
                                                         authenticatedIdentity: "sip:alice@example.com",
                                                         destinationIsTrusted: true))
        #expect(inside.fields(.pAssertedIdentity).map(\.value) == ["<sip:alice@example.com>"])
    }

    @Test func anonymousCallsHideFromAndAssertionButKeepTheTag() throws {
        var user = invite(["Privacy: user; header", "Subject: project x", "Call-Info: <http://example.com/a.png>"])
        try IdentityPolicy.apply(to: &user, hop: fromUser)
        let from = try user.from()
        #expect(from.displayName == "Anonymous")
        #expect(from.uri.description == "sip:anonymous@anonymous.invalid")
        #expect(from.tag == "a1")  // the dialog still needs it
        #expect(user.fields(.pAssertedIdentity).isEmpty)
        #expect(user.fields(.subject).isEmpty && user.fields(.callInfo).isEmpty)
        #expect(try user.validate().isEmpty)

        var anonymousFrom = invite([], from: "<sip:anonymous@anonymous.invalid>;tag=z9")
        try IdentityPolicy.apply(to: &anonymousFrom, hop: fromUser)
        #expect(anonymousFrom.fields(.pAssertedIdentity).isEmpty)
        #expect(try anonymousFrom.from().tag == "z9")
    }
}
