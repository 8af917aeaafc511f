/// How a media section's RTP would be protected, as far as the SDP can tell. This is the input of
/// the SRTP-only policy: only ``sdesSRTP(suites:)`` and ``dtlsSRTP(fingerprints:)`` commit both
/// sides to SRTP through the profile on the `m=` line.
///
/// Classification rules, applied in order (see ``MediaSecurity/classify(_:in:)``):
/// 1. Port 0 without `a=bundle-only` → ``disabled``: the stream is rejected or not to be used
///    (RFC 3264 §5.1, §6). With `a=bundle-only` a port of 0 means the section is bundled
///    (RFC 8843), so it is classified by the rules below.
/// 2. A protocol that is not RTP (`udptl`, `UDP/DTLS/SCTP`, `TCP/MSRP`, ...) → ``notRTP``.
/// 3. A secure profile over (D)TLS (`UDP/TLS/RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, RFC 5764 §8):
///    with an `a=fingerprint` (media level, else session level, RFC 8122 §5) → ``dtlsSRTP(fingerprints:)``;
///    without one → ``srtpWithoutKeying`` (RFC 5763 §5 requires the fingerprint). `a=crypto` is
///    not a keying method for these profiles and is ignored.
/// 4. A secure profile without (D)TLS (`RTP/SAVP`, `RTP/SAVPF`, RFC 3711 / RFC 5124): with
///    `a=crypto` lines → ``sdesSRTP(suites:)`` in offer order (RFC 4568 §9.1), including unknown
///    suites for the policy to refuse; else with a fingerprint → ``dtlsSRTP(fingerprints:)``
///    (legacy DTLS-SRTP offers used `RTP/SAVPF`); else ``srtpWithoutKeying``.
/// 5. A plain profile (`RTP/AVP`, `RTP/AVPF`): with `a=zrtp-hash` (media, else session level,
///    RFC 6189 §8.1) → ``zrtp(hashes:)``: ZRTP negotiates SRTP keys in the media path over the
///    plain profile (RFC 6189 §1); else with `a=crypto` → ``bestEffortSDES(suites:)``: SDES keys
///    offered on a plain profile (best-effort SRTP, not covered by RFC 4568, which ties SDES
///    to `RTP/SAVP`); else ``plainRTP``.
public enum MediaSecurityClass: Hashable, Sendable, CustomStringConvertible {
    /// Port 0 and not bundled: no media flows.
    case disabled
    /// Not RTP at all (T.38 `udptl`, data channels, MSRP, ...).
    case notRTP
    /// Plain, unencrypted RTP.
    case plainRTP
    /// SRTP keyed by SDES `a=crypto` (RFC 4568), suites in offer order.
    case sdesSRTP(suites: [SRTPCryptoSuite])
    /// SRTP keyed by DTLS (RFC 5763/5764), with the certificate fingerprints that authenticate it.
    case dtlsSRTP(fingerprints: [SDPFingerprint])
    /// Plain profile with ZRTP signalled by `a=zrtp-hash` (RFC 6189 §8.1).
    case zrtp(hashes: [SDPZRTPHash])
    /// Plain profile with `a=crypto` lines: SRTP only if the answerer opts in.
    case bestEffortSDES(suites: [SRTPCryptoSuite])
    /// A secure profile with no keying (no `a=crypto`, no `a=fingerprint`): a broken or stripped
    /// offer that cannot yield SRTP.
    case srtpWithoutKeying

    /// Whether the section commits to SRTP with keying in the signalling: ``sdesSRTP(suites:)``
    /// or ``dtlsSRTP(fingerprints:)``.
    public var isSRTPKeyedInSignalling: Bool {
        switch self {
        case .sdesSRTP, .dtlsSRTP: return true
        default: return false
        }
    }

    /// A short name (`plain-rtp`, `sdes-srtp(AES_CM_128_HMAC_SHA1_80)`, ...), free of key material.
    public var description: String {
        switch self {
        case .disabled: return "disabled"
        case .notRTP: return "not-rtp"
        case .plainRTP: return "plain-rtp"
        case .sdesSRTP(let suites): return "sdes-srtp(\(suites.map(\.name).joined(separator: ",")))"
        case .dtlsSRTP(let fingerprints): return "dtls-srtp(\(fingerprints.map(\.hashFunction.name).joined(separator: ",")))"
        case .zrtp: return "zrtp"
        case .bestEffortSDES(let suites): return "best-effort-sdes(\(suites.map(\.name).joined(separator: ",")))"
        case .srtpWithoutKeying: return "srtp-without-keying"
        }
    }
}

/// The media security classifier.
public enum MediaSecurity {
    /// Classifies `media` using the rules documented on ``MediaSecurityClass``. Pass the enclosing
    /// `session` so session-level `a=fingerprint` and `a=zrtp-hash` are taken into account.
    public static func classify(_ media: MediaDescription, in session: SessionDescription? = nil) -> MediaSecurityClass {
        if media.port == 0 && !media.isBundleOnly {
            return .disabled
        }
        let proto = media.proto
        guard proto.isRTP else {
            return .notRTP
        }
        let fingerprints = session?.effectiveFingerprints(of: media) ?? media.fingerprints
        if proto.isSecureRTPProfile {
            if proto.isDTLSTransport {
                return fingerprints.isEmpty ? .srtpWithoutKeying : .dtlsSRTP(fingerprints: fingerprints)
            }
            let cryptos = media.cryptos
            if !cryptos.isEmpty {
                return .sdesSRTP(suites: cryptos.map(\.suite))
            }
            return fingerprints.isEmpty ? .srtpWithoutKeying : .dtlsSRTP(fingerprints: fingerprints)
        }
        let hashes = session?.effectiveZRTPHashes(of: media) ?? media.zrtpHashes
        if !hashes.isEmpty {
            return .zrtp(hashes: hashes)
        }
        let cryptos = media.cryptos
        if !cryptos.isEmpty {
            return .bestEffortSDES(suites: cryptos.map(\.suite))
        }
        return .plainRTP
    }
}

extension SessionDescription {
    /// The security class of every media section, in order (see ``MediaSecurityClass``).
    public var mediaSecurity: [MediaSecurityClass] {
        media.map { MediaSecurity.classify($0, in: self) }
    }

    /// The security class of one media section of this session.
    public func security(of media: MediaDescription) -> MediaSecurityClass {
        MediaSecurity.classify(media, in: self)
    }
}

extension MediaDescription {
    /// This section's security class ignoring session-level attributes; prefer
    /// ``SessionDescription/security(of:)``.
    public var security: MediaSecurityClass {
        MediaSecurity.classify(self)
    }
}
