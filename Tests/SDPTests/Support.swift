import Foundation
import SDP
import Testing
import TestVectors

/// Joins SDP lines with CRLF, ending with CRLF (the canonical wire form).
func crlf(_ lines: [String]) -> String {
    lines.map { $0 + "\r\n" }.joined()
}

/// A minimal valid session prefix (v/o/s/c/t), to which tests append lines.
let minimalSessionLines = [
    "v=0",
    "o=- 1 1 IN IP4 192.0.2.1",
    "s=-",
    "c=IN IP4 192.0.2.1",
    "t=0 0",
]

/// `minimalSessionLines` + `extra`, CRLF-joined.
func session(_ extra: [String]) -> String {
    crlf(minimalSessionLines + extra)
}

/// Parses `text`, returning the error (or nil when it parsed).
func parseError(_ text: String, limits: SDPParseLimits = .default) -> SDPParseError? {
    do {
        _ = try SessionDescription(parsing: text, limits: limits)
        return nil
    } catch {
        return error
    }
}

/// Runs `body` and returns the SDPParseError it throws (nil when it does not throw).
func captureError<T>(_ body: () throws -> T) -> SDPParseError? {
    do {
        _ = try body()
        return nil
    } catch let error as SDPParseError {
        return error
    } catch {
        Issue.record("unexpected error type: \(error)")
        return nil
    }
}

/// The public RFC vectors in Tests/Vectors, each checked against its SHA-256 in the manifest.
enum Vectors {
    static func json(_ relativePath: String) throws -> [String: Any] { try RFCVectors.json(relativePath) }
}

/// Deterministic example keys (bytes 0, 1, 2, ... of the given length), base64-encoded.
enum ExampleKeys {
    static let bytes28 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw=="
    static let bytes29 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw="
    static let bytes30 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
    static let bytes31 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=="
    static let bytes38 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCU="
    static let bytes44 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKis="
    static let bytes46 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLQ=="
    static let bytes16 = "AAECAwQFBgcICQoLDA0ODw=="

    static func base64(length: Int) -> String {
        switch length {
        case 16: return bytes16
        case 28: return bytes28
        case 29: return bytes29
        case 30: return bytes30
        case 31: return bytes31
        case 38: return bytes38
        case 44: return bytes44
        case 46: return bytes46
        default: fatalError("no example key of length \(length)")
        }
    }
}
