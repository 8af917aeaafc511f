import SDP

/// The edge's media policy: SRTP only, by default (issue 4).
///
/// Every offer and answer a call carries is checked section by section with the SDP classifier
/// (``MediaSecurityClass``). Plain RTP, a secure profile without keying, SDES with no acceptable suite, and
/// unencrypted non-RTP media (T.38 `udptl`, plain MSRP) are refused with 488 and a `media-downgrade-attempt`
/// security event; an SDP that does not parse (a malformed `a=crypto` line among others) is refused with 488 too.
/// Weaker suites in an offer are removed before it is passed on, so the callee can only choose an allowed one
/// (as rtpengine's `SDES-no-<suite>` flags do); an answer must pick exactly one allowed suite. A re-offer that
/// would drop encryption from a call that had it is refused whatever the policy.
///
/// The policy is per account or trunk: a legacy trunk can be allowed plain RTP explicitly.
public struct MediaPolicy: Hashable, Sendable {
    /// Plain RTP (and unencrypted non-RTP media) accepted: only for a legacy peer that cannot do better.
    public var allowsPlainRTP: Bool
    /// SDES suites accepted, most preferred first (default: AEAD_AES_256_GCM, AEAD_AES_128_GCM,
    /// AES_CM_128_HMAC_SHA1_80).
    public var allowedSuites: [SRTPCryptoSuite]
    /// DTLS-SRTP (RFC 5763/5764) accepted.
    public var allowsDTLSSRTP: Bool
    /// ZRTP (RFC 6189) accepted: it keys SRTP end to end in the media path, over the plain profile.
    public var allowsZRTP: Bool

    /// Creates a policy; the defaults are the SRTP-only ones.
    public init(allowsPlainRTP: Bool = false,
                allowedSuites: [SRTPCryptoSuite] = [.aeadAES256GCM, .aeadAES128GCM, .aesCM128HMACSHA1_80],
                allowsDTLSSRTP: Bool = true, allowsZRTP: Bool = true) {
        self.allowsPlainRTP = allowsPlainRTP
        self.allowedSuites = allowedSuites
        self.allowsDTLSSRTP = allowsDTLSSRTP
        self.allowsZRTP = allowsZRTP
    }

    /// SRTP only: the default.
    public static let srtpOnly = MediaPolicy()

    /// Why an SDP was refused; over SIP it is a 488 Not Acceptable Here (RFC 3261 §21.4.26).
    public struct Violation: Error, Hashable, Sendable, CustomStringConvertible {
        /// What was wrong.
        public enum Kind: String, Hashable, Sendable {
            /// Plain RTP, or a plain profile whose SDES keys the answer did not take up.
            case plainRTP = "plain-rtp"
            /// A secure profile with neither `a=crypto` nor `a=fingerprint`.
            case noKeying = "no-keying"
            /// Only suites (or SDES session parameters such as UNENCRYPTED_SRTP) the policy refuses.
            case weakCrypto = "weak-crypto"
            /// An answer that picks no suite, or several.
            case ambiguousAnswer = "ambiguous-answer"
            /// DTLS-SRTP or ZRTP where the policy does not accept it.
            case keyingNotAllowed = "keying-not-allowed"
            /// Unencrypted media that is not RTP (T.38 over `udptl`, MSRP over plain TCP).
            case unencryptedNonRTP = "unencrypted-non-rtp"
            /// A re-offer that drops the encryption the call had.
            case encryptionDropped = "encryption-dropped"
            /// The SDP does not parse.
            case malformedSDP = "malformed-sdp"
            /// A media address the edge may not send to (``AddressPolicy``): loopback from afar, an internal
            /// network, the edge's own sockets, a trunk's signalling port.
            case addressRefused = "address-refused"
        }

        /// What was wrong.
        public let kind: Kind
        /// The media section concerned (0-based), if one.
        public let mediaIndex: Int?

        /// The SIP status to answer: 488 Not Acceptable Here.
        public var sipStatus: Int { 488 }
        /// The security event to record.
        public var securityEvent: SecurityEvent.Kind {
            switch kind {
            case .malformedSDP: .malformedMessage
            case .addressRefused: .mediaAddressRefused
            default: .mediaDowngradeAttempt
            }
        }
        /// A Warning-free, key-free reason for logs and CDRs.
        public var description: String { mediaIndex.map { "\(kind.rawValue) (m=\($0))" } ?? kind.rawValue }
    }

