import SIPAuth
import Testing

/// Parsing and serializing challenges and credentials (RFC 7616 §3.3, §3.4; RFC 3261 §25.1).
@Suite struct HeaderTests {
    static let md5 = DigestAlgorithm.Insecure.md5

    // MARK: RFC 7616 §3.9.1 headers

    @Test(arguments: [("SHA-256", DigestAlgorithm.sha256), ("MD5", DigestAlgorithm.Insecure.md5)])
    func rfc7616Section391Challenges(token: String, algorithm: DigestAlgorithm) throws {
        let folded = """
            Digest\r
                   realm="http-auth@example.org",\r
                   qop="auth, auth-int",\r
                   algorithm=\(token),\r
                   nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",\r
                   opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
            """
        let challenge = try DigestChallenge(parsing: folded)
        #expect(challenge.realm == "http-auth@example.org")
        #expect(challenge.qopOptions == [.auth, .authInt])
        #expect(challenge.algorithm == algorithm)
        #expect(challenge.nonce == "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v")
        #expect(challenge.opaque == "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
        #expect(!challenge.stale)
        #expect(challenge.extensionParameters.isEmpty)

        let serialized = try challenge.serialized()
        #expect(
            serialized
                == "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=\(token), nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
        )
        #expect(try DigestChallenge(parsing: serialized) == challenge)
    }

    @Test func rfc7616Section391Authorization() throws {
        let folded = """
            Digest username="Mufasa",\r
                   realm="http-auth@example.org",\r
                   uri="/dir/index.html",\r
                   algorithm=MD5,\r
                   nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",\r
                   nc=00000001,\r
                   cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",\r
                   qop=auth,\r
                   response="8ca523f5e9506fed4657c9700eebdbec",\r
                   opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
            """
        let credentials = try DigestCredentials(parsing: folded)
        #expect(credentials.username == "Mufasa")
        #expect(credentials.usernameForm == .quoted)
        #expect(credentials.nonceCount?.value == 1)
        #expect(credentials.qop == .auth)
        let unfolded =
            #"Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="8ca523f5e9506fed4657c9700eebdbec", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#
        #expect(try credentials.serialized() == unfolded)
        #expect(try DigestCredentials(parsing: unfolded) == credentials)

        let ha1 = DigestHA1(
            algorithm: Self.md5, username: "Mufasa", realm: "http-auth@example.org", password: "Circle of Life")
        #expect(try credentials.verify(expectedHA1: ha1, method: "GET"))
    }

    // MARK: Real-world SIP headers

    /// sipp 3.6 writes no spaces after commas, `nc` and `qop` unquoted, `algorithm` last
    /// (its auth.cpp createAuthHeaderDigest).
    @Test func sippMD5WithQOP() throws {
        let header =
            #"Digest username="sipp",realm="asterisk",cnonce="6b8b4567327b23c6",nc=00000001,qop=auth,uri="sip:127.0.0.1:5060",nonce="4f1a8c2b7e3d9a06",response="ff288db05227c1c67fab44aafbf93d17",algorithm=MD5"#
        let credentials = try DigestCredentials(parsing: header)
        #expect(credentials.uri == "sip:127.0.0.1:5060")
        #expect(credentials.cnonce == "6b8b4567327b23c6")
        let ha1 = DigestHA1(algorithm: Self.md5, username: "sipp", realm: "asterisk", password: "sipp")
        #expect(try credentials.verify(expectedHA1: ha1, method: "REGISTER"))
        #expect(try !credentials.verify(expectedHA1: ha1, method: "INVITE"))
        #expect(try DigestCredentials(parsing: try credentials.serialized()) == credentials)
    }

    /// sipp's own unit-test answer to a challenge without qop (RFC 2069 form), MD5 and SHA-256.
    @Test(arguments: [
        (
            #"Digest username="testuser",realm="testrealm@host.com",uri="sip:sip:example.com",nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",response="db94e01e92f2b09a52a234eeca8b90f7",algorithm=MD5,opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
            DigestAlgorithm.Insecure.md5
        ),
        (
            #"Digest username="testuser",realm="testrealm@host.com",uri="sip:sip:example.com",nonce="ZaGxV2WhsCtREI2EsiD1LR0RYd",response="91b58523b983191b52d14455a2599631990110c974ed2e4b4b49bc6053af04ce",algorithm=SHA-256"#,
            DigestAlgorithm.sha256
        ),
    ])
    func sippWithoutQOP(header: String, algorithm: DigestAlgorithm) throws {
        let credentials = try DigestCredentials(parsing: header)
        #expect(credentials.qop == nil)
        #expect(credentials.cnonce == nil)
        #expect(credentials.nonceCount == nil)
        let ha1 = DigestHA1(algorithm: algorithm, username: "testuser", realm: "testrealm@host.com", password: "secret")
        #expect(try credentials.verify(expectedHA1: ha1, method: "REGISTER"))
        #expect(try DigestCredentials(parsing: try credentials.serialized()) == credentials)
    }

    /// baresip (libre sip/auth.c) writes `, ` separators, `opaque` before `cnonce`,
    /// `qop=auth, nc=...` and `algorithm` last.
    @Test func baresipMD5() throws {
        let header =
            #"Digest username="alice", realm="example.com", nonce="b5a7f3c1e9d2046a8c3f1e7d9b2a4c6e", uri="sip:example.com", response="3913da36d84e6b78d1a37e4c5d1468d4", opaque="d1e2f3", cnonce="0123456789abcdef", qop=auth, nc=00000001, algorithm=MD5"#
        let credentials = try DigestCredentials(parsing: header)
        #expect(credentials.opaque == "d1e2f3")
        let ha1 = DigestHA1(algorithm: Self.md5, username: "alice", realm: "example.com", password: "wonderland")
        #expect(try credentials.verify(expectedHA1: ha1, method: "REGISTER"))
        #expect(try DigestCredentials(parsing: try credentials.serialized()) == credentials)
    }

    /// Kamailio-style and baresip-style challenges (libre sip_uas_auth_print).
    @Test func realWorldChallenges() throws {
        let kamailio = try DigestChallenge(
            parsing:
                #"Digest realm="ims.mnc011.mcc432.3gppnetwork.org", nonce="9141ed3a3de48a878ba1467f9cfa0a88", algorithm=MD5, qop="auth""#
        )
        #expect(kamailio.algorithm == Self.md5)
        #expect(kamailio.qopOptions == [.auth])

        let baresip = try DigestChallenge(
            parsing: #"Digest realm="example.com", nonce="0123abcd", algorithm=MD5, qop="auth", stale=true"#)
        #expect(baresip.stale)
        #expect(try baresip.serialized().hasSuffix(", stale=true"))

        // An old server: no qop, no algorithm (RFC 2069), tab separators, upper-case scheme.
        let old = try DigestChallenge(parsing: "DIGEST\trealm=\"old\",\tnonce=\"n\"")
        #expect(old.qopOptions == nil)
        #expect(old.algorithm == nil)
        #expect(old.effectiveAlgorithm == Self.md5)
    }

    // MARK: Grammar details

    @Test func quotedStringEscapesRoundTrip() throws {
        let challenge = DigestChallenge(
            realm: #"a "quoted" \ realm, with=comma"#, nonce: "n", algorithm: .sha256, opaque: "o,p=q")
        let serialized = try challenge.serialized()
        #expect(
            serialized.hasPrefix(#"Digest realm="a \"quoted\" \\ realm, with=comma", qop="auth", algorithm=SHA-256"#))
        #expect(try DigestChallenge(parsing: serialized) == challenge)

        // A needlessly escaped character stands for itself (RFC 3261 §25.1 quoted-pair).
        let parsed = try DigestChallenge(parsing: #"Digest realm="\a\b", nonce="x""#)
        #expect(parsed.realm == "ab")
    }

    @Test func whitespaceAroundEqualsAndCommas() throws {
        let challenge = try DigestChallenge(parsing: "  Digest   realm =  \"r\"  ,nonce= \"n\" ,  qop = \"auth\"  ")
        #expect(challenge.realm == "r")
        #expect(challenge.nonce == "n")
        #expect(challenge.qopOptions == [.auth])
    }

    @Test func namesAndTokensAreCaseInsensitive() throws {
        let challenge = try DigestChallenge(
            parsing: #"digest REALM="r", Nonce="n", ALGORITHM=sha-256, QOP="AUTH,Auth-Int", Stale=TRUE"#)
        #expect(challenge.algorithm == .sha256)
        #expect(challenge.qopOptions == [.auth, .authInt])
        #expect(challenge.stale)
        // Values keep their case.
        let other = try DigestChallenge(parsing: #"Digest realm="Realm", nonce="NoNcE""#)
        #expect(other.realm == "Realm")
        #expect(other.nonce == "NoNcE")
    }

    @Test func quotedOrTokenValuesAreAccepted() throws {
        // Some clients quote qop, nc and algorithm; some leave username unquoted.
        let credentials = try DigestCredentials(
            parsing:
                #"Digest username=bob, realm="r", nonce="n", uri="sip:r", qop="auth", nc="00000002", cnonce=c1, algorithm="MD5", response="0123456789abcdef0123456789abcdef""#
        )
        #expect(credentials.username == "bob")
        #expect(credentials.qop == .auth)
        #expect(credentials.nonceCount?.value == 2)
        #expect(credentials.algorithm == Self.md5)
        // Serialized with RFC 7616 quoting.
        #expect(
            try credentials.serialized()
                == #"Digest username="bob", realm="r", uri="sip:r", algorithm=MD5, nonce="n", nc=00000002, cnonce="c1", qop=auth, response="0123456789abcdef0123456789abcdef""#
        )
    }

    @Test func unknownParametersAreKept() throws {
        let challenge = try DigestChallenge(
            parsing: #"Digest realm="r", x-token=abc, nonce="n", x-quoted="a b""#)
        #expect(
            challenge.extensionParameters == [
                DigestParameter(name: "x-token", value: "abc", isQuoted: false),
                DigestParameter(name: "x-quoted", value: "a b", isQuoted: true),
            ])
        #expect(try challenge.serialized() == #"Digest realm="r", nonce="n", x-token=abc, x-quoted="a b""#)

        let credentials = try DigestCredentials(
            parsing:
                #"Digest username="u", realm="r", nonce="n", uri="sip:r", response="0123456789abcdef0123456789abcdef", auts="AUTS-value""#
        )
        #expect(credentials.extensionParameters == [DigestParameter(name: "auts", value: "AUTS-value")])
        #expect(try DigestCredentials(parsing: try credentials.serialized()) == credentials)
    }

    @Test func challengeFullRoundTrip() throws {
        let challenge = DigestChallenge(
            realm: "example.com", nonce: "abc/def+ghi=", algorithm: .sha512_256Sess,
            qopOptions: [.authInt, .auth], opaque: "xyz", stale: true,
            domain: ["sip:example.com", "sip:other.example.com"], charsetUTF8: true, userhash: true)
        let serialized = try challenge.serialized()
        #expect(
            serialized
                == #"Digest realm="example.com", domain="sip:example.com sip:other.example.com", qop="auth-int, auth", algorithm=SHA-512-256-sess, nonce="abc/def+ghi=", opaque="xyz", stale=true, charset=UTF-8, userhash=true"#
        )
        #expect(try DigestChallenge(parsing: serialized) == challenge)
        // Unknown qop options are kept (RFC 3261 §25.1 qop-value token).
        let future = try DigestChallenge(parsing: #"Digest realm="r", nonce="n", qop="auth-future, auth""#)
        #expect(future.qopOptions?.map(\.token) == ["auth-future", "auth"])
        #expect(future.qopOptions?.first?.isSupported == false)
    }

    @Test func credentialsExtendedUsernameRoundTrip() throws {
        let credentials = DigestCredentials(
            username: "Jäsøn Doe", usernameForm: .extended, realm: "r", nonce: "n", uri: "sip:r",
            response: String(repeating: "a", count: 64), algorithm: .sha256)
        let serialized = try credentials.serialized()
        #expect(serialized.hasPrefix("Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm=\"r\""))
        #expect(try DigestCredentials(parsing: serialized) == credentials)
        // Charset is case-insensitive, a language tag is allowed, ISO-8859-1 decodes too.
        let latin1 = try DigestCredentials(
            parsing:
                #"Digest username*=iso-8859-1'en'J%E4s%F8n, realm="r", nonce="n", uri="u", response="0123456789abcdef0123456789abcdef""#
        )
        #expect(latin1.username == "Jäsøn")
    }

    @Test func clientAnswersChallenge() throws {
        let challenge = try DigestChallenge(
            parsing:
                #"Digest realm="example.com", nonce="nonce-1", algorithm=SHA-256, qop="auth-int, auth", opaque="op""#)
        let ha1 = DigestHA1(algorithm: .sha256, username: "alice", realm: "example.com", password: "pw")
        let credentials = try DigestCredentials(
            answering: challenge, ha1: ha1, method: "INVITE", uri: "sip:bob@example.com", cnonce: "c-1",
            nonceCount: DigestNonceCount(7))
        #expect(credentials.qop == .auth)
        #expect(credentials.opaque == "op")
        #expect(credentials.nonceCount?.text == "00000007")
        let parsed = try DigestCredentials(parsing: try credentials.serialized())
        #expect(try parsed.verify(expectedHA1: ha1, method: "INVITE"))

        // auth-int only: the body is protected.
        let intOnly = try DigestChallenge(
            parsing: #"Digest realm="example.com", nonce="n2", algorithm=SHA-256, qop="auth-int""#)
        let body = Array("v=0\r\n".utf8)
        let withBody = try DigestCredentials(
            answering: intOnly, ha1: ha1, method: "INVITE", uri: "sip:bob@example.com", cnonce: "c", body: body)
        #expect(withBody.qop == .authInt)
        #expect(try withBody.verify(expectedHA1: ha1, method: "INVITE", body: body))
        #expect(try !withBody.verify(expectedHA1: ha1, method: "INVITE", body: Array("v=1\r\n".utf8)))

        // No qop offered: the RFC 2069 form, without cnonce and nc.
        let old = try DigestChallenge(parsing: #"Digest realm="example.com", nonce="n3""#)
        let md5 = DigestHA1(algorithm: Self.md5, username: "alice", realm: "example.com", password: "pw")
        let legacy = try DigestCredentials(
            answering: old, ha1: md5, method: "REGISTER", uri: "sip:example.com", cnonce: "c")
        #expect(legacy.qop == nil && legacy.cnonce == nil && legacy.nonceCount == nil)
        #expect(try legacy.verify(expectedHA1: md5, method: "REGISTER"))

        // Only unknown qops, or another algorithm, cannot be answered.
        let future = try DigestChallenge(parsing: #"Digest realm="example.com", nonce="n", qop="auth-conf""#)
        #expect(throws: DigestError(code: .unsupportedQOP, reason: "")) {
            try DigestCredentials(answering: future, ha1: md5, method: "REGISTER", uri: "sip:x", cnonce: "c")
        }
        #expect(throws: DigestError(code: .algorithmMismatch, reason: "")) {
            try DigestCredentials(answering: challenge, ha1: md5, method: "REGISTER", uri: "sip:x", cnonce: "c")
        }
    }
}
