import Crypto
import SecurityPolicy
import STUN
import TestVectors
import Testing

/// STUN messages (RFC 8489): the RFC 5769 vectors, messages written and read back, and hostile bytes.
@Suite struct STUNMessageTests {
    static func vector(_ section: String) throws -> [String: Any] {
        let all = try RFCVectors.json("rfc5769/stun-test-vectors.json")
        let vectors = try #require(all["vectors"] as? [[String: Any]])
        return try #require(vectors.first { $0["section"] as? String == section })
    }

    static func message(_ section: String) throws -> (STUNMessage, [String: Any]) {
        let vector = try vector(section)
        return (try STUNMessage(parsing: [UInt8](hex: try #require(vector["hex"] as? String))), vector)
    }

    @Test func rfc5769SampleRequest() throws {
        let (message, vector) = try Self.message("2.1")
        #expect(message.type == STUNMessageType(.binding, .request))
        #expect(message.type.rawValue == 0x0001)
        #expect(message.transactionID.description == "b7e7a701bc34d686fa87dfae")
        #expect(message.software == vector["software"] as? String)
        #expect(message.username == vector["username"] as? String)
        #expect(message.uint32(.priority) == 0x6E00_01FF)
        #expect(message.has(.iceControlled))
        let key = STUNKey.shortTerm(password: try #require(vector["short_term_password"] as? String))
        #expect(message.checkIntegrity(key: key) == .holds(sha256: false))
        #expect(message.checkIntegrity(key: .shortTerm(password: "VOkJxbRl1RmTxUk/WvJxBu")) == .fails)
        #expect(message.fingerprintHolds)
        // PRIORITY and ICE-CONTROLLED are ICE's: a plain STUN server does not know PRIORITY (comprehension-required).
        #expect(message.unknownComprehensionRequired(understood: [.username, .messageIntegrity]) == [.priority])
    }

    @Test(arguments: [("2.2", "192.0.2.1", UInt16(32853)), ("2.3", "2001:db8:1234:5678:11:2233:4455:6677", UInt16(32853))])
    func rfc5769SampleResponses(section: String, address: String, port: UInt16) throws {
        let (message, vector) = try Self.message(section)
        #expect(message.type == STUNMessageType(.binding, .successResponse))
        #expect(message.type.rawValue == 0x0101)
        #expect(message.software == vector["software"] as? String)
        #expect(message.xorAddress() == STUNTransportAddress(address: try #require(IPAddress(address)), port: port))
        let key = STUNKey.shortTerm(password: try #require(vector["short_term_password"] as? String))
        #expect(message.checkIntegrity(key: key) == .holds(sha256: false))
        #expect(message.fingerprintHolds)
    }

    @Test func rfc5769LongTermRequest() throws {
        let (message, vector) = try Self.message("2.4")
        let username = try #require(vector["username"] as? String)
        #expect(message.username == username)
        #expect(message.realm == vector["realm"] as? String)
        #expect(message.nonce == vector["nonce"] as? String)
        let key = STUNKey.longTerm(username: username, realm: "example.org",
                                   password: try #require(vector["password_after_saslprep"] as? String))
        #expect(key.withBytes { Array($0) }.hex == vector["long_term_key_md5"] as? String)
        #expect(message.checkIntegrity(key: key) == .holds(sha256: false))
        #expect(!message.fingerprintHolds)  // 2.4 has none
        // One byte of the nonce changed: the integrity no longer holds.
        var tampered = message.bytes
        tampered[70] ^= 1
        #expect(try STUNMessage(parsing: tampered).checkIntegrity(key: key) == .fails)
    }

    @Test func messageTypesInterleaveMethodAndClass() {
        let known: [(STUNMethod, STUNClass, UInt16)] = [
            (.binding, .request, 0x0001), (.binding, .successResponse, 0x0101), (.binding, .errorResponse, 0x0111),
            (.binding, .indication, 0x0011), (.allocate, .request, 0x0003), (.allocate, .errorResponse, 0x0113),
            (.send, .indication, 0x0016), (.data, .indication, 0x0017), (.channelBind, .request, 0x0009),
            (.connectionAttempt, .indication, 0x001C),
        ]
        for (method, messageClass, raw) in known {
            #expect(STUNMessageType(method, messageClass).rawValue == raw)
            #expect(STUNMessageType(rawValue: raw) == STUNMessageType(method, messageClass))
        }
        for method in stride(from: UInt16(0), through: 0xFFF, by: 37) {
            for messageClass in [STUNClass.request, .indication, .successResponse, .errorResponse] {
                let type = STUNMessageType(STUNMethod(rawValue: method), messageClass)
                #expect(STUNMessageType(rawValue: type.rawValue) == type)
                #expect(type.rawValue & 0xC000 == 0)
            }
        }
    }

    @Test(arguments: [false, true])
    func aResponseWrittenReadsBackWithBothIntegritiesAndTheFingerprint(ipv6: Bool) throws {
        let id = STUNTransactionID.random()
        let mapped = STUNTransportAddress(address: try #require(IPAddress(ipv6 ? "2001:db8::7" : "198.51.100.7")), port: 61_000)
        let key = STUNKey.longTerm(username: "alice", realm: "rampart.test", password: "s3cret", algorithm: .sha256)
        var builder = STUNMessageBuilder(STUNMessageType(.allocate, .successResponse), transactionID: id)
        builder.append(.xorRelayedAddress, xorAddress: mapped)
        builder.append(.xorMappedAddress, xorAddress: mapped)
        builder.append(.lifetime, uint32: 600)
        builder.append(.software, text: "odd")  // three bytes: padded
        builder.appendIntegrity(key: key)
        builder.appendIntegrity(key: key, sha256: true)
        builder.appendFingerprint()
        let message = try STUNMessage(parsing: builder.bytes)
        #expect(message.type == STUNMessageType(.allocate, .successResponse))
        #expect(message.transactionID == id)
        #expect(message.xorAddress(.xorRelayedAddress) == mapped && message.xorAddress() == mapped)
        #expect(message.uint32(.lifetime) == 600)
        #expect(message.software == "odd")
        #expect(message.checkIntegrity(key: key) == .holds(sha256: true))
        #expect(message.fingerprintHolds)
        // The SHA-256 integrity decides when present: a message whose SHA-1 integrity alone was made with another
        // key still holds, and one whose SHA-256 integrity is wrong fails whatever the SHA-1 one says.
        var mixed = STUNMessageBuilder(STUNMessageType(.binding, .request), transactionID: id)
        mixed.appendIntegrity(key: .shortTerm(password: "other"))
        mixed.appendIntegrity(key: key, sha256: true)
        #expect(try STUNMessage(parsing: mixed.bytes).checkIntegrity(key: key) == .holds(sha256: true))
        var wrong = STUNMessageBuilder(STUNMessageType(.binding, .request), transactionID: id)
        wrong.appendIntegrity(key: key)
        wrong.appendIntegrity(key: .shortTerm(password: "other"), sha256: true)
        #expect(try STUNMessage(parsing: wrong.bytes).checkIntegrity(key: key) == .fails)
    }

    @Test func anErrorResponseCarriesItsCodeAndUnknownAttributes() throws {
        let request = try Self.message("2.1").0
        var builder = STUNMessageBuilder.response(to: request, error: true)
        builder.append(.unknownAttribute)
        builder.append(.unknownAttributes, [0x00, 0x24, 0x7F, 0xFF])
        let response = try STUNMessage(parsing: builder.bytes)
        #expect(response.type == STUNMessageType(.binding, .errorResponse))
        #expect(response.transactionID == request.transactionID)
        #expect(response.errorCode == .unknownAttribute)
        #expect(response.unknownAttributes == [.priority, STUNAttributeType(rawValue: 0x7FFF)])
        // Codes out of range and reasons that are not UTF-8 are not error codes.
        #expect(STUNErrorCode(value: [0, 0, 2, 99]) == nil)
        #expect(STUNErrorCode(value: [0, 0, 4, 100]) == nil)
        #expect(STUNErrorCode(value: [0, 0, 4, 38, 0xFF]) == nil)
        #expect(STUNErrorCode(value: [0, 0, 4, 38] + Array("Stale Nonce".utf8)) == .staleNonce)
    }

    // MARK: hostile bytes

    static func request(_ attributes: [(UInt16, [UInt8])]) -> [UInt8] {
        var builder = STUNMessageBuilder(STUNMessageType(.binding, .request), transactionID: STUNTransactionID(high: 1, low: 2))
        for (type, value) in attributes { builder.append(STUNAttributeType(rawValue: type), value) }
        return builder.bytes
    }

    @Test func hostileHeadersAreRefusedWithTheirReason() throws {
        let good = Self.request([(0x0006, Array("user".utf8))])
        #expect(throws: STUNParseError.notSTUN) { try STUNMessage(parsing: Array(good.prefix(19))) }
        var topBits = good
        topBits[0] |= 0x80
        #expect(throws: STUNParseError.notSTUN) { try STUNMessage(parsing: topBits) }
        var noCookie = good
        noCookie[4] = 0
        #expect(throws: STUNParseError.noMagicCookie) { try STUNMessage(parsing: noCookie) }
        var lengthPastEnd = good
        lengthPastEnd[3] += 4
        #expect(throws: STUNParseError.notSTUN) { try STUNMessage(parsing: lengthPastEnd) }
        // An attribute whose length runs past the message.
        var attributePastEnd = good
        attributePastEnd[23] = 40
        #expect(throws: STUNParseError.badLength) { try STUNMessage(parsing: attributePastEnd) }
        // A length that is not a multiple of four.
        var odd = good + [0]
        odd[3] += 1
        #expect(throws: STUNParseError.badLength) { try STUNMessage(parsing: odd) }
        #expect(throws: STUNParseError.tooLarge) { try STUNMessage(parsing: [UInt8](repeating: 0, count: STUNMessage.maxBytes + 1)) }
        // Every prefix and every single-byte change of a real message reads or is refused, never traps.
        let vector = try Self.message("2.4").0.bytes
        for length in 0...vector.count { _ = try? STUNMessage(parsing: Array(vector.prefix(length))) }
        for index in vector.indices {
            var changed = vector
            changed[index] ^= 0xFF
            _ = try? STUNMessage(parsing: changed)
        }
    }

    @Test func anAttributeFloodIsRefusedNotWalked() {
        let flood = Self.request(Array(repeating: (0x8022, [UInt8]()), count: STUNMessage.maxAttributes + 1))
        #expect(throws: STUNParseError.tooManyAttributes) { try STUNMessage(parsing: flood) }
        let most = Self.request(Array(repeating: (0x8022, [UInt8]()), count: STUNMessage.maxAttributes))
        #expect((try? STUNMessage(parsing: most))?.attributes.count == STUNMessage.maxAttributes)
    }

    @Test func integrityAndFingerprintOutOfPlace() throws {
        let key = STUNKey.shortTerm(password: "pw")
        // Attributes after MESSAGE-INTEGRITY are ignored (RFC 8489 §14.5), so one cannot be smuggled in unsigned.
        var builder = STUNMessageBuilder(STUNMessageType(.binding, .request), transactionID: .random())
        builder.append(.username, text: "alice")
        builder.appendIntegrity(key: key)
        builder.append(.username, text: "mallory")
        builder.append(.lifetime, uint32: 0)
        let smuggled = try STUNMessage(parsing: builder.bytes)
        #expect(smuggled.username == "alice" && smuggled.uint32(.lifetime) == nil)
        #expect(smuggled.checkIntegrity(key: key) == .holds(sha256: false))
        // Anything after FINGERPRINT, and MESSAGE-INTEGRITY after MESSAGE-INTEGRITY-SHA256, are refused.
        var afterFingerprint = STUNMessageBuilder(STUNMessageType(.binding, .request), transactionID: .random())
        afterFingerprint.appendFingerprint()
        afterFingerprint.append(.software, text: "x")
        #expect(throws: STUNParseError.misplacedAttribute) { try STUNMessage(parsing: afterFingerprint.bytes) }
        var reversed = STUNMessageBuilder(STUNMessageType(.binding, .request), transactionID: .random())
        reversed.appendIntegrity(key: key, sha256: true)
        reversed.appendIntegrity(key: key)
        #expect(throws: STUNParseError.misplacedAttribute) { try STUNMessage(parsing: reversed.bytes) }
        // Integrity attributes of the wrong size.
        #expect(throws: STUNParseError.badIntegrityLength) { try STUNMessage(parsing: Self.request([(0x0008, [UInt8](repeating: 0, count: 16))])) }
        #expect(throws: STUNParseError.badIntegrityLength) { try STUNMessage(parsing: Self.request([(0x001C, [UInt8](repeating: 0, count: 12))])) }
        #expect(throws: STUNParseError.badIntegrityLength) { try STUNMessage(parsing: Self.request([(0x8028, [0, 0])])) }
        // A message without integrity says so; a fingerprint that is wrong does not hold.
        #expect(try STUNMessage(parsing: Self.request([])).checkIntegrity(key: key) == .absent)
        var fingerprinted = STUNMessageBuilder(STUNMessageType(.binding, .request), transactionID: .random())
        fingerprinted.appendFingerprint()
        var wrong = fingerprinted.bytes
        wrong[wrong.count - 1] ^= 1
        #expect(try STUNMessage(parsing: fingerprinted.bytes).fingerprintHolds)
        #expect(try !STUNMessage(parsing: wrong).fingerprintHolds)
    }

    @Test func malformedAddressesAndTextAreNotRead() throws {
        let id = STUNTransactionID(high: 1, low: 2)
        #expect(STUNTransportAddress(value: [0, 1, 0, 80, 1, 2, 3], xor: true, transactionID: id) == nil)
        #expect(STUNTransportAddress(value: [0, 3, 0, 80, 1, 2, 3, 4], xor: true, transactionID: id) == nil)
        #expect(STUNTransportAddress(value: [0, 2, 0, 80, 1, 2, 3, 4], xor: true, transactionID: id) == nil)
        let message = try STUNMessage(parsing: Self.request([(0x0006, [0xC3, 0x28]), (0x0014, Array(repeating: 0x61, count: 764))]))
        #expect(message.username == nil)  // not UTF-8
        #expect(message.realm == nil)  // too long
        #expect(message.xorAddress() == nil)
    }

    @Test func framingReadsTheLengthFromAStreamPrefix() throws {
        let request = Self.request([(0x0006, Array("user".utf8))])
        #expect(STUNMessage.frameLength(request.prefix(4)) == request.count)
        #expect(STUNMessage.frameLength(request.prefix(3)) == nil)
        #expect(STUNMessage.frameLength([0x40, 0x00, 0x00, 0x04]) == nil)  // ChannelData, not STUN
    }
}
