"""Live PromQL comparison: the same data in a real Prometheus 2.42 and in Sightline, the same queries through
both HTTP APIs, the answers compared.

The data is generated here (seeded, so every run writes the same values; only the time base follows the clock):
about 50 series shaped like scraped ones -- counters with resets, gauges, a classic histogram, a gauge with
NaN and ±Inf, a series that stops midway and one that ends with a staleness marker -- sampled every 15 s per
target over one hour that ends two minutes before the test starts. Every sample timestamp is a whole second
plus or minus 1..3 ms, and every evaluation time is a whole second plus 543 ms, so no sample ever sits on a
range-window, lookback or subquery boundary: Prometheus 2.x closes those windows on the left where 3.x (and
Sightline) leave them open, and the jitter keeps that difference out of the comparison.

Both servers get the data by remote write, in time slices (every series' samples in time order, all series
advancing together, as a scraping Prometheus would send them). Sightline runs once per storage backend (ids
embedded/clickhouse: conftest.storage_backend); before comparing, the test waits until Sightline counts as many
samples as Prometheus (on ClickHouse data is queryable only after the next insert, not at the acknowledgement).

The queries are in promql_queries.txt (one per line, `#` comments). Each one runs as an instant query at three
times and as a range query over the whole data span (step 1m) against both servers; the result type, the set
of series and every timestamp must be equal and the values equal within 1e-9 relative (NaN equals NaN, ±Inf
equal themselves). For `sort`/`sort_desc` instant queries the order of the values must match too; everything
else is compared as a set of series. Queries both servers refuse must be refused with the same errorType.
Every mismatch is collected and reported at the end.
"""

from __future__ import annotations

import math
import random
import re
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from conftest import free_ports, wait_until
from metrics_peers import Peer, Prometheus, Series, label_key, parse_value, remote_write

QUERIES_FILE = Path(__file__).with_name("promql_queries.txt")

SCRAPE_MS = 15_000
SPAN_MS = 3_600_000
EVAL_FRACTION_MS = 543  # every evaluation time is a whole second + 543 ms
REL_TOL = 1e-9
# Prometheus' staleness marker: a NaN with this exact bit pattern.
STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------
@dataclass
class Target:
    """One scrape target: its samples share the target's scrape timestamps."""
    instance: str
    phase_ms: int  # offset of the target's scrapes within the 15 s interval (whole seconds)


def scrape_times(rng: random.Random, t0_ms: int, phase_ms: int, n: int) -> list[int]:
    """n scrape timestamps 15 s apart, each a whole second ± 1..3 ms (never exactly on the second)."""
    return [t0_ms + k * SCRAPE_MS + phase_ms + rng.choice((-3, -2, -1, 1, 2, 3)) for k in range(n)]


