// Generated once with Python (opentelemetry-proto + google.protobuf.json_format) from the shared conformance
// examples (ids converted from hex to base64 first) and from `extraMetricsJSON`; checked in as data.
enum ProtobufFixtures {
    /// `logs.json` serialized by the reference protobuf library (opentelemetry-proto, Python).
    static let logs = bytes([
            "CogDCh4KHAoMc2VydmljZS5uYW1lEgwKCm15LnNlcnZpY2US5QIKQQoKbXkubGlicmFyeRIFMS4wLjAaLAoSbXkuc2NvcGUu",
            "YXR0cmlidXRlEhYKFHNvbWUgc2NvcGUgYXR0cmlidXRlEp8CCQDrOvX6628VEAoaC0luZm9ybWF0aW9uKhQKEkV4YW1wbGUg",
            "bG9nIHJlY29yZDIhChBzdHJpbmcuYXR0cmlidXRlEg0KC3NvbWUgc3RyaW5nMhcKEWJvb2xlYW4uYXR0cmlidXRlEgIQATIT",
            "Cg1pbnQuYXR0cmlidXRlEgIYCjIdChBkb3VibGUuYXR0cmlidXRlEgkhEoPAyqHtg0AyJwoPYXJyYXkuYXR0cmlidXRlEhQq",
            "EgoGCgRtYW55CggKBnZhbHVlczIxCg1tYXAuYXR0cmlidXRlEiAyHgocCgxzb21lLm1hcC5rZXkSDAoKc29tZSB2YWx1ZUoQ",
            "W47/95gDgQPSabYzgT/GDFII7uGbfsPBsXRZAOs69frrbxU=",
        ])

    /// `events.json` serialized by the reference protobuf library (opentelemetry-proto, Python).
    static let events = bytes([
            "CvICCh4KHAoMc2VydmljZS5uYW1lEgwKCm15LnNlcnZpY2USzwIKQQoKbXkubGlicmFyeRIFMS4wLjAaLAoSbXkuc2NvcGUu",
            "YXR0cmlidXRlEhYKFHNvbWUgc2NvcGUgYXR0cmlidXRlEokCCQDrOvX6628VEAkaEnRlc3Qgc2V2ZXJpdHkgdGV4dCqgATKd",
            "AQoKCgR0eXBlEgIYAApBCgN1cmwSOgo4aHR0cHM6Ly93d3cuZ3VpZGdlbmVyYXRvci5jb20vb25saW5lLWd1aWQtZ2VuZXJh",
            "dG9yLmFzcHgKJQoIcmVmZXJyZXISGQoXaHR0cHM6Ly93d3d3Lmdvb2dsZS5jb20KJQoFdGl0bGUSHAoaRnJlZSBPbmxpbmUg",
            "R1VJRCBHZW5lcmF0b3IyKQoPZXZlbnQuYXR0cmlidXRlEhYKFHNvbWUgZXZlbnQgYXR0cmlidXRlWQDrOvX6628VYhFicm93",
            "c2VyLnBhZ2Vfdmlldw==",
        ])

    /// `trace.json` serialized by the reference protobuf library (opentelemetry-proto, Python).
    static let trace = bytes([
            "CtMBCh4KHAoMc2VydmljZS5uYW1lEgwKCm15LnNlcnZpY2USsAEKQQoKbXkubGlicmFyeRIFMS4wLjAaLAoSbXkuc2NvcGUu",
            "YXR0cmlidXRlEhYKFHNvbWUgc2NvcGUgYXR0cmlidXRlEmsKEFuO//eYA4ED0mm2M4E/xgwSCO7hm37DwbF0Igju4Zt+w8Gx",
            "cyoRSSdtIGEgc2VydmVyIHNwYW4wAjkASFnj+utvFUEAEvQe++tvFUocCgxteS5zcGFuLmF0dHISDAoKc29tZSB2YWx1ZQ==",
        ])

    /// `metrics.json` serialized by the reference protobuf library (opentelemetry-proto, Python).
    static let metrics = bytes([
            "CvkECh4KHAoMc2VydmljZS5uYW1lEgwKCm15LnNlcnZpY2US1gQKQQoKbXkubGlicmFyeRIFMS4wLjAaLAoSbXkuc2NvcGUu",
            "YXR0cmlidXRlEhYKFHNvbWUgc2NvcGUgYXR0cmlidXRlEmMKCm15LmNvdW50ZXISDkkgYW0gYSBDb3VudGVyGgExOkIKPBEA",
            "6zr1+utvFRkA6zr1+utvFSEAAAAAAAAUQDofCg9teS5jb3VudGVyLmF0dHISDAoKc29tZSB2YWx1ZRABGAESUAoIbXkuZ2F1",
            "Z2USDEkgYW0gYSBHYXVnZRoBMSozCjEZAOs69frrbxUhAAAAAAAAJEA6HQoNbXkuZ2F1Z2UuYXR0chIMCgpzb21lIHZhbHVl",
            "Ep4BCgxteS5oaXN0b2dyYW0SEEkgYW0gYSBIaXN0b2dyYW0aATFKeQp1EQDrOvX6628VGQDrOvX6628VIQIAAAAAAAAAKQAA",
            "AAAAAABAMhABAAAAAAAAAAEAAAAAAAAAOggAAAAAAADwP0ohChFteS5oaXN0b2dyYW0uYXR0chIMCgpzb21lIHZhbHVlWQAA",
            "AAAAAAAAYQAAAAAAAABAEAESuAEKGG15LmV4cG9uZW50aWFsLmhpc3RvZ3JhbRIdSSBhbSBhbiBFeHBvbmVudGlhbCBIaXN0",
            "b2dyYW0aATFSegp2Ci0KHW15LmV4cG9uZW50aWFsLmhpc3RvZ3JhbS5hdHRyEgwKCnNvbWUgdmFsdWURAOs69frrbxUZAOs6",
            "9frrbxUhAwAAAAAAAAApAAAAAAAAJEA5AQAAAAAAAABCBggCEgIAAmEAAAAAAAAAAGkAAAAAAAAUQBAB",
        ])

