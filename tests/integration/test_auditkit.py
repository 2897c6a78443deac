"""AuditKit end to end: the example invoice app (Examples/InvoiceApp) records audit events through AuditKit in its
own transactions, on SQLite and on a real PostgreSQL (Debian's, started on a loopback port with a temporary data
directory by scripts/postgres-for-tests.sh), and its relay delivers them to the real `sightline` server.

Checked: a committed change arrives exactly once, in commit order; a rolled-back transaction leaves no event in the
outbox nor on the server; a relay killed after the server accepted a batch but before it marked the rows sent
resends them on restart and the server's de-duplication by id keeps every event exactly once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import requests

from conftest import REPO_ROOT
from processes import ManagedProcess, track

TOKENS = [
    {"token": "acme-relay", "tenant": "acme", "roles": ["ingest"]},
    {"token": "acme-reader", "tenant": "acme", "roles": ["query"]},
    {"token": "globex-relay", "tenant": "globex", "roles": ["ingest"]},
    {"token": "globex-reader", "tenant": "globex", "roles": ["query"]},
    {"token": "ops", "tenant": "acme", "roles": ["admin"]},
]


def invoice_app_binary() -> Path:
    env = os.environ.get("INVOICE_APP_BIN")
    path = Path(env) if env else REPO_ROOT / ".build" / "debug" / "invoice-app"
    if not path.is_file():
        pytest.fail(f"invoice-app binary not found: {path} (swift build, or set INVOICE_APP_BIN)", pytrace=False)
    return path


@pytest.fixture(scope="module")
def postgres_server():
    """A throw-away PostgreSQL for this module; its URL (database `postgres`)."""
    script = REPO_ROOT / "scripts" / "postgres-for-tests.sh"
    started = subprocess.run([str(script), "start", "--fast"], capture_output=True, text=True, timeout=600)
    assert started.returncode == 0, started.stderr
    url, stop = started.stdout.strip().splitlines()[:2]
    yield url
    subprocess.run(stop.split(), capture_output=True, timeout=120)


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path) -> str | None:
    """None for SQLite (a file in the app's data dir), or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    base = request.getfixturevalue("postgres_server")
    name = "app_" + uuid.uuid4().hex[:12]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return base.rsplit("/", 1)[0] + "/" + name


class InvoiceApp(ManagedProcess):
    def __init__(self, data_dir: Path, log: Path, sightline_url: str, database: str | None):
        self.data_dir, self.log, self.sightline_url, self.database = data_dir, log, sightline_url, database
        self.url: str | None = None

    def start(self, *flags: str, wait: bool = True) -> "InvoiceApp":
        cmd = [str(invoice_app_binary()), "--port", "0", "--data-dir", str(self.data_dir), "--sightline", self.sightline_url,
               "--token", "acme=acme-relay", "--token", "globex=globex-relay", "--relay-interval", "0.1", *flags]
        if self.database:
            cmd += ["--postgres", self.database]
        before = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "a") as out:
            out.write("$ " + " ".join(cmd) + "\n")
            out.flush()
            self.proc = track(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT))
        if not wait:
            return self
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.search(r"listening on ([\d.]+):(\d+)", self.log.read_text()[before:])
            if found:
                self.url = f"http://{found[1]}:{found[2]}"
                return self
            if self.proc.poll() is not None:
                pytest.fail(f"invoice-app exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        pytest.fail(f"invoice-app did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def call(self, method: str, path: str, actor: str = "alice", **body) -> requests.Response:
        return requests.request(method, self.url + path, json=body or None, timeout=30,
                                headers={"X-Actor-ID": actor, "X-Actor-Name": actor.title(), "X-Request-ID": uuid.uuid4().hex})

    def outbox(self) -> dict:
        return requests.get(self.url + "/outbox", timeout=30).json()

    def wait_drained(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.outbox()["unsent"] != 0:
            assert time.monotonic() < deadline, f"outbox never drained: {self.outbox()}\n{self.log.read_text()[-3000:]}"
            time.sleep(0.1)


def events(url: str, token: str, **params) -> list[dict]:
    """Every event of the token's tenant matching params, oldest first, without the trail's own read records."""
    found, cursor = [], None
    while True:
        query = dict(params, limit=1000, **({"cursor": cursor} if cursor else {}))
        doc = requests.get(url + "/api/v1/audit/events", params=query, headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        found += [e for e in doc["events"] if not e["action"].startswith("audit.")]
        cursor = doc["next_cursor"]
        if not cursor:
            return list(reversed(found))


@pytest.fixture
def audit_server(sightline):
    return sightline("auditkit", config={"auth": {"tokens": TOKENS}}).start()


def test_committed_changes_arrive_once_in_order_and_rolled_back_ones_never(audit_server, database, tmp_path):
    app = InvoiceApp(tmp_path / "app", tmp_path / "invoice-app.log", audit_server.url, database).start()
    try:
        assert app.call("POST", "/tenants/acme/accounts", id="a", balance_cents=10_000).status_code == 201
        assert app.call("POST", "/tenants/acme/accounts", id="b", balance_cents=0).status_code == 201
        invoice = app.call("POST", "/tenants/acme/invoices", customer="Initech", amount_cents=4200).json()
        assert app.call("PUT", f"/tenants/acme/invoices/{invoice['id']}", actor="bob", amount_cents=4300).status_code == 200
        ok = app.call("POST", "/tenants/acme/transfers", **{"from": "a", "to": "b", "amount_cents": 3000})
        assert ok.status_code == 201, ok.text
        refused = app.call("POST", "/tenants/acme/transfers", **{"from": "a", "to": "b", "amount_cents": 999_999})
        assert refused.status_code == 409, refused.text
        denied_id = refused.json()["audit_event_id"]
        rolled_back_id = refused.json()["rolled_back_event_id"]
        refused_transfer = refused.json()["transfer_id"]
        assert app.call("POST", "/tenants/globex/invoices", customer="Hooli", amount_cents=100).status_code == 201
        # The refused transfer changed nothing: the balances are those after the first transfer.
        assert app.call("GET", "/tenants/acme/accounts/a").json()["balance_cents"] == 7000

        app.wait_drained()
        outbox = app.outbox()
        assert outbox["total"] == 7, outbox  # 6 committed acme events (incl. the denied attempt) + 1 of globex
        acme = events(audit_server.url, "acme-reader")
        assert [(e["action"], e["outcome"]) for e in acme] == [
            ("account.create", "success"), ("account.create", "success"), ("invoice.create", "success"),
            ("invoice.update", "success"), ("transfer.create", "success"), ("transfer.create", "denied"),
        ]
        assert len({e["id"] for e in acme}) == len(acme)
        assert [e["seq"] for e in acme] == sorted(e["seq"] for e in acme)
        assert acme[3]["actor"]["id"] == "bob" and acme[3]["resource"] == {"type": "invoice", "id": invoice["id"]}
        assert acme[5]["id"] == denied_id and "insufficient funds" in acme[5]["reason"]
        # The rolled-back success event of the refused transfer exists nowhere: one event for that transfer, denied.
        assert rolled_back_id not in {e["id"] for e in acme}
        assert [e["outcome"] for e in acme if e["resource"].get("id") == refused_transfer] == ["denied"]
        assert events(audit_server.url, "acme-reader", q=rolled_back_id) == []
        globex = events(audit_server.url, "globex-reader")
        assert [(e["action"], e["tenant"]) for e in globex] == [("invoice.create", "globex")]
        verified = requests.get(audit_server.url + "/api/v1/audit/verify", headers={"Authorization": "Bearer acme-reader"}, timeout=30)
        assert verified.json()["ok"] is True
    finally:
        app.cleanup()


def test_a_relay_killed_between_sending_and_marking_delivers_exactly_once(audit_server, database, tmp_path):
    app = InvoiceApp(tmp_path / "app", tmp_path / "invoice-app.log", audit_server.url, database)
    # 1. Changes committed while no relay runs: 40 events wait in the outbox.
    app.start("--no-relay")
    for n in range(40):
        assert app.call("POST", "/tenants/acme/invoices", customer=f"c{n}", amount_cents=n).status_code == 201
    assert app.outbox() == {"unsent": 40, "total": 40}
    assert app.stop() == 0

    # 2. The relay sends them, the server accepts, and the process dies before marking them sent.
    app.start("--exit-after-first-send", wait=False)
    assert app.proc.wait(timeout=60) == 137, app.log.read_text()[-3000:]
    delivered = events(audit_server.url, "acme-reader")
    assert len(delivered) == 40
    app.start("--no-relay")
    assert app.outbox()["unsent"] == 40, "the rows were marked sent although the process died first"
    assert app.stop() == 0

    # 3. A normal restart resends them; the server keeps each exactly once.
    app.start()
    try:
        app.wait_drained()
        after = events(audit_server.url, "acme-reader")
        assert [e["id"] for e in after] == [e["id"] for e in delivered]
        metrics = requests.get(audit_server.url + "/metrics", headers={"Authorization": "Bearer ops"}, timeout=30).text
        assert re.search(r'sightline_audit_events_total\{result="duplicate"\} 40\b', metrics), metrics
    finally:
        app.cleanup()
