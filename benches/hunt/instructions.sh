#!/usr/bin/env bash
# Work per event, counted in instructions: stormwatch hunt against rsigma 0.23.0 under
# valgrind's callgrind, on a pinned slice of the 1M corpus with the SigmaHQ cloud rules.
#
#   benches/hunt/instructions.sh              # ≈2.5 min once the corpus, rsigma and the build exist
#   LINES=50000 RUNS=5 benches/hunt/instructions.sh
#   PEERS=0 STORMWATCH=/tmp/old/stormwatch benches/hunt/instructions.sh   # A/B one binary
#
# Why: the wall times of benches/hunt/run.sh move by several percent from one run to the next
# on a shared 2-core VM, more than most single changes are worth. An instruction count does
# not: it is the same from run to run but for thread scheduling, so a change of 0.5% shows.
# It is not time (a cache miss costs more than an add), and it counts the work of all threads,
# so it says nothing of how well hunt uses both cores; run.sh says that.
#
# Each tool runs over the first $LINES lines of $BENCH_DIR/1m/ual.jsonl (the 1M corpus of
# run.sh, generated here the same way if missing) and over an empty file; the difference,
# divided by $LINES, is the work per event without the start-up (loading and compiling the
# rules), which is reported apart. $RUNS runs each, medians. stormwatch runs as the hunt rows
# of run.sh do (cloud rules + the built-ins, JSON lines out); rsigma as `engine eval`.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/stormwatch-bench}
SIGMA=${SIGMA:-$(cd "$ROOT/.." && pwd)/shared/sigma}
LINES=${LINES:-20000}
RUNS=${RUNS:-3}
PEERS=${PEERS:-1}
RSIGMA=${RSIGMA:-$(command -v rsigma || echo "$HOME/.cargo/bin/rsigma")}
BIN=${STORMWATCH:-$ROOT/target/release/stormwatch}
RULES="$SIGMA/rules/cloud"

command -v valgrind >/dev/null || {
    echo "instructions.sh: valgrind is required (apt-get install -y valgrind)" >&2
    exit 2
}
[ -d "$RULES" ] || { echo "instructions.sh: no SigmaHQ rules at $RULES" >&2; exit 2; }
if [ "$PEERS" = 1 ] && [ ! -x "$RSIGMA" ]; then
    echo "instructions.sh: no rsigma at $RSIGMA (cargo install rsigma --version 0.23.0 --locked)" >&2
    exit 2
fi
if [ -z "${STORMWATCH:-}" ]; then
    echo "== build" >&2
    (cd "$ROOT" && cargo build --release -q -p stormwatch >&2)
fi

corpus="$BENCH_DIR/1m"
if [ ! -f "$corpus/.done" ]; then
    echo "== generating the 1m corpus into $corpus" >&2
    rm -rf "$corpus"
    "$BIN" generate -q --out "$corpus" --tenants 10 --users 280 --days 30 --mail-per-day 12 --seed 1000
    touch "$corpus/.done"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
slice="$work/slice.jsonl"
head -n "$LINES" "$corpus/ual.jsonl" > "$slice"
: > "$work/empty.jsonl"
echo "slice: the first $LINES lines of $corpus/ual.jsonl ($(wc -c < "$slice") bytes)" >&2

# Instructions (callgrind's Ir, all threads) of one run: `count NAME INPUT COMMAND…`, where
# INPUT in COMMAND is replaced by the input file.
count() {
    local input=$1
    shift
    local out="$work/callgrind.out"
    valgrind --tool=callgrind --callgrind-out-file="$out" "${@/INPUT/$input}" >/dev/null 2>"$work/err" \
        || { echo "instructions.sh: failed: $* (see below)" >&2; cat "$work/err" >&2; exit 1; }
    awk '/^totals:/ {print $2}' "$out"
}

measure() {
    local name=$1
    shift
    local runs=()
    for _ in $(seq "$RUNS"); do
        local full empty
        full=$(count "$slice" "$@")
        empty=$(count "$work/empty.jsonl" "$@")
        runs+=("$full $empty")
        echo "  $name: $full instructions, $empty of them start-up" >&2
    done
    printf '%s\n' "${runs[@]}" | python3 -c '
import statistics, sys
name, lines = sys.argv[1], int(sys.argv[2])
runs = [tuple(map(int, l.split())) for l in sys.stdin if l.strip()]
per_line = statistics.median((full - empty) / lines for full, empty in runs)
startup = statistics.median(empty for _, empty in runs)
print(f"{name} {per_line:.0f} {startup}")
' "$name" "$LINES"
}

echo "== counting ($RUNS runs each)" >&2
results=$(
    measure stormwatch "$BIN" hunt -q -f jsonl -r "$RULES" INPUT
    if [ "$PEERS" = 1 ]; then
        measure rsigma "$RSIGMA" engine eval -r "$RULES" -e @INPUT
    fi
)

echo "| tool | instructions an event (median of $RUNS) | start-up instructions |"
echo "|---|---:|---:|"
echo "$results" | while read -r name per_line startup; do
    printf '| %s | %s | %s |\n' "$name" "$per_line" "$startup"
done
echo "$results" | python3 -c '
import sys
rows = {l.split()[0]: float(l.split()[1]) for l in sys.stdin if l.strip()}
if "rsigma" in rows:
    ratio = rows["rsigma"] / rows["stormwatch"]
    print(f"\nrsigma does {ratio:.2f}x the instructions an event that stormwatch does.")
'
