package shard

import (
	"math/rand/v2"
	"testing"
	"time"
)

// fakeMeter reports whatever idle fraction the test sets, and counts how
// often it was asked.
type fakeMeter struct {
	idle  float64
	asked int
}

func (m *fakeMeter) Idle() (float64, bool) { m.asked++; return m.idle, true }

// fakeClock steps a pacer through time: each tick is one round due a
// period after the previous one.
type fakeClock struct{ now time.Time }

func (c *fakeClock) advance(d time.Duration) time.Time { c.now = c.now.Add(d); return c.now }

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

// run drives p for d of fake time, one round each period costing cost, and
// returns the window the last round was given.
func (c *fakeClock) run(p *pacer, d, cost time.Duration) time.Duration {
	for end := c.now.Add(d); c.now.Before(end); {
		last := c.now
		p.hold(c.advance(PacerPeriod), last, cost)
	}
	return p.window(cost)
}

func TestPacerOpensUnderSustainedExpensiveRounds(t *testing.T) {
	const cost, limit = 5 * time.Millisecond, 250 * time.Millisecond
	meter, clock := &fakeMeter{idle: 0.02}, newFakeClock()
	p := newPacer(limit, meter)
	start := p.window(cost)
	if start != time.Duration(float64(cost)/DefaultDuty) {
		t.Fatalf("initial window %s, want cost/DefaultDuty", start)
	}
	prev := start
	for range 10 { // one second of saturated CPUs
		w := clock.run(p, PacerPeriod, cost)
		if w < prev || w > limit {
			t.Fatalf("window went from %s to %s (cap %s): want it to open, within the cap", prev, w, limit)
		}
		prev = w
	}
	if want := time.Duration(float64(cost) / minDuty); prev != want {
		t.Fatalf("after 1 s of saturation the window is %s, want %s (the widest the duty allows)", prev, want)
	}
}

func TestPacerClosesWhenLoadFalls(t *testing.T) {
	meter, clock := &fakeMeter{idle: 0}, newFakeClock()
	p := newPacer(time.Second, meter)
	clock.run(p, time.Second, 10*time.Millisecond)
	if d := p.Duty(); d != minDuty {
		t.Fatalf("duty %v after a saturated second, want %v", d, minDuty)
	}
	meter.idle = 0.8 // the load is gone; rounds cost little
	const cheap = 100 * time.Microsecond
	widest := p.window(cheap)
	if w := clock.run(p, 500*time.Millisecond, cheap); w > widest/2 {
		t.Fatalf("window %s half a second after the load fell, want at most half of %s", w, widest)
	}
	if w := clock.run(p, 3*time.Second, cheap); w != cheap {
		t.Fatalf("window %s three seconds after the load fell, want %s (rounds back to back)", w, cheap)
	}
	// Half-way idle: the duty holds where it is.
	meter.idle = (busyIdle + spareIdle) / 2
	before := p.Duty()
	clock.run(p, time.Second, cheap)
	if p.Duty() != before {
		t.Fatalf("duty moved from %v to %v with the CPUs neither saturated nor spare", before, p.Duty())
	}
}

func TestPacerNeverExceedsTheCap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, limit := range []time.Duration{time.Millisecond, 20 * time.Millisecond, 250 * time.Millisecond, time.Second} {
		meter, clock := &fakeMeter{}, newFakeClock()
		p := newPacer(limit, meter)
		for range 2000 {
			meter.idle = rng.Float64()
			cost := time.Duration(rng.Int64N(int64(2 * time.Second)))
			last := clock.now
			now := clock.advance(time.Duration(rng.Int64N(int64(PacerPeriod))))
			if w := p.window(cost); w > limit || w < 0 {
				t.Fatalf("cap %s: window %s for cost %s, duty %v", limit, w, cost, p.Duty())
			}
			if wait, _ := p.hold(now, last, cost); wait > limit {
				t.Fatalf("cap %s: held %s", limit, wait)
			}
		}
	}
}

func TestPacerNeverHoldsALoneLine(t *testing.T) {
	for _, tc := range []struct {
		name      string
		idle      float64
		cost      time.Duration
		sinceLast time.Duration // 0: no round ever ran
	}{
		{name: "first round ever", idle: 0, cost: time.Second},
		{name: "after a quiet spell, saturated CPUs, costly rounds", idle: 0, cost: time.Second, sinceLast: 250 * time.Millisecond},
		{name: "after a quiet spell, idle CPUs", idle: 1, cost: time.Millisecond, sinceLast: time.Second},
		{name: "cheap rounds, idle CPUs, just after a round", idle: 1, cost: 0, sinceLast: time.Nanosecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meter, clock := &fakeMeter{idle: tc.idle}, newFakeClock()
			p := newPacer(250*time.Millisecond, meter)
			clock.run(p, 2*time.Second, tc.cost) // let the duty settle
			var last time.Time
			if tc.sinceLast > 0 {
				last = clock.now
			}
			if wait, _ := p.hold(clock.advance(tc.sinceLast), last, tc.cost); wait != 0 {
				t.Fatalf("a lone line was held %s", wait)
			}
		})
	}
}

func TestPacerRevisesOncePerPeriod(t *testing.T) {
	meter, clock := &fakeMeter{idle: 0}, newFakeClock()
	p := newPacer(time.Second, meter)
	for range 1000 { // 1 000 rounds in one period
		p.hold(clock.advance(PacerPeriod/1000), clock.now, time.Millisecond)
	}
	if meter.asked > 2 {
		t.Fatalf("the meter was read %d times in one period", meter.asked)
	}
}

func TestPacerWithoutMeterOrWindow(t *testing.T) {
	clock := newFakeClock()
	fixed := newPacer(time.Second, nil)
	if w := clock.run(fixed, time.Second, time.Millisecond); w != time.Duration(float64(time.Millisecond)/DefaultDuty) {
		t.Fatalf("without a meter the window is %s, want cost/DefaultDuty", w)
	}
	off := newPacer(0, &fakeMeter{})
	if w := off.window(time.Second); w != 0 {
		t.Fatalf("with coalescing off the window is %s", w)
	}
}
