import Crypto
import SIPAuth
import Testing

@Suite struct DigestNonceIssuerTests {
    @Test func freshNonceVerifiesOnceForEachCount() {
        var issuer = DigestNonceIssuer()
        let nonce = issuer.issue(realm: "example.com", now: .seconds(1000))
        #expect(nonce.utf8.count == 43)
        #expect(issuer.verify(nonce: nonce, nonceCount: 1, realm: "example.com", now: .seconds(1001)) == .valid)
        #expect(issuer.verify(nonce: nonce, nonceCount: 2, realm: "example.com", now: .seconds(1002)) == .valid)
        // svcrack-style replay of an earlier count is refused.
        #expect(issuer.verify(nonce: nonce, nonceCount: 2, realm: "example.com", now: .seconds(1003)) == .replayed)
        #expect(issuer.verify(nonce: nonce, nonceCount: 1, realm: "example.com", now: .seconds(1003)) == .replayed)
    }

    @Test func agedNonceIsStaleNotInvalid() {
        var issuer = DigestNonceIssuer(lifetime: .seconds(30))
        let nonce = issuer.issue(realm: "example.com", now: .seconds(100))
        #expect(issuer.verify(nonce: nonce, nonceCount: 1, realm: "example.com", now: .seconds(131)) == .stale)
        #expect(issuer.verify(nonce: nonce, nonceCount: 1, realm: "example.com", now: .seconds(129)) == .valid)
    }

    @Test func forgedAlteredOrForeignNoncesAreInvalid() {
        var issuer = DigestNonceIssuer()
        let nonce = issuer.issue(realm: "example.com", now: .seconds(10))
        #expect(issuer.verify(nonce: nonce, nonceCount: 1, realm: "other.example", now: .seconds(11)) == .invalid)
        var bytes = Array(nonce.utf8)
        bytes[20] = bytes[20] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(issuer.verify(nonce: String(decoding: bytes, as: UTF8.self), nonceCount: 1, realm: "example.com",
                              now: .seconds(11)) == .invalid)
        #expect(issuer.verify(nonce: "short", nonceCount: 1, realm: "example.com", now: .seconds(11)) == .invalid)
        #expect(issuer.verify(nonce: String(repeating: "!", count: 43), nonceCount: 1, realm: "example.com",
                              now: .seconds(11)) == .invalid)
        var stranger = DigestNonceIssuer()  // another key: another server
        #expect(stranger.verify(nonce: nonce, nonceCount: 1, realm: "example.com", now: .seconds(11)) == .invalid)
    }

    @Test func trackingIsBoundedAndFailsClosed() {
        var issuer = DigestNonceIssuer(maxTrackedNonces: 2)
        let first = issuer.issue(realm: "r", now: .seconds(1))
        let second = issuer.issue(realm: "r", now: .seconds(1))
        let third = issuer.issue(realm: "r", now: .seconds(1))  // evicts the first
        // Forgotten: never accepted, answered with a fresh challenge (stale) rather than a 403.
        #expect(issuer.verify(nonce: first, nonceCount: 1, realm: "r", now: .seconds(2)) == .stale)
        #expect(issuer.verify(nonce: second, nonceCount: 1, realm: "r", now: .seconds(2)) == .valid)
        #expect(issuer.verify(nonce: third, nonceCount: 1, realm: "r", now: .seconds(2)) == .valid)
        #expect(issuer.verify(nonce: third, nonceCount: 1, realm: "r", now: .seconds(2)) == .replayed)
        for _ in 0..<10 { _ = issuer.issue(realm: "r", now: .seconds(3)) }  // the queue compacts without growing
        #expect(issuer.verify(nonce: third, nonceCount: 2, realm: "r", now: .seconds(4)) == .stale)
    }

    @Test func sharedKeyLetsAClusterVerify() {
        let key = SymmetricKey(size: .bits256)
        var a = DigestNonceIssuer(key: key)
        var b = DigestNonceIssuer(key: key)
        let nonce = a.issue(realm: "example.com", now: .seconds(5))
        // b did not issue it, so it holds no count for it: the MAC passes (not .invalid) but b fails closed and
        // asks for a fresh nonce of its own.
        #expect(b.verify(nonce: nonce, nonceCount: nil, realm: "example.com", now: .seconds(6)) == .stale)
        #expect(b.verify(nonce: nonce, nonceCount: 1, realm: "example.com", now: .seconds(6)) == .stale)
        #expect(b.verify(nonce: nonce + "x", nonceCount: 1, realm: "example.com", now: .seconds(6)) == .invalid)
    }

    @Test func aNonceWithoutCountsIsGoodForOneUseOnly() {
        var issuer = DigestNonceIssuer()
        let nonce = issuer.issue(realm: "r", now: .seconds(1))
        // RFC 2069 credentials (no qop, no nc): accepted once, then every reuse is a replay (svcrack -n).
        #expect(issuer.verify(nonce: nonce, nonceCount: nil, realm: "r", now: .seconds(2)) == .valid)
        #expect(issuer.verify(nonce: nonce, nonceCount: nil, realm: "r", now: .seconds(2)) == .replayed)
        #expect(issuer.verify(nonce: nonce, nonceCount: 5, realm: "r", now: .seconds(2)) == .replayed)
    }
}
