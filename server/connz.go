package server

import (
	"cmp"
	"container/heap"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fanout/fanout/shard"
)

// The control plane on the --metrics-addr listener, after NATS's /connz
// and /varz: what every connection is doing, one connection by ID (found
// through the sharded registry), kicking one (with the admin token), and a
// summary of the server. Per-connection figures are plain fields of the
// connection's loop, read there by tasks, never with a lock on the
// per-line path.
//
// It must never stall the broadcast, whatever is asked of it:
//   - at most controlInflight control requests are served at once; past
//     that the answer is 429 at once;
//   - one /connz gathers at a time, a slice of connzSlice connections per
//     loop per task (shard.Walk), so a loop is held for one slice's time;
//     a task whose request is gone (the client left, the time ran out)
//     does nothing;
//   - a request keeps at most offset+limit (maxConnzWindow) entries while
//     gathering, plus one slice per loop, plus the snapshot of member
//     pointers (8 bytes a connection);
//   - an answer is written within answerTimeout, or the connection is
//     dropped.

// Bounds of the control plane.
const (
	defaultConnzLimit = 256
	maxConnzLimit     = 4096
	maxConnzWindow    = 1 << 16 // offset+limit
	controlInflight   = 4
	connzSlice        = 1024
	controlTimeout    = 5 * time.Second
	answerTimeout     = 5 * time.Second
)

// BuildInfo says what binary runs, as /varz shows it.
type BuildInfo struct {
	Version   string // a release tag, a module pseudo-version, or "devel"
	GitCommit string // the VCS revision, "-dirty" when built from a modified tree; "unknown" without VCS information
	GoVersion string // the toolchain that built it: "go1.26.8"
}

// Build describes this binary; main sets it before New.
var Build = BuildInfo{Version: "devel", GitCommit: "unknown", GoVersion: runtime.Version()}

// connInfo is one connection in /connz.
type connInfo struct {
	ID           int64     `json:"id"`
	Proto        string    `json:"proto"`         // "tcp" (lines) or "ws" (WebSocket)
	Remote       string    `json:"remote"`        // the client's address: from its PROXY header when it came through a proxy
	Via          string    `json:"via,omitempty"` // the proxy's address, when a PROXY header named the client
	Loop         int       `json:"loop"`
	Since        time.Time `json:"since"`
	LinesIn      uint64    `json:"lines_in"`
	BytesIn      uint64    `json:"bytes_in"`
	BytesOut     uint64    `json:"bytes_out"`
	PendingBytes int64     `json:"pending_bytes"` // how far behind the head of its loop's log it is
	Uptime       string    `json:"uptime"`        // since it connected, a duration ("1m30s")
	Idle         string    `json:"idle"`          // since it last sent anything (what --idle-timeout counts)
}

// info reads cl's figures as they are at now. Runs on cl's loop.
func (cl *client) info(now time.Time) connInfo {
	opened := time.Unix(0, cl.opened)
	return connInfo{ID: cl.member.ID, Proto: cl.proto(), Remote: cl.addr, Via: cl.via, Loop: cl.loop.index, Since: opened.UTC(),
		LinesIn: cl.linesIn, BytesIn: cl.bytesIn, BytesOut: cl.member.BytesOut(), PendingBytes: cl.member.Lag(),
		Uptime: jsonDuration(now.Sub(opened)), Idle: jsonDuration(now.Sub(time.Unix(0, cl.lastRead)))}
}

// jsonDuration is how the control plane writes a duration: a string in
// the flags' own syntax, to the millisecond ("1m30.25s"); never negative.
func jsonDuration(d time.Duration) string {
	return max(d, 0).Round(time.Millisecond).String()
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
	mux.Handle("GET /connz", s.control(s.handleConnz, s.cfg.AdminReads))
	mux.Handle("GET /connz/{id}", s.control(s.handleConn, s.cfg.AdminReads))
	mux.Handle("DELETE /connz/{id}", s.control(s.handleKick, true))
	mux.Handle("GET /varz", s.control(s.handleVarz, false))
	// Any other method: a JSON 405 (net/http's own is plain text).
	mux.Handle("/connz", methodNotAllowed("GET"))
	mux.Handle("/connz/{id}", methodNotAllowed("GET, DELETE"))
	mux.Handle("/varz", methodNotAllowed("GET"))
}

// methodNotAllowed answers a method the endpoint does not take, in JSON
// like every other control-plane error, with the methods it does take.
func methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "%s is not allowed here; use %s", sanitize(r.Method), allow)
	})
}

