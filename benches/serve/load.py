#!/usr/bin/env python3
"""Load test of `stormwatch serve` ingest, bounded and on loopback only.

  benches/serve/load.py                       # SQLite store, 3 runs, defaults below
  benches/serve/load.py --store postgres://postgres@127.0.0.1:5432/test
  benches/serve/load.py --clients 8 --batch 1000 --runs 5

What it does, per run: start `target/release/stormwatch serve` on a free 127.0.0.1 port with a
fresh data directory (or a scratch PostgreSQL schema), then CLIENTS threads POST the pinned
corpus (made once by `stormwatch generate` at a fixed seed: sign-ins first, then the audit log,
per tenant) in batches of BATCH JSON lines, each with its tenant's API key and an
Idempotency-Key, over keep-alive connections. Bounded: every batch is sent once and the run
stops after --max-seconds whatever is left. Then it waits for the judge to find the planted
intrusion in every intruded tenant (the detections API), stops the server with SIGTERM and
reports, as the median over runs: events/s and MB/s accepted, per-request latency p50/p95/p99
and max, how long until the intrusion was an incident after the last batch, and refused or
failed requests (which must be 0). Output: a markdown table on stdout and JSON lines in
--out (default /tmp/stormwatch-serve-bench/results.jsonl).
"""

import argparse
import http.client
import json
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def free_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def generate(bin_, out, a):
    manifest = os.path.join(out, ".manifest.json")
    if not os.path.exists(manifest):
        subprocess.run(
            [bin_, "--quiet", "generate", "--out", out, "--tenants", str(a.tenants), "--users",
             str(a.users), "--days", str(a.days), "--seed", str(a.seed)],
            check=True,
        )
    with open(manifest) as f:
        return json.load(f)


def batches(corpus, tenants, size):
    """[(tenant, body bytes, lines)] per tenant: sign-ins then UAL, in file order."""
    by_tenant = {t: [] for t in tenants}
    for name in ("signins.jsonl", "ual.jsonl"):
        with open(os.path.join(corpus, name), encoding="utf-8") as f:
            for line in f:
                for t in tenants:
                    if t in line:
                        by_tenant[t].append(line.rstrip("\n"))
                        break
    out = []
    for t, lines in by_tenant.items():
        for i in range(0, len(lines), size):
            chunk = lines[i : i + size]
            out.append((t, "\n".join(chunk).encode(), len(chunk)))
    return out


def key_of(i):
    return f"sw_load-{i}_" + "k" * 24


def config(data_dir, port, tenants, store):
    c = f'data_dir = "{data_dir}"\nlisten = "127.0.0.1:{port}"\njudge_interval_ms = 1000\n'
    # The load test measures ingest capacity, not the per-key limiter.
    c += "max_body_bytes = 33554432\nrate_limit_per_minute = 10000000\nrate_limit_burst = 100000\n"
    if store:
        schema = f"sw_load_{os.getpid()}_{int(time.time() * 1000)}"
        c += f'store = "{store}"\npostgres_schema = "{schema}"\n'
    for t in tenants:
        c += f'[[tenants]]\nid = "{t}"\n'
    c += f'[[api_keys]]\nname = "ops"\nrole = "operator"\nkey = "sw_ops_{"o" * 24}"\n'
    for i, t in enumerate(tenants):
        c += f'[[api_keys]]\nname = "t{i}"\nrole = "tenant_admin"\ntenant = "{t}"\nkey = "{key_of(i)}"\n'
    return c


