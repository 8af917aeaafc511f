import SIPAuth
import Testing

/// Strict parsing: every malformed or hostile header is a typed error.
@Suite struct HostileInputTests {
    static let md5Response = "0123456789abcdef0123456789abcdef"
    static let validCredentials =
        #"Digest username="u", realm="r", nonce="n", uri="sip:r", response="0123456789abcdef0123456789abcdef""#

    static func challengeError(_ header: String, limits: DigestParsingLimits = DigestParsingLimits()) -> DigestError
        .Code?
    {
        do {
            _ = try DigestChallenge(parsing: header, limits: limits)
            return nil
        } catch {
            return error.code
        }
    }

    static func credentialsError(_ header: String, limits: DigestParsingLimits = DigestParsingLimits()) -> DigestError
        .Code?
    {
        do {
            _ = try DigestCredentials(parsing: header, limits: limits)
            return nil
        } catch {
            return error.code
        }
    }

    @Test func baseline() {
        #expect(Self.credentialsError(Self.validCredentials) == nil)
        #expect(Self.challengeError(#"Digest realm="r", nonce="n""#) == nil)
    }

    // MARK: Schemes

    @Test(arguments: [
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        #"Bearer realm="r""#,
        #"NewAuth realm="apps", type=1, title="Login to \"apps\"""#,
        #"Digestive realm="r", nonce="n""#,
    ])
    func otherSchemesAreUnsupported(header: String) {
        #expect(Self.challengeError(header) == .unsupportedScheme)
        #expect(Self.credentialsError(header) == .unsupportedScheme)
    }

    @Test func missingScheme() {
        #expect(Self.challengeError("") == .malformedHeader)
        #expect(Self.challengeError("   ") == .malformedHeader)
        #expect(Self.challengeError(#"="x""#) == .malformedHeader)
        #expect(Self.challengeError("Digest") == .missingParameter)
        #expect(Self.challengeError(#"Digest"realm"="r""#) == .malformedHeader)
    }

    // MARK: Grammar

    @Test(arguments: [
        #"Digest realm="r, nonce="n""#,  // unterminated quoted-string
        #"Digest realm="r", nonce="n\"#,  // escape at the very end
        #"Digest realm="r" nonce="n""#,  // missing comma
        #"Digest realm="r",, nonce="n""#,  // empty element
        #"Digest realm="r", nonce="n","#,  // trailing comma
        #"Digest realm, nonce="n""#,  // no '='
        #"Digest realm=, nonce="n""#,  // no value
        #"Digest realm="r"x, nonce="n""#,  // garbage after a quoted-string
        #"Digest realm=a b, nonce="n""#,  // two tokens
        #"Digest realm=r@x, nonce="n""#,  // '@' is not a token character
        #"Digest réalm="r", nonce="n""#,  // non-ASCII name
        #"Digest realm=é, nonce="n""#,  // non-ASCII token
    ])
    func malformedHeaders(header: String) {
        #expect(Self.challengeError(header) == .malformedHeader)
    }

    @Test func unterminatedQuoteInCredentials() {
        #expect(
            Self.credentialsError(#"Digest username="u, realm="r", nonce="n", uri="sip:r", response="x"#)
                == .malformedHeader)
    }

    // MARK: Control characters

    @Test(arguments: [
        "Digest realm=\"r\u{0}\", nonce=\"n\"",  // NUL in a quoted-string
        "Digest realm=\"r\", nonce=\"n\"\u{0}",  // NUL after the last parameter
        "\u{0}Digest realm=\"r\", nonce=\"n\"",  // NUL first
        "Digest realm=\"r\\\u{0}\", nonce=\"n\"",  // NUL as a quoted-pair
        "Digest realm=\"r\nX-Injected: 1\", nonce=\"n\"",  // bare LF
        "Digest realm=\"r\rX\", nonce=\"n\"",  // bare CR
        "Digest realm=\"r\", nonce=\"n\"\r\nX-Injected: 1",  // CRLF not a fold
        "Digest realm=\"r\", nonce=\"n\"\r\n",  // CRLF at the end
        "Digest realm=\"r\u{7F}\", nonce=\"n\"",  // DEL
        "Digest realm=\"r\u{1B}[31m\", nonce=\"n\"",  // ESC
    ])
    func controlCharacters(header: String) {
        #expect(Self.challengeError(header) == .controlCharacter)
    }

