import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The edge that may be running on a data directory, as a command that changed the store reaches it: through its
/// control socket (`Edge.ControlSocket`), so that the change is in force when the command returns.
struct RunningEdge {
    let socketPath: String

    init(dataDirectory: String) { socketPath = DataDirectory(path: dataDirectory).file("control.sock") }

    /// Tells the edge that the store changed and waits (two seconds at most) until it has read the change; false
    /// when no edge answered (none runs, and its poll would apply the change anyway).
    @discardableResult
    func storeChanged() -> Bool {
        guard FileManager.default.fileExists(atPath: socketPath) else { return false }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { Glibc.close(descriptor) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socketPath.utf8)
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path)
            raw[path.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { return false }
        let line = Array("changed\n".utf8)
        guard send(descriptor, line, line.count, Int32(MSG_NOSIGNAL)) == line.count else { return false }
        var answer = [UInt8](repeating: 0, count: 8)
        let received = recv(descriptor, &answer, answer.count, 0)
        return received >= 3 && answer.prefix(3) == Array("ok\n".utf8)[...]
    }
}
