import AuditTrail

/// libFuzzer entry point: reads the input as an audit record's canonical encoding; what reads must encode back to the
/// very same bytes (one content, one encoding).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let content = try? AuditContent(canonical: bytes) else { return 0 }
    guard (try? content.canonicalEncoding()) == bytes else { fatalError("a second encoding of one content") }
    return 0
}
