"""Fixtures that run the real `sightline` binary for the integration tests.

The binary comes from $SIGHTLINE_BIN (scripts/test sets it to the freshly built
debug binary); without it, <repo>/.build/debug/sightline is used. A missing binary
is an error, never a skip: a green run must mean the server was exercised.

Every server a test starts writes its stdout+stderr to a file in the test's
tmp_path; when the test fails, the tail of each of those logs is attached to the
failure report. Processes are stopped only through their own Popen handles.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from processes import ManagedProcess, track

REPO_ROOT = Path(__file__).resolve().parents[2]

READY_TIMEOUT_S = 60.0  # the first start of a debug build can be slow
SIGTERM_TIMEOUT_S = 30.0

# Everything here talks to 127.0.0.1 only; never route it through a proxy
# (requests and gRPC both honour no_proxy).
for _var in ("no_proxy", "NO_PROXY"):
    _cur = os.environ.get(_var, "")
    os.environ[_var] = ",".join(x for x in (_cur, "127.0.0.1", "localhost") if x)

def sightline_binary() -> Path:
    env = os.environ.get("SIGHTLINE_BIN")
    path = Path(env) if env else REPO_ROOT / ".build" / "debug" / "sightline"
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"sightline binary not found or not executable: {path} "
            "(build it with `swift build`, or set SIGHTLINE_BIN)",
            pytrace=False,
        )
    return path


def free_ports(n: int) -> list[int]:
    """n distinct free TCP ports on 127.0.0.1 (bound to port 0, then closed)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def to_yaml(value: Any, indent: int = 0) -> str:
    """A tiny block-style YAML emitter (dicts, lists, str, int, float, bool).

    Strings are emitted double-quoted via JSON escaping, which is valid YAML for
    the ASCII values the tests use.
    """
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        out = []
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                out.append(f"{pad}{k}:\n{to_yaml(v, indent + 1)}")
            else:
                out.append(f"{pad}{k}: {_yaml_scalar(v)}\n")
        return "".join(out)
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        out = []
        for item in value:
            if isinstance(item, dict) and item:
                body = to_yaml(item, indent + 1)
                # put the first key on the dash line
                out.append(f"{pad}- {body[len(pad) + 2:]}")
            elif isinstance(item, list) and item:
                out.append(f"{pad}-\n{to_yaml(item, indent + 1)}")
            else:
                out.append(f"{pad}- {_yaml_scalar(item)}\n")
        return "".join(out)
    return pad + _yaml_scalar(value) + "\n"