// control bounds a control endpoint: at most controlInflight at once (429
// past that), the admin token first when needsToken, and the answer
// written within answerTimeout.
func (s *Server) control(h http.HandlerFunc, needsToken bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.controlSem <- struct{}{}:
			defer func() { <-s.controlSem }()
		default:
			s.limitedLog(logAuth, slog.LevelWarn, "control request refused: too many at once", "method", r.Method,
				"path", sanitize(r.URL.Path), "from", r.RemoteAddr, "in_flight", controlInflight)
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, "%d control requests are being served; try again shortly", controlInflight)
			return
		}
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(answerTimeout))
		if needsToken && !s.authorized(w, r) {
			return
		}
		h(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // JSON for programs and people, not for a page: "<token>" stays "<token>"
	_ = enc.Encode(v)        // the client may have gone, or the write deadline passed; nothing to do about it
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

// connzQuery is a parsed GET /connz.
type connzQuery struct {
	offset, limit int
	sortBy        string
	order         func(a, b connInfo) int
	after         int64 // sort=id: only IDs above this; 0: from the start
}

func parseConnzQuery(r *http.Request) (connzQuery, error) {
	q := connzQuery{sortBy: r.URL.Query().Get("sort")}
	var err error
	if q.offset, err = intParam(r, "offset", 0, maxConnzWindow); err != nil {
		return q, err
	}
	if q.limit, err = intParam(r, "limit", defaultConnzLimit, maxConnzLimit); err != nil {
		return q, err
	}
	if q.offset+q.limit > maxConnzWindow {
		return q, fmt.Errorf("offset+limit must be at most %d; page further with sort=id&after=<the last id seen>", maxConnzWindow)
	}
	if q.sortBy == "" {
		q.sortBy = "id"
	}
	var ok bool
	if q.order, ok = connzSorts[q.sortBy]; !ok {
		return q, fmt.Errorf("sort must be one of id, since, lines_in, bytes_in, bytes_out, pending; got %q", q.sortBy)
	}
	if v := r.URL.Query().Get("after"); v != "" {
		if q.after, err = strconv.ParseInt(v, 10, 64); err != nil || q.after < 0 {
			return q, fmt.Errorf("after must be a connection ID, got %q", v)
		}
		if q.sortBy != "id" {
			return q, fmt.Errorf("after pages by ID: it needs sort=id, not sort=%s", q.sortBy)
		}
	}
	return q, nil
}

func (s *Server) handleConnz(w http.ResponseWriter, r *http.Request) {
	q, err := parseConnzQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), controlTimeout)
	defer cancel()
	total, page, err := s.gatherConnz(ctx, q)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "gathering connections: %v", err)
		return
	}
	answer := map[string]any{"now": time.Now().UTC(), "total": total, "offset": q.offset, "limit": q.limit,
		"sort": q.sortBy, "num_connections": len(page), "connections": page}
	if q.after > 0 {
		answer["after"] = q.after
	}
	writeJSON(w, http.StatusOK, answer)
}

// gatherConnz reads every connection's figures, a slice per loop at a
// time, and keeps the best offset+limit of them by q's order. It returns
// how many connections there are (above q.after) and the page, never nil.
// One gathers at a time; the others wait (holding their control slot)
// until it is their turn or ctx ends.
func (s *Server) gatherConnz(ctx context.Context, q connzQuery) (int, []connInfo, error) {
	select {
	case s.gatherLock <- struct{}{}:
		defer func() { <-s.gatherLock }()
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
	keep := &connzHeap{order: func(a, b connInfo) int { return cmp.Or(q.order(a, b), cmp.Compare(a.ID, b.ID)) },
		max: q.offset + q.limit}
	now := time.Now()
	walk := s.fan.Walk()
	got := make([][]connInfo, len(s.fan.Hubs())) // per hub, filled on its loop between Next calls
	total := 0
	for more := true; more; {
		var err error
		more, err = walk.Next(ctx, connzSlice, func(hub int, m *shard.Member) {
			if cl, ok := m.Value.(*client); ok && cl.reason == ReasonNone && m.ID > q.after {
				got[hub] = append(got[hub], cl.info(now))
			}
		})
		if err != nil {
			return 0, nil, err
		}
		for i, sl := range got {
			total += len(sl)
			for _, c := range sl {
				keep.offer(c)
			}
			got[i] = sl[:0]
		}
	}
	page := keep.sorted()
	page = page[min(q.offset, len(page)):]
	return total, page, nil
}

// connzHeap keeps the max entries that come first by order: a heap whose
// root is the worst kept, replaced when a better one comes.
type connzHeap struct {
	order func(a, b connInfo) int
	max   int
	items []connInfo
}

func (h *connzHeap) Len() int           { return len(h.items) }
func (h *connzHeap) Less(i, j int) bool { return h.order(h.items[i], h.items[j]) > 0 } // worst at the root
func (h *connzHeap) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *connzHeap) Push(x any)         { h.items = append(h.items, x.(connInfo)) }
func (h *connzHeap) Pop() any {
	last := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return last
}

