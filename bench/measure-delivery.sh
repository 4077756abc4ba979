#!/usr/bin/env bash
# Measures the delivery path (issue 9) side by side with an older build, on
# this machine, one fresh server process per run. Usage:
#   bench/measure-delivery.sh NEW_BINARY OLD_BINARY OUT_DIR
# Each run's JSON lands in OUT_DIR; summarize with bench/summarize.py.
set -euo pipefail
new=$1 old=$2 out=$3
mkdir -p "$out"
run() { # name binary args...
  local name=$1 bin=$2; shift 2
  echo "== $name" >&2
  "$new" bench --json --server-bin "$bin" "$@" > "$out/$name.json" 2> "$out/$name.log" || echo "   failed: see $out/$name.log" >&2
}
for i in 1 2 3; do
  run "burst-new-$i" "$new" --scenario burst
  run "burst-old-$i" "$old" --scenario burst --drain 20s
done
for i in 1 2 3; do
  run "stalled-new-$i" "$new" --scenario stalled --after 30s
  run "nostall-new-$i" "$new" --scenario stalled --stalled 0
done
run "stalled-old-1" "$old" --scenario stalled --after 30s
run "nostall-old-1" "$old" --scenario stalled --stalled 0
for i in 1 2 3; do
  run "overload-new-$i" "$new" --scenario overload --after 30s
done
run "overload-old-1" "$old" --scenario overload --after 30s
run "stalled-blast-new-1" "$new" --scenario stalled --blast
run "overload-blast-new-1" "$new" --scenario overload --blast
for i in 1 2 3; do
  for sc in saturate room bigroom; do
    run "$sc-new-$i" "$new" --scenario "$sc"
    run "$sc-old-$i" "$old" --scenario "$sc"
  done
done
run "idle-new-1" "$new" --scenario idle
run "idle-old-1" "$old" --scenario idle
echo "done" >&2
