import CRDKafka

/// The oldest librdkafka this library accepts: 2.2.0 fixed the parsing of KIP-482 tagged
/// fields in the ApiVersions v3 reply, without which clients cannot talk to Tansu.
let minimumKafkaRuntime: Int32 = 0x0202_00ff

/// The version string of the librdkafka that was actually loaded (`rd_kafka_version_str()`),
/// e.g. `"2.6.1"`. It can differ from the headers the code was built against.
public var kafkaRuntimeVersion: String { String(cString: rd_kafka_version_str()) }

/// Throws a ``KafkaError`` if the loaded librdkafka is older than 2.2.0.
///
/// Call it once at process start, before creating any client, so an old runtime fails with one
/// clear line instead of confusing protocol errors later.
public func checkKafkaRuntime() throws {
    let version = rd_kafka_version()
    guard version >= minimumKafkaRuntime else {
        throw KafkaError(
            code: .unsupportedFeature,
            message: "librdkafka \(kafkaRuntimeVersion) (0x\(String(UInt32(bitPattern: version), radix: 16))) was loaded, "
                + "but Parley needs librdkafka 2.2 or newer (older versions mis-read KIP-482 tagged fields "
                + "in the broker's ApiVersions reply, see docs DESIGN.md); run scripts/setup.sh, which installs "
                + "a newer one under .parley/lib, and make sure it is found first (rpath or LD_LIBRARY_PATH)")
    }
}
