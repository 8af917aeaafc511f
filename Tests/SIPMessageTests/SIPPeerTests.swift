import SIPMessage
import Testing

/// The cores' name for a peer (issue 18): a transport and an IP literal with a port, never a name or a string
/// matched by prefix.
@Suite struct SIPPeerTests {
    @Test func peersRoundTripThroughTheirStoredForm() throws {
        for text in ["udp:192.0.2.1:5060", "tcp:127.0.0.1:40000", "tls:[2001:db8::1]:5061", "udp:[::1]:5060"] {
            let peer = try #require(SIPPeer(text), "\(text)")
            #expect(peer.description == text)
            #expect(SIPPeer(peer.description) == peer)
        }
        let tls = try #require(SIPPeer("tls:[2001:db8::1]:5061"))
        #expect(tls.transport == .tls && tls.isReliable && tls.port == 5061 && tls.host.addressText == "2001:db8::1")
        #expect(SIPPeer("udp:192.0.2.1:5060")?.isReliable == false)
    }

    @Test func namesPortZeroAndAmbiguousFormsAreRefused() {
        for text in ["udp:pbx.example.com:5060", "udp:192.0.2.1:0", "udp:192.0.2.1", "sctp:192.0.2.1:5060",
                     "tls:2001:db8::1:5061", "tls:[2001:db8::1:5061", "udp:192.0.2.1:70000", "udp:0177.0.0.1:5060", ""] {
            #expect(SIPPeer(text) == nil, "\(text)")
        }
        #expect(SIPPeer(transport: .udp, host: .hostname("pbx.example.com"), port: 5060) == nil)
    }
}
