#!/usr/bin/env bash
# Hunt throughput and memory, stormwatch against rsigma 0.23.0, on pinned generated corpora.
#
#   benches/hunt/run.sh                 # everything (≈30 min on 2 cores once corpora exist)
#   SIZES="100k" RUNS=3 benches/hunt/run.sh
#   MEMCHECK=0 PEERS=0 PARSERS=0 benches/hunt/run.sh
#
# Steps: (a) build target/release/stormwatch and the floors example; (b) install rsigma 0.23.0
# with cargo if it is missing (several minutes, once); (c) generate the corpora with the
# project's generator at fixed seeds into $BENCH_DIR (default /tmp/stormwatch-bench; same seed,
# same bytes; kept between runs); (d) rule sets: SigmaHQ cloud rules, the full SigmaHQ rules/
# tree, and the built-ins only; (e) $RUNS runs a configuration, median wall time → events/s and
# MB/s, peak RSS from /usr/bin/time, the 1-minute load average before each run; the floors
# (memchr line split, serde_json parse of every line); (f) the JSON parser comparison
# (benches/parsers: serde_json, simd-json, sonic-rs, one thread). The 5M corpus is for
# stormwatch's memory check only (one run). Results: a markdown table on stdout and $BENCH_DIR/results.jsonl.
#
# Peers get the UAL JSON lines file only (rsigma reads JSON lines), and so does stormwatch in
# the side-by-side rows, so input and rules are identical. stormwatch's built-in mail analysis
# would want the sign-in logs too; the corpora have them (signins.jsonl) for the memory check.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/benches/hunt"
BENCH_DIR=${BENCH_DIR:-/tmp/stormwatch-bench}
SIGMA=${SIGMA:-$(cd "$ROOT/.." && pwd)/shared/sigma}
RUNS=${RUNS:-3}
SIZES=${SIZES:-"100k 1m"}
PEERS=${PEERS:-1}
MEMCHECK=${MEMCHECK:-1}
PARSERS=${PARSERS:-1}
LOAD_MAX=${LOAD_MAX:-3.0}
RSIGMA=${RSIGMA:-$(command -v rsigma || echo "$HOME/.cargo/bin/rsigma")}
BIN=${STORMWATCH:-$ROOT/target/release/stormwatch}
FLOORS=$ROOT/target/release/examples/floors

for tool in python3 /usr/bin/time cargo; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is required" >&2; exit 2; }
done
[ -d "$SIGMA/rules/cloud" ] || { echo "run.sh: no SigmaHQ rules at $SIGMA/rules" >&2; exit 2; }

echo "== build" >&2
(cd "$ROOT" && cargo build --release -p stormwatch >&2 \
    && cargo build --release -p stormwatch-engine --example floors >&2)

if [ "$PEERS" = 1 ] && [ ! -x "$RSIGMA" ]; then
    echo "== installing rsigma 0.23.0 (several minutes, once)" >&2
    cargo install rsigma --version 0.23.0 --locked >&2
    RSIGMA="$HOME/.cargo/bin/rsigma"
fi

# size name → generator arguments. UAL events are about tenants × users × days × 12.2; the
# exact counts (and bytes) are measured and reported.
gen_args() {
    case "$1" in
        100k) echo "--tenants 2 --users 140 --days 30 --mail-per-day 12 --seed 100" ;;
        1m) echo "--tenants 10 --users 280 --days 30 --mail-per-day 12 --seed 1000" ;;
        5m) echo "--tenants 40 --users 350 --days 30 --mail-per-day 12 --seed 5000" ;;
        *) echo "run.sh: unknown size $1" >&2; exit 2 ;;
    esac
}

mkdir -p "$BENCH_DIR"
all_sizes="$SIZES"
[ "$MEMCHECK" = 1 ] && all_sizes="$all_sizes 5m"
for size in $all_sizes; do
    dir="$BENCH_DIR/$size"
    if [ ! -f "$dir/.done" ]; then
        echo "== generating $size corpus into $dir" >&2
        rm -rf "$dir"
        # shellcheck disable=SC2046
        "$BIN" generate -q --out "$dir" $(gen_args "$size")
        touch "$dir/.done"
    fi
done

# Rule sets as directories; the built-ins need none.
RULESETS="$BENCH_DIR/rulesets"
mkdir -p "$RULESETS"
ln -sfn "$SIGMA/rules/cloud" "$RULESETS/cloud"
ln -sfn "$SIGMA/rules" "$RULESETS/full"

PARSERS_BIN=""
if [ "$PARSERS" = 1 ]; then
    echo "== building the parser comparison (benches/parsers)" >&2
    (cd "$ROOT/benches/parsers" && cargo build --release -q >&2)
    PARSERS_BIN="$ROOT/benches/parsers/target/release/parser-shootout"
fi

export BIN FLOORS RSIGMA BENCH_DIR RUNS SIZES PEERS MEMCHECK LOAD_MAX RULESETS PARSERS_BIN
exec python3 "$HERE/measure.py"