    @Test func foldedLinesAreWhitespace() {
        #expect(Self.challengeError("Digest realm=\"r\",\r\n nonce=\"n\"") == nil)
        #expect(Self.challengeError("Digest\r\n\trealm=\"r\",\r\n nonce=\"n\"") == nil)
    }

    // MARK: Limits

    @Test func tenThousandParameters() {
        let parameters = (0..<10_000).map { "p\($0)=\"v\"" }.joined(separator: ", ")
        let header = #"Digest realm="r", nonce="n", "# + parameters
        // The default field length limit trips first...
        #expect(Self.challengeError(header) == .limitExceeded)
        #expect(Self.credentialsError(header) == .limitExceeded)
        // ... and the parameter count limit on its own.
        let unbounded = DigestParsingLimits(maxFieldLength: .max)
        #expect(Self.challengeError(header, limits: unbounded) == .limitExceeded)
        let thirtyTwo = (0..<30).map { "p\($0)=v" }.joined(separator: ", ")
        #expect(Self.challengeError(#"Digest realm="r", nonce="n", "# + thirtyTwo) == nil)
        #expect(Self.challengeError(#"Digest realm="r", nonce="n", x=y, "# + thirtyTwo) == .limitExceeded)
    }

    @Test func oversizeValues() {
        let big = String(repeating: "a", count: 4097)
        #expect(Self.challengeError("Digest realm=\"\(big)\", nonce=\"n\"") == .limitExceeded)
        #expect(Self.challengeError("Digest realm=\(big), nonce=\"n\"") == .limitExceeded)
        let fits = String(repeating: "a", count: 4096)
        #expect(Self.challengeError("Digest realm=\"\(fits)\", nonce=\"n\"") == nil)
        let long = String(repeating: "a", count: 9000)
        #expect(Self.challengeError("Digest realm=\"\(long)\", nonce=\"n\"") == .limitExceeded)
        let tight = DigestParsingLimits(maxFieldLength: 100, maxValueLength: 4, maxParameterCount: 2)
        #expect(Self.challengeError(#"Digest realm="12345", nonce="n""#, limits: tight) == .limitExceeded)
        #expect(Self.challengeError(#"Digest realm="1234", nonce="n""#, limits: tight) == nil)
        #expect(Self.challengeError(#"Digest realm="1234", nonce="n", x=1"#, limits: tight) == .limitExceeded)
    }

    // MARK: Duplicates and required parameters

    @Test func duplicates() {
        #expect(Self.challengeError(#"Digest realm="r", nonce="n", nonce="m""#) == .duplicateParameter)
        #expect(Self.challengeError(#"Digest realm="r", nonce="n", NONCE="n""#) == .duplicateParameter)
        #expect(Self.challengeError(#"Digest realm="r", nonce="n", x=1, X=2"#) == .duplicateParameter)
        #expect(Self.credentialsError(Self.validCredentials + #", nonce="deadbeef""#) == .duplicateParameter)
        #expect(
            Self.credentialsError(Self.validCredentials + #", response="ffffffffffffffffffffffffffffffff""#)
                == .duplicateParameter)
    }

    @Test func challengeRequiredParameters() {
        #expect(Self.challengeError(#"Digest nonce="n""#) == .missingParameter)
        #expect(Self.challengeError(#"Digest realm="r""#) == .missingParameter)
    }

