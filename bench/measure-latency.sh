#!/usr/bin/env bash
# Measures the coalescing policy (issue 12) side by side: an older build
# (OLD, e.g. the fixed 4x-cost window), this build (NEW, default flags)
# and this build with --coalesce 0, one fresh server per run, alternating,
# on the room, bigroom and saturate presets; first with server and
# generator sharing every core, then with the server on CPU 0 and the
# generator on CPU 1. Usage:
#   bench/measure-latency.sh NEW_BINARY OLD_BINARY OUT_DIR [RUNS]
# Each run's JSON lands in OUT_DIR; summarize with bench/summarize.py.
set -euo pipefail
new=$1 old=$2 out=$3 runs=${4:-3}
mkdir -p "$out"
run() { # name binary args...
  local name=$1 bin=$2; shift 2
  echo "== $name" >&2
  "$new" bench --json --server-bin "$bin" "$@" > "$out/$name.json" 2> "$out/$name.log" || echo "   failed: see $out/$name.log" >&2
}
for i in $(seq 1 "$runs"); do
  for sc in room bigroom saturate; do
    run "$sc-old-$i" "$old" --scenario "$sc"
    run "$sc-new-$i" "$new" --scenario "$sc"
    run "$sc-off-$i" "$new" --scenario "$sc" --server-args "--coalesce 0"
  done
done
split=(--server-cpus 0 --client-cpus 1)
for i in $(seq 1 "$runs"); do
  for sc in room bigroom; do
    run "$sc-split-old-$i" "$old" --scenario "$sc" "${split[@]}"
    run "$sc-split-new-$i" "$new" --scenario "$sc" "${split[@]}"
    run "$sc-split-off-$i" "$new" --scenario "$sc" "${split[@]}" --server-args "--coalesce 0"
  done
done
echo "done" >&2
