import HEP

/// libFuzzer entry point: reads the input as a HEPv3 packet; what reads must encode back to the same packet (the
/// reader skips unknown chunks, so bytes may differ, values may not).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let packet = try? HEPPacket(decoding: Array(UnsafeBufferPointer(start: data, count: size))) else { return 0 }
    guard let encoded = packet.encoded(), let again = try? HEPPacket(decoding: encoded), again == packet else {
        fatalError("a packet that reads must encode and read back equal")
    }
    return 0
}
