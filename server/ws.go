package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/fanout/fanout/internal/ws"
	"github.com/fanout/fanout/server/web"
	"github.com/fanout/fanout/shard"
)

// The WebSocket listener (--ws-addr). Its connections are accepted and
// handed to the event loops like any other (accept.go) and run on the same
// loops, through the same handler: after the PROXY header, when the
// listener expects one, a connection reads an HTTP request (ws.Upgrader,
// bounded by --ws-max-header and --ws-handshake-timeout) without joining
// the fan-out; GET / is answered with the page and closed, GET /ws with
// 101, after which the connection joins the fan-out as a WebSocket member
// (shard.WebSocket: it reads the batches' WebSocket encoding) and its
// frames are read with a ws.Parser. Each message is cut into lines by the
// TCP rules and every line goes through the same checks as a TCP line
// (--max-line, flood control), so the two protocols share one domain, one
// ID space and one set of limits. Control frames the server sends (pong,
// ping) go through shard.Member.SendControl, between two frames of the
// stream; a close frame the server ends a connection with is written only
// when the stream is between two frames (shard.Member.AtFrameBoundary),
// else the connection is closed without one.
//
// Connections in the handshake sit in their loop's handshakes set; the
// header sweeper (proxy.go) closes the late ones. The pinger (one
// goroutine) visits the members every --ws-ping/4 through shard.Fanout.Each
// and pings those silent for --ws-ping; one that stays silent as long
// again is closed (reason ws_no_pong).

// wsState is where a WebSocket connection is.
type wsState uint8

const (
	wsHandshake wsState = iota // reading the HTTP request; not joined
	wsOpen                     // upgraded and joined: frames
	wsDone                     // a close frame was sent or the connection is closing: nothing more is answered
)

// wsConn is a WebSocket client's protocol state (nil for a line client):
// 64 bytes, one size class. The handshake's deadline is the client's
// headerBy, free once the PROXY header (if any) is read. Owned by the
// client's event loop.
type wsConn struct {
	parser ws.Parser         // the client's frames, after the upgrade
	hs     ws.HandshakeState // how far the request was searched
	state  wsState
	heard  int64 // Unix nanos of the last frame read (the pinger's clock)
	pinged int64 // Unix nanos of the ping not yet answered; 0: none
}

// proto names a client's protocol for logs, /connz and metrics.
func (cl *client) proto() string {
	if cl.ws != nil {
		return shard.WebSocket.String()
	}
	return shard.TCPLines.String()
}

// wsMaxMessage is the longest message a client may send: one line of
// --max-line and its "\r\n" (ws.NextLine).
func wsMaxMessage(maxLine int) int { return maxLine + 2 }

// newWSClient makes cl a WebSocket client. Runs on cl's loop (OnOpen).
func (s *Server) newWSClient(cl *client) {
	cl.ws = &wsConn{parser: ws.NewParser(wsMaxMessage(s.cfg.MaxLine))}
	cl.member = shard.NewWebSocketMember(s.ids.Generate().Int64(), cl)
	s.openWS.Add(1)
}

// admitted takes a client whose PROXY header (if any) is done to its next
// step: a line client joins, a WebSocket client waits for its request.
// Runs on cl's loop.
func (s *Server) admitted(cl *client) {
	if cl.ws == nil {
		s.join(cl)
		return
	}
	cl.headerBy = time.Now().Add(s.cfg.WSHandshakeTimeout).UnixNano() // the PROXY header's is past
	cl.loop.handshakes[cl] = struct{}{}
	cl.loop.handshakesN.Add(1)
}

// stopHandshake takes cl out of its loop's handshakes set. Runs on cl's loop.
func (cl *client) stopHandshake() {
	if cl.ws == nil || cl.ws.state != wsHandshake {
		return
	}
	cl.ws.state = wsDone
	if _, ok := cl.loop.handshakes[cl]; ok {
		delete(cl.loop.handshakes, cl)
		cl.loop.handshakesN.Add(-1)
	}
}

