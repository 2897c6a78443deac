"""The web UI's Traces page (js/pages/traces.js) against the demo server: search, waterfall, span details, the trace's
log lines, the service map, empty and error states, and that the URL reproduces a view. Expectations come from the
Jaeger API itself (requests), never from numbers written here."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

import requests

from ui_demo import TOKEN, open_page

HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def api(demo, path: str, **params):
    r = requests.get(demo.url + path, params=params, headers=HEADERS, timeout=30)
    assert r.status_code == 200, f"{path}: HTTP {r.status_code} {r.text[:300]}"
    return r.json()["data"]


def is_error_span(span: dict) -> bool:
    tags = {t["key"]: t["value"] for t in span["tags"]}
    return tags.get("error") in (True, "true") or tags.get("otel.status_code") == "ERROR"


def hash_params(browser) -> tuple[list[str], dict[str, str]]:
    fragment = browser.eval("location.hash").lstrip("#/")
    path, _, query = fragment.partition("?")
    return path.split("/"), {k: v[0] for k, v in parse_qs(query).items()}


def wait_results(browser):
    browser.wait_for("!!document.querySelector('#trace-results .tr-result[data-trace-id], #trace-results [data-notice]')"
                     " && !document.querySelector('#trace-results[aria-busy]')", what="search results")


def choose_service(browser, service: str):
    browser.wait_for(f"[...document.querySelectorAll('#trace-service option')].some(o => o.value === {json.dumps(service)})",
                     what="the service list")
    browser.eval(f"(() => {{ const s = document.querySelector('#trace-service'); s.focus(); s.value = {json.dumps(service)};"
                 " s.dispatchEvent(new Event('change', {bubbles: true})); })()")


def test_search_lists_the_apis_traces_sorts_and_url_reproduces(browser, demo):
    open_page(browser, demo, "/traces")
    choose_service(browser, "frontend")
    browser.type("#trace-limit", "25")
    browser.key("Enter")
    wait_results(browser)
    rest, params = hash_params(browser)
    assert rest == ["traces"] and params["service"] == "frontend" and params["limit"] == "25"
    now_us = int(time.time() * 1e6)
    expected = api(demo, "/api/traces", service="frontend", limit=params["limit"], start=now_us - 3_600_000_000, end=now_us)
    ids = browser.eval("[...document.querySelectorAll('#trace-results .tr-result[data-trace-id]')].map(e => e.dataset.traceId)")
    assert len(ids) == len(expected) > 0
    assert sorted(ids) == sorted(t["traceID"] for t in expected)
    # Most recent first, spans and errors as the API says.
    starts = browser.eval("[...document.querySelectorAll('.tr-result[data-trace-id]')].map(e => +e.dataset.start)")
    assert starts == sorted(starts, reverse=True)
    by_id = {t["traceID"]: t for t in expected}
    rows = browser.eval("[...document.querySelectorAll('.tr-result[data-trace-id]')].map(e => [e.dataset.traceId, +e.dataset.spans, +e.dataset.errors])")
    for tid, spans, errors in rows:
        assert spans == len(by_id[tid]["spans"])
        assert errors == sum(is_error_span(s) for s in by_id[tid]["spans"])
    assert browser.count(".tr-result .tr-error-count") == sum(1 for _, _, e in rows if e)
    browser.screenshot("traces-search")

    # Longest first: durations fall, the first bar is the full width.
    browser.eval("(() => { const s = document.querySelector('#trace-sort'); s.value = 'longest'; s.dispatchEvent(new Event('change')); })()")
    durations = browser.eval("[...document.querySelectorAll('.tr-result[data-trace-id]')].map(e => +e.dataset.duration)")
    assert durations == sorted(durations, reverse=True)
    widths = browser.eval("[...document.querySelectorAll('.tr-result[data-trace-id] .tr-dur-bar')].map(e => e.style.width)")
    assert widths[0] == "100%"
    assert hash_params(browser)[1]["sort"] == "longest"

    # The URL reproduces the view in a fresh load.
    fragment = browser.eval("location.hash")[1:]
    open_page(browser, demo, fragment)
    wait_results(browser)
    assert browser.eval("document.querySelector('#trace-service').value") == "frontend"
    assert browser.eval("document.querySelector('#trace-limit').value") == "25"
    assert browser.eval("document.querySelector('#trace-sort').value") == "longest"
    again = browser.eval("[...document.querySelectorAll('.tr-result[data-trace-id]')].map(e => e.dataset.traceId)")
    assert sorted(again) == sorted(ids)
    assert browser.eval("[...document.querySelectorAll('.tr-result[data-trace-id]')].map(e => +e.dataset.duration)") == durations

    # Clicking a row opens its trace.
    first = again[0]
    browser.click(f".tr-result[data-trace-id='{first}']")
    browser.wait_for("!!document.querySelector('#trace-waterfall .tr-span-row')", what="the waterfall")
    assert hash_params(browser)[0] == ["traces", first]
    assert browser.console_errors() == []


def test_waterfall_rows_details_and_logs_of_the_trace(browser, demo):
    tid = demo.logged_trace_id
    trace = api(demo, f"/api/traces/{tid}")[0]
    open_page(browser, demo, f"/traces/{tid}")
    browser.wait_for("!!document.querySelector('#trace-waterfall .tr-span-row')", what="the waterfall")
    assert browser.count("#trace-waterfall .tr-span-row") == len(trace["spans"])
    assert sorted(browser.eval("[...document.querySelectorAll('.tr-span-row')].map(e => e.dataset.spanId)")) == \
        sorted(s["spanID"] for s in trace["spans"])
    # The root comes first, children are indented below their parent.
    roots = [s for s in trace["spans"] if not any(r["refType"] == "CHILD_OF" for r in s["references"])]
    assert browser.eval("document.querySelector('.tr-span-row').dataset.spanId") in {s["spanID"] for s in roots}
    assert browser.eval("document.querySelector('.tr-span-row').dataset.depth") == "0"

    # Span details on click: ids, tags, process.
    span = next(s for s in trace["spans"] if s["references"])
    browser.click(f".tr-span-row[data-span-id='{span['spanID']}'] .tr-op")
    browser.wait_for(f"!!document.querySelector(\".tr-span-detail[data-span-id='{span['spanID']}']\")", what="the span's details")
    detail = browser.text(f".tr-span-detail[data-span-id='{span['spanID']}']")
    assert span["spanID"] in detail and span["references"][0]["spanID"] in detail and span["operationName"] in detail
    assert all(t["key"] in detail for t in span["tags"])
    assert trace["processes"][span["processID"]]["serviceName"] in detail

    # Collapse the root: only it stays visible; expand all brings the rest back.
    browser.click(".tr-span-row[data-depth='0'] .tr-toggle")
    visible = "[...document.querySelectorAll('.tr-span-row')].filter(e => !e.hidden).length"
    assert browser.eval(visible) == len(roots)
    browser.click("#trace-expand-all")
    assert browser.eval(visible) == len(trace["spans"])

    # Logs of this trace: the demo's line naming the trace, and a link to the Logs page with that query.
    browser.wait_for("!!document.querySelector('#trace-logs .tr-log-line, #trace-logs [data-notice]')", what="the trace's logs")
    assert f"checkout finished trace_id={tid}" in browser.texts("#trace-logs .tr-log-line")[0]
    href = browser.eval("document.querySelector('#trace-logs-link').getAttribute('href')")
    assert href.startswith("#/logs?")
    link = parse_qs(urlsplit(href[2:]).query)
    assert tid in link["query"][0] and link["from"] and link["to"]
    # The query is valid LogQL that finds the line through the Loki API as well.
    r = requests.get(demo.url + "/loki/api/v1/query_range", headers=HEADERS, timeout=30, params={
        "query": link["query"][0], "start": link["from"][0], "end": link["to"][0]})
    assert r.status_code == 200, r.text
    assert any(tid in v[1] for s in r.json()["data"]["result"] for v in s["values"])
    browser.screenshot("traces-waterfall")
    assert browser.console_errors() == []


def test_error_trace_marks_its_error_spans_in_dark_theme(browser, demo):
    tid = demo.error_trace_ids[0]
    trace = api(demo, f"/api/traces/{tid}")[0]
    errors = {s["spanID"] for s in trace["spans"] if is_error_span(s)}
    assert errors
    open_page(browser, demo, f"/traces/{tid}")
    browser.wait_for("!!document.querySelector('#trace-waterfall .tr-span-row')", what="the waterfall")
    assert browser.count(".tr-span-row") == len(trace["spans"])
    marked = browser.eval("[...document.querySelectorAll('.tr-span-row.error')].map(e => e.dataset.spanId)")
    assert set(marked) == errors and len(marked) == len(errors)
    assert browser.count(".tr-span-row.error .tr-error-icon") == len(errors)
    browser.click("#theme-toggle")
    browser.click(f".tr-span-row.error[data-span-id='{marked[-1]}'] .tr-op")
    browser.wait_for("!!document.querySelector('.tr-span-detail.error')", what="the error span's details")
    assert "ERROR" in browser.text(".tr-span-detail.error")
    browser.screenshot("traces-error-dark")
    browser.click("#theme-toggle")
    assert browser.console_errors() == []


def test_service_map_draws_the_dependencies(browser, demo):
    open_page(browser, demo, "/traces/map?from=now-1h&to=now")
    browser.wait_for("!!document.querySelector('#service-map .tr-map-node, #service-map [data-notice]')", what="the map")
    now_ms = int(time.time() * 1000)
    links = api(demo, "/api/dependencies", endTs=now_ms, lookback=3_600_000)
    assert links
    services = {l["parent"] for l in links} | {l["child"] for l in links}
    assert set(browser.eval("[...document.querySelectorAll('.tr-map-node')].map(e => e.dataset.service)")) == services
    assert browser.count(".tr-map-node") == len(services)
    edges = browser.eval("[...document.querySelectorAll('.tr-map-edge')].map(e => [e.dataset.parent, e.dataset.child, +e.dataset.calls])")
    assert sorted(map(tuple, edges)) == sorted((l["parent"], l["child"], l["callCount"]) for l in links)
    # Layered by call depth: every caller sits left of the service it calls (no cycles in the demo).
    xs = browser.eval("Object.fromEntries([...document.querySelectorAll('.tr-map-node')].map(e => [e.dataset.service, +e.querySelector('rect').getAttribute('x')]))")
    assert all(xs[l["parent"]] < xs[l["child"]] for l in links)
    browser.click("#theme-toggle")
    browser.screenshot("traces-map-dark")
    browser.click("#theme-toggle")
    browser.screenshot("traces-map")
    assert browser.console_errors() == []


def test_unknown_trace_empty_search_and_bad_duration(browser, demo):
    # An unknown trace id typed into "Find by trace ID".
    unknown = "0123456789abcdef0123456789abcdef"
    assert unknown not in demo.trace_ids
    assert requests.get(f"{demo.url}/api/traces/{unknown}", headers=HEADERS, timeout=30).status_code == 404
    open_page(browser, demo, "/traces")
    browser.type("#trace-id-input", unknown)
    browser.key("Enter")
    browser.wait_for("!!document.querySelector('#trace-view [data-notice]')", what="the not-found notice")
    assert unknown in browser.text("#trace-view [data-notice]") and "not found" in browser.text("#trace-view [data-notice]")
    assert hash_params(browser)[0] == ["traces", unknown]
    browser.screenshot("traces-unknown")
    # A search that matches nothing.
    open_page(browser, demo, "/traces")
    choose_service(browser, "frontend")
    browser.type("#trace-min", "1h")
    browser.key("Enter")
    wait_results(browser)
    now_us = int(time.time() * 1e6)
    assert api(demo, "/api/traces", service="frontend", minDuration="1h", limit=20, start=now_us - 3_600_000_000, end=now_us) == []
    assert browser.eval("document.querySelector('#trace-results [data-notice]').dataset.notice") == "empty"
    assert browser.count(".tr-result[data-trace-id]") == 0
    # A bad duration.
    browser.type("#trace-min", "abc")
    browser.key("Enter")
    browser.wait_for("document.querySelector('#trace-results [data-notice=error]')?.innerText.includes('abc')", what="the duration error")
    assert "Min duration" in browser.text("#trace-results [data-notice=error]")
    # Bad tags.
    browser.type("#trace-min", "")
    browser.type("#trace-tags", "http.status_code")
    browser.key("Enter")
    browser.wait_for("document.querySelector('#trace-results [data-notice=error]')?.innerText.includes('key=value')", what="the tags error")
    browser.screenshot("traces-bad-input")
    assert browser.console_errors(ignore=("404 (Not Found)",)) == []
