package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/fanout/fanout/internal/ws"
	"github.com/fanout/fanout/shard"
)

// client is the server's per-connection state. Owned by its event loop.
type client struct {
	conn     gnet.Conn
	member   *shard.Member
	loop     *loopStats // counters of the client's event loop
	addr     string     // client address, formatted once for logs: the PROXY header's when there was one
	via      string     // the proxy's socket address when a PROXY header named the client; else ""
	ip       netip.Addr // source IP holding a --max-conns-per-ip slot; invalid for unix sockets and before the header
	awaiting bool       // PROXY listener: the header has not arrived; not joined, on loop.pending
	paused   bool       // its socket is not being read: a sender held back while readers catch up
	headerBy int64      // Unix nanos by which the PROXY header must have arrived; then a WebSocket client's request (ws.go)
	opened   int64      // Unix nanos when the connection was accepted (not a time.Time: 16 bytes less, and the client stays in its size class)
	lastRead int64      // Unix nanos of the last bytes received (idle timeout)
	tokens   float64    // flood control: lines the client may still send now
	refilled int64      // flood control: Unix nanos of the last refill
	reason   Reason     // why the server closed it, when it did
	linesIn  uint64     // lines relayed from it (plain: loop-owned; read by /connz on the loop)
	bytesIn  uint64     // bytes consumed from it
	ws       *wsConn    // the WebSocket state of a client of --ws-addr (ws.go); nil for a line client
}

// loopStats are one event loop's counters, written only by that loop, so
// the atomic adds never contend and are summed on scrape; the loop's
// connections waiting for a PROXY header; and the loop's poller, through
// which its senders' sockets are paused.
type loopStats struct {
	index        int // the loop's number, in the order loops first saw a connection
	poller       int // the loop's epoll descriptor (readpause_linux.go); -1: senders cannot be paused here
	bytesIn      atomic.Uint64
	dropped      atomic.Uint64        // lines dropped by flood control
	pending      map[*client]struct{} // waiting for their PROXY header; loop-owned
	pendingCount atomic.Int64         // len(pending), for the header sweeper to skip idle loops
	handshakes   map[*client]struct{} // WebSocket clients in their handshake (ws.go); loop-owned
	handshakesN  atomic.Int64         // len(handshakes), for the sweeper
	_            [32]byte             // keep loops' counters on separate cache lines
}

// handler implements gnet.EventHandler. Each method runs on the event loop
// of the connection it is called for (OnBoot/OnShutdown, the built-in
// no-ops, on the goroutine that starts or stops the loops).
type handler struct {
	gnet.BuiltinEventEngine
	s *Server
}

func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	s := h.s
	remote := addrString(c.RemoteAddr())
	a, _ := c.Context().(*admission)
	isWS := a != nil && a.listener.spec.ws
	refuse := func(reason Reason, msg []byte, limit string, value any) ([]byte, gnet.Action) {
		if isWS {
			msg = wsRefusal(reason, msg)
		}
		return s.refuse(remote, reason, msg, limit, value)
	}
	if a != nil {
		a.opened.Store(true) // the acceptor took its --max-conns slot
	} else if s.open.Add(1) > int64(s.cfg.MaxConns) {
		s.open.Add(-1)
		return refuse(ReasonServerFull, msgServerFull, "max_conns", s.cfg.MaxConns)
	}
	if s.draining.Load() {
		s.open.Add(-1)
		return nil, gnet.Close
	}
	ip := sourceIP(c.RemoteAddr())
	proxied := s.expectsHeader(c)
	switch {
	case proxied && !s.trustedProxy(ip):
		s.open.Add(-1)
		return refuse(ReasonProxyHeader, msgProxyHeader, "proxy_from", s.cfg.ProxyFrom)
	case proxied: // the per-IP slot is taken for the address in the header
	case !s.perIP.acquire(ip):
		s.open.Add(-1)
		return refuse(ReasonTooManyConns, msgTooMany, "max_conns_per_ip", s.cfg.MaxConnsPerIP)
	}
	now := time.Now()
	cl := &client{conn: c, addr: remote, opened: now.UnixNano(), lastRead: now.UnixNano(),
		tokens: s.burst, refilled: now.UnixNano(), loop: s.loopStats(c)}
	if isWS {
		s.newWSClient(cl)
	} else {
		cl.member = shard.NewMember(s.ids.Generate().Int64(), cl)
	}
	cl.member.Value = cl
	c.SetContext(cl)
	if s.cfg.TCPKeepAlive > 0 && ip.IsValid() { // TCP only
		if err := c.SetKeepAlivePeriod(s.cfg.TCPKeepAlive); err != nil {
			s.limitedLog(logAccept, slog.LevelWarn, "cannot set TCP keep-alive", "remote", remote, "err", err)
		}
	}
	if s.cfg.TCPNotsentLowat > 0 && ip.IsValid() { // TCP only
		if err := setNotsentLowat(c.Fd(), s.cfg.TCPNotsentLowat); err != nil {
			s.limitedLog(logAccept, slog.LevelWarn, "cannot cap the socket's unsent bytes", "remote", remote, "err", err)
		}
	}
	if proxied {
		s.awaitHeader(cl)
		return nil, gnet.None
	}
	cl.ip = ip
	s.admitted(cl)
	return nil, gnet.None
}