    @Test(arguments: ["username", "realm", "nonce", "uri", "response"])
    func credentialsRequiredParameters(missing: String) {
        let all = ["username": "u", "realm": "r", "nonce": "n", "uri": "sip:r", "response": Self.md5Response]
        let header =
            "Digest " + all.filter { $0.key != missing }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ", ")
        #expect(Self.credentialsError(header) == .missingParameter)
    }

    @Test func qopCnonceAndNonceCount() {
        let base = Self.validCredentials
        #expect(Self.credentialsError(base + #", qop=auth, nc=00000001, cnonce="c""#) == nil)
        #expect(Self.credentialsError(base + #", qop=auth, nc=00000001"#) == .missingParameter)
        #expect(Self.credentialsError(base + #", qop=auth, cnonce="c""#) == .missingParameter)
        #expect(Self.credentialsError(base + #", cnonce="c""#) == .unexpectedParameter)
        #expect(Self.credentialsError(base + #", nc=00000001"#) == .unexpectedParameter)
        #expect(Self.credentialsError(base + #", qop=auth-conf, nc=00000001, cnonce="c""#) == .unsupportedQOP)
        #expect(
            Self.credentialsError(base + #", qop="auth, auth-int", nc=00000001, cnonce="c""#) == .invalidParameterValue)
        // -sess needs a cnonce, so a qop (RFC 7616 §3.4.2).
        #expect(Self.credentialsError(base + ", algorithm=MD5-sess") == .missingParameter)
    }

    @Test(arguments: ["0000000g", "0000001", "000000001", "", "-0000001", "0x000001", "0000 001"])
    func badNonceCounts(nc: String) {
        let header = Self.validCredentials + ", qop=auth, cnonce=\"c\", nc=\"\(nc)\""
        #expect(Self.credentialsError(header) == .invalidParameterValue)
        #expect(DigestNonceCount(nc) == nil)
    }

    @Test func nonceCountValues() throws {
        #expect(DigestNonceCount("0000000a")?.value == 10)
        #expect(DigestNonceCount("FFFFFFFF")?.value == .max)
        #expect(DigestNonceCount("0000000A")?.text == "0000000A")
        #expect(DigestNonceCount(255).text == "000000ff")
    }

    @Test func wrongResponseLengths() {
        func header(_ response: String, algorithm: String? = nil) -> String {
            var header = #"Digest username="u", realm="r", nonce="n", uri="sip:r", response="\#(response)""#
            if let algorithm { header += ", algorithm=\(algorithm)" }
            return header
        }
        let sha = String(repeating: "ab", count: 32)
        #expect(Self.credentialsError(header(Self.md5Response)) == nil)
        #expect(Self.credentialsError(header(String(Self.md5Response.dropLast()))) == .invalidParameterValue)
        #expect(Self.credentialsError(header(Self.md5Response + "0")) == .invalidParameterValue)
        #expect(Self.credentialsError(header(sha)) == .invalidParameterValue)  // 64 digits for MD5
        #expect(Self.credentialsError(header(sha, algorithm: "SHA-256")) == nil)
        #expect(Self.credentialsError(header(Self.md5Response, algorithm: "SHA-256")) == .invalidParameterValue)
        #expect(Self.credentialsError(header(sha, algorithm: "SHA-512-256")) == nil)
        #expect(Self.credentialsError(header("0123456789abcdef0123456789abcdeg")) == .invalidParameterValue)
        #expect(Self.credentialsError(header("")) == .invalidParameterValue)
    }

    @Test func unsupportedAlgorithms() {
        #expect(Self.credentialsError(Self.validCredentials + ", algorithm=AKAv1-MD5") == .unsupportedAlgorithm)
        #expect(Self.challengeError(#"Digest realm="r", nonce="n", algorithm=SHA-1"#) == .unsupportedAlgorithm)
        #expect(Self.challengeError(#"Digest realm="r", nonce="n", algorithm="""#) == .unsupportedAlgorithm)
    }

    @Test func badBooleansAndCharsets() {
        #expect(Self.challengeError(#"Digest realm="r", nonce="n", stale=maybe"#) == .invalidParameterValue)
        #expect(Self.challengeError(#"Digest realm="r", nonce="n", userhash=1"#) == .invalidParameterValue)
        #expect(Self.challengeError(#"Digest realm="r", nonce="n", charset=ISO-8859-1"#) == .invalidParameterValue)
        #expect(Self.challengeError(#"Digest realm="r", nonce="n", qop="""#) == .invalidParameterValue)
        #expect(Self.challengeError(#"Digest realm="r", nonce="n", qop="auth,,auth-int""#) == .invalidParameterValue)
        #expect(Self.credentialsError(Self.validCredentials + ", userhash=yes") == .invalidParameterValue)
    }

    @Test func usernameForms() {
        let rest = #"realm="r", nonce="n", uri="sip:r", response="0123456789abcdef0123456789abcdef""#
        #expect(Self.credentialsError(#"Digest username="u", username*=UTF-8''u, "# + rest) == .unexpectedParameter)
        #expect(Self.credentialsError(#"Digest username*=UTF-8''u, userhash=true, "# + rest) == .unexpectedParameter)
        #expect(Self.credentialsError(#"Digest username*=u, "# + rest) == .invalidEncoding)
        #expect(Self.credentialsError(#"Digest username*=KOI8-R''u, "# + rest) == .invalidEncoding)
        #expect(Self.credentialsError(#"Digest username*=UTF-8''%C3, "# + rest) == .invalidEncoding)  // bad UTF-8
        #expect(Self.credentialsError(#"Digest username*=UTF-8''%G0, "# + rest) == .invalidEncoding)
        #expect(Self.credentialsError(#"Digest username*=UTF-8''%4, "# + rest) == .invalidEncoding)
        #expect(Self.credentialsError(#"Digest username*="UTF-8''a b", "# + rest) == .invalidEncoding)
        #expect(Self.credentialsError(#"Digest username*=UTF-8''a%00b, "# + rest) == .controlCharacter)
        #expect(Self.credentialsError(#"Digest username*=UTF-8''a%0D%0Ab, "# + rest) == .controlCharacter)
        // A userhash must be a hex digest of the algorithm's length.
        #expect(Self.credentialsError(#"Digest username="alice", userhash=true, "# + rest) == .invalidParameterValue)
        #expect(
            Self.credentialsError(#"Digest username="0123456789abcdef0123456789abcdef", userhash=true, "# + rest) == nil
        )
    }

    // MARK: Serialization refuses to forge headers

    @Test func serializationRefusesInjection() throws {
        var challenge = DigestChallenge(realm: "r\r\nX-Injected: 1", nonce: "n", algorithm: .sha256)
        #expect(throws: DigestError(code: .controlCharacter, reason: "")) { try challenge.serialized() }
        challenge.realm = "r"
        challenge.extensionParameters = [DigestParameter(name: "nonce", value: "evil")]
        #expect(throws: DigestError(code: .duplicateParameter, reason: "")) { try challenge.serialized() }
        challenge.extensionParameters = [
            DigestParameter(name: "x", value: "1"), DigestParameter(name: "X", value: "2"),
        ]
        #expect(throws: DigestError(code: .duplicateParameter, reason: "")) { try challenge.serialized() }
        challenge.extensionParameters = [DigestParameter(name: "x=y", value: "1")]
        #expect(throws: DigestError(code: .malformedHeader, reason: "")) { try challenge.serialized() }
        challenge.extensionParameters = [DigestParameter(name: "x", value: "a, b=c", isQuoted: false)]
        #expect(try challenge.serialized().hasSuffix(#"x="a, b=c""#))  // quoted when not a token
        challenge.extensionParameters = []
        challenge.qopOptions = []
        #expect(throws: DigestError(code: .invalidParameterValue, reason: "")) { try challenge.serialized() }

        let credentials = DigestCredentials(
            username: "u\u{0}", realm: "r", nonce: "n", uri: "sip:r", response: Self.md5Response, algorithm: nil)
        #expect(throws: DigestError(code: .controlCharacter, reason: "")) { try credentials.serialized() }
    }
}
