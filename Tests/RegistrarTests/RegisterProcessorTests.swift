import Registrar
import SIPMessage
import Storage
import Testing

func register(contact: String?, expires: String? = nil, callID: String = "reg-1", cseq: UInt32 = 1) -> SIPMessage {
    var lines = [
        "REGISTER sip:example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK\(cseq)",
        "From: <sip:alice@example.com>;tag=1", "To: <sip:alice@Example.COM>", "Call-ID: \(callID)",
        "CSeq: \(cseq) REGISTER",
    ]
    if let contact { lines.append("Contact: \(contact)") }
    if let expires { lines.append("Expires: \(expires)") }
    lines.append("Content-Length: 0")
    return try! SIPMessage.parse(Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8))
}

func accepted(_ outcome: RegisterProcessor.Outcome) -> [RegistrationRecord]? {
    if case .accepted(let bindings) = outcome { return bindings }
    return nil
}

@Suite struct RegisterProcessorTests {
    let processor = RegisterProcessor()

    @Test func newBindingUsesTheDefaultExpiryAndCanonicalAOR() throws {
        let bindings = try #require(accepted(processor.process(
            register: register(contact: "<sip:alice@192.0.2.10:5060>"), current: [], now: 100)))
        #expect(bindings.count == 1)
        #expect(bindings[0].addressOfRecord == "sip:alice@example.com")
        #expect(bindings[0].expiresAtEpochSeconds == 3700)
        #expect(RegisterProcessor.contactValues(for: bindings, now: 700)
            == ["<sip:alice@192.0.2.10:5060>;expires=3000"])
    }

    @Test func tooBriefIsRefusedWith423AndLongIsClamped() throws {
        #expect(processor.process(register: register(contact: "<sip:a@192.0.2.10>", expires: "30"), current: [],
                                  now: 0) == .rejected(status: 423, reason: "Interval Too Brief", minExpires: 60))
        let long = try #require(accepted(processor.process(
            register: register(contact: "<sip:a@192.0.2.10>;expires=99999999999"), current: [], now: 0)))
        #expect(long[0].expiresAtEpochSeconds == 3600)
    }

    @Test func refreshNeedsAHigherCSeqOnTheSameCallID() throws {
        let first = try #require(accepted(processor.process(
            register: register(contact: "<sip:a@192.0.2.10>", cseq: 5), current: [], now: 0)))
        let refreshed = try #require(accepted(processor.process(
            register: register(contact: "<sip:a@192.0.2.10>", expires: "600", cseq: 6), current: first,
            now: 10)))
        #expect(refreshed.count == 1 && refreshed[0].expiresAtEpochSeconds == 610)
        #expect(processor.process(register: register(contact: "<sip:a@192.0.2.10>", cseq: 6), current: refreshed,
                                  now: 20) == .rejected(status: 500, reason: "Out of order REGISTER",
                                                                  minExpires: nil))
        // Another Call-ID (a rebooted phone) replaces the binding whatever its CSeq.
        let rebooted = try #require(accepted(processor.process(
            register: register(contact: "<sip:a@192.0.2.10>", callID: "reg-2", cseq: 1), current: refreshed,
            now: 30)))
        #expect(rebooted.count == 1 && rebooted[0].callID == "reg-2")
    }

    @Test func unregisterOneOrAll() throws {
        let two = try #require(accepted(processor.process(
            register: register(contact: "<sip:a@192.0.2.10>, <sip:a@192.0.2.11>;q=0.5", cseq: 1), current: [],
            now: 0)))
        #expect(two.map(\.qValueThousandths) == [1000, 500])
        let one = try #require(accepted(processor.process(
            register: register(contact: "<sip:a@192.0.2.11>;expires=0", cseq: 2), current: two, now: 1)))
        #expect(one.map(\.contact) == ["sip:a@192.0.2.10"])
        #expect(processor.process(register: register(contact: "*", cseq: 3), current: one, now: 2)
            == .rejected(status: 400, reason: "Contact * requires Expires: 0", minExpires: nil))
        #expect(processor.process(register: register(contact: "*", expires: "0", cseq: 3), current: one,
                                  now: 2) == .accepted(bindings: []))
    }

    @Test func contactLimitPerAOR() throws {
        let small = RegisterProcessor(policy: .init(maxContactsPerAOR: 2))
        let contacts = "<sip:a@192.0.2.1>, <sip:a@192.0.2.2>, <sip:a@192.0.2.3>"
        #expect(small.process(register: register(contact: contacts), current: [], now: 0)
            == .rejected(status: 403, reason: "Too many contacts", minExpires: nil))
    }

    @Test func outboundInstanceReplacesItsOwnBinding() throws {
        let instance = ";+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1"
        let first = try #require(accepted(processor.process(
            register: register(contact: "<sip:a@192.0.2.10:5060>\(instance)", cseq: 1), current: [], now: 0)))
        // After a NAT rebinding the same instance registers from a new address: replaced, not added (RFC 5626).
        let moved = try #require(accepted(processor.process(
            register: register(contact: "<sip:a@198.51.100.7:40000>\(instance)", callID: "reg-9", cseq: 1),
            current: first, now: 5)))
        #expect(moved.map(\.contact) == ["sip:a@198.51.100.7:40000"])
    }

    @Test func expiredBindingsAreDroppedAndQueriesListTheRest() throws {
        let stale = RegistrationRecord(addressOfRecord: "sip:alice@example.com", contact: "sip:a@192.0.2.9",
                                       expiresAtEpochSeconds: 50, callID: "old", cseq: 1)
        let live = RegistrationRecord(addressOfRecord: "sip:alice@example.com", contact: "sip:a@192.0.2.10",
                                      expiresAtEpochSeconds: 500, callID: "new", cseq: 1)
        #expect(processor.process(register: register(contact: nil), current: [stale, live], now: 100)
            == .accepted(bindings: [live]))
    }
}
