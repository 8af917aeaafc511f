import SIPMessage

/// One registered contact of an address-of-record (RFC 3261 §10.3).
public struct Binding: Hashable, Sendable {
    /// The address-of-record, canonical `sip:user@domain` (lowercased host, no parameters).
    public var addressOfRecord: String
    /// The contact URI as the UA registered it.
    public var contact: String
    /// When the binding expires, on the registrar's clock.
    public var expiresAt: Duration
    /// q-value in thousandths (RFC 3261 §20.10), 1000 if absent.
    public var qValueThousandths: Int
    /// The Call-ID and CSeq of the REGISTER that last changed it (RFC 3261 §10.3 step 7).
    public var callID: String
    public var cseq: UInt32
    /// RFC 5626 instance-id and reg-id: a binding with the same pair is replaced, not added.
    public var instanceID: String?
    public var regID: UInt32?

    /// Creates a binding.
    public init(
        addressOfRecord: String, contact: String, expiresAt: Duration, qValueThousandths: Int = 1000,
        callID: String, cseq: UInt32, instanceID: String? = nil, regID: UInt32? = nil
    ) {
        self.addressOfRecord = addressOfRecord
        self.contact = contact
        self.expiresAt = expiresAt
        self.qValueThousandths = qValueThousandths
        self.callID = callID
        self.cseq = cseq
        self.instanceID = instanceID
        self.regID = regID
    }

    /// Whether `other` designates the same binding: same instance (and reg-id) when both carry one
    /// (RFC 5626 §6), otherwise equivalent contact URIs (RFC 3261 §10.3 step 7, §19.1.4).
    func designatesSameBinding(as other: Binding) -> Bool {
        if let instanceID, let otherInstance = other.instanceID {
            return instanceID == otherInstance && regID == other.regID
        }
        guard let mine = try? SIPURI(contact), let theirs = try? SIPURI(other.contact) else {
            return contact == other.contact
        }
        return mine.isEquivalent(to: theirs)
    }
}
