// RFC 8187 §3.2 ext-value, used by the RFC 7616 §3.4 `username*` parameter:
//
//   ext-value   = charset "'" [ language ] "'" value-chars
//   charset     = "UTF-8" / mime-charset       (case-insensitive)
//   value-chars = *( pct-encoded / attr-char )
//   attr-char   = ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"

extension UInt8 {
    /// RFC 8187 §3.2.1 `attr-char`.
    var isAttrChar: Bool {
        switch self {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "&"),
            UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"),
            UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    var hexDigitValue: UInt8? {
        switch self {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): self - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): self - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): self - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Decodes an RFC 8187 §3.2 ext-value. UTF-8 and ISO-8859-1 are accepted (RFC 8187 §3.2.1
/// requires recipients to support both); the language tag is ignored. A decoded value
/// holding a control character is refused.
func decodeExtendedValue(_ text: String) throws(DigestError) -> String {
    let bytes = Array(text.utf8)
    guard let firstQuote = bytes.firstIndex(of: UInt8(ascii: "'")),
        let secondQuote = bytes[(firstQuote + 1)...].firstIndex(of: UInt8(ascii: "'"))
    else {
        throw DigestError(code: .invalidEncoding, reason: "username* lacks the charset'language' prefix")
    }
    let charset = String(decoding: bytes[..<firstQuote].map(\.lowercasedASCII), as: UTF8.self)
    let isUTF8: Bool
    switch charset {
    case "utf-8": isUTF8 = true
    case "iso-8859-1": isUTF8 = false
    default:
        throw DigestError(code: .invalidEncoding, reason: "username* charset \(loggable(charset)) is not supported")
    }

    var decoded = [UInt8]()
    var index = secondQuote + 1
    while index < bytes.count {
        let byte = bytes[index]
        if byte == UInt8(ascii: "%") {
            guard index + 2 < bytes.count,
                let high = bytes[index + 1].hexDigitValue,
                let low = bytes[index + 2].hexDigitValue
            else {
                throw DigestError(code: .invalidEncoding, reason: "username* has a malformed percent-encoding")
            }
            decoded.append(high << 4 | low)
            index += 3
        } else if byte.isAttrChar {
            decoded.append(byte)
            index += 1
        } else {
            throw DigestError(
                code: .invalidEncoding, reason: "username* holds a character that must be percent-encoded")
        }
    }

    let value: String
    if isUTF8 {
        guard let valid = String(validating: decoded, as: UTF8.self) else {
            throw DigestError(code: .invalidEncoding, reason: "username* is not valid UTF-8")
        }
        value = valid
    } else {
        var latin1 = ""
        for byte in decoded { latin1.unicodeScalars.append(Unicode.Scalar(byte)) }
        value = latin1
    }
    guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || ($0.value >= 0x7F && $0.value < 0xA0) }) else {
        throw DigestError(code: .controlCharacter, reason: "username* decodes to a control character")
    }
    return value
}

/// Encodes `value` as an RFC 8187 §3.2 ext-value in UTF-8 with no language tag.
func encodeExtendedValue(_ value: String) -> String {
    let digits = Array("0123456789ABCDEF".utf8)
    var out = Array("UTF-8''".utf8)
    for byte in value.utf8 {
        if byte.isAttrChar {
            out.append(byte)
        } else {
            out.append(UInt8(ascii: "%"))
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
    }
    return String(decoding: out, as: UTF8.self)
}
