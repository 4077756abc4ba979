package bench

import (
	"bytes"
	"encoding/json"
	"flag"
	"strings"
	"testing"
	"time"
)

// TestBadOptionsExit2: every flag combination that cannot run exits 2
// with one line that names the flag as the docs spell it (--x).
func TestBadOptionsExit2(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		wantMsg string
	}{
		{name: "unknown flag", args: []string{"--bogus"}, wantMsg: "--bogus"},
		{name: "bad number", args: []string{"--clients", "lots"}, wantMsg: `invalid value "lots" for --clients: want a whole number`},
		{name: "duration without a unit", args: []string{"--duration", "10"}, wantMsg: `invalid value "10" for --duration: a duration needs a unit, e.g. 10s`},
		{name: "unknown scenario", args: []string{"--scenario", "nope"}, wantMsg: "--scenario"},
		{name: "no runs", args: []string{"--runs", "0"}, wantMsg: "--runs"},
		{name: "compare with addr", args: []string{"--compare", "--addr", "127.0.0.1:1"}, wantMsg: "--compare"},
		{name: "proxy with baseline", args: []string{"--proxy-protocol", "v1", "--baseline"}, wantMsg: "--proxy-protocol"},
		{name: "no nodes", args: []string{"--nodes", "0"}, wantMsg: "--nodes"},
		{name: "nodes with addr", args: []string{"--nodes", "2", "--addr", "127.0.0.1:1"}, wantMsg: "--addr"},
		{name: "cluster not a URL", args: []string{"--cluster", "nats-a:4222"}, wantMsg: "--cluster"},
		{name: "too many workers", args: []string{"--clients", "4", "--senders", "1", "--workers", "5"}, wantMsg: "--workers"},
		{name: "server CPUs of an unknown server", args: []string{"--addr", "127.0.0.1:1", "--server-cpus", "0"}, wantMsg: "--pid"},
		{name: "workload", args: []string{"--senders", "-1"}, wantMsg: "--senders"},
		{name: "unknown protocol", args: []string{"--proto", "udp"}, wantMsg: "--proto"},
		{name: "ws share past 1", args: []string{"--ws-share", "1.5"}, wantMsg: "--ws-share"},
		{name: "ws with compare", args: []string{"--proto", "ws", "--compare"}, wantMsg: "--compare"},
		{name: "ws with nodes", args: []string{"--ws-share", "0.5", "--nodes", "2"}, wantMsg: "--nodes"},
		{name: "ws with addr, no ws addr", args: []string{"--proto", "ws", "--addr", "127.0.0.1:1"}, wantMsg: "--ws-addr"},
		{name: "ws addr without addr", args: []string{"--proto", "ws", "--ws-addr", "127.0.0.1:2"}, wantMsg: "--addr"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Main(tc.args, &stdout, &stderr); code != 2 {
				t.Fatalf("exit %d, want 2 (stderr %q)", code, stderr.String())
			}
			msg := strings.TrimSuffix(stderr.String(), "\n")
			if strings.Contains(msg, "\n") || !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("error %q is not one line naming %q", msg, tc.wantMsg)
			}
		})
	}
}

// TestHelpShowsDefaultsAndPresets: -h lists every flag with its default,
// zero ones too, and every preset with the flags it sets.
func TestHelpShowsDefaultsAndPresets(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"-h"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	help := stdout.String()
	newFlagSet(&options{}, &Scenario{}).VisitAll(func(f *flag.Flag) {
		if !strings.Contains(help, "  --"+f.Name+" ") && !strings.Contains(help, "  --"+f.Name+"\n") {
			t.Errorf("help does not list --%s", f.Name)
		}
	})
	if n := strings.Count(help, "(default "); n != strings.Count(help, "\n  --") {
		t.Errorf("%d defaults shown for %d flags", n, strings.Count(help, "\n  --"))
	}
	for _, want := range []string{`--addr string`, `(default "")`, "--blast\n", "--stalled int\n", "(default 0)",
		"file: ", "--burst 200000000 --clients 11 --close-write", "scale: ", "--nodes 6"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	for _, sc := range Scenarios {
		if !strings.Contains(help, "\n  "+sc.Name+": ") {
			t.Errorf("help does not list preset %s", sc.Name)
		}
	}
}

// TestWorkloadJSON: the workload is written with the flags' names in
// snake_case and durations in seconds, and read back whole (the workers
// get theirs so).
func TestWorkloadJSON(t *testing.T) {
	sc, _ := ScenarioByName("file")
	w := sc.Workload
	w.After, w.Warmup, w.Proxy, w.WSShare, w.WSAddr = 1500*time.Millisecond, 300*time.Millisecond, "v2", 0.5, "127.0.0.1:8080"
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"clients":11`, `"close_write":true`, `"burst":200000000`, `"duration_seconds":10`,
		`"after_seconds":1.5`, `"warmup_seconds":0.3`, `"drain_seconds":60`, `"proxy_protocol":"v2"`, `"read_buf":0`,
		`"ws_share":0.5`, `"ws_addr":"127.0.0.1:8080"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	if strings.ContainsAny(string(b), "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		t.Errorf("a key is not snake_case: %s", b)
	}
	var back Workload
	if err := json.Unmarshal(b, &back); err != nil || back != w {
		t.Errorf("read back %+v, %v; want %+v", back, err, w)
	}
}
