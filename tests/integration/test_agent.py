"""`sightline agent` against a real `sightline server`, both as real processes on loopback.

What is checked:
1. lines written while the file is rotated by rename and by copytruncate all arrive, once;
2. SIGKILL of the agent in the middle of a file, then a restart: every line exactly once;
3. the server SIGKILLed and down ~10 s during ingestion, then restarted: every line exactly once (the agent retries
   batches the server may already have stored; the server drops them by their X-Sightline-Batch-ID);
4. the PyPI `statsd` and `datadog` (DogStatsD) clients send metrics that arrive aggregated with the right values;
5. host metrics agree with /proc read at the same moment.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from conftest import SightlineServer, free_ports, sightline_binary, to_yaml
from processes import ManagedProcess, track


class FixedPortServer(SightlineServer):
    """A server that keeps its ports across restarts, so the agent's configured address stays valid."""

    def _spawn(self) -> None:
        if self.http_port is None:
            self.http_port, self.grpc_port = free_ports(2)
        self._starts += 1
        log_path = self.log_dir / f"{self.name}-{self._starts}.log"
        self.log_files.append(log_path)
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.log_dir)
        track(self.proc)


class AgentProcess(ManagedProcess):
    """One `sightline agent` process, restartable on the same data dir and config."""

    def __init__(self, tmp: Path, config: dict, name: str = "agent"):
        self.tmp = tmp
        self.name = name
        self.metrics_port = free_ports(1)[0]
        config = dict(config)
        config.setdefault("data_dir", str(tmp / f"{name}-data"))
        config.setdefault("metrics_address", f"127.0.0.1:{self.metrics_port}")
        config.setdefault("poll_interval", "50ms")
        self.config_path = tmp / f"{name}.yaml"
        self.config_path.write_text(to_yaml(config))
        self.starts = 0
        self.log_files: list[Path] = []

    def start(self) -> "AgentProcess":
        self.starts += 1
        log = self.tmp / f"{self.name}-{self.starts}.log"
        self.log_files.append(log)
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [str(sightline_binary()), "agent", "--config", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=self.tmp)
        track(self.proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.running, f"agent exited with {self.proc.returncode}:\n{self.log()}"
            try:
                if requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError("agent /metrics never answered\n" + self.log())

    def metrics(self) -> dict[str, float]:
        text = requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        out = {}
        for line in text.splitlines():
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
        return out

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def all_logs(self) -> str:
        return self.log()

    def log(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.read_text(errors='replace')[-5000:]}" for p in self.log_files if p.exists())


@pytest.fixture
def agents(request, tmp_path):
    made: list[AgentProcess] = []

    def make(config: dict, name: str = "agent") -> AgentProcess:
        agent = AgentProcess(tmp_path, config, name)
        made.append(agent)
        # conftest attaches the logs of everything in this list to a failure report.
        if not hasattr(request.node, "_sightline_servers"):
            request.node._sightline_servers = []
        request.node._sightline_servers.append(agent)
        return agent

    yield make
    for agent in made:
        agent.cleanup()


def log_bodies(srv: SightlineServer) -> Counter:
    return Counter(r["body"] for r in srv.records("logs", limit=100_000))


def log_count(srv: SightlineServer) -> int:
    """How many log records the server holds (a LogQL count: far cheaper to poll than the records themselves)."""
    r = requests.get(srv.url + "/loki/api/v1/query", timeout=30, params={
        "query": 'sum(count_over_time({service_name=~".+"}[1h]))', "time": str(time.time())})
    assert r.status_code == 200, r.text[:300]
    result = r.json()["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def wait_for(fn, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {str(last)[:300]})")


def assert_exactly_once(bodies: Counter, expected: list[str], what: str) -> None:
    missing = [line for line in expected if bodies[line] == 0]
    repeated = [(line, n) for line, n in bodies.items() if n > 1]
    unknown = [line for line in bodies if line not in set(expected)]
    assert not missing, f"{what}: {len(missing)} of {len(expected)} lines missing, e.g. {missing[:5]}"
    assert not repeated, f"{what}: {len(repeated)} lines stored more than once, e.g. {repeated[:5]}"
    assert not unknown, f"{what}: lines never written: {unknown[:5]}"


def file_source(paths: list[str], **extra) -> dict:
    return {"files": [{"paths": paths, "start_at": "beginning", **extra}]}


# ---------------------------------------------------------------------------
# 1. rotation by rename and by copytruncate while a process writes
# ---------------------------------------------------------------------------
def test_rotation_rename_and_copytruncate_lose_and_repeat_nothing(server, agents, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    live = logs / "app.log"
    agent = agents({"server": server.url, "sources": file_source([str(logs / "app.log*")])}).start()
    expected = [f"rot {i:06d} " + "x" * 40 for i in range(3000)]
    lock = threading.Lock()

    def writer():
        out = open(live, "a", buffering=1)
        try:
            for i, line in enumerate(expected):
                with lock:
                    out.write(line + "\n")
                if i == 1000:
                    # logrotate's default: rename, then the writer reopens the path.
                    with lock:
                        os.rename(live, logs / "app.log.1")
                        out.close()
                        out = open(live, "a", buffering=1)
                if i == 2000:
                    # copytruncate: the copy appears at once (copied aside, renamed in), then the file is cut.
                    # The writer pauses during copy+truncate: what it wrote in between would be lost for any tailer.
                    with lock:
                        shutil.copyfile(live, logs / "copy.tmp")
                        os.rename(logs / "copy.tmp", logs / "app.log.2")
                        os.truncate(live, 0)
                if i % 100 == 0:
                    time.sleep(0.02)
        finally:
            out.close()

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join(timeout=60)
    wait_for(lambda: log_count(server) >= len(expected), 60, "all rotated lines")
    time.sleep(1)
    assert_exactly_once(log_bodies(server), expected, "rename + copytruncate")
    metrics = agent.metrics()
    assert metrics.get("sightline_agent_lines_read_total", 0) >= len(expected)
    assert metrics.get("sightline_agent_truncations_total", 0) >= 1


# ---------------------------------------------------------------------------
# 2. SIGKILL the agent mid-file, restart: exactly once
# ---------------------------------------------------------------------------
def test_agent_sigkill_mid_file_exactly_once(server, agents, tmp_path):
    path = tmp_path / "big.log"
    expected = [f"kill {i:06d} " + "y" * 60 for i in range(10_000)]
    path.write_text("\n".join(expected) + "\n")
    agent = agents({"server": server.url, "batch_max_bytes": 8192, "sources": file_source([str(path)])}).start()
    wait_for(lambda: log_count(server) > 500, 60, "some lines delivered", interval=0.1)
    assert agent.kill9() == -9
    delivered = log_count(server)
    assert delivered < len(expected), "the agent finished before it could be killed mid-file"
    agent.start()
    wait_for(lambda: log_count(server) >= len(expected), 120, "all lines after restart", interval=1.0)
    time.sleep(1)
    assert_exactly_once(log_bodies(server), expected, "agent SIGKILL")


# ---------------------------------------------------------------------------
# 3. server down during ingestion: exactly once
# ---------------------------------------------------------------------------
def test_server_outage_exactly_once(agents, tmp_path):
    srv = FixedPortServer(sightline_binary(), tmp_path / "outage-data", tmp_path, "outage")
    try:
        srv.start()
        logs = tmp_path / "logs"
        logs.mkdir()
        live = logs / "svc.log"
        agent = agents({"server": srv.url, "batch_max_bytes": 8192, "sources": file_source([str(live)])}).start()
        expected = [f"outage {i:06d} " + "z" * 50 for i in range(6000)]
        done = threading.Event()

        def writer():
            with open(live, "a", buffering=1) as out:
                for i, line in enumerate(expected):
                    out.write(line + "\n")
                    if i % 100 == 0:
                        time.sleep(0.05)
            done.set()

        thread = threading.Thread(target=writer)
        thread.start()
        wait_for(lambda: log_count(srv) > 500, 60, "ingestion under way")
        # SIGKILL: a batch may be stored and never acknowledged; the agent will send it again.
        srv.kill9()
        time.sleep(10)
        assert agent.running, "agent died while the server was down\n" + agent.log()
        assert agent.metrics().get("sightline_agent_retries_total", 0) > 0
        srv.start()
        thread.join(timeout=120)
        assert done.is_set()
        wait_for(lambda: log_count(srv) >= len(expected), 120, "all lines after the outage", interval=1.0)
        time.sleep(1)
        assert_exactly_once(log_bodies(srv), expected, "server outage")
    finally:
        srv.cleanup()


# ---------------------------------------------------------------------------
# 4. StatsD and DogStatsD clients from PyPI
# ---------------------------------------------------------------------------
def query(srv: SightlineServer, promql: str) -> dict[str, float]:
    r = requests.get(srv.url + "/api/v1/query", params={"query": promql}, timeout=10)
    assert r.status_code == 200, r.text
    out = {}
    for item in r.json()["data"]["result"]:
        labels = ",".join(f"{k}={v}" for k, v in sorted(item["metric"].items()) if k != "__name__")
        out[labels] = float(item["value"][1])
    return out


def test_statsd_and_dogstatsd_arrive_aggregated(server, agents):
    import statsd
    from datadog.dogstatsd import DogStatsd

    port = free_ports(1)[0]
    agents({
        "server": server.url,
        "sources": {"statsd": {"udp_address": f"127.0.0.1:{port}", "flush_interval": "1s", "percentiles": [50, 90]}},
    }).start()
    client = statsd.StatsClient("127.0.0.1", port, prefix="app")
    for _ in range(10):
        client.incr("hits")
    client.incr("hits", 5)
    client.gauge("queue", 40)
    client.gauge("queue", 2, delta=True)
    for ms in range(1, 101):
        client.timing("latency", ms)
    client.set("users", "alice")
    client.set("users", "bob")
    client.set("users", "alice")

    dog = DogStatsd(host="127.0.0.1", port=port, disable_telemetry=True)
    for _ in range(7):
        dog.increment("dd.requests", tags=["env:prod", "team:web"])
    dog.gauge("dd.temperature", 21.5, tags=["room:a"])
    for value in range(1, 11):
        dog.histogram("dd.size", value)
        dog.distribution("dd.dist", value * 10)
    dog.flush()
    dog.close_socket()

    def arrived():
        return query(server, "app_hits") and query(server, "dd_requests") and query(server, "dd_dist_count")

    wait_for(arrived, 30, "statsd series")
    time.sleep(1.5)  # one more flush: counters stay, timers are per interval
    assert query(server, "app_hits") == {"": 15.0}
    assert query(server, "app_queue") == {"": 42.0}
    assert query(server, 'app_latency{quantile="0.5"}') == {"quantile=0.5": 50.0}
    assert query(server, 'app_latency{quantile="0.9"}') == {"quantile=0.9": 90.0}
    assert query(server, "max_over_time(app_latency_count[1m])") == {"": 100.0}
    assert query(server, "max_over_time(app_latency_sum[1m])") == {"": 5050.0}
    assert query(server, "max_over_time(app_users[1m])") == {"": 2.0}
    assert query(server, "dd_requests") == {"env=prod,team=web": 7.0}
    assert query(server, "dd_temperature") == {"room=a": 21.5}
    assert query(server, "max_over_time(dd_size_count[1m])") == {"": 10.0}
    assert query(server, 'max_over_time(dd_dist{quantile="0.9"}[1m])') == {"quantile=0.9": 90.0}


# ---------------------------------------------------------------------------
# 5. host metrics against /proc
# ---------------------------------------------------------------------------
def test_host_metrics_agree_with_proc(server, agents):
    agents({"server": server.url, "host_name": "testhost", "sources": {"host_metrics": {"interval": "1s"}}}).start()
    wait_for(lambda: query(server, "node_memory_MemTotal_bytes"), 30, "host metrics")
    meminfo = {line.split(":")[0]: int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()}
    assert query(server, "node_memory_MemTotal_bytes") == {"instance=testhost": meminfo["MemTotal"] * 1024.0}
    available = query(server, "node_memory_MemAvailable_bytes")["instance=testhost"]
    assert abs(available - meminfo["MemAvailable"] * 1024) < 0.2 * meminfo["MemTotal"] * 1024

    ticks = os.sysconf("SC_CLK_TCK")
    cpu0 = next(line.split() for line in Path("/proc/stat").read_text().splitlines() if line.startswith("cpu0 "))
    idle = query(server, 'node_cpu_seconds_total{cpu="0",mode="idle"}')["cpu=0,instance=testhost,mode=idle"]
    # The agent reads at most ~1 s (one interval) before we do; a CPU idles at most 1 s per second.
    assert int(cpu0[4]) / ticks - 3 <= idle <= int(cpu0[4]) / ticks + 0.5

    load1 = float(Path("/proc/loadavg").read_text().split()[0])
    assert abs(query(server, "node_load1")["instance=testhost"] - load1) < 2.0
    net = query(server, 'node_network_receive_bytes_total{device="lo"}')
    assert net and list(net.values())[0] > 0
    fs = query(server, 'node_filesystem_size_bytes{mountpoint="/"}')
    assert fs and list(fs.values())[0] > 0
    # From /sys: each network device's state and MTU as node-exporter's netclass collector names them.
    for device in [d.name for d in Path("/sys/class/net").iterdir()]:
        mtu = int((Path("/sys/class/net") / device / "mtu").read_text())
        assert query(server, f'node_network_mtu_bytes{{device="{device}"}}') == {f"device={device},instance=testhost": float(mtu)}
        up = (Path("/sys/class/net") / device / "operstate").read_text().strip() == "up"
        assert query(server, f'node_network_up{{device="{device}"}}') == {f"device={device},instance=testhost": 1.0 if up else 0.0}


# ---------------------------------------------------------------------------
# 6. scraping: a Python prometheus-client exporter found through a target file, reloaded on change
# ---------------------------------------------------------------------------
def test_scrape_targets_from_a_file_reloaded_on_change(server, agents, tmp_path):
    import json as jsonlib

    from prometheus_client import CollectorRegistry, Gauge, start_http_server

    def exporter(value: float) -> int:
        registry = CollectorRegistry()
        Gauge("agent_scrape_temperature", "test gauge", registry=registry).set(value)
        port = free_ports(1)[0]
        start_http_server(port, addr="127.0.0.1", registry=registry)
        return port

    first, second = exporter(21.5), exporter(30.0)
    targets = tmp_path / "targets.json"
    targets.write_text(jsonlib.dumps([{"targets": [f"127.0.0.1:{first}"], "labels": {"room": "a"}}]))
    agents({"server": server.url, "sources": {"scrape": [{
        "job_name": "pyexp", "scrape_interval": "1s",
        "file_sd_configs": [{"files": [str(tmp_path / "*.json")], "refresh_interval": "1s"}],
    }]}}).start()
    wait_for(lambda: query(server, 'agent_scrape_temperature{room="a"}'), 30, "the first target's samples")
    assert list(query(server, 'up{job="pyexp"}').values()) == [1.0]
    assert list(query(server, 'agent_scrape_temperature{room="a"}').values()) == [21.5]
    # Rewrite atomically: the second exporter replaces the first.
    (tmp_path / "targets.tmp").write_text(jsonlib.dumps([{"targets": [f"127.0.0.1:{second}"], "labels": {"room": "b"}}]))
    os.rename(tmp_path / "targets.tmp", targets)
    wait_for(lambda: query(server, 'agent_scrape_temperature{room="b"}'), 30, "the second target after the reload")
    assert list(query(server, 'agent_scrape_temperature{room="b"}').values()) == [30.0]


def test_a_real_node_exporter_is_scraped(server, agents, tmp_path):
    """The agent scrapes Debian's prometheus-node-exporter; its own series and `up` arrive, labelled with the job."""
    from metrics_peers import NodeExporter

    port = free_ports(1)[0]
    node = NodeExporter(tmp_path, port).start()
    try:
        agents({"server": server.url, "sources": {"scrape": [
            {"job_name": "node", "scrape_interval": "1s", "static_configs": [{"targets": [node.address]}]}]}}).start()
        wait_for(lambda: query(server, 'node_load1{job="node"}'), 30, "node-exporter's node_load1")
        assert query(server, 'up{job="node"}') == {f"instance={node.address},job=node": 1.0}
        cpus = query(server, 'count(node_cpu_seconds_total{job="node",mode="idle"})')
        assert cpus and list(cpus.values())[0] == float(os.cpu_count())
    finally:
        node.cleanup()


def test_otlp_relay_over_grpc_and_http_adds_the_host(server, agents):
    """Apps export with the real OpenTelemetry Python SDK to the agent's OTLP receivers (gRPC and HTTP); the agent
    relays through its buffer and the server holds every log record and span, with the agent's host.name added."""
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    grpc_port, http_port = free_ports(2)
    agents({"server": server.url, "host_name": "relay-host", "sources": {
        "otlp": {"grpc_address": f"127.0.0.1:{grpc_port}", "http_address": f"127.0.0.1:{http_port}"}}}).start()

    def emit(exporter, service: str, n: int) -> None:
        provider = LoggerProvider(resource=Resource.create({"service.name": service}))
        provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
        otel_logger = provider.get_logger("relay-test")
        for i in range(n):
            otel_logger.emit(body=f"{service} line {i}", severity_number=SeverityNumber.INFO, severity_text="INFO")
        provider.shutdown()

    emit(GrpcLogExporter(endpoint=f"http://127.0.0.1:{grpc_port}", insecure=True), "grpc-app", 20)
    emit(HttpLogExporter(endpoint=f"http://127.0.0.1:{http_port}/v1/logs"), "http-app", 20)
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": "grpc-app"}))
    tracer_provider.add_span_processor(SimpleSpanProcessor(GrpcSpanExporter(endpoint=f"http://127.0.0.1:{grpc_port}", insecure=True)))
    with tracer_provider.get_tracer("relay-test").start_as_current_span("checkout") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
    tracer_provider.shutdown()

    expected = [f"grpc-app line {i}" for i in range(20)] + [f"http-app line {i}" for i in range(20)]
    wait_for(lambda: log_count(server) >= len(expected), 60, "relayed log records")
    assert_exactly_once(log_bodies(server), expected, "OTLP relay")
    records = server.records("logs")
    assert all(r["resource"].get("host.name") == "relay-host" for r in records), records[:2]
    doc = wait_for(lambda: requests.get(f"{server.url}/api/traces/{trace_id}", timeout=10).json().get("data"), 60, "the relayed trace")
    process = next(iter(doc[0]["processes"].values()))
    assert doc[0]["spans"][0]["operationName"] == "checkout"
    assert {"key": "host.name", "type": "string", "value": "relay-host"} in process["tags"]
