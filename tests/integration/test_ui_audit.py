"""The web UI's Audit page (js/pages/audit.js) against the demo server: the trail as /api/v1/audit/events gives it,
filters, cursor paging, export and the chain check. Every read of the trail is itself audited (audit.search, …), so
the expectations are computed with filters such reads do not match, or compared up to the newest event the page saw."""

from __future__ import annotations

import json
from urllib.parse import quote

import requests

from ui_demo import TOKEN, open_page

HEADERS = {"Authorization": f"Bearer {TOKEN}"}
ROWS = "[...document.querySelectorAll('tr.audit-event')].map(r => Number(r.dataset.seq))"


def api(demo, path: str, **params):
    r = requests.get(demo.url + path, headers=HEADERS, params=params, timeout=30)
    assert r.status_code == 200, f"{path}: HTTP {r.status_code}: {r.text[:300]}"
    return r


def all_events(demo, **filters) -> list[dict]:
    """Every matching event, newest first, walking the API's cursor."""
    events, cursor = [], None
    while True:
        page = api(demo, "/api/v1/audit/events", limit=1000, **filters, **({"cursor": cursor} if cursor else {})).json()
        events += page["events"]
        cursor = page["next_cursor"]
        if not cursor:
            return events


def wait_rows(browser, what: str = "the events table"):
    browser.wait_for("document.querySelector('#audit-results').dataset.state", what=what)


def test_table_shows_the_trail(browser, demo):
    open_page(browser, demo, "/audit?limit=1000")
    wait_rows(browser)
    shown = browser.eval(ROWS)
    # The page's own search is recorded after it answered; later API reads see it (and whatever was read before).
    expected = [e["seq"] for e in all_events(demo) if e["seq"] <= max(shown)]
    assert shown == expected[:1000]
    demo_rows = browser.eval("[...document.querySelectorAll('tr.audit-event')].filter(r => r.dataset.actor.startsWith('user-')).length")
    assert demo_rows == 30
    newer = [e for e in all_events(demo) if e["seq"] > max(shown)]
    assert newer and all(e["action"].startswith("audit.") for e in newer)
    assert browser.console_errors() == []

    # A row expands to the full event with its before/after.
    first = all_events(demo, action="invoice.update")[0]
    browser.click(f'tr.audit-event[data-seq="{first["seq"]}"] button.expand')
    browser.wait_for(f"!!document.querySelector('tr.audit-detail[data-seq=\"{first['seq']}\"]')", what="the event's details")
    before = browser.eval(f"document.querySelector('tr.audit-detail[data-seq=\"{first['seq']}\"] pre.before').textContent")
    after = browser.eval(f"document.querySelector('tr.audit-detail[data-seq=\"{first['seq']}\"] pre.after').textContent")
    assert json.loads(before) == first["before"] and json.loads(after) == first["after"]
    assert first["id"] in browser.text(f'tr.audit-detail[data-seq="{first["seq"]}"] dl.facts')
    browser.screenshot("audit-table")


def test_filters_by_action_and_outcome(browser, demo):
    open_page(browser, demo, "/audit")
    wait_rows(browser)
    browser.type("#audit-action", "invoice.*")
    browser.eval("(() => { const s = document.querySelector('#audit-outcome'); s.value = 'denied'; s.dispatchEvent(new Event('change')); })()")
    browser.key("Enter")
    expected = [e["seq"] for e in all_events(demo, action="invoice.*", outcome="denied")]
    assert expected
    compact = json.dumps(json.dumps(expected, separators=(",", ":")))
    browser.wait_for(f"JSON.stringify({ROWS}) === {compact}", what=f"the rows {expected}")
    outcomes = browser.eval("[...document.querySelectorAll('tr.audit-event')].map(r => r.dataset.outcome + ' ' + r.dataset.action)")
    assert set(outcomes) == {"denied invoice.update"}
    fragment = browser.eval("location.hash")
    assert "action=invoice.*" in fragment.replace("%2A", "*") and "outcome=denied" in fragment
    browser.screenshot("audit-filtered")

    # The URL reproduces the view.
    open_page(browser, demo, fragment[1:])
    wait_rows(browser)
    assert browser.eval(ROWS) == expected
    assert browser.eval("document.querySelector('#audit-action').value") == "invoice.*"
    assert browser.eval("document.querySelector('#audit-outcome').value") == "denied"
    assert browser.console_errors() == []


