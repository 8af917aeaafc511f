import SDP

/// libFuzzer entry point: parses the input as SDP; on success exercises the typed accessors,
/// the security classifier and the serializer, and checks the round-trip property (a parsed
/// description must serialize and parse back to an equal value).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let sdp = try? SessionDescription(parsing: bytes) else {
        return 0
    }
    _ = sdp.mediaSecurity
    _ = sdp.description
    for media in sdp.media {
        _ = sdp.effectiveDirection(of: media)
        _ = media.rtpMaps
        _ = media.formatParameters
        _ = media.cryptos
        _ = media.candidates
        _ = media.fingerprints
        _ = media.zrtpHashes
        _ = media.telephoneEvents
        _ = media.rtcp
        _ = media.ptime
    }
    // CRLF rendering of an LF-only input near the size limit can be larger than the input, so
    // the re-parse check runs with room to spare.
    let roomy = SDPParseLimits(maxTotalBytes: 2 * SDPParseLimits.default.maxTotalBytes)
    let text: String
    do {
        text = try sdp.serialized(limits: roomy)
    } catch {
        fatalError("a parsed description failed to serialize: \(error)")
    }
    guard let reparsed = try? SessionDescription(parsing: text, limits: roomy), reparsed == sdp else {
        fatalError("serialized description did not parse back to an equal value")
    }
    return 0
}
