/// What the configuration reader refuses before TOMLKit sees the text: the two shapes on which its parser (toml++)
/// assumes what it has not checked, aborting in debug builds and undefined in release ones (found by
/// `scripts/fuzz-config`):
/// - a table header that does not start with a key (`[{`, `[[ =`, `[` alone on a line);
/// - a `}` where an array expects a value (`a = [}`, `a = [1, }`);
/// - U+0085, U+2028 or U+2029 outside strings and comments (toml++ takes them for whitespace in one place and not
///   in another), and a byte-order mark anywhere but first (the reader drops one there: ``withoutByteOrderMark``).
/// A scan of the bytes that knows strings, comments, table headers and the brackets of values; anything else
/// malformed is left to TOMLKit, which reports it.
enum TOMLScreen {
    struct Refused: Error {
        let line: Int
        let reason: String
    }

    /// The text without a leading byte-order mark, which toml++ skips and this scan would read as a line's start.
    static func withoutByteOrderMark(_ text: String) -> String {
        text.unicodeScalars.first == "\u{FEFF}" ? String(text.unicodeScalars.dropFirst()) : text
    }

    static func check(_ text: String) throws(Refused) {
        let bytes = Array(text.utf8)
        var index = 0
        var line = 1
        var brackets: [UInt8] = []  // the open `[` and `{` of the value being read
        var inValue = false  // after a top-level `=`, until the value's line ends
        var expectsArrayValue = false  // just after an array's `[` or `,`
        var atLineStart = true

        func isKeyStart(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || byte == 0x5F
                || byte == 0x2D || byte == 0x22 || byte == 0x27
        }
        func skipString() {
            let quote = bytes[index]
            let triple = index + 2 < bytes.count && bytes[index + 1] == quote && bytes[index + 2] == quote
            index += triple ? 3 : 1
            while index < bytes.count {
                let byte = bytes[index]
                if byte == 0x5C, quote == 0x22 { index += 2; continue }  // an escape in a basic string
                if byte == 0x0A {
                    line += 1
                    if !triple { return }  // a single-line string ends at the line (TOMLKit reports it)
                }
                if byte == quote {
                    if !triple { index += 1; return }
                    if index + 2 < bytes.count, bytes[index + 1] == quote, bytes[index + 2] == quote {
                        index += 3
                        while index < bytes.count, bytes[index] == quote { index += 1 }  // up to two more
                        return
                    }
                }
                index += 1
            }
        }

        while index < bytes.count {
            let byte = bytes[index]
            if atLineStart, brackets.isEmpty, !inValue {
                atLineStart = false
                var cursor = index
                while cursor < bytes.count, bytes[cursor] == 0x20 || bytes[cursor] == 0x09 { cursor += 1 }
                if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "[") {
                    cursor += 1
                    if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "[") { cursor += 1 }
                    while cursor < bytes.count, bytes[cursor] == 0x20 || bytes[cursor] == 0x09 { cursor += 1 }
                    let first = cursor < bytes.count ? bytes[cursor] : 0x0A
                    guard isKeyStart(first) || first == UInt8(ascii: "]") else {
                        throw Refused(line: line, reason: "a table header must start with a key")
                    }
                    // The rest of the header: keys, perhaps quoted, then `]`.
                    index = cursor
                    while index < bytes.count, bytes[index] != 0x0A, bytes[index] != UInt8(ascii: "#") {
                        if bytes[index] == 0x22 || bytes[index] == 0x27 { skipString() } else { index += 1 }
                    }
                    continue
                }
            }
            switch byte {
            case 0x0A:
                line += 1
                if brackets.isEmpty { inValue = false; atLineStart = true }
                index += 1
            case UInt8(ascii: "#"):
                while index < bytes.count, bytes[index] != 0x0A { index += 1 }
            case 0x22, 0x27:
                skipString()
                expectsArrayValue = false
            case 0x20, 0x09, 0x0D:
                index += 1
            case UInt8(ascii: "="):
                if brackets.isEmpty { inValue = true }
                expectsArrayValue = false
                index += 1
            case UInt8(ascii: "["):
                if inValue || !brackets.isEmpty { brackets.append(byte) }
                expectsArrayValue = true
                index += 1
            case UInt8(ascii: "{"):
                brackets.append(byte)
                expectsArrayValue = false
                index += 1
            case UInt8(ascii: "]"):
                if brackets.last == UInt8(ascii: "[") { brackets.removeLast() }
                expectsArrayValue = false
                index += 1
            case UInt8(ascii: "}"):
                if expectsArrayValue, brackets.last == UInt8(ascii: "[") {
                    throw Refused(line: line, reason: "an array holds a '}' where a value belongs")
                }
                if brackets.last == UInt8(ascii: "{") { brackets.removeLast() }
                index += 1
            case UInt8(ascii: ","):
                expectsArrayValue = brackets.last == UInt8(ascii: "[")
                index += 1
            case 0xC2 where index + 1 < bytes.count && bytes[index + 1] == 0x85:
                throw Refused(line: line, reason: "U+0085 (next line) outside a string")
            case 0xE2 where index + 2 < bytes.count && bytes[index + 1] == 0x80
                && (bytes[index + 2] == 0xA8 || bytes[index + 2] == 0xA9):
                throw Refused(line: line, reason: "U+2028 or U+2029 (a line or paragraph separator) outside a string")
            case 0xEF where index + 2 < bytes.count && bytes[index + 1] == 0xBB && bytes[index + 2] == 0xBF:
                throw Refused(line: line, reason: "a byte-order mark inside the text")
            default:
                expectsArrayValue = false
                index += 1
            }
        }
    }
}