def test_paging_walks_every_page(browser, demo):
    expected = [e["seq"] for e in all_events(demo, action="invoice.update")]
    limit = 4
    pages = -(-len(expected) // limit)
    assert pages >= 3
    open_page(browser, demo, f"/audit?action=invoice.update&limit={limit}")
    wait_rows(browser)
    walked = [browser.eval(ROWS)]
    for n in range(2, pages + 1):
        browser.click("#audit-next")
        browser.wait_for(f"document.querySelector('#audit-results').dataset.page === '{n}'", what=f"page {n}")
        walked.append(browser.eval(ROWS))
    assert [s for page in walked for s in page] == expected
    assert all(len(page) == limit for page in walked[:-1])
    assert browser.eval("document.querySelector('#audit-next').disabled") is True
    assert "cursor=" in browser.eval("location.hash")
    browser.click("#audit-newer")
    browser.wait_for(f"document.querySelector('#audit-results').dataset.page === '{pages - 1}'", what="the newer page")
    assert browser.eval(ROWS) == walked[-2]
    assert browser.console_errors() == []


def test_export_and_verify(browser, demo):
    open_page(browser, demo, "/audit?action=invoice.update")
    wait_rows(browser)
    # Catch the blob dom.js download() hands to the browser.
    browser.eval("""(() => { window.__exports = []; const create = URL.createObjectURL;
        URL.createObjectURL = (blob) => { window.__exports.push(blob); return create.call(URL, blob); }; })()""")
    browser.click("#audit-export-csv")
    browser.wait_for("!!document.querySelector('#audit-export-done')", what="the CSV export")
    csv = browser.eval("window.__exports[0].text()")
    expected_csv = api(demo, "/api/v1/audit/export", format="csv", action="invoice.update").text
    assert csv == expected_csv
    assert browser.eval("document.querySelector('#audit-export-done').dataset.events") == str(len(all_events(demo, action="invoice.update")))
    browser.click("#audit-export-ndjson")
    browser.wait_for("document.querySelector('#audit-export-done')?.dataset.format === 'ndjson'", what="the NDJSON export")
    lines = [json.loads(line) for line in browser.eval("window.__exports[1].text()").splitlines()]
    assert [e["seq"] for e in lines] == [e["seq"] for e in all_events(demo, action="invoice.update")]

    browser.click("#audit-verify")
    browser.wait_for("document.querySelector('#audit-verify-result').dataset.ok", what="the chain check")
    assert browser.eval("document.querySelector('#audit-verify-result').dataset.ok") == "true"
    result = api(demo, "/api/v1/audit/verify").json()
    assert result["ok"] is True and result["first_broken"] is None
    assert "intact" in browser.text("#audit-verify-result")
    browser.click("#theme-toggle")
    browser.screenshot("audit-verify-dark")
    browser.click("#theme-toggle")  # back to light for the next tests' screenshots
    assert browser.console_errors() == []


def test_empty_result_and_bad_filter(browser, demo):
    open_page(browser, demo, "/audit")
    wait_rows(browser)
    browser.type("#audit-actor", "nobody-at-all")
    browser.key("Enter")
    browser.wait_for("!!document.querySelector('#audit-results [data-notice=\"empty\"]')", what="the empty notice")
    assert all_events(demo, actor="nobody-at-all") == []
    assert browser.count("tr.audit-event") == 0
    assert browser.console_errors() == []

    browser.type("#audit-actor", "")
    browser.type("#audit-start", "notatime")
    browser.key("Enter")
    browser.wait_for("!!document.querySelector('#audit-results [data-notice=\"error\"]')", what="the error notice")
    message = requests.get(demo.url + "/api/v1/audit/events", headers=HEADERS, params={"start": "notatime"}, timeout=30).json()["error"]
    assert browser.text("#audit-results [data-notice='error']") == message
    assert "start=notatime" in browser.eval("location.hash")
    # A bad relative time is caught in the page, before any request.
    browser.type("#audit-start", "now-banana")
    browser.key("Enter")
    browser.wait_for("document.querySelector('#audit-results [data-notice=\"error\"]')?.textContent.includes('now-banana')", what="the time error")
    browser.screenshot("audit-bad-filter")
    assert browser.console_errors(ignore=("status of 400",)) == []


def test_url_reproduces_a_page(browser, demo):
    expected = [e["seq"] for e in all_events(demo, action="transfer.create")]
    cursor = expected[4]
    open_page(browser, demo, f"/audit?action=transfer.create&limit=5&cursor={cursor}")
    wait_rows(browser)
    assert browser.eval(ROWS) == [s for s in expected if s < cursor][:5]
    browser.click("#audit-newer")
    newest = json.dumps(json.dumps(expected[:5], separators=(",", ":")))
    browser.wait_for(f"JSON.stringify({ROWS}) === {newest}", what="the newest page")
    assert "cursor=" not in browser.eval("location.hash")
    assert browser.console_errors() == []
