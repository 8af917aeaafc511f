import SIPMessage

/// libFuzzer entry point: the datagram parser, full validation, serialization round trip and the stream
/// framer fed in two pieces. Crashes and failed round trips are bugs; parse errors are expected.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let message = try? SIPMessage.parse(bytes) {
        _ = try? message.validate()
        _ = message.formattedDescription()
        _ = try? message.topVia()
        _ = try? message.contacts()
        let again = try? SIPMessage.parse(message.serialized())
        precondition(again?.serialized() == message.serialized(), "serialization round trip changed the message")
    }
    var framer = SIPStreamFramer()
    let split = size / 2
    framer.append(bytes[..<split])
    var frames = 0
    while frames < 64, let frame = try? framer.nextFrame() {
        if case .message(let message) = frame { _ = try? SIPMessage.parse(message, framing: .stream) }
        frames += 1
    }
    framer.append(bytes[split...])
    while frames < 128, let frame = try? framer.nextFrame() {
        if case .message(let message) = frame { _ = try? SIPMessage.parse(message, framing: .stream) }
        frames += 1
    }
    return 0
}
