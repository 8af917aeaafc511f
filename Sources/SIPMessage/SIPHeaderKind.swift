/// The header fields Rampart knows by name (RFC 3261 §20 and the extensions the edge uses), with their
/// compact forms (RFC 3261 §7.3.3, RFC 3515, RFC 4028, RFC 8224). Header names compare case-insensitively.
public enum SIPHeaderKind: UInt8, CaseIterable, Sendable {
    /// `Accept`.
    case accept
    /// `Accept-Contact` (compact form `a`).
    case acceptContact
    /// `Accept-Encoding`.
    case acceptEncoding
    /// `Accept-Language`.
    case acceptLanguage
    /// `Alert-Info`.
    case alertInfo
    /// `Allow`.
    case allow
    /// `Allow-Events` (compact form `u`).
    case allowEvents
    /// `Authentication-Info`.
    case authenticationInfo
    /// `Authorization`.
    case authorization
    /// `Call-ID` (compact form `i`).
    case callID
    /// `Call-Info`.
    case callInfo
    /// `Contact` (compact form `m`).
    case contact
    /// `Content-Disposition`.
    case contentDisposition
    /// `Content-Encoding` (compact form `e`).
    case contentEncoding
    /// `Content-Language`.
    case contentLanguage
    /// `Content-Length` (compact form `l`).
    case contentLength
    /// `Content-Type` (compact form `c`).
    case contentType
    /// `CSeq`.
    case cseq
    /// `Date`.
    case date
    /// `Error-Info`.
    case errorInfo
    /// `Event` (compact form `o`).
    case event
    /// `Expires`.
    case expires
    /// `From` (compact form `f`).
    case from
    /// `Identity` (compact form `y`).
    case identity
    /// `In-Reply-To`.
    case inReplyTo
    /// `Max-Forwards`.
    case maxForwards
    /// `Min-Expires`.
    case minExpires
    /// `Min-SE`.
    case minSE
    /// `MIME-Version`.
    case mimeVersion
    /// `Organization`.
    case organization
    /// `P-Asserted-Identity`.
    case pAssertedIdentity
    /// `P-Preferred-Identity`.
    case pPreferredIdentity
    /// `Path`.
    case path
    /// `Priority`.
    case priority
    /// `Privacy`.
    case privacy
    /// `Proxy-Authenticate`.
    case proxyAuthenticate
    /// `Proxy-Authorization`.
    case proxyAuthorization
    /// `Proxy-Require`.
    case proxyRequire
    /// `RAck`.
    case rack
    /// `Reason`.
    case reason
    /// `Record-Route`.
    case recordRoute
    /// `Refer-To` (compact form `r`).
    case referTo
    /// `Referred-By` (compact form `b`).
    case referredBy
    /// `Reject-Contact` (compact form `j`).
    case rejectContact
    /// `Reply-To`.
    case replyTo
    /// `Request-Disposition` (compact form `d`).
    case requestDisposition
    /// `Require`.
    case require
    /// `Retry-After`.
    case retryAfter
    /// `Route`.
    case route
    /// `RSeq`.
    case rseq
    /// `Server`.
    case server
    /// `Service-Route`.
    case serviceRoute
    /// `Session-Expires` (compact form `x`).
    case sessionExpires
    /// `Subject` (compact form `s`).
    case subject
    /// `Subscription-State`.
    case subscriptionState
    /// `Supported` (compact form `k`).
    case supported
    /// `Timestamp`.
    case timestamp
    /// `To` (compact form `t`).
    case to
    /// `Unsupported`.
    case unsupported
    /// `User-Agent`.
    case userAgent
    /// `Via` (compact form `v`).
    case via
    /// `Warning`.
    case warning
    /// `WWW-Authenticate`.
    case wwwAuthenticate
    /// Any header Rampart does not know; kept verbatim.
    case other

    /// The canonical spelling used when Rampart writes the header.
    public var canonicalName: String {
        switch self {
        case .accept: "Accept"
        case .acceptContact: "Accept-Contact"
        case .acceptEncoding: "Accept-Encoding"
        case .acceptLanguage: "Accept-Language"
        case .alertInfo: "Alert-Info"
        case .allow: "Allow"
        case .allowEvents: "Allow-Events"
        case .authenticationInfo: "Authentication-Info"
        case .authorization: "Authorization"
        case .callID: "Call-ID"
        case .callInfo: "Call-Info"
        case .contact: "Contact"
        case .contentDisposition: "Content-Disposition"
        case .contentEncoding: "Content-Encoding"
        case .contentLanguage: "Content-Language"
        case .contentLength: "Content-Length"
        case .contentType: "Content-Type"
        case .cseq: "CSeq"
        case .date: "Date"
        case .errorInfo: "Error-Info"
        case .event: "Event"
        case .expires: "Expires"
        case .from: "From"
        case .identity: "Identity"
        case .inReplyTo: "In-Reply-To"
        case .maxForwards: "Max-Forwards"
        case .minExpires: "Min-Expires"
        case .minSE: "Min-SE"
        case .mimeVersion: "MIME-Version"
        case .organization: "Organization"
        case .pAssertedIdentity: "P-Asserted-Identity"
        case .pPreferredIdentity: "P-Preferred-Identity"
        case .path: "Path"
        case .priority: "Priority"
        case .privacy: "Privacy"
        case .proxyAuthenticate: "Proxy-Authenticate"
        case .proxyAuthorization: "Proxy-Authorization"
        case .proxyRequire: "Proxy-Require"
        case .rack: "RAck"
        case .reason: "Reason"
        case .recordRoute: "Record-Route"
        case .referTo: "Refer-To"
        case .referredBy: "Referred-By"
        case .rejectContact: "Reject-Contact"
        case .replyTo: "Reply-To"
        case .requestDisposition: "Request-Disposition"
        case .require: "Require"
        case .retryAfter: "Retry-After"
        case .route: "Route"
        case .rseq: "RSeq"
        case .server: "Server"
        case .serviceRoute: "Service-Route"
        case .sessionExpires: "Session-Expires"
        case .subject: "Subject"
        case .subscriptionState: "Subscription-State"
        case .supported: "Supported"
        case .timestamp: "Timestamp"
        case .to: "To"
        case .unsupported: "Unsupported"
        case .userAgent: "User-Agent"
        case .via: "Via"
        case .warning: "Warning"
        case .wwwAuthenticate: "WWW-Authenticate"
        case .other: ""
        }
    }

    /// The compact form (RFC 3261 §7.3.3), if the header has one.
    public var compactForm: Character? {
        switch self {
        case .acceptContact: "a"
        case .allowEvents: "u"
        case .callID: "i"
        case .contact: "m"
        case .contentEncoding: "e"
        case .contentLength: "l"
        case .contentType: "c"
        case .event: "o"
        case .from: "f"
        case .identity: "y"
        case .referTo: "r"
        case .referredBy: "b"
        case .rejectContact: "j"
        case .requestDisposition: "d"
        case .sessionExpires: "x"
        case .subject: "s"
        case .supported: "k"
        case .to: "t"
        case .via: "v"
        default: nil
        }
    }
}
