import SecurityPolicy

/// libFuzzer entry point: the files and values operators and the wire hand the security policy (an IP-to-country
/// CSV, a scanner signature file, a prefix list, CIDR lists, ban subjects). Crashes and round trips that change a
/// value are bugs; parse errors are expected.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let database = try? GeoIPDatabase(csv: text) {
        _ = database.country(for: IPAddress(ipv4: 0x7F00_0002))
    }
    if let signatures = try? ScannerSignatures(parsing: text) {
        _ = signatures.match { _ in Substring(text.prefix(200)) }
    }
    _ = try? DestinationRules.parsePrefixList(text)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).prefix(64).map(String.init)
    _ = try? NetworkList(parsing: lines)
    for line in lines {
        if let address = IPAddress(line) {
            precondition(IPAddress(address.description) == address, "IPAddress text round trip changed it")
        }
        if let block = CIDRBlock(line) {
            precondition(CIDRBlock(block.description) == block, "CIDR text round trip changed it")
        }
        if let subject = Ban.Subject(line) {
            precondition(Ban.Subject(subject.description) == subject, "ban subject round trip changed it")
        }
    }
    return 0
}
