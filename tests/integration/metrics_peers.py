"""Peers for the metrics integration tests (test_metrics_ingest.py).

- Real third-party processes, started on free loopback ports with their data in the
  test's tmp_path and stopped through their own Popen handles (never their system
  services): Prometheus (`/usr/bin/prometheus`, Debian package `prometheus`) and
  node-exporter (`/usr/bin/prometheus-node-exporter`). scripts/test installs both.
- A Python prometheus_client exporter whose series come from a JSON file re-read on
  every scrape, so a test can remove a series or kill the target. It is this very
  file run as a script: `python metrics_peers.py exporter PORT STATE_FILE`.
- A hand-written Prometheus remote write 1.0 encoder (WriteRequest protobuf +
  snappy block format) and helpers to read Sightline's debug records back.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import requests

from processes import ManagedProcess, track

# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------
def find_binary(name: str, env_var: str) -> str:
    """The path of a Debian-packaged peer binary; fails (never skips) when it is missing."""
    import pytest

    override = os.environ.get(env_var)
    candidates = [override] if override else [shutil.which(name), f"/usr/bin/{name}"]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    pytest.fail(
        f"{name} not found (install the Debian package: apt-get install --no-install-recommends {name}; "
        f"scripts/test does this; or set {env_var})",
        pytrace=False,
    )
    raise AssertionError("unreachable")


def tail(path: Path, max_lines: int = 80) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(lines[-max_lines:])


class Peer(ManagedProcess):
    """One child process with its output in a log file in the test's tmp_path."""

    def __init__(self, name: str, cmd: list[str], log_dir: Path, cwd: Path | None = None):
        self.name = name
        self.cmd = cmd
        self.log_path = log_dir / f"{name}.log"
        self.cwd = cwd or log_dir
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Peer":
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} already running"
        with open(self.log_path, "ab") as log:
            log.write(("$ " + " ".join(self.cmd) + "\n").encode())
            log.flush()
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.cwd)
        track(self.proc)
        return self

    def log(self, max_lines: int = 80) -> str:
        return f"----- {self.name} ({self.log_path}) -----\n" + tail(self.log_path, max_lines)

    def wait_http_ok(self, url: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no response"
        while time.monotonic() < deadline:
            if not self.running:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode} before answering {url}\n"
                                     + self.log())
            try:
                r = requests.get(url, timeout=2)
                if r.status_code == 200:
                    return
                last = f"HTTP {r.status_code}: {r.text[:200]}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: {url} not OK after {timeout:.0f}s (last: {last})\n" + self.log())

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait; SIGKILL if it does not exit in time (then fails)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"{self.name} did not exit within {timeout:.0f}s of SIGTERM\n" + self.log())



