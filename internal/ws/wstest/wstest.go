// Package wstest runs a tiny WebSocket broadcast server built on package ws,
// for tests only: it lets real clients (gorilla/websocket, coder/websocket,
// a browser) talk to the codec before the event loops do.
//
// It is blocking, one goroutine per connection, but feeds the codec as an
// event loop would: whatever one read returned is appended to what is
// buffered, the parsers look at all of it, and only what they consumed is
// dropped. Config.ReadSize makes reads as small as one byte, so a real
// client's handshake and frames reach the parsers in pieces.
//
// Like fanout, every line a client sends (by the TCP rules: a message cut
// at '\n', '\r' stripped, empty lines skipped) goes to every other client
// as one message "<senderID>:<line>", and to the test through Lines.
//
// Concurrency: each connection's goroutine owns its buffers and Parser;
// writes to a connection are serialised by its mutex; the connection table
// is guarded by Server.mu. Every goroutine ends by the test's Cleanup.
package wstest

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fanout/fanout/internal/ws"
)

// Config says how the server behaves.
type Config struct {
	Upgrader   ws.Upgrader
	MaxMessage int    // the Parser's bound; 0: 64 KiB
	Page       []byte // the whole HTTP response to GET /; nil: 404
	ReadSize   int    // bytes per read; 0: 4096
	// FirstID is the first connection's ID; the next ones count up from it.
	// 0: 1000.
	FirstID uint64
}

// Line is one line a client sent.
type Line struct {
	From   uint64 // the sender's connection ID
	Text   string
	Binary bool // it came in a binary message
}

// End is how a connection ended.
type End struct {
	ID     uint64        // 0 when the handshake was refused
	Status int           // the HTTP status a refused handshake was answered with
	Code   ws.StatusCode // the close code sent (ours, or the peer's echoed)
	ByPeer bool          // the peer sent the close frame first
	Err    error         // the codec's error that failed the connection, if any
}

// Server is a running test server.
type Server struct {
	Addr string // host:port it listens on

	cfg   Config
	ln    net.Listener
	lines chan Line
	ends  chan End
	pongs chan []byte
	done  chan struct{}
	wg    sync.WaitGroup

	mu      sync.Mutex
	conns   map[uint64]*conn      // open WebSocket connections
	sockets map[net.Conn]struct{} // every accepted socket not yet closed, closed by Cleanup
	nextID  uint64
}

type conn struct {
	id        uint64
	nc        net.Conn
	mu        sync.Mutex  // serialises writes
	closeSent atomic.Bool // our close frame went out: the peer's is the echo
}

// Start listens on 127.0.0.1:0 and serves until the test ends.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.MaxMessage == 0 {
		cfg.MaxMessage = 64 << 10
	}
	if cfg.ReadSize == 0 {
		cfg.ReadSize = 4096
	}
	if cfg.FirstID == 0 {
		cfg.FirstID = 1000
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		Addr:    ln.Addr().String(),
		cfg:     cfg,
		ln:      ln,
		lines:   make(chan Line, 1024),
		ends:    make(chan End, 1024),
		pongs:   make(chan []byte, 64),
		done:    make(chan struct{}),
		conns:   make(map[uint64]*conn),
		sockets: make(map[net.Conn]struct{}),
		nextID:  cfg.FirstID,
	}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

// Lines delivers every line clients send, in order per client.
func (s *Server) Lines() <-chan Line { return s.lines }

// Ends delivers how each connection ended.
func (s *Server) Ends() <-chan End { return s.ends }

// Pongs delivers the payload of every pong a client sends.
func (s *Server) Pongs() <-chan []byte { return s.pongs }

// Conns returns how many WebSocket connections are open.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Broadcast sends line from sender to every client but sender, as fanout
// relays a line (sender may be an ID no client has: a TCP client's).
func (s *Server) Broadcast(sender uint64, line []byte) {
	frame := ws.AppendLine(nil, sender, line)
	for _, c := range s.snapshot() {
		if c.id != sender {
			c.write(frame)
		}
	}
}

// PingAll sends a ping with payload to every client.
func (s *Server) PingAll(payload []byte) {
	frame := ws.AppendPing(nil, payload)
	for _, c := range s.snapshot() {
		c.write(frame)
	}
}

// CloseAll closes every client with code and reason, as a draining server.
func (s *Server) CloseAll(code ws.StatusCode, reason string) {
	frame := ws.AppendClose(nil, code, reason)
	for _, c := range s.snapshot() {
		c.closeSent.Store(true)
		c.write(frame)
	}
}

func (s *Server) snapshot() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		cs = append(cs, c)
	}
	return cs
}

func (c *conn) write(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.nc.Write(b) // a failed write shows as the read side ending
}

