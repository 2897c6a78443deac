"""The web UI's Metrics page (issue #10) in a real headless Chromium against the demo server (ui_demo.py): PromQL
queries typed as a person would, autocomplete, the line chart and its legend, several queries on one chart, the table
view, step / range / brush controls, notices for empty results, errors and infos, the URL state, the dark theme.
Every expectation is computed from the server's own API answers, not hard-coded."""

from __future__ import annotations

import json
import urllib.parse

import pytest
import requests

from ui_demo import TOKEN, open_page

pytestmark = pytest.mark.usefixtures("demo")


def api(demo, path: str, **params):
    r = requests.get(demo.url + path, params=params, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    return r.json()


def series_name(metric: dict) -> str:
    labels = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(metric.items()) if k != "__name__")
    name = metric.get("__name__", "")
    return f"{name}{{{labels}}}" if labels else (name or "{}")


def runs(browser) -> int:
    return int(browser.eval("Number(document.querySelector('.page-metrics')?.dataset.runs || 0)"))


def wait_run(browser, before: int) -> None:
    browser.wait_for(f"Number(document.querySelector('.page-metrics').dataset.runs) > {before}"
                     " && document.querySelector('#metrics-results').dataset.state === 'done'", what="the query run")


def run_query(browser, text: str, index: int = 0) -> None:
    """Types `text` into query box #index+1 and presses Enter; waits for the run to finish."""
    before = runs(browser)
    browser.type(f'.metrics-query[data-query-index="{index}"]', text)
    browser.key("Enter")
    wait_run(browser, before)


def graph(browser) -> dict:
    return browser.eval("({...document.querySelector('#metrics-graph').dataset,"
                        " chartSeries: document.querySelector('#metrics-graph .linechart').dataset.series,"
                        " chartVisible: document.querySelector('#metrics-graph .linechart').dataset.visible})")


def range_answer(demo, query: str, g: dict) -> list:
    """The query_range answer for the request the page made (its start/end/step from the graph's data-*)."""
    body = api(demo, "/api/v1/query_range", query=query, start=f"{int(g['startMs']) / 1000:.3f}",
               end=f"{int(g['endMs']) / 1000:.3f}", step=str(int(g["stepMs"]) / 1000))
    assert body["status"] == "success", body
    return body["data"]["result"]


def suggestions(browser) -> list[str]:
    return browser.eval("[...document.querySelectorAll('.suggest ul:not([hidden]) li')].map(e => e.textContent)")


def wait_suggestions(browser, containing: str) -> list[str]:
    """The open suggestion list once it offers `containing` (a list from earlier typing may still be open)."""
    browser.wait_for("[...document.querySelectorAll('.suggest ul:not([hidden]) li')].some(e => e.textContent === "
                     f"{json.dumps(containing)})", what=f"a suggestion list offering {containing}")
    return suggestions(browser)


def params(browser) -> dict:
    hash_ = browser.eval("location.hash")
    return urllib.parse.parse_qs(hash_.split("?", 1)[1] if "?" in hash_ else "")


def test_query_draws_the_api_series_and_legend_toggles(browser, demo):
    open_page(browser, demo, "/metrics")
    browser.wait_for("!!document.querySelector('.metrics-query')", what="the query box")
    assert browser.console_errors() == []
    run_query(browser, "node_load1")
    g = graph(browser)
    expected = range_answer(demo, "node_load1", g)
    assert len(expected) > 0
    assert int(g["series"]) == int(g["chartSeries"]) == len(expected)
    legend = browser.texts("#metrics-graph .legend button")
    assert sorted(legend) == sorted(series_name(s["metric"]) for s in expected)
    assert int(g["points"]) == max(len(s["values"]) for s in expected)
    assert f"{len(expected)} series" in browser.text("#metrics-summary")
    assert params(browser)["query"] == ["node_load1"]
    # Hover shows the values of the series at that time.
    box = browser.box("#metrics-graph .chart")
    browser.mouse("mouseMoved", box["left"] + box["width"] * 0.9, box["top"] + box["height"] / 2)
    browser.wait_for("!document.querySelector('#metrics-graph .tooltip').hidden", what="the hover readout")
    assert "node_load1{" in browser.text("#metrics-graph .tooltip")
    # Toggling a legend entry hides that series.
    browser.click("#metrics-graph .legend button")
    assert int(graph(browser)["chartVisible"]) == len(expected) - 1
    assert browser.eval("document.querySelector('#metrics-graph .legend button').getAttribute('aria-pressed')") == "false"
    browser.screenshot("metrics-node-load1")
    assert browser.console_errors() == []


