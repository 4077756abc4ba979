package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TCP and WebSocket clients share one domain: each sees the other's lines,
// in order, with the sender's ID, never its own.
func TestWSAndTCPSeeEachOther(t *testing.T) {
	s, _ := startWSServer(t, Config{})
	tcp := dial(t, s)
	a, b := dialCoder(t, s), dialCoder(t, s)
	waitOpen(t, s, 3)

	// One message of several lines, \r stripped, empty lines ignored.
	writeWS(t, a, "one\r\n\ntwo\nthree\r")
	var aID string
	for _, want := range []string{"one", "two", "three"} {
		got := tcp.mustReadLine()
		if !strings.HasSuffix(got, ":"+want) {
			t.Fatalf("TCP client got %q, want …:%s", got, want)
		}
		aID = senderID(t, got)
		if typ, got := readWS(t, b); typ != websocket.MessageText || got != aID+":"+want {
			t.Fatalf("WebSocket client got %v %q, want text %q", typ, got, aID+":"+want)
		}
	}
	// Per-sender order, from a WebSocket client and from a TCP one.
	const n = 200
	for i := range n {
		writeWS(t, a, "a"+strconv.Itoa(i))
		tcp.send("t" + strconv.Itoa(i) + "\n")
	}
	nextA, nextT := 0, 0
	for nextT < n || nextA < n {
		_, got := readWS(t, b)
		id, line, _ := strings.Cut(got, ":")
		switch {
		case id == aID && line == "a"+strconv.Itoa(nextA):
			nextA++
		case id != aID && line == "t"+strconv.Itoa(nextT):
			nextT++
		default:
			t.Fatalf("out of order: %q after a%d and t%d", got, nextA, nextT)
		}
	}
	for i := range n {
		if got := tcp.mustReadLine(); got != aID+":a"+strconv.Itoa(i) {
			t.Fatalf("TCP client got %q, want %s:a%d", got, aID, i)
		}
	}
	// Nobody hears itself: a, which sent lines, gets only the TCP client's.
	for i := range n {
		if _, got := readWS(t, a); strings.HasPrefix(got, aID+":") || !strings.HasSuffix(got, ":t"+strconv.Itoa(i)) {
			t.Fatalf("sender got %q, want the TCP client's t%d", got, i)
		}
	}
	tcp.expectNothing(50 * time.Millisecond) // its own lines never came back
}

// A line that is not UTF-8 reaches WebSocket clients as a binary message
// (a browser fails a connection on an invalid text frame); TCP clients get
// the bytes as sent.
func TestWSBinaryForNonUTF8(t *testing.T) {
	s, _ := startWSServer(t, Config{})
	sender, tcp := dial(t, s), dial(t, s)
	wc := dialCoder(t, s)
	waitOpen(t, s, 3)
	sender.send("caf\xe9\n")
	typ, got := readWS(t, wc)
	if typ != websocket.MessageBinary || !strings.HasSuffix(got, ":caf\xe9") {
		t.Fatalf("got %v %q, want a binary message …:caf\\xe9", typ, got)
	}
	if got := tcp.mustReadLine(); !strings.HasSuffix(got, ":caf\xe9") {
		t.Fatalf("TCP client got %q", got)
	}
	sender.send("café\n")
	if typ, got := readWS(t, wc); typ != websocket.MessageText || !strings.HasSuffix(got, ":café") {
		t.Fatalf("got %v %q, want a text message", typ, got)
	}
}

