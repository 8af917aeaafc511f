import NIOCore
import SecurityPolicy
import STUN

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension STUNTransportAddress {
    /// The address NIO reports, without going through text.
    init?(_ address: SocketAddress) {
        guard let port = address.port, let port16 = UInt16(exactly: port) else { return nil }
        switch address {
        case .v4(let v4):
            self.init(address: IPAddress(ipv4: UInt32(bigEndian: v4.address.sin_addr.s_addr)), port: port16)
        case .v6(let v6):
            var bytes = v6.address.sin6_addr
            let ip = withUnsafeBytes(of: &bytes) { raw -> IPAddress in
                var high: UInt64 = 0, low: UInt64 = 0
                for index in 0..<8 { high = high << 8 | UInt64(raw[index]) }
                for index in 8..<16 { low = low << 8 | UInt64(raw[index]) }
                return IPAddress(high: high, low: low)
            }
            // An IPv4-mapped address on a dual-stack socket is the IPv4 address.
            self.init(address: ip, port: port16)
        case .unixDomainSocket:
            return nil
        }
    }

    /// The address for NIO, built from the bytes (no text).
    var socketAddress: SocketAddress {
        if let v4 = address.ipv4 {
            var raw = sockaddr_in()
            raw.sin_family = sa_family_t(AF_INET)
            raw.sin_port = port.bigEndian
            raw.sin_addr.s_addr = v4.bigEndian
            return SocketAddress(raw, host: "")
        }
        var raw = sockaddr_in6()
        raw.sin6_family = sa_family_t(AF_INET6)
        raw.sin6_port = port.bigEndian
        withUnsafeMutableBytes(of: &raw.sin6_addr) { bytes in
            for index in 0..<8 { bytes[index] = UInt8(truncatingIfNeeded: address.high >> (56 - 8 * UInt64(index))) }
            for index in 0..<8 { bytes[8 + index] = UInt8(truncatingIfNeeded: address.low >> (56 - 8 * UInt64(index))) }
        }
        return SocketAddress(raw, host: "")
    }
}
