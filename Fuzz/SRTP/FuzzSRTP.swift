import MediaSecurity

/// libFuzzer entry point: SRTP and SRTCP unprotect face the network. Arbitrary bytes must give a typed error or a
/// packet, never a crash; a refused packet must be left as it was. The first octet picks the receiver: HMAC or
/// GCM suites, with or without MKIs, or an inbound session with a template (rtcp-mux demultiplexing).
let key = [UInt8](repeating: 0x5A, count: 16)
let salt = [UInt8](repeating: 0xA5, count: 14)
let gcmSalt = [UInt8](repeating: 0xA5, count: 12)
let withMKI = SRTPPolicy(profile: .aes128CMHMACSHA1_32, keys: [
    SRTPMasterKey(key: key, salt: salt, mki: [1, 2]), SRTPMasterKey(key: salt + [1, 2], salt: salt, mki: [3, 4]),
], keyDerivationRate: 1 << 4)
let gcmWithMKI = SRTPPolicy(profile: .aeadAES128GCM, keys: [SRTPMasterKey(key: key, salt: gcmSalt, mki: [7])])
nonisolated(unsafe) let rtp = try! SRTPReceiver(profile: .aes128CMHMACSHA1_32, masterKey: key, masterSalt: salt)
nonisolated(unsafe) let rtcp = try! SRTCPReceiver(profile: .aes128CMHMACSHA1_80, masterKey: key, masterSalt: salt)
nonisolated(unsafe) let gcm = try! SRTPReceiver(profile: .aeadAES128GCM, masterKey: key, masterSalt: gcmSalt)
nonisolated(unsafe) let gcmRTCP = try! SRTCPReceiver(profile: .aeadAES128GCM, masterKey: key, masterSalt: gcmSalt)
nonisolated(unsafe) let mkiRTP = try! SRTPReceiver(policy: withMKI)
nonisolated(unsafe) let mkiRTCP = try! SRTCPReceiver(policy: withMKI)
nonisolated(unsafe) let gcmMKI = try! SRTPReceiver(policy: gcmWithMKI)
nonisolated(unsafe) let session = try! SRTPSession(direction: .inbound, template: withMKI, maximumStreams: 8)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    var packet = bytes
    let refused: Bool
    switch data[0] % 8 {
    case 0: refused = (try? rtp.unprotect(&packet)) == nil
    case 1: refused = (try? rtcp.unprotect(&packet)) == nil
    case 2: refused = (try? gcm.unprotect(&packet)) == nil
    case 3: refused = (try? gcmRTCP.unprotect(&packet)) == nil
    case 4: refused = (try? mkiRTP.unprotect(&packet)) == nil
    case 5: refused = (try? mkiRTCP.unprotect(&packet)) == nil
    case 6: refused = (try? gcmMKI.unprotect(&packet)) == nil
    default: refused = (try? session.unprotect(&packet)) == nil
    }
    if refused { precondition(packet == bytes, "a refused packet was changed") }
    return 0
}
