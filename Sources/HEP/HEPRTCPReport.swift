import RTP

/// An RTCP report as Homer reads it in a HEP packet of type 5 (RTCP JSON): the field names captagent and
/// rtpengine write, which heplify-server stores for its QoS views. Numbers only: nothing in it comes from a peer as
/// text, so nothing needs escaping.
public enum HEPRTCPReport {
    /// The JSON object for `report`: the first packet's type and sender, its sender information when it is a
    /// sender report, and its report blocks.
    public static func json(_ report: RTCPReport) -> String {
        var fields = ["\"ssrc\":\(report.senderSSRC)", "\"type\":\(report.packetType)",
                      "\"report_count\":\(report.blocks.count)"]
        if let sender = report.senderInfo {
            // The NTP fraction in microseconds, as Homer shows it.
            let microseconds = (UInt64(sender.ntpFraction) * 1_000_000) >> 32
            fields.insert("\"sender_information\":{\"ntp_timestamp_sec\":\(sender.ntpSeconds),"
                + "\"ntp_timestamp_usec\":\(microseconds),\"octets\":\(sender.octetCount),"
                + "\"rtp_timestamp\":\(sender.rtpTimestamp),\"packets\":\(sender.packetCount)}", at: 0)
        }
        let blocks = report.blocks.map { block in
            "{\"source_ssrc\":\(block.ssrc),\"highest_seq_no\":\(block.highestSequence),"
                + "\"fraction_lost\":\(block.fractionLost),\"ia_jitter\":\(block.jitter),"
                + "\"packets_lost\":\(block.cumulativeLost),\"lsr\":\(block.lastSenderReport),"
                + "\"dlsr\":\(block.delaySinceLastSenderReport)}"
        }
        fields.append("\"report_blocks\":[" + blocks.joined(separator: ",") + "]")
        return "{" + fields.joined(separator: ",") + "}"
    }
}
