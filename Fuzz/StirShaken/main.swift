import SIPMessage
import StirShaken
import SwiftASN1

/// libFuzzer entry point: the input as an Identity header value (RFC 8224), its PASSporT, its JSON, base64url, a
/// TNAuthList and a revocation list: nothing may crash or hang, and what reads must write back as it was read (JSON's deterministic form
/// reads back equal, base64url decodes to one encoding, a TNAuthList re-encodes to a list that reads back equal).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)

    let identity = SIPIdentity(parsing: text)
    let request = StirVerifier.Request(identities: [identity], origTN: "12155550121", destTNs: ["12155550131"])
    _ = StirVerifier().examine(request, now: 1_800_000_000)
    if let passport = try? PASSporT(token: identity.token) { _ = passport.rcdIntegrityHolds }

    if let json = try? JSONValue(parsing: bytes) {
        guard (try? JSONValue(parsing: json.canonical)) == json else { fatalError("the deterministic form reads back otherwise") }
    }
    if let decoded = Base64URL.decode(text), Base64URL.encode(decoded) != text {
        fatalError("a second base64url encoding of the same bytes")
    }
    if let list = try? TNAuthList(derEncoded: bytes) {
        var serializer = DER.Serializer()
        guard (try? serializer.serialize(list)) != nil, (try? TNAuthList(derEncoded: serializer.serializedBytes)) == list else {
            fatalError("a TNAuthList that does not read back")
        }
        _ = list.covers(number: "12155550121")
    }
    _ = TelephoneNumber.fromURI(text)
    if let list = try? RevocationList(bytes) { _ = list.revokedSerials.count }
    return 0
}
