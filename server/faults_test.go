package server

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOversizedLineClosesOnlyThatClient(t *testing.T) {
	cases := []struct {
		name string
		send string
	}{
		{name: "terminated line past max", send: strings.Repeat("x", 101) + "\n"},
		{name: "no newline past max", send: strings.Repeat("y", 300)},
		{name: "cr does not save it", send: strings.Repeat("z", 101) + "\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, logs := startServer(t, Config{MaxLine: 100})
			bad, a, b := dial(t, s), dial(t, s), dial(t, s)
			waitOpen(t, s, 3)
			bad.send("fine\n")
			a.mustReadLine()
			b.mustReadLine()
			bad.send(tc.send)
			if got := bad.expectClosed(); got != "ERR line too long\r\n" {
				t.Fatalf("offender got %q, want the ERR line then EOF", got)
			}
			waitOpen(t, s, 2)
			a.expectNothing(20 * time.Millisecond) // nothing of the long line leaked
			// The others carry on.
			a.send(strings.Repeat("k", 100) + "\n") // exactly max is fine
			if got := b.mustReadLine(); !strings.HasSuffix(got, ":"+strings.Repeat("k", 100)) {
				t.Fatalf("b got %q", got)
			}
			waitFor(t, "log line", func() bool { return strings.Contains(logs.String(), "reason=line_too_long") })
		})
	}
}

func TestServerFull(t *testing.T) {
	s, logs := startServer(t, Config{MaxConns: 2})
	a, b := dial(t, s), dial(t, s)
	waitOpen(t, s, 2)
	c := dial(t, s)
	if got := c.expectClosed(); got != "ERR server full\r\n" {
		t.Fatalf("third client got %q", got)
	}
	if !strings.Contains(logs.String(), "reason=server_full") {
		t.Errorf("no log line for the refusal")
	}
	a.send("still here\n")
	if got := b.mustReadLine(); !strings.HasSuffix(got, ":still here") {
		t.Fatalf("b got %q", got)
	}
	// A freed slot can be taken again.
	_ = a.conn.Close()
	waitOpen(t, s, 1)
	d := dial(t, s)
	waitOpen(t, s, 2)
	d.send("in\n")
	if got := b.mustReadLine(); !strings.HasSuffix(got, ":in") {
		t.Fatalf("b got %q", got)
	}
}

func TestResetAndHalfCloseMidLine(t *testing.T) {
	cases := []struct {
		name string
		end  func(c *net.TCPConn)
		want string // what the watcher receives of the partial line
	}{
		{name: "reset", end: func(c *net.TCPConn) { _ = c.SetLinger(0); _ = c.Close() }},
		{name: "half close delivers the last unterminated line", end: func(c *net.TCPConn) { _ = c.CloseWrite() }, want: "tail"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := startServer(t, Config{})
			quitter, watcher := dial(t, s), dial(t, s)
			waitOpen(t, s, 2)
			quitter.send("whole\ntail")
			if got := watcher.mustReadLine(); !strings.HasSuffix(got, ":whole") {
				t.Fatalf("watcher got %q", got)
			}
			tc.end(quitter.conn)
			waitOpen(t, s, 1)
			if tc.want != "" {
				if got := watcher.mustReadLine(); !strings.HasSuffix(got, ":"+tc.want) {
					t.Fatalf("watcher got %q, want the tail", got)
				}
			}
			watcher.expectNothing(20 * time.Millisecond)
			// The server is unharmed: a newcomer and the watcher talk.
			n := dial(t, s)
			waitOpen(t, s, 2)
			n.send("after\n")
			if got := watcher.mustReadLine(); !strings.HasSuffix(got, ":after") {
				t.Fatalf("watcher got %q", got)
			}
		})
	}
}

