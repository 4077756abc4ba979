package server

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// logLimiter is a token bucket for one kind of log line that anyone on the
// network can cause (a refused connection, a bad PROXY header, a wrong
// admin token): at most burst lines at once and rate lines a second pass;
// the rest are counted, and the count goes out with the next line that
// passes or, when none comes, with the next report (takeSuppressed). Safe
// for concurrent use; its lock is held only to do the arithmetic.
type logLimiter struct {
	rate, burst float64

	mu         sync.Mutex
	tokens     float64   // guarded by mu: lines that may pass now
	last       time.Time // guarded by mu: when tokens was last refilled
	suppressed uint64    // guarded by mu: lines held back since the last one reported
}

func newLogLimiter(rate float64, burst int) *logLimiter {
	return &logLimiter{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// allow reports whether a line may be written at now and, when it may,
// how many lines were held back since the previous count was reported.
func (l *logLimiter) allow(now time.Time) (bool, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() {
		if d := now.Sub(l.last); d > 0 {
			l.tokens = min(l.tokens+d.Seconds()*l.rate, l.burst)
		}
	}
	l.last = now
	if l.tokens < 1 {
		l.suppressed++
		return false, 0
	}
	l.tokens--
	n := l.suppressed
	l.suppressed = 0
	return true, n
}

// takeSuppressed returns how many lines were held back since the count was
// last reported, and starts counting again from zero.
func (l *logLimiter) takeSuppressed() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.suppressed
	l.suppressed = 0
	return n
}

// logKind names a kind of log line that is rate-limited.
type logKind uint8

const (
	logRefused logKind = iota // connections refused: server full, per-IP limit, not from --proxy-from
	logProxy                  // bad or late PROXY headers
	logClosed                 // connections closed for cause: I/O errors, idle, line too long, flood, overload
	logSlow                   // slow consumers cut off
	logAuth                   // control requests with a wrong or missing admin token, or refused as too many
	logAccept                 // accept errors (descriptors used up) and connections that could not be handed to a loop
	logKindCount
)

var logKindNames = [logKindCount]string{
	logRefused: "refused",
	logProxy:   "proxy_header",
	logClosed:  "closed",
	logSlow:    "slow_consumer",
	logAuth:    "control",
	logAccept:  "accept",
}

// Each limited kind may log logBurst lines at once and logRate a second.
const (
	logRate  = 10
	logBurst = 20
)

// logLimiters holds one limiter per kind and the totals held back, for
// fanout_log_lines_suppressed_total.
type logLimiters struct {
	kinds [logKindCount]*logLimiter
	total [logKindCount]uint64 // guarded by mu
	mu    sync.Mutex
}

func newLogLimiters() *logLimiters {
	ls := &logLimiters{}
	for i := range ls.kinds {
		ls.kinds[i] = newLogLimiter(logRate, logBurst)
	}
	return ls
}

// limitedLog writes one line of a rate-limited kind, with "suppressed=N"
// when lines of the kind were held back before it. A line whose level is
// off costs no token. Safe for concurrent use.
func (s *Server) limitedLog(kind logKind, level slog.Level, msg string, attrs ...any) {
	ctx := context.Background()
	if !s.log.Enabled(ctx, level) {
		return
	}
	ok, held := s.logLimits.kinds[kind].allow(time.Now())
	if !ok {
		return
	}
	if held > 0 {
		s.logLimits.add(kind, held)
		attrs = append(attrs, "suppressed", held)
	}
	s.log.Log(ctx, level, msg, attrs...)
}

func (ls *logLimiters) add(kind logKind, n uint64) {
	ls.mu.Lock()
	ls.total[kind] += n
	ls.mu.Unlock()
}

// reportSuppressed writes one line per kind that had lines held back since
// they were last reported. Called every second by the reclaimer and once
// at shutdown.
func (s *Server) reportSuppressed() {
	for k, l := range s.logLimits.kinds {
		if n := l.takeSuppressed(); n > 0 {
			s.logLimits.add(logKind(k), n)
			s.log.Warn("log lines suppressed", "kind", logKindNames[k], "lines", n,
				"rate_per_sec", logRate, "burst", logBurst)
		}
	}
}

// suppressedTotals returns, per kind, the lines held back so far (counted
// once they were reported).
func (ls *logLimiters) suppressedTotals() map[string]uint64 {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	out := make(map[string]uint64, logKindCount)
	for k, n := range ls.total {
		out[logKindNames[k]] = n
	}
	return out
}