func (h *connzHeap) offer(c connInfo) {
	switch {
	case h.max == 0:
	case len(h.items) < h.max:
		heap.Push(h, c)
	case h.order(c, h.items[0]) < 0:
		h.items[0] = c
		heap.Fix(h, 0)
	}
}

// sorted returns what was kept, best first; never nil.
func (h *connzHeap) sorted() []connInfo {
	out := append([]connInfo{}, h.items...)
	slices.SortFunc(out, h.order)
	return out
}

// pathID reads {id}: a snowflake ID, positive.
func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "%q is not a connection ID (a positive decimal snowflake ID)", sanitize(r.PathValue("id")))
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
		if cl, ok := m.Value.(*client); ok && cl.reason == ReasonNone {
			got <- cl.info(time.Now())
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

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header; the scheme is case-insensitive (RFC 7235).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	return token, token != ""
}

// authorized checks the admin bearer token in constant time, answering 403
// (no token configured) or 401 (wrong or missing token) itself.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.adminToken == "" {
		writeError(w, http.StatusForbidden, "this endpoint needs the admin token, and none is configured: start the server with --admin-token-file, FANOUT_ADMIN_TOKEN or --admin-token")
		return false
	}
	given, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok || subtle.ConstantTimeCompare([]byte(given), []byte(s.adminToken)) != 1 {
		s.limitedLog(logAuth, slog.LevelWarn, "control request refused: bad or missing admin token", "method", r.Method,
			"path", sanitize(r.URL.Path), "from", r.RemoteAddr)
		writeError(w, http.StatusUnauthorized, "missing or wrong token: send Authorization: Bearer <admin token>")
		return false
	}
	return true
}

// kick closes cl with "ERR kicked" on an operator's request and reports
// whether it did (false: it is already being closed). Runs on cl's loop.
func (s *Server) kick(cl *client, by, why string) bool {
	if cl.reason != ReasonNone {
		return false // already being closed
	}
	cl.reason = ReasonKicked
	s.log.Warn("kicking connection", "id", cl.member.ID, "remote", cl.addr, "proto", cl.proto(), "by", by, "why", sanitize(why))
	if cl.ws != nil {
		code, reason := wsCloseCode(ReasonKicked)
		s.wsGoodbye(cl, code, reason)
	} else {
		_, _ = cl.conn.Write(msgKicked) // gnet writes it before it closes
	}
	if err := cl.conn.Close(); err != nil {
		s.log.Error("closing kicked connection", "id", cl.member.ID, "err", err)
	}
	return true
}

// handleKick closes one connection. Of several kicks of the same ID, only
// the one that closes it answers 200; the others (it is already being
// closed, or gone) get 404.
func (s *Server) handleKick(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	why := r.URL.Query().Get("reason")
	if len(why) > 200 {
		why = why[:200]
	}
	ctx, cancel := context.WithTimeout(r.Context(), controlTimeout)
	defer cancel()
	kicked := make(chan struct{}, 1)
	_, err := s.fan.Visit(ctx, id, func(m *shard.Member) {
		if cl, ok := m.Value.(*client); ok && s.kick(cl, r.RemoteAddr, why) {
			kicked <- struct{}{}
		}
	})
	switch {
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "%v", err)
	case len(kicked) == 0:
		writeError(w, http.StatusNotFound, "no connection %d (or it is already being closed)", id)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"kicked": id})
	}
}

func (s *Server) handleVarz(w http.ResponseWriter, _ *http.Request) {
	snap := s.snapshot()
	writeJSON(w, http.StatusOK, map[string]any{
		"version":              Build.Version,
		"git_commit":           Build.GitCommit,
		"go":                   Build.GoVersion,
		"now":                  time.Now().UTC(),
		"start":                s.started.UTC(),
		"uptime":               time.Since(s.started).Round(time.Second).String(), // durations are strings, as the flags write them
		"node":                 s.cfg.Node,
		"config":               varzConfig(s.cfg),
		"connections":          snap.Open,
		"connections_by_proto": snap.OpenByProto, // {"tcp": n, "ws": m}
		"accepted":             snap.Accepted,
		"closed":               snap.Closed,
		"lines_in":             snap.LinesIn,
		"deliveries":           snap.Deliveries,
		"bytes_in":             snap.BytesIn,
		"bytes_out":            snap.BytesOut,
		"log_bytes":            snap.LogBytes,
		"backpressure":         snap.Backpressure,
		"rates_per_sec":        s.rates.rates(),
		"rates_interval":       rateSpan.String(),
	})
}
