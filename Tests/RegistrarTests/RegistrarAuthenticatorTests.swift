import Registrar
import SIPAuth
import SIPMessage
import Storage
import Testing

func registerRequest(authorization: String? = nil, uri: String = "sip:example.com", cseq: Int = 1) -> SIPMessage {
    var lines = [
        "REGISTER \(uri) SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKa\(cseq)",
        "From: <sip:alice@example.com>;tag=1", "To: <sip:alice@example.com>", "Call-ID: auth-1",
        "CSeq: \(cseq) REGISTER", "Contact: <sip:alice@192.0.2.10>",
    ]
    if let authorization { lines.append("Authorization: \(authorization)") }
    lines.append("Content-Length: 0")
    return try! SIPMessage.parse(Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8))
}

let alice = Account(username: "alice", domain: "example.com",
                    ha1ByAlgorithm: DigestHA1.storedValues(username: "alice", realm: "example.com", password: "secret"))

@Sendable func lookup(_ name: String) async throws -> Account? { name == "alice" ? alice : nil }

/// The client side: answer the challenge for `algorithm` with `password`.
func answer(_ decision: RegistrarAuthenticator.Decision, algorithm: DigestAlgorithm, username: String = "alice",
            password: String = "secret", nonceCount: UInt32 = 1) throws -> String {
    guard case .challenge(let values) = decision else { throw DigestError(code: .missingParameter, reason: "no challenge") }
    let challenges = try values.map { (value) throws(DigestError) -> DigestChallenge in try DigestChallenge(parsing: value) }
    let challenge = try #require(challenges.first { $0.effectiveAlgorithm == algorithm })
    let ha1 = DigestHA1(algorithm: algorithm, username: username, realm: "example.com", password: password)
    return try DigestCredentials(answering: challenge, ha1: ha1, method: "REGISTER", uri: "sip:example.com",
                                 cnonce: "0a4f113b", nonceCount: DigestNonceCount(nonceCount)).serialized()
}

