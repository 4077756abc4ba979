package ws_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"

	"github.com/fanout/fanout/internal/ws"
	"github.com/fanout/fanout/internal/ws/wstest"
)

// Interop: independent client implementations (gorilla/websocket and
// coder/websocket) against a server made of this codec. Each test runs
// with reads of 4 KiB and of one byte, so the client's handshake and frames
// reach the parsers whole and in pieces.

var readSizes = []int{4096, 1}

func forEachReadSize(t *testing.T, cfg wstest.Config, run func(t *testing.T, s *wstest.Server)) {
	for _, size := range readSizes {
		t.Run("read="+strconv.Itoa(size), func(t *testing.T) {
			c := cfg
			c.ReadSize = size
			run(t, wstest.Start(t, c))
		})
	}
}

func gorillaDial(t *testing.T, s *wstest.Server, d *websocket.Dialer, header http.Header) *websocket.Conn {
	t.Helper()
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	}
	c, resp, err := d.Dial("ws://"+s.Addr+"/ws", header)
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, resp)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	return c
}

func gorillaRead(t *testing.T, c *websocket.Conn) (int, string) {
	t.Helper()
	typ, msg, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, string(msg)
}

func nextLine(t *testing.T, s *wstest.Server) wstest.Line {
	t.Helper()
	select {
	case l := <-s.Lines():
		return l
	case <-time.After(15 * time.Second):
		t.Fatal("timed out waiting for a line")
		return wstest.Line{}
	}
}

func nextEnd(t *testing.T, s *wstest.Server) wstest.End {
	t.Helper()
	select {
	case e := <-s.Ends():
		return e
	case <-time.After(15 * time.Second):
		t.Fatal("timed out waiting for a connection to end")
		return wstest.End{}
	}
}

// waitConns waits until n WebSocket connections are registered, so that a
// broadcast reaches all of them.
func waitConns(t *testing.T, s *wstest.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for s.Conns() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections, want %d", s.Conns(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestGorillaMessages(t *testing.T) {
	forEachReadSize(t, wstest.Config{FirstID: 1000}, func(t *testing.T, s *wstest.Server) {
		a := gorillaDial(t, s, nil, nil)
		waitConns(t, s, 1)
		b := gorillaDial(t, s, nil, nil)
		waitConns(t, s, 2)

		// Text from a, split into lines by the TCP rules, reaches b as one
		// message per line with a's ID, and never comes back to a.
		if err := a.WriteMessage(websocket.TextMessage, []byte("hello\r\n\nworld ✓")); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"hello", "world ✓"} {
			if typ, msg := gorillaRead(t, b); typ != websocket.TextMessage || msg != "1000:"+want {
				t.Fatalf("b got %d %q, want text %q", typ, msg, "1000:"+want)
			}
			if l := nextLine(t, s); l.From != 1000 || l.Text != want || l.Binary {
				t.Fatalf("server got %+v", l)
			}
		}
		// Binary messages are lines too; a line that is not UTF-8 is
		// relayed as a binary message.
		if err := b.WriteMessage(websocket.BinaryMessage, []byte("raw \xff\n")); err != nil {
			t.Fatal(err)
		}
		if typ, msg := gorillaRead(t, a); typ != websocket.BinaryMessage || msg != "1001:raw \xff" {
			t.Fatalf("a got %d %q", typ, msg)
		}
		// A line from elsewhere (a TCP client) reaches both.
		s.Broadcast(7, []byte("from tcp"))
		for _, c := range []*websocket.Conn{a, b} {
			if typ, msg := gorillaRead(t, c); typ != websocket.TextMessage || msg != "7:from tcp" {
				t.Fatalf("got %d %q", typ, msg)
			}
		}
	})
}

// TestGorillaFragmented: a write buffer of 32 bytes makes gorilla send a
// long message as many fragments.
func TestGorillaFragmented(t *testing.T) {
	forEachReadSize(t, wstest.Config{}, func(t *testing.T, s *wstest.Server) {
		c := gorillaDial(t, s, &websocket.Dialer{WriteBufferSize: 32, HandshakeTimeout: 10 * time.Second}, nil)
		long := strings.Repeat("0123456789κόσμε", 100)
		for _, typ := range []int{websocket.TextMessage, websocket.BinaryMessage} {
			w, err := c.NextWriter(typ)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(long); i += 7 { // cut runes too
				if _, err := w.Write([]byte(long[i:min(i+7, len(long))])); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if l := nextLine(t, s); l.Text != long {
				t.Fatalf("got %d bytes, want %d", len(l.Text), len(long))
			}
		}
	})
}

func TestGorillaPingPong(t *testing.T) {
	forEachReadSize(t, wstest.Config{}, func(t *testing.T, s *wstest.Server) {
		c := gorillaDial(t, s, nil, nil)
		waitConns(t, s, 1)
		pong := make(chan string, 1)
		c.SetPongHandler(func(data string) error { pong <- data; return nil })
		readErr := make(chan error, 1)
		go func() { // gorilla answers pings and calls handlers while reading
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					readErr <- err
					return
				}
			}
		}()
		// The client pings; the server answers with the same payload.
		if err := c.WriteControl(websocket.PingMessage, []byte("ping \x00\xff"), time.Now().Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-pong:
			if got != "ping \x00\xff" {
				t.Fatalf("pong %q", got)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("no pong")
		}
		// The server pings (as it will idle browsers); gorilla answers.
		s.PingAll([]byte("are you there"))
		select {
		case got := <-s.Pongs():
			if string(got) != "are you there" {
				t.Fatalf("server got pong %q", got)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("server got no pong")
		}
		c.Close()
		<-readErr
	})
}

// TestGorillaClose: a close from the client is answered with its code; a
// close from the server (draining) reaches the client with its code and
// reason.
func TestGorillaClose(t *testing.T) {
	forEachReadSize(t, wstest.Config{}, func(t *testing.T, s *wstest.Server) {
		c := gorillaDial(t, s, nil, nil)
		if err := c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")); err != nil {
			t.Fatal(err)
		}
		_, _, err := c.ReadMessage()
		if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Fatalf("read after close: %v", err)
		}
		if e := nextEnd(t, s); !e.ByPeer || e.Code != ws.CloseNormal {
			t.Fatalf("end %+v", e)
		}

		c = gorillaDial(t, s, nil, nil)
		waitConns(t, s, 1)
		s.CloseAll(ws.CloseGoingAway, "server shutting down")
		_, _, err = c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || ce.Text != "server shutting down" {
			t.Fatalf("read: %v", err)
		}
	})
}

