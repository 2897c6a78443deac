"""Graphite's HTTP API end to end, as Grafana's Graphite data source and Graphite tools use it.

The same Graphite plaintext lines go over TCP to Sightline's Graphite listener and to a real VictoriaMetrics 1.79
(Debian's package, `-graphiteListenAddr`). Then:

- `/metrics/find` (treejson, completer), `/metrics/expand` and `/metrics/index.json` are checked exactly against
  graphite-web's find and expand views, modelled here: treejson lists one node per name under the query's own prefix
  (the wildcard node, then branches, then leaves); completer completes the query (`..`, a trailing `*`) and lists
  every matching path, a name that is both a leaf and a branch twice. They are also compared with VictoriaMetrics'
  `/graphite/metrics/...`. VictoriaMetrics' representation differences are normalised (see vm_treejson, vm_completer,
  vm_expand; it matches nothing for `?`). One real difference of VictoriaMetrics from graphite-web is bridged, where
  it is done: for a query with wildcards before its last node its completer lists one entry per name under the
  query's prefix, where graphite-web lists each matching path.
- `/render` cannot be compared: VictoriaMetrics 1.79 answers its `/graphite/render` with "unsupported path". So
  every datapoint is checked against values computed here, from the lines sent, with graphite-web's algorithms and
  series names. That covers the 10 s grid, sumSeries and sum, averageSeries and avg, scale, aliasByNode, summarize,
  nonNegativeDerivative, movingAverage (graphite-web 1.1.10's window), seriesByTag, groupByNode, keepLastValue,
  maxDataPoints (graphite-web's render view: nudged bands), GET and POST, and both `/render` and `/graphite/render`.
- Refusals (unknown function, bad `from`, `format=png`, find without a query) are a 400 naming what is wrong. The
  API needs the `query` role and answers only from the caller's tenant.

The data set is small and deterministic: five hosts × cpu/disk series, two tagged series and one name that is
both a leaf and a branch, every 10 s for 5 minutes, 15 minutes ago. ../shared/datasets/gen_metrics.py has no
Graphite output: it makes Prometheus-style label sets on a 15 s step, not dotted paths. Some lines are deliberately
off the grid: beta reports 3 s late, host1 twice per interval, host10 misses four reports, and one counter resets.
"""

from __future__ import annotations

import json
import math
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from conftest import SightlineServer, free_ports, sightline_binary, wait_until
from metrics_peers import VictoriaMetrics
from processes import assert_json_error

STEP = 10  # seconds between reports, and Sightline's default storage_step
POINTS = 30  # reports per series
HOSTS = ("alpha", "beta", "host1", "host2", "host10")

READER = "graphite-reader"  # tenant acme, query role
WRITER = "graphite-writer"  # tenant acme, ingest role only
OTHER = "other-reader"  # tenant other, query role
TOKENS = [
    {"token": READER, "tenant": "acme", "roles": ["query"]},
    {"token": WRITER, "tenant": "acme", "roles": ["ingest"]},
    {"token": OTHER, "tenant": "other", "roles": ["query"]},
]

# Which points movingAverage (and movingSum/Min/Max/Median) takes. graphite-web up to 1.1.8 took the N points *before*
# each point; 1.1.10's movingWindow ends at the point itself (commit 3e5c430f, "fix shifting of resulting datapoints
# by one step into the future"). Sightline follows 1.1.10.
MOVING_WINDOW_INCLUDES_CURRENT = True


# ---------------------------------------------------------------------------
# The data set
# ---------------------------------------------------------------------------
def make_series(t0: int) -> dict[str, list[tuple[int, float]]]:
    """Graphite name (`path;tag=value` for tagged series) -> [(Unix seconds, value)] in time order."""
    out: dict[str, list[tuple[int, float]]] = {}

    def add(name: str, t: int, value: float) -> None:
        out.setdefault(name, []).append((t, value))

    for i in range(POINTS):
        t = t0 + STEP * i
        for h, host in enumerate(HOSTS):
            at = t + 3 if host == "beta" else t  # beta reports 3 s after the grid
            if host == "host1":  # twice per interval: a render point keeps the later one
                add("servers.host1.cpu.user", t, 30 + i)
                add("servers.host1.cpu.user", t + 5, 30 + i + 0.5)
            elif not (host == "host10" and 12 <= i < 16):  # host10 misses four reports
                add(f"servers.{host}.cpu.user", at, 10 * (h + 1) + i % 7)
            add(f"servers.{host}.cpu.system", at, h + 0.5 * i)
            # A byte counter; host2's restarts at i = 15.
            add(f"servers.{host}.disk.sda.bytes", at, 1000 * (h + 1) * (i - 15 if host == "host2" and i >= 15 else i))
            if host in ("alpha", "host2"):
                add(f"servers.{host}.disk.sdb.bytes", at, 500 + 250 * i)
        add("apps.web.requests;dc=eu;env=prod", t, 1.5 * i)
        add("apps.web.requests;dc=us;env=prod", t, 100 - i)
        add("apps.web", t, 7)  # `apps.web` is a leaf and, through apps.web.requests, a branch
    return out


def plaintext(series: dict[str, list[tuple[int, float]]]) -> bytes:
    return "".join(f"{name} {value} {t}\n" for name, samples in series.items() for t, value in samples).encode()


def paths(series: dict) -> list[str]:
    """Every Graphite path (the `__name__`), sorted."""
    return sorted({name.split(";")[0] for name in series})


