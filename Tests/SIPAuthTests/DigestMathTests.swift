import Testing

@testable import SIPAuth

/// Algorithms, the RFC 7616 §3.4.1-3.4.3 math, verification and secret hygiene.
@Suite struct DigestMathTests {
    static let mufasa = (
        username: "Mufasa", realm: "http-auth@example.org", password: "Circle of Life",
        nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
    )

    // MARK: DigestAlgorithm

    @Test func algorithmTokens() {
        #expect(
            DigestAlgorithm.allCases.map(\.token) == [
                "SHA-512-256", "SHA-512-256-sess", "SHA-256", "SHA-256-sess", "MD5", "MD5-sess",
            ])
        for algorithm in DigestAlgorithm.allCases {
            #expect(DigestAlgorithm(token: algorithm.token) == algorithm)
            #expect(DigestAlgorithm(token: algorithm.token.uppercased()) == algorithm)
            #expect(DigestAlgorithm(token: algorithm.token.lowercased()) == algorithm)
            #expect(algorithm.withoutSession.isSession == false)
        }
        #expect(DigestAlgorithm(token: "md5-SESS") == DigestAlgorithm.Insecure.md5Sess)
        #expect(DigestAlgorithm(token: "SHA-512") == nil)
        #expect(DigestAlgorithm(token: "SHA-512/256") == nil)
        #expect(DigestAlgorithm(token: "AKAv1-MD5") == nil)
        #expect(DigestAlgorithm(token: "ＭＤ5") == nil)
        #expect(DigestAlgorithm(token: "") == nil)
    }

    @Test func algorithmProperties() {
        #expect(DigestAlgorithm.Insecure.md5.hexLength == 32)
        #expect(DigestAlgorithm.Insecure.md5Sess.hexLength == 32)
        #expect(DigestAlgorithm.sha256.hexLength == 64)
        #expect(DigestAlgorithm.sha512_256Sess.hexLength == 64)
        #expect(DigestAlgorithm.Insecure.md5.isInsecure)
        #expect(DigestAlgorithm.Insecure.md5Sess.isInsecure)
        #expect(!DigestAlgorithm.sha256.isInsecure)
        #expect(!DigestAlgorithm.sha512_256.isInsecure)
        #expect(DigestAlgorithm.sha256Sess.isSession)
        #expect(!DigestAlgorithm.sha256.isSession)
        #expect(DigestAlgorithm.sha256Sess.withoutSession == .sha256)
        #expect("\(DigestAlgorithm.sha512_256Sess)" == "SHA-512-256-sess")
    }

    // MARK: Math

    @Test func ha1() throws {
        let ha1 = DigestHA1(
            algorithm: DigestAlgorithm.Insecure.md5, username: Self.mufasa.username, realm: Self.mufasa.realm,
            password: Self.mufasa.password)
        #expect(ha1.hexValue == "3d78807defe7de2157e2b0b6573a855f")
        // Loading it back from storage, in either case, gives the same HA1.
        let stored = try DigestHA1(
            algorithm: DigestAlgorithm.Insecure.md5, username: "Mufasa", realm: "http-auth@example.org",
            hexValue: "3D78807DEFE7DE2157E2B0B6573A855F")
        #expect(stored == ha1)
        #expect(throws: DigestError(code: .invalidParameterValue, reason: "")) {
            try DigestHA1(algorithm: .sha256, username: "u", realm: "r", hexValue: "3d78807defe7de2157e2b0b6573a855f")
        }
        #expect(throws: DigestError(code: .invalidParameterValue, reason: "")) {
            try DigestHA1(
                algorithm: DigestAlgorithm.Insecure.md5, username: "u", realm: "r",
                hexValue: "3d78807defe7de2157e2b0b6573a855g")
        }
        #expect(
            ha1
                != DigestHA1(
                    algorithm: DigestAlgorithm.Insecure.md5, username: "Mufasa", realm: "http-auth@example.org",
                    password: "x"))
        #expect(
            ha1
                != DigestHA1(
                    algorithm: DigestAlgorithm.Insecure.md5Sess, username: "Mufasa", realm: "http-auth@example.org",
                    password: Self.mufasa.password))
    }

    /// Every algorithm, with qop=auth and auth-int, on the RFC 7616 §3.9.1 inputs; the
    /// values were recomputed with Python's hashlib (the non-sess MD5/SHA-256 auth ones are
    /// the RFC's, and SHA-512-256 auth / MD5, SHA-256 auth-int match sipp's unit tests).
    @Test(arguments: [
        ("MD5", "auth", "8ca523f5e9506fed4657c9700eebdbec"),
        ("MD5", "auth-int", "3dbb0971468cf612bdccd7dff696c5e6"),
        ("SHA-256", "auth", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
        ("SHA-256", "auth-int", "21468b02aafd4fe0a3d84bfddaf3618cc087adff4bb3c92d0a5f99c3035fcb9a"),
        ("SHA-512-256", "auth", "430d05014cecc49cab6fbe03176d41a1da86cbfe24a16580e22aaad928d960d0"),
        ("SHA-512-256", "auth-int", "959ca26f4f77c10a9a54b19ac24811fbc7f3c7bda8eec5d8521fb4586ed10e90"),
        ("MD5-sess", "auth", "e783283f46242139c486a698fec7211d"),
        ("MD5-sess", "auth-int", "11713a2ffc80446ab4c404a4a997b69c"),
        ("SHA-256-sess", "auth", "2fd51b3a77ad75bad6afad6003e818d767133c46d9e2749e7f5232ae1ea3efd7"),
        ("SHA-256-sess", "auth-int", "2c66c095845ec6e7e158c4f689683959329e5296947f1c4930d0ffa7b93c09fd"),
        ("SHA-512-256-sess", "auth", "3f2a34f923c38b0fb26dce2fdfc2ce326c23cecf86fbb1444f3e51fbbc2cb92e"),
        ("SHA-512-256-sess", "auth-int", "39fcf9431af157aced94549f5fff6fea4d427a3e231c8a5557ccc7976e056b09"),
    ])
    func responses(algorithmToken: String, qopToken: String, expected: String) throws {
        let algorithm = try #require(DigestAlgorithm(token: algorithmToken))
        let qop = try #require(DigestQOP(qopToken))
        let isInt = qop == .authInt
        let method = isInt ? "INVITE" : "GET"
        let uri = isInt ? "sip:bob@example.org" : "/dir/index.html"
        let nc = DigestNonceCount(isInt ? 2 : 1)
        let body = isInt ? Array("v=0\r\n".utf8) : []
        let ha1 = DigestHA1(
            algorithm: algorithm, username: Self.mufasa.username, realm: Self.mufasa.realm,
            password: Self.mufasa.password)
        let response = try ha1.response(
            method: method, uri: uri, nonce: Self.mufasa.nonce, qop: qop, nonceCount: nc, cnonce: Self.mufasa.cnonce,
            body: body)
        #expect(response == expected)
        #expect(response.utf8.count == algorithm.hexLength)

        let credentials = DigestCredentials(
            username: Self.mufasa.username, realm: Self.mufasa.realm, nonce: Self.mufasa.nonce, uri: uri,
            response: response, algorithm: algorithm, cnonce: Self.mufasa.cnonce, qop: qop, nonceCount: nc)
        let parsed = try DigestCredentials(parsing: try credentials.serialized())
        #expect(try parsed.verify(expectedHA1: ha1, method: method, body: body))
        if isInt {
            #expect(try !parsed.verify(expectedHA1: ha1, method: method, body: Array("v=1\r\n".utf8)))
        }
        var otherCnonce = parsed
        otherCnonce.cnonce = "other"
        #expect(try !otherCnonce.verify(expectedHA1: ha1, method: method, body: body))
        var otherCount = parsed
        otherCount.nonceCount = DigestNonceCount(3)
        #expect(try !otherCount.verify(expectedHA1: ha1, method: method, body: body))
    }

    @Test func rfc2069FormWithoutQOP() throws {
        // sipp's unit-test answer: H(HA1 ":" nonce ":" HA2).
        let ha1 = DigestHA1(
            algorithm: DigestAlgorithm.Insecure.md5, username: "testuser", realm: "testrealm@host.com",
            password: "secret")
        let response = try ha1.response(
            method: "REGISTER", uri: "sip:sip:example.com", nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", qop: nil,
            nonceCount: nil, cnonce: nil)
        #expect(response == "db94e01e92f2b09a52a234eeca8b90f7")
        // -sess cannot do without a cnonce; a qop cannot do without nc and cnonce.
        let sess = DigestHA1(algorithm: .sha256Sess, username: "u", realm: "r", password: "p")
        #expect(throws: DigestError(code: .missingParameter, reason: "")) {
            try sess.response(method: "REGISTER", uri: "sip:r", nonce: "n", qop: nil, nonceCount: nil, cnonce: nil)
        }
        #expect(throws: DigestError(code: .missingParameter, reason: "")) {
            try ha1.response(method: "REGISTER", uri: "sip:r", nonce: "n", qop: .auth, nonceCount: nil, cnonce: "c")
        }
        #expect(throws: DigestError(code: .unsupportedQOP, reason: "")) {
            try ha1.response(
                method: "REGISTER", uri: "sip:r", nonce: "n", qop: DigestQOP("auth-conf"),
                nonceCount: DigestNonceCount(1),
                cnonce: "c")
        }
    }

    @Test func upperCaseNonceCountAndResponse() throws {
        // The response hashes nc as written, so "0000000A" is kept verbatim (hashlib value).
        let ha1 = DigestHA1(
            algorithm: DigestAlgorithm.Insecure.md5, username: "alice", realm: "example.com", password: "wonderland")
        let header =
            #"Digest username="alice", realm="example.com", nonce="abc", uri="sip:example.com", qop=auth, nc=0000000A, cnonce="xyz", response="AFA120E2FD9974B3AD3DF58AB2BCCE00""#
        let credentials = try DigestCredentials(parsing: header)
        #expect(credentials.nonceCount?.value == 10)
        #expect(try credentials.verify(expectedHA1: ha1, method: "REGISTER"))
        #expect(try credentials.serialized().contains("nc=0000000A,"))
    }

    @Test func userhash() {
        #expect(
            DigestAlgorithm.sha512_256.userhash(username: "Jäsøn Doe", realm: "api@example.org")
                == "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b")
        #expect(
            DigestAlgorithm.Insecure.md5.userhash(username: "Mufasa", realm: "http-auth@example.org")
                == DigestAlgorithm.Insecure.md5.hexDigest(Array("Mufasa:http-auth@example.org".utf8)))
    }

    // MARK: Verification refusals

    @Test func verifyRefusesMismatches() throws {
        let sha = DigestHA1(algorithm: .sha256, username: "alice", realm: "example.com", password: "pw")
        let md5 = DigestHA1(
            algorithm: DigestAlgorithm.Insecure.md5, username: "alice", realm: "example.com", password: "pw")
        let challenge = DigestChallenge(realm: "example.com", nonce: "n", algorithm: nil)
        let credentials = try DigestCredentials(
            answering: challenge, ha1: md5, method: "REGISTER", uri: "sip:example.com", cnonce: "c")
        #expect(credentials.algorithm == nil)  // absent: MD5
        #expect(try credentials.verify(expectedHA1: md5, method: "REGISTER"))

        // An HA1 for another algorithm, even one sharing the hash function, is refused.
        #expect(throws: DigestError(code: .algorithmMismatch, reason: "")) {
            try credentials.verify(expectedHA1: sha, method: "REGISTER")
        }
        let md5Sess = DigestHA1(
            algorithm: DigestAlgorithm.Insecure.md5Sess, username: "alice", realm: "example.com", password: "pw")
        #expect(throws: DigestError(code: .algorithmMismatch, reason: "")) {
            try credentials.verify(expectedHA1: md5Sess, method: "REGISTER")
        }
        var downgraded = credentials
        downgraded.algorithm = .sha256
        #expect(throws: DigestError(code: .algorithmMismatch, reason: "")) {
            try downgraded.verify(expectedHA1: md5, method: "REGISTER")
        }
        // Another realm or user.
        let otherRealm = DigestHA1(
            algorithm: DigestAlgorithm.Insecure.md5, username: "alice", realm: "evil.com", password: "pw")
        #expect(throws: DigestError(code: .credentialsMismatch, reason: "")) {
            try credentials.verify(expectedHA1: otherRealm, method: "REGISTER")
        }
        let otherUser = DigestHA1(
            algorithm: DigestAlgorithm.Insecure.md5, username: "bob", realm: "example.com", password: "pw")
        #expect(throws: DigestError(code: .credentialsMismatch, reason: "")) {
            try credentials.verify(expectedHA1: otherUser, method: "REGISTER")
        }
        // A tampered response of the right length is simply wrong.
        var tampered = credentials
        tampered.response = String(repeating: "0", count: 32)
        #expect(try !tampered.verify(expectedHA1: md5, method: "REGISTER"))
        tampered.response = ""
        #expect(try !tampered.verify(expectedHA1: md5, method: "REGISTER"))
    }

    @Test func verifyWithUserhash() throws {
        let ha1 = DigestHA1(algorithm: .sha256, username: "alice", realm: "example.com", password: "pw")
        let challenge = DigestChallenge(realm: "example.com", nonce: "n", algorithm: .sha256, userhash: true)
        let credentials = try DigestCredentials(
            answering: challenge, ha1: ha1, method: "REGISTER", uri: "sip:example.com", cnonce: "c")
        #expect(credentials.userhash)
        #expect(credentials.username == DigestAlgorithm.sha256.userhash(username: "alice", realm: "example.com"))
        let parsed = try DigestCredentials(parsing: try credentials.serialized())
        #expect(try parsed.verify(expectedHA1: ha1, method: "REGISTER"))
        let bob = DigestHA1(algorithm: .sha256, username: "bob", realm: "example.com", password: "pw")
        #expect(throws: DigestError(code: .credentialsMismatch, reason: "")) {
            try parsed.verify(expectedHA1: bob, method: "REGISTER")
        }
    }

    // MARK: Constant-time compare

    @Test func constantTimeCompare() {
        let a = Array("0123456789abcdef".utf8)
        #expect(constantTimeEquals(a, a))
        #expect(constantTimeEquals([UInt8](), [UInt8]()))
        #expect(!constantTimeEquals(a, Array("1123456789abcdef".utf8)))  // first byte
        #expect(!constantTimeEquals(a, Array("0123456789abcdeF".utf8)))  // last byte
        #expect(!constantTimeEquals(a, Array("0123456789abcde".utf8)))  // shorter prefix
        #expect(!constantTimeEquals(a, Array("0123456789abcdef0".utf8)))  // longer
        #expect(!constantTimeEquals(a, [UInt8]()))
        #expect(constantTimeEquals("abc".utf8, Array("abc".utf8)))
        for index in a.indices {
            for bit in 0..<8 {
                var flipped = a
                flipped[index] ^= 1 << bit
                #expect(!constantTimeEquals(a, flipped))
            }
        }
    }

    // MARK: Secrets stay out of logs

    @Test func ha1IsRedacted() {
        let ha1 = DigestHA1(algorithm: .sha256, username: "alice", realm: "example.com", password: "hunter2")
        let secret = ha1.hexValue
        #expect(secret.utf8.count == 64)
        var dumped = ""
        dump(ha1, to: &dumped)
        let renderings = [
            "\(ha1)", String(describing: ha1), String(reflecting: ha1), dumped, "\([ha1])", "\(Optional(ha1) as Any)",
        ]
        for rendering in renderings {
            #expect(!rendering.contains(secret))
            #expect(!rendering.contains(String(secret.prefix(8))))
            #expect(!rendering.contains("hunter2"))
            #expect(rendering.contains("redacted"))
        }
        #expect("\(ha1)".contains("alice"))
    }

    @Test func credentialsDescriptionRedactsResponse() throws {
        let credentials = try DigestCredentials(
            parsing:
                #"Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="8ca523f5e9506fed4657c9700eebdbec""#
        )
        let text = "\(credentials)"
        #expect(!text.contains("8ca523f5"))
        #expect(!text.contains("7ypf/xlj"))
        #expect(text.contains("Mufasa"))
    }

    @Test func errorReasonsCarryNoValues() {
        let secretNonce = "SECRETNONCE"
        let secretResponse = "0123456789abcdef0123456789abcde"  // 31 digits: wrong length
        let headers = [
            #"Digest username="u", realm="r", nonce="\#(secretNonce)", uri="sip:r", response="\#(secretResponse)""#,
            #"Digest realm="r", nonce="\#(secretNonce)", nonce="\#(secretNonce)""#,
            #"Digest username="u", realm="r", nonce="\#(secretNonce)", uri="sip:r", response="\#(secretResponse)0", nc=\#(secretNonce), qop=auth, cnonce="c""#,
            "Digest realm=\"\(secretNonce)\u{0}\", nonce=\"n\"",
            #"Digest realm="r", nonce="\#(secretNonce)"#,
        ]
        for header in headers {
            var caught: DigestError?
            do {
                _ = try DigestCredentials(parsing: header)
            } catch {
                caught = error
            }
            guard let error = caught else {
                Issue.record("expected a parse error")
                continue
            }
            #expect(!error.reason.contains(secretNonce) && !error.reason.contains(secretResponse))
            #expect(!"\(error)".contains(secretNonce))
        }
        let ha1 = DigestHA1(algorithm: .sha256, username: "u", realm: "r", password: "p")
        let md5Credentials = DigestCredentials(
            username: "u", realm: "r", nonce: secretNonce, uri: "sip:r", response: secretResponse, algorithm: nil)
        do {
            _ = try md5Credentials.verify(expectedHA1: ha1, method: "REGISTER")
            Issue.record("expected an algorithm mismatch")
        } catch {
            #expect(error.code == .algorithmMismatch)
            #expect(!error.reason.contains(secretNonce) && !error.reason.contains(ha1.hexValue))
        }
    }

    @Test func errorEqualityComparesCodes() {
        let a = DigestError(code: .malformedHeader, reason: "one")
        let b = DigestError(code: .malformedHeader, reason: "two")
        #expect(a == b)
        #expect(a != DigestError(code: .limitExceeded, reason: "one"))
        #expect(Set([a, b]).count == 1)
        #expect(a.file.hasSuffix("DigestMathTests.swift"))
        #expect("\(DigestError.Code.unsupportedScheme)" == "unsupportedScheme")
    }
}