    /// `extra_metrics.json` serialized by the reference protobuf library (opentelemetry-proto, Python).
    static let extraMetrics = bytes([
            "CvwFCocBChUKDHNlcnZpY2UubmFtZRIFCgNhcGkKGwoRc2VydmljZS5uYW1lc3BhY2USBgoEc2hvcAocChNzZXJ2aWNlLmlu",
            "c3RhbmNlLmlkEgUKA2ktMQoRCglob3N0Lm5hbWUSBAoCaDEKIAoWZGVwbG95bWVudC5lbnZpcm9ubWVudBIGCgRwcm9kEu8E",
            "CgUKA2xpYhJqChRodHRwLnNlcnZlci5yZXF1ZXN0cxoJe3JlcXVlc3R9OkcKQRkVzYU9/pyXFzEqAAAAAAAAADoUCgtodHRw",
            "Lm1ldGhvZBIFCgNHRVQ6FwoQaHR0cC5zdGF0dXNfY29kZRIDGMgBEAIYARIwChRwcm9jZXNzLm1lbW9yeS51c2FnZRoCQnkq",
            "FAoSGRXNhT3+nJcXIQAAAAAAApBAEogBChRodHRwLnNlcnZlci5kdXJhdGlvbhIQUmVxdWVzdCBkdXJhdGlvbhoBc0pbClcZ",
            "Fc2FPf6clxchCgAAAAAAAAApAAAAAAAAKUAyIAEAAAAAAAAAAgAAAAAAAAADAAAAAAAAAAQAAAAAAAAAOhh7FK5H4Xp0PwAA",
            "AAAAAOA/AAAAAAAA8D8QAhJYCgtycGMubGF0ZW5jeRoCbXNaRQpDGRXNhT3+nJcXIQQAAAAAAAAAKQAAAAAAADRAMhIJAAAA",
            "AAAA4D8RAAAAAAAACEAyEgmuR+F6FK7vPxEAAAAAAAAiQBImCgpxdWV1ZS5zaXplOhgKFBkVzYU9/pyXFyEAAAAAAAAcQEAB",
            "EAISJgoJbmV0LnNwZWVkGgNtL3MqFAoSGRXNhT3+nJcXIQAAAAAAAAhAEjcKB2NvbGxpZGUqLAoqGRXNhT3+nJcXIQAAAAAA",
            "APA/OgoKA2FfYhIDCgEyOgoKA2EuYhIDCgExEiIKCjFzdC5tZXRyaWMqFAoSGRXNhT3+nJcXIQAAAAAAAPA/EjYKBmRlbHRh",
            "czosChIZAQAAAAAAAAAhAAAAAAAA8D8KEhkCAAAAAAAAACEAAAAAAAAAQBABGAE=",
        ])

    /// A cumulative metrics request exercising every mapping (see `OTLPMetricsTests`).
    static let extraMetricsJSON = #"""
{"resourceMetrics":[{"resource":{"attributes":[
 {"key":"service.name","value":{"stringValue":"api"}},
 {"key":"service.namespace","value":{"stringValue":"shop"}},
 {"key":"service.instance.id","value":{"stringValue":"i-1"}},
 {"key":"host.name","value":{"stringValue":"h1"}},
 {"key":"deployment.environment","value":{"stringValue":"prod"}}]},
 "scopeMetrics":[{"scope":{"name":"lib"},"metrics":[
  {"name":"http.server.requests","unit":"{request}","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[
    {"timeUnixNano":"1700000000123456789","asInt":"42","attributes":[{"key":"http.method","value":{"stringValue":"GET"}},{"key":"http.status_code","value":{"intValue":"200"}}]}]}},
  {"name":"process.memory.usage","unit":"By","gauge":{"dataPoints":[{"timeUnixNano":"1700000000123456789","asDouble":1024.5}]}},
  {"name":"http.server.duration","unit":"s","description":"Request duration","histogram":{"aggregationTemporality":2,"dataPoints":[
    {"timeUnixNano":"1700000000123456789","count":"10","sum":12.5,"bucketCounts":["1","2","3","4"],"explicitBounds":[0.005,0.5,1]}]}},
  {"name":"rpc.latency","unit":"ms","summary":{"dataPoints":[{"timeUnixNano":"1700000000123456789","count":"4","sum":20,
    "quantileValues":[{"quantile":0.5,"value":3},{"quantile":0.99,"value":9}]}]}},
  {"name":"queue.size","sum":{"aggregationTemporality":2,"isMonotonic":false,"dataPoints":[{"timeUnixNano":"1700000000123456789","asDouble":7,"flags":1}]}},
  {"name":"net.speed","unit":"m/s","gauge":{"dataPoints":[{"timeUnixNano":"1700000000123456789","asDouble":3}]}},
  {"name":"collide","gauge":{"dataPoints":[{"timeUnixNano":"1700000000123456789","asDouble":1,"attributes":[{"key":"a_b","value":{"stringValue":"2"}},{"key":"a.b","value":{"stringValue":"1"}}]}]}},
  {"name":"1st.metric","gauge":{"dataPoints":[{"timeUnixNano":"1700000000123456789","asDouble":1}]}},
  {"name":"deltas","sum":{"aggregationTemporality":1,"isMonotonic":true,"dataPoints":[{"timeUnixNano":"1","asDouble":1},{"timeUnixNano":"2","asDouble":2}]}}
 ]}]}]}
"""#
}
