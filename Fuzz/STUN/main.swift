import STUN

/// libFuzzer entry point: the input as a STUN message (RFC 8489). Nothing may crash or hang; what reads must keep
/// its own rules (no attribute after FINGERPRINT, at most `maxAttributes`), its accessors must not trap, and its
/// attributes written again by the builder must read back the same.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = STUNMessage.frameLength(bytes)
    guard let message = try? STUNMessage(parsing: bytes) else { return 0 }
    guard message.attributes.count <= STUNMessage.maxAttributes else { fatalError("too many attributes kept") }
    _ = message.checkIntegrity(key: .shortTerm(password: "fuzz"))
    _ = message.fingerprintHolds
    _ = (message.username, message.realm, message.nonce, message.software, message.errorCode, message.unknownAttributes)
    _ = (message.xorAddress(), message.xorAddress(.xorRelayedAddress), message.peerAddresses, message.mappedAddress)
    _ = (message.uint32(.lifetime), message.passwordAlgorithmNumbers)
    _ = STUNPasswordAlgorithm.negotiated(by: message, offered: [.sha256, .md5])
    _ = message.unknownComprehensionRequired(understood: [.username, .realm, .nonce])
    if let nonce = message.nonce { _ = STUNSecurityFeatures(nonce: nonce) }

    var builder = STUNMessageBuilder(message.type, transactionID: message.transactionID)
    for attribute in message.attributes
    where ![.messageIntegrity, .messageIntegritySHA256, .fingerprint].contains(attribute.type) {
        builder.append(attribute.type, message.bytes[attribute.value])
    }
    guard let again = try? STUNMessage(parsing: builder.bytes), again.type == message.type,
        again.transactionID == message.transactionID,
        again.attributes.map({ again.bytes[$0.value] }) == message.attributes
            .filter({ ![.messageIntegrity, .messageIntegritySHA256, .fingerprint].contains($0.type) })
            .map({ message.bytes[$0.value] })
    else { fatalError("a message whose attributes do not read back") }
    return 0
}