// TestGorillaViolations: what gorilla lets a client send that the server
// must refuse, with the right close code seen by the client.
func TestGorillaViolations(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  int
		msg  string
		code int
	}{
		{"text not UTF-8", websocket.TextMessage, "bad \xc0\x80", websocket.CloseInvalidFramePayloadData},
		{"message past the bound", websocket.BinaryMessage, strings.Repeat("x", 1025), websocket.CloseMessageTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachReadSize(t, wstest.Config{MaxMessage: 1024}, func(t *testing.T, s *wstest.Server) {
				c := gorillaDial(t, s, &websocket.Dialer{WriteBufferSize: 100, HandshakeTimeout: 10 * time.Second}, nil)
				if err := c.WriteMessage(tc.typ, []byte(tc.msg)); err != nil {
					t.Fatal(err)
				}
				_, _, err := c.ReadMessage()
				if !websocket.IsCloseError(err, tc.code) {
					t.Fatalf("read: %v, want close %d", err, tc.code)
				}
				if e := nextEnd(t, s); int(e.Code) != tc.code || e.Err == nil {
					t.Fatalf("end %+v", e)
				}
			})
		})
	}
}

func TestGorillaHandshakeRefused(t *testing.T) {
	forEachReadSize(t, wstest.Config{}, func(t *testing.T, s *wstest.Server) {
		for _, tc := range []struct {
			path   string
			header http.Header
			status int
		}{
			{"/ws", http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden},
			{"/chat", nil, http.StatusNotFound},
		} {
			d := &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
			_, resp, err := d.Dial("ws://"+s.Addr+tc.path, tc.header)
			if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("%s: err %v, response %v; want %d", tc.path, err, resp, tc.status)
			}
			if e := nextEnd(t, s); e.Status != tc.status {
				t.Fatalf("%s: end %+v", tc.path, e)
			}
		}
		// The same host is allowed by default.
		gorillaDial(t, s, nil, http.Header{"Origin": {"http://" + s.Addr}})
	})
}

func coderDial(t *testing.T, s *wstest.Server) (*coder.Conn, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	c, _, err := coder.Dial(ctx, "ws://"+s.Addr+"/ws", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c, ctx
}

func TestCoderMessages(t *testing.T) {
	forEachReadSize(t, wstest.Config{FirstID: 1 << 62}, func(t *testing.T, s *wstest.Server) {
		a, ctx := coderDial(t, s)
		waitConns(t, s, 1)
		b, _ := coderDial(t, s)
		waitConns(t, s, 2)
		if err := a.Write(ctx, coder.MessageText, []byte("one\ntwo")); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"one", "two"} {
			typ, msg, err := b.Read(ctx)
			if err != nil || typ != coder.MessageText || string(msg) != "4611686018427387904:"+want {
				t.Fatalf("b got %v %q %v", typ, msg, err)
			}
		}
		// A streamed message: coder sends each Write as a frame.
		w, err := b.Writer(ctx, coder.MessageBinary)
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range []string{"frag", "men", "", "ted\r\n"} {
			if _, err := w.Write([]byte(part)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if typ, msg, err := a.Read(ctx); err != nil || typ != coder.MessageText || string(msg) != "4611686018427387905:fragmented" {
			t.Fatalf("a got %v %q %v", typ, msg, err)
		}
	})
}

func TestCoderPingClose(t *testing.T) {
	forEachReadSize(t, wstest.Config{}, func(t *testing.T, s *wstest.Server) {
		c, ctx := coderDial(t, s)
		readCtx := c.CloseRead(ctx) // reads (and answers control frames) in the background
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("ping: %v", err)
		}
		if err := c.Close(coder.StatusNormalClosure, "done"); err != nil {
			t.Fatalf("close handshake: %v", err)
		}
		<-readCtx.Done()
		if e := nextEnd(t, s); !e.ByPeer || e.Code != ws.CloseNormal {
			t.Fatalf("end %+v", e)
		}
	})
}
