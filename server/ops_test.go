package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, s *Server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + s.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value returns the metric's value, for the series whose labels include
// the given name=value pairs.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	fam, ok := fams[name]
	if !ok {
		t.Fatalf("metric %s missing", name)
	}
next:
	for _, m := range fam.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("metric %s%v missing", name, labels)
	return 0
}

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestMetricsMatchTraffic(t *testing.T) {
	s, _ := startServer(t, Config{MetricsAddr: "127.0.0.1:0", MaxLine: 50})
	a, b, c, long := dial(t, s), dial(t, s), dial(t, s), dial(t, s)
	waitOpen(t, s, 4)
	sentBytes := 0
	for i := range 5 {
		line := fmt.Sprintf("from a %d\n", i)
		a.send(line)
		sentBytes += len(line)
	}
	b.send("from b 0\nfrom b 1\n\n") // the empty line is ignored, its byte counted
	sentBytes += len("from b 0\nfrom b 1\n\n")
	// 7 lines, each to the 3 other clients.
	for _, r := range []*testClient{a, b, c, long} {
		want := 7
		if r == a {
			want = 2
		} else if r == b {
			want = 5
		}
		for range want {
			r.mustReadLine()
		}
	}
	long.send(strings.Repeat("x", 60) + "\n")
	long.expectClosed()
	_ = c.conn.Close()
	waitOpen(t, s, 2)

	fams := scrape(t, s)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{name: "fanout_lines_in_total", want: 7},
		{name: "fanout_deliveries_total", want: 21},
		{name: "fanout_bytes_in_total", want: float64(sentBytes)},
		{name: "fanout_connections_accepted_total", want: 4},
		{name: "fanout_connections_open", want: 2},
		{name: "fanout_connections_closed_total", labels: []string{"reason", "client_quit"}, want: 1},
		{name: "fanout_connections_closed_total", labels: []string{"reason", "line_too_long"}, want: 1},
		{name: "fanout_connections_closed_total", labels: []string{"reason", "slow_consumer"}, want: 0},
		{name: "fanout_lines_dropped_total", want: 0},
		{name: "fanout_log_bytes", want: 0},
		{name: "fanout_behind_bytes", want: 0},
		{name: "fanout_sockets_full", want: 0},
		{name: "fanout_backpressure", want: 0},
		{name: "fanout_backpressure_total", want: 0},
		{name: "fanout_senders_held", want: 0},
		{name: "fanout_lost_tasks_total", want: 0},
	}
	for _, ck := range checks {
		if got := value(t, fams, ck.name, ck.labels...); got != ck.want {
			t.Errorf("%s%v = %v, want %v", ck.name, ck.labels, got, ck.want)
		}
	}
	if got := value(t, fams, "fanout_batch_lines"); got < 1 || got > 7 {
		t.Errorf("fanout_batch_lines has %v observations, want 1..7 batches", got)
	}
	if got := value(t, fams, "fanout_handoff_seconds"); got != value(t, fams, "fanout_batches_total") {
		t.Errorf("handoff observations %v != batches", got)
	}
	shardSum := 0.0
	for _, m := range fams["fanout_shard_connections"].GetMetric() {
		shardSum += m.GetGauge().GetValue()
	}
	if shardSum != 2 {
		t.Errorf("shard gauges sum to %v, want 2", shardSum)
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("Go runtime metrics missing")
	}
	base := "http://" + s.MetricsAddr().String()
	if code := httpStatus(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	if code := httpStatus(t, base+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ without --pprof = %d, want 404", code)
	}
}

