"""The web UI's Alerts page (js/pages/alerts.js) against the demo server: rule groups as /api/v1/rules gives them,
alerts as /api/v2/alerts/groups groups them, and a silence created from an alert, seen silenced, then expired."""

from __future__ import annotations

import json
import re
import time

import requests

from ui_demo import TOKEN, open_page

HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def api(demo, path: str, **params):
    r = requests.get(demo.url + path, headers=HEADERS, params=params, timeout=30)
    assert r.status_code == 200, f"{path}: HTTP {r.status_code}: {r.text[:300]}"
    return r.json()


def rules_by_name(demo) -> dict[str, dict]:
    groups = api(demo, "/api/v1/rules")["data"]["groups"]
    return {rule["name"]: rule for group in groups for rule in group["rules"]}


def wait_api(what, fn, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        assert time.monotonic() < deadline, f"waited {timeout:.0f}s for {what}"
        time.sleep(0.2)


def notifier_groups(demo) -> list[dict]:
    # The notifier receives the firing alerts after the first evaluations and its group_wait.
    return wait_api("the notifier's HostUp group", lambda: [g for g in api(demo, "/api/v2/alerts/groups") if g["alerts"]])


def loaded(browser) -> None:
    browser.wait_for("!!document.querySelector('.page-alerts')?.dataset.loaded", what="the alerts page to load")


def test_rules_tab_matches_the_rules_api(browser, demo):
    wait_api("HostUp firing", lambda: rules_by_name(demo).get("HostUp", {}).get("state") == "firing")
    expected = rules_by_name(demo)
    assert expected["HostUp"]["state"] == "firing" and expected["HighLoad"]["state"] == "pending"
    assert expected["NeverFires"]["state"] == "inactive"
    recording = [name for name, rule in expected.items() if rule["type"] == "recording"]
    assert recording == ["instance:node_load1:max"]

    open_page(browser, demo, "/alerts")
    loaded(browser)
    browser.wait_for(f"document.querySelectorAll('tr.rule').length === {len(expected)}", what="one row per rule")
    rows = browser.eval("""[...document.querySelectorAll('tr.rule')].map(r => ({name: r.dataset.rule, kind: r.dataset.kind,
        state: r.dataset.state, health: r.dataset.health, alerts: Number(r.dataset.alerts),
        badge: r.querySelector('td:nth-child(4) .badge')?.textContent || ''}))""")
    assert {r["name"] for r in rows} == set(expected)
    for row in rows:
        rule = expected[row["name"]]
        assert row["kind"] == rule["type"], row
        assert row["health"] == rule["health"], row
        if rule["type"] == "alerting":
            assert row["state"] == row["badge"] == rule["state"], row
            assert row["alerts"] == len(rule["alerts"]), row
        else:
            assert row["state"] == "" and row["badge"] == "", row
    assert browser.console_errors() == []

    # The firing rule's alerts, expanded.
    browser.click('tr.rule[data-rule="HostUp"] button.expand')
    browser.wait_for("!!document.querySelector('tr.rule-detail[data-rule=\"HostUp\"]')", what="HostUp's details")
    instances = browser.eval("""[...document.querySelectorAll('tr.rule-detail[data-rule="HostUp"] tr.rule-alert')]
        .map(r => r.querySelector('[data-label="instance"]').textContent)""")
    assert sorted(instances) == sorted(f'instance="{a["labels"]["instance"]}"' for a in expected["HostUp"]["alerts"])
    browser.screenshot("alerts-rules")

    # Filter by state: pending only, then the name text.
    browser.click('.state-filter button[data-state="pending"]')
    browser.wait_for("[...document.querySelectorAll('tr.rule')].map(r => r.dataset.rule).join() === 'HighLoad'", what="only HighLoad")
    assert "state=pending" in browser.eval("location.hash")
    browser.click('.state-filter button[data-state="pending"]')
    browser.type("#alerts-filter", "fires")
    browser.key("Enter")
    browser.wait_for("[...document.querySelectorAll('tr.rule')].map(r => r.dataset.rule).join() === 'NeverFires'", what="only NeverFires")
    assert "q=fires" in browser.eval("location.hash")
    browser.type("#alerts-filter", "no-such-rule")
    browser.key("Enter")
    browser.wait_for("!!document.querySelector('#alerts-body [data-notice=\"empty\"]')", what="the empty notice")
    assert browser.count("tr.rule") == 0

    # The URL reproduces a view.
    open_page(browser, demo, "/alerts?state=firing,inactive&q=e")
    loaded(browser)
    names = browser.eval("[...document.querySelectorAll('tr.rule')].map(r => r.dataset.rule)")
    want = [n for n, r in expected.items() if r["type"] == "alerting" and r["state"] in ("firing", "inactive") and "e" in n.lower()]
    assert sorted(names) == sorted(want) and want
    assert browser.eval("document.querySelector('#alerts-filter').value") == "e"
    assert browser.console_errors() == []


def test_alerts_tab_groups_as_the_notifier(browser, demo):
    groups = notifier_groups(demo)
    pending = [a for a in api(demo, "/api/v1/alerts")["data"]["alerts"] if a["state"] == "pending"]
    open_page(browser, demo, "/alerts?tab=alerts")
    loaded(browser)
    browser.wait_for("!!document.querySelector('section.alert-group')", what="the notifier's groups")
    shown = browser.eval("""[...document.querySelectorAll('section.alert-group')].map(s => ({receiver: s.dataset.receiver,
        labels: s.dataset.groupLabels, alerts: [...s.querySelectorAll('tr.am-alert')].map(r => r.dataset.fingerprint)}))""")
    assert len(shown) == len(groups)
    expected = sorted((g["receiver"]["name"], ",".join(sorted(f'{k}={json.dumps(v)}' for k, v in g["labels"].items())),
                       sorted(a["fingerprint"] for a in g["alerts"])) for g in groups)
    assert sorted((s["receiver"], s["labels"], sorted(s["alerts"])) for s in shown) == expected
    assert browser.count("tr.am-alert") == sum(len(g["alerts"]) for g in groups)
    assert browser.count("tr.pending-alert") == len(pending) > 0
    assert browser.eval("document.querySelector('[aria-selected=\"true\"]').dataset.tab") == "alerts"
    browser.screenshot("alerts-groups")
    assert browser.console_errors() == []


def test_silence_from_an_alert_then_expire(browser, demo):
    groups = notifier_groups(demo)
    target = next(a for g in groups for a in g["alerts"] if a["labels"]["alertname"] == "HostUp")
    open_page(browser, demo, "/alerts?tab=alerts")
    loaded(browser)
    row = f'tr.am-alert[data-fingerprint="{target["fingerprint"]}"]'
    browser.wait_for(f"!!document.querySelector('{row}')", what="the HostUp alert")
    browser.click(f"{row} button.silence-alert")
    browser.wait_for("!document.querySelector('#silence-form').closest('section').hidden", what="the silence form")
    assert browser.eval("document.querySelector('[aria-selected=\"true\"]').dataset.tab") == "silences"
    prefilled = browser.eval("document.querySelector('#silence-matchers').value")
    for name, value in target["labels"].items():
        assert f'{name}="{value}"' in prefilled
    browser.wait_for("document.querySelector('#silence-preview').dataset.matches === '1'", what="the preview to match one alert")

    # A regex matcher: the preview counts the alerts it matches.
    want = sum(1 for g in groups for a in g["alerts"]
               if a["labels"]["alertname"] == "HostUp" and re.fullmatch(r"node-000[01].*", a["labels"].get("instance", "")))
    browser.type("#silence-matchers", 'alertname="HostUp" instance=~"node-000[01].*"')
    browser.wait_for(f"document.querySelector('#silence-preview').dataset.matches === '{want}'", what=f"the preview to match {want}")

    browser.screenshot("alerts-silence-form")

    # A bad matcher is refused in the form with a message.
    browser.type("#silence-matchers", 'alertname=~"(" severity')
    browser.type("#silence-created-by", "ui-test")
    browser.type("#silence-comment", "maintenance")
    browser.key("Enter")
    browser.wait_for("!!document.querySelector('#silence-error [data-notice=\"error\"]')", what="the matcher error")
    before = {x["id"] for x in api(demo, "/api/v2/silences")}
    assert not any(x["createdBy"] == "ui-test" for x in api(demo, "/api/v2/silences"))

    browser.type("#silence-matchers", prefilled)
    browser.type("#silence-duration", "1h")
    browser.type("#silence-comment", "maintenance from the UI test")
    browser.key("Enter")
    created = browser.wait_for("document.querySelector('#alerts-messages [data-silence-id]')?.dataset.silenceId",
                               what="the page to report the new silence")
    browser.wait_for(f"!!document.querySelector('tr.silence[data-id=\"{created}\"]')", what="the new silence in the list")
    silences = [x for x in api(demo, "/api/v2/silences") if x["id"] not in before]
    assert [x["id"] for x in silences] == [created]
    silence = silences[0]
    assert silence["status"]["state"] == "active" and silence["createdBy"] == "ui-test"
    assert silence["comment"] == "maintenance from the UI test"
    assert {m["name"]: m["value"] for m in silence["matchers"]} == target["labels"]
    assert all(m["isEqual"] and not m["isRegex"] for m in silence["matchers"])
    assert browser.eval(f"document.querySelector('tr.silence[data-id=\"{silence['id']}\"]').dataset.state") == "active"
    browser.screenshot("alerts-silence-created")

    # The alert shows as silenced (after the notifier applies it).
    wait_api("the alert to be silenced", lambda: any(
        a["fingerprint"] == target["fingerprint"] and silence["id"] in a["status"]["silencedBy"]
        for g in api(demo, "/api/v2/alerts/groups") for a in g["alerts"]))
    browser.click('button[data-tab="alerts"]')
    browser.wait_for(f"""(() => {{ const r = document.querySelector('{row}');
        if (r && r.dataset.silenced === 'true') return true; document.querySelector('#alerts-refresh').click(); return false; }})()""",
                     what="the alert row to show as silenced")
    assert browser.eval(f"document.querySelector('{row} .badge').textContent") == "silenced"
    browser.screenshot("alerts-silenced")
    others = browser.eval(f"""[...document.querySelectorAll('tr.am-alert:not([data-fingerprint="{target["fingerprint"]}"])')]
        .map(r => r.dataset.silenced)""")
    assert others and set(others) == {"false"}

    # Expire it through the UI.
    browser.click('button[data-tab="silences"]')
    browser.click(f'tr.silence[data-id="{silence["id"]}"] button.expire')
    wait_api("the silence to expire", lambda: api(demo, f"/api/v2/silence/{silence['id']}")["status"]["state"] == "expired")
    browser.wait_for(f"!document.querySelector('tr.silence[data-id=\"{silence['id']}\"]')", what="the expired silence to leave the list")
    browser.click("#silences-show-expired")
    browser.wait_for(f"!!document.querySelector('tr.silence[data-id=\"{silence['id']}\"][data-state=\"expired\"]')", what="the expired silence")
    assert "show=all" in browser.eval("location.hash")
    browser.click("#theme-toggle")
    browser.screenshot("alerts-silences-dark")
    browser.click("#theme-toggle")  # back to light for the next tests' screenshots
    assert browser.console_errors() == []