// Bad requests get the right HTTP status and a log line, and close; the
// clients already in the broadcast are not disturbed.
func TestWSBadHandshakes(t *testing.T) {
	s, logs := startWSServer(t, Config{WSConfig: WSConfig{WSMaxHeader: 1024}})
	tcp, wc := dial(t, s), dialCoder(t, s)
	waitOpen(t, s, 2)
	key := "Sec-WebSocket-Key: " + testKey + "\r\n"
	cases := []struct {
		name    string
		request string
		status  string
		log     string
	}{
		{name: "not an upgrade", request: "GET /ws HTTP/1.1\r\nHost: localhost\r\n\r\n", status: "400", log: "not a WebSocket upgrade"},
		{name: "unknown path", request: "GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n", status: "404", log: "not found"},
		{name: "wrong method", request: "POST /ws HTTP/1.1\r\nHost: localhost\r\n\r\n", status: "405", log: "method not allowed"},
		{name: "bad key", request: strings.Replace(upgradeRequest(""), key, "Sec-WebSocket-Key: short\r\n", 1), status: "426", log: "Sec-WebSocket-Key"},
		{name: "no key", request: strings.Replace(upgradeRequest(""), key, "", 1), status: "426", log: "Sec-WebSocket-Key"},
		{name: "bad version", request: strings.Replace(upgradeRequest(""), "Version: 13", "Version: 8", 1), status: "426", log: "Sec-WebSocket-Version"},
		{name: "disallowed origin", request: upgradeRequest("Origin: http://evil.example\r\n"), status: "403", log: "origin=http://evil.example"},
		{name: "header too large", request: upgradeRequest("X-Pad: " + strings.Repeat("x", 1100) + "\r\n"), status: "431", log: "request header too large"},
		{name: "not HTTP", request: "hello\n", status: "400", log: "CRLF"},
		{name: "TLS hello", request: "\x16\x03\x01\x00", status: "400", log: "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, s)
			c.write([]byte(tc.request))
			if status := c.readHead(); !strings.HasPrefix(status, "HTTP/1.1 "+tc.status+" ") {
				t.Fatalf("status %q, want %s", status, tc.status)
			}
			c.expectEOF()
			waitLog(t, logs, "WebSocket handshake refused", "status="+tc.status, tc.log)
			checkUndisturbed(t, tcp, wc, tc.name)
		})
	}
}

// Frames that break RFC 6455 or the limits close the connection with the
// right code and a log line; others are not disturbed.
func TestWSBadFrames(t *testing.T) {
	s, logs := startWSServer(t, Config{MaxLine: 100})
	tcp, wc := dial(t, s), dialCoder(t, s)
	waitOpen(t, s, 2)
	big := make([]byte, 10)
	big[0], big[1] = 0x81, 0x80|127 // masked text frame, 64-bit length…
	binary.BigEndian.PutUint64(big[2:], 1<<63|5)
	cases := []struct {
		name   string
		frames [][]byte
		code   int
		reason string
		log    string
	}{
		{name: "unmasked frame", frames: [][]byte{clientFrame(true, 0x1, []byte("hi"), false)}, code: 1002, reason: "ws_protocol", log: "unmasked"},
		{name: "64-bit length top bit", frames: [][]byte{big}, code: 1002, reason: "ws_protocol", log: "top bit"},
		{name: "control frame over 125 bytes", frames: [][]byte{clientFrame(true, 0x9, make([]byte, 126), true)}, code: 1002, reason: "ws_protocol", log: "over 125"},
		{name: "fragmented past max-line", frames: [][]byte{
			clientFrame(false, 0x1, []byte(strings.Repeat("a", 60)), true),
			clientFrame(false, 0x0, []byte(strings.Repeat("b", 60)), true),
		}, code: 1009, reason: "line_too_long", log: "too big"},
		{name: "line past max-line", frames: [][]byte{clientFrame(true, 0x2, []byte(strings.Repeat("a", 101)+"\n"), true)}, code: 1009, reason: "line_too_long", log: "line_too_long"},
		{name: "invalid UTF-8", frames: [][]byte{clientFrame(true, 0x1, []byte("caf\xe9"), true)}, code: 1007, reason: "ws_protocol", log: "code=1007"},
		{name: "reserved opcode", frames: [][]byte{clientFrame(true, 0x3, nil, true)}, code: 1002, reason: "ws_protocol", log: "reserved opcode"},
		{name: "continuation without a message", frames: [][]byte{clientFrame(true, 0x0, []byte("x"), true)}, code: 1002, reason: "ws_protocol", log: "continuation"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := upgradeRaw(t, s)
			for _, f := range tc.frames {
				c.write(f)
			}
			if code := c.expectClose(); code != tc.code {
				t.Fatalf("close code %d, want %d", code, tc.code)
			}
			c.expectEOF()
			waitLog(t, logs, "connection closed", "proto=ws", "reason="+tc.reason)
			waitLog(t, logs, tc.log)
			checkUndisturbed(t, tcp, wc, tc.name)
		})
	}
}

