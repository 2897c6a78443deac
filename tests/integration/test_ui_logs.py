"""The web UI's Logs page (issue #10) in a real headless Chromium against the demo server (ui_demo.py): LogQL typed as a
person would, highlighted line-filter matches, the histogram (its total against the API, brushing to zoom), trace
links, expandable details with structured metadata, the polling live tail, 10,000 lines, notices for empty results
and errors, metric queries, the URL state and the dark theme. Expectations come from the server's own API answers."""

from __future__ import annotations

import json
import time
import urllib.parse
from datetime import datetime

import pytest
import requests

from conftest import wait_until
from ui_demo import TOKEN, open_page

pytestmark = pytest.mark.usefixtures("demo")

AUTH = {"Authorization": f"Bearer {TOKEN}"}
NEEDLE_QUERY = '{service="payments"} |= "checksum mismatch"'


def loki(demo, path: str, **params) -> dict:
    r = requests.get(demo.url + path, params=params, headers=AUTH, timeout=30)
    assert r.status_code == 200, f"{path}: HTTP {r.status_code}: {r.text[:300]}"
    return r.json()


def api_lines(demo, query: str, start_ms: int, end_ms: int, limit: int = 5000) -> list[tuple[str, str]]:
    """The (ns, line) pairs of `query` over (start, end], newest first, as the API gives them."""
    body = loki(demo, "/loki/api/v1/query_range", query=query, start=str(start_ms * 10**6 + 1),
                end=str(end_ms * 10**6 + 1), limit=str(limit), direction="backward")
    assert body["data"]["resultType"] == "streams"
    pairs = [(ns, line) for s in body["data"]["result"] for ns, line in s["values"]]
    return sorted(pairs, key=lambda p: int(p[0]), reverse=True)