func TestReadyzTurnsNotReadyDuringDrain(t *testing.T) {
	s, _ := startServer(t, Config{MetricsAddr: "127.0.0.1:0", Pprof: true, DrainTimeout: time.Second})
	base := "http://" + s.MetricsAddr().String()
	if code := httpStatus(t, base+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz before drain = %d", code)
	}
	if code := httpStatus(t, base+"/debug/pprof/"); code != http.StatusOK {
		t.Fatalf("/debug/pprof/ with --pprof = %d", code)
	}
	// A client that never reads keeps the drain busy.
	sender, stalled := dial(t, s), dial(t, s)
	_ = stalled.conn.SetReadBuffer(4096)
	waitOpen(t, s, 2)
	sender.send(strings.Repeat(strings.Repeat("r", 1000)+"\n", 6000))
	waitFor(t, "lines read", func() bool { return s.fan.Stats().Frames == 6000 })

	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = s.Shutdown(context.Background())
	}()
	waitFor(t, "draining", func() bool { return s.draining.Load() })
	if code := httpStatus(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz during drain = %d, want 503", code)
	}
	if code := httpStatus(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz during drain = %d, want 200", code)
	}
	<-done
}

func TestMaxConnsPerIP(t *testing.T) {
	s, logs := startServer(t, Config{Addr: "0.0.0.0:0", MaxConnsPerIP: 2})
	port := s.Addr().(*net.TCPAddr).Port
	dialAt := func(src string) *testClient {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatalf("dial from %s: %v", src, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return &testClient{t: t, conn: c.(*net.TCPConn), r: newReader(c)}
	}
	a1, a2 := dialAt("127.0.0.1"), dialAt("127.0.0.1")
	waitOpen(t, s, 2)
	a3 := dialAt("127.0.0.1")
	if got := a3.expectClosed(); got != "ERR too many connections\r\n" {
		t.Fatalf("third from 127.0.0.1 got %q", got)
	}
	b1 := dialAt("127.0.0.2") // another source has its own allowance
	waitOpen(t, s, 3)
	b1.send("from .2\n")
	for _, c := range []*testClient{a1, a2} {
		if got := c.mustReadLine(); !strings.HasSuffix(got, ":from .2") {
			t.Fatalf("got %q", got)
		}
	}
	_ = a1.conn.Close()
	waitOpen(t, s, 2)
	dialAt("127.0.0.1") // the slot is free again
	waitOpen(t, s, 3)
	if !strings.Contains(logs.String(), "reason=too_many_conns") {
		t.Error("no log line for the per-IP refusal")
	}
	if n := s.closed[ReasonTooManyConns].Load(); n != 1 {
		t.Errorf("too_many_conns closes = %d, want 1", n)
	}
}

func TestFloodControl(t *testing.T) {
	cases := []struct {
		name      string
		flood     string
		wantClose bool
	}{
		{name: "close", flood: FloodClose, wantClose: true},
		{name: "drop", flood: FloodDrop},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// 1 line/s with a burst of 3: a burst of 10 lines passes 3.
			s, _ := startServer(t, Config{RateLimit: 1, RateBurst: 3, Flood: tc.flood})
			flooder, watcher := dial(t, s), dial(t, s)
			waitOpen(t, s, 2)
			var sb strings.Builder
			for i := range 10 {
				fmt.Fprintf(&sb, "f%d\n", i)
			}
			flooder.send(sb.String())
			for i := range 3 {
				if got := watcher.mustReadLine(); !strings.HasSuffix(got, fmt.Sprintf(":f%d", i)) {
					t.Fatalf("line %d: got %q", i, got)
				}
			}
			watcher.expectNothing(50 * time.Millisecond)
			if tc.wantClose {
				if got := flooder.expectClosed(); got != "ERR flood\r\n" {
					t.Fatalf("flooder got %q", got)
				}
				waitOpen(t, s, 1)
				if n := s.closed[ReasonFlood].Load(); n != 1 {
					t.Errorf("flood closes = %d", n)
				}
				return
			}
			if got := s.snapshot().LinesDropped; got != 7 {
				t.Errorf("dropped %d lines, want 7", got)
			}
			flooder.expectNothing(20 * time.Millisecond) // still connected, nothing sent to it
			if s.open.Load() != 2 {
				t.Errorf("flooder was closed in drop mode")
			}
		})
	}
}

