package server

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fanout/fanout/shard"
)

// The control plane on the --metrics-addr listener, after NATS's /connz
// and /varz: what every connection is doing, one connection by ID (found
// through the sharded registry), kicking one (with the admin token), and a
// summary of the server. Per-connection figures are plain fields of the
// connection's loop; the handlers read them with a task on each loop,
// bounded by controlTimeout, never with a lock on the per-line path.

// Paging limits of GET /connz.
const (
	defaultConnzLimit = 256
	maxConnzLimit     = 4096
	controlTimeout    = 2 * time.Second
)

// Version is the build's version, shown by /varz; main sets it.
var Version = "devel"

// connInfo is one connection in /connz.
type connInfo struct {
	ID           int64     `json:"id"`
	Remote       string    `json:"remote"`        // the client's address: from its PROXY header when it came through a proxy
	Via          string    `json:"via,omitempty"` // the proxy's address, when a PROXY header named the client
	Loop         int       `json:"loop"`
	Since        time.Time `json:"since"`
	LinesIn      uint64    `json:"lines_in"`
	BytesIn      uint64    `json:"bytes_in"`
	BytesOut     uint64    `json:"bytes_out"`
	PendingBytes int64     `json:"pending_bytes"` // how far behind the head of its loop's log it is
}

// info reads cl's figures. Runs on cl's loop.
func (cl *client) info() connInfo {
	return connInfo{ID: cl.member.ID, Remote: cl.addr, Via: cl.via, Loop: cl.loop.index, Since: cl.opened.UTC(),
		LinesIn: cl.linesIn, BytesIn: cl.bytesIn, BytesOut: cl.member.BytesOut(), PendingBytes: cl.member.Lag()}
}

// connzSorts are the sort keys of GET /connz; counters sort descending.
var connzSorts = map[string]func(a, b connInfo) int{
	"id":        func(a, b connInfo) int { return cmp.Compare(a.ID, b.ID) },
	"since":     func(a, b connInfo) int { return a.Since.Compare(b.Since) },
	"lines_in":  func(a, b connInfo) int { return cmp.Compare(b.LinesIn, a.LinesIn) },
	"bytes_in":  func(a, b connInfo) int { return cmp.Compare(b.BytesIn, a.BytesIn) },
	"bytes_out": func(a, b connInfo) int { return cmp.Compare(b.BytesOut, a.BytesOut) },
	"pending":   func(a, b connInfo) int { return cmp.Compare(b.PendingBytes, a.PendingBytes) },
}

// routes adds the control endpoints to the metrics listener's mux.
func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /connz", s.handleConnz)
	mux.HandleFunc("GET /connz/{id}", s.handleConn)
	mux.HandleFunc("DELETE /connz/{id}", s.handleKick)
	mux.HandleFunc("GET /varz", s.handleVarz)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client may have gone; nothing to do about it
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

// intParam reads a non-negative integer query parameter.
func intParam(r *http.Request, name string, def, max int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > max {
		return 0, fmt.Errorf("%s must be an integer 0..%d, got %q", name, max, v)
	}
	return n, nil
}

func (s *Server) handleConnz(w http.ResponseWriter, r *http.Request) {
	offset, err := intParam(r, "offset", 0, 1<<30)
	if err == nil {
		var limit int
		limit, err = intParam(r, "limit", defaultConnzLimit, maxConnzLimit)
		if err == nil {
			s.serveConnz(w, r, offset, limit)
			return
		}
	}
	writeError(w, http.StatusBadRequest, "%v", err)
}

