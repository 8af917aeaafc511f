import SIPAuth
import SIPMessage
import Testing

@Suite struct SIPMessageDigestTests {
    /// A REGISTER answered with the RFC 8760 §2.4 challenge pair, then sent again with MD5 credentials
    /// computed by this module from the challenge: the round trip a registrar and a phone make.
    @Test func challengeAndAnswerThroughMessages() throws {
        let response = try SIPMessage.parse(Array((
            "SIP/2.0 401 Unauthorized\r\n"
            + "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1\r\nFrom: <sip:alice@example.com>;tag=1\r\n"
            + "To: <sip:alice@example.com>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\n"
            + "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"abc123\", algorithm=SHA-256, qop=\"auth\"\r\n"
            + "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"abc123\", algorithm=MD5, qop=\"auth\"\r\n"
            + "Content-Length: 0\r\n\r\n").utf8))
        let challenges = try response.digestChallenges()
        #expect(challenges.map(\.effectiveAlgorithm) == [.sha256, DigestAlgorithm.Insecure.md5])
        let md5 = try #require(challenges.last)
        let ha1 = DigestHA1(algorithm: DigestAlgorithm.Insecure.md5, username: "alice", realm: "example.com", password: "pw")
        let credentials = try DigestCredentials(
            answering: md5, ha1: ha1, method: "REGISTER", uri: "sip:example.com", cnonce: "0a4f113b",
            nonceCount: DigestNonceCount(1))
        let request = try SIPMessage.parse(Array((
            "REGISTER sip:example.com SIP/2.0\r\n"
            + "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK2\r\nFrom: <sip:alice@example.com>;tag=1\r\n"
            + "To: <sip:alice@example.com>\r\nCall-ID: c1\r\nCSeq: 2 REGISTER\r\n"
            + "Authorization: \(try credentials.serialized())\r\nContent-Length: 0\r\n\r\n").utf8))
        let received = try #require(try request.digestCredentials().first)
        #expect(try received.verify(expectedHA1: ha1, method: "REGISTER"))
        let wrong = DigestHA1(algorithm: DigestAlgorithm.Insecure.md5, username: "alice", realm: "example.com", password: "no")
        #expect(try !received.verify(expectedHA1: wrong, method: "REGISTER"))
        #expect(try request.digestCredentials(proxy: true).isEmpty)
    }
}
