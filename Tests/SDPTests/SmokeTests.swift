import SDP
import Testing

@Test func smoke() throws {
    let sdp = try SessionDescription(parsing: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")
    #expect(sdp.media.count == 1)
}
