package cluster

import (
	"sync"
	"time"
)

// logEvery is how often at most one kind of rejection is logged: whoever
// can publish on the subject could otherwise write the log as fast as it
// publishes.
const logEvery = 10 * time.Second

// logLimit lets one line through per logEvery and counts the rest. Safe
// for concurrent use.
type logLimit struct {
	mu         sync.Mutex
	next       time.Time // when the next line may be written
	suppressed int       // lines not written since the last one
}

// allow reports whether a line may be written now and, if so, how many
// were suppressed before it.
func (l *logLimit) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.suppressed++
		return false, 0
	}
	l.next = now.Add(logEvery)
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}
