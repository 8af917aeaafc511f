import SDP
import Testing

@Suite("a=crypto (RFC 4568 SDES)")
struct SDESTests {
    // MARK: Vectors (rfc4568/sdes-examples.json)

    @Test func vectorLines() throws {
        let vectors = try Vectors.json("rfc4568/sdes-examples.json")
        let lines = try #require(vectors["lines"] as? [[String: Any]])
        #expect(lines.count == 2)
        for entry in lines {
            let line = try #require(entry["line"] as? String)
            let value = String(try #require(line.split(separator: ":", maxSplits: 1).last))
            let crypto = try SDESCryptoAttribute(parsing: value)
            #expect(crypto.tag == UInt32(try #require(entry["tag"] as? Int)))
            #expect(crypto.suite == .aesCM128HMACSHA1_80)
            let key = try #require(crypto.keyParams.first)
            #expect(crypto.keyParams.count == 1)
            #expect(key.keyAndSalt.count == 30)
            #expect(key.masterKey(for: crypto.suite)?.count == 16)
            #expect(key.masterSalt(for: crypto.suite)?.count == 14)
            if let lifetime = entry["lifetime"] as? String {
                #expect(key.lifetime?.description == lifetime)
            } else {
                #expect(key.lifetime == nil)
            }
            let mki = try #require(key.mki)
            #expect(mki.value == UInt64(try #require(entry["mki"] as? String)))
            #expect(Int(mki.length) == (try #require(entry["mki_length"] as? Int)))
            // The wire form survives.
            #expect(crypto.serialized() == value)
        }
    }

    @Test func vectorKeyLengths() throws {
        let vectors = try Vectors.json("rfc4568/sdes-examples.json")
        let lengths = try #require(vectors["key_lengths_octets"] as? [String: Int])
        #expect(lengths.count == 5)
        for (key, length) in lengths {
            let crypto = try SDESCryptoAttribute(parsing: "1 AES_CM_128_HMAC_SHA1_80 inline:\(key)")
            #expect(crypto.keyParams[0].keyAndSalt.count == length)
            #expect(crypto.keyParams[0].serialized() == "inline:\(key)")
        }
    }

    @Test func firstVectorKeyDecodesToKnownBytes() throws {
        let crypto = try SDESCryptoAttribute(
            parsing: "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32")
        let hex = crypto.keyParams[0].keyAndSalt.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        #expect(hex == "3d2d6e40255e7821426a75667239293f2c2335685c603d265d7b71695051")
        #expect(crypto.keyParams[0].lifetime == .powerOfTwo(20))
        #expect(crypto.keyParams[0].lifetime?.packetCount == 1 << 20)
        #expect(crypto.keyParams[0].mki == SDESMKI(value: 1, length: 32))
        #expect(crypto.keyParams[0].mki?.bytes.count == 32)
        #expect(crypto.keyParams[0].mki?.bytes.last == 1)
    }

    @Test func vectorMultiCryptoOffer() throws {
        let vectors = try Vectors.json("rfc4568/sdes-examples.json")
        let offer = try #require(vectors["multi_crypto_offer"] as? [String: Any])
        var lines = try #require(offer["sdp_lines"] as? [String])
        // The first line's FEC_ORDER value is marked uncertain in the vector file; both legal
        // values are tried.
        let uncertainIndex = try #require(lines.firstIndex { $0.contains("uncertain") })
        for fecOrder in ["FEC_SRTP", "SRTP_FEC"] {
            let original = lines[uncertainIndex]
            let prefix = String(try #require(original.components(separatedBy: "FEC_ORDER=").first))
            lines[uncertainIndex] = prefix + "FEC_ORDER=" + fecOrder
            let text = crlf(lines)
            let sdp = try SessionDescription(parsing: text)
            #expect(sdp.sessionName == "SRTP Discussion")
            #expect(sdp.uri == "http://www.example.com/seminars/srtp.pdf")
            #expect(sdp.emails == ["marge@example.com (Marge Simpson)"])
            let media = try #require(sdp.media.first)
            #expect(media.proto == .rtpSAVP)
            let cryptos = media.cryptos
            #expect(cryptos.count == 2)
            #expect(cryptos[0].tag == 1 && cryptos[0].suite == .aesCM128HMACSHA1_80)
            #expect(cryptos[0].sessionParams == ["FEC_ORDER=\(fecOrder)"])
            #expect(cryptos[1].tag == 2 && cryptos[1].suite == .f8_128HMACSHA1_80)
            #expect(cryptos[1].keyParams.count == 2)
            #expect(cryptos[1].keyParams.map { $0.mki } == [SDESMKI(value: 1, length: 4), SDESMKI(value: 2, length: 4)])
            #expect(cryptos[1].keyParams.allSatisfy { $0.lifetime == .powerOfTwo(20) && $0.keyAndSalt.count == 30 })
            #expect(cryptos[1].sessionParams == ["FEC_ORDER=FEC_SRTP"])
            #expect(sdp.security(of: media) == .sdesSRTP(suites: [.aesCM128HMACSHA1_80, .f8_128HMACSHA1_80]))
            #expect(try sdp.serialized() == text)
        }
    }

    @Test func vectorNegativeCases() throws {
        let vectors = try Vectors.json("rfc4568/sdes-examples.json")
        let negatives = try #require(vectors["negative_cases_for_parsers"] as? [[String: Any]])
        #expect(negatives.count == 2)
        var codes: [SDPParseError.Code] = []
        for entry in negatives {
            let line = try #require(entry["line"] as? String)
            let value = String(try #require(line.split(separator: ":", maxSplits: 1).last))
            let error = try #require(captureError { try SDESCryptoAttribute(parsing: value) })
            codes.append(error.code)
            #expect(parseError(session(["m=audio 4000 RTP/SAVP 0", line]))?.code == error.code)
        }
        #expect(codes == [.invalidKeyLength, .invalidLifetime])
    }

    // MARK: Key lengths per suite

    static let suiteLengths: [(String, SRTPCryptoSuite, Int)] = [
        ("AES_CM_128_HMAC_SHA1_80", .aesCM128HMACSHA1_80, 30),
        ("AES_CM_128_HMAC_SHA1_32", .aesCM128HMACSHA1_32, 30),
        ("F8_128_HMAC_SHA1_80", .f8_128HMACSHA1_80, 30),
        ("AES_192_CM_HMAC_SHA1_80", .aes192CMHMACSHA1_80, 38),
        ("AES_192_CM_HMAC_SHA1_32", .aes192CMHMACSHA1_32, 38),
        ("AES_256_CM_HMAC_SHA1_80", .aes256CMHMACSHA1_80, 46),
        ("AES_256_CM_HMAC_SHA1_32", .aes256CMHMACSHA1_32, 46),
        ("AEAD_AES_128_GCM", .aeadAES128GCM, 28),
        ("AEAD_AES_256_GCM", .aeadAES256GCM, 44),
    ]

    @Test(arguments: suiteLengths)
    func keyLengthPerSuite(name: String, suite: SRTPCryptoSuite, length: Int) throws {
        #expect(SRTPCryptoSuite(name: name) == suite)
        #expect(suite.name == name)
        #expect(suite.keyAndSaltLength == length)
        let crypto = try SDESCryptoAttribute(parsing: "1 \(name) inline:\(ExampleKeys.base64(length: length))")
        #expect(crypto.suite == suite)
        #expect(crypto.keyParams[0].keyAndSalt == Array(0..<UInt8(length)))
        let key = try #require(crypto.keyParams[0].masterKey(for: suite))
        let salt = try #require(crypto.keyParams[0].masterSalt(for: suite))
        #expect(key.count == suite.masterKeyLength && salt.count == suite.masterSaltLength)
        #expect(key + salt == crypto.keyParams[0].keyAndSalt)

        // Every other example length is wrong for this suite.
        for other in [16, 28, 29, 30, 31, 38, 44, 46] where other != length {
            let error = captureError { try SDESCryptoAttribute(parsing: "1 \(name) inline:\(ExampleKeys.base64(length: other))") }
            #expect(error?.code == .invalidKeyLength, "\(name) with \(other) bytes")
        }
    }

    @Test func keyTooShortOrTooLongInSession() {
        for length in [29, 31] {
            let line = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(ExampleKeys.base64(length: length))"
            let error = parseError(session(["m=audio 4000 RTP/SAVP 0", line]))
            #expect(error?.code == .invalidKeyLength)
            #expect(error?.lineNumber == 7)
        }
    }

    @Test func suiteNamesAreCaseInsensitiveAndUnknownSuitesParse() throws {
        #expect(SRTPCryptoSuite(name: "aes_cm_128_hmac_sha1_80") == .aesCM128HMACSHA1_80)
        let unknown = try SDESCryptoAttribute(parsing: "7 AES_CM_256_HMAC_SHA1_80 inline:\(ExampleKeys.bytes16)|2^60")
        #expect(unknown.suite == .unknown("AES_CM_256_HMAC_SHA1_80"))
        #expect(!unknown.suite.isRegistered)
        #expect(unknown.suite.keyAndSaltLength == nil)
        #expect(unknown.keyParams[0].keyAndSalt.count == 16)
        #expect(unknown.keyParams[0].masterKey(for: unknown.suite) == nil)
        #expect(SRTPCryptoSuite.registered.count == 9)
    }

    // MARK: Lifetime and MKI

    @Test(arguments: [
        ("|2^48", SDESLifetime.powerOfTwo(48)),
        ("|2^0", SDESLifetime.powerOfTwo(0)),
        ("|1048576", SDESLifetime.packets(1_048_576)),
        ("|281474976710656", SDESLifetime.packets(281_474_976_710_656)),
    ])
    func validLifetimes(suffix: String, lifetime: SDESLifetime) throws {
        let crypto = try SDESCryptoAttribute(parsing: "1 AES_CM_128_HMAC_SHA1_80 inline:\(ExampleKeys.bytes30)\(suffix)")
        #expect(crypto.keyParams[0].lifetime == lifetime)
    }

    @Test(arguments: ["|2^49", "|2^99", "|2^", "|2^1000", "|0", "|281474976710657", "|99999999999999999999999",
                      "|x", "|-1", "|1:4|2^20"])
    func invalidLifetimes(suffix: String) {
        let error = captureError { try SDESCryptoAttribute(parsing: "1 AES_CM_128_HMAC_SHA1_80 inline:\(ExampleKeys.bytes30)\(suffix)") }
        #expect(error?.code == (suffix == "|1:4|2^20" ? .invalidMKI : .invalidLifetime))
    }

    @Test(arguments: [
        ("|1:1", SDESMKI(value: 1, length: 1)),
        ("|255:1", SDESMKI(value: 255, length: 1)),
        ("|65535:2", SDESMKI(value: 65_535, length: 2)),
        ("|18446744073709551615:128", SDESMKI(value: UInt64.max, length: 128)),
        ("|2^20|1066:4", SDESMKI(value: 1066, length: 4)),
    ])
    func validMKIs(suffix: String, mki: SDESMKI) throws {
        let crypto = try SDESCryptoAttribute(parsing: "1 AES_CM_128_HMAC_SHA1_80 inline:\(ExampleKeys.bytes30)\(suffix)")
        #expect(crypto.keyParams[0].mki == mki)
        #expect(crypto.keyParams[0].mki?.bytes.count == Int(mki.length))
    }

    @Test(arguments: ["|1:0", "|1:129", "|256:1", "|65536:2", "|1:", "|:4", "|x:4", "|1:1000", "|1:4:5",
                      "|18446744073709551616:128"])
    func invalidMKIs(suffix: String) {
        let error = captureError { try SDESCryptoAttribute(parsing: "1 AES_CM_128_HMAC_SHA1_80 inline:\(ExampleKeys.bytes30)\(suffix)") }
        #expect(error?.code == .invalidMKI)
    }

    @Test func multipleKeysNeedDistinctSameLengthMKIs() {
        let key = ExampleKeys.bytes30
        #expect(captureError { try SDESCryptoAttribute(parsing: "1 AES_CM_128_HMAC_SHA1_80 inline:\(key)|1:4;inline:\(key)|2:4") } == nil)
        #expect(captureError { try SDESCryptoAttribute(parsing: "1 AES_CM_128_HMAC_SHA1_80 inline:\(key);inline:\(key)") }?.code == .invalidMKI)
        #expect(captureError { try SDESCryptoAttribute(parsing: "1 AES_CM_128_HMAC_SHA1_80 inline:\(key)|1:4;inline:\(key)|2:2") }?.code == .invalidMKI)
        #expect(captureError { try SDESCryptoAttribute(parsing: "1 AES_CM_128_HMAC_SHA1_80 inline:\(key)|1:4;inline:\(key)|1:4") }?.code == .invalidMKI)
    }

    @Test func keyParamLimit() {
        let key = "inline:\(ExampleKeys.bytes30)"
        let keys = (1...17).map { "\(key)|\($0):1" }.joined(separator: ";")
        #expect(captureError { try SDESCryptoAttribute(parsing: "1 AES_CM_128_HMAC_SHA1_80 \(keys)") }?.code == .tooManyValues)
        #expect(captureError { try SDESCryptoAttribute(parsing: "1 AES_CM_128_HMAC_SHA1_80 \(keys)", maxKeyParams: 17) } == nil)
    }

    // MARK: Structure and base64

    @Test(arguments: [
        ("", SDPParseError.Code.invalidCrypto),
        ("1 AES_CM_128_HMAC_SHA1_80", .invalidCrypto),
        ("1234567890 AES_CM_128_HMAC_SHA1_80 inline:\(ExampleKeys.bytes30)", .invalidCrypto),
        ("x AES_CM_128_HMAC_SHA1_80 inline:\(ExampleKeys.bytes30)", .invalidCrypto),
        ("1 AES-CM-128 inline:\(ExampleKeys.bytes30)", .invalidCrypto),
        ("1 AES_CM_128_HMAC_SHA1_80 uri:\(ExampleKeys.bytes30)", .invalidCrypto),
        ("1 AES_CM_128_HMAC_SHA1_80 \(ExampleKeys.bytes30)", .invalidCrypto),
        (" 1 AES_CM_128_HMAC_SHA1_80 inline:\(ExampleKeys.bytes30)", .invalidCrypto),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:\(ExampleKeys.bytes30) ", .invalidCrypto),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:\(ExampleKeys.bytes30)|2^20|1:4|5", .invalidCrypto),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:", .invalidBase64),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:!!!!AwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd", .invalidBase64),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd=", .invalidBase64),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw=A", .invalidBase64),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGx==", .invalidBase64),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH", .invalidBase64),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYX-BkaGxwd", .invalidBase64),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd===", .invalidBase64),
    ])
    func malformedCrypto(value: String, code: SDPParseError.Code) {
        #expect(captureError { try SDESCryptoAttribute(parsing: value) }?.code == code)
    }

    @Test func unpaddedBase64IsAccepted() throws {
        // 28 bytes (AEAD_AES_128_GCM) canonically needs one '=' of padding; some stacks omit it.
        let unpadded = String(ExampleKeys.bytes28.dropLast(2))
        let crypto = try SDESCryptoAttribute(parsing: "1 AEAD_AES_128_GCM inline:\(unpadded)")
        #expect(crypto.keyParams[0].keyAndSalt == Array(0..<28))
        #expect(crypto.keyParams[0].serialized() == "inline:\(ExampleKeys.bytes28)")
    }

    @Test func multipleSpacesBetweenFieldsAreAllowed() throws {
        let crypto = try SDESCryptoAttribute(parsing: "1  AES_CM_128_HMAC_SHA1_32   inline:\(ExampleKeys.bytes30)  KDR=1")
        #expect(crypto.suite == .aesCM128HMACSHA1_32)
        #expect(crypto.sessionParams == ["KDR=1"])
    }

    @Test func sessionParameterFlags() throws {
        let crypto = try SDESCryptoAttribute(
            parsing: "1 AES_CM_128_HMAC_SHA1_80 inline:\(ExampleKeys.bytes30) UNENCRYPTED_SRTP UNENCRYPTED_SRTCP UNAUTHENTICATED_SRTP")
        #expect(crypto.isSRTPUnencrypted && crypto.isSRTCPUnencrypted && crypto.isSRTPUnauthenticated)
        let plain = try SDESCryptoAttribute(parsing: "1 AES_CM_128_HMAC_SHA1_80 inline:\(ExampleKeys.bytes30)")
        #expect(!plain.isSRTPUnencrypted && !plain.isSRTCPUnencrypted && !plain.isSRTPUnauthenticated)
    }

    @Test func duplicateTagsAndSessionLevelCryptoAreRejected() {
        let line = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(ExampleKeys.bytes30)"
        #expect(parseError(session(["m=audio 4000 RTP/SAVP 0", line, line]))?.code == .duplicateAttribute)
        #expect(parseError(session([line]))?.code == .misplacedAttribute)
        #expect(parseError(session(["m=audio 4000 RTP/SAVP 0", "a=crypto"]))?.code == .invalidCrypto)
    }

    @Test func keysAreRedactedFromDescriptions() throws {
        let key = ExampleKeys.bytes30
        let crypto = try SDESCryptoAttribute(parsing: "1 AES_CM_128_HMAC_SHA1_80 inline:\(key)|2^20|1:4")
        #expect(crypto.description == "1 AES_CM_128_HMAC_SHA1_80 inline:<redacted 30 bytes>|2^20|1:4")
        #expect(!String(describing: crypto).contains(key))
        #expect(!String(reflecting: crypto.keyParams[0]).contains(key))
        var dumped = ""
        dump(crypto.keyParams[0], to: &dumped)
        #expect(!dumped.contains("0, 1, 2"))
        #expect(dumped.contains("redacted"))
        #expect(crypto.serialized() == "1 AES_CM_128_HMAC_SHA1_80 inline:\(key)|2^20|1:4")
        #expect(SDPAttribute.crypto(crypto).description == "crypto:<redacted>")
        #expect(SDPAttribute.crypto(crypto).serialized() == "crypto:" + crypto.serialized())
    }

    @Test func builtCryptoRoundTrips() throws {
        let key = SDESKeyParam(keyAndSalt: Array(0..<46), lifetime: .packets(1000), mki: SDESMKI(value: 7, length: 2))
        let crypto = SDESCryptoAttribute(tag: 3, suite: .aes256CMHMACSHA1_80, keyParams: [key], sessionParams: ["KDR=0"])
        #expect(try SDESCryptoAttribute(parsing: crypto.serialized()) == crypto)
    }
}