# ---------------------------------------------------------------------------
# Servers: one Sightline and one VictoriaMetrics for the module, fed once
# ---------------------------------------------------------------------------
@dataclass
class Env:
    server: SightlineServer
    vm: VictoriaMetrics
    t0: int
    series: dict[str, list[tuple[int, float]]]
    http: requests.Session  # to Sightline, with the reader's token

    def get(self, path: str, **params) -> requests.Response:
        return self.http.get(self.server.url + path, params=params, timeout=30)

    def vm_get(self, path: str, **params) -> requests.Response:
        return requests.get(self.vm.url + "/graphite" + path, params=params, timeout=30)


class _PeerLogs:
    """Shows VictoriaMetrics' log next to Sightline's when a test fails (conftest's report hook)."""

    def __init__(self, peer: VictoriaMetrics):
        self.name, self.peer = peer.name, peer

    @property
    def pid(self):
        return self.peer.proc.pid if self.peer.proc else None

    def all_logs(self) -> str:
        return self.peer.log(200)


def _promql_total(url: str, headers: dict, at: int) -> float | None:
    r = requests.get(url + "/api/v1/query", headers=headers, timeout=30, params={
        "query": 'sum(count_over_time({__name__=~"(servers|apps)\\\\..+"}[1h]))', "time": str(at)})
    result = r.json()["data"]["result"] if r.status_code == 200 else []
    return float(result[0]["value"][1]) if result else None


def _equal_to(expected, value):
    """For wait_until: True once `value` is `expected`, else `value` (shown if it never comes)."""
    return True if value == expected else value


def _vm_total(vm: VictoriaMetrics) -> int:
    vm.flush()
    r = requests.get(vm.url + "/api/v1/export", params={"match[]": '{__name__=~"(servers|apps)\\\\..+"}'}, timeout=30)
    assert r.status_code == 200, r.text
    return sum(len(json.loads(line)["values"]) for line in r.text.splitlines() if line.strip())


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp: Path = tmp_path_factory.mktemp("graphite-api")
    sightline_graphite, vm_http, vm_graphite = free_ports(3)
    server = SightlineServer(sightline_binary(), tmp / "sightline-data", tmp, "graphite-api", config={
        "graphite": {"tcp_address": f"127.0.0.1:{sightline_graphite}", "tenant": "acme"},
        "auth": {"tokens": TOKENS},
    })
    vm = VictoriaMetrics(tmp, vm_http, extra_args=[f"-graphiteListenAddr=127.0.0.1:{vm_graphite}"])
    try:
        server.start()
        vm.start()
        t0 = (int(time.time()) - 900) // 60 * 60  # a minute boundary 15 minutes ago
        series = make_series(t0)
        body = plaintext(series)
        for port in (sightline_graphite, vm_graphite):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                conn.sendall(body)
        total = sum(len(s) for s in series.values())
        auth = {"Authorization": f"Bearer {READER}"}
        wait_until(f"Sightline stored all {total} samples",
                   lambda: _equal_to(total, _promql_total(server.url, auth, t0 + 600)))
        wait_until(f"VictoriaMetrics stored all {total} samples", lambda: _equal_to(total, _vm_total(vm)))
        http = requests.Session()
        http.headers.update(auth)
        yield Env(server, vm, t0, series, http)
    finally:
        server.cleanup()
        vm.cleanup()


@pytest.fixture(autouse=True)
def _logs_on_failure(request, env):
    request.node._sightline_servers = [env.server, _PeerLogs(env.vm)]


# ---------------------------------------------------------------------------
# Graphite globs and graphite-web's find layout, modelled here
# ---------------------------------------------------------------------------
def glob_regex(pattern: str) -> str:
    """Graphite's glob (`*`, `?`, `[a-c]`, `{a,b}` within a node) as a Python regex."""
    out, in_class = [], False
    for c in pattern:
        if in_class:
            out.append(c)
            in_class = c != "]"
        elif c == "*":
            out.append("[^.]*")
        elif c == "?":
            out.append("[^.]")
        elif c == "[":
            out.append("[")
            in_class = True
        elif c == "{":
            out.append("(?:")
        elif c == "}":
            out.append(")")
        elif c == ",":
            out.append("|")
        else:
            out.append(re.escape(c))
    return "".join(out)


def model_nodes(names: list[str], query: str) -> dict[str, dict[str, bool]]:
    """The nodes one level below `query`, by path: {path: {"leaf": is a stored name, "branch": prefixes a longer one}}.
    A path that is both is two of graphite-web's nodes (a branch node and a leaf node)."""
    depth = len(query.split("."))
    rx = re.compile(glob_regex(query))
    nodes: dict[str, dict[str, bool]] = {}
    for name in names:
        parts = name.split(".")
        if len(parts) < depth or not rx.fullmatch(".".join(parts[:depth])):
            continue
        node = nodes.setdefault(".".join(parts[:depth]), {"leaf": False, "branch": False})
        node["leaf" if len(parts) == depth else "branch"] = True
    return nodes


def base_path(query: str) -> str:
    """graphite-web's base_path: the query up to and with its last dot."""
    return query.rsplit(".", 1)[0] + "." if "." in query else ""


def tree_node(node_id: str, text: str, branch: bool) -> dict:
    flag = int(branch)
    return {"allowChildren": flag, "expandable": flag, "leaf": 1 - flag, "id": node_id, "text": text}


