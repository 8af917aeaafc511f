/// An estimated MOS from the ITU-T G.107 E-model, simplified the way RTP monitors usually do:
///
/// - R = R0 − Is − Id − Ie,eff + A with the G.107 defaults folded into R0 − Is = 93.2 and A = 0 (no advantage).
/// - Id from the one-way mouth-to-ear delay d (ms) by Cole and Rosenbluth's fit of G.107:
///   Id = 0.024 d + 0.11 (d − 177.3) when d > 177.3.
/// - Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl / BurstR + Bpl), with Ie and Bpl per codec from G.113 Appendix I, and
///   the burst ratio 1 (random loss) unless known.
/// - MOS from R by G.107 Annex B.
///
/// What it leaves out: echo, noise and loudness terms (their defaults), wideband R (G.107.1), and any codec not in
/// G.113 (Opus and the like are rated with G.711's figures). The delay is what the caller knows: half the RTCP
/// round trip when reported, plus packetization and a jitter buffer.
public enum EModel {
    /// A codec's equipment impairment Ie and packet-loss robustness Bpl (G.113 Appendix I).
    public struct Codec: Hashable, Sendable {
        public var impairment: Double
        public var lossRobustness: Double
        public init(impairment: Double, lossRobustness: Double) {
            self.impairment = impairment
            self.lossRobustness = lossRobustness
        }

        /// G.711 with packet-loss concealment (G.711 Appendix I): Ie 0, Bpl 25.1.
        public static let g711 = Codec(impairment: 0, lossRobustness: 25.1)
        /// G.711 without concealment: Ie 0, Bpl 4.3.
        public static let g711WithoutConcealment = Codec(impairment: 0, lossRobustness: 4.3)
        /// G.729A with VAD: Ie 11, Bpl 19.
        public static let g729a = Codec(impairment: 11, lossRobustness: 19)
        /// GSM full rate: Ie 20, Bpl 10 (approximate G.113 figures).
        public static let gsm = Codec(impairment: 20, lossRobustness: 10)

        /// The codec for an RTP payload type (RFC 3551 static types); others are rated as G.711.
        public static func forPayloadType(_ payloadType: UInt8) -> Codec {
            switch payloadType {
            case 18: .g729a
            case 3: .gsm
            default: .g711
            }
        }
    }

    /// The transmission rating R for `lossFraction` (0...1), a one-way delay in milliseconds, and a codec.
    public static func rating(lossFraction: Double, oneWayDelayMilliseconds delay: Double, codec: Codec = .g711,
                              burstRatio: Double = 1) -> Double {
        let loss = min(max(lossFraction, 0), 1) * 100
        let d = max(delay, 0)
        let delayImpairment = 0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0)
        let burst = max(burstRatio, 1)
        let equipment = codec.impairment + (95 - codec.impairment) * loss / (loss / burst + codec.lossRobustness)
        return 93.2 - delayImpairment - equipment
    }

    /// The mean opinion score for a rating R (G.107 Annex B): 1 to 4.5.
    public static func meanOpinionScore(rating r: Double) -> Double {
        guard r > 0 else { return 1 }
        guard r < 100 else { return 4.5 }
        return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6
    }

    /// The MOS of a stream from its statistics: loss, a one-way delay (half the RTCP round trip when known), plus
    /// packetization (`packetMilliseconds`) and a jitter buffer of twice the measured jitter.
    public static func meanOpinionScore(_ statistics: RTPStreamStatistics, payloadType: UInt8,
                                        roundTripMilliseconds: Double? = nil, packetMilliseconds: Double = 20) -> Double {
        let delay = (roundTripMilliseconds ?? 0) / 2 + packetMilliseconds + 2 * statistics.jitterMilliseconds
        return meanOpinionScore(rating: rating(lossFraction: statistics.lossFraction, oneWayDelayMilliseconds: delay,
                                               codec: .forPayloadType(payloadType)))
    }
}
