import Foundation
import Crypto
import SecurityPolicy
import Testing

@Suite struct PartyPseudonymizerTests {
    @Test func pseudonymsAreStablePerKeyAndUnrelatedAcrossKeys() throws {
        let key = SymmetricKey(data: Array(repeating: UInt8(7), count: 32))
        let pseudonymizer = try PartyPseudonymizer(key: key)
        let alice = pseudonymizer.pseudonym(for: "+15551234567")
        #expect(alice == pseudonymizer.pseudonym(for: "+15551234567"))
        #expect(alice != pseudonymizer.pseudonym(for: "+15551234568"))
        #expect(alice.hasPrefix("anon:") && alice.utf8.count == 5 + 32)
        #expect(!alice.contains("5551234567"))
        // The keyed hash, recomputed independently: HMAC-SHA256 truncated to 128 bits.
        let expected = HMAC<SHA256>.authenticationCode(for: Array("+15551234567".utf8), using: key)
            .prefix(16).map { String(format: "%02x", $0) }.joined()
        #expect(alice == "anon:" + expected)
        let other = try PartyPseudonymizer(key: SymmetricKey(data: Array(repeating: UInt8(8), count: 32)))
        #expect(other.pseudonym(for: "+15551234567") != alice)
    }

    @Test func shortKeysAreRefusedAndClearRecordingKeepsParties() throws {
        #expect(throws: PartyPseudonymizer.KeyError.self) {
            try PartyPseudonymizer(key: SymmetricKey(size: .bits128))
        }
        #expect(PartyRecording.clear.recorded("sip:alice@example.com") == "sip:alice@example.com")
        let pseudonymised = PartyRecording.pseudonymised(try PartyPseudonymizer(key: SymmetricKey(size: .bits256)))
        #expect(pseudonymised.recorded("sip:alice@example.com").hasPrefix("anon:"))
    }
}

@Suite struct AddressRecordingTests {
    @Test func truncationKeepsTheNetworkAndPseudonymsNameNoAddress() throws {
        #expect(AddressRecording.truncated.recorded("192.0.2.77") == "192.0.2.0/24")
        #expect(AddressRecording.truncated.recorded("2001:db8:1:2:3::9") == "2001:db8:1::/48")
        #expect(AddressRecording.truncated.recorded("not an address") == "unknown")
        #expect(AddressRecording.clear.recorded("192.0.2.77") == "192.0.2.77")
        let key = try PartyPseudonymizer(key: SymmetricKey(size: .bits256))
        let pseudonym = AddressRecording.pseudonymised(key).recorded("192.0.2.77")
        #expect(pseudonym.hasPrefix("anon:") && pseudonym == AddressRecording.pseudonymised(key).recorded("192.0.2.77"))
        #expect(pseudonym != AddressRecording.pseudonymised(key).recorded("192.0.2.78"))
    }

    @Test func aKeyIDNamesOneKeyWithoutRevealingIt() throws {
        let bytes = SymmetricKey(size: .bits256)
        let one = try PartyPseudonymizer(key: bytes)
        #expect(one.keyID == (try PartyPseudonymizer(key: bytes)).keyID)
        #expect(one.keyID != (try PartyPseudonymizer(key: SymmetricKey(size: .bits256))).keyID)
        #expect(one.keyID.count == 9 && one.keyID.hasPrefix("k"))
        #expect(PartyRecording.pseudonymised(one).keyID == one.keyID && PartyRecording.clear.keyID == nil)
    }
}
