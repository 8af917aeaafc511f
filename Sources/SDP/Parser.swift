/// The RFC 8866 line parser: splits lines, enforces limits and character rules, runs the line
/// order state machine of RFC 8866 §5/§9, and validates recognised attributes as they arrive.
struct SDPParser {
    private static let lf: UInt8 = 0x0A
    private static let cr: UInt8 = 0x0D

    /// Ranks of session-level line types in RFC 8866 §5 order.
    private enum SessionRank: Int {
        case none = -1, v = 0, o, s, i, u, e, p, c, b, t, r, z, k, a
    }

    /// Ranks of media-level line types in RFC 8866 §5 order.
    private enum MediaRank: Int {
        case m = 0, i, c, b, k, a
    }

    private let limits: SDPParseLimits

    private var sessionRank = SessionRank.none
    private var origin: SDPOrigin?
    private var sessionName: String?
    private var information: String?
    private var uri: String?
    private var emails: [String] = []
    private var phones: [String] = []
    private var connection: ConnectionData?
    private var bandwidths: [SDPBandwidth] = []
    private var timings: [SDPTiming] = []
    private var key: SDPEncryptionKey?
    private var attributes: [SDPAttribute] = []
    private var sessionChecker: AttributeChecker

    private var media: [MediaDescription] = []
    private var mediaLineNumbers: [Int] = []
    private var mediaRank = MediaRank.m
    private var mediaChecker: AttributeChecker

    private init(limits: SDPParseLimits) {
        self.limits = limits
        sessionChecker = AttributeChecker(isMediaLevel: false, limits: limits)
        mediaChecker = AttributeChecker(isMediaLevel: true, limits: limits)
    }

    /// Parses a whole description.
    static func parse(_ buffer: UnsafeBufferPointer<UInt8>, limits: SDPParseLimits) throws(SDPParseError)
        -> SessionDescription
    {
        guard buffer.count <= limits.maxTotalBytes else {
            throw SDPParseError(.inputTooLarge, reason: "SDP is larger than the limit of \(limits.maxTotalBytes) bytes")
        }
        var parser = SDPParser(limits: limits)
        let count = buffer.count
        var start = 0
        var lineNumber = 0
        while start < count {
            lineNumber += 1
            guard lineNumber <= limits.maxLines else {
                throw SDPParseError(.tooManyLines, reason: "SDP has more than \(limits.maxLines) lines", lineNumber: lineNumber)
            }
            var end = start
            var isASCII = true
            var contentEnd = count
            while end < count {
                let byte = buffer[end]
                if byte == lf {
                    contentEnd = end
                    break
                }
                if byte < 0x20 || byte == 0x7F {
                    guard byte == cr, end + 1 < count, buffer[end + 1] == lf else {
                        throw SDPParseError(
                            .invalidCharacter, reason: "NUL, control characters and bare CR are not allowed",
                            lineNumber: lineNumber)
                    }
                    contentEnd = end
                    end += 1
                    break
                }
                if byte >= 0x80 { isASCII = false }
                end += 1
                if end - start > limits.maxLineLength {
                    throw SDPParseError(
                        .lineTooLong, reason: "line is longer than \(limits.maxLineLength) bytes", lineNumber: lineNumber)
                }
            }
            if end >= count { contentEnd = count }

            let length = contentEnd - start
            guard length >= 2, buffer[start + 1] == UInt8(ascii: "=") else {
                throw SDPParseError(
                    .malformedLine, reason: "line must be <type>=<value>; empty lines are not allowed",
                    lineNumber: lineNumber)
            }
            let type = buffer[start]
            guard type &- UInt8(ascii: "a") < 26 else {
                throw SDPParseError(.malformedLine, reason: "line type must be one lowercase letter", lineNumber: lineNumber)
            }
            let valueBytes = UnsafeBufferPointer(rebasing: buffer[(start + 2)..<contentEnd])
            let value: String
            if isASCII {
                value = String(decoding: valueBytes, as: UTF8.self)
            } else {
                guard let decoded = String(validating: valueBytes, as: UTF8.self) else {
                    throw SDPParseError(.invalidUTF8, reason: "line is not valid UTF-8", lineNumber: lineNumber)
                }
                value = decoded
            }
            do {
                try parser.process(type: type, value: value, lineNumber: lineNumber)
            } catch {
                throw error.located(at: lineNumber)
            }
            start = end + 1
        }
        return try parser.finish(lineCount: lineNumber)
    }