class Prometheus(Peer):
    """The real Prometheus server (2.42 on Debian bookworm)."""

    def __init__(self, log_dir: Path, port: int, config: dict, name: str = "prometheus",
                 extra_args: Iterable[str] = ()):
        from conftest import to_yaml

        self.port = port
        self.config_path = log_dir / f"{name}.yml"
        self.config_path.write_text(to_yaml(config))
        self.data_dir = log_dir / f"{name}-data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            find_binary("prometheus", "SIGHTLINE_PROMETHEUS_BIN"),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=info",
            *extra_args,
        ]
        super().__init__(name, cmd, log_dir, cwd=log_dir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "Prometheus":
        super().start()
        self.wait_http_ok(self.url + "/-/ready", timeout)
        return self

    def raw_samples(self, selector: str, window: str, at: float) -> dict[tuple, list[tuple[int, float]]]:
        """The raw samples of `selector[window]` evaluated at `at` (Unix seconds), stale markers
        excluded (PromQL drops them): {sorted label items: [(timestamp ms, value)]}."""
        r = requests.get(self.url + "/api/v1/query", params={"query": f"{selector}[{window}]", "time": f"{at:.3f}"},
                         timeout=30)
        assert r.status_code == 200, f"prometheus query: HTTP {r.status_code}: {r.text[:300]}"
        doc = r.json()
        assert doc["status"] == "success" and doc["data"]["resultType"] == "matrix", doc
        out = {}
        for series in doc["data"]["result"]:
            key = label_key(series["metric"])
            out[key] = [(round(float(ts) * 1000), parse_value(v)) for ts, v in series["values"]]
        return out

    def own_metrics(self) -> dict[str, list[tuple[dict, float]]]:
        """Prometheus' own /metrics, parsed: {sample name: [(labels, value)]}."""
        r = requests.get(self.url + "/metrics", timeout=10)
        assert r.status_code == 200, r.text[:300]
        return parse_exposition(r.text)


class VictoriaMetrics(Peer):
    """The real VictoriaMetrics (single node, Debian bookworm's package), for the JSON line export and import and
    as the reference for Graphite's metrics API (`extra_args=[f"-graphiteListenAddr=127.0.0.1:{port}"]` opens its
    Graphite plaintext listener, TCP and UDP)."""

    def __init__(self, log_dir: Path, port: int, name: str = "victoria-metrics", extra_args: Iterable[str] = ()):
        self.port = port
        data_dir = log_dir / f"{name}-data"
        data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            find_binary("victoria-metrics", "SIGHTLINE_VICTORIA_METRICS_BIN"),
            f"-storageDataPath={data_dir}",
            f"-httpListenAddr=127.0.0.1:{port}",
            "-retentionPeriod=100y",
            "-loggerLevel=WARN",
            *extra_args,
        ]
        super().__init__(name, cmd, log_dir, cwd=log_dir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "VictoriaMetrics":
        super().start()
        self.wait_http_ok(self.url + "/health", timeout)
        return self

    def flush(self) -> None:
        """Makes what was imported searchable now (VictoriaMetrics buffers it for about a second)."""
        r = requests.get(self.url + "/internal/force_flush", timeout=30)
        assert r.status_code == 200, r.text


class NodeExporter(Peer):
    """The real node-exporter (1.5 on Debian bookworm), reduced to a few collectors."""

    def __init__(self, log_dir: Path, port: int, collectors: Iterable[str] = ("cpu", "loadavg", "meminfo")):
        self.port = port
        cmd = [
            find_binary("prometheus-node-exporter", "SIGHTLINE_NODE_EXPORTER_BIN"),
            f"--web.listen-address=127.0.0.1:{port}",
            "--collector.disable-defaults",
            *[f"--collector.{c}" for c in collectors],
        ]
        super().__init__("node-exporter", cmd, log_dir)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "NodeExporter":
        super().start()
        self.wait_http_ok(f"http://{self.address}/metrics", timeout)
        return self


class PyExporter(Peer):
    """A prometheus_client exporter (this file as a script) serving the series in a JSON state file.

    State: {"gauges": [{"name": ..., "labels": {...}, "value": ...}], "counters": [...]} — counters are
    exposed with the `_total` suffix (give the name without it). Re-read on every scrape.
    """

    def __init__(self, log_dir: Path, port: int, state: dict):
        self.port = port
        self.state_path = log_dir / "py-exporter-state.json"
        self.set_state(state)
        cmd = [sys.executable, str(Path(__file__).resolve()), "exporter", str(port), str(self.state_path)]
        super().__init__("py-exporter", cmd, log_dir)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def set_state(self, state: dict) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.state_path)  # a scrape never sees a half-written file

    def start(self, timeout: float = 30.0) -> "PyExporter":
        super().start()
        self.wait_http_ok(f"http://{self.address}/metrics", timeout)
        return self

    def scrape(self) -> dict[str, list[tuple[dict, float]]]:
        r = requests.get(f"http://{self.address}/metrics", timeout=10)
        assert r.status_code == 200, r.text[:300]
        return parse_exposition(r.text)


def _run_exporter(port: int, state_path: str) -> None:
    """Entry point of the PyExporter subprocess."""
    import threading

    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    class FileCollector:
        def collect(self):
            with open(state_path) as f:
                state = json.load(f)
            for kind, family_type in (("gauges", GaugeMetricFamily), ("counters", CounterMetricFamily)):
                families: dict[str, Any] = {}
                for s in state.get(kind, []):
                    names = sorted(s.get("labels", {}))
                    fam = families.get(s["name"])
                    if fam is None:
                        fam = families[s["name"]] = (family_type(s["name"], f"{s['name']} from the test", labels=names),
                                                     names)
                    fam[0].add_metric([s["labels"][n] for n in fam[1]], float(s["value"]))
                for fam, _ in families.values():
                    yield fam

    registry = CollectorRegistry(auto_describe=False)
    registry.register(FileCollector())
    start_http_server(port, addr="127.0.0.1", registry=registry)
    print(f"py-exporter listening on 127.0.0.1:{port}, state {state_path}", flush=True)
    threading.Event().wait()


