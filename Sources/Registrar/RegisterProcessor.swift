import SIPMessage
import Storage

/// The registrar's rules for one REGISTER (RFC 3261 §10.3 steps 5-8, RFC 5626 §6), as a pure function of the
/// request, the bindings currently stored for its address-of-record and the time (seconds since 1970, the
/// store's clock, so bindings survive restarts). Authentication (step 4) and
/// the domain check happen before; storage happens after: the caller writes ``Outcome/bindings`` back.
public struct RegisterProcessor: Sendable {
    /// Bounds and defaults.
    public struct Policy: Hashable, Sendable {
        /// Registrations shorter than this are refused with 423 and Min-Expires (default 60 s).
        public var minExpires: UInt32
        /// Longer registrations are shortened to this (default 3600 s).
        public var maxExpires: UInt32
        /// Expiry when neither the contact nor the request says (default 3600 s).
        public var defaultExpires: UInt32
        /// Most bindings per address-of-record (default 10); more are refused with 403.
        public var maxContactsPerAOR: Int

        /// Creates a policy; defaults as documented on each property.
        public init(minExpires: UInt32 = 60, maxExpires: UInt32 = 3600, defaultExpires: UInt32 = 3600,
                    maxContactsPerAOR: Int = 10) {
            self.minExpires = minExpires
            self.maxExpires = maxExpires
            self.defaultExpires = defaultExpires
            self.maxContactsPerAOR = maxContactsPerAOR
        }
    }

    /// What to answer and what to store.
    public enum Outcome: Equatable, Sendable {
        /// 200 OK: store `bindings` (all current bindings of the AOR, expired ones dropped) and list them.
        case accepted(bindings: [RegistrationRecord])
        /// A failure status (400, 403, 423, 500) and, for 423, the Min-Expires to send.
        case rejected(status: Int, reason: String, minExpires: UInt32?)
    }

    /// The policy in force.
    public let policy: Policy

    /// Creates a processor.
    public init(policy: Policy = Policy()) { self.policy = policy }

    /// The canonical address-of-record of a To URI: `sip:user@host`, host lowercased, user as written.
    public static func addressOfRecord(of uri: SIPAnyURI) -> String? {
        guard case .sip(let sip) = uri, let user = sip.user else { return nil }
        return "sip:\(user)@\(sip.host)"
    }

    /// Applies a REGISTER to the stored bindings of its address-of-record; `addressOfRecord` overrides the one
    /// derived from the To URI (the edge maps its IP aliases to its domain); `flow` is recorded with the bindings
    /// the request adds or refreshes.
    public func process(register request: SIPMessage, current: [RegistrationRecord], now: Int64,
                        addressOfRecord: String? = nil, flow: String? = nil) -> Outcome {
        do {
            return try apply(request, current: current, now: now, addressOfRecord: addressOfRecord, flow: flow)
        } catch {
            return .rejected(status: error.sipStatus, reason: error.reason, minExpires: nil)
        }
    }

    private func apply(_ request: SIPMessage, current: [RegistrationRecord], now: Int64, addressOfRecord: String?,
                       flow: String?) throws(SIPParseError) -> Outcome
    {
        let toURI = try request.to().uri
        guard let aor = addressOfRecord ?? Self.addressOfRecord(of: toURI) else {
            return .rejected(status: 404, reason: "Not Found", minExpires: nil)
        }
        let callID = try request.callID()
        let cseq = try request.cseq().sequenceNumber
        let headerExpires = try request.expires()
        var bindings = current.filter { $0.expiresAtEpochSeconds > now }

        switch try request.contacts() {
        case nil:
            return .accepted(bindings: bindings)  // a query (RFC 3261 §10.2.3)
        case .wildcard?:
            // RFC 3261 §10.3 step 6: `*` only with Expires: 0.
            guard headerExpires == 0 else {
                return .rejected(status: 400, reason: "Contact * requires Expires: 0", minExpires: nil)
            }
            if bindings.contains(where: { $0.callID == callID && $0.cseq >= cseq }) {
                return .rejected(status: 500, reason: "Out of order REGISTER", minExpires: nil)
            }
            return .accepted(bindings: [])
        case .contacts(let contacts)?:
            for contact in contacts {
                let requested = contact.expires ?? headerExpires ?? policy.defaultExpires
                if requested != 0, requested < policy.minExpires {
                    return .rejected(status: 423, reason: "Interval Too Brief", minExpires: policy.minExpires)
                }
                let expires = min(requested, policy.maxExpires)
                let candidate = RegistrationRecord(
                    addressOfRecord: aor, contact: contact.address.uri.description,
                    expiresAtEpochSeconds: now + Int64(expires), qValueThousandths: contact.qValueThousandths ?? 1000,
                    callID: callID, cseq: cseq, instanceID: contact.instanceID, regID: contact.regID, flow: flow,
                    userAgent: request.firstField(.userAgent).map { String($0.value) })
                if let index = bindings.firstIndex(where: { $0.designatesSameBinding(as: candidate) }) {
                    // RFC 3261 §10.3 step 7: same Call-ID needs a higher CSeq, or the request is out of order.
                    if bindings[index].callID == callID, bindings[index].cseq >= cseq {
                        return .rejected(status: 500, reason: "Out of order REGISTER", minExpires: nil)
                    }
                    if expires == 0 { bindings.remove(at: index) } else { bindings[index] = candidate }
                } else if expires != 0 {
                    bindings.append(candidate)
                }
            }
            guard bindings.count <= policy.maxContactsPerAOR else {
                return .rejected(status: 403, reason: "Too many contacts", minExpires: nil)
            }
            return .accepted(bindings: bindings)
        }
    }

    /// The Contact header values of a 200 OK: every binding with its remaining time (RFC 3261 §10.3 step 8).
    public static func contactValues(for bindings: [RegistrationRecord], now: Int64) -> [String] {
        bindings.map { binding in
            let remaining = max(0, binding.expiresAtEpochSeconds - now)
            return "<\(binding.contact)>;expires=\(remaining)"
        }
    }
}