func (s *Server) close() {
	close(s.done)
	_ = s.ln.Close()
	s.mu.Lock()
	for nc := range s.sockets {
		_ = nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return // the listener was closed by Cleanup
		}
		s.wg.Add(1)
		go s.serve(nc)
	}
}

func (s *Server) report(e End) {
	select {
	case s.ends <- e:
	case <-s.done:
	}
}

// serve runs one connection: the handshake, then frames.
func (s *Server) serve(nc net.Conn) {
	defer s.wg.Done()
	s.mu.Lock()
	if isDone(s.done) {
		s.mu.Unlock()
		_ = nc.Close()
		return
	}
	s.sockets[nc] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sockets, nc)
		s.mu.Unlock()
		_ = nc.Close()
	}()

	in := &input{nc: nc, chunk: make([]byte, s.cfg.ReadSize)}
	var st ws.HandshakeState
	var req ws.Request
	for {
		r, n, err := s.cfg.Upgrader.Parse(in.buf, &st)
		var he *ws.HTTPError
		if errors.As(err, &he) {
			_, _ = nc.Write(ws.AppendErrorResponse(nil, he))
			s.report(End{Status: he.Status, Err: err})
			lingerClose(nc)
			return
		}
		if n > 0 {
			req = r
			in.discard(n)
			break
		}
		if in.read() != nil {
			return
		}
	}
	if req.Target == ws.TargetPage {
		if s.cfg.Page == nil {
			_, _ = nc.Write(ws.AppendErrorResponse(nil, ws.ErrNotFound))
		} else {
			_, _ = nc.Write(s.cfg.Page)
		}
		lingerClose(nc)
		return
	}

	c := &conn{nc: nc}
	s.mu.Lock()
	c.id = s.nextID
	s.nextID++
	s.conns[c.id] = c
	s.mu.Unlock()
	defer s.drop(c)
	c.write(ws.AppendUpgradeResponse(nil, &req))

	p := ws.NewParser(s.cfg.MaxMessage)
	defer p.Release()
	for {
		for {
			m, n, err := p.Next(in.buf)
			var ce *ws.CloseError
			if errors.As(err, &ce) {
				c.write(ws.AppendClose(nil, ce.Code, ce.Reason))
				s.drop(c)
				s.report(End{ID: c.id, Code: ce.Code, Err: err})
				lingerClose(nc)
				return
			}
			if n == 0 {
				break
			}
			if end, ok := s.handle(c, m); ok {
				s.drop(c)
				s.report(end)
				lingerClose(nc)
				return
			}
			in.discard(n)
		}
		if in.read() != nil {
			s.report(End{ID: c.id})
			return
		}
	}
}

// drop takes c out of the table of open connections: it gets no more
// broadcasts, and Conns no longer counts it.
func (s *Server) drop(c *conn) {
	s.mu.Lock()
	delete(s.conns, c.id)
	s.mu.Unlock()
}

// handle acts on one message; ok reports that the connection is done.
func (s *Server) handle(c *conn, m ws.Message) (end End, ok bool) {
	switch m.Op {
	case ws.OpText, ws.OpBinary:
		for line, rest, more := ws.NextLine(m.Payload); more; line, rest, more = ws.NextLine(rest) {
			frame := ws.AppendLine(nil, c.id, line)
			for _, other := range s.snapshot() {
				if other != c {
					other.write(frame)
				}
			}
			select {
			case s.lines <- Line{From: c.id, Text: string(line), Binary: m.Op == ws.OpBinary}:
			case <-s.done:
			}
		}
	case ws.OpPing:
		c.write(ws.AppendPong(nil, m.Payload))
	case ws.OpPong:
		select {
		case s.pongs <- append([]byte(nil), m.Payload...):
		default:
		}
	case ws.OpClose:
		code := m.Code
		if c.closeSent.Load() {
			return End{ID: c.id, Code: code}, true // the echo of ours
		}
		if code == ws.CloseNoStatus {
			code = ws.CloseNormal
		}
		c.write(ws.AppendClose(nil, code, ""))
		return End{ID: c.id, Code: code, ByPeer: true}, true
	}
	return End{}, false
}

// input is a connection's buffered bytes, as gnet keeps them: reads are
// appended, the front is discarded.
type input struct {
	nc    net.Conn
	buf   []byte
	chunk []byte
}

func (in *input) read() error {
	n, err := in.nc.Read(in.chunk)
	in.buf = append(in.buf, in.chunk[:n]...)
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

func (in *input) discard(n int) {
	in.buf = append(in.buf[:0], in.buf[n:]...)
}

// lingerClose ends a connection the way a server should after its last
// answer (an HTTP error or a close frame): it stops writing, then reads and
// drops what the client still sends for a moment, so that closing with
// unread input does not reset the connection and lose the answer on its
// way to the client.
func lingerClose(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	_ = nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _ = io.Copy(io.Discard, nc)
	_ = nc.Close()
}

func isDone(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}
