"""End-to-end tests of the metrics half against the real `sightline` binary: remote write from a real
Prometheus and from a hand-built client, scraping a real node-exporter and a prometheus_client exporter
(staleness included), Prometheus text import, SIGKILL exactly-once for remote write, refusals and limits,
and the TSDB status endpoint.

Prometheus and node-exporter are the Debian packages (scripts/test installs them); they run on free
loopback ports with their data in tmp_path and are stopped through their own process handles.
"""

from __future__ import annotations

import collections
import gzip
import json
import math
import re
import struct
import threading
import time
from typing import Any, Callable

import pytest
import requests

from processes import assert_json_error

from conftest import free_ports
from metrics_peers import (
    NodeExporter,
    Peer,
    Prometheus,
    PyExporter,
    Series,
    VictoriaMetrics,
    by_series,
    label_key,
    parse_exposition,
    parse_value,
    remote_write,
    same_value,
    select,
)

SYNTHETIC = ("up", "scrape_duration_seconds", "scrape_samples_scraped",
             "scrape_samples_post_metric_relabeling", "scrape_series_added")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def peers(request):
    """Register third-party processes; they are SIGKILLed (by handle) at teardown, and their log tails
    printed when the test failed (pytest shows a failed test's captured output)."""
    started: list[Peer] = []
    failed_before = request.session.testsfailed

    def add(peer: Peer) -> Peer:
        started.append(peer)
        return peer

    yield add
    for p in started:
        p.cleanup()
    if request.session.testsfailed > failed_before:
        for p in started:
            print(p.log(80))


def wait_until(fn: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
    """Poll fn() until it returns something truthy; fail naming `what` (and fn's last result)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def metric_series(srv, **match: str) -> dict[tuple, list[tuple[int, float]]]:
    """Sightline's stored samples, grouped by series, restricted to those whose labels include `match`."""
    return select(by_series(srv.records("metrics")), **match)


def latest(samples: list[tuple[int, float]]) -> tuple[int, float] | None:
    return samples[-1] if samples else None


def only(series: dict[tuple, list], what: str) -> list[tuple[int, float]]:
    assert len(series) == 1, f"expected exactly one series for {what}, got {list(series)}"
    return next(iter(series.values()))


def assert_no_duplicate_samples(records: list[dict], what: str) -> None:
    counts = collections.Counter((label_key(r["labels"]), int(r["timestampMs"])) for r in records)
    dups = [(k, c) for k, c in counts.items() if c > 1]
    assert not dups, f"{what}: {len(dups)} (series, timestamp) pairs stored more than once, e.g. {dups[:5]}"


# ---------------------------------------------------------------------------
# 1. A real Prometheus remote-writes into Sightline: every sample lands
# ---------------------------------------------------------------------------
# Every series Prometheus stored is compared; these must be among them.
MUST_HAVE = ("up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added",
             "prometheus_tsdb_head_series", "prometheus_http_requests_total", "node_load1", "node_cpu_seconds_total")


def test_remote_write_from_real_prometheus_lands_every_sample(sightline, peers, tmp_path):
    srv = sightline("rw-target").start()
    prom_port, node_port = free_ports(2)
    node = peers(NodeExporter(tmp_path, node_port)).start()
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{prom_port}"]}]},
            {"job_name": "node", "static_configs": [{"targets": [node.address]}]},
        ],
        "remote_write": [{"url": srv.url + "/api/v1/write", "queue_config": {"batch_send_deadline": "1s"}}],
    }
    prom = peers(Prometheus(tmp_path, prom_port, config))
    prom.start()
    ready_ms = now_ms()

    # Prometheus applies its scrape targets up to ~5 s after start; wait until both jobs' `up` arrived.
    def both_up():
        ups = metric_series(srv, name_="up")
        jobs = {dict(k).get("job") for k in ups}
        return jobs >= {"prometheus", "node"} and jobs
    wait_until(both_up, 45, "`up` of both Prometheus jobs to arrive through remote write")
    time.sleep(8)

    at = time.time()
    raw = prom.raw_samples('{__name__=~".+"}', "5m", at)
    # Only samples old enough to have been shipped for sure (batch_send_deadline 1 s); the ones that
    # are still in Prometheus' WAL at shutdown may or may not be sent.
    cutoff = int(at * 1000) - 3000
    expected = {k: [s for s in v if ready_ms <= s[0] <= cutoff] for k, v in raw.items()}
    expected = {k: v for k, v in expected.items() if v}
    for job in ("prometheus", "node"):
        ups = [v for k, v in expected.items() if dict(k).get("__name__") == "up" and dict(k).get("job") == job]
        assert ups and len(ups[0]) >= 3, f"Prometheus scraped job {job} too rarely: {ups}"
    names = {dict(k)["__name__"] for k in expected}
    assert names >= set(MUST_HAVE), f"Prometheus lacks {sorted(set(MUST_HAVE) - names)}"

    prom_metrics = prom.own_metrics()
    sent = sum(v for _, v in prom_metrics.get("prometheus_remote_storage_samples_total", []))
    failed = sum(v for _, v in prom_metrics.get("prometheus_remote_storage_samples_failed_total", []))
    assert sent > 0, "Prometheus sent no sample through remote write"
    assert failed == 0, f"Sightline refused {failed:.0f} samples from Prometheus (non-recoverable errors)"

    assert prom.stop() == 0, "Prometheus did not exit cleanly on SIGTERM"
    assert "non-recoverable error" not in prom.log_path.read_text(errors="replace"), prom.log(40)

    records = srv.records("metrics")
    assert len(records) < 100_000, "debug query truncated"
    assert_no_duplicate_samples(records, "remote write from Prometheus")
    stored = {k: dict(v) for k, v in by_series(records).items()}
    missing, wrong = [], []
    total = 0
    for key, samples in expected.items():
        have = stored.get(key, {})
        for ts, value in samples:
            total += 1
            if ts not in have:
                missing.append((dict(key), ts, value))
            elif not same_value(have[ts], value):
                wrong.append((dict(key), ts, value, have[ts]))
    assert not missing, (f"{len(missing)} of {total} samples Prometheus has (and sent) are not in Sightline, "
                         f"e.g. {missing[:5]}")
    assert not wrong, f"{len(wrong)} samples stored with another value, e.g. {wrong[:5]}"
    print(f"compared {total} samples of {len(expected)} series; Prometheus sent {sent:.0f} in all")


# ---------------------------------------------------------------------------
# 2. Scraping node-exporter and a prometheus_client exporter, with staleness
# ---------------------------------------------------------------------------
def scrape_job(name: str, target: str, labels: dict, **extra) -> dict:
    job = {
        "job_name": name,
        "scrape_interval": "1s",
        "scrape_timeout": "1s",
        "metrics_path": "/metrics",
        "honor_labels": False,
        "static_configs": [{"targets": [target], "labels": labels}],
    }
    job.update(extra)
    return job


PY_STATE = {
    "gauges": [
        {"name": "pyexp_temperature_celsius", "labels": {"room": "a"}, "value": 21.5},
        {"name": "pyexp_temperature_celsius", "labels": {"room": "b"}, "value": -3.25},
    ],
    "counters": [{"name": "pyexp_requests", "labels": {"code": "200"}, "value": 7}],
}