def generate(t0_ms: int) -> list[Series]:
    """The data set: every series with its samples in time order, timestamps in [t0, t0 + 1h]."""
    rng = random.Random(0x5167_4711)
    n = SPAN_MS // SCRAPE_MS + 1  # 241 scrapes
    out: list[Series] = []

    api = [Target("10.0.0.1:9100", 2_000), Target("10.0.0.2:9100", 6_000), Target("10.0.0.3:9100", 11_000)]
    api_times = {t.instance: scrape_times(rng, t0_ms, t.phase_ms, n) for t in api}

    # Counters: http_requests_total{job,instance,method,code}, two of them reset (a process restart).
    resets = {("10.0.0.2:9100", "GET", "200"): {100}, ("10.0.0.3:9100", "POST", "200"): {170, 200}}
    for t in api:
        for method in ("GET", "POST"):
            for code in ("200", "500"):
                value = float(rng.randint(1000, 5000))
                samples = []
                for k, ts in enumerate(api_times[t.instance]):
                    if k in resets.get((t.instance, method, code), ()):
                        value = float(rng.randint(0, 20))
                    elif code == "500":
                        value += rng.randint(1, 4) if rng.random() < 0.12 else 0  # rarely changes
                    else:
                        value += rng.randint(20, 400 if method == "GET" else 90)
                    samples.append((ts, value))
                out.append(Series({"__name__": "http_requests_total", "job": "api", "instance": t.instance,
                                   "method": method, "code": code}, samples))

    # Counters with fractional increments: cpu_seconds_total{instance,mode}; one reset.
    for t in api:
        for mode in ("user", "system"):
            value = rng.uniform(1000, 10_000)
            samples = []
            for k, ts in enumerate(api_times[t.instance]):
                if t.instance == "10.0.0.1:9100" and mode == "user" and k == 130:
                    value = rng.uniform(0, 3)
                else:
                    value += rng.uniform(0.5, 14.0) if mode == "user" else rng.uniform(0.05, 3.0)
                samples.append((ts, value))
            out.append(Series({"__name__": "cpu_seconds_total", "job": "api", "instance": t.instance, "mode": mode},
                              samples))

    # Gauges: node_memory_bytes{instance,type}, a random walk; one of them flat for 25 minutes.
    for t in api:
        for kind, start in (("free", 4.0e9), ("used", 2.0e9)):
            value = start + rng.randint(-200_000_000, 200_000_000)
            samples = []
            for k, ts in enumerate(api_times[t.instance]):
                flat = t.instance == "10.0.0.3:9100" and kind == "free" and 60 <= k < 160
                if not flat:
                    value += rng.randint(-40_000_000, 40_000_000)
                samples.append((ts, float(value)))
            out.append(Series({"__name__": "node_memory_bytes", "job": "api", "instance": t.instance,
                               "type": kind}, samples))

    # up{job,instance}: 1, except 10.0.0.3 which is down (0) for 20 minutes.
    for t in api:
        samples = [(ts, 0.0 if t.instance == "10.0.0.3:9100" and 100 <= k < 180 else 1.0)
                   for k, ts in enumerate(api_times[t.instance])]
        out.append(Series({"__name__": "up", "job": "api", "instance": t.instance}, samples))

    # Classic histogram req_duration_seconds{job,instance} (buckets, _sum, _count); 10.0.0.2 restarts once.
    # Like every counter here, it starts far above zero (its process has been running for a while): see
    # "rate/increase at a counter's first sample" in promql_queries.txt for why.
    bounds = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

    def observe(counts: list[int], n: int) -> float:
        total = 0.0
        for _ in range(n):
            obs = rng.lognormvariate(-1.6, 1.1)
            total += obs
            for i, b in enumerate(bounds):
                if obs <= b:
                    counts[i] += 1
            counts[-1] += 1
        return total

    for t in api[:2]:
        counts = [0] * (len(bounds) + 1)
        total_sum = observe(counts, 5000)
        series_samples: dict[str, list] = {le: [] for le in [*map(_le, bounds), "+Inf"]}
        sums, cnts = [], []
        for k, ts in enumerate(api_times[t.instance]):
            if t.instance == "10.0.0.2:9100" and k == 150:
                counts = [0] * (len(bounds) + 1)
                total_sum = 0.0
            total_sum += observe(counts, rng.randint(3, 40))
            for i, b in enumerate(bounds):
                series_samples[_le(b)].append((ts, float(counts[i])))
            series_samples["+Inf"].append((ts, float(counts[-1])))
            sums.append((ts, total_sum))
            cnts.append((ts, float(counts[-1])))
        base = {"job": "api", "instance": t.instance}
        for le, samples in series_samples.items():
            out.append(Series({"__name__": "req_duration_seconds_bucket", **base, "le": le}, samples))
        out.append(Series({"__name__": "req_duration_seconds_sum", **base}, sums))
        out.append(Series({"__name__": "req_duration_seconds_count", **base}, cnts))

    # temperature_celsius{job,sensor}: s3 carries NaN, +Inf and -Inf values.
    sensors = Target("sensors:9200", 9_000)
    sensor_times = scrape_times(rng, t0_ms, sensors.phase_ms, n)
    specials = {40: math.nan, 41: math.nan, 90: math.inf, 150: -math.inf, 200: math.nan}
    for sensor, base_temp in (("s1", 21.0), ("s2", 35.5), ("s3", -4.0)):
        value = base_temp
        samples = []
        for k, ts in enumerate(sensor_times):
            value = round(value + rng.uniform(-0.8, 0.8), 3)
            v = specials[k] if sensor == "s3" and k in specials else value
            samples.append((ts, v))
        out.append(Series({"__name__": "temperature_celsius", "job": "sensors", "sensor": sensor}, samples))

    # batch_tasks_running{job,task}: task a stops after 30 minutes (no staleness marker: it just ends),
    # task b after 42.5 minutes with a staleness marker one scrape later, as Prometheus writes one.
    batch_times = scrape_times(rng, t0_ms, 4_000, n)
    for task, last_k in (("a", 120), ("b", 170)):
        samples = [(ts, float(rng.randint(0, 12))) for ts in batch_times[:last_k + 1]]
        if task == "b":
            samples.append((batch_times[last_k + 1], STALE_NAN))
        out.append(Series({"__name__": "batch_tasks_running", "job": "batch", "task": task}, samples))

    return out


