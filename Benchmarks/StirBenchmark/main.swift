import Crypto
import Foundation
import SIPMessage
import StirShaken

// STIR/SHAKEN signing and verification on one thread, for `scripts/bench-stir` (against libsecsipid in the same run).
// Verification is the edge's per-call work with the signer's chain cached: the Identity header read, the claims
// checked against the request (StirVerifier.examine), then the signature and the TNAuthList (complete with the
// cached signer, whose key gets its table of multiples after its first 1,024 uses as at the edge). Signing is
// StirSigner.identity. Prints "<name> <operations> <seconds>" per operation.
//
//   StirBenchmark SECONDS
//   StirBenchmark --emit COUNT KEY_PEM X5U ORIG DEST   prints COUNT fresh PASSporTs (tokens only, distinct origids),
//                                                      for the calls-per-second run of scripts/bench-stir-calls
let arguments = CommandLine.arguments
if arguments.count == 7, arguments[1] == "--emit", let count = Int(arguments[2]) {
    let signer = try StirSigner(keyPEM: String(contentsOfFile: arguments[3], encoding: .utf8), certificateURL: arguments[4])
    let now = Int64(Date().timeIntervalSince1970)
    var lines = ""
    for _ in 0..<count {
        let value = try signer.identity(orig: arguments[5], dest: [arguments[6]], attest: .full, iat: now)
        lines += value.prefix { $0 != ";" } + "\n"
    }
    print(lines, terminator: "")
    exit(0)
}
let seconds = Double(CommandLine.arguments.dropFirst().first ?? "3") ?? 3
let ca = try TestSTICA.create()
let issued = try ca.issue(authority: TNAuthList([.spc("1234")]), commonName: "SHAKEN 1234")
let signer = try StirSigner(keyPEM: issued.keyPEM, certificateURL: "https://certs.example.net/sp.crt")
let chain = try STICertificateChain(served: Array(issued.chainPEM.utf8))
guard case .success(let cached) = await STITrust(roots: [ca.root]).evaluate(chain, at: Date()) else {
    fatalError("the test chain does not check out")
}

func run(_ name: String, _ body: () throws -> Void) rethrows {
    let clock = ContinuousClock()
    let start = clock.now
    var operations = 0
    while clock.now - start < .seconds(seconds) {
        for _ in 0..<100 { try body() }
        operations += 100
    }
    let elapsed = clock.now - start
    print(name, operations, String(format: "%.3f", Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
}

let now = Int64(Date().timeIntervalSince1970)
var identity = ""
try run("sign") {
    identity = try signer.identity(orig: "12155550121", dest: ["12155550131"], attest: .full,
                                   origid: "123e4567-e89b-12d3-a456-426655440000", iat: now)
}
let verifier = StirVerifier(maxAgeSeconds: 3_600)
run("verify") {
    let request = StirVerifier.Request(identities: [SIPIdentity(parsing: identity)], origTN: "12155550121",
                                       destTNs: ["12155550131"])
    guard case .needsCertificate(let candidate) = verifier.examine(request, now: now),
        verifier.complete(candidate, signer: cached) == .passed
    else { fatalError("verification failed") }
}
// The signer's key earned its table (ES256VerifyingKey) within the run's first thousand verifications.
guard cached.verifyingKey.hasTable || !ES256VerifyingKey.tablesAvailable else { fatalError("no table was built") }
// The floors: one P-256 ECDSA signature and one verification of the same signing input, the latter through the key's
// table and through swift-crypto alone (what a key without a table costs).
let signingKey = try P256.Signing.PrivateKey(pemRepresentation: issued.keyPEM)
let input = Array(identity.utf8.prefix { $0 != UInt8(ascii: ".") })
try run("ecdsa-sign") { _ = try signingKey.signature(for: input) }
let passport = try PASSporT(token: String(identity.prefix { $0 != ";" }))
run("ecdsa-verify") {
    guard passport.isSigned(by: cached.verifyingKey) else { fatalError("the signature does not verify") }
}
run("ecdsa-verify-untabled") {
    guard passport.isSigned(by: cached.key) else { fatalError("the signature does not verify") }
}
run("examine") {
    let request = StirVerifier.Request(identities: [SIPIdentity(parsing: identity)], origTN: "12155550121",
                                       destTNs: ["12155550131"])
    guard case .needsCertificate = verifier.examine(request, now: now) else { fatalError("examine failed") }
}
