import MediaSecurity

/// libFuzzer entry point: SRTP and SRTCP unprotect face the network. Arbitrary bytes must give a typed error or a
/// packet, never a crash; a refused packet must be left as it was.
let key = [UInt8](repeating: 0x5A, count: 16)
let salt = [UInt8](repeating: 0xA5, count: 14)
nonisolated(unsafe) let rtp = try! SRTPReceiver(profile: .aes128CMHMACSHA1_32, masterKey: key, masterSalt: salt)
nonisolated(unsafe) let rtcp = try! SRTCPReceiver(profile: .aes128CMHMACSHA1_80, masterKey: key, masterSalt: salt)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var packet = bytes
    if (try? rtp.unprotect(&packet)) == nil { precondition(packet == bytes, "a refused SRTP packet was changed") }
    packet = bytes
    if (try? rtcp.unprotect(&packet)) == nil { precondition(packet == bytes, "a refused SRTCP packet was changed") }
    return 0
}