def model_treejson(names: list[str], query: str, wildcards: bool = False) -> list[dict]:
    """graphite-web's treejson: one node per name (last path component), id `base_path + name`, so that under
    `servers.*.disk.*` every host's `sda` is the one node `servers.*.disk.sda`; a name that is a branch anywhere is a
    branch. The wildcard node first (wildcards=1 and more than one node found, a path that is both leaf and branch
    counting twice; a branch if any found node is one), then the branches, then the leaves, each sorted by name."""
    nodes = model_nodes(names, query)
    kinds: dict[str, bool] = {}  # name -> a branch somewhere
    for path, node in nodes.items():
        name = path.split(".")[-1]
        kinds[name] = kinds.get(name, False) or node["branch"]
    base = base_path(query)
    branches = [tree_node(base + n, n, True) for n in sorted(kinds) if kinds[n]]
    leaves = [tree_node(base + n, n, False) for n in sorted(kinds) if not kinds[n]]
    found = sum(int(node["leaf"]) + int(node["branch"]) for node in nodes.values())
    head = [tree_node(base + "*", "*", bool(branches))] if wildcards and found > 1 else []
    return head + branches + leaves


def complete(query: str) -> str:
    """What graphite-web's completer finds for a query as typed: `..` becomes `*.`, and a `*` ends it."""
    query = query.replace("..", "*.")
    return query if query.endswith("*") else query + "*"


def model_completer(names: list[str], query: str, wildcards: bool = False) -> dict:
    """graphite-web's completer over the completed query: every matching node by its real path, a branch as
    `path.` with is_leaf "0", a leaf with "1", a path that is both twice; all branches by path, then all leaves by
    path; with wildcards=1 and more than one entry, `{"name": "*"}` last."""
    nodes = model_nodes(names, complete(query))
    branches = [{"path": p + ".", "name": p.split(".")[-1], "is_leaf": "0"} for p in sorted(nodes) if nodes[p]["branch"]]
    leaves = [{"path": p, "name": p.split(".")[-1], "is_leaf": "1"} for p in sorted(nodes) if nodes[p]["leaf"]]
    metrics = branches + leaves
    if wildcards and len(metrics) > 1:
        metrics.append({"name": "*"})
    return {"metrics": metrics}


# -- Normalisations for comparing with VictoriaMetrics 1.79 ------------------------------------------------------------
def tree_order(entries: list[dict]) -> list[dict]:
    """graphite-web's treejson order: the wildcard node, branches by id, leaves by id."""
    wildcard = [e for e in entries if e["text"] == "*"]
    rest = [e for e in entries if e["text"] != "*"]
    return (wildcard + sorted((e for e in rest if e["expandable"]), key=lambda e: e["id"])
            + sorted((e for e in rest if not e["expandable"]), key=lambda e: e["id"]))


def completer_order(metrics: list[dict]) -> list[dict]:
    """Branches by path, then leaves by path, then the wildcard entry."""
    nodes = [m for m in metrics if "path" in m]
    return sorted(nodes, key=lambda m: (m["is_leaf"], m["path"])) + [m for m in metrics if "path" not in m]


def vm_treejson(entries: list[dict]) -> list[dict]:
    """VictoriaMetrics' treejson in graphite-web's layout. These are representation differences only: VM ends a
    branch's id with "." and lists the wildcard node last, not first. Nodes are re-sorted because VM does not
    promise graphite-web's order. Sightline's order is checked exactly against the model."""
    return tree_order([{**e, "id": e["id"][:-1] if e["expandable"] and e["id"].endswith(".") else e["id"]}
                       for e in entries])


def vm_completer(doc: dict) -> dict:
    """VictoriaMetrics' completer with is_leaf as graphite-web's string ("0"/"1"), not a number; in the model's order
    (the wildcard entry stays last)."""
    return {"metrics": completer_order([{**m, "is_leaf": str(m["is_leaf"])} if "is_leaf" in m else m
                                        for m in doc["metrics"]])}


def vm_expand(results: list[str]) -> list[str]:
    """VictoriaMetrics' expand names a branch `a.b.` (graphite-web: `a.b`, once even if also a leaf)."""
    return sorted({r[:-1] if r.endswith(".") else r for r in results})


def has_inner_wildcard(query: str) -> bool:
    return any(c in part for part in query.split(".")[:-1] for c in "*?[{")


def vm_inner_wildcard_completer(doc: dict, query: str) -> dict:
    """A graphite-web completer answer the way VictoriaMetrics 1.79 gives it for a query with wildcards before its
    last node: one entry per name and kind under the query's own prefix (`servers.*.disk.sda.`), where graphite-web
    (and Sightline) list every matching path (`servers.alpha.disk.sda.`, `servers.beta.disk.sda.`, ...). That is a
    real difference of VictoriaMetrics, not a representation one; Sightline's answer (checked exactly against the
    model elsewhere) is mapped here so that the rest of it can still be compared. The wildcard entry is kept."""
    base, out = base_path(query), []
    for m in doc["metrics"]:
        if "path" in m:
            m = {**m, "path": base + m["name"] + ("." if m["is_leaf"] == "0" else "")}
        if m not in out:
            out.append(m)
    return {"metrics": completer_order(out)}


def swap_base(text: str, old_query: str, new_query: str) -> str:
    """`text` (an id or path under `old_query`'s prefix) under `new_query`'s prefix."""
    old, new = base_path(old_query), base_path(new_query)
    return new + text[len(old):] if text.startswith(old) else text


# ---------------------------------------------------------------------------
# 1. find, expand and index.json: as VictoriaMetrics and graphite-web answer them
# ---------------------------------------------------------------------------
# The globs a Grafana user types, several with wildcards in earlier nodes, and two partial ones as typed into a
# completer (`apps.we` completes to `apps.we*`, `servers.alpha..` to `servers.alpha*.*`).
COMPARED_GLOBS = ["*", "servers.*", "servers.*.disk.*", "servers.{a,b}*.cpu.*", "servers.host?.cpu.user",
                  "servers.host[12].cpu.*", "apps.*", "apps.web.*", "apps.we", "servers.alpha.."]