    // MARK: - Lines

    private mutating func process(type: UInt8, value: String, lineNumber: Int) throws(SDPParseError) {
        if !media.isEmpty {
            try processMediaLine(type: type, value: value, lineNumber: lineNumber)
            return
        }
        let rank: SessionRank
        switch type {
        case UInt8(ascii: "v"): rank = .v
        case UInt8(ascii: "o"): rank = .o
        case UInt8(ascii: "s"): rank = .s
        case UInt8(ascii: "i"): rank = .i
        case UInt8(ascii: "u"): rank = .u
        case UInt8(ascii: "e"): rank = .e
        case UInt8(ascii: "p"): rank = .p
        case UInt8(ascii: "c"): rank = .c
        case UInt8(ascii: "b"): rank = .b
        case UInt8(ascii: "t"): rank = .t
        case UInt8(ascii: "r"): rank = .r
        case UInt8(ascii: "z"): rank = .z
        case UInt8(ascii: "k"): rank = .k
        case UInt8(ascii: "a"): rank = .a
        case UInt8(ascii: "m"):
            try startMedia(value: value, lineNumber: lineNumber)
            return
        default:
            throw SDPParseError(.unknownLineType, reason: "line type is not defined by RFC 8866")
        }
        try checkSessionOrder(rank)
        sessionRank = rank
        let text = value[...]
        switch rank {
        case .none:
            break
        case .v:
            guard value == "0" else {
                if Syntax.decimal(value) != nil {
                    throw SDPParseError(.unsupportedVersion, reason: "only SDP version 0 is defined")
                }
                throw SDPParseError(.malformedLine, reason: "v= must be a number")
            }
        case .o:
            origin = try SDPOrigin(parsing: text)
        case .s:
            // RFC 8866 §5.3 requires non-empty text; an empty s= is accepted because RFC 3264
            // §10.1 and deployed stacks emit it.
            sessionName = value
        case .i:
            information = try nonEmptyText(value, "i=")
        case .u:
            uri = try nonEmptyText(value, "u=")
        case .e:
            try checkCount(emails.count, "e= lines")
            emails.append(try nonEmptyText(value, "e="))
        case .p:
            try checkCount(phones.count, "p= lines")
            phones.append(try nonEmptyText(value, "p="))
        case .c:
            connection = try ConnectionData(parsing: text, allowMulticastSuffix: true)
        case .b:
            try checkCount(bandwidths.count, "b= lines")
            bandwidths.append(try SDPBandwidth(parsing: text))
        case .t:
            try checkCount(timings.count, "t= lines")
            timings.append(try SDPTiming(parsing: text))
        case .r:
            try checkCount(timings[timings.count - 1].repeats.count, "r= lines per t=")
            timings[timings.count - 1].repeats.append(try SDPRepeatTime(parsing: text, limits: limits))
        case .z:
            timings[timings.count - 1].zoneAdjustments = try SDPZoneAdjustment.parseList(text, limits: limits)
        case .k:
            key = try SDPEncryptionKey(parsing: text)
        case .a:
            let attribute = try SDPAttribute(parsing: text)
            try sessionChecker.check(attribute, lineNumber: lineNumber)
            attributes.append(attribute)
        }
    }

