import SIPMessage

/// What a message may say about the side it comes from when the edge passes it on: metadata minimization
/// (issue 4). One policy per direction; the proxy applies it after rewriting Via, Contact, Record-Route and
/// Call-ID for topology hiding, which this policy never touches.
public struct HeaderPolicy: Hashable, Sendable {
    /// Which headers pass.
    public enum Mode: Hashable, Sendable {
        /// Every header except the denied ones (and, if asked, the private `P-` ones).
        case denyList
        /// Only the ``HeaderPolicy/essential`` headers and these (lowercase names).
        case allowList(Set<String>)
    }

    /// Which headers pass.
    public var mode: Mode
    /// Lowercase names removed in deny-list mode (default: User-Agent, Server, Organization, Warning, and
    /// Remote-Party-ID, the pre-RFC 3325 identity header phones still display: only the edge asserts identities).
    public var denied: Set<String>
    /// Whether private `P-` headers (RFC 3427 §4.1) are removed in deny-list mode, as the inside network's
    /// charging, access-network and visited-network details are. P-Asserted-Identity and P-Preferred-Identity
    /// are left to ``IdentityPolicy``.
    public var removesPrivateHeaders: Bool
    /// Headers whose value is replaced rather than removed (lowercase name → value), such as a fixed
    /// `User-Agent`; they are only replaced where present.
    public var replacements: [String: String]

    /// Creates a policy; the defaults minimize.
    public init(mode: Mode = .denyList,
                denied: Set<String> = ["user-agent", "server", "organization", "warning", "remote-party-id"],
                removesPrivateHeaders: Bool = true, replacements: [String: String] = [:]) {
        self.mode = mode
        self.denied = Set(denied.map { $0.lowercased() })
        self.removesPrivateHeaders = removesPrivateHeaders
        self.replacements = Dictionary(uniqueKeysWithValues: replacements.map { ($0.key.lowercased(), $0.value) })
    }

    /// The default: deny-list mode removing User-Agent, Server, Organization, Warning and private `P-` headers.
    public static let minimizing = HeaderPolicy()

    /// The headers an allow list always keeps: without them routing, transactions, dialogs, authentication,
    /// extensions and bodies break (RFC 3261 §20 and the extensions the edge speaks).
    public static let essential: Set<String> = [
        "via", "from", "to", "call-id", "cseq", "max-forwards", "contact", "route", "record-route", "path",
        "service-route", "content-type", "content-length", "content-encoding", "content-disposition", "mime-version",
        "expires", "min-expires", "require", "proxy-require", "supported", "unsupported", "allow", "accept", "rack",
        "rseq", "session-expires", "min-se", "event", "allow-events", "subscription-state", "refer-to",
        "referred-by", "replaces", "authorization", "proxy-authorization", "www-authenticate", "proxy-authenticate",
        "authentication-info", "retry-after", "reason", "privacy", "p-asserted-identity", "identity",
    ]

    /// Removes and replaces headers in `message` as the policy says.
    /// - Throws: ``SIPParseError`` if a replacement value is not a valid header value.
    public func apply(to message: inout SIPMessage) throws(SIPParseError) {
        message.removeHeaders { !passes(Self.lowercasedName(of: $0)) }
        for (name, value) in replacements.sorted(by: { $0.key < $1.key }) {
            let present = message.headers.contains { Self.lowercasedName(of: $0) == name }
            guard present else { continue }
            message.removeHeaders { Self.lowercasedName(of: $0) == name }
            message.appendHeader(try SIPHeaderField(name: Self.displayName(name), value: value))
        }
    }

    /// The fields that pass, with replaced values where the policy replaces them: what a B2BUA copies to the other
    /// leg.
    public func filtered(_ fields: [SIPHeaderField]) -> [SIPHeaderField] {
        fields.compactMap { field in
            let name = Self.lowercasedName(of: field)
            guard passes(name) else { return nil }
            guard let value = replacements[name] else { return field }
            return try? SIPHeaderField(name: field.name, value: value)
        }
    }

    /// Whether a header field passes (compact forms judged by their long names).
    public func passes(_ field: SIPHeaderField) -> Bool { passes(Self.lowercasedName(of: field)) }

    /// Whether a header (lowercase long name) passes.
    public func passes(_ name: String) -> Bool {
        if replacements[name] != nil { return true }
        switch mode {
        case .denyList:
            if denied.contains(name) { return false }
            if removesPrivateHeaders, name.hasPrefix("p-"), !IdentityPolicy.identityHeaders.contains(name) {
                return false
            }
            return true
        case .allowList(let allowed):
            return Self.essential.contains(name) || allowed.contains(name)
        }
    }

