package bench

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fanout/fanout/internal/testutil"
	"github.com/fanout/fanout/server"
)

func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func startFanout(t *testing.T) Target { return startFanoutWith(t, server.Config{}) }

// startProxiedFanout is fanout whose listener expects PROXY headers.
func startProxiedFanout(t *testing.T) Target {
	return startFanoutWith(t, server.Config{ProxyProtocol: true})
}

// startWSFanout is fanout with a WebSocket listener too, in WSAddrs; its
// pings wait an hour, as for a fanout the harness starts (the generator's
// readers answer none).
func startWSFanout(t *testing.T) Target {
	return startFanoutWith(t, server.Config{WSConfig: server.WSConfig{WSAddr: "127.0.0.1:0", WSPing: time.Hour}})
}

func startFanoutWith(t *testing.T, cfg server.Config) Target {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	s, err := server.New(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := s.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	target := Target{Name: "fanout", Addrs: []string{s.Addr().String()}}
	for _, a := range s.WSAddrs() {
		target.WSAddrs = append(target.WSAddrs, a.String())
	}
	return target
}

func startBaseline(t *testing.T) Target {
	t.Helper()
	b, err := StartBaseline("127.0.0.1:0", quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Errorf("baseline close: %v", err)
		}
	})
	return Target{Name: "baseline", Addrs: []string{b.Addr().String()}}
}

// TestHarnessEndToEnd runs short paced and unpaced workloads against both
// servers and checks the accounting: nothing lost, nothing doubled, every
// line counted once per other client. It asserts counts, never timings.
func TestHarnessEndToEnd(t *testing.T) {
	cases := []struct {
		name  string
		start func(*testing.T) Target
		w     Workload
	}{
		{name: "fanout paced", start: startFanout, w: Workload{Clients: 12, Senders: 12, Rate: 600, Size: 64, Duration: time.Second, Warmup: 200 * time.Millisecond}},
		{name: "fanout unpaced", start: startFanout, w: Workload{Clients: 8, Senders: 2, Size: 100, Duration: time.Second, Window: 20}},
		{name: "fanout behind PROXY v1", start: startProxiedFanout, w: Workload{Clients: 8, Senders: 4, Rate: 400, Size: 64, Duration: time.Second, Proxy: "v1"}},
		{name: "fanout behind PROXY v2", start: startProxiedFanout, w: Workload{Clients: 8, Senders: 2, Size: 64, Duration: time.Second, Window: 20, Proxy: "v2"}},
		{name: "fanout over WebSocket", start: startWSFanout, w: Workload{Clients: 8, Senders: 4, Rate: 400, Size: 64, Duration: time.Second, WSShare: 1}},
		{name: "fanout half WebSocket unpaced", start: startWSFanout, w: Workload{Clients: 8, Senders: 2, Size: 100, Duration: time.Second, Window: 20, WSShare: 0.5}},
		{name: "baseline paced", start: startBaseline, w: Workload{Clients: 12, Senders: 4, Rate: 200, Size: 64, Duration: time.Second}},
		{name: "baseline unpaced", start: startBaseline, w: Workload{Clients: 6, Senders: 2, Size: 64, Duration: time.Second, Window: 10}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.start(t)
			tc.w.WSAddr = strings.Join(target.WSAddrs, ",") // as the harness sets it
			res, err := Run(context.Background(), target, tc.w, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.LinesSent == 0 {
				t.Fatal("nothing was sent")
			}
			if want := res.LinesSent * uint64(tc.w.Clients-1); res.DeliveriesExpected != want {
				t.Errorf("expected deliveries %d, want %d", res.DeliveriesExpected, want)
			}
			if res.Lost != 0 || res.Duplicates != 0 || res.Foreign != 0 || res.ReadErrors != 0 {
				t.Errorf("lost %d, duplicates %d, foreign %d, read errors %d (%s)", res.Lost, res.Duplicates, res.Foreign, res.ReadErrors, res.FirstReadError)
			}
			if res.Received != res.DeliveriesExpected {
				t.Errorf("received %d of %d deliveries", res.Received, res.DeliveriesExpected)
			}
			if res.InWindowDeliveries == 0 || res.InWindowDeliveries > res.Received {
				t.Errorf("in-window deliveries %d of %d", res.InWindowDeliveries, res.Received)
			}
		})
	}
}

func TestRunRefusesTooManyClients(t *testing.T) {
	_, err := Run(context.Background(), Target{Addrs: []string{"127.0.0.1:1"}}, Workload{Clients: 1 << 30, Duration: time.Second}, nil)
	if err == nil {
		t.Fatal("a client count past the file limit was accepted")
	}
}

// TestRunStopsOnAWedgedTarget: a target that accepts connections into its
// backlog and never reads or writes cannot hang a run; cancelling the run
// (Ctrl-C) ends it within about a second.
func TestRunStopsOnAWedgedTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	sending := make(chan struct{})
	var once sync.Once
	progress := func(time.Duration, uint64) { once.Do(func() { close(sending) }) } // once a second while sending
	go func() {
		_, err := Run(ctx, Target{Name: "wedged", Addrs: []string{ln.Addr().String()}},
			Workload{Clients: 4, Senders: 2, Size: 1000, Blast: true, Duration: time.Minute}, progress)
		done <- err
	}()
	select { // the senders have been at it a second: their sockets are full and they block
	case <-sending:
	case err := <-done:
		t.Fatalf("the run ended before sending: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the run never started sending")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(1500 * time.Millisecond):
		t.Fatal("the run did not stop within a second of being cancelled")
	}
}
