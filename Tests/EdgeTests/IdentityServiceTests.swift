import Edge
import Foundation
import SIPMessage
import StirShaken
import Storage
import Testing

/// The edge's STI-VS over what it has cached (a chain read back from the store, as after a restart): no network.
@Suite struct IdentityServiceTests {
    static let url = "https://certs.example.net/sp.crt"
    static let now: Int64 = 1_800_000_000

    struct Setup {
        let service: IdentityService
        let signer: StirSigner
    }

    static func setup() async throws -> Setup {
        let issuedAt = Date(timeIntervalSince1970: TimeInterval(now))
        let ca = try TestSTICA.create(now: issuedAt)
        let issued = try ca.issue(authority: TNAuthList([.spc("1234")]), commonName: "SHAKEN 1234", now: issuedAt)
        let store = InMemoryStore()
        try await store.saveCertificateChain(CachedCertificateChain(url: url, chain: Array(issued.chainPEM.utf8),
                                                                    expiresAtEpochSeconds: now + 3_600))
        let service = try IdentityService(configuration: .init(trust: STITrust(roots: [ca.root])))
        await service.restore(from: store, epochSeconds: now, monotonic: .seconds(10))
        #expect(service.cachedChains == 1)
        return Setup(service: service, signer: try StirSigner(keyPEM: issued.keyPEM, certificateURL: url))
    }

    static func invite(_ identities: [String]) throws -> SIPMessage {
        try SIPMessage.parse(Array((
            "INVITE sip:12155550131@edge.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
                + "From: <sip:+12155550121@carrier.example>;tag=1\r\nTo: <sip:12155550131@edge.example>\r\n"
                + "Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
                + identities.map { "Identity: \($0)\r\n" }.joined() + "Content-Length: 0\r\n\r\n").utf8))
    }

    static func verdict(_ service: IdentityService, _ identities: [String]) throws -> IdentityService.Verdict? {
        guard case .verdict(let verdict) = service.check(try invite(identities), epochSeconds: now, monotonic: .seconds(11))
        else { return nil }
        return verdict
    }

    /// Of several SHAKEN PASSporTs, one that holds passes the call; none holding, the first failure (in header order)
    /// is the verdict; a URL not cached asks for a fetch.
    @Test func onePassportThatHoldsPassesTheCall() async throws {
        let setup = try await Self.setup()
        let good = try setup.signer.identity(orig: "12155550121", dest: ["12155550131"], attest: .full, iat: Self.now)
        let stale = try setup.signer.identity(orig: "12155550121", dest: ["12155550131"], attest: .full, iat: Self.now - 600)
        let impostor = try StirSigner(key: .init(), certificateURL: Self.url)
            .identity(orig: "12155550121", dest: ["12155550131"], attest: .full, iat: Self.now)
        let verdicts = try [[stale, good], [impostor, good], [good], [impostor, stale], [stale, impostor], []]
            .map { try Self.verdict(setup.service, $0) }
        #expect(verdicts.map(\.?.verstat) == [.passed, .passed, .passed, .failed(.badSignature), .failed(.staleIat),
                                               .noValidation(.missing)])
        #expect(verdicts[2]?.replayed == true, "the good PASSporT seen a third time")
        #expect(verdicts[0]?.number == "12155550121")
        let elsewhere = try StirSigner(key: .init(), certificateURL: "https://other.example/sp.crt")
            .identity(orig: "12155550121", dest: ["12155550131"], attest: .full, iat: Self.now)
        guard case .needsCertificate(let url) = setup.service.check(try Self.invite([impostor, elsewhere]),
                                                                    epochSeconds: Self.now, monotonic: .seconds(11))
        else { Issue.record("a chain not cached must be fetched"); return }
        #expect(url == "https://other.example/sp.crt")
    }
}
