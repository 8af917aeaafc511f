extension SIPGrammar {
    /// Returns a string for the bytes, reusing a constant for the tokens that fill most messages (parameter
    /// names, transports, methods) so that the hot path neither allocates nor re-validates them.
    @inline(__always)
    static func string(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        if let known = interned(bytes, range) { return known }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    static func interned(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String? {
        @inline(__always) func matches(_ literal: StaticString) -> Bool {
            guard literal.utf8CodeUnitCount == range.count else { return false }
            let start = literal.utf8Start
            for offset in 0..<range.count where bytes[range.lowerBound + offset] != start[offset] { return false }
            return true
        }
        switch range.count {
        case 1: if matches("q") { return "q" }
        case 2:
            if matches("lr") { return "lr" }
            if matches("WS") { return "WS" }
        case 3:
            switch bytes[range.lowerBound] {
            case UInt8(ascii: "t"): if matches("tag") { return "tag" }; if matches("ttl") { return "ttl" }
            case UInt8(ascii: "S"): if matches("SIP") { return "SIP" }
            case UInt8(ascii: "2"): if matches("2.0") { return "2.0" }
            case UInt8(ascii: "U"): if matches("UDP") { return "UDP" }
            case UInt8(ascii: "T"): if matches("TCP") { return "TCP" }; if matches("TLS") { return "TLS" }
            case UInt8(ascii: "W"): if matches("WSS") { return "WSS" }
            case UInt8(ascii: "A"): if matches("ACK") { return "ACK" }
            case UInt8(ascii: "B"): if matches("BYE") { return "BYE" }
            default: break
            }
        case 4:
            if matches("user") { return "user" }
            if matches("SCTP") { return "SCTP" }
            if matches("INFO") { return "INFO" }
        case 5:
            if matches("rport") { return "rport" }
            if matches("maddr") { return "maddr" }
            if matches("PRACK") { return "PRACK" }
        case 6:
            if matches("branch") { return "branch" }
            if matches("INVITE") { return "INVITE" }
            if matches("CANCEL") { return "CANCEL" }
            if matches("UPDATE") { return "UPDATE" }
            if matches("NOTIFY") { return "NOTIFY" }
            if matches("reg-id") { return "reg-id" }
        case 7:
            if matches("expires") { return "expires" }
            if matches("OPTIONS") { return "OPTIONS" }
            if matches("MESSAGE") { return "MESSAGE" }
        case 8:
            if matches("received") { return "received" }
            if matches("REGISTER") { return "REGISTER" }
        case 9:
            if matches("transport") { return "transport" }
            if matches("SUBSCRIBE") { return "SUBSCRIBE" }
        case 13: if matches("+sip.instance") { return "+sip.instance" }
        default: break
        }
        return nil
    }
}