func TestIdleTimeout(t *testing.T) {
	s, _ := startServer(t, Config{IdleTimeout: time.Second}) // far above a send gap, even on a loaded machine
	idle, chatty := dial(t, s), dial(t, s)
	waitOpen(t, s, 2)
	deadline := time.Now().Add(10 * time.Second)
	// chatty keeps talking (and reading nothing back matters not); idle
	// only listens, which is not activity.
	for s.closed[ReasonIdle].Load() == 0 && time.Now().Before(deadline) {
		chatty.send("still here\n")
		time.Sleep(20 * time.Millisecond)
	}
	if got := idle.expectClosed(); !strings.Contains(got, "still here") {
		t.Fatalf("idle client got %q before its close", got)
	}
	if n := s.closed[ReasonIdle].Load(); n != 1 {
		t.Fatalf("idle closes = %d, want 1 (only the silent client)", n)
	}
	if s.open.Load() != 1 {
		t.Fatalf("open = %d, want the chatty client alone", s.open.Load())
	}
}

func TestUnixSocketAndSeveralAddresses(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "fanout.sock")
	s, _ := startServer(t, Config{Addr: "127.0.0.1:0,unix://" + sock})
	if len(s.Addrs()) != 2 {
		t.Fatalf("addrs %v", s.Addrs())
	}
	uc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("dial unix: %v", err)
	}
	t.Cleanup(func() { _ = uc.Close() })
	tcp := dial(t, s)
	waitOpen(t, s, 2)
	if _, err := uc.Write([]byte("over unix\n")); err != nil {
		t.Fatal(err)
	}
	if got := tcp.mustReadLine(); !strings.HasSuffix(got, ":over unix") {
		t.Fatalf("tcp client got %q", got)
	}
	tcp.send("over tcp\n")
	u := &testClient{t: t, conn: nil, r: newReader(uc)}
	_ = uc.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := u.r.ReadString('\n')
	if err != nil || !strings.HasSuffix(line, ":over tcp\r\n") {
		t.Fatalf("unix client got %q, %v", line, err)
	}
}

// TestUnixSocketPath: a live server's socket is never taken over (the
// second server refuses to start and the first keeps serving), a stale
// socket file is replaced, and --unix-mode sets the socket's permissions.
func TestUnixSocketPath(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "fanout.sock")
	first, _ := startServer(t, Config{Addr: "unix://" + sock, UnixMode: 0o660})
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode %v, %v; want 0660", fi.Mode().Perm(), err)
	}
	second, err := New(Config{Addr: "unix://" + sock}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Start(); err == nil || !strings.Contains(err.Error(), "another server is listening") {
		t.Fatalf("second server on a live socket: err = %v", err)
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("the first server lost its socket: %v", err)
	}
	_ = c.Close()
	_ = first

	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = l.Close() // leaves the file behind, as a crashed server would
	startServer(t, Config{Addr: "unix://" + stale})
	if c, err := net.Dial("unix", stale); err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	} else {
		_ = c.Close()
	}
}

// TestShardsSpreadOnALiveServer: connections that trickle in (each in a
// millisecond of its own, so each snowflake ID has sequence 0) spread over
// the registry's shards, as fanout_shard_connections shows.
func TestShardsSpreadOnALiveServer(t *testing.T) {
	const clients = 64
	s, _ := startServer(t, Config{Shards: 64, MetricsAddr: "127.0.0.1:0"})
	for i := range clients {
		for ms := time.Now().UnixMilli(); time.Now().UnixMilli() == ms; {
			// wait for the next millisecond: a new ID sequence
		}
		dial(t, s)
		waitOpen(t, s, i+1)
	}
	used := 0
	for _, m := range scrape(t, s)["fanout_shard_connections"].GetMetric() {
		if m.GetGauge().GetValue() > 0 {
			used++
		}
	}
	// 64 IDs hashed into 64 shards fill about 40 of them; taking the low
	// bits (id % 64) would fill one.
	if used < 24 {
		t.Fatalf("%d clients landed in only %d of 64 shards", clients, used)
	}
}