def test_scrape_node_exporter_and_python_client_with_staleness(sightline, peers, tmp_path):
    node_port, py_port = free_ports(2)
    node = peers(NodeExporter(tmp_path, node_port)).start()
    py = peers(PyExporter(tmp_path, py_port, PY_STATE)).start()
    config = {"scrape_configs": [
        scrape_job("node", node.address, {"env": "test"}, metric_relabel_configs=[
            {"source_labels": ["__name__"], "regex": "node_cpu_.*|node_load1", "action": "keep"}]),
        scrape_job("py", py.address, {"env": "test", "team": "it"}),
        scrape_job("skipped", "127.0.0.1:9", {"env": "test"}, relabel_configs=[
            {"source_labels": ["env"], "regex": "prod", "action": "keep"}]),
    ]}
    srv = sightline("scraper", config=config).start()

    def targets(**params) -> dict:
        r = requests.get(srv.url + "/api/v1/targets", params=params, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["data"]

    def health(job: str) -> dict:
        return next(t for t in targets(scrapePool=job)["activeTargets"])

    def temp(room: str) -> list[tuple[int, float]]:
        return only(metric_series(srv, name_="pyexp_temperature_celsius", room=room), f"room {room}")

    def job_up(job: str, min_ts: int = 0):
        series = metric_series(srv, name_="up", job=job)
        last = latest(only(series, f"up{{job={job}}}")) if series else None
        return last if last and last[0] >= min_ts else None

    # --- both targets scraped, with job/instance/static labels ---------------------------------------
    def scraped_twice():
        ups = {j: metric_series(srv, name_="up", job=j) for j in ("node", "py")}
        return all(ups[j] and len(only(ups[j], j)) >= 3 for j in ups) and ups
    wait_until(scraped_twice, 30, "three scrapes of each target")

    grouped = by_series(srv.records("metrics"))
    for job, target, static in (("node", node.address, {"env": "test"}),
                                ("py", py.address, {"env": "test", "team": "it"})):
        ours = select(grouped, job=job)
        names = {dict(k)["__name__"] for k in ours}
        for s in SYNTHETIC:
            assert s in names, f"job {job}: synthetic series {s} missing (have {sorted(names)})"
        for key in ours:
            labels = dict(key)
            assert labels.get("instance") == target, labels
            for k, v in static.items():
                assert labels.get(k) == v, f"job {job}: static label {k}={v} missing: {labels}"
        up = only(select(ours, name_="up"), f"up{{job={job}}}")
        assert all(v == 1.0 for _, v in up), f"up{{job={job}}} not always 1: {up}"

    # --- /api/v1/targets: both up, in Prometheus' shape; the relabeled-away target among the dropped -----
    listed = targets()
    assert [t["scrapePool"] for t in listed["activeTargets"]] == ["node", "py"], listed
    py_target = health("py")
    assert py_target["health"] == "up" and py_target["lastError"] == "", py_target
    assert py_target["labels"] == {"env": "test", "instance": py.address, "job": "py", "team": "it"}, py_target
    assert py_target["discoveredLabels"]["__address__"] == py.address, py_target
    assert py_target["discoveredLabels"]["__metrics_path__"] == "/metrics", py_target
    assert py_target["scrapeUrl"] == f"http://{py.address}/metrics", py_target
    assert py_target["scrapeInterval"] == "1s" and py_target["scrapeTimeout"] == "1s", py_target
    assert 0 < py_target["lastScrapeDuration"] < 1 and py_target["lastScrape"].startswith("20"), py_target
    assert [t["discoveredLabels"]["__address__"] for t in listed["droppedTargets"]] == ["127.0.0.1:9"], listed
    assert listed["droppedTargetCounts"] == {"skipped": 1}, listed
    assert targets(state="dropped")["activeTargets"] == [] and targets(state="active")["droppedTargets"] == []
    r = requests.get(srv.url + "/api/v1/targets", params={"state": "sleeping"}, timeout=10)
    assert r.status_code == 400 and "invalid state" in r.text, r.text

    # node: metric_relabel_configs keep only node_cpu_* and node_load1 (meminfo is collected, then dropped)
    node_series = select(grouped, job="node")
    node_names = {dict(k)["__name__"] for k in node_series} - set(SYNTHETIC)
    assert "node_load1" in node_names and "node_cpu_seconds_total" in node_names, sorted(node_names)
    assert all(n == "node_load1" or n.startswith("node_cpu_") for n in node_names), \
        f"metric_relabel_configs keep let through {sorted(n for n in node_names if not n.startswith('node_cpu_'))}"
    cpu = select(node_series, name_="node_cpu_seconds_total")
    assert all("cpu" in dict(k) and "mode" in dict(k) for k in cpu), list(cpu)[:3]
    # Per scrape, the synthetic series describe that scrape: take a completed one (not the newest).
    ups = only(select(node_series, name_="up"), "up{job=node}")
    ts = ups[-2][0]

    def at_ts(name: str) -> float:
        vals = [v for t, v in only(select(node_series, name_=name), name) if t == ts]
        assert len(vals) == 1, f"{name}{{job=node}} has {len(vals)} samples at the scrape time {ts} of `up`"
        return vals[0]
    kept = sum(1 for k, v in node_series.items() if dict(k)["__name__"] not in SYNTHETIC
               for t, _ in v if t == ts)
    assert at_ts("scrape_samples_post_metric_relabeling") == kept, (ts, kept)
    assert at_ts("scrape_samples_scraped") > kept, "meminfo samples were not counted as scraped"
    assert at_ts("scrape_duration_seconds") > 0

    # py: values and the counter's _total name as exposed by prometheus_client
    py_series = select(grouped, job="py")
    assert latest(only(select(py_series, name_="pyexp_temperature_celsius", room="a"), "a"))[1] == 21.5
    assert latest(only(select(py_series, name_="pyexp_temperature_celsius", room="b"), "b"))[1] == -3.25
    assert latest(only(select(py_series, name_="pyexp_requests_total", code="200"), "requests"))[1] == 7.0
    assert not any(math.isnan(v) for _, v in temp("b")), "room b marked stale before it disappeared"

    # --- a series disappears from the target: a staleness marker at the next scrape -------------------
    removed_ms = now_ms()
    py.set_state({"gauges": [PY_STATE["gauges"][0]], "counters": PY_STATE["counters"]})
    marker = wait_until(lambda: next(((t, v) for t, v in temp("b") if math.isnan(v)), None), 15,
                        "a staleness marker (NaN) for the removed gauge room=b")
    # A scrape started just before the file changed may already read the new file: 1 s slack.
    assert marker[0] >= removed_ms - 1000, f"stale marker at {marker[0]}, before the removal at {removed_ms}"
    wait_until(lambda: latest(temp("a"))[0] > marker[0] + 1000, 15, "two more scrapes of room=a")
    after = [(t, v) for t, v in temp("b") if t >= marker[0]]
    assert all(math.isnan(v) for _, v in after), f"room=b got values after its staleness marker: {after}"
    assert not any(math.isnan(v) for _, v in temp("a")), "room=a (still exposed) got a staleness marker"

    # --- the target goes down: up=0, and every series of its last scrape is marked stale --------------
    killed_ms = now_ms()
    py.kill9()

    def py_down():
        up = job_up("py", killed_ms - 1000)
        return up if up and up[1] == 0.0 else None
    down = wait_until(py_down, 15, "up{job=py} == 0 after the exporter was killed")
    dead = wait_until(lambda: (lambda t: t if t["health"] == "down" else None)(health("py")), 10,
                      "the py target listed as down")
    assert dead["lastError"] != "", dead
    assert health("node")["health"] == "up"

    def unmarked() -> list[str]:
        last_scrape = {"room=a": temp("a"),
                       "requests": only(metric_series(srv, name_="pyexp_requests_total"), "requests")}
        return [n for n, s in last_scrape.items() if not any(math.isnan(v) and t >= killed_ms - 1000 for t, v in s)]
    try:
        wait_until(lambda: not unmarked(), 10, "staleness markers for every series of the dead target")
    except AssertionError as e:
        raise AssertionError(f"{e}; unmarked: {unmarked()}") from None

    # the other target is unaffected
    def node_up_after():
        up = job_up("node", down[0] + 1)
        return up if up and up[1] == 1.0 else None
    wait_until(node_up_after, 10, "up{job=node} == 1 after the py target went down")


# ---------------------------------------------------------------------------
# 3. Prometheus text import
# ---------------------------------------------------------------------------
def test_real_prometheus_reads_sightline_through_remote_read(sightline, peers, tmp_path):
    """A real Prometheus with `remote_read` pointed at Sightline answers PromQL over Sightline's samples: raw
    samples, a rate and staleness come back as Sightline stores them. Bad requests get 400s."""
    srv = sightline("rr-source").start()
    end_ms = (now_ms() // 15_000) * 15_000 - 30_000
    times = [end_ms - 15_000 * i for i in range(20)][::-1]
    lines = []
    for instance, slope in (("h1", 3), ("h2", 7)):
        lines += [f'rr_requests_total{{job="shop",instance="{instance}"}} {slope * i} {t}' for i, t in enumerate(times)]
    lines += [f'rr_temperature{{room="lab"}} {20 + i / 4} {t}' for i, t in enumerate(times[:10])]
    r = requests.post(srv.url + "/api/v1/import/prometheus", data="\n".join(lines) + "\n", timeout=30)
    assert r.status_code == 204, r.text

    prom_port, = free_ports(1)
    config = {
        "global": {"scrape_interval": "15s"},
        "remote_read": [{"url": srv.url + "/api/v1/read", "read_recent": True}],
    }
    prom = peers(Prometheus(tmp_path, prom_port, config)).start()
    at = (end_ms + 1) / 1000

    raw = prom.raw_samples("rr_requests_total", "10m", at)
    assert raw == {
        label_key({"__name__": "rr_requests_total", "job": "shop", "instance": inst}):
            [(t, float(slope * i)) for i, t in enumerate(times) if t > end_ms - 600_000]
        for inst, slope in (("h1", 3), ("h2", 7))
    }, raw

    def prom_query(expr: str, t: float) -> list:
        r = requests.get(prom.url + "/api/v1/query", params={"query": expr, "time": f"{t:.3f}"}, timeout=30)
        assert r.status_code == 200, r.text
        return sorted((s["metric"].get("instance", ""), s["value"][1]) for s in r.json()["data"]["result"])

    def own_query(expr: str, t: float) -> list:
        r = requests.get(srv.url + "/api/v1/query", params={"query": expr, "time": f"{t:.3f}"}, timeout=30)
        assert r.status_code == 200, r.text
        return sorted((s["metric"].get("instance", ""), s["value"][1]) for s in r.json()["data"]["result"])

    expr = "rate(rr_requests_total[2m])"
    rates = prom_query(expr, at)
    assert rates == own_query(expr, at), rates
    assert [inst for inst, _ in rates] == ["h1", "h2"], rates
    assert abs(float(rates[0][1]) - 0.2) < 1e-3 and abs(float(rates[1][1]) - 7 / 15) < 1e-3, rates
    # The temperature's samples end halfway: past the 5-minute lookback after its last one, both find nothing.
    last_temperature = times[9] / 1000
    assert prom_query("rr_temperature", last_temperature + 60) == [("", "22.25")]
    assert prom_query("rr_temperature", last_temperature + 301) == own_query("rr_temperature", last_temperature + 301) == []

    # Bad requests: not snappy, a client that takes only streamed chunks.
    r = requests.post(srv.url + "/api/v1/read", data=b"\xff\xff\xff\xff\xff\x01",
                      headers={"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"}, timeout=30)
    assert r.status_code == 400 and "remote read body" in r.text, r.text
    from metrics_peers import snappy_block, _len_delimited, _key, _varint
    query = _len_delimited(3, _len_delimited(2, b"__name__") + _len_delimited(3, b"up"))
    chunks_only = _len_delimited(1, query) + _key(2, 0) + _varint(1)
    r = requests.post(srv.url + "/api/v1/read", data=snappy_block(chunks_only),
                      headers={"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"}, timeout=30)
    assert r.status_code == 400 and "does not support any of the requested response types" in r.text, r.text


def test_delete_series_as_prometheus_does(sightline, peers, tmp_path):
    """The same samples remote-written to Sightline and to a real Prometheus (admin API on), the same
    `delete_series` requests sent to both: both keep the same samples. Sightline's deletion survives a SIGKILL
    (it is in the WAL, ordered with the writes), and samples written again afterwards are kept, as in Prometheus."""
    srv = sightline("delete-series").start()
    prom_port, = free_ports(1)
    prom = peers(Prometheus(tmp_path, prom_port, {"global": {"scrape_interval": "1h"}},
                            extra_args=["--web.enable-admin-api", "--web.enable-remote-write-receiver"])).start()
    end_ms = (now_ms() // 15_000) * 15_000 - 60_000
    times = [end_ms - 15_000 * i for i in range(40)][::-1]
    series = [Series({"__name__": "del_requests_total", "instance": inst}, [(t, float(i * k)) for i, t in enumerate(times)])
              for inst, k in (("a", 1), ("b", 2))]
    series.append(Series({"__name__": "del_temperature", "room": "lab"}, [(t, 20.5) for t in times]))
    for target in (srv, prom):
        r = remote_write(target.url, series)
        assert r.status_code == 204, f"{target.url}: HTTP {r.status_code}: {r.text[:300]}"

    at = (end_ms + 1) / 1000

    def stored(url: str) -> dict:
        r = requests.get(url + "/api/v1/query", params={"query": '{__name__=~"del_.*"}[15m]', "time": f"{at:.3f}"}, timeout=30)
        assert r.status_code == 200, r.text
        return {label_key(s["metric"]): [(round(float(t) * 1000), v) for t, v in s["values"]] for s in r.json()["data"]["result"]}

    def delete(url: str, method: str, **params) -> None:
        r = requests.request(method, url + "/api/v1/admin/tsdb/delete_series", params=params, timeout=30)
        assert r.status_code == 204, f"{url}: HTTP {r.status_code}: {r.text[:300]}"

    # Part of one series (seconds, inclusive bounds), then a whole metric through a form body.
    for target in (srv, prom):
        delete(target.url, "POST", **{"match[]": 'del_requests_total{instance="a"}', "start": times[10] / 1000, "end": times[19] / 1000})
        r = requests.put(target.url + "/api/v1/admin/tsdb/delete_series", data={"match[]": "del_temperature"}, timeout=30)
        assert r.status_code == 204, r.text
    ours, theirs = stored(srv.url), stored(prom.url)
    assert ours == theirs, (ours, theirs)
    kept_a = ours[label_key({"__name__": "del_requests_total", "instance": "a"})]
    assert [t for t, _ in kept_a] == times[:10] + times[20:], kept_a
    assert label_key({"__name__": "del_temperature", "room": "lab"}) not in ours
    names = requests.get(srv.url + "/api/v1/label/__name__/values", timeout=30).json()["data"]
    assert "del_temperature" not in names and "del_requests_total" in names, names
    r = requests.post(srv.url + "/api/v1/admin/tsdb/delete_series", timeout=30)
    assert assert_json_error(r, 400) == "no match[] parameter provided"

    # Snapshots answer in Prometheus' shape; Sightline's opens as an engine directory holding what queries see.
    names = {}
    for target in (srv, prom):
        r = requests.post(target.url + "/api/v1/admin/tsdb/snapshot", timeout=60)
        assert r.status_code == 200 and r.json()["status"] == "success", r.text
        names[target.url] = r.json()["data"]["name"]
        assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]+", names[target.url]), r.text
    assert (srv.data_dir / "snapshots" / names[srv.url] / "default" / "blocks").is_dir()

    rc = srv.kill9()
    assert rc == -9, f"server was not running when killed (exit code {rc})"
    srv.start()
    assert stored(srv.url) == theirs, "deleted samples came back after SIGKILL"

    # Written again after the deletion, samples are stored (Prometheus keeps its tombstones over the deleted
    # interval and refuses samples behind a series' newest without its out-of-order window, so it is not compared).
    again = [Series({"__name__": "del_temperature", "room": "lab"}, [(t, 21.0) for t in times[30:]])]
    r = remote_write(srv.url, again)
    assert r.status_code == 204, f"HTTP {r.status_code}: {r.text[:300]}"
    assert stored(srv.url)[label_key({"__name__": "del_temperature", "room": "lab"})] == [(t, "21") for t in times[30:]]


def test_real_prometheus_federates_from_sightline(sightline, peers, tmp_path):
    """/federate answers the newest sample of each matched series in the text format; a real Prometheus scraping
    it with honor_labels stores them under their own labels and timestamps."""
    srv = sightline("fed-source").start()
    t = now_ms() - 5_000
    lines = [
        f'fed_up{{job="shop",instance="h1"}} 1 {t - 15_000}',
        f'fed_up{{job="shop",instance="h1"}} 1 {t}',
        f'fed_up{{job="shop",instance="h2"}} 0 {t}',
        f'fed_temp{{room="a b",quote="x\\"y"}} -12.5 {t}',
        f'fed_other{{job="elsewhere"}} 3 {t}',
        f'fed_up{{job="shop",instance="gone"}} 1 {t - 600_000}',
    ]
    r = requests.post(srv.url + "/api/v1/import/prometheus", data="\n".join(lines) + "\n", timeout=30)
    assert r.status_code == 204, r.text
    matches = ['{job="shop"}', "fed_temp"]
    r = requests.get(srv.url + "/federate", params={"match[]": matches}, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.text
    assert r.text == (
        "# TYPE fed_temp untyped\n"
        f'fed_temp{{quote="x\\"y",room="a b"}} -12.5 {t}\n'
        "# TYPE fed_up untyped\n"
        f'fed_up{{instance="h1",job="shop"}} 1 {t}\n'
        f'fed_up{{instance="h2",job="shop"}} 0 {t}\n'
    ), r.text
    assert requests.get(srv.url + "/federate", timeout=30).text == ""
    r = requests.get(srv.url + "/federate", params={"match[]": "fed_up{"}, timeout=30)
    assert r.status_code == 400, r.text

    prom_port, = free_ports(1)
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [{
            "job_name": "federate", "honor_labels": True, "metrics_path": "/federate",
            "params": {"match[]": matches},
            "static_configs": [{"targets": [srv.url.removeprefix("http://")]}],
        }],
    }
    prom = peers(Prometheus(tmp_path, prom_port, config)).start()
    at = time.time()

    def federated():
        got = prom.raw_samples('{__name__=~"fed_.*"}', "1m", time.time())
        return got if len(got) == 3 else None
    got = wait_until(federated, 45, "the federated series in Prometheus")
    assert got == {
        label_key({"__name__": "fed_up", "job": "shop", "instance": "h1"}): [(t, 1.0)],
        label_key({"__name__": "fed_up", "job": "shop", "instance": "h2"}): [(t, 0.0)],
        # A series without job or instance gets the scraping job's, as any scraped series does.
        label_key({"__name__": "fed_temp", "room": "a b", "quote": 'x"y', "job": "federate",
                   "instance": srv.url.removeprefix("http://")}): [(t, -12.5)],
    }, (got, at)


def test_influxdb_clients_write_line_protocol(sightline):
    """The InfluxDB write API as VictoriaMetrics serves it: the real influxdb-client (2.x API, token auth) and plain
    1.x writes (db, precision, gzip, basic or p= auth) store each numeric field as <measurement>_<field>; bad lines
    are named in a partial-write 400 while the good ones are stored."""
    from influxdb_client import InfluxDBClient, Point, WritePrecision
    from influxdb_client.client.write_api import SYNCHRONOUS

    tokens = [{"token": "influx-writer", "tenant": "acme", "roles": ["ingest", "query"]}]
    srv = sightline("influx", config={"auth": {"tokens": tokens}}).start()
    auth = {"Authorization": "Bearer influx-writer"}
    t_ns = (now_ms() - 60_000) * 1_000_000

    with InfluxDBClient(url=srv.url, token="influx-writer", org="acme") as client:
        client.write_api(write_options=SYNCHRONOUS).write(bucket="telegraf", record=[
            Point("cpu").tag("host", "h1").tag("cpu", "cpu0").field("usage_idle", 97.5).field("usage_user", 1.25)
                .time(t_ns, WritePrecision.NS),
            Point("mem").tag("host", "h1").field("used", 123).field("note", "strings are not stored").time(t_ns, WritePrecision.NS),
        ])

    t_s = t_ns // 1_000_000_000
    body = gzip.compress(f"disk,host=h2 used_percent=71.5 {t_s}\nswap,host=h2 in=4i {t_s}\n".encode())
    r = requests.post(srv.url + "/write", params={"db": "ops", "precision": "s", "u": "any", "p": "influx-writer"}, data=body,
                      headers={"Content-Encoding": "gzip"}, timeout=30)
    assert r.status_code == 204, r.text

    def value(expr: str) -> list:
        r = requests.get(srv.url + "/api/v1/query", params={"query": expr, "time": t_s + 1}, headers=auth, timeout=30)
        assert r.status_code == 200, r.text
        return sorted(((s["metric"], s["value"][1]) for s in r.json()["data"]["result"]), key=lambda p: p[0]["__name__"])

    assert value('{__name__=~"cpu_.*"}') == [
        ({"__name__": "cpu_usage_idle", "cpu": "cpu0", "db": "telegraf", "host": "h1"}, "97.5"),
        ({"__name__": "cpu_usage_user", "cpu": "cpu0", "db": "telegraf", "host": "h1"}, "1.25"),
    ]
    assert value("mem_used") == [({"__name__": "mem_used", "db": "telegraf", "host": "h1"}, "123")]
    assert value("mem_note") == []
    assert value("disk_used_percent") == [({"__name__": "disk_used_percent", "db": "ops", "host": "h2"}, "71.5")]
    assert value("swap_in") == [({"__name__": "swap_in", "db": "ops", "host": "h2"}, "4")]

    # A bad line: the others are stored, and the answer names the line (1.x and 2.x error shapes).
    r = requests.post(srv.url + "/write", params={"precision": "s"}, headers=auth,
                      data=f"good v=1 {t_s}\nbad v=oops {t_s}\n", timeout=30)
    assert r.status_code == 400 and r.json()["error"].startswith("partial write: line 2: invalid value \"oops\""), r.text
    assert value("good_v") == [({"__name__": "good_v"}, "1")]
    r = requests.post(srv.url + "/api/v2/write", params={"bucket": "b", "precision": "fortnights"}, headers=auth, data="m v=1", timeout=30)
    assert r.status_code == 400 and r.json() == {"code": "invalid", "message": 'invalid precision "fortnights": use ns, us, ms, s, m or h'}
    # Without a token: 401; clients probing /ping get 204.
    assert requests.post(srv.url + "/api/v2/write", data="m v=1", timeout=30).status_code == 401
    assert requests.get(srv.url + "/ping", timeout=30).status_code == 204


def test_datadog_clients_submit_series(sightline):
    """Datadog's submit-metrics API under /datadog, as VictoriaMetrics serves it: the real `datadog` client library
    (v1 JSON, DD-API-KEY, distribution points), and v2 JSON and protobuf bodies and sketches as the Agent sends them
    (deflate, zstd as the Agent does by default), stored with tags, host, device and resources as labels, distributions as summary series; bad
    bodies get 400s naming the problem."""
    import zlib
    import cramjam
    from datadog import api, initialize
    from metrics_peers import _key, _len_delimited, _varint

    tokens = [{"token": "dd-key", "tenant": "acme", "roles": ["ingest", "query"]}]
    srv = sightline("datadog", config={"auth": {"tokens": tokens}}).start()
    t = now_ms() // 1000 - 60
    initialize(api_key="dd-key", app_key="unused", api_host=srv.url + "/datadog")
    sent = api.Metric.send(metric="shop.orders.count", points=[(t, 3), (t + 10, 5)], host="web-1", tags=["env:prod", "canary"],
                           type="count")
    assert sent.get("status") == "ok", sent
    headers = {"DD-API-KEY": "dd-key"}
    assert requests.get(srv.url + "/datadog/api/v1/validate", headers=headers, timeout=30).json() == {"valid": True}

    v2 = {"series": [{"metric": "queue.depth", "type": 3, "points": [{"timestamp": t, "value": 7}],
                      "resources": [{"name": "db-1", "type": "host"}], "tags": ["team:db"]}]}
    r = requests.post(srv.url + "/datadog/api/v2/series", data=zlib.compress(json.dumps(v2).encode()),
                      headers={**headers, "Content-Type": "application/json", "Content-Encoding": "deflate"}, timeout=30)
    assert r.status_code == 202 and r.json() == {"errors": []}, r.text
    point = _key(1, 1) + struct.pack("<d", 2.5) + _key(2, 0) + _varint(t)
    series = (_len_delimited(1, _len_delimited(1, b"host") + _len_delimited(2, b"db-2")) + _len_delimited(2, b"queue.depth")
              + _len_delimited(3, b"team:db") + _len_delimited(4, point))
    r = requests.post(srv.url + "/datadog/api/v2/series", data=bytes(cramjam.zstd.compress(_len_delimited(1, series), level=1)),
                      headers={**headers, "Content-Type": "application/x-protobuf", "Content-Encoding": "zstd"}, timeout=30)
    assert r.status_code == 202, r.text
    assert requests.post(srv.url + "/datadog/api/v1/check_run", json=[], headers=headers, timeout=30).status_code == 202
    # Distributions: raw values from the client library, and a sketch as the Agent sends it (one value, 0.25, in the
    # bin the Agent keys it to: γ = 1 + 2/128, key 1 for 1e-9), both as summary series.
    sent = api.Distribution.send(metric="job.seconds", points=[(t, [4, 1, 3, 2])], host="batch-1", tags=["team:a"])
    assert sent.get("status") == "ok", sent
    bias = 1 - math.floor(math.log(1e-9) / math.log1p(2 / 128))
    key = round(math.log(0.25) / math.log1p(2 / 128)) + bias
    dogsketch = (_key(1, 0) + _varint(t) + _key(2, 0) + _varint(1) + _key(3, 1) + struct.pack("<d", 0.25)
                 + _key(4, 1) + struct.pack("<d", 0.25) + _key(6, 1) + struct.pack("<d", 0.25)
                 + _len_delimited(7, _varint((key << 1) ^ (key >> 63))) + _len_delimited(8, _varint(1)))
    sketch = (_len_delimited(1, b"request.latency") + _len_delimited(2, b"web-1") + _len_delimited(4, b"env:prod")
              + _len_delimited(7, dogsketch))
    r = requests.post(srv.url + "/datadog/api/beta/sketches", data=zlib.compress(_len_delimited(1, sketch)),
                      headers={**headers, "Content-Type": "application/x-protobuf", "Content-Encoding": "deflate"}, timeout=30)
    assert r.status_code == 202, r.text

    def query(expr: str) -> list:
        r = requests.get(srv.url + "/api/v1/query", params={"query": expr, "time": t + 11}, headers={"Authorization": "Bearer dd-key"},
                         timeout=30)
        assert r.status_code == 200, r.text
        return sorted(((s["metric"], s["value"][1]) for s in r.json()["data"]["result"]), key=lambda p: p[0].get("host", ""))

    assert query('{"shop.orders.count"}') == [
        ({"__name__": "shop.orders.count", "canary": "no_label_value", "env": "prod", "host": "web-1"}, "5")]
    assert query('{"queue.depth"}') == [
        ({"__name__": "queue.depth", "host": "db-1", "team": "db"}, "7"),
        ({"__name__": "queue.depth", "host": "db-2", "team": "db"}, "2.5"),
    ]

    assert query('{"job.seconds"}') == [
        ({"__name__": "job.seconds", "host": "batch-1", "quantile": q, "team": "a"}, v)
        for q, v in [("0.5", "2.5"), ("0.75", "3.25"), ("0.9", "3.7"), ("0.95", "3.8499999999999996"), ("0.99", "3.9699999999999998")]]
    assert sorted(query('{__name__=~"job.seconds_(sum|count)"}'), key=lambda p: p[0]["__name__"]) == [
        ({"__name__": "job.seconds_count", "host": "batch-1", "team": "a"}, "4"),
        ({"__name__": "job.seconds_sum", "host": "batch-1", "team": "a"}, "10")]
    assert sorted(query('{"request.latency"}'), key=lambda p: p[0]["quantile"]) == [
        ({"__name__": "request.latency", "env": "prod", "host": "web-1", "quantile": q}, "0.25") for q in ["0.5", "0.75", "0.9", "0.95", "0.99"]]
    assert query('{"request.latency_count"}') == [({"__name__": "request.latency_count", "env": "prod", "host": "web-1"}, "1")]
    r = requests.post(srv.url + "/datadog/api/beta/sketches", data=_len_delimited(1, _len_delimited(7, _len_delimited(7, _varint(2)))),
                      headers={**headers, "Content-Type": "application/x-protobuf"}, timeout=30)
    assert r.status_code == 400 and "1 keys (k) but 0 bin counts (n)" in r.text, r.text
    r = requests.post(srv.url + "/datadog/api/v1/series", data=b'{"series": [{"points": [[1, 2]]}]}', headers=headers, timeout=30)
    assert r.status_code == 400 and "series[0]: missing" in r.text and "metric" in r.text, r.text
    r = requests.post(srv.url + "/datadog/api/v2/series", data=b"x", headers={**headers, "Content-Encoding": "br"}, timeout=30)
    assert r.status_code == 415, r.text
    assert requests.post(srv.url + "/datadog/api/v2/series", data=b"{}", timeout=30).status_code == 401


def test_json_lines_move_between_victoriametrics_and_sightline(sightline, peers, tmp_path):
    """VictoriaMetrics' JSON line format both ways: lines exported from a real VictoriaMetrics import into Sightline,
    and Sightline's export imports into VictoriaMetrics, with the same series and samples; bad lines are named."""
    srv = sightline("vm-json").start()
    vm_port, = free_ports(1)
    vm = peers(VictoriaMetrics(tmp_path, vm_port)).start()
    t0 = now_ms() - 600_000
    lines = [
        {"metric": {"__name__": "jl_requests_total", "job": "api", "instance": "h1"},
         "values": [1, 5, 9.5], "timestamps": [t0, t0 + 15_000, t0 + 30_000]},
        {"metric": {"__name__": "jl_temperature", "room": "a \"b\""}, "values": [-3.25], "timestamps": [t0]},
    ]
    body = "".join(json.dumps(line) + "\n" for line in lines)
    r = requests.post(vm.url + "/api/v1/import", data=body, timeout=30)
    assert r.status_code == 204, r.text
    vm.flush()

    def series(text: str) -> dict:
        out = {}
        for line in text.splitlines():
            doc = json.loads(line)
            out[label_key(doc["metric"])] = list(zip(doc["timestamps"], [float(v) for v in doc["values"]]))
        return out

    match = {"match[]": '{__name__=~"jl_.*"}'}
    from_vm = requests.get(vm.url + "/api/v1/export", params=match, timeout=30)
    assert from_vm.status_code == 200, from_vm.text
    expected = series(body)
    assert series(from_vm.text) == expected

    # VictoriaMetrics' export into Sightline, with an extra label; then Sightline's export.
    r = requests.post(srv.url + "/api/v1/import", params={"extra_label": "source=vm"}, data=gzip.compress(from_vm.content),
                      headers={"Content-Encoding": "gzip"}, timeout=30)
    assert r.status_code == 204, r.text
    from_sightline = requests.get(srv.url + "/api/v1/export", params=match, timeout=30)
    assert from_sightline.status_code == 200, from_sightline.text
    assert series(from_sightline.text) == {tuple(sorted(k + (("source", "vm"),))): v for k, v in expected.items()}
    # A time range narrows the samples.
    narrow = requests.post(srv.url + "/api/v1/export", data={**match, "start": str((t0 + 10_000) / 1000)}, timeout=30)
    assert [len(v) for v in series(narrow.text).values()] == [2], narrow.text

    # Sightline's export into a second VictoriaMetrics: the same again.
    vm2_port, = free_ports(1)
    vm2 = peers(VictoriaMetrics(tmp_path, vm2_port, name="victoria-metrics-2")).start()
    r = requests.post(vm2.url + "/api/v1/import", data=from_sightline.content, timeout=30)
    assert r.status_code == 204, r.text
    vm2.flush()
    assert series(requests.get(vm2.url + "/api/v1/export", params=match, timeout=30).text) == series(from_sightline.text)

    # Bad lines: the good one is stored, the others named.
    bad = "\n".join([json.dumps({"metric": {"__name__": "jl_ok"}, "values": [1], "timestamps": [t0]}),
                     '{"metric": {"__name__": "jl_bad"}, "values": [1, 2], "timestamps": [1]}', "not json"])
    r = requests.post(srv.url + "/api/v1/import", data=bad, timeout=30)
    assert r.status_code == 400 and "line 2: 2 values but 1 timestamps" in r.text and "line 3:" in r.text, r.text
    assert series(requests.get(srv.url + "/api/v1/export", params={"match[]": "jl_ok"}, timeout=30).text) == {
        label_key({"__name__": "jl_ok"}): [(t0, 1.0)]}
    assert requests.get(srv.url + "/api/v1/export", timeout=30).status_code == 400


def test_opentsdb_put(server):
    """OpenTSDB's /api/put as OpenTSDB answers it: 204, summary and details counts, a 400 naming bad points while the
    good ones are stored; tags become labels."""
    t = now_ms() // 1000 - 60
    url = server.url + "/api/put"
    r = requests.post(url, json={"metric": "tsdb.cpu.user", "timestamp": t, "value": 42.5, "tags": {"host": "web01"}}, timeout=30)
    assert r.status_code == 204, r.text
    r = requests.post(url, params={"details": ""}, json=[
        {"metric": "tsdb.cpu.user", "timestamp": (t + 5) * 1000, "value": "43", "tags": {"host": "web02"}},
        {"metric": "tsdb.cpu.user", "timestamp": t, "value": "oops", "tags": {"host": "web03"}},
    ], timeout=30)
    assert r.status_code == 400, r.text
    assert r.json() == {"success": 1, "failed": 1, "errors": [{"error": 'data point 1: "value" is not a number'}]}, r.text
    r = requests.post(url, params={"summary": ""}, data=gzip.compress(json.dumps(
        [{"metric": "tsdb.mem.free", "timestamp": t, "value": 7}]).encode()), headers={"Content-Encoding": "gzip"}, timeout=30)
    assert r.status_code == 200 and r.json() == {"success": 1, "failed": 0}, r.text
    r = requests.post(url, json=[{"metric": "tsdb.x", "value": 1}], timeout=30)
    assert r.status_code == 400 and "missing or invalid" in r.json()["error"]["details"], r.text

    r = requests.get(server.url + "/api/v1/query", params={"query": '{"tsdb.cpu.user"}', "time": t + 6}, timeout=30)
    got = sorted((s["metric"]["host"], s["value"][1]) for s in r.json()["data"]["result"])
    assert got == [("web01", "42.5"), ("web02", "43")], r.text


def test_graphite_and_opentsdb_line_listeners(sightline):
    """Graphite's plaintext protocol over TCP and UDP from the real `graphyte` client (tags included), OpenTSDB's
    telnet `put` from the real `potsdb` client; bad lines are left out, counted and named in the log while the good
    ones of the same stream are stored."""
    import socket
    import graphyte
    import potsdb

    graphite_tcp, graphite_udp, opentsdb_tcp = free_ports(3)
    srv = sightline("lines", config={
        "graphite": {"tcp_address": f"127.0.0.1:{graphite_tcp}", "udp_address": f"127.0.0.1:{graphite_udp}"},
        "opentsdb": {"tcp_address": f"127.0.0.1:{opentsdb_tcp}"},
    }).start()
    t = now_ms() // 1000 - 60

    tcp = graphyte.Sender("127.0.0.1", port=graphite_tcp, prefix="gr.tcp", interval=None)
    for i in range(100):
        tcp.send("cpu.user", i, timestamp=t + i, tags={"host": "web01", "dc": "eu"})
    udp = graphyte.Sender("127.0.0.1", port=graphite_udp, prefix="gr.udp", protocol="udp", interval=None)
    udp.send("load", 1.5, timestamp=t)
    client = potsdb.Client("127.0.0.1", port=opentsdb_tcp, host_tag=False)
    for i in range(50):
        client.log("ots.cpu.user", i, host="web02", timestamp=t + i)
    client.close()
    client.wait()
    with socket.create_connection(("127.0.0.1", graphite_tcp), timeout=10) as raw:
        raw.sendall(f"gr.raw.ok 1 {t}\ngr.raw.bad x {t}\ngr.raw.ok2 2 {t}".encode())
    # A datagram is cut into lines as a TCP stream is: CRLF, blank lines skipped, NUL ends a line, a whitespace-only
    # line is a bad one, the last line needs no newline.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as datagram:
        datagram.sendto(f"gr.dgram.a 1 {t}\r\n\n   \ngr.dgram.b 2 {t}\x00gr.dgram.c 3 {t}".encode(), ("127.0.0.1", graphite_udp))

    def stored(query: str) -> list:
        r = requests.get(srv.url + "/api/v1/query", params={"query": query, "time": t + 200}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()["data"]["result"]

    def count(query: str) -> float:
        result = stored(query)
        return float(result[0]["value"][1]) if result else 0

    wait_until(lambda: count('count_over_time({"gr.tcp.cpu.user"}[10m])') == 100, 30, "100 Graphite TCP lines")
    wait_until(lambda: count('count_over_time({"ots.cpu.user"}[10m])') == 50, 30, "50 OpenTSDB lines")
    wait_until(lambda: stored('{"gr.udp.load"}'), 30, "the Graphite datagram")
    wait_until(lambda: stored('{"gr.raw.ok2"}'), 30, "the line after a bad one")
    wait_until(lambda: stored('{"gr.dgram.c"}'), 30, "the last line of a datagram")
    assert stored('{"gr.dgram.a"}') and stored('{"gr.dgram.b"}')
    (series,) = stored('{"gr.tcp.cpu.user"}')
    assert series["metric"] == {"__name__": "gr.tcp.cpu.user", "host": "web01", "dc": "eu"}, series
    assert series["value"][1] == "99"
    (series,) = stored('last_over_time({"ots.cpu.user"}[10m])')
    assert series["metric"] == {"__name__": "ots.cpu.user", "host": "web02"} and series["value"][1] == "49", series
    assert stored('{"gr.udp.load"}')[0]["value"][1] == "1.5"
    assert stored('{"gr.raw.bad"}') == [] and stored('{"gr.raw.ok"}')

    exposition = parse_exposition(requests.get(srv.url + "/metrics", timeout=30).text)
    rejected = [v for labels, v in exposition.get("sightline_rejected_records_total", [])
                if labels == {"signal": "metrics", "reason": "decode"}]
    assert rejected == [2], exposition.get("sightline_rejected_records_total")
    ingested = {labels["protocol"]: v for labels, v in exposition.get("sightline_ingested_records_total", [])
                if labels.get("signal") == "metrics"}
    assert ingested.get("graphite") == 106 and ingested.get("opentsdb") == 50, ingested


def test_zstd_bodies_from_the_reference_library(sightline):
    """`Content-Encoding: zstd` (the Datadog Agent's default, an option of OpenTelemetry Collectors): bodies compressed
    by zstd's reference library (through cramjam) at fast, default and the highest levels, from one small block to
    many 128 KiB blocks, and two frames with a skippable frame between them, decode to exactly what was sent; a
    corrupt body gets a 400 naming zstd, a body past the size limit a 413."""
    import random
    import cramjam

    srv = sightline("zstd", config={"limits": {"max_body_bytes": 4 << 20}}).start()
    url = srv.url + "/api/v1/import/prometheus"
    t = now_ms() - 120_000
    rng = random.Random(5)
    expected = {}
    for level in (-5, 1, 3, 19, 22):
        for series, points in ((2, 1), (50, 40), (400, 90)):  # ~100 B, ~100 KB, ~1.8 MB of text
            name = f"zstd_l{level + 5}_s{series}"
            lines = [f'{name}{{series="{k}",host="web-{k % 7}.example.org"}} {rng.randrange(10**9)} {t + i * 1000}'
                     for i in range(points) for k in range(series)]
            expected[name] = (len(lines), sum(int(line.split(" ")[-2]) for line in lines))
            body = bytes(cramjam.zstd.compress(("\n".join(lines) + "\n").encode(), level=level))
            r = requests.post(url, data=body, headers={"Content-Encoding": "zstd"}, timeout=60)
            assert r.status_code == 204, (name, r.status_code, r.text[:300])
    # Two frames and a skippable frame: the decoded bodies concatenated.
    first = bytes(cramjam.zstd.compress(b'zstd_frames{part="1"} 1 ' + str(t).encode() + b"\n"))
    second = bytes(cramjam.zstd.compress(b'zstd_frames{part="2"} 2 ' + str(t).encode() + b"\n"))
    skippable = struct.pack("<II", 0x184D2A53, 5) + b"12345"
    r = requests.post(url, data=first + skippable + second, headers={"Content-Encoding": "zstd"}, timeout=30)
    assert r.status_code == 204, r.text
    expected["zstd_frames"] = (2, 3)

    def query(expr: str) -> float:
        r = requests.get(srv.url + "/api/v1/query", params={"query": expr, "time": (t + 100_000) / 1000}, timeout=30)
        assert r.status_code == 200, r.text
        result = r.json()["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0

    for name, (count, total) in expected.items():
        assert (query(f"sum(count_over_time({name}[5m]))"), query(f"sum(sum_over_time({name}[5m]))")) == (count, total), name

    corrupt = bytearray(cramjam.zstd.compress(b"zstd_bad 1\n" * 1000, level=3))
    corrupt[-2] ^= 0xFF
    r = requests.post(url, data=bytes(corrupt), headers={"Content-Encoding": "zstd"}, timeout=30)
    assert r.status_code == 400 and "invalid zstd data" in r.text, r.text
    huge = bytes(cramjam.zstd.compress(b"0" * (5 << 20), level=1))
    r = requests.post(url, data=huge, headers={"Content-Encoding": "zstd"}, timeout=30)
    assert r.status_code == 413, (r.status_code, r.text)


def test_import_prometheus_text(server):
    url = server.url + "/api/v1/import/prometheus"
    text_type = {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
    explicit_ms = now_ms() - 60_000
    body = f"""\
# HELP imp_requests_total Requests handled.
# TYPE imp_requests_total counter
imp_requests_total{{method="get",code="200"}} 1027
imp_requests_total{{method="post",code="500"}} 3 {explicit_ms}
# TYPE imp_temperature gauge
imp_temperature{{room="a b",quote="x\\"y"}} -12.5
imp_temperature{{room="hot"}} +Inf
# TYPE imp_latency_seconds histogram
imp_latency_seconds_bucket{{le="0.1"}} 3
imp_latency_seconds_bucket{{le="+Inf"}} 5
imp_latency_seconds_sum 1.25
imp_latency_seconds_count 5
imp_untyped 42
"""
    extra = [("extra_label", "source=import"), ("extra_label", "env=ci")]
    t0 = now_ms()
    r = requests.post(url, params=extra, data=body.encode(), headers=text_type, timeout=30)
    t1 = now_ms()
    assert r.status_code == 204, f"import: HTTP {r.status_code}: {r.text[:300]}"

    # gzip, with ?timestamp= for the samples that carry none
    param_ms = now_ms() - 30_000
    gz_explicit_ms = now_ms() - 45_000
    gz_body = f'imp_gz{{k="v"}} 7\nimp_gz{{k="w"}} 8 {gz_explicit_ms}\n'.encode()
    r = requests.post(url, params=[("timestamp", str(param_ms)), ("extra_label", "source=gz")],
                      data=gzip.compress(gz_body), headers={**text_type, "Content-Encoding": "gzip"}, timeout=30)
    assert r.status_code == 204, f"gzip import: HTTP {r.status_code}: {r.text[:300]}"

    grouped = by_series(server.records("metrics"))
    base = {"source": "import", "env": "ci"}
    want = [  # (labels, value, timestamp or None for "the request time")
        ({"__name__": "imp_requests_total", "method": "get", "code": "200"}, 1027.0, None),
        ({"__name__": "imp_requests_total", "method": "post", "code": "500"}, 3.0, explicit_ms),
        ({"__name__": "imp_temperature", "room": "a b", "quote": 'x"y'}, -12.5, None),
        ({"__name__": "imp_temperature", "room": "hot"}, math.inf, None),
        ({"__name__": "imp_latency_seconds_bucket", "le": "0.1"}, 3.0, None),
        ({"__name__": "imp_latency_seconds_bucket", "le": "+Inf"}, 5.0, None),
        ({"__name__": "imp_latency_seconds_sum"}, 1.25, None),
        ({"__name__": "imp_latency_seconds_count"}, 5.0, None),
        ({"__name__": "imp_untyped"}, 42.0, None),
    ]
    request_times = set()
    for labels, value, ts in want:
        key = label_key({**labels, **base})
        samples = grouped.get(key)
        assert samples, f"imported series {key} not stored; stored: {sorted(k for k in grouped if dict(k).get('source'))}"
        assert len(samples) == 1, (key, samples)
        got_ts, got_value = samples[0]
        assert same_value(got_value, value), (key, got_value, value)
        if ts is None:
            assert t0 - 1000 <= got_ts <= t1 + 1000, f"{key}: timestamp {got_ts} is not the request time [{t0}, {t1}]"
            request_times.add(got_ts)
        else:
            assert got_ts == ts, f"{key}: explicit timestamp {ts} stored as {got_ts}"
    assert len(request_times) == 1, f"samples of one request without timestamps got different times: {request_times}"
    raw_inf = [rec["value"] for rec in server.records("metrics") if rec["labels"].get("room") == "hot"]
    assert raw_inf == ["+Inf"], raw_inf

    assert grouped.get(label_key({"__name__": "imp_gz", "k": "v", "source": "gz"})) == [(param_ms, 7.0)]
    assert grouped.get(label_key({"__name__": "imp_gz", "k": "w", "source": "gz"})) == [(gz_explicit_ms, 8.0)]

    # malformed bodies: 400, and the message names the line
    bad = 'imp_ok 1\n# TYPE imp_ok2 gauge\nimp_bad{a="x" 3\nimp_ok3 4\n'
    r = requests.post(url, data=bad.encode(), headers=text_type, timeout=30)
    msg = assert_json_error(r, 400)
    assert "line 3" in msg, f"error does not name line 3: {msg!r}"
    r = requests.post(url, data=b"imp_ok 1\nimp_bad_value abc\n", headers=text_type, timeout=30)
    msg = assert_json_error(r, 400)
    assert "line 2" in msg, f"error does not name line 2: {msg!r}"


# ---------------------------------------------------------------------------
# 4. SIGKILL during remote write: every acknowledged sample exactly once
# ---------------------------------------------------------------------------
class RemoteWriteSender(threading.Thread):
    SERIES = 5
    PER_SERIES = 4
    MAX_BATCHES = 400  # bounds the loop whatever happens (<= 4 x 400 x 20 samples in all)

    def __init__(self, index: int, srv, stop: threading.Event, base_ms: int):
        super().__init__(name=f"rw-sender-{index}", daemon=True)
        self.index, self.srv, self.stop, self.base_ms = index, srv, stop, base_ms
        self.acked: list[int] = []
        self.unacked: list[int] = []
        self.unexpected: list[tuple[int, int, str]] = []
        self.first_ack = threading.Event()
        self.error: BaseException | None = None

    def batch(self, n: int) -> list[Series]:
        out = []
        for j in range(self.SERIES):
            labels = {"__name__": "rw_kill", "sender": str(self.index), "s": str(j)}
            out.append(Series(labels, [(self.base_ms + n * self.PER_SERIES + i, float(n * 100 + i * 10 + j))
                                       for i in range(self.PER_SERIES)]))
        return out

    def samples(self, n: int):
        for s in self.batch(n):
            for ts, v in s.samples:
                yield (label_key(s.labels), ts), v

    def run(self) -> None:
        session = requests.Session()
        try:
            for n in range(self.MAX_BATCHES):
                if self.stop.is_set():
                    break
                try:
                    r = remote_write(self.srv.url, self.batch(n), session=session, timeout=10)
                except requests.RequestException:
                    self.unacked.append(n)
                    continue
                if r.status_code == 204:
                    self.acked.append(n)
                    self.first_ack.set()
                else:
                    self.unacked.append(n)
                    if r.status_code < 500:
                        self.unexpected.append((n, r.status_code, r.text[:200]))
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e
        finally:
            session.close()


def remote_write_v2_body(series: list[tuple[dict, list[tuple[int, float]]]], bad_refs: list[int] | None = None) -> bytes:
    """A snappy-compressed `io.prometheus.write.v2.Request`, written field by field as the 2.0 specification lays it
    out (Debian's Prometheus 2.42 predates 2.0): symbols, then series of label references, samples and metadata."""
    import struct as _struct
    from metrics_peers import snappy_block, _len_delimited, _key, _varint
    symbols = [""]

    def ref(text: str) -> int:
        if text not in symbols:
            symbols.append(text)
        return symbols.index(text)

    out = b""
    for labels, samples in series:
        refs = [r for name in sorted(labels) for r in (ref(name), ref(labels[name]))]
        body = _len_delimited(1, b"".join(_varint(r) for r in refs))
        for t, v in samples:
            body += _len_delimited(2, _key(1, 1) + _struct.pack("<d", v) + _key(2, 0) + _varint(t))
        body += _len_delimited(5, _key(1, 0) + _varint(2) + _key(3, 0) + _varint(ref("A gauge.")))
        out += _len_delimited(5, body)
    if bad_refs is not None:
        out += _len_delimited(5, _len_delimited(1, b"".join(_varint(r) for r in bad_refs)) +
                              _len_delimited(2, _key(1, 1) + _struct.pack("<d", 1.0) + _key(2, 0) + _varint(1)))
    return snappy_block(b"".join(_len_delimited(4, s.encode()) for s in symbols) + out)


def test_remote_write_2_0(sightline):
    """Remote write 2.0 (`proto=io.prometheus.write.v2.Request`): samples and metadata stored, the written counts in
    the answer's headers; a series with a reference beyond the symbols is refused alone with a 400 naming it, an
    unknown message type is a 415."""
    srv = sightline("rw2").start()
    t = now_ms() - 60_000
    v2 = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
          "X-Prometheus-Remote-Write-Version": "2.0.0"}
    body = remote_write_v2_body([
        ({"__name__": "rw2_temp", "room": "a"}, [(t, 20.5), (t + 1000, 21.0)]),
        ({"__name__": "rw2_temp", "room": "b"}, [(t, 18.0)]),
    ])
    r = requests.post(srv.url + "/api/v1/write", data=body, headers=v2, timeout=30)
    assert r.status_code == 204, r.text
    assert r.headers["X-Prometheus-Remote-Write-Samples-Written"] == "3", r.headers
    assert r.headers["X-Prometheus-Remote-Write-Histograms-Written"] == "0"
    stored = metric_series(srv, __name__="rw2_temp")
    assert sorted(stored.values()) == [[(t, 18.0)], [(t, 20.5), (t + 1000, 21.0)]], stored
    metadata = requests.get(srv.url + "/api/v1/metadata", params={"metric": "rw2_temp"}, timeout=30).json()["data"]
    assert metadata["rw2_temp"][0] == {"type": "gauge", "help": "A gauge.", "unit": ""}, metadata

    body = remote_write_v2_body([({"__name__": "rw2_ok"}, [(t, 1.0)])], bad_refs=[1, 500])
    msg = assert_json_error(requests.post(srv.url + "/api/v1/write", data=body, headers=v2, timeout=30), 400)
    assert "refers to symbol 500" in msg, msg
    assert list(metric_series(srv, __name__="rw2_ok").values()) == [[(t, 1.0)]]

    r = requests.post(srv.url + "/api/v1/write", data=body, timeout=30, headers={
        **v2, "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v3.Request"})
    assert r.status_code == 415 and "io.prometheus.write.v3.Request" in r.text, r.text


def test_remote_write_sigkill_exactly_once(sightline):
    srv = sightline("rw-killed").start()
    stop = threading.Event()
    base_ms = now_ms() - 120_000
    senders = [RemoteWriteSender(i, srv, stop, base_ms) for i in range(4)]
    for s in senders:
        s.start()
    try:
        deadline = time.monotonic() + 30
        for s in senders:
            if not s.first_ack.wait(max(0.0, deadline - time.monotonic())):
                pytest.fail(f"{s.name}: no remote write acknowledged within 30 s "
                            f"(error {s.error!r}, unexpected answers {s.unexpected[:3]})")
        time.sleep(1.5)
        assert srv.running, "server died during remote write"
        rc = srv.kill9()
    finally:
        stop.set()
        for s in senders:
            s.join(timeout=60)
    assert rc == -9, f"server was not running when killed (exit code {rc})"
    assert not any(s.is_alive() for s in senders), "a sender thread hung"
    for s in senders:
        assert s.error is None, f"{s.name} raised {s.error!r}"
        assert not s.unexpected, f"{s.name}: answers other than 204/5xx/no answer: {s.unexpected[:3]}"
    print("batches (acked, not acked) per sender before SIGKILL:",
          [(len(s.acked), len(s.unacked)) for s in senders])

    srv.start()
    for s in senders:  # the restarted server takes more, continuing each series in order
        n = RemoteWriteSender.MAX_BATCHES + 1
        r = remote_write(srv.url, s.batch(n), timeout=30)
        assert r.status_code == 204, f"after restart: HTTP {r.status_code}: {r.text[:300]}"
        s.acked.append(n)

    records = srv.records("metrics")
    assert len(records) < 100_000, "debug query truncated"
    ours = [r for r in records if r["labels"].get("__name__") == "rw_kill"]
    assert_no_duplicate_samples(ours, "remote write across SIGKILL")
    stored = {(label_key(r["labels"]), int(r["timestampMs"])): parse_value(r["value"]) for r in ours}
    acked = {k: v for s in senders for n in s.acked for k, v in s.samples(n)}
    sent = {k: v for s in senders for n in s.acked + s.unacked for k, v in s.samples(n)}
    missing = [k for k in acked if k not in stored]
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged samples missing after SIGKILL, e.g. {missing[:5]}"
    wrong = [(k, stored[k], v) for k, v in sent.items() if k in stored and stored[k] != v]
    assert not wrong, f"samples stored with another value: {wrong[:5]}"
    unknown = [k for k in stored if k not in sent]
    assert not unknown, f"samples that were never sent: {unknown[:5]}"


# ---------------------------------------------------------------------------
# 5. Refusals: out-of-order window, duplicates, series limit; /metrics and /api/v1/status/tsdb
# ---------------------------------------------------------------------------
def test_remote_write_refusals(sightline):
    srv = sightline("rw-limits", config={"metrics": {"max_series_per_tenant": 5}}).start()
    now = now_ms()

    def write(labels: dict, *samples: tuple[int, float]) -> requests.Response:
        return remote_write(srv.url, [Series(labels, list(samples))])

    def stored(labels: dict) -> list[tuple[int, float]]:
        return by_series(srv.records("metrics")).get(label_key(labels), [])

    # out of order: within the window (default 1h) accepted, beyond it refused with 400
    ooo = {"__name__": "rw_ooo", "case": "window"}
    assert write(ooo, (now, 1.0)).status_code == 204
    r = write(ooo, (now - 10 * 60_000, 2.0))
    assert r.status_code == 204, f"in-window out-of-order sample refused: HTTP {r.status_code}: {r.text[:300]}"
    msg = assert_json_error(write(ooo, (now - 2 * 3600_000, 3.0)), 400)
    print("out-of-order refusal:", msg)
    # A request mixing a refused and an acceptable sample: 400, and the acceptable one is stored.
    mixed = remote_write(srv.url, [Series(ooo, [(now - 3 * 3600_000, 4.0), (now + 5, 5.0)])])
    assert_json_error(mixed, 400)
    assert stored(ooo) == [(now - 10 * 60_000, 2.0), (now, 1.0), (now + 5, 5.0)], stored(ooo)

    # duplicates: identical accepted (idempotent retries), conflicting refused
    dup = {"__name__": "rw_dup", "case": "dup"}
    assert write(dup, (now - 1000, 5.0)).status_code == 204
    r = write(dup, (now - 1000, 5.0))
    assert r.status_code == 204, f"identical duplicate refused: HTTP {r.status_code}: {r.text[:300]}"
    msg = assert_json_error(write(dup, (now - 1000, 6.0)), 400)
    print("conflicting duplicate refusal:", msg)
    assert stored(dup) == [(now - 1000, 5.0)], stored(dup)

    # the series limit: 2 series so far, 3 more fit, the 6th is refused naming the limit and the series
    for i in range(3):
        r = write({"__name__": "rw_card", "i": str(i)}, (now, float(i)))
        assert r.status_code == 204, f"series {i + 3} of 5 refused: HTTP {r.status_code}: {r.text[:300]}"
    msg = assert_json_error(write({"__name__": "rw_card", "i": "3"}, (now, 3.0)), 400)
    assert "too_many_series" in msg or "limit" in msg.lower(), f"refusal does not name the limit: {msg!r}"
    assert "rw_card" in msg, f"refusal does not name the series: {msg!r}"
    assert stored({"__name__": "rw_card", "i": "3"}) == []
    r = write({"__name__": "rw_card", "i": "0"}, (now + 1000, 10.0))
    assert r.status_code == 204, f"an existing series refused at the limit: HTTP {r.status_code}: {r.text[:300]}"

    r = requests.get(srv.url + "/metrics", timeout=30)
    assert r.status_code == 200, f"/metrics: HTTP {r.status_code}: {r.text[:300]}"
    rejected = [v for labels, v in parse_exposition(r.text).get("sightline_rejected_records_total", [])
                if labels.get("reason") == "too_many_series" and labels.get("signal") == "metrics"]
    assert rejected and sum(rejected) >= 1, \
        'no sightline_rejected_records_total{reason="too_many_series",signal="metrics"} >= 1 in /metrics'

    r = requests.get(srv.url + "/api/v1/status/tsdb", timeout=30)
    assert r.status_code == 200, f"status/tsdb: HTTP {r.status_code}: {r.text[:300]}"
    doc = r.json()
    assert doc.get("status") == "success", doc
    data = doc["data"]
    head = data["headStats"]
    assert head["numSeries"] == 5, head
    for k in ("numLabelPairs", "chunkCount", "minTime", "maxTime"):
        assert isinstance(head.get(k), int), (k, head)
    assert head["maxTime"] >= now + 1000 and head["minTime"] <= head["maxTime"], head
    by_name = {e["name"]: e["value"] for e in data["seriesCountByMetricName"]}
    assert by_name == {"rw_card": 3, "rw_ooo": 1, "rw_dup": 1}, data["seriesCountByMetricName"]
    label_values = {e["name"]: e["value"] for e in data["labelValueCountByLabelName"]}
    assert label_values.get("__name__") == 3, data["labelValueCountByLabelName"]
    for k in ("memoryInBytesByLabelName", "seriesCountByLabelValuePair"):
        assert isinstance(data[k], list) and data[k], (k, data[k])
        assert all(isinstance(e.get("name"), str) and isinstance(e.get("value"), int) for e in data[k]), data[k]
