#!/usr/bin/env python3
"""Prints medians of the JSON results bench/measure-*.sh wrote.

Usage: bench/summarize.py OUT_DIR
Groups files named <scenario>-<build>-<run>.json and prints, per group, the
median of each figure over its runs (the worst run for cut and lost counts).
"""
import json, os, re, statistics, sys

FIELDS = [
    ("delivered/s", lambda r: r["delivered_per_sec"], "median"),
    ("sent/s", lambda r: r.get("lines_sent_per_sec", 0), "median"),
    ("p50 ms", lambda r: r["latency_ms"]["p50"], "median"),
    ("p99 ms", lambda r: r["latency_ms"]["p99"], "median"),
    ("p99.9 ms", lambda r: r["latency_ms"]["p99_9"], "median"),
    ("server cores", lambda r: r["server_cpu_seconds"] / max((r["workload"]["warmup_seconds"] + r["workload"]["duration_seconds"]) + r.get("drain_seconds", 0), 1e-9), "median"),
    ("lost", lambda r: r["lost"], "max"),
    ("dup", lambda r: r["duplicates_or_reordered"], "max"),
    ("readers cut", lambda r: r.get("readers_cut", 0), "max"),
    ("senders cut", lambda r: r.get("senders_cut", 0), "max"),
    ("stalled cut", lambda r: r.get("stalled_cut", 0), "min"),
    ("peak RSS MiB", lambda r: r["server_peak_rss_bytes"] / 2**20, "max"),
    ("RSS before MiB", lambda r: r["server_rss_before_clients_bytes"] / 2**20, "median"),
    ("RSS after MiB", lambda r: r.get("server_rss_after_bytes", 0) / 2**20, "max"),
    ("CPU us/deliv", lambda r: r["server_cpu_us_per_delivery"], "median"),
    ("bytes/conn", lambda r: r["server_bytes_per_conn"], "median"),
    ("slow cut", lambda r: r.get("slow_readers_cut", 0), "min"),
    ("last slow cut s", lambda r: r.get("slow_cut_last_seconds", 0), "max"),
    ("sent/s after slow cut", lambda r: r.get("lines_sent_per_sec_after_slow_cut", 0), "median"),
    ("probe idle p50 ms", lambda r: (r.get("probe_before") or {}).get("p50_ms", 0), "median"),
    ("probe after p50 ms", lambda r: (r.get("probe_after") or {}).get("p50_ms", 0), "median"),
    ("probe after max ms", lambda r: (r.get("probe_after") or {}).get("max_ms", 0), "median"),
]

groups = {}
for name in sorted(os.listdir(sys.argv[1])):
    m = re.fullmatch(r"(.+)-(\d+)\.json", name)
    if not m:
        continue
    try:
        with open(os.path.join(sys.argv[1], name)) as f:
            res = json.load(f)[0]
    except (ValueError, IndexError):
        print(f"{name}: no result")
        continue
    groups.setdefault(m.group(1), []).append(res)

print("group," + ",".join(f for f, _, _ in FIELDS) + ",runs")
for g, rs in groups.items():
    cells = []
    for _, get, how in FIELDS:
        v = [get(r) for r in rs]
        x = {"median": statistics.median, "max": max, "min": min}[how](v)
        cells.append(f"{x:.3g}" if isinstance(x, float) else str(x))
    print(f"{g}," + ",".join(cells) + f",{len(rs)}")
