package server

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// Connections to a PROXY listener (--proxy-protocol) begin in a waiting
// state: counted against --max-conns but not yet against
// --max-conns-per-ip, not joined to the fan-out (they receive nothing and
// send nothing), and listed in their loop's pending set. Their first bytes
// stay in gnet's inbound buffer until a whole header is there (at most
// maxProxyHeader bytes); then exactly the header is discarded, the
// client's address replaces the socket's, the per-IP slot is taken for
// that address and the connection joins. Whatever followed the header in
// the same read is relayed as usual. One goroutine (sweepHeaders) closes
// the connections whose header is late, with a task on each loop that has
// any: no timer per connection.

// listenerKind says which listeners expect a PROXY header.
type listenerKind uint8

const (
	allDirect listenerKind = iota // no --proxy-protocol
	allProxy                      // --proxy-protocol, no --direct-addr
	mixed                         // both: look the listener up per connection
)

// expectsHeader reports whether c came in through a PROXY listener: the
// acceptor hands each connection over with its listener as the gnet
// context. Runs on c's loop, from OnOpen, before the context is replaced.
func (s *Server) expectsHeader(c gnet.Conn) bool {
	if a, ok := c.Context().(*admission); ok {
		return a.listener.spec.proxy
	}
	// Unknown: demanding the header is the safe side, since a header
	// claiming any address is only ever trusted on a PROXY listener.
	return s.kind != allDirect
}

// trustedProxy reports whether a connection from ip may send a header:
// --proxy-from is empty, ip is in it, or the peer is on a unix socket.
func (s *Server) trustedProxy(ip netip.Addr) bool {
	if len(s.proxyFrom) == 0 || !ip.IsValid() {
		return true
	}
	return slices.ContainsFunc(s.proxyFrom, func(p netip.Prefix) bool { return p.Contains(ip) })
}

// awaitHeader parks a new connection to a PROXY listener until its header
// arrives. Runs on cl's loop, from OnOpen.
func (s *Server) awaitHeader(cl *client) {
	cl.awaiting = true
	cl.headerBy = cl.opened + int64(s.cfg.ProxyHeaderTimeout)
	cl.loop.pending[cl] = struct{}{}
	cl.loop.pendingCount.Add(1)
}

// stopAwaiting takes cl out of its loop's pending set. Runs on cl's loop.
func (cl *client) stopAwaiting() {
	if !cl.awaiting {
		return
	}
	cl.awaiting = false
	delete(cl.loop.pending, cl)
	cl.loop.pendingCount.Add(-1)
}

// readProxyHeader looks for cl's header at the start of its inbound
// buffer. While only part of it has arrived it leaves the bytes where they
// are; once the header is whole it discards exactly the header and admits
// cl under the address the header carries. Runs on cl's loop.
func (h *handler) readProxyHeader(cl *client) gnet.Action {
	buf, _ := cl.conn.Peek(-1)
	src, n, err := parseProxyHeader(buf)
	if errors.Is(err, errProxyHeaderIncomplete) {
		return gnet.None
	}
	if err != nil {
		h.s.limitedLog(logProxy, slog.LevelWarn, "bad PROXY header", "remote", cl.addr, "reason", ReasonProxyHeader.String(),
			"buffered", len(buf), "err", err)
		cl.stopAwaiting()
		return h.reject(cl, ReasonProxyHeader, msgProxyHeader)
	}
	// n > 0 here: Discard(0) would drop everything, the lines after it too.
	_, _ = cl.conn.Discard(n)
	cl.bytesIn += uint64(n)
	cl.loop.bytesIn.Add(uint64(n))
	cl.stopAwaiting()
	if src != nil {
		cl.via = cl.addr
		cl.addr = sanitize(addrString(src))
	}
	ip := sourceIP(src)
	if src == nil {
		ip = sourceIP(cl.conn.RemoteAddr())
	}
	if !h.s.perIP.acquire(ip) {
		h.s.limitedLog(logRefused, slog.LevelWarn, "connection refused", "remote", cl.addr, "via", cl.via, "reason", ReasonTooManyConns.String(),
			"max_conns_per_ip", h.s.cfg.MaxConnsPerIP)
		return h.reject(cl, ReasonTooManyConns, msgTooMany)
	}
	cl.ip = ip
	h.s.admitted(cl)
	if cl.ws != nil {
		return h.consumeWS(cl) // the request may have come with the header
	}
	return gnet.None
}

// headerSweepPeriod is how often sweepHeaders looks for late headers: a
// quarter of the timeout, so none is closed later than 1.25 times it
// (Validate keeps the timeout at 10ms or more: a sweep every 2.5ms at most).
func headerSweepPeriod(timeout time.Duration) time.Duration {
	return max(timeout/4, time.Millisecond)
}

// sweepHeaders closes connections whose PROXY header or WebSocket
// handshake is late, until stop closes. It only hands each loop with
// waiting connections a task; the loops do the rest.
func (s *Server) sweepHeaders() {
	period := headerSweepPeriod(s.cfg.ProxyHeaderTimeout)
	switch {
	case len(s.wsAddrs) > 0 && s.kind == allDirect:
		period = headerSweepPeriod(s.cfg.WSHandshakeTimeout)
	case len(s.wsAddrs) > 0:
		period = min(period, headerSweepPeriod(s.cfg.WSHandshakeTimeout))
	case s.kind == allDirect:
		return
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.loopsMu.Lock()
			for loop, ls := range s.loops {
				if ls.pendingCount.Load() == 0 && ls.handshakesN.Load() == 0 {
					continue
				}
				deadline := now.UnixNano()
				task := gnet.RunnableFunc(func(context.Context) error {
					s.closeLateHeaders(ls, deadline)
					s.closeLateHandshakes(ls, deadline)
					return nil
				})
				if err := loop.Execute(context.Background(), task); err != nil && !s.draining.Load() {
					s.log.Warn("header sweep", "err", err)
				}
			}
			s.loopsMu.Unlock()
		}
	}
}

// closeLateHeaders closes the connections of a loop still waiting for
// their header at now. Runs on that loop.
func (s *Server) closeLateHeaders(ls *loopStats, now int64) {
	for cl := range ls.pending {
		if now < cl.headerBy || cl.reason != ReasonNone {
			continue
		}
		buffered := cl.conn.InboundBuffered()
		cl.stopAwaiting()
		cl.reason = ReasonProxyHeader
		s.limitedLog(logProxy, slog.LevelWarn, "no PROXY header in time", "remote", cl.addr, "reason", ReasonProxyHeader.String(),
			"proxy_header_timeout", s.cfg.ProxyHeaderTimeout, "buffered", buffered)
		msg := msgProxyHeader
		if cl.ws != nil {
			msg = wsRespProxy // an HTTP client: an HTTP answer
		}
		_, _ = cl.conn.Write(msg) // gnet writes it before it closes
		if err := cl.conn.Close(); err != nil {
			s.log.Error("closing connection", "remote", cl.addr, "err", err)
		}
	}
}
