import Foundation
import SIPAuth
import Testing
import TestVectors

/// The RFC worked examples in Tests/Vectors (see its README.md). Missing or altered files fail.
@Suite struct VectorTests {
    /// Every file in Tests/Vectors is listed in its manifest with a source and matches its SHA-256, and every listed
    /// file is there: a vector cannot be added, dropped or edited without the manifest saying so.
    @Test func theManifestCoversEveryVectorFileAndEveryChecksumHolds() throws {
        let manifest = try RFCVectors.manifest()
        #expect(Set(manifest.keys) == (try RFCVectors.files()))
        #expect(manifest.count == 20)
        for (path, entry) in manifest {
            #expect(!entry.source.isEmpty, "\(path) names no source")
            _ = try RFCVectors.data(path)
        }
    }

    struct VectorError: Error, CustomStringConvertible {
        var description: String
    }

    /// `Tests/Vectors/<path>`, checked against the manifest, parsed as a JSON object.
    static func loadJSON(_ path: String) throws -> [String: Any] { try RFCVectors.json(path) }

    static func string(_ example: [String: Any], _ key: String) throws -> String {
        guard let value = example[key] as? String else {
            throw VectorError(description: "vector lacks \(key)")
        }
        return value
    }

    static func algorithm(_ example: [String: Any]) throws -> DigestAlgorithm {
        guard let algorithm = DigestAlgorithm(token: try string(example, "algorithm")) else {
            throw VectorError(description: "unknown algorithm in vector")
        }
        return algorithm
    }

    static func rfc7616Examples() throws -> [[String: Any]] {
        guard let examples = try loadJSON("rfc7616/digest-examples.json")["examples"] as? [[String: Any]] else {
            throw VectorError(description: "rfc7616/digest-examples.json has no examples")
        }
        return examples
    }

    /// Checks one example with the response it should give, end to end: HA1 math,
    /// building credentials, serializing, parsing back and verifying.
    static func check(
        _ example: [String: Any],
        username: String,
        expectedResponse: String,
        userhash: String? = nil
    ) throws {
        let algorithm = try algorithm(example)
        let realm = try string(example, "realm")
        let nonce = try string(example, "nonce")
        let uri = try string(example, "uri")
        let method = try string(example, "method")
        let cnonce = try string(example, "cnonce")
        let nc = try #require(DigestNonceCount(try string(example, "nc")))
        let qop = try #require(DigestQOP(try string(example, "qop")))

        let ha1 = DigestHA1(
            algorithm: algorithm, username: username, realm: realm, password: try string(example, "password"))
        let response = try ha1.response(
            method: method, uri: uri, nonce: nonce, qop: qop, nonceCount: nc, cnonce: cnonce)
        #expect(response == expectedResponse)

        var credentials = DigestCredentials(
            username: username, realm: realm, nonce: nonce, uri: uri, response: response, algorithm: algorithm,
            cnonce: cnonce, opaque: example["opaque"] as? String, qop: qop, nonceCount: nc)
        if let userhash {
            credentials.username = userhash
            credentials.userhash = true
        }
        let parsed = try DigestCredentials(parsing: try credentials.serialized())
        #expect(parsed == credentials)
        #expect(try parsed.verify(expectedHA1: ha1, method: method))

        let wrongPassword = DigestHA1(
            algorithm: algorithm, username: username, realm: realm, password: "Circle of life")
        #expect(try !parsed.verify(expectedHA1: wrongPassword, method: method))
        #expect(try !parsed.verify(expectedHA1: ha1, method: "POST"))
    }

    @Test func rfc7616Section391() throws {
        let examples = try Self.rfc7616Examples().filter { $0["section"] as? String == "3.9.1" }
        #expect(examples.count == 2)
        for example in examples {
            #expect(example["recomputes"] as? Bool == true)
            try Self.check(
                example, username: try Self.string(example, "username"),
                expectedResponse: try Self.string(example, "response"))
        }
    }

    /// RFC 7616 §3.9.2: the published response and userhash do not follow from the
    /// published inputs (vectors README); the recomputed values are the right ones.
    @Test func rfc7616Section392UsesRecomputedValues() throws {
        let example = try #require(try Self.rfc7616Examples().first { $0["section"] as? String == "3.9.2" })
        #expect(example["recomputes"] as? Bool == false)
        let username = try Self.string(example, "username")
        let realm = try Self.string(example, "realm")
        let recomputedUserhash = try Self.string(example, "recomputed_userhash_username")
        let publishedUserhash = try Self.string(example, "published_userhash_username")

        #expect(DigestAlgorithm.sha512_256.userhash(username: username, realm: realm) == recomputedUserhash)
        #expect(DigestAlgorithm.sha512_256.userhash(username: username, realm: realm) != publishedUserhash)

        // With userhash, as in the RFC's example.
        try Self.check(
            example, username: username, expectedResponse: try Self.string(example, "recomputed_response"),
            userhash: recomputedUserhash)
        // With username* instead (RFC 7616 §3.4; the example's RFC 8187 encoding).
        try Self.check(
            example, username: username, expectedResponse: try Self.string(example, "recomputed_response"))

        let ha1 = DigestHA1(
            algorithm: .sha512_256, username: username, realm: realm, password: try Self.string(example, "password"))
        let extended = DigestCredentials(
            username: username, usernameForm: .extended, realm: realm, nonce: try Self.string(example, "nonce"),
            uri: try Self.string(example, "uri"), response: try Self.string(example, "recomputed_response"),
            algorithm: .sha512_256, cnonce: try Self.string(example, "cnonce"), qop: .auth,
            nonceCount: DigestNonceCount(1))
        let header = try extended.serialized()
        #expect(header.contains("username*=\(try Self.string(example, "username_star")),"))
        let parsed = try DigestCredentials(parsing: header)
        #expect(parsed.username == username)
        #expect(parsed.usernameForm == .extended)
        #expect(try parsed.verify(expectedHA1: ha1, method: "GET"))
    }

