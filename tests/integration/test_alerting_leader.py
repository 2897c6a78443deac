"""Several servers, one rule evaluator: with `alerting.leader_election` the servers share a lease in NATS JetStream
(nats-server 2.9, scripts/nats-for-tests.sh) and only its holder evaluates the rules. Killing the holder hands the
evaluation to the other server once the lease expires; stopping it gracefully releases the lease at once. The alerting
state (rule alerts, notifier alerts, silences, notification log) is shared through JetStream, so a failover neither
restarts `for` timers nor pages again, and silences made through any server apply."""

from __future__ import annotations

import signal
import time

import requests

from conftest import to_yaml, wait_until

TTL_S = 3


def rules_file(tmp_path):
    path = tmp_path / "rules.yml"
    path.write_text(to_yaml({"groups": [{"name": "leader", "interval": "500ms", "rules": [
        {"record": "leader_tick", "expr": "vector(1)"}]}]}))
    return path


def evaluations(server) -> float:
    """When the server last evaluated the group, Unix seconds; 0 when it never did."""
    r = requests.get(server.url + "/api/v1/rules", timeout=10)
    assert r.status_code == 200, r.text
    group = r.json()["data"]["groups"][0]
    stamp = group.get("lastEvaluation") or "0001"
    if stamp.startswith("0001"):
        return 0.0
    from datetime import datetime
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def evaluating(server) -> bool:
    """Whether the server evaluated the group within the last 1.5 s."""
    return time.time() - evaluations(server) < 1.5


def test_one_server_evaluates_and_the_other_takes_over(sightline, nats, tmp_path):
    rules = rules_file(tmp_path)
    config = {"rules": {"files": [str(rules)]},
              "alerting": {"leader_election": {"nats_url": nats[0], "name": "it-leader", "ttl": f"{TTL_S}s"}}}
    a = sightline("a", config=config).start()
    b = sightline("b", config=config).start()
    wait_until("one server evaluating", lambda: evaluating(a) or evaluating(b), timeout=20)
    # For several seconds, exactly one of them evaluates.
    for _ in range(10):
        assert evaluating(a) != evaluating(b), "both or neither server evaluate"
        time.sleep(0.5)
    leader, follower = (a, b) if evaluating(a) else (b, a)

    # The leader dies: the other takes over once the lease expires (ttl plus a renewal interval).
    leader.proc.send_signal(signal.SIGKILL)
    leader.proc.wait(timeout=30)
    killed_at = time.monotonic()
    wait_until("the follower to take over", lambda: evaluating(follower), timeout=TTL_S + 10)
    assert time.monotonic() - killed_at < TTL_S + 5

    # The dead one comes back as a follower; a graceful stop of the holder hands over at once.
    leader.start()
    time.sleep(2)
    assert evaluating(follower) and not evaluating(leader)
    follower.stop_sigterm()
    stopped_at = time.monotonic()
    wait_until("the restarted server to take over after a graceful stop", lambda: evaluating(leader), timeout=TTL_S + 5)
    assert time.monotonic() - stopped_at < TTL_S, "a released lease is taken at once, not after the ttl"