# Checked exactly against the models: those and more, with wildcards in the last node only and in earlier ones.
MODEL_GLOBS = COMPARED_GLOBS + ["servers.host1.cpu.*", "servers.alpha.disk.*", "apps.web", "servers.alpha.disk.s[a-b]?",
                                "servers.alpha.{cpu,disk}", "servers.*.*.sd?", "servers.*.cpu", "servers.alpha.cpu."]


def test_graphite_api_find_answers_as_graphite_web(env):
    """Sightline's find answers, exactly, for globs over the stored paths: treejson's one node per name under the
    query's prefix, leaf and branch flags, graphite-web's order and wildcard node, a name that is both leaf and branch
    once (as a branch); completer's completed query, real paths, such a name twice and the wildcard entry; the same
    under /graphite and for POST."""
    names = paths(env.series)
    for query in MODEL_GLOBS:
        for wildcards in ("0", "1"):
            r = env.get("/metrics/find", query=query, wildcards=wildcards)
            assert r.status_code == 200, r.text
            assert r.headers["Content-Type"].startswith("application/json"), r.headers
            assert r.json() == model_treejson(names, query, wildcards == "1"), (query, wildcards)
            r = env.get("/metrics/find", query=query, format="completer", wildcards=wildcards)
            assert r.status_code == 200 and r.json() == model_completer(names, query, wildcards == "1"), \
                (query, wildcards, r.text)

    # The models' answers, spelled out for the cases they are about.
    assert env.get("/metrics/find", query="apps.*").json() == [tree_node("apps.web", "web", True)]
    # A wildcard before the last node: one node per name, under the query's prefix.
    assert env.get("/metrics/find", query="servers.*.disk.*").json() == [
        tree_node("servers.*.disk.sda", "sda", True), tree_node("servers.*.disk.sdb", "sdb", True)]
    with_wildcard = env.get("/metrics/find", query="servers.*", wildcards="1").json()
    assert with_wildcard[0] == tree_node("servers.*", "*", True), with_wildcard
    # apps.web is two nodes found (a leaf and a branch): a wildcard node, then apps.web once.
    assert env.get("/metrics/find", query="apps.*", wildcards="1").json() == [
        tree_node("apps.*", "*", True), tree_node("apps.web", "web", True)]
    # One node: no wildcard node.
    assert env.get("/metrics/find", query="apps.web.*", wildcards="1").json() == [tree_node("apps.web.requests", "requests", False)]
    assert env.get("/metrics/find", query="servers.nosuch.*").json() == []
    # completer: `apps.we` is completed to `apps.we*`, and apps.web is listed as a branch and as a leaf.
    web = [{"path": "apps.web.", "name": "web", "is_leaf": "0"}, {"path": "apps.web", "name": "web", "is_leaf": "1"}]
    assert env.get("/metrics/find", query="apps.we", format="completer").json() == {"metrics": web}
    r = env.get("/metrics/find", query="apps.*", format="completer", wildcards="1")
    assert r.json() == {"metrics": web + [{"name": "*"}]}, r.text
    # Real paths, branches first: every host's sda and sdb.
    disks = env.get("/metrics/find", query="servers.*.disk.", format="completer").json()["metrics"]
    assert disks == [{"path": f"servers.{h}.disk.{d}.", "name": d, "is_leaf": "0"}
                     for h in sorted(HOSTS) for d in ("sda", "sdb") if d == "sda" or h in ("alpha", "host2")], disks

    # The same answer under /graphite and for a form POST (Grafana's Graphite data source POSTs).
    expected = model_treejson(names, "servers.host1.cpu.*")
    r = env.http.post(env.server.url + "/graphite/metrics/find", data={"query": "servers.host1.cpu.*"}, timeout=30)
    assert r.status_code == 200 and r.json() == expected, r.text
    assert env.get("/graphite/metrics/find", query="servers.host1.cpu.*").json() == expected

    # find over a time range that holds no sample finds nothing.
    r = env.get("/metrics/find", query="*", **{"from": str(env.t0 + 3600), "until": str(env.t0 + 7200)})
    assert r.status_code == 200 and r.json() == [], r.text

    # expand: every matching name (branches too unless leavesOnly), one list or one per query.
    r = env.get("/metrics/expand", query=["servers.host1.*", "apps.*"])
    assert r.json() == {"results": ["apps.web", "servers.host1.cpu", "servers.host1.disk"]}, r.text
    r = env.get("/metrics/expand", query=["servers.alpha.cpu.*", "apps.*"], leavesOnly="1", groupByExpr="1")
    assert r.json() == {"results": {"servers.alpha.cpu.*": ["servers.alpha.cpu.system", "servers.alpha.cpu.user"],
                                    "apps.*": ["apps.web"]}}, r.text

    r = env.get("/metrics/index.json")
    assert r.status_code == 200 and r.json() == names, r.text
    assert env.get("/graphite/metrics/index.json").json() == names