// HTTP answers for a WebSocket client refused before its request is read.
var (
	wsRespServerFull = ws.AppendErrorResponse(nil, &ws.HTTPError{Status: 503, Reason: "server full"})
	wsRespTooMany    = ws.AppendErrorResponse(nil, &ws.HTTPError{Status: 429, Reason: "too many connections"})
	wsRespProxy      = ws.AppendErrorResponse(nil, &ws.HTTPError{Status: 400, Reason: "bad proxy header"})
	wsRespTimeout    = ws.AppendErrorResponse(nil, &ws.HTTPError{Status: 408, Reason: "handshake timeout"})
	wsRespDraining   = ws.AppendErrorResponse(nil, &ws.HTTPError{Status: 503, Reason: "shutting down"})
)

// wsRefusal returns what a WebSocket client refused for reason before its
// upgrade is sent instead of the line protocol's msg.
func wsRefusal(reason Reason, msg []byte) []byte {
	switch reason {
	case ReasonServerFull:
		return wsRespServerFull
	case ReasonTooManyConns:
		return wsRespTooMany
	case ReasonProxyHeader:
		return wsRespProxy
	}
	return msg
}

// wsCloseCode is the close code and reason a WebSocket client closed by the
// server for reason is sent.
func wsCloseCode(reason Reason) (ws.StatusCode, string) {
	switch reason {
	case ReasonLineTooLong:
		return ws.CloseMessageTooBig, "line too long"
	case ReasonFlood:
		return ws.ClosePolicyViolation, "flood"
	case ReasonKicked:
		return ws.ClosePolicyViolation, "kicked"
	case ReasonSlowConsumer:
		return ws.ClosePolicyViolation, "slow consumer"
	case ReasonIdle:
		return ws.ClosePolicyViolation, "idle"
	case ReasonWSNoPong:
		return ws.ClosePolicyViolation, "no pong"
	case ReasonShutdown:
		return ws.CloseGoingAway, "going away"
	}
	return ws.CloseInternalError, reason.String()
}

// wsGoodbye sends cl the close frame for code, once, if its stream is
// between two frames (else the connection just closes), and takes it out
// of the fan-out: nothing may follow a close frame. The caller closes the
// connection. Runs on cl's loop.
func (s *Server) wsGoodbye(cl *client, code ws.StatusCode, why string) {
	w := cl.ws
	switch w.state {
	case wsHandshake:
		cl.stopHandshake()
		return
	case wsDone:
		return
	}
	w.state = wsDone
	if cl.member.AtFrameBoundary() {
		var buf [2 + 125]byte
		_, _ = cl.conn.Write(ws.AppendClose(buf[:0], code, why)) // gnet sends it before it closes
	} else {
		s.log.Debug("no close frame: the stream is in the middle of a frame", "id", cl.member.ID, "remote", cl.addr,
			"code", int(code))
	}
	cl.member.Leave()
}

// rejectWS answers a WebSocket client the server closes for reason and
// sets the reason; the caller closes it. Runs on cl's loop.
func (s *Server) rejectWS(cl *client, reason Reason, msg []byte) {
	cl.reason = reason
	if cl.ws.state == wsHandshake || cl.awaiting {
		cl.stopHandshake()
		_, _ = cl.conn.Write(wsRefusal(reason, msg))
		return
	}
	code, why := wsCloseCode(reason)
	s.wsGoodbye(cl, code, why)
}

