#!/usr/bin/env bash
# Measures back-pressure (issue 19) side by side with an older build, on
# this machine: every target of the issue, one fresh server process per
# run, the builds alternating (their order flips each round, so drift hits
# both). Usage:
#   bench/measure-backpressure.sh NEW_BINARY OLD_BINARY OUT_DIR [RUNS]
# RUNS defaults to 3. The harness is HARNESS (default NEW_BINARY; it must
# have --slow-readers); MORE="label=BINARY ..." adds builds to alternate
# with; ONLY="target ..." runs only those targets; EXTRA="flags" adds
# bench flags to every run (e.g. EXTRA="--drain 120s": a long drain tells
# lines still queued in kernel buffers from lines lost). Each run writes OUT_DIR/<target>-<build>-<run>.json, its harness
# log (.log) and its server's log (.server.log: close reasons); summarize
# with bench/summarize-backpressure.py OUT_DIR (bench/summarize.py reads
# the same files).
set -euo pipefail
new=$1 old=$2 out=$3 runs=${4:-3}
harness=${HARNESS:-$new}
mkdir -p "$out"
builds=("new=$new" "old=$old")
for b in ${MORE:-}; do builds+=("$b"); done

run() { # name binary args...
  local name=$1 bin=$2; shift 2
  echo "== $name $(date +%T)" >&2
  # shellcheck disable=SC2086 # EXTRA is words on purpose
  "$harness" bench --json --server-bin "$bin" --server-log "$out/$name.server.log" "$@" ${EXTRA:-} \
    < /dev/null > "$out/$name.json" 2> "$out/$name.log" || echo "   failed: see $out/$name.log" >&2
}

# target name, then its bench flags; one per line.
targets() {
  cat <<'EOF'
slowreader --scenario slowreader
slowref --scenario slowreader --slow-readers 0
halfspeed --scenario halfspeed
halfspeedalone --scenario halfspeed --clients 2
overloadblast --scenario overload --blast
stalledblast --scenario stalled --blast
file --scenario file
burstlag --scenario burst --burst 8388608 --server-args --max-lag=1048576
stalledlag --scenario stalled --server-args --max-lag=1048576
recovery --scenario overload --blast --after 5s
recovery1s --scenario overload --blast --after 1s
saturate --scenario saturate
room --scenario room
bigroom --scenario bigroom
idle --scenario idle
EOF
}

for i in $(seq 1 "$runs"); do
  order=("${builds[@]}")
  if (( i % 2 == 0 )); then # reverse the order every other round
    order=()
    for (( k=${#builds[@]}-1; k>=0; k-- )); do order+=("${builds[k]}"); done
  fi
  while read -r target args; do
    if [[ -n ${ONLY:-} && " $ONLY " != *" $target "* ]]; then continue; fi
    for b in "${order[@]}"; do
      # shellcheck disable=SC2086 # args are words on purpose
      run "$target-${b%%=*}-$i" "${b#*=}" $args
    done
  done < <(targets)
done
echo "done $(date +%T)" >&2
