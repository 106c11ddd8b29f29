#!/usr/bin/env python3
"""The measuring half of benches/hunt/run.sh (which builds, installs and generates first).

Runs every configuration RUNS times on the corpora in BENCH_DIR and prints a markdown table:
median wall time, events/s, MB/s, peak RSS (/usr/bin/time %M) and the 1-minute load average
before the runs. Each record also goes to BENCH_DIR/results.jsonl. Environment (set by run.sh):
BIN FLOORS RSIGMA BENCH_DIR RUNS SIZES PEERS MEMCHECK LOAD_MAX RULESETS PARSERS_BIN.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ENV = os.environ
BIN, FLOORS, RSIGMA = ENV["BIN"], ENV["FLOORS"], ENV.get("RSIGMA", "")
BENCH_DIR, RULESETS = ENV["BENCH_DIR"], ENV["RULESETS"]
RUNS = int(ENV.get("RUNS", "3"))
SIZES = ENV.get("SIZES", "100k 1m").split()
PEERS = ENV.get("PEERS", "1") == "1"
MEMCHECK = ENV.get("MEMCHECK", "1") == "1"
LOAD_MAX = float(ENV.get("LOAD_MAX", "3.0"))
PARSERS_BIN = ENV.get("PARSERS_BIN", "")
OUT = os.path.join(BENCH_DIR, "results.jsonl")


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def calm():
    """Waits (up to a minute) for the 1-minute load average to drop below LOAD_MAX."""
    for _ in range(4):
        if load1() <= LOAD_MAX:
            break
        time.sleep(15)
    return load1()


def timed(cmd, stdout=subprocess.DEVNULL):
    """(seconds, peak RSS in KB) of one run; raises on failure."""
    with tempfile.NamedTemporaryFile("r") as t:
        start = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", t.name] + cmd,
                           stdout=stdout, stderr=subprocess.PIPE)
        seconds = time.perf_counter() - start
        if p.returncode != 0:
            sys.stderr.write(p.stderr.decode(errors="replace")[-2000:])
            raise RuntimeError(f"failed ({p.returncode}): {' '.join(cmd)}")
        rss = int(t.read().strip().splitlines()[-1])
    return seconds, rss


def lines(path):
    n = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 24)
            if not b:
                return n
            n += b.count(b"\n")


def record(row):
    with open(OUT, "a") as f:
        f.write(json.dumps(row) + "\n")
    print(
        "| {size} | {tool} | {config} | {events:,} | {mb:.0f} | {median:.2f} | {eps:,.0f} | "
        "{mbps:.1f} | {rss_mb:.0f} | {load:.1f} | {runs} |".format(
            **row, runs=" ".join(f"{s:.2f}" for s in row["seconds"])
        ),
        flush=True,
    )


def measure(size, tool, config, cmd, events, nbytes, runs=RUNS):
    seconds, rss, loads = [], [], []
    for _ in range(runs):
        loads.append(calm())
        s, r = timed(cmd)
        seconds.append(s)
        rss.append(r)
    median = statistics.median(seconds)
    row = {
        "size": size, "tool": tool, "config": config, "events": events,
        "mb": nbytes / 1e6, "median": median, "eps": events / median,
        "mbps": nbytes / 1e6 / median, "rss_mb": max(rss) / 1024, "load": max(loads),
        "seconds": seconds, "cmd": " ".join(cmd), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    record(row)
    return row


def floors(size, ual, events, nbytes):
    """The floor rows; returns {floor name: events/s}."""
    out, rates = {}, {}
    for _ in range(RUNS):
        calm()
        p = subprocess.run([FLOORS, ual], capture_output=True, check=True, text=True)
        for line in p.stdout.splitlines():
            r = json.loads(line)
            out.setdefault(r["floor"], []).append(r["seconds"])
    for floor, secs in out.items():
        median = statistics.median(secs)
        rates[floor] = events / median
        record({
            "size": size, "tool": "floor", "config": floor, "events": events,
            "mb": nbytes / 1e6, "median": median, "eps": events / median,
            "mbps": nbytes / 1e6 / median, "rss_mb": 0, "load": load1(), "seconds": secs,
            "cmd": f"{FLOORS} {ual}", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        })
    return rates


def main():
    print(f"machine: {os.cpu_count()} cpus; load before: {load1():.2f}; runs: {RUNS}")
    print()
    print("| corpus | tool | configuration | events | MB | median s | events/s | MB/s | "
          "peak RSS MB | load1 | runs (s) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    ratios = []
    for size in SIZES:
        ual = os.path.join(BENCH_DIR, size, "ual.jsonl")
        events, nbytes = lines(ual), os.path.getsize(ual)
        floor = floors(size, ual, events, nbytes)
        sw = {}
        hunt = [BIN, "hunt", "-q", "-f", "jsonl"]
        for name, rules in [("cloud", ["-r", f"{RULESETS}/cloud"]),
                            ("full", ["-r", f"{RULESETS}/full"]), ("none", [])]:
            for builtin in (True, False):
                if name == "none" and not builtin:
                    continue
                # Past the first corpus, skip the slowest row that no target needs.
                if name == "full" and builtin and size != SIZES[0]:
                    continue
                config = f"{name} rules" + (" + built-ins" if builtin else " (--no-builtin)")
                if name == "none":
                    config = "built-ins only"
                extra = [] if builtin else ["--no-builtin"]
                sw[(name, builtin)] = measure(size, "stormwatch", config,
                                              hunt + rules + extra + [ual], events, nbytes)
        split = floor.get("split")
        if split:
            mine = sw[("cloud", True)]
            ratios.append((size, mine["config"] + " ÷ memchr line-split floor", mine["eps"] / split))
        if size == SIZES[0]:
            measure(size, "stormwatch", "cloud rules + built-ins, --no-prefilter",
                    hunt + ["-r", f"{RULESETS}/cloud", "--no-prefilter", ual], events, nbytes)
        if PEERS and RSIGMA:
            for name in ("cloud", "full"):
                try:
                    peer = measure(size, "rsigma 0.23.0", f"{name} rules",
                                   [RSIGMA, "engine", "eval", "-r", f"{RULESETS}/{name}",
                                    "-e", f"@{ual}"], events, nbytes)
                except RuntimeError as e:
                    print(f"| {size} | rsigma 0.23.0 | {name} rules | failed: {e} |", flush=True)
                    continue
                for builtin in (False, True):
                    mine = sw.get((name, builtin))
                    if mine:
                        ratios.append((size, mine["config"], mine["eps"] / peer["eps"]))
    if MEMCHECK:
        for size in SIZES + ["5m"]:
            d = os.path.join(BENCH_DIR, size)
            files = [os.path.join(d, "ual.jsonl"), os.path.join(d, "signins.jsonl")]
            events = sum(lines(f) for f in files)
            nbytes = sum(os.path.getsize(f) for f in files)
            measure(size, "stormwatch", "memory: cloud rules + built-ins, UAL + sign-ins, jsonl",
                    [BIN, "hunt", "-q", "-f", "jsonl", "-r", f"{RULESETS}/cloud"] + files,
                    events, nbytes, runs=1)
    if PARSERS_BIN:
        ual = os.path.join(BENCH_DIR, SIZES[0], "ual.jsonl")
        calm()
        p = subprocess.run([PARSERS_BIN, ual, "64"], capture_output=True, check=True, text=True)
        print()
        print(f"Parsers, one thread, the first 64 MB of {SIZES[0]}/ual.jsonl, median of 5 passes:")
        print()
        print("| parser | lines | MB/s | lines/s |")
        print("|---|---:|---:|---:|")
        for line in p.stdout.splitlines():
            r = json.loads(line)
            with open(OUT, "a") as f:
                f.write(json.dumps({"tool": "parser", **r}) + "\n")
            print(f"| {r['parser']} | {r['lines']:,} | {r['mb_per_s']:.0f} | {r['lines_per_s']:,.0f} |")
    if ratios:
        print()
        print("| corpus | stormwatch configuration | ratio of events/s (÷ rsigma with the same rules, or ÷ the floor named) |")
        print("|---|---|---:|")
        for size, config, r in ratios:
            print(f"| {size} | {config} | {r:.3g}× |")


if __name__ == "__main__":
    main()
