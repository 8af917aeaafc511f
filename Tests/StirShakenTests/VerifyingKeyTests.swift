import Crypto
import Foundation
import StirShaken
import TestVectors
import Testing

/// A hot signer's key verifies through a table of its own multiples (OpenSSL) instead of swift-crypto: the two paths
/// must agree on every signature, good or hostile, and the tables must stay within their budget.
@Suite struct VerifyingKeyTests {
    /// P-256's group order n.
    static let order: [UInt8] = Array(hex: "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")

    /// Both answers for one signature: swift-crypto's and the table's.
    static func answers(_ signature: [UInt8], _ message: [UInt8], plain: P256.Signing.PublicKey,
                        tabled: ES256VerifyingKey) -> (plain: Bool, tabled: Bool) {
        let parsed = try? P256.Signing.ECDSASignature(rawRepresentation: signature)
        return (parsed.map { plain.isValidSignature($0, for: message) } ?? false,
                tabled.isValidSignature(signature, for: message))
    }

    /// n − s, the other signature every ECDSA signature has.
    static func negated(_ s: [UInt8]) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: 32)
        var borrow = 0
        for index in (0..<32).reversed() {
            var difference = Int(order[index]) - Int(s[index]) - borrow
            borrow = difference < 0 ? 1 : 0
            if difference < 0 { difference += 256 }
            result[index] = UInt8(difference)
        }
        return result
    }

    @Test func theTableAndSwiftCryptoAgreeOnGoodAndHostileSignatures() throws {
        let tables = ES256KeyTables(limit: 1, precomputeAfter: 1_000_000)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<6 {
            let privateKey = P256.Signing.PrivateKey()
            let key = ES256VerifyingKey(privateKey.publicKey, tables: tables)
            #expect(key.buildTableNow() == ES256VerifyingKey.tablesAvailable)
            let other = P256.Signing.PrivateKey()
            for round in 0..<12 {
                let message = (0..<(round * 7 + 1)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let good = Array(try privateKey.signature(for: message).rawRepresentation)
                var cases: [(String, [UInt8], [UInt8], Bool?)] = [
                    ("good", good, message, true),
                    ("another key's", Array(try other.signature(for: message).rawRepresentation), message, false),
                    ("r and s swapped", Array(good[32...] + good[..<32]), message, false),
                    ("r = 0", [UInt8](repeating: 0, count: 32) + good[32...], message, false),
                    ("s = 0", Array(good[..<32]) + [UInt8](repeating: 0, count: 32), message, false),
                    ("r = n", Self.order + good[32...], message, false),
                    ("s = n", Array(good[..<32]) + Self.order, message, false),
                    ("all ones", [UInt8](repeating: 0xff, count: 64), message, false),
                    ("short", Array(good.dropLast()), message, false),
                    ("long", good + [0], message, false),
                    ("another message", good, message + [1], false),
                    // n − s is as valid as s to ECDSA; whatever swift-crypto says, the table must say too.
                    ("s negated", Array(good[..<32]) + Self.negated(Array(good[32...])), message, nil),
                ]
                var flipped = good
                flipped[Int.random(in: 0..<64, using: &generator)] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
                cases.append(("one bit flipped", flipped, message, false))
                for (name, signature, signed, expected) in cases {
                    let (plain, tabled) = Self.answers(signature, signed, plain: privateKey.publicKey, tabled: key)
                    #expect(plain == tabled, "\(name): swift-crypto \(plain), table \(tabled)")
                    if let expected { #expect(tabled == expected, "\(name)") }
                }
            }
            #expect(key.hasTable == ES256VerifyingKey.tablesAvailable)
        }
        // Each key's table went with the key.
        #expect(tables.count == 0)
    }

        @Test(.enabled(if: ES256VerifyingKey.tablesAvailable))
        func aKeyEarnsItsTableByUseAndTheBudgetCapsTheTables() async throws {
            let tables = ES256KeyTables(limit: 1, precomputeAfter: 3)
            let message = Array("header.claims".utf8)
            let first = P256.Signing.PrivateKey()
            var hot: ES256VerifyingKey? = ES256VerifyingKey(first.publicKey, tables: tables)
            let signature = Array(try first.signature(for: message).rawRepresentation)
            for _ in 0..<2 { #expect(hot!.isValidSignature(signature, for: message)) }
            #expect(!hot!.hasTable && tables.count == 0)
            #expect(hot!.isValidSignature(signature, for: message))  // the third: the table is built off this thread
            #expect(tables.count == 1)
            try await Self.waitFor { hot!.hasTable }
            #expect(hot!.isValidSignature(signature, for: message))
            #expect(!hot!.isValidSignature(Array(signature.reversed()), for: message))

            // A second hot key finds the budget spent and keeps verifying without a table.
            let second = P256.Signing.PrivateKey()
            let cold = ES256VerifyingKey(second.publicKey, tables: tables)
            let secondSignature = Array(try second.signature(for: message).rawRepresentation)
            for _ in 0..<10 { #expect(cold.isValidSignature(secondSignature, for: message)) }
            #expect(!cold.hasTable && !cold.buildTableNow() && tables.count == 1)

            // The first key's chain leaves the cache: its table goes, and the slot with it.
            hot = nil
            try await Self.waitFor { tables.count == 0 }
        }

        static func waitFor(_ condition: () -> Bool) async throws {
            for _ in 0..<200 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
            #expect(condition())
        }

    /// A chain the trust evaluates hands out its signer's key on the trust's budget.
    @Test func aTrustedSignerCarriesAVerifyingKeyOnTheTrustsBudget() async throws {
        let ca = try TestSTICA.create()
        let issued = try ca.issue(authority: TNAuthList([.spc("1234")]), commonName: "SHAKEN 1234")
        var trust = STITrust(roots: [ca.root])
        trust.keyTables = ES256KeyTables(limit: 0, precomputeAfter: 1)
        let chain = try STICertificateChain(served: Array(issued.chainPEM.utf8))
        guard case .success(let signer) = await trust.evaluate(chain, at: Date()) else {
            Issue.record("the chain does not check out")
            return
        }
        let signerKey = try P256.Signing.PrivateKey(pemRepresentation: issued.keyPEM)
        let message = Array("a.b".utf8)
        let signature = Array(try signerKey.signature(for: message).rawRepresentation)
        #expect(signer.verifyingKey.isValidSignature(signature, for: message))
        #expect(!signer.verifyingKey.hasTable)  // a budget of none
        #expect(signer.key.rawRepresentation == signerKey.publicKey.rawRepresentation)
    }
}

