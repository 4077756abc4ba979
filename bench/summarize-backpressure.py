#!/usr/bin/env python3
"""Prints issue 19's targets from the results bench/measure-backpressure.sh wrote.

Usage: bench/summarize-backpressure.py OUT_DIR
Reads OUT_DIR/<target>-<build>-<run>.json and prints, per target, one
Markdown table: each figure the issue sets a target on, one column per
build (new, old, then any other in name order), as "median (worst run)"
over the runs ("none in k of n runs": a figure some runs lack, e.g. a slow
reader's cut time when it was not cut); a count the issue wants to be 0 shows its worst (largest)
run, a count it wants high (cuts of clients that never read) its smallest.
"""
import json, os, re, statistics, sys

MiB = 2**20


def probe(r, which, key):
    p = r.get(which)
    return p[key] if p and not p.get("error") else None


def cut_after(r):
    # Seconds from the first line to the last slow reader's cut; None if
    # not every slow reader was cut (the worst case then).
    if r["slow_readers_cut"] < r["workload"]["slow_readers"]:
        return None
    return r.get("slow_cut_last_seconds", 0)


# figure name -> (getter, worst: "max" | "min"), in the order shown.
F = {
    "senders cut": (lambda r: r["senders_cut"], "max"),
    "readers cut": (lambda r: r["readers_cut"], "max"),
    "lost (fast readers)": (lambda r: r["lost"], "max"),
    "of which in gaps (dropped)": (lambda r: r.get("lost_gaps"), "max"),
    "received/expected": (lambda r: r["deliveries_received"] / max(r["deliveries_expected"], 1), "min"),
    "slow readers cut": (lambda r: r["slow_readers_cut"], "min"),
    "last slow cut after s": (cut_after, "max"),
    "slow lost": (lambda r: r["slow_lost"], "max"),
    "stalled cut": (lambda r: r["stalled_cut"], "min"),
    "senders closed write": (lambda r: r["senders_closed_write"], "min"),
    "lines sent": (lambda r: r["lines_sent"], "min"),
    "sent lines/s (whole run)": (lambda r: r["lines_sent_per_sec"], "min"),
    "sent MB/s (whole run)": (lambda r: r["sent_mb_per_sec"], "min"),
    "sent lines/s from 1 s after the cut": (lambda r: r["lines_sent_per_sec_after_slow_cut"] or None, "min"),
    "deliveries/s": (lambda r: r["delivered_per_sec"], "min"),
    "latency p50 ms": (lambda r: r["latency_ms"]["p50"], "max"),
    "latency p99 ms": (lambda r: r["latency_ms"]["p99"], "max"),
    "server CPU us/delivery": (lambda r: r["server_cpu_us_per_delivery"], "max"),
    "server peak RSS MiB": (lambda r: r["server_peak_rss_bytes"] / MiB, "max"),
    "server bytes/conn": (lambda r: r["server_bytes_per_conn"], "max"),
    "drain s": (lambda r: r["drain_seconds"], "max"),
    "probe idle p50 ms": (lambda r: probe(r, "probe_before", "p50_ms"), "max"),
    "probe after p50 ms": (lambda r: probe(r, "probe_after", "p50_ms"), "max"),
    "probe after max ms": (lambda r: probe(r, "probe_after", "max_ms"), "max"),
    "probe after/idle p50": (lambda r: (probe(r, "probe_after", "p50_ms") or 0) / probe(r, "probe_before", "p50_ms")
                             if probe(r, "probe_before", "p50_ms") else None, "max"),
    "probe lines received": (lambda r: probe(r, "probe_after", "received"), "min"),
}