def test_graphite_api_find_expand_index_match_victoriametrics(env):
    """find (treejson, completer), expand and index.json against VictoriaMetrics 1.79's answers over the same lines."""
    for query in COMPARED_GLOBS:
        # VictoriaMetrics 1.79 matches nothing for `?` (it answers [] for servers.host?.cpu.user), so it gets the
        # equivalent character class, and its ids and paths are put back under the query's prefix.
        vm_query = query.replace("?", "[0-9]") if "?" in query else query
        ours = env.get("/metrics/find", query=query)
        theirs = env.vm_get("/metrics/find", query=vm_query)
        assert ours.status_code == 200 and theirs.status_code == 200, (ours.text, theirs.text)
        ours_tree, theirs_tree = ours.json(), vm_treejson(theirs.json())
        if vm_query != query:
            theirs_tree = [{**e, "id": swap_base(e["id"], vm_query, query)} for e in theirs_tree]
        assert ours_tree == theirs_tree, f"treejson for {query}"

        ours = env.get("/metrics/find", query=query, format="completer").json()
        theirs = vm_completer(env.vm_get("/metrics/find", query=vm_query, format="completer").json())
        if has_inner_wildcard(query):
            # VictoriaMetrics lists `servers.*.disk.sda.` once; graphite-web and Sightline each matching path.
            ours = vm_inner_wildcard_completer(ours, query)
        if vm_query != query:
            theirs = {"metrics": [{**m, "path": swap_base(m["path"], vm_query, query)} for m in theirs["metrics"]]}
        assert ours == theirs, f"completer for {query}"

    # The wildcard node: first in Sightline (as graphite-web), last in VictoriaMetrics (normalised by vm_treejson).
    # (VictoriaMetrics counts the nodes after merging a leaf and a branch of the same path, or the same name under
    # a wildcard, so it has no wildcard node for apps.* where graphite-web has one: not compared.)
    ours = env.get("/metrics/find", query="servers.*", wildcards="1").json()
    assert ours == vm_treejson(env.vm_get("/metrics/find", query="servers.*", wildcards="1").json())
    # The completer's wildcard entry, last in both.
    for query in ("servers.*", "apps.*", "servers.alpha.."):
        ours = env.get("/metrics/find", query=query, format="completer", wildcards="1").json()
        theirs = env.vm_get("/metrics/find", query=query, format="completer", wildcards="1").json()
        assert ours == vm_completer(theirs) and ours["metrics"][-1] == {"name": "*"}, query

    # expand: VictoriaMetrics 1.79 answers a bare list where graphite-web and Sightline answer {"results": [...]}.
    for queries in (["servers.*.cpu.user"], ["servers.{alpha,beta}.*", "apps.*"], ["servers.*.disk.*.bytes"]):
        ours = env.get("/metrics/expand", query=queries)
        theirs = env.vm_get("/metrics/expand", query=queries)
        assert ours.status_code == 200 and theirs.status_code == 200, (ours.text, theirs.text)
        assert ours.json() == {"results": vm_expand(theirs.json())}, queries
        ours = env.get("/metrics/expand", query=queries, groupByExpr="1").json()
        theirs = env.vm_get("/metrics/expand", query=queries, groupByExpr="1").json()
        assert ours == {"results": {q: vm_expand(v) for q, v in theirs["results"].items()}}, queries
        ours = env.get("/metrics/expand", query=queries, leavesOnly="1").json()
        assert ours == {"results": vm_expand(env.vm_get("/metrics/expand", query=queries, leavesOnly="1").json())}

    # index.json: the same list, no normalisation.
    ours, theirs = env.get("/metrics/index.json"), env.vm_get("/metrics/index.json")
    assert ours.json() == theirs.json() == paths(env.series), (ours.text, theirs.text)


# ---------------------------------------------------------------------------
# 2. render: every datapoint against values computed from the lines sent
# ---------------------------------------------------------------------------
def grid(samples: list[tuple[int, float]], frm: int, until: int, step: int = STEP) -> tuple[int, list[float | None]]:
    """Raw samples on graphite-web's whisper grid: the first point is `from - from % step + step`, the last the
    interval holding `until`, and a point at t holds the last sample in [t, t + step). Returns (first t, values)."""
    start = frm - frm % step + step
    end = until - until % step + step
    values = []
    for t in range(start, end, step):
        inside = [v for ts, v in samples if t <= ts < t + step]
        values.append(inside[-1] if inside else None)
    return start, values


def points(start: int, values: list, step: int = STEP) -> list[list]:
    return [[v, start + k * step] for k, v in enumerate(values)]


def present(values) -> list[float]:
    return [v for v in values if v is not None]


def column_sum(columns: list[list]) -> list[float | None]:
    """graphite-web's sumSeries: the sum of the values present at each point, null where none is."""
    return [sum(present(col)) if present(col) else None for col in zip(*columns)]


def non_negative_derivative(values: list) -> list:
    """graphite-web's nonNegativeDerivative without maxValue: null for the first point, after a gap and at a reset."""
    out, prev = [], None
    for v in values:
        out.append(None if prev is None or v is None or v - prev < 0 else v - prev)
        prev = v
    return out


def moving_average(samples, n: int, frm: int, until: int) -> tuple[int, list]:
    """movingAverage(series, n) over points fetched from n steps before `from`, see MOVING_WINDOW_INCLUDES_CURRENT."""
    start, ext = grid(samples, frm - n * STEP, until)
    out = []
    for k in range(n, len(ext)):
        window = ext[k - n + 1:k + 1] if MOVING_WINDOW_INCLUDES_CURRENT else ext[k - n:k]
        out.append(sum(present(window)) / len(present(window)) if present(window) else None)
    return start + n * STEP, out


def summarize_sum(start: int, values: list, interval: int) -> tuple[int, list]:
    """graphite-web's summarize(..., func="sum") without alignToFrom: buckets aligned to the interval, from
    start - start % interval up to end - end % interval + interval (exclusive), `end` being the series' exclusive end.
    So when that end is itself a multiple of the interval there is a trailing bucket (null when empty)."""
    end = start + len(values) * STEP
    first, last = start - start % interval, end - end % interval + interval
    out = []
    for b in range(first, last, interval):
        inside = present(v for k, v in enumerate(values) if b <= start + k * STEP < b + interval)
        out.append(sum(inside) if inside else None)
    return first, out


def average(values) -> float | None:
    """graphite-web's default consolidation: the average of the values present, null if none is."""
    return sum(present(values)) / len(present(values)) if present(values) else None


