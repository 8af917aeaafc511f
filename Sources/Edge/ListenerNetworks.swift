import NIOCore
import SIPTransportNIO
import SecurityPolicy

/// The networks one listener takes messages from (say, UDP only from the trunks' networks while TLS is open to the
/// phones): a CIDR ACL per listener. The global allow-list still wins.
public struct ListenerNetworks: Sendable {
    /// The listener, as configured; port 0 matches the listener whatever port it bound.
    public var listener: SIPListenAddress
    /// Where its messages may come from.
    public var networks: NetworkList

    /// Creates a rule.
    public init(listener: SIPListenAddress, networks: NetworkList) {
        self.listener = listener
        self.networks = networks
    }

    /// Whether the rule is the one of the listener `inbound` arrived on.
    func matches(_ inbound: SIPInbound) -> Bool {
        guard inbound.transport == listener.transport else { return false }
        if listener.port != 0, inbound.local?.port != listener.port { return false }
        let wildcard = listener.host == "0.0.0.0" || listener.host == "::"
        if !wildcard, let local = inbound.local?.policyAddress, let host = IPAddress(listener.host), local != host {
            return false
        }
        return true
    }
}