    /// The §3.9.2 headers as published parse, but their numbers are refused.
    @Test func rfc7616Section392PublishedHeadersAreRefused() throws {
        let example = try #require(try Self.rfc7616Examples().first { $0["section"] as? String == "3.9.2" })
        let challenge = try DigestChallenge(
            parsing: """
                Digest\r
                       realm="api@example.org",\r
                       qop="auth",\r
                       algorithm=SHA-512-256,\r
                       nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK",\r
                       opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS",\r
                       charset=UTF-8,\r
                       userhash=true
                """)
        #expect(challenge.algorithm == .sha512_256)
        #expect(challenge.charsetUTF8)
        #expect(challenge.userhash)
        #expect(challenge.qopOptions == [.auth])
        #expect(
            try challenge.serialized()
                == #"Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", charset=UTF-8, userhash=true"#
        )

        let published = """
            Digest\r
                   username="\(try Self.string(example, "published_userhash_username"))",\r
                   realm="api@example.org",\r
                   uri="/doe.json",\r
                   algorithm=SHA-512-256,\r
                   nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK",\r
                   nc=00000001,\r
                   cnonce="NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v",\r
                   qop=auth,\r
                   response="\(try Self.string(example, "published_response"))",\r
                   opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS",\r
                   userhash=true
            """
        let credentials = try DigestCredentials(parsing: published)
        #expect(credentials.userhash)
        let ha1 = DigestHA1(
            algorithm: .sha512_256, username: try Self.string(example, "username"), realm: "api@example.org",
            password: try Self.string(example, "password"))
        #expect(throws: DigestError(code: .credentialsMismatch, reason: "")) {
            try credentials.verify(expectedHA1: ha1, method: "GET")
        }
        // Even with the right userhash, the published response is not the right one.
        var fixedUser = credentials
        fixedUser.username = try Self.string(example, "recomputed_userhash_username")
        #expect(try !fixedUser.verify(expectedHA1: ha1, method: "GET"))
        fixedUser.response = try Self.string(example, "recomputed_response")
        #expect(try fixedUser.verify(expectedHA1: ha1, method: "GET"))

        // A client answering the published challenge produces the recomputed numbers.
        let answer = try DigestCredentials(
            answering: challenge, ha1: ha1, method: "GET", uri: "/doe.json",
            cnonce: try Self.string(example, "cnonce"))
        #expect(answer.username == (try Self.string(example, "recomputed_userhash_username")))
        #expect(answer.response == (try Self.string(example, "recomputed_response")))
        #expect(answer.userhash)
    }

    @Test func rfc2617Section35() throws {
        guard let example = try Self.loadJSON("rfc2617/digest-example.json")["example"] as? [String: Any] else {
            throw VectorError(description: "rfc2617/digest-example.json has no example")
        }
        var withAlgorithm = example
        withAlgorithm["algorithm"] = "MD5"
        try Self.check(
            withAlgorithm, username: try Self.string(example, "username"),
            expectedResponse: try Self.string(example, "response"))

        // As RFC 2617 §3.5 sends it: no algorithm parameter, which means MD5.
        let header = """
            Digest username="Mufasa",
                             realm="testrealm@host.com",
                             nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                             uri="/dir/index.html",
                             qop=auth,
                             nc=00000001,
                             cnonce="0a4f113b",
                             response="6629fae49393a05397450978507c4ef1",
                             opaque="5ccc069c403ebaf9f0171e9517f40e41"
            """.replacingOccurrences(of: "\n", with: "\r\n")
        let credentials = try DigestCredentials(parsing: header)
        #expect(credentials.algorithm == nil)
        #expect(credentials.effectiveAlgorithm == DigestAlgorithm.Insecure.md5)
        let ha1 = DigestHA1(
            algorithm: DigestAlgorithm.Insecure.md5, username: "Mufasa", realm: "testrealm@host.com",
            password: try Self.string(example, "password"))
        #expect(try credentials.verify(expectedHA1: ha1, method: "GET"))
    }
}
