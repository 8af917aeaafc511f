import SIPMessage
import Storage

extension RegistrationRecord {
    /// Whether `other` designates the same binding: same instance (and reg-id) when both carry one
    /// (RFC 5626 §6), otherwise equivalent contact URIs (RFC 3261 §10.3 step 7, §19.1.4).
    func designatesSameBinding(as other: RegistrationRecord) -> Bool {
        if let instanceID, let otherInstance = other.instanceID {
            return instanceID == otherInstance && regID == other.regID
        }
        guard let mine = try? SIPURI(contact), let theirs = try? SIPURI(other.contact) else {
            return contact == other.contact
        }
        return mine.isEquivalent(to: theirs)
    }
}
