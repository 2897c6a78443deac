"""Alerting end to end: rule files and an Alertmanager config in `sightline server`, metrics pushed over HTTP,
notifications arriving at real local receivers (webhook, Slack- and PagerDuty-shaped HTTP endpoints, an aiosmtpd
SMTP server), silences and inhibition, restarts, a receiver that is down for a while, `sightline rules check`,
and compatibility with a real Prometheus 2.42 (same rule file, same data, same alerts) and a real Alertmanager 0.25
(alerts forwarded to it are accepted).

Intervals are short (evaluation 1s, group_wait 1s, group_interval 1s) so the file runs in well under 3 minutes.
"""

from __future__ import annotations

import base64
import email
import hashlib
import json
import re
import hmac
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from conftest import free_ports, sightline_binary, to_yaml
from metrics_peers import Peer, Prometheus, Series, find_binary, remote_write

EVAL_S = 1.0
GROUP_WAIT_S = 1.0
# Scheduling slack on a loaded 2-core machine with a debug build.
SLACK_S = 4.0


# ---------------------------------------------------------------------------
# Local receivers
# ---------------------------------------------------------------------------
class Receiver:
    """An HTTP endpoint that records every JSON POST: (time, path, body). stop()/start() take it down and back
    up on the same port, so a sender sees connection refused in between."""

    def __init__(self, port: int | None = None):
        self.port = port or free_ports(1)[0]
        self.posts: list[tuple[float, str, dict]] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"_raw": raw.decode(errors="replace"), "_headers": dict(self.headers.items())}
                # A PUT is recorded under its path with "PUT " in front.
                path = self.path if self.command == "POST" else f"{self.command} {self.path}"
                with receiver.lock:
                    receiver.posts.append((time.monotonic(), path, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status":"success","ok":true,"success":true}')

            do_PUT = do_POST  # noqa: N815 - Opsgenie's updates

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, path: str) -> list[dict]:
        with self.lock:
            return [b for _, p, b in self.posts if p == path]

    def wait_for(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for t, p, b in self.posts:
                    if predicate(p, b):
                        return t, b
            time.sleep(0.05)
        with self.lock:
            seen = [(p, b) for _, p, b in self.posts]
        raise AssertionError(f"no {what} within {timeout:.1f}s; received: {json.dumps(seen)[:3000]}")


class SMTPSink:
    """A real SMTP server (aiosmtpd) on a free loopback port that keeps every message."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        sink = self
        self.messages: list[tuple[float, email.message.Message]] = []

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's naming
                sink.messages.append((time.monotonic(), email.message_from_bytes(envelope.content)))
                return "250 Message accepted for delivery"

        self.port = free_ports(1)[0]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> "SMTPSink":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    def wait_for(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, m in list(self.messages):
                if predicate(m):
                    return t, m
            time.sleep(0.05)
        raise AssertionError(f"no {what} within {timeout:.1f}s; subjects: {[m['Subject'] for _, m in self.messages]}")


# ---------------------------------------------------------------------------
# Server set-up
# ---------------------------------------------------------------------------
def write_rules(path: Path, rules: list[dict], interval: str = "1s", name: str = "test") -> Path:
    path.write_text(to_yaml({"groups": [{"name": name, "interval": interval, "rules": rules}]}))
    return path


def alerting_server(sightline, tmp_path: Path, rules: list[dict], am_config: dict, name: str = "sightline",
                    extra: dict | None = None):
    rules_path = write_rules(tmp_path / f"{name}-rules.yml", rules)
    am_path = tmp_path / f"{name}-alertmanager.yml"
    am_path.write_text(to_yaml(am_config))
    config = {
        "wal": {"fsync": "never"},
        "rules": {"files": [str(rules_path)]},
        "alerting": {
            "alertmanager_config": str(am_path),
            "evaluation_interval": "1s",
            "resend_delay": "1s",
            "external_url": "http://sightline.test:7600",
        },
    }
    if extra:
        config["alerting"].update(extra)
    srv = sightline(name=name, config=config)
    srv.rules_path = rules_path
    return srv


def route(receiver: str, **kw) -> dict:
    r = {"receiver": receiver, "group_by": ["alertname"], "group_wait": "1s", "group_interval": "1s",
         "repeat_interval": "1h"}
    r.update(kw)
    return r


def push(srv, text: str) -> None:
    r = requests.post(srv.url + "/api/v1/import/prometheus", data=text.encode(), timeout=10)
    assert r.status_code == 204, f"import: HTTP {r.status_code}: {r.text[:300]}"


def api_alerts(srv) -> list[dict]:
    r = requests.get(srv.url + "/api/v1/alerts", timeout=10)
    assert r.status_code == 200, r.text[:300]
    doc = r.json()
    assert doc["status"] == "success", doc
    return doc["data"]["alerts"]


def wait_alert_state(srv, alertname: str, state: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    seen: list = []
    while time.monotonic() < deadline:
        seen = api_alerts(srv)
        for a in seen:
            if a["labels"].get("alertname") == alertname and a["state"] == state:
                return a
        time.sleep(0.1)
    raise AssertionError(f"{alertname} not {state} within {timeout}s; alerts: {seen}\n{srv.current_log()}")


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(sightline_binary()), *args], capture_output=True, text=True, timeout=60)
    if check:
        assert proc.returncode == 0, f"sightline {' '.join(args)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def webhook_alerts(receiver: Receiver, path: str, alertname: str, status: str) -> list[dict]:
    """Every alert with `alertname` and `status` in the webhook payloads received at `path`, one per payload."""
    out = []
    for body in receiver.bodies(path):
        for a in body.get("alerts", []):
            if a["labels"].get("alertname") == alertname and a["status"] == status:
                out.append(a)
    return out


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------
def test_threshold_fires_to_every_receiver_and_resolves(sightline, tmp_path):
    hooks = Receiver().start()
    # A template file, as Alertmanager users keep them: found by a glob relative to the Alertmanager config.
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "team.tmpl").write_text(
        '{{ define "slack.team.text" }}{{ range .Alerts }}{{ .Labels.queue }} since '
        '{{ .StartsAt | tz "Europe/Paris" | date "15:04 MST" }}{{ end }}{{ end }}\n')
    with SMTPSink() as smtp:
        am = {
            "templates": ["templates/*.tmpl"],
            "global": {"smtp_smarthost": f"127.0.0.1:{smtp.port}", "smtp_from": "sightline@test", "smtp_require_tls": False},
            "route": route("all"),
            "receivers": [{
                "name": "all",
                "webhook_configs": [{"url": hooks.url("/webhook"), "send_resolved": True}],
                "slack_configs": [{"api_url": hooks.url("/slack"), "channel": "#alerts", "send_resolved": True,
                                   "title": "{{ .CommonLabels.alertname }} is {{ .Status }}",
                                   "text": '{{ template "slack.team.text" . }}'}],
                "pagerduty_configs": [{"routing_key": "test-routing-key", "url": hooks.url("/pagerduty")}],
                "email_configs": [{"to": "oncall@test", "send_resolved": True}],
                "discord_configs": [{"webhook_url": hooks.url("/discord")}],
                "msteams_configs": [{"webhook_url": hooks.url("/teams")}],
                "msteamsv2_configs": [{"webhook_url": hooks.url("/workflow")}],
                "telegram_configs": [{"api_url": hooks.url("/tg"), "bot_token": "42:secret", "chat_id": -100}],
                "opsgenie_configs": [{"api_url": hooks.url("/og"), "api_key": "og-key", "priority": "P2", "update_alerts": True,
                                      "responders": [{"name": "ops", "type": "team"}]}],
                "victorops_configs": [{"api_url": hooks.url("/vo/"), "api_key": "vo-key", "routing_key": "ops"}],
                "webex_configs": [{"api_url": hooks.url("/webex"), "room_id": "room-1",
                                   "http_config": {"authorization": {"credentials": "bot-token"}}}],
                "rocketchat_configs": [{"api_url": hooks.url("/rc"), "token": "rc-token", "token_id": "rc-user",
                                        "channel": "#ops", "send_resolved": True}],
            }],
        }
        rules = [{
            "alert": "QueueTooLong",
            "expr": "queue_length > 10",
            "labels": {"severity": "page"},
            "annotations": {"summary": "queue {{ $labels.queue }} has {{ $value }} items"},
        }]
        srv = alerting_server(sightline, tmp_path, rules, am).start()
        push(srv, 'queue_length{queue="orders"} 3\n')
        time.sleep(2 * EVAL_S)
        assert hooks.posts == [], "nothing may fire below the threshold"

        crossed = time.monotonic()
        push(srv, 'queue_length{queue="orders"} 42\n')
        budget = GROUP_WAIT_S + EVAL_S + SLACK_S
        t, body = hooks.wait_for(lambda p, b: p == "/webhook" and b.get("status") == "firing", budget, "firing webhook")
        # Alertmanager's webhook JSON.
        assert body["version"] == "4" and body["receiver"] == "all"
        assert body["groupLabels"] == {"alertname": "QueueTooLong"}
        alert = body["alerts"][0]
        assert alert["labels"] == {"alertname": "QueueTooLong", "queue": "orders", "severity": "page"}
        assert alert["annotations"]["summary"] == "queue orders has 42 items"
        assert alert["generatorURL"].startswith("http://sightline.test:7600/graph?g0.expr=")
        assert alert["fingerprint"] and body["groupKey"] and body["externalURL"] == "http://sightline.test:7600"

        _, slack = hooks.wait_for(lambda p, b: p == "/slack", budget, "Slack message")
        assert slack["channel"] == "#alerts"
        assert slack["attachments"][0]["title"] == "QueueTooLong is firing"
        assert re.fullmatch(r"orders since \d\d:\d\d CES?T", slack["attachments"][0]["text"]), slack
        _, pd = hooks.wait_for(lambda p, b: p == "/pagerduty", budget, "PagerDuty event")
        assert pd["routing_key"] == "test-routing-key" and pd["event_action"] == "trigger"
        assert pd["dedup_key"] and pd["payload"]["summary"] and pd["payload"]["source"]
        _, discord = hooks.wait_for(lambda p, b: p == "/discord", budget, "Discord message")
        assert discord["embeds"][0]["title"].startswith("[FIRING:1] QueueTooLong") and discord["embeds"][0]["color"] == 0x992D22
        assert "queue = orders" in discord["embeds"][0]["description"], discord
        _, teams = hooks.wait_for(lambda p, b: p == "/teams", budget, "Teams message")
        assert teams["type"] == "MessageCard" and teams["themeColor"] == "8C1A1A" and "# Alerts Firing:" in teams["text"]
        _, flow = hooks.wait_for(lambda p, b: p == "/workflow", budget, "Teams workflow message")
        card = flow["attachments"][0]["content"]
        assert card["type"] == "AdaptiveCard" and card["body"][0]["color"] == "Attention", flow
        assert card["body"][0]["text"].startswith("[FIRING:1] QueueTooLong") and "queue = orders" in card["body"][1]["text"]
        _, tg = hooks.wait_for(lambda p, b: p == "/tg/bot42:secret/sendMessage", budget, "Telegram message")
        assert tg["chat_id"] == -100 and tg["parse_mode"] == "HTML" and "queue = orders" in tg["text"], tg
        _, og = hooks.wait_for(lambda p, b: p == "/og/v2/alerts", budget, "Opsgenie alert")
        assert og["alias"] == hashlib.sha256(body["groupKey"].encode()).hexdigest(), og
        assert og["message"].startswith("[FIRING:1] QueueTooLong") and "queue = orders" in og["description"], og
        assert og["details"] == {"alertname": "QueueTooLong", "queue": "orders", "severity": "page"}, og
        assert og["priority"] == "P2" and og["responders"] == [{"name": "ops", "type": "team"}], og
        _, og_message = hooks.wait_for(lambda p, b: p == f"PUT /og/v2/alerts/{og['alias']}/message?identifierType=alias", budget,
                                       "Opsgenie message update")
        assert og_message == {"message": og["message"]}, og_message
        hooks.wait_for(lambda p, b: p == f"PUT /og/v2/alerts/{og['alias']}/description?identifierType=alias", budget,
                       "Opsgenie description update")
        _, vo = hooks.wait_for(lambda p, b: p == "/vo/vo-key/ops", budget, "VictorOps event")
        assert vo["message_type"] == "CRITICAL" and vo["entity_id"] == og["alias"], vo
        assert vo["entity_display_name"].startswith("[FIRING:1] QueueTooLong") and vo["monitoring_tool"] == "Alertmanager", vo
        _, webex = hooks.wait_for(lambda p, b: p == "/webex", budget, "Webex message")
        assert webex["roomId"] == "room-1" and "Alerts Firing:" in webex["markdown"] and "queue = orders" in webex["markdown"], webex
        _, rc = hooks.wait_for(lambda p, b: p == "/rc/api/v1/chat.postMessage", budget, "Rocket.Chat message")
        attachment = rc["attachments"][0]
        assert rc["channel"] == "#ops" and attachment["title"].startswith("[FIRING:1] QueueTooLong"), rc
        assert attachment["color"] == "red" and attachment["title_link"].endswith("#/alerts?receiver=all"), rc
        _, mail = smtp.wait_for(lambda m: "QueueTooLong" in (m["Subject"] or ""), budget, "firing email")
        assert mail["To"] == "oncall@test" and mail["From"] == "sightline@test"
        assert {part.get_content_type() for part in mail.walk()} >= {"text/html"}
        print(f"threshold → webhook: {t - crossed:.2f}s (budget {GROUP_WAIT_S + EVAL_S:.0f}s + {SLACK_S:.0f}s slack)")

        # Recovery: resolved at every receiver that sends resolved notifications, with the same dedup key.
        push(srv, 'queue_length{queue="orders"} 1\n')
        hooks.wait_for(lambda p, b: p == "/webhook" and b.get("status") == "resolved", 3 * EVAL_S + SLACK_S, "resolved webhook")
        hooks.wait_for(lambda p, b: p == "/slack" and "resolved" in json.dumps(b), SLACK_S, "resolved Slack message")
        _, pd_resolve = hooks.wait_for(lambda p, b: p == "/pagerduty" and b.get("event_action") == "resolve", SLACK_S,
                                       "PagerDuty resolve")
        assert pd_resolve["dedup_key"] == pd["dedup_key"]
        _, og_close = hooks.wait_for(lambda p, b: p == f"/og/v2/alerts/{og['alias']}/close?identifierType=alias", SLACK_S,
                                     "Opsgenie close")
        assert og_close == {"source": "http://sightline.test:7600/#/alerts?receiver=all"}, og_close
        hooks.wait_for(lambda p, b: p == "/vo/vo-key/ops" and b.get("message_type") == "RECOVERY", SLACK_S, "VictorOps recovery")
        hooks.wait_for(lambda p, b: p == "/webex" and "Alerts Resolved:" in b.get("markdown", ""), SLACK_S, "resolved Webex message")
        hooks.wait_for(lambda p, b: p == "/rc/api/v1/chat.postMessage" and b["attachments"][0].get("color") == "green", SLACK_S,
                       "resolved Rocket.Chat message")
        smtp.wait_for(lambda m: "RESOLVED" in (m["Subject"] or "").upper(), SLACK_S, "resolved email")
        hooks.wait_for(lambda p, b: p == "/teams" and b.get("themeColor") == "2DC72D", SLACK_S, "resolved Teams message")
        hooks.wait_for(lambda p, b: p == "/workflow" and b["attachments"][0]["content"]["body"][0]["color"] == "Good", SLACK_S,
                       "resolved Teams workflow message")
        assert len(webhook_alerts(hooks, "/webhook", "QueueTooLong", "firing")) == 1, "paged once"
    hooks.stop()


def test_silence_and_inhibition(sightline, tmp_path):
    hooks = Receiver().start()
    am = {
        "route": route("hook"),
        "inhibit_rules": [{"source_matchers": ["severity=critical"], "target_matchers": ["severity=warning"],
                           "equal": ["instance"]}],
        "receivers": [{"name": "hook", "webhook_configs": [{"url": hooks.url("/hook"), "send_resolved": True}]}],
    }
    rules = [
        {"alert": "DiskFullCritical", "expr": "disk_used > 95", "labels": {"severity": "critical"}},
        {"alert": "DiskFullWarning", "expr": "disk_used > 80", "labels": {"severity": "warning"}},
        {"alert": "Noisy", "expr": "noise > 0"},
    ]
    srv = alerting_server(sightline, tmp_path, rules, am).start()

    # A silence made with the CLI before the alert fires.
    out = cli("silence", "add", "--server", srv.url, "--matcher", "alertname=Noisy", "--duration", "10m",
              "--comment", "maintenance", "--author", "tests")
    silence_id = out.stdout.strip()
    assert len(silence_id) == 36, out.stdout
    listed = cli("silences", "--server", srv.url).stdout
    assert silence_id in listed and 'alertname="Noisy"' in listed and "active" in listed

    push(srv, 'disk_used{instance="a"} 99\ndisk_used{instance="b"} 85\nnoise{instance="a"} 1\n')
    # The critical one arrives; the warning on the same instance is inhibited, the one on b is not.
    hooks.wait_for(lambda p, b: "DiskFullCritical" in json.dumps(b), GROUP_WAIT_S + EVAL_S + SLACK_S, "critical alert")
    hooks.wait_for(lambda p, b: "DiskFullWarning" in json.dumps(b), SLACK_S, "warning alert of instance b")
    wait_alert_state(srv, "Noisy", "firing", SLACK_S)
    time.sleep(GROUP_WAIT_S + 2 * EVAL_S)
    warnings = [a["labels"]["instance"] for a in webhook_alerts(hooks, "/hook", "DiskFullWarning", "firing")]
    assert warnings and set(warnings) == {"b"}, f"inhibited warning of instance a was sent: {warnings}"
    assert webhook_alerts(hooks, "/hook", "Noisy", "firing") == [], "silenced alert was sent"

    # The v2 API says why.
    r = requests.get(srv.url + "/api/v2/alerts", timeout=10)
    assert r.status_code == 200, r.text
    by_name = {(a["labels"]["alertname"], a["labels"].get("instance")): a["status"] for a in r.json()}
    assert by_name[("Noisy", "a")]["state"] == "suppressed" and by_name[("Noisy", "a")]["silencedBy"] == [silence_id]
    assert by_name[("DiskFullWarning", "a")]["inhibitedBy"], by_name
    assert by_name[("DiskFullWarning", "b")]["state"] == "active"

    # Expiring the silence lets the notification through.
    cli("silence", "expire", "--server", srv.url, silence_id)
    hooks.wait_for(lambda p, b: "Noisy" in json.dumps(b), GROUP_WAIT_S + EVAL_S + SLACK_S, "notification after expiry")
    assert "expired" in cli("silences", "--server", srv.url, "--all").stdout
    hooks.stop()


def test_restart_keeps_for_timer_and_does_not_repage(sightline, tmp_path):
    hooks = Receiver().start()
    am = {"route": route("hook"), "receivers": [{"name": "hook", "webhook_configs": [{"url": hooks.url("/hook")}]}]}
    rules = [{"alert": "SlowBurn", "expr": "errors > 5", "for": "8s"}]
    srv = alerting_server(sightline, tmp_path, rules, am).start()
    push(srv, 'errors{job="api"} 10\n')
    pending = wait_alert_state(srv, "SlowBurn", "pending", 3 * EVAL_S + SLACK_S)
    t_pending = time.monotonic()

    assert srv.stop_sigterm() == 0
    srv.start()
    # Right after the start the state file's pending alert is back, with its activeAt.
    restored = wait_alert_state(srv, "SlowBurn", "pending", 2 * EVAL_S + SLACK_S)
    assert restored["activeAt"] == pending["activeAt"], (restored, pending)
    firing = wait_alert_state(srv, "SlowBurn", "firing", 8 + SLACK_S)
    fired_after = time.monotonic() - t_pending
    assert firing["activeAt"] == pending["activeAt"]
    # A reset timer would fire 8s after the restart; the kept one fires 8s after it went pending.
    assert fired_after < 8 + 2 * EVAL_S + SLACK_S, f"fired {fired_after:.1f}s after pending"
    hooks.wait_for(lambda p, b: "SlowBurn" in json.dumps(b), GROUP_WAIT_S + SLACK_S, "firing notification")

    # A restart while firing does not page again.
    assert srv.stop_sigterm() == 0
    srv.start()
    wait_alert_state(srv, "SlowBurn", "firing", 2 * EVAL_S + SLACK_S)
    time.sleep(GROUP_WAIT_S + 3 * EVAL_S)
    assert len(webhook_alerts(hooks, "/hook", "SlowBurn", "firing")) == 1, hooks.bodies("/hook")
    hooks.stop()


def test_receiver_down_gets_every_notification_once_back(sightline, tmp_path):
    hooks = Receiver()  # not started: connection refused
    am = {"route": route("hook"), "receivers": [{"name": "hook", "webhook_configs": [{"url": hooks.url("/hook")}]}]}
    rules = [{"alert": "DownA", "expr": "a_metric > 0"}, {"alert": "DownB", "expr": "b_metric > 0"}]
    srv = alerting_server(sightline, tmp_path, rules, am).start()
    push(srv, "a_metric 1\nb_metric 1\n")
    wait_alert_state(srv, "DownA", "firing", 2 * EVAL_S + SLACK_S)
    wait_alert_state(srv, "DownB", "firing", 2 * EVAL_S + SLACK_S)
    time.sleep(8)  # the receiver stays down: attempts fail and are retried
    hooks.start()
    for name in ("DownA", "DownB"):
        hooks.wait_for(lambda p, b, n=name: n in json.dumps(b), 10, f"{name} after the receiver came back")
    time.sleep(3 * EVAL_S)
    for name in ("DownA", "DownB"):
        assert len(webhook_alerts(hooks, "/hook", name, "firing")) == 1, hooks.bodies("/hook")
    hooks.stop()


def test_reload_and_rules_api(sightline, tmp_path):
    am = {"route": route("none"), "receivers": [{"name": "none"}]}
    srv = alerting_server(sightline, tmp_path, [{"record": "job:up:sum", "expr": "sum(up_metric)"}], am).start()
    push(srv, "up_metric 1\n")
    deadline = time.monotonic() + 3 * EVAL_S + SLACK_S
    while time.monotonic() < deadline:
        r = requests.get(srv.url + "/api/v1/query", params={"query": "job:up:sum"}, timeout=10).json()
        if r["data"]["result"]:
            break
        time.sleep(0.2)
    assert r["data"]["result"][0]["value"][1] == "1", r

    write_rules(srv.rules_path, [{"alert": "Reloaded", "expr": "up_metric > 0"}])
    r = requests.post(srv.url + "/-/reload", timeout=10)
    assert r.status_code == 200, r.text
    wait_alert_state(srv, "Reloaded", "firing", 2 * EVAL_S + SLACK_S)
    rules = requests.get(srv.url + "/api/v1/rules", params={"type": "alert"}, timeout=10).json()
    assert [g["rules"][0]["name"] for g in rules["data"]["groups"]] == ["Reloaded"]
    assert rules["data"]["groups"][0]["rules"][0]["health"] == "ok"

    # A bad file is refused and the running rules stay.
    srv.rules_path.write_text("groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: 'sum(('\n")
    r = requests.post(srv.url + "/-/reload", timeout=10)
    assert r.status_code == 400 and "rules.yml: 5:" in r.text, r.text
    # SIGHUP reloads too.
    write_rules(srv.rules_path, [{"alert": "ViaSighup", "expr": "up_metric > 0"}])
    srv.proc.send_signal(__import__("signal").SIGHUP)
    wait_alert_state(srv, "ViaSighup", "firing", 2 * EVAL_S + SLACK_S)
    table = cli("alerts", "--server", srv.url).stdout
    assert "firing" in table and "ViaSighup" in table, table


def test_rules_check(tmp_path):
    good = write_rules(tmp_path / "good.yml", [
        {"alert": "A", "expr": "up == 0", "for": "5m", "annotations": {"summary": "{{ $labels.instance }} down"}},
        {"record": "job:x:rate5m", "expr": "sum by (job) (rate(x[5m]))"},
    ])
    proc = cli("rules", "check", str(good))
    assert "SUCCESS" in proc.stdout and "2 rules found" in proc.stdout, proc.stdout

    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: 'rate(x[5m]'\n"
                   "      - record: 'not a metric name'\n        expr: up\n")
    proc = cli("rules", "check", str(good), str(bad), check=False)
    assert proc.returncode == 1, proc
    output = proc.stdout + proc.stderr
    assert "FAILED" in output and f"{bad}: 5:" in output and f"{bad}: 6:" in output, output


# ---------------------------------------------------------------------------
# Compatibility with the real Prometheus 2.42 and Alertmanager 0.25
# ---------------------------------------------------------------------------
COMPAT_RULES = [
    {"alert": "HighLoad", "expr": "node_load > 2", "labels": {"severity": "warning"},
     "annotations": {"summary": "{{ $labels.instance }} load is {{ $value | humanize }}"}},
    {"alert": "HighLoadLong", "expr": "node_load > 2", "for": "1h"},
    {"alert": "Missing", "expr": "absent(nonexistent_metric)", "labels": {"team": "{{ 1 | printf \"%d\" }}"}},
    {"alert": "Never", "expr": "node_load > 100"},
    {"alert": "Ratio", "expr": "sum by (job) (node_load) / count by (job) (node_load) > 1",
     "annotations": {"pct": "{{ $value | humanizePercentage }}"}},
]


def normalized_alerts(doc: dict) -> list[tuple]:
    return sorted(
        (json.dumps(a["labels"], sort_keys=True), a["state"], json.dumps(a["annotations"], sort_keys=True), a["value"])
        for a in doc["data"]["alerts"])


def test_same_alerts_as_prometheus_and_forwarded_to_alertmanager(sightline, tmp_path):
    prom_port, am_port, am_cluster = free_ports(3)
    # The real Alertmanager receives what Sightline forwards.
    am_cfg = tmp_path / "real-alertmanager.yml"
    am_cfg.write_text(to_yaml({"route": {"receiver": "null"}, "receivers": [{"name": "null"}]}))
    real_am = Peer("alertmanager", [
        find_binary("prometheus-alertmanager", "SIGHTLINE_ALERTMANAGER_BIN"), f"--config.file={am_cfg}",
        f"--storage.path={tmp_path / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
        "--cluster.listen-address=",
    ], tmp_path).start()
    real_am.wait_http_ok(f"http://127.0.0.1:{am_port}/-/ready")

    rules_path = write_rules(tmp_path / "compat-rules.yml", COMPAT_RULES)
    prom = Prometheus(tmp_path, prom_port, {
        "global": {"evaluation_interval": "1s"},
        "rule_files": [str(rules_path)],
    }, extra_args=["--web.enable-remote-write-receiver"]).start()

    am = {"route": route("none"), "receivers": [{"name": "none"}]}
    srv = alerting_server(sightline, tmp_path, COMPAT_RULES, am, extra={"forward_to": [f"http://127.0.0.1:{am_port}"]})
    srv.start()

    # The same static samples to both, ending now: every later evaluation sees the same data (within 5m lookback).
    now_ms = int(time.time() * 1000)
    series = [
        Series({"__name__": "node_load", "instance": "a:9100", "job": "node"}, [(now_ms - 10_000, 1.5), (now_ms, 3.25)]),
        Series({"__name__": "node_load", "instance": "b:9100", "job": "node"}, [(now_ms - 10_000, 0.5), (now_ms, 0.75)]),
        Series({"__name__": "node_load", "instance": "c:9100", "job": "db"}, [(now_ms - 10_000, 4), (now_ms, 5.5)]),
    ]
    for target in (prom.url, srv.url):
        r = remote_write(target, series)
        assert r.status_code in (200, 204), f"{target}: {r.status_code} {r.text[:300]}"

    # Compare once both have evaluated the static data a few times: states cannot change any more.
    time.sleep(4 * EVAL_S)
    deadline = time.monotonic() + 20
    while True:
        ours = requests.get(srv.url + "/api/v1/alerts", timeout=10).json()
        theirs = requests.get(prom.url + "/api/v1/alerts", timeout=10).json()
        if normalized_alerts(ours) == normalized_alerts(theirs) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert normalized_alerts(ours) == normalized_alerts(theirs)
    states = {(json.loads(l)["alertname"], json.loads(l).get("instance", json.loads(l).get("job"))): s
              for l, s, _, _ in normalized_alerts(ours)}
    assert states[("HighLoad", "a:9100")] == "firing" and states[("HighLoadLong", "c:9100")] == "pending"
    assert ("Never", None) not in states and states[("Missing", None)] == "firing"

    # The ALERTS series agree too.
    at = f"{time.time():.3f}"
    q = {"query": "ALERTS", "time": at}
    ours_series = requests.get(srv.url + "/api/v1/query", params=q, timeout=10).json()["data"]["result"]
    theirs_series = requests.get(prom.url + "/api/v1/query", params=q, timeout=10).json()["data"]["result"]
    assert sorted(json.dumps(s["metric"], sort_keys=True) for s in ours_series) == \
        sorted(json.dumps(s["metric"], sort_keys=True) for s in theirs_series)

    # Alertmanager 0.25 accepted the forwarded alerts (firing ones; pending alerts are not sent).
    deadline = time.monotonic() + 10
    names: set = set()
    while time.monotonic() < deadline:
        got = requests.get(f"http://127.0.0.1:{am_port}/api/v2/alerts", timeout=10).json()
        names = {a["labels"]["alertname"] for a in got}
        if {"HighLoad", "Missing", "Ratio"} <= names:
            break
        time.sleep(0.3)
    assert {"HighLoad", "Missing", "Ratio"} <= names and "HighLoadLong" not in names, names
    prom.stop()
    real_am.stop()


def test_sns_publishes_signed_requests(sightline, tmp_path):
    """An `sns_configs` receiver pointed at a local endpoint (`api_url`) publishes with AWS Signature Version 4: the
    endpoint checks the signature as AWS does (Python's hmac, not Sightline's) and reads the Publish parameters."""
    hooks = Receiver().start()
    am = {"route": route("sns"), "receivers": [{"name": "sns", "sns_configs": [{
        "api_url": hooks.url("/"), "topic_arn": "arn:aws:sns:eu-west-1:123456789012:alerts",
        "sigv4": {"region": "eu-west-1", "access_key": "AKIDTEST", "secret_key": "test-secret"},
        "attributes": {"team": "ops"}}]}]}
    rules = [{"alert": "QueueTooLong", "expr": "queue_length > 10", "annotations": {"summary": "queue {{ $labels.queue }} is long"}}]
    srv = alerting_server(sightline, tmp_path, rules, am).start()
    push(srv, 'queue_length{queue="orders"} 42\n')
    _, body = hooks.wait_for(lambda p, b: p == "/" and "_raw" in b, GROUP_WAIT_S + EVAL_S + SLACK_S, "SNS publish")
    hooks.stop()
    form = dict(urllib.parse.parse_qsl(body["_raw"]))
    assert form["Action"] == "Publish" and form["Version"] == "2010-03-31", form
    assert form["TopicArn"] == "arn:aws:sns:eu-west-1:123456789012:alerts" and form["Subject"].startswith("[FIRING:1] QueueTooLong"), form
    assert "queue orders is long" in form["Message"] and "Alerts Firing:" in form["Message"], form
    assert form["MessageAttributes.entry.1.Name"] == "team" and form["MessageAttributes.entry.1.Value.StringValue"] == "ops", form

    headers = {name.lower(): value for name, value in body["_headers"].items()}
    match = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=AKIDTEST/(\d{8})/eu-west-1/sns/aws4_request, "
                         r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})", headers["authorization"])
    assert match, headers["authorization"]
    day, signed, signature = match.groups()
    assert signed == "content-type;host;x-amz-date" and headers["x-amz-date"].startswith(day), headers
    canonical = "\n".join([
        "POST", "/", "", "".join(f"{name}:{headers[name].strip()}\n" for name in signed.split(";")), signed,
        hashlib.sha256(body["_raw"].encode()).hexdigest()])
    scope = f"{day}/eu-west-1/sns/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", headers["x-amz-date"], scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = b"AWS4test-secret"
    for part in (day, "eu-west-1", "sns", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    assert hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest() == signature, (canonical, to_sign)


class FakeJira:
    """Enough of Jira's REST API v2 for Alertmanager's Jira integration: JQL search by label (honouring
    `statusCategory != Done`), issue create and update, and workflow transitions between "To Do" and "Done"."""

    def __init__(self):
        self.port = free_ports(1)[0]
        self.issues: dict[str, dict] = {}
        self.calls: list[tuple[str, str]] = []
        self.auth: set[str] = set()
        self.lock = threading.Lock()

    def start(self) -> "FakeJira":
        jira = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self, status: int, body: dict | None = None):
                raw = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def handle_any(self):  # noqa: C901 - one small router
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                path = self.path.removeprefix("/rest/api/2/")
                with jira.lock:
                    jira.calls.append((self.command, path))
                    jira.auth.add(self.headers.get("Authorization", ""))
                    if self.command == "POST" and path == "search":
                        label = re.search(r'labels="([^"]+)"', body["jql"]).group(1)
                        open_only = "statusCategory != Done" in body["jql"]
                        found = [{"key": key, "fields": {"status": {"statusCategory": {"key": issue["category"]}}}}
                                 for key, issue in sorted(jira.issues.items(), reverse=True)
                                 if label in issue["fields"]["labels"] and not (open_only and issue["category"] == "done")]
                        return self.answer(200, {"total": len(found), "issues": found[: body["maxResults"]]})
                    if self.command == "POST" and path == "issue":
                        key = f"OPS-{len(jira.issues) + 1}"
                        jira.issues[key] = {"fields": body["fields"], "category": "new", "updates": 0}
                        return self.answer(201, {"key": key})
                    match = re.fullmatch(r"issue/(OPS-\d+)(/transitions)?", path)
                    if match and match.group(1) in jira.issues:
                        issue = jira.issues[match.group(1)]
                        if self.command == "PUT" and not match.group(2):
                            issue["fields"] = body["fields"]
                            issue["updates"] += 1
                            return self.answer(204)
                        if self.command == "GET" and match.group(2):
                            return self.answer(200, {"transitions": [{"id": "11", "name": "To Do"}, {"id": "31", "name": "Done"}]})
                        if self.command == "POST" and match.group(2):
                            issue["category"] = {"31": "done", "11": "new"}[body["transition"]["id"]]
                            return self.answer(204)
                return self.answer(404, {"errorMessages": [f"no {self.command} {path}"]})

            do_GET = do_POST = do_PUT = handle_any  # noqa: N815 - http.server's naming

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self.issues):
                    return json.loads(json.dumps(self.issues))
            time.sleep(0.05)
        with self.lock:
            raise AssertionError(f"no {what} within {timeout:.1f}s; issues: {json.dumps(self.issues)[:2000]}; calls: {self.calls}")


def test_jira_issue_follows_the_alert_group(sightline, tmp_path):
    """A `jira_configs` receiver against a Jira-shaped API: a firing group creates one issue (summary, labels with the
    group's `ALERT{…}` label, priority from the severity, description), a later notification updates that issue rather
    than creating another, resolving moves it through the `Done` transition, and firing again opens a new one."""
    jira = FakeJira().start()
    am = {"route": route("jira", repeat_interval="2s"), "receivers": [{"name": "jira", "jira_configs": [{
        "api_url": f"http://127.0.0.1:{jira.port}/rest/api/2/", "project": "OPS", "issue_type": "Bug", "labels": ["sightline"],
        "resolve_transition": "Done", "fields": {"customfield_10001": {"value": "red"}, "customfield_10002": "{{ .CommonLabels.queue }}"},
        "http_config": {"basic_auth": {"username": "bot@example.com", "password": "pat"}}}]}]}
    rules = [{"alert": "QueueTooLong", "expr": "queue_length > 10", "labels": {"severity": "critical"},
              "annotations": {"summary": "queue {{ $labels.queue }} is long"}}]
    srv = alerting_server(sightline, tmp_path, rules, am).start()
    budget = GROUP_WAIT_S + EVAL_S + SLACK_S
    push(srv, 'queue_length{queue="orders"} 42\n')
    issues = jira.wait_for(lambda issues: "OPS-1" in issues, budget, "created issue")
    fields = issues["OPS-1"]["fields"]
    assert fields["project"] == {"key": "OPS"} and fields["issuetype"] == {"name": "Bug"}, fields
    assert fields["summary"].startswith("[FIRING:1] QueueTooLong"), fields
    assert fields["priority"] == {"name": "High"} and fields["customfield_10001"] == {"value": "red"} and fields["customfield_10002"] == "orders", fields
    assert "# Alerts Firing:" in fields["description"] and "queue = orders" in fields["description"], fields
    assert sorted(fields["labels"]) == fields["labels"] and "sightline" in fields["labels"], fields
    assert any(re.fullmatch(r"ALERT\{[0-9a-f]{64}\}", label) for label in fields["labels"]), fields
    # The repeat interval passes: the same issue is updated, no second one is created.
    jira.wait_for(lambda issues: issues["OPS-1"]["updates"] >= 1, 2 + budget, "updated issue")
    assert len(jira.issues) == 1
    # Resolved: updated once more and moved to Done.
    push(srv, 'queue_length{queue="orders"} 1\n')
    issues = jira.wait_for(lambda issues: issues["OPS-1"]["category"] == "done", 3 * EVAL_S + budget, "resolved issue")
    assert issues["OPS-1"]["fields"]["summary"].startswith("[RESOLVED] QueueTooLong"), issues
    # Firing again: the done issue is not reopened (no reopen_transition), a new one is created.
    push(srv, 'queue_length{queue="orders"} 50\n')
    jira.wait_for(lambda issues: "OPS-2" in issues, 3 * EVAL_S + budget, "second issue")
    jira.stop()
    expected_auth = "Basic " + base64.b64encode(b"bot@example.com:pat").decode()
    assert jira.auth == {expected_auth}, jira.auth


def test_wechat_fetches_a_token_and_sends(sightline, tmp_path):
    """A `wechat_configs` receiver against a WeChat Work-shaped API: one `gettoken` call for the corp id and secret, then
    `message/send` with that token, the recipients and the default message; an expired token (errcode 42001) is fetched
    again and the message retried."""
    port = free_ports(1)[0]
    calls: list[tuple[str, dict, dict]] = []
    tokens = iter(["T1", "T2", "T3"])
    state = {"expire_next": False}

    class Handler(BaseHTTPRequestHandler):
        def reply(self, body: dict):
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self):  # noqa: N802 - http.server's naming
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            calls.append((url.path, query, {}))
            self.reply({"errcode": 0, "access_token": next(tokens)} if query.get("corpsecret") == "shh" else {"errcode": 40001})

        def do_POST(self):  # noqa: N802
            url = urllib.parse.urlsplit(self.path)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls.append((url.path, dict(urllib.parse.parse_qsl(url.query)), body))
            if state["expire_next"]:
                state["expire_next"] = False
                return self.reply({"errcode": 42001, "errmsg": "access_token expired"})
            self.reply({"errcode": 0, "errmsg": "ok"})

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    am = {"global": {"wechat_api_url": f"http://127.0.0.1:{port}/cgi-bin/", "wechat_api_secret": "shh", "wechat_api_corp_id": "corp"},
          "route": route("wx"), "receivers": [{"name": "wx", "wechat_configs": [
              {"to_user": "@all", "agent_id": "1000002", "send_resolved": True}]}]}
    rules = [{"alert": "QueueTooLong", "expr": "queue_length > 10", "annotations": {"summary": "queue {{ $labels.queue }} is long"}}]
    srv = alerting_server(sightline, tmp_path, rules, am).start()
    budget = GROUP_WAIT_S + EVAL_S + SLACK_S

    def wait_for(predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"no {what} within {timeout:.1f}s; calls: {calls}")

    push(srv, 'queue_length{queue="orders"} 42\n')
    wait_for(lambda: any(path.endswith("/message/send") for path, _, _ in calls), budget, "WeChat message")
    assert calls[0][0] == "/cgi-bin/gettoken" and calls[0][1] == {"corpid": "corp", "corpsecret": "shh"}, calls
    path, query, body = calls[1]
    assert path == "/cgi-bin/message/send" and query == {"access_token": "T1"}, calls
    assert body["touser"] == "@all" and body["agentid"] == "1000002" and body["msgtype"] == "text" and body["safe"] == "0", body
    assert body["text"]["content"].startswith("[FIRING:1] QueueTooLong") and "queue orders is long" in body["text"]["content"], body
    # The token expires: the resolved notification gets 42001, a new token, and goes out again.
    state["expire_next"] = True
    push(srv, 'queue_length{queue="orders"} 1\n')
    wait_for(lambda: any(q.get("access_token") == "T2" for _, q, _ in calls), 3 * EVAL_S + budget + 2, "retry with a new token")
    sent = [(q, b) for p, q, b in calls if p.endswith("/message/send")]
    assert sent[-1][1]["text"]["content"].startswith("[RESOLVED] QueueTooLong"), sent
    assert [p for p, _, _ in calls].count("/cgi-bin/gettoken") == 2, calls
    server.shutdown()
    server.server_close()
