"""`sightline server --storage clickhouse`: several servers over one real ClickHouse (Debian's 18.16, started by
scripts/clickhouse-for-tests.sh), the servers keeping only their write-ahead logs. Data ingested through one server is
queried through another; a server killed mid-ingest loses nothing it acknowledged (its WAL is replayed into ClickHouse
when it comes back); ClickHouse stopped for 30 s loses nothing either (the rows stay in the WAL and are inserted
when it is back)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid

import requests

from conftest import REPO_ROOT, wait_until

SCRIPT = REPO_ROOT / "scripts" / "clickhouse-for-tests.sh"


def backend(url: str, database: str) -> dict:
    return {"storage": {"backend": "clickhouse", "clickhouse": {"url": url, "database": database, "flush_interval": "200ms"}},
            "wal": {"checkpoint_interval": "1s"}}


def post_lines(server, lines: list[str], service: str) -> requests.Response:
    """Pushes `lines` (Loki JSON, stream `{service}`, consecutive nanosecond times from now); the server's answer."""
    now = time.time_ns()
    doc = {"streams": [{"stream": {"service": service}, "values": [[str(now + i), line] for i, line in enumerate(lines)]}]}
    return requests.post(server.url + "/loki/api/v1/push", json=doc, timeout=30)


def push_lines(server, lines: list[str], service: str) -> None:
    r = post_lines(server, lines, service)
    assert r.status_code == 204, r.text


def lines_of(server, service: str, since_ns: int) -> list[str]:
    r = requests.get(server.url + "/loki/api/v1/query_range", timeout=30, params={
        "query": f'{{service="{service}"}}', "start": str(since_ns), "end": str(time.time_ns() + 10**9),
        "limit": "5000", "direction": "forward"})
    assert r.status_code == 200, r.text
    return [line for stream in r.json()["data"]["result"] for _, line in stream["values"]]


def test_data_ingested_through_one_server_is_queried_through_the_other(sightline, clickhouse):
    url, _ = clickhouse
    database = "it_" + uuid.uuid4().hex[:12]
    a = sightline("a", config=backend(url, database)).start()
    b = sightline("b", config=backend(url, database)).start()
    since = time.time_ns() - 10**9

    push_lines(a, [f"via a {i}" for i in range(50)], "shop")
    push_lines(b, [f"via b {i}" for i in range(50)], "shop")
    expected = sorted([f"via a {i}" for i in range(50)] + [f"via b {i}" for i in range(50)])
    for server in (a, b):
        wait_until(f"every line through {server.name}", lambda s=server: sorted(lines_of(s, "shop", since)) == expected or len(lines_of(s, "shop", since)), timeout=60)

    # Metrics imported through b, queried with PromQL through a.
    now_ms = int(time.time() * 1000)
    text = "".join(f'orders_total{{shop="s{i}"}} {i * 10} {now_ms - 1000}\n' for i in range(5))
    r = requests.post(b.url + "/api/v1/import/prometheus", data=text, headers={"Content-Type": "text/plain"}, timeout=30)
    assert r.status_code == 204, r.text

    def summed():
        r = requests.get(a.url + "/api/v1/query", params={"query": "sum(orders_total)", "time": str(now_ms / 1000)}, timeout=30)
        result = r.json()["data"]["result"] if r.status_code == 200 else []
        return bool(result) and float(result[0]["value"][1]) == 100.0 or result
    wait_until("sum(orders_total) through a", summed, timeout=60)

    # A trace sent to a, found by id through b's Jaeger API.
    trace_id = uuid.uuid4().hex
    start = time.time_ns() - 5 * 10**9
    otlp = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
            "scopeSpans": [{"spans": [
                {"traceId": trace_id, "spanId": "00000000000000a1", "name": "POST /pay", "kind": 2,
                 "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 40_000_000)},
                {"traceId": trace_id, "spanId": "00000000000000a2", "parentSpanId": "00000000000000a1", "name": "db",
                 "kind": 3, "startTimeUnixNano": str(start + 1_000_000), "endTimeUnixNano": str(start + 9_000_000)}]}]}]}
    r = requests.post(a.url + "/v1/traces", json=otlp, timeout=30)
    assert r.status_code == 200, r.text

    def found():
        r = requests.get(f"{b.url}/api/traces/{trace_id}", timeout=30)
        return r.status_code == 200 and len(r.json()["data"][0]["spans"]) == 2 or r.status_code
    wait_until("the trace through b", found, timeout=60)
    r = requests.get(b.url + "/api/services", timeout=30)
    assert "checkout" in r.json()["data"]


