@testable import Edge
import Testing

/// What HEP copies carry: SDES keys masked in place (Content-Length stays true), nothing else touched.
@Suite struct HEPMaskingTests {
    @Test func sdesKeysAreMaskedAndTheRestKept() {
        let sdp = "v=0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4\r\n"
            + "a=crypto:2 AEAD_AES_256_GCM inline:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\r\nm=audio 1 RTP/SAVP 0"
        let masked = String(decoding: HEPExporter.maskingSDESKeys(Array(sdp.utf8)), as: UTF8.self)
        #expect(masked.utf8.count == sdp.utf8.count)
        #expect(!masked.contains("WVNfX19") && !masked.contains("c2VjcmV0"))
        #expect(masked.contains("inline:****************************************|2^20|1:4\r\n"))
        #expect(masked.hasSuffix("\r\nm=audio 1 RTP/SAVP 0") && masked.hasPrefix("v=0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 "))
        #expect(HEPExporter.maskingSDESKeys(Array("inline:".utf8)) == Array("inline:".utf8))
    }
}

/// The correlation id is the Call-ID, found by a scan of the header section: long or compact form, any case, not
/// in the body, nil without one.
@Suite struct HEPCorrelationTests {
    @Test func theCallIDIsFoundByItsHeaderLine() {
        func callID(_ text: String) -> String? { HEPExporter.callID(of: Array(text.utf8)) }
        #expect(callID("INVITE sip:b@h SIP/2.0\r\nVia: x\r\nCall-ID:  abc@host \r\nCSeq: 1 INVITE\r\n\r\n") == "abc@host")
        #expect(callID("SIP/2.0 200 OK\r\ni: compact-1\r\n\r\n") == "compact-1")
        #expect(callID("SIP/2.0 200 OK\r\nCALL-ID\t: upper\r\n\r\n") == "upper")
        #expect(callID("OPTIONS sip:h SIP/2.0\r\nVia: x\r\n\r\nCall-ID: in-the-body") == nil)
        #expect(callID("") == nil && callID("garbage") == nil)
    }
}

/// The key method is read case-insensitively by the SDES parser, so it is masked so too.
@Suite struct HEPMaskingCaseTests {
    @Test func anUppercaseKeyMethodIsMaskedToo() {
        let sdp = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 INLINE:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\r\n"
        let masked = String(decoding: HEPExporter.maskingSDESKeys(Array(sdp.utf8)), as: UTF8.self)
        #expect(!masked.contains("c2VjcmV0") && masked.contains("INLINE:****"))
    }
}