// readHandshake parses cl's request from what is buffered; it answers and
// closes a refused request or the page's, upgrades the rest, and reads any
// frames that followed the request. Runs on cl's loop.
func (h *handler) readHandshake(cl *client) gnet.Action {
	s, w := h.s, cl.ws
	buf, _ := cl.conn.Peek(-1)
	req, n, err := s.upgrader.Parse(buf, &w.hs)
	var he *ws.HTTPError
	switch {
	case errors.As(err, &he):
		cl.stopHandshake()
		cl.reason = ReasonWSHandshake
		attrs := []any{"remote", cl.addr, "proto", "ws", "reason", ReasonWSHandshake.String(),
			"status", he.Status, "err", he.Reason, "buffered", len(buf)}
		if he == ws.ErrOriginRefused {
			attrs = append(attrs, "origin", sanitize(string(req.Origin)), "host", sanitize(string(req.Host)))
		}
		s.limitedLog(logRefused, slog.LevelWarn, "WebSocket handshake refused", attrs...)
		_, _ = cl.conn.Write(ws.AppendErrorResponse(nil, he))
		return gnet.Close
	case err != nil:
		cl.stopHandshake()
		cl.reason = ReasonWSHandshake
		s.limitedLog(logRefused, slog.LevelWarn, "WebSocket handshake refused", "remote", cl.addr, "proto", "ws", "err", err)
		return gnet.Close
	case n == 0:
		return gnet.None // the head has not ended: the handshake timer bounds the wait
	case req.Target == ws.TargetPage:
		cl.stopHandshake()
		cl.reason = ReasonPageServed
		_, _ = cl.conn.Write(web.Response()) // shared, read-only; gnet copies what the socket does not take
		return gnet.Close
	}
	if s.draining.Load() { // nothing joins once the drain began
		cl.stopHandshake()
		cl.reason = ReasonShutdown
		_, _ = cl.conn.Write(wsRespDraining)
		return gnet.Close
	}
	var resp [256]byte
	_, _ = cl.conn.Write(ws.AppendUpgradeResponse(resp[:0], &req)) // a new socket takes it whole
	_, _ = cl.conn.Discard(n)                                      // n > 0: the head alone
	cl.bytesIn += uint64(n)
	cl.loop.bytesIn.Add(uint64(n))
	cl.stopHandshake()
	w.state = wsOpen
	w.heard = time.Now().UnixNano()
	s.join(cl)
	return h.consumeWS(cl)
}

// consumeWS reads every whole frame buffered for cl and publishes the
// lines of every whole message. Runs on cl's loop.
func (h *handler) consumeWS(cl *client) gnet.Action {
	s, w := h.s, cl.ws
	if w.state == wsHandshake {
		return h.readHandshake(cl)
	}
	buf, _ := cl.conn.Peek(-1)
	draining := s.draining.Load()
	used := 0
	act := gnet.None
	for used < len(buf) {
		m, n, err := w.parser.Next(buf[used:])
		if err != nil {
			act = h.wsProtocolError(cl, err)
			break
		}
		if n == 0 {
			break
		}
		used += n
		if act = h.wsMessage(cl, m, draining); act != gnet.None {
			break
		}
	}
	if used > 0 {
		w.heard, w.pinged = time.Now().UnixNano(), 0 // any frame shows the peer alive
		cl.bytesIn += uint64(used)
		cl.loop.bytesIn.Add(uint64(used))
		_, _ = cl.conn.Discard(used) // never 0: that would drop a partial frame
	}
	return act
}

// wsMessage acts on one frame's worth of what Parser.Next returned.
// Runs on cl's loop.
func (h *handler) wsMessage(cl *client, m ws.Message, draining bool) gnet.Action {
	s, w := h.s, cl.ws
	switch m.Op {
	case ws.OpText, ws.OpBinary:
		if draining || w.state != wsOpen || !cl.relaysInput() {
			return gnet.None
		}
		for line, rest, ok := ws.NextLine(m.Payload); ok; line, rest, ok = ws.NextLine(rest) {
			if len(line) > s.cfg.MaxLine {
				return h.reject(cl, ReasonLineTooLong, msgLineTooLong)
			}
			if act := h.relay(cl, line); act != gnet.None {
				return act
			}
		}
	case ws.OpPing:
		if w.state == wsOpen {
			var buf [2 + 125]byte
			cl.member.SendControl(ws.AppendPong(buf[:0], m.Payload))
		}
	case ws.OpClose:
		// The client ends it: answer with its code (RFC 6455 5.5.1), or
		// 1000 when it gave none, and close.
		code := m.Code
		if code == ws.CloseNoStatus {
			code = ws.CloseNormal
		}
		if cl.reason == ReasonNone {
			cl.reason = ReasonClientQuit
		}
		s.wsGoodbye(cl, code, "")
		return gnet.Close
	}
	return gnet.None // a pong, or a fragment stored
}