// RFC behaviour that is not an error: pings answered with their payload,
// control frames between fragments, a close answered with its code.
func TestWSControlFrames(t *testing.T) {
	s, _ := startWSServer(t, Config{})
	tcp := dial(t, s)
	c := upgradeRaw(t, s)
	waitOpen(t, s, 2)
	c.write(clientFrame(false, 0x1, []byte("hel"), true))
	c.write(clientFrame(true, 0x9, []byte("are you there"), true)) // a ping between fragments
	c.write(clientFrame(true, 0x0, []byte("lo"), true))
	f, err := c.readFrame()
	must(t, err)
	if f.op != 0xA || string(f.payload) != "are you there" {
		t.Fatalf("got op %x %q, want the pong", f.op, f.payload)
	}
	if got := tcp.mustReadLine(); !strings.HasSuffix(got, ":hello") {
		t.Fatalf("TCP client got %q, want the reassembled line", got)
	}
	c.write(clientFrame(true, 0x8, []byte{0x03, 0xe8, 'b', 'y', 'e'}, true))
	if code := c.expectClose(); code != 1000 {
		t.Fatalf("close answered with %d, want 1000", code)
	}
	c.expectEOF()
}

// A handshake that arrives a byte at a time, and frames that arrive so
// too, work as a whole one would.
func TestWSHandshakeByteByByte(t *testing.T) {
	s, _ := startWSServer(t, Config{})
	tcp := dial(t, s)
	waitOpen(t, s, 1)
	c := dialRaw(t, s)
	req := []byte(upgradeRequest("Origin: http://localhost\r\n"))
	for i := range req {
		c.write(req[i : i+1])
	}
	if status := c.readHead(); !strings.HasPrefix(status, "HTTP/1.1 101 ") {
		t.Fatalf("status %q, want 101", status)
	}
	waitOpen(t, s, 2)
	f := clientFrame(true, 0x1, []byte("split"), true)
	for i := range f {
		c.write(f[i : i+1])
	}
	if got := tcp.mustReadLine(); !strings.HasSuffix(got, ":split") {
		t.Fatalf("TCP client got %q", got)
	}
}

// GET / answers with the page and closes.
func TestWSPage(t *testing.T) {
	s, logs := startWSServer(t, Config{})
	resp, err := http.Get("http://" + s.WSAddrs()[0].String() + "/")
	must(t, err)
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	must(t, err)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<html") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("GET / = %d %q", resp.StatusCode, body[:min(len(body), 80)])
	}
	waitFor(t, "page_served counted", func() bool { return s.closed[ReasonPageServed].Load() == 1 })
	_ = logs
}

