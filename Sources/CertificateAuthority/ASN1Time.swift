import Foundation
import SwiftASN1

/// An X.509 time (RFC 5280 §4.1.2.5: UTCTime, or GeneralizedTime from 2050) as a `Date`, for code that reads
/// certificates and revocation lists from their DER structure.
public enum ASN1Time {
    /// The instant `node` holds, nil when it is neither time type or names no real date.
    public static func date(_ node: ASN1Node) -> Date? {
        var components = DateComponents()
        components.timeZone = TimeZone(identifier: "UTC")
        if let time = try? UTCTime(derEncoded: node, withIdentifier: .utcTime) {
            (components.year, components.month, components.day) = (time.year, time.month, time.day)
            (components.hour, components.minute, components.second) = (time.hours, time.minutes, time.seconds)
        } else if let time = try? GeneralizedTime(derEncoded: node, withIdentifier: .generalizedTime) {
            (components.year, components.month, components.day) = (time.year, time.month, time.day)
            (components.hour, components.minute, components.second) = (time.hours, time.minutes, time.seconds)
        } else {
            return nil
        }
        return Calendar(identifier: .gregorian).date(from: components)
    }
}
