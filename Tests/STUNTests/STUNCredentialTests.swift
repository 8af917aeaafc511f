import Crypto
import STUN
import Testing

/// Long-term credentials: stateless nonces with their security features, and the password algorithm a request is
/// held to (RFC 8489 §9.2, the bid-down protection of §9.2.4).
@Suite struct STUNCredentialTests {
    let issuer = STUNNonceIssuer(secret: SymmetricKey(size: .bits256), lifetimeSeconds: 600)

    @Test func aNonceIsFreshForItsSourceAndLifeOnly() {
        let nonce = issuer.nonce(for: "198.51.100.7:40000", now: 1_000)
        #expect(nonce.hasPrefix("obMatJos2gAAA"))
        #expect(STUNSecurityFeatures(nonce: nonce) == .passwordAlgorithms)
        #expect(issuer.isFresh(nonce, for: "198.51.100.7:40000", now: 1_000))
        #expect(issuer.isFresh(nonce, for: "198.51.100.7:40000", now: 1_600))
        #expect(!issuer.isFresh(nonce, for: "198.51.100.7:40000", now: 1_601))  // expired
        #expect(!issuer.isFresh(nonce, for: "198.51.100.8:40000", now: 1_000))  // another source
        let other = STUNNonceIssuer(secret: SymmetricKey(size: .bits256))
        #expect(!other.isFresh(nonce, for: "198.51.100.7:40000", now: 1_000))  // another server's secret
        #expect(nonce.utf8.count == 35)
        // A nonce whose expiry was pushed out (its tag kept), or made up, is not fresh.
        var pushed = Array(nonce.utf8)
        pushed[16] = UInt8(ascii: "z")
        #expect(!issuer.isFresh(String(decoding: pushed, as: UTF8.self), for: "198.51.100.7:40000", now: 1_000))
        #expect(!issuer.isFresh("obMatJos2gAAA" + String(repeating: "A", count: 22), for: "198.51.100.7:40000", now: 0))
        #expect(!issuer.isFresh(String(repeating: "a", count: 500), for: "x", now: 0))
        #expect(STUNSecurityFeatures(nonce: "f//499k954d6OL34oL9FSTvy64sA") == nil)  // an RFC 5389 nonce
        #expect(STUNSecurityFeatures(nonce: "obMatJos2wAAA") == [.passwordAlgorithms, .usernameAnonymity])
    }

    static func request(list: [STUNPasswordAlgorithm]?, chosen: [UInt8]?) throws -> STUNMessage {
        var builder = STUNMessageBuilder(STUNMessageType(.allocate, .request), transactionID: .random())
        if let list { builder.append(.passwordAlgorithms, STUNPasswordAlgorithm.listValue(list)) }
        if let chosen { builder.append(.passwordAlgorithm, chosen) }
        return try STUNMessage(parsing: builder.bytes)
    }

    @Test func thePasswordAlgorithmCannotBeBidDown() throws {
        let offered: [STUNPasswordAlgorithm] = [.sha256, .md5]
        // A client that echoes the list and picks from it.
        #expect(STUNPasswordAlgorithm.negotiated(by: try Self.request(list: offered, chosen: STUNPasswordAlgorithm.sha256.value),
                                                 offered: offered) == .success(.sha256))
        #expect(STUNPasswordAlgorithm.negotiated(by: try Self.request(list: offered, chosen: STUNPasswordAlgorithm.md5.value),
                                                 offered: offered) == .success(.md5))
        // A list an attacker shortened to MD5 on the way, or reordered: 400.
        #expect(STUNPasswordAlgorithm.negotiated(by: try Self.request(list: [.md5], chosen: STUNPasswordAlgorithm.md5.value),
                                                 offered: offered) == .failure(.badRequest))
        #expect(STUNPasswordAlgorithm.negotiated(by: try Self.request(list: [.md5, .sha256], chosen: STUNPasswordAlgorithm.md5.value),
                                                 offered: offered) == .failure(.badRequest))
        // One attribute without the other, an algorithm not offered, a malformed one: 400.
        #expect(STUNPasswordAlgorithm.negotiated(by: try Self.request(list: nil, chosen: STUNPasswordAlgorithm.md5.value),
                                                 offered: offered) == .failure(.badRequest))
        #expect(STUNPasswordAlgorithm.negotiated(by: try Self.request(list: offered, chosen: nil), offered: offered)
            == .failure(.badRequest))
        #expect(STUNPasswordAlgorithm.negotiated(by: try Self.request(list: [.sha256], chosen: STUNPasswordAlgorithm.md5.value),
                                                 offered: [.sha256]) == .failure(.badRequest))
        #expect(STUNPasswordAlgorithm.negotiated(by: try Self.request(list: offered, chosen: [0, 9, 0, 0]),
                                                 offered: offered) == .failure(.badRequest))
        #expect(STUNPasswordAlgorithm.negotiated(by: try Self.request(list: offered, chosen: [0, 2, 0, 9]),
                                                 offered: offered) == .failure(.badRequest))
        // An RFC 5389 client (neither attribute) uses MD5, where the server still offers it.
        #expect(STUNPasswordAlgorithm.negotiated(by: try Self.request(list: nil, chosen: nil), offered: offered) == .success(.md5))
        #expect(STUNPasswordAlgorithm.negotiated(by: try Self.request(list: nil, chosen: nil), offered: [.sha256])
            == .failure(.badRequest))
        #expect(try Self.request(list: offered, chosen: nil).passwordAlgorithmNumbers == [2, 1])
    }

    @Test func keysAndUserhashAreTheRFCsHashes() {
        let md5 = STUNKey.longTerm(username: "user", realm: "realm", password: "pass")
        let sha = STUNKey.longTerm(username: "user", realm: "realm", password: "pass", algorithm: .sha256)
        #expect(md5.withBytes { Array($0) } == Array(Insecure.MD5.hash(data: Array("user:realm:pass".utf8))))
        #expect(sha.withBytes { Array($0) } == Array(SHA256.hash(data: Array("user:realm:pass".utf8))))
        #expect(STUNKey.userhash(username: "user", realm: "realm") == Array(SHA256.hash(data: Array("user:realm".utf8))))
    }
}