    /// What a call's media ended up protected by, for the CDR and for re-offers.
    public enum Posture: Hashable, Sendable, CustomStringConvertible {
        /// No active media.
        case none
        /// SDES-keyed SRTP with this suite (the weakest one in the call when several streams differ).
        case sdes(SRTPCryptoSuite)
        /// DTLS-SRTP.
        case dtlsSRTP
        /// ZRTP.
        case zrtp
        /// Some media is not encrypted (allowed by policy).
        case plain

        /// Whether media is encrypted.
        public var isEncrypted: Bool {
            switch self {
            case .sdes, .dtlsSRTP, .zrtp: return true
            case .none, .plain: return false
            }
        }

        public var description: String {
            switch self {
            case .none: return "none"
            case .sdes(let suite): return "sdes-srtp/\(suite.name)"
            case .dtlsSRTP: return "dtls-srtp"
            case .zrtp: return "zrtp"
            case .plain: return "plain-rtp"
            }
        }
    }

    /// Checks an offer. Returns it with the refused `a=crypto` lines removed, or the violation.
    /// - Parameter current: the call's posture for a re-offer (RFC 3261 §14); `nil` for the initial offer.
    public func checkOffer(_ offer: SessionDescription, current: Posture? = nil) -> Result<SessionDescription, Violation> {
        var filtered = offer
        var postures: [Posture] = []
        for (index, media) in offer.media.enumerated() {
            let security = offer.security(of: media)
            switch security {
            case .disabled:
                continue
            case .sdesSRTP(let suites), .bestEffortSDES(let suites):
                let acceptable = media.attributes.filter { isAcceptableCrypto($0) }
                guard !acceptable.isEmpty || (allowsPlainRTP && !media.proto.isSecureRTPProfile) else {
                    return .failure(Violation(kind: .weakCrypto, mediaIndex: index))
                }
                filtered.media[index].attributes.removeAll { $0.name == "crypto" && !isAcceptableCrypto($0) }
                if case .sdesSRTP = security {
                    postures.append(weakest(of: suites.filter(allowedSuites.contains)))
                } else {
                    // Best effort: the answer decides whether SRTP is used.
                    postures.append(acceptable.isEmpty ? .plain : weakest(of: suites.filter(allowedSuites.contains)))
                }
            default:
                switch posture(of: security, index: index) {
                case .success(let posture): postures.append(posture)
                case .failure(let violation): return .failure(violation)
                }
            }
        }
        if Self.dropsEncryption(current, combined(postures)) {
            return .failure(Violation(kind: .encryptionDropped, mediaIndex: nil))
        }
        return .success(filtered)
    }

    /// Parses and checks an offer body (an SDP that does not parse is a violation too).
    public func checkOffer(body: some Collection<UInt8>, current: Posture? = nil)
        -> Result<SessionDescription, Violation>
    {
        Self.parse(body).flatMap { checkOffer($0, current: current) }
    }

    /// Checks an answer; returns the call's media posture, or the violation.
    /// - Parameter current: the call's posture before this offer/answer exchange, for re-offers.
    public func checkAnswer(_ answer: SessionDescription, current: Posture? = nil) -> Result<Posture, Violation> {
        var postures: [Posture] = []
        for (index, media) in answer.media.enumerated() {
            let security = answer.security(of: media)
            switch security {
            case .disabled:
                continue
            case .sdesSRTP, .bestEffortSDES:
                // RFC 4568 §7.1.2: the answer carries the one crypto line it accepted.
                let cryptos = media.cryptos
                guard cryptos.count == 1 else { return .failure(Violation(kind: .ambiguousAnswer, mediaIndex: index)) }
                guard media.attributes.contains(where: isAcceptableCrypto) else {
                    return .failure(Violation(kind: .weakCrypto, mediaIndex: index))
                }
                postures.append(.sdes(cryptos[0].suite))
            default:
                switch posture(of: security, index: index) {
                case .success(let posture): postures.append(posture)
                case .failure(let violation): return .failure(violation)
                }
            }
        }
        let answered = combined(postures)
        if Self.dropsEncryption(current, answered) {
            return .failure(Violation(kind: .encryptionDropped, mediaIndex: nil))
        }
        return .success(answered)
    }

    /// Parses and checks an answer body.
    public func checkAnswer(body: some Collection<UInt8>, current: Posture? = nil) -> Result<Posture, Violation> {
        Self.parse(body).flatMap { checkAnswer($0, current: current) }
    }