// wsProtocolError closes cl for a frame that broke RFC 6455 or the
// message bound, with the close code the parser named. Runs on cl's loop.
func (h *handler) wsProtocolError(cl *client, err error) gnet.Action {
	s := h.s
	var ce *ws.CloseError
	if !errors.As(err, &ce) {
		ce = &ws.CloseError{Code: ws.CloseProtocolError, Reason: err.Error()}
	}
	reason := ReasonWSProtocol
	if ce.Code == ws.CloseMessageTooBig {
		reason = ReasonLineTooLong
	}
	if cl.reason == ReasonNone {
		cl.reason = reason
	}
	s.limitedLog(logClosed, slog.LevelWarn, "WebSocket protocol error", "id", cl.member.ID, "remote", cl.addr,
		"proto", "ws", "reason", reason.String(), "code", int(ce.Code), "err", ce.Reason)
	s.wsGoodbye(cl, ce.Code, ce.Reason)
	return gnet.Close
}

// closeLateHandshakes closes the WebSocket connections of a loop whose
// handshake is not done at now. Runs on that loop.
func (s *Server) closeLateHandshakes(ls *loopStats, now int64) {
	for cl := range ls.handshakes {
		if now < cl.headerBy || cl.reason != ReasonNone {
			continue
		}
		cl.stopHandshake()
		cl.reason = ReasonWSHandshake
		s.limitedLog(logRefused, slog.LevelWarn, "no WebSocket handshake in time", "remote", cl.addr, "proto", "ws",
			"reason", ReasonWSHandshake.String(), "ws_handshake_timeout", s.cfg.WSHandshakeTimeout,
			"buffered", cl.conn.InboundBuffered())
		_, _ = cl.conn.Write(wsRespTimeout)
		if err := cl.conn.Close(); err != nil {
			s.log.Error("closing connection", "remote", cl.addr, "err", err)
		}
	}
}

// pingWS keeps the WebSocket members alive, until stop closes: every
// quarter of --ws-ping it visits them and pings those silent for --ws-ping,
// and closes those silent for --ws-ping since their ping. Runs on its own
// goroutine; the work is done on the loops.
func (s *Server) pingWS() {
	if len(s.wsAddrs) == 0 {
		return
	}
	s.visitMembers("WebSocket ping sweep", s.cfg.WSPing, func() bool { return s.openWS.Load() == 0 }, s.pingMember)
}

// pingMember pings m if it has been silent for --ws-ping, or closes it if
// it has not answered its ping for as long. Runs on m's loop.
func (s *Server) pingMember(m *shard.Member, now int64) {
	cl, ok := m.Value.(*client)
	if !ok || cl.ws == nil || cl.ws.state != wsOpen || cl.reason != ReasonNone || cl.paused {
		return // a held sender is silent because the server stopped reading it
	}
	w, every := cl.ws, int64(s.cfg.WSPing)
	switch {
	case w.pinged == 0 && now-w.heard >= every:
		var buf [2]byte
		if m.SendControl(ws.AppendPing(buf[:0], nil)) {
			w.pinged = now
		}
	case w.pinged != 0 && now-w.pinged >= every:
		cl.reason = ReasonWSNoPong
		s.wsGoodbye(cl, ws.ClosePolicyViolation, "no pong")
		if err := cl.conn.Close(); err != nil {
			s.log.Error("closing connection", "id", m.ID, "err", err)
		}
	}
}

// sayGoingAway sends every WebSocket member the close frame 1001 "going
// away" and closes it, once the drain is over. Runs on Shutdown's goroutine;
// the work is done on the loops.
func (s *Server) sayGoingAway(ctx context.Context) {
	if s.openWS.Load() == 0 {
		return
	}
	err := s.fan.Each(ctx, func(m *shard.Member) {
		cl, ok := m.Value.(*client)
		if !ok || cl.ws == nil || cl.ws.state != wsOpen || cl.reason != ReasonNone {
			return
		}
		cl.reason = ReasonShutdown
		s.wsGoodbye(cl, ws.CloseGoingAway, "going away")
		_ = cl.conn.Close()
	})
	if err != nil {
		s.log.Warn("closing the WebSocket clients", "err", err)
	}
}

// joinAddrs lists addresses for a log line.
func joinAddrs(as []net.Addr) string {
	list := make([]string, len(as))
	for i, a := range as {
		list[i] = a.String()
	}
	return strings.Join(list, ",")
}
