"""The audit trail through the real `sightline` binary: ingestion as AuditKit's relay sends it, search, export,
verification with the server's own checks and offline with the `cryptography` package, tampering with the files on
disk, and tenant isolation on every audit endpoint. The API tests run on both storage backends (embedded files and
ClickHouse); two servers on one ClickHouse share one trail, each writing its own chain."""

from __future__ import annotations

import base64
import csv
import io
import json
import struct
import subprocess
import time
import uuid

import pytest
import requests
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from conftest import sightline_binary

TOKENS = [
    {"token": "acme-relay", "tenant": "acme", "roles": ["ingest"]},
    {"token": "acme-reader", "tenant": "acme", "roles": ["query"]},
    {"token": "acme-admin", "tenant": "acme", "roles": ["admin", "query"]},
    {"token": "globex-all", "tenant": "globex", "roles": ["ingest", "query", "admin"]},
]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def event(n: int, tenant: str = "acme", **overrides) -> dict:
    e = {
        "id": str(uuid.uuid4()), "tenant": tenant, "time": f"2026-11-20T10:{n // 60:02d}:{n % 60:02d}.{n:06d}Z",
        "actor": {"id": f"user-{n % 3}", "type": "user", "display": f"User {n % 3}"},
        "action": "invoice.update" if n % 2 else "transfer.create",
        "resource": {"type": "invoice" if n % 2 else "transfer", "id": f"r-{n}"},
        "outcome": "success" if n % 5 else "denied", "request_id": f"req-{n}", "client_address": "10.1.2.3",
        "user_agent": "invoice-app/1.0", "reason": "over limit" if n % 5 == 0 else None,
        "before": {"amount": n, "lines": [1, 2]}, "after": {"amount": n + 1, "note": "a, \"quoted\"\nline"},
        "attributes": {"region": "eu"},
    }
    e.update(overrides)
    return e


def post(url: str, token: str, events: list[dict]) -> requests.Response:
    return requests.post(url + "/api/v1/audit/events", json={"events": events}, headers=auth(token), timeout=30)


