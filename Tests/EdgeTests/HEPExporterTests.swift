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
