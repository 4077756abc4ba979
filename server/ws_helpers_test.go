package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// startWSServer runs a server with a WebSocket listener on 127.0.0.1:0.
func startWSServer(t *testing.T, cfg Config) (*Server, *testLogs) {
	t.Helper()
	if cfg.WSAddr == "" {
		cfg.WSAddr = "127.0.0.1:0"
	}
	s, logs := startServer(t, cfg)
	return s, &testLogs{logs: logs.String}
}

// testLogs reads a server's log so far.
type testLogs struct{ logs func() string }

// waitLog waits until the log has a line holding every one of parts.
func waitLog(t *testing.T, l *testLogs, parts ...string) {
	t.Helper()
	waitFor(t, "a log line with "+strings.Join(parts, " "), func() bool {
		for _, line := range strings.Split(l.logs(), "\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return true
			}
		}
		return false
	})
}

// wsURL is the upgrade URL of s's first WebSocket listener.
func wsURL(s *Server) string { return "ws://" + s.WSAddrs()[0].String() + "/ws" }

// dialCoder opens a WebSocket with coder/websocket, an independent
// implementation, closed when the test ends.
func dialCoder(t *testing.T, s *Server) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL(s), nil)
	if err != nil {
		t.Fatalf("websocket dial: %v", err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// readWS reads one message within 5s.
func readWS(t *testing.T, c *websocket.Conn) (websocket.MessageType, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("websocket read: %v", err)
	}
	return typ, string(b)
}

func writeWS(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("websocket write: %v", err)
	}
}

// rawWS is a WebSocket client written by hand, to send what a library
// would not.
type rawWS struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

const testKey = "dGhlIHNhbXBsZSBub25jZQ==" // RFC 6455's sample key

func upgradeRequest(extra string) string {
	return "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + testKey + "\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n"
}

// dialRaw connects to s's WebSocket listener without a handshake.
func dialRaw(t *testing.T, s *Server) *rawWS {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.WSAddrs()[0].String(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawWS{t: t, conn: c, r: bufio.NewReader(c)}
}

// upgradeRaw connects and completes a handshake.
func upgradeRaw(t *testing.T, s *Server) *rawWS {
	t.Helper()
	c := dialRaw(t, s)
	c.write([]byte(upgradeRequest("")))
	if status := c.readHead(); !strings.HasPrefix(status, "HTTP/1.1 101 ") {
		t.Fatalf("handshake answered %q", status)
	}
	return c
}

func (c *rawWS) write(b []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// readHead reads an HTTP response's head and returns its status line.
func (c *rawWS) readHead() string {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("reading the status line: %v (got %q)", err, status)
	}
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading the head: %v", err)
		}
		if line == "\r\n" {
			return strings.TrimSuffix(status, "\r\n")
		}
	}
}

// frame is one server frame.
type frame struct {
	fin     bool
	op      byte
	payload []byte
}

// readFrame reads one server frame (which must be unmasked).
func (c *rawWS) readFrame() (frame, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return frame{}, err
	}
	if h[1]&0x80 != 0 {
		return frame{}, errors.New("server frame is masked")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.r, b[:]); err != nil {
			return frame{}, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.r, b[:]); err != nil {
			return frame{}, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.r, p); err != nil {
		return frame{}, err
	}
	return frame{fin: h[0]&0x80 != 0, op: h[0] & 0x0f, payload: p}, nil
}

// expectClose reads frames until a close frame and returns its code; data
// and ping frames before it are skipped.
func (c *rawWS) expectClose() int {
	c.t.Helper()
	for range 1000 {
		f, err := c.readFrame()
		if err != nil {
			c.t.Fatalf("no close frame: %v", err)
		}
		if f.op == 0x8 {
			if len(f.payload) < 2 {
				return 1005
			}
			return int(binary.BigEndian.Uint16(f.payload))
		}
	}
	c.t.Fatal("no close frame in 1000 frames")
	return 0
}

// expectEOF checks the server closes the connection.
func (c *rawWS) expectEOF() {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, c.r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatal("connection still open")
	}
}

// clientFrame encodes a masked client frame; mask false leaves it
// unmasked (a protocol error). Lengths use the shortest form.
func clientFrame(fin bool, op byte, payload []byte, mask bool) []byte {
	var b bytes.Buffer
	h0 := op
	if fin {
		h0 |= 0x80
	}
	b.WriteByte(h0)
	var m byte
	if mask {
		m = 0x80
	}
	switch n := len(payload); {
	case n <= 125:
		b.WriteByte(m | byte(n))
	case n <= 0xffff:
		b.WriteByte(m | 126)
		_ = binary.Write(&b, binary.BigEndian, uint16(n))
	default:
		b.WriteByte(m | 127)
		_ = binary.Write(&b, binary.BigEndian, uint64(n))
	}
	if !mask {
		b.Write(payload)
		return b.Bytes()
	}
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b.Write(key[:])
	for i, c := range payload {
		b.WriteByte(c ^ key[i%4])
	}
	return b.Bytes()
}

// senderID returns the ID prefix of a relayed line "<id>:<line>".
func senderID(t *testing.T, line string) string {
	t.Helper()
	id, _, ok := strings.Cut(line, ":")
	if !ok {
		t.Fatalf("no sender ID in %q", line)
	}
	return id
}

// checkUndisturbed checks that a TCP and a WebSocket client still see
// each other's lines.
func checkUndisturbed(t *testing.T, tcp *testClient, wc *websocket.Conn, tag string) {
	t.Helper()
	tcp.send("tcp " + tag + "\n")
	if _, got := readWS(t, wc); !strings.HasSuffix(got, ":tcp "+tag) {
		t.Fatalf("WebSocket client got %q, want the TCP client's line", got)
	}
	writeWS(t, wc, "ws "+tag)
	if got := tcp.mustReadLine(); !strings.HasSuffix(got, ":ws "+tag) {
		t.Fatalf("TCP client got %q, want the WebSocket client's line", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var _ = fmt.Sprintf

// wsFrames is an upgraded connection whose every Write is one masked
// binary message (at most --max-line + 2 bytes).
type wsFrames struct{ net.Conn }

func (w wsFrames) Write(b []byte) (int, error) {
	f := clientFrame(true, 0x2, b, true)
	n, err := w.Conn.Write(f)
	return max(0, n-(len(f)-len(b))), err
}