# target -> (what the issue asks, figures shown)
TARGETS = {
    "slowreader": ("publisher never cut; fast readers lose 0; slow reader cut within --write-deadline + 1 s (11 s); "
                   "after it, sent rate >= 80 % of slowref's",
                   ["senders cut", "readers cut", "lost (fast readers)", "of which in gaps (dropped)", "received/expected", "slow readers cut",
                    "last slow cut after s", "sent lines/s (whole run)", "sent lines/s from 1 s after the cut",
                    "server peak RSS MiB"]),
    "slowref": ("the same with no slow reader: the publisher's reference rate",
                ["senders cut", "readers cut", "lost (fast readers)", "sent lines/s (whole run)", "sent MB/s (whole run)",
                 "server peak RSS MiB"]),
    "halfspeed": ("publisher paced at 20 MB/s, reader at 10 MB/s: the reader is cut within 30 s",
                  ["senders cut", "readers cut", "lost (fast readers)", "of which in gaps (dropped)", "slow readers cut", "last slow cut after s",
                   "sent MB/s (whole run)", "sent lines/s from 1 s after the cut", "server peak RSS MiB"]),
    "halfspeedalone": ("the same with no other reader (the issue's literal case): cut, or everyone paced by a documented flag",
                       ["senders cut", "lost (fast readers)", "slow readers cut", "last slow cut after s",
                        "sent MB/s (whole run)", "sent lines/s from 1 s after the cut", "server peak RSS MiB"]),
    "overloadblast": ("20 blasting senders, 500 readers: 0 readers cut, 0 senders cut, 0 lost, peak RSS <= 512 MiB",
                      ["readers cut", "senders cut", "lost (fast readers)", "of which in gaps (dropped)", "received/expected", "deliveries/s",
                       "server peak RSS MiB"]),
    "stalledblast": ("1 000 never-reading, 5 readers, 5 blasting senders: 0 readers/senders cut, 0 lost, every "
                     "never-reading client cut, peak RSS <= 512 MiB",
                     ["readers cut", "senders cut", "lost (fast readers)", "of which in gaps (dropped)", "stalled cut", "deliveries/s",
                      "server peak RSS MiB"]),
    "file": ("200 MB through one blocking writer that then shuts its side, 10 readers: every reader gets every line, "
             "writer not cut, peak RSS <= 256 MiB",
             ["senders cut", "senders closed write", "lines sent", "readers cut", "lost (fast readers)",
              "received/expected", "drain s", "server peak RSS MiB"]),
    "burstlag": ("--max-lag 1 MiB, 8 MiB burst to 200 readers: no reader cut",
                 ["readers cut", "senders cut", "lost (fast readers)", "of which in gaps (dropped)", "received/expected", "server peak RSS MiB"]),
    "stalledlag": ("--max-lag 1 MiB beside 1 000 never-reading clients: no reader or sender that reads is cut",
                   ["readers cut", "senders cut", "lost (fast readers)", "of which in gaps (dropped)", "stalled cut", "deliveries/s",
                    "server peak RSS MiB"]),
    "recovery": ("5 s after a 20-s overload (overload --blast) ends, a lone line's latency p50 <= 2 ms",
                 ["probe idle p50 ms", "probe after p50 ms", "probe after max ms", "probe after/idle p50",
                  "probe lines received", "senders cut", "readers cut"]),
    "recovery1s": ("1 s after the same overload ends, a lone line's latency within 2x its idle value",
                   ["probe idle p50 ms", "probe after p50 ms", "probe after max ms", "probe after/idle p50",
                    "probe lines received", "senders cut", "readers cut"]),
    "saturate": ("no regression", ["deliveries/s", "latency p50 ms", "latency p99 ms", "server CPU us/delivery",
                                   "server peak RSS MiB", "lost (fast readers)"]),
    "room": ("no regression", ["deliveries/s", "latency p50 ms", "latency p99 ms", "server CPU us/delivery",
                               "server peak RSS MiB", "lost (fast readers)"]),
    "bigroom": ("no regression", ["deliveries/s", "latency p50 ms", "latency p99 ms", "server CPU us/delivery",
                                  "server peak RSS MiB", "lost (fast readers)"]),
    "idle": ("no regression: memory per idle connection", ["server bytes/conn", "server peak RSS MiB"]),
}


def fmt(x):
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"
    return str(x)


def main(out):
    runs = {}  # (target, build) -> [result]
    runs_names = {}  # (target, build) -> [file stem], in the order of runs
    refs = {}  # (build, run) -> slowref's lines sent/s
    for name in sorted(os.listdir(out)):
        m = re.fullmatch(r"(.+)-([a-z0-9]+)-(\d+)\.json", name)
        if not m:
            continue
        try:
            with open(os.path.join(out, name)) as f:
                res = json.load(f)[0]
        except (ValueError, IndexError, OSError):
            print(f"<!-- {name}: no result -->")
            continue
        runs.setdefault((m.group(1), m.group(2)), []).append(res)
        runs_names.setdefault((m.group(1), m.group(2)), []).append(name[:-5])
        if m.group(1) == "slowref":
            refs[(m.group(2), m.group(3))] = res["lines_sent_per_sec"]
    builds = sorted({b for _, b in runs}, key=lambda b: ({"new": 0, "old": 1}.get(b, 2), b))
    for target, (ask, figures) in TARGETS.items():
        have = [b for b in builds if (target, b) in runs]
        if not have:
            continue
        print(f"\n### {target}\n\n{ask}\n")
        print("| figure | " + " | ".join(f"{b} (runs: {len(runs[(target, b)])})" for b in have) + " |")
        print("|---|" + "---|" * len(have))
        for fig in figures:
            get, worst = F[fig]
            cells = []
            for b in have:
                v = [get(r) for r in runs[(target, b)]]
                known = [x for x in v if x is not None]
                med = statistics.median(known) if known else None
                w = (max if worst == "max" else min)(known) if known else None
                cell = f"{fmt(med)} ({fmt(w)})" if len(v) > 1 else fmt(med)
                if len(known) < len(v):
                    cell += f", none in {len(v) - len(known)} of {len(v)} runs"
                cells.append(cell)
            print(f"| {fig} | " + " | ".join(cells) + " |")
    # The publisher's rate once the slow reader is gone, against its rate
    # with none (the 80 %): each slowreader run over the slowref
    # run of the same round (they run one after the other, so a noisy
    # spell of the machine hits both).
    for b in builds:
        ratios = []
        for r, name in zip(runs.get(("slowreader", b), []), runs_names.get(("slowreader", b), [])):
            ref = refs.get((b, name.rsplit("-", 1)[1]))
            if r["lines_sent_per_sec_after_slow_cut"] and ref:
                ratios.append(r["lines_sent_per_sec_after_slow_cut"] / ref)
        if ratios:
            print(f"\n{b}: slowreader's sent rate from 1 s after the cut / slowref's in the same round: median "
                  f"{statistics.median(ratios):.2f}, worst {min(ratios):.2f} (each: {', '.join(f'{x:.2f}' for x in ratios)})")

if __name__ == "__main__":
    main(sys.argv[1])