def test_autocomplete_metric_names_labels_and_values(browser, demo):
    open_page(browser, demo, "/metrics")
    browser.wait_for("!!document.querySelector('.metrics-query')", what="the query box")
    names = api(demo, "/api/v1/label/__name__/values")["data"]
    wanted = [n for n in names if n.startswith("node_lo")]
    assert "node_load1" in wanted
    browser.type('.metrics-query[data-query-index="0"]', "node_lo")
    offered = wait_suggestions(browser, "node_load1")
    assert set(wanted) <= set(offered), offered
    assert offered[0] == sorted(wanted)[0]
    browser.screenshot("metrics-autocomplete")
    browser.key("Tab")
    assert browser.eval("document.querySelector('.metrics-query').value") == sorted(wanted)[0]
    # Label names inside {, for the metric.
    labels = [n for n in api(demo, "/api/v1/labels", **{"match[]": "node_load1"})["data"] if n != "__name__"]
    browser.type('.metrics-query[data-query-index="0"]', "node_load1{")
    assert "instance" in labels
    assert sorted(wait_suggestions(browser, "instance")) == sorted(labels)
    # Label values after label=".
    values = api(demo, "/api/v1/label/instance/values", **{"match[]": "node_load1"})["data"]
    assert len(values) > 1
    browser.type('.metrics-query[data-query-index="0"]', 'node_load1{instance="')
    assert wait_suggestions(browser, sorted(values)[0]) == sorted(values)
    browser.key("Enter")
    value = browser.eval("document.querySelector('.metrics-query').value")
    assert value == f'node_load1{{instance="{sorted(values)[0]}'
    # Closing the selector and pressing Enter runs it: one series.
    before = runs(browser)
    browser.send("Input.insertText", text='"}')
    browser.key("Enter")
    wait_run(browser, before)
    assert int(graph(browser)["series"]) == 1
    assert browser.console_errors() == []


def test_many_series_render(browser, demo):
    query = "node_cpu_seconds_total"
    open_page(browser, demo, "/metrics")
    browser.wait_for("!!document.querySelector('.metrics-query')", what="the query box")
    run_query(browser, query)
    g = graph(browser)
    expected = range_answer(demo, query, g)
    assert len(expected) >= 50
    assert int(g["series"]) == len(expected)
    assert int(g["drawn"]) == int(g["chartSeries"]) == min(200, len(expected))
    assert browser.count("#metrics-graph .legend button") == min(200, len(expected))
    assert f"{len(expected)} series" in browser.text("#metrics-summary")
    browser.click("#metrics-graph .legend button:nth-child(3)")
    assert int(graph(browser)["chartVisible"]) == len(expected) - 1
    browser.screenshot("metrics-many-series")
    # The dark theme.
    browser.click("#theme-toggle")
    browser.wait_for("document.documentElement.dataset.theme === 'dark'")
    browser.screenshot("metrics-many-series-dark")
    browser.click("#theme-toggle")
    assert browser.console_errors() == []


def test_chart_caps_at_200_series_and_says_so(browser, demo):
    # Three copies of the CPU series told apart by a label: more series than the chart draws.
    copy = 'label_replace(node_cpu_seconds_total, "copy", "{0}$1", "mode", "(.*)")'
    query = f"{copy.format('a')} or {copy.format('b')} or node_cpu_seconds_total"
    open_page(browser, demo, "/metrics")
    browser.wait_for("!!document.querySelector('.metrics-query')", what="the query box")
    run_query(browser, query)
    g = graph(browser)
    total = len(range_answer(demo, query, g))
    assert total > 200
    assert int(g["series"]) == total
    assert int(g["drawn"]) == int(g["chartSeries"]) == browser.count("#metrics-graph .legend button") == 200
    assert f"{total} series" in browser.text("#metrics-summary")
    assert f"200 of {total} series" in browser.text('#metrics-notices [data-notice="info"]')
    browser.screenshot("metrics-capped")
    assert browser.console_errors() == []


