#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few socket calls the relay makes itself, at file scope so that no method of the same name hides them.
enum Datagrams {
    /// A failed socket call's errno.
    struct Failure: Error, CustomStringConvertible {
        let errno: Int32
        var description: String { "errno \(errno)" }
    }

    /// A non-blocking UDP socket of the family of `address`, bound to it.
    static func boundSocket(_ address: UnsafePointer<sockaddr>, length: Int, ipv6: Bool) -> Result<CInt, Failure> {
        #if os(Linux)
        let type = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        #else
        let type = SOCK_DGRAM
        #endif
        let descriptor = socket(ipv6 ? AF_INET6 : AF_INET, type, 0)
        guard descriptor >= 0 else { return .failure(Failure(errno: errno)) }
        // IPv6 only: a dual-stack socket would take the port from the IPv4 relay and hand it mapped IPv4 senders.
        var one: Int32 = 1
        if ipv6, setsockopt(descriptor, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            let failure = errno
            close(descriptor)
            return .failure(Failure(errno: failure))
        }
        guard bind(descriptor, address, socklen_t(length)) == 0 else {
            let failure = errno
            close(descriptor)
            return .failure(Failure(errno: failure))
        }
        return .success(descriptor)
    }

    /// Sends one datagram without blocking; false when it could not go now (a full buffer, mostly).
    static func send(_ bytes: UnsafeRawBufferPointer, on descriptor: CInt, to address: UnsafePointer<sockaddr>,
                     length: Int) -> Bool {
        sendto(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), address, socklen_t(length)) >= 0
    }
}