@Suite struct RegistrarAuthenticatorTests {
    @Test func challengeOffersSHA256ThenMD5AndBothAuthenticate() async throws {
        var authenticator = RegistrarAuthenticator(realm: "example.com")
        let challenge = await authenticator.authenticate(registerRequest(), now: .seconds(10), lookup: lookup)
        guard case .challenge(let values) = challenge else {
            Issue.record("expected a challenge")
            return
        }
        #expect(try values.map { (v) throws(DigestError) -> String in try DigestChallenge(parsing: v).effectiveAlgorithm.token }
            == ["SHA-256", "MD5"])
        for algorithm in [DigestAlgorithm.Insecure.md5, .sha256] {
            let fresh = await authenticator.authenticate(registerRequest(), now: .seconds(11), lookup: lookup)
            let credentials = try answer(fresh, algorithm: algorithm)
            let decision = await authenticator.authenticate(registerRequest(authorization: credentials), now: .seconds(12),
                                                            lookup: lookup)
            #expect(decision == .authenticated(username: "alice", algorithm: algorithm.token))
        }
    }

    @Test func unknownUserAndWrongPasswordLookTheSame() async throws {
        var authenticator = RegistrarAuthenticator(realm: "example.com")
        let first = await authenticator.authenticate(registerRequest(), now: .zero, lookup: lookup)
        let wrong = await authenticator.authenticate(
            registerRequest(authorization: try answer(first, algorithm: .sha256, password: "guess")), now: .seconds(1),
            lookup: lookup)
        let second = await authenticator.authenticate(registerRequest(), now: .zero, lookup: lookup)
        let unknown = await authenticator.authenticate(
            registerRequest(authorization: try answer(second, algorithm: .sha256, username: "mallory")), now: .seconds(1),
            lookup: lookup)
        #expect(wrong == .reject(status: 403, event: .authFailure))
        #expect(unknown == wrong)
    }

    @Test func replayedNonceCountIsRefused() async throws {
        var authenticator = RegistrarAuthenticator(realm: "example.com")
        let challenge = await authenticator.authenticate(registerRequest(), now: .zero, lookup: lookup)
        let credentials = try answer(challenge, algorithm: .sha256)
        #expect(await authenticator.authenticate(registerRequest(authorization: credentials), now: .seconds(1),
                                                 lookup: lookup) == .authenticated(username: "alice", algorithm: "SHA-256"))
        #expect(await authenticator.authenticate(registerRequest(authorization: credentials), now: .seconds(2),
                                                 lookup: lookup) == .reject(status: 403, event: .digestReplay))
    }

    @Test func agedNonceIsChallengedAsStale() async throws {
        var authenticator = RegistrarAuthenticator(realm: "example.com",
                                                   nonces: DigestNonceIssuer(lifetime: .seconds(30)))
        let challenge = await authenticator.authenticate(registerRequest(), now: .zero, lookup: lookup)
        let late = await authenticator.authenticate(
            registerRequest(authorization: try answer(challenge, algorithm: .sha256)), now: .seconds(60), lookup: lookup)
        guard case .challenge(let values) = late else {
            Issue.record("expected a stale challenge")
            return
        }
        #expect(try values.allSatisfy { (v) throws(DigestError) -> Bool in try DigestChallenge(parsing: v).stale })
    }

    @Test func md5IsRefusedOnceAnAccountUsedSHA256() async throws {
        var authenticator = RegistrarAuthenticator(realm: "example.com")
        let first = await authenticator.authenticate(registerRequest(), now: .zero, lookup: lookup)
        _ = await authenticator.authenticate(registerRequest(authorization: try answer(first, algorithm: .sha256)),
                                             now: .seconds(1), lookup: lookup)
        let second = await authenticator.authenticate(registerRequest(), now: .seconds(2), lookup: lookup)
        let downgrade = await authenticator.authenticate(
            registerRequest(authorization: try answer(second, algorithm: DigestAlgorithm.Insecure.md5)), now: .seconds(3),
            lookup: lookup)
        #expect(downgrade == .reject(status: 403, event: .digestDowngradeAttempt))
        #expect(authenticator.pinnedAccounts == ["alice@example.com"])
    }

    /// The pin covers every weaker algorithm (issue 17), MD5-sess as well as MD5.
    @Test func md5SessIsRefusedOnceAnAccountUsedSHA256() async throws {
        var authenticator = RegistrarAuthenticator(realm: "example.com",
                                                   algorithms: [.sha256, DigestAlgorithm.Insecure.md5Sess])
        let first = await authenticator.authenticate(registerRequest(), now: .zero, lookup: lookup)
        _ = await authenticator.authenticate(registerRequest(authorization: try answer(first, algorithm: .sha256)),
                                             now: .seconds(1), lookup: lookup)
        let second = await authenticator.authenticate(registerRequest(), now: .seconds(2), lookup: lookup)
        let downgrade = await authenticator.authenticate(
            registerRequest(authorization: try answer(second, algorithm: DigestAlgorithm.Insecure.md5Sess)),
            now: .seconds(3), lookup: lookup)
        #expect(downgrade == .reject(status: 403, event: .digestDowngradeAttempt))
    }

    @Test func md5CanBeSwitchedOff() async throws {
        var strict = RegistrarAuthenticator(realm: "example.com", allowMD5: false)
        let challenge = await strict.authenticate(registerRequest(), now: .zero, lookup: lookup)
        guard case .challenge(let values) = challenge else {
            Issue.record("expected a challenge")
            return
        }
        #expect(values.count == 1)
        var lenient = RegistrarAuthenticator(realm: "example.com")
        let md5Challenge = await lenient.authenticate(registerRequest(), now: .zero, lookup: lookup)
        let md5Credentials = try answer(md5Challenge, algorithm: DigestAlgorithm.Insecure.md5)
        guard case .challenge = await strict.authenticate(registerRequest(authorization: md5Credentials), now: .seconds(1),
                                                          lookup: lookup) else {
            Issue.record("MD5 credentials must be re-challenged where MD5 is off")
            return
        }
    }

    @Test func otherSchemesAreChallengedAndGarbageIsRefused() async throws {
        var authenticator = RegistrarAuthenticator(realm: "example.com")
        guard case .challenge = await authenticator.authenticate(
            registerRequest(authorization: "Basic YWxpY2U6c2VjcmV0"), now: .zero, lookup: lookup) else {
            Issue.record("a Basic scheme gets a Digest challenge")
            return
        }
        #expect(await authenticator.authenticate(registerRequest(authorization: "Digest realm=\"unterminated"),
                                                 now: .zero, lookup: lookup) == .reject(status: 400, event: .malformedMessage))
        let challenge = await authenticator.authenticate(registerRequest(), now: .zero, lookup: lookup)
        // Credentials computed for another Request-URI prove nothing about this request.
        #expect(await authenticator.authenticate(
            registerRequest(authorization: try answer(challenge, algorithm: .sha256), uri: "sip:other.example.com"),
            now: .seconds(1), lookup: lookup) == .reject(status: 400, event: nil))
    }
}