# -- shared alerting state: a failover does not page twice ---------------------------------------------------------------
def _silence(server, alertname: str) -> str:
    """Creates a 1 h silence for `alertname` through `server`'s Alertmanager v2 API; returns its id."""
    from datetime import datetime, timedelta, timezone
    now = datetime.now(timezone.utc)
    body = {"matchers": [{"name": "alertname", "value": alertname, "isRegex": False, "isEqual": True}],
            "startsAt": now.isoformat().replace("+00:00", "Z"),
            "endsAt": (now + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
            "createdBy": "tests", "comment": "failover"}
    r = requests.post(server.url + "/api/v2/silences", json=body, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["silenceID"]


def _silence_ids(server) -> set[str]:
    r = requests.get(server.url + "/api/v2/silences", timeout=10)
    assert r.status_code == 200, r.text
    return {s["id"] for s in r.json() if s["status"]["state"] == "active"}


def _alert(server, alertname: str) -> dict | None:
    r = requests.get(server.url + "/api/v1/alerts", timeout=10)
    assert r.status_code == 200, r.text
    return next((a for a in r.json()["data"]["alerts"] if a["labels"].get("alertname") == alertname), None)


def test_failover_keeps_alert_state_and_does_not_page_again(sightline, nats, tmp_path):
    from test_alerting import Receiver, webhook_alerts

    hooks = Receiver().start()
    rules = tmp_path / "failover-rules.yml"
    rules.write_text(to_yaml({"groups": [{"name": "failover", "interval": "1s", "rules": [
        {"alert": "AlwaysOn", "expr": "absent(failover_stop)", "for": "2s"},
        {"alert": "Quiet", "expr": "vector(1)", "for": "15s"},
        {"alert": "SlowBurn", "expr": "vector(1)", "for": "1h"},
    ]}]}))
    am = tmp_path / "failover-am.yml"
    am.write_text(to_yaml({
        "route": {"receiver": "hook", "group_by": ["alertname"], "group_wait": "1s", "group_interval": "1s",
                  "repeat_interval": "1h"},
        "receivers": [{"name": "hook", "webhook_configs": [{"url": hooks.url("/hook"), "send_resolved": True}]}]}))
    config = {"wal": {"fsync": "never"}, "rules": {"files": [str(rules)]},
              "alerting": {"alertmanager_config": str(am), "evaluation_interval": "1s", "resend_delay": "1s",
                           "leader_election": {"nats_url": nats[0], "name": "it-failover", "ttl": f"{TTL_S}s"}}}
    a = sightline("fa", config=config).start()
    b = sightline("fb", config=config).start()
    wait_until("one server evaluating", lambda: evaluating(a) or evaluating(b), timeout=20)
    leader, follower = (a, b) if evaluating(a) else (b, a)

    # A silence made through the follower reaches the leader before its alert fires (for: 15s).
    quiet = _silence(follower, "Quiet")
    wait_until("the silence on the leader", lambda: quiet in _silence_ids(leader), timeout=10)

    # The leader pages once.
    hooks.wait_for(lambda p, b: "AlwaysOn" in str(b) and b.get("status") == "firing", 20, "firing AlwaysOn")
    wait_until("Quiet firing on the leader", lambda: (_alert(leader, "Quiet") or {}).get("state") == "firing", timeout=30)
    time.sleep(3)  # several flushes: still one page, the silenced alert never sent
    assert len(webhook_alerts(hooks, "/hook", "AlwaysOn", "firing")) == 1, hooks.bodies("/hook")
    assert webhook_alerts(hooks, "/hook", "Quiet", "firing") == [], "silenced alert was sent"
    slow = _alert(leader, "SlowBurn")
    assert slow and slow["state"] == "pending", slow

    # The leader dies; the follower takes over within the ttl and pages nothing again.
    leader.proc.send_signal(signal.SIGKILL)
    leader.proc.wait(timeout=30)
    killed_at = time.monotonic()
    wait_until("the follower to take over", lambda: evaluating(follower), timeout=TTL_S + 10)
    assert time.monotonic() - killed_at < TTL_S + 5
    time.sleep(6)  # well past group_wait + several evaluations and flushes
    assert len(webhook_alerts(hooks, "/hook", "AlwaysOn", "firing")) == 1, f"paged again: {hooks.bodies('/hook')}"
    assert webhook_alerts(hooks, "/hook", "AlwaysOn", "resolved") == [], hooks.bodies("/hook")
    assert webhook_alerts(hooks, "/hook", "Quiet", "firing") == [], "silenced alert sent by the new leader"
    # The pending alert's `for` timer goes on from where it was, not from the takeover.
    taken = _alert(follower, "SlowBurn")
    assert taken and taken["state"] == "pending" and taken["activeAt"] == slow["activeAt"], (slow, taken)
    assert (_alert(follower, "AlwaysOn") or {}).get("activeAt") is not None

    # The old leader comes back as a follower: a silence made through it applies on the new leader.
    leader.start()
    wait_until("the restarted server to know the shared silence", lambda: quiet in _silence_ids(leader), timeout=20)
    again = _silence(leader, "Quiet")
    wait_until("the new silence on the leader", lambda: again in _silence_ids(follower), timeout=10)

    # The condition ends (each server has its own store: tell both): the new leader sends the resolve, once.
    for server in (leader, follower):
        r = requests.post(server.url + "/api/v1/import/prometheus", data=b"failover_stop 1\n", timeout=10)
        assert r.status_code == 204, r.text
    hooks.wait_for(lambda p, b: "AlwaysOn" in str(b) and b.get("status") == "resolved", 20, "resolved AlwaysOn")
    time.sleep(3)
    assert len(webhook_alerts(hooks, "/hook", "AlwaysOn", "resolved")) == 1, hooks.bodies("/hook")

    # A graceful stop hands over at once, with the state: still one page.
    follower.stop_sigterm()
    wait_until("the restarted server to take over", lambda: evaluating(leader), timeout=TTL_S + 5)
    time.sleep(5)
    assert len(webhook_alerts(hooks, "/hook", "AlwaysOn", "firing")) == 1, f"paged again: {hooks.bodies('/hook')}"
    assert len(webhook_alerts(hooks, "/hook", "AlwaysOn", "resolved")) == 1, hooks.bodies("/hook")
    assert webhook_alerts(hooks, "/hook", "Quiet", "firing") == [], "silenced alert sent after the handover"
    hooks.stop()
