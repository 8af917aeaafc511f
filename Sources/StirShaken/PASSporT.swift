import Crypto
import Foundation

/// A PASSporT (RFC 8225) with the SHAKEN extension (RFC 8588), the diversion extension (RFC 8946) and Rich Call
/// Data (RFC 9795) as far as a verifier reads them.
public struct PASSporT: Hashable, Sendable {
    /// The protected header.
    public struct Header: Hashable, Sendable {
        /// The signature algorithm; only `ES256` is signed or accepted.
        public var alg: String
        /// `passport`.
        public var typ: String?
        /// The extension: `shaken`, `div`, `rcd`, or nil for a base PASSporT.
        public var ppt: String?
        /// Where the signer's certificate (and its chain) is.
        public var x5u: String

        public init(alg: String = "ES256", typ: String? = "passport", ppt: String? = "shaken", x5u: String) {
            (self.alg, self.typ, self.ppt, self.x5u) = (alg, typ, ppt, x5u)
        }

        var json: JSONValue {
            var members: [String: JSONValue] = ["alg": .string(alg), "x5u": .string(x5u)]
            if let typ { members["typ"] = .string(typ) }
            if let ppt { members["ppt"] = .string(ppt) }
            return .object(members)
        }
    }

    /// SHAKEN attestation (ATIS-1000074 §5.2.3).
    public enum Attestation: String, Hashable, Sendable, CaseIterable {
        /// Full: the signer knows the customer and that the customer may use the number.
        case full = "A"
        /// Partial: the signer knows the customer, not that the number is theirs.
        case partial = "B"
        /// Gateway: the signer only saw the call enter its network.
        case gateway = "C"
    }

    /// An originating identity: a telephone number or, for a non-TN identity, a URI.
    public enum Originator: Hashable, Sendable {
        case tn(String)
        case uri(String)
    }

    /// The claims.
    public struct Claims: Hashable, Sendable {
        public var orig: Originator
        /// The destination telephone numbers (`dest.tn`).
        public var destTNs: [String]
        /// The destination URIs (`dest.uri`).
        public var destURIs: [String]
        /// Issued at, seconds since 1970.
        public var iat: Int64
        /// SHAKEN: the attestation level.
        public var attest: Attestation?
        /// SHAKEN: an opaque UUID identifying where the call entered the signer's network.
        public var origid: String?
        /// RFC 8946: the number the call was diverted from, for a `div` PASSporT.
        public var divertedFrom: [String]
        /// Rich Call Data (`rcd`) as sent, when present.
        public var rcd: JSONValue?
        /// Rich Call Data integrity (`rcdi`): JSON pointer into `rcd` → `sha256-<base64>` digest.
        public var rcdi: [String: String]
        /// Claims this verifier does not interpret, kept so that the deterministic form still includes them.
        public var other: [String: JSONValue]

        public init(orig: Originator, destTNs: [String], destURIs: [String] = [], iat: Int64, attest: Attestation? = nil,
                    origid: String? = nil, divertedFrom: [String] = [], rcd: JSONValue? = nil,
                    rcdi: [String: String] = [:], other: [String: JSONValue] = [:]) {
            (self.orig, self.destTNs, self.destURIs, self.iat) = (orig, destTNs, destURIs, iat)
            (self.attest, self.origid, self.divertedFrom, self.rcd, self.rcdi, self.other) =
                (attest, origid, divertedFrom, rcd, rcdi, other)
        }

        /// The deterministic form (RFC 8225 §9). A SHAKEN PASSporT's claims (what a signer makes) are written in
        /// their known order at once; any other claims go through ``JSONValue``, which sorts them.
        var canonical: [UInt8] {
            guard other.isEmpty, rcd == nil, rcdi.isEmpty, divertedFrom.isEmpty, case .tn(let tn) = orig, destURIs.isEmpty,
                let attest, let origid
            else { return json.canonical }
            var output: [UInt8] = []
            output.reserveCapacity(160)
            output += #"{"attest":"#.utf8
            JSONValue.writeString(attest.rawValue, to: &output)
            output += #","dest":{"tn":["#.utf8
            for (index, number) in destTNs.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                JSONValue.writeString(number, to: &output)
            }
            output += #"]},"iat":"#.utf8
            output += String(iat).utf8
            output += #","orig":{"tn":"#.utf8
            JSONValue.writeString(tn, to: &output)
            output += #"},"origid":"#.utf8
            JSONValue.writeString(origid, to: &output)
            output.append(UInt8(ascii: "}"))
            return output
        }