def test_two_queries_on_one_chart(browser, demo):
    open_page(browser, demo, "/metrics")
    browser.wait_for("!!document.querySelector('.metrics-query')", what="the query box")
    run_query(browser, "node_load1")
    browser.click("#metrics-add")
    browser.wait_for("!!document.querySelector('.metrics-query[data-query-index=\"1\"]')")
    run_query(browser, 'node_cpu_seconds_total{mode="idle"}', index=1)
    g = graph(browser)
    first = range_answer(demo, "node_load1", g)
    second = range_answer(demo, 'node_cpu_seconds_total{mode="idle"}', g)
    assert len(first) > 0 and len(second) > 0
    assert int(g["series"]) == int(g["chartSeries"]) == len(first) + len(second)
    legend = browser.texts("#metrics-graph .legend button")
    assert sum(t.startswith("#1 ") for t in legend) == len(first)
    assert sum(t.startswith("#2 ") for t in legend) == len(second)
    assert params(browser)["query"] == ["node_load1", 'node_cpu_seconds_total{mode="idle"}']
    browser.screenshot("metrics-two-queries")
    # Removing the second query reruns with the first alone.
    before = runs(browser)
    browser.click('.metrics-query-row:nth-child(2) .metrics-remove')
    wait_run(browser, before)
    assert int(graph(browser)["series"]) == len(first)
    assert browser.console_errors() == []


def test_table_view_lists_the_instant_query(browser, demo):
    open_page(browser, demo, "/metrics")
    browser.wait_for("!!document.querySelector('.metrics-query')", what="the query box")
    query = 'node_cpu_seconds_total{mode="user"}'
    run_query(browser, query)
    before = runs(browser)
    browser.click("#metrics-tab-table")
    wait_run(browser, before)
    time_ms = int(browser.eval("document.querySelector('#metrics-table').dataset.timeMs"))
    body = api(demo, "/api/v1/query", query=query, time=f"{time_ms / 1000:.3f}")
    expected = {series_name(s["metric"]): s["value"][1] for s in body["data"]["result"]}
    assert len(expected) > 0
    shown = browser.eval("[...document.querySelectorAll('tr.metrics-row')].map(r => [r.querySelector('.metrics-series').innerText,"
                         " r.querySelector('.metrics-value').innerText])")
    assert dict(shown) == expected and len(shown) == len(expected)
    assert browser.eval("document.querySelector('#metrics-graph').hidden") is True
    assert params(browser)["tab"] == ["table"]
    browser.screenshot("metrics-table")
    assert browser.console_errors() == []


