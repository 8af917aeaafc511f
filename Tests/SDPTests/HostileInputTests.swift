import SDP
import Testing

@Suite("Grammar strictness and hostile input")
struct HostileInputTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let text: String
        let code: SDPParseError.Code
        let line: Int?
        var testDescription: String { name }
    }

    static let grammarCases: [Case] = [
        Case(name: "empty input", text: "", code: .missingRequiredLine, line: 1),
        Case(name: "missing v=", text: crlf(["o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0"]), code: .missingRequiredLine, line: 1),
        Case(name: "v=1", text: crlf(["v=1", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0"]), code: .unsupportedVersion, line: 1),
        Case(name: "v=x", text: crlf(["v=x"]), code: .malformedLine, line: 1),
        Case(name: "missing o=", text: crlf(["v=0", "s=-", "t=0 0"]), code: .missingRequiredLine, line: 2),
        Case(name: "missing s=", text: crlf(["v=0", "o=- 1 1 IN IP4 192.0.2.1", "t=0 0"]), code: .missingRequiredLine, line: 3),
        Case(name: "missing t=", text: crlf(["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1"]),
             code: .missingRequiredLine, line: 4),
        Case(name: "m= before t=", text: crlf(["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "m=audio 1 RTP/AVP 0"]),
             code: .missingRequiredLine, line: 4),
        Case(name: "a= before t=", text: crlf(["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "a=sendrecv", "t=0 0"]),
             code: .missingRequiredLine, line: 4),
        Case(name: "s= before o=", text: crlf(["v=0", "s=-", "o=- 1 1 IN IP4 192.0.2.1", "t=0 0"]),
             code: .missingRequiredLine, line: 2),
        Case(name: "second v=", text: crlf(["v=0", "v=0"]), code: .unexpectedLine, line: 2),
        Case(name: "second s=", text: crlf(["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "s=-", "t=0 0"]),
             code: .unexpectedLine, line: 4),
        Case(name: "c= after b=", text: crlf(["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "b=AS:1", "c=IN IP4 192.0.2.1", "t=0 0"]),
             code: .unexpectedLine, line: 5),
        Case(name: "t= after a=", text: session(["a=sendrecv", "t=0 0"]), code: .unexpectedLine, line: 7),
        Case(name: "r= after z=", text: session(["z=1 0", "r=1 1 0"]), code: .unexpectedLine, line: 7),
        Case(name: "two z=", text: session(["z=1 0", "z=2 0"]), code: .unexpectedLine, line: 7),
        Case(name: "e= after t=", text: session(["e=a@example.com"]), code: .unexpectedLine, line: 6),
        Case(name: "s= in media", text: session(["m=audio 1 RTP/AVP 0", "s=-"]), code: .unexpectedLine, line: 7),
        Case(name: "i= after c= in media", text: session(["m=audio 1 RTP/AVP 0", "c=IN IP4 192.0.2.1", "i=x"]),
             code: .unexpectedLine, line: 8),
        Case(name: "k= after a= in media", text: session(["m=audio 1 RTP/AVP 0", "a=sendrecv", "k=prompt"]),
             code: .unexpectedLine, line: 8),
        Case(name: "unknown type letter", text: session(["x=1"]), code: .unknownLineType, line: 6),
        Case(name: "unknown type letter in media", text: session(["m=audio 1 RTP/AVP 0", "y=1"]), code: .unknownLineType, line: 7),
        Case(name: "upper-case type", text: session(["A=sendrecv"]), code: .malformedLine, line: 6),
        Case(name: "space before =", text: session(["a =sendrecv"]), code: .malformedLine, line: 6),
        Case(name: "no =", text: session(["a"]), code: .malformedLine, line: 6),
        Case(name: "empty line inside", text: crlf(["v=0", "", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0"]),
             code: .malformedLine, line: 2),
        Case(name: "trailing blank line", text: session([""]), code: .malformedLine, line: 6),
        Case(name: "empty attribute", text: session(["a="]), code: .invalidAttribute, line: 6),
        Case(name: "attribute with empty value", text: session(["a=tool:"]), code: .invalidAttribute, line: 6),
        Case(name: "attribute name with bad char", text: session(["a=to\"ol:x"]), code: .invalidAttribute, line: 6),
        Case(name: "empty i=", text: crlf(["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "i=", "t=0 0"]),
             code: .invalidText, line: 4),
        Case(name: "truncated o=", text: crlf(["v=0", "o=alice 123", "s=-", "t=0 0"]), code: .invalidOrigin, line: 2),
        Case(name: "truncated c=", text: crlf(["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4", "t=0 0"]),
             code: .invalidConnection, line: 4),
        Case(name: "truncated t=", text: crlf(["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0"]), code: .invalidTiming, line: 4),
        Case(name: "truncated m=", text: session(["m=audio"]), code: .invalidMedia, line: 6),
        Case(name: "m= without formats", text: session(["m=audio 4000 RTP/AVP"]), code: .invalidMedia, line: 6),
        Case(name: "m= trailing space", text: session(["m=audio 4000 RTP/AVP 0 "]), code: .invalidMedia, line: 6),
        Case(name: "m= double space", text: session(["m=audio  4000 RTP/AVP 0"]), code: .invalidMedia, line: 6),
        Case(name: "absurd port", text: session(["m=audio 99999999999 RTP/AVP 0"]), code: .invalidMedia, line: 6),
        Case(name: "huge port", text: session(["m=audio 999999999999999999999999999999 RTP/AVP 0"]), code: .invalidMedia, line: 6),
        Case(name: "port 65536", text: session(["m=audio 65536 RTP/AVP 0"]), code: .invalidMedia, line: 6),
        Case(name: "negative port", text: session(["m=audio -1 RTP/AVP 0"]), code: .invalidMedia, line: 6),
        Case(name: "zero port count", text: session(["m=audio 4000/0 RTP/AVP 0"]), code: .invalidMedia, line: 6),
        Case(name: "port range overflow", text: session(["m=audio 65000/1000 RTP/AVP 0"]), code: .invalidMedia, line: 6),
        Case(name: "RTP format not a number", text: session(["m=audio 4000 RTP/AVP PCMU"]), code: .invalidMedia, line: 6),
        Case(name: "RTP payload type 128", text: session(["m=audio 4000 RTP/AVP 128"]), code: .invalidMedia, line: 6),
        Case(name: "RTP payload type with leading zero", text: session(["m=audio 4000 RTP/AVP 08"]), code: .invalidMedia, line: 6),
        Case(name: "bad bandwidth", text: crlf(["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "b=AS:abc", "t=0 0"]),
             code: .invalidBandwidth, line: 4),
        Case(name: "bad repeat", text: session(["r=0 1 0"]), code: .invalidRepeat, line: 6),
        Case(name: "repeat without offset", text: session(["r=7d 1h"]), code: .invalidRepeat, line: 6),
        Case(name: "bad repeat unit", text: session(["r=7w 1h 0"]), code: .invalidRepeat, line: 6),
        Case(name: "odd zone list", text: session(["z=1 -1h 2"]), code: .invalidZoneAdjustment, line: 6),
        Case(name: "empty key", text: session(["k="]), code: .invalidKey, line: 6),
        Case(name: "huge sess-version", text: crlf(["v=0", "o=- 1 184467440737095516160 IN IP4 192.0.2.1", "s=-", "t=0 0"]),
             code: .invalidOrigin, line: 2),
    ]

    @Test(arguments: grammarCases)
    func rejectsMalformedDescription(_ testCase: Case) {
        let error = parseError(testCase.text)
        #expect(error?.code == testCase.code)
        #expect(error?.lineNumber == testCase.line)
    }

    @Test(arguments: [
        ("NUL byte", "s=a\u{0}b"),
        ("TAB", "s=a\tb"),
        ("bare CR", "s=a\rb"),
        ("DEL", "s=a\u{7F}b"),
        ("escape", "s=\u{1B}[31m"),
        ("vertical tab", "s=a\u{0B}"),
    ])
    func rejectsControlCharacters(name: String, line: String) {
        let text = crlf(["v=0", "o=- 1 1 IN IP4 192.0.2.1", line, "t=0 0"])
        let error = parseError(text)
        #expect(error?.code == .invalidCharacter, "\(name)")
        #expect(error?.lineNumber == 3)
    }

    @Test func rejectsCRAtEndOfInputWithoutLF() {
        #expect(parseError(session([]) + "a=sendrecv\r")?.code == .invalidCharacter)
    }

    @Test func rejectsInvalidUTF8() {
        var bytes = Array(crlf(["v=0", "o=- 1 1 IN IP4 192.0.2.1"]).utf8)
        bytes += Array("s=".utf8) + [0xC3, 0x28] + Array("\r\nt=0 0\r\n".utf8)
        let error = captureError { try SessionDescription(parsing: bytes) }
        #expect(error?.code == .invalidUTF8)
        #expect(error?.lineNumber == 3)
    }

    @Test func acceptsUTF8Text() throws {
        let sdp = try SessionDescription(parsing: crlf(["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=Konferenz über SRTP ☎", "t=0 0"]))
        #expect(sdp.sessionName == "Konferenz über SRTP ☎")
    }

    @Test func rejectsOversizedInputBeforeParsing() {
        let huge = session([]) + String(repeating: "a=x-padding:0123456789abcdef\r\n", count: 3_000)
        #expect(huge.utf8.count > 65_536)
        #expect(parseError(huge)?.code == .inputTooLarge)
        #expect(parseError(session([]), limits: SDPParseLimits(maxTotalBytes: 16))?.code == .inputTooLarge)
        let bytes = [UInt8](repeating: 0x61, count: 70_000)
        #expect(captureError { try SessionDescription(parsing: bytes) }?.code == .inputTooLarge)
    }

    @Test func rejectsTenThousandAttributes() {
        let attributes = (0..<10_000).map { "a=x-attr:\($0)" }
        let text = session(attributes)
        // With default limits the body is already over 64 KiB.
        #expect(text.utf8.count > 65_536)
        #expect(parseError(text)?.code == .inputTooLarge)
        // Within the size limit, the line limit or attribute limit stops it early.
        let big = SDPParseLimits(maxTotalBytes: 1 << 20)
        let error = parseError(text, limits: big)
        #expect(error?.code == .tooManyAttributes)
        #expect(error?.lineNumber == 5 + 257)
        #expect(parseError(text, limits: SDPParseLimits(maxTotalBytes: 1 << 20, maxAttributesPerSection: 20_000))?.code
                == .tooManyLines)
        let relaxed = SDPParseLimits(maxTotalBytes: 1 << 20, maxLines: 20_000, maxAttributesPerSection: 20_000)
        #expect(parseError(text, limits: relaxed) == nil)
        // In a media section too.
        #expect(parseError(session(["m=audio 1 RTP/AVP 0"] + attributes), limits: big)?.code == .tooManyAttributes)
    }

    @Test func rejectsTooManyLines() {
        let limits = SDPParseLimits(maxLines: 10)
        let error = parseError(session((0..<10).map { "a=x:\($0)" }), limits: limits)
        #expect(error?.code == .tooManyLines)
        #expect(error?.lineNumber == 11)
    }

    @Test func rejectsLongLines() {
        let long = "a=x-long:" + String(repeating: "z", count: 5_000)
        let error = parseError(session([long]))
        #expect(error?.code == .lineTooLong)
        #expect(error?.lineNumber == 6)
        #expect(parseError(session(["a=x:" + String(repeating: "z", count: 4_092)])) == nil)
        #expect(parseError(session(["a=x:" + String(repeating: "z", count: 4_093)]))?.code == .lineTooLong)
    }

    @Test func rejectsTooManyMediaSections() {
        let sections = (0..<65).map { "m=audio \(4000 + 2 * $0) RTP/AVP 0" }
        #expect(parseError(session(Array(sections.prefix(64)))) == nil)
        let error = parseError(session(sections))
        #expect(error?.code == .tooManyMediaSections)
        #expect(error?.lineNumber == 5 + 65)
    }

    @Test func rejectsTooManyFormats() {
        let formats = (0..<128).map(String.init).joined(separator: " ")
        #expect(parseError(session(["m=audio 4000 RTP/AVP \(formats)"])) == nil)
        let error = parseError(session(["m=audio 4000 RTP/AVP \(formats)"]), limits: SDPParseLimits(maxFormatsPerMedia: 127))
        #expect(error?.code == .tooManyValues)
    }

    @Test func rejectsTooManyRepeatedFields() {
        let emails = (0..<33).map { "e=user\($0)@example.com" }
        let text = crlf(["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-"] + emails + ["t=0 0"])
        #expect(parseError(text)?.code == .tooManyValues)
        let connections = (0..<33).map { _ in "c=IN IP4 192.0.2.1" }
        #expect(parseError(session(["m=audio 1 RTP/AVP 0"] + connections))?.code == .tooManyValues)
        let timings = (0..<33).map { _ in "t=0 0" }
        #expect(parseError(crlf(["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-"] + timings))?.code == .tooManyValues)
    }

    @Test func rejectsTooManyCandidatesAndCryptos() {
        let candidates = (0..<65).map { "a=candidate:\($0) 1 UDP 2130706431 192.0.2.1 \(5000 + $0) typ host" }
        #expect(parseError(session(["m=audio 1 RTP/AVP 0"] + candidates.prefix(64))) == nil)
        #expect(parseError(session(["m=audio 1 RTP/AVP 0"] + candidates))?.code == .tooManyCandidates)

        let cryptos = (1...17).map { "a=crypto:\($0) AES_CM_128_HMAC_SHA1_80 inline:\(ExampleKeys.bytes30)" }
        #expect(parseError(session(["m=audio 1 RTP/SAVP 0"] + cryptos.prefix(16))) == nil)
        #expect(parseError(session(["m=audio 1 RTP/SAVP 0"] + cryptos))?.code == .tooManyCryptoAttributes)
        #expect(parseError(session(["m=audio 1 RTP/SAVP 0"] + cryptos.prefix(3)),
                           limits: SDPParseLimits(maxCryptoAttributesPerSection: 2))?.code == .tooManyCryptoAttributes)
    }

    @Test func errorsNeverEchoKeyMaterial() {
        let key = "PS1uQCVeeCFCanVmcjkpPywjNWhc" // 21 bytes: wrong length
        let error = parseError(session(["m=audio 1 RTP/SAVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(key)"]))
        #expect(error?.code == .invalidKeyLength)
        #expect(error.map { !String(describing: $0).contains(key) } == true)
        #expect(error.map { !$0.reason.contains(key) } == true)
        let badBase64 = "!!!!uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
        let error2 = parseError(session(["m=audio 1 RTP/SAVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(badBase64)"]))
        #expect(error2?.code == .invalidBase64)
        #expect(error2.map { !String(describing: $0).contains(badBase64) } == true)
    }

    @Test func errorEqualityComparesCodeOnly() {
        let a = SDPParseError(.invalidMedia, reason: "one", lineNumber: 1)
        let b = SDPParseError(.invalidMedia, reason: "two", lineNumber: 9)
        #expect(a == b)
        #expect(a != SDPParseError(.invalidOrigin, reason: "one", lineNumber: 1))
        #expect(Set([a, b]).count == 1)
        #expect(a.description == "SDPParseError.invalidMedia: one (SDP line 1)")
        #expect(a.sourceFile.hasSuffix("HostileInputTests.swift"))
    }

    @Test func errorsCarrySourceLocation() {
        let error = parseError(session(["m=audio 99999 RTP/AVP 0"]))
        #expect(error?.sourceFile.hasPrefix("SDP/") == true)
        #expect((error?.sourceLine ?? 0) > 0)
    }
}
