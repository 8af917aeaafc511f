import Crypto
import SecurityPolicy
import STUN
import TURN

/// A TURN server core that every input is also sent to, from one client, as a datagram (STUN or ChannelData).
nonisolated(unsafe) var core = TURNServerCore(
    configuration: TURNConfiguration(realm: "fuzz", relayAddressV4: IPAddress("192.0.2.10"),
                                     relayAddressV6: IPAddress("2001:db8::10"), peerPolicy: AddressPolicy()),
    credentials: TURNAccounts(realm: "fuzz", users: ["u": .init(username: "u", realm: "fuzz", password: "p")]),
    nonceSecret: SymmetricKey(data: [UInt8](repeating: 7, count: 32)), relayPorts: 49_152...49_160)
nonisolated(unsafe) var clock = Duration.zero
/// A nonce the core issued (from a challenge), so that signed variants of the inputs reach past authentication.
nonisolated(unsafe) var nonce: String?
let key = STUNKey.longTerm(username: "u", realm: "fuzz", password: "p")
let tuple = TURNFiveTuple(client: STUNTransportAddress(address: IPAddress("198.51.100.7")!, port: 40_000),
                          server: STUNTransportAddress(address: IPAddress("192.0.2.1")!, port: 3478), transport: .udp)

/// libFuzzer entry point: the input as a STUN message (RFC 8489) or ChannelData, read and handed to a TURN core as
/// it comes and signed as a known user (so the allocation, permission and channel paths see it). Nothing may crash
/// or hang; what reads must keep its own rules (no attribute after FINGERPRINT, at most `maxAttributes`), its
/// accessors must not trap, its attributes written again must read back the same, allocations stay within their
/// limit, and no permission ever exists for a peer the address policy refuses.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = STUNMessage.frameLength(bytes)
    clock += .milliseconds(10)
    core.received(bytes.count, from: tuple.client, now: clock)
    if let (channel, payload) = ChannelData.datagram(bytes) {
        _ = core.channelData(channel, length: payload.count, on: tuple, now: clock)
    }
    _ = core.expire(now: clock)
    guard let message = try? STUNMessage(parsing: bytes) else { return 0 }
    if case .allocate(let plan) = core.handle(message, on: tuple, now: clock, epochSeconds: 1_800_000_000).outcome {
        _ = core.allocationBound(plan, now: clock)
    }
    guard core.allocationCount <= core.configuration.limits.allocations else { fatalError("allocations past the limit") }
    // The same attributes signed as user u: the allocation, permission and channel paths see them too.
    if nonce == nil {
        let challenge = STUNMessageBuilder(STUNMessageType(.allocate, .request), transactionID: .random())
        if case .respond(let answer) = core.handle(try! STUNMessage(parsing: challenge.bytes), on: tuple, now: clock,
                                                  epochSeconds: 1_800_000_000).outcome {
            nonce = (try? STUNMessage(parsing: answer))?.nonce
        }
    }
    if let nonce, message.type.messageClass == .request {
        var signed = STUNMessageBuilder(message.type, transactionID: message.transactionID)
        for attribute in message.attributes where ![.messageIntegrity, .messageIntegritySHA256, .fingerprint, .username,
                                                    .realm, .nonce, .passwordAlgorithms, .passwordAlgorithm].contains(attribute.type) {
            signed.append(attribute.type, message.bytes[attribute.value])
        }
        signed.append(.username, text: "u")
        signed.append(.realm, text: "fuzz")
        signed.append(.nonce, text: nonce)
        signed.appendIntegrity(key: key)
        if let request = try? STUNMessage(parsing: signed.bytes),
            case .allocate(let plan) = core.handle(request, on: tuple, now: clock, epochSeconds: 1_800_000_000).outcome
        {
            _ = core.allocationBound(plan, now: clock)
        }
        if let peer = message.xorAddress(.xorPeerAddress) {
            _ = core.fromPeer(peer, to: core.allocation(tuple)?.id ?? 0, length: bytes.count, now: clock)
            guard core.allocation(tuple)?.permits(peer.address, now: clock) != true
                || core.configuration.peerPolicy.refusal(of: peer.address, port: nil, toldBy: nil) == nil
            else { fatalError("a permission for a peer the policy refuses: \(peer)") }
        }
    }
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
