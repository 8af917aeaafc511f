import Foundation
import SecurityPolicy

/// Where the admin API listens (`[admin]`, `--admin-listen`): loopback port 8443 over TLS unless told otherwise;
/// plain HTTP only on loopback.
struct AdminListenSettings: Equatable {
    var host: String
    var port: Int
    var tls: Bool
    var authFailuresPerMinute = 10
    /// Changes (any method but GET) one token may make in a minute before it gets 429.
    var writesPerMinute = 60
    /// Mutual TLS: a client must show a certificate issued by this CA (PEM file), on top of its token.
    var clientCA: String?

    static let defaultListen = "127.0.0.1:8443"

    /// Whether it listens on loopback only (the address policy's class of the address).
    var isLoopback: Bool { IPAddress(host).map { AddressPolicy.classify($0) == .loopback } ?? false }

    /// `https://127.0.0.1:8443`, an IPv6 host in brackets.
    func url(port: Int) -> String {
        "\(tls ? "https" : "http")://\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }

    /// nil when switched off (`off`).
    static func make(file: ServeConfiguration.Admin?, commandLine: String?) throws -> AdminListenSettings? {
        let text = commandLine ?? file?.listen ?? defaultListen
        guard text != "off" else { return nil }
        // HOST:PORT, with an IPv6 host in brackets.
        let host: Substring
        let portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(after: close)...].drop { $0 == ":" }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            throw UsageError(message: "admin.listen must be HOST:PORT or \"off\", not \(text)")
        }
        guard let ip = IPAddress(String(host)), let port = Int(portText), (0...65_535).contains(port) else {
            throw UsageError(message: "admin.listen must be an IP address and a port, not \(text)")
        }
        let failures = try ServeSettings.bounded(file?.authFailuresPerMinute, "admin.auth_failures_per_minute",
                                                 default: 10, in: 1...100_000)
        let writes = try ServeSettings.bounded(file?.writesPerMinute, "admin.writes_per_minute", default: 60,
                                               in: 1...100_000)
        let settings = AdminListenSettings(host: ip.description, port: port, tls: file?.tls ?? true,
                                           authFailuresPerMinute: failures, writesPerMinute: writes,
                                           clientCA: file?.clientCA)
        // Off loopback, tokens would cross the network in clear.
        guard settings.tls || settings.isLoopback else {
            throw UsageError(message: "admin.tls = false is allowed on a loopback address only")
        }
        if let clientCA = settings.clientCA {
            guard settings.tls else { throw UsageError(message: "admin.client_ca needs admin.tls") }
            guard FileManager.default.isReadableFile(atPath: clientCA) else {
                throw UsageError(message: "admin.client_ca: cannot read \(clientCA)")
            }
        }
        return settings
    }
}