// join adds an admitted client to the fan-out. Runs on its loop.
func (s *Server) join(cl *client) {
	s.accepted.Add(1)
	s.fan.Hub(cl.conn.EventLoop()).Join(cl.member)
	if cl.via != "" {
		s.log.Debug("connection opened", "id", cl.member.ID, "remote", cl.addr, "proto", cl.proto(), "via", cl.via)
	} else {
		s.log.Debug("connection opened", "id", cl.member.ID, "remote", cl.addr, "proto", cl.proto())
	}
}

// refuse turns a new connection away with msg. Runs on its loop.
func (s *Server) refuse(remote string, reason Reason, msg []byte, limit string, value any) ([]byte, gnet.Action) {
	s.closed[reason].Add(1)
	s.limitedLog(logRefused, slog.LevelWarn, "connection refused", "remote", remote, "reason", reason.String(), limit, value)
	return msg, gnet.Close
}

func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	s := h.s
	cl, _ := c.Context().(*client)
	if cl == nil {
		return gnet.Close
	}
	if cl.reason != ReasonNone {
		// Being closed: gnet's close is queued behind other tasks. What it
		// read meanwhile is relayed if the client was sending lines (it was
		// kicked, cut as a slow reader, idle), never if its input was bad
		// (a late PROXY header is not lines).
		if cl.relaysInput() {
			return h.consume(cl)
		}
		return gnet.None
	}
	if cl.awaiting {
		// Once per connection: the header comes first, and whatever
		// followed it in this read is relayed below like any input.
		if act := h.readProxyHeader(cl); act != gnet.None || cl.awaiting {
			return act
		}
	}
	var now int64
	if s.cfg.IdleTimeout > 0 || s.cfg.RateLimit > 0 {
		now = time.Now().UnixNano() // once per read, not per line
		cl.lastRead = now
		if s.cfg.RateLimit > 0 {
			cl.refill(now, s.cfg.RateLimit, s.burst)
		}
	}
	act := h.consume(cl) // what was read is relayed, whatever follows
	if act == gnet.None && s.fan.Congested() && !s.draining.Load() {
		s.hold(cl)
	}
	return act
}

// hold stops reading cl's socket while readers catch up (back-pressure):
// what it sends next waits in the kernel, TCP's window closes, and the
// sender's writes slow down. The fan-out resumes it (resume) once the
// congestion lifts. Runs on the client's loop.
func (s *Server) hold(cl *client) {
	if cl.loop.poller < 0 || cl.paused {
		return // this loop cannot pause sockets; the fan-out cuts laggards instead
	}
	if err := pauseReading(cl.loop.poller, cl.conn); err != nil {
		s.log.Error("cannot stop reading a sender; its lines are relayed as they come", "id", cl.member.ID,
			"remote", cl.addr, "err", err)
		return
	}
	cl.paused = true
	cl.member.Hold() // resumes at once if the congestion lifted meanwhile
}

// consume frames and publishes every whole line buffered for cl.
// Runs on the client's loop.
func (h *handler) consume(cl *client) gnet.Action {
	if cl.ws != nil {
		return h.consumeWS(cl)
	}
	s, c := h.s, cl.conn
	// Peek returns gnet's own buffer (a pooled copy only when the data wraps
	// around its ring): lines are framed in place, and Publish copies each
	// into the outbound batch.
	buf, _ := c.Peek(-1)
	draining := s.draining.Load()
	consumed := 0
	for {
		line, n, err := cutLine(buf[consumed:], s.cfg.MaxLine)
		if err != nil {
			return h.reject(cl, ReasonLineTooLong, msgLineTooLong)
		}
		if n == 0 {
			break
		}
		consumed += n
		if len(line) == 0 || draining {
			continue
		}
		if act := h.relay(cl, line); act != gnet.None {
			return act
		}
	}
	// Discard(0) would drop everything buffered, a partial line included.
	if consumed > 0 {
		cl.bytesIn += uint64(consumed)
		cl.loop.bytesIn.Add(uint64(consumed))
		_, _ = c.Discard(consumed)
	}
	return gnet.None
}

