#!/usr/bin/env bash
# Throughput of `stormwatch dump` to /dev/null over a pinned ~1.1 GB UAL JSON-lines corpus, made by the
# project's generator (seed 1). Reports the median of RUNS runs for 1 thread and for all cores, with
# the load average before each run (the machine is shared: read the numbers with it), and the floor of
# reading the file (`wc -l`).
#   usage: benches/ingest/dump.sh            (BENCH_DIR=/tmp/stormwatch-bench RUNS=3)
set -euo pipefail
cd "$(dirname "$0")/../.."
BENCH_DIR=${BENCH_DIR:-/tmp/stormwatch-bench}
RUNS=${RUNS:-3}
cargo build --release -q -p stormwatch
SW=target/release/stormwatch
CORPUS=$BENCH_DIR/dump-1g
if [ ! -f "$CORPUS/ual.jsonl" ]; then
  $SW -q generate --out "$CORPUS" --seed 1 --tenants 10 --users 200 --days 30 --mail-per-day 12
fi
FILE=$CORPUS/ual.jsonl
BYTES=$(stat -c %s "$FILE")
LINES=$(wc -l < "$FILE")
echo "corpus: $FILE, $BYTES bytes, $LINES lines; $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run() { # label, command...
  local label=$1; shift
  local times=()
  for _ in $(seq "$RUNS"); do
    local load; load=$(cut -d' ' -f1 /proc/loadavg)
    local out; out=$(mktemp)
    /usr/bin/time -f %e -o "$out" "$@" > /dev/null 2>&1
    local t; t=$(tail -1 "$out"); rm -f "$out"
    echo "  $label: ${t}s (load $load)" >&2
    times+=("$t")
  done
  local m; m=$(printf '%s\n' "${times[@]}" | median)
  awk -v l="$label" -v s="$m" -v b="$BYTES" -v n="$LINES" \
    'BEGIN {printf "%-22s median %6.2f s  %7.1f MB/s  %9.0f records/s\n", l, s, b/s/1e6, n/s}'
}
run "wc -l (read floor)" wc -l "$FILE"
run "dump, 1 thread" $SW -q dump --threads 1 "$FILE"
run "dump, all cores" $SW -q dump "$FILE"
