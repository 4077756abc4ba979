package metrics

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fanout/fanout/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }

// TestListenerIsCapped: with MaxConns connections held open (idle, or
// sending nothing), another connection is not served, so holds no
// descriptor of the process; it is once one of them goes.
func TestListenerIsCapped(t *testing.T) {
	h, err := Serve("127.0.0.1:0", New(func() Snapshot { return Snapshot{} }), Options{Ready: func() bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Close(ctx)
	})
	addr := h.Addr().String()
	var held []net.Conn
	t.Cleanup(func() {
		for _, c := range held {
			_ = c.Close()
		}
	})
	for range MaxConns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	// Make sure the held ones were accepted: each answers a request.
	for _, c := range held {
		if got := healthz(t, c, 5*time.Second); got != "HTTP/1.1 200 OK" {
			t.Fatalf("a held connection got %q", got)
		}
	}
	extra, err := net.Dial("tcp", addr) // the kernel completes the handshake: it waits in the backlog
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if got := healthz(t, extra, 300*time.Millisecond); got != "" {
		t.Fatalf("connection %d was served (%q) past the cap of %d", MaxConns+1, got, MaxConns)
	}
	_ = held[0].Close()
	held = held[1:]
	if got := healthz(t, extra, 5*time.Second); got != "HTTP/1.1 200 OK" {
		t.Fatalf("once a slot was free: %q", got)
	}
}

// healthz sends GET /healthz on c and returns the first status line that
// comes back, "" when none came within d.
func healthz(t *testing.T, c net.Conn, d time.Duration) string {
	t.Helper()
	_, _ = c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
	_ = c.SetReadDeadline(time.Now().Add(d))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return ""
	}
	return strings.TrimSpace(line)
}
