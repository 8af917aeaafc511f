extension SessionDescription {
    /// Renders every line with CRLF endings in RFC 8866 §5 order. No validation: see
    /// ``serialized(limits:)``.
    func render(redactingKeys: Bool) -> String {
        var out = ""
        out.reserveCapacity(512 + 64 * (attributes.count + media.reduce(0) { $0 + $1.attributes.count + 4 }))

        func line(_ type: String, _ value: String) {
            out += type
            out += "="
            out += value
            out += "\r\n"
        }

        func keyLine(_ key: SDPEncryptionKey) {
            line("k", redactingKeys ? key.description : key.serialized())
        }

        func attributeLines(_ attributes: [SDPAttribute]) {
            for attribute in attributes {
                line("a", redactingKeys ? attribute.description : attribute.serialized())
            }
        }

        line("v", String(version))
        line("o", origin.description)
        line("s", sessionName)
        if let information { line("i", information) }
        if let uri { line("u", uri) }
        for email in emails { line("e", email) }
        for phone in phones { line("p", phone) }
        if let connection { line("c", connection.description) }
        for bandwidth in bandwidths { line("b", bandwidth.description) }
        for timing in timings {
            line("t", "\(timing.start) \(timing.stop)")
            for repeatTime in timing.repeats { line("r", repeatTime.description) }
            if !timing.zoneAdjustments.isEmpty {
                line("z", timing.zoneAdjustments.map(\.description).joined(separator: " "))
            }
        }
        if let key { keyLine(key) }
        attributeLines(attributes)

        for section in media {
            line("m", section.mediaLineValue)
            if let information = section.information { line("i", information) }
            for connection in section.connections { line("c", connection.description) }
            for bandwidth in section.bandwidths { line("b", bandwidth.description) }
            if let key = section.key { keyLine(key) }
            attributeLines(section.attributes)
        }
        return out
    }
}
