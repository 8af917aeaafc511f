/// The JSON of a PASSporT's header and claims: a bounded parser and the deterministic serialisation of RFC 8225 §9
/// (members ordered by name, no insignificant whitespace, minimal escaping).
///
/// The parser refuses what a PASSporT never needs and an attacker would send: more than ``Limits/maxBytes``, nesting
/// deeper than ``Limits/maxDepth``, more than ``Limits/maxMembers`` members or elements in one container, a member
/// name twice in one object (which of two `orig` claims would count?), invalid UTF-8 or lone surrogates.
public indirect enum JSONValue: Hashable, Sendable {
    case string(String)
    /// A number as written (integers are what PASSporTs carry; the text keeps any other number exact).
    case number(String)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    /// The parser's bounds.
    public enum Limits {
        public static let maxBytes = 16 * 1_024
        public static let maxDepth = 8
        public static let maxMembers = 64
    }

    /// Why a text is not acceptable JSON.
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Parses one JSON value that must fill `bytes` (whitespace aside).
    public init(parsing bytes: some Collection<UInt8>) throws(ParseError) {
        guard bytes.count <= Limits.maxBytes else { throw ParseError("JSON of \(bytes.count) bytes") }
        var parser = Parser(bytes: Array(bytes))
        self = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.position == parser.bytes.count else { throw ParseError("text after the JSON value") }
    }

    /// The string, when this is one.
    public var string: String? { if case .string(let value) = self { value } else { nil } }
    /// The integer, when this is a number without fraction or exponent that fits 64 bits.
    public var integer: Int64? { if case .number(let text) = self { Int64(text) } else { nil } }
    /// The members, when this is an object.
    public var object: [String: JSONValue]? { if case .object(let value) = self { value } else { nil } }
    /// The elements, when this is an array.
    public var array: [JSONValue]? { if case .array(let value) = self { value } else { nil } }

    /// The deterministic serialisation (RFC 8225 §9): UTF-8, members sorted by name, no whitespace.
    public var canonical: [UInt8] {
        var output = [UInt8]()
        write(to: &output)
        return output
    }

    private func write(to output: inout [UInt8]) {
        switch self {
        case .string(let value): Self.writeString(value, to: &output)
        case .number(let text): output += text.utf8
        case .bool(let value): output += (value ? "true" : "false").utf8
        case .null: output += "null".utf8
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                element.write(to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            for (index, name) in members.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                Self.writeString(name, to: &output)
                output.append(UInt8(ascii: ":"))
                members[name]!.write(to: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    static func writeString(_ value: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output += "\\\"".utf8
            case UInt8(ascii: "\\"): output += "\\\\".utf8
            case 0x08: output += "\\b".utf8
            case 0x0C: output += "\\f".utf8
            case 0x0A: output += "\\n".utf8
            case 0x0D: output += "\\r".utf8
            case 0x09: output += "\\t".utf8
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                output += "\\u00".utf8
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 15)])
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }

    private struct Parser {
        let bytes: [UInt8]
        var position = 0

        mutating func skipWhitespace() {
            while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        }

        mutating func value(depth: Int) throws(ParseError) -> JSONValue {
            guard depth <= Limits.maxDepth else { throw ParseError("JSON nested deeper than \(Limits.maxDepth)") }
            skipWhitespace()
            guard position < bytes.count else { throw ParseError("JSON ends early") }
            switch bytes[position] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            default: return .number(try number())
            }
        }

        mutating func literal(_ word: String) throws(ParseError) {
            let expected = Array(word.utf8)
            guard bytes.count - position >= expected.count, Array(bytes[position..<position + expected.count]) == expected
            else { throw ParseError("not a JSON value") }
            position += expected.count
        }

        mutating func object(depth: Int) throws(ParseError) -> JSONValue {
            position += 1
            var members: [String: JSONValue] = [:]
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                position += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                    throw ParseError("a member name must be a string")
                }
                let name = try string()
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw ParseError("':' expected") }
                position += 1
                let member = try value(depth: depth + 1)
                guard members.updateValue(member, forKey: name) == nil else {
                    throw ParseError("member \"\(name.prefix(32))\" appears twice")
                }
                guard members.count <= Limits.maxMembers else { throw ParseError("more than \(Limits.maxMembers) members") }
                skipWhitespace()
                guard position < bytes.count else { throw ParseError("JSON ends early") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                guard bytes[position] == UInt8(ascii: "}") else { throw ParseError("',' or '}' expected") }
                position += 1
                return .object(members)
            }
        }

        mutating func array(depth: Int) throws(ParseError) -> JSONValue {
            position += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                position += 1
                return .array(elements)
            }
            while true {
                elements.append(try value(depth: depth + 1))
                guard elements.count <= Limits.maxMembers else { throw ParseError("more than \(Limits.maxMembers) elements") }
                skipWhitespace()
                guard position < bytes.count else { throw ParseError("JSON ends early") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                guard bytes[position] == UInt8(ascii: "]") else { throw ParseError("',' or ']' expected") }
                position += 1
                return .array(elements)
            }
        }

        mutating func number() throws(ParseError) -> String {
            let start = position
            func digits() -> Int {
                let from = position
                while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
                return position - from
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
            let integerStart = position
            guard digits() > 0 else { throw ParseError("not a JSON value") }
            guard bytes[integerStart] != UInt8(ascii: "0") || position - integerStart == 1 else {
                throw ParseError("a number with a leading zero")
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
                position += 1
                guard digits() > 0 else { throw ParseError("a fraction without digits") }
            }
            if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
                position += 1
                if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                    position += 1
                }
                guard digits() > 0 else { throw ParseError("an exponent without digits") }
            }
            guard position - start <= 32 else { throw ParseError("a number of more than 32 characters") }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        mutating func string() throws(ParseError) -> String {
            position += 1
            var output = [UInt8]()
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    guard let text = String(validating: output, as: UTF8.self) else { throw ParseError("invalid UTF-8") }
                    return text
                case UInt8(ascii: "\\"):
                    guard position < bytes.count else { throw ParseError("JSON ends early") }
                    let escape = bytes[position]
                    position += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(escape)
                    case UInt8(ascii: "b"): output.append(0x08)
                    case UInt8(ascii: "f"): output.append(0x0C)
                    case UInt8(ascii: "n"): output.append(0x0A)
                    case UInt8(ascii: "r"): output.append(0x0D)
                    case UInt8(ascii: "t"): output.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800..<0xDC00).contains(scalar) {
                            guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"),
                                bytes[position + 1] == UInt8(ascii: "u")
                            else { throw ParseError("a lone surrogate") }
                            position += 2
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw ParseError("a lone surrogate") }
                            scalar = 0x10000 + (scalar - 0xD800) << 10 + (low - 0xDC00)
                        }
                        guard let unicode = Unicode.Scalar(scalar) else { throw ParseError("a lone surrogate") }
                        output += Array(String(Character(unicode)).utf8)
                    default: throw ParseError("an unknown escape")
                    }
                case 0..<0x20: throw ParseError("a control character in a string")
                default: output.append(byte)
                }
            }
            throw ParseError("an unterminated string")
        }

        mutating func hex4() throws(ParseError) -> UInt32 {
            guard bytes.count - position >= 4 else { throw ParseError("JSON ends early") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[position] | 0x20
                position += 1
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                default: throw ParseError("a bad \\u escape")
                }
                value = value << 4 | digit
            }
            return value
        }
    }
}
