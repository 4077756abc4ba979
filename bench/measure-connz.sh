#!/usr/bin/env bash
# What a flood of GET /connz does to the broadcast (issue 18, section 3).
# For each server binary, RUNS times, alternating: a fresh server with
# 10 000 connections that never read (the harness's --stalled) beside one
# sender and one reader, a line every 50 ms, measured by `fanout bench`
# (latency percentiles over the measured window, the server's RSS), once
# with the control plane idle ("quiet"), with CONC concurrent GET /connz
# requests, back to back, for the whole run ("flood", curl -Z in CONC/250
# processes: curl runs at most 300 transfers at once), and with SLOW
# connections that each ask for a 4 096-connection page and never read
# the answer ("slow", held for the whole run). The clients, curl and the
# server share the machine's cores unless PIN=1.
#
# Usage: bench/measure-connz.sh OUT_DIR BINARY [BINARY...]
#   OUT_DIR  one JSON per run (NAME-MODE-RUN.json) and the curl status
#            counts (…-codes.txt); a summary table on stdout
#   BINARY   fanout binaries to compare (the first also runs the harness)
# Environment: MODES (default "quiet flood slow"), SLOW (2000), PIN (0; see below), RUNS (default 3), CONC (1000), DURATION (20s) and WARMUP
# (5s), whole seconds, STALLED (10000), QUERY (/connz?limit=256).
set -euo pipefail
out=$1
shift
bins=("$@")
runs=${RUNS:-3} conc=${CONC:-1000} duration=${DURATION:-20s} warmup=${WARMUP:-5s}
stalled=${STALLED:-10000} query=${QUERY:-/connz?limit=256}
# PIN=1: the server on CPU 0, the harness and curl on CPU 1, so that what
# the server itself does for the flood is what slows its broadcast (with
# shared cores, curl's own CPU use widens the coalescing window too).
pin_args=() curl_pin=()
if [ "${PIN:-0}" = 1 ]; then
  pin_args=(--server-cpus 0 --client-cpus 1)
  curl_pin=(taskset -c 1)
fi
harness=${bins[0]}
modes=${MODES:-quiet flood slow} slow=${SLOW:-2000}
mkdir -p "$out"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# flood URL SECONDS CODES: CONC requests in flight, back to back, for SECONDS.
flood() {
  local url=$1 secs=$2 codes=$3 procs=$(((conc + 249) / 250)) pids=()
  for p in $(seq 1 "$procs"); do
    "${curl_pin[@]}" timeout "$secs" curl -s -Z --parallel-max $((conc / procs)) --parallel-immediate \
      -o /dev/null -w '%{stderr}%{http_code} %{errormsg}\n' "$url&i=[1-100000000]" >/dev/null 2>"$codes.$p" &
    pids+=($!)
  done
  wait "${pids[@]}" || true
  # 000: curl's own failure; its reasons, numbers blanked, go to …-errors.txt
  cat "$codes".* | grep -aE '^[0-9]{3} ' | cut -d' ' -f1 | sort | uniq -c > "$codes"
  cat "$codes".* | grep -aE '^000 ' | sed -E 's/[0-9]+/N/g' | sort | uniq -c | sort -rn > "${codes%-codes.txt}-errors.txt"
  rm -f "$codes".*
}

# slowread PORT SECONDS: SLOW connections each send one request for a big
# page and never read what comes back (a 4 KiB receive buffer).
slowread() {
  python3 - "$1" "$2" "$slow" <<'PY'
import socket, sys, time
port, secs, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
socks, end = [], time.time() + secs
for i in range(n):
    try:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /connz?limit=4096&offset=%d HTTP/1.1\r\nHost: x\r\n\r\n" % (i % 1000))
        socks.append(s)
    except OSError:
        pass
print(f"{len(socks)} of {n} slow requests sent", file=sys.stderr)
time.sleep(max(end - time.time(), 0))
PY
}

run() { # NAME BINARY MODE RUN
  local name=$1 bin=$2 mode=$3 i=$4 port
  port=$(free_port)
  local json="$out/$name-$mode-$i.json"
  echo "== $name $mode $i" >&2
  "$harness" bench --json --server-bin "$bin" --server-args "--metrics-addr 127.0.0.1:$port" "${pin_args[@]}" \
    --clients 2 --senders 1 --rate 20 --stalled "$stalled" --duration "$duration" --warmup "$warmup" \
    --drain 5s >"$json" 2>"$out/$name-$mode-$i.log" &
  local bench=$!
  if [ "$mode" != quiet ]; then
    # Start once every connection is open; flood through warm-up, the
    # measured window and a little after.
    for _ in $(seq 1 600); do
      n=$(curl -s --max-time 2 "http://127.0.0.1:$port/varz" | grep -o '"connections": [0-9]*' | grep -o '[0-9]*$' || true)
      [ "${n:-0}" -ge $((stalled + 2)) ] && break
      sleep 0.2
    done
    if [ "$mode" = flood ]; then
      flood "http://127.0.0.1:$port$query" $((${duration%s} + ${warmup%s} + 3)) "$out/$name-$mode-$i-codes.txt"
    else
      slowread "$port" $((${duration%s} + ${warmup%s} + 3)) 2>"$out/$name-$mode-$i-slow.txt"
    fi
  fi
  wait "$bench" || echo "   the run failed: see $out/$name-$mode-$i.log" >&2
}

for i in $(seq 1 "$runs"); do
  for b in "${!bins[@]}"; do
    for mode in $modes; do
      run "bin$b" "${bins[$b]}" "$mode" "$i"
    done
  done
done

python3 - "$out" "${#bins[@]}" <<'EOF'
import glob, json, os, statistics, sys
out, nbins = sys.argv[1], int(sys.argv[2])
# RSS peak-quiet: the mode's median peak RSS less the same binary's median
# peak with the control plane quiet (the "connected" sample may already
# include the flood, which starts as soon as every client is connected).
print(f"{'binary':6} {'mode':6} {'runs':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'lost':>5} {'RSS peak MiB':>12} {'peak-quiet':>10}  requests")
for b in range(nbins):
    quiet_peak = None
    for mode in ("quiet", "flood", "slow"):
        rows = []
        for f in sorted(glob.glob(f"{out}/bin{b}-{mode}-*.json")):
            if f.endswith("-codes.txt"):
                continue
            try:
                r = json.load(open(f))[0]
            except Exception:
                continue
            codes = f[:-5] + "-codes.txt"
            req = open(codes).read().split() if os.path.exists(codes) else []
            rows.append((r["latency_ms"]["p50"], r["latency_ms"]["p99"], r["latency_ms"]["max"],
                         r["lost"], r["server_peak_rss_bytes"] / 2**20,
                         " ".join(f"{req[k+1]}:{req[k]}" for k in range(0, len(req), 2))))
        if not rows:
            continue
        med = lambda k: statistics.median(x[k] for x in rows)
        if mode == "quiet":
            quiet_peak = med(4)
        delta = f"{med(4) - quiet_peak:10.1f}" if quiet_peak is not None else f"{'':10}"
        print(f"bin{b:<3} {mode:6} {len(rows):>4} {med(0):8.1f} {med(1):8.1f} {med(2):8.1f} {med(3):5.0f} {med(4):12.1f} {delta}  " +
              " | ".join(x[5] for x in rows))
EOF
