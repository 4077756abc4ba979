package shard

import (
	"sort"
	"sync"
	"time"
)

// manualClock is a Clock whose time moves only when the test says so; its
// timers fire, in order of their deadlines, inside advance (they only
// queue tasks on loops, so firing them there cannot deadlock).
type manualClock struct {
	mu     sync.Mutex
	now    time.Time      // guarded by mu
	timers []*manualTimer // guarded by mu
}

func newManualClock() *manualClock { return &manualClock{now: time.Unix(1_700_000_000, 0)} }

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) Timer {
	t := &manualTimer{c: c, f: f}
	t.Reset(d)
	return t
}

// advance moves the time forward by d, firing the timers that fall due on
// the way.
func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		sort.Slice(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
		if len(c.timers) == 0 || c.timers[0].at.After(end) {
			break
		}
		t := c.timers[0]
		c.timers = c.timers[1:]
		t.armed = false
		c.now = t.at
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.now = end
	c.mu.Unlock()
}

type manualTimer struct {
	c     *manualClock
	f     func()
	at    time.Time // guarded by c.mu
	armed bool      // guarded by c.mu
}

func (t *manualTimer) Reset(d time.Duration) bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	was := t.stopLocked()
	t.at, t.armed = c.now.Add(d), true
	c.timers = append(c.timers, t)
	return was
}

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.stopLocked()
}

func (t *manualTimer) stopLocked() bool {
	if !t.armed {
		return false
	}
	t.armed = false
	for i, o := range t.c.timers {
		if o == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			break
		}
	}
	return true
}
