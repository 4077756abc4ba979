#!/usr/bin/env python3
"""summarize-ws.py DIR: medians of measure-ws.sh's runs, TCP vs WebSocket."""
import glob, json, os, statistics, sys

d = sys.argv[1]
def load(scenario, proto):
    rs = []
    for f in sorted(glob.glob(os.path.join(d, f"{scenario}-{proto}-*.json"))):
        with open(f) as fh:
            r = json.load(fh)
        rs.append(r[0] if isinstance(r, list) else r)
    return rs

metrics = [
    ("delivered lines/s", lambda r: r["delivered_per_sec"]),
    ("lost", lambda r: r["lost"]),
    ("latency p50 ms", lambda r: r["latency_ms"]["p50"]),
    ("latency p99 ms", lambda r: r["latency_ms"]["p99"]),
    ("server CPU µs per delivery", lambda r: r["server_cpu_us_per_delivery"]),
    ("server bytes per connection", lambda r: r["server_bytes_per_conn"]),
    ("server peak RSS MiB", lambda r: r["server_peak_rss_bytes"] / 2**20),
]
for scenario in ("saturate", "room", "idle"):
    tcp, ws = load(scenario, "tcp"), load(scenario, "ws")
    if not tcp or not ws:
        continue
    print(f"\n{scenario}: median of {len(tcp)} tcp / {len(ws)} ws runs")
    print("| metric | tcp | ws | ws/tcp | tcp runs | ws runs |")
    print("|---|---:|---:|---:|---|---|")
    for name, f in metrics:
        a, b = statistics.median(map(f, tcp)), statistics.median(map(f, ws))
        ratio = f"{b / a:.2f}×" if a else ""
        runs = lambda rs: ", ".join(f"{f(r):.4g}" for r in rs)
        print(f"| {name} | {a:.4g} | {b:.4g} | {ratio} | {runs(tcp)} | {runs(ws)} |")