// relay publishes one line cl sent, TCP or WebSocket alike, spending a
// flood-control token when flood control is on; with none left the line
// is dropped, or cl is closed (--flood close). Runs on the client's loop.
func (h *handler) relay(cl *client, line []byte) gnet.Action {
	if !cl.takeToken(h.s) {
		if h.s.cfg.Flood == FloodClose {
			return h.reject(cl, ReasonFlood, msgFlood)
		}
		cl.loop.dropped.Add(1)
		return gnet.None
	}
	cl.member.Publish(line)
	cl.linesIn++
	return gnet.None
}

// takeToken spends one of cl's flood-control tokens, if flood control is
// on; false when there is none left. Runs on cl's loop.
func (cl *client) takeToken(s *Server) bool {
	if s.cfg.RateLimit <= 0 {
		return true
	}
	if cl.tokens < 1 {
		return false
	}
	cl.tokens--
	return true
}

// relaysInput reports whether what cl sent is still relayed: it is open,
// or the server is closing it for something other than bad input.
func (cl *client) relaysInput() bool {
	switch cl.reason {
	case ReasonNone, ReasonKicked, ReasonSlowConsumer, ReasonIdle, ReasonIOError:
		return !cl.awaiting
	}
	return false
}

// The client is its member's shard.Sink: the fan-out writes to its socket
// directly (no per-connection buffer) and watches it for room. These run
// on the client's loop.

func (cl *client) Writev(bs [][]byte) (int, error) { return shard.WriteConn(cl.conn, bs) }
func (cl *client) Fd() int                         { return cl.conn.Fd() }
func (cl *client) Unsent() int                     { return shard.UnsentConn(cl.conn) }

// refill adds the tokens earned since the last refill, up to burst.
func (cl *client) refill(now int64, rate, burst float64) {
	cl.tokens = min(cl.tokens+float64(now-cl.refilled)*rate/1e9, burst)
	cl.refilled = now
}

// publishTail relays a final line that the client ended with EOF instead of
// a newline, as a line-oriented reader (bufio.Scanner) would.
// Runs on the client's loop.
func (h *handler) publishTail(cl *client) {
	if h.s.draining.Load() || cl.reason != ReasonNone {
		return
	}
	tail, _ := cl.conn.Peek(-1)
	if len(tail) > 0 && tail[len(tail)-1] == '\r' {
		tail = tail[:len(tail)-1]
	}
	if len(tail) > 0 && len(tail) <= h.s.cfg.MaxLine && (h.s.cfg.RateLimit == 0 || cl.tokens >= 1) {
		cl.loop.bytesIn.Add(uint64(len(tail)))
		cl.member.Publish(tail)
		cl.linesIn++
		cl.bytesIn += uint64(len(tail))
	}
}

// reject sends msg to the client and closes it for reason.
// Runs on the client's loop.
func (h *handler) reject(cl *client, reason Reason, msg []byte) gnet.Action {
	if cl.ws != nil {
		h.s.rejectWS(cl, reason, msg)
		return gnet.Close
	}
	cl.reason = reason
	_, _ = cl.conn.Write(msg) // gnet flushes it before closing
	return gnet.Close
}

func (h *handler) OnClose(c gnet.Conn, err error) gnet.Action {
	s := h.s
	cl, _ := c.Context().(*client)
	if cl == nil {
		return gnet.None // refused in OnOpen
	}
	c.SetContext(nil)
	if cl.paused && (err == nil || errors.Is(err, io.EOF)) {
		// A socket whose reads are paused reports no end of input (gnet is
		// not asking for it); gnet closes it with io.EOF only on a hang-up
		// or an error, that is, a reset: its last line without a newline
		// is not relayed as if it had closed cleanly.
		err = hangUpError(c)
	}
	if cl.awaiting {
		// It left before its header was whole: a clean quit if it sent
		// nothing, a bad header if it sent part of one.
		if cl.reason == ReasonNone && c.InboundBuffered() > 0 && !s.stopping.Load() {
			cl.reason = ReasonProxyHeader
		}
		cl.stopAwaiting()
		cl.stopHandshake()
	} else if cl.stopHandshake(); cl.relaysInput() {
		// Whole lines still buffered go out like any other, however the
		// client left; a last line without its newline only if it closed
		// cleanly on its own.
		if h.consume(cl) == gnet.None && cl.ws == nil && cl.reason == ReasonNone && (err == nil || errors.Is(err, io.EOF)) {
			h.publishTail(cl)
		}
	}
	cl.member.Leave()
	s.perIP.release(cl.ip)
	s.open.Add(-1)
	if cl.ws != nil {
		s.openWS.Add(-1)
	}

	reason := cl.reason
	switch {
	case reason != ReasonNone:
	case s.stopping.Load():
		reason = ReasonShutdown
	case err == nil || errors.Is(err, io.EOF):
		reason = ReasonClientQuit
	default:
		reason = ReasonIOError
	}
	s.closed[reason].Add(1)

	level := slog.LevelDebug
	switch reason {
	case ReasonSlowConsumer, ReasonLineTooLong, ReasonFlood, ReasonKicked, ReasonProxyHeader:
		level = slog.LevelWarn
	case ReasonIOError, ReasonIdle, ReasonWSNoPong:
		level = slog.LevelInfo
	}
	if s.log.Enabled(context.Background(), level) {
		attrs := []any{"id", cl.member.ID, "remote", cl.addr, "proto", cl.proto(), "reason", reason.String(),
			"duration", time.Duration(time.Now().UnixNano() - cl.opened).Round(time.Millisecond)}
		if cl.via != "" {
			attrs = append(attrs, "via", cl.via)
		}
		if err != nil && reason == ReasonIOError {
			attrs = append(attrs, "err", err)
		}
		switch {
		case level == slog.LevelDebug: // every close, when the operator asked for them
			s.log.Log(context.Background(), level, "connection closed", attrs...)
		case reason == ReasonProxyHeader:
			s.limitedLog(logProxy, level, "connection closed", attrs...)
		case reason == ReasonSlowConsumer:
			s.limitedLog(logSlow, level, "connection closed", attrs...)
		default: // a peer can cause these at will: rate-limited
			s.limitedLog(logClosed, level, "connection closed", attrs...)
		}
	}
	return gnet.None
}

