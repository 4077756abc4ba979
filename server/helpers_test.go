package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fanout/fanout/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }

// startServer runs a server on 127.0.0.1:0 with cfg, waits until it
// listens, and shuts it down when the test ends. A zero
// TCPNotsentLowat means the daemon's default, so that the sockets behave
// as in production.
func startServer(t *testing.T, cfg Config) (*Server, *testutil.Buffer) {
	t.Helper()
	if cfg.TCPNotsentLowat == 0 {
		cfg.TCPNotsentLowat = DefaultTCPNotsentLowat // as the daemon runs: the sockets' unsent bytes capped
	}
	return startServerExact(t, cfg)
}

// startServerExact is startServer without the daemon's defaults that a
// zero Config field would turn off (--tcp-notsent-lowat): for a test of
// that zero.
func startServerExact(t *testing.T, cfg Config) (*Server, *testutil.Buffer) {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	logs := &testutil.Buffer{}
	var w io.Writer = logs
	if testing.Verbose() {
		w = io.MultiWriter(logs, os.Stderr)
	}
	s, err := New(cfg, slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if s.stopping.Load() {
			return // the test shut it down itself
		}
		if _, err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s, logs
}

// testClient is a plain TCP client reading the server's lines.
type testClient struct {
	t    *testing.T
	conn *net.TCPConn
	r    *bufio.Reader
	w    io.Writer // where send writes: a TLS connection over conn; nil for conn itself
}

func dial(t *testing.T, s *Server) *testClient {
	t.Helper()
	return dialFrom(t, s, nil)
}

func dialFrom(t *testing.T, s *Server, local *net.TCPAddr) *testClient {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: local}
	c, err := d.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &testClient{t: t, conn: c.(*net.TCPConn), r: newReader(c)}
}

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReaderSize(c, 1<<16) }

func (c *testClient) send(s string) {
	c.t.Helper()
	var w io.Writer = c.conn
	if c.w != nil {
		w = c.w
	}
	if _, err := w.Write([]byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// readLine returns the next "\r\n"-terminated line without its terminator.
func (c *testClient) readLine(timeout time.Duration) (string, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	line, err := c.r.ReadString('\n')
	if err != nil {
		return line, err
	}
	if !strings.HasSuffix(line, "\r\n") {
		return line, errors.New("line not terminated by \\r\\n: " + line)
	}
	return strings.TrimSuffix(line, "\r\n"), nil
}

func (c *testClient) mustReadLine() string {
	c.t.Helper()
	line, err := c.readLine(5 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v (got %q)", err, line)
	}
	return line
}

// expectNothing checks that no byte arrives within d.
func (c *testClient) expectNothing(d time.Duration) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	if b, err := c.r.ReadByte(); err == nil {
		rest, _ := c.r.Peek(c.r.Buffered())
		c.t.Fatalf("unexpected data: %q", string(b)+string(rest))
	}
}

// expectClosed reads until EOF (or reset) and returns what came before it.
func (c *testClient) expectClosed() string {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c.r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open; read %q", b)
	}
	return string(b)
}

var waitFor = testutil.WaitFor

// waitOpen waits until the server counts n open connections.
func waitOpen(t *testing.T, s *Server, n int) {
	t.Helper()
	waitFor(t, "open connections", func() bool { return s.open.Load() == int64(n) && s.fan.Registry().Len() == n })
}
