"""End-to-end tests of the Loki push and Elasticsearch bulk log ingestion against the
real `sightline` binary: the official Elasticsearch Python client (`helpers.bulk`, which
checks the `X-Elastic-Product` header and the `GET /` answer), and Loki pushes in JSON
and in snappy-compressed protobuf built by hand from grafana/loki `pkg/push/push.proto`."""

from __future__ import annotations

import gzip
import json

import pytest
import requests
import snappy
from elasticsearch import Elasticsearch, helpers

ACME = "acme-token"
GLOBEX = "globex-token"


# ---------------------------------------------------------------------------
# protobuf by hand (logproto.PushRequest)
# ---------------------------------------------------------------------------
def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def varint_field(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def push_request(streams: list[tuple[str, list[tuple[int, str, dict[str, str]]]]]) -> bytes:
    """PushRequest{streams=1: StreamAdapter{labels=1, entries=2: EntryAdapter{timestamp=1{seconds=1,
    nanos=2}, line=2, structuredMetadata=3{name=1, value=2}}}}."""
    out = b""
    for labels, entries in streams:
        stream = field(1, labels.encode())
        for ts_ns, line, metadata in entries:
            timestamp = varint_field(1, ts_ns // 1_000_000_000)
            if ts_ns % 1_000_000_000:
                timestamp += varint_field(2, ts_ns % 1_000_000_000)
            entry = field(1, timestamp) + field(2, line.encode())
            for name, value in metadata.items():
                entry += field(3, field(1, name.encode()) + field(2, value.encode()))
            stream += field(2, entry)
        out += field(1, stream)
    return out


def by_body(records: list[dict]) -> dict[str, dict]:
    return {r["body"]: r for r in records}


# ---------------------------------------------------------------------------
# Loki
# ---------------------------------------------------------------------------
def test_loki_protobuf_and_json_pushes(server):
    url = server.url + "/loki/api/v1/push"
    body = snappy.compress(push_request([
        ('{job="promtail", host="h1"}', [
            (1_700_000_000_123_456_789, "proto one", {"trace_id": "t1"}),
            (1_700_000_001_000_000_000, "proto two", {"level": "error"}),
        ]),
    ]))
    r = requests.post(url, data=body, headers={"Content-Type": "application/x-protobuf"}, timeout=30)
    assert r.status_code == 204, r.text

    doc = {"streams": [{"stream": {"app": "api", "level": "warn"},
                        "values": [["1700000002000000000", "json line", {"user": "u1"}]]}]}
    r = requests.post(url, data=gzip.compress(json.dumps(doc).encode()),
                      headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}, timeout=30)
    assert r.status_code == 204, r.text

    records = by_body(server.records("logs"))
    assert set(records) == {"proto one", "proto two", "json line"}
    one = records["proto one"]
    assert one["stream"] == {"host": "h1", "job": "promtail", "service_name": "promtail"}
    assert one["attributes"] == {"trace_id": "t1"}
    assert one["timeUnixNano"] == "1700000000123456789"
    assert records["proto two"]["severityNumber"] == 17
    assert records["json line"]["severityNumber"] == 13
    assert records["json line"]["attributes"] == {"user": "u1"}


def test_loki_refuses_bad_bodies(server):
    url = server.url + "/loki/api/v1/push"
    bad_selector = snappy.compress(push_request([("{foo=bar}", [(1, "x", {})])]))
    for data, content_type, fragment in (
        (b'{"streams":[', "application/json", "invalid JSON"),
        (b"\x05\xff", "application/x-protobuf", "snappy"),
        (bad_selector, "application/x-protobuf", "{foo=bar}"),
    ):
        r = requests.post(url, data=data, headers={"Content-Type": content_type}, timeout=30)
        assert r.status_code == 400, (fragment, r.status_code, r.text)
        assert r.headers["Content-Type"].startswith("text/plain")
        assert fragment in r.text
    assert server.records("logs") == []


# ---------------------------------------------------------------------------
# Elasticsearch
# ---------------------------------------------------------------------------
def test_elasticsearch_client_bulk(server):
    es = Elasticsearch(server.url, request_timeout=30)
    info = es.info()
    assert info["version"]["number"].startswith("8.")
    assert info["tagline"] == "You Know, for Search"

    actions = [
        {"_index": "app-logs", "_source": {"@timestamp": "2024-05-01T12:30:00.5Z", "message": f"doc {i}",
                                           "log": {"level": "info"}, "host": {"name": "web-1"}, "tags": ["a", "b"]}}
        for i in range(50)
    ]
    ok, errors = helpers.bulk(es, actions, chunk_size=20)
    assert ok == 50 and errors == []

    bad = [
        {"_index": "app-logs", "_source": {"@timestamp": "not a date", "message": "bad time"}},
        {"_index": "app-logs", "_op_type": "create", "_source": {"@timestamp": 1714566600123, "message": "good"}},
    ]
    ok, errors = helpers.bulk(es, bad, raise_on_error=False)
    assert ok == 1
    assert len(errors) == 1
    assert errors[0]["index"]["status"] == 400
    assert errors[0]["index"]["error"]["type"] == "mapper_parsing_exception"

    records = by_body(server.records("logs"))
    assert len(records) == 51
    doc = records["doc 7"]
    assert doc["stream"] == {"index": "app-logs"}
    assert doc["timeUnixNano"] == "1714566600500000000"
    assert doc["attributes"]["host.name"] == "web-1"
    assert doc["attributes"]["tags"] == '["a","b"]'
    assert doc["severityNumber"] == 9
    assert records["good"]["timeUnixNano"] == "1714566600123000000"


def test_elasticsearch_probes_answer_with_product_header(server):
    for method, path in (("GET", "/"), ("GET", "/_license"), ("HEAD", "/_index_template/filebeat"),
                         ("PUT", "/_index_template/filebeat"), ("GET", "/_ilm/policy/filebeat"),
                         ("PUT", "/_ilm/policy/filebeat"), ("HEAD", "/_template/logstash"),
                         ("PUT", "/_data_stream/logs-app"), ("HEAD", "/some-index")):
        r = requests.request(method, server.url + path, json={} if method == "PUT" else None, timeout=30)
        assert r.status_code == 200, (method, path, r.status_code, r.text)
        assert r.headers.get("X-Elastic-Product") == "Elasticsearch", (method, path)
    assert requests.get(server.url + "/_license", timeout=30).json()["license"]["type"] == "basic"


def test_log_ingest_tenant_isolation(sightline):
    srv = sightline("auth", config={"auth": {"tokens": [
        {"token": ACME, "tenant": "acme", "roles": ["ingest", "query"]},
        {"token": GLOBEX, "tenant": "globex", "roles": ["ingest", "query"]},
    ]}}).start()
    r = requests.post(srv.url + "/loki/api/v1/push",
                      json={"streams": [{"stream": {"app": "a"}, "values": [["1", "acme line"]]}]},
                      headers={"Authorization": f"Bearer {ACME}"}, timeout=30)
    assert r.status_code == 204, r.text
    es = Elasticsearch(srv.url, headers={"Authorization": f"Bearer {GLOBEX}"}, request_timeout=30)
    ok, _ = helpers.bulk(es, [{"_index": "globex", "_source": {"message": "globex doc"}}])
    assert ok == 1
    assert [r["body"] for r in srv.records("logs", token=ACME)] == ["acme line"]
    assert [r["body"] for r in srv.records("logs", token=GLOBEX)] == ["globex doc"]
    r = requests.post(srv.url + "/_bulk", data='{"index":{"_index":"x"}}\n{}\n', timeout=30)
    assert r.status_code == 401
    assert r.headers.get("X-Elastic-Product") == "Elasticsearch"


def test_loki_delete_requests(sightline):
    """Loki's deletion API: the lines a request covers (a stream selector and line filters, in a time range) are
    gone from queries once it is answered, it is listed as processed, cannot be cancelled, and stays applied across a
    SIGKILL (the request is in the WAL, in order with the pushes around it)."""
    import datetime
    import time

    srv = sightline("loki-delete").start()
    base_ns = (time.time_ns() // 1_000_000_000 - 600) * 1_000_000_000
    streams = []
    for app in ("a", "b"):
        values = [[str(base_ns + i * 1_000_000_000), f"{'login token=s3cret' if i % 2 else 'info'} user={i}"] for i in range(20)]
        streams.append({"stream": {"job": "del", "app": app}, "values": values})
    r = requests.post(srv.url + "/loki/api/v1/push", json={"streams": streams}, timeout=30)
    assert r.status_code == 204, r.text

    def lines(app: str) -> list[str]:
        r = requests.get(srv.url + "/loki/api/v1/query_range", timeout=30, params={
            "query": f'{{job="del", app="{app}"}}', "start": str(base_ns - 1), "end": str(base_ns + 60_000_000_000),
            "limit": "1000", "direction": "forward"})
        assert r.status_code == 200, r.text
        return [line for s in r.json()["data"]["result"] for _, line in s["values"]]

    assert len(lines("a")) == len(lines("b")) == 20
    end = datetime.datetime.fromtimestamp(base_ns / 1e9 + 15, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = requests.post(srv.url + "/loki/api/v1/delete", timeout=30, params={
        "query": '{app="a"} |= "token=" != "user=13"', "start": str(base_ns // 1_000_000_000), "end": end})
    assert r.status_code == 204, r.text

    def check() -> None:
        kept = lines("a")
        assert [l for l in kept if "token=" in l] == [f"login token=s3cret user={i}" for i in (13, 17, 19)], kept
        assert len([l for l in kept if l.startswith("info")]) == 10 and len(lines("b")) == 20

    check()
    listed = requests.get(srv.url + "/loki/api/v1/delete", timeout=30).json()
    assert len(listed) == 1 and listed[0]["status"] == "processed" and listed[0]["query"].startswith('{app="a"}'), listed
    r = requests.delete(srv.url + "/loki/api/v1/delete", params={"request_id": listed[0]["request_id"]}, timeout=30)
    assert r.status_code == 400 and "already processed" in r.text, r.text
    r = requests.post(srv.url + "/loki/api/v1/delete", params={"query": '{app="a"} | json', "start": "1700000000"}, timeout=30)
    assert r.status_code == 400 and "only line filters" in r.text, r.text

    assert srv.kill9() == -9
    srv.start()
    check()
    assert len(requests.get(srv.url + "/loki/api/v1/delete", timeout=30).json()) == 1