def get(url, key):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def one_run(a, bin_, manifest, work):
    tenants = manifest["tenants"]
    index = {t: i for i, t in enumerate(tenants)}
    data = tempfile.mkdtemp(dir=work)
    port = free_port()
    cfg = os.path.join(data, "stormwatch.toml")
    with open(cfg, "w") as f:
        f.write(config(os.path.join(data, "data"), port, tenants, a.store))
    log = open(os.path.join(data, "serve.log"), "w")
    srv = subprocess.Popen([bin_, "serve", "--config", cfg], stdout=subprocess.DEVNULL, stderr=log)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        work_q = queue.Queue()
        for i, b in enumerate(a.batches):
            work_q.put((i, b))
        lat, errors, accepted = [], [], [0]
        lock = threading.Lock()
        deadline = time.monotonic() + a.max_seconds

        def client():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            while time.monotonic() < deadline:
                try:
                    i, (t, body, n) = work_q.get_nowait()
                except queue.Empty:
                    return
                headers = {"Authorization": f"Bearer {key_of(index[t])}",
                           "Idempotency-Key": f"load-{i}", "Content-Type": "application/x-ndjson"}
                t0 = time.perf_counter()
                try:
                    conn.request("POST", "/api/v1/ingest", body=body, headers=headers)
                    r = conn.getresponse()
                    r.read()
                    dt = time.perf_counter() - t0
                    with lock:
                        if r.status == 202:
                            lat.append(dt)
                            accepted[0] += n
                        else:
                            errors.append(f"HTTP {r.status}")
                except Exception as e:  # noqa: BLE001 - counted and reported
                    with lock:
                        errors.append(repr(e))
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(a.clients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - t0
        # Until every intruded tenant has an incident of the planted intrusion.
        intruded = {p["tenant"]: p["mailbox"] for p in manifest["intrusion"]}
        t1 = time.perf_counter()
        caught_after = None
        while time.perf_counter() - t1 < a.max_seconds:
            d = get(f"http://127.0.0.1:{port}/api/v1/detections?min_level=medium&limit=1000",
                    f"sw_ops_{'o' * 24}")
            got = {(x["detection"]["tenant"], x["detection"]["user"]) for x in d["detections"]
                   if x["incident_id"] is not None}
            if all((t, m) in got for t, m in intruded.items()):
                caught_after = time.perf_counter() - t1
                break
            time.sleep(0.2)
        lat.sort()
        q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")  # noqa: E731
        sent_bytes = sum(len(b[1]) for b in a.batches)
        return {
            "events": accepted[0], "requests": len(lat), "errors": len(errors),
            "error_kinds": sorted(set(errors))[:5], "wall_s": wall,
            "events_per_s": accepted[0] / wall, "mb_per_s": sent_bytes / wall / 1e6,
            "p50_ms": q(0.50) * 1e3, "p95_ms": q(0.95) * 1e3, "p99_ms": q(0.99) * 1e3,
            "max_ms": (lat[-1] * 1e3) if lat else float("nan"),
            "intrusion_incident_after_s": caught_after,
        }
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(timeout=60)
        except subprocess.TimeoutExpired:
            srv.kill()
        log.close()
        shutil.rmtree(data, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/stormwatch"))
    ap.add_argument("--out", default="/tmp/stormwatch-serve-bench")
    ap.add_argument("--store", default=None, help="PostgreSQL connection string (default: SQLite)")
    ap.add_argument("--tenants", type=int, default=6)
    ap.add_argument("--users", type=int, default=120)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--max-seconds", type=float, default=120)
    a = ap.parse_args()
    if not os.path.exists(a.bin):
        sys.exit(f"load.py: {a.bin} missing; cargo build --release -p stormwatch")
    os.makedirs(a.out, exist_ok=True)
    corpus = os.path.join(a.out, f"corpus-t{a.tenants}-u{a.users}-d{a.days}-s{a.seed}")
    manifest = generate(a.bin, corpus, a)
    a.batches = batches(corpus, manifest["tenants"], a.batch)
    events = sum(b[2] for b in a.batches)
    mb = sum(len(b[1]) for b in a.batches) / 1e6
    print(f"corpus {corpus}: {events} events, {mb:.1f} MB, {len(a.batches)} batches of <= {a.batch}",
          file=sys.stderr)
    results = []
    for r in range(a.runs):
        res = one_run(a, a.bin, manifest, a.out)
        res.update({"run": r + 1, "store": "postgres" if a.store else "sqlite", "clients": a.clients,
                    "batch": a.batch, "load1": os.getloadavg()[0]})
        print(json.dumps(res), file=sys.stderr)
        results.append(res)
    with open(os.path.join(a.out, "results.jsonl"), "a") as f:
        for res in results:
            f.write(json.dumps(res) + "\n")
    med = lambda k: statistics.median(x[k] for x in results if x[k] is not None)  # noqa: E731
    print("| store | clients | batch | events | runs | events/s | MB/s | p50 ms | p95 ms | p99 ms | max ms | incident after last batch (s) | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {results[0]['store']} | {a.clients} | {a.batch} | {events} | {a.runs} | {med('events_per_s'):,.0f} | "
          f"{med('mb_per_s'):.1f} | {med('p50_ms'):.0f} | {med('p95_ms'):.0f} | {med('p99_ms'):.0f} | "
          f"{med('max_ms'):.0f} | {med('intrusion_incident_after_s'):.1f} | {sum(x['errors'] for x in results)} |")


if __name__ == "__main__":
    main()
