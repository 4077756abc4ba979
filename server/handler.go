package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/fanout/fanout/shard"
)

// client is the server's per-connection state. Owned by its event loop.
type client struct {
	conn   gnet.Conn
	member *shard.Member
	addr   string    // remote address, formatted once for logs
	opened time.Time // when the connection was accepted
	reason Reason    // why the server closed it, when it did
}

// handler implements gnet.EventHandler. Each method runs on the event loop
// of the connection it is called for (OnBoot/OnShutdown on the engine's).
type handler struct {
	gnet.BuiltinEventEngine
	s *Server
}

func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	h.s.eng = eng
	close(h.s.booted)
	return gnet.None
}

func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	s := h.s
	if s.draining.Load() {
		return nil, gnet.Close
	}
	if s.open.Add(1) > int64(s.cfg.MaxConns) {
		s.open.Add(-1)
		s.closed[ReasonServerFull].Add(1)
		s.log.Warn("connection refused", "remote", c.RemoteAddr().String(),
			"reason", ReasonServerFull.String(), "max_conns", s.cfg.MaxConns)
		return msgServerFull, gnet.Close
	}
	s.accepted.Add(1)
	cl := &client{conn: c, addr: c.RemoteAddr().String(), opened: time.Now()}
	cl.member = shard.NewMember(s.ids.Generate().Int64(), c)
	cl.member.Value = cl
	c.SetContext(cl)
	s.fan.Hub(c.EventLoop()).Join(cl.member)
	s.log.Debug("connection opened", "id", cl.member.ID, "remote", cl.addr)
	return nil, gnet.None
}

func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	cl, _ := c.Context().(*client)
	if cl == nil {
		return gnet.Close
	}
	// Peek returns gnet's own buffer (a pooled copy only when the data wraps
	// around its ring): lines are framed in place, and Publish copies each
	// into the outbound batch.
	buf, _ := c.Peek(-1)
	draining := h.s.draining.Load()
	consumed := 0
	for {
		line, n, err := cutLine(buf[consumed:], h.s.cfg.MaxLine)
		if err != nil {
			return h.reject(cl, ReasonLineTooLong, msgLineTooLong)
		}
		if n == 0 {
			break
		}
		consumed += n
		if len(line) > 0 && !draining {
			cl.member.Publish(line)
		}
	}
	// Discard(0) would drop everything buffered, a partial line included.
	if consumed > 0 {
		_, _ = c.Discard(consumed)
	}
	return gnet.None
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
	if len(tail) > 0 && len(tail) <= h.s.cfg.MaxLine {
		cl.member.Publish(tail)
	}
}

// reject sends msg to the client and closes it for reason.
// Runs on the client's loop.
func (h *handler) reject(cl *client, reason Reason, msg []byte) gnet.Action {
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
	if err == nil || errors.Is(err, io.EOF) {
		h.publishTail(cl)
	}
	cl.member.Leave()
	s.open.Add(-1)

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
	case ReasonSlowConsumer, ReasonLineTooLong:
		level = slog.LevelWarn
	case ReasonIOError:
		level = slog.LevelInfo
	}
	if s.log.Enabled(context.Background(), level) {
		attrs := []any{"id", cl.member.ID, "remote", cl.addr, "reason", reason.String(),
			"duration", time.Since(cl.opened).Round(time.Millisecond)}
		if err != nil && reason == ReasonIOError {
			attrs = append(attrs, "err", err)
		}
		s.log.Log(context.Background(), level, "connection closed", attrs...)
	}
	return gnet.None
}

// evict cuts off a slow consumer. Runs on the member's loop (called by
// shard in the middle of a delivery round, so the close is asynchronous).
func (s *Server) evict(m *shard.Member, cause error) {
	cl := m.Value.(*client)
	cl.reason = ReasonSlowConsumer
	s.log.Warn("disconnecting slow consumer", "id", m.ID, "remote", cl.addr,
		"pending_bytes", cl.conn.OutboundBuffered(), "max_pending", s.cfg.MaxPending, "err", cause)
	if err := cl.conn.Close(); err != nil {
		s.log.Error("closing slow consumer", "id", m.ID, "err", err)
	}
}
