#!/usr/bin/env bash
# WAL append throughput against raw write()+fsync() of the same bytes in the same batch sizes.
# Builds the benchmark in release mode and runs it with the defaults (200k records of 1 KiB; raw: 100 records per
# write+fsync; WAL: 100 concurrent appenders, fsync always; 3 interleaved runs, medians reported).
# Extra arguments are passed on, e.g.
#   scripts/bench/wal.sh --dir /data/bench --records 200000 --record-size 1024 --batch 100 --writers 100 --runs 3
# Prints a markdown table on stdout (copy it into docs/benchmarks.md by hand) and per-run details on stderr.
# PACKAGE_DIR builds another checkout of the package (default: this repository).
set -euo pipefail
package_dir="${PACKAGE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
swift build -c release --package-path "$package_dir" --product SightlineBenchmarks >&2
exec "$(swift build -c release --package-path "$package_dir" --show-bin-path)/SightlineBenchmarks" wal "$@"