def _le(b: float) -> str:
    return repr(b) if b != int(b) else f"{b:.1f}"


def time_slices(series: list[Series], t0_ms: int, slice_ms: int = 300_000) -> list[list[Series]]:
    """The data cut into remote-write requests of 5 minutes each: all series advance together."""
    out = []
    t = t0_ms - SCRAPE_MS
    end = max(s.samples[-1][0] for s in series)
    while t <= end:
        batch = [Series(s.labels, [(ts, v) for ts, v in s.samples if t <= ts < t + slice_ms]) for s in series]
        batch = [s for s in batch if s.samples]
        if batch:
            out.append(batch)
        t += slice_ms
    return out


# ---------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------
REFUSED_MARK = "# refused by both"


def load_queries(times: dict[str, float]) -> tuple[list[str], set[str]]:
    """promql_queries.txt without comments and blank lines; `{{name}}` is replaced by the Unix time `name`.
    Also returns the queries right after a `# refused by both…` comment: the ones Prometheus must refuse."""
    out: list[str] = []
    refused: set[str] = set()
    marked = False
    for raw in QUERIES_FILE.read_text().splitlines():
        line = raw.strip()
        if line.startswith(REFUSED_MARK):
            marked = True
        if not line or line.startswith("#"):
            continue
        for name, value in times.items():
            line = line.replace("{{" + name + "}}", fmt_time(value))
        assert "{{" not in line, f"unknown placeholder in {raw!r}"
        out.append(line)
        if marked:
            refused.add(line)
        marked = False
    return out, refused


def fmt_time(t: float) -> str:
    return f"{t:.3f}"


ORDERED = re.compile(r"^\s*sort(_desc)?\s*\(")


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------
def same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return a == b or abs(a - b) <= REL_TOL * max(abs(a), abs(b))


def ms(t: Any) -> int:
    return round(float(t) * 1000)


def show_labels(key: tuple) -> str:
    d = dict(key)
    name = d.pop("__name__", "")
    return name + "{" + ", ".join(f'{k}="{v}"' for k, v in d.items()) + "}"


def show_time(t_ms: int, base_ms: int) -> str:
    return f"{t_ms / 1000:.3f} (data start {'+' if t_ms >= base_ms else '-'}{abs(t_ms - base_ms) / 1000:.3f}s)"


