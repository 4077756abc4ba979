package server

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fanout/fanout/internal/testutil"
)

// idsOf learns each client's snowflake ID by having it speak once.
func idsOf(t *testing.T, clients []*testClient) []string {
	t.Helper()
	ids := make([]string, len(clients))
	for i, c := range clients {
		c.send("hello\n")
		other := clients[(i+1)%len(clients)]
		line := other.mustReadLine()
		id, rest, ok := strings.Cut(line, ":")
		if !ok || rest != "hello" {
			t.Fatalf("bad hello line %q", line)
		}
		if _, err := strconv.ParseInt(id, 10, 64); err != nil {
			t.Fatalf("sender ID %q is not decimal: %v", id, err)
		}
		ids[i] = id
		for j, o := range clients {
			if j != i && o != other {
				o.mustReadLine()
			}
		}
	}
	return ids
}

func TestWireFormat(t *testing.T) {
	s, _ := startServer(t, Config{})
	a, b := dial(t, s), dial(t, s)
	waitOpen(t, s, 2)
	ids := idsOf(t, []*testClient{a, b})

	cases := []struct {
		name string
		send string
		want []string // what b receives from a
	}{
		{name: "plain", send: "hi there\n", want: []string{"hi there"}},
		{name: "crlf stripped", send: "with cr\r\n", want: []string{"with cr"}},
		{name: "empty lines ignored", send: "\n\r\n\nx\n", want: []string{"x"}},
		{name: "only last cr stripped", send: "a\r\r\n", want: []string{"a\r"}},
		{name: "binary bytes", send: "\x00\xff\xfe bin \x01\n", want: []string{"\x00\xff\xfe bin \x01"}},
		{name: "many lines in one write", send: "1\n2\n3\n", want: []string{"1", "2", "3"}},
		{name: "leading spaces kept", send: "  sp  \n", want: []string{"  sp  "}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a.send(tc.send)
			for _, w := range tc.want {
				if got := b.mustReadLine(); got != ids[0]+":"+w {
					t.Fatalf("got %q, want %q", got, ids[0]+":"+w)
				}
			}
			a.expectNothing(20 * time.Millisecond) // never echoed to the sender
		})
	}
}

func TestLineSplitAcrossWrites(t *testing.T) {
	s, _ := startServer(t, Config{})
	a, b := dial(t, s), dial(t, s)
	waitOpen(t, s, 2)
	ids := idsOf(t, []*testClient{a, b})
	for _, part := range []string{"sp", "li", "t li", "ne\r", "\nnext\n"} {
		a.send(part)
		time.Sleep(5 * time.Millisecond) // let each part arrive in its own read
	}
	for _, want := range []string{"split line", "next"} {
		if got := b.mustReadLine(); got != ids[0]+":"+want {
			t.Fatalf("got %q, want %q", got, ids[0]+":"+want)
		}
	}
}

// TestEveryLineReachesEveryOther has 60 clients all sending at once and
// checks exactly-once delivery to every other client, never to the sender,
// in per-sender order: with coalescing off, with the self-tuning window
// the daemon runs by default (pacer, CPU meter and hub timers), and with a
// tight bound on it.
func TestEveryLineReachesEveryOther(t *testing.T) {
	for _, tc := range []struct {
		name     string
		coalesce time.Duration
	}{
		{name: "coalescing off", coalesce: 0},
		{name: "default window", coalesce: DefaultCoalesce},
		{name: "1ms bound", coalesce: time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) { everyLineReachesEveryOther(t, Config{Loops: 2, Coalesce: tc.coalesce}) })
	}
}

func everyLineReachesEveryOther(t *testing.T, cfg Config) {
	const clients, perClient = 60, 40
	s, _ := startServer(t, cfg)
	cs := make([]*testClient, clients)
	for i := range cs {
		cs[i] = dial(t, s)
	}
	waitOpen(t, s, clients)
	ids := idsOf(t, cs)
	peers := make([]testutil.Peer, clients)
	for i, c := range cs {
		peers[i] = testutil.Peer{ID: ids[i], ReadLine: c.readLine, Write: func(b []byte) error {
			_, err := c.conn.Write(b)
			return err
		}}
	}
	// Lines in small bursts to mix batching; after the last, no byte more
	// (no duplicates).
	testutil.Exchange{Lines: perClient, Burst: 3, Quiet: 10 * time.Millisecond}.Run(t, peers)
}

// TestShutdownIsIdempotent: Shutdown called twice, and from several
// goroutines at once, returns one result and never panics; on a server
// that never started, or whose Start failed, it returns at once.
func TestShutdownIsIdempotent(t *testing.T) {
	t.Run("twice and concurrently", func(t *testing.T) {
		s, _ := startServer(t, Config{})
		var wg sync.WaitGroup
		sums := make([]Summary, 4)
		errs := make([]error, 4)
		for i := range sums {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sums[i], errs[i] = s.Shutdown(context.Background())
			}()
		}
		wg.Wait()
		again, err := s.Shutdown(context.Background())
		for i := range sums {
			if errs[i] != nil || sums[i] != sums[0] {
				t.Errorf("call %d: %+v, %v; want the first call's %+v", i, sums[i], errs[i], sums[0])
			}
		}
		if err != nil || again != sums[0] {
			t.Errorf("a later call: %+v, %v", again, err)
		}
	})
	t.Run("never started", func(t *testing.T) {
		s, err := New(Config{Addr: "127.0.0.1:0"}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("start failed late", func(t *testing.T) {
		// The metrics listener is the last thing Start sets up: by then the
		// listeners and the event loops run, and the one rollback must
		// release them all (TestMain checks no goroutine is left).
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = busy.Close() })
		sock := filepath.Join(t.TempDir(), "fanout.sock")
		s, err := New(Config{Addr: "127.0.0.1:0,unix://" + sock, MetricsAddr: busy.Addr().String()}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err == nil {
			t.Fatal("started with its metrics address in use")
		}
		again, err := net.Listen("tcp", s.addrs[0].String())
		if err != nil {
			t.Fatalf("the client listener was not released: %v", err)
		}
		_ = again.Close()
		if _, err := os.Lstat(sock); !os.IsNotExist(err) {
			t.Fatalf("the unix socket was left behind: %v", err)
		}
		if _, err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("start failed", func(t *testing.T) {
		taken, _ := startServer(t, Config{})
		s, err := New(Config{Addr: taken.Addr().String()}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err == nil {
			t.Fatal("a second server started on a port in use")
		}
		done := make(chan error, 1)
		go func() { _, err := s.Shutdown(context.Background()); done <- err }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Shutdown hung after a failed Start")
		}
	})
}