# ---------------------------------------------------------------------------
# Prometheus text exposition (for /metrics pages)
# ---------------------------------------------------------------------------
def parse_exposition(text: str) -> dict[str, list[tuple[dict, float]]]:
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, list[tuple[dict, float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    return out


# ---------------------------------------------------------------------------
# Remote write 1.0: WriteRequest protobuf, by hand
#   message WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
#   message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
#   message Label        { string name = 1; string value = 2; }
#   message Sample       { double value = 1; int64 timestamp = 2; }
# ---------------------------------------------------------------------------
def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # int64 negatives are 10-byte two's complement varints
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field_number: int, wire_type: int) -> bytes:
    return _varint(field_number << 3 | wire_type)


def _len_delimited(field_number: int, payload: bytes) -> bytes:
    return _key(field_number, 2) + _varint(len(payload)) + payload


@dataclass
class Series:
    labels: dict[str, str]
    samples: list[tuple[int, float]] = field(default_factory=list)  # (timestamp ms, value)


def encode_write_request(series: Iterable[Series]) -> bytes:
    out = bytearray()
    for s in series:
        ts = bytearray()
        for name in sorted(s.labels):  # remote write requires labels sorted by name
            ts += _len_delimited(1, _len_delimited(1, name.encode()) + _len_delimited(2, s.labels[name].encode()))
        for t, v in s.samples:
            ts += _len_delimited(2, _key(1, 1) + struct.pack("<d", v) + _key(2, 0) + _varint(t))
        out += _len_delimited(1, bytes(ts))
    return bytes(out)


def snappy_block(data: bytes) -> bytes:
    """Snappy block format (not the framed format), as remote write uses."""
    import snappy

    return snappy.compress(data)


REMOTE_WRITE_HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": "sightline-integration-tests",
}


def remote_write(url: str, series: Iterable[Series], session: requests.Session | None = None,
                 timeout: float = 30.0) -> requests.Response:
    body = snappy_block(encode_write_request(series))
    post = (session or requests).post
    return post(url.rstrip("/") + "/api/v1/write", data=body, headers=REMOTE_WRITE_HEADERS, timeout=timeout)


# ---------------------------------------------------------------------------
# Sightline debug records
# ---------------------------------------------------------------------------
def label_key(labels: dict) -> tuple:
    return tuple(sorted(labels.items()))


def parse_value(v: Any) -> float:
    """A sample value as JSON gives it: a number, or "NaN" / "+Inf" / "-Inf" (also Prometheus' strings)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, str):
        return float(v.replace("Inf", "inf"))  # float() takes "NaN", "+inf", "-inf", "1.5"
    raise AssertionError(f"unexpected sample value {v!r}")


def same_value(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def by_series(records: list[dict]) -> dict[tuple, list[tuple[int, float]]]:
    """Debug records grouped by label set: {sorted label items: [(timestamp ms, value)] oldest first}."""
    out: dict[tuple, list[tuple[int, float]]] = {}
    for rec in records:
        out.setdefault(label_key(rec["labels"]), []).append((int(rec["timestampMs"]), parse_value(rec["value"])))
    for samples in out.values():
        samples.sort(key=lambda s: s[0])
    return out


def select(grouped: dict[tuple, list], **match: str) -> dict[tuple, list]:
    """The series whose labels include every name=value in `match` (`__name__` as `name_`)."""
    want = {("__name__" if k == "name_" else k): v for k, v in match.items()}
    return {k: v for k, v in grouped.items() if all(dict(k).get(n) == val for n, val in want.items())}


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "exporter":
        _run_exporter(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(f"usage: {sys.argv[0]} exporter PORT STATE_FILE")