    /// Enforces RFC 8866 §5 order for a session-level line of `rank`.
    private func checkSessionOrder(_ rank: SessionRank) throws(SDPParseError) {
        let current = sessionRank
        if current == .none {
            guard rank == .v else {
                throw SDPParseError(.missingRequiredLine, reason: "SDP must start with v=")
            }
            return
        }
        if rank.rawValue > SessionRank.o.rawValue && current.rawValue < SessionRank.o.rawValue {
            throw SDPParseError(.missingRequiredLine, reason: "o= must follow v=")
        }
        if rank.rawValue > SessionRank.s.rawValue && current.rawValue < SessionRank.s.rawValue {
            throw SDPParseError(.missingRequiredLine, reason: "s= must follow o=")
        }
        if rank.rawValue >= SessionRank.k.rawValue && current.rawValue < SessionRank.t.rawValue {
            throw SDPParseError(.missingRequiredLine, reason: "at least one t= must precede k=, a= and m=")
        }
        switch rank {
        case .e, .p, .b, .a:
            guard current.rawValue <= rank.rawValue else {
                throw SDPParseError(.unexpectedLine, reason: "line is out of RFC 8866 order")
            }
        case .t:
            guard current.rawValue <= SessionRank.z.rawValue else {
                throw SDPParseError(.unexpectedLine, reason: "t= cannot follow k= or a=")
            }
        case .r:
            guard current == .t || current == .r else {
                throw SDPParseError(.unexpectedLine, reason: "r= must follow t= or r=")
            }
        case .z:
            guard current == .t || current == .r else {
                throw SDPParseError(.unexpectedLine, reason: "z= must follow t= or r=, once")
            }
        default:
            guard current.rawValue < rank.rawValue else {
                throw SDPParseError(.unexpectedLine, reason: "line is repeated or out of RFC 8866 order")
            }
        }
    }

    private mutating func startMedia(value: String, lineNumber: Int) throws(SDPParseError) {
        if media.isEmpty {
            guard sessionRank.rawValue >= SessionRank.t.rawValue else {
                if sessionRank == .none {
                    throw SDPParseError(.missingRequiredLine, reason: "SDP must start with v=")
                }
                throw SDPParseError(.missingRequiredLine, reason: "v=, o=, s= and t= must precede m=")
            }
        } else {
            try finishMedia()
        }
        guard media.count < limits.maxMediaSections else {
            throw SDPParseError(.tooManyMediaSections, reason: "SDP has more than \(limits.maxMediaSections) media sections")
        }
        media.append(try MediaDescription(parsingMediaLine: value[...], limits: limits))
        mediaLineNumbers.append(lineNumber)
        mediaRank = .m
        mediaChecker = AttributeChecker(isMediaLevel: true, limits: limits)
    }

    private mutating func processMediaLine(type: UInt8, value: String, lineNumber: Int) throws(SDPParseError) {
        let rank: MediaRank
        switch type {
        case UInt8(ascii: "m"):
            try startMedia(value: value, lineNumber: lineNumber)
            return
        case UInt8(ascii: "i"): rank = .i
        case UInt8(ascii: "c"): rank = .c
        case UInt8(ascii: "b"): rank = .b
        case UInt8(ascii: "k"): rank = .k
        case UInt8(ascii: "a"): rank = .a
        case UInt8(ascii: "v"), UInt8(ascii: "o"), UInt8(ascii: "s"), UInt8(ascii: "u"), UInt8(ascii: "e"),
            UInt8(ascii: "p"), UInt8(ascii: "t"), UInt8(ascii: "r"), UInt8(ascii: "z"):
            throw SDPParseError(.unexpectedLine, reason: "session-level line inside a media section")
        default:
            throw SDPParseError(.unknownLineType, reason: "line type is not defined by RFC 8866")
        }
        switch rank {
        case .c, .b, .a:
            guard mediaRank.rawValue <= rank.rawValue else {
                throw SDPParseError(.unexpectedLine, reason: "media-level line is out of RFC 8866 order")
            }
        default:
            guard mediaRank.rawValue < rank.rawValue else {
                throw SDPParseError(.unexpectedLine, reason: "media-level line is repeated or out of RFC 8866 order")
            }
        }
        mediaRank = rank
        let index = media.count - 1
        let text = value[...]
        switch rank {
        case .m:
            break
        case .i:
            media[index].information = try nonEmptyText(value, "i=")
        case .c:
            try checkCount(media[index].connections.count, "c= lines per media section")
            media[index].connections.append(try ConnectionData(parsing: text, allowMulticastSuffix: true))
        case .b:
            try checkCount(media[index].bandwidths.count, "b= lines per media section")
            media[index].bandwidths.append(try SDPBandwidth(parsing: text))
        case .k:
            media[index].key = try SDPEncryptionKey(parsing: text)
        case .a:
            let attribute = try SDPAttribute(parsing: text)
            try mediaChecker.check(attribute, lineNumber: lineNumber)
            media[index].attributes.append(attribute)
        }
    }