// evict closes a client the fan-out stopped writing to: a slow consumer
// (shard.ErrSlowConsumer, shard.ErrTooFarBehind) or a socket that refused
// a write. Runs on the member's loop, in the middle of a delivery round,
// so the close is asynchronous.
func (s *Server) evict(m *shard.Member, cause error) {
	cl := m.Value.(*client)
	if cl.reason != ReasonNone {
		return // already being closed
	}
	if errors.Is(cause, shard.ErrWriteFailed) {
		cl.reason = ReasonIOError
		s.log.Debug("write failed", "id", m.ID, "remote", cl.addr, "err", cause)
	} else {
		cl.reason = ReasonSlowConsumer
		s.limitedLog(logSlow, slog.LevelWarn, "disconnecting slow consumer", "id", m.ID, "remote", cl.addr, "err", cause,
			"write_deadline", s.cfg.WriteDeadline, "max_lag", s.cfg.MaxLag)
		// Reset rather than close gracefully: what its full socket still
		// holds would otherwise linger in kernel memory until the peer
		// reads it, which it does not.
		if err := cl.conn.SetLinger(0); err != nil {
			s.log.Debug("setting linger on a slow consumer", "id", m.ID, "err", err)
		}
	}
	if err := cl.conn.Close(); err != nil {
		s.log.Error("closing connection", "id", m.ID, "err", err)
	}
}

// resume reads a held sender's socket again once back-pressure lifts;
// what waited in the kernel is read at the loop's next poll.
// Runs on the member's loop.
func (s *Server) resume(m *shard.Member) {
	cl := m.Value.(*client)
	if !cl.paused {
		return
	}
	cl.paused = false
	cl.lastRead = time.Now().UnixNano() // held is not idle: the idle timeout counts from here
	if cl.ws != nil {
		cl.ws.heard, cl.ws.pinged = cl.lastRead, 0 // nor is it silent: the pinger counts from here
	}
	if err := resumeReading(cl.loop.poller, cl.conn); err != nil {
		// Left paused it would never be read again: close it.
		s.log.Error("cannot read a held sender again; closing it", "id", m.ID, "remote", cl.addr, "err", err)
		if cl.reason == ReasonNone {
			cl.reason = ReasonIOError
		}
		_ = cl.conn.Close()
	}
}

// closeIfIdle closes m's connection when it has sent nothing for the idle
// timeout. Runs on the member's loop.
func (s *Server) closeIfIdle(m *shard.Member, now int64) {
	cl := m.Value.(*client)
	if cl.reason != ReasonNone || cl.paused || now-cl.lastRead < int64(s.cfg.IdleTimeout) {
		return // a held sender is silent because the server stopped reading it
	}
	cl.reason = ReasonIdle
	if cl.ws != nil {
		s.wsGoodbye(cl, ws.ClosePolicyViolation, "idle")
	}
	if err := cl.conn.Close(); err != nil {
		s.log.Error("closing idle connection", "id", m.ID, "err", err)
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return "unknown"
	}
	if s := a.String(); s != "" {
		return s
	}
	return a.Network()
}

// sourceIP is the remote IP of a TCP connection; invalid for anything else.
func sourceIP(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(t.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}
