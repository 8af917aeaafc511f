/// An IP-to-country database read from the CSV files the free providers publish (DB-IP "IP to Country Lite",
/// IP2Location LITE DB1 for IPv4 and IPv6, CIDR-per-line exports); the formats are described in `docs/geoip.md`.
///
/// Pure: the caller reads the file and passes its text. The ranges are kept as one sorted array of range starts
/// with a country index each (gaps are explicit "unknown" entries, adjacent ranges of one country are merged), so
/// ``country(for:)`` is one binary search with no allocation, and a full IPv4 + IPv6 database of about 600,000 rows
/// takes about 18 bytes a range (some 11 MB).
public struct GeoIPDatabase: Sendable {
    /// Bounds on the input, checked while reading.
    public struct Limits: Hashable, Sendable {
        /// The longest line, in bytes, CR/LF excluded. Real rows are under 150 bytes; the bound keeps an error
        /// message and the work per row small whatever the file holds.
        public var maximumLineLength: Int
        /// The most data rows (comment, blank and header lines not counted). The largest free databases hold
        /// under 5 million rows; the default leaves room and caps memory near 400 MB while loading.
        public var maximumRows: Int

        /// Creates limits.
        public init(maximumLineLength: Int = 1024, maximumRows: Int = 10_000_000) {
            self.maximumLineLength = maximumLineLength
            self.maximumRows = maximumRows
        }

        /// 1,024-byte lines, 10 million rows.
        public static let `default` = Limits()
    }

    /// An empty database: every address is of unknown country.
    public static let empty = GeoIPDatabase(starts: [], countryIndices: [], countries: [""], rowCount: 0)

    /// First address of each range, ascending; a range runs to the next start (or to the end of the space).
    private let starts: [IPAddress]
    /// Index into ``countries`` for each range; 0 is unknown.
    private let countryIndices: [UInt16]
    /// Upper-case ISO 3166-1 alpha-2 codes; index 0 is a placeholder for unknown.
    private let countries: [String]
    /// The number of data rows read.
    public let rowCount: Int

    private init(starts: [IPAddress], countryIndices: [UInt16], countries: [String], rowCount: Int) {
        self.starts = starts
        self.countryIndices = countryIndices
        self.countries = countries
        self.rowCount = rowCount
    }

    /// Reads a database from CSV text. Each line is one of (detected per line, fields may be quoted, further
    /// fields are ignored):
    /// - `start_ip,end_ip,CC`: an inclusive range written as IPv4 or IPv6 addresses (DB-IP, ipinfo);
    /// - `"16777216","16777471","AU",...`: a range of decimal integers (IP2Location). If the end fits in 32 bits
    ///   both are IPv4 addresses; otherwise both are 128-bit (IPv4 then appears as `::ffff:0:0/96`, RFC 4291
    ///   §2.5.5.2);
    /// - `192.0.2.0/24,CC`: a CIDR block (RFC 4632 §3.1).
    ///
    /// Blank lines and lines starting with `#` are skipped, and so is one header line before the first row (its
    /// first field starts with a letter and is not an address). Country codes are ISO 3166-1 alpha-2 in either
    /// case; `-`, `ZZ` or an empty field mean unknown.
    ///
    /// - Throws: ``AddressRuleError/Code-swift.struct/invalidRow`` for a row that does not parse or a line over
    ///   the length limit, ``AddressRuleError/Code-swift.struct/overlappingRanges`` when two rows share an address
    ///   (a lookup must have one answer), ``AddressRuleError/Code-swift.struct/tooLarge`` beyond
    ///   ``Limits/maximumRows``; each names the 1-based line, none quotes it.
    public init(csv: String, limits: Limits = .default) throws(AddressRuleError) {
        var csv = csv
        var reader = Reader(limits: limits)
        let read = csv.withUTF8 { bytes in
            Result { () throws(AddressRuleError) in try reader.read(bytes) }
        }
        try read.get()
        var rows: [Row] = []
        swap(&rows, &reader.rows)  // moved, not shared: sorting must not copy millions of rows
        if !reader.sorted { rows.sort { ($0.start, $0.line) < ($1.start, $1.line) } }
        for index in rows.indices.dropFirst() where rows[index].start <= rows[index - 1].end {
            throw AddressRuleError(
                .overlappingRanges,
                "the range on line \(rows[index].line) overlaps the range on line \(rows[index - 1].line)",
                line: Int(rows[index].line))
        }
        var starts: [IPAddress] = []
        var countryIndices: [UInt16] = []
        var coveredEnd: IPAddress?  // the end of the last range of known country
        for row in rows where row.country != 0 {
            if let end = coveredEnd, let next = end.successor {
                if row.start == next, countryIndices.last == row.country {
                    coveredEnd = row.end
                    continue
                }
                if row.start != next {
                    starts.append(next)
                    countryIndices.append(0)
                }
            }
            starts.append(row.start)
            countryIndices.append(row.country)
            coveredEnd = row.end
        }
        if let next = coveredEnd?.successor {
            starts.append(next)
            countryIndices.append(0)
        }
        self.init(starts: starts, countryIndices: countryIndices, countries: reader.countries, rowCount: rows.count)
    }