def _yaml_scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_yaml_scalar(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{}"
    if v is None:
        return "null"
    return json.dumps(str(v))


class ServerError(AssertionError):
    pass


class SightlineServer(ManagedProcess):
    """One `sightline server` process (restartable on the same data dir).

    start() picks fresh ports each time, so url/grpc_endpoint may change across
    restarts.
    """

    def __init__(self, binary: Path, data_dir: Path, log_dir: Path, name: str = "sightline",
                 config: dict | None = None):
        self.binary = binary
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.name = name
        self.config_path: Path | None = None
        if config is not None:
            self.config_path = log_dir / f"{name}-config.yaml"
            self.config_path.write_text(to_yaml(config))
        self.proc: subprocess.Popen | None = None
        self.http_port: int | None = None
        self.grpc_port: int | None = None
        self.log_files: list[Path] = []
        self._starts = 0

    # -- addresses -----------------------------------------------------------
    @property
    def url(self) -> str:
        assert self.http_port is not None, "server not started"
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_address(self) -> str:
        """host:port, as grpc.insecure_channel wants it."""
        assert self.grpc_port is not None, "server not started"
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def grpc_endpoint(self) -> str:
        """http://host:port, as the OTel gRPC exporters want it (insecure)."""
        return f"http://{self.grpc_address}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    # -- lifecycle -----------------------------------------------------------
    def command(self) -> list[str]:
        cmd = [
            str(self.binary), "server",
            "--data-dir", str(self.data_dir),
            "--http-address", f"127.0.0.1:{self.http_port}",
            "--otlp-grpc-address", f"127.0.0.1:{self.grpc_port}",
            "--log-level", "info",
        ]
        if self.config_path is not None:
            cmd += ["--config", str(self.config_path)]
        return cmd

    def start(self, wait_ready: bool = True, timeout: float = READY_TIMEOUT_S) -> "SightlineServer":
        assert not self.running, "server already running"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            self._spawn()
            if not wait_ready:
                return self
            try:
                self.wait_ready(timeout)
                return self
            except ServerError:
                # A port picked by free_ports() may have been taken in between:
                # retry with new ports, but only for that reason.
                if attempt < 2 and not self.running and "in use" in self.current_log().lower():
                    continue
                raise
        raise AssertionError("unreachable")

    def _spawn(self) -> None:
        self.http_port, self.grpc_port = free_ports(2)
        self._starts += 1
        log_path = self.log_dir / f"{self.name}-{self._starts}.log"
        self.log_files.append(log_path)
        with open(log_path, "wb") as log:
            log.write(("$ " + " ".join(self.command()) + "\n").encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.log_dir,
            )
        track(self.proc)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Wait for GET /-/ready == 200 (WAL replay done) and for the gRPC port to accept
        connections; fail with the log if that never comes."""
        deadline = time.monotonic() + timeout
        last = "no response"
        while time.monotonic() < deadline:
            if not self.running:
                raise ServerError(
                    f"{self.name} exited with code {self.proc.returncode} before becoming ready\n"
                    + self.current_log()
                )
            try:
                r = requests.get(self.url + "/-/ready", timeout=2)
                last = f"HTTP {r.status_code}: {r.text[:200]}"
                if r.status_code == 200:
                    with socket.create_connection(("127.0.0.1", self.grpc_port), timeout=2):
                        return
            except requests.RequestException as e:
                last = repr(e)
            except OSError as e:
                last = f"/-/ready is 200 but the gRPC port does not accept connections: {e!r}"
            time.sleep(0.1)
        raise ServerError(
            f"{self.name} not ready after {timeout:.0f}s (last /-/ready: {last})\n" + self.current_log()
        )

    def stop_sigterm(self, timeout: float = SIGTERM_TIMEOUT_S) -> int:
        """SIGTERM and wait; returns the exit code. Fails (after SIGKILL) if it hangs."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise ServerError(
                f"{self.name} did not exit within {timeout:.0f}s of SIGTERM\n" + self.current_log()
            )


    # -- logs ----------------------------------------------------------------
    @staticmethod
    def _tail(path: Path, max_lines: int = 200) -> str:
        try:
            lines = path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no log)"
        cut = len(lines) - max_lines
        head = [f"... ({cut} earlier lines in {path})"] if cut > 0 else []
        return "\n".join(head + lines[-max_lines:])

    def current_log(self) -> str:
        if not self.log_files:
            return "(server never started)"
        return f"----- {self.log_files[-1].name} -----\n" + self._tail(self.log_files[-1])

    def all_logs(self) -> str:
        return "\n".join(f"----- {p.name} -----\n{self._tail(p)}" for p in self.log_files)

    # -- HTTP helpers ----------------------------------------------------------
    @staticmethod
    def auth_headers(token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    def records(self, signal_name: str, limit: int = 100_000, token: str | None = None) -> list[dict]:
        """GET /api/v1/debug/records for the caller's tenant; asserts success."""
        r = requests.get(
            self.url + "/api/v1/debug/records",
            params={"signal": signal_name, "limit": str(limit)},
            headers=self.auth_headers(token),
            timeout=60,
        )
        assert r.status_code == 200, f"debug records ({signal_name}): HTTP {r.status_code}: {r.text[:500]}"
        doc = r.json()
        assert doc.get("status") == "success", doc
        data = doc["data"]
        assert data.get("signal") == signal_name, data.get("signal")
        assert isinstance(data["records"], list)
        return data["records"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    if rep.failed:
        for srv in getattr(item, "_sightline_servers", []):
            rep.sections.append((f"sightline log: {srv.name} (pid {srv.pid})", srv.all_logs()))
    return rep


@pytest.fixture
def sightline(request, tmp_path):
    """Factory: sightline(name=..., config=..., data_dir=...) -> SightlineServer (not started).

    Servers still running at teardown are SIGKILLed via their own handle.
    """
    binary = sightline_binary()
    servers: list[SightlineServer] = []
    request.node._sightline_servers = servers

    def make(name: str = "sightline", config: dict | None = None,
             data_dir: Path | None = None) -> SightlineServer:
        srv = SightlineServer(binary, data_dir or tmp_path / f"{name}-data", tmp_path, name, config)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.cleanup()


@pytest.fixture
def server(sightline) -> SightlineServer:
    """A started server with default settings."""
    return sightline().start()


# -- web UI tests ------------------------------------------------------------------------------------------------------
UI_ARTIFACTS = REPO_ROOT / "test-artifacts" / "ui"


@pytest.fixture(scope="session")
def _chromium():
    from browser import Browser
    b = Browser(UI_ARTIFACTS)
    yield b
    b.close()


@pytest.fixture
def browser(_chromium):
    """The session's headless Chromium, on a blank page with no recorded console errors."""
    _chromium.reset()
    return _chromium


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """One server with generated logs, metrics, traces, alerts and audit events (see ui_demo.py), for the UI tests."""
    from ui_demo import start_demo
    d = start_demo(tmp_path_factory.mktemp("ui-demo"))
    yield d
    d.server.cleanup()


# -- scale-out: ClickHouse and NATS on loopback, one per test module ------------------------------------------------------
def _throwaway(script: str):
    """Starts a server with scripts/<script> start; yields (url, its directory); stops it after the module."""
    lines = subprocess.run([str(REPO_ROOT / "scripts" / script), "start"], check=True, capture_output=True, text=True,
                           timeout=180).stdout.split("\n")
    url, stop = lines[0], lines[1].split()
    try:
        yield url, stop[-1]
    finally:
        subprocess.run(stop, check=False, timeout=60)


@pytest.fixture(scope="module")
def clickhouse():
    """A ClickHouse 18.16 of this module's own (tests may pause it): (url, data directory)."""
    yield from _throwaway("clickhouse-for-tests.sh")


@pytest.fixture(scope="module")
def nats():
    """A nats-server with JetStream of this module's own: (url, data directory)."""
    yield from _throwaway("nats-for-tests.sh")


# -- the same query tests on both storage backends (issue #11) -------------------------------------------------------------
@pytest.fixture(scope="session")
def shared_clickhouse():
    """One ClickHouse for the whole session, started at its first use, for tests that only store and query through it
    (each in its own database; never pause this one -- use `clickhouse` for that): (url, data directory)."""
    yield from _throwaway("clickhouse-for-tests.sh")


@pytest.fixture(scope="module", params=["embedded", "clickhouse"])
def storage_backend(request) -> dict:
    """The storage part of a server config, once per backend for the module (ids embedded/clickhouse): {} for the
    embedded engines; for ClickHouse, a database of this module and backend of its own on the session's ClickHouse.
    On ClickHouse, data is queryable only after the next insert (flush_interval), not at the acknowledgement: wait
    for it (wait_until) before querying."""
    if request.param == "embedded":
        return {}
    url, _ = request.getfixturevalue("shared_clickhouse")
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    database = f"it_{module}_{uuid.uuid4().hex[:8]}"
    return {"storage": {"backend": "clickhouse",
                        "clickhouse": {"url": url, "database": database, "flush_interval": "200ms"}}}


def wait_until(what: str, check, timeout: float = 30.0, interval: float = 0.1):
    """Calls check() until it returns True; fails with its last other answer after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = check()
        if last is True:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not after {timeout:.0f}s (last: {last!r})")
        time.sleep(interval)