def api_count(demo, query: str, start_ms: int, end_ms: int) -> int:
    """How many lines of `query` fall in (start, end], by an instant count_over_time at `end`."""
    body = loki(demo, "/loki/api/v1/query", query=f"sum(count_over_time({query}[{end_ms - start_ms}ms]))",
                time=str(end_ms * 10**6))
    result = body["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def push(demo, service: str, entries: list[tuple[int, str, dict]]) -> None:
    doc = {"streams": [{"stream": {"service": service, "host": "ui-test", "level": "info"},
                        "values": [[str(ns), line, meta] for ns, line, meta in entries]}]}
    r = requests.post(demo.url + "/loki/api/v1/push", json=doc, headers=AUTH, timeout=60)
    assert r.status_code == 204, r.text


def runs(browser) -> int:
    return int(browser.eval("Number(document.querySelector('.page-logs')?.dataset.runs || 0)"))


def wait_run(browser, before: int, timeout: float = 30) -> None:
    browser.wait_for(f"Number(document.querySelector('.page-logs')?.dataset.runs || 0) > {before}"
                     " && document.querySelector('.page-logs').dataset.state === 'done'", timeout=timeout, what="the query run")


def open_logs(browser, demo, **params) -> None:
    open_page(browser, demo, "/logs?" + urllib.parse.urlencode(params))
    wait_run(browser, 0)


def run_query(browser, text: str) -> None:
    before = runs(browser)
    browser.type("#logs-query", text)
    browser.key("Enter")
    wait_run(browser, before)


def reload(browser) -> None:
    """Reloads the page (same URL) and waits for the load event and the page's first run."""
    browser.reload()
    wait_run(browser, 0)


def status(browser) -> dict:
    return browser.eval("({...document.querySelector('#logs-status').dataset,"
                        " text: document.querySelector('#logs-status').textContent})")


def hist(browser) -> dict:
    return browser.eval("({...document.querySelector('#logs-histogram .chart').dataset})")


def url_params(browser) -> dict:
    fragment = browser.eval("location.hash")
    return dict(urllib.parse.parse_qsl(fragment.split("?", 1)[1])) if "?" in fragment else {}


def iso_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def test_needle_query_shows_exactly_the_api_lines_highlighted(browser, demo):
    open_page(browser, demo, "/logs")
    wait_run(browser, 0)
    assert browser.eval("document.querySelector('#logs-query').value") == '{service=~".+"}'
    assert browser.count(".log-row") > 0
    assert browser.console_errors() == []

    run_query(browser, NEEDLE_QUERY)
    h = hist(browser)
    expected = api_lines(demo, NEEDLE_QUERY, int(h["startMs"]), int(h["endMs"]))
    assert expected, "the demo data has needle lines"
    assert all("checksum mismatch" in line for _, line in expected)
    rows = browser.eval("[...document.querySelectorAll('#logs-list .log-row')].map(r => ["
                        " r.dataset.ns, r.querySelector('.log-line').textContent,"
                        " [...r.querySelectorAll('.log-line mark')].map(m => m.textContent)])")
    assert [(ns, line) for ns, line, _ in rows] == expected  # the same lines, newest first
    assert all(marks == ["checksum mismatch"] for _, _, marks in rows)
    s = status(browser)
    assert s["shown"] == str(len(expected)) and s["limitHit"] == "false"
    assert f"showing {len(expected)} line" in s["text"]
    assert h["total"] == str(len(expected))
    assert url_params(browser)["query"] == NEEDLE_QUERY
    browser.screenshot("logs-needle")
    assert browser.console_errors() == []


def test_histogram_total_matches_the_api_and_brushing_zooms(browser, demo):
    query = '{service=~".+"}'
    open_logs(browser, demo, query=query, **{"from": "now-1h", "to": "now", "limit": "1000"})
    h = hist(browser)
    start, end = int(h["startMs"]), int(h["endMs"])
    total = api_count(demo, query, start, end)
    assert total >= demo.log_count
    assert int(h["total"]) == total
    assert 95 <= round((end - start) / int(h["stepMs"])) <= 100
    s = status(browser)
    assert s["shown"] == "1000" and s["limitHit"] == "true" and s["total"] == str(total)
    assert browser.count("[data-limit-hit='true'].limit-note") == 1

    # Drag across the part of the histogram that holds the demo's lines: from 200 s to 100 s before its end.
    box = browser.box("#logs-histogram .chart")
    left, right = box["left"] + 64, box["left"] + box["width"] - 12
    x_of = lambda t: left + (t - start) / (end - start) * (right - left)  # noqa: E731
    t1, t2 = demo.end_ms - 200_000, demo.end_ms - 100_000
    y = box["top"] + box["height"] / 2
    before = runs(browser)
    browser.drag(x_of(t1), y, x_of(t2), y)
    wait_run(browser, before)
    params = url_params(browser)
    px_ms = (end - start) / (right - left)
    assert abs(iso_ms(params["from"]) - t1) <= 2 * px_ms and abs(iso_ms(params["to"]) - t2) <= 2 * px_ms
    assert params["query"] == query
    assert browser.eval("document.querySelector('.timerange input[aria-label=From]').value") == params["from"]

    h2 = hist(browser)
    start2, end2 = int(h2["startMs"]), int(h2["endMs"])
    assert end2 == iso_ms(params["to"]) and iso_ms(params["from"]) - 100 < start2 <= iso_ms(params["from"])
    total2 = api_count(demo, query, start2, end2)
    assert 0 < total2 < total and int(h2["total"]) == total2
    expected = api_lines(demo, query, start2, end2, limit=1000)
    rows = browser.eval("[...document.querySelectorAll('#logs-list .log-row')].map(r => r.dataset.ns)")
    assert rows == [ns for ns, _ in expected]
    assert all(start2 * 10**6 < int(ns) <= end2 * 10**6 for ns in rows)
    browser.screenshot("logs-brushed")
    assert browser.console_errors() == []


def test_trace_link_and_details_with_structured_metadata(browser, demo):
    trace = demo.logged_trace_id
    open_logs(browser, demo, query=f'{{service=~".+"}} |= "trace_id={trace}"', **{"from": "now-1h"})
    assert browser.count(".log-row") == 1
    link = f"#logs-list .log-row a.trace-link[data-trace-id='{trace}']"
    assert browser.eval(f"document.querySelector(\"{link}\").getAttribute('href')") == f"#/traces/{trace}"
    # Details are built on expand: every label, stream labels and structured metadata told apart.
    assert browser.count(".log-details") == 0
    browser.click("#logs-list .log-row .log-time")
    browser.wait_for("!!document.querySelector('.log-details')")
    kinds = browser.eval("Object.fromEntries([...document.querySelectorAll('.log-details tr[data-label]')]"
                         ".map(r => [r.dataset.label, r.dataset.kind]))")
    assert kinds["service"] == "stream" and kinds["host"] == "stream" and kinds["trace_id"] == "metadata"
    assert browser.count(f".log-details a[href='#/traces/{trace}']") == 1
    browser.screenshot("logs-details")
    assert browser.console_errors() == []
    browser.click(link)
    browser.wait_for(f"location.hash.startsWith('#/traces/{trace}')")


def test_live_tail_shows_a_pushed_line(browser, demo):
    service = "ui-logs-live"
    open_logs(browser, demo, query=f'{{service="{service}"}}', **{"from": "now-15m"})
    assert browser.count("[data-notice='empty']") == 1
    browser.click("#logs-live")
    browser.wait_for("document.querySelector('#logs-status').dataset.live === 'true'")
    assert url_params(browser).get("live") == "1"
    browser.pump(0.3)
    text = f"live line {time.time_ns()}"
    push(demo, service, [(time.time_ns(), text, {})])
    browser.wait_for(f"[...document.querySelectorAll('.log-line')].some(e => e.textContent === {json.dumps(text)})",
                     timeout=15, what="the pushed line")
    assert browser.count("[data-notice='empty']") == 0
    text2 = f"second live line {time.time_ns()}"
    push(demo, service, [(time.time_ns(), text2, {})])
    browser.wait_for(f"document.querySelector('.log-row .log-line').textContent === {json.dumps(text2)}",
                     timeout=15, what="the second line on top")
    assert browser.count(".log-row") == 2
    assert status(browser)["shown"] == "2"
    # The URL keeps the live tail on across a reload.
    reload(browser)
    browser.wait_for("document.querySelector('#logs-status').dataset.live === 'true'")
    assert browser.eval("document.querySelector('#logs-live').getAttribute('aria-pressed')") == "true"
    assert browser.count(".log-row") == 2
    browser.click("#logs-live")
    assert "live" not in url_params(browser)
    assert browser.eval("document.querySelector('#logs-live').getAttribute('aria-pressed')") == "false"
    assert browser.console_errors() == []


def test_rows_show_the_detected_level(browser, demo):
    """Lines of a stream without a level label get theirs from the server's detected_level (as Loki stores it)."""
    app = "ui-logs-levels"  # not a `service` stream: other tests count those by level
    now = time.time_ns()
    doc = {"streams": [{"stream": {"app": app, "host": "ui-test"},
                        "values": [[str(now - 2_000_000_000), "ERROR: disk full"], [str(now - 1_000_000_000), "all fine here"]]}]}
    r = requests.post(demo.url + "/loki/api/v1/push", json=doc, headers=AUTH, timeout=60)
    assert r.status_code == 204, r.text
    wait_until("both lines visible", lambda: api_count(demo, f'{{app="{app}"}}', now // 10**6 - 60_000, now // 10**6 + 1000) == 2)
    open_logs(browser, demo, query=f'{{app="{app}"}}', **{"from": "now-15m"})
    levels = browser.eval("[...document.querySelectorAll('#logs-list .log-row')].map(r => r.dataset.level || '')")
    assert levels == ["unknown", "error"]
    assert browser.console_errors() == []


def test_empty_result_error_and_bad_input_notices(browser, demo):
    open_logs(browser, demo, query='{service="no-such-service"}', **{"from": "now-1h"})
    assert browser.count("[data-notice='empty']") == 1
    assert browser.count(".log-row") == 0
    assert browser.console_errors() == []

    bad = '{service="payments"'
    r = requests.get(demo.url + "/loki/api/v1/query_range", params={"query": bad}, headers=AUTH, timeout=30)
    assert r.status_code == 400
    run_query(browser, bad)
    assert browser.count("[data-notice='error']") == 1
    assert r.text.strip() in browser.text("[data-notice='error']")
    assert browser.count(".log-row") == 0
    browser.screenshot("logs-error")

    # Bad input in the controls: told clearly, no exception.
    run_query(browser, NEEDLE_QUERY)
    before = runs(browser)
    browser.type("#logs-limit", "0")
    browser.key("Enter")
    wait_run(browser, before)
    assert "limit must be" in browser.text("[data-notice='error']")
    browser.type("#logs-limit", "100")
    before = runs(browser)
    browser.type(".timerange input[aria-label=From]", "yesterday-ish")
    browser.key("Enter")
    wait_run(browser, before)
    assert "not a time" in browser.text("[data-notice='error']")
    assert browser.console_errors(ignore=("Failed to load resource: the server responded with a status of 400",)) == []


def test_metric_query_shows_a_chart_and_table(browser, demo):
    query = 'sum by (level) (count_over_time({service=~".+"}[1m]))'
    open_logs(browser, demo, query=query, **{"from": "now-1h"})
    body = loki(demo, "/loki/api/v1/query", query='sum by (level) (count_over_time({service=~".+"}[1h]))')
    levels = {s["metric"]["level"] for s in body["data"]["result"]}
    assert browser.eval("document.querySelector('#logs-metric').hidden") is False
    assert browser.eval("document.querySelector('#logs-histogram').hidden") is True
    assert browser.eval("document.querySelector('#logs-metric').dataset.series") == str(len(levels))
    names = browser.texts("#logs-metric .metric-table tbody td:first-child")
    assert sorted(names) == sorted(f'{{level="{lv}"}}' for lv in levels)
    assert browser.eval("document.querySelector('#logs-live').disabled") is True
    assert browser.console_errors() == []


def test_url_reproduces_the_view_after_reload(browser, demo):
    start = demo.end_ms - 240_000
    end = demo.end_ms - 30_000
    params = {"query": '{service="gateway"} |~ "GET|POST"',
              "from": datetime.utcfromtimestamp(start / 1000).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
              "to": datetime.utcfromtimestamp(end / 1000).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "limit": "50"}
    open_logs(browser, demo, **params)
    first = browser.eval("[...document.querySelectorAll('.log-row')].map(r => r.dataset.ns)")
    assert len(first) == 50
    assert browser.count(".log-row mark") >= 50
    reload(browser)
    assert browser.eval("document.querySelector('#logs-query').value") == params["query"]
    assert browser.eval("document.querySelector('#logs-limit').value") == "50"
    assert browser.eval("document.querySelector('.timerange input[aria-label=From]').value") == params["from"]
    assert browser.eval("[...document.querySelectorAll('.log-row')].map(r => r.dataset.ns)") == first
    assert browser.console_errors() == []


def test_ten_thousand_lines_render_and_dark_theme(browser, demo):
    service = "ui-logs-bulk"
    now = time.time_ns()
    entries = [(now - 120 * 10**9 + i * 10**7, f'bulk line {i} status=200 trace_id={i:032x}', {"seq": str(i)})
               for i in range(10_000)]
    for chunk in range(0, len(entries), 2500):
        push(demo, service, entries[chunk:chunk + 2500])
    open_page(browser, demo, "/logs?" + urllib.parse.urlencode({"query": f'{{service="{service}"}} |= "status=200"',
                                                                "from": "now-1h", "limit": "10000"}))
    wait_run(browser, 0, timeout=60)
    assert browser.count(".log-row") == 10_000
    s = status(browser)
    assert s["shown"] == "10000" and s["limitHit"] == "true" and s["total"] == "10000"
    assert browser.eval("document.querySelector('#logs-list .log-line').textContent") == entries[-1][1]
    # Responsive: a frame comes quickly after the render (information only, not asserted).
    frame_ms = browser.eval("new Promise(r => { const t = performance.now(); requestAnimationFrame(() => r(performance.now() - t)); })")
    timing = browser.eval("({...document.querySelector('#logs-list').dataset})")
    print(f"10,000 lines: queries + render {timing['renderMs']} ms, rows built in {timing['domMs']} ms,"
          f" next frame after {frame_ms:.1f} ms")
    assert browser.count(".log-details") == 0
    browser.click("#logs-list .log-row:nth-child(3) .log-time")
    browser.wait_for("!!document.querySelector('.log-details tr[data-label=seq]')")
    browser.click("#theme-toggle")
    assert browser.eval("document.documentElement.dataset.theme") == "dark"
    browser.screenshot("logs-10k-dark")
    browser.click("#theme-toggle")  # the theme is kept per origin: leave it light for the other pages' tests
    assert browser.console_errors() == []