def test_delete_series_through_one_server_is_seen_through_the_other(sightline, clickhouse):
    """Prometheus' delete_series on ClickHouse storage: samples imported through a (still in its WAL) and deleted
    through a are gone for a and b once a answers 204, only those the selector and range name; samples written
    afterwards (through b) are kept; a killed and restarted, replaying its WAL, brings nothing back."""
    url, _ = clickhouse
    database = "it_" + uuid.uuid4().hex[:12]
    # a checkpoints only when the deletion makes it: its WAL still holds the import when the deletion arrives.
    a = sightline("del-a", config={**backend(url, database), "wal": {"checkpoint_interval": "1h"}}).start()
    b = sightline("del-b", config=backend(url, database)).start()
    now_ms = int(time.time() * 1000)
    old = now_ms - 600_000
    text = "".join(f'jobs_total{{queue="{q}"}} {i} {old + i * 15_000}\n' for q in ("mail", "video") for i in range(10))
    r = requests.post(a.url + "/api/v1/import/prometheus", data=text, headers={"Content-Type": "text/plain"}, timeout=30)
    assert r.status_code == 204, r.text

    def values(server, queue):
        r = requests.get(server.url + "/api/v1/query", params={"query": f'jobs_total{{queue="{queue}"}}[15m]', "time": str(now_ms / 1000)}, timeout=30)
        assert r.status_code == 200, r.text
        result = r.json()["data"]["result"]
        return [float(v) for _, v in result[0]["values"]] if result else []
    wait_until("the samples through b", lambda: len(values(b, "mail")) == 10 or values(b, "mail"), timeout=60)

    # The mail queue's samples from the third to the sixth, deleted through a.
    r = requests.post(a.url + "/api/v1/admin/tsdb/delete_series", timeout=120, data={
        "match[]": 'jobs_total{queue="mail"}', "start": str((old + 2 * 15_000) / 1000), "end": str((old + 5 * 15_000) / 1000)})
    assert r.status_code == 204, r.text
    kept = [0.0, 1.0, 6.0, 7.0, 8.0, 9.0]
    assert values(a, "mail") == kept and values(b, "mail") == kept
    assert values(b, "video") == [float(i) for i in range(10)]

    # Written again afterwards inside the range: stored.
    r = requests.post(b.url + "/api/v1/import/prometheus", data=f'jobs_total{{queue="mail"}} 3 {old + 3 * 15_000}\n',
                      headers={"Content-Type": "text/plain"}, timeout=30)
    assert r.status_code == 204, r.text
    wait_until("the rewritten sample", lambda: values(a, "mail") == [0.0, 1.0, 3.0, 6.0, 7.0, 8.0, 9.0] or values(a, "mail"), timeout=60)

    # a is killed and replays its WAL: what it held before the deletion was persisted first and does not come back.
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(timeout=30)
    a.start()
    time.sleep(1)  # the replayed rows' insert (flush_interval 200ms), were there any
    assert values(a, "mail") == [0.0, 1.0, 3.0, 6.0, 7.0, 8.0, 9.0]


