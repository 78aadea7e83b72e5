import Edge
import Testing

/// docs/openapi.yaml describes exactly the server API's routes (``ServerAPIRoutes/table``, from
/// which ws-edge builds its router; ServiceTests' ServerAPITests call each of them).
@Suite("OpenAPI document")
struct OpenAPITests {
    static let path = "docs/openapi.yaml"

    @Test("its paths and methods are the server API's routes, every one behind the key, on the admin port")
    func routesAgree() throws {
        let document = try YAMLValue.parse(try Repo.read(Self.path))
        #expect(document["openapi"]?.string?.hasPrefix("3.") == true)
        let paths = try #require(document["paths"]?.map, "\(Self.path) has no paths")
        var documented: Set<String> = []
        for (path, item) in paths {
            for (method, operation) in item.map ?? [:] where ["get", "post", "put", "patch", "delete"].contains(method) {
                documented.insert("\(method.uppercased()) \(path)")
                #expect(operation["responses"]?["401"] != nil, "\(method) \(path): document the 401 without a key")
                #expect(operation["operationId"]?.string?.isEmpty == false, "\(method) \(path): operationId")
                let names = Set((operation["parameters"]?.list ?? []).compactMap { parameter -> String? in
                    if let name = parameter["name"]?.string { return name }
                    let reference = parameter["$ref"]?.string ?? ""
                    return document["components"]?["parameters"]?[String(reference.split(separator: "/").last ?? "")]?["name"]?.string
                })
                for segment in path.split(separator: "/") where segment.hasPrefix("{") {
                    #expect(names.contains(String(segment.dropFirst().dropLast())), "\(method) \(path): parameter \(segment) is not described")
                }
            }
        }
        let routes = Set(ServerAPIRoutes.table.map { "\($0.method) \($0.path)" })
        #expect(documented == routes, "documented but not served: \(documented.subtracting(routes)); served but not documented: \(routes.subtracting(documented))")
        #expect(document["security"]?.list?.first?["apiKey"] != nil, "every operation needs the key")
        #expect(document["components"]?["securitySchemes"]?["apiKey"]?["scheme"]?.string == "bearer")
        #expect(document["servers"]?.list?.first?["url"]?.string == "http://127.0.0.1:9100", "the admin port, ws-edge's default")
    }
}
