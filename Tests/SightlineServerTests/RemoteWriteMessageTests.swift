import SightlineCore
import Testing

@testable import SightlineServer

struct RemoteWriteMessageTests {
    private typealias Message = PrometheusWriteHandler.RemoteWriteMessage

    @Test func theContentTypeNamesTheVersion() throws {
        #expect(try Message(contentType: nil) == .v1)
        #expect(try Message(contentType: "application/x-protobuf") == .v1)
        #expect(try Message(contentType: "Application/X-Protobuf; proto=\"prometheus.WriteRequest\"") == .v1)
        #expect(try Message(contentType: "application/x-protobuf;proto=io.prometheus.write.v2.Request") == .v2)
        #expect(try Message(contentType: "application/x-protobuf; charset=binary; proto=io.prometheus.write.v2.Request") == .v2)
    }

    @Test func otherTypesAndMessagesAreUnsupportedMediaTypes() {
        for contentType in ["text/plain", "application/x-protobuf;proto=io.prometheus.write.v3.Request"] {
            do {
                _ = try Message(contentType: contentType)
                Issue.record("\(contentType) was taken")
            } catch let error as SightlineError {
                #expect(error.code == .unsupportedMediaType)
                #expect(error.message.contains(contentType.hasPrefix("text") ? "text/plain" : "io.prometheus.write.v3.Request"))
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }
}
