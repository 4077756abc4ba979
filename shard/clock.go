package shard

import "time"

// Clock is where a Fanout reads the time and sets its timers: the real
// clock by default (Options.Clock nil), a fake one in tests, so that the
// rules that depend on time (deadlines, the outlier rule, the pacer) are
// tested without sleeping.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed; the timer
	// starts stopped again after it fired, and Reset rearms it.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is the part of *time.Timer a Fanout uses.
type Timer interface {
	Reset(d time.Duration) bool
	Stop() bool
}

// realClock is the system clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