def test_loki_delete_requests_through_one_server_are_seen_through_the_other(sightline, clickhouse):
    """Loki's delete API on ClickHouse storage: lines pushed through a and deleted through a (selector, line filter,
    range) are gone for b once a answers 204, the others stay, and b lists the request; a regex RE2 may read
    otherwise is refused with a 400 that says so."""
    url, _ = clickhouse
    database = "it_" + uuid.uuid4().hex[:12]
    a = sightline("logdel-a", config=backend(url, database)).start()
    b = sightline("logdel-b", config=backend(url, database)).start()
    since = time.time_ns() - 10**9
    push_lines(a, [f"user={i} password=hunter{i}" if i % 3 == 0 else f"user={i} ok" for i in range(12)], "auth")
    wait_until("the lines through b", lambda: len(lines_of(b, "auth", since)) == 12 or len(lines_of(b, "auth", since)), timeout=60)

    r = requests.post(a.url + "/loki/api/v1/delete", timeout=120,
                      params={"query": '{service="auth"} |= "password="', "start": str(since // 10**9)})
    assert r.status_code == 204, r.text
    assert lines_of(b, "auth", since) == [f"user={i} ok" for i in range(12) if i % 3], lines_of(b, "auth", since)
    listed = requests.get(b.url + "/loki/api/v1/delete", timeout=30).json()
    assert [(d["query"], d["status"]) for d in listed] == [('{service="auth"} |= "password="', "processed")], listed

    r = requests.post(a.url + "/loki/api/v1/delete", timeout=30,
                      params={"query": '{service="auth"} |~ `\\d+`', "start": str(since // 10**9)})
    assert r.status_code == 400 and "cannot be run in ClickHouse" in r.text, r.text
    assert len(lines_of(b, "auth", since)) == 8


def test_a_server_killed_mid_ingest_loses_nothing_it_acknowledged(sightline, clickhouse):
    url, _ = clickhouse
    database = "it_" + uuid.uuid4().hex[:12]
    a = sightline("a", config=backend(url, database)).start()
    b = sightline("b", config=backend(url, database)).start()
    since = time.time_ns() - 10**9
    acknowledged: list[str] = []
    for batch in range(40):
        lines = [f"kill {batch} {i}" for i in range(25)]
        push_lines(a, lines, "kill")
        acknowledged += lines
    # SIGKILL right after the last acknowledgement: most rows are still only in a's WAL and buffers.
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(timeout=30)
    a.start()  # the same data directory: the WAL is replayed into ClickHouse

    def complete():
        got = lines_of(b, "kill", since)
        missing = set(acknowledged) - set(got)
        return not missing or f"{len(missing)} missing"
    wait_until("every acknowledged line through b after a's restart", complete, timeout=60)
    # Rows a inserted before the kill and inserted again by its WAL replay read once.
    assert len(lines_of(b, "kill", since)) == len(acknowledged)


def test_clickhouse_down_for_a_while_loses_nothing(sightline, clickhouse):
    url, directory = clickhouse
    database = "it_" + uuid.uuid4().hex[:12]
    a = sightline("a", config=backend(url, database)).start()
    since = time.time_ns() - 10**9
    push_lines(a, ["before the outage"], "outage")
    wait_until("the first line", lambda: lines_of(a, "outage", since) == ["before the outage"] or "not yet", timeout=60)

    subprocess.run([str(SCRIPT), "pause", directory], check=True, timeout=60)
    stopped = time.monotonic()
    try:
        # For 30 s ingestion still acknowledges, a push every 3 s: the batches are durable in the WAL while every
        # timed insert and checkpoint fails.
        during = [f"during the outage {i}" for i in range(100)]
        for chunk in range(0, 100, 10):
            push_lines(a, during[chunk:chunk + 10], "outage")
            time.sleep(max(0.0, stopped + 3 * (chunk // 10 + 1) - time.monotonic()))
        # Queries say what is wrong instead of answering partially.
        r = requests.get(a.url + "/loki/api/v1/query_range", timeout=60, params={"query": '{service="outage"}', "start": str(since)})
        assert r.status_code >= 500 and "ClickHouse" in r.text, r.text
        assert time.monotonic() - stopped >= 30
    finally:
        resumed = subprocess.run([str(SCRIPT), "resume", directory], check=True, capture_output=True, text=True, timeout=120)
        assert resumed.stdout.strip() == url

    wait_until("every line after ClickHouse is back",
             lambda: sorted(set(lines_of(a, "outage", since))) == sorted(["before the outage"] + during) or "not yet", timeout=90)
