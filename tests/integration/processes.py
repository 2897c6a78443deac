"""Shared helpers of the integration tests: the registry of started processes and common assertions."""
from __future__ import annotations

import atexit
import signal
import subprocess

import pytest
import requests

# Processes started by this test session (servers, peers, exporters), so that an interrupted run does not leave
# them behind. Only these handles are ever signalled.
_STARTED: list[subprocess.Popen] = []


def track(proc: subprocess.Popen) -> subprocess.Popen:
    """Registers a process this session started, to be killed at interpreter exit if still running."""
    _STARTED.append(proc)
    return proc


@atexit.register
def _kill_leftovers() -> None:
    for proc in _STARTED:
        if proc.poll() is None:
            try:
                proc.kill()
                proc.wait(timeout=10)
            except Exception:  # noqa: BLE001 - best effort at interpreter exit
                pass


class ManagedProcess:
    """A process this session started and holds in `self.proc`: whether it runs, SIGKILL, cleanup."""

    proc: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> int:
        """SIGKILL and reap; returns the exit code (-9 if it was still running)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(timeout=10)

    def cleanup(self) -> None:
        if self.running:
            self.kill9()


def assert_json_error(r: requests.Response, status: int) -> str:
    """The Prometheus-API error shape {"status":"error","errorType":"…","error":"…"}; returns the message."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text[:300]}"
    try:
        doc = r.json()
    except ValueError:
        pytest.fail(f"HTTP {status} body is not JSON: {r.text[:300]!r}")
    assert doc.get("status") == "error", doc
    assert isinstance(doc.get("errorType"), str) and doc["errorType"], doc
    assert isinstance(doc.get("error"), str) and doc["error"], doc
    return doc["error"]
