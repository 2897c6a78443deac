"""Several servers, one rule evaluator: with `alerting.leader_election` the servers share a lease in NATS JetStream
(nats-server 2.9, scripts/nats-for-tests.sh) and only its holder evaluates the rules. Killing the holder hands the
evaluation to the other server once the lease expires; stopping it gracefully releases the lease at once."""

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
