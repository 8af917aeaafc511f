import Crypto
import Foundation
import SIPMessage
import StirShaken
import Testing
import X509

/// STI-AS and STI-VS end to end, sans I/O: a test STI-CA issues an SP certificate, the signer signs, the verifier
/// checks claims, chain and signature, and each way a PASSporT can be wrong gets its own reason.
@Suite struct VerifierTests {
    static let url = "https://certs.example.net/sp.crt"
    static let now: Int64 = 1_800_000_000
    static var nowDate: Date { Date(timeIntervalSince1970: TimeInterval(now)) }

    struct World {
        let ca: TestSTICA
        let chain: STICertificateChain
        let signer: StirSigner
        var trust: STITrust { STITrust(roots: [ca.root]) }
    }

    static func world(authority: TNAuthList = TNAuthList([.spc("1234")]), days: Int = 30,
                      issuedAt: Date = nowDate) throws -> World {
        let ca = try TestSTICA.create(now: issuedAt)
        let issued = try ca.issue(authority: authority, commonName: "SHAKEN 1234", days: days, now: issuedAt)
        return World(ca: ca, chain: try STICertificateChain(served: Array(issued.chainPEM.utf8)),
                     signer: try StirSigner(keyPEM: issued.keyPEM, certificateURL: url))
    }

    /// An INVITE from `orig` to `dest` carrying `identities`.
    static func request(_ identities: [String], orig: String = "+1-215-555-0121", dest: String = "12155550131") throws
        -> StirVerifier.Request
    {
        let text = "INVITE sip:\(dest)@edge.example;user=phone SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
            + "From: <sip:\(orig)@carrier.example;user=phone>;tag=1\r\nTo: <tel:\(dest)>\r\nCall-ID: c1\r\n"
            + "CSeq: 1 INVITE\r\nMax-Forwards: 70\r\n" + identities.map { "Identity: \($0)\r\n" }.joined()
            + "Content-Length: 0\r\n\r\n"
        let message = try SIPMessage.parse(Array(text.utf8))
        return StirVerifier.Request(message)
    }

    static func verify(_ request: StirVerifier.Request, _ world: World, at now: Int64 = now) async -> Verstat {
        let verifier = StirVerifier()
        switch verifier.examine(request, now: now) {
        case .verdict(let verdict): return verdict
        case .needsCertificate(let candidate):
            #expect(candidate.certificateURL == url)
            return await verifier.complete(candidate, chain: world.chain, trust: world.trust,
                                           now: Date(timeIntervalSince1970: TimeInterval(now)))
        }
    }

    @Test(arguments: PASSporT.Attestation.allCases) func aSignedCallVerifies(attest: PASSporT.Attestation) async throws {
        let world = try Self.world()
        let identity = try world.signer.identity(orig: "12155550121", dest: ["12155550131"], attest: attest, iat: Self.now)
        #expect(identity.hasSuffix(";info=<\(Self.url)>;alg=ES256;ppt=shaken"))
        #expect(await Self.verify(try Self.request([identity]), world) == .passed)
        // A certificate listing numbers instead of an SPC covers the caller by range.
        let ranged = try Self.world(authority: TNAuthList([.range(start: "12155550100", count: 100)]))
        let fromRange = try ranged.signer.identity(orig: "12155550121", dest: ["12155550131"], attest: attest, iat: Self.now)
        #expect(await Self.verify(try Self.request([fromRange]), ranged) == .passed)
    }

    @Test func eachWayToBeWrongHasItsReason() async throws {
        let world = try Self.world()
        let good = try world.signer.identity(orig: "12155550121", dest: ["12155550131"], attest: .full, iat: Self.now)
        let token = String(good.prefix { $0 != ";" })
        var tampered = Array(token.utf8)
        tampered[tampered.count - 5] = tampered[tampered.count - 5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let tamperedIdentity = String(decoding: tampered, as: UTF8.self) + good.drop { $0 != ";" }
        #expect(await Self.verify(try Self.request([tamperedIdentity]), world) == .failed(.badSignature))
        #expect(await Self.verify(try Self.request([good]), world, at: Self.now + 61) == .failed(.staleIat))
        #expect(await Self.verify(try Self.request([good]), world, at: Self.now - 61) == .failed(.staleIat))
        #expect(await Self.verify(try Self.request([good], orig: "12155550122"), world) == .failed(.origMismatch))
        #expect(await Self.verify(try Self.request([good], dest: "12155550132"), world) == .failed(.destMismatch))
        #expect(await Self.verify(try Self.request([token + ";info=<https://elsewhere.example/sp.crt>"]), world)
                == .failed(.x5uMismatch))
        #expect(await Self.verify(try Self.request([good.replacingOccurrences(of: "alg=ES256", with: "alg=RS256")]), world)
                == .failed(.unsupportedAlgorithm))

