/// A UTC calendar date and time of day from seconds since 1970, without Foundation: what SIP's Date header
/// (RFC 3261 §20.17) and the SIEM formats' RFC 3339 times are written from.
public struct CivilDate: Hashable, Sendable {
    public let year: Int64
    /// 1 to 12.
    public let month: Int64
    /// 1 to 31.
    public let day: Int64
    /// Seconds since midnight, 0 to 86,399.
    public let secondOfDay: Int64
    /// Days since 1970-01-01 (negative before it).
    public let daysSinceEpoch: Int64

    public init(epochSeconds: Int64) {
        let days = epochSeconds >= 0 ? epochSeconds / 86_400 : (epochSeconds - 86_399) / 86_400
        secondOfDay = epochSeconds - days * 86_400
        daysSinceEpoch = days
        // Civil date from days since 1970 (Howard Hinnant's days_from_civil, inverted).
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// 0 for Thursday (1970-01-01) to 6 for Wednesday.
    public var weekdayFromThursday: Int { Int(((daysSinceEpoch % 7) + 7) % 7) }
}