def test_step_range_and_brush_change_the_request(browser, demo):
    query = "node_load5"
    open_page(browser, demo, f"/metrics?query={query}&from=now-30m&to=now")
    browser.wait_for("Number(document.querySelector('.page-metrics')?.dataset.runs) > 0", what="the first run")
    auto = graph(browser)
    assert int(auto["endMs"]) - int(auto["startMs"]) == 30 * 60_000
    # A typed step.
    before = runs(browser)
    browser.type("#metrics-step", "60s")
    browser.key("Enter")
    wait_run(browser, before)
    g = graph(browser)
    assert int(g["stepMs"]) == 60_000 and params(browser)["step"] == ["60s"]
    expected = range_answer(demo, query, g)
    assert int(g["points"]) == max(len(s["values"]) for s in expected)
    assert int(g["points"]) < int(auto["points"])
    # A shorter range: fewer points at the same step.
    before = runs(browser)
    browser.type('input[aria-label="From"]', "now-10m")
    browser.key("Enter")
    wait_run(browser, before)
    short = graph(browser)
    assert int(short["endMs"]) - int(short["startMs"]) == 10 * 60_000
    assert params(browser)["from"] == ["now-10m"]
    assert int(short["points"]) == max(len(s["values"]) for s in range_answer(demo, query, short))
    assert int(short["points"]) < int(g["points"])
    # Brushing the chart zooms to an absolute range.
    box = browser.box("#metrics-graph .chart")
    before = runs(browser)
    browser.drag(box["left"] + box["width"] * 0.3, box["top"] + 100, box["left"] + box["width"] * 0.7, box["top"] + 100)
    wait_run(browser, before)
    zoomed = graph(browser)
    assert int(short["startMs"]) < int(zoomed["startMs"]) < int(zoomed["endMs"]) < int(short["endMs"])
    assert params(browser)["from"][0].endswith("Z")
    # A bad step is a clear error, not an exception.
    before = runs(browser)
    browser.type("#metrics-step", "fast")
    browser.key("Enter")
    wait_run(browser, before)
    assert "not a duration" in browser.text('#metrics-notices [data-notice="error"]')
    # So is a bad time.
    before = runs(browser)
    browser.type('input[aria-label="From"]', "yesterday")
    browser.key("Enter")
    wait_run(browser, before)
    assert "is not a time" in browser.text('#metrics-notices [data-notice="error"]')
    assert browser.console_errors() == []


def test_empty_error_and_info_notices(browser, demo):
    open_page(browser, demo, "/metrics")
    browser.wait_for("!!document.querySelector('.metrics-query')", what="the query box")
    assert api(demo, "/api/v1/query", query="nonexistent_metric")["data"]["result"] == []
    run_query(browser, "nonexistent_metric")
    assert browser.count('#metrics-notices [data-notice="empty"]') == 1
    assert int(graph(browser)["series"]) == 0
    browser.screenshot("metrics-empty")
    message = api(demo, "/api/v1/query", query="sum(")["error"]
    run_query(browser, "sum(")
    assert message in browser.text('#metrics-notices [data-notice="error"]')
    browser.screenshot("metrics-error")
    infos = api(demo, "/api/v1/query", query="rate(node_load1[5m])").get("infos", [])
    assert infos
    run_query(browser, "rate(node_load1[5m])")
    assert infos[0] in browser.text('#metrics-notices [data-notice="info"]')
    assert browser.console_errors(ignore=("status of 400",)) == []


def test_url_reproduces_the_view_after_reload(browser, demo):
    fragment = ("/metrics?query=node_load1&query=" + urllib.parse.quote('node_cpu_seconds_total{mode="idle"}')
                + "&from=now-20m&to=now&step=30s&tab=table")
    open_page(browser, demo, fragment)
    browser.wait_for("Number(document.querySelector('.page-metrics')?.dataset.runs) > 0", what="the first run")
    first = browser.count("tr.metrics-row")
    assert first > 0
    browser.eval("window.beforeReload = true; setTimeout(() => location.reload(), 0)")
    browser.wait_for("!window.beforeReload && Number(document.querySelector('.page-metrics')?.dataset.runs) > 0",
                     what="the run after reload")
    state = browser.eval("""({queries: [...document.querySelectorAll('.metrics-query')].map(e => e.value),
        step: document.querySelector('#metrics-step').value, from: document.querySelector('input[aria-label="From"]').value,
        table: document.querySelector('#metrics-tab-table').getAttribute('aria-pressed')})""")
    assert state == {"queries": ["node_load1", 'node_cpu_seconds_total{mode="idle"}'], "step": "30s", "from": "now-20m", "table": "true"}
    time_ms = int(browser.eval("document.querySelector('#metrics-table').dataset.timeMs"))
    counts = [len(api(demo, "/api/v1/query", query=q, time=f"{time_ms / 1000:.3f}")["data"]["result"])
              for q in state["queries"]]
    assert browser.count("tr.metrics-row") == first == sum(counts)
    assert browser.count('tr.metrics-row[data-query="1"]') == counts[1]
    browser.click("#theme-toggle")
    browser.wait_for("document.documentElement.dataset.theme === 'dark'")
    browser.screenshot("metrics-table-dark")
    browser.click("#theme-toggle")
    assert browser.console_errors() == []
