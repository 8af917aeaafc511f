// Generated from SIPHeaderKind's names.
extension SIPHeaderKind {
    /// Identifies a header name (case-insensitive, compact forms included) without allocating: a switch on
    /// the length and first letter, then a comparison against the few candidates left.
    static func identify(_ name: UnsafeBufferPointer<UInt8>) -> SIPHeaderKind {
        guard let firstByte = name.first else { return .other }
        let first = SIPGrammar.lowercased(firstByte)
        let range = 0..<name.count
        switch name.count {
        case 1:
            switch first {
            case UInt8(ascii: "a"): return .acceptContact
            case UInt8(ascii: "u"): return .allowEvents
            case UInt8(ascii: "i"): return .callID
            case UInt8(ascii: "m"): return .contact
            case UInt8(ascii: "e"): return .contentEncoding
            case UInt8(ascii: "l"): return .contentLength
            case UInt8(ascii: "c"): return .contentType
            case UInt8(ascii: "o"): return .event
            case UInt8(ascii: "f"): return .from
            case UInt8(ascii: "y"): return .identity
            case UInt8(ascii: "r"): return .referTo
            case UInt8(ascii: "b"): return .referredBy
            case UInt8(ascii: "j"): return .rejectContact
            case UInt8(ascii: "d"): return .requestDisposition
            case UInt8(ascii: "x"): return .sessionExpires
            case UInt8(ascii: "s"): return .subject
            case UInt8(ascii: "k"): return .supported
            case UInt8(ascii: "t"): return .to
            case UInt8(ascii: "v"): return .via
            default: return .other
            }
        case 2:
            switch first {
            case UInt8(ascii: "t"):
                if SIPGrammar.equalsLowercase(name, range, "to") { return .to }
            default: break
            }
            return .other
        case 3:
            switch first {
            case UInt8(ascii: "v"):
                if SIPGrammar.equalsLowercase(name, range, "via") { return .via }
            default: break
            }
            return .other
        case 4:
            switch first {
            case UInt8(ascii: "c"):
                if SIPGrammar.equalsLowercase(name, range, "cseq") { return .cseq }
            case UInt8(ascii: "d"):
                if SIPGrammar.equalsLowercase(name, range, "date") { return .date }
            case UInt8(ascii: "f"):
                if SIPGrammar.equalsLowercase(name, range, "from") { return .from }
            case UInt8(ascii: "p"):
                if SIPGrammar.equalsLowercase(name, range, "path") { return .path }
            case UInt8(ascii: "r"):
                if SIPGrammar.equalsLowercase(name, range, "rack") { return .rack }
                if SIPGrammar.equalsLowercase(name, range, "rseq") { return .rseq }
            default: break
            }
            return .other
        case 5:
            switch first {
            case UInt8(ascii: "a"):
                if SIPGrammar.equalsLowercase(name, range, "allow") { return .allow }
            case UInt8(ascii: "e"):
                if SIPGrammar.equalsLowercase(name, range, "event") { return .event }
            case UInt8(ascii: "r"):
                if SIPGrammar.equalsLowercase(name, range, "route") { return .route }
            default: break
            }
            return .other
        case 6:
            switch first {
            case UInt8(ascii: "a"):
                if SIPGrammar.equalsLowercase(name, range, "accept") { return .accept }
            case UInt8(ascii: "m"):
                if SIPGrammar.equalsLowercase(name, range, "min-se") { return .minSE }
            case UInt8(ascii: "r"):
                if SIPGrammar.equalsLowercase(name, range, "reason") { return .reason }
            case UInt8(ascii: "s"):
                if SIPGrammar.equalsLowercase(name, range, "server") { return .server }
            default: break
            }
            return .other
        case 7:
            switch first {
            case UInt8(ascii: "c"):
                if SIPGrammar.equalsLowercase(name, range, "call-id") { return .callID }
                if SIPGrammar.equalsLowercase(name, range, "contact") { return .contact }
            case UInt8(ascii: "e"):
                if SIPGrammar.equalsLowercase(name, range, "expires") { return .expires }
            case UInt8(ascii: "p"):
                if SIPGrammar.equalsLowercase(name, range, "privacy") { return .privacy }
            case UInt8(ascii: "r"):
                if SIPGrammar.equalsLowercase(name, range, "require") { return .require }
            case UInt8(ascii: "s"):
                if SIPGrammar.equalsLowercase(name, range, "subject") { return .subject }
            case UInt8(ascii: "w"):
                if SIPGrammar.equalsLowercase(name, range, "warning") { return .warning }
            default: break
            }
            return .other
        case 8:
            switch first {
            case UInt8(ascii: "i"):
                if SIPGrammar.equalsLowercase(name, range, "identity") { return .identity }
            case UInt8(ascii: "p"):
                if SIPGrammar.equalsLowercase(name, range, "priority") { return .priority }
            case UInt8(ascii: "r"):
                if SIPGrammar.equalsLowercase(name, range, "refer-to") { return .referTo }
                if SIPGrammar.equalsLowercase(name, range, "reply-to") { return .replyTo }
            default: break
            }
            return .other
        case 9:
            switch first {
            case UInt8(ascii: "c"):
                if SIPGrammar.equalsLowercase(name, range, "call-info") { return .callInfo }
            case UInt8(ascii: "s"):
                if SIPGrammar.equalsLowercase(name, range, "supported") { return .supported }
            case UInt8(ascii: "t"):
                if SIPGrammar.equalsLowercase(name, range, "timestamp") { return .timestamp }
            default: break
            }
            return .other
        case 10:
            switch first {
            case UInt8(ascii: "a"):
                if SIPGrammar.equalsLowercase(name, range, "alert-info") { return .alertInfo }
            case UInt8(ascii: "e"):
                if SIPGrammar.equalsLowercase(name, range, "error-info") { return .errorInfo }
            case UInt8(ascii: "u"):
                if SIPGrammar.equalsLowercase(name, range, "user-agent") { return .userAgent }
            default: break
            }
            return .other
        case 11:
            switch first {
            case UInt8(ascii: "i"):
                if SIPGrammar.equalsLowercase(name, range, "in-reply-to") { return .inReplyTo }
            case UInt8(ascii: "m"):
                if SIPGrammar.equalsLowercase(name, range, "min-expires") { return .minExpires }
            case UInt8(ascii: "r"):
                if SIPGrammar.equalsLowercase(name, range, "referred-by") { return .referredBy }
                if SIPGrammar.equalsLowercase(name, range, "retry-after") { return .retryAfter }
            case UInt8(ascii: "u"):
                if SIPGrammar.equalsLowercase(name, range, "unsupported") { return .unsupported }
            default: break
            }
            return .other
        case 12:
            switch first {
            case UInt8(ascii: "a"):
                if SIPGrammar.equalsLowercase(name, range, "allow-events") { return .allowEvents }
            case UInt8(ascii: "c"):
                if SIPGrammar.equalsLowercase(name, range, "content-type") { return .contentType }
            case UInt8(ascii: "m"):
                if SIPGrammar.equalsLowercase(name, range, "max-forwards") { return .maxForwards }
                if SIPGrammar.equalsLowercase(name, range, "mime-version") { return .mimeVersion }
            case UInt8(ascii: "o"):
                if SIPGrammar.equalsLowercase(name, range, "organization") { return .organization }
            case UInt8(ascii: "r"):
                if SIPGrammar.equalsLowercase(name, range, "record-route") { return .recordRoute }
            default: break
            }
            return .other
        case 13:
            switch first {
            case UInt8(ascii: "a"):
                if SIPGrammar.equalsLowercase(name, range, "authorization") { return .authorization }
            case UInt8(ascii: "p"):
                if SIPGrammar.equalsLowercase(name, range, "proxy-require") { return .proxyRequire }
            case UInt8(ascii: "s"):
                if SIPGrammar.equalsLowercase(name, range, "service-route") { return .serviceRoute }
            default: break
            }
            return .other
        case 14:
            switch first {
            case UInt8(ascii: "a"):
                if SIPGrammar.equalsLowercase(name, range, "accept-contact") { return .acceptContact }
            case UInt8(ascii: "c"):
                if SIPGrammar.equalsLowercase(name, range, "content-length") { return .contentLength }
            case UInt8(ascii: "r"):
                if SIPGrammar.equalsLowercase(name, range, "reject-contact") { return .rejectContact }
            default: break
            }
            return .other
        case 15:
            switch first {
            case UInt8(ascii: "a"):
                if SIPGrammar.equalsLowercase(name, range, "accept-encoding") { return .acceptEncoding }
                if SIPGrammar.equalsLowercase(name, range, "accept-language") { return .acceptLanguage }
            case UInt8(ascii: "s"):
                if SIPGrammar.equalsLowercase(name, range, "session-expires") { return .sessionExpires }
            default: break
            }
            return .other
        case 16:
            switch first {
            case UInt8(ascii: "c"):
                if SIPGrammar.equalsLowercase(name, range, "content-encoding") { return .contentEncoding }
                if SIPGrammar.equalsLowercase(name, range, "content-language") { return .contentLanguage }
            case UInt8(ascii: "w"):
                if SIPGrammar.equalsLowercase(name, range, "www-authenticate") { return .wwwAuthenticate }
            default: break
            }
            return .other
        case 18:
            switch first {
            case UInt8(ascii: "p"):
                if SIPGrammar.equalsLowercase(name, range, "proxy-authenticate") { return .proxyAuthenticate }
            case UInt8(ascii: "s"):
                if SIPGrammar.equalsLowercase(name, range, "subscription-state") { return .subscriptionState }
            default: break
            }
            return .other
        case 19:
            switch first {
            case UInt8(ascii: "a"):
                if SIPGrammar.equalsLowercase(name, range, "authentication-info") { return .authenticationInfo }
            case UInt8(ascii: "c"):
                if SIPGrammar.equalsLowercase(name, range, "content-disposition") { return .contentDisposition }
            case UInt8(ascii: "p"):
                if SIPGrammar.equalsLowercase(name, range, "p-asserted-identity") { return .pAssertedIdentity }
                if SIPGrammar.equalsLowercase(name, range, "proxy-authorization") { return .proxyAuthorization }
            case UInt8(ascii: "r"):
                if SIPGrammar.equalsLowercase(name, range, "request-disposition") { return .requestDisposition }
            default: break
            }
            return .other
        case 20:
            switch first {
            case UInt8(ascii: "p"):
                if SIPGrammar.equalsLowercase(name, range, "p-preferred-identity") { return .pPreferredIdentity }
            default: break
            }
            return .other
        default:
            return .other
        }
    }

    /// Identifies a header by name, case-insensitively, compact forms included.
    public static func identify(_ name: String) -> SIPHeaderKind {
        let bytes = Array(name.utf8)
        return bytes.withUnsafeBufferPointer { identify($0) }
    }
}