    /// The long name in lowercase (compact forms expanded).
    static func lowercasedName(of field: SIPHeaderField) -> String {
        (field.kind == .other ? field.name : field.kind.canonicalName).lowercased()
    }

    /// A header name as written in new fields: each dash-separated word capitalized.
    static func displayName(_ lowercased: String) -> String {
        let kind = SIPHeaderKind.identify(lowercased)
        if kind != .other { return kind.canonicalName }
        return lowercased.split(separator: "-", omittingEmptySubsequences: false)
            .map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: "-")
    }
}

/// Asserted identity and privacy at the edge (RFC 3325, RFC 3323) for a request it forwards.
public enum IdentityPolicy {
    /// The identity headers this policy owns.
    static let identityHeaders: Set<String> = ["p-asserted-identity", "p-preferred-identity"]

    /// Where a request comes from and goes to, as the edge knows it.
    public struct Hop: Sendable {
        /// The request came from a trusted peer (a trunk inside the trust domain, RFC 3325 §2.3).
        public var sourceIsTrusted: Bool
        /// The identity the edge authenticated (digest or mutual TLS) as a SIP URI, if any.
        public var authenticatedIdentity: String?
        /// The next hop is inside the trust domain.
        public var destinationIsTrusted: Bool

        public init(sourceIsTrusted: Bool, authenticatedIdentity: String?, destinationIsTrusted: Bool) {
            self.sourceIsTrusted = sourceIsTrusted
            self.authenticatedIdentity = authenticatedIdentity
            self.destinationIsTrusted = destinationIsTrusted
        }
    }

    /// Headers that can reveal who the caller is, removed for `Privacy: header` (RFC 3323 §5.1).
    static let revealingHeaders: Set<String> = [
        "call-info", "organization", "subject", "in-reply-to", "reply-to", "user-agent", "server", "warning",
    ]

    /// Applies the rules, in order:
    /// 1. P-Preferred-Identity is consumed by the edge and never forwarded (RFC 3325 §9.2).
    /// 2. P-Asserted-Identity from an untrusted source is removed; the edge asserts the authenticated identity
    ///    instead (RFC 3325 §9.1).
    /// 3. Towards an untrusted next hop: `Privacy: id` removes P-Asserted-Identity (RFC 3325 §7), `Privacy: user`
    ///    (or an anonymous From) replaces From with the anonymous URI, keeping its tag (RFC 3323 §4.1.1.3), and
    ///    `Privacy: header` removes the headers that reveal the caller (RFC 3323 §5.1).
    /// - Throws: ``SIPParseError`` if the request's Privacy or From header does not parse.
    public static func apply(to request: inout SIPMessage, hop: Hop) throws(SIPParseError) {
        request.removeHeaders(.pPreferredIdentity)
        if !hop.sourceIsTrusted {
            request.removeHeaders(.pAssertedIdentity)
            if let identity = hop.authenticatedIdentity {
                request.appendHeader(try SIPHeaderField(.pAssertedIdentity, value: "<\(identity)>"))
            }
        }
        guard !hop.destinationIsTrusted else { return }
        let privacy = Set(try request.privacy().map { $0.lowercased() })
        if privacy.contains("id") { request.removeHeaders(.pAssertedIdentity) }
        if privacy.contains("header") {
            request.removeHeaders { revealingHeaders.contains(HeaderPolicy.lowercasedName(of: $0)) }
        }
        let from = try request.from()
        if privacy.contains("user") || Self.isAnonymous(from) {
            var anonymous = "\"Anonymous\" <sip:anonymous@anonymous.invalid>"
            if let tag = from.tag { anonymous += ";tag=\(tag)" }
            request.removeHeaders(.from)
            request.appendHeader(try SIPHeaderField(.from, value: anonymous))
            // Without an identity to hide behind, an anonymous caller's asserted identity goes too.
            request.removeHeaders(.pAssertedIdentity)
        }
    }

    /// Whether a From is already anonymous (RFC 3323 §4.1.1.3: the `anonymous` user or display name).
    static func isAnonymous(_ from: SIPAddress) -> Bool {
        if from.displayName?.lowercased() == "anonymous" { return true }
        if case .sip(let uri) = from.uri { return uri.user?.lowercased() == "anonymous" }
        return false
    }
}
