import Crypto
import Foundation
import SIPMessage
import StirShaken
import SwiftASN1
import TestVectors
import Testing

/// PASSporT syntax: base64url, the deterministic JSON of RFC 8225 §9, the published examples, and hostile tokens.
@Suite struct PASSporTTests {
    @Test func base64urlIsCanonical() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
        #expect(Base64URL.encode(Array("{\"alg\":\"ES256\"}".utf8)) == "eyJhbGciOiJFUzI1NiJ9")
        #expect(Base64URL.decode("eyJhbGciOiJFUzI1NiJ9=") == nil, "padding")
        #expect(Base64URL.decode("eyJh bGci") == nil, "whitespace")
        #expect(Base64URL.decode("ab+/") == nil, "the standard alphabet")
        #expect(Base64URL.decode("QR") == nil, "leftover bits set: a second encoding of 'A'")
        #expect(Base64URL.decode("QQ") == [0x41])
        #expect(Base64URL.decode("Q") == nil)
    }

    /// RFC 8588 §6 as corrected by errata 6656, and RFC 8225's header: our serialisation is byte for byte theirs.
    @Test func theDeterministicFormMatchesThePublishedOnes() throws {
        let shaken = try RFCVectors.json("rfc8588/shaken-passport-example.json")["corrected_per_errata_6656"] as! [String: Any]
        let header = PASSporT.Header(x5u: "https://cert.example.org/passport.cer")
        let claims = PASSporT.Claims(orig: .tn("12155550121"), destTNs: ["12155550131"], iat: 1443208345, attest: .full,
                                     origid: "123e4567-e89b-12d3-a456-426655440000")
        let key = P256.Signing.PrivateKey()
        let token = try PASSporT.sign(header: header, claims: claims, with: key)
        let segments = token.split(separator: ".").map(String.init)
        #expect(String(decoding: Base64URL.decode(segments[0])!, as: UTF8.self) == shaken["protected_header_canonical"] as? String)
        #expect(String(decoding: Base64URL.decode(segments[1])!, as: UTF8.self) == shaken["payload_canonical"] as? String)

        let passport = try RFCVectors.json("rfc8225/passport-examples.json")
        #expect(Base64URL.encode(Array((passport["protected_header_canonical"] as! String).utf8))
                == passport["protected_header_b64url"] as? String)
        let parsed = try PASSporT(token: token)
        #expect(parsed.claims == claims && parsed.header == header && parsed.isSigned(by: key.publicKey))
        #expect(!parsed.isSigned(by: P256.Signing.PrivateKey().publicKey))
    }

    /// The draft-era token (RFC 8224 §4.1's Identity example): its signature verifies under the published key, but
    /// its `iat` is a string, which RFC 8225 §5.1.1 forbids: malformed, not passed.
    @Test func theDraftEraExampleHasAGoodSignatureAndABadClaim() throws {
        let examples = try RFCVectors.json("rfc8225/passport-examples.json")["examples"] as! [[String: Any]]
        let draft = try #require(examples.first { $0["signature_verifies"] as? Bool == true })
        let token = draft["compact_jws"] as! String
        let key = try P256.Signing.PublicKey(pemRepresentation: draft["public_key"] as! String)
        let segments = token.split(separator: ".")
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: Base64URL.decode(segments[2])!)
        #expect(key.isValidSignature(signature, for: Array(token.utf8.prefix(segments[0].count + 1 + segments[1].count))))
        #expect(throws: PASSporT.ParseError.malformed("iat is not an integer")) { try PASSporT(token: token) }

        // RFC 8225 Appendix A's published signature does not verify (see the vectors' README): nor does ours say so.
        let final = try #require(examples.first { $0["signature_verifies"] as? Bool == false })
        let input = final["signing_input"] as! String
        let published = try P256.Signing.ECDSASignature(
            rawRepresentation: Base64URL.decode(final["published_signature_b64url"] as! String)!)
        let publishedKey = try P256.Signing.PublicKey(pemRepresentation: final["public_key_as_reproduced"] as! String)
        #expect(!publishedKey.isValidSignature(published, for: Array(input.utf8)))
    }

    /// The signer's fast path writes SHAKEN claims itself: byte for byte what the general deterministic form gives,
    /// escapes included.
    @Test func theSignersClaimsAreTheDeterministicForm() throws {
        let key = P256.Signing.PrivateKey()
        let signer = StirSigner(key: key, certificateURL: "https://certs.example.net/sp.crt?a=\"b\"")
        for (orig, dest, origid) in [("12155550121", ["12155550131"], "123e4567-e89b-12d3-a456-426655440000"),
                                     ("1", ["2", "3"], "quote\" back\\ slash/ \u{01}é")] {
            let value = try signer.identity(orig: orig, dest: dest, attest: .partial, origid: origid, iat: 1_800_000_000)
            let passport = try PASSporT(token: String(value.prefix { $0 != ";" }))
            let segments = value.prefix { $0 != ";" }.split(separator: ".")
            let claims = try JSONValue(parsing: try #require(Base64URL.decode(segments[1])))
            #expect(Base64URL.decode(segments[1]) == claims.canonical, "\(origid)")
            let header = try JSONValue(parsing: try #require(Base64URL.decode(segments[0])))
            #expect(Base64URL.decode(segments[0]) == header.canonical)
            #expect(passport.claims.origid == origid && passport.isSigned(by: key.publicKey))
        }
    }

    @Test func hostileJSONGetsAnErrorNotACrash() {
        let refused: [String] = [
            "{\"a\":1,\"a\":2}",  // a duplicate claim
            String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000),  // deep nesting
            "{\"a\":\"\\ud800\"}",  // a lone surrogate
            "{\"a\":01}", "{\"a\":1.}", "{\"a\":-}", "{\"a\":tru}", "{\"a\":\"\u{01}\"}", "{\"a\":1} x", "",
            "{" + (0..<100).map { "\"k\($0)\":0" }.joined(separator: ",") + "}",  // too many members
            "[" + String(repeating: "1,", count: 20_000) + "1]",  // too long
        ]
        for text in refused {
            #expect(throws: JSONValue.ParseError.self, "\(text.prefix(40))") { try JSONValue(parsing: Array(text.utf8)) }
        }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: [0x22, 0xFF, 0x22]) }  // invalid UTF-8
        let parsed = try? JSONValue(parsing: Array("{ \"b\" : [1, \"\\u00e9\\ud83d\\ude00\\/\"], \"a\" : null }".utf8))
        #expect(parsed.map { String(decoding: $0.canonical, as: UTF8.self) } == "{\"a\":null,\"b\":[1,\"é😀/\"]}")
    }

    @Test func hostileTokensAreRefusedWithTheirReason() throws {
        let key = P256.Signing.PrivateKey()
        func token(header: String, claims: String) throws -> String {
            let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(claims.utf8))
            return input + "." + Base64URL.encode(try key.signature(for: Array(input.utf8)).rawRepresentation)
        }
        let claims = "{\"attest\":\"A\",\"dest\":{\"tn\":[\"2\"]},\"iat\":1,\"orig\":{\"tn\":\"1\"},\"origid\":\"x\"}"
        #expect(throws: PASSporT.ParseError.unsupportedAlgorithm("none")) {
            try PASSporT(token: try token(header: "{\"alg\":\"none\",\"x5u\":\"https://a/\"}", claims: claims))
        }
        #expect(throws: PASSporT.ParseError.unsupportedAlgorithm("HS256")) {
            try PASSporT(token: try token(header: "{\"alg\":\"HS256\",\"x5u\":\"https://a/\"}", claims: claims))
        }
        let header = "{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"passport\",\"x5u\":\"https://a/\"}"
        for bad in [
            "{\"attest\":\"D\",\"dest\":{\"tn\":[\"2\"]},\"iat\":1,\"orig\":{\"tn\":\"1\"}}",
            "{\"dest\":{\"tn\":[\"2\"]},\"iat\":1,\"orig\":{\"tn\":\"1\"},\"orig\":{\"tn\":\"3\"}}",
            "{\"dest\":{},\"iat\":1,\"orig\":{\"tn\":\"1\"}}",
            "{\"dest\":{\"tn\":\"2\"},\"iat\":1,\"orig\":{\"tn\":\"1\"}}",
            "{\"dest\":{\"tn\":[\"2\"]},\"iat\":1e3,\"orig\":{\"tn\":\"1\"}}",
            "{\"dest\":{\"tn\":[\"2\"]},\"iat\":-9223372036854775808,\"orig\":{\"tn\":\"1\"}}",  // overflow bait
            "{\"dest\":{\"tn\":[\"2\"]},\"iat\":9223372036854775807,\"orig\":{\"tn\":\"1\"}}",
            "{\"dest\":{\"tn\":[\"2\"]},\"iat\":1,\"orig\":{\"tn\":\"1\",\"uri\":\"sip:a@b\"}}",
            "[]",
        ] {
            #expect(throws: PASSporT.ParseError.self, "\(bad)") { try PASSporT(token: try token(header: header, claims: bad)) }
        }
        for bad in ["a.b", "a.b.c.d", "!!.!!.!!", String(repeating: "A", count: 20_000) + ".a.a",
                    Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(claims.utf8)) + ".AAAA"] {
            #expect(throws: PASSporT.ParseError.self) { try PASSporT(token: bad) }
        }
        #expect(throws: PASSporT.ParseError.compactForm) { try PASSporT(token: "..c2ln") }
    }

    @Test func telephoneNumbersAreNormalisedAsATISSays() throws {
        #expect(TelephoneNumber.normalize("+1 (215) 555-0121") == "12155550121")
        #expect(TelephoneNumber.normalize("1.215.555.0121") == "12155550121")
        #expect(TelephoneNumber.normalize("alice") == nil)
        #expect(TelephoneNumber.normalize("1+2") == nil)
        #expect(TelephoneNumber.normalize("1234567890123456") == nil, "longer than E.164 allows")
        #expect(TelephoneNumber.fromURI("tel:+1-215-555-0121;phone-context=example.com") == "12155550121")
        #expect(TelephoneNumber.fromURI("<sip:+12155550121@carrier.example;user=phone>") == "12155550121")
        #expect(TelephoneNumber.fromURI("sips:%2B12155550121@carrier.example") == "12155550121")
        #expect(TelephoneNumber.fromURI("sip:12155550121;isub=1@carrier.example") == "12155550121")
        #expect(TelephoneNumber.fromURI("sip:alice@example.com") == nil)
        #expect(TelephoneNumber.fromURI("sip:1%00@example.com") == nil)
        #expect(TelephoneNumber.fromURI("mailto:1@example.com") == nil)
        // The parsed URIs of a request say what their text says.
        for text in ["tel:+1-215-555-0121;phone-context=example.com", "sip:+12155550121@carrier.example;user=phone",
                     "sips:%2B12155550121@carrier.example", "sip:12155550121;isub=1@carrier.example",
                     "sip:alice@example.com", "sip:12155550121:secret@carrier.example", "mailto:1@example.com"] {
            let parsed = try #require(try? SIPAnyURI(text), "\(text)")
            #expect(TelephoneNumber.fromURI(parsed) == TelephoneNumber.fromURI(text), "\(text)")
        }
    }

    @Test func tnAuthListIsEncodedAsRFC8226AndATISCertificatesCarryIt() throws {
        var serializer = DER.Serializer()
        try serializer.serialize(TNAuthList([.spc("0779")]))
        #expect(serializer.serializedBytes == [0x30, 0x08, 0xA0, 0x06, 0x16, 0x04, 0x30, 0x37, 0x37, 0x39])
        let list = TNAuthList([.spc("1234"), .range(start: "12155550100", count: 100), .one("442079460000")])
        var again = DER.Serializer()
        try again.serialize(list)
        #expect(try TNAuthList(derEncoded: again.serializedBytes) == list)
        #expect(list.covers(number: "12155550199") && !list.covers(number: "12155550200"))
        #expect(list.covers(number: "442079460000") && !list.covers(number: "2155550150"))
        #expect(throws: (any Error).self) { try TNAuthList(derEncoded: [0x30, 0x00]) }
        #expect(throws: (any Error).self) { try TNAuthList(derEncoded: [0x30, 0x05, 0xA2, 0x03, 0x16, 0x01, 0x41]) }
    }

    @Test func replaysWithinTheWindowAreFlaggedAndTheTableStaysBounded() throws {
        var guardTable = ReplayGuard(capacity: 100)
        let key = P256.Signing.PrivateKey()
        func passport(_ origid: String, iat: Int64) throws -> PASSporT {
            try PASSporT(token: PASSporT.sign(header: .init(x5u: "https://a/"),
                                              claims: .init(orig: .tn("1"), destTNs: ["2"], iat: iat, attest: .full, origid: origid),
                                              with: key))
        }
        let first = try passport("a", iat: 1_000)
        let resigned = try passport("a", iat: 1_000)  // the same claims under another signature
        #expect(resigned.signature != first.signature)
        let other = try passport("b", iat: 1_000)
        let future = try passport("c", iat: 1_060)  // fresh until 1,120
        let seen = [guardTable.isReplay(first, now: 1_000, window: 60), guardTable.isReplay(resigned, now: 1_030, window: 60),
                    guardTable.isReplay(other, now: 1_030, window: 60), guardTable.isReplay(first, now: 1_100, window: 60),
                    guardTable.isReplay(future, now: 1_000, window: 60), guardTable.isReplay(future, now: 1_110, window: 60)]
        #expect(seen == [false, true, false, false, false, true],
                "a replay while the claims are fresh, whatever the signature's form; only of the same claims")
        for index in 0..<1_000 { _ = guardTable.isReplay(try passport("f\(index)", iat: 2_000), now: 2_000, window: 60) }
        #expect(guardTable.count <= 100)
    }
}
