import SIPMessage

/// The RFC 1123 date SIP's Date header uses (RFC 3261 §20.17): `Sat, 13 Nov 2010 23:29:00 GMT`.
enum HTTPDate {
    static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func format(epochSeconds: Int64) -> String {
        let date = CivilDate(epochSeconds: epochSeconds)
        let secondsOfDay = date.secondOfDay
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(weekdays[date.weekdayFromThursday]), \(two(date.day)) \(months[Int(date.month - 1)]) \(date.year) "
            + "\(two(secondsOfDay / 3600)):\(two(secondsOfDay / 60 % 60)):\(two(secondsOfDay % 60)) GMT"
    }
}