    private func finishMedia() throws(SDPParseError) {
        try mediaChecker.finish()
    }

    private mutating func finish(lineCount: Int) throws(SDPParseError) -> SessionDescription {
        guard sessionRank != .none else {
            throw SDPParseError(.missingRequiredLine, reason: "SDP is empty; v= is required", lineNumber: 1)
        }
        guard let origin else {
            throw SDPParseError(.missingRequiredLine, reason: "o= is required", lineNumber: lineCount)
        }
        guard let sessionName else {
            throw SDPParseError(.missingRequiredLine, reason: "s= is required", lineNumber: lineCount)
        }
        guard !timings.isEmpty else {
            throw SDPParseError(.missingRequiredLine, reason: "at least one t= is required", lineNumber: lineCount)
        }
        if !media.isEmpty {
            try finishMedia()
        }
        if connection == nil {
            for (index, section) in media.enumerated() where section.connections.isEmpty {
                throw SDPParseError(
                    .missingConnection, reason: "media section has no c= and there is no session-level c=",
                    lineNumber: mediaLineNumbers[index])
            }
        }
        return SessionDescription(
            version: 0, origin: origin, sessionName: sessionName, information: information, uri: uri,
            emails: emails, phones: phones, connection: connection, bandwidths: bandwidths, timings: timings,
            key: key, attributes: attributes, media: media)
    }

    // MARK: - Helpers

    private func nonEmptyText(_ value: String, _ field: String) throws(SDPParseError) -> String {
        guard !value.isEmpty else {
            throw SDPParseError(.invalidText, reason: "\(field) must not be empty")
        }
        return value
    }

    private func checkCount(_ count: Int, _ what: String) throws(SDPParseError) {
        guard count < limits.maxRepeatedFields else {
            throw SDPParseError(.tooManyValues, reason: "more \(what) than the limit of \(limits.maxRepeatedFields)")
        }
    }
}

/// Validates the recognised attributes of one section as they are parsed, and enforces the
/// per-section attribute limits.
struct AttributeChecker {
    private let isMediaLevel: Bool
    private let limits: SDPParseLimits
    private var count = 0
    private var candidateCount = 0
    private var cryptoTags: Set<UInt32> = []
    private var singles: Set<String> = []
    private var payloadTypes: Set<UInt8> = []
    private var telephoneEventTypes: Set<UInt8> = []
    private var formatParameters: [String: (parameters: String, lineNumber: Int)] = [:]

    init(isMediaLevel: Bool, limits: SDPParseLimits) {
        self.isMediaLevel = isMediaLevel
        self.limits = limits
    }