class Comparison:
    def __init__(self, base_ms: int):
        self.base_ms = base_ms
        self.mismatches: list[str] = []
        self.failed_queries: dict[str, int] = {}
        self.compared_points = 0
        self.max_rel_diff = 0.0

    def add(self, query: str, where: str, lines: list[str]) -> None:
        if not lines:
            return
        self.failed_queries[query] = self.failed_queries.get(query, 0) + 1
        self.mismatches.append(f"{query}   [{where}]\n" + "\n".join("    " + s for s in lines))

    def compare(self, query: str, where: str, prom: dict, sl: dict, ordered: bool) -> None:
        self.add(query, where, self._diff(prom, sl, ordered))

    def _diff(self, prom: dict, sl: dict, ordered: bool) -> list[str]:
        if prom.get("status") != sl.get("status"):
            return [f"status: prometheus {_brief(prom)} / sightline {_brief(sl)}"]
        if prom["status"] == "error":
            if prom.get("errorType") != sl.get("errorType"):
                return [f"both refuse, with different errorType: prometheus {_brief(prom)} / sightline {_brief(sl)}"]
            return []
        pd, sd = prom["data"], sl.get("data") or {}
        if pd.get("resultType") != sd.get("resultType"):
            return [f"resultType: prometheus {pd.get('resultType')!r} / sightline {sd.get('resultType')!r}"]
        kind = pd["resultType"]
        if kind in ("scalar", "string"):
            return self._points("", [pd["result"]], [sd["result"]], string=kind == "string")
        pr, sr = _by_series(pd["result"], kind), _by_series(sd["result"], kind)
        out = []
        for key in sorted(pr.keys() - sr.keys()):
            out.append(f"only in prometheus: {show_labels(key)} {self._first(pr[key])}")
        for key in sorted(sr.keys() - pr.keys()):
            out.append(f"only in sightline: {show_labels(key)} {self._first(sr[key])}")
        for key in sorted(pr.keys() & sr.keys()):
            out += self._points(show_labels(key), pr[key], sr[key])
        if len(pr) != len(pd["result"]) or len(sr) != len(sd["result"]):
            out.append(f"duplicate series: prometheus {len(pd['result'])} results for {len(pr)} label sets, "
                       f"sightline {len(sd['result'])} for {len(sr)}")
        if ordered and kind == "vector" and not out:
            pv = [parse_value(e["value"][1]) for e in pd["result"]]
            sv = [parse_value(e["value"][1]) for e in sd["result"]]
            if not all(same(a, b) for a, b in zip(pv, sv)):
                out.append(f"order of values: prometheus {pv} / sightline {sv}")
        return out

    def _first(self, points: list) -> str:
        t, v = points[0]
        more = f" … ({len(points)} points)" if len(points) > 1 else ""
        return f"@{show_time(ms(t), self.base_ms)} = {v}{more}"

    def _points(self, series: str, prom: list, sl: list, string: bool = False) -> list[str]:
        out = []
        pt = {ms(t): v for t, v in prom}
        st = {ms(t): v for t, v in sl}
        only_p = sorted(pt.keys() - st.keys())
        only_s = sorted(st.keys() - pt.keys())
        if only_p:
            out.append(f"{series} points only in prometheus: " + ", ".join(
                f"@{show_time(t, self.base_ms)}={pt[t]}" for t in only_p[:4]) + (" …" if len(only_p) > 4 else ""))
        if only_s:
            out.append(f"{series} points only in sightline: " + ", ".join(
                f"@{show_time(t, self.base_ms)}={st[t]}" for t in only_s[:4]) + (" …" if len(only_s) > 4 else ""))
        bad = []
        for t in sorted(pt.keys() & st.keys()):
            self.compared_points += 1
            a, b = pt[t], st[t]
            equal = a == b if string else same(parse_value(a), parse_value(b))
            if not equal:
                bad.append((t, a, b))
            elif not string and a != b:
                fa, fb = parse_value(a), parse_value(b)
                if math.isfinite(fa) and math.isfinite(fb):
                    self.max_rel_diff = max(self.max_rel_diff, abs(fa - fb) / max(abs(fa), abs(fb)))
        for t, a, b in bad[:4]:
            rel = ""
            if not string:
                fa, fb = parse_value(a), parse_value(b)
                if math.isfinite(fa) and math.isfinite(fb) and max(abs(fa), abs(fb)) > 0:
                    rel = f"  (rel diff {abs(fa - fb) / max(abs(fa), abs(fb)):.3g})"
            out.append(f"{series} @{show_time(t, self.base_ms)}: prometheus {a} / sightline {b}{rel}")
        if len(bad) > 4:
            out.append(f"{series} … {len(bad) - 4} more differing points")
        return out


def _brief(doc: dict) -> str:
    if doc.get("status") == "error":
        return f"error {doc.get('errorType')}: {doc.get('error')}"
    if doc.get("status") == "success":
        return f"success ({(doc.get('data') or {}).get('resultType')})"
    return repr(doc)[:300]


