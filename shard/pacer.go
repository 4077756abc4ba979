package shard

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Pacing bounds and steps. The duty is the share of an event loop's time
// its delivery rounds may take: a hub's window (how far apart its rounds
// start) is what its rounds cost to write divided by the duty.
const (
	// DefaultDuty is the duty a pacer starts from, and keeps without an
	// IdleMeter: rounds take at most a quarter of a loop's time.
	DefaultDuty = 0.25
	// minDuty bounds the window at 20 round costs however busy the CPUs.
	minDuty = 0.05
	// maxDuty is rounds back to back: no wait beyond the round itself.
	maxDuty = 1.0
	// PacerPeriod is how often the duty is revised from the CPUs' idle time:
	// long enough for the kernel's 10 ms ticks to say something, short
	// enough to follow a change of load within a few hundred milliseconds.
	PacerPeriod = 100 * time.Millisecond
	// Below busyIdle the CPUs are saturated: writing less often frees them
	// for reading input (and, on shared cores, for the clients). Above
	// spareIdle they have room to write more often, for less delay. The
	// band between is wide because a shared machine's idle time jumps by
	// tens of percent from one period to the next.
	busyIdle, spareIdle = 0.10, 0.30
	// The duty falls faster under saturation (the delay of a saturated CPU
	// grows without bound) than it rises; both steps are small, so that
	// one noisy period moves the window by a quarter at most.
	dutyDown, dutyUp = 0.75, 1.15
	// idleWeight is the weight of the newest period in the idle average.
	idleWeight = 0.5
	// costWeight is the weight of the newest round in a hub's cost average.
	costWeight = 0.25
	// maxCatchUp bounds how many periods one revision may make up for
	// after a spell without rounds: enough to go from minDuty to maxDuty.
	maxCatchUp = 32
	// costHalfLife is how fast a hub forgets what its rounds cost while it
	// has none beyond its window: a spell without load leaves no stale
	// cost to hold the next lines back.
	costHalfLife = PacerPeriod
)

// IdleMeter reports how idle the CPUs the process runs on were since it
// was last asked (0..1), false when it cannot tell. Called by one
// goroutine at a time.
type IdleMeter interface {
	Idle() (float64, bool)
}

// pacer chooses the coalescing window of every hub. The window is
// cost/duty, capped at limit: rounds that cost little get no window to
// speak of, costly ones are spread out so that writing takes the duty's
// share of a loop. The duty itself follows the CPUs: it falls while they
// are saturated (windows widen, fewer writes carry more lines) and rises
// while they have room (windows narrow, lines wait less). A round after a
// quiet spell is never held: the window counts from the previous round's
// start.
//
// Concurrency: duty and next are atomics read by every hub; revise runs
// the meter under mu, taken with TryLock so that no loop ever waits for
// another.
type pacer struct {
	limit  time.Duration // the widest window (Options.Coalesce); 0: none
	meter  IdleMeter     // nil: the duty stays DefaultDuty
	period int64         // nanoseconds between revisions

	mu   sync.Mutex    // held while revising; guards meter, idle and last
	idle float64       // the CPUs' idle fraction, averaged over recent periods; -1 before the first
	last int64         // unix nanoseconds of the last revision; 0 before the first
	next atomic.Int64  // unix nanoseconds of the next revision
	duty atomic.Uint64 // float64 bits
}

func newPacer(limit time.Duration, meter IdleMeter) *pacer {
	p := &pacer{limit: limit, meter: meter, period: int64(PacerPeriod), idle: -1}
	p.duty.Store(math.Float64bits(DefaultDuty))
	return p
}

// Duty returns the share of a loop's time rounds may take now.
// Safe for concurrent use.
func (p *pacer) Duty() float64 { return math.Float64frombits(p.duty.Load()) }

// window returns how far apart rounds costing cost should start.
// Safe for concurrent use.
func (p *pacer) window(cost time.Duration) time.Duration {
	if p.limit <= 0 {
		return 0
	}
	w := float64(cost) / p.Duty()
	if w >= float64(p.limit) {
		return p.limit
	}
	return time.Duration(w)
}

// hold returns how long a round due at now must still wait, given when the
// previous round started (zero: never) and what rounds cost, and the
// window that wait comes from. A zero wait means go now. Safe for
// concurrent use.
func (p *pacer) hold(now, lastRound time.Time, cost time.Duration) (wait, window time.Duration) {
	p.revise(now.UnixNano())
	window = p.window(cost)
	if lastRound.IsZero() {
		return 0, window
	}
	return max(window-now.Sub(lastRound), 0), window
}

// revise updates the duty from the meter once per period; whoever comes
// first after the period does it, the others go on. A revision after a
// spell without rounds (nobody asked) counts for every period it missed:
// the meter's reading covers all of them, so it weighs as much as that
// many readings would, and the duty takes that many steps. Safe for
// concurrent use.
func (p *pacer) revise(now int64) {
	if p.meter == nil || now < p.next.Load() || !p.mu.TryLock() {
		return
	}
	defer p.mu.Unlock()
	if now < p.next.Load() {
		return // revised meanwhile
	}
	p.next.Store(now + p.period)
	periods := 1
	if p.last > 0 {
		periods = int(min(max((now-p.last)/p.period, 1), maxCatchUp))
	}
	p.last = now
	idle, ok := p.meter.Idle()
	if !ok {
		return
	}
	if p.idle >= 0 {
		weight := 1 - math.Pow(1-idleWeight, float64(periods))
		idle = p.idle + weight*(idle-p.idle)
	}
	p.idle = idle
	duty := p.Duty()
	switch {
	case idle < busyIdle:
		duty = max(duty*math.Pow(dutyDown, float64(periods)), minDuty)
	case idle > spareIdle:
		duty = min(duty*math.Pow(dutyUp, float64(periods)), maxDuty)
	}
	p.duty.Store(math.Float64bits(duty))
}

// averageCost folds a round's cost into a hub's running average.
func averageCost(avg, cost time.Duration) time.Duration {
	if avg == 0 {
		return cost
	}
	return avg + time.Duration(costWeight*float64(cost-avg))
}

// decayCost forgets part of a hub's cost average for a spell without
// rounds: idle is the time since the last round started less the window
// the pacer asked for (rounds held a window apart are not a spell without
// rounds). The average halves every costHalfLife of it.
func decayCost(avg, idle time.Duration) time.Duration {
	if avg <= 0 || idle <= 0 {
		return avg
	}
	halvings := float64(idle) / float64(costHalfLife)
	if halvings > 60 {
		return 0
	}
	return time.Duration(float64(avg) * math.Exp2(-halvings))
}