    /// An SDP body, or a ``Violation/Kind/malformedSDP`` violation.
    /// Checks an offer body and returns the bytes to send on: the body as it came when the policy removed nothing
    /// (the usual case: no second serialization), else the filtered offer. An offer whose filtered form cannot be
    /// written is refused as malformed, never passed on unfiltered.
    public func filterOffer(body: some Collection<UInt8>, current: Posture? = nil) -> Result<[UInt8], Violation> {
        Self.parse(body).flatMap { filterOffer($0, body: body, current: current).map(\.bytes) }
    }

    /// ``filterOffer(body:current:)`` for an offer the caller has parsed already (`parsed` is `body`'s SDP), with
    /// the filtered offer's description beside its bytes, so that what comes next (the relay's rewrite) need not
    /// parse them again.
    public func filterOffer(_ parsed: SessionDescription, body: some Collection<UInt8>, current: Posture? = nil)
        -> Result<(bytes: [UInt8], description: SessionDescription), Violation>
    {
        checkOffer(parsed, current: current).flatMap { filtered in
            if filtered == parsed { return .success((Array(body), parsed)) }
            guard let bytes = try? filtered.serializedBytes() else {
                return .failure(Violation(kind: .malformedSDP, mediaIndex: nil))
            }
            return .success((bytes, filtered))
        }
    }

    /// An SDP body, or a ``Violation/Kind/malformedSDP`` violation.
    public static func parse(_ body: some Collection<UInt8>) -> Result<SessionDescription, Violation> {
        guard let description = try? SessionDescription(parsing: body) else {
            return .failure(Violation(kind: .malformedSDP, mediaIndex: nil))
        }
        return .success(description)
    }

    /// Whether going from `current` to `new` would leave encrypted media unencrypted (putting it on hold with
    /// no active stream does not).
    private static func dropsEncryption(_ current: Posture?, _ new: Posture) -> Bool {
        current?.isEncrypted == true && new == .plain
    }

    /// The posture of a section that is not SDES-keyed, or why the policy refuses it.
    private func posture(of security: MediaSecurityClass, index: Int) -> Result<Posture, Violation> {
        switch security {
        case .dtlsSRTP:
            return allowsDTLSSRTP ? .success(.dtlsSRTP) : .failure(Violation(kind: .keyingNotAllowed, mediaIndex: index))
        case .zrtp:
            if allowsZRTP { return .success(.zrtp) }
            return allowsPlainRTP ? .success(.plain) : .failure(Violation(kind: .keyingNotAllowed, mediaIndex: index))
        case .plainRTP:
            return allowsPlainRTP ? .success(.plain) : .failure(Violation(kind: .plainRTP, mediaIndex: index))
        case .srtpWithoutKeying:
            return .failure(Violation(kind: .noKeying, mediaIndex: index))
        case .notRTP:
            return allowsPlainRTP ? .success(.plain) : .failure(Violation(kind: .unencryptedNonRTP, mediaIndex: index))
        case .disabled, .sdesSRTP, .bestEffortSDES:
            return .success(.none)  // handled by the callers
        }
    }

    /// An `a=crypto` line with an allowed suite and none of the session parameters that switch protection off
    /// (RFC 4568 §6.3.4: UNENCRYPTED_SRTP, UNENCRYPTED_SRTCP, UNAUTHENTICATED_SRTP).
    private func isAcceptableCrypto(_ attribute: SDPAttribute) -> Bool {
        guard attribute.name == "crypto", let value = attribute.value,
            let crypto = try? SDESCryptoAttribute(parsing: value)
        else { return false }
        return allowedSuites.contains(crypto.suite) && !crypto.isSRTPUnencrypted && !crypto.isSRTCPUnencrypted
            && !crypto.isSRTPUnauthenticated
    }

    /// The least preferred of the suites (the policy's order ranks them), as the posture of SDES media.
    private func weakest(of suites: [SRTPCryptoSuite]) -> Posture {
        let ranked = suites.compactMap { allowedSuites.firstIndex(of: $0) }
        return ranked.max().map { .sdes(allowedSuites[$0]) } ?? .plain
    }

    /// One posture for several streams: plain if any is plain, else the weakest encryption (SDES ranked by the
    /// policy's order, below DTLS-SRTP and ZRTP, whose keys the signalling path never sees).
    func combined(_ postures: [Posture]) -> Posture {
        let active = postures.filter { $0 != .none }
        if active.isEmpty { return .none }
        if active.contains(.plain) { return .plain }
        let sdesSuites = active.compactMap { posture -> SRTPCryptoSuite? in
            if case .sdes(let suite) = posture { return suite }
            return nil
        }
        if !sdesSuites.isEmpty { return weakest(of: sdesSuites) }
        return active.contains(.zrtp) ? .zrtp : .dtlsSRTP
    }
}
