@testable import SDP
import Testing

@Suite("Base64 (internal)")
struct Base64Tests {
    // RFC 4648 §10 test vectors.
    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ])
    func rfc4648Vectors(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        if !encoded.isEmpty {
            #expect(Base64.decode(encoded) == Array(plain.utf8))
            #expect(Base64.decode(String(encoded.filter { $0 != "=" })) == Array(plain.utf8))
        }
    }

    @Test func allByteValuesRoundTrip() {
        let bytes = (0...255).map { UInt8($0) }
        for length in 0...bytes.count where length % 17 == 0 || length < 8 {
            let slice = Array(bytes[..<length])
            if length > 0 {
                #expect(Base64.decode(Base64.encode(slice)) == slice)
            }
        }
        #expect(Base64.encode([0xFB, 0xFF]) == "+/8=")
        #expect(Base64.decode("+/8=") == [0xFB, 0xFF])
    }

    @Test(arguments: ["", "=", "Zg=", "Zg===", "Z", "Zm9vY", "Zm=v", "Zh==", "Zm9=", "Zm9v\u{0}", "Zm 9v", "Zm9v-_", "é123"])
    func rejectsMalformed(text: String) {
        #expect(Base64.decode(text) == nil)
    }
}