        // Someone else's CA, an expired certificate, a certificate for other numbers.
        let stranger = try Self.world()
        let foreign = World(ca: stranger.ca, chain: world.chain, signer: world.signer)
        #expect(await Self.verify(try Self.request([good]), foreign) == .failed(.certUntrusted))
        let old = try Self.world(days: 1, issuedAt: Self.nowDate.addingTimeInterval(-3 * 86_400))
        let oldIdentity = try old.signer.identity(orig: "12155550121", dest: ["12155550131"], attest: .full, iat: Self.now)
        #expect(await Self.verify(try Self.request([oldIdentity]), old) == .failed(.certExpired))
        let narrow = try Self.world(authority: TNAuthList([.one("12155550199")]))
        let narrowIdentity = try narrow.signer.identity(orig: "12155550121", dest: ["12155550131"], attest: .full, iat: Self.now)
        #expect(await Self.verify(try Self.request([narrowIdentity]), narrow) == .failed(.notCovered))
        // A key that is not the certificate's.
        let impostor = StirSigner(key: P256.Signing.PrivateKey(), certificateURL: Self.url)
        let forged = try impostor.identity(orig: "12155550121", dest: ["12155550131"], attest: .full, iat: Self.now)
        #expect(await Self.verify(try Self.request([forged]), world) == .failed(.badSignature))
    }

    /// What the verifier cannot read is no parse error and no failure: No-TN-Validation, unless a SHAKEN PASSporT is
    /// also there.
    @Test func unreadableIdentitiesAreNoValidationAndTheMessageStaysValid() async throws {
        let world = try Self.world()
        let rfc4474 = "\"ZYNBbHC00VMZr2kZt6VmCvPonWJMGvQTBDqghoWeLxJfzB2a1pxAr3VgrB0SsSAaifsRdiOPoQZYOy2wrVghuhcsMbHWUSFxI6p6q5TOQXHMmz6uEo3svJsSH49thyGnFVcnyaZ++yRlBYYQTLqWzJ+KVhPKbfU/pryhVn9Yc6U=\""
        let rfc4474Request = try Self.request([rfc4474])
        #expect(rfc4474Request.identities.first?.unreadable != nil)
        #expect(await Self.verify(rfc4474Request, world) == .noValidation(.unreadable))
        #expect(await Self.verify(try Self.request([]), world) == .noValidation(.missing))
        let good = try world.signer.identity(orig: "12155550121", dest: ["12155550131"], attest: .partial, iat: Self.now)
        let foreignPPT = good.replacingOccurrences(of: "ppt=shaken", with: "ppt=foo")
        #expect(await Self.verify(try Self.request([foreignPPT]), world) == .noValidation(.unsupportedPPT))
        #expect(await Self.verify(try Self.request([rfc4474, foreignPPT, good]), world) == .passed)
        #expect(Verstat.noValidation(.missing).rejection?.status == 428)
        #expect(Verstat.failed(.badSignature).rejection?.status == 438)
        #expect(Verstat.failed(.x5uFetchFailed).rejection?.status == 436)
        #expect(Verstat.failed(.certUntrusted).rejection?.status == 437)
    }

    /// Chains as an attacker would serve them: a hundred links, junk, nothing.
    @Test func hostileChainsAreRefusedUnwalked() throws {
        let world = try Self.world()
        let pem = try world.chain.pem()
        #expect(throws: Verstat.Reason.certUntrusted) {
            try STICertificateChain(served: Array(String(repeating: pem, count: 20).utf8))
        }
        #expect(throws: Verstat.Reason.certUntrusted) { try STICertificateChain(served: Array("junk".utf8)) }
        #expect(throws: Verstat.Reason.x5uFetchFailed) { try STICertificateChain(served: []) }
        #expect(throws: Verstat.Reason.x5uFetchFailed) {
            try STICertificateChain(served: [UInt8](repeating: 0x41, count: STICertificateChain.maxBytes + 1))
        }
        #expect(try STICertificateChain(served: Array(pem.utf8)).intermediates.count == 1, "the whole chain is kept")
    }
}