// A client that never answers pings is closed (ws_no_pong); one that
// answers stays.
func TestWSPingTimeout(t *testing.T) {
	s, logs := startWSServer(t, Config{WSConfig: WSConfig{WSPing: 100 * time.Millisecond}})
	tcp := dial(t, s)
	alive := dialCoder(t, s)
	received := make(chan string, 10)
	go func() { // coder/websocket answers pings while a Read is waiting
		for {
			_, b, err := alive.Read(context.Background())
			if err != nil {
				close(received)
				return
			}
			received <- string(b)
		}
	}()
	mute := upgradeRaw(t, s)
	waitOpen(t, s, 3)
	f, err := mute.readFrame()
	must(t, err)
	if f.op != 0x9 {
		t.Fatalf("got op %x, want a ping", f.op)
	}
	if code := mute.expectClose(); code != 1008 {
		t.Fatalf("close code %d, want 1008", code)
	}
	mute.expectEOF()
	waitLog(t, logs, "connection closed", "proto=ws", "reason=ws_no_pong")
	// The one that answers was pinged as often and is still there.
	tcp.send("still here\n")
	select {
	case got, ok := <-received:
		if !ok || !strings.HasSuffix(got, ":still here") {
			t.Fatalf("answering client got %q (open %v)", got, ok)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("answering client got nothing")
	}
}

// A handshake not done in time is closed (408, ws_handshake).
func TestWSHandshakeTimeout(t *testing.T) {
	s, logs := startWSServer(t, Config{WSConfig: WSConfig{WSHandshakeTimeout: 50 * time.Millisecond}})
	c := dialRaw(t, s)
	c.write([]byte("GET /ws HTTP/1.1\r\n"))
	if status := c.readHead(); !strings.HasPrefix(status, "HTTP/1.1 408 ") {
		t.Fatalf("status %q, want 408", status)
	}
	c.expectEOF()
	waitLog(t, logs, "no WebSocket handshake in time")
	waitFor(t, "nothing open", func() bool { return s.open.Load() == 0 })
}

// Shutdown delivers what was queued, then closes WebSocket clients with
// 1001 "going away".
func TestWSShutdownGoingAway(t *testing.T) {
	s, _ := startWSServer(t, Config{})
	tcp, wc := dial(t, s), dialCoder(t, s)
	waitOpen(t, s, 2)
	tcp.send("last words\n")
	if _, got := readWS(t, wc); !strings.HasSuffix(got, ":last words") {
		t.Fatalf("got %q", got)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := s.Shutdown(ctx)
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := wc.Read(ctx)
	if st := websocket.CloseStatus(err); st != websocket.StatusGoingAway {
		t.Fatalf("read ended with %v (status %v), want 1001", err, st)
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) && ce.Reason != "going away" {
		t.Fatalf("close reason %q", ce.Reason)
	}
	must(t, <-done)
}

// Flood control and the per-IP limit hold for WebSocket clients as for TCP.
func TestWSLimits(t *testing.T) {
	t.Run("flood", func(t *testing.T) {
		s, logs := startWSServer(t, Config{RateLimit: 1, RateBurst: 2})
		c := upgradeRaw(t, s)
		var frames []byte
		for range 5 {
			frames = append(frames, clientFrame(true, 0x1, []byte("x"), true)...)
		}
		// One write: the server may close before a later one.
		_, _ = c.conn.Write(frames)
		if code := c.expectClose(); code != 1008 {
			t.Fatalf("close code %d, want 1008", code)
		}
		waitLog(t, logs, "connection closed", "proto=ws", "reason=flood")
	})
	t.Run("per-IP", func(t *testing.T) {
		s, logs := startWSServer(t, Config{MaxConnsPerIP: 1})
		_ = upgradeRaw(t, s)
		c := dialRaw(t, s)
		if status := c.readHead(); !strings.HasPrefix(status, "HTTP/1.1 429 ") {
			t.Fatalf("status %q, want 429", status)
		}
		waitLog(t, logs, "connection refused", "too_many_conns")
	})
	t.Run("idle", func(t *testing.T) {
		s, logs := startWSServer(t, Config{IdleTimeout: 100 * time.Millisecond})
		c := upgradeRaw(t, s)
		if code := c.expectClose(); code != 1008 {
			t.Fatalf("close code %d, want 1008", code)
		}
		waitLog(t, logs, "connection closed", "proto=ws", "reason=idle")
	})
}

// /connz and /varz tell the protocols apart.
func TestWSOperatorView(t *testing.T) {
	s, _ := startWSServer(t, Config{MetricsAddr: "127.0.0.1:0"})
	_ = dial(t, s)
	_ = dialCoder(t, s)
	waitOpen(t, s, 2)
	base := "http://" + s.MetricsAddr().String()
	var varz struct {
		ByProto map[string]int64 `json:"connections_by_proto"`
	}
	getJSON(t, base+"/varz", &varz)
	if varz.ByProto["tcp"] != 1 || varz.ByProto["ws"] != 1 {
		t.Fatalf("/varz connections_by_proto = %v", varz.ByProto)
	}
	var connz struct {
		Connections []connInfo `json:"connections"`
	}
	getJSON(t, base+"/connz", &connz)
	protos := map[string]int{}
	for _, c := range connz.Connections {
		protos[c.Proto]++
	}
	if protos["tcp"] != 1 || protos["ws"] != 1 {
		t.Fatalf("/connz protos = %v", protos)
	}
	resp, err := http.Get(base + "/metrics")
	must(t, err)
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !strings.Contains(string(b), `fanout_connections_open_by_proto{proto="ws"} 1`) {
		t.Fatal("/metrics has no fanout_connections_open_by_proto for ws")
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	must(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	must(t, json.NewDecoder(resp.Body).Decode(v))
}

// The WebSocket listener works on a unix socket too.
func TestWSUnixListener(t *testing.T) {
	path := t.TempDir() + "/ws.sock"
	s, _ := startWSServer(t, Config{WSConfig: WSConfig{WSAddr: "unix://" + path}})
	tcp := dial(t, s)
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	must(t, err)
	t.Cleanup(func() { _ = c.Close() })
	raw := &rawWS{t: t, conn: c, r: bufio.NewReader(c)}
	raw.write([]byte(upgradeRequest("")))
	if status := raw.readHead(); !strings.HasPrefix(status, "HTTP/1.1 101 ") {
		t.Fatalf("status %q", status)
	}
	waitOpen(t, s, 2)
	tcp.send("over unix\n")
	f, err := raw.readFrame()
	must(t, err)
	if f.op != 0x1 || !strings.HasSuffix(string(f.payload), ":over unix") {
		t.Fatalf("got op %x %q", f.op, f.payload)
	}
	raw.write(clientFrame(true, 0x1, []byte("back"), true))
	if got := tcp.mustReadLine(); !strings.HasSuffix(got, ":back") {
		t.Fatalf("TCP client got %q", got)
	}
}