def _by_series(result: list, kind: str) -> dict[tuple, list]:
    out: dict[tuple, list] = {}
    for e in result:
        points = [e["value"]] if kind == "vector" else e["values"]
        out[label_key(e["metric"])] = points
    return out


def api_get(session: requests.Session, base: str, path: str, params: dict, post: bool = False) -> dict:
    if post:
        r = session.post(base + path, data=params, timeout=60)
    else:
        r = session.get(base + path, params=params, timeout=60)
    try:
        doc = r.json()
    except ValueError:
        return {"status": f"HTTP {r.status_code}, not JSON", "body": r.text[:300]}
    if not isinstance(doc, dict):
        return {"status": f"HTTP {r.status_code}, not an object", "body": r.text[:300]}
    if doc.get("status") == "success" and r.status_code != 200:
        doc["status"] = f"success with HTTP {r.status_code}"
    return doc


# ---------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------
@pytest.fixture
def prom_peer(request):
    started: list[Peer] = []
    failed_before = request.session.testsfailed
    yield started.append
    for p in started:
        p.cleanup()
    if request.session.testsfailed > failed_before:
        for p in started:
            print(p.log(60))


def test_promql_matches_prometheus_2_42(sightline, storage_backend, prom_peer, tmp_path):
    began = time.monotonic()
    assert struct.pack("<d", STALE_NAN) == struct.pack("<Q", STALE_NAN_BITS), "staleness marker bits lost"

    now_s = int(time.time())
    end_grid_s = now_s - now_s % 15 - 120
    t0_ms = (end_grid_s - SPAN_MS // 1000) * 1000
    data = generate(t0_ms)
    data_end_ms = max(s.samples[-1][0] for s in data)
    n_samples = sum(len(s.samples) for s in data)

    srv = sightline("promql-compare", config=storage_backend or None).start()
    (prom_port,) = free_ports(1)
    prom = Prometheus(tmp_path, prom_port, {"global": {"scrape_interval": "15s", "evaluation_interval": "15s"}},
                      extra_args=["--web.enable-remote-write-receiver", "--storage.tsdb.retention.time=1d"])
    prom_peer(prom)
    prom.start()

    session = requests.Session()
    for batch in time_slices(data, t0_ms):
        for name, url in (("prometheus", prom.url), ("sightline", srv.url)):
            r = remote_write(url, batch, session=session)
            assert r.status_code in (200, 204), f"remote write to {name}: HTTP {r.status_code}: {r.text[:500]}"

    frac = EVAL_FRACTION_MS / 1000
    t0 = t0_ms // 1000
    instants = [t0 + 20 * 60 + 7 + frac,           # every series alive
                t0 + 45 * 60 + 7 + frac,           # task a gone, task b just marked stale, 10.0.0.3 down
                data_end_ms // 1000 + 90 + frac]   # after the last samples, still within the lookback
    range_params = {"start": fmt_time(t0 - 60 + frac), "end": fmt_time(data_end_ms // 1000 + 180 + frac),
                    "step": "60"}
    queries, expect_refused = load_queries({"at": t0 + 30 * 60 + 13 + frac})
    assert len(queries) >= 100, f"only {len(queries)} queries in {QUERIES_FILE.name}"
    assert len(set(queries)) == len(queries), "duplicate queries in the list"

    # Both servers hold the same raw data (through PromQL's own eyes) before anything else is compared.
    cmp = Comparison(t0_ms)
    sanity = '{__name__=~".+"}[2h]'
    sanity_at = {"query": sanity, "time": fmt_time(data_end_ms / 1000 + 1)}
    sp = api_get(session, prom.url, "/api/v1/query", sanity_at)
    assert sp.get("status") == "success", f"Prometheus: {_brief(sp)}"
    stored = sum(len(e["values"]) for e in sp["data"]["result"])
    assert len(sp["data"]["result"]) == len(data) and stored == n_samples - 1, \
        f"Prometheus holds {len(sp['data']['result'])} series and {stored} samples, not all {len(data)} series " \
        f"and {n_samples - 1} samples (staleness marker excluded)"
    # Every sample is visible in Sightline at once on the embedded engines, after the next insert on ClickHouse:
    # wait until it selects as many as Prometheus (the comparison then checks they are the same).
    ss: dict = {}

    def sightline_selects_as_many() -> bool | str:
        nonlocal ss
        ss = api_get(session, srv.url, "/api/v1/query", sanity_at)
        if ss.get("status") != "success":
            return _brief(ss)
        got = sum(len(e["values"]) for e in ss["data"]["result"])
        return got == stored or f"{got} samples"
    wait_until(f"Sightline selecting the {stored} samples Prometheus holds", sightline_selects_as_many)
    cmp.compare(sanity, "instant, every raw sample", sp, ss, False)
    assert not cmp.mismatches, "the two servers hold different data:\n" + "\n".join(cmp.mismatches)
    # At t2 task b's last sample is within the lookback: only its staleness marker hides it.
    for q, want in (('batch_tasks_running{task="b"}', 0), ('last_over_time(batch_tasks_running{task="b"}[5m])', 1)):
        doc = api_get(session, prom.url, "/api/v1/query", {"query": q, "time": fmt_time(instants[1])})
        assert doc.get("status") == "success" and len(doc["data"]["result"]) == want, \
            f"Prometheus did not take the staleness marker: {q} at t2 gives {doc}"

    def run(job):
        query, path, params, where = job
        post = path.endswith("query_range")  # instant queries by GET, range queries by POST (form body)
        s = requests.Session()
        try:
            return job, api_get(s, prom.url, path, params, post), api_get(s, srv.url, path, params, post)
        finally:
            s.close()

    jobs = []
    for q in queries:
        for i, t in enumerate(instants):
            jobs.append((q, "/api/v1/query", {"query": q, "time": fmt_time(t)},
                         f"instant t{i + 1}={show_time(round(t * 1000), t0_ms)}"))
        jobs.append((q, "/api/v1/query_range", {"query": q, **range_params}, "range step 1m over the data, POST"))
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(run, jobs))

    successes = {"prometheus": 0, "sightline": 0}
    prom_refused: dict[str, str] = {}
    with_data: set[str] = set()
    for (q, path, params, where), p, s in answers:
        cmp.compare(q, where, p, s, ordered=path.endswith("/query") and bool(ORDERED.match(q)))
        successes["prometheus"] += p.get("status") == "success"
        successes["sightline"] += s.get("status") == "success"
        if p.get("status") == "error" and path.endswith("/query"):
            prom_refused.setdefault(q, f"{p.get('errorType')}: {p.get('error')}")
        if p.get("status") == "success" and p["data"]["result"] not in ([], None):
            with_data.add(q)

    elapsed = time.monotonic() - began
    print(f"{len(data)} series, {n_samples} samples; {len(queries)} queries x {len(instants)} instants + 1 range "
          f"= {len(jobs)} query pairs, {cmp.compared_points} points compared "
          f"(largest relative difference among equal values: {cmp.max_rel_diff:.3g}); {elapsed:.1f}s in all")
    print(f"successful answers: {successes}; queries empty in Prometheus at every time: "
          f"{sorted(set(queries) - with_data)}")
    problems = []
    # A query Prometheus refuses compares nothing but the error type: only the marked ones may be refused.
    unexpected = {q: e for q, e in prom_refused.items() if q not in expect_refused}
    if unexpected:
        problems.append(f"Prometheus 2.42 refuses queries of {QUERIES_FILE.name} (fix the list): {unexpected}")
    answered = sorted(expect_refused - set(prom_refused))
    if answered:
        problems.append(f"marked '{REFUSED_MARK}' but Prometheus answers: {answered}")
    if cmp.mismatches:
        problems.append(f"{len(cmp.failed_queries)} of {len(queries)} queries differ between Prometheus 2.42 and "
                        f"Sightline ({len(cmp.mismatches)} comparisons):\n\n" + "\n\n".join(cmp.mismatches))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