    /// The upper-case ISO 3166-1 alpha-2 country of `address`, or nil if the database does not know it.
    /// Binary search, no allocation: safe to call per packet.
    public func country(for address: IPAddress) -> String? {
        let index = starts.lastIndex(notAbove: address)
        guard index >= 0 else { return nil }
        let country = countryIndices[index]
        return country == 0 ? nil : countries[Int(country)]
    }

    /// The countries the database names, sorted.
    public var knownCountries: [String] { countries.dropFirst().sorted() }
}

extension GeoIPDatabase {
    /// One data row while loading.
    fileprivate struct Row {
        var start: IPAddress
        var end: IPAddress
        var country: UInt16
        var line: Int32
    }

    /// Splits the text into rows; no allocation per row beyond address parsing.
    fileprivate struct Reader {
        let limits: Limits
        var rows: [Row] = []
        var sorted = true
        /// Country codes by index (0: unknown), and the index of each of the 676 letter pairs.
        var countries = [""]
        var countryIndexByPair = [UInt16](repeating: 0, count: 26 * 26)
        /// The first three fields of the current line (reused from line to line).
        var fields: [Range<Int>] = []

        init(limits: Limits) { self.limits = limits }

        mutating func read(_ bytes: UnsafeBufferPointer<UInt8>) throws(AddressRuleError) {
            var position = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0  // a UTF-8 byte order mark
            var lineNumber = 0
            var headerAllowed = true
            while position < bytes.count {
                lineNumber += 1
                var end = position
                while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
                let lineStart = position
                position = end + 1
                if end > lineStart, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                guard end - lineStart <= limits.maximumLineLength else {
                    throw AddressRuleError(
                        .invalidRow, "the line is longer than \(limits.maximumLineLength) bytes", line: lineNumber)
                }
                let line = UnsafeBufferPointer(rebasing: bytes[lineStart..<end])
                let content = line.trimmed(0..<line.count)
                if content.isEmpty || line[content.lowerBound] == UInt8(ascii: "#") { continue }
                guard let row = try parse(line, lineNumber: lineNumber, headerAllowed: headerAllowed) else {
                    headerAllowed = false
                    continue
                }
                headerAllowed = false
                guard rows.count < limits.maximumRows else {
                    throw AddressRuleError(.tooLarge, "more than \(limits.maximumRows) rows", line: lineNumber)
                }
                if let last = rows.last, row.start < last.start { sorted = false }
                rows.append(row)
            }
        }

        /// The row on a line, or nil for a header line.
        mutating func parse(_ line: UnsafeBufferPointer<UInt8>, lineNumber: Int, headerAllowed: Bool)
            throws(AddressRuleError) -> Row?
        {
            func invalid(_ reason: String) -> AddressRuleError {
                AddressRuleError(.invalidRow, reason, line: lineNumber)
            }
            var cursor = 0
            fields.removeAll(keepingCapacity: true)
            while fields.count < 3, cursor <= line.count {
                guard let field = line.csvField(at: &cursor) else { throw invalid("a quoted field is not terminated") }
                fields.append(field)
            }
            let first = line[fields[0]]
            var start: IPAddress
            var end: IPAddress
            var countryField: Int
            if first.contains(UInt8(ascii: "/")) {
                guard let block = CIDRBlock(String(decoding: first, as: UTF8.self)) else {
                    throw invalid("the first field is not a CIDR block")
                }
                (start, end, countryField) = (block.network, block.lastAddress, 1)
            } else if let low = IPAddress(decimal: first) {
                guard fields.count >= 2, let high = IPAddress(decimal: line[fields[1]]) else {
                    throw invalid("the second field is not a decimal address")
                }
                (start, end, countryField) = (low, high, 2)
                if let v4End = high.ipv4Number, let v4Start = low.ipv4Number {
                    (start, end) = (IPAddress(ipv4: v4Start), IPAddress(ipv4: v4End))
                }
            } else if let low = IPAddress(String(decoding: first, as: UTF8.self)) {
                guard fields.count >= 2, let high = IPAddress(String(decoding: line[fields[1]], as: UTF8.self)) else {
                    throw invalid("the second field is not an address")
                }
                (start, end, countryField) = (low, high, 2)
            } else if headerAllowed, let letter = first.first, letter.isASCIILetter,
                !first.contains(where: { $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") })
            {
                return nil
            } else {
                throw invalid("the first field is not an address, a decimal address or a CIDR block")
            }
            guard start <= end else { throw invalid("the range starts above its end") }
            guard countryField < fields.count else { throw invalid("the country field is missing") }
            let country = try countryIndex(line[fields[countryField]], lineNumber: lineNumber)
            return Row(start: start, end: end, country: country, line: Int32(clamping: lineNumber))
        }

        /// The index of an ISO 3166-1 alpha-2 code (0 for `-`, `ZZ` or empty).
        mutating func countryIndex(_ field: Slice<UnsafeBufferPointer<UInt8>>, lineNumber: Int)
            throws(AddressRuleError) -> UInt16
        {
            if field.isEmpty || field.elementsEqual([UInt8(ascii: "-")]) { return 0 }
            guard field.count == 2, let first = field.first?.asciiLetterOrdinal,
                let second = field.last?.asciiLetterOrdinal
            else {
                throw AddressRuleError(
                    .invalidRow, "the country is not an ISO 3166-1 alpha-2 code, '-' or empty", line: lineNumber)
            }
            if first == 25, second == 25 { return 0 }  // ZZ: unknown or unspecified
            let pair = Int(first) * 26 + Int(second)
            if countryIndexByPair[pair] == 0 {
                countryIndexByPair[pair] = UInt16(countries.count)
                countries.append(String(decoding: [first + 65, second + 65], as: UTF8.self))
            }
            return countryIndexByPair[pair]
        }
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// `range` without leading and trailing spaces and tabs.
    fileprivate func trimmed(_ range: Range<Int>) -> Range<Int> {
        var (low, high) = (range.lowerBound, range.upperBound)
        while low < high, self[low] == 0x20 || self[low] == 0x09 { low += 1 }
        while high > low, self[high - 1] == 0x20 || self[high - 1] == 0x09 { high -= 1 }
        return low..<high
    }

    /// The content of the CSV field at `cursor` (RFC 4180 §2: optionally quoted, `""` inside quotes), trimmed and
    /// unquoted; moves `cursor` past the comma, or beyond `count` after the last field. nil if a quote is not
    /// closed or text follows the closing quote.
    fileprivate func csvField(at cursor: inout Int) -> Range<Int>? {
        let comma = UInt8(ascii: ",")
        let quote = UInt8(ascii: "\"")
        var index = cursor
        while index < count, self[index] == 0x20 || self[index] == 0x09 { index += 1 }
        if index < count, self[index] == quote {
            let contentStart = index + 1
            index += 1
            while true {
                guard index < count else { return nil }
                if self[index] == quote {
                    if index + 1 < count, self[index + 1] == quote {
                        index += 2
                        continue
                    }
                    break
                }
                index += 1
            }
            let content = trimmed(contentStart..<index)
            index = trimmed(index + 1..<count).lowerBound
            guard index == count || self[index] == comma else { return nil }
            cursor = index + 1
            return content
        }
        let fieldStart = index
        while index < count, self[index] != comma { index += 1 }
        cursor = index + 1
        return trimmed(fieldStart..<index)
    }
}

extension UInt8 {
    fileprivate var isASCIILetter: Bool { asciiLetterOrdinal != nil }
    /// 0...25 for `A`...`Z` or `a`...`z`.
    fileprivate var asciiLetterOrdinal: UInt8? {
        switch self {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return self - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return self - UInt8(ascii: "a")
        default: return nil
        }
    }
}

extension IPAddress {
    /// An address written as a decimal integer of up to 39 digits (0...2^128-1), as IP2Location writes them.
    fileprivate init?(decimal digits: Slice<UnsafeBufferPointer<UInt8>>) {
        guard (1...39).contains(digits.count) else { return nil }
        var (high, low): (UInt64, UInt64) = (0, 0)
        for byte in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            let lowProduct = low.multipliedFullWidth(by: 10)
            let (highProduct, overflow1) = high.multipliedReportingOverflow(by: 10)
            let (highSum, overflow2) = highProduct.addingReportingOverflow(lowProduct.high)
            let (lowSum, carry) = lowProduct.low.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            let (highTotal, overflow3) = highSum.addingReportingOverflow(carry ? 1 : 0)
            guard !overflow1, !overflow2, !overflow3 else { return nil }
            (high, low) = (highTotal, lowSum)
        }
        self.init(high: high, low: low)
    }

    /// The value as a 32-bit number when it is one (a decimal IPv4 address), else nil.
    fileprivate var ipv4Number: UInt32? { high == 0 && low <= UInt64(UInt32.max) ? UInt32(low) : nil }
}

/// What a geo rule says about one source address.
public enum GeoVerdict: Hashable, Sendable {
    /// The rule lets the address through.
    case allowed
    /// The rule refuses the address; `country` is nil when it was refused for being of unknown country.
    case denied(country: String?)
}

/// Blocks or admits source addresses by country (a value the caller composes with ``AddressACL``: an allow-listed
/// trunk is never put to the geo rule).
///
/// Private and local addresses (RFC 1918, 127.0.0.0/8, 169.254.0.0/16 (RFC 3927), ::1, fc00::/7 (RFC 4193),
/// fe80::/10 (RFC 4291 §2.5.6)) are never geo-denied: they have no country, they cannot arrive from the Internet
/// through a sane border, and denying them would cut off the operator's own LAN and health checks.
public struct GeoRule: Hashable, Sendable {
    /// Which countries the rule names, and what it does with them.
    public enum Mode: Hashable, Sendable {
        /// Refuse the named countries, admit the others.
        case block(Set<String>)
        /// Admit only the named countries.
        case allowOnly(Set<String>)
    }

    /// The countries (upper-case ISO 3166-1 alpha-2) and what to do with them.
    public let mode: Mode
    /// Whether an address the database cannot place (and that is not private) is admitted.
    public let unknownAllowed: Bool

    /// A rule; country codes are upper-cased. `unknownAllowed` defaults to true when blocking (a database gap
    /// should not cut off a customer) and false with an allow-list (which is meant to be exhaustive).
    public init(_ mode: Mode, unknownAllowed: Bool? = nil) {
        switch mode {
        case .block(let countries):
            self.mode = .block(Set(countries.map { $0.uppercased() }))
            self.unknownAllowed = unknownAllowed ?? true
        case .allowOnly(let countries):
            self.mode = .allowOnly(Set(countries.map { $0.uppercased() }))
            self.unknownAllowed = unknownAllowed ?? false
        }
    }

    /// Refuses the given countries; unknown addresses admitted unless said otherwise.
    public static func block(_ countries: Set<String>, unknownAllowed: Bool = true) -> GeoRule {
        GeoRule(.block(countries), unknownAllowed: unknownAllowed)
    }

    /// Admits only the given countries; unknown addresses refused unless said otherwise.
    public static func allowOnly(_ countries: Set<String>, unknownAllowed: Bool = false) -> GeoRule {
        GeoRule(.allowOnly(countries), unknownAllowed: unknownAllowed)
    }

    /// The networks that are never geo-denied.
    public static let exemptNetworks = NetworkList(
        [
            "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "::1/128", "fc00::/7",
            "fe80::/10",
        ].map { CIDRBlock($0)! })

    /// The verdict for `address`; no allocation.
    public func verdict(for address: IPAddress, in database: GeoIPDatabase) -> GeoVerdict {
        if Self.exemptNetworks.contains(address) { return .allowed }
        guard let country = database.country(for: address) else {
            return unknownAllowed ? .allowed : .denied(country: nil)
        }
        switch mode {
        case .block(let countries): return countries.contains(country) ? .denied(country: country) : .allowed
        case .allowOnly(let countries): return countries.contains(country) ? .allowed : .denied(country: country)
        }
    }
}
