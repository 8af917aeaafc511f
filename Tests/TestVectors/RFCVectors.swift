import Crypto
import Foundation

/// The public RFC test vectors kept in `Tests/Vectors` (its README.md says where each file comes from and which
/// published values do not recompute). Every file is listed in `manifest.json` with its source and SHA-256, and is
/// checked against that digest before a test uses it: a missing, unlisted or altered file fails the test, never
/// skips it.
public enum RFCVectors {
    /// Why a vector file could not be used.
    public struct Problem: Error, CustomStringConvertible {
        public let description: String
    }

    /// One manifest entry.
    public struct Entry: Sendable, Equatable {
        public let source: String
        public let sha256: String
    }

    /// `Tests/Vectors`, beside this file's directory.
    public static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Vectors")

    /// Path (relative to ``directory``) → source and digest, from `manifest.json`.
    public static func manifest() throws -> [String: Entry] {
        let data = try Data(contentsOf: directory.appendingPathComponent("manifest.json"))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: [String: String]] else {
            throw Problem(description: "manifest.json is not an object of objects")
        }
        return try object.mapValues { entry in
            guard let source = entry["source"], let sha256 = entry["sha256"] else {
                throw Problem(description: "a manifest entry lacks its source or sha256")
            }
            return Entry(source: source, sha256: sha256)
        }
    }

    /// The files under ``directory`` but README.md and manifest.json, as relative paths.
    public static func files() throws -> Set<String> {
        let root = directory.standardizedFileURL.path + "/"
        guard let walker = FileManager.default.enumerator(atPath: root) else {
            throw Problem(description: "cannot list \(root)")
        }
        var found: Set<String> = []
        while let path = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root + path, isDirectory: &isDirectory), !isDirectory.boolValue,
                path != "README.md", path != "manifest.json"
            else { continue }
            found.insert(path)
        }
        return found
    }

    /// The bytes of a vector file, once its SHA-256 matches the manifest.
    public static func data(_ path: String) throws -> Data {
        guard let entry = try manifest()[path] else { throw Problem(description: "\(path) is not in the manifest") }
        let data = try Data(contentsOf: directory.appendingPathComponent(path))
        let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        guard digest == entry.sha256 else {
            throw Problem(description: "\(path) does not match its SHA-256 in the manifest (\(digest))")
        }
        return data
    }

    /// A vector file that holds one JSON object.
    public static func json(_ path: String) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: data(path)) as? [String: Any] else {
            throw Problem(description: "\(path) is not a JSON object")
        }
        return object
    }

    /// A text vector file.
    public static func text(_ path: String) throws -> String {
        String(decoding: try data(path), as: UTF8.self)
    }
}
