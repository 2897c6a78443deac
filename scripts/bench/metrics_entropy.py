#!/usr/bin/env python3
"""How few bytes per sample any lossless per-series encoding can need on the metrics benchmark's dataset.

Generates the dataset with ../shared/datasets/gen_metrics.py (CSV, same seed and shape as scripts/bench/metrics.sh)
and estimates, per series:
  * values: each series is scaled to integers by its largest decimal exponent (what a decimal codec does); the
    generator draws each increment uniformly from a range, so an ideal coder needs log2 of the spread of the first
    (or, if smaller, second) differences per sample — the information the generator put in;
  * timestamps: the order-0 entropy of the delta-of-deltas (the scrape jitter), as stored per series, and as stored
    once per distinct time column (a scrape stamps all of a target's series alike; blocks keep such columns once).
Prints both in bits and bytes per sample and their sum, to set against the ≤ 1.0 B/sample target (which must also
hold the index).

Usage: scripts/bench/metrics_entropy.py [--series 10000] [--span 1h] [--seed 1] [--shared ../shared]
"""
import argparse
import collections
import csv
import math
import os
import subprocess
import sys
import tempfile
from decimal import Decimal


def integer_scaled(texts):
    """The values as integers after multiplying by 10^e, e the most decimal places any of them has."""
    places = max((-Decimal(t).as_tuple().exponent for t in texts), default=0)
    places = max(places, 0)
    return [int(Decimal(t).scaleb(places)) for t in texts]


def spread_bits(diffs):
    return math.log2(max(diffs) - min(diffs) + 1) if diffs else 0.0


def entropy_bits(symbols):
    counts = collections.Counter(symbols)
    n = len(symbols)
    return -sum(c / n * math.log2(c / n) for c in counts.values()) if n else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", type=int, default=10000)
    ap.add_argument("--span", default="1h")
    ap.add_argument("--seed", type=int, default=1)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--shared", default=os.path.join(here, "..", "..", "..", "shared"))
    a = ap.parse_args()

    series = collections.defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "metrics.csv")
        subprocess.run([sys.executable, os.path.join(a.shared, "datasets", "gen_metrics.py"), "--series", str(a.series),
                        "--span", a.span, "--seed", str(a.seed), "--format", "csv", "--out", out],
                       check=True, capture_output=True)
        with open(out, newline="") as f:
            rows = csv.reader(f)
            next(rows)
            for timestamp, metric, labels, value in rows:
                series[(metric, labels)].append((int(timestamp), value))

    value_bits = time_bits = shared_time_bits = 0.0
    samples = 0
    columns = set()
    for points in series.values():
        values = integer_scaled([v for _, v in points])
        first = [b - a for a, b in zip(values, values[1:])]
        second = [b - a for a, b in zip(first, first[1:])]
        value_bits += min(spread_bits(first), spread_bits(second)) * (len(values) - 1)
        times = [t for t, _ in points]
        deltas = [b - a for a, b in zip(times, times[1:])]
        dods = [b - a for a, b in zip(deltas, deltas[1:])]
        time_bits += entropy_bits(dods) * len(dods)
        if tuple(times) not in columns:
            columns.add(tuple(times))
            shared_time_bits += entropy_bits(dods) * len(dods)
        samples += len(points)
    v, t, s = value_bits / samples, time_bits / samples, shared_time_bits / samples
    print(f"dataset: {len(series)} series, {samples} samples (seed {a.seed}, span {a.span})")
    print(f"values:     {v:6.2f} bits = {v / 8:.3f} B/sample")
    print(f"timestamps: {t:6.2f} bits = {t / 8:.3f} B/sample per series; "
          f"{s:6.3f} bits = {s / 8:.4f} B/sample stored once per distinct column ({len(columns)} columns)")
    print(f"together:   {(v + s) / 8:.3f} B/sample before any index (timestamps once per column)")


if __name__ == "__main__":
    main()