        var json: JSONValue {
            var members = other
            switch orig {
            case .tn(let tn): members["orig"] = .object(["tn": .string(tn)])
            case .uri(let uri): members["orig"] = .object(["uri": .string(uri)])
            }
            var dest: [String: JSONValue] = [:]
            if !destTNs.isEmpty { dest["tn"] = .array(destTNs.map(JSONValue.string)) }
            if !destURIs.isEmpty { dest["uri"] = .array(destURIs.map(JSONValue.string)) }
            members["dest"] = .object(dest)
            members["iat"] = .number(String(iat))
            if let attest { members["attest"] = .string(attest.rawValue) }
            if let origid { members["origid"] = .string(origid) }
            if !divertedFrom.isEmpty { members["div"] = .object(["tn": .array(divertedFrom.map(JSONValue.string))]) }
            if let rcd { members["rcd"] = rcd }
            if !rcdi.isEmpty { members["rcdi"] = .object(rcdi.mapValues(JSONValue.string)) }
            return .object(members)
        }
    }

    public var header: Header
    public var claims: Claims
    /// `base64url(header) . base64url(claims)` exactly as received (or as signed): what the signature covers.
    public let signingInput: [UInt8]
    /// The signature as received: ES256's raw 64 bytes R‖S.
    public let signature: [UInt8]

    /// Why a token is not a PASSporT this module accepts.
    public enum ParseError: Error, Hashable, Sendable {
        /// Not three base64url segments, bad JSON, a claim missing or mistyped.
        case malformed(String)
        /// The header names an algorithm other than ES256.
        case unsupportedAlgorithm(String)
        /// Header and claims omitted (RFC 8224 §7.3): SHAKEN always sends the full form.
        case compactForm

        /// The verdict's reason.
        public var reason: Verstat.Reason {
            switch self {
            case .malformed: .malformed
            case .unsupportedAlgorithm: .unsupportedAlgorithm
            case .compactForm: .unsupportedPPT
            }
        }
    }

    /// The longest token read (an Identity header is a few hundred bytes; `rcd` may add some).
    public static let maxTokenBytes = 8 * 1_024

    /// Reads a compact JWS (`header.claims.signature`).
    public init(token: some StringProtocol) throws(ParseError) {
        let bytes = Array(token.utf8)
        guard bytes.count <= Self.maxTokenBytes else { throw .malformed("a token of \(bytes.count) bytes") }
        let segments = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard segments.count == 3 else { throw .malformed("not three segments") }
        if segments[0].isEmpty, segments[1].isEmpty { throw .compactForm }
        guard let headerBytes = Base64URL.decode(bytes: segments[0]), let claimBytes = Base64URL.decode(bytes: segments[1]),
            let signature = Base64URL.decode(bytes: segments[2])
        else { throw .malformed("not base64url") }
        let headerJSON: JSONValue
        let claimsJSON: JSONValue
        do {
            headerJSON = try JSONValue(parsing: headerBytes)
            claimsJSON = try JSONValue(parsing: claimBytes)
        } catch {
            throw .malformed(error.description)
        }
        guard let headerMembers = headerJSON.object else { throw .malformed("the header is not an object") }
        guard let alg = headerMembers["alg"]?.string else { throw .malformed("no alg") }
        guard alg == "ES256" else { throw .unsupportedAlgorithm(String(alg.prefix(16))) }
        guard let x5u = headerMembers["x5u"]?.string else { throw .malformed("no x5u") }
        func optionalString(_ value: JSONValue?, _ name: String) throws(ParseError) -> String? {
            guard let value else { return nil }
            guard let text = value.string else { throw .malformed("\(name) is not a string") }
            return text
        }
        let header = Header(alg: alg, typ: try optionalString(headerMembers["typ"], "typ"),
                            ppt: try optionalString(headerMembers["ppt"], "ppt"), x5u: x5u)
        guard signature.count == 64 else { throw .malformed("an ES256 signature of \(signature.count) bytes") }
        self.header = header
        self.claims = try Self.claims(claimsJSON)
        self.signingInput = Array(bytes[..<segments[1].endIndex])
        self.signature = signature
    }

    private static func claims(_ json: JSONValue) throws(ParseError) -> Claims {
        guard var members = json.object else { throw .malformed("the claims are not an object") }
        guard let orig = members.removeValue(forKey: "orig")?.object, orig.count == 1 else {
            throw .malformed("orig is not an object with one identity")
        }
        let originator: Originator
        if let tn = orig["tn"]?.string { originator = .tn(tn) } else if let uri = orig["uri"]?.string {
            originator = .uri(uri)
        } else {
            throw .malformed("orig has neither tn nor uri")
        }
        guard let dest = members.removeValue(forKey: "dest")?.object, !dest.isEmpty else {
            throw .malformed("no dest")
        }
        func strings(_ value: JSONValue?, _ name: String) throws(ParseError) -> [String] {
            guard let value else { return [] }
            guard let elements = value.array else { throw .malformed("\(name) is not an array") }
            var result: [String] = []
            for element in elements {
                guard let text = element.string else { throw .malformed("\(name) holds a non-string") }
                result.append(text)
            }
            return result
        }
        let destTNs = try strings(dest["tn"], "dest.tn")
        let destURIs = try strings(dest["uri"], "dest.uri")
        guard !destTNs.isEmpty || !destURIs.isEmpty else { throw .malformed("dest names nobody") }
        // NumericDate (RFC 8225 §5.1.1): a JSON number; the draft-era string form is refused.
        guard let iat = members.removeValue(forKey: "iat")?.integer else { throw .malformed("iat is not an integer") }
        // Seconds since 1970 within 0...2^40 (the year 36812): far outside, arithmetic on it could overflow.
        guard (0...(1 << 40)).contains(iat) else { throw .malformed("iat out of range") }
        var attest: Attestation?
        if let value = members.removeValue(forKey: "attest") {
            guard let text = value.string, let level = Attestation(rawValue: text) else {
                throw .malformed("attest is not A, B or C")
            }
            attest = level
        }
        var origid: String?
        if let value = members.removeValue(forKey: "origid") {
            guard let text = value.string else { throw .malformed("origid is not a string") }
            origid = text
        }
        var divertedFrom: [String] = []
        if let value = members.removeValue(forKey: "div") {
            guard let div = value.object else { throw .malformed("div is not an object") }
            divertedFrom = try strings(div["tn"], "div.tn")
        }
        let rcd = members.removeValue(forKey: "rcd")
        if let rcd, rcd.object == nil { throw .malformed("rcd is not an object") }
        var rcdi: [String: String] = [:]
        if let value = members.removeValue(forKey: "rcdi") {
            guard let object = value.object else { throw .malformed("rcdi is not an object") }
            for (pointer, digest) in object {
                guard let text = digest.string else { throw .malformed("an rcdi digest is not a string") }
                rcdi[pointer] = text
            }
        }
        return Claims(orig: originator, destTNs: destTNs, destURIs: destURIs, iat: iat, attest: attest, origid: origid,
                      divertedFrom: divertedFrom, rcd: rcd, rcdi: rcdi, other: members)
    }

    /// Signs `claims` under `header` with `key` (ES256): the compact JWS, header and claims serialised
    /// deterministically (RFC 8225 §9).
    public static func sign(header: Header, claims: Claims, with key: P256.Signing.PrivateKey) throws -> String {
        try sign(headerSegment: Base64URL.encode(header.json.canonical), claims: claims, with: key)
    }

    /// Signs under a header already encoded (a signer's header does not change from call to call).
    static func sign(headerSegment: String, claims: Claims, with key: P256.Signing.PrivateKey) throws -> String {
        var input = Array(headerSegment.utf8)
        input.append(UInt8(ascii: "."))
        input += Base64URL.encode(claims.canonical).utf8
        let signature = try key.signature(for: input)
        input.append(UInt8(ascii: "."))
        input += Base64URL.encode(signature.rawRepresentation).utf8
        return String(decoding: input, as: UTF8.self)
    }

    /// Whether the signature verifies under `key`.
    public func isSigned(by key: P256.Signing.PublicKey) -> Bool {
        guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
        return key.isValidSignature(signature, for: signingInput)
    }

    /// Whether the signature verifies under a verifier's cached key (through its table when it has one).
    public func isSigned(by key: ES256VerifyingKey) -> Bool {
        key.isValidSignature(signature, for: signingInput)
    }

    /// Whether `rcd`'s integrity digests hold for what they cover inside the PASSporT: each `rcdi` pointer that
    /// resolves to a value in `rcd` must carry the SHA-256 of that value's deterministic JSON (a pointer to content
    /// behind a URL cannot be checked without fetching it, and is not counted here). Nil when there is no `rcdi`.
    public var rcdIntegrityHolds: Bool? {
        guard !claims.rcdi.isEmpty else { return nil }
        guard let rcd = claims.rcd else { return false }
        for (pointer, digest) in claims.rcdi {
            guard let value = Self.resolve(pointer, in: rcd) else { return false }
            if case .string(let text) = value, text.hasPrefix("http") { continue }  // content behind a URL
            guard digest.hasPrefix("sha256-") else { return false }
            let expected = Data(SHA256.hash(data: value.canonical)).base64EncodedString()
            guard digest.dropFirst("sha256-".count) == expected else { return false }
        }
        return true
    }

    /// A JSON pointer (RFC 6901) into `rcd`; `/nam` for the `nam` member.
    static func resolve(_ pointer: String, in value: JSONValue) -> JSONValue? {
        guard pointer.hasPrefix("/") else { return nil }
        var current = value
        for token in pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            let name = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            switch current {
            case .object(let members):
                guard let next = members[name] else { return nil }
                current = next
            case .array(let elements):
                guard let index = Int(name), elements.indices.contains(index) else { return nil }
                current = elements[index]
            default:
                return nil
            }
        }
        return current
    }
}