    /// Checks one attribute.
    mutating func check(_ attribute: SDPAttribute, lineNumber: Int) throws(SDPParseError) {
        count += 1
        guard count <= limits.maxAttributesPerSection else {
            throw SDPParseError(
                .tooManyAttributes, reason: "section has more than \(limits.maxAttributesPerSection) attributes")
        }
        let name = attribute.name
        switch name {
        case SDPAttributeName.rtpmap:
            try mediaOnly(name)
            let map = try SDPRTPMap(parsing: try required(attribute, .invalidRTPMap))
            guard payloadTypes.insert(map.payloadType).inserted else {
                throw SDPParseError(.duplicateAttribute, reason: "two rtpmap lines for one payload type")
            }
            if Syntax.equalsIgnoringCase(map.encodingName, "telephone-event") {
                telephoneEventTypes.insert(map.payloadType)
            }
        case SDPAttributeName.fmtp:
            try mediaOnly(name)
            let parameters = try SDPFormatParameters(parsing: try required(attribute, .invalidFormatParameters))
            guard formatParameters[parameters.format] == nil else {
                throw SDPParseError(.duplicateAttribute, reason: "two fmtp lines for one format")
            }
            formatParameters[parameters.format] = (parameters.parameters, lineNumber)
        case SDPAttributeName.sendrecv, SDPAttributeName.sendonly, SDPAttributeName.recvonly,
            SDPAttributeName.inactive:
            try flag(attribute)
            try single("direction")
        case SDPAttributeName.rtcp:
            try mediaOnly(name)
            _ = try SDPRTCPAttribute(parsing: try required(attribute, .invalidRTCP))
            try single(name)
        case SDPAttributeName.rtcpMux, SDPAttributeName.iceLite, SDPAttributeName.bundleOnly:
            try flag(attribute)
            try single(name)
        case SDPAttributeName.crypto:
            try mediaOnly(name)
            guard cryptoTags.count < limits.maxCryptoAttributesPerSection else {
                throw SDPParseError(
                    .tooManyCryptoAttributes,
                    reason: "media section has more than \(limits.maxCryptoAttributesPerSection) crypto lines")
            }
            let crypto = try SDESCryptoAttribute(
                parsing: try required(attribute, .invalidCrypto), maxKeyParams: limits.maxKeyParamsPerCrypto)
            guard cryptoTags.insert(crypto.tag).inserted else {
                throw SDPParseError(.duplicateAttribute, reason: "two crypto lines with one tag")
            }
        case SDPAttributeName.fingerprint:
            _ = try SDPFingerprint(parsing: try required(attribute, .invalidFingerprint))
        case SDPAttributeName.setup:
            _ = try SDPSetupRole(parsing: try required(attribute, .invalidSetup))
            try single(name)
        case SDPAttributeName.zrtpHash:
            _ = try SDPZRTPHash(parsing: try required(attribute, .invalidZRTPHash))
        case SDPAttributeName.candidate:
            try mediaOnly(name)
            guard candidateCount < limits.maxCandidatesPerSection else {
                throw SDPParseError(
                    .tooManyCandidates,
                    reason: "media section has more than \(limits.maxCandidatesPerSection) candidates")
            }
            candidateCount += 1
            _ = try ICECandidate(parsing: try required(attribute, .invalidCandidate))
        case SDPAttributeName.iceUfrag:
            guard ICECredentials.isValidUfrag(try required(attribute, .invalidICECredentials)) else {
                throw SDPParseError(.invalidICECredentials, reason: "ice-ufrag must be 4-256 ice-chars")
            }
            try single(name)
        case SDPAttributeName.icePwd:
            guard ICECredentials.isValidPassword(try required(attribute, .invalidICECredentials)) else {
                throw SDPParseError(.invalidICECredentials, reason: "ice-pwd must be 22-256 ice-chars")
            }
            try single(name)
        case SDPAttributeName.ptime, SDPAttributeName.maxptime:
            try mediaOnly(name)
            _ = try PacketTime.parse(try required(attribute, .invalidPacketTime))
            try single(name)
        default:
            break
        }
    }

    /// Cross-attribute checks at the end of a media section: telephone-event event lists.
    func finish() throws(SDPParseError) {
        for payloadType in telephoneEventTypes.sorted() {
            guard let entry = formatParameters[String(payloadType)] else { continue }
            do {
                _ = try SDPTelephoneEvent.parseEventList(entry.parameters)
            } catch {
                throw error.located(at: entry.lineNumber)
            }
        }
    }

    private func mediaOnly(_ name: String) throws(SDPParseError) {
        guard isMediaLevel else {
            throw SDPParseError(.misplacedAttribute, reason: "\(name) is a media-level attribute")
        }
    }

    private func flag(_ attribute: SDPAttribute) throws(SDPParseError) {
        guard attribute.value == nil else {
            throw SDPParseError(.invalidAttribute, reason: "\(attribute.name) is a flag and takes no value")
        }
    }

    private func required(_ attribute: SDPAttribute, _ code: SDPParseError.Code) throws(SDPParseError) -> String {
        guard let value = attribute.value else {
            throw SDPParseError(code, reason: "\(attribute.name) needs a value")
        }
        return value
    }

    private mutating func single(_ key: String) throws(SDPParseError) {
        guard singles.insert(key).inserted else {
            throw SDPParseError(.duplicateAttribute, reason: "\(key) may appear only once per section")
        }
    }
}