def render_json_datapoints(series: list[tuple[int, int, list]], max_points: int | None) -> list[list[list]]:
    """Each series' datapoints as graphite-web's render view answers format=json, with maxDataPoints. `series` is
    the response's series as (start, step, values); a series ends (exclusive) at start + len(values) * step.

    One point wanted: the whole series consolidated, at its start. Otherwise, over the response's time range
    (earliest start to latest end), a series with more steps than maxDataPoints is consolidated valuesPerPoint =
    ceil(steps / maxDataPoints) values at a time, its start first "nudged" so that the bands fall on multiples of
    their width, secondsPerPoint (graphite-web drops the values before the nudged start but one); the points are
    stamped from the new start, every secondsPerPoint, up to the series' original end."""
    if not max_points or not series:
        return [points(start, values, step) for start, step, values in series]
    ends = [start + len(values) * step for start, step, values in series]
    start_time, end_time = min(start for start, _, _ in series), max(ends)
    out = []
    for (start, step, values), end in zip(series, ends):
        if max_points == 1:
            out.append([[average(values), start]])
            continue
        steps = (end_time - start_time) / step
        if max_points < steps:
            per = math.ceil(steps / max_points)
            seconds = per * step
            nudge = seconds + start % step - start % seconds
            start += nudge
            values = values[max(0, nudge // step - 1):]
            values = [average(values[k:k + per]) for k in range(0, len(values), per)]
            step = seconds
        out.append([[v, t] for v, t in zip(values, range(start, end + 1, step))])
    return out


def assert_points(got: list, expected: list, what: str) -> None:
    assert [p[1] for p in got] == [p[1] for p in expected], f"{what}: timestamps"
    for (gv, t), (ev, _) in zip(got, expected):
        assert (gv is None and ev is None) or (gv is not None and ev is not None and gv == pytest.approx(ev)), \
            f"{what} at {t}: got {gv}, expected {ev}\n got: {got}\n expected: {expected}"


def test_graphite_api_render_values(env):
    """Datapoints of plain paths and graphite-web functions, as computed here from the lines sent, with graphite-web's
    series names; GET and POST, /render and /graphite/render."""
    s = env.series
    # Aligned to the grid. The first point is from + 10 s: the report at t0 is outside and the last one at t0 + 290
    # too. The series end (exclusive), t0 + 290, is not on a minute; summarize is also checked with one that is.
    frm, until = env.t0, env.t0 + 280

    def render(*targets: str, method: str = "GET", prefix: str = "", **extra) -> list[dict]:
        params = {"target": list(targets), "from": str(frm), "until": str(until), "format": "json", **extra}
        if method == "GET":
            r = env.http.get(env.server.url + prefix + "/render", params=params, timeout=30)
        else:
            r = env.http.post(env.server.url + prefix + "/render", data=params, timeout=30)
        assert r.status_code == 200, f"{targets}: HTTP {r.status_code}: {r.text[:300]}"
        assert r.headers["Content-Type"].startswith("application/json"), r.headers
        return r.json()

    def only(result: list[dict], name: str) -> list:
        assert [x["target"] for x in result] == [name], result
        return result[0]["datapoints"]

    user = {h: f"servers.{h}.cpu.user" for h in HOSTS}

    # Plain paths, two targets in one request, in target order. beta's reports are 3 s late and still land on
    # their interval, and host1's second report of each interval wins.
    result = render(user["host1"], user["beta"])
    assert [x["target"] for x in result] == [user["host1"], user["beta"]]
    for x in result:
        assert x["tags"] == {"name": x["target"]}, x["tags"]
        assert_points(x["datapoints"], points(*grid(s[x["target"]], frm, until)), x["target"])
    assert result[0]["datapoints"][0] == [31.5, frm + 10], result[0]["datapoints"][:2]
    # The same through POST (form body) and under /graphite, with both methods.
    for method in ("GET", "POST"):
        for prefix in ("", "/graphite"):
            assert render(user["host1"], user["beta"], method=method, prefix=prefix) == result, (method, prefix)

    # A glob with gaps (host10): sumSeries adds what is there, named after the path expression.
    start, _ = grid([], frm, until)
    (summed,) = render("sumSeries(servers.*.cpu.user)")
    assert summed["target"] == "sumSeries(servers.*.cpu.user)" and summed["tags"]["name"] == summed["target"], summed
    expected = column_sum([grid(s[user[h]], frm, until)[1] for h in HOSTS])
    assert_points(summed["datapoints"], points(start, expected), "sumSeries")
    # sum and avg are aliases, and their series are named as sumSeries' and averageSeries' are.
    (summed,) = render("sum(servers.*.cpu.user)")
    assert summed["target"] == "sumSeries(servers.*.cpu.user)" and summed["tags"]["name"] == summed["target"], summed
    assert_points(summed["datapoints"], points(start, expected), "sum")
    present_counts = [len(present(col)) for col in zip(*[grid(s[user[h]], frm, until)[1] for h in HOSTS])]
    averaged = [None if v is None else v / n for v, n in zip(expected, present_counts)]
    for target in ("averageSeries(servers.*.cpu.user)", "avg(servers.*.cpu.user)"):
        (mean,) = render(target)
        assert mean["target"] == "averageSeries(servers.*.cpu.user)" and mean["tags"]["name"] == mean["target"], mean
        assert_points(mean["datapoints"], points(start, averaged), target)

    # scale keeps host10's nulls.
    host10 = grid(s[user["host10"]], frm, until)[1]
    assert None in host10
    got = only(render("scale(servers.host10.cpu.user,2)"), "scale(servers.host10.cpu.user,2)")
    assert_points(got, points(start, [None if v is None else 2 * v for v in host10]), "scale")

    # aliasByNode: one series per host, named by node 1, sorted by path; tags keep the path.
    result = render("aliasByNode(servers.*.cpu.user,1)")
    assert [x["target"] for x in result] == ["alpha", "beta", "host1", "host10", "host2"], result
    for x in result:
        assert x["tags"]["name"] == user[x["target"]]
        assert_points(x["datapoints"], points(*grid(s[user[x["target"]]], frm, until)), f"aliasByNode {x['target']}")

    # summarize into minutes, summed.
    summarize = 'summarize(servers.alpha.cpu.user, "1min", "sum")'
    got = only(render(summarize), summarize)
    first, buckets = summarize_sum(start, grid(s[user["alpha"]], frm, until)[1], 60)
    assert_points(got, points(first, buckets, 60), "summarize")
    # Up to t0 + 290: the series ends (exclusive) at t0 + 300, on a minute, which opens a trailing, empty bucket.
    got = only(render(summarize, until=str(env.t0 + 290)), summarize)
    first, buckets = summarize_sum(start, grid(s[user["alpha"]], frm, env.t0 + 290)[1], 60)
    assert got[-1] == [None, env.t0 + 300] and buckets[-1] is None, got
    assert_points(got, points(first, buckets, 60), "summarize to a minute")

    # nonNegativeDerivative over a counter that resets (host2) and one that does not (alpha's sdb).
    for path in ("servers.host2.disk.sda.bytes", "servers.alpha.disk.sdb.bytes"):
        got = only(render(f"nonNegativeDerivative({path})"), f"nonNegativeDerivative({path})")
        assert_points(got, points(start, non_negative_derivative(grid(s[path], frm, until)[1])), path)
    reset = only(render("nonNegativeDerivative(servers.host2.disk.sda.bytes)"), "nonNegativeDerivative(servers.host2.disk.sda.bytes)")
    assert [v for v, t in reset if t == env.t0 + 150] == [None], reset  # the reset

    # movingAverage over 3 points: the first points use reports from before `from`.
    got = only(render("movingAverage(servers.host10.cpu.user,3)"), "movingAverage(servers.host10.cpu.user,3)")
    assert_points(got, points(*moving_average(s[user["host10"]], 3, frm, until)), "movingAverage")

    # keepLastValue fills host10's gap.
    got = only(render("keepLastValue(servers.host10.cpu.user)"), "keepLastValue(servers.host10.cpu.user)")
    filled, last = [], None
    for v in host10:
        last = v if v is not None else last
        filled.append(last)
    assert_points(got, points(start, filled), "keepLastValue")

    # groupByNode: cpu.user and cpu.system of every host summed by node 3.
    result = render("groupByNode(servers.*.cpu.*,3,'sum')")
    assert [x["target"] for x in result] == ["system", "user"], result
    for x in result:
        expected = column_sum([grid(s[f"servers.{h}.cpu.{x['target']}"], frm, until)[1] for h in HOSTS])
        assert_points(x["datapoints"], points(start, expected), f"groupByNode {x['target']}")

    # Tagged series: named `path;tag=value` sorted by tag, with their tags; a plain path selects all of them.
    eu = "apps.web.requests;dc=eu;env=prod"
    (tagged,) = render("seriesByTag('name=apps.web.requests','dc=eu')")
    assert tagged["target"] == eu and tagged["tags"] == {"name": "apps.web.requests", "dc": "eu", "env": "prod"}, tagged
    assert_points(tagged["datapoints"], points(*grid(s[eu], frm, until)), "seriesByTag")
    assert [x["target"] for x in render("apps.web.requests")] == [eu, "apps.web.requests;dc=us;env=prod"]
    # Regexes are anchored at the start only, and (graphite-web's docs) "any tag spec that matches an empty value is
    # considered to match series that don't have that tag": dc!=eu keeps the untagged apps.web.
    assert [x["target"] for x in render("seriesByTag('name=~apps','dc!=eu')")] == ["apps.web", "apps.web.requests;dc=us;env=prod"]

    # maxDataPoints: 28 points into at most 10, averaged 3 at a time in 30 s bands; the start (t0 + 10) is nudged to
    # t0 + 30, a multiple of 30 s, dropping t0 + 10.
    assert len(host10) == 28
    got = only(render(user["host10"], maxDataPoints="10"), user["host10"])
    (expected,) = render_json_datapoints([(start, STEP, host10)], 10)
    assert [t for _, t in expected] == list(range(env.t0 + 30, env.t0 + 271, 30)), expected
    assert_points(got, expected, "maxDataPoints=10")
    # 7 values per point, 70 s bands: whatever the request's start, the bands fall on multiples of 70 s. Shifting
    # the range by 0..60 s covers every nudge.
    for shift in range(0, 70, 10):
        shifted_start, shifted = grid(s[user["host10"]], frm + shift, until + shift)
        assert len(shifted) == 28
        got = only(render(user["host10"], maxDataPoints="4", **{"from": str(frm + shift), "until": str(until + shift)}),
                   user["host10"])
        (expected,) = render_json_datapoints([(shifted_start, STEP, shifted)], 4)
        assert all(t % 70 == 0 for _, t in expected), expected
        assert_points(got, expected, f"maxDataPoints=4 from t0 + {shift}")
    # One point: the whole series' average, at its start.
    got = only(render(user["host10"], maxDataPoints="1"), user["host10"])
    assert_points(got, [[sum(present(host10)) / len(present(host10)), start]], "maxDataPoints=1")
    # The time range is the response's: summarize's minute buckets start at t0, so host10's 28 points count as 30
    # steps; its 5 buckets are fewer than 10 and stay.
    result = render(summarize, user["host10"], maxDataPoints="10")
    assert [x["target"] for x in result] == [summarize, user["host10"]], result
    first, buckets = summarize_sum(start, grid(s[user["alpha"]], frm, until)[1], 60)
    expected = render_json_datapoints([(first, 60, buckets), (start, STEP, host10)], 10)
    for x, e in zip(result, expected):
        assert_points(x["datapoints"], e, f"maxDataPoints=10 with summarize: {x['target']}")

    # storage_step: a coarser grid, still the last report of each interval.
    got = only(render(user["alpha"], storage_step="60"), user["alpha"])
    assert_points(got, points(*grid(s[user["alpha"]], frm, until, 60), 60), "storage_step=60")

    # A path matching nothing, and a range holding no sample: no series.
    assert render("servers.nosuch.cpu.user") == []
    assert render(user["alpha"], **{"from": str(env.t0 + 3600), "until": str(env.t0 + 7200)}) == []


def test_graphite_api_render_time_formats(env):
    """from/until as Unix seconds, HH:MM_YYYYMMDD and YYYYMMDD (UTC), -1h and now-1h: the same points where the
    ranges overlap."""
    alpha = env.series["servers.alpha.cpu.user"]
    expected = dict((t, v) for v, t in points(*grid(alpha, env.t0, env.t0 + 280)))

    def render(frm: str, until: str) -> dict[int, float | None]:
        r = env.get("/render", target="servers.alpha.cpu.user", format="json", **{"from": frm, "until": until})
        assert r.status_code == 200, f"from={frm} until={until}: {r.text[:300]}"
        (series,) = r.json()
        return {t: v for v, t in series["datapoints"]}

    absolute = render(time.strftime("%H:%M_%Y%m%d", time.gmtime(env.t0)), str(env.t0 + 280))
    assert absolute == expected
    day = time.strftime("%Y%m%d", time.gmtime(env.t0))
    whole = render(day, str(env.t0 + 280))
    midnight = env.t0 - env.t0 % 86400
    assert min(whole) == midnight + STEP and max(whole) == env.t0 + 280, (min(whole), max(whole))
    assert {t: v for t, v in whole.items() if t >= env.t0 + 10} == expected
    # Relative to now: the data (15 minutes ago) lies inside, every point of it on the grid.
    for frm, until in (("-1h", "now"), ("now-1h", "now-1min")):
        got = render(frm, until)
        assert {t: v for t, v in got.items() if t in expected} == expected, frm
        assert all(v is None for t, v in got.items() if t < env.t0 or t > env.t0 + 290), frm


# ---------------------------------------------------------------------------
# 3. Refusals, roles and tenants
# ---------------------------------------------------------------------------
def test_graphite_api_refusals_name_what_is_wrong(env):
    """400 with a message naming the unknown function, the bad parameter or the missing query."""
    base = {"format": "json", "from": str(env.t0), "until": str(env.t0 + 280)}

    def refused(path: str, **params) -> str:
        return assert_json_error(env.get(path, **params), 400)

    for prefix in ("", "/graphite"):
        message = refused(prefix + "/render", target="frobnicate(servers.alpha.cpu.user)", **base)
        assert "frobnicate" in message, message
        message = refused(prefix + "/render", target="sumSeries(servers.*.cpu.user,nosuchFunction(apps.web))", **base)
        assert "nosuchFunction" in message, message
    message = refused("/render", target="servers.alpha.cpu.user", **{**base, "from": "yesterdayish"})
    assert "from" in message and "yesterdayish" in message, message
    message = refused("/render", target="servers.alpha.cpu.user", **{**base, "until": "tomorrow-ish"})
    assert "until" in message and "tomorrow-ish" in message, message
    message = refused("/render", target="servers.alpha.cpu.user", **{**base, "format": "png"})
    assert "png" in message, message
    message = refused("/render", target="sumSeries(servers.*.cpu.user", **base)
    assert "sumSeries" in message, message
    message = refused("/render", target="servers.alpha.cpu.user", **{**base, "maxDataPoints": "many"})
    assert "maxDataPoints" in message, message
    message = refused("/metrics/find")
    assert "query" in message, message
    message = refused("/graphite/metrics/find", format="completer")
    assert "query" in message, message
    message = refused("/metrics/expand")
    assert "query" in message, message
    message = refused("/metrics/find", query="*", format="nodelist")
    assert "nodelist" in message, message
    r = env.http.post(env.server.url + "/metrics/find", data={"format": "treejson"}, timeout=30)
    assert "query" in assert_json_error(r, 400)


def test_graphite_api_needs_query_role_and_keeps_to_the_tenant(env):
    """Without a token 401, with an ingest-only token 403; another tenant's reader finds and renders nothing."""
    url = env.server.url
    requests_ = [("/render", {"target": "servers.alpha.cpu.user", "format": "json", "from": str(env.t0)}),
                 ("/metrics/find", {"query": "*"}), ("/metrics/expand", {"query": "*"}), ("/metrics/index.json", {}),
                 ("/graphite/render", {"target": "servers.alpha.cpu.user", "format": "json", "from": str(env.t0)})]
    for path, params in requests_:
        assert_json_error(requests.get(url + path, params=params, timeout=30), 401)
        assert_json_error(requests.get(url + path, params=params, headers={"Authorization": f"Bearer {WRITER}"},
                                       timeout=30), 403)
        r = requests.get(url + path, params=params, headers={"Authorization": f"Bearer {OTHER}"}, timeout=30)
        assert r.status_code == 200, r.text
        assert r.json() in ([], {"results": []}), (path, r.text)
        assert env.http.get(url + path, params=params, timeout=30).json() not in ([], {"results": []}), path