def search(url: str, token: str, **params) -> dict:
    r = requests.get(url + "/api/v1/audit/events", params=params, headers=auth(token), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def cli(url: str, token: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(sightline_binary()), "audit", *args, "--server", url, "--token", token],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def audit_config(storage_backend) -> dict:
    """The server config of one test on one backend: the tokens, and on ClickHouse a database of the test's own (the
    module's database would carry one test's events into the next)."""
    config: dict = {"auth": {"tokens": TOKENS}}
    if storage_backend:
        clickhouse = dict(storage_backend["storage"]["clickhouse"], database=f"it_audit_{uuid.uuid4().hex[:12]}")
        config["storage"] = {"backend": "clickhouse", "clickhouse": clickhouse}
    return config


@pytest.fixture
def audit_server(sightline, audit_config):
    return sightline("audit", config=audit_config).start()


def test_ingest_search_export_and_reads_are_audited(audit_server):
    url = audit_server.url
    events = [event(n) for n in range(1, 31)]
    r = post(url, "acme-relay", events)
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 30, "duplicates": 0}
    # The relay's retry after a lost answer: the same ids again are duplicates, not new events.
    assert post(url, "acme-relay", events[25:]).json() == {"accepted": 0, "duplicates": 5}

    page = search(url, "acme-reader", limit=10)
    assert [e["id"] for e in page["events"]] == [e["id"] for e in reversed(events[20:])]
    first = page["events"][0]
    sent = events[29]
    assert first["actor"] == sent["actor"] and first["resource"] == sent["resource"]
    assert first["before"] == sent["before"] and first["after"] == sent["after"]
    assert first["attributes"] == {"region": "eu"} and first["seq"] == 30 and len(first["hash"]) == 64
    # Cursor pagination walks the rest without overlap (the read above is itself recorded, with a higher seq).
    seen = [e["id"] for e in page["events"]]
    cursor = page["next_cursor"]
    while cursor:
        page = search(url, "acme-reader", limit=10, cursor=cursor)
        seen += [e["id"] for e in page["events"] if not e["action"].startswith("audit.")]
        cursor = page["next_cursor"]
    assert seen == [e["id"] for e in reversed(events)]

    denied = search(url, "acme-reader", outcome="denied", action="transfer.*")["events"]
    assert sorted(e["seq"] for e in denied) == [10, 20, 30]
    assert [e["seq"] for e in search(url, "acme-reader", q="OVER LIMIT", actor="user-1")["events"]] == [25, 10]
    assert len(search(url, "acme-reader", start="2026-11-20T10:00:05Z", end="2026-11-20T10:00:09.5Z", action="invoice.update")["events"]) == 3

    r = requests.get(url + "/api/v1/audit/export", params={"format": "ndjson", "action": "invoice.*"}, headers=auth("acme-reader"), timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert [e["id"] for e in lines] == [e["id"] for e in reversed(events) if e["action"] == "invoice.update"]
    r = requests.get(url + "/api/v1/audit/export", params={"format": "csv"}, headers=auth("acme-reader"), timeout=30)
    rows = list(csv.DictReader(io.StringIO(r.text)))
    by_id = {row["id"]: row for row in rows}
    assert json.loads(by_id[events[0]["id"]]["after"]) == events[0]["after"]
    assert by_id[events[0]["id"]]["actor_display"] == "User 1"

    # Every read above is in the trail, attributed to the reading token, not to the relay.
    reads = search(url, "acme-reader", action="audit.*", limit=100)["events"]
    actions = {e["action"] for e in reads}
    assert {"audit.search", "audit.export"} <= actions
    assert all(e["actor"]["type"] == "api-token" and e["actor"]["id"].startswith("token:") for e in reads)
    assert all(e["client_address"] == "127.0.0.1" for e in reads)
    requests.get(url + "/api/v1/audit/events", params={"limit": 1}, timeout=30,
                 headers={**auth("acme-reader"), "X-Request-ID": "read-req-42"})
    assert search(url, "acme-reader", q="read-req-42", action="audit.search")["events"][0]["request_id"] == "read-req-42"


def test_bad_events_are_refused_with_the_field_named_and_nothing_stored(audit_server):
    url = audit_server.url
    for bad, fragment in [
        (event(1, outcome="ok"), "events[1].outcome"),
        (event(1, time="yesterday"), "events[1].time"),
        ({k: v for k, v in event(1).items() if k != "action"}, "events[1].action"),
        (event(1, attributes={"n": 5}), "events[1].attributes.n"),
    ]:
        r = post(url, "acme-relay", [event(0), bad])
        assert r.status_code == 400, r.text
        assert fragment in r.json()["error"]
    r = post(url, "acme-relay", [event(1, tenant="globex")])
    assert r.status_code == 403 and "globex" in r.json()["error"]
    r = requests.post(url + "/api/v1/audit/events", data=b"{not json", headers=auth("acme-relay"), timeout=30)
    assert r.status_code == 400
    assert search(url, "acme-reader", action="invoice.update")["events"] == []


def test_verify_digests_offline_and_detect_tampering_on_disk(sightline):
    srv = sightline("audit-tamper", config={"auth": {"tokens": TOKENS}, "audit": {"digest_interval": "1s"}}).start()
    url = srv.url
    assert post(url, "acme-relay", [event(n) for n in range(1, 21)]).status_code == 200
    ok = cli(url, "acme-reader", "verify")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("OK: tenant acme")

    # Offline: every digest verifies against the exported public key with an independent Ed25519 implementation.
    pem = cli(url, "acme-reader", "public-key").stdout
    key = load_pem_public_key(pem.encode())
    deadline = time.monotonic() + 20
    while True:
        doc = requests.get(url + "/api/v1/audit/digests", headers=auth("acme-reader"), timeout=30).json()
        if doc["digests"] or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert doc["digests"] and doc["public_key"] == pem
    for digest in doc["digests"]:
        key.verify(base64.b64decode(digest["signature"]), base64.b64decode(digest["payload"]))  # raises when invalid

    # Verification from a point: an event seq or a time (the last signed digest made by then anchors it).
    assert cli(url, "acme-reader", "verify", "--from", "2000-01-01T00:00:00Z").returncode == 0
    later = cli(url, "acme-reader", "verify", "--from", "2100-01-01T00:00:00Z")
    assert later.returncode == 0 and "up to seq" in later.stdout, later.stdout + later.stderr
    bad = requests.get(url + "/api/v1/audit/verify", params={"from": "yesterday"}, headers=auth("acme-reader"), timeout=30)
    assert bad.status_code == 400 and "from" in bad.json()["error"]

    segment = sorted((srv.data_dir / "audit" / "acme").glob("seg-*.log"))[0]

    def flip(data: bytes, header_end: int, records: list) -> bytes:  # one byte inside event 7's payload
        offset, length = records[6]
        position = data.index(b"invoice.update", offset, offset + 4 + length)
        return data[:position] + bytes([data[position] ^ 0x20]) + data[position + 1:]

    def delete(data: bytes, header_end: int, records: list) -> bytes:  # event 12 removed
        return data[:header_end] + b"".join(record_bytes(data, r) for i, r in enumerate(records) if i != 11)

    def swap(data: bytes, header_end: int, records: list) -> bytes:  # events 15 and 16 swapped
        order = list(range(len(records)))
        order[14], order[15] = order[15], order[14]
        return data[:header_end] + b"".join(record_bytes(data, records[i]) for i in order)

    for change, seq in [(flip, 7), (delete, 12), (swap, 15)]:
        current = segment.read_bytes()
        tampered = change(current, *split_segment(current))
        segment.write_bytes(tampered)
        result = cli(url, "acme-reader", "verify")
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"first broken at seq {seq}" in result.stderr, result.stderr
        doc = requests.get(url + "/api/v1/audit/verify", headers=auth("acme-reader"), timeout=30).json()
        assert doc["ok"] is False and doc["first_broken"]["seq"] == seq
        # The true bytes back, with the records of the verify calls the server appended meanwhile.
        segment.write_bytes(current + segment.read_bytes()[len(tampered):])
    assert cli(url, "acme-reader", "verify").returncode == 0


def split_segment(data: bytes) -> tuple[int, list[tuple[int, int]]]:
    """The header's end and (offset, payload length) of each record: [u32 len][payload][32-byte hash]."""
    assert data[:8] == b"SLAUDIT1"
    pos = 8
    tenant_len, shift = 0, 0
    while True:
        b = data[pos]
        pos += 1
        tenant_len |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            break
    pos += tenant_len + 8 + 32
    header_end, records = pos, []
    while pos + 4 <= len(data):
        (length,) = struct.unpack_from("<I", data, pos)
        records.append((pos, length))
        pos += 4 + length + 32
    return header_end, records


def record_bytes(data: bytes, record: tuple[int, int]) -> bytes:
    offset, length = record
    return data[offset:offset + 4 + length + 32]


def test_a_tenant_never_reaches_another_tenants_trail(audit_server):
    url = audit_server.url
    secret = event(1, reason="acme-only secret")
    assert post(url, "acme-relay", [secret]).status_code == 200
    hold = requests.post(url + "/api/v1/audit/holds", json={"from": "2026-01-01T00:00:00Z", "to": "2026-12-31T00:00:00Z",
                                                             "reason": "case 17"}, headers=auth("acme-admin"), timeout=30)
    assert hold.status_code == 200, hold.text
    hold_id = hold.json()["id"]

    g = auth("globex-all")
    assert search(url, "globex-all")["events"] == []
    assert search(url, "globex-all", q="acme-only")["events"] == []
    for fmt in ("ndjson", "csv"):
        r = requests.get(url + "/api/v1/audit/export", params={"format": fmt}, headers=g, timeout=30)
        assert r.status_code == 200 and "acme-only secret" not in r.text and secret["id"] not in r.text
    r = requests.get(url + "/api/v1/audit/verify", headers=g, timeout=30).json()
    assert r["tenant"] == "globex" and r["events_checked"] <= 4  # only globex's own reads
    assert requests.get(url + "/api/v1/audit/digests", headers=g, timeout=30).json()["digests"] == []
    assert requests.get(url + "/api/v1/audit/holds", headers=g, timeout=30).json()["holds"] == []
    assert requests.delete(url + f"/api/v1/audit/holds/{hold_id}", headers=g, timeout=30).status_code == 404
    # Writing into another tenant is refused.
    assert post(url, "globex-all", [event(2, tenant="acme")]).status_code == 403
    # Roles: the relay token cannot read, the reader cannot write or manage holds, no token gets nothing.
    assert requests.get(url + "/api/v1/audit/events", headers=auth("acme-relay"), timeout=30).status_code == 403
    assert post(url, "acme-reader", [event(3)]).status_code == 403
    assert requests.get(url + "/api/v1/audit/holds", headers=auth("acme-reader"), timeout=30).status_code == 403
    for path in ("events", "export", "verify", "digests", "public-key", "holds"):
        assert requests.get(url + f"/api/v1/audit/{path}", timeout=30).status_code == 401
    # The owner still sees its event and its hold.
    assert [e["id"] for e in search(url, "acme-reader", q="acme-only secret")["events"]] == [secret["id"]]
    holds = requests.get(url + "/api/v1/audit/holds", headers=auth("acme-admin"), timeout=30).json()["holds"]
    assert [h["id"] for h in holds] == [hold_id]


def test_two_servers_on_one_clickhouse_share_the_trail(sightline, shared_clickhouse):
    url, _ = shared_clickhouse
    database = f"it_audit_two_{uuid.uuid4().hex[:12]}"
    config = {"auth": {"tokens": TOKENS}, "audit": {"digest_interval": "1s"},
              "storage": {"backend": "clickhouse", "clickhouse": {"url": url, "database": database, "flush_interval": "200ms"}}}
    one = sightline("audit-one", config=config).start()
    two = sightline("audit-two", config=config).start()
    events = [event(n) for n in range(1, 21)]
    for n, e in enumerate(events):  # two by two through each server, one request per event
        r = post((one if n % 4 < 2 else two).url, "acme-relay", [e])
        assert r.status_code == 200 and r.json() == {"accepted": 1, "duplicates": 0}, r.text
    # An id one server stored is a duplicate for the other: the relay may retry anywhere.
    assert post(two.url, "acme-relay", [events[0]]).json() == {"accepted": 0, "duplicates": 1}

    for srv in (one, two):
        seen, cursor = [], None
        while True:
            page = search(srv.url, "acme-reader", limit=6, action="invoice.*", **({"cursor": cursor} if cursor else {}))
            seen += page["events"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert [e["id"] for e in seen] == [e["id"] for e in reversed(events) if e["action"] == "invoice.update"]
        chains = {e["chain"] for e in seen}
        assert len(chains) == 2, chains  # one hash chain per server
        ok = requests.get(srv.url + "/api/v1/audit/verify", headers=auth("acme-reader"), timeout=30).json()
        assert ok["ok"] is True and ok["first_broken"] is None, ok
        assert ok["events_checked"] >= 20
        result = cli(srv.url, "acme-reader", "verify")
        assert result.returncode == 0, result.stdout + result.stderr

    # Every digest, whichever server signed it, checks offline with that server's exported public key.
    keys = {requests.get(srv.url + "/api/v1/audit/public-key", headers=auth("acme-reader"), timeout=30).text for srv in (one, two)}
    assert len(keys) == 2
    deadline = time.monotonic() + 20
    while True:
        digests = requests.get(one.url + "/api/v1/audit/digests", headers=auth("acme-reader"), timeout=30).json()["digests"]
        if len({d["chain"] for d in digests}) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert len({d["chain"] for d in digests}) == 2, digests
    for digest in digests:
        assert digest["public_key"] in keys
        load_pem_public_key(digest["public_key"].encode()).verify(
            base64.b64decode(digest["signature"]), base64.b64decode(digest["payload"]))

    # A server restarted on its data directory continues its own chain.
    one.stop_sigterm()
    one.start()
    assert post(one.url, "acme-relay", [event(99)]).json() == {"accepted": 1, "duplicates": 0}
    assert requests.get(two.url + "/api/v1/audit/verify", headers=auth("acme-reader"), timeout=30).json()["ok"] is True


def test_a_payload_changed_in_clickhouse_is_found_by_verify(sightline, shared_clickhouse):
    url, _ = shared_clickhouse
    database = f"it_audit_tamper_{uuid.uuid4().hex[:12]}"
    config = {"auth": {"tokens": TOKENS},
              "storage": {"backend": "clickhouse", "clickhouse": {"url": url, "database": database, "flush_interval": "200ms"}}}
    srv = sightline("audit-ch-tamper", config=config).start()
    events = [event(n) for n in range(1, 11)]
    assert post(srv.url, "acme-relay", events).status_code == 200
    assert requests.get(srv.url + "/api/v1/audit/verify", headers=auth("acme-reader"), timeout=30).json()["ok"] is True

    def clickhouse(sql: str) -> str:
        r = requests.post(url + "/", params={"database": database}, data=sql.encode(), timeout=30)
        assert r.status_code == 200, r.text
        return r.text

    # Event 7's action rewritten in place, as someone with write access to ClickHouse could do it.
    clickhouse(f"ALTER TABLE audit_events UPDATE payload = replaceOne(payload, 'invoice.update', 'invoice.delete') "
               f"WHERE id = '{events[6]['id']}'")
    deadline = time.monotonic() + 30
    while clickhouse(f"SELECT count() FROM system.mutations WHERE database = '{database}' AND is_done = 0").strip() != "0":
        assert time.monotonic() < deadline, "ClickHouse did not finish the mutation"
        time.sleep(0.1)
    doc = requests.get(srv.url + "/api/v1/audit/verify", headers=auth("acme-reader"), timeout=30).json()
    assert doc["ok"] is False, doc
    broken = doc["first_broken"]
    assert broken["seq"] == 7 and broken["id"] == events[6]["id"] and broken["chain"] and "changed" in broken["reason"]
    result = cli(srv.url, "acme-reader", "verify")
    assert result.returncode == 1 and "first broken at seq 7" in result.stderr, result.stdout + result.stderr
