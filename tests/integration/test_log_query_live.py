"""Log queries while data moves: the live tail over a real WebSocket client, `sightline logs` and `sightline tail`
from the command line, and queries that run while ingestion, checkpoints, merges and rollover run underneath."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time

import pytest
import requests
import websocket

from conftest import sightline_binary

NS = 1_000_000_000


def push(url: str, stream: dict, lines: list[tuple[int, str]]) -> None:
    r = requests.post(url + "/loki/api/v1/push", json={"streams": [{"stream": stream, "values": [[str(t), line] for t, line in lines]}]},
                      timeout=60)
    assert r.status_code == 204, r.text


def test_websocket_tail_sends_the_past_then_new_lines_once(server):
    now = time.time_ns()
    push(server.url, {"app": "tailed", "env": "prod"}, [(now - 3 * NS, "old error 1"), (now - 2 * NS, "old info"), (now - NS, "old error 2")])
    ws_url = server.url.replace("http://", "ws://") + "/loki/api/v1/tail"
    query = '{app="tailed"} |= "error"'
    ws = websocket.create_connection(f"{ws_url}?query={requests.utils.quote(query)}&start={now - 60 * NS}&limit=10", timeout=20)
    try:
        first = json.loads(ws.recv())
        past = [line for stream in first["streams"] for _, line in stream["values"]]
        assert past == ["old error 1", "old error 2"]
        assert first["streams"][0]["stream"] == {"app": "tailed", "env": "prod", "service_name": "tailed"}
        push(server.url, {"app": "tailed", "env": "prod"}, [(time.time_ns(), "new error 3"), (time.time_ns(), "new info")])
        push(server.url, {"app": "other"}, [(time.time_ns(), "error elsewhere")])
        push(server.url, {"app": "tailed", "env": "dev"}, [(time.time_ns(), "new error 4")])
        seen = []
        deadline = time.monotonic() + 15
        while len(seen) < 2 and time.monotonic() < deadline:
            message = json.loads(ws.recv())
            assert message["dropped_entries"] is None
            seen += [(stream["stream"]["env"], line) for stream in message["streams"] for _, line in stream["values"]]
        assert seen == [("prod", "new error 3"), ("dev", "new error 4")]
    finally:
        ws.close()


def test_tail_refuses_bad_queries_before_upgrading(server):
    r = requests.get(server.url + "/loki/api/v1/tail", params={"query": "sum(rate({a=\"b\"}[1m]))"},
                     headers={"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, timeout=30)
    # Refused before the upgrade; the WebSocket upgrade path answers with the status only.
    assert r.status_code == 400
    r = requests.get(server.url + "/loki/api/v1/tail", params={"query": '{a="b"}', "limit": "0"}, timeout=30)
    assert r.status_code == 400


def test_logs_and_tail_commands(server):
    now = time.time_ns()
    push(server.url, {"app": "cli"}, [(now - 2 * NS, "first line"), (now - NS, "second line"), (now - NS // 2, "third line")])
    out = subprocess.run([str(sightline_binary()), "logs", '{app="cli"} != "second"', "--since", "5m", "--server", server.url],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ['{app="cli", service_name="cli"} third line', '{app="cli", service_name="cli"} first line']
    metric = subprocess.run([str(sightline_binary()), "logs", 'sum(count_over_time({app="cli"}[5m]))', "--since", "5m", "--step", "5m",
                             "--server", server.url], capture_output=True, text=True, timeout=60)
    assert metric.returncode == 0, metric.stderr
    assert "SERIES" in metric.stdout and " 3" in metric.stdout
    bad = subprocess.run([str(sightline_binary()), "logs", '{app=}', "--server", server.url], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "parse error" in bad.stderr

    tail = subprocess.Popen([str(sightline_binary()), "tail", '{app="cli"}', "--server", server.url, "--interval", "200ms", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        push(server.url, {"app": "cli"}, [(time.time_ns(), "followed 1")])
        push(server.url, {"app": "cli"}, [(time.time_ns(), "followed 2")])
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in tail.stdout], daemon=True).start()
        got = []
        deadline = time.monotonic() + 20
        while len(got) < 2 and time.monotonic() < deadline:
            try:
                got.append(json.loads(lines.get(timeout=max(0.1, deadline - time.monotonic())))["line"])
            except queue.Empty:
                break
        assert got == ["followed 1", "followed 2"], tail.stderr.read() if tail.poll() is not None else got
    finally:
        tail.kill()
        tail.wait(timeout=10)


def test_queries_stay_consistent_while_ingestion_and_merges_run(sightline):
    srv = sightline("live-merges", config={"wal": {"checkpoint_interval": "1s"},
                                           "logs": {"maintenance_interval": "1s", "rollover_max_age": "2s"}}).start()
    start = time.time_ns() - 60 * NS
    sent = {"n": 0}
    stop = threading.Event()
    errors = []

    def writer():
        i = 0
        try:
            while not stop.is_set() and i < 400:
                batch = [(start + (i * 50 + k) * 1_000_000, f"line {i * 50 + k}") for k in range(50)]
                push(srv.url, {"app": "live", "shard": str(i % 4)}, batch)
                i += 1
                sent["n"] = i * 50
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    previous = 0
    checks = 0
    deadline = time.monotonic() + 12
    try:
        while time.monotonic() < deadline:
            acknowledged = sent["n"]
            r = requests.get(srv.url + "/loki/api/v1/query", params={"query": 'sum(count_over_time({app="live"}[10m]))',
                                                                      "time": str(time.time_ns())}, timeout=60)
            assert r.status_code == 200, r.text
            result = r.json()["data"]["result"]
            count = int(float(result[0]["value"][1])) if result else 0
            # Everything acknowledged before the query is counted, once; counts never go back.
            assert count >= acknowledged and count >= previous, (count, acknowledged, previous)
            lines = requests.get(srv.url + "/loki/api/v1/query_range", params={"query": '{app="live", shard="1"}', "limit": "5000",
                                                                               "start": str(start - NS), "end": str(time.time_ns())},
                                 timeout=60).json()["data"]["result"]
            values = [line for stream in lines for _, line in stream["values"]]
            assert len(values) == len(set(values)), "a line was returned twice"
            previous = count
            checks += 1
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors
    assert checks >= 3
    final = requests.get(srv.url + "/loki/api/v1/query", params={"query": 'sum(count_over_time({app="live"}[10m]))',
                                                                  "time": str(time.time_ns())}, timeout=60).json()["data"]["result"]
    assert int(float(final[0]["value"][1])) == sent["n"]
    metrics = requests.get(srv.url + "/metrics", timeout=30).text
    assert "sightline_ingested_records_total" in metrics
