"""The scale-out pipeline end to end: `sightline agent` tails a file and publishes its batches to NATS JetStream
(nats-server 2.9 from Debian, scripts/nats-for-tests.sh); two `sightline server`s consume the stream as one work queue
and store into one ClickHouse (scripts/clickhouse-for-tests.sh); queries through either server see every line.
A server killed while it consumes loses nothing: what it did not acknowledge is delivered to the other, and what it
had acknowledged to the queue is in its WAL, replayed into ClickHouse when it comes back; a batch stored by both reads
as one."""

from __future__ import annotations

import collections
import signal
import threading
import time
import uuid

import requests

from conftest import wait_until
from metrics_peers import parse_exposition
from test_agent import AgentProcess, file_source
from test_clickhouse_backend import post_lines


def server_config(clickhouse_url: str, database: str, nats_url: str) -> dict:
    return {"storage": {"backend": "clickhouse", "clickhouse": {"url": clickhouse_url, "database": database, "flush_interval": "200ms"}},
            "queue": {"nats_url": nats_url, "ack_wait": "5s"},
            "wal": {"checkpoint_interval": "1s"}}


def stored_lines(server, selector: str = '{service_name=~".+"}') -> list[str]:
    r = requests.get(server.url + "/loki/api/v1/query_range", timeout=60, params={
        "query": selector, "start": str(time.time_ns() - 3600 * 10**9), "end": str(time.time_ns() + 10**9),
        "limit": "5000", "direction": "forward"})
    assert r.status_code == 200, r.text[:300]
    return [line for stream in r.json()["data"]["result"] for _, line in stream["values"]]


def counter(server, name: str, **labels: str) -> float:
    """The sum of a counter's samples in a server's /metrics whose labels include `labels`."""
    samples = parse_exposition(requests.get(server.url + "/metrics", timeout=10).text).get(name, [])
    return sum(value for sample_labels, value in samples if all(sample_labels.get(k) == v for k, v in labels.items()))


def test_agent_to_two_servers_through_jetstream_and_a_killed_server(sightline, clickhouse, nats, tmp_path):
    database = "q_" + uuid.uuid4().hex[:12]
    config = server_config(clickhouse[0], database, nats[0])
    a = sightline("a", config=config).start()
    b = sightline("b", config=config).start()
    path = tmp_path / "app.log"
    path.write_text("")
    agent = AgentProcess(tmp_path, {"forward": {"nats_url": nats[0]}, "batch_max_bytes": 4096,
                                    "sources": file_source([str(path)])})
    agent.start()
    try:
        written: list[str] = []
        stop = threading.Event()

        def writer():
            n = 0
            while not stop.is_set() and n < 3000:
                with open(path, "a") as f:
                    for _ in range(50):
                        line = f"order {n} paid"
                        f.write(line + "\n")
                        written.append(line)
                        n += 1
                time.sleep(0.05)

        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(1.5)
        # Kill one consumer mid-stream; the other goes on, and the killed one comes back on its WAL.
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(timeout=30)
        time.sleep(1.0)
        a.start()
        thread.join(timeout=120)
        stop.set()
        assert len(written) == 3000

        def everything_through(server):
            got = set(stored_lines(server))
            missing = [line for line in written if line not in got]
            return not missing or f"{len(missing)} of {len(written)} missing"
        wait_until("every line through b", lambda: everything_through(b), timeout=90)
        wait_until("every line through a", lambda: everything_through(a), timeout=90)
        # And once: a batch stored by the killed server and again by the one it was redelivered to reads as one.
        repeated = [line for line, n in collections.Counter(stored_lines(b)).items() if n > 1]
        assert not repeated, f"{len(repeated)} lines read more than once, e.g. {repeated[:3]}"
        # Both servers took part in consuming the queue.
        consumed = [requests.get(s.url + "/metrics", timeout=10).text for s in (a, b)]
        assert all('sightline_queue_messages_total{result="acked"}' in text for text in consumed), consumed
    finally:
        agent.cleanup()


def test_direct_pushes_are_published_and_stored_by_another_server(sightline, clickhouse, nats):
    """`queue.publish`: a server that takes pushes hands them to JetStream before acknowledging, so it holds no data:
    killed right after its acknowledgements and never restarted, it loses nothing, because another server stores
    what it published. Bad input is still refused at its door, and NATS being unreachable is a retryable error."""
    database = "p_" + uuid.uuid4().hex[:12]
    front_config = server_config(clickhouse[0], database, nats[0])
    front_config["queue"].update({"publish": True, "consume": False})
    front = sightline("front", config=front_config).start()
    store = sightline("store", config=server_config(clickhouse[0], database, nats[0])).start()

    bad = requests.post(front.url + "/loki/api/v1/push", data=b"{not json", headers={"Content-Type": "application/json"}, timeout=30)
    assert bad.status_code == 400, bad.text

    sent = []
    for batch in range(20):
        lines = [f"direct {batch} {i}" for i in range(50)]
        r = post_lines(front, lines, "direct")
        assert r.status_code == 204, r.text
        sent += lines
    # The front counts what it published, not as ingested: summed over servers, ingested counts each stored line once.
    assert counter(front, "sightline_published_records_total", signal="logs", protocol="loki_push") == len(sent)
    assert counter(front, "sightline_ingested_records_total", signal="logs") == 0
    front.proc.send_signal(signal.SIGKILL)
    front.proc.wait(timeout=30)

    def all_stored():
        got = stored_lines(store, '{service="direct"}')
        missing = set(sent) - set(got)
        return (not missing and len(got) == len(sent)) or f"{len(missing)} missing, {len(got)} read"
    wait_until("every acknowledged line stored by the other server", all_stored, timeout=60)
    assert counter(store, "sightline_ingested_records_total", signal="logs", protocol="queue") == len(sent)

    unreachable_config = server_config(clickhouse[0], database, "nats://127.0.0.1:1")
    unreachable_config["queue"].update({"publish": True, "consume": False})
    orphan = sightline("orphan", config=unreachable_config).start()
    r = post_lines(orphan, ["nowhere to go"], "direct")
    assert r.status_code == 503 and "NATS" in r.text, (r.status_code, r.text)