func (s *Server) serveConnz(w http.ResponseWriter, r *http.Request, offset, limit int) {
	sortBy := r.URL.Query().Get("sort")
	if sortBy == "" {
		sortBy = "id"
	}
	order, ok := connzSorts[sortBy]
	if !ok {
		writeError(w, http.StatusBadRequest, "sort must be one of id, since, lines_in, bytes_in, bytes_out, pending; got %q", sortBy)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), controlTimeout)
	defer cancel()
	var (
		mu    sync.Mutex
		conns []connInfo
		late  bool // set when the handler has stopped listening
	)
	err := s.fan.Each(ctx, func(m *shard.Member) {
		if cl, ok := m.Value.(*client); ok && cl.reason == ReasonNone {
			info := cl.info()
			mu.Lock()
			if !late {
				conns = append(conns, info)
			}
			mu.Unlock()
		}
	})
	mu.Lock()
	late = true
	mu.Unlock()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "gathering connections: %v", err)
		return
	}
	slices.SortFunc(conns, func(a, b connInfo) int {
		return cmp.Or(order(a, b), cmp.Compare(a.ID, b.ID))
	})
	total := len(conns)
	page := conns[min(offset, total):min(offset+limit, total)]
	writeJSON(w, http.StatusOK, map[string]any{
		"now": time.Now().UTC(), "total": total, "offset": offset, "limit": limit, "sort": sortBy, "connections": page,
	})
}

// pathID reads {id}: a snowflake ID, positive.
func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "%q is not a connection ID (a positive decimal snowflake ID)", r.PathValue("id"))
		return 0, false
	}
	return id, true
}

func (s *Server) handleConn(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), controlTimeout)
	defer cancel()
	got := make(chan connInfo, 1)
	found, err := s.fan.Visit(ctx, id, func(m *shard.Member) {
		if cl, ok := m.Value.(*client); ok {
			got <- cl.info()
		}
	})
	switch {
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "%v", err)
	case !found || len(got) == 0:
		writeError(w, http.StatusNotFound, "no connection %d", id)
	default:
		writeJSON(w, http.StatusOK, <-got)
	}
}

// authorized checks the admin bearer token in constant time, answering 403
// (mutations disabled) or 401 (wrong or missing token) itself.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.adminToken == "" {
		writeError(w, http.StatusForbidden, "mutating endpoints are disabled: start the server with --admin-token-file, FANOUT_ADMIN_TOKEN or --admin-token")
		return false
	}
	given, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(given), []byte(s.adminToken)) != 1 {
		s.log.Warn("control request refused: bad or missing admin token", "method", r.Method, "path", r.URL.Path, "from", r.RemoteAddr)
		writeError(w, http.StatusUnauthorized, "missing or wrong token: send Authorization: Bearer <admin token>")
		return false
	}
	return true
}

// kick closes cl with "ERR kicked" on an operator's request. Runs on
// cl's loop.
func (s *Server) kick(cl *client, by, why string) {
	if cl.reason != ReasonNone {
		return // already being closed
	}
	cl.reason = ReasonKicked
	s.log.Warn("kicking connection", "id", cl.member.ID, "remote", cl.addr, "by", by, "why", why)
	_, _ = cl.conn.Write(msgKicked) // gnet writes it before it closes
	if err := cl.conn.Close(); err != nil {
		s.log.Error("closing kicked connection", "id", cl.member.ID, "err", err)
	}
}

func (s *Server) handleKick(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok || !s.authorized(w, r) {
		return
	}
	why := r.URL.Query().Get("reason")
	ctx, cancel := context.WithTimeout(r.Context(), controlTimeout)
	defer cancel()
	found, err := s.fan.Visit(ctx, id, func(m *shard.Member) {
		if cl, ok := m.Value.(*client); ok {
			s.kick(cl, r.RemoteAddr, why)
		}
	})
	switch {
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "%v", err)
	case !found:
		writeError(w, http.StatusNotFound, "no connection %d", id)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"kicked": id})
	}
}

func (s *Server) handleVarz(w http.ResponseWriter, _ *http.Request) {
	snap := s.snapshot()
	cfg := s.cfg
	writeJSON(w, http.StatusOK, map[string]any{
		"version":        Version,
		"now":            time.Now().UTC(),
		"start":          s.started.UTC(),
		"uptime":         time.Since(s.started).Round(time.Second).String(),
		"node":           cfg.Node,
		"config":         cfg,
		"connections":    snap.Open,
		"accepted":       snap.Accepted,
		"closed":         snap.Closed,
		"lines_in":       snap.LinesIn,
		"deliveries":     snap.Deliveries,
		"bytes_in":       snap.BytesIn,
		"bytes_out":      snap.BytesOut,
		"log_bytes":      snap.LogBytes,
		"backpressure":   snap.Backpressure,
		"rates_per_sec":  s.rates.rates(),
		"rates_interval": rateSpan.String(),
	})
}