// TestShutdownDrainsQueuedLines queues lines for a client that is not
// reading yet, shuts down, and checks every line still arrives before EOF.
func TestShutdownDrainsQueuedLines(t *testing.T) {
	s, _ := startServer(t, Config{})
	sender, late := dial(t, s), dial(t, s)
	waitOpen(t, s, 2)
	const lines = 5000
	var sb strings.Builder
	for i := 0; i < lines; i++ {
		fmt.Fprintf(&sb, "line %d %s\n", i, strings.Repeat("d", 200))
	}
	sender.send(sb.String())
	waitFor(t, "lines read by the server", func() bool { return s.fan.Stats().Frames == lines })

	type result struct {
		sum Summary
		err error
	}
	res := make(chan result, 1)
	go func() {
		sum, err := s.Shutdown(context.Background())
		res <- result{sum, err}
	}()
	for i := 0; i < lines; i++ {
		line, err := late.readLine(5 * time.Second)
		if err != nil {
			t.Fatalf("line %d lost in shutdown: %v", i, err)
		}
		if _, body, _ := strings.Cut(line, ":"); !strings.HasPrefix(body, fmt.Sprintf("line %d ", i)) {
			t.Fatalf("line %d: got %.30q", i, body)
		}
	}
	late.expectClosed()
	r := <-res
	if r.err != nil || !r.sum.Drained {
		t.Fatalf("Shutdown = %+v, %v; want drained", r.sum, r.err)
	}
	if r.sum.Lines != lines || r.sum.Accepted != 2 {
		t.Fatalf("summary %+v", r.sum)
	}
}

// TestShutdownDrainIsBounded has a client that never reads: the drain gives
// up at the timeout and the server still stops.
func TestShutdownDrainIsBounded(t *testing.T) {
	s, _ := startServer(t, Config{DrainTimeout: 300 * time.Millisecond})
	sender, stalled := dial(t, s), dial(t, s)
	_ = stalled.conn.SetReadBuffer(4096)
	waitOpen(t, s, 2)
	chunk := strings.Repeat(strings.Repeat("s", 1000)+"\n", 1000)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // 8 MB, below the pending cap: it just sits in the queue
		defer wg.Done()
		for i := 0; i < 8; i++ {
			if _, err := sender.conn.Write([]byte(chunk)); err != nil {
				return
			}
		}
	}()
	wg.Wait()
	waitFor(t, "lines read by the server", func() bool { return s.fan.Stats().Frames == 8000 })
	start := time.Now()
	sum, err := s.Shutdown(context.Background())
	if err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if sum.Drained || sum.Undelivered == 0 || sum.Owed != 1 {
		t.Fatalf("summary %+v: want an undrained backlog owed to one client", sum)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Shutdown took %s despite a 300ms drain timeout", d)
	}
}

// TestShutdownSummaryCountsBytesOnce: twenty clients that never read are
// owed the same 8 MB; the summary reports what was really left unwritten
// (at most the 8 MB, which the server holds once) and that twenty
// clients were owed it, not the twenty backlogs added up (81 MB here before the fix).
func TestShutdownSummaryCountsBytesOnce(t *testing.T) {
	const stalledClients = 20
	s, logs := startServer(t, Config{DrainTimeout: 200 * time.Millisecond})
	sender := dial(t, s)
	for range stalledClients {
		_ = dial(t, s).conn.SetReadBuffer(4096)
	}
	waitOpen(t, s, stalledClients+1)
	line := strings.Repeat("s", 1000) + "\n"
	const lines = 8000
	go func() {
		for range lines / 1000 {
			if _, err := sender.conn.Write([]byte(strings.Repeat(line, 1000))); err != nil {
				return
			}
		}
	}()
	waitFor(t, "lines read by the server", func() bool { return s.fan.Stats().Frames == lines })
	sum, err := s.Shutdown(context.Background())
	if err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	framed := int64(lines * (len(line) + 1 + 20)) // "<id>:" and "\r\n" around each line
	if sum.Drained || sum.Owed != stalledClients || sum.Undelivered <= 0 || sum.Undelivered > framed {
		t.Fatalf("summary %+v: want %d clients owed at most %d bytes", sum, stalledClients, framed)
	}
	if !strings.Contains(logs.String(), fmt.Sprintf("clients_owed=%d", stalledClients)) {
		t.Errorf("the summary line does not say clients_owed=%d:\n%s", stalledClients, logs.String())
	}
}
