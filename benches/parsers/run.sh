#!/usr/bin/env bash
# Parser comparison for the hunt decoder: benches/parsers/run.sh FILE [MAX_MB]
# (default: the first 64 MB of FILE, e.g. the 100k corpus's ual.jsonl from benches/hunt).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE"
cargo build --release -q
./target/release/parser-shootout "$@"
